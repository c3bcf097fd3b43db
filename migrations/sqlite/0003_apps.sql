-- 0003 apps (SQLite): API apps, the nonces of their signed requests, result-signing keys.
-- Constraint names match the PostgreSQL migration's.

CREATE TABLE apps (
    app_id         TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    name           TEXT NOT NULL,
    -- ChaCha20-Poly1305 under the master key, nonce in front (src/secrets.rs).
    secret_sealed  BLOB NOT NULL,
    status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at     TEXT NOT NULL
);

CREATE INDEX apps_tenant_created_idx ON apps (tenant_id, created_at);

-- A nonce is remembered until its request's timestamp can no longer be accepted.
CREATE TABLE api_nonces (
    app_id      TEXT NOT NULL REFERENCES apps (app_id) ON DELETE CASCADE,
    nonce       TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    CONSTRAINT api_nonces_pkey PRIMARY KEY (app_id, nonce)
);

CREATE INDEX api_nonces_expires_idx ON api_nonces (expires_at);

CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY,
    private_sealed  BLOB NOT NULL,
    public_jwk      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    retired_at      TEXT
);

-- At most one current key: every current row has the same indexed value.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys ((retired_at IS NULL))
    WHERE retired_at IS NULL;
