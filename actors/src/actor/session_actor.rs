//! The session actor: one per session; owns the [`SessionLogic`], supervises its frame decoder
//! and quality check, and sends frames to the shared model pool one at a time.
//!
//! Back-pressure: at most one frame is in the pipeline and one waits; a newer frame replaces the
//! waiting one and the drop is counted and reported (`frames_dropped`). Memory per session stays
//! bounded however slow the engine is; a slow engine thins the frames instead.
//!
//! A recording ([`SessionHandle::analyse`]) is the exception: its caller waits for each frame to
//! leave the pipeline before sending the next, so no frame of it is dropped, and its time is the
//! frames' presentation time only (the wall clock does not advance it).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::RgbImage;
use livegate_models::media::MediaLimits;
use livegate_models::silent::SilentVerdict;
use livegate_models::{Embedding, EngineError, FrameAnalysis, TrackState};
use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::sync::{broadcast, oneshot};

use super::decoder::{DecoderMsg, FrameDecoder};
use super::opener::{FrameOpener, OpenError};
use super::pool::{Analysed, Job, JobError, PoolHandle};
use super::quality_check::{FrameCheck, QualityCheck, QualityCheckMsg};
use crate::actions::ActionKind;
use crate::budget::{BudgetBreach, FrameBudget, FrameLimits};
use crate::evidence::{EvidenceFrame, EvidencePicker};
use crate::injection::{face_hash, replay_score, FrameTiming, SeenFrames};
use crate::session::{
    FailReason, SessionConfig, SessionConfigError, SessionEvent, SessionLogic, Verdict,
};

/// How long a recorded frame refused by a full model pool waits before asking again.
const RECORDED_RETRY_AFTER: Duration = Duration::from_millis(50);

/// How a session actor runs: limits, timeouts, restart budget.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Accepted frame sizes.
    pub limits: MediaLimits,
    /// Longest wait for one pipeline stage (decode, check, analysis, embedding).
    pub stage_timeout: Duration,
    /// Longest wait for a request to the session actor.
    pub call_timeout: Duration,
    /// A session with no frame for this long times out; a finished one nobody collects stops.
    pub idle_timeout: Duration,
    /// Child restarts allowed before the session gives up.
    pub max_child_restarts: u32,
    /// Engine failures in a row allowed before the session gives up.
    pub max_engine_failures: u32,
    /// Events kept for a slow subscriber (older ones are skipped, never queued without bound).
    pub event_capacity: usize,
    /// Period of the timer that reports drops and enforces timeouts.
    pub tick: Duration,
    /// What the page may send (sealed frames only).
    pub frame_limits: FrameLimits,
    /// Step frames kept as evidence besides the best frame.
    pub evidence_samples: usize,
    /// The node's recently seen face hashes (`replayed_frames`); `None`: not checked.
    pub seen_frames: Option<Arc<SeenFrames>>,
    /// Analyse live frames only as often as the session's step needs
    /// ([`SessionLogic::analysis_interval_s`]); the others are acknowledged and skipped before
    /// decoding. Recordings are always analysed frame by frame.
    pub adaptive_rate: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            limits: MediaLimits::default(),
            stage_timeout: Duration::from_secs(5),
            call_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            max_child_restarts: 3,
            max_engine_failures: 5,
            event_capacity: 256,
            tick: Duration::from_millis(200),
            frame_limits: FrameLimits::default(),
            evidence_samples: 3,
            seen_frames: None,
            adaptive_rate: true,
        }
    }
}

/// Why a request to a session failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The configuration cannot run.
    #[error(transparent)]
    Config(#[from] SessionConfigError),
    /// The actor failed to start.
    #[error("session failed to start: {0}")]
    Spawn(String),
    /// The session is over and its actor gone.
    #[error("session is gone")]
    Gone,
    /// The session did not answer in time.
    #[error("session did not answer within {0:?}")]
    Timeout(Duration),
}

/// Why a sealed frame or a hello was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameRefused {
    /// It broke the session's frame limits.
    #[error(transparent)]
    Budget(#[from] BudgetBreach),
    /// It did not open (or the key share was refused).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The session has its verdict already.
    #[error("the session is over")]
    Ended,
    /// The session takes no sealed frames (it was started without an opener).
    #[error("the session takes no sealed frames")]
    NotSealed,
}

/// Where a session stands, as a page (re)connecting needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPosition {
    /// The sequence number the next frame must exceed.
    pub last_seq: u64,
    /// Steps done.
    pub done: usize,
    /// Steps in the challenge.
    pub total: usize,
    /// The step asked for now.
    pub step: Option<(usize, ActionKind)>,
    /// The verdict, once there is one.
    pub verdict: Option<Verdict>,
}

/// One step of the challenge as it went (seconds into the session).
#[derive(Debug, Clone, PartialEq)]
pub struct StepTiming {
    /// Its position.
    pub index: usize,
    /// The action asked for.
    pub action: ActionKind,
    /// When it was asked.
    pub started_t: f64,
    /// When it was done, if it was.
    pub passed_t: Option<f64>,
}

