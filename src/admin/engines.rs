//! `/engines`: the engines this node runs, as the engines page (引擎管理) shows them.
//!
//! - the built-in liveness engine (MediaPipe's detector, mesh and iris models on OpenVINO) and
//!   the built-in comparator (dlib's embedding), with their model files and pinned SHA-256 (the
//!   node refuses to start when a file hashes otherwise: `src/models.rs`), and the model-worker
//!   pool that runs both: health, jobs done, queue depth, busy share, recent p50/p95 job latency;
//! - the compare services scenes call over HTTP (`compare.engine = "http"`), one per scene, with
//!   this node's circuit breaker for each.
//!
//! A pool that does not answer is `health: "down"` in a `200`: the page is for seeing trouble.

use actix_web::{web, HttpResponse};
use livegate_actors::actor::PoolStats;
use livegate_models::registry::ModelFile;
use serde::Serialize;
use serde_json::{json, Value};

use super::permission::Permission;
use super::session::AdminSession;
use super::TenantQuery;
use crate::compare_service::breaker::BreakerState;
use crate::error::ApiError;
use crate::server::AppState;
use crate::sessions::SessionService;

/// Registers `/engines`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/engines", web::get().to(list));
}

/// One model file an engine loads.
#[derive(Debug, Clone, Serialize)]
struct ModelView {
    /// The file's name in the models folder.
    file: &'static str,
    /// Its SHA-256 (lowercase hex), as checked at start.
    sha256: &'static str,
}

fn models(files: &[ModelFile]) -> Vec<ModelView> {
    files
        .iter()
        .map(|m| ModelView {
            file: m.file_name(),
            sha256: m.sha256(),
        })
        .collect()
}

/// The model-worker pool's figures, shared by the two built-in engines it runs.
fn pool_json(stats: &Result<PoolStats, String>) -> (Value, Value) {
    match stats {
        Ok(s) => {
            let health = if s.workers > 0 { "ok" } else { "down" };
            let ms = |d: Option<std::time::Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
            let load = if s.workers == 0 {
                0.0
            } else {
                s.workers.saturating_sub(s.idle) as f64 / s.workers as f64
            };
            (
                json!(health),
                json!({
                    "workers": s.workers,
                    "busy": s.workers.saturating_sub(s.idle),
                    "load": load,
                    "queue_depth": s.queued,
                    "queue_max": s.queued_max,
                    "jobs_done": s.done,
                    "rejected": s.rejected,
                    "restarts": s.restarts,
                    "latency_ms": {"p50": ms(s.p50), "p95": ms(s.p95)},
                }),
            )
        }
        Err(reason) => (json!("down"), json!({ "error": reason })),
    }
}

fn breaker_json(state: BreakerState) -> Value {
    match state {
        BreakerState::Closed { failures } => json!({ "state": "closed", "failures": failures }),
        BreakerState::Open { until } => json!({
            "state": "open",
            "retry_in_s": until
                .saturating_duration_since(std::time::Instant::now())
                .as_secs_f64()
                .ceil(),
        }),
        BreakerState::HalfOpen => json!({ "state": "half_open" }),
    }
}

/// Where a compare service is, without its query (it may carry a key).
fn shown_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

async fn list(
    session: AdminSession,
    state: web::Data<AppState>,
    sessions: web::Data<SessionService>,
    query: web::Query<TenantQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::EnginesRead)?;
    let tenant = session.tenant_scope(query.tenant)?;
    let stats = sessions
        .model_pool()
        .stats()
        .await
        .map_err(|err| err.to_string());
    let (health, pool) = pool_json(&stats);
    let version = env!("CARGO_PKG_VERSION");
    let mut items = vec![
        json!({
            "name": "livegate",
            "kind": "builtin",
            "role": "liveness",
            "version": version,
            "runtime": "openvino",
            "models": models(&[
                ModelFile::FaceDetectionShortRange,
                ModelFile::FaceDetectionFullRange,
                ModelFile::FaceLandmark,
                ModelFile::IrisLandmark,
            ]),
            "health": health,
            "pool": pool,
        }),
        json!({
            "name": "dlib",
            "kind": "builtin",
            "role": "compare",
            "version": version,
            "runtime": "dlib",
            "models": models(&[ModelFile::DlibFaceRecognition, ModelFile::DlibShapePredictor5]),
            "health": health,
            "pool": pool,
        }),
    ];
    // The HTTP compare services the tenant's scenes call, each with this node's breaker.
    let scenes = state.store.list_scenes(tenant).await?;
    let client = sessions.compare_service();
    for scene in scenes {
        if scene.config["compare"]["engine"] != "http" {
            continue;
        }
        let url = scene.config["compare"]["http"]["url"]
            .as_str()
            .and_then(|text| url::Url::parse(text).ok());
        let Some(url) = url else { continue };
        items.push(json!({
            "name": format!("http:{}", scene.code),
            "kind": "plugin",
            "role": "compare",
            "version": Value::Null,
            "scene": scene.code,
            "url": shown_url(&url),
            "models": [],
            "health": match client.breaker_state(url.as_str()) {
                BreakerState::Closed { .. } => "ok",
                BreakerState::HalfOpen => "degraded",
                BreakerState::Open { .. } => "down",
            },
            "breaker": breaker_json(client.breaker_state(url.as_str())),
        }));
    }
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn pool_figures_read_as_the_page_shows_them() {
        let stats = PoolStats {
            workers: 4,
            idle: 1,
            queued: 2,
            done: 10,
            p50: Some(Duration::from_micros(6_500)),
            p95: Some(Duration::from_millis(12)),
            ..PoolStats::default()
        };
        let (health, pool) = pool_json(&Ok(stats));
        assert_eq!(health, "ok");
        assert_eq!(pool["load"], 0.75);
        assert_eq!(pool["queue_depth"], 2);
        assert_eq!(pool["latency_ms"]["p50"], 6.5);
        assert_eq!(pool["latency_ms"]["p95"], 12.0);
        let (down, pool) = pool_json(&Err("not answering".into()));
        assert_eq!(down, "down");
        assert_eq!(pool["error"], "not answering");
        let (none, _) = pool_json(&Ok(PoolStats::default()));
        assert_eq!(none, "down");
    }

    #[test]
    fn a_service_url_is_shown_without_its_query() {
        let url = url::Url::parse("https://face.union.example/v1/compare?key=abc#x").unwrap();
        assert_eq!(shown_url(&url), "https://face.union.example/v1/compare");
    }

    #[test]
    fn every_model_file_belongs_to_one_builtin_engine() {
        let liveness = [
            ModelFile::FaceDetectionShortRange,
            ModelFile::FaceDetectionFullRange,
            ModelFile::FaceLandmark,
            ModelFile::IrisLandmark,
        ];
        let compare = [
            ModelFile::DlibFaceRecognition,
            ModelFile::DlibShapePredictor5,
        ];
        for file in ModelFile::ALL {
            assert!(
                liveness.contains(&file) != compare.contains(&file),
                "{file:?}"
            );
        }
    }
}
