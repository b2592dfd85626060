-- Results of the bench (bench/measure.py): one row per probe and strategy per bench run.
CREATE TABLE bench_runs (
    bench_id    VARCHAR NOT NULL,
    ran_at      TIMESTAMP NOT NULL,
    server      VARCHAR NOT NULL,
    probe       VARCHAR NOT NULL,
    strategy    VARCHAR NOT NULL,
    runs        INTEGER NOT NULL,
    ssh_calls   DOUBLE NOT NULL,   -- per run
    min_ms      DOUBLE NOT NULL,
    median_ms   DOUBLE NOT NULL,
    max_ms      DOUBLE NOT NULL,
    cpu_ms      DOUBLE NOT NULL,   -- median client CPU per run
    ratio       DOUBLE,            -- combined / separate median, on combined rows
    rtt_ms      DOUBLE,            -- bare TCP connect to the server
    PRIMARY KEY (bench_id, probe, strategy)
);
