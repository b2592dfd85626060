-- The buckets of tier $tier that a fresh rollup is about to write. Normally none
-- exist (they were open until now); clearing them makes the write a replace.
DELETE FROM metric_rollups
WHERE tier = $tier
  AND bucket >= coalesce($closed_from::TIMESTAMP, '-infinity'::TIMESTAMP)
  AND bucket < $closed_until;
