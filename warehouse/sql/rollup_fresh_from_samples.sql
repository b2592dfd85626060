-- The first tier's buckets that closed since the previous run, whole, from raw
-- samples. The caller has cleared the same window (rollup_clear_window).
INSERT INTO metric_rollups
    (tier, bucket, server, metric,
     min_value, max_value, sum_value, sample_count, last_value, last_ts)
SELECT
    $tier,
    time_bucket(to_seconds($width_s), ts) AS bucket,
    server,
    metric,
    min(value),
    max(value),
    sum(value),
    count(*),
    arg_max(value, ts),
    max(ts)
FROM metric_samples
WHERE ts >= coalesce($closed_from::TIMESTAMP, '-infinity'::TIMESTAMP) AND ts < $closed_until
GROUP BY bucket, server, metric;
