-- The fleet overview (and the dashboard's fleet table): one row per server, by
-- name: status up/down, or stale when the latest check is older than
-- $stale_after_s at $now; the figures of the latest successful check; the latest
-- patch scan's counts.
-- Optional filters (NULL: all): $server (exactly one), $status, $tag (one of the
-- server's tags), $text (a case-insensitive substring of the name, host, OS or tags).
WITH fleet AS (
    SELECT
        l.server,
        CASE
            WHEN date_diff('millisecond', l.checked_at, $now::TIMESTAMP) / 1000.0
                > $stale_after_s THEN 'stale'
            WHEN l.reachable THEN 'up'
            ELSE 'down'
        END AS status,
        l.reachable,
        l.reason,
        l.error,
        l.checked_at,
        l.last_ok_at,
        date_diff('millisecond', l.checked_at, $now::TIMESTAMP) / 1000.0 AS staleness_s,
        date_diff('millisecond', l.checked_at, $now::TIMESTAMP) / 1000.0
            > $stale_after_s AS stale,
        s.host,
        s.port,
        s.login_user,
        coalesce(s.tags, []::VARCHAR[]) AS tags,
        l.os_name,
        l.os_id,
        l.os_version,
        l.kernel,
        l.ncpu,
        l.cpu_pct,
        100.0 * (1 - l.mem_available_bytes / nullif(l.mem_total_bytes, 0)) AS mem_used_pct,
        l.mem_available_bytes,
        l.mem_total_bytes,
        100.0 * (1 - l.swap_free_bytes / nullif(l.swap_total_bytes, 0)) AS swap_used_pct,
        l.swap_total_bytes,
        l.disk_used_pct,
        l.load1,
        l.load5,
        l.load15,
        l.uptime_s,
        p.scanned_at AS patches_scanned_at,
        p.upgradable_count,
        p.security_count,
        p.reboot_required
    FROM server_latest AS l
    LEFT JOIN servers AS s ON s.name = l.server
    LEFT JOIN patch_latest AS p ON p.server = l.server
)
SELECT *
FROM fleet
WHERE ($server::VARCHAR IS NULL OR server = $server)
  AND ($status::VARCHAR IS NULL OR status = $status)
  AND ($tag::VARCHAR IS NULL OR list_contains(tags, $tag))
  AND ($text::VARCHAR IS NULL
       OR strpos(
           lower(concat_ws(' ', server, host, os_name, array_to_string(tags, ' '))),
           lower($text)
       ) > 0)
ORDER BY server;
