-- The newest $limit stored lines of release $handle past $after_id, oldest first,
-- with the fetch that brought each.
SELECT l.line_id, l.fetch_id, f.fetched_at, f.source, l.logged_at, l.line
FROM (
    SELECT line_id, fetch_id, logged_at, line
    FROM release_log_lines
    WHERE handle = $handle AND line_id > $after_id
    ORDER BY line_id DESC
    LIMIT $limit
) AS l
LEFT JOIN release_log_fetches AS f USING (fetch_id)
ORDER BY l.line_id;
