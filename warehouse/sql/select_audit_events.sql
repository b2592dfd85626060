-- The audit feed, newest first, optionally of one server and/or one kind; one
-- page of $limit rows from $offset. total is the number of matching events.
SELECT
    server,
    kind,
    occurred_at,
    "before",
    "after",
    detail,
    count(*) OVER () AS total
FROM audit_events
WHERE ($server::VARCHAR IS NULL OR server = $server)
  AND ($kind::VARCHAR IS NULL OR kind = $kind)
ORDER BY occurred_at DESC, server, kind
LIMIT $limit OFFSET $offset;
