-- One row per server: the latest check, the figures of the latest successful
-- one, and how old the check is at $now (stale past $stale_after_s seconds).
SELECT
    l.server,
    CASE
        WHEN date_diff('millisecond', l.checked_at, $now::TIMESTAMP) / 1000.0 > $stale_after_s
            THEN 'stale'
        WHEN l.reachable THEN 'up'
        ELSE 'down'
    END AS status,
    l.reachable,
    l.reason,
    l.error,
    l.checked_at,
    l.last_ok_at,
    date_diff('millisecond', l.checked_at, $now::TIMESTAMP) / 1000.0 AS staleness_s,
    date_diff('millisecond', l.checked_at, $now::TIMESTAMP) / 1000.0 > $stale_after_s AS stale,
    s.host,
    s.tags,
    l.os_name,
    l.kernel,
    l.ncpu,
    l.cpu_pct,
    100.0 * (1 - l.mem_available_bytes / nullif(l.mem_total_bytes, 0)) AS mem_used_pct,
    l.mem_available_bytes,
    l.mem_total_bytes,
    100.0 * (1 - l.swap_free_bytes / nullif(l.swap_total_bytes, 0)) AS swap_used_pct,
    l.disk_used_pct,
    l.load1,
    l.load5,
    l.load15,
    l.uptime_s
FROM server_latest AS l
LEFT JOIN servers AS s ON s.name = l.server
ORDER BY l.server;
