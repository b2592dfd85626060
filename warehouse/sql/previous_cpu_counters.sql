-- The CPU counters of the previous successful check, for the rate between ticks.
SELECT server, cpu_total_jiffies, cpu_idle_jiffies
FROM server_latest
WHERE server IN (SELECT server FROM incoming_status) AND cpu_total_jiffies IS NOT NULL;
