INSERT INTO ticks (tick_id, flow, started_at, landed_at, servers, reachable)
VALUES ($tick_id, $flow, $started_at, $landed_at, $servers, $reachable);
