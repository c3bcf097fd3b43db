//! Result callbacks end to end: the delivery worker over a real embedded store, POSTing to a
//! small business backend on 127.0.0.1 that checks the signature with its own code, from the
//! documented formula (hmac and sha2 directly, not `livegate::signature`).

mod common;

use common::backend::{Backend, Script, CALLBACK_PATH};
use std::collections::VecDeque;
use std::future::Future;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use livegate::callbacks::{http_client, CallbackDelivery, DeliveryPolicy, SceneConfigSecrets};
use livegate::store::sqlite::SqliteStore;
use livegate::store::{
    CallbackAttempt, CallbackId, CallbackStatus, NewCallback, NewRecord, NewScene, RecordStatus,
    Store, TenantId,
};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

const SECRET: &str = "cb-secret-of-the-scene";
const APP_ID: &str = "app-bank-a";

/// A backend script checking signatures with the scene's secret.
fn script() -> Script {
    Script {
        secret: SECRET.into(),
        ..Script::default()
    }
}

/// A policy with tiny delays, so retries happen in milliseconds.
fn quick_policy(max_attempts: u32) -> DeliveryPolicy {
    DeliveryPolicy {
        poll_interval: Duration::from_millis(20),
        first_delay: Duration::from_millis(30),
        backoff_factor: 2.0,
        max_delay: Duration::from_millis(120),
        max_attempts,
        timeout: Duration::from_secs(2),
        batch_size: 8,
    }
}

