//! `GET /open/v1/ping`: an integrator's check that their signing works. Answers the app and its
//! tenant's code, and nothing else.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::error::ApiError;
use crate::server::AppState;

use super::auth::authenticate_request;

/// Registers `GET /open/v1/ping`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/open/v1/ping", web::get().to(ping));
}

async fn ping(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let app = authenticate_request(&req, &body).await?;
    let tenant = state.store.tenant(app.tenant_id).await?;
    Ok(HttpResponse::Ok().json(json!({ "app_id": app.app_id, "tenant": tenant.code })))
}