/// Everything a finished session leaves for its record.
#[derive(Debug, Clone)]
pub struct SessionOutcome {
    /// The decision.
    pub verdict: Verdict,
    /// The challenge of the last attempt.
    pub challenge: Vec<ActionKind>,
    /// Attempts made (1 without retries).
    pub attempts: usize,
    /// The last attempt's steps as they went.
    pub steps: Vec<StepTiming>,
    /// The best frame and the step frames.
    pub evidence: Vec<EvidenceFrame>,
    /// The pipeline's counters.
    pub status: SessionStatus,
    /// The largest identity distance from the first sample (0 when never sampled twice).
    pub max_identity_distance: f32,
    /// Share of analysed frames with the face in view and no blocking prompt.
    pub clean_share: f32,
    /// Seconds from the first frame to the last.
    pub duration_s: f64,
    /// The silent and injection cues.
    pub cues: SessionCues,
}

/// What the silent and injection cues said of a session (`scores.silent`, `scores.injection`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionCues {
    /// Silent liveness over the frames analysed.
    pub silent: Option<SilentVerdict>,
    /// Each injection cue that measured, by reason word: its attack score.
    pub injection: BTreeMap<&'static str, f32>,
    /// The colour flash's verdict, for a `colour` scene (`scores.flash`).
    pub flash: Option<livegate_models::flash::FlashVerdict>,
}

/// Numbers the node's sessions for the seen-frames set.
static NEXT_SESSION_KEY: AtomicU64 = AtomicU64::new(1);

/// Why a frame or a hello sent to a session did not go in.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The session refused it.
    #[error(transparent)]
    Refused(#[from] FrameRefused),
    /// The session cannot be reached.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// A snapshot of a session's pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStatus {
    /// Frames received from the page.
    pub frames_received: u64,
    /// Frames that went through the whole pipeline.
    pub frames_analysed: u64,
    /// Frames replaced while waiting, or refused by a full model pool. (Frames skipped because
    /// the step did not need them are in none of these counts: received minus the others.)
    pub frames_dropped: u64,
    /// Frames lost to a failure (undecodable, engine error, lost worker).
    pub frames_failed: u64,
    /// Frames in the pipeline or waiting for it (never more than 2).
    pub frames_pending: usize,
    /// Decoder and quality-check restarts.
    pub child_restarts: u32,
    /// The outcome, once finished.
    pub verdict: Option<Verdict>,
}

