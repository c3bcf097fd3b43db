//! The model-worker pool: N workers (one per core), each owning one face engine and one identity
//! engine, behind a router with a bounded queue.
//!
//! Any worker serves any session: the session's `TrackState` travels with the job. Each worker
//! keeps its engines on an OS thread of its own, so inference never holds an executor thread.
//! The pool supervises its workers: a worker whose engine panics or fails is replaced by a new
//! one (and a new thread) built by the same factory; the job it held is answered with
//! `WorkerLost` (its reply channel is dropped) and the session carries on with its next frame.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use image::RgbImage;
use livegate_models::compare::{CompareError, FaceComparator, ImageRole};
use livegate_models::{
    AnalysisNeeds, Embedding, EngineError, FaceEngine, FaceObservation, FrameAnalysis,
    IdentityEngine, TrackState,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::sync::oneshot;

/// Builds one worker's engines; called once per worker start and restart.
pub type EngineFactory = Arc<
    dyn Fn() -> Result<(Box<dyn FaceEngine>, Box<dyn IdentityEngine>), EngineError> + Send + Sync,
>;

/// Why a job got no answer from an engine.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The pool's queue is full: the frame is dropped.
    #[error("model pool is overloaded: queue of {capacity} jobs is full")]
    Overloaded {
        /// The queue's capacity.
        capacity: usize,
    },
    /// No worker could be started (every engine factory call failed).
    #[error("model pool has no worker")]
    NoWorker,
    /// The worker died (panicked) while holding the job.
    #[error("model worker was lost while analysing the frame")]
    WorkerLost,
    /// The answer did not come in time.
    #[error("model worker did not answer within {0:?}")]
    Timeout(Duration),
    /// The engine refused the frame.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// A frame analysed, with the session's track as the engine left it.
#[derive(Debug)]
pub struct Analysed {
    /// The engine's answer.
    pub analysis: FrameAnalysis,
    /// The track to lend with the session's next frame.
    pub track: TrackState,
}

/// Work for a model worker.
pub enum Job {
    /// Analyse a frame.
    Analyze {
        /// The decoded frame.
        frame: Arc<RgbImage>,
        /// Capture time, seconds from the session's start.
        t: f64,
        /// The session's track, lent for this frame.
        track: TrackState,
        /// What to compute.
        needs: AnalysisNeeds,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Analysed, JobError>>,
    },
    /// Embed the main face of a frame.
    Embed {
        /// The decoded frame.
        frame: Arc<RgbImage>,
        /// The face to embed.
        face: Box<FaceObservation>,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Option<Embedding>, JobError>>,
    },
    /// Find the one face of a still image and embed it (a 1:1 compare's reference or best
    /// frame): the detector runs on the image alone.
    EmbedPortrait {
        /// The decoded image.
        image: Arc<RgbImage>,
        /// Which image it is, for the error.
        role: ImageRole,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Embedding, PortraitError>>,
    },
}

/// Why a still image gave no embedding.
#[derive(Debug, thiserror::Error)]
pub enum PortraitError {
    /// The image holds no face to compare, several, or one too small or cut off.
    #[error(transparent)]
    Face(CompareError),
    /// The pool could not run the job.
    #[error(transparent)]
    Job(#[from] JobError),
}

impl Job {
    fn reject(self, err: JobError) {
        // The session may be gone already; nobody else wants the answer.
        match self {
            Job::Analyze { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            Job::Embed { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            Job::EmbedPortrait { reply, .. } => {
                let _ = reply.send(Err(PortraitError::Job(err)));
            }
        }
    }
}

/// The pool's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Workers alive.
    pub workers: usize,
    /// Workers waiting for a job.
    pub idle: usize,
    /// Jobs waiting for a worker.
    pub queued: usize,
    /// Most jobs ever waiting at once.
    pub queued_max: usize,
    /// Jobs refused because the queue was full.
    pub rejected: u64,
    /// Workers replaced after a failure.
    pub restarts: u64,
    /// Jobs done.
    pub done: u64,
    /// Median time a worker took over a job, over the last [`LATENCY_WINDOW`] jobs (any kind:
    /// a frame's analysis, an embedding); `None` before the first.
    pub p50: Option<Duration>,
    /// 95th percentile of the same.
    pub p95: Option<Duration>,
}

/// How many recent jobs the latency figures of [`PoolStats`] cover.
pub const LATENCY_WINDOW: usize = 256;

/// The `q` quantile (0..=1) of `samples`, nearest rank; `None` when empty.
fn quantile(samples: &VecDeque<Duration>, q: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted: Vec<Duration> = samples.iter().copied().collect();
    sorted.sort_unstable();
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Pool size and queue bound.
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    /// Number of workers (engines loaded at once).
    pub workers: usize,
    /// Most jobs waiting for a worker; more are refused with `Overloaded`.
    pub queue_capacity: usize,
}

impl Default for PoolConfig {
    /// One worker per core, a queue of 16 jobs per worker.
    fn default() -> Self {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            workers,
            queue_capacity: 16 * workers,
        }
    }
}

/// Messages of the pool actor.
pub enum PoolMsg {
    /// Queue a job (or refuse it).
    Submit(Job),
    /// A worker finished its job, which took it this long.
    Idle(ActorRef<WorkerMsg>, Duration),
    /// Report the counters.
    Stats(RpcReplyPort<PoolStats>),
}

/// Messages of a worker actor.
pub enum WorkerMsg {
    /// Run this job.
    Run(Job),
}

/// Why the pool could not start.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The pool actor failed to spawn.
    #[error("model pool failed to start: {0}")]
    Spawn(String),
    /// The pool does not answer.
    #[error("model pool is not answering: {0}")]
    Unavailable(String),
}

/// A cloneable handle on the model pool.
#[derive(Clone)]
pub struct PoolHandle {
    actor: ActorRef<PoolMsg>,
}

/// How long a stats call may take.
const STATS_TIMEOUT: Duration = Duration::from_secs(2);

impl PoolHandle {
    /// Start a pool whose workers get their engines from `factory`.
    pub async fn start(factory: EngineFactory, config: PoolConfig) -> Result<Self, PoolError> {
        let (actor, _join) = Actor::spawn(None, ModelPool, (factory, config))
            .await
            .map_err(|e| PoolError::Spawn(e.to_string()))?;
        Ok(Self { actor })
    }

    /// The embedding of the one face of a still image, computed by a worker.
    pub async fn embed_portrait(
        &self,
        image: Arc<RgbImage>,
        role: ImageRole,
    ) -> Result<Embedding, PortraitError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::EmbedPortrait { image, role, reply });
        answer.await.map_err(|_| JobError::WorkerLost)?
    }

    /// Queue a job; its answer comes through the job's reply channel (a refusal too).
    pub fn submit(&self, job: Job) {
        if let Err(ractor::MessagingErr::SendErr(PoolMsg::Submit(job))) =
            self.actor.send_message(PoolMsg::Submit(job))
        {
            job.reject(JobError::NoWorker);
        }
    }

    /// The pool's counters.
    pub async fn stats(&self) -> Result<PoolStats, PoolError> {
        ractor::call_t!(self.actor, PoolMsg::Stats, STATS_TIMEOUT.as_millis() as u64)
            .map_err(|e| PoolError::Unavailable(e.to_string()))
    }

    /// Stop the pool and its workers, and wait for them.
    pub async fn stop(&self) {
        let _ = self
            .actor
            .stop_and_wait(None, Some(Duration::from_secs(10)))
            .await;
    }

    /// The pool actor (for supervision trees and liveness checks).
    pub fn actor(&self) -> &ActorRef<PoolMsg> {
        &self.actor
    }
}

