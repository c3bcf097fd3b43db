//! The model pool on its own: bounded queue, refusals, one engine per worker.

use std::sync::Arc;
use std::time::Duration;

use image::RgbImage;
use livegate_actors::actor::{EngineFactory, Job, JobError, PoolConfig, PoolHandle, PortraitError};
use livegate_actors::synthetic::face_frame;
use livegate_models::compare::ImageRole;
use livegate_models::{
    AnalysisNeeds, Embedding, EngineError, FaceEngine, FaceObservation, FrameAnalysis,
    IdentityEngine, TrackState,
};
use tokio::sync::oneshot;

struct Slow;

impl FaceEngine for Slow {
    fn analyze(
        &mut self,
        _: &RgbImage,
        t: f64,
        _: &mut TrackState,
        _: AnalysisNeeds,
    ) -> Result<FrameAnalysis, EngineError> {
        std::thread::sleep(Duration::from_millis(100));
        Ok(face_frame(t))
    }
}

struct NoIdentity;

impl IdentityEngine for NoIdentity {
    fn embed(
        &mut self,
        _: &RgbImage,
        _: &FaceObservation,
    ) -> Result<Option<Embedding>, EngineError> {
        Ok(None)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_jobs_instead_of_growing() {
    let factory: EngineFactory = Arc::new(|| {
        let face: Box<dyn FaceEngine> = Box::new(Slow);
        let id: Box<dyn IdentityEngine> = Box::new(NoIdentity);
        Ok((face, id))
    });
    let pool = PoolHandle::start(
        factory,
        PoolConfig {
            workers: 1,
            queue_capacity: 2,
        },
    )
    .await
    .unwrap();
    let frame = Arc::new(RgbImage::new(8, 8));
    let mut answers = Vec::new();
    for i in 0..10 {
        let (reply, rx) = oneshot::channel();
        pool.submit(Job::Analyze {
            frame: frame.clone(),
            t: i as f64,
            track: TrackState::default(),
            needs: AnalysisNeeds::default(),
            reply,
        });
        answers.push(rx);
    }
    let mut done = 0;
    let mut refused = 0;
    for rx in answers {
        match tokio::time::timeout(Duration::from_secs(5), rx).await {
            Ok(Ok(Ok(_))) => done += 1,
            Ok(Ok(Err(JobError::Overloaded { capacity: 2 }))) => refused += 1,
            other => panic!("unexpected answer: {other:?}"),
        }
    }
    // One running, two queued; the other seven are refused at once.
    assert_eq!((done, refused), (3, 7));
    let stats = pool.stats().await.unwrap();
    assert_eq!(stats.rejected, 7);
    assert!(stats.queued_max <= 2, "{stats:?}");
    pool.stop().await;
    assert_eq!(pool.actor().get_status(), ractor::ActorStatus::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_reports_jobs_done_and_their_recent_latency() {
    let factory: EngineFactory = Arc::new(|| {
        let face: Box<dyn FaceEngine> = Box::new(Slow);
        let id: Box<dyn IdentityEngine> = Box::new(NoIdentity);
        Ok((face, id))
    });
    let pool = PoolHandle::start(
        factory,
        PoolConfig {
            workers: 1,
            queue_capacity: 8,
        },
    )
    .await
    .unwrap();
    let before = pool.stats().await.unwrap();
    assert_eq!((before.done, before.p50, before.p95), (0, None, None));
    let frame = Arc::new(RgbImage::new(8, 8));
    let mut answers = Vec::new();
    for i in 0..3 {
        let (reply, rx) = oneshot::channel();
        pool.submit(Job::Analyze {
            frame: frame.clone(),
            t: i as f64,
            track: TrackState::default(),
            needs: AnalysisNeeds::default(),
            reply,
        });
        answers.push(rx);
    }
    for rx in answers {
        let answer = tokio::time::timeout(Duration::from_secs(5), rx).await;
        assert!(matches!(answer, Ok(Ok(Ok(_)))), "a job failed");
    }
    // The pool counts a job when its worker reports back, just after the answer.
    let mut stats = pool.stats().await.unwrap();
    for _ in 0..50 {
        if stats.done == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        stats = pool.stats().await.unwrap();
    }
    assert_eq!((stats.done, stats.queued), (3, 0), "{stats:?}");
    // Each job sleeps 100 ms in the engine: what a worker takes, not what waiting took.
    let p50 = stats.p50.expect("p50");
    let p95 = stats.p95.expect("p95");
    assert!(
        p50 >= Duration::from_millis(100) && p50 < Duration::from_secs(2),
        "{p50:?}"
    );
    assert!(p95 >= p50, "{p95:?} < {p50:?}");
    pool.stop().await;
}

#[test]
fn the_default_pool_has_one_worker_per_core() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(PoolConfig::default().workers, cores);
}

struct FixedIdentity(Option<Embedding>);

impl IdentityEngine for FixedIdentity {
    fn embed(
        &mut self,
        _: &RgbImage,
        _: &FaceObservation,
    ) -> Result<Option<Embedding>, EngineError> {
        Ok(self.0.clone())
    }
}

fn portrait_pool(identity: Option<Embedding>) -> EngineFactory {
    Arc::new(move || {
        let face: Box<dyn FaceEngine> = Box::new(Slow);
        let id: Box<dyn IdentityEngine> = Box::new(FixedIdentity(identity.clone()));
        Ok((face, id))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portrait_is_embedded_by_a_worker_or_refused_naming_the_image() {
    let config = PoolConfig {
        workers: 1,
        queue_capacity: 2,
    };
    let image = Arc::new(RgbImage::new(640, 480));
    let embedding = Embedding(vec![0.25; 128]);
    let pool = PoolHandle::start(portrait_pool(Some(embedding.clone())), config)
        .await
        .unwrap();
    let got = pool
        .embed_portrait(Arc::clone(&image), ImageRole::Reference)
        .await
        .expect("the face is embedded");
    assert_eq!(got, embedding);
    // The worker keeps its engines: a frame analysed after the portrait still works.
    let (reply, rx) = oneshot::channel();
    pool.submit(Job::Analyze {
        frame: Arc::clone(&image),
        t: 0.0,
        track: TrackState::default(),
        needs: AnalysisNeeds::default(),
        reply,
    });
    assert!(rx.await.unwrap().is_ok());
    pool.stop().await;

    // An identity engine that cannot align the face: refused as a face problem of that image.
    let pool = PoolHandle::start(portrait_pool(None), config)
        .await
        .unwrap();
    match pool.embed_portrait(image, ImageRole::Reference).await {
        Err(PortraitError::Face(problem)) => {
            assert_eq!(problem.image(), Some(ImageRole::Reference));
            assert!(problem.to_string().starts_with("reference image: "));
        }
        other => panic!("unexpected answer: {other:?}"),
    }
    pool.stop().await;
}
