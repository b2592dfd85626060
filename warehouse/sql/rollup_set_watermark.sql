INSERT INTO rollup_watermarks (tier, width_s, closed_until, landed_until, updated_at)
VALUES ($tier, $width_s, $closed_until, $landed_until, $now)
ON CONFLICT (tier) DO UPDATE SET
    width_s = excluded.width_s,
    closed_until = excluded.closed_until,
    landed_until = excluded.landed_until,
    updated_at = excluded.updated_at;
