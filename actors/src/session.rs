//! A session as a plain state machine: frames and embeddings in, events for the page out.
//!
//! [`SessionLogic`] runs a challenge (an ordered list of actions); [`ObserveLogic`] watches a
//! recording with no challenge and counts everything (the `livegate analyze` command). Neither
//! knows about actors, threads or clocks: time is the frames' capture time.

use std::collections::BTreeMap;

use image::RgbImage;
use livegate_models::silent::{SilentLiveness, SilentVerdict, ATTACK};
use livegate_models::{AnalysisNeeds, Embedding, FrameAnalysis};
use serde::{Deserialize, Serialize};

use crate::actions::{ActionEvent, ActionKind, ActionSet};
use crate::continuity::{ContinuityEvent, IdentityContinuity, SESSION_SAMPLE_INTERVAL_S};
use crate::flash::FlashLogic;
use crate::prompts::{FacePart, Prompt, PromptCode};
use crate::quality_gate::{frame_conditions, GateEvent, GateMode, QualityGate};
use crate::thresholds::{QualityThresholds, ThresholdError};
use livegate_models::flash::{FlashFailure, FlashStep, FlashVerdict};

/// Seconds between forced detector runs, to notice a second person joining.
const DETECT_EVERY_S: f64 = 1.0;
/// A silent session looks at the face at least this long before it may decide...
pub const SILENT_MIN_S: f64 = 3.0;
/// ...and decides by this time whatever the cues say (undecided cues then fail it).
pub const SILENT_MAX_S: f64 = 6.0;
/// Silent cues that fail an action session even when every step was done (a reflecting
/// screen's glare, a held medium's border); a bank's texture model (any other cue name) vetoes
/// too.
pub const ACTION_VETO_CUES: &[&str] = &["glare", "border"];
/// Silent cues that never veto an action session: soft (`no_pulse`), reported only
/// (`screen_moire`), and `planar_motion`, which is too eager on live faces during actions (4 of
/// the 26 live clips that did their action read as planar in the attack battery,
/// `docs/attacks.md`): in action mode it is reported in `scores.silent`, not decided on.
const NON_VETO_CUES: &[&str] = &["no_pulse", "screen_moire", "planar_motion"];

/// How a session proves liveness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LivenessMode {
    /// The challenge's actions, one after the other; the silent cues give a second opinion.
    #[default]
    Action,
    /// No action: a few seconds of looking at the camera, decided by silent liveness.
    Silent,
}

/// Frame-time spacing of analysed frames while nothing needs every frame (5 a second): waiting
/// for a face, settling, and a head or mouth step while the head is still. Prompts and baselines
/// are timed in seconds, not frames, so they behave alike at this rate (`docs/engine.md`).
const QUIET_INTERVAL_S: f64 = 0.2;
/// Head rotation speed (degrees a second of yaw or pitch) above which a head step may be under
/// way: every frame is analysed until the head is still again. A turn to 18 degrees takes a
/// person 0.2 to 0.5 s, i.e. 40 to 90 degrees a second.
const MOVING_DEG_PER_S: f32 = 20.0;
/// Mouth openness speed (per second) above which a mouth step may be under way (opening by the
/// step's 0.25 takes about 0.2 s, i.e. over 1 a second).
const MOVING_MOUTH_PER_S: f32 = 0.4;

/// A session configuration that cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionConfigError {
    /// A threshold is out of range.
    #[error(transparent)]
    Threshold(#[from] ThresholdError),
    /// The challenge has no steps.
    #[error("challenge has no steps")]
    EmptyChallenge,
    /// The challenge asks for something that is not a challenge action.
    #[error("challenge step {index} ({kind}) is not a challenge action")]
    NotAChallengeAction {
        /// The step's position.
        index: usize,
        /// The action asked for.
        kind: &'static str,
    },
    /// A timeout is zero, negative or not a number.
    #[error("{field} must be a positive number of seconds")]
    Timeout {
        /// The offending field.
        field: &'static str,
    },
}

/// What a session asks of the person and how long it may take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionConfig {
    /// The actions to perform, in order.
    pub challenge: Vec<ActionKind>,
    /// Longest time for one step, from its start.
    pub step_timeout_s: f64,
    /// Longest time for the whole session, from its first frame.
    pub session_timeout_s: f64,
    /// Quality and action thresholds.
    #[serde(default)]
    pub thresholds: QualityThresholds,
    /// The challenges of further attempts, one each, used in order when an attempt runs out of
    /// time (never after an attack-like failure such as another person taking over).
    #[serde(default)]
    pub retry_challenges: Vec<Vec<ActionKind>>,
    /// Actions, or silent (no challenge; the steps are then ignored).
    #[serde(default)]
    pub mode: LivenessMode,
    /// The colour-flash sequence, for a scene with the `colour` mode: run once the face has
    /// settled, before any action (`crate::flash`). With an empty challenge it is the whole
    /// session.
    #[serde(default)]
    pub flash: Option<Vec<FlashStep>>,
    /// Silent hard cues the deployment reports but never decides on (`engine.report_only_cues`,
    /// names from `livegate_models::silent::SWITCHABLE_CUES`).
    #[serde(default)]
    pub report_only_cues: Vec<String>,
}

impl SessionConfig {
    /// A challenge with default timeouts (10 s a step, 60 s in all) and default thresholds.
    pub fn new(challenge: Vec<ActionKind>) -> Self {
        Self {
            challenge,
            step_timeout_s: 10.0,
            session_timeout_s: 60.0,
            thresholds: QualityThresholds::default(),
            retry_challenges: Vec::new(),
            mode: LivenessMode::Action,
            flash: None,
            report_only_cues: Vec::new(),
        }
    }

    /// A silent session: no action, default timeouts and thresholds.
    pub fn silent() -> Self {
        Self {
            mode: LivenessMode::Silent,
            ..Self::new(Vec::new())
        }
    }

    /// Check that the session can run.
    pub fn validate(&self) -> Result<(), SessionConfigError> {
        self.thresholds.validate()?;
        let challenges = match self.mode {
            // A colour-only session has no actions.
            LivenessMode::Action if self.flash.is_some() && self.challenge.is_empty() => 0,
            LivenessMode::Action => 1 + self.retry_challenges.len(),
            LivenessMode::Silent => 0,
        };
        for challenge in std::iter::once(&self.challenge)
            .chain(&self.retry_challenges)
            .take(challenges)
        {
            if challenge.is_empty() {
                return Err(SessionConfigError::EmptyChallenge);
            }
            if let Some((index, kind)) = challenge
                .iter()
                .enumerate()
                .find(|(_, k)| !ActionKind::CHALLENGE.contains(k))
            {
                return Err(SessionConfigError::NotAChallengeAction {
                    index,
                    kind: kind.as_str(),
                });
            }
        }
        for (field, v) in [
            ("step_timeout_s", self.step_timeout_s),
            ("session_timeout_s", self.session_timeout_s),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(SessionConfigError::Timeout { field });
            }
        }
        Ok(())
    }
}

