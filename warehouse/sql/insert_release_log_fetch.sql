-- One fetch of a release's log. Reads view incoming_fetch.
INSERT INTO release_log_fetches
SELECT fetch_id, handle, server, source, target, lines_requested, fetched_at, wall_ms,
       connections, reachable, reason, error, condition, note, lines_read, lines_new, gap
FROM incoming_fetch;
