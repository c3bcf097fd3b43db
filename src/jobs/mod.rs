//! Scheduled jobs (定时任务): a scheduler on every node, one row lease per job.
//!
//! What a job does is a [`JobTask`] in code (`builtin.rs`: session expiry, evidence purge,
//! callback retry, backup); when it runs is its row in the store (`store::system`: cron,
//! enabled, next due time), which operators change from the console. Every node runs a
//! [`Scheduler`]:
//!
//! ```text
//! Scheduler::spawn ─ seed (jobs this build knows, their default schedule) ─ every TICK:
//!   store.jobs() ─ enabled, due, lease free ─ lease_job(due_only, next due) ─┐
//!   run now (POST /jobs/{code}/run) ─ lease_job(whenever free) ─────────────┤
//!                                                                           ▼
//!   fail_abandoned_runs ─ start_job_run ─ task.run(log) (lease renewed every LEASE/3)
//!     ─ finish_job_run (status, log ≤ 64 KiB) ─ release_job ─ prune_job_runs (jobs.runs_keep)
//! ```
//!
//! The lease is taken by one conditional `UPDATE` and the next due time is written with it, so
//! of several nodes exactly one runs a due slot, and a run now asked of two nodes at once runs
//! once (the other is told the job is running). A node that dies mid-run leaves its lease to
//! run out (at most [`LEASE`]); its run is then marked failed and the job is due again. Cron
//! expressions are read in the `jobs.cron_utc_offset_min` zone (`schedule.rs`).

pub mod backup;
pub mod builtin;
pub mod schedule;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use tokio::task::JoinHandle;

pub use schedule::{Schedule, ScheduleError};

use crate::properties::SystemProperties;
use crate::store::callbacks::later;
use crate::store::system::{
    cap_log, JobRun, LeaseRequest, NewJob, NewJobRun, RunStatus, RunTrigger,
};
use crate::store::{now_micros, Store, StoreError};

/// How often a node looks for due jobs.
pub const TICK: Duration = Duration::from_secs(5);

/// How long a lease holds without renewal; a running job renews it every third of this.
pub const LEASE: Duration = Duration::from_secs(60);

/// Counter: job runs finished, by `job` and `status` (`ok`, `failed`).
pub const JOB_RUNS_TOTAL: &str = "livegate_job_runs_total";

/// What a job is: the code's side of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct JobDef {
    /// Its code (`evidence_purge`), the key of its row.
    pub code: &'static str,
    /// Name, zh-CN.
    pub name_zh: &'static str,
    /// Name, English.
    pub name_en: &'static str,
    /// What it does, zh-CN.
    pub description_zh: &'static str,
    /// What it does, English.
    pub description_en: &'static str,
    /// Its schedule on a fresh store.
    pub default_cron: &'static str,
    /// Whether the schedule runs it on a fresh store.
    pub enabled_by_default: bool,
}

/// Why a run failed: shown in its log and its status, so it names no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JobFailure(pub String);

/// What a run writes: timestamped lines, at most 64 KiB kept.
#[derive(Debug, Default, Clone)]
pub struct RunLog {
    text: String,
}

impl RunLog {
    /// Adds a line, prefixed with the UTC time.
    pub fn line(&mut self, line: impl AsRef<str>) {
        if self.text.len() > crate::store::system::MAX_RUN_LOG_BYTES {
            return;
        }
        let _ = writeln!(
            self.text,
            "{} {}",
            Utc::now().format("%H:%M:%S%.3f"),
            line.as_ref()
        );
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A job's work. A task never panics on bad data; an `Err` fails the run with its message.
#[async_trait]
pub trait JobTask: Send + Sync {
    /// What it is.
    fn def(&self) -> &JobDef;

    /// Does the work once, writing what it did to `log`.
    async fn run(&self, log: &mut RunLog) -> Result<(), JobFailure>;
}

/// Where the scheduler reads the time (a test moves it by hand).
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock, cut to microseconds (what both stores keep).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        now_micros()
    }
}

