//! Live sessions: the link's token, the challenge, the deadline and the signed result, beside
//! the session's record.
//!
//! A session row is created with its record in one transaction, and finished with it in one:
//! the first finish wins, so two nodes (or a verdict racing the expiry sweep) never both write
//! an outcome.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{NewRecord, Record, RecordId, RecordOutcome, StoreError, TenantId};

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRow {
    /// The session id (UUID v7), unique across tenants.
    pub session_id: Uuid,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its record.
    pub record: Record,
    /// SHA-256 (hex) of the link's token; the token itself is never stored.
    pub token_hash: String,
    /// What the page is asked to do, as sent in the challenge (steps, capture, limits, keys).
    pub challenge: Value,
    /// Where the page returns when done.
    pub return_url: Option<String>,
    /// The integrator's reference for the person (opaque).
    pub user_ref: Option<String>,
    /// The link's deadline.
    pub expires_at: DateTime<Utc>,
    /// When the page first connected.
    pub started_at: Option<DateTime<Utc>>,
    /// The result as served to the integrator (with its JWS), once finished.
    pub result: Option<Value>,
}

/// What it takes to create a session (and its record, status `pending`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSession {
    /// The record to create with it; `record.session_id` is the session's id.
    pub record: NewRecord,
    /// SHA-256 (hex) of the link's token.
    pub token_hash: String,
    /// The challenge.
    pub challenge: Value,
    /// Where the page returns.
    pub return_url: Option<String>,
    /// The integrator's reference for the person.
    pub user_ref: Option<String>,
    /// The link's deadline.
    pub expires_at: DateTime<Utc>,
}

/// A session whose evidence frames are due for deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvidencePurge {
    /// Its tenant.
    pub tenant: TenantId,
    /// The record the frames belong to.
    pub record_id: RecordId,
    /// The session.
    pub session_id: Uuid,
}

/// Storage of live sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Creates the session and its record in one transaction.
    async fn create_session(
        &self,
        tenant: TenantId,
        new: &NewSession,
    ) -> Result<SessionRow, StoreError>;

    /// A session by id, whatever its tenant: the page knows only the id and its token.
    async fn session(&self, session_id: Uuid) -> Result<SessionRow, StoreError>;

    /// A session of the tenant (`NotFound` for another tenant's).
    async fn session_of_tenant(
        &self,
        tenant: TenantId,
        session_id: Uuid,
    ) -> Result<SessionRow, StoreError>;

    /// The page connected: the record becomes `running` with the client's facts, and
    /// `started_at` is set. Only from `pending`; a resume leaves a running session as it is.
    async fn start_session(
        &self,
        tenant: TenantId,
        session_id: Uuid,
        client: &Value,
    ) -> Result<SessionRow, StoreError>;

    /// Writes the outcome into the record and the result into the session, in one
    /// transaction, if the session has none yet; `Ok(false)` when it already had one (nothing
    /// is changed then).
    async fn finish_session(
        &self,
        tenant: TenantId,
        session_id: Uuid,
        outcome: &RecordOutcome,
        result: &Value,
    ) -> Result<bool, StoreError>;

    /// Sets when the record's evidence frames are to be deleted (the scene's retention from the
    /// finish); `NotFound` for another tenant's session.
    async fn set_evidence_until(
        &self,
        tenant: TenantId,
        session_id: Uuid,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Sessions whose evidence is due for deletion at `now` and not yet deleted, oldest first.
    async fn due_evidence_purges(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EvidencePurge>, StoreError>;

    /// Records that the session's evidence was deleted; it is not due again.
    async fn mark_evidence_purged(
        &self,
        tenant: TenantId,
        session_id: Uuid,
    ) -> Result<(), StoreError>;

    /// Sessions without a result whose deadline is at or before `now`, oldest first.
    async fn due_expiries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(TenantId, Uuid)>, StoreError>;
}

// What both backends share (src/store/{sqlite,postgres}/sessions.rs).

/// The session columns a backend reads after [`super::RECORD_COLUMNS`].
pub(crate) const SESSION_COLUMNS: &str =
    "token_hash, challenge, return_url, user_ref, expires_at, started_at, result";

/// `SELECT` of sessions with their records, to which a backend adds its `WHERE`. The join is on
/// `(tenant_id, session_id)`, the key of the foreign key from a session to its record, so the
/// shared columns are not ambiguous.
pub(crate) fn select_sessions() -> String {
    format!(
        "SELECT {}, {SESSION_COLUMNS} FROM records JOIN sessions USING (tenant_id, session_id)",
        super::RECORD_COLUMNS
    )
}

/// A session's record starts `pending`: `start_session` is what makes it `running`.
pub(crate) fn check_new_session(new: &NewSession) -> Result<(), StoreError> {
    match new.record.status {
        super::RecordStatus::Pending => Ok(()),
        other => Err(StoreError::Invalid(format!(
            "a session's record starts pending, not {}",
            other.as_str()
        ))),
    }
}

/// A finish ends the record: `pending` or `running` would let a second finish win as well.
pub(crate) fn check_outcome(outcome: &RecordOutcome) -> Result<(), StoreError> {
    use super::RecordStatus::{Expired, Failed, Finished};
    match outcome.status {
        Finished | Failed | Expired => Ok(()),
        other => Err(StoreError::Invalid(format!(
            "a session cannot finish as {}",
            other.as_str()
        ))),
    }
}