/// The router and supervisor of the model workers.
pub struct ModelPool;

/// The pool's state.
pub struct PoolState {
    factory: EngineFactory,
    config: PoolConfig,
    /// Live workers with their numbers (a replacement takes the number of the one it replaces).
    workers: Vec<(ActorRef<WorkerMsg>, usize)>,
    idle: VecDeque<ActorRef<WorkerMsg>>,
    queue: VecDeque<Job>,
    stats: PoolStats,
    /// How long the last jobs took, oldest first (at most [`LATENCY_WINDOW`]).
    recent: VecDeque<Duration>,
}

impl PoolState {
    fn dispatch(&mut self) {
        while let Some(worker) = self.idle.pop_front() {
            let Some(job) = self.queue.pop_front() else {
                self.idle.push_front(worker);
                return;
            };
            if let Err(ractor::MessagingErr::SendErr(WorkerMsg::Run(job))) =
                worker.send_message(WorkerMsg::Run(job))
            {
                // The worker is dying; its replacement will come through supervision.
                self.queue.push_front(job);
            }
        }
    }

    fn counters(&self) -> PoolStats {
        PoolStats {
            workers: self.workers.len(),
            idle: self.idle.len(),
            queued: self.queue.len(),
            p50: quantile(&self.recent, 0.50),
            p95: quantile(&self.recent, 0.95),
            ..self.stats
        }
    }
}

