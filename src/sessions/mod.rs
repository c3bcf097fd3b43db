//! Liveness sessions from creation to signed result: the one service behind the Open API's
//! session endpoints and the H5 page's challenge and WebSocket.
//!
//! ```text
//! POST /open/v1/sessions ─ create ─ TenantManager::admit ─ store.create_session ─ registry.register
//! GET  challenge / ws    ─ locate (registry; the store when not here) ─ hello ─ SessionActor
//! SessionActor Finished ─ finish ─ evidence + result + JWS ─ store.finish_session ─ callback
//! recording/finish       ─ recorded.rs: FFmpeg ─ SessionHandle::analyse (every frame) ─ finish
//! expiry sweep           ─ due_expiries ─ expired result ─ store.finish_session ─ callback
//! ```
//! A session is found through the registry, never assumed to live in this process: a session
//! another node owns is `Remote` (answered 503 until the active-active issue forwards it).

pub mod live;
pub mod recorded;
pub mod reference;
pub mod result;

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use livegate_actors::actor::{
    PoolHandle, SendError, SessionHandle, SessionOptions, SessionOutcome, SessionPosition,
    SessionStatus,
};
use livegate_actors::budget::FrameLimits;
use livegate_actors::prompts::{step_text, verdict_text, Lang};
use livegate_actors::session::{FailReason, SessionEvent, Verdict};
use livegate_actors::tenant::{TenantError, TenantKey, TenantManagerHandle};
use livegate_actors::thresholds::QualityThresholds;
use livegate_cluster::registry::{Located, SessionKey, SessionRegistry};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::callbacks::CallbackDelivery;
use crate::compare_service::CompareServiceClient;
use crate::error::{ApiError, ErrorCode};
use crate::evidence::EvidenceStore;
use crate::h5::seal::{ServerKey, SuiteOpener, SUITES};
use crate::result_signing::ResultSigner;
use crate::scenes::SceneRules;
use crate::secrets::MasterKey;
use crate::store::callbacks::NewCallback;
use crate::store::{
    NewRecord, NewSession, RecordStatus, SceneStatus, SessionRow, Store, StoreError, TenantId,
};

use live::{LiveSession, SessionFacts};

/// Counter: sessions created.
pub const SESSIONS_CREATED_TOTAL: &str = "livegate_sessions_created_total";
/// Counter: sessions that got their final result, by `status`.
pub const SESSIONS_FINISHED_TOTAL: &str = "livegate_sessions_finished_total";
/// Counter: page sockets closed, by `reason` (the closing code's word).
pub const WS_CLOSED_TOTAL: &str = "livegate_ws_closed_total";
/// Counter: records whose evidence frames the retention deleted.
pub const EVIDENCE_PURGED_TOTAL: &str = "livegate_evidence_purged_total";

/// Describes the sessions' metrics (called once by `metrics::install`).
pub fn describe_metrics() {
    metrics::describe_counter!(
        SESSIONS_CREATED_TOTAL,
        metrics::Unit::Count,
        "liveness sessions created"
    );
    metrics::describe_counter!(
        SESSIONS_FINISHED_TOTAL,
        metrics::Unit::Count,
        "liveness sessions with a final result, by status (passed, failed, expired)"
    );
    metrics::describe_counter!(
        WS_CLOSED_TOTAL,
        metrics::Unit::Count,
        "H5 page sockets closed by the server, by reason (docs/h5-protocol.md)"
    );
    metrics::describe_counter!(
        EVIDENCE_PURGED_TOTAL,
        metrics::Unit::Count,
        "records whose evidence frames were deleted at the end of their retention"
    );
}

/// The registry of the sessions this node runs.
pub type Registry = dyn SessionRegistry<Arc<LiveSession>>;

/// What the service needs from the node's configuration.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// The address the page is reached at, without a trailing slash (`https://liveness.bank`).
    pub public_url: String,
    /// What one session may send.
    pub frame_limits: FrameLimits,
    /// The node's thresholds, under each scene's overrides.
    pub thresholds: QualityThresholds,
    /// How often the expiry sweep runs.
    pub sweep_every: Duration,
    /// Where recorded clips' sealed chunks wait for analysis (`<data_dir>/recordings`).
    pub recordings_dir: std::path::PathBuf,
    /// The node's recently seen face hashes (`replayed_frames`), when the check is on.
    pub seen_frames: Option<Arc<livegate_actors::injection::SeenFrames>>,
    /// Camera labels known to be real (`engine.trusted_camera_labels`).
    pub trusted_camera_labels: Vec<String>,
    /// Silent cues reported but never deciding (`engine.report_only_cues`).
    pub report_only_cues: Vec<String>,
}

