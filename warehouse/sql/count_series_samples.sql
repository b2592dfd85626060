-- The most raw samples any one of the metrics has in [$start, $end).
SELECT coalesce(max(n), 0)
FROM (
    SELECT count(*) AS n
    FROM metric_samples
    WHERE server = $server AND list_contains($metrics, metric) AND ts >= $start AND ts < $end
    GROUP BY metric
);
