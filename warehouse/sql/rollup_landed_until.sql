-- The latest landing this transaction sees; later commits land after it (see 002_rollups.sql).
SELECT max(landed_at) FROM metric_samples;
