-- 0002 sessions (PostgreSQL): live sessions beside their records.
-- A session is created with its record and finished with it, each in one transaction
-- (src/store/postgres/sessions.rs). Constraint names match the SQLite migration's.

CREATE TABLE sessions (
    session_id  UUID NOT NULL,
    tenant_id   UUID NOT NULL REFERENCES tenants (id),
    record_id   UUID NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    -- SHA-256 (hex) of the link's token; the token itself is never stored.
    token_hash  TEXT NOT NULL,
    challenge   JSONB NOT NULL,
    return_url  TEXT,
    user_ref    TEXT,
    expires_at  TIMESTAMPTZ NOT NULL,
    started_at  TIMESTAMPTZ,
    -- The result as served to the integrator; NULL until the first finish.
    result      JSONB,
    -- When the evidence frames of the record are to be deleted (the scene's retention), and
    -- when they were.
    evidence_until      TIMESTAMPTZ,
    evidence_purged_at  TIMESTAMPTZ,
    -- Session ids are unique across tenants: the page names a session by its id alone. (Named
    -- like a unique key so that both backends report the same constraint.)
    CONSTRAINT sessions_session_id_key PRIMARY KEY (session_id),
    CONSTRAINT sessions_record_id_key UNIQUE (record_id),
    -- The record is the session's own: same tenant, same session id.
    CONSTRAINT sessions_record_fkey FOREIGN KEY (tenant_id, session_id)
        REFERENCES records (tenant_id, session_id) ON DELETE CASCADE
);

-- The expiry sweep: only sessions without a result are in it.
CREATE INDEX sessions_expires_idx ON sessions (expires_at) WHERE result IS NULL;

-- The evidence purge: only sessions with evidence still kept are in it.
CREATE INDEX sessions_evidence_idx ON sessions (evidence_until)
    WHERE evidence_until IS NOT NULL AND evidence_purged_at IS NULL;
