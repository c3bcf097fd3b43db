//! `/apps`: the API apps integrators sign Open API requests with. The secret is made here (as
//! `livegate apps create` makes it, through [`new_app`]), shown once in the create answer, and
//! stored only sealed under the master key.

use actix_web::{web, HttpResponse};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::permission::Permission;
use super::session::AdminSession;
use super::{required_text, Paged, TenantPageQuery};
use crate::error::ApiError;
use crate::secrets::{app_secret_aad, MasterKey, SecretsError};
use crate::server::AppState;
use crate::store::{App, AppId, AppStatus, NewApp, TenantId};

/// The longest app name.
const MAX_NAME: usize = 128;

/// A new app with a fresh 32-byte random secret (base64url), sealed under `master`; returns the
/// app to store and the secret in clear, to show once.
pub fn new_app(master: &MasterKey, name: String) -> Result<(NewApp, String), SecretsError> {
    let app_id = AppId::generate();
    let secret =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let secret_sealed = master.seal(secret.as_bytes(), &app_secret_aad(app_id.as_str()))?;
    Ok((
        NewApp {
            app_id,
            name,
            secret_sealed,
        },
        secret,
    ))
}

/// Registers `/apps*`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/apps", web::get().to(list))
        .route("/apps", web::post().to(create))
        .route("/apps/{app_id}/disable", web::post().to(disable));
}

/// An app as the API shows it (never its secret).
#[derive(Debug, Clone, Serialize)]
struct AppView {
    app_id: AppId,
    tenant_id: TenantId,
    name: String,
    status: AppStatus,
    created_at: DateTime<Utc>,
}

impl From<App> for AppView {
    fn from(app: App) -> Self {
        Self {
            app_id: app.app_id,
            tenant_id: app.tenant_id,
            name: app.name,
            status: app.status,
            created_at: app.created_at,
        }
    }
}

async fn list(
    session: AdminSession,
    state: web::Data<AppState>,
    query: web::Query<TenantPageQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::AppsRead)?;
    let tenant = session.tenant_scope(query.tenant.tenant)?;
    let page = query.page.page()?;
    let apps: Vec<AppView> = state
        .store
        .list_apps(tenant)
        .await?
        .into_iter()
        .map(AppView::from)
        .collect();
    Ok(HttpResponse::Ok().json(Paged::slice(apps, page)))
}

#[derive(Deserialize)]
struct CreateApp {
    name: String,
    tenant: Option<TenantId>,
}

async fn create(
    session: AdminSession,
    state: web::Data<AppState>,
    master: web::Data<MasterKey>,
    body: web::Json<CreateApp>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::AppsWrite)?;
    let body = body.into_inner();
    let name = required_text("name", &body.name, MAX_NAME)?;
    let tenant = session.tenant_scope(body.tenant)?;
    let (new, secret) = new_app(&master, name).map_err(ApiError::internal)?;
    let store = state.store.as_ref();
    let app = store.create_app(tenant, &new).await?;
    session
        .audit_in(
            store,
            tenant,
            "app.create",
            &app.app_id,
            json!({ "name": app.name }),
        )
        .await?;
    let mut answer = serde_json::to_value(AppView::from(app)).map_err(ApiError::internal)?;
    if let Some(fields) = answer.as_object_mut() {
        fields.insert("secret".into(), json!(secret));
    }
    Ok(HttpResponse::Created().json(answer))
}

#[derive(Deserialize)]
struct DisableQuery {
    tenant: Option<TenantId>,
}

async fn disable(
    session: AdminSession,
    state: web::Data<AppState>,
    app_id: web::Path<String>,
    query: web::Query<DisableQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::AppsWrite)?;
    let not_found = || ApiError::from(crate::store::StoreError::NotFound { entity: "app" });
    let app_id = AppId::parse(&app_id).ok_or_else(not_found)?;
    let store = state.store.as_ref();
    // The app's own tenant, checked against the user's subtree (another subtree's app: 404).
    let tenant = match query.tenant {
        Some(tenant) => session.tenant_scope(Some(tenant))?,
        None => {
            let app = store.app(&app_id).await?;
            if !session.in_subtree(app.tenant_id) {
                return Err(not_found());
            }
            app.tenant_id
        }
    };
    let app = store
        .set_app_status(tenant, &app_id, AppStatus::Disabled)
        .await?;
    session
        .audit_in(
            store,
            tenant,
            "app.disable",
            &app.app_id,
            json!({ "name": app.name }),
        )
        .await?;
    Ok(HttpResponse::Ok().json(AppView::from(app)))
}
