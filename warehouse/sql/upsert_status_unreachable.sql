-- Mark servers that did not answer; keep their last known figures. Reads view incoming_down.
INSERT INTO server_latest (server, checked_at, reachable, reason, error)
SELECT server, checked_at, FALSE, reason, error
FROM incoming_down
ON CONFLICT (server) DO UPDATE SET
    checked_at = excluded.checked_at,
    reachable = FALSE,
    reason = excluded.reason,
    error = excluded.error;