/// Why a session failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// A step or the session took too long.
    Timeout,
    /// Another person took over.
    FaceChanged,
    /// Several people were in front of the camera when time ran out.
    MultipleFaces,
    /// Nobody was in front of the camera when time ran out.
    NoFace,
    /// The engine kept failing on this session's frames.
    EngineFailure,
    /// The caller ended the session before it was complete.
    Cancelled,
    /// The page sent more frames, bytes or time than the session allows.
    LimitExceeded,
    /// Silent liveness: the face moved as a plane (a photo, a screen).
    PlanarMotion,
    /// Silent liveness: a reflecting surface's glare on the face.
    Glare,
    /// Silent liveness: a held medium's outline (a screen's bezel, a photo's edges) around
    /// the face.
    Border,
    /// Silent liveness: a texture model (a bank's own) named an attack.
    Texture,
    /// Silent liveness: no pulse, with another cue suspicious.
    NoPulse,
    /// Silent liveness: the face did not move enough to show a head's parallax.
    NotEnoughMotion,
    /// Silent liveness: the parallax seen was weak and no pulse confirmed it.
    WeakParallax,
    /// Silent liveness: too few frames with a face.
    NotEnoughFrames,
    /// Injection: the camera is a virtual one, or reports settings no camera has.
    VirtualCamera,
    /// Injection: the frames' capture times are machine-made or on another clock.
    FrameTiming,
    /// Injection: the frames were already seen in another session.
    ReplayedFrames,
    /// Colour flash: too few frames before or during the flash to judge.
    FlashTooFewFrames,
    /// Colour flash: the face's colour did not follow the screen's.
    FlashNoResponse,
    /// Colour flash: the face followed another sequence, or the tags broke the sequence's time.
    FlashWrongSequence,
    /// Colour flash: lit like a flat sheet (a photo, a screen held to the phone).
    FlashFlat,
    /// Colour flash: the light is too strong for the screen to change the face's colour.
    FlashTooBright,
}

impl FailReason {
    /// The word in results and on the wire (`timeout`, `face_changed`).
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::Timeout => "timeout",
            FailReason::FaceChanged => "face_changed",
            FailReason::MultipleFaces => "multiple_faces",
            FailReason::NoFace => "no_face",
            FailReason::EngineFailure => "engine_failure",
            FailReason::Cancelled => "cancelled",
            FailReason::LimitExceeded => "limit_exceeded",
            FailReason::PlanarMotion => "planar_motion",
            FailReason::Glare => "glare",
            FailReason::Border => "border",
            FailReason::Texture => "texture",
            FailReason::NoPulse => "no_pulse",
            FailReason::NotEnoughMotion => "not_enough_motion",
            FailReason::WeakParallax => "weak_parallax",
            FailReason::NotEnoughFrames => "not_enough_frames",
            FailReason::VirtualCamera => "virtual_camera",
            FailReason::FrameTiming => "frame_timing",
            FailReason::ReplayedFrames => "replayed_frames",
            FailReason::FlashTooFewFrames => "flash_too_few_frames",
            FailReason::FlashNoResponse => "flash_no_response",
            FailReason::FlashWrongSequence => "flash_wrong_sequence",
            FailReason::FlashFlat => "flash_flat",
            FailReason::FlashTooBright => "flash_too_bright",
        }
    }

    /// The reason for a silent-liveness reason word; a cue it does not know is a texture model.
    pub fn from_silent(word: &str) -> Self {
        match word {
            "planar_motion" => FailReason::PlanarMotion,
            "glare" => FailReason::Glare,
            "border" => FailReason::Border,
            "no_pulse" => FailReason::NoPulse,
            "not_enough_motion" => FailReason::NotEnoughMotion,
            "weak_parallax" => FailReason::WeakParallax,
            "not_enough_frames" => FailReason::NotEnoughFrames,
            _ => FailReason::Texture,
        }
    }
}

/// The outcome of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether every step was done, in order, by the same person.
    pub passed: bool,
    /// Why not (empty when passed).
    pub reasons: Vec<FailReason>,
}

impl Verdict {
    /// A failed verdict with these reasons.
    pub fn failed(mut reasons: Vec<FailReason>) -> Self {
        reasons.sort();
        reasons.dedup();
        Self {
            passed: false,
            reasons,
        }
    }
}

/// What the page hears from its session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SessionEvent {
    /// Show a prompt.
    PromptRaised {
        /// Frame time.
        t: f64,
        /// What is wrong.
        code: PromptCode,
        /// The covered part, for OCCLUDED.
        #[serde(skip_serializing_if = "Option::is_none")]
        part: Option<FacePart>,
    },
    /// Hide a prompt.
    PromptCleared {
        /// Frame time.
        t: f64,
        /// The prompt's code.
        code: PromptCode,
    },
    /// A step begins: ask for its action.
    StepStarted {
        /// Frame time.
        t: f64,
        /// The step's position (from 0).
        index: usize,
        /// The action asked for.
        action: ActionKind,
    },
    /// A step was done.
    StepPassed {
        /// Frame time.
        t: f64,
        /// The step's position.
        index: usize,
        /// Its action.
        action: ActionKind,
    },
    /// Steps done so far.
    Progress {
        /// Steps done.
        done: usize,
        /// Steps in the challenge.
        total: usize,
    },
    /// An action was seen (asked for or not).
    ActionSeen {
        /// When it began.
        t: f64,
        /// What it was.
        kind: ActionKind,
    },
    /// The face has settled: the page shows the colour-flash sequence now.
    FlashStarted {
        /// Frame time.
        t: f64,
    },
    /// Frames were dropped because the engine could not keep up.
    FramesDropped {
        /// Frames dropped since the session began.
        total: u64,
    },
    /// An attempt ran out of time and another one begins, with a new challenge.
    AttemptFailed {
        /// Frame time.
        t: f64,
        /// The attempt that begins now (from 2).
        attempt: usize,
        /// Attempts in all.
        of: usize,
        /// Why the last one failed.
        reasons: Vec<FailReason>,
    },
    /// The session is over.
    Finished {
        /// Its outcome.
        verdict: Verdict,
    },
}

fn gate_to_session(e: GateEvent) -> SessionEvent {
    match e {
        GateEvent::Raised { prompt, t } => SessionEvent::PromptRaised {
            t,
            code: prompt.code,
            part: prompt.part,
        },
        GateEvent::Cleared { code, t } => SessionEvent::PromptCleared { t, code },
    }
}

