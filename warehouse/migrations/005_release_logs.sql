-- Release logs: what the on-demand release-logs flow fetched (flows/release_logs.py).
-- Each fetch reads the last N lines of one release's journal or container log over
-- one connection; only the lines not already stored are added, so a release's
-- lines, by line_id, are its log in order. Naive UTC timestamps throughout.

-- One row per fetch, whatever came of it.
CREATE TABLE release_log_fetches (
    fetch_id         VARCHAR PRIMARY KEY,
    handle           VARCHAR NOT NULL,
    server           VARCHAR NOT NULL,
    source           VARCHAR NOT NULL,   -- journal | docker
    target           VARCHAR NOT NULL,   -- the unit or the container
    lines_requested  INTEGER NOT NULL,
    fetched_at       TIMESTAMP NOT NULL,
    wall_ms          DOUBLE NOT NULL,
    connections      INTEGER NOT NULL,
    reachable        BOOLEAN NOT NULL,
    reason           VARCHAR,            -- why the server was not reached: refused, auth, ...
    error            VARCHAR,
    condition        VARCHAR,            -- why the tool could not answer: "docker: ..."
    note             VARCHAR,            -- what the tool said on stderr while answering
    lines_read       INTEGER NOT NULL,
    lines_new        INTEGER NOT NULL,
    gap              BOOLEAN NOT NULL    -- no overlap with the lines stored before: some
                                         -- lines between the two fetches may be missing
);

-- The lines, in the order they were logged (line_id). Each release keeps its newest
-- lines only (warehouse/land_logs.py MAX_STORED_LINES).
CREATE SEQUENCE release_log_line_ids;
CREATE TABLE release_log_lines (
    line_id    BIGINT PRIMARY KEY DEFAULT nextval('release_log_line_ids'),
    handle     VARCHAR NOT NULL,
    fetch_id   VARCHAR NOT NULL,
    logged_at  TIMESTAMP,                -- the line's own timestamp, when it has one
    line       VARCHAR NOT NULL
);
