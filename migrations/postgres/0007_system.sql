-- 0007 system (PostgreSQL): system properties, the data dictionary, scheduled jobs and their runs.
-- System-wide rows (no tenant): see src/store/system.rs. Property definitions, dictionary seeds
-- and job definitions live in code (src/properties.rs, src/dictionary.rs, src/jobs/).

CREATE TABLE system_properties (
    key         TEXT PRIMARY KEY,
    -- A number, a boolean or a string, checked against the definition in code.
    value       JSONB NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE dict_types (
    code        TEXT PRIMARY KEY,
    name_zh     TEXT NOT NULL,
    name_en     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    builtin     BOOLEAN NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE dict_data (
    id          UUID PRIMARY KEY,
    type_code   TEXT NOT NULL REFERENCES dict_types (code) ON DELETE CASCADE,
    value       TEXT NOT NULL,
    label_zh    TEXT NOT NULL,
    label_en    TEXT NOT NULL,
    sort        INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    -- Seeded by the build: may be relabelled, never deleted (records hold its value).
    builtin     BOOLEAN NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT dict_data_type_code_value_key UNIQUE (type_code, value)
);

CREATE TABLE jobs (
    code          TEXT PRIMARY KEY,
    cron          TEXT NOT NULL,
    enabled       BOOLEAN NOT NULL DEFAULT true,
    next_run_at   TIMESTAMPTZ,
    last_run_at   TIMESTAMPTZ,
    last_status   TEXT CHECK (last_status IN ('running', 'ok', 'failed')),
    -- The row lease: the node running it and until when; a lease in the past is free.
    locked_by     TEXT,
    locked_until  TIMESTAMPTZ,
    updated_by    TEXT,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE job_runs (
    id            UUID PRIMARY KEY,
    job_code      TEXT NOT NULL REFERENCES jobs (code) ON DELETE CASCADE,
    trigger       TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    requested_by  TEXT,
    node          TEXT NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    status        TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    -- At most 64 KiB (cut by the store).
    log           TEXT NOT NULL DEFAULT ''
);

CREATE INDEX job_runs_job_started_idx ON job_runs (job_code, started_at DESC);