/// Quality gate, actions and identity continuity, fed together frame by frame.
#[derive(Debug)]
struct Watch {
    gate: QualityGate,
    actions: ActionSet,
    identity: IdentityContinuity,
    last_detected_t: Option<f64>,
    last_t: Option<f64>,
}

impl Watch {
    fn new(th: &QualityThresholds) -> Self {
        Self {
            gate: QualityGate::new(th.clone()),
            actions: ActionSet::new(th),
            identity: IdentityContinuity::new(),
            last_detected_t: None,
            last_t: None,
        }
    }

    fn on_frame(&mut self, frame: &FrameAnalysis) -> (Vec<GateEvent>, Vec<ActionEvent>) {
        self.last_t = Some(frame.t);
        if frame.detected {
            self.last_detected_t = Some(frame.t);
        }
        let gate = self.gate.on_frame(frame);
        let actions = self.actions.on_frame(frame.t, frame.main.as_ref());
        (gate, actions)
    }

    fn on_embedding(&mut self, t: f64, e: Option<Embedding>) -> Option<GateEvent> {
        match self.identity.on_embedding(t, e)? {
            ContinuityEvent::FaceChanged { .. } => {
                self.gate.raise_now(Prompt::new(PromptCode::FaceChanged), t)
            }
            ContinuityEvent::FaceRestored { .. } => self.gate.clear_now(PromptCode::FaceChanged, t),
            ContinuityEvent::ReferenceTaken { .. } => None,
        }
    }