/// Messages of the session actor; callers use [`SessionHandle`] instead.
pub enum SessionMsg {
    /// The page's key share, from its hello.
    Bind {
        /// The key share.
        client_key: Vec<u8>,
        /// Where the session stands, or why the hello is refused.
        reply: RpcReplyPort<Result<SessionPosition, FrameRefused>>,
    },
    /// A sealed frame from the page.
    Sealed {
        /// The frame as received.
        bytes: Vec<u8>,
        /// The frame's sequence number when accepted.
        reply: RpcReplyPort<Result<u64, FrameRefused>>,
    },
    /// The outcome, once finished.
    Outcome(RpcReplyPort<Option<SessionOutcome>>),
    /// A frame from the page, `t` seconds into the session.
    Frame {
        /// Capture time.
        t: f64,
        /// JPEG bytes.
        bytes: Vec<u8>,
    },
    /// The decoder's answer.
    Decoded {
        /// Pipeline number.
        seq: u64,
        /// The frame, or why not.
        result: Result<Arc<RgbImage>, EngineError>,
    },
    /// The quality check's answer.
    Checked {
        /// Pipeline number.
        seq: u64,
        /// The frame.
        frame: Arc<RgbImage>,
        /// Its verdict.
        check: FrameCheck,
    },
    /// The model pool's analysis.
    Analysed {
        /// Pipeline number.
        seq: u64,
        /// The frame (kept for an embedding).
        frame: Arc<RgbImage>,
        /// The analysis, or why not.
        result: Result<Box<Analysed>, JobError>,
    },
    /// The model pool's embedding.
    Embedded {
        /// Pipeline number.
        seq: u64,
        /// Capture time of the frame embedded.
        t: f64,
        /// The embedding, or why not.
        result: Result<Option<Embedding>, JobError>,
    },
    /// A frame of a recording, `t` seconds in (its presentation time); never dropped.
    Analyse {
        /// Presentation time.
        t: f64,
        /// JPEG bytes.
        bytes: Vec<u8>,
        /// The page's colour-flash tag for the frame (0: none), as a sealed frame's header.
        flash: u8,
        /// Told (or dropped) once the frame has left the pipeline, with whether the session has
        /// its verdict.
        settled: oneshot::Sender<bool>,
    },
    /// The recording has no more frames: a step still open has run out of time.
    EndRecording(RpcReplyPort<Verdict>),
    /// Timer: report drops, enforce timeouts.
    Tick,
    /// Report the pipeline's state.
    Status(RpcReplyPort<SessionStatus>),
    /// End the session (cancelled if not finished) and return its verdict.
    Finish(RpcReplyPort<Verdict>),
    /// An injection cue measured outside the session (the camera the page reports).
    InjectionCue {
        /// Its reason.
        reason: FailReason,
        /// Its attack score, 0..=1.
        score: f32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Decoding,
    Checking,
    Analysing,
    Embedding,
}

#[derive(Debug)]
struct InFlight {
    seq: u64,
    t: f64,
    jpeg: Arc<Vec<u8>>,
    stage: Stage,
    since: Instant,
    /// The waiting caller of a recorded frame.
    settled: Option<oneshot::Sender<bool>>,
}

/// A recorded frame waiting for the pipeline, with its caller.
type RecordedFrame = (f64, Arc<Vec<u8>>, oneshot::Sender<bool>);

/// The session actor's state.
pub struct SessionState {
    logic: SessionLogic,
    pool: PoolHandle,
    options: SessionOptions,
    events: broadcast::Sender<SessionEvent>,
    decoder: ActorRef<DecoderMsg>,
    checker: ActorRef<QualityCheckMsg>,
    track: TrackState,
    in_flight: Option<InFlight>,
    waiting: Option<(f64, Arc<Vec<u8>>)>,
    /// Recorded frames queued behind the one in flight (their callers wait, so rarely more
    /// than one).
    recorded: VecDeque<RecordedFrame>,
    /// Whether frames come from a recording (time is then the frames' only clock).
    from_recording: bool,
    opener: Option<Box<dyn FrameOpener>>,
    budget: FrameBudget,
    first_capture_ms: Option<u64>,
    evidence: EvidencePicker,
    steps: Vec<StepTiming>,
    /// This session's number in the node's seen-frames set.
    session_key: u64,
    /// Frames whose face was already seen in another session.
    replayed: usize,
    /// The page's capture times beside the arrival times (sealed frames only).
    timing: FrameTiming,
    clean_frames: u64,
    next_seq: u64,
    received: u64,
    analysed: u64,
    dropped: u64,
    dropped_reported: u64,
    failed: u64,
    failures_in_row: u32,
    restarts: u32,
    last_frame: Option<(f64, Instant)>,
    /// Capture time of the last live frame taken into the pipeline (for the analysis rate).
    last_taken_t: Option<f64>,
    last_activity: Instant,
    finished_at: Option<Instant>,
    ticker: Option<JoinHandle<()>>,
}

/// The session actor.
pub struct SessionActor;

/// Start arguments of a session actor.
pub struct SessionArgs {
    opener: Option<Box<dyn FrameOpener>>,
    logic: SessionLogic,
    pool: PoolHandle,
    options: SessionOptions,
    events: broadcast::Sender<SessionEvent>,
}

impl SessionState {
    fn emit(&mut self, events: Vec<SessionEvent>) {
        for e in events {
            match &e {
                SessionEvent::StepStarted { t, index, action } => self.steps.push(StepTiming {
                    index: *index,
                    action: *action,
                    started_t: *t,
                    passed_t: None,
                }),
                SessionEvent::AttemptFailed { .. } => {
                    self.steps.clear();
                    self.evidence.new_attempt();
                }
                SessionEvent::StepPassed { t, index, .. } => {
                    if let Some(step) = self.steps.iter_mut().find(|s| s.index == *index) {
                        step.passed_t = Some(*t);
                    }
                    self.evidence.on_step_passed(*index);
                }
                _ => {}
            }
            if matches!(e, SessionEvent::Finished { .. }) {
                self.finished_at = Some(Instant::now());
                self.waiting = None;
                self.recorded.clear();
                // Say how many frames were dropped before the last word.
                if self.dropped > self.dropped_reported {
                    self.dropped_reported = self.dropped;
                    let _ = self.events.send(SessionEvent::FramesDropped {
                        total: self.dropped,
                    });
                }
            }
            // No subscriber is fine: the page may reconnect and ask for status.
            let _ = self.events.send(e);
        }
    }

    fn start(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        t: f64,
        bytes: Arc<Vec<u8>>,
        settled: Option<oneshot::Sender<bool>>,
    ) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight = Some(InFlight {
            seq,
            t,
            jpeg: Arc::clone(&bytes),
            stage: Stage::Decoding,
            since: Instant::now(),
            settled,
        });
        let msg = DecoderMsg::Decode {
            seq,
            bytes,
            reply: myself.clone(),
        };
        if self.decoder.send_message(msg).is_err() {
            // The decoder is being restarted; this frame is lost, the next one will go through.
            self.failed += 1;
            self.in_flight = None;
        }
    }

    fn next_stage(&mut self, seq: u64, stage: Stage) -> bool {
        match self.in_flight.as_mut() {
            Some(f) if f.seq == seq => {
                f.stage = stage;
                f.since = Instant::now();
                true
            }
            _ => false,
        }
    }

    fn is_current(&self, seq: u64) -> bool {
        self.in_flight.as_ref().is_some_and(|f| f.seq == seq)
    }

