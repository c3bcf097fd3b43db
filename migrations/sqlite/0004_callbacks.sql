-- 0004 callbacks (SQLite): the callback outbox and its delivery history.
-- A callback is written when a session ends and is sent by the delivery worker
-- (src/callbacks/); every try is kept in callback_attempts.

-- Lets callbacks point at a record of their own tenant (SQLite accepts a unique index as the
-- parent key of a foreign key).
CREATE UNIQUE INDEX IF NOT EXISTS records_tenant_id_id_key ON records (tenant_id, id);

CREATE TABLE callbacks (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    record_id        TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    scene_id         TEXT NOT NULL,
    app_id           TEXT,
    url              TEXT NOT NULL,
    -- The body exactly as sent: the signature covers these bytes.
    body             TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    -- Set while a worker sends it; a lease in the past is free to take again.
    lease_until      TEXT,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    delivered_at     TEXT,
    CONSTRAINT callbacks_record_fkey FOREIGN KEY (tenant_id, record_id)
        REFERENCES records (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX callbacks_tenant_record_idx ON callbacks (tenant_id, record_id, created_at);
-- What the worker polls: only pending rows are in it.
CREATE INDEX callbacks_due_idx ON callbacks (next_attempt_at) WHERE status = 'pending';

CREATE TABLE callback_attempts (
    id           TEXT PRIMARY KEY,
    callback_id  TEXT NOT NULL REFERENCES callbacks (id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    attempt      INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    duration_ms  INTEGER NOT NULL,
    http_status  INTEGER,
    error        TEXT,
    CONSTRAINT callback_attempts_callback_id_attempt_key UNIQUE (callback_id, attempt)
);
