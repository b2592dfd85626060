-- Releases and their apps (the tick), the patch scan (its own flow), and the
-- audit trail of every change the probes see. Naive UTC timestamps throughout.
-- The patch scan's runs land in ticks (flow = 'patch-scan') and probe_runs.

-- The releases the inventory declares. handle is the effective handle,
-- lower(handle or name): unique across the fleet, as the inventory loader
-- also insists.
CREATE TABLE releases (
    handle      VARCHAR PRIMARY KEY CHECK (handle = lower(handle)),
    name        VARCHAR NOT NULL,
    server      VARCHAR NOT NULL,
    unit        VARCHAR,
    container   VARCHAR,
    port        INTEGER,
    first_seen  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- The latest state of each release, from the last tick that reached its server.
CREATE TABLE app_latest (
    handle           VARCHAR PRIMARY KEY,
    server           VARCHAR NOT NULL,
    checked_at       TIMESTAMP NOT NULL,
    status           VARCHAR NOT NULL,  -- running | stopped | missing | unknown
    since            TIMESTAMP,         -- when it entered that state, where the tool says
    main_pid         INTEGER,
    unit_state       VARCHAR,           -- "active/running", "not-found", ...
    container_state  VARCHAR,           -- docker's Status, or "absent"
    port_listening   BOOLEAN,
    conditions       VARCHAR            -- tools that could not answer, and why ("; ")
);

-- Public view: one row per release.
CREATE VIEW app_status AS
SELECT
    r.handle,
    r.name AS release,
    r.server,
    r.unit,
    r.container,
    r.port,
    a.checked_at,
    coalesce(a.status, 'unknown') AS status,
    CASE WHEN a.status IN ('running', 'stopped', 'missing') THEN a.status = 'running' END
        AS running,
    a.since,
    a.main_pid,
    a.unit_state,
    a.container_state,
    a.port_listening,
    a.conditions
FROM releases r
LEFT JOIN app_latest a USING (handle);

-- One row per server: the latest patch scan, and the figures of the latest one
-- that reached it (scanned_at vs last_ok_at tells them apart).
CREATE TABLE patch_latest (
    server            VARCHAR PRIMARY KEY,
    scanned_at        TIMESTAMP NOT NULL,
    reachable         BOOLEAN NOT NULL,
    reason            VARCHAR,
    error             VARCHAR,
    last_ok_at        TIMESTAMP,
    manager           VARCHAR,   -- apt, dnf, yum, zypper, apk, pacman, none
    note              VARCHAR,   -- "unsupported: zypper"
    refresh           VARCHAR,   -- ok, needs-sudo, failed, timeout, skipped, unsupported
    refresh_detail    VARCHAR,
    lists_age_s       DOUBLE,    -- age of the package lists when scanned
    lists_source      VARCHAR,   -- what gave that age: refresh, or the stamp file read
    upgradable_count  INTEGER,
    security_count    INTEGER,
    reboot_required   BOOLEAN,
    reboot_packages   JSON,
    section_errors    JSON
);

-- The upgradable packages of each server's latest scan that listed them.
CREATE TABLE upgradable (
    server             VARCHAR NOT NULL,
    package            VARCHAR NOT NULL,
    architecture       VARCHAR NOT NULL,
    current_version    VARCHAR,
    candidate_version  VARCHAR NOT NULL,
    origin             VARCHAR NOT NULL,
    security           BOOLEAN NOT NULL,
    scanned_at         TIMESTAMP NOT NULL,
    PRIMARY KEY (server, package, architecture)
);

-- Public views of the patch scan.
CREATE VIEW upgradable_packages AS
SELECT server, package, architecture, current_version, candidate_version, origin, security,
       scanned_at
FROM upgradable;

CREATE VIEW patch_status AS
SELECT server, scanned_at, reachable, reason, error, last_ok_at, manager, note, refresh,
       refresh_detail, lists_age_s, lists_source, upgradable_count, security_count,
       reboot_required, reboot_packages
FROM patch_latest;

-- Every change the probes saw, one row each, written in the landing
-- transaction that saw it. subject is the release handle of app events.
CREATE SEQUENCE audit_event_ids;
CREATE TABLE audit_events (
    event_id     BIGINT PRIMARY KEY DEFAULT nextval('audit_event_ids'),
    tick_id      VARCHAR NOT NULL,
    server       VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,
    occurred_at  TIMESTAMP NOT NULL,
    subject      VARCHAR,
    before       VARCHAR,
    after        VARCHAR,
    detail       VARCHAR
);

-- Public view: the activity feed, newest last by event_id.
CREATE VIEW audit_feed AS
SELECT event_id, occurred_at, server, kind, subject, before, after, detail, tick_id
FROM audit_events;