async fn spawn_worker(
    pool: &ActorRef<PoolMsg>,
    factory: &EngineFactory,
    index: usize,
) -> Result<ActorRef<WorkerMsg>, ActorProcessingErr> {
    let (worker, _join) = Actor::spawn_linked(
        None,
        ModelWorker,
        (factory.clone(), pool.clone(), index),
        pool.get_cell(),
    )
    .await?;
    Ok(worker)
}

#[ractor::async_trait]
impl Actor for ModelPool {
    type Msg = PoolMsg;
    type State = PoolState;
    type Arguments = (EngineFactory, PoolConfig);

    async fn pre_start(
        &self,
        myself: ActorRef<PoolMsg>,
        (factory, config): (EngineFactory, PoolConfig),
    ) -> Result<PoolState, ActorProcessingErr> {
        let mut state = PoolState {
            factory,
            config,
            workers: Vec::new(),
            idle: VecDeque::new(),
            queue: VecDeque::new(),
            stats: PoolStats::default(),
            recent: VecDeque::with_capacity(LATENCY_WINDOW),
        };
        for index in 0..config.workers.max(1) {
            match spawn_worker(&myself, &state.factory, index).await {
                Ok(w) => {
                    state.workers.push((w.clone(), index));
                    state.idle.push_back(w);
                }
                Err(e) => tracing::error!(error = %e, "model worker failed to start"),
            }
        }
        if state.workers.is_empty() {
            return Err("no model worker could start".into());
        }
        Ok(state)
    }

    async fn post_stop(
        &self,
        myself: ActorRef<PoolMsg>,
        state: &mut PoolState,
    ) -> Result<(), ActorProcessingErr> {
        for job in state.queue.drain(..) {
            job.reject(JobError::NoWorker);
        }
        myself
            .stop_children_and_wait(None, Some(Duration::from_secs(10)))
            .await;
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<PoolMsg>,
        msg: PoolMsg,
        state: &mut PoolState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PoolMsg::Submit(job) => {
                if state.workers.is_empty() {
                    job.reject(JobError::NoWorker);
                } else if state.queue.len() >= state.config.queue_capacity && state.idle.is_empty()
                {
                    state.stats.rejected += 1;
                    job.reject(JobError::Overloaded {
                        capacity: state.config.queue_capacity,
                    });
                } else {
                    state.queue.push_back(job);
                    state.stats.queued_max = state.stats.queued_max.max(state.queue.len());
                    state.dispatch();
                }
            }
            PoolMsg::Idle(worker, took) => {
                state.stats.done += 1;
                if state.recent.len() == LATENCY_WINDOW {
                    state.recent.pop_front();
                }
                state.recent.push_back(took);
                if state
                    .workers
                    .iter()
                    .any(|(w, _)| w.get_id() == worker.get_id())
                {
                    state.idle.push_back(worker);
                }
                state.dispatch();
            }
            PoolMsg::Stats(reply) => {
                let _ = reply.send(state.counters());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<PoolMsg>,
        evt: SupervisionEvent,
        state: &mut PoolState,
    ) -> Result<(), ActorProcessingErr> {
        // Policy: a worker that fails or stops on its own is replaced at once; if its
        // replacement cannot start (models unloadable) the pool runs on with fewer workers.
        let (cell, why) = match evt {
            SupervisionEvent::ActorFailed(cell, err) => (cell, err.to_string()),
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, reason.unwrap_or_else(|| "stopped".to_owned()))
            }
            _ => return Ok(()),
        };
        let id = cell.get_id();
        let Some(lost) = state.workers.iter().position(|(w, _)| w.get_id() == id) else {
            return Ok(());
        };
        let (_, index) = state.workers.remove(lost);
        state.idle.retain(|w| w.get_id() != id);
        tracing::warn!(worker = %id, reason = %why, "model worker lost, replacing it");
        state.stats.restarts += 1;
        match spawn_worker(&myself, &state.factory, index).await {
            Ok(w) => {
                state.workers.push((w.clone(), index));
                state.idle.push_back(w);
                state.dispatch();
            }
            Err(e) => {
                tracing::error!(error = %e, "model worker could not be replaced");
                if state.workers.is_empty() {
                    for job in state.queue.drain(..) {
                        job.reject(JobError::NoWorker);
                    }
                }
            }
        }
        Ok(())
    }
}

/// One model worker: owns one face engine and one identity engine, on a thread of their own.
///
/// The engines live on one long-lived OS thread named `model-worker-N`, not on whichever
/// blocking thread is free: inference never waits for the blocking pool, and the engines' CPU
/// can be told apart from the rest of the server's (the load test reports it,
/// `docs/performance.md`).
pub struct ModelWorker;

/// A worker's engines, owned by its thread.
struct Engines {
    face: Box<dyn FaceEngine>,
    identity: Box<dyn IdentityEngine>,
}