    fn detect_due(&self) -> bool {
        match (self.last_detected_t, self.last_t) {
            (Some(d), Some(t)) => t - d >= DETECT_EVERY_S,
            _ => true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Waiting for a first face.
    Waiting,
    /// A face is there; the person holds still while the action baselines are learned.
    Settling {
        since: f64,
    },
    /// Running step `index`, started at `since`.
    Step {
        index: usize,
        since: f64,
    },
    /// A silent session looking at the face since `since`.
    Looking {
        since: f64,
    },
    Finished,
}

/// The state machine a session actor drives for a challenge.
#[derive(Debug)]
pub struct SessionLogic {
    config: SessionConfig,
    watch: Watch,
    phase: Phase,
    first_t: Option<f64>,
    last_blocked_t: Option<f64>,
    steps_done: usize,
    /// The attempt running, from 0.
    attempt: usize,
    verdict: Option<Verdict>,
    /// Every step was done; the verdict waits for an embedding of the person to match the
    /// reference (the person who finished is the one who started).
    confirming: bool,
    /// The last analysed face's time, yaw, pitch and mouth openness (for the analysis rate).
    last_motion: Option<(f64, f32, f32, f32)>,
    /// Whether the head or mouth moved between the last two analysed frames.
    moving: bool,
    /// Silent liveness over the frames analysed (the decision in silent mode, a second opinion
    /// in action mode).
    silent: SilentLiveness,
    /// Injection cues reported by the session's actor, by reason: their latest score.
    injection: BTreeMap<FailReason, f32>,
    /// The colour-flash step, for a `colour` scene.
    flash: Option<FlashLogic>,
}

impl SessionLogic {
    /// A session for a validated configuration.
    pub fn new(config: SessionConfig) -> Result<Self, SessionConfigError> {
        config.validate()?;
        let flash = config.flash.clone().map(FlashLogic::new);
        let silent = SilentLiveness::new().with_report_only(&config.report_only_cues);
        let mut watch = Watch::new(&config.thresholds);
        watch.identity = IdentityContinuity::with_interval(SESSION_SAMPLE_INTERVAL_S);
        Ok(Self {
            watch,
            config,
            phase: Phase::Waiting,
            first_t: None,
            last_blocked_t: None,
            steps_done: 0,
            attempt: 0,
            verdict: None,
            confirming: false,
            last_motion: None,
            moving: false,
            silent,
            injection: BTreeMap::new(),
            flash,
        })
    }

    /// The least frame time between two analysed frames the session needs now, in seconds
    /// (0: every frame). A blink step sees every frame (a blink lasts 100 to 300 ms: one to three
    /// frames at 10 a second), and so does a head or mouth step while the head or mouth moves;
    /// waiting, settling and a still face in a head or mouth step need
    /// [`QUIET_INTERVAL_S`]. The checks are the same at either rate: every threshold is
    /// in seconds or degrees, never in frames.
    pub fn analysis_interval_s(&self) -> f64 {
        match self.phase {
            // The flash is judged frame by frame.
            Phase::Settling { .. } if self.flash.as_ref().is_some_and(FlashLogic::is_flashing) => {
                0.0
            }
            Phase::Waiting | Phase::Settling { .. } => QUIET_INTERVAL_S,
            Phase::Step { index, .. } => {
                if self.config.challenge[index] == ActionKind::Blink || self.moving {
                    0.0
                } else {
                    QUIET_INTERVAL_S
                }
            }
            // Silent liveness reads the head's small motion from every frame.
            Phase::Looking { .. } | Phase::Finished => 0.0,
        }
    }

    fn track_motion(&mut self, frame: &FrameAnalysis) {
        let Some(face) = frame.main.as_ref() else {
            self.last_motion = None;
            self.moving = false;
            return;
        };
        let now = (frame.t, face.pose.yaw, face.pose.pitch, face.mouth_openness);
        self.moving = match self.last_motion {
            Some((t, yaw, pitch, mouth)) if frame.t > t => {
                let dt = (frame.t - t) as f32;
                let turn = (now.1 - yaw).abs().max((now.2 - pitch).abs()) / dt;
                let mouth = (now.3 - mouth).abs() / dt;
                turn > MOVING_DEG_PER_S || mouth > MOVING_MOUTH_PER_S
            }
            _ => false,
        };
        self.last_motion = Some(now);
    }

    /// What the engine should compute for the next frame.
    pub fn needs(&self) -> AnalysisNeeds {
        let eyes = match self.phase {
            Phase::Step { index, .. } => self.config.challenge[index] == ActionKind::Blink,
            // The blink baseline is learned before the first step asks for it.
            Phase::Waiting | Phase::Settling { .. } => {
                self.config.mode == LivenessMode::Action
                    && self.config.challenge.first() == Some(&ActionKind::Blink)
            }
            Phase::Looking { .. } | Phase::Finished => false,
        };
        AnalysisNeeds {
            eyes,
            detect: self.watch.detect_due(),
        }
    }

    /// Whether the engine should embed this frame's main face (answer with `on_embedding`).
    pub fn wants_embedding(&mut self, frame: &FrameAnalysis) -> bool {
        !self.is_finished() && self.watch.identity.should_sample(frame)
    }

    /// Feed one analysed frame; returns the events for the page.
    pub fn on_frame(&mut self, frame: &FrameAnalysis) -> Vec<SessionEvent> {
        self.on_frame_with_pixels(frame, None)
    }

    /// Feed one analysed frame with its pixels (the silent cues that read pixels need them:
    /// glare, pulse, a texture model); returns the events for the page.
    pub fn on_frame_with_pixels(
        &mut self,
        frame: &FrameAnalysis,
        pixels: Option<&RgbImage>,
    ) -> Vec<SessionEvent> {
        if self.is_finished() {
            return Vec::new();
        }
        self.silent.observe(frame, pixels);
        if let Some(flash) = self.flash.as_mut() {
            flash.on_frame(frame, pixels);
        }
        let t = frame.t;
        let first_t = *self.first_t.get_or_insert(t);
        let mut out = Vec::new();
        self.track_motion(frame);
        let (gate, actions) = self.watch.on_frame(frame);
        out.extend(gate.into_iter().map(gate_to_session));
        if self.watch.gate.is_blocked() {
            self.last_blocked_t = Some(t);
        }
        match self.phase {
            Phase::Waiting if frame.main.is_some() && self.config.mode == LivenessMode::Silent => {
                // Silent liveness needs the head's own small motion: no request to hold still.
                self.phase = Phase::Looking { since: t };
            }
            Phase::Looking { since } if !self.confirming && self.silent_decides(t - since) => {
                let verdict = self.silent_verdict_as_session();
                if verdict.passed && self.watch.identity.has_reference() {
                    // As after the last step of a challenge: the person looking now must be the
                    // one who started (a swap during the look), decided by the next embedding.
                    self.confirming = true;
                    self.watch.identity.sample_next();
                } else {
                    self.finish(verdict, &mut out);
                    return out;
                }
            }
            Phase::Waiting if frame.main.is_some() => {
                self.phase = Phase::Settling { since: t };
                self.watch.gate.set_mode(GateMode {
                    pose_free: false,
                    hold_still: true,
                });
            }
            Phase::Settling { since } if t - since >= self.config.thresholds.baseline_s => {
                // The steps wait for the flash; a failed flash has finished the session.
                let flashed = self.flash_done(t, &mut out);
                match (flashed, self.is_finished()) {
                    (true, true) => return out,
                    (true, false) => self.start_step(0, t, &mut out),
                    (false, _) => {}
                }
            }
            _ => {}
        }
        for action in actions {
            out.push(SessionEvent::ActionSeen {
                t: action.t_start,
                kind: action.kind,
            });
            self.on_action(action, &mut out);
            if self.is_finished() {
                return out;
            }
        }
        self.check_timeouts(t, first_t, &mut out);
        out
    }

    /// The embedding asked for by `wants_embedding` for the frame at `t`.
    pub fn on_embedding(&mut self, t: f64, embedding: Option<Embedding>) -> Vec<SessionEvent> {
        if self.is_finished() {
            return Vec::new();
        }
        let mut out: Vec<SessionEvent> = self
            .watch
            .on_embedding(t, embedding)
            .into_iter()
            .map(gate_to_session)
            .collect();
        if self.watch.identity.is_changed() {
            self.finish(Verdict::failed(vec![FailReason::FaceChanged]), &mut out);
        } else if self.confirming && self.watch.identity.last_matched() {
            self.pass_challenge(&mut out);
        } else if self.confirming {
            // No face to embed on that frame, or one outlier: the next frame that can be
            // embedded decides (two outliers in a row are FACE_CHANGED).
            self.watch.identity.sample_next();
        }
        out
    }

    /// Time passes with no frame (`t` on the frames' clock): enforces timeouts.
    pub fn on_tick(&mut self, t: f64) -> Vec<SessionEvent> {
        let mut out = Vec::new();
        if let Some(first_t) = self.first_t {
            if !self.is_finished() {
                self.check_timeouts(t, first_t, &mut out);
            }
        }
        out
    }

    /// End the session now (engine failure, caller gave up); no-op once finished.
    pub fn abort(&mut self, reason: FailReason) -> Vec<SessionEvent> {
        let mut out = Vec::new();
        if !self.is_finished() {
            self.finish(Verdict::failed(vec![reason]), &mut out);
        }
        out
    }

    /// Whether the session is over.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// The outcome, once finished.
    pub fn verdict(&self) -> Option<&Verdict> {
        self.verdict.as_ref()
    }

    /// The prompt the page should show now.
    pub fn top_prompt(&self) -> Option<Prompt> {
        self.watch.gate.top()
    }

    /// The step being asked for now, with its action; `None` before the first and after the
    /// last.
    pub fn current_step(&self) -> Option<(usize, ActionKind)> {
        match self.phase {
            Phase::Step { index, .. } => Some((index, self.config.challenge[index])),
            _ => None,
        }
    }

    /// Steps done and steps in all.
    pub fn progress(&self) -> (usize, usize) {
        (self.steps_done, self.config.challenge.len())
    }

    /// The challenge, in order.
    pub fn challenge(&self) -> &[ActionKind] {
        &self.config.challenge
    }

    /// The largest identity distance to the reference seen (a score for the record).
    pub fn max_identity_distance(&self) -> f32 {
        self.watch.identity.max_distance()
    }

    fn start_step(&mut self, index: usize, t: f64, out: &mut Vec<SessionEvent>) {
        let action = self.config.challenge[index];
        self.phase = Phase::Step { index, since: t };
        self.watch.gate.set_mode(GateMode {
            pose_free: action.moves_head(),
            hold_still: false,
        });
        out.push(SessionEvent::StepStarted { t, index, action });
    }

    fn on_action(&mut self, action: ActionEvent, out: &mut Vec<SessionEvent>) {
        let Phase::Step { index, since } = self.phase else {
            return;
        };
        let wanted = self.config.challenge[index];
        // An action that began before its step was asked for does not answer it, nor does one
        // performed while nobody (or somebody else) was in front of the camera.
        let blocked = self.last_blocked_t.is_some_and(|b| b >= action.t_start);
        if action.kind != wanted || action.t_end < since || blocked || self.confirming {
            return;
        }
        let total = self.config.challenge.len();
        self.steps_done = index + 1;
        out.push(SessionEvent::StepPassed {
            t: action.t_end,
            index,
            action: wanted,
        });
        out.push(SessionEvent::Progress {
            done: index + 1,
            total,
        });
        if index + 1 == total && self.watch.identity.has_reference() {
            // The person who finished must be the one who started: embed them now (this very
            // frame when it can be embedded) and decide when the embedding answers.
            self.confirming = true;
            self.watch.identity.sample_next();
        } else if index + 1 == total {
            self.pass_challenge(out);
        } else {
            self.start_step(index + 1, action.t_end, out);
        }
    }

    /// Every step (or a colour-only session's flash) was done by the same person: the verdict.
    fn pass_challenge(&mut self, out: &mut Vec<SessionEvent>) {
        self.confirming = false;
        // Every step was done; the silent cues may still name a hard attack.
        let vetoes = self.silent_vetoes();
        let verdict = if vetoes.is_empty() {
            Verdict {
                passed: true,
                reasons: Vec::new(),
            }
        } else {
            Verdict::failed(vetoes)
        };
        self.finish(verdict, out);
    }

    fn check_timeouts(&mut self, t: f64, first_t: f64, out: &mut Vec<SessionEvent>) {
        let step_late = match self.phase {
            Phase::Step { since, .. } => t - since > self.config.step_timeout_s,
            _ => false,
        };
        let late = step_late || t - first_t > self.config.session_timeout_s;
        if late && matches!(self.phase, Phase::Looking { .. }) && !self.confirming {
            // A silent look cut short (a recording that ends early): what the cues saw decides.
            let verdict = self.silent_verdict_as_session();
            return self.finish(verdict, out);
        }
        if late {
            let mut reasons = vec![FailReason::Timeout];
            // Say why time ran out when something blocked progress.
            for p in self.watch.gate.raised() {
                match p.code {
                    PromptCode::MultipleFaces => reasons.push(FailReason::MultipleFaces),
                    PromptCode::NoFace => reasons.push(FailReason::NoFace),
                    PromptCode::FaceChanged => reasons.push(FailReason::FaceChanged),
                    _ => {}
                }
            }
            self.retry_or_finish(Verdict::failed(reasons), t, out);
        }
    }

    /// A timed-out attempt: the next attempt begins if the configuration has one and nothing
    /// attack-like happened; else the session ends.
    fn retry_or_finish(&mut self, verdict: Verdict, t: f64, out: &mut Vec<SessionEvent>) {
        let attack_like = verdict.reasons.contains(&FailReason::FaceChanged);
        let Some(next) = self.config.retry_challenges.get(self.attempt).cloned() else {
            return self.finish(verdict, out);
        };
        if attack_like {
            return self.finish(verdict, out);
        }
        self.attempt += 1;
        self.confirming = false;
        self.config.challenge = next;
        self.steps_done = 0;
        self.first_t = Some(t);
        self.phase = Phase::Waiting;
        out.push(SessionEvent::AttemptFailed {
            t,
            attempt: self.attempt + 1,
            of: self.config.retry_challenges.len() + 1,
            reasons: verdict.reasons,
        });
    }

    /// Attempts made so far (1 for a session without retries).
    pub fn attempts(&self) -> usize {
        self.attempt + 1
    }

    /// Whether a silent session that has looked for `looked_s` seconds decides now: after
    /// [`SILENT_MIN_S`] once the cues are clear (live, or a hard attack), at [`SILENT_MAX_S`]
    /// whatever they say.
    fn silent_decides(&self, looked_s: f64) -> bool {
        if looked_s >= SILENT_MAX_S {
            return true;
        }
        if looked_s < SILENT_MIN_S {
            return false;
        }
        self.silent.verdict().live || !self.silent_vetoes().is_empty()
    }

    fn silent_verdict_as_session(&self) -> Verdict {
        let v = self.silent.verdict();
        if v.live {
            Verdict {
                passed: true,
                reasons: Vec::new(),
            }
        } else {
            Verdict::failed(
                v.reasons
                    .iter()
                    .map(|r| FailReason::from_silent(r))
                    .collect(),
            )
        }
    }

    /// The hard silent cues at or over the attack line: reasons to fail an action session.
    fn silent_vetoes(&self) -> Vec<FailReason> {
        self.silent
            .verdict()
            .scores
            .iter()
            .filter(|(name, score)| {
                **score >= ATTACK
                    && !NON_VETO_CUES.contains(&name.as_str())
                    && !self.silent.reports_only(name)
                    && (ACTION_VETO_CUES.contains(&name.as_str())
                        || FailReason::from_silent(name) == FailReason::Texture)
            })
            .map(|(name, _)| FailReason::from_silent(name))
            .collect()
    }

    /// An injection cue's latest score (`virtual_camera`, `frame_timing`, `replayed_frames`);
    /// at or over [`crate::injection::INJECTION_ATTACK`] when the session ends, it fails the
    /// session under its reason.
    pub fn on_injection_cue(&mut self, reason: FailReason, score: f32) {
        if !self.is_finished() {
            self.injection.insert(reason, score);
        }
    }

    /// The silent-liveness verdict over the frames so far (`scores.silent` of the result).
    pub fn silent_verdict(&self) -> SilentVerdict {
        self.silent.verdict()
    }

    /// The injection cues' scores, by reason word.
    pub fn injection_scores(&self) -> BTreeMap<&'static str, f32> {
        self.injection
            .iter()
            .map(|(r, s)| (r.as_str(), *s))
            .collect()
    }

    /// The page's colour-flash tag for the frame captured at `t` (its header's `flash` byte);
    /// ignored by a session without the flash.
    pub fn note_flash_tag(&mut self, t: f64, tag: u8) {
        if let Some(flash) = self.flash.as_mut() {
            flash.note_tag(t, tag);
        }
    }

    /// The colour-flash verdict, once the flash is judged (`scores.flash` of the result).
    pub fn flash_verdict(&self) -> Option<&FlashVerdict> {
        self.flash.as_ref().and_then(FlashLogic::verdict)
    }

    /// Runs the flash step once the face has settled: starts it, waits for its verdict, ends
    /// the session when it fails (or passes a colour-only session). `true` when the actions
    /// may begin.
    fn flash_done(&mut self, t: f64, out: &mut Vec<SessionEvent>) -> bool {
        let Some(flash) = self.flash.as_mut() else {
            return true;
        };
        if flash.verdict().is_none() && !flash.is_flashing() {
            flash.start(t);
            out.push(SessionEvent::FlashStarted { t });
            return false;
        }
        flash.poll(t);
        let Some(verdict) = flash.verdict().cloned() else {
            return false;
        };
        if !verdict.live {
            let reasons: Vec<FailReason> = verdict
                .reasons
                .iter()
                .map(|r| match r {
                    FlashFailure::FlashTooFewFrames => FailReason::FlashTooFewFrames,
                    FlashFailure::FlashNoResponse => FailReason::FlashNoResponse,
                    FlashFailure::FlashWrongSequence => FailReason::FlashWrongSequence,
                    FlashFailure::FlashFlat => FailReason::FlashFlat,
                    FlashFailure::FlashTooBright => FailReason::FlashTooBright,
                })
                .collect();
            if reasons.contains(&FailReason::FlashTooBright) {
                // Not a silent fail: the person is told why.
                if let Some(e) = self
                    .watch
                    .gate
                    .raise_now(Prompt::new(PromptCode::TooBright), t)
                {
                    out.push(gate_to_session(e));
                }
            }
            self.finish(Verdict::failed(reasons), out);
            return true;
        }
        if self.config.challenge.is_empty() {
            // The flash was the whole challenge: the silent cues' vetoes apply as after actions.
            self.pass_challenge(out);
        }
        true
    }

    /// How the session proves liveness.
    pub fn mode(&self) -> LivenessMode {
        self.config.mode
    }

    fn finish(&mut self, mut verdict: Verdict, out: &mut Vec<SessionEvent>) {
        let injected: Vec<FailReason> = self
            .injection
            .iter()
            .filter(|(_, s)| **s >= crate::injection::INJECTION_ATTACK)
            .map(|(r, _)| *r)
            .collect();
        if !injected.is_empty() {
            let mut reasons = verdict.reasons;
            reasons.extend(injected);
            verdict = Verdict::failed(reasons);
        }
        self.phase = Phase::Finished;
        self.verdict = Some(verdict.clone());
        out.push(SessionEvent::Finished { verdict });
    }
}

/// One line of `livegate analyze`'s output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ObservedEvent {
    /// An action was seen; `t` is when it began.
    Action {
        /// Seconds into the recording.
        t: f64,
        /// What it was.
        kind: ActionKind,
    },
    /// A prompt was raised.
    Prompt {
        /// Seconds into the recording.
        t: f64,
        /// Which prompt.
        code: PromptCode,
        /// The covered part, for OCCLUDED.
        #[serde(skip_serializing_if = "Option::is_none")]
        part: Option<FacePart>,
    },
}

