//! `POST /open/v1/sessions` and `GET /open/v1/sessions/{id}/result`: thin handlers that
//! authenticate the app, parse, and ask the session service.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use uuid::Uuid;

use crate::error::{ApiError, ErrorCode};
use crate::sessions::{CreateSession, Creator, SessionService};

use super::auth::authenticate_request;

/// Registers the session endpoints.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/open/v1/sessions", web::post().to(create))
        .route("/open/v1/sessions/{id}/result", web::get().to(result));
}

async fn create(
    req: HttpRequest,
    body: web::Bytes,
    service: web::Data<SessionService>,
) -> Result<HttpResponse, ApiError> {
    let app = authenticate_request(&req, &body).await?;
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType)
            .with_detail(json!({ "reason": "send application/json" })));
    }
    let request: CreateSession = serde_json::from_slice(&body).map_err(|err| {
        ApiError::new(ErrorCode::BadRequest).with_detail(json!({ "reason": err.to_string() }))
    })?;
    let creator = Creator {
        tenant: app.tenant_id,
        app_id: app.app_id,
    };
    let created = service.create(&creator, request).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(created))
}

async fn result(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<String>,
    service: web::Data<SessionService>,
) -> Result<HttpResponse, ApiError> {
    let app = authenticate_request(&req, &body).await?;
    let id: Uuid = path
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::NotFound))?;
    let result = service.result(app.tenant_id, id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(result))
}
