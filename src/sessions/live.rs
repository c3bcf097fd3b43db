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
use crate::sessions::reference::SessionReference;
use crate::store::{RecordId, SceneId, TenantId};

use super::recorded::RecordingSlot;
use super::result::Capture;

/// What a session is, fixed at creation.
pub struct SessionFacts {
    /// The session id.
    pub id: Uuid,
    /// Its tenant.
    pub tenant: TenantId,
    /// Its record.
    pub record_id: RecordId,
    /// The scene it runs.
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
    /// The steps, in the order the server chose.
    pub steps: Vec<ActionKind>,
    /// The steps of each further attempt the scene allows, drawn at creation too.
    pub retry_steps: Vec<Vec<ActionKind>>,
    /// The colour-flash sequence, for a scene with the `colour` mode.
    pub flash: Option<Vec<livegate_models::flash::FlashStep>>,
    /// The scene's rules at creation.
    pub rules: SceneRules,
    /// The reference face a 1:1 compare uses, when the scene compares.
    pub reference: Option<SessionReference>,
    /// Where the page returns.
    pub return_url: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The link's deadline.
    pub expires_at: DateTime<Utc>,
}

/// One live session on this node.
pub struct LiveSession {
    /// What it is.
    pub facts: SessionFacts,
    /// The server's key pair, taken when the session actor starts.
    server_key: Mutex<Option<ServerKey>>,
    /// The session actor, from the first hello on.
    pub engine: OnceCell<SessionHandle>,
    /// The newest connection's number: an older connection sees it change and closes.
    connection: watch::Sender<u64>,
    next_connection: AtomicU64,
    /// The tenant manager's slot, given back when the session ends.
    permit: Mutex<Option<SessionPermit>>,
    /// The recorded-video fallback: its key pair and upload.
    pub recording: RecordingSlot,
}

impl LiveSession {
    /// A session waiting for its page, with the server's key pair and the tenant manager's
    /// slot.
    pub fn new(facts: SessionFacts, server_key: ServerKey, permit: SessionPermit) -> Self {
        let (connection, _) = watch::channel(0);
        let recording = RecordingSlot::new(server_key.duplicate());
        Self {
            facts,
            server_key: Mutex::new(Some(server_key)),
            engine: OnceCell::new(),
            connection,
            next_connection: AtomicU64::new(1),
            permit: Mutex::new(Some(permit)),
            recording,
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

    /// How the session's frames came: a recording once one was started, else real time.
    pub fn capture(&self) -> Capture {
        if self.recording.took_over() {
            Capture::Recording
        } else {
            Capture::Live
        }
    }

    /// Whether the link has passed its deadline.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.facts.expires_at
    }
}
