-- Metric history: downsampled tiers of metric_samples and the watermarks of the
-- incremental rollup (warehouse/rollup.py, warehouse/sql/rollup_*.sql).

-- When each sample landed: the start of the landing transaction, naive UTC. The
-- writer lock serialises writing processes, so a sample committed after a rollup
-- run always has a landed_at later than every sample that run saw; that is how
-- the next run finds late samples. Rows older than this migration get its time.
ALTER TABLE metric_samples ADD COLUMN landed_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'UTC');
ALTER TABLE metric_samples ALTER COLUMN landed_at SET NOT NULL;

-- One row per tier, bucket, server and metric. Buckets are half-open
-- [bucket, bucket + width) and aligned by time_bucket(); they hold mergeable
-- aggregates only, so a coarser tier and any chart average (sum_value /
-- sample_count) are exact. last_value is the sample with the latest ts.
-- No PRIMARY KEY: DuckDB keeps an ART index wholly in memory and uses it for
-- point lookups only, and it would double the cost of writing a tier. The
-- rollup writes each (tier, bucket, server, metric) once by construction: fresh
-- buckets replace their window, late samples are MERGEd on the whole key.
CREATE TABLE metric_rollups (
    tier          VARCHAR NOT NULL,
    bucket        TIMESTAMP NOT NULL,
    server        VARCHAR NOT NULL,
    metric        VARCHAR NOT NULL,
    min_value     DOUBLE NOT NULL,
    max_value     DOUBLE NOT NULL,
    sum_value     DOUBLE NOT NULL,
    sample_count  BIGINT NOT NULL,
    last_value    DOUBLE NOT NULL,
    last_ts       TIMESTAMP NOT NULL
);

-- Per tier: every bucket that starts before closed_until is rolled up, and every
-- sample that landed at or before landed_until is folded in.
CREATE TABLE rollup_watermarks (
    tier          VARCHAR PRIMARY KEY,
    width_s       BIGINT NOT NULL,
    closed_until  TIMESTAMP NOT NULL,
    landed_until  TIMESTAMP,
    updated_at    TIMESTAMP NOT NULL
);