    /// The frame left the pipeline: start the waiting one, if any.
    fn done(&mut self, myself: &ActorRef<SessionMsg>) {
        let finished = self.logic.is_finished();
        if let Some(settled) = self.in_flight.take().and_then(|f| f.settled) {
            let _ = settled.send(finished);
        }
        if finished {
            self.waiting = None;
            self.recorded.clear();
            return;
        }
        if let Some((t, bytes, settled)) = self.recorded.pop_front() {
            self.start(myself, t, bytes, Some(settled));
        } else if let Some((t, bytes)) = self.waiting.take() {
            self.start(myself, t, bytes, None);
        }
    }

    fn engine_failed(&mut self) {
        self.failed += 1;
        self.failures_in_row += 1;
        self.track.reset();
        if self.failures_in_row >= self.options.max_engine_failures {
            let ev = self.logic.abort(FailReason::EngineFailure);
            self.emit(ev);
        }
    }

    fn submit_analysis(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        seq: u64,
        t: f64,
        frame: Arc<RgbImage>,
    ) {
        let (reply, rx) = oneshot::channel();
        self.pool.submit(Job::Analyze {
            frame: frame.clone(),
            t,
            track: std::mem::take(&mut self.track),
            needs: self.logic.needs(),
            reply,
        });
        let me = myself.clone();
        let timeout = self.options.stage_timeout;
        tokio::spawn(async move {
            let result = await_job(rx, timeout).await.map(Box::new);
            let _ = me.send_message(SessionMsg::Analysed { seq, frame, result });
        });
    }

    /// Whether a live frame taken at `t` comes sooner after the last one taken than the session
    /// needs: it is skipped before decoding.
    fn not_needed(&self, t: f64) -> bool {
        if !self.options.adaptive_rate {
            return false;
        }
        let interval = self.logic.analysis_interval_s();
        // Frames come at the page's rate with jitter: a frame a little early still counts as
        // on time, so 10 frames a second thin to 5, not to 3.3.
        self.last_taken_t
            .is_some_and(|last| t >= last && t - last < interval * 0.75)
    }

    /// Takes a frame into the pipeline (or the waiting place), unless the session does not need
    /// it.
    fn accept(&mut self, myself: &ActorRef<SessionMsg>, t: f64, bytes: Arc<Vec<u8>>) {
        self.received += 1;
        self.last_activity = Instant::now();
        self.last_frame = Some((t, Instant::now()));
        if self.not_needed(t) {
            return;
        }
        self.last_taken_t = Some(t);
        if self.in_flight.is_some() {
            if self.waiting.replace((t, bytes)).is_some() {
                self.dropped += 1;
            }
        } else {
            self.start(myself, t, bytes, None);
        }
    }

    /// Takes a recorded frame into the pipeline, or queues it behind the one in flight.
    fn accept_recorded(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        t: f64,
        bytes: Arc<Vec<u8>>,
        settled: oneshot::Sender<bool>,
    ) {
        self.from_recording = true;
        self.received += 1;
        self.last_activity = Instant::now();
        self.last_frame = Some((t, Instant::now()));
        if self.in_flight.is_some() {
            self.recorded.push_back((t, bytes, settled));
        } else {
            self.start(myself, t, bytes, Some(settled));
        }
    }

    /// The recording ended: whatever step is still open has run out of time, as it would have
    /// in real time had the person stopped there.
    fn end_recording(&mut self) -> Verdict {
        // Past every timeout: the logic ends the attempt with its reasons (no face, ...).
        let ev = self.logic.on_tick(f64::INFINITY);
        self.emit(ev);
        let ev = self.logic.abort(FailReason::Timeout);
        self.emit(ev);
        self.logic
            .verdict()
            .cloned()
            .unwrap_or_else(|| Verdict::failed(vec![FailReason::Timeout]))
    }

    fn on_sealed(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        bytes: &[u8],
    ) -> Result<u64, FrameRefused> {
        if self.logic.is_finished() {
            return Err(FrameRefused::Ended);
        }
        let Some(opener) = self.opener.as_mut() else {
            return Err(FrameRefused::NotSealed);
        };
        if let Err(breach) = self.budget.charge(Instant::now(), bytes.len()) {
            if breach.ends_session() {
                let ev = self.logic.abort(FailReason::LimitExceeded);
                self.emit(ev);
            }
            return Err(breach.into());
        }
        let frame = opener.open(bytes)?;
        self.timing.add(frame.capture_ms, Instant::now());
        if let Some(score) = self.timing.score() {
            self.logic.on_injection_cue(FailReason::FrameTiming, score);
        }
        let first = *self.first_capture_ms.get_or_insert(frame.capture_ms);
        let t = frame.capture_ms.saturating_sub(first) as f64 / 1000.0;
        self.logic.note_flash_tag(t, frame.flash);
        self.accept(myself, t, Arc::new(frame.jpeg));
        Ok(frame.seq)
    }

