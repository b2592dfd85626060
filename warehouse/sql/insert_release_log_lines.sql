-- The lines a fetch adds, in log order (line_id follows seq). Reads view incoming_lines.
INSERT INTO release_log_lines (handle, fetch_id, logged_at, line)
SELECT handle, fetch_id, logged_at, line
FROM incoming_lines
ORDER BY seq;
