-- 0001 init (SQLite): tenants, scenes, records. Every row carries a tenant.
-- Ids are UUID text, times are RFC 3339 UTC text with microseconds (sorts as it reads),
-- JSON is text. Constraint names match the PostgreSQL migration's.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    parent_id   TEXT REFERENCES tenants (id),
    created_at  TEXT NOT NULL,
    CONSTRAINT tenants_code_key UNIQUE (code)
);

CREATE TABLE scenes (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    config      TEXT NOT NULL DEFAULT '{}',
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CONSTRAINT scenes_tenant_id_code_key UNIQUE (tenant_id, code),
    CONSTRAINT scenes_tenant_id_id_key UNIQUE (tenant_id, id)
);

CREATE TABLE records (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    scene_id       TEXT NOT NULL,
    scene_version  INTEGER NOT NULL,
    session_id     TEXT NOT NULL,
    biz_id         TEXT NOT NULL,
    app_id         TEXT,
    status         TEXT NOT NULL
                   CHECK (status IN ('pending', 'running', 'finished', 'failed', 'expired')),
    verdict        TEXT CHECK (verdict IN ('pass', 'fail', 'inconclusive')),
    reasons        TEXT NOT NULL DEFAULT '[]',
    scores         TEXT NOT NULL DEFAULT '{}',
    client         TEXT NOT NULL DEFAULT '{}',
    created_at     TEXT NOT NULL,
    finished_at    TEXT,
    CONSTRAINT records_tenant_id_session_id_key UNIQUE (tenant_id, session_id),
    -- The scene must be the record's own tenant's.
    CONSTRAINT records_scene_fkey FOREIGN KEY (tenant_id, scene_id)
        REFERENCES scenes (tenant_id, id)
);

CREATE INDEX records_tenant_created_idx ON records (tenant_id, created_at DESC, id DESC);

INSERT INTO tenants (id, code, name, parent_id, created_at)
VALUES ('00000000-0000-0000-0000-000000000001', 'default', '默认机构', NULL,
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

INSERT INTO scenes (id, tenant_id, code, name, config, version, created_at, updated_at)
VALUES ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001',
        'default', '默认场景', '{}', 1,
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
