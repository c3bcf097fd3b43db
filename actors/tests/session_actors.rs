//! The session actors with scripted engines: pipeline, back-pressure, supervision, identity.

use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use livegate_actors::actions::ActionKind;
use livegate_actors::actor::{
    EngineFactory, PoolConfig, PoolHandle, SessionHandle, SessionOptions,
};
use livegate_actors::prompts::PromptCode;
use livegate_actors::session::{FailReason, SessionConfig, SessionEvent};
use livegate_actors::synthetic::{face_frame, with_eyes};
use livegate_models::{
    AnalysisNeeds, Embedding, EngineError, FaceEngine, FaceObservation, FrameAnalysis,
    IdentityEngine, TrackState,
};
use tokio::sync::broadcast;

/// A face engine that answers from a script of frame time, after an optional delay.
struct ScriptedEngine {
    script: fn(f64) -> FrameAnalysis,
    delay: Duration,
    calls: Arc<AtomicUsize>,
    panic_on_call: Option<usize>,
}

impl FaceEngine for ScriptedEngine {
    fn analyze(
        &mut self,
        _frame: &RgbImage,
        t: f64,
        _track: &mut TrackState,
        _needs: AnalysisNeeds,
    ) -> Result<FrameAnalysis, EngineError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if Some(n) == self.panic_on_call {
            panic!("scripted engine panics on call {n}");
        }
        std::thread::sleep(self.delay);
        Ok((self.script)(t))
    }
}

/// An identity engine that is person A before `swap_at` seconds and person B after.
struct ScriptedIdentity {
    swap_at: f64,
}

impl IdentityEngine for ScriptedIdentity {
    fn embed(
        &mut self,
        _frame: &RgbImage,
        face: &FaceObservation,
    ) -> Result<Option<Embedding>, EngineError> {
        // The scripted face carries its time in the box's score's place: see `tagged`.
        let t = f64::from(face.face.score);
        let v = if t >= self.swap_at { 0.2 } else { 0.0 };
        Ok(Some(Embedding(vec![v; 128])))
    }
}

/// A good face whose box score carries the frame time (so the identity engine can see it).
fn tagged(t: f64) -> FrameAnalysis {
    let mut f = face_frame(t);
    if let Some(m) = f.main.as_mut() {
        m.face.score = t as f32;
    }
    f
}

/// Blinks at 1.0 s, turns to the person's own left from 2.0 to 2.6 s.
fn blink_then_left(t: f64) -> FrameAnalysis {
    let mut f = tagged(t);
    if let Some(m) = f.main.as_mut() {
        if (1.0..1.2).contains(&t) {
            *m = with_eyes(m.clone(), 0.1);
        }
        if (2.0..2.6).contains(&t) {
            m.pose.yaw = 30.0;
        }
    }
    f
}

struct Setup {
    script: fn(f64) -> FrameAnalysis,
    delay: Duration,
    panic_on_call: Option<usize>,
    swap_at: f64,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            script: tagged,
            delay: Duration::ZERO,
            panic_on_call: None,
            swap_at: f64::INFINITY,
        }
    }
}

async fn pool(setup: Setup) -> (PoolHandle, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let factory: EngineFactory = Arc::new(move || {
        let face: Box<dyn FaceEngine> = Box::new(ScriptedEngine {
            script: setup.script,
            delay: setup.delay,
            calls: c.clone(),
            panic_on_call: setup.panic_on_call,
        });
        let id: Box<dyn IdentityEngine> = Box::new(ScriptedIdentity {
            swap_at: setup.swap_at,
        });
        Ok((face, id))
    });
    let pool = PoolHandle::start(
        factory,
        PoolConfig {
            workers: 2,
            queue_capacity: 8,
        },
    )
    .await
    .unwrap();
    (pool, calls)
}