struct Worker {
    delivery: CallbackDelivery,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Worker {
    fn start(store: &Arc<dyn Store>, policy: DeliveryPolicy) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let (delivery, task) = CallbackDelivery::start(
            Arc::clone(store),
            http_client(Duration::from_secs(2)).expect("http client"),
            Arc::new(SceneConfigSecrets::new(Arc::clone(store), master_key())),
            policy,
            async move {
                let _ = stopped.await;
            },
        );
        Self {
            delivery,
            stop,
            task,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the worker stops in time")
            .expect("worker task");
    }
}

async fn open_store(path: &Path) -> Arc<dyn Store> {
    let store = SqliteStore::open(path).await.expect("open store");
    store.migrate().await.expect("migrate");
    Arc::new(store)
}

/// A scene with `config` and a finished record under it; returns the callback to enqueue.
async fn finished_session(store: &dyn Store, config: serde_json::Value) -> NewCallback {
    let scene = store
        .create_scene(
            TenantId::DEFAULT,
            &NewScene {
                code: format!("scene-{}", Uuid::new_v4().simple()),
                name: "开户".into(),
                config,
            },
        )
        .await
        .expect("scene");
    let record = store
        .insert_record(
            TenantId::DEFAULT,
            &NewRecord {
                scene_id: scene.id,
                scene_version: scene.version,
                session_id: Uuid::now_v7(),
                biz_id: "order-42".into(),
                app_id: Some(APP_ID.into()),
                status: RecordStatus::Finished,
                client: json!({}),
            },
        )
        .await
        .expect("record");
    NewCallback {
        record_id: record.id,
        session_id: record.session_id,
        scene_id: scene.id,
        app_id: record.app_id.clone(),
        url: scene.config["callback"]["url"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body: json!({
            "session_id": record.session_id,
            "biz_id": "order-42",
            "status": "passed",
            "result_jws": "eyJhbGciOiJFUzI1NiJ9.e30.sig"
        })
        .to_string(),
    }
}

fn master_key() -> livegate::secrets::MasterKey {
    livegate::secrets::MasterKey::from_bytes(&[42; 32])
}

/// The scene's rules as stored: the secret sealed under the node's master key.
fn scene_config(url: &str) -> serde_json::Value {
    let plain = json!({ "callback": { "url": url, "secret": SECRET } });
    let sealed = livegate::scene_secrets::seal(&plain, &master_key()).expect("seal");
    assert_ne!(sealed["callback"]["secret"], SECRET);
    sealed
}

/// Polls `probe` every 20 ms until it gives a value; panics after `limit`.
async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the callback is no longer pending; returns its history.
async fn settled(store: &Arc<dyn Store>, id: CallbackId) -> Vec<CallbackAttempt> {
    eventually(
        Duration::from_secs(20),
        "the callback to settle",
        || async {
            let cb = store
                .callback(TenantId::DEFAULT, id)
                .await
                .expect("callback");
            (cb.status != CallbackStatus::Pending).then_some(())
        },
    )
    .await;
    store
        .callback_attempts(TenantId::DEFAULT, id)
        .await
        .expect("history")
}

fn statuses(history: &[CallbackAttempt]) -> Vec<Option<u16>> {
    history.iter().map(|a| a.http_status).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_on_the_third_try_with_signed_headers_and_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir.path().join("livegate.db")).await;
    let backend = Backend::start(
        TcpListener::bind("127.0.0.1:0").expect("bind"),
        Script {
            statuses: VecDeque::from([500, 500]),
            ..script()
        },
    );
    let worker = Worker::start(&store, quick_policy(10));
    let new = finished_session(&*store, scene_config(&backend.url())).await;
    let body = new.body.clone();
    let id = worker
        .delivery
        .enqueue(TenantId::DEFAULT, new)
        .await
        .expect("enqueue");

    let history = settled(&store, id).await;
    let cb = store
        .callback(TenantId::DEFAULT, id)
        .await
        .expect("callback");
    assert_eq!(cb.status, CallbackStatus::Delivered);
    assert_eq!(cb.attempts, 3);
    assert!(cb.delivered_at.is_some() && cb.last_error.is_none());
    assert_eq!(statuses(&history), [Some(500), Some(500), Some(200)]);
    assert_eq!(
        history.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(history[0].error.as_deref(), Some("http status 500"));
    assert_eq!(history[2].error, None);
    assert!(history
        .windows(2)
        .all(|w| w[0].started_at < w[1].started_at));

    let received = backend.received();
    assert_eq!(received.len(), 3, "one request per try");
    for request in &received {
        assert!(request.signature_ok, "bad signature: {:?}", request.headers);
        assert_eq!(request.body, body, "the body is sent exactly as enqueued");
        assert_eq!(request.headers["content-type"], "application/json");
        assert_eq!(request.headers["x-lg-appid"], APP_ID);
        assert_eq!(request.headers["x-lg-nonce"].len(), 32);
        assert_eq!(request.headers["x-lg-signature"].len(), 64);
        assert!(request.headers.contains_key("x-lg-timestamp"));
    }
    let nonces: std::collections::HashSet<&str> = received
        .iter()
        .map(|r| r.headers["x-lg-nonce"].as_str())
        .collect();
    assert_eq!(nonces.len(), 3, "every try has a fresh nonce");

    worker.stop().await;
    backend.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loses_no_callback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("livegate.db");
    // The business backend's address, with nothing listening yet: it is down.
    let addr = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let url = format!("http://{addr}{CALLBACK_PATH}");

    let store = open_store(&db).await;
    let worker = Worker::start(&store, quick_policy(1000));
    let id = worker
        .delivery
        .enqueue(
            TenantId::DEFAULT,
            finished_session(&*store, scene_config(&url)).await,
        )
        .await
        .expect("enqueue");
    // It is tried and fails while the backend is down.
    eventually(Duration::from_secs(10), "a failed try", || async {
        let cb = store
            .callback(TenantId::DEFAULT, id)
            .await
            .expect("callback");
        (cb.attempts >= 1).then_some(())
    })
    .await;
    // The node goes away: worker stopped, store closed.
    worker.stop().await;
    drop(store);

    let store = open_store(&db).await;
    let cb = store
        .callback(TenantId::DEFAULT, id)
        .await
        .expect("still there");
    assert_eq!(cb.status, CallbackStatus::Pending);
    assert!(
        cb.last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("connection failed")),
        "{:?}",
        cb.last_error
    );
    let backend = Backend::start(TcpListener::bind(addr).expect("rebind"), script());
    let worker = Worker::start(&store, quick_policy(1000));

    let history = settled(&store, id).await;
    let cb = store
        .callback(TenantId::DEFAULT, id)
        .await
        .expect("callback");
    assert_eq!(cb.status, CallbackStatus::Delivered);
    let (last, before) = history.split_last().expect("tries");
    assert_eq!(last.http_status, Some(200));
    assert!(!before.is_empty());
    assert!(before
        .iter()
        .all(|a| a.http_status.is_none() && a.error.is_some()));
    let received = backend.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].signature_ok);

    worker.stop().await;
    backend.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_never_says_ok_fails_after_max_attempts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir.path().join("livegate.db")).await;
    let backend = Backend::start(
        TcpListener::bind("127.0.0.1:0").expect("bind"),
        Script {
            never_ok: true,
            ..script()
        },
    );
    let worker = Worker::start(&store, quick_policy(4));
    let id = worker
        .delivery
        .enqueue(
            TenantId::DEFAULT,
            finished_session(&*store, scene_config(&backend.url())).await,
        )
        .await
        .expect("enqueue");

    let history = settled(&store, id).await;
    let cb = store
        .callback(TenantId::DEFAULT, id)
        .await
        .expect("callback");
    assert_eq!(cb.status, CallbackStatus::Failed);
    assert_eq!(cb.attempts, 4);
    assert_eq!(cb.last_error.as_deref(), Some("http status 503"));
    assert_eq!(statuses(&history), [Some(503); 4]);
    // Given up means no more tries.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(backend.received().len(), 4);

    worker.stop().await;
    backend.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scene_without_a_secret_is_given_up_at_once_and_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(&dir.path().join("livegate.db")).await;
    let backend = Backend::start(TcpListener::bind("127.0.0.1:0").expect("bind"), script());
    let worker = Worker::start(&store, quick_policy(10));
    let config = json!({ "callback": { "url": backend.url() } });
    let id = worker
        .delivery
        .enqueue(TenantId::DEFAULT, finished_session(&*store, config).await)
        .await
        .expect("enqueue");

    let history = settled(&store, id).await;
    let cb = store
        .callback(TenantId::DEFAULT, id)
        .await
        .expect("callback");
    assert_eq!(cb.status, CallbackStatus::Failed);
    let error = cb.last_error.unwrap_or_default();
    assert!(error.contains("callback.secret"), "{error}");
    assert_eq!(history.len(), 1);
    assert!(backend.received().is_empty(), "nothing unsigned is sent");

    worker.stop().await;
    backend.stop().await;
}