/// What a whole recording showed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Frames analysed.
    pub frames: u64,
    /// Most faces seen in one frame.
    pub faces_max: usize,
    /// Blinks.
    pub blink: u32,
    /// Mouth openings.
    pub mouth_open: u32,
    /// Turns to the person's own left.
    pub turn_left: u32,
    /// Turns to the person's own right.
    pub turn_right: u32,
    /// Nods.
    pub nod: u32,
    /// Head raises.
    pub raise_head: u32,
    /// Eyes-closed episodes (closures too long to be blinks).
    pub eyes_closed: u32,
    /// For each prompt code, the frames on which it was up.
    pub prompts: BTreeMap<PromptCode, u64>,
    /// Mean engine time per frame, in milliseconds.
    pub ms_per_frame: f64,
}

/// Watches a recording with no challenge: every action, every prompt, per frame.
#[derive(Debug)]
pub struct ObserveLogic {
    thresholds: QualityThresholds,
    watch: Watch,
    summary: Summary,
    engine_ms_total: f64,
}

impl ObserveLogic {
    /// An observer with these thresholds.
    pub fn new(thresholds: &QualityThresholds) -> Self {
        Self {
            thresholds: thresholds.clone(),
            watch: Watch::new(thresholds),
            summary: Summary::default(),
            engine_ms_total: 0.0,
        }
    }

