-- Raw samples in [$start, $end) as points of a series (each its own bucket).
SELECT
    metric,
    ts,
    value AS avg,
    value AS min,
    value AS max,
    1::BIGINT AS count
FROM metric_samples
WHERE server = $server AND list_contains($metrics, metric) AND ts >= $start AND ts < $end
ORDER BY metric, ts;
