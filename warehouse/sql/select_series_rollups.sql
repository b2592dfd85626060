-- Buckets of tier $tier (width $tier_width_s) that overlap [$start, $end), regrouped
-- into buckets of $width_s (a multiple of the tier's width; equal in the usual case).
-- The average is sum / count over the samples: exact, never an average of averages.
SELECT
    metric,
    time_bucket(to_seconds($width_s), bucket) AS ts,
    sum(sum_value) / sum(sample_count) AS avg,
    min(min_value) AS min,
    max(max_value) AS max,
    sum(sample_count)::BIGINT AS count
FROM metric_rollups
WHERE tier = $tier
  AND server = $server
  AND list_contains($metrics, metric)
  AND bucket > $start::TIMESTAMP - to_seconds($tier_width_s)
  AND bucket < $end
GROUP BY metric, ts
ORDER BY metric, ts;
