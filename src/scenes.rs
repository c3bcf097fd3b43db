//! Scene rules: the typed, validated form of a scene's `config` JSON (`store::Scene::config`).
//!
//! Every field is optional and has a default, so the seeded `default` scene's `{}` is a complete
//! set of rules; unknown fields are refused (a typo must not silently keep a default). Errors name
//! the JSON path: `actions.count: must be between 1 and 6 (got 9)`. The thresholds are a partial
//! override merged over the server's `[engine.thresholds]`, then validated as a whole.
//!
//! ```json
//! { "modes": ["action"],
//!   "actions": {"pool": ["blink", "mouth_open", "turn_left", "turn_right", "nod", "raise_head"],
//!               "count": 2},
//!   "timeouts": {"link_s": 600, "step_s": 10, "session_s": 60},
//!   "retries": 0,
//!   "thresholds": {"min_face_ratio": 0.2},
//!   "callback": {"url": "https://bank.example/liveness/callback", "secret": "at least 16 chars"},
//!   "return_urls": ["https://bank.example/liveness/return"],
//!   "evidence": {"retention_days": 180, "sampled_frames": 3},
//!   "capture": {"width": 480, "height": 640, "jpeg_quality": 0.8, "min_fps": 8, "max_fps": 15},
//!   "compare": {"engine": "builtin"},
//!   "fallback": {"order": ["action", "recording"],
//!                "triggers": {"missing_capability": true, "failures": 3, "poor_network": false}} }
//! ```

use std::fmt;
use std::time::Duration;

use livegate_actors::actions::ActionKind;
use livegate_actors::budget::FrameLimits;
use livegate_actors::challenge::{choose_steps, ChallengeError};
use livegate_actors::flash::{choose_sequence, FlashRules};
use livegate_actors::session::{LivenessMode, SessionConfig};
use livegate_actors::thresholds::QualityThresholds;
use livegate_models::flash::FlashStep;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::compare_service::{CompareServiceRules, ReferenceSourceRules};

/// A rule that does not hold; `path` is where in the config JSON (`actions.count`,
/// `return_urls[1]`), empty for the config as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SceneRulesError {
    /// Where in the JSON.
    pub path: String,
    /// What is wrong there.
    pub reason: String,
}

impl fmt::Display for SceneRulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
        }
    }
}

pub(crate) fn invalid(path: impl Into<String>, reason: impl Into<String>) -> SceneRulesError {
    SceneRulesError {
        path: path.into(),
        reason: reason.into(),
    }
}

/// A serde error at `inner` (as serde_path_to_error tracked it) below `prefix`.
pub(crate) fn at_path(
    prefix: &str,
    err: serde_path_to_error::Error<serde_json::Error>,
) -> SceneRulesError {
    let inner = err.path().to_string();
    let path = match (prefix.is_empty(), inner.as_str()) {
        (_, ".") => prefix.to_owned(),
        (true, _) => inner,
        (false, _) => format!("{prefix}.{inner}"),
    };
    invalid(path, err.into_inner().to_string())
}

pub(crate) fn within(path: &str, got: u64, lo: u64, hi: u64) -> Result<u64, SceneRulesError> {
    if (lo..=hi).contains(&got) {
        Ok(got)
    } else {
        Err(invalid(
            path,
            format!("must be between {lo} and {hi} (got {got})"),
        ))
    }
}

/// How the person proves liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SceneMode {
    /// Random actions (blink, turns ...) asked one after the other.
    Action,
    /// No action: a few seconds of looking at the camera, decided by silent liveness
    /// (`docs/attacks.md`).
    Silent,
    /// Colour flash (炫彩): the screen flashes a random colour sequence and the face must
    /// answer it; alone or before the actions (`docs/scenes.md`, `docs/attacks.md`).
    Colour,
}

impl SceneMode {
    /// The name in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SceneMode::Action => "action",
            SceneMode::Silent => "silent",
            SceneMode::Colour => "colour",
        }
    }
}

/// Which actions a challenge draws from, and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionRules {
    /// Distinct challenge actions to draw from.
    pub pool: Vec<ActionKind>,
    /// Steps per challenge, `1..=pool.len()`.
    pub count: usize,
}

/// How long things may take, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Timeouts {
    /// The session link is valid this long from the session's creation (`60..=86400`).
    pub link_s: u32,
    /// Longest time for one step (`3..=60`).
    pub step_s: u32,
    /// Longest time for the whole session from its first frame (`10..=600`, at least `step_s`).
    pub session_s: u32,
}

impl Timeouts {
    /// `link_s` as a duration.
    pub fn link_validity(&self) -> Duration {
        Duration::from_secs(self.link_s.into())
    }
}

/// Where the verdict is posted, and the key that signs it.
#[derive(Clone, PartialEq, Eq)]
pub struct CallbackRules {
    /// An http or https URL.
    pub url: Url,
    secret: String,
}

impl CallbackRules {
    /// The signing secret (at least 16 characters); never log it.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for CallbackRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackRules")
            .field("url", &self.url.as_str())
            .field("secret", &"***")
            .finish()
    }
}

/// What is kept of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EvidenceRules {
    /// Days the evidence frames are kept (`1..=3650`).
    pub retention_days: u32,
    /// Step frames kept besides the best frame (`0..=10`).
    pub sampled_frames: usize,
}

/// How the page captures frames (sent to the page).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CaptureRules {
    /// Frame width in pixels (`160..=1920`).
    pub width: u32,
    /// Frame height in pixels (`160..=1920`).
    pub height: u32,
    /// JPEG quality, `0.1..=1.0`.
    pub jpeg_quality: f32,
    /// Fewest frames a second the page must reach.
    pub min_fps: u32,
    /// Most frames a second the page sends (at most the server's frame limit).
    pub max_fps: u32,
}

/// The recorded-video fallback (sent to the page in the challenge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RecordingRules {
    /// Whether the page may upload a recorded clip when real time cannot run.
    pub enabled: bool,
    /// Largest clip in MiB (`1..=100`).
    pub max_mb: u32,
    /// Longest clip in seconds (`5..=120`).
    pub max_s: u32,
}

