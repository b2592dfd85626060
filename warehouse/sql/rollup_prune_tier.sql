-- Retention of one tier; $before is never past the next tier's closed_until.
DELETE FROM metric_rollups WHERE tier = $tier AND bucket < $before;
