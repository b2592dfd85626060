-- Keep the newest $keep lines of release $handle.
DELETE FROM release_log_lines
WHERE handle = $handle
  AND line_id < (
      SELECT coalesce(min(line_id), 0)
      FROM (
          SELECT line_id FROM release_log_lines
          WHERE handle = $handle
          ORDER BY line_id DESC
          LIMIT $keep
      )
  );
