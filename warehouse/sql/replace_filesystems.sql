-- The filesystems of each server that answered replace its previous list.
DELETE FROM filesystems WHERE server IN (SELECT DISTINCT server FROM incoming_filesystems);
INSERT INTO filesystems
SELECT server, mount, device, size_bytes, used_bytes, avail_bytes, inodes_total, inodes_used,
       checked_at
FROM incoming_filesystems;
