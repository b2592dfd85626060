-- When each stored release was first declared, kept across the replace that follows.
SELECT handle, first_seen FROM releases;