/// One job as its engine thread runs it: the engines go in and come back out.
type EngineTask = Box<dyn FnOnce(Engines) -> Engines + Send>;

/// A worker's way to its engine thread.
pub struct WorkerState {
    /// `None` once the worker has stopped and let its thread end.
    tasks: Option<std::sync::mpsc::Sender<EngineTask>>,
    thread: Option<std::thread::JoinHandle<()>>,
    pool: ActorRef<PoolMsg>,
}

/// A worker's engine thread, once its engines are loaded.
struct EngineThread {
    tasks: std::sync::mpsc::Sender<EngineTask>,
    thread: std::thread::JoinHandle<()>,
}

/// Starts a worker's engine thread and waits until its engines are loaded.
async fn start_engine_thread(
    factory: EngineFactory,
    index: usize,
) -> Result<EngineThread, ActorProcessingErr> {
    let (tasks, inbox) = std::sync::mpsc::channel::<EngineTask>();
    let (ready, loaded) = oneshot::channel::<Result<(), EngineError>>();
    let thread = std::thread::Builder::new()
        .name(format!("model-worker-{index}"))
        .spawn(move || {
            let mut engines = match factory() {
                Ok((face, identity)) => {
                    let _ = ready.send(Ok(()));
                    Engines { face, identity }
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            // Ends when the worker drops its sender; a panicking task ends it too, and the
            // worker, seeing its task unanswered, fails and is replaced with a fresh thread.
            while let Ok(task) = inbox.recv() {
                engines = task(engines);
            }
        })?;
    loaded
        .await
        .map_err(|_| "model thread died while loading")??;
    Ok(EngineThread { tasks, thread })
}

#[ractor::async_trait]
impl Actor for ModelWorker {
    type Msg = WorkerMsg;
    type State = WorkerState;
    type Arguments = (EngineFactory, ActorRef<PoolMsg>, usize);

    async fn pre_start(
        &self,
        _myself: ActorRef<WorkerMsg>,
        (factory, pool, index): (EngineFactory, ActorRef<PoolMsg>, usize),
    ) -> Result<WorkerState, ActorProcessingErr> {
        let EngineThread { tasks, thread } = start_engine_thread(factory, index).await?;
        Ok(WorkerState {
            tasks: Some(tasks),
            thread: Some(thread),
            pool,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<WorkerMsg>,
        state: &mut WorkerState,
    ) -> Result<(), ActorProcessingErr> {
        // The thread ends once its sender is gone; waiting for it means the engines (and the
        // model runtime's objects) are freed before the pool reports itself stopped, never
        // while the process is already tearing the runtime's library down.
        state.tasks = None;
        if let Some(thread) = state.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<WorkerMsg>,
        WorkerMsg::Run(job): WorkerMsg,
        state: &mut WorkerState,
    ) -> Result<(), ActorProcessingErr> {
        let started = std::time::Instant::now();
        let (done, finished) = oneshot::channel::<()>();
        let task: EngineTask = match job {
            Job::Analyze {
                frame,
                t,
                mut track,
                needs,
                reply,
            } => Box::new(move |mut engines: Engines| {
                let result = engines.face.analyze(&frame, t, &mut track, needs);
                let _ = reply.send(
                    result
                        .map(|analysis| Analysed { analysis, track })
                        .map_err(JobError::from),
                );
                let _ = done.send(());
                engines
            }),
            Job::Embed { frame, face, reply } => Box::new(move |mut engines: Engines| {
                let _ = reply.send(
                    engines
                        .identity
                        .embed(&frame, &face)
                        .map_err(JobError::from),
                );
                let _ = done.send(());
                engines
            }),
            Job::EmbedPortrait { image, role, reply } => {
                Box::new(move |Engines { face, identity }: Engines| {
                    let mut comparator = FaceComparator::new(face, identity);
                    let result = comparator.embed_one(&image, role);
                    let _ = reply.send(result.map_err(|err| match err {
                        CompareError::Engine(e) => PortraitError::Job(JobError::Engine(e)),
                        face => PortraitError::Face(face),
                    }));
                    let _ = done.send(());
                    let (face, identity) = comparator.into_parts();
                    Engines { face, identity }
                })
            }
        };
        state
            .tasks
            .as_ref()
            .ok_or("model worker is stopping")?
            .send(task)
            .map_err(|_| "model thread is gone")?;
        // A panic in the engine drops `done` (and the job's reply, which the session reads as
        // WorkerLost): the worker fails and the pool replaces it.
        finished.await.map_err(|_| "model thread panicked")?;
        let _ = state
            .pool
            .send_message(PoolMsg::Idle(myself, started.elapsed()));
        Ok(())
    }
}
