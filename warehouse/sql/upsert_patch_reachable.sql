-- The patch scan of each server that answered. Reads view incoming_patch. When its
-- listing could not be read (no count, and no note such as "unsupported: zypper")
-- the counts of the last listing stay, as its rows stay in upgradable.
INSERT INTO patch_latest
    (server, scanned_at, reachable, reason, error, last_ok_at, manager, note, refresh,
     refresh_detail, lists_age_s, lists_source, upgradable_count, security_count,
     reboot_required, reboot_packages, section_errors)
SELECT server, scanned_at, TRUE, NULL, NULL, scanned_at, manager, note, refresh,
       refresh_detail, lists_age_s, lists_source, upgradable_count, security_count,
       reboot_required, reboot_packages::JSON, section_errors::JSON
FROM incoming_patch
ON CONFLICT (server) DO UPDATE SET
    scanned_at = excluded.scanned_at,
    reachable = TRUE,
    reason = NULL,
    error = NULL,
    last_ok_at = excluded.last_ok_at,
    manager = excluded.manager,
    note = excluded.note,
    refresh = excluded.refresh,
    refresh_detail = excluded.refresh_detail,
    lists_age_s = excluded.lists_age_s,
    lists_source = excluded.lists_source,
    upgradable_count = CASE WHEN excluded.upgradable_count IS NULL AND excluded.note IS NULL
                            THEN patch_latest.upgradable_count
                            ELSE excluded.upgradable_count END,
    security_count = CASE WHEN excluded.upgradable_count IS NULL AND excluded.note IS NULL
                          THEN patch_latest.security_count
                          ELSE excluded.security_count END,
    reboot_required = excluded.reboot_required,
    reboot_packages = excluded.reboot_packages,
    section_errors = excluded.section_errors;
