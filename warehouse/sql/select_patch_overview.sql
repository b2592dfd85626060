-- One row per server of the latest patch scan, most security updates first.
SELECT *
FROM patch_status
ORDER BY coalesce(security_count, -1) DESC, server;
