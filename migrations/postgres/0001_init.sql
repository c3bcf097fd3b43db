-- 0001 init (PostgreSQL): tenants, scenes, records. Every row carries a tenant.
-- Constraint names match the SQLite migration's (and StoreError::Conflict reports them).

CREATE TABLE tenants (
    id          UUID PRIMARY KEY,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    parent_id   UUID REFERENCES tenants (id),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT tenants_code_key UNIQUE (code)
);

CREATE TABLE scenes (
    id          UUID PRIMARY KEY,
    tenant_id   UUID NOT NULL REFERENCES tenants (id),
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    config      JSONB NOT NULL DEFAULT '{}',
    version     BIGINT NOT NULL DEFAULT 1,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT scenes_tenant_id_code_key UNIQUE (tenant_id, code),
    CONSTRAINT scenes_tenant_id_id_key UNIQUE (tenant_id, id)
);

CREATE TABLE records (
    id             UUID PRIMARY KEY,
    tenant_id      UUID NOT NULL REFERENCES tenants (id),
    scene_id       UUID NOT NULL,
    scene_version  BIGINT NOT NULL,
    session_id     UUID NOT NULL,
    biz_id         TEXT NOT NULL,
    app_id         TEXT,
    status         TEXT NOT NULL
                   CHECK (status IN ('pending', 'running', 'finished', 'failed', 'expired')),
    verdict        TEXT CHECK (verdict IN ('pass', 'fail', 'inconclusive')),
    reasons        JSONB NOT NULL DEFAULT '[]',
    scores         JSONB NOT NULL DEFAULT '{}',
    client         JSONB NOT NULL DEFAULT '{}',
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at    TIMESTAMPTZ,
    CONSTRAINT records_tenant_id_session_id_key UNIQUE (tenant_id, session_id),
    -- The scene must be the record's own tenant's.
    CONSTRAINT records_scene_fkey FOREIGN KEY (tenant_id, scene_id)
        REFERENCES scenes (tenant_id, id)
);

CREATE INDEX records_tenant_created_idx ON records (tenant_id, created_at DESC, id DESC);

INSERT INTO tenants (id, code, name, parent_id)
VALUES ('00000000-0000-0000-0000-000000000001', 'default', '默认机构', NULL);

INSERT INTO scenes (id, tenant_id, code, name, config, version)
VALUES ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001',
        'default', '默认场景', '{}', 1);
