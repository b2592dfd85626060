-- Fetches of release logs, newest first: of release $handle (NULL: every release),
-- or the one fetch $fetch_id (NULL: any).
SELECT fetch_id, handle, server, source, target, lines_requested, fetched_at, wall_ms,
       connections, reachable, reason, error, condition, note, lines_read, lines_new, gap
FROM release_log_fetches
WHERE ($handle::VARCHAR IS NULL OR handle = $handle)
  AND ($fetch_id::VARCHAR IS NULL OR fetch_id = $fetch_id)
ORDER BY fetched_at DESC, fetch_id
LIMIT $limit;
