-- 0005 admin (PostgreSQL): the operations console's administrators, roles, sessions, audit log.
-- Constraint names match the SQLite migration's.

CREATE TABLE admin_roles (
    code         TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    -- Permissions (`records:read`); built-in roles take theirs from the code
    -- (src/admin/permission.rs), so theirs stays '[]'.
    permissions  JSONB NOT NULL DEFAULT '[]',
    builtin      BOOLEAN NOT NULL DEFAULT false
);

INSERT INTO admin_roles (code, name, permissions, builtin) VALUES
    ('sys_admin', '系统管理员', '[]', true),
    ('tenant_admin', '机构管理员', '[]', true),
    ('operator', '运营人员', '[]', true),
    ('auditor', '审计员', '[]', true);

CREATE TABLE admin_users (
    id               UUID PRIMARY KEY,
    tenant_id        UUID NOT NULL REFERENCES tenants (id),
    username         TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    -- argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
    password_hash    TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    failed_logins    BIGINT NOT NULL DEFAULT 0,
    first_failed_at  TIMESTAMPTZ,
    locked_until     TIMESTAMPTZ,
    last_login_at    TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT admin_users_username_key UNIQUE (username)
);

CREATE INDEX admin_users_tenant_idx ON admin_users (tenant_id, username);

CREATE TABLE admin_user_roles (
    user_id    UUID NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    role_code  TEXT NOT NULL REFERENCES admin_roles (code),
    CONSTRAINT admin_user_roles_pkey PRIMARY KEY (user_id, role_code)
);

-- The id is the SHA-256 of the cookie token: a copy of this table opens no session.
CREATE TABLE admin_sessions (
    id            TEXT PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    tenant_id     UUID NOT NULL REFERENCES tenants (id),
    csrf_token    TEXT NOT NULL,
    ip            TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX admin_sessions_user_idx ON admin_sessions (user_id);
CREATE INDEX admin_sessions_expires_idx ON admin_sessions (expires_at);

-- Appended, never changed. No foreign key to admin_users: the log keeps the username as it was.
CREATE TABLE audit_log (
    id         UUID PRIMARY KEY,
    tenant_id  UUID NOT NULL REFERENCES tenants (id),
    user_id    UUID,
    username   TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    detail     JSONB NOT NULL DEFAULT '{}',
    ip         TEXT,
    at         TIMESTAMPTZ NOT NULL
);

CREATE INDEX audit_log_tenant_at_idx ON audit_log (tenant_id, at DESC, id DESC);
