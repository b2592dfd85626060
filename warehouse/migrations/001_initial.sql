-- The skeleton's tables: servers, ticks, probe runs, latest status, samples.
-- Timestamps are naive UTC (TIMESTAMP), as every writer stores them.

CREATE TABLE servers (
    name        VARCHAR PRIMARY KEY,
    host        VARCHAR NOT NULL,
    port        INTEGER,
    login_user  VARCHAR,
    tags        VARCHAR[] NOT NULL,
    first_seen  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE ticks (
    tick_id     VARCHAR PRIMARY KEY,
    flow        VARCHAR NOT NULL,
    started_at  TIMESTAMP NOT NULL,
    landed_at   TIMESTAMP NOT NULL,
    servers     INTEGER NOT NULL,
    reachable   INTEGER NOT NULL
);

CREATE TABLE probe_runs (
    tick_id         VARCHAR NOT NULL,
    server          VARCHAR NOT NULL,
    started_at      TIMESTAMP NOT NULL,
    wall_ms         DOUBLE NOT NULL,
    connections     INTEGER NOT NULL,
    ok              BOOLEAN NOT NULL,
    reason          VARCHAR,
    error           VARCHAR,
    section_errors  JSON,
    PRIMARY KEY (tick_id, server)
);

-- One row per server: the latest check and the figures of the latest
-- successful one (checked_at vs last_ok_at tells them apart).
CREATE TABLE server_latest (
    server               VARCHAR PRIMARY KEY,
    checked_at           TIMESTAMP NOT NULL,
    reachable            BOOLEAN NOT NULL,
    reason               VARCHAR,
    error                VARCHAR,
    last_ok_at           TIMESTAMP,
    os_name              VARCHAR,
    os_id                VARCHAR,
    os_version           VARCHAR,
    kernel               VARCHAR,
    ncpu                 INTEGER,
    mem_total_bytes      BIGINT,
    mem_available_bytes  BIGINT,
    swap_total_bytes     BIGINT,
    swap_free_bytes      BIGINT,
    load1                DOUBLE,
    load5                DOUBLE,
    load15               DOUBLE,
    uptime_s             DOUBLE,
    cpu_pct              DOUBLE,
    cpu_total_jiffies    UBIGINT,
    cpu_idle_jiffies     UBIGINT,
    disk_used_pct        DOUBLE,
    section_errors       JSON
);

CREATE TABLE filesystems (
    server        VARCHAR NOT NULL,
    mount         VARCHAR NOT NULL,
    device        VARCHAR NOT NULL,
    size_bytes    BIGINT NOT NULL,
    used_bytes    BIGINT NOT NULL,
    avail_bytes   BIGINT NOT NULL,
    inodes_total  BIGINT,
    inodes_used   BIGINT,
    checked_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (server, mount)
);

-- Raw samples, one per metric per server per tick; gauges and rates only
-- (counters are turned into rates before they land).
CREATE TABLE metric_samples (
    server  VARCHAR NOT NULL,
    metric  VARCHAR NOT NULL,
    ts      TIMESTAMP NOT NULL,
    value   DOUBLE NOT NULL
);

-- Public view: the latest status per server (documented in docs/ARCHITECTURE.md).
CREATE VIEW server_status AS
SELECT
    server,
    reachable,
    checked_at,
    reason,
    error,
    last_ok_at,
    os_name,
    os_id,
    os_version,
    kernel,
    ncpu,
    mem_total_bytes,
    mem_available_bytes,
    swap_total_bytes,
    swap_free_bytes,
    load1,
    load5,
    load15,
    uptime_s,
    cpu_pct,
    disk_used_pct
FROM server_latest;
