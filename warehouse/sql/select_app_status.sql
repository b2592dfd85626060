-- One row per release, optionally of one server; the ones not running first.
SELECT *
FROM app_status
WHERE ($server::VARCHAR IS NULL OR server = $server)
ORDER BY CASE status WHEN 'running' THEN 3 WHEN 'unknown' THEN 2 ELSE 1 END, server, handle;
