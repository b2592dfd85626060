-- Forget the releases (and their app rows) that the inventory no longer declares on
-- the servers this tick probed. Reads view incoming_declared: one (server, NULL)
-- row per probed server and one (server, handle) row per release declared on it.
DELETE FROM app_latest
WHERE server IN (SELECT server FROM incoming_declared)
  AND handle NOT IN (SELECT handle FROM incoming_declared WHERE handle IS NOT NULL);
DELETE FROM releases
WHERE server IN (SELECT server FROM incoming_declared)
  AND handle NOT IN (SELECT handle FROM incoming_declared WHERE handle IS NOT NULL);