    /// Eyes always (blinks are counted); the detector about once a second.
    pub fn needs(&self) -> AnalysisNeeds {
        AnalysisNeeds {
            eyes: true,
            detect: self.watch.detect_due(),
        }
    }

    /// Whether the caller should embed this frame's main face (answer with `on_embedding`).
    pub fn wants_embedding(&mut self, frame: &FrameAnalysis) -> bool {
        self.watch.identity.should_sample(frame)
    }

    /// Feed one analysed frame; returns what happened on it.
    pub fn on_frame(&mut self, frame: &FrameAnalysis) -> Vec<ObservedEvent> {
        let s = &mut self.summary;
        s.frames += 1;
        s.faces_max = s.faces_max.max(frame.faces.len());
        self.engine_ms_total += f64::from(frame.engine_ms);
        let (gate, actions) = self.watch.on_frame(frame);
        let mut out = Vec::new();
        for e in gate {
            if let GateEvent::Raised { prompt, t } = e {
                out.push(ObservedEvent::Prompt {
                    t,
                    code: prompt.code,
                    part: prompt.part,
                });
            }
        }
        for a in actions {
            self.count(a.kind);
            out.push(ObservedEvent::Action {
                t: a.t_start,
                kind: a.kind,
            });
        }
        for p in self.watch.gate.raised() {
            *self.summary.prompts.entry(p.code).or_default() += 1;
        }
        out
    }

    /// Feed a still image instead of a recording: its prompts are judged on the one frame with
    /// no debounce (a still gives a condition no time to persist), and no action can happen.
    pub fn on_still(&mut self, frame: &FrameAnalysis) -> Vec<ObservedEvent> {
        let s = &mut self.summary;
        s.frames += 1;
        s.faces_max = s.faces_max.max(frame.faces.len());
        self.engine_ms_total += f64::from(frame.engine_ms);
        let conditions = frame_conditions(frame, None, &self.thresholds, GateMode::default());
        let mut prompts = conditions.failing;
        if conditions.multiple_faces == Some(true) {
            prompts.insert(0, Prompt::new(PromptCode::MultipleFaces));
        }
        prompts
            .into_iter()
            .map(|p| {
                *self.summary.prompts.entry(p.code).or_default() += 1;
                ObservedEvent::Prompt {
                    t: frame.t,
                    code: p.code,
                    part: p.part,
                }
            })
            .collect()
    }

    /// The embedding asked for by `wants_embedding` for the frame at `t`.
    pub fn on_embedding(&mut self, t: f64, embedding: Option<Embedding>) -> Vec<ObservedEvent> {
        match self.watch.on_embedding(t, embedding) {
            Some(GateEvent::Raised { prompt, t }) => vec![ObservedEvent::Prompt {
                t,
                code: prompt.code,
                part: prompt.part,
            }],
            _ => Vec::new(),
        }
    }

    fn count(&mut self, kind: ActionKind) {
        let s = &mut self.summary;
        let n = match kind {
            ActionKind::Blink => &mut s.blink,
            ActionKind::MouthOpen => &mut s.mouth_open,
            ActionKind::TurnLeft => &mut s.turn_left,
            ActionKind::TurnRight => &mut s.turn_right,
            ActionKind::Nod => &mut s.nod,
            ActionKind::RaiseHead => &mut s.raise_head,
            ActionKind::EyesClosed => &mut s.eyes_closed,
        };
        *n += 1;
    }

