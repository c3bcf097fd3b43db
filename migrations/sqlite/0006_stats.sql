-- 0006 stats (SQLite): indexes for the console's records search, and the hourly roll-up
-- that statistics read (src/store/record_search.rs, docs/admin-api.md).

-- The records list's filters, each with the list's order (newest first) behind it.
CREATE INDEX IF NOT EXISTS records_tenant_scene_created_idx
    ON records (tenant_id, scene_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS records_tenant_app_created_idx
    ON records (tenant_id, app_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS records_tenant_verdict_created_idx
    ON records (tenant_id, verdict, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS records_tenant_biz_idx ON records (tenant_id, biz_id);
-- `reason`: SQLite has no index into JSON arrays; the filter reads the rows the others leave.
-- The roll-up reads whole hours of every tenant.
CREATE INDEX IF NOT EXISTS records_created_idx ON records (created_at);

-- One row per (tenant, hour of created_at, scene, app, engine, capture, status, verdict) with
-- reason = '' counting its records once (and their latency), plus one row per reason code found
-- in their reasons (reason = the code; counts only). '' stands for "none" in app_id and verdict
-- so that the key can be a primary key.
-- hour is RFC 3339 UTC text like created_at (2026-11-25T08:00:00.000000Z).
CREATE TABLE stats_hourly (
    tenant_id       TEXT NOT NULL,
    hour            TEXT NOT NULL,
    scene_id        TEXT NOT NULL,
    app_id          TEXT NOT NULL,
    engine          TEXT NOT NULL,
    capture         TEXT NOT NULL,
    status          TEXT NOT NULL,
    verdict         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    count           INTEGER NOT NULL,
    -- Latency (created_at to finished_at) of the records that finished.
    latency_count   INTEGER NOT NULL DEFAULT 0,
    latency_sum_ms  INTEGER NOT NULL DEFAULT 0,
    latency_max_ms  INTEGER NOT NULL DEFAULT 0,
    -- A histogram: lat_NN counts latencies below the bound LATENCY_BOUNDS_MS[NN]
    -- (src/store/record_search.rs) and at or above the one before; lat_15 is the rest.
    lat_00 INTEGER NOT NULL DEFAULT 0, lat_01 INTEGER NOT NULL DEFAULT 0,
    lat_02 INTEGER NOT NULL DEFAULT 0, lat_03 INTEGER NOT NULL DEFAULT 0,
    lat_04 INTEGER NOT NULL DEFAULT 0, lat_05 INTEGER NOT NULL DEFAULT 0,
    lat_06 INTEGER NOT NULL DEFAULT 0, lat_07 INTEGER NOT NULL DEFAULT 0,
    lat_08 INTEGER NOT NULL DEFAULT 0, lat_09 INTEGER NOT NULL DEFAULT 0,
    lat_10 INTEGER NOT NULL DEFAULT 0, lat_11 INTEGER NOT NULL DEFAULT 0,
    lat_12 INTEGER NOT NULL DEFAULT 0, lat_13 INTEGER NOT NULL DEFAULT 0,
    lat_14 INTEGER NOT NULL DEFAULT 0, lat_15 INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT stats_hourly_pkey PRIMARY KEY
        (tenant_id, hour, scene_id, app_id, engine, capture, status, verdict, reason)
);

-- Every hour before rolled_until is in stats_hourly; later ones are read from records.
CREATE TABLE stats_rollup_state (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    rolled_until   TEXT,
    last_run_at    TEXT
);

INSERT INTO stats_rollup_state (id, rolled_until, last_run_at) VALUES (1, NULL, NULL);