impl RecordingRules {
    /// `max_mb` in bytes.
    pub fn max_bytes(&self) -> u64 {
        u64::from(self.max_mb) * 1024 * 1024
    }
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRecording {
    enabled: bool,
    max_mb: u64,
    max_s: u64,
}

impl Default for RawRecording {
    fn default() -> Self {
        Self {
            enabled: false,
            max_mb: 20,
            max_s: 30,
        }
    }
}

fn recording(raw: &RawRecording) -> Result<RecordingRules, SceneRulesError> {
    Ok(RecordingRules {
        enabled: raw.enabled,
        max_mb: small(within("recording.max_mb", raw.max_mb, 1, 100)?),
        max_s: small(within("recording.max_s", raw.max_s, 5, 120)?),
    })
}

/// A detection method the page may use, in the scene's fallback order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackMethod {
    /// Real time, random actions (the `action` mode).
    Action,
    /// Real time, no action (the `silent` mode).
    Silent,
    /// A recorded clip uploaded and analysed afterwards (`recording.enabled`).
    Recording,
}

impl FallbackMethod {
    /// The name in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FallbackMethod::Action => "action",
            FallbackMethod::Silent => "silent",
            FallbackMethod::Recording => "recording",
        }
    }
}

/// What makes the page step down to the next method of the order (sent to the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FallbackTriggers {
    /// The device or browser cannot run the current method (no camera access, no WebSocket,
    /// an old WebView).
    pub missing_capability: bool,
    /// Connections in a row that fail before frames flow (`1..=10`).
    pub failures: u32,
    /// The browser reports a very slow network (2G) before real time starts.
    pub poor_network: bool,
}

/// The scene's fallback strategy: the methods allowed, in the order the page steps down through
/// them, and what triggers a step (sent to the page in the challenge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FallbackRules {
    /// Distinct methods, a real-time one first.
    pub order: Vec<FallbackMethod>,
    /// When to step down.
    pub triggers: FallbackTriggers,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawFallback {
    order: Option<Vec<String>>,
    triggers: RawTriggers,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawTriggers {
    missing_capability: bool,
    failures: u64,
    poor_network: bool,
}

impl Default for RawTriggers {
    /// What the page did before the rule existed: step down on a missing capability or after
    /// three failed connections.
    fn default() -> Self {
        Self {
            missing_capability: true,
            failures: 3,
            poor_network: false,
        }
    }
}

fn fallback(
    raw: &RawFallback,
    modes: &[SceneMode],
    recording: &RecordingRules,
) -> Result<FallbackRules, SceneRulesError> {
    let triggers = FallbackTriggers {
        missing_capability: raw.triggers.missing_capability,
        failures: small(within(
            "fallback.triggers.failures",
            raw.triggers.failures,
            1,
            10,
        )?),
        poor_network: raw.triggers.poor_network,
    };
    let Some(names) = &raw.order else {
        // By default: the scene's real-time modes, then a recording when the scene takes one.
        let mut order: Vec<FallbackMethod> = modes
            .iter()
            .map(|mode| match mode {
                SceneMode::Action => FallbackMethod::Action,
                SceneMode::Silent => FallbackMethod::Silent,
                // The flash runs in the real-time flow, before any action.
                SceneMode::Colour => FallbackMethod::Action,
            })
            .collect();
        order.dedup();
        if recording.enabled {
            order.push(FallbackMethod::Recording);
        }
        return Ok(FallbackRules { order, triggers });
    };
    if names.is_empty() {
        return Err(invalid("fallback.order", "must name at least one method"));
    }
    let mut order = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let path = format!("fallback.order[{i}]");
        let method = match name.as_str() {
            // A colour scene runs in the same real-time flow as actions.
            "action"
                if modes.contains(&SceneMode::Action) || modes.contains(&SceneMode::Colour) =>
            {
                FallbackMethod::Action
            }
            "silent" if modes.contains(&SceneMode::Silent) => FallbackMethod::Silent,
            real_time @ ("action" | "silent") => {
                return Err(invalid(
                    path,
                    format!("{real_time:?} is not one of the scene's modes"),
                ))
            }
            "recording" if recording.enabled => FallbackMethod::Recording,
            "recording" => {
                return Err(invalid(
                    path,
                    "\"recording\" needs recording.enabled set to true",
                ))
            }
            other => {
                return Err(invalid(
                    path,
                    format!(
                        "unknown method {other:?} (one of \"action\", \"silent\", \"recording\")"
                    ),
                ))
            }
        };
        if order.contains(&method) {
            return Err(invalid(path, format!("{name:?} is listed twice")));
        }
        order.push(method);
    }
    if order[0] == FallbackMethod::Recording {
        // The page always tries real time first; a recording is where it steps down to.
        return Err(invalid(
            "fallback.order[0]",
            "must be a real-time method (\"action\" or \"silent\"); \"recording\" comes after",
        ));
    }
    Ok(FallbackRules { order, triggers })
}

/// A scene's rules, complete and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneRules {
    /// Liveness modes, in the order they run (only `action` for now).
    pub modes: Vec<SceneMode>,
    /// The challenge's actions.
    pub actions: ActionRules,
    /// Time limits.
    pub timeouts: Timeouts,
    /// Extra attempts allowed after a failed one, within the same link (`0..=3`).
    pub retries: u8,
    /// The server's thresholds with the scene's overrides applied.
    pub thresholds: QualityThresholds,
    /// Where the verdict is posted, if anywhere.
    pub callback: Option<CallbackRules>,
    /// Allowed return URL prefixes; empty: no return URL is allowed.
    pub return_urls: Vec<Url>,
    /// What is kept.
    pub evidence: EvidenceRules,
    /// How the page captures.
    pub capture: CaptureRules,
    /// Whether a recorded clip may stand in for real time, and how large (`docs/h5-protocol.md` §7).
    pub recording: RecordingRules,
    /// How the person is compared with their reference face, if the scene compares.
    pub compare: Option<CompareRules>,
    /// Which methods the page may use, in what order, and what makes it step down.
    pub fallback: FallbackRules,
    /// The colour flash's sequence rule (used when `modes` has `colour`).
    pub flash: FlashRules,
}

/// How a session's best frame is compared with the reference face sent at creation.
#[derive(Debug, Clone, PartialEq)]
pub enum CompareRules {
    /// The built-in comparator (dlib embedding at the calibrated threshold, `docs/compare.md`),
    /// with where it fetches reference images by id, if anywhere.
    Builtin(Option<Box<ReferenceSourceRules>>),
    /// The union's own compare service over HTTP.
    Http(Box<CompareServiceRules>),
}

