-- A coarser tier's buckets that closed since the previous run, whole, from tier
-- $source. Only mergeable aggregates are combined: never an average of averages.
-- The caller has cleared the same window (rollup_clear_window).
INSERT INTO metric_rollups
    (tier, bucket, server, metric,
     min_value, max_value, sum_value, sample_count, last_value, last_ts)
SELECT
    $tier,
    time_bucket(to_seconds($width_s), bucket) AS coarse,
    server,
    metric,
    min(min_value),
    max(max_value),
    sum(sum_value),
    sum(sample_count),
    arg_max(last_value, last_ts),
    max(last_ts)
FROM metric_rollups
WHERE tier = $source
  AND bucket >= coalesce($closed_from::TIMESTAMP, '-infinity'::TIMESTAMP)
  AND bucket < $closed_until
GROUP BY coarse, server, metric;
