//! Statistics (调用统计): `GET /stats/summary`, `/stats/series`, `/stats/reasons`
//! (docs/admin-api.md). The answers are built by `crate::stats` over the hourly roll-ups.
//!
//! Without `tenant`, statistics cover the user's whole subtree (so that the union sees its banks
//! side by side with `by=tenant`); with it, that one tenant of the subtree.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::records::{code_char, optional_code, tenant_param, time_range};
use super::{invalid, AdminSession, Permission};
use crate::error::ApiError;
use crate::server::AppState;
use crate::stats::{self, Bucket};
use crate::store::record_search::{StatsDimension, StatsFilter};

/// The longest range a series by hour may cover.
pub const MAX_HOURLY_DAYS: i64 = 31;

/// Registers the statistics routes (relative to the admin scope).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/stats/summary").route(web::get().to(summary)))
        .service(web::resource("/stats/series").route(web::get().to(series)))
        .service(web::resource("/stats/reasons").route(web::get().to(reasons)));
}

/// The query of every statistic. Text fields so that a bad value is a 422 naming it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StatsQuery {
    /// From (RFC 3339; rounded down to the hour). Default: 7 days before `to`.
    pub from: Option<String>,
    /// To (RFC 3339; rounded up to the hour). Default: now.
    pub to: Option<String>,
    /// A tenant of the user's subtree; default the whole subtree.
    pub tenant: Option<String>,
    /// Scene code.
    pub scene: Option<String>,
    /// App id.
    pub app: Option<String>,
    /// Series: `hour` or `day` (default `day`).
    pub bucket: Option<String>,
    /// Series: `scene`, `app`, `tenant` or `engine` (default: one line, `all`).
    pub by: Option<String>,
    /// Series by day: the zone's offset from UTC in whole hours (-12..=14, default 0), so that
    /// days start at local midnight (`8` for China).
    pub tz_offset: Option<String>,
}

impl StatsQuery {
    /// The store filter (whole hours) for `session`, or 422 naming the field.
    pub fn filter(
        &self,
        session: &AdminSession,
        now: DateTime<Utc>,
    ) -> Result<StatsFilter, ApiError> {
        let (from, to) = time_range(self.from.as_deref(), self.to.as_deref(), now)?;
        let tenants = match tenant_param(self.tenant.as_deref())? {
            Some(tenant) => vec![session.tenant_scope(Some(tenant))?],
            None => session.subtree().to_vec(),
        };
        Ok(stats::hours(StatsFilter {
            tenants,
            from,
            to,
            scene_code: optional_code("scene", self.scene.as_deref(), 64, code_char)?,
            app_id: optional_code("app", self.app.as_deref(), 64, code_char)?,
        }))
    }
}

/// A statistic with the whole-hour range it covers.
#[derive(Debug, Serialize)]
pub struct Ranged<T> {
    /// The first hour covered.
    pub from: DateTime<Utc>,
    /// The end of the last hour covered.
    pub to: DateTime<Utc>,
    /// The statistic.
    #[serde(flatten)]
    pub body: T,
}

async fn summary(
    session: AdminSession,
    state: web::Data<AppState>,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::StatsRead)?;
    let filter = query.filter(&session, Utc::now())?;
    let body = stats::summary(state.store.as_ref(), &filter).await?;
    Ok(HttpResponse::Ok().json(Ranged {
        from: filter.from,
        to: filter.to,
        body,
    }))
}

async fn series(
    session: AdminSession,
    state: web::Data<AppState>,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::StatsRead)?;
    let filter = query.filter(&session, Utc::now())?;
    let bucket = match query.bucket.as_deref().map(str::trim) {
        None | Some("") | Some("day") => Bucket::Day,
        Some("hour") => Bucket::Hour,
        Some(_) => return Err(invalid("bucket", "must be hour or day")),
    };
    if bucket == Bucket::Hour && filter.to - filter.from > TimeDelta::days(MAX_HOURLY_DAYS) {
        return Err(invalid(
            "bucket",
            &format!("hourly series cover at most {MAX_HOURLY_DAYS} days: use day"),
        ));
    }
    let by = match query.by.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            StatsDimension::parse(text)
                .ok_or_else(|| invalid("by", "must be one of scene, app, tenant, engine"))?,
        ),
    };
    let offset = match query.tz_offset.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(text) => text
            .parse::<i32>()
            .ok()
            .filter(|h| (-12..=14).contains(h))
            .ok_or_else(|| invalid("tz_offset", "must be whole hours from -12 to 14"))?,
    };
    let body = stats::series(state.store.as_ref(), &filter, bucket, by, offset).await?;
    Ok(HttpResponse::Ok().json(Ranged {
        from: filter.from,
        to: filter.to,
        body,
    }))
}

async fn reasons(
    session: AdminSession,
    state: web::Data<AppState>,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::StatsRead)?;
    let filter = query.filter(&session, Utc::now())?;
    let body = stats::reasons(state.store.as_ref(), &filter).await?;
    Ok(HttpResponse::Ok().json(Ranged {
        from: filter.from,
        to: filter.to,
        body,
    }))
}
