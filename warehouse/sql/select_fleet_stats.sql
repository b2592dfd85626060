-- The fleet's figures at $now: servers up / down / stale (as in select_fleet_table.sql),
-- pending and security updates and reboots required (latest patch scans).
WITH fleet AS (
    SELECT
        CASE
            WHEN date_diff('millisecond', l.checked_at, $now::TIMESTAMP) / 1000.0
                > $stale_after_s THEN 'stale'
            WHEN l.reachable THEN 'up'
            ELSE 'down'
        END AS status,
        p.upgradable_count,
        p.security_count,
        p.reboot_required
    FROM server_latest AS l
    LEFT JOIN patch_latest AS p ON p.server = l.server
)
SELECT
    count(*) AS servers,
    count(*) FILTER (WHERE status = 'up') AS up,
    count(*) FILTER (WHERE status = 'down') AS down,
    count(*) FILTER (WHERE status = 'stale') AS stale,
    coalesce(sum(upgradable_count), 0)::BIGINT AS pending_updates,
    coalesce(sum(security_count), 0)::BIGINT AS security_updates,
    count(*) FILTER (WHERE security_count > 0) AS servers_with_security_updates,
    count(*) FILTER (WHERE reboot_required) AS reboots_required,
    (SELECT max(checked_at) FROM server_latest) AS latest_check
FROM fleet;
