-- The upgradable packages of the latest listing per server, optionally of one server
-- and/or security updates only; security first.
SELECT server, package, architecture, current_version, candidate_version, origin, security,
       scanned_at
FROM upgradable_packages
WHERE ($server::VARCHAR IS NULL OR server = $server)
  AND (NOT $security_only::BOOLEAN OR security)
ORDER BY security DESC, server, package, architecture;
