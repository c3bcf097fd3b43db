-- 0002 sessions (SQLite): live sessions beside their records.
-- A session is created with its record and finished with it, each in one transaction
-- (src/store/sqlite/sessions.rs). Constraint names match the PostgreSQL migration's.

CREATE TABLE sessions (
    session_id  TEXT NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    record_id   TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    -- SHA-256 (hex) of the link's token; the token itself is never stored.
    token_hash  TEXT NOT NULL,
    challenge   TEXT NOT NULL,
    return_url  TEXT,
    user_ref    TEXT,
    expires_at  TEXT NOT NULL,
    started_at  TEXT,
    -- The result as served to the integrator; NULL until the first finish.
    result      TEXT,
    -- When the evidence frames of the record are to be deleted (the scene's retention), and
    -- when they were.
    evidence_until      TEXT,
    evidence_purged_at  TEXT,
    -- Session ids are unique across tenants: the page names a session by its id alone.
    CONSTRAINT sessions_session_id_key PRIMARY KEY (session_id),
    CONSTRAINT sessions_record_id_key UNIQUE (record_id),
    -- The record is the session's own: same tenant, same session id.
    CONSTRAINT sessions_record_fkey FOREIGN KEY (tenant_id, session_id)
        REFERENCES records (tenant_id, session_id) ON DELETE CASCADE
);

-- The expiry sweep: sessions without a result, by deadline.
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- The evidence purge: finished sessions by the end of their retention.
CREATE INDEX sessions_evidence_idx ON sessions (evidence_until);
