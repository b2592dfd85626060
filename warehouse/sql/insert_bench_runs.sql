-- Reads view incoming_bench.
INSERT INTO bench_runs
SELECT bench_id, ran_at, server, probe, strategy, runs, ssh_calls, min_ms, median_ms, max_ms,
       cpu_ms, ratio, rtt_ms
FROM incoming_bench;
