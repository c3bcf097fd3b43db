//! How sessions are started: a closed loop (N clients, each starting its next session when the
//! last ends) or an open loop (a fixed rate of new sessions, never more than a bound in flight).
//! Sessions start only inside the window; those still running at its end are given the drain
//! time to finish, then abandoned and counted.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How hard to push.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// This many clients, each running sessions back to back.
    Concurrency(usize),
    /// New sessions a second, at most `max_in_flight` running; a start that would pass the
    /// bound is skipped and counted as shed.
    Rate {
        /// New sessions a second.
        per_second: f64,
        /// Sessions running at once, at most.
        max_in_flight: usize,
    },
}

/// A run: the load, how long sessions start, and how long the last ones may take to end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// How hard.
    pub load: Load,
    /// Sessions start during this long.
    pub window: Duration,
    /// After the window, running sessions get this long to end.
    pub drain: Duration,
}

/// One session that ended, with when (from the start of the run).
#[derive(Debug, Clone)]
pub struct Finished<T> {
    /// When it started.
    pub started_at: Duration,
    /// When it ended.
    pub finished_at: Duration,
    /// What it measured.
    pub outcome: T,
}

/// Everything a run did.
#[derive(Debug, Clone)]
pub struct Driven<T> {
    /// The sessions that ended, in the order they ended.
    pub finished: Vec<Finished<T>>,
    /// Sessions started.
    pub started: u64,
    /// Starts skipped because `max_in_flight` were running (open loop only).
    pub shed: u64,
    /// Sessions still running when the drain ran out (abandoned).
    pub unfinished: u64,
    /// From the first start to the end of the drain (or the last session's end).
    pub elapsed: Duration,
}

/// Runs `session(n)` for n = 0, 1, ... as the plan says and collects what each returned.
pub async fn drive<F, Fut, T>(plan: Plan, session: F) -> Driven<T>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let session = Arc::new(session);
    let start = Instant::now();
    let window_end = start + plan.window;
    let next_id = Arc::new(AtomicU64::new(0));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Finished<T>>();
    let mut tasks = JoinSet::new();
    let mut shed = 0;

    // One session, timed and reported as soon as it ends (an abandoned client keeps what it
    // finished before).
    let run_one = {
        let session = Arc::clone(&session);
        let next_id = Arc::clone(&next_id);
        move |done: mpsc::UnboundedSender<Finished<T>>| {
            let session = Arc::clone(&session);
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            async move {
                let started_at = start.elapsed();
                let outcome = session(id).await;
                let _ = done.send(Finished {
                    started_at,
                    finished_at: start.elapsed(),
                    outcome,
                });
            }
        }
    };

    match plan.load {
        Load::Concurrency(clients) => {
            for _ in 0..clients.max(1) {
                let run_one = run_one.clone();
                let done = done_tx.clone();
                tasks.spawn(async move {
                    while Instant::now() < window_end {
                        run_one(done.clone()).await;
                    }
                });
            }
        }
        Load::Rate {
            per_second,
            max_in_flight,
        } => {
            let period = Duration::from_secs_f64(1.0 / per_second.max(0.001));
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            loop {
                let tick = ticks.tick().await;
                if tick >= window_end {
                    break;
                }
                while tasks.try_join_next().is_some() {}
                if tasks.len() >= max_in_flight.max(1) {
                    shed += 1;
                    continue;
                }
                tasks.spawn(run_one(done_tx.clone()));
            }
        }
    }
    drop(done_tx);

    let drain_end = window_end + plan.drain;
    let mut finished = Vec::new();
    loop {
        tokio::select! {
            got = done_rx.recv() => match got {
                Some(f) => finished.push(f),
                None => break,
            },
            _ = tokio::time::sleep_until(drain_end) => break,
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    // Sessions that ended while the clients were being stopped still count.
    while let Ok(f) = done_rx.try_recv() {
        finished.push(f);
    }
    let started = next_id.load(Ordering::Relaxed);
    Driven {
        unfinished: started.saturating_sub(finished.len() as u64),
        started,
        shed,
        elapsed: start.elapsed(),
        finished,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_closed_loop_keeps_n_sessions_running_and_drains() {
        // 2 clients, 1 s sessions, a 3.5 s window: each starts 4 (at 0, 1, 2, 3), and the
        // last ones end during the drain.
        let plan = Plan {
            load: Load::Concurrency(2),
            window: Duration::from_millis(3500),
            drain: Duration::from_secs(5),
        };
        let driven = drive(plan, |_| tokio::time::sleep(Duration::from_secs(1))).await;
        assert_eq!(driven.started, 8);
        assert_eq!(driven.finished.len(), 8);
        assert_eq!(driven.unfinished, 0);
        assert!(driven
            .finished
            .iter()
            .all(|f| f.finished_at - f.started_at >= Duration::from_secs(1)));
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_loop_sheds_past_its_bound_and_abandons_after_the_drain() {
        // 10 starts a second for 1 s, sessions of 10 s, at most 3 running: 3 start, 7 are shed;
        // a 1 s drain is not enough, so all 3 are abandoned.
        let plan = Plan {
            load: Load::Rate {
                per_second: 10.0,
                max_in_flight: 3,
            },
            window: Duration::from_secs(1),
            drain: Duration::from_secs(1),
        };
        let driven = drive(plan, |_| tokio::time::sleep(Duration::from_secs(10))).await;
        assert_eq!(driven.started, 3);
        assert_eq!(driven.shed, 7);
        assert_eq!(driven.unfinished, 3);
        assert!(driven.finished.is_empty());
    }
}
