//! Callback outbox and delivery history.
//!
//! When a session ends, the result is written here as a `pending` callback (the outbox) in the
//! same store as the record, so a restart loses none. Delivery workers (`src/callbacks/`) on any
//! node take due callbacks with [`CallbackStore::claim_due_callbacks`], which leases them
//! (`lease_until`) so two workers never send the same callback at once; each try is written with
//! [`CallbackStore::record_attempt`], which adds a row to the history and moves the callback on
//! (delivered, retry later, or failed) in one transaction.
//!
//! A worker that dies mid-send leaves its lease to expire; the callback is then sent again, so
//! delivery is at least once and integrators deduplicate by the session id in the body.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CallbackId, RecordId, SceneId, StoreError, TenantId};

/// Where a callback is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackStatus {
    /// Waiting for its next attempt (or being sent, while leased).
    Pending,
    /// A try got a 2xx answer.
    Delivered,
    /// Given up: attempts used up, or nothing to sign it with.
    Failed,
}

impl CallbackStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackStatus::Pending => "pending",
            CallbackStatus::Delivered => "delivered",
            CallbackStatus::Failed => "failed",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "pending" => CallbackStatus::Pending,
            "delivered" => CallbackStatus::Delivered,
            "failed" => CallbackStatus::Failed,
            other => {
                return Err(StoreError::Backend(format!(
                    "unknown callback status {other:?}"
                )))
            }
        })
    }
}

/// One callback of the outbox. Its `Debug` leaves the body out: it is a person's result.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Callback {
    /// Its identifier.
    pub id: CallbackId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// The record whose result it carries.
    pub record_id: RecordId,
    /// The session that ended.
    pub session_id: Uuid,
    /// The scene the session ran under; its callback secret signs the request.
    pub scene_id: SceneId,
    /// The API app that created the session (sent as `X-LG-AppId`; empty when none).
    pub app_id: Option<String>,
    /// Where it is POSTed.
    pub url: String,
    /// The JSON body, exactly as sent.
    pub body: String,
    /// Where it is in its life.
    pub status: CallbackStatus,
    /// Tries made since it was enqueued (or last replayed).
    pub attempts: u32,
    /// When it is due (for `pending`).
    pub next_attempt_at: DateTime<Utc>,
    /// Until when a worker holds it; `None` or past means free.
    pub lease_until: Option<DateTime<Utc>>,
    /// Why the last try failed.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When a try got a 2xx answer.
    pub delivered_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("record_id", &self.record_id)
            .field("session_id", &self.session_id)
            .field("scene_id", &self.scene_id)
            .field("app_id", &self.app_id)
            .field("url", &self.url)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("lease_until", &self.lease_until)
            .field("last_error", &self.last_error)
            .field("created_at", &self.created_at)
            .field("delivered_at", &self.delivered_at)
            .finish()
    }
}

/// What it takes to enqueue a callback; it starts `pending`, due at once.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCallback {
    /// The record (of the same tenant, else `Invalid`).
    pub record_id: RecordId,
    /// The session that ended.
    pub session_id: Uuid,
    /// The scene whose callback secret signs it.
    pub scene_id: SceneId,
    /// The API app that created the session.
    pub app_id: Option<String>,
    /// Where to POST it (the scene's `callback.url` at the time).
    pub url: String,
    /// The JSON body, exactly as it will be sent.
    pub body: String,
}

impl fmt::Debug for NewCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCallback")
            .field("record_id", &self.record_id)
            .field("session_id", &self.session_id)
            .field("scene_id", &self.scene_id)
            .field("app_id", &self.app_id)
            .field("url", &self.url)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

/// One try at sending a callback, as the worker saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When the request started.
    pub started_at: DateTime<Utc>,
    /// How long until the answer (or the failure), in milliseconds.
    pub duration_ms: u64,
    /// The HTTP status, when an answer came.
    pub http_status: Option<u16>,
    /// Why it failed (`http status 500`, `timed out after 10s`, ...); `None` when delivered.
    pub error: Option<String>,
}

