//! The job scheduler over a real store (both backends), on a clock moved by hand: when a job is
//! due, that one node at a time runs it, and what a run records.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use livegate::jobs::{
    JobDef, JobFailure, JobTask, ManualClock, RunLog, RunNowError, Scheduler, SchedulerParts,
};
use livegate::store::system::{LeaseRequest, NewJobRun, RunStatus, RunTrigger, ABANDONED_MARK};

use super::*;

crate::conformance!(
    a_job_runs_when_due_once_per_slot_and_is_scheduled_again,
    two_schedulers_never_run_a_job_at_once,
    a_run_now_asked_of_two_nodes_runs_once,
    failures_and_panics_are_recorded_as_failed_runs,
    a_run_left_by_a_dead_node_is_failed_when_the_lease_runs_out,
);

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

/// How a test job behaves.
#[derive(Clone, Copy)]
enum Behaviour {
    Succeed,
    Fail,
    Panic,
}

/// A job that counts its runs and the most of them ever in flight at once.
struct Counter {
    def: JobDef,
    behaviour: Behaviour,
    work: Duration,
    runs: AtomicUsize,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl Counter {
    fn new(behaviour: Behaviour, work: Duration) -> Arc<Self> {
        Arc::new(Self {
            def: JobDef {
                code: "counter",
                name_zh: "计数",
                name_en: "Counter",
                description_zh: "测试",
                description_en: "test",
                default_cron: "*/5 * * * *",
                enabled_by_default: true,
            },
            behaviour,
            work,
            runs: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl JobTask for Counter {
    fn def(&self) -> &JobDef {
        &self.def
    }

    async fn run(&self, log: &mut RunLog) -> Result<(), JobFailure> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let n = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(self.work).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        log.line(format!("run {n} counted"));
        match self.behaviour {
            Behaviour::Succeed => Ok(()),
            Behaviour::Fail => Err(JobFailure("the disk is full".into())),
            Behaviour::Panic => panic!("a bug in the job"),
        }
    }
}

fn scheduler(
    store: &Arc<dyn Store>,
    node: &str,
    task: &Arc<Counter>,
    clock: &Arc<ManualClock>,
) -> Scheduler {
    let task: Arc<dyn JobTask> = Arc::clone(task) as Arc<dyn JobTask>;
    Scheduler::new(SchedulerParts {
        store: Arc::clone(store),
        node: node.into(),
        tasks: vec![task],
        clock: Arc::clone(clock) as Arc<dyn livegate::jobs::Clock>,
    })
}

async fn a_job_runs_when_due_once_per_slot_and_is_scheduled_again(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let clock = Arc::new(ManualClock::new(at("2026-11-25T12:01:30Z")));
    let task = Counter::new(Behaviour::Succeed, Duration::ZERO);
    let node = scheduler(&store, "node-a", &task, &clock);
    node.seed().await.expect("seed");
    let job = store.job("counter").await.expect("seeded");
    assert_eq!(job.next_run_at, Some(at("2026-11-25T12:05:00Z")));

    clock.set(at("2026-11-25T12:04:59Z"));
    assert!(
        node.run_due().await.expect("tick").is_empty(),
        "not due yet"
    );

    clock.set(at("2026-11-25T12:05:02Z"));
    let runs = node.run_due().await.expect("tick");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(
        (run.status, run.trigger, run.node.as_str()),
        (RunStatus::Ok, RunTrigger::Schedule, "node-a")
    );
    assert!(run.log.contains("run 1 counted"), "{}", run.log);
    let job = store.job("counter").await.expect("job");
    assert_eq!(job.next_run_at, Some(at("2026-11-25T12:10:00Z")));
    assert_eq!(job.last_status, Some(RunStatus::Ok));
    assert_eq!(job.locked_by, None, "released");

    // The same slot never runs twice; a node down for a while runs a missed slot once.
    assert!(node.run_due().await.expect("tick").is_empty());
    clock.set(at("2026-11-25T12:31:00Z"));
    assert_eq!(node.run_due().await.expect("tick").len(), 1);
    assert_eq!(
        store.job("counter").await.expect("job").next_run_at,
        Some(at("2026-11-25T12:35:00Z"))
    );
    assert_eq!(task.runs.load(Ordering::SeqCst), 2);
}

async fn two_schedulers_never_run_a_job_at_once(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let clock = Arc::new(ManualClock::new(at("2026-11-25T12:00:30Z")));
    let task = Counter::new(Behaviour::Succeed, Duration::from_millis(150));
    let a = scheduler(&store, "node-a", &task, &clock);
    let b = scheduler(&store, "node-b", &task, &clock);
    let (seed_a, seed_b) = tokio::join!(a.seed(), b.seed());
    seed_a.expect("seed a");
    seed_b.expect("seed b");
    let slots = 6;
    let mut nodes = Vec::new();
    for slot in 0..slots {
        clock.set(at("2026-11-25T12:05:00Z") + chrono::Duration::minutes(5 * slot));
        // Both nodes tick at the same moment, twice each.
        let (ra, rb, ra2, rb2) = tokio::join!(a.run_due(), b.run_due(), a.run_due(), b.run_due());
        for runs in [ra, rb, ra2, rb2] {
            nodes.extend(runs.expect("tick").into_iter().map(|r| r.node));
        }
    }
    assert_eq!(
        task.runs.load(Ordering::SeqCst),
        slots as usize,
        "one run a slot"
    );
    assert_eq!(
        task.most_in_flight.load(Ordering::SeqCst),
        1,
        "never two at once"
    );
    assert_eq!(nodes.len(), slots as usize);
    let (_, total) = store
        .job_runs("counter", Page::first(50))
        .await
        .expect("runs");
    assert_eq!(total, slots as u64);
}

async fn a_run_now_asked_of_two_nodes_runs_once(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let clock = Arc::new(ManualClock::new(at("2026-11-25T12:00:30Z")));
    let task = Counter::new(Behaviour::Succeed, Duration::from_millis(300));
    let a = scheduler(&store, "node-a", &task, &clock);
    let b = scheduler(&store, "node-b", &task, &clock);
    a.seed().await.expect("seed");
    let (ra, rb) = tokio::join!(a.run_now("counter", "ops"), b.run_now("counter", "root"));
    let (started, refused) = match (ra, rb) {
        (Ok(started), Err(refused)) | (Err(refused), Ok(started)) => (started, refused),
        (Ok(_), Ok(_)) => panic!("both nodes ran it"),
        (Err(a), Err(b)) => panic!("neither ran it: {a} / {b}"),
    };
    let (run, handle) = started;
    assert_eq!(
        (run.status, run.trigger),
        (RunStatus::Running, RunTrigger::Manual)
    );
    match refused {
        RunNowError::Running { node, .. } => assert_eq!(node, run.node),
        other => panic!("unexpected refusal {other:?}"),
    }
    let finished = handle.await.expect("task").expect("finished");
    assert_eq!(finished.id, run.id);
    assert_eq!(finished.status, RunStatus::Ok);
    assert_eq!(task.runs.load(Ordering::SeqCst), 1);
    // The schedule is untouched, and the job is free again.
    let job = store.job("counter").await.expect("job");
    assert_eq!(job.next_run_at, Some(at("2026-11-25T12:05:00Z")));
    assert_eq!(job.locked_by, None);
    assert!(a.run_now("counter", "ops").await.is_ok());
    assert!(matches!(
        a.run_now("nope", "ops").await,
        Err(RunNowError::UnknownJob)
    ));
}

async fn failures_and_panics_are_recorded_as_failed_runs(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let clock = Arc::new(ManualClock::new(at("2026-11-25T12:00:30Z")));
    for (behaviour, expected) in [
        (Behaviour::Fail, "failed: the disk is full"),
        (Behaviour::Panic, "the job stopped abnormally: panic"),
    ] {
        let task = Counter::new(behaviour, Duration::ZERO);
        let node = scheduler(&store, "node-a", &task, &clock);
        node.seed().await.expect("seed");
        let (_, handle) = node.run_now("counter", "ops").await.expect("run now");
        let run = handle.await.expect("task").expect("finished");
        assert_eq!(run.status, RunStatus::Failed);
        assert!(run.log.contains(expected), "{}", run.log);
        let job = store.job("counter").await.expect("job");
        assert_eq!(
            (job.last_status, job.locked_by),
            (Some(RunStatus::Failed), None)
        );
    }
}

async fn a_run_left_by_a_dead_node_is_failed_when_the_lease_runs_out(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let clock = Arc::new(ManualClock::new(at("2026-11-25T12:04:00Z")));
    let task = Counter::new(Behaviour::Succeed, Duration::ZERO);
    let survivor = scheduler(&store, "node-b", &task, &clock);
    survivor.seed().await.expect("seed");
    // node-a takes the 12:05 slot and dies mid-run: its lease and its run are left behind.
    let due = at("2026-11-25T12:05:00Z");
    store
        .lease_job(
            "counter",
            &LeaseRequest {
                node: "node-a".into(),
                now: due,
                until: due + chrono::Duration::seconds(60),
                due_only: true,
                next_run_at: Some(at("2026-11-25T12:10:00Z")),
            },
        )
        .await
        .expect("lease")
        .expect("taken");
    let dead = store
        .start_job_run(&NewJobRun {
            job_code: "counter".into(),
            trigger: RunTrigger::Schedule,
            requested_by: None,
            node: "node-a".into(),
            started_at: due,
        })
        .await
        .expect("start");
    clock.set(at("2026-11-25T12:05:30Z"));
    assert!(matches!(
        survivor.run_now("counter", "ops").await,
        Err(RunNowError::Running { node, .. }) if node == "node-a"
    ));
    clock.set(at("2026-11-25T12:10:00Z"));
    let runs = survivor.run_due().await.expect("tick");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].node, "node-b");
    let (all, total) = store
        .job_runs("counter", Page::first(10))
        .await
        .expect("runs");
    assert_eq!(total, 2);
    let old = all.iter().find(|r| r.id == dead.id).expect("dead run");
    assert_eq!(old.status, RunStatus::Failed);
    assert!(old.log.ends_with(ABANDONED_MARK));
}
