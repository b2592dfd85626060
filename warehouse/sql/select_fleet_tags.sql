-- Every tag some server of the fleet carries, sorted.
SELECT DISTINCT unnest(tags) AS tag
FROM servers
WHERE name IN (SELECT server FROM server_latest)
ORDER BY tag;