    fn position(&self) -> SessionPosition {
        let (done, total) = self.logic.progress();
        SessionPosition {
            last_seq: self.opener.as_ref().map_or(0, |o| o.last_seq()),
            done,
            total,
            step: self.logic.current_step(),
            verdict: self.logic.verdict().cloned(),
        }
    }

    fn outcome(&self) -> Option<SessionOutcome> {
        let verdict = self.logic.verdict()?.clone();
        let duration_s = self.last_frame.map_or(0.0, |(t, _)| t);
        Some(SessionOutcome {
            verdict,
            challenge: self.logic.challenge().to_vec(),
            attempts: self.logic.attempts(),
            steps: self.steps.clone(),
            evidence: self.evidence.frames(),
            status: self.status(),
            max_identity_distance: self.logic.max_identity_distance(),
            clean_share: if self.analysed == 0 {
                0.0
            } else {
                self.clean_frames as f32 / self.analysed as f32
            },
            duration_s,
            cues: SessionCues {
                silent: Some(self.logic.silent_verdict()),
                injection: self.logic.injection_scores(),
                flash: self.logic.flash_verdict().cloned(),
            },
        })
    }

    /// Checks the frame's face against the node's recently seen faces (`replayed_frames`).
    fn check_replayed(&mut self, frame: &RgbImage, analysis: &FrameAnalysis) {
        let (Some(seen), Some(face)) = (self.options.seen_frames.as_ref(), analysis.main.as_ref())
        else {
            return;
        };
        let Some(hash) = face_hash(frame, &face.face) else {
            return;
        };
        if seen.check_and_insert(self.session_key, hash, Instant::now()) {
            self.replayed += 1;
        }
        self.logic
            .on_injection_cue(FailReason::ReplayedFrames, replay_score(self.replayed));
    }

    fn status(&self) -> SessionStatus {
        SessionStatus {
            frames_received: self.received,
            frames_analysed: self.analysed,
            frames_dropped: self.dropped,
            frames_failed: self.failed,
            frames_pending: usize::from(self.in_flight.is_some())
                + usize::from(self.waiting.is_some()),
            child_restarts: self.restarts,
            verdict: self.logic.verdict().cloned(),
        }
    }
}

async fn await_job<T>(
    rx: oneshot::Receiver<Result<T, JobError>>,
    timeout: Duration,
) -> Result<T, JobError> {
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(result)) => result,
        // The sender was dropped: the worker died holding the job.
        Ok(Err(_)) => Err(JobError::WorkerLost),
        Err(_) => Err(JobError::Timeout(timeout)),
    }
}

