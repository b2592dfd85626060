-- Replace the whole row of each server that answered. Reads view incoming_status.
INSERT OR REPLACE INTO server_latest
SELECT
    server, checked_at, TRUE, NULL, NULL, checked_at,
    os_name, os_id, os_version, kernel, ncpu,
    mem_total_bytes, mem_available_bytes, swap_total_bytes, swap_free_bytes,
    load1, load5, load15, uptime_s, cpu_pct,
    cpu_total_jiffies, cpu_idle_jiffies, disk_used_pct, section_errors::JSON
FROM incoming_status;
