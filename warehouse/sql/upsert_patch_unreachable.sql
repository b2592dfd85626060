-- Mark servers the patch scan could not reach; keep their last scan's figures.
-- Reads view incoming_down.
INSERT INTO patch_latest (server, scanned_at, reachable, reason, error)
SELECT server, scanned_at, FALSE, reason, error
FROM incoming_down
ON CONFLICT (server) DO UPDATE SET
    scanned_at = excluded.scanned_at,
    reachable = FALSE,
    reason = excluded.reason,
    error = excluded.error;
