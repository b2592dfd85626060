-- The latest state of each release of the servers that answered. Reads view incoming_apps.
INSERT OR REPLACE INTO app_latest
    (handle, server, checked_at, status, since, main_pid, unit_state, container_state,
     port_listening, conditions)
SELECT handle, server, checked_at, status, since, main_pid, unit_state, container_state,
       port_listening, conditions
FROM incoming_apps;
