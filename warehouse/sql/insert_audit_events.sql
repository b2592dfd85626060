-- The changes one landing saw, in the order they were found. Reads view incoming_events.
INSERT INTO audit_events (tick_id, server, kind, occurred_at, subject, before, after, detail)
SELECT tick_id, server, kind, occurred_at, subject, before, after, detail
FROM incoming_events
ORDER BY seq;
