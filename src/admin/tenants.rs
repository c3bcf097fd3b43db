//! `/tenants`: the tenants of the user's subtree, and new tenants below them.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::permission::Permission;
use super::session::AdminSession;
use super::{invalid, required_text, PageQuery, Paged};
use crate::error::ApiError;
use crate::server::AppState;
use crate::store::{NewTenant, TenantId};

/// The longest tenant code.
const MAX_CODE: usize = 64;
/// The longest tenant name.
const MAX_NAME: usize = 128;

/// Registers `/tenants`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/tenants", web::get().to(list))
        .route("/tenants", web::post().to(create));
}

async fn list(
    session: AdminSession,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::TenantsRead)?;
    let page = query.into_inner().page()?;
    let tenants = state.store.tenant_subtree(session.tenant).await?;
    Ok(HttpResponse::Ok().json(Paged::slice(tenants, page)))
}

/// A tenant code: 1 to 64 of `a-z 0-9 - _`.
fn check_code(code: &str) -> Result<String, ApiError> {
    let code = code.trim();
    if code.is_empty() || code.chars().count() > MAX_CODE {
        return Err(invalid(
            "code",
            &format!("must be 1 to {MAX_CODE} characters"),
        ));
    }
    if !code
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(invalid("code", "may hold only a-z, 0-9, '-' and '_'"));
    }
    Ok(code.to_owned())
}

#[derive(Deserialize)]
struct CreateTenant {
    code: String,
    name: String,
    /// Default: the user's own tenant.
    parent_id: Option<TenantId>,
}

async fn create(
    session: AdminSession,
    state: web::Data<AppState>,
    body: web::Json<CreateTenant>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::TenantsWrite)?;
    let body = body.into_inner();
    let code = check_code(&body.code)?;
    let name = required_text("name", &body.name, MAX_NAME)?;
    let parent = session.tenant_scope(body.parent_id)?;
    let store = state.store.as_ref();
    let tenant = store
        .create_tenant(&NewTenant {
            code,
            name,
            parent_id: Some(parent),
        })
        .await?;
    session
        .audit_in(
            store,
            parent,
            "tenant.create",
            tenant.id,
            json!({ "code": tenant.code, "name": tenant.name, "parent_id": parent }),
        )
        .await?;
    Ok(HttpResponse::Created().json(tenant))
}