/// A clock that moves only when told (tests, simulations).
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves it to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }

    /// Moves it on by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a run now was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunNowError {
    /// This build has no job with that code.
    #[error("no such job")]
    UnknownJob,
    /// Another run holds the job (on this node or another).
    #[error("the job is running on {node} (lease until {until})")]
    Running {
        /// The node running it.
        node: String,
        /// Until when its lease holds.
        until: DateTime<Utc>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The parts a [`Scheduler`] is built from.
pub struct SchedulerParts {
    /// The store holding the schedule.
    pub store: Arc<dyn Store>,
    /// This node's name in leases and runs ([`node_name`]).
    pub node: String,
    /// The jobs this build runs.
    pub tasks: Vec<Arc<dyn JobTask>>,
    /// Where it reads the time.
    pub clock: Arc<dyn Clock>,
}

/// A node's scheduler. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    node: String,
    tasks: BTreeMap<&'static str, Arc<dyn JobTask>>,
    clock: Arc<dyn Clock>,
}

/// This node's name in leases and runs: host, process id and a random tag (two processes on
/// one host, or one restarted, never share a name).
pub fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "node".to_owned());
    let tag: u16 = rand::random();
    format!("{host}:{}:{tag:04x}", std::process::id())
}

impl Scheduler {
    /// A scheduler over its parts; starts nothing (see [`Scheduler::spawn`]).
    pub fn new(parts: SchedulerParts) -> Self {
        let tasks = parts.tasks.into_iter().map(|t| (t.def().code, t)).collect();
        Self {
            inner: Arc::new(Inner {
                store: parts.store,
                node: parts.node,
                tasks,
                clock: parts.clock,
            }),
        }
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// The jobs this build runs, by code.
    pub fn definitions(&self) -> impl Iterator<Item = &JobDef> {
        self.inner.tasks.values().map(|t| t.def())
    }

    /// The definition of a job this build runs.
    pub fn definition(&self, code: &str) -> Option<&JobDef> {
        self.inner.tasks.get(code).map(|t| t.def())
    }

    /// The zone cron expressions are read in now.
    pub async fn offset(&self) -> Result<FixedOffset, StoreError> {
        let props = SystemProperties::load(self.inner.store.as_ref()).await?;
        Ok(schedule::offset_from_minutes(
            props.int("jobs.cron_utc_offset_min"),
        ))
    }

    /// When `schedule` fires next after now (in the configured zone).
    pub async fn next_run(&self, schedule: &Schedule) -> Result<Option<DateTime<Utc>>, StoreError> {
        let offset = self.offset().await?;
        Ok(schedule.next_after(self.inner.clock.now(), offset))
    }

    /// Adds the rows of the jobs this build knows and the store lacks, with their default
    /// schedule; an operator's schedule is kept.
    pub async fn seed(&self) -> Result<(), StoreError> {
        let offset = self.offset().await?;
        let now = self.inner.clock.now();
        for task in self.inner.tasks.values() {
            let def = task.def();
            let next_run_at = match Schedule::parse(def.default_cron) {
                Ok(schedule) if def.enabled_by_default => schedule.next_after(now, offset),
                Ok(_) => None,
                Err(err) => {
                    // A build's own default: a bug, caught by the unit test on the defaults.
                    tracing::error!(job = def.code, error = %err, "default cron does not parse");
                    None
                }
            };
            self.inner
                .store
                .ensure_job(&NewJob {
                    code: def.code.to_owned(),
                    cron: def.default_cron.to_owned(),
                    enabled: def.enabled_by_default,
                    next_run_at,
                })
                .await?;
        }
        Ok(())
    }

    /// Leases the jobs due now and starts each in a task of its own; returns their handles
    /// (each ends with the finished run, or `None` when the store failed around it).
    pub async fn tick(&self) -> Result<Vec<JoinHandle<Option<JobRun>>>, StoreError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let jobs = inner.store.jobs().await?;
        let mut started = Vec::new();
        let mut offset = None;
        for job in jobs {
            let Some(task) = inner.tasks.get(job.code.as_str()) else {
                continue;
            };
            let due = job.enabled && job.next_run_at.is_some_and(|at| at <= now);
            let free = job.locked_until.is_none_or(|until| until <= now);
            if !due || !free {
                continue;
            }
            let schedule = match Schedule::parse(&job.cron) {
                Ok(schedule) => schedule,
                Err(err) => {
                    tracing::warn!(job = %job.code, error = %err, "stored cron does not parse");
                    continue;
                }
            };
            let offset = match offset {
                Some(offset) => offset,
                None => *offset.insert(self.offset().await?),
            };
            let request = LeaseRequest {
                node: inner.node.clone(),
                now,
                until: later(now, LEASE),
                due_only: true,
                next_run_at: schedule.next_after(now, offset),
            };
            if inner.store.lease_job(&job.code, &request).await?.is_some() {
                let run = NewJobRun {
                    job_code: job.code.clone(),
                    trigger: RunTrigger::Schedule,
                    requested_by: None,
                    node: inner.node.clone(),
                    started_at: now,
                };
                let this = self.clone();
                let task = Arc::clone(task);
                started.push(tokio::spawn(async move {
                    let run = this.start_run(&run).await?;
                    this.execute(task, run).await
                }));
            }
        }
        Ok(started)
    }

