-- The stored status of the releases of the servers this tick checked, for the audit.
-- Reads view incoming_checked.
SELECT handle, status
FROM app_latest
WHERE server IN (SELECT server FROM incoming_checked);
