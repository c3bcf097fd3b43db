//! `/jobs`: the scheduled jobs (定时任务), their schedule, run now and history.
//!
//! Jobs are system-wide: reading takes `jobs:read`; changing a schedule or running a job takes
//! `jobs:write` and a user of the top tenant (`403`, `detail.reason = "system_wide"`). The
//! node's [`Scheduler`] (`crate::jobs`) does the work; a run now answers `202` with the run as
//! started, and `409` when the job is running on any node.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::permission::Permission;
use super::session::AdminSession;
use super::system::require_system_wide;
use super::{invalid, PageQuery, Paged};
use crate::error::{ApiError, ErrorCode};
use crate::jobs::{JobDef, RunNowError, Schedule, Scheduler};
use crate::server::AppState;
use crate::store::now_micros;
use crate::store::system::{Job, JobUpdate, RunStatus};

/// Registers `/jobs`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/jobs", web::get().to(list))
        .route("/jobs/{code}", web::put().to(update))
        .route("/jobs/{code}/run", web::post().to(run_now))
        .route("/jobs/{code}/runs", web::get().to(runs));
}

/// A job as the console shows it: its definition and its row.
#[derive(Debug, Serialize)]
struct JobView {
    code: String,
    name_zh: &'static str,
    name_en: &'static str,
    description_zh: &'static str,
    description_en: &'static str,
    cron: String,
    default_cron: &'static str,
    enabled: bool,
    next_run_at: Option<DateTime<Utc>>,
    last_run_at: Option<DateTime<Utc>>,
    last_status: Option<RunStatus>,
    /// Whether a node holds its lease now.
    running: bool,
    /// The node running it, while `running`.
    running_on: Option<String>,
    updated_by: Option<String>,
    updated_at: DateTime<Utc>,
}

fn view(def: &JobDef, job: Job) -> JobView {
    let now = now_micros();
    let running = job.locked_until.is_some_and(|until| until > now);
    JobView {
        code: job.code,
        name_zh: def.name_zh,
        name_en: def.name_en,
        description_zh: def.description_zh,
        description_en: def.description_en,
        cron: job.cron,
        default_cron: def.default_cron,
        enabled: job.enabled,
        next_run_at: job.next_run_at,
        last_run_at: job.last_run_at,
        last_status: job.last_status,
        running,
        running_on: job.locked_by.filter(|_| running),
        updated_by: job.updated_by,
        updated_at: job.updated_at,
    }
}

fn unknown_job() -> ApiError {
    ApiError::new(ErrorCode::NotFound).with_detail(json!({ "entity": "job" }))
}

async fn list(
    session: AdminSession,
    state: web::Data<AppState>,
    scheduler: web::Data<Scheduler>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::JobsRead)?;
    let page = query.into_inner().page()?;
    // Rows of jobs this build does not run (a newer build's) are left out.
    let jobs: Vec<JobView> = state
        .store
        .jobs()
        .await?
        .into_iter()
        .filter_map(|job| {
            let def = scheduler.definition(&job.code)?;
            Some(view(def, job))
        })
        .collect();
    Ok(HttpResponse::Ok().json(Paged::slice(jobs, page)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateJob {
    cron: String,
    enabled: bool,
}

async fn update(
    session: AdminSession,
    state: web::Data<AppState>,
    scheduler: web::Data<Scheduler>,
    code: web::Path<String>,
    body: web::Json<UpdateJob>,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.as_ref();
    require_system_wide(&session, store, Permission::JobsWrite).await?;
    let def = *scheduler.definition(&code).ok_or_else(unknown_job)?;
    let body = body.into_inner();
    let schedule = Schedule::parse(&body.cron).map_err(|err| invalid("cron", &err.reason))?;
    let next_run_at = if body.enabled {
        scheduler.next_run(&schedule).await?
    } else {
        None
    };
    let update = JobUpdate {
        cron: schedule.as_str().to_owned(),
        enabled: body.enabled,
        next_run_at,
    };
    let (before, after) = store
        .update_job(def.code, &update, &session.username)
        .await?;
    session
        .audit(
            store,
            "job.update",
            def.code,
            json!({
                "old": { "cron": before.cron, "enabled": before.enabled },
                "new": { "cron": after.cron, "enabled": after.enabled },
            }),
        )
        .await?;
    Ok(HttpResponse::Ok().json(view(&def, after)))
}

async fn run_now(
    session: AdminSession,
    state: web::Data<AppState>,
    scheduler: web::Data<Scheduler>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.as_ref();
    require_system_wide(&session, store, Permission::JobsWrite).await?;
    let (run, _running) = match scheduler.run_now(&code, &session.username).await {
        Ok(started) => started,
        Err(RunNowError::UnknownJob) => return Err(unknown_job()),
        Err(RunNowError::Running { node, until }) => {
            return Err(ApiError::new(ErrorCode::Conflict).with_detail(json!({
                "reason": "running",
                "node": node,
                "lease_until": until,
            })))
        }
        Err(RunNowError::Store(err)) => return Err(err.into()),
    };
    session
        .audit(
            store,
            "job.run",
            &run.job_code,
            json!({ "run": run.id, "node": run.node }),
        )
        .await?;
    Ok(HttpResponse::Accepted().json(run))
}

async fn runs(
    session: AdminSession,
    state: web::Data<AppState>,
    scheduler: web::Data<Scheduler>,
    code: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::JobsRead)?;
    scheduler.definition(&code).ok_or_else(unknown_job)?;
    let page = query.into_inner().page()?;
    let (items, total) = state.store.job_runs(&code, page).await?;
    Ok(HttpResponse::Ok().json(Paged::new(items, total, page)))
}