/// What becomes of a callback after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptNext {
    /// It was delivered.
    Delivered,
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// No more tries: it is `failed`.
    GiveUp,
}

/// One row of a callback's delivery history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackAttempt {
    /// Its identifier (UUID v7).
    pub id: Uuid,
    /// The callback it belongs to.
    pub callback_id: CallbackId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// 1, 2, 3 ... across the callback's whole life (replays continue the count).
    pub attempt: u32,
    /// When the request started.
    pub started_at: DateTime<Utc>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// The HTTP status, when an answer came.
    pub http_status: Option<u16>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Storage of the callback outbox and its delivery history.
#[async_trait]
pub trait CallbackStore: Send + Sync {
    /// Writes a `pending` callback, due now, for a record of the tenant (else `Invalid`).
    async fn enqueue_callback(
        &self,
        tenant: TenantId,
        new: &NewCallback,
    ) -> Result<Callback, StoreError>;

    /// Takes up to `limit` callbacks of any tenant that are `pending`, due at `now` and not
    /// leased (or whose lease ran out), and leases them until `now + lease`, atomically: two
    /// callers never get the same callback while its lease holds. Oldest due first.
    async fn claim_due_callbacks(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<Callback>, StoreError>;

    /// Adds `attempt` to the callback's history (numbered after the last) and, in the same
    /// transaction, counts it and applies `next`; the lease is released. A callback no longer
    /// `pending` (another worker finished it) keeps its state; the attempt is still recorded.
    async fn record_attempt(
        &self,
        tenant: TenantId,
        id: CallbackId,
        attempt: &Attempt,
        next: AttemptNext,
    ) -> Result<Callback, StoreError>;

    /// A callback of the tenant.
    async fn callback(&self, tenant: TenantId, id: CallbackId) -> Result<Callback, StoreError>;

    /// The tenant's callbacks of a record, oldest first.
    async fn callbacks_of_record(
        &self,
        tenant: TenantId,
        record_id: RecordId,
    ) -> Result<Vec<Callback>, StoreError>;

    /// A callback's delivery history, by attempt number; `NotFound` when the callback is not
    /// the tenant's.
    async fn callback_attempts(
        &self,
        tenant: TenantId,
        callback_id: CallbackId,
    ) -> Result<Vec<CallbackAttempt>, StoreError>;

    /// Makes a callback `pending` again, due at `now`, with its attempt budget reset (an
    /// operator's replay after fixing the integrator's side). The history is kept and continues.
    async fn replay_callback(
        &self,
        tenant: TenantId,
        id: CallbackId,
        now: DateTime<Utc>,
    ) -> Result<Callback, StoreError>;
}

/// The column list both backends select and return, in the order their row readers expect.
pub(crate) const CALLBACK_COLUMNS: &str = "id, tenant_id, record_id, session_id, scene_id, \
     app_id, url, body, status, attempts, next_attempt_at, lease_until, last_error, created_at, \
     delivered_at";

/// The attempt columns, likewise.
pub(crate) const ATTEMPT_COLUMNS: &str =
    "id, callback_id, tenant_id, attempt, started_at, duration_ms, http_status, error";

/// The callback's state after an attempt: (status, next_attempt_at if it changes, delivered).
pub(crate) fn state_after(next: AttemptNext) -> (CallbackStatus, Option<DateTime<Utc>>, bool) {
    match next {
        AttemptNext::Delivered => (CallbackStatus::Delivered, None, true),
        AttemptNext::RetryAt(at) => (CallbackStatus::Pending, Some(at), false),
        AttemptNext::GiveUp => (CallbackStatus::Failed, None, false),
    }
}

/// `now + span`, cut to microseconds (what both backends keep), saturating at the end of year 9999.
pub(crate) fn later(now: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
    let end = chrono::Duration::from_std(span)
        .ok()
        .and_then(|span| now.checked_add_signed(span))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
        // Year 9999 at most: SQLite keeps times as text that sorts only with four-digit years.
        .min(DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC));
    DateTime::from_timestamp_micros(end.timestamp_micros()).unwrap_or(end)
}
