//! `GET /audit`: the audit log of one tenant of the user's subtree, newest first.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::permission::Permission;
use super::session::AdminSession;
use super::{PageQuery, Paged, TenantQuery};
use crate::error::ApiError;
use crate::server::AppState;
use crate::store::AuditFilter;

/// Registers `/audit`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(list));
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(flatten)]
    tenant: TenantQuery,
    #[serde(flatten)]
    page: PageQuery,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    action: Option<String>,
    username: Option<String>,
}

async fn list(
    session: AdminSession,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::AuditRead)?;
    let query = query.into_inner();
    let tenant = session.tenant_scope(query.tenant.tenant)?;
    let page = query.page.page()?;
    let filter = AuditFilter {
        from: query.from,
        to: query.to,
        action: query.action.filter(|a| !a.is_empty()),
        username: query.username.filter(|u| !u.is_empty()),
    };
    let (entries, total) = state.store.list_audit(tenant, &filter, page).await?;
    Ok(HttpResponse::Ok().json(Paged::new(entries, total, page)))
}
