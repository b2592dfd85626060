-- The rollup watermarks of every tier: what the previous run closed and saw landed.
SELECT tier, closed_until, landed_until FROM rollup_watermarks;
