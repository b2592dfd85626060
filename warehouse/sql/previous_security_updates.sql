-- The security updates of the stored listings, for the audit. Reads view incoming_checked.
SELECT server, package, architecture, candidate_version
FROM upgradable
WHERE security AND server IN (SELECT server FROM incoming_checked);