impl CompareRules {
    /// The engine's word in results: `builtin` or `http`.
    pub fn engine(&self) -> &'static str {
        match self {
            CompareRules::Builtin(_) => "builtin",
            CompareRules::Http(_) => "http",
        }
    }
}

/// The config JSON as written: every field optional, nothing unknown.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRules {
    modes: Vec<String>,
    actions: RawActions,
    timeouts: RawTimeouts,
    retries: u64,
    thresholds: Map<String, Value>,
    callback: Option<RawCallback>,
    return_urls: Vec<String>,
    evidence: RawEvidence,
    capture: RawCapture,
    recording: RawRecording,
    compare: Option<RawCompare>,
    fallback: RawFallback,
    flash: Option<RawFlash>,
}

impl Default for RawRules {
    fn default() -> Self {
        Self {
            modes: vec![SceneMode::Action.as_str().to_owned()],
            actions: RawActions::default(),
            timeouts: RawTimeouts::default(),
            retries: 0,
            thresholds: Map::new(),
            callback: None,
            return_urls: Vec::new(),
            evidence: RawEvidence::default(),
            capture: RawCapture::default(),
            recording: RawRecording::default(),
            compare: None,
            fallback: RawFallback::default(),
            flash: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompare {
    engine: String,
    #[serde(default)]
    http: Option<Value>,
    #[serde(default)]
    reference_source: Option<Value>,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawActions {
    pool: Vec<String>,
    count: u64,
}

impl Default for RawActions {
    fn default() -> Self {
        Self {
            pool: ActionKind::CHALLENGE
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect(),
            count: 2,
        }
    }
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawTimeouts {
    link_s: u64,
    step_s: u64,
    session_s: u64,
}

impl Default for RawTimeouts {
    fn default() -> Self {
        Self {
            link_s: 600,
            step_s: 10,
            session_s: 60,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCallback {
    url: String,
    secret: String,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawEvidence {
    retention_days: u64,
    sampled_frames: u64,
}

impl Default for RawEvidence {
    fn default() -> Self {
        Self {
            retention_days: 180,
            sampled_frames: 3,
        }
    }
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawCapture {
    width: u64,
    height: u64,
    jpeg_quality: f64,
    min_fps: u64,
    max_fps: u64,
}

impl Default for RawCapture {
    fn default() -> Self {
        Self {
            width: 480,
            height: 640,
            jpeg_quality: 0.8,
            min_fps: 8,
            max_fps: 15,
        }
    }
}

/// Most return URL prefixes a scene may list.
const MAX_RETURN_URLS: usize = 20;
/// Shortest callback secret, in characters.
const MIN_SECRET_CHARS: usize = 16;
/// Longest callback secret, in characters.
const MAX_SECRET_CHARS: usize = 256;

fn small(v: u64) -> u32 {
    // Only called on values already checked against a range far below u32::MAX.
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn modes(raw: &[String]) -> Result<Vec<SceneMode>, SceneRulesError> {
    if raw.is_empty() {
        return Err(invalid("modes", "must name at least one mode"));
    }
    let mut out = Vec::with_capacity(raw.len());
    for (i, name) in raw.iter().enumerate() {
        let path = format!("modes[{i}]");
        let mode = match name.as_str() {
            "action" => SceneMode::Action,
            "silent" => SceneMode::Silent,
            "colour" => SceneMode::Colour,
            other => {
                return Err(invalid(
                    path,
                    format!("unknown mode {other:?} (one of \"action\", \"silent\", \"colour\")"),
                ))
            }
        };
        if out.contains(&mode) {
            return Err(invalid(path, format!("{name:?} is listed twice")));
        }
        out.push(mode);
    }
    if out.contains(&SceneMode::Colour) && out.contains(&SceneMode::Silent) {
        return Err(invalid(
            "modes",
            "\"colour\" runs alone or with \"action\", not with \"silent\"",
        ));
    }
    Ok(out)
}

/// The colour-flash rule as written.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawFlash {
    steps: u64,
    min_ms: u64,
    max_ms: u64,
}

impl Default for RawFlash {
    fn default() -> Self {
        let d = FlashRules::default();
        Self {
            steps: d.steps as u64,
            min_ms: u64::from(d.min_ms),
            max_ms: u64::from(d.max_ms),
        }
    }
}

fn flash(raw: Option<&RawFlash>, modes: &[SceneMode]) -> Result<FlashRules, SceneRulesError> {
    if raw.is_some() && !modes.contains(&SceneMode::Colour) {
        return Err(invalid(
            "flash",
            "only for a scene with the \"colour\" mode",
        ));
    }
    let raw = raw.map_or_else(RawFlash::default, |r| RawFlash { ..*r });
    let (lo, hi) = livegate_actors::flash::STEPS_RANGE;
    let steps = within("flash.steps", raw.steps, lo as u64, hi as u64)? as usize;
    let (lo, hi) = livegate_actors::flash::MS_RANGE;
    let min_ms = small(within("flash.min_ms", raw.min_ms, lo.into(), hi.into())?);
    let max_ms = small(within("flash.max_ms", raw.max_ms, lo.into(), hi.into())?);
    if min_ms > max_ms {
        return Err(invalid(
            "flash.min_ms",
            format!("must not exceed flash.max_ms ({min_ms} > {max_ms})"),
        ));
    }
    Ok(FlashRules {
        steps,
        min_ms,
        max_ms,
    })
}

fn actions(raw: &RawActions) -> Result<ActionRules, SceneRulesError> {
    if raw.pool.is_empty() {
        return Err(invalid("actions.pool", "must name at least one action"));
    }
    let mut pool = Vec::with_capacity(raw.pool.len());
    for (i, name) in raw.pool.iter().enumerate() {
        let path = format!("actions.pool[{i}]");
        let Some(kind) = ActionKind::CHALLENGE
            .into_iter()
            .find(|k| k.as_str() == name)
        else {
            let names: Vec<&str> = ActionKind::CHALLENGE.iter().map(|k| k.as_str()).collect();
            let reason = if name == ActionKind::EyesClosed.as_str() {
                format!("{name:?} is not a challenge action")
            } else {
                format!("unknown action {name:?} (one of {})", names.join(", "))
            };
            return Err(invalid(path, reason));
        };
        if pool.contains(&kind) {
            return Err(invalid(path, format!("{name:?} is listed twice")));
        }
        pool.push(kind);
    }
    let count = within("actions.count", raw.count, 1, pool.len() as u64)?;
    Ok(ActionRules {
        pool,
        count: count as usize,
    })
}

fn timeouts(raw: &RawTimeouts) -> Result<Timeouts, SceneRulesError> {
    let link_s = within("timeouts.link_s", raw.link_s, 60, 86_400)?;
    let step_s = within("timeouts.step_s", raw.step_s, 3, 60)?;
    let session_s = within("timeouts.session_s", raw.session_s, 10, 600)?;
    if step_s > session_s {
        return Err(invalid(
            "timeouts.step_s",
            format!("must not exceed timeouts.session_s ({step_s} > {session_s})"),
        ));
    }
    Ok(Timeouts {
        link_s: small(link_s),
        step_s: small(step_s),
        session_s: small(session_s),
    })
}

fn thresholds(
    server: &QualityThresholds,
    overrides: &Map<String, Value>,
) -> Result<QualityThresholds, SceneRulesError> {
    let mut merged = serde_json::to_value(server)
        .map_err(|e| invalid("thresholds", format!("server thresholds unreadable: {e}")))?;
    if let Value::Object(fields) = &mut merged {
        for (name, value) in overrides {
            fields.insert(name.clone(), value.clone());
        }
    }
    let merged: QualityThresholds =
        serde_path_to_error::deserialize(&merged).map_err(|e| at_path("thresholds", e))?;
    merged
        .validate()
        .map_err(|e| invalid(format!("thresholds.{}", e.field), e.reason))?;
    Ok(merged)
}

pub(crate) fn http_url(path: &str, text: &str) -> Result<Url, SceneRulesError> {
    let url = Url::parse(text).map_err(|e| invalid(path, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            path,
            format!("must be http or https (got {})", url.scheme()),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(path, "must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(path, "must not carry a user name or password"));
    }
    Ok(url)
}

fn callback(raw: &RawCallback) -> Result<CallbackRules, SceneRulesError> {
    let url = http_url("callback.url", &raw.url)?;
    let chars = raw.secret.chars().count();
    if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&chars) {
        return Err(invalid(
            "callback.secret",
            format!("must be {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters (got {chars})"),
        ));
    }
    Ok(CallbackRules {
        url,
        secret: raw.secret.clone(),
    })
}

fn return_urls(raw: &[String]) -> Result<Vec<Url>, SceneRulesError> {
    if raw.len() > MAX_RETURN_URLS {
        return Err(invalid(
            "return_urls",
            format!("at most {MAX_RETURN_URLS} prefixes (got {})", raw.len()),
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(i, text)| {
            let path = format!("return_urls[{i}]");
            let url = http_url(&path, text)?;
            if url.query().is_some() || url.fragment().is_some() {
                return Err(invalid(path, "a prefix has no query or fragment"));
            }
            Ok(url)
        })
        .collect()
}

fn evidence(raw: &RawEvidence) -> Result<EvidenceRules, SceneRulesError> {
    Ok(EvidenceRules {
        retention_days: small(within(
            "evidence.retention_days",
            raw.retention_days,
            0,
            3650,
        )?),
        sampled_frames: within("evidence.sampled_frames", raw.sampled_frames, 0, 10)? as usize,
    })
}

fn capture(raw: &RawCapture) -> Result<CaptureRules, SceneRulesError> {
    let width = within("capture.width", raw.width, 160, 1920)?;
    let height = within("capture.height", raw.height, 160, 1920)?;
    if !(raw.jpeg_quality.is_finite() && (0.1..=1.0).contains(&raw.jpeg_quality)) {
        return Err(invalid(
            "capture.jpeg_quality",
            format!("must be between 0.1 and 1 (got {})", raw.jpeg_quality),
        ));
    }
    // The page must not plan to send more than the session's frame budget takes.
    let fps_limit = u64::from(FrameLimits::default().max_fps);
    let min_fps = within("capture.min_fps", raw.min_fps, 1, fps_limit)?;
    let max_fps = within("capture.max_fps", raw.max_fps, 1, fps_limit)?;
    if min_fps > max_fps {
        return Err(invalid(
            "capture.min_fps",
            format!("must not exceed capture.max_fps ({min_fps} > {max_fps})"),
        ));
    }
    Ok(CaptureRules {
        width: small(width),
        height: small(height),
        jpeg_quality: raw.jpeg_quality as f32,
        min_fps: small(min_fps),
        max_fps: small(max_fps),
    })
}

fn compare(raw: &RawCompare) -> Result<CompareRules, SceneRulesError> {
    if raw.engine != "builtin" && raw.reference_source.is_some() {
        return Err(invalid(
            "compare.reference_source",
            "only for engine \"builtin\" (the union's service finds its own references)",
        ));
    }
    match (raw.engine.as_str(), &raw.http) {
        ("builtin", None) => Ok(CompareRules::Builtin(
            raw.reference_source
                .as_ref()
                .map(ReferenceSourceRules::parse)
                .transpose()?
                .map(Box::new),
        )),
        ("builtin", Some(_)) => Err(invalid(
            "compare.http",
            "only for engine \"http\" (the built-in comparator has no settings)",
        )),
        ("http", Some(http)) => Ok(CompareRules::Http(Box::new(CompareServiceRules::parse(
            http,
        )?))),
        ("http", None) => Err(invalid(
            "compare.http",
            "engine \"http\" needs the service's settings",
        )),
        (other, _) => Err(invalid(
            "compare.engine",
            format!("unknown engine {other:?} (\"builtin\" or \"http\")"),
        )),
    }
}

impl SceneRules {
    /// Reads and checks a scene's `config`; `server` is the server's `[engine.thresholds]`,
    /// under the scene's overrides.
    pub fn from_config(
        config: &Value,
        server: &QualityThresholds,
    ) -> Result<SceneRules, SceneRulesError> {
        if !config.is_object() {
            return Err(invalid("", "scene config must be a JSON object"));
        }
        let raw: RawRules = serde_path_to_error::deserialize(config).map_err(|e| at_path("", e))?;
        let modes = modes(&raw.modes)?;
        let recording = recording(&raw.recording)?;
        let fallback = fallback(&raw.fallback, &modes, &recording)?;
        let flash = flash(raw.flash.as_ref(), &modes)?;
        Ok(SceneRules {
            modes,
            actions: actions(&raw.actions)?,
            timeouts: timeouts(&raw.timeouts)?,
            retries: within("retries", raw.retries, 0, 3)? as u8,
            thresholds: thresholds(server, &raw.thresholds)?,
            callback: raw.callback.as_ref().map(callback).transpose()?,
            return_urls: return_urls(&raw.return_urls)?,
            evidence: evidence(&raw.evidence)?,
            capture: capture(&raw.capture)?,
            recording,
            compare: raw.compare.as_ref().map(compare).transpose()?,
            fallback,
            flash,
        })
    }

    /// Whether a request's `return_url` is under one of the scene's prefixes: same scheme, host
    /// and port, and a path equal to the prefix's or below it (`/return` allows `/return/ok`,
    /// not `/returned`). Compared after parsing, so `https://bank.example@evil.example/` or
    /// `/return/../admin` cannot pass as the bank's.
    pub fn allows_return_url(&self, candidate: &str) -> bool {
        let Ok(url) = Url::parse(candidate) else {
            return false;
        };
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return false;
        }
        self.return_urls.iter().any(|prefix| {
            prefix.scheme() == url.scheme()
                && prefix.host() == url.host()
                && prefix.port_or_known_default() == url.port_or_known_default()
                && path_is_under(prefix.path(), url.path())
        })
    }

    /// A fresh random challenge from the scene's pool.
    pub fn choose_challenge(
        &self,
        rng: &mut impl rand::Rng,
    ) -> Result<Vec<ActionKind>, ChallengeError> {
        choose_steps(&self.actions.pool, self.actions.count, rng)
    }

    /// The session configuration for `challenge` under these rules.
    pub fn session_config(&self, challenge: Vec<ActionKind>) -> SessionConfig {
        SessionConfig {
            challenge,
            step_timeout_s: f64::from(self.timeouts.step_s),
            session_timeout_s: f64::from(self.timeouts.session_s),
            thresholds: self.thresholds.clone(),
            retry_challenges: Vec::new(),
            mode: self.liveness_mode(),
            flash: None,
            report_only_cues: Vec::new(),
        }
    }

    /// Whether sessions of these rules run the colour flash.
    pub fn has_colour(&self) -> bool {
        self.modes.contains(&SceneMode::Colour)
    }

    /// Whether the colour flash is the whole session (no action asked).
    pub fn colour_only(&self) -> bool {
        self.modes == [SceneMode::Colour]
    }

    /// A fresh random flash sequence for a session, when the scene has the `colour` mode.
    pub fn choose_flash(&self, rng: &mut impl rand::Rng) -> Option<Vec<FlashStep>> {
        if !self.has_colour() {
            return None;
        }
        // The rule was validated when the scene was read.
        choose_sequence(&self.flash, rng).ok()
    }

    /// How a session of these rules proves liveness: silent when `silent` is the only mode;
    /// with actions, the silent cues are a second opinion (`docs/scenes.md`).
    pub fn liveness_mode(&self) -> LivenessMode {
        if self.modes == [SceneMode::Silent] {
            LivenessMode::Silent
        } else {
            LivenessMode::Action
        }
    }
}

fn path_is_under(prefix: &str, path: &str) -> bool {
    if prefix.ends_with('/') {
        return path.starts_with(prefix);
    }
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The config as stored, with its secrets (`crate::scene_secrets::SECRET_FIELDS`) replaced by
/// `"***"`: what lists and pages show.
pub fn masked_config(config: &Value) -> Value {
    crate::scene_secrets::mask(config)
}

/// Checks a scene code: 1 to 64 of `a-z`, `0-9`, `-`, `_`, starting with a letter or digit.
pub fn check_scene_code(code: &str) -> Result<(), SceneRulesError> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    let starts_well = code
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if (1..=64).contains(&code.len()) && starts_well && code.chars().all(ok_char) {
        Ok(())
    } else {
        Err(invalid(
            "code",
            format!(
                "{code:?} must be 1 to 64 of a-z, 0-9, '-', '_', starting with a letter or digit"
            ),
        ))
    }
}

/// Why a rules file given to `livegate scenes set` was not taken; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum SceneInputError {
    /// The scene code is not a valid code.
    #[error("scene {0}")]
    Code(SceneRulesError),
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{path} is not JSON: {source}")]
    Json {
        /// The file.
        path: String,
        /// Where and why.
        #[source]
        source: serde_json::Error,
    },
    /// The rules break a rule.
    #[error("{path}: {source}")]
    Rules {
        /// The file.
        path: String,
        /// Which rule, where.
        #[source]
        source: SceneRulesError,
    },
}

/// Reads a rules file and checks it: the JSON to store and its rules.
pub fn read_rules_file(
    path: &std::path::Path,
    server: &QualityThresholds,
) -> Result<(Value, SceneRules), SceneInputError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SceneInputError::Read {
        path: shown.clone(),
        source,
    })?;
    let config: Value = serde_json::from_str(&text).map_err(|source| SceneInputError::Json {
        path: shown.clone(),
        source,
    })?;
    let rules =
        SceneRules::from_config(&config, server).map_err(|source| SceneInputError::Rules {
            path: shown,
            source,
        })?;
    Ok((config, rules))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rules(config: Value) -> Result<SceneRules, SceneRulesError> {
        SceneRules::from_config(&config, &QualityThresholds::default())
    }

    fn error(config: Value) -> String {
        rules(config).expect_err("invalid rules").to_string()
    }

    #[test]
    fn an_empty_config_is_the_documented_defaults() {
        let r = rules(json!({})).expect("defaults");
        assert_eq!(r.modes, vec![SceneMode::Action]);
        assert_eq!(r.actions.pool, ActionKind::CHALLENGE.to_vec());
        assert_eq!(r.actions.count, 2);
        assert_eq!(
            r.timeouts,
            Timeouts {
                link_s: 600,
                step_s: 10,
                session_s: 60
            }
        );
        assert_eq!(r.timeouts.link_validity(), Duration::from_secs(600));
        assert_eq!(r.retries, 0);
        assert_eq!(r.thresholds, QualityThresholds::default());
        assert!(r.callback.is_none());
        assert!(r.return_urls.is_empty());
        assert_eq!(
            r.evidence,
            EvidenceRules {
                retention_days: 180,
                sampled_frames: 3
            }
        );
        assert_eq!(
            r.capture,
            CaptureRules {
                width: 480,
                height: 640,
                jpeg_quality: 0.8,
                min_fps: 8,
                max_fps: 15
            }
        );
    }

    #[test]
    fn a_full_config_is_read() {
        let r = rules(json!({
            "modes": ["action"],
            "actions": {"pool": ["nod", "blink", "turn_left"], "count": 3},
            "timeouts": {"link_s": 3600, "step_s": 8, "session_s": 40},
            "retries": 2,
            "thresholds": {"min_face_ratio": 0.25},
            "callback": {"url": "https://bank.example/cb", "secret": "0123456789abcdef"},
            "return_urls": ["https://bank.example/liveness/return"],
            "evidence": {"retention_days": 30, "sampled_frames": 0},
            "capture": {"width": 720, "height": 960, "jpeg_quality": 0.7, "min_fps": 10, "max_fps": 20}
        }))
        .expect("valid");
        assert_eq!(
            r.actions.pool,
            vec![ActionKind::Nod, ActionKind::Blink, ActionKind::TurnLeft]
        );
        assert_eq!(r.actions.count, 3);
        assert_eq!(r.timeouts.step_s, 8);
        assert_eq!(r.retries, 2);
        assert_eq!(r.thresholds.min_face_ratio, 0.25);
        let callback = r.callback.as_ref().expect("callback");
        assert_eq!(callback.url.as_str(), "https://bank.example/cb");
        assert_eq!(callback.secret(), "0123456789abcdef");
        assert!(
            !format!("{r:?}").contains("0123456789abcdef"),
            "Debug never shows the secret"
        );
        assert_eq!(r.evidence.sampled_frames, 0);
        assert_eq!(r.capture.max_fps, 20);

        let config = r.session_config(r.choose_challenge(&mut rand::rng()).expect("steps"));
        assert_eq!(config.challenge.len(), 3);
        assert_eq!(config.step_timeout_s, 8.0);
        assert_eq!(config.session_timeout_s, 40.0);
        assert_eq!(config.thresholds.min_face_ratio, 0.25);
        config.validate().expect("a scene's session config runs");
    }

    #[test]
    fn errors_name_the_json_path() {
        assert_eq!(
            error(json!({"actions": {"count": 9}})),
            "actions.count: must be between 1 and 6 (got 9)"
        );
        assert_eq!(
            error(json!({"actions": {"pool": ["blink", "nod"], "count": 3}})),
            "actions.count: must be between 1 and 2 (got 3)"
        );
        assert_eq!(
            error(json!({"actions": {"count": "two"}})),
            "actions.count: invalid type: string \"two\", expected u64"
        );
        assert_eq!(
            error(json!({"actions": {"pool": ["blink", "wink"]}})),
            "actions.pool[1]: unknown action \"wink\" (one of blink, mouth_open, turn_left, \
             turn_right, nod, raise_head)"
        );
        assert_eq!(
            error(json!({"actions": {"pool": ["eyes_closed"]}})),
            "actions.pool[0]: \"eyes_closed\" is not a challenge action"
        );
        assert_eq!(
            error(json!({"actions": {"pool": ["nod", "nod"]}})),
            "actions.pool[1]: \"nod\" is listed twice"
        );
        assert_eq!(
            error(json!({"actions": {"pool": []}})),
            "actions.pool: must name at least one action"
        );
        assert_eq!(
            error(json!({"timeouts": {"link_s": 30}})),
            "timeouts.link_s: must be between 60 and 86400 (got 30)"
        );
        assert_eq!(
            error(json!({"timeouts": {"step_s": 30, "session_s": 20}})),
            "timeouts.step_s: must not exceed timeouts.session_s (30 > 20)"
        );
        assert_eq!(
            error(json!({"retries": 4})),
            "retries: must be between 0 and 3 (got 4)"
        );
        assert_eq!(
            error(json!({"evidence": {"sampled_frames": 11}})),
            "evidence.sampled_frames: must be between 0 and 10 (got 11)"
        );
        assert_eq!(
            error(json!({"capture": {"min_fps": 16}})),
            "capture.min_fps: must not exceed capture.max_fps (16 > 15)"
        );
        assert_eq!(
            error(json!({"capture": {"max_fps": 30}})),
            "capture.max_fps: must be between 1 and 20 (got 30)"
        );
        assert_eq!(
            error(json!({"capture": {"jpeg_quality": 0.0}})),
            "capture.jpeg_quality: must be between 0.1 and 1 (got 0)"
        );
        assert_eq!(error(json!([1, 2])), "scene config must be a JSON object");
    }

    #[test]
    fn unknown_fields_are_refused_where_they_are() {
        let top = error(json!({"action": {}}));
        assert!(
            top.starts_with("action: unknown field `action`, expected one of `modes`, `actions`"),
            "{top}"
        );
        let nested = error(json!({"timeouts": {"link": 60}}));
        assert_eq!(
            nested,
            "timeouts.link: unknown field `link`, expected one of `link_s`, `step_s`, `session_s`"
        );
        let threshold = error(json!({"thresholds": {"min_face": 0.2}}));
        assert!(
            threshold.starts_with("thresholds.min_face: unknown field `min_face`"),
            "{threshold}"
        );
    }

    #[test]
    fn only_the_action_and_silent_modes_are_available() {
        assert_eq!(
            error(json!({"modes": ["silent", "colour"]})),
            "modes: \"colour\" runs alone or with \"action\", not with \"silent\""
        );
        let silent =
            SceneRules::from_config(&json!({"modes": ["silent"]}), &QualityThresholds::default())
                .expect("a silent scene");
        assert_eq!(
            silent.liveness_mode(),
            livegate_actors::session::LivenessMode::Silent
        );
        silent
            .session_config(Vec::new())
            .validate()
            .expect("a silent session runs with no steps");
        let both = SceneRules::from_config(
            &json!({"modes": ["action", "silent"]}),
            &QualityThresholds::default(),
        )
        .expect("action and silent");
        assert_eq!(
            both.liveness_mode(),
            livegate_actors::session::LivenessMode::Action
        );
        assert_eq!(
            error(json!({"modes": ["video"]})),
            "modes[0]: unknown mode \"video\" (one of \"action\", \"silent\", \"colour\")"
        );
        assert_eq!(
            error(json!({"modes": []})),
            "modes: must name at least one mode"
        );
    }

    #[test]
    fn a_colour_scene_draws_a_flash_sequence_within_its_rule() {
        let colour = rules(
            json!({"modes": ["colour"], "flash": {"steps": 6, "min_ms": 200, "max_ms": 250}}),
        )
        .expect("a colour scene");
        assert!(colour.colour_only());
        let seq = colour.choose_flash(&mut rand::rng()).expect("a sequence");
        assert_eq!(seq.len(), 6);
        assert!(seq.iter().all(|s| (200..=250).contains(&s.ms)));
        assert!(seq.windows(2).all(|w| w[0].colour != w[1].colour));
        // Colour alone asks for no action: its session runs with no steps.
        let mut config = colour.session_config(Vec::new());
        config.flash = Some(seq);
        config
            .validate()
            .expect("a colour-only session runs with no steps");
        let both = rules(json!({"modes": ["colour", "action"]})).unwrap();
        assert!(both.has_colour() && !both.colour_only());
        assert_eq!(both.flash, FlashRules::default());
        assert_eq!(both.fallback.order, vec![FallbackMethod::Action]);
        assert!(rules(json!({}))
            .unwrap()
            .choose_flash(&mut rand::rng())
            .is_none());
    }

    #[test]
    fn the_flash_rule_is_checked() {
        assert_eq!(
            error(json!({"flash": {"steps": 8}})),
            "flash: only for a scene with the \"colour\" mode"
        );
        assert_eq!(
            error(json!({"modes": ["colour"], "flash": {"steps": 20}})),
            "flash.steps: must be between 4 and 12 (got 20)"
        );
        assert_eq!(
            error(json!({"modes": ["colour"], "flash": {"min_ms": 400, "max_ms": 300}})),
            "flash.min_ms: must not exceed flash.max_ms (400 > 300)"
        );
        assert_eq!(
            error(json!({"modes": ["colour"], "flash": {"max_ms": 5000}})),
            "flash.max_ms: must be between 100 and 1000 (got 5000)"
        );
        assert!(
            error(json!({"modes": ["colour"], "flash": {"colours": 3}})).contains("unknown field")
        );
    }

    #[test]
    fn thresholds_override_the_servers_and_are_validated_whole() {
        let server = QualityThresholds {
            max_yaw: 15.0,
            min_face_ratio: 0.2,
            ..QualityThresholds::default()
        };
        let r = SceneRules::from_config(&json!({"thresholds": {"max_yaw": 25.0}}), &server)
            .expect("valid");
        assert_eq!(r.thresholds.max_yaw, 25.0, "the scene's override");
        assert_eq!(r.thresholds.min_face_ratio, 0.2, "the server's value kept");

        let err = SceneRules::from_config(&json!({"thresholds": {"min_face_ratio": 1.5}}), &server)
            .expect_err("out of range");
        assert_eq!(err.path, "thresholds.min_face_ratio");
        let err =
            SceneRules::from_config(&json!({"thresholds": {"min_brightness": "dark"}}), &server)
                .expect_err("not a number");
        assert_eq!(err.path, "thresholds.min_brightness");
    }

    #[test]
    fn the_callback_needs_an_http_url_and_a_long_secret() {
        let cb =
            |url: &str, secret: &str| error(json!({"callback": {"url": url, "secret": secret}}));
        assert_eq!(
            cb("ftp://bank.example/cb", "0123456789abcdef"),
            "callback.url: must be http or https (got ftp)"
        );
        assert!(cb("not a url", "0123456789abcdef").starts_with("callback.url: not a URL"));
        assert_eq!(
            cb("https://bank.example/cb", "short"),
            "callback.secret: must be 16 to 256 characters (got 5)"
        );
        let missing = error(json!({"callback": {"url": "https://bank.example/cb"}}));
        assert!(
            missing.starts_with("callback: missing field `secret`"),
            "{missing}"
        );
    }

    #[test]
    fn return_urls_must_match_scheme_host_port_and_path_prefix() {
        let r = rules(json!({"return_urls": [
            "https://bank.example/liveness/return",
            "https://app.bank.example:8443/"
        ]}))
        .expect("valid");
        for ok in [
            "https://bank.example/liveness/return",
            "https://bank.example/liveness/return?order=17#top",
            "https://bank.example/liveness/return/done",
            "https://BANK.example:443/liveness/return",
            "https://app.bank.example:8443/anything",
        ] {
            assert!(r.allows_return_url(ok), "{ok} should be allowed");
        }
        for refused in [
            "http://bank.example/liveness/return",
            "https://bank.example:8443/liveness/return",
            "https://bank.example/liveness/returned",
            "https://bank.example/liveness/return/../../admin",
            "https://bank.example/liveness/%2e%2e/admin",
            "https://bank.example.evil.example/liveness/return",
            "https://bank.example@evil.example/liveness/return",
            "https://user@bank.example/liveness/return",
            "https://app.bank.example/anything",
            "javascript:alert(1)",
            "/liveness/return",
            "",
        ] {
            assert!(!r.allows_return_url(refused), "{refused} should be refused");
        }
        let none = rules(json!({})).expect("defaults");
        assert!(!none.allows_return_url("https://bank.example/liveness/return"));

        assert_eq!(
            error(json!({"return_urls": ["https://bank.example/r?x=1"]})),
            "return_urls[0]: a prefix has no query or fragment"
        );
        assert_eq!(
            error(json!({"return_urls": ["https://bank.example/", "mailto:a@b.example"]})),
            "return_urls[1]: must be http or https (got mailto)"
        );
    }

    #[test]
    fn the_callback_secret_is_masked_for_display() {
        let config = json!({"retries": 1, "callback": {"url": "https://b.example/", "secret": "0123456789abcdef"}});
        let masked = masked_config(&config);
        assert_eq!(masked["callback"]["secret"], "***");
        assert_eq!(masked["callback"]["url"], "https://b.example/");
        assert_eq!(masked["retries"], 1);
        assert_eq!(masked_config(&json!({})), json!({}));
    }

    #[test]
    fn compare_rules_name_their_engine_and_hide_their_secrets() {
        let server = QualityThresholds::default();
        let rules = SceneRules::from_config(&json!({"compare": {"engine": "builtin"}}), &server)
            .expect("builtin compare");
        assert_eq!(rules.compare, Some(CompareRules::Builtin(None)));
        assert_eq!(
            SceneRules::from_config(&json!({}), &server)
                .expect("no compare")
                .compare,
            None
        );
        let error = |config: Value| {
            SceneRules::from_config(&config, &server)
                .expect_err("refused")
                .to_string()
        };
        assert!(error(json!({"compare": {"engine": "faiss"}}))
            .starts_with("compare.engine: unknown engine"));
        assert!(error(json!({"compare": {"engine": "http"}})).starts_with("compare.http: engine"));
        assert!(error(json!({"compare": {"engine": "builtin", "http": {}}}))
            .starts_with("compare.http: only"));
        assert!(error(json!({"compare": {"engine": "builtin", "x": 1}})).contains("unknown field"));
        let config = json!({"compare": {"engine": "http", "http": {
            "auth": {"kind": "hmac", "app_id": "a", "secret": "0123456789abcdef"}}}});
        assert_eq!(
            masked_config(&config)["compare"]["http"]["auth"]["secret"],
            "***"
        );
    }

    #[test]
    fn scene_codes_are_short_slugs() {
        for ok in ["default", "kyc-open", "reset_pw2", "7"] {
            assert_eq!(check_scene_code(ok), Ok(()), "{ok}");
        }
        for bad in ["", "-x", "Open", "a b", "é", &"x".repeat(65)] {
            assert!(check_scene_code(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_fallback_order_defaults_to_the_modes_then_a_recording_when_enabled() {
        let defaults = FallbackTriggers {
            missing_capability: true,
            failures: 3,
            poor_network: false,
        };
        let off = rules(json!({})).unwrap().fallback;
        assert_eq!(off.order, vec![FallbackMethod::Action]);
        assert_eq!(off.triggers, defaults);
        let on = rules(json!({"recording": {"enabled": true}}))
            .unwrap()
            .fallback;
        assert_eq!(
            on.order,
            vec![FallbackMethod::Action, FallbackMethod::Recording]
        );
        let set = rules(json!({
            "recording": {"enabled": true},
            "fallback": {"order": ["action", "recording"],
                         "triggers": {"missing_capability": false, "failures": 2, "poor_network": true}}
        }))
        .unwrap()
        .fallback;
        assert_eq!(
            serde_json::to_value(&set).unwrap(),
            json!({"order": ["action", "recording"],
                   "triggers": {"missing_capability": false, "failures": 2, "poor_network": true}}),
            "what the page gets"
        );
        // Leaving the recording out keeps the page in real time even when uploads are on.
        let real_time_only = rules(json!({
            "recording": {"enabled": true},
            "fallback": {"order": ["action"]}
        }))
        .unwrap()
        .fallback;
        assert_eq!(real_time_only.order, vec![FallbackMethod::Action]);
        assert_eq!(real_time_only.triggers, defaults);
    }

    #[test]
    fn the_fallback_order_names_only_what_the_scene_can_do_once_each() {
        let on = json!({"enabled": true});
        assert_eq!(
            error(json!({"fallback": {"order": ["action", "recording"]}})),
            "fallback.order[1]: \"recording\" needs recording.enabled set to true"
        );
        assert_eq!(
            error(
                json!({"fallback": {"order": ["action", "silent", "recording"]}, "recording": on})
            ),
            "fallback.order[1]: \"silent\" is not one of the scene's modes"
        );
        assert_eq!(
            error(json!({"modes": ["silent"], "fallback": {"order": ["action"]}})),
            "fallback.order[0]: \"action\" is not one of the scene's modes"
        );
        let both = rules(json!({
            "modes": ["action", "silent"],
            "recording": on,
            "fallback": {"order": ["silent", "action", "recording"]}
        }))
        .expect("every method the scene can do")
        .fallback;
        assert_eq!(
            both.order,
            vec![
                FallbackMethod::Silent,
                FallbackMethod::Action,
                FallbackMethod::Recording
            ]
        );
        assert_eq!(
            rules(json!({"modes": ["action", "silent"]}))
                .unwrap()
                .fallback
                .order,
            vec![FallbackMethod::Action, FallbackMethod::Silent],
            "by default the modes in their order"
        );
        assert_eq!(
            error(json!({"fallback": {"order": ["action", "action"]}})),
            "fallback.order[1]: \"action\" is listed twice"
        );
        assert_eq!(
            error(json!({"fallback": {"order": ["recording", "action"]}, "recording": on})),
            "fallback.order[0]: must be a real-time method (\"action\" or \"silent\"); \"recording\" \
             comes after"
        );
        assert_eq!(
            error(json!({"fallback": {"order": []}})),
            "fallback.order: must name at least one method"
        );
        assert!(error(json!({"fallback": {"order": ["video"]}}))
            .starts_with("fallback.order[0]: unknown method \"video\""));
        assert_eq!(
            error(json!({"fallback": {"triggers": {"failures": 0}}})),
            "fallback.triggers.failures: must be between 1 and 10 (got 0)"
        );
        assert!(error(json!({"fallback": {"triggers": {"network": true}}}))
            .starts_with("fallback.triggers.network: unknown field"));
        assert!(error(json!({"fallback": {"order": "action"}})).starts_with("fallback.order"));
    }

    #[test]
    fn the_recording_fallback_is_off_by_default_and_bounded() {
        let r = rules(json!({})).unwrap();
        assert_eq!(
            r.recording,
            RecordingRules {
                enabled: false,
                max_mb: 20,
                max_s: 30
            }
        );
        assert_eq!(r.recording.max_bytes(), 20 * 1024 * 1024);
        let on = rules(json!({"recording": {"enabled": true, "max_mb": 100, "max_s": 5}})).unwrap();
        assert!(on.recording.enabled);
        assert_eq!(on.recording.max_bytes(), 100 * 1024 * 1024);
        assert_eq!(
            error(json!({"recording": {"max_mb": 0}})),
            "recording.max_mb: must be between 1 and 100 (got 0)"
        );
        assert_eq!(
            error(json!({"recording": {"max_mb": 101}})),
            "recording.max_mb: must be between 1 and 100 (got 101)"
        );
        assert_eq!(
            error(json!({"recording": {"max_s": 121}})),
            "recording.max_s: must be between 5 and 120 (got 121)"
        );
        assert!(
            error(json!({"recording": {"enabled": true, "max_sec": 30}})).starts_with("recording")
        );
        assert!(error(json!({"recording": {"enabled": "yes"}})).starts_with("recording.enabled"));
    }
}