#[ractor::async_trait]
impl Actor for SessionActor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SessionMsg>,
        args: SessionArgs,
    ) -> Result<SessionState, ActorProcessingErr> {
        let (decoder, _) =
            Actor::spawn_linked(None, FrameDecoder, args.options.limits, myself.get_cell()).await?;
        let (checker, _) = Actor::spawn_linked(None, QualityCheck, (), myself.get_cell()).await?;
        let ticker = myself.send_interval(args.options.tick, || SessionMsg::Tick);
        let budget = FrameBudget::new(args.options.frame_limits);
        let evidence = EvidencePicker::new(args.options.evidence_samples);
        Ok(SessionState {
            logic: args.logic,
            pool: args.pool,
            options: args.options,
            events: args.events,
            decoder,
            checker,
            track: TrackState::default(),
            in_flight: None,
            waiting: None,
            recorded: VecDeque::new(),
            from_recording: false,
            opener: args.opener,
            budget,
            first_capture_ms: None,
            evidence,
            steps: Vec::new(),
            session_key: NEXT_SESSION_KEY.fetch_add(1, Ordering::Relaxed),
            replayed: 0,
            timing: FrameTiming::default(),
            clean_frames: 0,
            next_seq: 0,
            received: 0,
            analysed: 0,
            dropped: 0,
            dropped_reported: 0,
            failed: 0,
            failures_in_row: 0,
            restarts: 0,
            last_frame: None,
            last_taken_t: None,
            last_activity: Instant::now(),
            finished_at: None,
            ticker: Some(ticker),
        })
    }

    async fn post_stop(
        &self,
        myself: ActorRef<SessionMsg>,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(t) = state.ticker.take() {
            t.abort();
        }
        myself
            .stop_children_and_wait(None, Some(state.options.call_timeout))
            .await;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<SessionMsg>,
        msg: SessionMsg,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SessionMsg::Frame { t, bytes } => {
                if state.logic.is_finished() {
                    return Ok(());
                }
                state.accept(&myself, t, Arc::new(bytes));
            }
            SessionMsg::Analyse {
                t,
                bytes,
                flash,
                settled,
            } => {
                if state.logic.is_finished() {
                    let _ = settled.send(true);
                    return Ok(());
                }
                state.logic.note_flash_tag(t, flash);
                state.accept_recorded(&myself, t, Arc::new(bytes), settled);
            }
            SessionMsg::EndRecording(reply) => {
                let _ = reply.send(state.end_recording());
            }
            SessionMsg::Bind { client_key, reply } => {
                let bound = match state.opener.as_mut() {
                    None => Err(FrameRefused::NotSealed),
                    Some(opener) => opener
                        .bind(&client_key)
                        .map_err(FrameRefused::from)
                        .map(|()| state.position()),
                };
                state.last_activity = Instant::now();
                let _ = reply.send(bound);
            }
            SessionMsg::Sealed { bytes, reply } => {
                let accepted = state.on_sealed(&myself, &bytes);
                let _ = reply.send(accepted);
            }
            SessionMsg::Outcome(reply) => {
                let _ = reply.send(state.outcome());
            }
            SessionMsg::Decoded { seq, result } => {
                if !state.is_current(seq) {
                    return Ok(());
                }
                match result {
                    Ok(frame) => {
                        state.next_stage(seq, Stage::Checking);
                        let msg = QualityCheckMsg::Check {
                            seq,
                            frame,
                            reply: myself.clone(),
                        };
                        if state.checker.send_message(msg).is_err() {
                            state.failed += 1;
                            state.done(&myself);
                        }
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "frame not decodable, skipped");
                        state.failed += 1;
                        state.done(&myself);
                    }
                }
            }
            SessionMsg::Checked { seq, frame, check } => {
                let Some(t) = state
                    .in_flight
                    .as_ref()
                    .filter(|f| f.seq == seq)
                    .map(|f| f.t)
                else {
                    return Ok(());
                };
                match check {
                    FrameCheck::Analyse => {
                        state.next_stage(seq, Stage::Analysing);
                        state.submit_analysis(&myself, seq, t, frame);
                    }
                    FrameCheck::Uniform => {
                        let blank = FrameAnalysis {
                            t,
                            frame_width: frame.width(),
                            frame_height: frame.height(),
                            faces: Vec::new(),
                            detected: true,
                            main: None,
                            engine_ms: 0.0,
                        };
                        let ev = state.logic.on_frame(&blank);
                        state.emit(ev);
                        state.analysed += 1;
                        state.done(&myself);
                    }
                }
            }
            SessionMsg::Analysed { seq, frame, result } => {
                if !state.is_current(seq) {
                    return Ok(());
                }
                match result {
                    Ok(analysed) => {
                        let Analysed { analysis, track } = *analysed;
                        state.track = track;
                        state.failures_in_row = 0;
                        state.analysed += 1;
                        state.check_replayed(&frame, &analysis);
                        let ev = state.logic.on_frame_with_pixels(&analysis, Some(&frame));
                        if let (Some(face), Some(f)) = (&analysis.main, &state.in_flight) {
                            let clean = state
                                .logic
                                .top_prompt()
                                .is_none_or(|p| !p.code.is_blocking());
                            if clean {
                                state.clean_frames += 1;
                            }
                            let jpeg = Arc::clone(&f.jpeg);
                            state.evidence.offer(analysis.t, face, clean, &jpeg);
                        }
                        state.emit(ev);
                        let embed = state.logic.wants_embedding(&analysis);
                        match analysis.main {
                            Some(face) if embed => {
                                state.next_stage(seq, Stage::Embedding);
                                let (reply, rx) = oneshot::channel();
                                state.pool.submit(Job::Embed {
                                    frame,
                                    face: Box::new(face),
                                    reply,
                                });
                                let me = myself.clone();
                                let timeout = state.options.stage_timeout;
                                let t = analysis.t;
                                tokio::spawn(async move {
                                    let result = await_job(rx, timeout).await;
                                    let _ =
                                        me.send_message(SessionMsg::Embedded { seq, t, result });
                                });
                                return Ok(());
                            }
                            _ => state.done(&myself),
                        }
                    }
                    Err(JobError::Overloaded { .. })
                        if state
                            .in_flight
                            .as_ref()
                            .is_some_and(|f| f.settled.is_some()) =>
                    {
                        // A recorded frame is never dropped: it asks the pool again shortly.
                        state.track.reset();
                        let me = myself.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(RECORDED_RETRY_AFTER).await;
                            let check = FrameCheck::Analyse;
                            let _ = me.send_message(SessionMsg::Checked { seq, frame, check });
                        });
                    }
                    Err(JobError::Overloaded { .. }) => {
                        // The shared pool is full: this frame is thinned out like a replaced one.
                        state.dropped += 1;
                        state.track.reset();
                        state.done(&myself);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "frame analysis failed");
                        state.engine_failed();
                        state.done(&myself);
                    }
                }
            }
            SessionMsg::Embedded { seq, t, result } => {
                if !state.is_current(seq) {
                    return Ok(());
                }
                let embedding = result.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "embedding failed");
                    None
                });
                let ev = state.logic.on_embedding(t, embedding);
                state.emit(ev);
                state.done(&myself);
            }
            SessionMsg::Tick => on_tick(&myself, state),
            SessionMsg::Status(reply) => {
                let _ = reply.send(state.status());
            }
            SessionMsg::InjectionCue { reason, score } => {
                state.logic.on_injection_cue(reason, score);
            }
            SessionMsg::Finish(reply) => {
                let ev = state.logic.abort(FailReason::Cancelled);
                state.emit(ev);
                if let Some(v) = state.logic.verdict() {
                    let _ = reply.send(v.clone());
                }
                myself.stop(Some("finished".to_owned()));
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SessionMsg>,
        evt: SupervisionEvent,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        // Policy, for both children: a failure (panic, error) restarts the child and loses the
        // frame it held; after `max_child_restarts` the session ends as an engine failure rather
        // than loop. A child stopping cleanly only happens while the session itself stops.
        let SupervisionEvent::ActorFailed(cell, err) = evt else {
            return Ok(());
        };
        let id = cell.get_id();
        let stage = if id == state.decoder.get_id() {
            Stage::Decoding
        } else if id == state.checker.get_id() {
            Stage::Checking
        } else {
            return Ok(());
        };
        tracing::warn!(child = ?stage, error = %err, "session child failed");
        state.restarts += 1;
        if state.restarts > state.options.max_child_restarts {
            let ev = state.logic.abort(FailReason::EngineFailure);
            state.emit(ev);
            return Ok(());
        }
        match stage {
            Stage::Decoding => {
                let (d, _) = Actor::spawn_linked(
                    None,
                    FrameDecoder,
                    state.options.limits,
                    myself.get_cell(),
                )
                .await?;
                state.decoder = d;
            }
            _ => {
                let (c, _) = Actor::spawn_linked(None, QualityCheck, (), myself.get_cell()).await?;
                state.checker = c;
            }
        }
        if state.in_flight.as_ref().is_some_and(|f| f.stage == stage) {
            state.failed += 1;
            state.done(&myself);
        }
        Ok(())
    }
}

