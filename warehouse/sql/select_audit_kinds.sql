-- The event kinds the audit feed holds, with how many of each.
SELECT kind, count(*) AS events
FROM audit_events
GROUP BY kind
ORDER BY kind;
