-- Samples that landed since the previous run for buckets of tier $tier that were
-- already closed then, merged into those buckets (or new ones). Each sample is
-- folded exactly once, because the watermark moves in the same transaction.
MERGE INTO metric_rollups AS r
USING (
    SELECT
        time_bucket(to_seconds($width_s), ts) AS bucket,
        server,
        metric,
        min(value) AS min_value,
        max(value) AS max_value,
        sum(value) AS sum_value,
        count(*) AS sample_count,
        arg_max(value, ts) AS last_value,
        max(ts) AS last_ts
    FROM metric_samples
    WHERE landed_at > coalesce($landed_from::TIMESTAMP, '-infinity'::TIMESTAMP)
      AND ts < $closed_from
    GROUP BY ALL
) AS l
ON r.tier = $tier AND r.bucket = l.bucket AND r.server = l.server AND r.metric = l.metric
WHEN MATCHED THEN UPDATE SET
    min_value = least(r.min_value, l.min_value),
    max_value = greatest(r.max_value, l.max_value),
    sum_value = r.sum_value + l.sum_value,
    sample_count = r.sample_count + l.sample_count,
    last_value = CASE WHEN l.last_ts >= r.last_ts THEN l.last_value ELSE r.last_value END,
    last_ts = greatest(r.last_ts, l.last_ts)
WHEN NOT MATCHED THEN INSERT
    (tier, bucket, server, metric,
     min_value, max_value, sum_value, sample_count, last_value, last_ts)
VALUES
    ($tier, l.bucket, l.server, l.metric,
     l.min_value, l.max_value, l.sum_value, l.sample_count, l.last_value, l.last_ts);
