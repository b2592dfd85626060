-- The inventory entries of the servers a tick probed. Reads view incoming_servers.
INSERT INTO servers (name, host, port, login_user, tags, first_seen, updated_at)
SELECT name, host, port, login_user, tags, $now, $now
FROM incoming_servers
ON CONFLICT (name) DO UPDATE SET
    host = excluded.host,
    port = excluded.port,
    login_user = excluded.login_user,
    tags = excluded.tags,
    updated_at = excluded.updated_at;
