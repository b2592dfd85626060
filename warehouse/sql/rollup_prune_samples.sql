-- Retention of raw samples; $before is never past the first tier's closed_until.
DELETE FROM metric_samples WHERE ts < $before;
