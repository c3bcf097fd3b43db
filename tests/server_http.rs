//! The HTTP server as a client sees it: a real listener on port 0 over a real embedded store in a
//! temporary data folder.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;
use async_trait::async_trait;
use livegate::server::{self, AppState, HttpLimits, ReadinessCheck};
use livegate::store::sqlite::SqliteStore;
use livegate::store::Store;
use serde_json::{json, Value};
use tokio::sync::oneshot;

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task
            .await
            .expect("server task")
            .expect("server stopped cleanly");
    }
}

#[derive(serde::Deserialize, serde::Serialize)]
struct EchoBody {
    name: String,
}

async fn echo(body: web::Json<EchoBody>) -> web::Json<EchoBody> {
    body
}

/// Set once `/slow` is being handled (only the shutdown test calls it).
static SLOW_STARTED: AtomicBool = AtomicBool::new(false);

async fn slow() -> &'static str {
    SLOW_STARTED.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(400)).await;
    "done"
}

async fn start(extra_check: Option<Arc<dyn ReadinessCheck>>) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("livegate.db"))
        .await
        .expect("open store");
    store.migrate().await.expect("migrate");
    let limits = HttpLimits {
        max_body_bytes: 4096,
        ..HttpLimits::default()
    };
    let mut state = AppState::new(Arc::new(store), limits);
    if let Some(check) = extra_check {
        state = state.with_check(check);
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server::run_with(
        listener,
        state,
        |cfg| {
            cfg.route("/echo", web::post().to(echo))
                .route("/slow", web::get().to(slow));
        },
        async move {
            let _ = stopped.await;
        },
    ));
    Running {
        addr,
        stop: Some(stop),
        task,
        _dir: dir,
    }
}

async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.expect("request");
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.expect("json body");
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_when_the_store_is_up() {
    let server = start(None).await;
    assert_eq!(
        get(&server.url("/healthz")).await,
        (200, json!({ "status": "ok" }))
    );
    assert_eq!(
        get(&server.url("/readyz")).await,
        (
            200,
            json!({ "status": "ready", "checks": { "store": "ok" } })
        )
    );
    server.stop().await;
}

struct ModelsMissing;

#[async_trait]
impl ReadinessCheck for ModelsMissing {
    fn name(&self) -> &str {
        "models"
    }

    async fn check(&self) -> Result<(), String> {
        Err("face_landmark.tflite is missing".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_and_names_the_failing_check() {
    let server = start(Some(Arc::new(ModelsMissing))).await;
    let (status, body) = get(&server.url("/readyz")).await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["store"], "ok");
    assert_eq!(body["checks"]["models"], "face_landmark.tflite is missing");
    // Liveness is not readiness: the process is still up.
    assert_eq!(get(&server.url("/healthz")).await.0, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_are_404_in_the_error_shape() {
    let server = start(None).await;
    let (status, body) = get(&server.url("/no/such/thing")).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "NOT_FOUND");
    assert_eq!(body["message"], "资源不存在");
    assert_eq!(body["message_en"], "not found");
    assert_eq!(body["detail"]["path"], "/no/such/thing");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_errors_come_out_in_the_error_shape() {
    let server = start(None).await;
    let client = reqwest::Client::new();
    let post = |body: String| {
        client
            .post(server.url("/echo"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let ok = post(r#"{"name":"张三"}"#.into()).await.expect("request");
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(
        ok.json::<Value>().await.expect("json"),
        json!({ "name": "张三" })
    );

    let bad = post("{not json".into()).await.expect("request");
    assert_eq!(bad.status().as_u16(), 400);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["code"], "BAD_REQUEST");
    assert!(body["detail"]["reason"].is_string(), "{body}");

    let missing = post("{}".into()).await.expect("request");
    let body: Value = missing.json().await.expect("json");
    assert_eq!(body["code"], "BAD_REQUEST");
    assert!(
        body["detail"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("name")),
        "{body}"
    );

    let huge = format!(r#"{{"name":"{}"}}"#, "x".repeat(10_000));
    let too_large = post(huge).await.expect("request");
    assert_eq!(too_large.status().as_u16(), 413);
    let body: Value = too_large.json().await.expect("json");
    assert_eq!(body["code"], "PAYLOAD_TOO_LARGE");
    assert_eq!(body["message_en"], "the request body is too large");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route() {
    let server = start(None).await;
    for _ in 0..3 {
        assert_eq!(get(&server.url("/healthz")).await.0, 200);
    }
    let text = reqwest::get(server.url("/metrics"))
        .await
        .expect("request")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains("# HELP livegate_http_requests_total"),
        "described: {text}"
    );
    let healthz_line = text
        .lines()
        .find(|l| {
            l.starts_with("livegate_http_requests_total")
                && l.contains("route=\"/healthz\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no healthz counter in {text}"));
    let count: f64 = healthz_line
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("counter value");
    // Other tests in this process may hit /healthz too; this one made three requests.
    assert!(count >= 3.0, "{healthz_line}");
    assert!(text.contains("livegate_http_request_duration_seconds_bucket"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_future_stops_the_server() {
    let server = start(None).await;
    let addr = server.addr;
    server.stop().await;
    assert!(
        reqwest::get(format!("http://{addr}/healthz"))
            .await
            .is_err(),
        "still answering after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_an_in_flight_request_finish() {
    let server = start(None).await;
    let in_flight = tokio::spawn(reqwest::get(server.url("/slow")));
    // Stop only once the request is being handled.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !SLOW_STARTED.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "/slow was never called");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.stop().await;
    let response = in_flight.await.expect("task").expect("answered");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.expect("body"), "done");
}
