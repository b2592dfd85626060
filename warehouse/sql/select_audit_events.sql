-- The audit feed, newest first (event_id breaks ties, so pages never overlap),
-- optionally of one server and/or one kind; one page of $limit rows from
-- $offset. total is the number of matching events.
SELECT
    event_id,
    occurred_at,
    server,
    kind,
    subject,
    "before",
    "after",
    detail,
    count(*) OVER () AS total
FROM audit_events
WHERE ($server::VARCHAR IS NULL OR server = $server)
  AND ($kind::VARCHAR IS NULL OR kind = $kind)
ORDER BY occurred_at DESC, event_id DESC
LIMIT $limit OFFSET $offset;
