-- The newest $limit stored lines of release $handle, oldest first (what a new fetch
-- is compared against to find the lines it adds).
SELECT line
FROM (
    SELECT line_id, line
    FROM release_log_lines
    WHERE handle = $handle
    ORDER BY line_id DESC
    LIMIT $limit
)
ORDER BY line_id;