fn on_tick(myself: &ActorRef<SessionMsg>, state: &mut SessionState) {
    let now = Instant::now();
    if state.dropped > state.dropped_reported {
        state.dropped_reported = state.dropped;
        let total = state.dropped;
        state.emit(vec![SessionEvent::FramesDropped { total }]);
    }
    if let Some(finished) = state.finished_at {
        // Nobody collected the verdict: do not linger forever.
        if now.duration_since(finished) > state.options.idle_timeout {
            myself.stop(Some("finished and idle".to_owned()));
        }
        return;
    }
    // A decode or check that never answers (a hung child) must not stall the session. Analysis
    // and embedding have their own timeout in the task awaiting the pool.
    if let Some(f) = &state.in_flight {
        let hung = matches!(f.stage, Stage::Decoding | Stage::Checking)
            && now.duration_since(f.since) > state.options.stage_timeout;
        if hung {
            state.failed += 1;
            state.done(myself);
        }
    }
    // A recording's clock is its frames' presentation times: analysis slower than real time
    // must not run its steps out of time.
    if let Some((t, at)) = state.last_frame.filter(|_| !state.from_recording) {
        let ev = state
            .logic
            .on_tick(t + now.duration_since(at).as_secs_f64());
        state.emit(ev);
    }
    if !state.logic.is_finished()
        && now.duration_since(state.last_activity) > state.options.idle_timeout
    {
        let ev = state.logic.abort(FailReason::Timeout);
        state.emit(ev);
    }
}

/// A cloneable, typed handle on one session; hides the actor's messages from callers.
#[derive(Clone)]
pub struct SessionHandle {
    actor: ActorRef<SessionMsg>,
    events: broadcast::Sender<SessionEvent>,
    call_timeout: Duration,
}

impl SessionHandle {
    /// Start a session running `config`, analysed by `pool`.
    pub async fn start(
        config: SessionConfig,
        pool: PoolHandle,
        options: SessionOptions,
    ) -> Result<Self, SessionError> {
        Self::start_with(config, pool, options, None).await
    }

    /// Start a session that takes sealed frames from a page, opened by `opener`.
    pub async fn start_sealed(
        config: SessionConfig,
        pool: PoolHandle,
        options: SessionOptions,
        opener: Box<dyn FrameOpener>,
    ) -> Result<Self, SessionError> {
        Self::start_with(config, pool, options, Some(opener)).await
    }

    async fn start_with(
        config: SessionConfig,
        pool: PoolHandle,
        options: SessionOptions,
        opener: Option<Box<dyn FrameOpener>>,
    ) -> Result<Self, SessionError> {
        let logic = SessionLogic::new(config)?;
        let (events, _) = broadcast::channel(options.event_capacity.max(1));
        let call_timeout = options.call_timeout;
        let args = SessionArgs {
            opener,
            logic,
            pool,
            options,
            events: events.clone(),
        };
        let (actor, _join) = Actor::spawn(None, SessionActor, args)
            .await
            .map_err(|e| SessionError::Spawn(e.to_string()))?;
        Ok(Self {
            actor,
            events,
            call_timeout,
        })
    }