    /// The summary so far; `ms_per_frame` is the mean engine time (callers timing the whole
    /// pipeline may overwrite it).
    pub fn summary(&self) -> Summary {
        let mut s = self.summary.clone();
        if s.frames > 0 {
            s.ms_per_frame = self.engine_ms_total / s.frames as f64;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{face_frame, no_face_frame, with_eyes};

    fn frame_with(t: f64, f: impl FnOnce(&mut livegate_models::FaceObservation)) -> FrameAnalysis {
        let mut frame = face_frame(t);
        if let Some(m) = frame.main.as_mut() {
            f(m);
        }
        frame
    }

    /// A person who blinks at 1.5 s and turns left from 3 to 3.6 s.
    fn blink_then_left(t: f64) -> FrameAnalysis {
        frame_with(t, |m| {
            if (1.5..1.7).contains(&t) {
                *m = with_eyes(m.clone(), 0.1);
            }
            if (3.0..3.6).contains(&t) {
                m.pose.yaw = 30.0;
            }
        })
    }

    fn drive(
        logic: &mut SessionLogic,
        fps: f64,
        until: f64,
        frame: impl Fn(f64) -> FrameAnalysis,
    ) -> Vec<SessionEvent> {
        let mut out = Vec::new();
        let mut i = 0;
        loop {
            let t = i as f64 / fps;
            if t > until || logic.is_finished() {
                break;
            }
            out.extend(logic.on_frame(&frame(t)));
            i += 1;
        }
        out
    }

    #[test]
    fn a_challenge_done_in_order_passes() {
        for fps in [8.0, 15.0, 30.0] {
            let mut logic = SessionLogic::new(SessionConfig::new(vec![
                ActionKind::Blink,
                ActionKind::TurnLeft,
            ]))
            .unwrap();
            assert!(logic.needs().eyes);
            let ev = drive(&mut logic, fps, 6.0, blink_then_left);
            assert_eq!(
                logic.verdict(),
                Some(&Verdict {
                    passed: true,
                    reasons: vec![]
                }),
                "{fps} fps: {ev:?}"
            );
            assert!(ev.contains(&SessionEvent::Progress { done: 2, total: 2 }));
        }
    }

    #[test]
    fn reason_words_are_the_serialised_names() {
        for r in [
            FailReason::Timeout,
            FailReason::FaceChanged,
            FailReason::MultipleFaces,
            FailReason::NoFace,
            FailReason::EngineFailure,
            FailReason::Cancelled,
            FailReason::LimitExceeded,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }

    #[test]
    fn a_timed_out_attempt_is_retried_with_the_next_challenge() {
        // The first attempt asks for a nod nobody does; the retry asks for the turn the person
        // makes 3 s after it begins.
        let mut config = SessionConfig::new(vec![ActionKind::Nod]);
        config.step_timeout_s = 3.0;
        config.retry_challenges = vec![vec![ActionKind::TurnLeft]];
        let mut logic = SessionLogic::new(config).unwrap();
        let ev = drive(&mut logic, 15.0, 12.0, |t| {
            frame_with(t, |m| {
                if (7.5..8.1).contains(&t) {
                    m.pose.yaw = 30.0;
                }
            })
        });
        let failed: Vec<_> = ev
            .iter()
            .filter(|e| matches!(e, SessionEvent::AttemptFailed { .. }))
            .collect();
        assert_eq!(failed.len(), 1, "{ev:?}");
        assert!(matches!(
            failed[0],
            SessionEvent::AttemptFailed { attempt: 2, of: 2, reasons, .. } if reasons == &[FailReason::Timeout]
        ));
        assert_eq!(logic.verdict().map(|v| v.passed), Some(true), "{ev:?}");
        assert_eq!(logic.attempts(), 2);
        assert_eq!(logic.challenge(), &[ActionKind::TurnLeft]);
    }

    #[test]
    fn without_retries_left_a_timeout_ends_the_session() {
        let mut config = SessionConfig::new(vec![ActionKind::Nod]);
        config.step_timeout_s = 3.0;
        config.retry_challenges = vec![vec![ActionKind::Nod]];
        let mut logic = SessionLogic::new(config).unwrap();
        let ev = drive(&mut logic, 15.0, 20.0, face_frame);
        assert_eq!(
            ev.iter()
                .filter(|e| matches!(e, SessionEvent::AttemptFailed { .. }))
                .count(),
            1
        );
        assert_eq!(
            logic.verdict().map(|v| v.reasons.clone()),
            Some(vec![FailReason::Timeout])
        );
        assert_eq!(logic.attempts(), 2);
    }

    #[test]
    fn out_of_order_actions_do_not_count_and_time_runs_out() {
        let mut config = SessionConfig::new(vec![ActionKind::TurnLeft, ActionKind::Blink]);
        config.step_timeout_s = 5.0;
        let mut logic = SessionLogic::new(config).unwrap();
        drive(&mut logic, 15.0, 10.0, blink_then_left);
        // The turn passes step one; the blink came before it and does not count for step two.
        let v = logic.verdict().unwrap();
        assert!(!v.passed);
        assert_eq!(v.reasons, vec![FailReason::Timeout]);
    }

    #[test]
    fn an_action_during_a_blocking_prompt_does_not_count() {
        let mut logic = SessionLogic::new(SessionConfig::new(vec![ActionKind::TurnLeft])).unwrap();
        drive(&mut logic, 15.0, 6.0, |t| {
            let mut f = blink_then_left(t);
            if (2.0..3.7).contains(&t) {
                let mut other = f.faces[0];
                other.x += 250.0;
                f.faces.push(other);
            }
            f
        });
        assert!(!logic.is_finished());
    }

    #[test]
    fn face_changed_fails_the_session() {
        let mut logic = SessionLogic::new(SessionConfig::new(vec![ActionKind::Blink])).unwrap();
        let f = face_frame(0.0);
        logic.on_frame(&f);
        assert!(logic.wants_embedding(&f));
        logic.on_embedding(0.0, Some(Embedding(vec![0.0; 128])));
        logic.on_embedding(1.0, Some(Embedding(vec![0.2; 128])));
        let ev = logic.on_embedding(1.1, Some(Embedding(vec![0.2; 128])));
        assert!(ev.iter().any(|e| matches!(
            e,
            SessionEvent::PromptRaised {
                code: PromptCode::FaceChanged,
                ..
            }
        )));
        assert_eq!(
            logic.verdict().map(|v| v.reasons.clone()),
            Some(vec![FailReason::FaceChanged])
        );
    }

    #[test]
    fn timeout_with_nobody_there_says_so() {
        let mut config = SessionConfig::new(vec![ActionKind::Nod]);
        config.step_timeout_s = 2.0;
        let mut logic = SessionLogic::new(config).unwrap();
        logic.on_frame(&face_frame(0.0));
        drive(&mut logic, 10.0, 5.0, |t| no_face_frame(t + 0.1));
        assert_eq!(
            logic.verdict().map(|v| v.reasons.clone()),
            Some(vec![FailReason::Timeout, FailReason::NoFace])
        );
    }

    #[test]
    fn moving_while_the_baseline_is_learned_asks_to_hold_still() {
        let mut logic = SessionLogic::new(SessionConfig::new(vec![ActionKind::Blink])).unwrap();
        // The face drifts sideways at about 1.2 face widths a second.
        let ev = drive(&mut logic, 15.0, 0.65, |t| {
            frame_with(t, |m| m.face.x += (t * 240.0) as f32)
        });
        assert!(
            ev.iter().any(|e| matches!(
                e,
                SessionEvent::PromptRaised {
                    code: PromptCode::HoldStill,
                    ..
                }
            )),
            "{ev:?}"
        );
        assert!(!ev
            .iter()
            .any(|e| matches!(e, SessionEvent::StepStarted { .. })));
        // Once still, the first step starts and the prompt goes.
        let ev = drive(&mut logic, 15.0, 2.0, |t| {
            frame_with(t + 0.7, |m| m.face.x += 156.0)
        });
        assert!(ev
            .iter()
            .any(|e| matches!(e, SessionEvent::StepStarted { index: 0, .. })));
    }

    #[test]
    fn config_refuses_eyes_closed_as_a_step() {
        let err = SessionLogic::new(SessionConfig::new(vec![ActionKind::EyesClosed])).unwrap_err();
        assert!(matches!(
            err,
            SessionConfigError::NotAChallengeAction { index: 0, .. }
        ));
    }

    #[test]
    fn observe_counts_actions_and_prompt_frames() {
        let mut obs = ObserveLogic::new(&QualityThresholds::default());
        let mut lines = Vec::new();
        for i in 0..75 {
            let t = i as f64 / 15.0;
            let mut f = blink_then_left(t);
            if t >= 4.0 {
                if let Some(m) = f.main.as_mut() {
                    m.quality.brightness = 0.05;
                }
            }
            lines.extend(obs.on_frame(&f));
        }
        let s = obs.summary();
        assert_eq!((s.blink, s.turn_left, s.turn_right), (1, 1, 0));
        assert_eq!(s.frames, 75);
        assert_eq!(s.faces_max, 1);
        let dark = s.prompts[&PromptCode::TooDark];
        assert!((8..=11).contains(&dark), "{dark}");
        let json: Vec<String> = lines
            .iter()
            .map(|l| serde_json::to_string(l).unwrap())
            .collect();
        assert!(json[0].contains(r#""event":"action""#) && json[0].contains(r#""kind":"blink""#));
        assert!(json.iter().any(|l| l.contains(r#""code":"TOO_DARK""#)));
        let summary = serde_json::to_value(&s).unwrap();
        assert_eq!(summary["prompts"]["TOO_DARK"], dark);
    }

    #[test]
    fn quiet_phases_need_fewer_frames_and_blinks_and_moving_heads_need_all() {
        let mut logic = SessionLogic::new(SessionConfig::new(vec![
            ActionKind::TurnLeft,
            ActionKind::Blink,
        ]))
        .unwrap();
        // Waiting and settling: a frame every 0.2 s is enough.
        assert_eq!(logic.analysis_interval_s(), QUIET_INTERVAL_S);
        drive(&mut logic, 5.0, 1.0, face_frame);
        assert_eq!(logic.current_step(), Some((0, ActionKind::TurnLeft)));
        // A still head in a head step: still 0.2 s.
        assert_eq!(logic.analysis_interval_s(), QUIET_INTERVAL_S);
        // The head starts turning (10 degrees in 0.2 s): every frame until it is still again.
        logic.on_frame(&frame_with(1.4, |m| m.pose.yaw = 10.0));
        assert_eq!(logic.analysis_interval_s(), 0.0);
        logic.on_frame(&frame_with(1.5, |m| m.pose.yaw = 10.5));
        assert_eq!(logic.analysis_interval_s(), QUIET_INTERVAL_S);
        // A blink step sees every frame, the face still or not.
        let mut logic = SessionLogic::new(SessionConfig::new(vec![ActionKind::Blink])).unwrap();
        drive(&mut logic, 5.0, 1.0, face_frame);
        assert_eq!(logic.current_step(), Some((0, ActionKind::Blink)));
        assert_eq!(logic.analysis_interval_s(), 0.0);
    }

    /// Drives a blink challenge with identity samples answered by `person(t)`; returns the
    /// events and the times of the samples.
    fn drive_with_identity(
        logic: &mut SessionLogic,
        until: f64,
        person: impl Fn(f64) -> f32,
    ) -> (Vec<SessionEvent>, Vec<f64>) {
        let (mut events, mut sampled) = (Vec::new(), Vec::new());
        for i in 0..=(until * 10.0) as usize {
            let t = i as f64 / 10.0;
            let frame = blink_then_left(t);
            events.extend(logic.on_frame(&frame));
            if logic.wants_embedding(&frame) {
                sampled.push(t);
                events.extend(logic.on_embedding(t, Some(Embedding(vec![person(t); 128]))));
            }
            if logic.is_finished() {
                break;
            }
        }
        (events, sampled)
    }

    #[test]
    fn the_pass_waits_for_the_person_who_finished_to_match_the_one_who_started() {
        // The same person: the frame that completes the blink is embedded and the session passes
        // on it; the routine samples come every 2 s, not every second.
        let mut logic = SessionLogic::new(SessionConfig::new(vec![ActionKind::Blink])).unwrap();
        let (events, sampled) = drive_with_identity(&mut logic, 3.0, |_| 0.0);
        assert_eq!(logic.verdict().map(|v| v.passed), Some(true), "{events:?}");
        let passed_at = events.iter().find_map(|e| match e {
            SessionEvent::StepPassed { t, .. } => Some(*t),
            _ => None,
        });
        assert_eq!(sampled.first(), Some(&0.0));
        assert_eq!(sampled.last().copied(), passed_at, "{sampled:?}");
        assert_eq!(sampled.len(), 2, "{sampled:?}");
        // Someone else from 1.2 s, after the last routine sample and before the blink: the
        // confirming samples catch them and the session fails instead of passing.
        let mut logic = SessionLogic::new(SessionConfig::new(vec![ActionKind::Blink])).unwrap();
        let (events, _) =
            drive_with_identity(&mut logic, 3.0, |t| if t >= 1.2 { 0.2 } else { 0.0 });
        assert_eq!(
            logic.verdict().map(|v| v.reasons.clone()),
            Some(vec![FailReason::FaceChanged]),
            "{events:?}"
        );
        assert!(!events
            .iter()
            .any(|e| matches!(e, SessionEvent::Finished { verdict } if verdict.passed)));
    }
}
