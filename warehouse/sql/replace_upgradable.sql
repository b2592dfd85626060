-- The upgradable list of each server whose listing was read replaces its previous one.
-- Reads views incoming_listed (server) and incoming_upgradable.
DELETE FROM upgradable WHERE server IN (SELECT server FROM incoming_listed);
INSERT INTO upgradable
    (server, package, architecture, current_version, candidate_version, origin, security,
     scanned_at)
SELECT server, package, architecture, current_version, candidate_version, origin, security,
       scanned_at
FROM incoming_upgradable;
