-- The bench history (bench_runs), newest run first, probe then strategy.
SELECT bench_id, ran_at, server, probe, strategy, runs, ssh_calls, min_ms, median_ms, max_ms,
       cpu_ms, ratio, rtt_ms
FROM bench_runs
ORDER BY ran_at DESC, bench_id, probe, strategy
LIMIT $limit;
