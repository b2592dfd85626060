-- The releases the inventory declares on the servers a tick probed replace their
-- stored rows. Reads view incoming_releases. A plain INSERT, not an upsert, so
-- that the primary key refuses a handle declared twice in one landing (an
-- ON CONFLICT upsert would let the last one win); a handle that moved to
-- another server follows it.
DELETE FROM releases WHERE handle IN (SELECT handle FROM incoming_releases);
INSERT INTO releases (handle, name, server, unit, container, port, first_seen, updated_at)
SELECT handle, name, server, unit, container, port, first_seen, updated_at
FROM incoming_releases;
