//! What a session means: prompts, actions, identity continuity and the verdict, as plain state
//! machines fed one [`FrameAnalysis`](livegate_models::FrameAnalysis) at a time, wrapped by thin
//! ractor actors that own concurrency, supervision, back-pressure and timeouts.
//!
//! # Layout
//! - [`prompts`] — the prompt codes, their zh-CN / en texts, priority and blocking weight.
//! - [`thresholds`] — every threshold in one config object (`[engine.thresholds]`).
//! - [`quality_gate`] — per-frame failing conditions, debounced over time into prompts.
//! - [`actions`] — blink, mouth open, turns, nod, raise head (and eyes-closed episodes), each a
//!   temporal state machine over a per-person baseline.
//! - [`continuity`] — when to sample an identity embedding, and FACE_CHANGED.
//! - [`session`] — [`SessionLogic`](session::SessionLogic) (a challenge, its events and verdict)
//!   and [`ObserveLogic`](session::ObserveLogic) (count everything; `livegate analyze`).
//! - [`observe`] — runs `ObserveLogic` over a whole recording with one engine pair.
//! - [`actor`] — the session actor, its children, the model-worker pool and the typed handles.
//! - [`challenge`] — choosing a session's steps at random from a scene's pool.
//! - [`flash`] — the colour-flash step: the random sequence, and its state machine over tagged
//!   frames (the decision is `livegate_models::flash`).
//! - [`tenant`] — the tenant manager: admits sessions within each tenant's limits.
//! - [`synthetic`] — synthetic observations for tests.
//!
//! # Supervision tree
//! ```text
//! ModelPool (one per node, shared by all sessions)        SessionActor (one per session)
//! ├── ModelWorker 1  (FaceEngine + IdentityEngine)        ├── FrameDecoder   restart on failure
//! ├── ModelWorker …  replaced on failure                  └── QualityCheck   restart on failure
//! └── ModelWorker N  (N = cores)                          (more than 3 restarts: the session
//!     queue bounded; full: the job is refused              ends with engine_failure)
//! ```
//!
//! # Data flow of one frame
//! ```text
//! SessionHandle::send_frame(t, jpeg)
//!   -> SessionActor: one frame in the pipeline, one waiting; a newer frame replaces the
//!      waiting one (counted, reported as `frames_dropped`)
//!   -> FrameDecoder (spawn_blocking: JPEG -> RgbImage)
//!   -> QualityCheck (uniform frame -> "no face" without a model call)
//!   -> ModelPool -> a free ModelWorker (spawn_blocking: FaceEngine::analyze, with the session's
//!      TrackState lent for the frame and its AnalysisNeeds)
//!   -> SessionLogic::on_frame -> events to subscribers (prompts, steps, progress, actions)
//!   -> now and then ModelPool -> IdentityEngine::embed -> SessionLogic::on_embedding
//! ```
//! Every stage has a timeout; every call to an actor has a timeout; a panicking engine costs one
//! frame (`WorkerLost`) and one worker restart, not the session.

#![warn(missing_docs)]

pub mod actions;
pub mod actor;
pub mod budget;
pub mod challenge;
pub mod continuity;
pub mod evidence;
pub mod flash;
pub mod injection;
pub mod observe;
pub mod prompts;
pub mod quality_gate;
pub mod session;
pub mod synthetic;
pub mod tenant;
pub mod thresholds;