/// The Open API's request to create a session.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// The scene's code.
    pub scene: String,
    /// The integrator's business id.
    pub biz_id: String,
    /// Where the page returns when done (must be allowed by the scene).
    #[serde(default)]
    pub return_url: Option<String>,
    /// The integrator's reference for the person (opaque, kept with the record).
    #[serde(default)]
    pub user_ref: Option<String>,
    /// The person's reference face for a 1:1 compare (scenes with `compare` only).
    #[serde(default)]
    pub reference: Option<reference::ReferenceInput>,
}

/// The answer to a created session.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedSession {
    /// The session id.
    pub session_id: Uuid,
    /// The one-time link for the person.
    pub h5_url: String,
    /// The link's deadline.
    pub expires_at: DateTime<Utc>,
}

/// Who creates a session: the authenticated API app.
#[derive(Debug, Clone)]
pub struct Creator {
    /// The app's tenant.
    pub tenant: TenantId,
    /// The app's id.
    pub app_id: String,
}

/// Where a page's connection goes.
pub enum Connection {
    /// The session runs here.
    Live(Arc<LiveSession>),
    /// The session is over: its end screen.
    Ended(PageResult),
}

/// The end screen of a finished session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageResult {
    /// Whether the person passed.
    pub passed: bool,
    /// Why not (reason words).
    pub reasons: Vec<String>,
    /// The end screen's sentence, in the link's language.
    pub text: String,
    /// Where to return.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
}

/// The sessions of a node.
#[derive(Clone)]
pub struct SessionService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    registry: Arc<Registry>,
    tenants: TenantManagerHandle,
    pool: PoolHandle,
    settings: SessionSettings,
    signer: ResultSigner,
    evidence: Arc<dyn EvidenceStore>,
    callbacks: CallbackDelivery,
    compare_service: CompareServiceClient,
    master: MasterKey,
}

/// The parts a [`SessionService`] is built from.
pub struct SessionServiceParts {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Where sessions are found.
    pub registry: Arc<Registry>,
    /// Per-tenant limits.
    pub tenants: TenantManagerHandle,
    /// The model workers.
    pub pool: PoolHandle,
    /// Settings.
    pub settings: SessionSettings,
    /// Signs results.
    pub signer: ResultSigner,
    /// Keeps evidence frames.
    pub evidence: Arc<dyn EvidenceStore>,
    /// Sends callbacks.
    pub callbacks: CallbackDelivery,
    /// Calls the union's compare service for scenes that use it.
    pub compare_service: CompareServiceClient,
    /// Opens the scenes' sealed secrets.
    pub master: MasterKey,
}

const MAX_BIZ_ID: usize = 64;
const MAX_USER_REF: usize = 128;
const MAX_RETURN_URL: usize = 1024;

/// A 422 naming the request's `field` and what is wrong with it.
pub(super) fn invalid(field: &str, message_en: &str) -> ApiError {
    ApiError::new(ErrorCode::ValidationFailed)
        .with_detail(json!({ "field": field, "reason": message_en }))
}

/// The fallback of a session created before scenes had fallback rules: what the page did then
/// (real time, then a recording when the scene took one; step down on a missing capability or
/// three failed connections).
fn fallback_before_rules(challenge: &Value) -> Value {
    let recording = challenge["recording"]["enabled"].as_bool() == Some(true);
    let order: &[&str] = if recording {
        &["action", "recording"]
    } else {
        &["action"]
    };
    json!({
        "order": order,
        "triggers": {"missing_capability": true, "failures": 3, "poor_network": false},
    })
}

