-- The start of the bucket $now falls in: every bucket before it is closed.
SELECT time_bucket(to_seconds($width_s), $now::TIMESTAMP);
