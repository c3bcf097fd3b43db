//! The server's own metrics, described once, rendered at `GET /metrics` in Prometheus text.
//!
//! The recorder is process-wide (the `metrics` facade has one global); [`install`] sets it up
//! once and hands every caller the same handle, so tests can start many servers in one process.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Counter: HTTP requests answered, by `method`, `route` (the pattern, not the raw path) and
/// `status`.
pub const HTTP_REQUESTS_TOTAL: &str = "livegate_http_requests_total";

/// Histogram: seconds from request to response head, by `method` and `route`.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "livegate_http_request_duration_seconds";

/// Buckets for request latency: 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder (first call only) and describes the metrics; returns the
/// handle that renders them.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            let builder = match builder.set_buckets_for_metric(
                Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.to_owned()),
                LATENCY_BUCKETS,
            ) {
                Ok(builder) => builder,
                // Only an empty bucket list fails, and ours is not empty.
                Err(_) => PrometheusBuilder::new(),
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            describe();
            handle
        })
        .clone()
}

fn describe() {
    crate::callbacks::describe_metrics();
    crate::compare_service::describe_metrics();
    crate::sessions::describe_metrics();
    metrics::describe_counter!(
        HTTP_REQUESTS_TOTAL,
        metrics::Unit::Count,
        "http requests answered, by method, route and status"
    );
    metrics::describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "seconds from request to response head, by method and route"
    );
}

/// Middleware: counts and times every request, and logs it at debug level.
pub async fn record_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    // The pattern (`/records/{id}`) keeps the label set small; unmatched paths share one label.
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let path = req.path().to_owned();
    let response = next.call(req).await;
    let status = match &response {
        Ok(res) => res.status().as_u16(),
        Err(err) => err.as_response_error().status_code().as_u16(),
    };
    let elapsed = started.elapsed();
    metrics::counter!(
        HTTP_REQUESTS_TOTAL,
        "method" => method.clone(),
        "route" => route.clone(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        "method" => method.clone(),
        "route" => route
    )
    .record(elapsed.as_secs_f64());
    tracing::debug!(
        %method,
        %path,
        status,
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    response
}