fn jpeg(textured: bool) -> Vec<u8> {
    let img = RgbImage::from_fn(160, 120, |x, y| {
        if textured {
            Rgb([
                (x * 3 % 256) as u8,
                (y * 7 % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        } else {
            Rgb([0, 0, 0])
        }
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// Send frames at `fps` (script time) every `pace` of real time, for `seconds` of script time.
async fn feed(session: &SessionHandle, fps: f64, seconds: f64, pace: Duration, bytes: &[u8]) {
    let n = (fps * seconds) as usize;
    for i in 0..n {
        if session.send_frame(i as f64 / fps, bytes.to_vec()).is_err() {
            return;
        }
        tokio::time::sleep(pace).await;
    }
}

fn drain(rx: &mut broadcast::Receiver<SessionEvent>) -> Vec<SessionEvent> {
    let mut out = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(e) => out.push(e),
            Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
            Err(_) => return out,
        }
    }
}

async fn eventually(mut cond: impl FnMut() -> bool, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

/// Stop everything and check that no actor is left running.
async fn shut_down(session: &SessionHandle, pool: &PoolHandle) {
    let children = session.children();
    let _ = session.finish().await;
    assert!(!session.is_alive(), "session actor still running");
    for c in &children {
        assert!(
            eventually(
                || c.get_status() == ractor::ActorStatus::Stopped,
                Duration::from_secs(2)
            )
            .await,
            "session child still running"
        );
    }
    let workers = pool.actor().get_children();
    assert_eq!(workers.len(), 2);
    pool.stop().await;
    assert_eq!(pool.actor().get_status(), ractor::ActorStatus::Stopped);
    for w in &workers {
        assert_eq!(w.get_status(), ractor::ActorStatus::Stopped, "worker left");
    }
}

/// A session with the default options over `challenge`, fed by `pool`.
async fn start_session(pool: &PoolHandle, challenge: Vec<ActionKind>) -> SessionHandle {
    SessionHandle::start(
        SessionConfig::new(challenge),
        pool.clone(),
        SessionOptions::default(),
    )
    .await
    .expect("the session starts")
}

/// A session that analyses every frame it is sent: the tests of the pool's thinning and
/// failures count frames, which the adaptive rate would otherwise skip while the face is still.
async fn start_session_every_frame(pool: &PoolHandle, challenge: Vec<ActionKind>) -> SessionHandle {
    let options = SessionOptions {
        adaptive_rate: false,
        ..SessionOptions::default()
    };
    SessionHandle::start(SessionConfig::new(challenge), pool.clone(), options)
        .await
        .expect("the session starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_a_still_face_does_not_need_are_skipped_before_the_engine() {
    let (pool, calls) = pool(Setup::default()).await;
    let session = start_session(&pool, vec![ActionKind::Nod]).await;
    // One second at 30 frames a second while the face settles: the session needs one every
    // 0.2 s (a little early still counts), not all 30.
    feed(&session, 30.0, 1.0, Duration::from_millis(10), &jpeg(true)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = session.status().await.unwrap();
    assert_eq!(status.frames_received, 30, "{status:?}");
    assert!(
        (4..=10).contains(&status.frames_analysed),
        "a still face is analysed about 5 times a second: {status:?}"
    );
    assert_eq!(
        status.frames_dropped + status.frames_failed,
        0,
        "{status:?}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst) as u64,
        status.frames_analysed,
        "skipped frames never reach the engine"
    );
    shut_down(&session, &pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_person_passes_the_challenge() {
    let (pool, _) = pool(Setup {
        script: blink_then_left,
        ..Default::default()
    })
    .await;
    let session = start_session(&pool, vec![ActionKind::Blink, ActionKind::TurnLeft]).await;
    let mut rx = session.subscribe();
    feed(&session, 15.0, 4.0, Duration::from_millis(25), &jpeg(true)).await;
    assert!(
        eventually(
            || drain(&mut rx)
                .iter()
                .any(|e| matches!(e, SessionEvent::Finished { .. })),
            Duration::from_secs(3)
        )
        .await
    );
    let status = session.status().await.unwrap();
    let verdict = status.verdict.clone().unwrap();
    assert!(verdict.passed, "{verdict:?} {status:?}");
    shut_down(&session, &pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_engine_thins_frames_and_says_so() {
    let (pool, calls) = pool(Setup {
        delay: Duration::from_millis(50),
        ..Default::default()
    })
    .await;
    let session = start_session_every_frame(&pool, vec![ActionKind::Nod]).await;
    let mut rx = session.subscribe();
    let bytes = jpeg(true);
    let mut pending_max = 0;
    for i in 0..60 {
        session.send_frame(i as f64 / 30.0, bytes.clone()).unwrap();
        if i % 10 == 0 {
            // The session answers while its engine is busy.
            let started = Instant::now();
            let s = session.status().await.unwrap();
            assert!(started.elapsed() < Duration::from_secs(1));
            pending_max = pending_max.max(s.frames_pending);
        }
        tokio::time::sleep(Duration::from_millis(33)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let status = session.status().await.unwrap();
    eprintln!(
        "slow engine: {status:?}, engine calls {}",
        calls.load(Ordering::SeqCst)
    );
    assert_eq!(status.frames_received, 60);
    assert!(status.frames_dropped >= 10, "{status:?}");
    assert!(pending_max <= 2);
    assert_eq!(
        status.frames_analysed + status.frames_dropped + status.frames_failed,
        60,
        "every frame is analysed, dropped or failed: {status:?}"
    );
    let events = drain(&mut rx);
    let reported = events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::FramesDropped { total } => Some(*total),
            _ => None,
        })
        .max();
    assert_eq!(reported, Some(status.frames_dropped));
    let stats = pool.stats().await.unwrap();
    assert!(stats.queued_max <= 1, "{stats:?}");
    shut_down(&session, &pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_worker_is_replaced_and_the_session_goes_on() {
    let (pool, calls) = pool(Setup {
        panic_on_call: Some(5),
        ..Default::default()
    })
    .await;
    let session = start_session_every_frame(&pool, vec![ActionKind::Nod]).await;
    let bytes = jpeg(true);
    feed(&session, 15.0, 0.6, Duration::from_millis(30), &bytes).await;
    // The fifth analysis panicked: wait until the session has written that frame off.
    let deadline = Instant::now() + Duration::from_secs(5);
    let before = loop {
        let s = session.status().await.unwrap();
        if s.frames_failed == 1 && s.frames_pending == 0 {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the lost frame was never written off: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // The session goes on with the surviving and the replacement worker.
    for i in 0..10 {
        session
            .send_frame(1.0 + f64::from(i) / 15.0, bytes.clone())
            .unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = session.status().await.unwrap();
    let stats = pool.stats().await.unwrap();
    eprintln!("after a worker panic: {after:?}, {stats:?}");
    assert_eq!(stats.restarts, 1, "{stats:?}");
    assert_eq!(stats.workers, 2);
    assert!(calls.load(Ordering::SeqCst) >= 10);
    assert_eq!(after.frames_failed, 1, "{after:?}");
    assert!(
        after.frames_analysed >= before.frames_analysed + 8,
        "{before:?} then {after:?}"
    );
    assert_eq!(after.verdict, None, "the session is still running");
    shut_down(&session, &pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_person_fails_the_session_with_face_changed() {
    let (pool, _) = pool(Setup {
        swap_at: 1.5,
        ..Default::default()
    })
    .await;
    let session = start_session(&pool, vec![ActionKind::Nod]).await;
    let mut rx = session.subscribe();
    feed(&session, 15.0, 3.5, Duration::from_millis(25), &jpeg(true)).await;
    let events = drain(&mut rx);
    assert!(
        events.iter().any(|e| matches!(
            e,
            SessionEvent::PromptRaised {
                code: PromptCode::FaceChanged,
                ..
            }
        )),
        "{events:?}"
    );
    let verdict = session.status().await.unwrap().verdict.unwrap();
    assert_eq!(verdict.reasons, vec![FailReason::FaceChanged]);
    shut_down(&session, &pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_covered_camera_prompts_no_face_without_calling_the_engine() {
    let (pool, calls) = pool(Setup::default()).await;
    let session = start_session(&pool, vec![ActionKind::Blink]).await;
    let mut rx = session.subscribe();
    feed(&session, 15.0, 1.0, Duration::from_millis(10), &jpeg(false)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let events = drain(&mut rx);
    assert!(events.iter().any(|e| matches!(
        e,
        SessionEvent::PromptRaised {
            code: PromptCode::NoFace,
            ..
        }
    )));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    shut_down(&session, &pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finishing_early_is_a_cancelled_verdict_and_later_calls_say_gone() {
    let (pool, _) = pool(Setup::default()).await;
    let session = start_session(&pool, vec![ActionKind::Blink]).await;
    let verdict = session.finish().await.unwrap();
    assert_eq!(verdict.reasons, vec![FailReason::Cancelled]);
    assert!(session.send_frame(0.0, jpeg(true)).is_err());
    assert!(session.status().await.is_err());
    pool.stop().await;
}

/// A recording analysed frame by frame on an engine slower than the frames come (frames at
/// 15 a second, 100 ms each): nothing is dropped, as `send_frame` would, every frame reaches the
/// engine, and the steps pass at the frames' presentation times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_is_analysed_frame_by_frame_without_drops() {
    let (pool, calls) = pool(Setup {
        script: blink_then_left,
        delay: Duration::from_millis(100),
        ..Default::default()
    })
    .await;
    let session = start_session(&pool, vec![ActionKind::Blink, ActionKind::TurnLeft]).await;
    let bytes = jpeg(true);
    let mut finished_at = None;
    for i in 0..60 {
        let t = i as f64 / 15.0;
        if session.analyse(t, bytes.clone()).await.unwrap() {
            finished_at = Some(t);
            break;
        }
    }
    let status = session.status().await.unwrap();
    assert_eq!(status.frames_dropped, 0, "{status:?}");
    assert_eq!(status.frames_received, status.frames_analysed, "{status:?}");
    assert_eq!(
        status.frames_received as usize,
        calls.load(Ordering::SeqCst)
    );
    let t = finished_at.expect("the verdict came within the recording");
    assert!((2.0..2.7).contains(&t), "decided at the turn, {t}");
    let verdict = session.end_recording().await.unwrap();
    assert!(verdict.passed, "{verdict:?}");
    let outcome = session.outcome().await.unwrap().unwrap();
    assert!(outcome.steps.iter().all(|s| s.passed_t.is_some()));
    shut_down(&session, &pool).await;
}

/// A recording that ends before its steps are done fails as timed out at its end, however
/// little wall-clock time its analysis took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_without_the_steps_times_out_at_its_end() {
    let (pool, _) = pool(Setup::default()).await;
    let session = start_session(&pool, vec![ActionKind::Blink]).await;
    let bytes = jpeg(true);
    for i in 0..30 {
        assert!(!session
            .analyse(i as f64 / 15.0, bytes.clone())
            .await
            .unwrap());
    }
    assert_eq!(session.status().await.unwrap().verdict, None);
    let verdict = session.end_recording().await.unwrap();
    assert!(!verdict.passed);
    assert_eq!(verdict.reasons, vec![FailReason::Timeout]);
    // Ending twice answers the same verdict.
    assert_eq!(session.end_recording().await.unwrap(), verdict);
    shut_down(&session, &pool).await;
}

/// A model pool too small for two sessions refuses jobs: the real-time session's frames are
/// thinned out, the recording's frames wait and are all analysed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pool_thins_real_time_but_never_a_recording() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let factory: EngineFactory = Arc::new(move || {
        let face: Box<dyn FaceEngine> = Box::new(ScriptedEngine {
            script: tagged,
            delay: Duration::from_millis(20),
            calls: c.clone(),
            panic_on_call: None,
        });
        let id: Box<dyn IdentityEngine> = Box::new(ScriptedIdentity {
            swap_at: f64::INFINITY,
        });
        Ok((face, id))
    });
    let pool = PoolHandle::start(
        factory,
        PoolConfig {
            workers: 1,
            queue_capacity: 0,
        },
    )
    .await
    .unwrap();
    let live = start_session(&pool, vec![ActionKind::Nod]).await;
    let recording = start_session(&pool, vec![ActionKind::Nod]).await;
    let bytes = jpeg(true);
    let flood = {
        let live = live.clone();
        let bytes = bytes.clone();
        tokio::spawn(async move { feed(&live, 60.0, 1.5, Duration::from_millis(5), &bytes).await })
    };
    for i in 0..30 {
        recording
            .analyse(i as f64 / 15.0, bytes.clone())
            .await
            .unwrap();
    }
    flood.await.unwrap();
    let recorded = recording.status().await.unwrap();
    assert_eq!(recorded.frames_received, 30, "{recorded:?}");
    assert_eq!(recorded.frames_analysed, 30, "{recorded:?}");
    assert_eq!(recorded.frames_dropped, 0, "{recorded:?}");
    let stats = pool.stats().await.unwrap();
    assert!(stats.rejected > 0, "the pool was full at times: {stats:?}");
    for session in [&live, &recording] {
        let _ = session.finish().await;
    }
    pool.stop().await;
}