/// The SHA-256 of a link token, as stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl SessionService {
    /// A service over its parts; starts nothing (see [`SessionService::run_sweeper`]).
    pub fn new(parts: SessionServiceParts) -> Self {
        Self {
            inner: Arc::new(Inner {
                store: parts.store,
                registry: parts.registry,
                tenants: parts.tenants,
                pool: parts.pool,
                settings: parts.settings,
                signer: parts.signer,
                evidence: parts.evidence,
                callbacks: parts.callbacks,
                compare_service: parts.compare_service,
                master: parts.master,
            }),
        }
    }

    /// Creates a session for an app: checks the request and the scene, asks the tenant
    /// manager, chooses the steps, stores the session with its record, registers it here.
    pub async fn create(
        &self,
        creator: &Creator,
        request: CreateSession,
    ) -> Result<CreatedSession, ApiError> {
        let inner = &self.inner;
        check_text("biz_id", &request.biz_id, MAX_BIZ_ID, false)?;
        if let Some(user_ref) = &request.user_ref {
            check_text("user_ref", user_ref, MAX_USER_REF, true)?;
        }
        let scene = match inner
            .store
            .scene_by_code(creator.tenant, &request.scene)
            .await
        {
            Ok(scene) => scene,
            Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::new(ErrorCode::NotFound)
                    .with_detail(json!({ "field": "scene", "reason": "no such scene" })))
            }
            Err(err) => return Err(err.into()),
        };
        if scene.status == SceneStatus::Disabled {
            // An operator stopped the scene (admin API): new sessions are refused, the running
            // ones go on.
            return Err(ApiError::new(ErrorCode::Forbidden).with_detail(json!({
                "field": "scene",
                "reason": "the scene is disabled",
                "reason_zh": "场景已停用",
            })));
        }
        let rules = self.scene_rules(&scene.config)?;
        if let Some(url) = &request.return_url {
            if url.len() > MAX_RETURN_URL || !rules.allows_return_url(url) {
                return Err(invalid(
                    "return_url",
                    "not one of the scene's allowed return URLs",
                ));
            }
        }
        let permit = inner
            .tenants
            .admit(TenantKey(creator.tenant.0))
            .await
            .map_err(tenant_refusal)?;
        let reference = reference::prepare(
            rules.compare.as_ref(),
            request.reference.as_ref(),
            &inner.pool,
            &inner.compare_service,
        )
        .await?;
        let draw = || {
            rules
                .choose_challenge(&mut rand::rng())
                .map_err(|err| invalid("scene", &format!("the scene's actions are invalid: {err}")))
        };
        // A silent scene asks for no action (docs/scenes.md): no steps, and its one look is
        // decided by silent liveness.
        let silent = rules.liveness_mode() == livegate_actors::session::LivenessMode::Silent;
        // A colour-only scene asks for no action either: the flash is its whole session.
        let steps = if silent || rules.colour_only() {
            Vec::new()
        } else {
            draw()?
        };
        let flash = rules.choose_flash(&mut rand::rng());
        let retry_steps = (0..if silent { 0 } else { rules.retries })
            .map(|_| draw())
            .collect::<Result<Vec<_>, _>>()?;
        let id = Uuid::now_v7();
        let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let server_key = ServerKey::generate();
        let now = Utc::now();
        let expires_at = now + chrono::Duration::seconds(i64::from(rules.timeouts.link_s));
        let challenge = json!({
            "mode": if silent { "silent" } else { "action" },
            "suites": SUITES,
            "server_key": server_key.public_b64(),
            "steps": steps,
            "capture": rules.capture,
            "limits": self.frame_limits(&rules),
            "recording": recorded::challenge_json(&rules.recording),
            "fallback": rules.fallback,
        });
        let mut challenge = challenge;
        if let Some(sequence) = &flash {
            challenge["flash"] = flash_json(sequence);
            if rules.colour_only() {
                challenge["mode"] = json!("colour");
            }
        }
        let row = inner
            .store
            .create_session(
                creator.tenant,
                &NewSession {
                    record: NewRecord {
                        scene_id: scene.id,
                        scene_version: scene.version,
                        session_id: id,
                        biz_id: request.biz_id.clone(),
                        app_id: Some(creator.app_id.clone()),
                        status: RecordStatus::Pending,
                        client: json!({}),
                    },
                    token_hash: token_hash(&token),
                    challenge,
                    return_url: request.return_url.clone(),
                    user_ref: request.user_ref.clone(),
                    expires_at,
                },
            )
            .await?;
        let facts = SessionFacts {
            id,
            tenant: creator.tenant,
            record_id: row.record.id,
            scene_id: scene.id,
            scene_code: scene.code.clone(),
            scene_version: scene.version,
            biz_id: request.biz_id,
            app_id: Some(creator.app_id.clone()),
            user_ref: request.user_ref,
            steps,
            retry_steps,
            flash,
            rules,
            reference,
            return_url: request.return_url,
            created_at: row.record.created_at,
            expires_at: row.expires_at,
        };
        let live = Arc::new(LiveSession::new(facts, server_key, permit));
        inner
            .registry
            .register(SessionKey(id), live)
            .await
            .map_err(|err| ApiError::internal(format!("session registry: {err}")))?;
        metrics::counter!(SESSIONS_CREATED_TOTAL).increment(1);
        Ok(CreatedSession {
            session_id: id,
            h5_url: format!(
                "{}/h5/?sid={id}&t={token}",
                inner.settings.public_url.trim_end_matches('/')
            ),
            expires_at: row.expires_at,
        })
    }

    /// A stored scene's rules, its sealed secrets opened.
    fn scene_rules(&self, config: &Value) -> Result<SceneRules, ApiError> {
        let opened = crate::scene_secrets::open(config, &self.inner.master)
            .map_err(|err| ApiError::internal(format!("the scene's secrets: {err}")))?;
        SceneRules::from_config(&opened, &self.inner.settings.thresholds)
            .map_err(|err| invalid("scene", &format!("the scene's rules are invalid: {err}")))
    }

    /// The node's thresholds, under which scenes' rules are read (the admin API checks a scene
    /// with them before storing it).
    pub fn thresholds(&self) -> &QualityThresholds {
        &self.inner.settings.thresholds
    }

    /// The node's model-worker pool (the engines page reads its counters).
    pub fn model_pool(&self) -> &PoolHandle {
        &self.inner.pool
    }

    /// The node's compare service client (the engines page reads its circuit breakers).
    pub fn compare_service(&self) -> &CompareServiceClient {
        &self.inner.compare_service
    }

    /// What a session of these rules may send.
    pub fn frame_limits(&self, rules: &SceneRules) -> FrameLimits {
        let mut limits = self.inner.settings.frame_limits;
        // Frames may come for as long as every attempt may last, plus a margin for a reconnect.
        let attempts = 1 + u64::from(rules.retries);
        limits.max_duration_s = limits
            .max_duration_s
            .min(u64::from(rules.timeouts.session_s) * attempts + 30);
        limits
    }

    /// The session's row, if the token is its link's.
    async fn authorised_row(&self, id: Uuid, token: &str) -> Result<SessionRow, ApiError> {
        let row = match self.inner.store.session(id).await {
            Ok(row) => row,
            Err(StoreError::NotFound { .. }) => return Err(ApiError::new(ErrorCode::NotFound)),
            Err(err) => return Err(err.into()),
        };
        if token.is_empty() || token_hash(token) != row.token_hash {
            return Err(ApiError::new(ErrorCode::Unauthorized)
                .with_detail(json!({ "reason": "the link's token is not this session's" })));
        }
        Ok(row)
    }

    /// The challenge for the page (`docs/h5-protocol.md` §2).
    pub async fn challenge(&self, id: Uuid, token: &str, lang: Lang) -> Result<Value, ApiError> {
        let row = self.authorised_row(id, token).await?;
        let status = match (&row.result, row.record.status) {
            (Some(_), _) => "finished",
            (None, RecordStatus::Running) => "running",
            (None, _) => "pending",
        };
        if row.result.is_none() && Utc::now() >= row.expires_at {
            return Err(ApiError::new(ErrorCode::Gone));
        }
        let steps: Vec<Value> = row.challenge["steps"]
            .as_array()
            .map(|steps| {
                steps
                    .iter()
                    .enumerate()
                    .filter_map(|(index, action)| {
                        let action = serde_json::from_value(action.clone()).ok()?;
                        Some(json!({
                            "index": index,
                            "action": action,
                            "text": step_text(action, lang),
                        }))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut view = json!({
            "session_id": id,
            "status": status,
            "suites": row.challenge["suites"],
            "server_key": row.challenge["server_key"],
            "mode": row.challenge["mode"],
            "steps": steps,
            "capture": row.challenge["capture"],
            "limits": row.challenge["limits"],
            "recording": row.challenge.get("recording").cloned().unwrap_or_else(|| json!({ "enabled": false })),
            "fallback": row.challenge.get("fallback").cloned().unwrap_or_else(|| fallback_before_rules(&row.challenge)),
            "flash": row.challenge.get("flash").cloned().unwrap_or(Value::Null),
            "expires_at": row.expires_at,
            "lang": lang,
            "ws_path": format!("/h5/v1/sessions/{id}/ws"),
        });
        if let Some(result) = &row.result {
            view["result"] = json!(page_result(result, row.return_url.clone(), lang));
        }
        Ok(view)
    }

    /// Where a page's WebSocket goes; checked before the upgrade.
    pub async fn connect(&self, id: Uuid, token: &str, lang: Lang) -> Result<Connection, ApiError> {
        let row = self.authorised_row(id, token).await?;
        if let Some(result) = &row.result {
            return Ok(Connection::Ended(page_result(
                result,
                row.return_url.clone(),
                lang,
            )));
        }
        if Utc::now() >= row.expires_at {
            return Err(ApiError::new(ErrorCode::Gone));
        }
        let live = self.local_session(id).await?;
        if live.recording.took_over() {
            return Err(ApiError::new(ErrorCode::Conflict)
                .with_detail(json!({ "reason": "the session continues as a recorded video" })));
        }
        Ok(Connection::Live(live))
    }

    /// The running session `id` on this node; 503 when another node runs it, 410 when none
    /// does.
    pub(crate) async fn local_session(&self, id: Uuid) -> Result<Arc<LiveSession>, ApiError> {
        match self.inner.registry.locate(SessionKey(id)).await {
            Ok(Located::Local(live)) => Ok(live),
            Ok(Located::Remote(node)) => Err(ApiError::new(ErrorCode::Unavailable).with_detail(
                json!({ "reason": "the session runs on another node", "node": node.to_string() }),
            )),
            // In the store, unfinished, on no node: its node stopped and its keys went with it.
            Ok(Located::Unknown) => Err(ApiError::new(ErrorCode::Gone)),
            Err(err) => Err(ApiError::internal(format!("session registry: {err}"))),
        }
    }

    /// The page's hello: binds its key share, starts the session actor on the first one,
    /// marks the record running with the client's facts.
    pub async fn hello(
        &self,
        live: &Arc<LiveSession>,
        client_key: Vec<u8>,
        client: Value,
    ) -> Result<(SessionHandle, SessionPosition), SendError> {
        let handle = live
            .engine
            .get_or_try_init(|| self.start_engine(live))
            .await?
            .clone();
        let position = handle.bind(client_key).await?;
        // The camera the page reports: a virtual camera's label fails the session at its end.
        if let Some(score) = livegate_actors::injection::camera_cue(
            &client,
            &self.inner.settings.trusted_camera_labels,
        ) {
            let _ = handle.report_injection(FailReason::VirtualCamera, score);
        }
        if let Err(err) = self
            .inner
            .store
            .start_session(live.facts.tenant, live.facts.id, &sanitise_client(client))
            .await
        {
            tracing::warn!(session = %live.facts.id, error = %err, "cannot mark the session running");
        }
        Ok((handle, position))
    }

    async fn start_engine(
        &self,
        live: &Arc<LiveSession>,
    ) -> Result<SessionHandle, livegate_actors::actor::SessionError> {
        let key = live.take_server_key().ok_or_else(|| {
            livegate_actors::actor::SessionError::Spawn("the session's key was used".into())
        })?;
        let mut config = live.facts.rules.session_config(live.facts.steps.clone());
        config.retry_challenges = live.facts.retry_steps.clone();
        config.flash = live.facts.flash.clone();
        config.report_only_cues = self.inner.settings.report_only_cues.clone();
        let options = SessionOptions {
            frame_limits: self.frame_limits(&live.facts.rules),
            evidence_samples: live.facts.rules.evidence.sampled_frames,
            seen_frames: self.inner.settings.seen_frames.clone(),
            ..SessionOptions::default()
        };
        let opener = Box::new(SuiteOpener::new(live.facts.id, key));
        let handle =
            SessionHandle::start_sealed(config, self.inner.pool.clone(), options, opener).await?;
        let service = self.clone();
        let watched = Arc::clone(live);
        let events = handle.clone();
        tokio::spawn(async move { service.await_outcome(watched, events).await });
        Ok(handle)
    }

    /// Waits for the session actor's verdict, then writes everything down.
    async fn await_outcome(&self, live: Arc<LiveSession>, handle: SessionHandle) {
        let mut events = handle.subscribe();
        loop {
            match events.recv().await {
                Ok(SessionEvent::Finished { .. }) => break,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    if matches!(handle.outcome().await, Ok(Some(_)) | Err(_)) {
                        break;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
        if live.recording.took_over() {
            // A recording ended this attempt: it decides, and ends the session itself.
            let _ = handle.finish().await;
            return;
        }
        let outcome = match handle.outcome().await {
            Ok(Some(outcome)) => outcome,
            other => {
                tracing::warn!(session = %live.facts.id, outcome = ?other.err(), "session ended without a verdict");
                lost_outcome(&live.facts.steps)
            }
        };
        if let Err(err) = self.finish(&live, &outcome).await {
            tracing::error!(session = %live.facts.id, error = %err, "cannot record the session's outcome");
        }
        if let Err(err) = handle.finish().await {
            tracing::debug!(session = %live.facts.id, error = %err, "session actor already gone");
        }
        live.release();
        let _ = self.inner.registry.remove(SessionKey(live.facts.id)).await;
    }

    /// Records a finished session: evidence, signed result, record, callback.
    async fn finish(&self, live: &LiveSession, outcome: &SessionOutcome) -> Result<(), ApiError> {
        let inner = &self.inner;
        let now = Utc::now();
        let started_at = inner
            .store
            .session_of_tenant(live.facts.tenant, live.facts.id)
            .await
            .ok()
            .and_then(|row| row.started_at);
        for frame in &outcome.evidence {
            let name = format!("{}.jpg", frame.name);
            if let Err(err) = inner
                .evidence
                .put(
                    live.facts.tenant,
                    live.facts.record_id,
                    &name,
                    frame.jpeg.as_ref().clone(),
                )
                .await
            {
                tracing::warn!(session = %live.facts.id, error = %err, "evidence frame not kept");
            }
        }
        let compare = match (&live.facts.rules.compare, &live.facts.reference) {
            (Some(rules), Some(reference)) => {
                if let Some((name, image)) = reference.image() {
                    if let Err(err) = inner
                        .evidence
                        .put(
                            live.facts.tenant,
                            live.facts.record_id,
                            name,
                            image.as_ref().clone(),
                        )
                        .await
                    {
                        tracing::warn!(session = %live.facts.id, error = %err, "reference image not kept");
                    }
                }
                let job = reference::CompareJob {
                    rules,
                    reference,
                    session_id: live.facts.id,
                    biz_id: &live.facts.biz_id,
                };
                let compared =
                    reference::compare_session(job, outcome, &inner.pool, &inner.compare_service)
                        .await;
                Some((rules.engine(), compared))
            }
            _ => None,
        };
        let (result, record) = result::finished(
            &live.facts,
            outcome,
            compare.as_ref().map(|(engine, c)| (*engine, c)),
            started_at,
            now,
        );
        let result = result::with_capture(result, live.capture());
        let result = self.sign(result, live.facts.app_id.as_deref(), now)?;
        let first = inner
            .store
            .finish_session(live.facts.tenant, live.facts.id, &record, &result)
            .await?;
        if first {
            self.keep_evidence_until(live.facts.tenant, live.facts.id, &live.facts.rules, now)
                .await;
            metrics::counter!(SESSIONS_FINISHED_TOTAL, "status" => result["status"].as_str().unwrap_or("unknown").to_owned()).increment(1);
            self.send_callback(
                live.facts.tenant,
                &live.facts.rules,
                live.facts.id,
                live.facts.record_id,
                live.facts.scene_id,
                live.facts.app_id.clone(),
                &result,
            )
            .await;
        }
        Ok(())
    }

    fn sign(
        &self,
        mut result: Value,
        app_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Value, ApiError> {
        let claims = result::claims(&result, app_id, now);
        let jws = self
            .inner
            .signer
            .sign(&claims)
            .map_err(|err| ApiError::internal(format!("result signing: {err}")))?;
        result["jws"] = Value::String(jws);
        Ok(result)
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_callback(
        &self,
        tenant: TenantId,
        rules: &SceneRules,
        session_id: Uuid,
        record_id: crate::store::RecordId,
        scene_id: crate::store::SceneId,
        app_id: Option<String>,
        result: &Value,
    ) {
        let Some(callback) = &rules.callback else {
            return;
        };
        let new = NewCallback {
            record_id,
            session_id,
            scene_id,
            app_id,
            url: callback.url.to_string(),
            body: result.to_string(),
        };
        if let Err(err) = self.inner.callbacks.enqueue(tenant, new).await {
            tracing::error!(session = %session_id, error = %err, "callback not queued");
        }
    }

    /// The integrator's view of a session of its tenant.
    pub async fn result(&self, tenant: TenantId, id: Uuid) -> Result<Value, ApiError> {
        let row = match self.inner.store.session_of_tenant(tenant, id).await {
            Ok(row) => row,
            Err(StoreError::NotFound { .. }) => return Err(ApiError::new(ErrorCode::NotFound)),
            Err(err) => return Err(err.into()),
        };
        Ok(match row.result {
            Some(result) => result,
            None if Utc::now() >= row.expires_at && !self.runs_here(id).await => {
                // The sweep has not come by yet: expire it now, so the answer is final.
                self.expire(&row).await?;
                self.inner
                    .store
                    .session_of_tenant(tenant, id)
                    .await?
                    .result
                    .unwrap_or_else(|| result::pending(&row))
            }
            None => result::pending(&row),
        })
    }

    /// Whether frames are flowing in a session this node runs (its link's deadline does not cut
    /// a person off mid-check).
    async fn runs_here(&self, id: Uuid) -> bool {
        matches!(
            self.inner.registry.locate(SessionKey(id)).await,
            Ok(Located::Local(live)) if live.engine.get().is_some() || live.recording.is_analysing()
        )
    }

    /// Ends the sessions whose links passed their deadline; returns how many it ended.
    pub async fn expire_due(&self) -> Result<usize, ApiError> {
        let now = Utc::now();
        let due = self.inner.store.due_expiries(now, 100).await?;
        let mut ended = 0;
        for (tenant, id) in due {
            if let Ok(Located::Local(live)) = self.inner.registry.locate(SessionKey(id)).await {
                if live.recording.is_analysing() {
                    // A clip is being analysed: its verdict is moments away.
                    continue;
                }
                if let Some(handle) = live.engine.get().filter(|_| !live.recording.took_over()) {
                    // Frames are flowing: the session ends by its own timeouts, unless it has
                    // overrun them too.
                    let limit = live.facts.expires_at
                        + chrono::Duration::seconds(
                            self.frame_limits(&live.facts.rules).max_duration_s as i64,
                        );
                    if now < limit {
                        continue;
                    }
                    let _ = handle.finish().await;
                    continue;
                }
            }
            let row = match self.inner.store.session_of_tenant(tenant, id).await {
                Ok(row) => row,
                Err(err) => {
                    tracing::warn!(session = %id, error = %err, "cannot read a due session");
                    continue;
                }
            };
            if self.expire(&row).await.is_ok() {
                ended += 1;
            }
        }
        Ok(ended)
    }

    async fn expire(&self, row: &SessionRow) -> Result<(), ApiError> {
        let inner = &self.inner;
        let now = Utc::now();
        let scene = inner
            .store
            .scene(row.tenant_id, row.record.scene_id)
            .await?;
        let (result, record) = result::expired(row, &scene.code, now);
        let result = self.sign(result, row.record.app_id.as_deref(), now)?;
        let first = inner
            .store
            .finish_session(row.tenant_id, row.session_id, &record, &result)
            .await?;
        recorded::discard(&inner.settings.recordings_dir, row.session_id).await;
        if let Ok(Located::Local(live)) = inner.registry.locate(SessionKey(row.session_id)).await {
            live.release();
            let _ = inner.registry.remove(SessionKey(row.session_id)).await;
        }
        if first {
            metrics::counter!(SESSIONS_FINISHED_TOTAL, "status" => "expired").increment(1);
            if let Ok(rules) = self.scene_rules(&scene.config) {
                self.keep_evidence_until(row.tenant_id, row.session_id, &rules, now)
                    .await;
                self.send_callback(
                    row.tenant_id,
                    &rules,
                    row.session_id,
                    row.record.id,
                    row.record.scene_id,
                    row.record.app_id.clone(),
                    &result,
                )
                .await;
            }
        }
        Ok(())
    }

    /// Sets when a finished session's evidence frames are deleted: the scene's retention.
    async fn keep_evidence_until(
        &self,
        tenant: TenantId,
        id: Uuid,
        rules: &SceneRules,
        finished: DateTime<Utc>,
    ) {
        let until = finished + chrono::Duration::days(i64::from(rules.evidence.retention_days));
        if let Err(err) = self.inner.store.set_evidence_until(tenant, id, until).await {
            tracing::warn!(session = %id, error = %err, "cannot set the evidence retention");
        }
    }

    /// Deletes the evidence frames whose retention ended; returns how many records it cleared.
    /// A failure leaves the record due: the next sweep tries again.
    pub async fn purge_evidence(&self) -> Result<usize, ApiError> {
        let due = self
            .inner
            .store
            .due_evidence_purges(Utc::now(), 100)
            .await?;
        let mut purged = 0;
        for item in due {
            if let Err(err) = self
                .inner
                .evidence
                .delete_record(item.tenant, item.record_id)
                .await
            {
                tracing::warn!(record = %item.record_id, error = %err, "evidence not deleted yet");
                continue;
            }
            // The frames are gone; a failed mark only means the next sweep deletes nothing again.
            if let Err(err) = self
                .inner
                .store
                .mark_evidence_purged(item.tenant, item.session_id)
                .await
            {
                tracing::warn!(record = %item.record_id, error = %err, "evidence purge not marked");
                continue;
            }
            purged += 1;
        }
        if purged > 0 {
            metrics::counter!(EVIDENCE_PURGED_TOTAL).increment(purged as u64);
        }
        Ok(purged)
    }

    /// Runs the expiry sweep until `shutdown` resolves.
    pub async fn run_sweeper(self, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut tick = tokio::time::interval(self.inner.settings.sweep_every);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = tick.tick() => {
                    if let Err(err) = self.expire_due().await {
                        tracing::warn!(error = %err, "expiry sweep failed");
                    }
                    if let Err(err) = self.purge_evidence().await {
                        tracing::warn!(error = %err, "evidence purge failed");
                    }
                }
            }
        }
    }
}

fn tenant_refusal(err: TenantError) -> ApiError {
    match err {
        TenantError::TooManyLiveSessions { .. } | TenantError::TooManyNewSessions { .. } => {
            ApiError::new(ErrorCode::RateLimited).with_detail(json!({ "reason": err.to_string() }))
        }
        other => ApiError::new(ErrorCode::Unavailable)
            .with_detail(json!({ "reason": other.to_string() })),
    }
}

fn lost_outcome(challenge: &[livegate_actors::actions::ActionKind]) -> SessionOutcome {
    SessionOutcome {
        verdict: Verdict::failed(vec![FailReason::EngineFailure]),
        challenge: challenge.to_vec(),
        attempts: 1,
        steps: Vec::new(),
        evidence: Vec::new(),
        status: SessionStatus {
            frames_received: 0,
            frames_analysed: 0,
            frames_dropped: 0,
            frames_failed: 0,
            frames_pending: 0,
            child_restarts: 0,
            verdict: None,
        },
        max_identity_distance: 0.0,
        clean_share: 0.0,
        duration_s: 0.0,
        cues: Default::default(),
    }
}

/// The end screen of a stored result.
pub fn page_result(result: &Value, return_url: Option<String>, lang: Lang) -> PageResult {
    let passed = result["status"] == "passed";
    let reasons: Vec<String> = result["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let known: Vec<FailReason> = reasons
        .iter()
        .filter_map(|r| serde_json::from_value(Value::String(r.clone())).ok())
        .collect();
    PageResult {
        passed,
        text: verdict_text(passed, &known, lang),
        reasons,
        return_url,
    }
}

fn check_text(field: &str, value: &str, max: usize, empty_ok: bool) -> Result<(), ApiError> {
    if (!empty_ok && value.trim().is_empty()) || value.chars().count() > max {
        return Err(invalid(field, &format!("must be 1 to {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// Keeps what the page reported within bounds: an object, strings cut to 256 characters, at most
/// 32 keys deep in two levels.
fn sanitise_client(client: Value) -> Value {
    fn cut(v: Value, depth: u8) -> Value {
        match v {
            Value::String(s) => Value::String(s.chars().take(256).collect()),
            Value::Object(map) if depth < 2 => Value::Object(
                map.into_iter()
                    .take(32)
                    .map(|(k, v)| (k.chars().take(64).collect(), cut(v, depth + 1)))
                    .collect(),
            ),
            Value::Number(_) | Value::Bool(_) | Value::Null => v,
            _ => Value::Null,
        }
    }
    match client {
        Value::Object(_) => cut(client, 0),
        _ => json!({}),
    }
}

/// The page's view of a flash sequence (`docs/h5-protocol.md` §2): each step's tag (the frame
/// header's `flash` byte), colour name, sRGB and length.
fn flash_json(sequence: &[livegate_models::flash::FlashStep]) -> Value {
    let steps: Vec<Value> = sequence
        .iter()
        .enumerate()
        .filter_map(|(i, step)| {
            let colour = step.palette()?;
            let [r, g, b] = colour.rgb;
            Some(json!({
                "tag": i + 1,
                "colour": colour.name,
                "rgb": format!("#{r:02x}{g:02x}{b:02x}"),
                "ms": step.ms,
            }))
        })
        .collect();
    json!({ "steps": steps })
}