    /// [`Scheduler::tick`], then waits for the runs it started; returns them.
    pub async fn run_due(&self) -> Result<Vec<JobRun>, StoreError> {
        let mut runs = Vec::new();
        for handle in self.tick().await? {
            if let Ok(Some(run)) = handle.await {
                runs.push(run);
            }
        }
        Ok(runs)
    }

    /// Runs a job now, once, whatever its schedule: takes its lease if it is free, records the
    /// run and starts it; returns the run as started (`running`). The job's next due time is
    /// left as it is.
    pub async fn run_now(
        &self,
        code: &str,
        requested_by: &str,
    ) -> Result<(JobRun, JoinHandle<Option<JobRun>>), RunNowError> {
        let inner = &self.inner;
        let task = inner.tasks.get(code).ok_or(RunNowError::UnknownJob)?;
        let now = inner.clock.now();
        let request = LeaseRequest {
            node: inner.node.clone(),
            now,
            until: later(now, LEASE),
            due_only: false,
            next_run_at: None,
        };
        match inner.store.lease_job(code, &request).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                let job = inner.store.job(code).await?;
                return Err(RunNowError::Running {
                    node: job.locked_by.unwrap_or_default(),
                    until: job.locked_until.unwrap_or(now),
                });
            }
            Err(StoreError::NotFound { .. }) => return Err(RunNowError::UnknownJob),
            Err(err) => return Err(err.into()),
        }
        let new = NewJobRun {
            job_code: code.to_owned(),
            trigger: RunTrigger::Manual,
            requested_by: Some(requested_by.to_owned()),
            node: inner.node.clone(),
            started_at: now,
        };
        let Some(run) = self.start_run(&new).await else {
            return Err(RunNowError::Store(StoreError::Unavailable(
                "cannot record the run".into(),
            )));
        };
        let this = self.clone();
        let task = Arc::clone(task);
        let started = run.clone();
        Ok((
            run,
            tokio::spawn(async move { this.execute(task, started).await }),
        ))
    }

    /// Marks the job's abandoned runs failed and records this one; on failure gives the lease
    /// back so the job is not held for a run that never started.
    async fn start_run(&self, new: &NewJobRun) -> Option<JobRun> {
        let store = &self.inner.store;
        let started = async {
            let abandoned = store.fail_abandoned_runs(&new.job_code, new.started_at).await?;
            if abandoned > 0 {
                tracing::warn!(job = %new.job_code, abandoned, "runs of a node that went away marked failed");
            }
            store.start_job_run(new).await
        }
        .await;
        match started {
            Ok(run) => Some(run),
            Err(err) => {
                tracing::warn!(job = %new.job_code, error = %err, "cannot record a job run");
                let _ = store
                    .release_job(
                        &new.job_code,
                        &self.inner.node,
                        new.started_at,
                        RunStatus::Failed,
                    )
                    .await;
                None
            }
        }
    }

    /// Runs the task under the lease (renewing it), then records how it went and releases it.
    async fn execute(&self, task: Arc<dyn JobTask>, run: JobRun) -> Option<JobRun> {
        let inner = &self.inner;
        let code = run.job_code.clone();
        tracing::info!(job = %code, run = %run.id, trigger = run.trigger.as_str(), "job started");
        // The task runs in a task of its own, so a panic fails the run instead of the node.
        let mut work = tokio::spawn(async move {
            let mut log = RunLog::default();
            let outcome = task.run(&mut log).await;
            (log, outcome)
        });
        let mut renew = tokio::time::interval(LEASE / 3);
        renew.tick().await;
        let joined = loop {
            tokio::select! {
                joined = &mut work => break joined,
                _ = renew.tick() => {
                    let until = later(inner.clock.now(), LEASE);
                    match inner.store.renew_job_lease(&code, &inner.node, until).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(job = %code, "job lease lost while running"),
                        Err(err) => tracing::warn!(job = %code, error = %err, "cannot renew a job lease"),
                    }
                }
            }
        };
        let (status, log) = match joined {
            Ok((log, Ok(()))) => (RunStatus::Ok, log.as_str().to_owned()),
            Ok((mut log, Err(failure))) => {
                log.line(format!("failed: {failure}"));
                (RunStatus::Failed, log.as_str().to_owned())
            }
            Err(err) => (
                RunStatus::Failed,
                format!(
                    "the job stopped abnormally: {}",
                    if err.is_panic() { "panic" } else { "cancelled" }
                ),
            ),
        };
        let finished_at = inner.clock.now().max(run.started_at);
        metrics::counter!(JOB_RUNS_TOTAL, "job" => code.clone(), "status" => status.as_str())
            .increment(1);
        tracing::info!(job = %code, run = %run.id, status = status.as_str(), "job finished");
        let finished = match inner
            .store
            .finish_job_run(run.id, finished_at, status, &cap_log(&log))
            .await
        {
            Ok(finished) => Some(finished),
            Err(err) => {
                tracing::warn!(job = %code, error = %err, "cannot record a job run's end");
                None
            }
        };
        if let Err(err) = inner
            .store
            .release_job(&code, &inner.node, run.started_at, status)
            .await
        {
            // The lease runs out by itself.
            tracing::warn!(job = %code, error = %err, "cannot release a job lease");
        }
        self.prune(&code).await;
        finished
    }

    async fn prune(&self, code: &str) {
        let store = self.inner.store.as_ref();
        let keep = match SystemProperties::load(store).await {
            Ok(props) => props.int("jobs.runs_keep"),
            Err(_) => return,
        };
        if let Err(err) = store
            .prune_job_runs(code, u32::try_from(keep).unwrap_or(u32::MAX))
            .await
        {
            tracing::debug!(job = %code, error = %err, "cannot prune job runs");
        }
    }

    /// Seeds the schedule, then looks for due jobs every [`TICK`] until `shutdown` resolves.
    /// Runs in flight when it stops finish on their own (their lease runs out otherwise).
    pub fn spawn(self, shutdown: impl Future<Output = ()> + Send + 'static) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut shutdown = std::pin::pin!(shutdown);
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut seeded = false;
            loop {
                tokio::select! {
                    () = &mut shutdown => return,
                    _ = tick.tick() => {
                        if !seeded {
                            match self.seed().await {
                                Ok(()) => seeded = true,
                                Err(err) => {
                                    tracing::warn!(error = %err, "cannot seed the job schedule");
                                    continue;
                                }
                            }
                        }
                        if let Err(err) = self.tick().await {
                            tracing::warn!(error = %err, "cannot look for due jobs");
                        }
                    }
                }
            }
        })
    }
}

/// Describes the job metrics.
pub fn describe_metrics() {
    metrics::describe_counter!(
        JOB_RUNS_TOTAL,
        metrics::Unit::Count,
        "scheduled job runs finished, by job and status"
    );
}
