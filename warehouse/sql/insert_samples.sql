INSERT INTO metric_samples (server, metric, ts, value)
SELECT server, metric, ts, value FROM incoming_samples;
