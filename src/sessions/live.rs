//! A session this node owns: what its link asks, its keys until the page says hello, and the
//! session actor once frames flow.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use livegate_actors::actions::ActionKind;
use livegate_actors::actor::SessionHandle;
use livegate_actors::tenant::SessionPermit;
use tokio::sync::{watch, OnceCell};
use uuid::Uuid;

use crate::h5::seal::ServerKey;
use crate::scenes::SceneRules;
use crate::store::{RecordId, SceneId, TenantId};

/// One live session on this node.
pub struct LiveSession {
    /// The session id.
    pub id: Uuid,
    /// Its tenant.
    pub tenant: TenantId,
    /// Its record.
    pub record_id: RecordId,
    /// The scene and the version it runs.
    pub scene_id: SceneId,
    /// The scene's code (for the result).
    pub scene_code: String,
    /// The scene's version.
    pub scene_version: i64,
    /// The integrator's business id.
    pub biz_id: String,
    /// The API app that created it.
    pub app_id: Option<String>,
    /// The integrator's reference for the person.
    pub user_ref: Option<String>,
    /// SHA-256 (hex) of the link's token.
    pub token_hash: String,
    /// The steps, in the order the server chose.
    pub steps: Vec<ActionKind>,
    /// The scene's rules at creation.
    pub rules: SceneRules,
    /// Where the page returns.
    pub return_url: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The link's deadline.
    pub expires_at: DateTime<Utc>,
    /// The server's key pair, taken when the session actor starts.
    server_key: Mutex<Option<ServerKey>>,
    /// The session actor, from the first hello on.
    pub engine: OnceCell<SessionHandle>,
    /// The newest connection's number: an older connection sees it change and closes.
    connection: watch::Sender<u64>,
    next_connection: AtomicU64,
    /// The tenant manager's slot, given back when the session ends.
    permit: Mutex<Option<SessionPermit>>,
}

/// What it takes to make a [`LiveSession`].
pub struct LiveSessionParts {
    /// See [`LiveSession`].
    pub id: Uuid,
    /// See [`LiveSession`].
    pub tenant: TenantId,
    /// See [`LiveSession`].
    pub record_id: RecordId,
    /// See [`LiveSession`].
    pub scene_id: SceneId,
    /// See [`LiveSession`].
    pub scene_code: String,
    /// See [`LiveSession`].
    pub scene_version: i64,
    /// See [`LiveSession`].
    pub biz_id: String,
    /// See [`LiveSession`].
    pub app_id: Option<String>,
    /// See [`LiveSession`].
    pub user_ref: Option<String>,
    /// See [`LiveSession`].
    pub token_hash: String,
    /// See [`LiveSession`].
    pub steps: Vec<ActionKind>,
    /// See [`LiveSession`].
    pub rules: SceneRules,
    /// See [`LiveSession`].
    pub return_url: Option<String>,
    /// See [`LiveSession`].
    pub created_at: DateTime<Utc>,
    /// See [`LiveSession`].
    pub expires_at: DateTime<Utc>,
    /// The server's key pair.
    pub server_key: ServerKey,
    /// The tenant manager's slot.
    pub permit: SessionPermit,
}

impl LiveSession {
    /// A session waiting for its page.
    pub fn new(parts: LiveSessionParts) -> Self {
        let (connection, _) = watch::channel(0);
        Self {
            id: parts.id,
            tenant: parts.tenant,
            record_id: parts.record_id,
            scene_id: parts.scene_id,
            scene_code: parts.scene_code,
            scene_version: parts.scene_version,
            biz_id: parts.biz_id,
            app_id: parts.app_id,
            user_ref: parts.user_ref,
            token_hash: parts.token_hash,
            steps: parts.steps,
            rules: parts.rules,
            return_url: parts.return_url,
            created_at: parts.created_at,
            expires_at: parts.expires_at,
            server_key: Mutex::new(Some(parts.server_key)),
            engine: OnceCell::new(),
            connection,
            next_connection: AtomicU64::new(1),
            permit: Mutex::new(Some(parts.permit)),
        }
    }

    /// Takes the server's key pair (once: for the session actor's opener).
    pub fn take_server_key(&self) -> Option<ServerKey> {
        self.server_key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// A new connection takes over the session: older ones are told to close.
    pub fn take_over(&self) -> (u64, watch::Receiver<u64>) {
        let number = self.next_connection.fetch_add(1, Ordering::SeqCst);
        self.connection.send_replace(number);
        (number, self.connection.subscribe())
    }

    /// Gives the tenant manager its slot back (idempotent).
    pub fn release(&self) {
        self.permit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }

    /// Whether the link has passed its deadline.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}
