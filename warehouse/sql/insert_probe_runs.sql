-- One row per server per tick. Reads view incoming_runs.
INSERT INTO probe_runs
    (tick_id, server, started_at, wall_ms, connections, ok, reason, error, section_errors)
SELECT tick_id, server, started_at, wall_ms, connections, ok, reason, error, section_errors::JSON
FROM incoming_runs;
