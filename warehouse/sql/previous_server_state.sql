-- What server_latest held before this tick, for the audit. Reads view incoming_checked.
SELECT server, reachable, reason, last_ok_at, os_name, kernel, uptime_s
FROM server_latest
WHERE server IN (SELECT server FROM incoming_checked);
