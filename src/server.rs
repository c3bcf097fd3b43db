//! The HTTP server: probes, metrics, the error shape for everything actix answers itself, and
//! graceful shutdown.
//!
//! [`run`] takes a bound listener and a shutdown future, so tests bind port 0 and stop the
//! server by resolving the future; `livegate serve` passes SIGINT/SIGTERM.

use std::future::Future;
use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use async_trait::async_trait;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{json, Map, Value};

use crate::error::{self, ApiError};
use crate::metrics;
use crate::store::{Store, StoreError};

/// How long one readiness check may take before it counts as failed.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// Something `/readyz` asks before saying the node can take traffic.
#[async_trait]
pub trait ReadinessCheck: Send + Sync {
    /// The name in the `/readyz` body (`store`, `models`).
    fn name(&self) -> &str;

    /// `Ok` when ready; otherwise a short lowercase reason (never a secret or database text).
    async fn check(&self) -> Result<(), String>;
}

/// The store answers a trivial query.
pub struct StoreReadiness(pub Arc<dyn Store>);

#[async_trait]
impl ReadinessCheck for StoreReadiness {
    fn name(&self) -> &str {
        "store"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|err| {
            tracing::warn!(error = %err, "store readiness check failed");
            match err {
                StoreError::Unavailable(_) => "unavailable: cannot reach the database".to_owned(),
                StoreError::SchemaTooNew { .. } => "schema newer than this build".to_owned(),
                _ => "error: see the server log".to_owned(),
            }
        })
    }
}

/// Limits the HTTP layer enforces.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Largest request body in bytes (JSON and raw).
    pub max_body_bytes: usize,
    /// How long in-flight requests get to finish on shutdown.
    pub shutdown_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 2 * 1024 * 1024,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// What every handler can reach (as `web::Data<AppState>`).
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// What `/readyz` runs, in order.
    pub readiness: Vec<Arc<dyn ReadinessCheck>>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Body size and shutdown limits.
    pub limits: HttpLimits,
}

impl AppState {
    /// State over a store, with the store's readiness check registered and metrics installed.
    pub fn new(store: Arc<dyn Store>, limits: HttpLimits) -> Self {
        Self {
            readiness: vec![Arc::new(StoreReadiness(Arc::clone(&store)))],
            store,
            metrics: metrics::install(),
            limits,
        }
    }

    /// Adds a readiness check (`models`, ...).
    pub fn with_check(mut self, check: Arc<dyn ReadinessCheck>) -> Self {
        self.readiness.push(check);
        self
    }
}

/// Serves until `shutdown` resolves, then stops accepting and gives in-flight requests
/// `limits.shutdown_timeout` to finish.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    run_with(listener, state, |_| {}, shutdown).await
}

/// [`run`] with more routes: `routes` is called for every worker's `App` (the API, the
/// WebSocket, the console are added this way).
pub async fn run_with<R>(
    listener: TcpListener,
    state: AppState,
    routes: R,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    R: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let limits = state.limits;
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(limits.max_body_bytes)
                    .error_handler(|err, _req| ApiError::from_json(err).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|err, _req| ApiError::from_extractor("path", err).into()),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|err, _req| ApiError::from_extractor("query", err).into()),
            )
            .app_data(web::PayloadConfig::new(limits.max_body_bytes))
            .wrap(actix_web::middleware::from_fn(metrics::record_request))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(render_metrics))
            .configure(routes.clone())
            .default_service(web::to(error::not_found))
    })
    // Signals are the caller's business (the shutdown future), so tests are not stopped by ^C
    // meant for the test runner, and serve can log before stopping.
    .disable_signals()
    .shutdown_timeout(limits.shutdown_timeout.as_secs())
    .listen(listener)?
    .run();
    let handle = server.handle();
    let mut server = std::pin::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        () = shutdown => {}
    }
    tracing::info!(
        timeout_secs = limits.shutdown_timeout.as_secs(),
        "shutting down: finishing in-flight requests"
    );
    // The server future must keep being polled for the stop command to be handled.
    let ((), result) = tokio::join!(handle.stop(true), server);
    result
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let mut checks = Map::new();
    let mut ready = true;
    for check in &state.readiness {
        let outcome = match tokio::time::timeout(READINESS_TIMEOUT, check.check()).await {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(reason)) => {
                ready = false;
                reason
            }
            Err(_) => {
                ready = false;
                format!("timed out after {} s", READINESS_TIMEOUT.as_secs())
            }
        };
        checks.insert(check.name().to_owned(), Value::String(outcome));
    }
    if ready {
        HttpResponse::Ok().json(json!({ "status": "ready", "checks": checks }))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({ "status": "not_ready", "checks": checks }))
    }
}

async fn render_metrics(state: web::Data<AppState>) -> HttpResponse {
    // Upkeep drains histogram samples into their buckets; doing it at scrape time avoids a
    // background task.
    state.metrics.run_upkeep();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// Resolves on SIGINT or SIGTERM (logging which).
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for sigint");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for sigterm");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!(signal = "sigint", "stop requested"),
        () = terminate => tracing::info!(signal = "sigterm", "stop requested"),
    }
}