    /// Send a JPEG frame captured `t` seconds into the session. Never waits: a frame that cannot
    /// be analysed in time replaces the waiting one.
    pub fn send_frame(&self, t: f64, jpeg: Vec<u8>) -> Result<(), SessionError> {
        self.actor
            .send_message(SessionMsg::Frame { t, bytes: jpeg })
            .map_err(|_| SessionError::Gone)
    }

    /// Analyses one frame of a recording, `t` seconds in (its presentation time), and waits
    /// until it has left the pipeline: unlike [`SessionHandle::send_frame`] no frame is dropped
    /// or replaced. Returns whether the session has its verdict (later frames change nothing).
    ///
    /// Every pipeline stage has its own timeout, so the wait is bounded.
    pub async fn analyse(&self, t: f64, jpeg: Vec<u8>) -> Result<bool, SessionError> {
        self.analyse_tagged(t, jpeg, 0).await
    }

    /// [`SessionHandle::analyse`] for a frame the page tagged with the colour-flash step on
    /// screen when it was captured (`flash`, as a sealed frame's header carries it): a played
    /// colour session (the attack battery's).
    pub async fn analyse_tagged(
        &self,
        t: f64,
        jpeg: Vec<u8>,
        flash: u8,
    ) -> Result<bool, SessionError> {
        let (settled, rx) = oneshot::channel();
        self.actor
            .send_message(SessionMsg::Analyse {
                t,
                bytes: jpeg,
                flash,
                settled,
            })
            .map_err(|_| SessionError::Gone)?;
        match rx.await {
            Ok(finished) => Ok(finished),
            // Dropped with its frame (a restarted child, the actor stopping): ask.
            Err(_) => Ok(self.status().await?.verdict.is_some()),
        }
    }

    /// Ends a recording: a step not done by its last frame fails as timed out. Returns the
    /// verdict (the one it already had, if any).
    pub async fn end_recording(&self) -> Result<Verdict, SessionError> {
        self.call(SessionMsg::EndRecording).await
    }

    /// Binds the page's key share (hello) and says where the session stands.
    pub async fn bind(&self, client_key: Vec<u8>) -> Result<SessionPosition, SendError> {
        Ok(self
            .call(|reply| SessionMsg::Bind { client_key, reply })
            .await??)
    }

    /// Hands a sealed frame to the session, which opens and analyses it; answers with its
    /// sequence number once it is accepted (before analysis).
    pub async fn send_sealed(&self, bytes: Vec<u8>) -> Result<u64, SendError> {
        Ok(self
            .call(|reply| SessionMsg::Sealed { bytes, reply })
            .await??)
    }

    /// Reports an injection cue measured outside the session (the page's camera facts); it
    /// fails the session at its end when at or over
    /// [`INJECTION_ATTACK`](crate::injection::INJECTION_ATTACK).
    pub fn report_injection(&self, reason: FailReason, score: f32) -> Result<(), SessionError> {
        self.actor
            .send_message(SessionMsg::InjectionCue { reason, score })
            .map_err(|_| SessionError::Gone)
    }

    /// The outcome, once the session has its verdict (`None` before).
    pub async fn outcome(&self) -> Result<Option<SessionOutcome>, SessionError> {
        self.call(SessionMsg::Outcome).await
    }

    /// A receiver of the session's events from now on (a lagging one skips the oldest).
    pub fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
        self.events.subscribe()
    }

    /// The pipeline's state.
    pub async fn status(&self) -> Result<SessionStatus, SessionError> {
        self.call(SessionMsg::Status).await
    }

    /// End the session (cancelled if not yet finished), wait for its actors to stop, and return
    /// its verdict.
    pub async fn finish(&self) -> Result<Verdict, SessionError> {
        let verdict = self.call(SessionMsg::Finish).await?;
        self.actor
            .stop_and_wait(None, Some(self.call_timeout))
            .await
            .or_else(|e| match e {
                // Already stopped by the Finish handler: that is the point.
                ractor::RactorErr::Messaging(_) | ractor::RactorErr::Actor(_) => Ok(()),
                _ => Err(SessionError::Timeout(self.call_timeout)),
            })?;
        Ok(verdict)
    }

    /// Whether the session's actor is still running.
    pub fn is_alive(&self) -> bool {
        !matches!(
            self.actor.get_status(),
            ractor::ActorStatus::Stopped | ractor::ActorStatus::Stopping
        )
    }

    /// The session's child actors (decoder, quality check), for health checks and tests.
    pub fn children(&self) -> Vec<ActorCell> {
        self.actor.get_children()
    }

    async fn call<T: Send + 'static>(
        &self,
        msg: impl FnOnce(RpcReplyPort<T>) -> SessionMsg,
    ) -> Result<T, SessionError> {
        match self.actor.call(msg, Some(self.call_timeout)).await {
            Ok(ractor::rpc::CallResult::Success(v)) => Ok(v),
            Ok(ractor::rpc::CallResult::Timeout) => Err(SessionError::Timeout(self.call_timeout)),
            Ok(ractor::rpc::CallResult::SenderError) | Err(_) => Err(SessionError::Gone),
        }
    }
}
