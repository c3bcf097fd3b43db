//! The recorded-video fallback's endpoints (`docs/h5-protocol.md` §7): thin handlers over
//! [`SessionService`]'s recording methods (`sessions/recorded.rs`).
//!
//! Body limits: the start's JSON is small (4 KiB); a chunk's body is streamed up to a full chunk
//! and its tag (`MAX_CHUNK_BODY`), anything larger is refused with 413 (in the one error body)
//! without reading the rest: the node-wide 2 MiB limit does not apply to it.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use serde_json::json;

use super::{bearer, lang, session_id, LangQuery};
use crate::error::{ApiError, ErrorCode};
use crate::sessions::recorded::{StartRecording, Started, MAX_CHUNK_BODY};
use crate::sessions::SessionService;

/// The largest start request.
const MAX_START_JSON: usize = 4 * 1024;

/// Registers the recording routes (before the page's catch-all).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/h5/v1/sessions/{id}/recording")
            .app_data(
                web::JsonConfig::default()
                    .limit(MAX_START_JSON)
                    .error_handler(|err, _req| ApiError::from_json(err).into()),
            )
            .route(web::post().to(start))
            .route(web::get().to(status)),
    )
    // Before `{index}`: "finish" is not an index.
    .service(web::resource("/h5/v1/sessions/{id}/recording/finish").route(web::post().to(finish)))
    .service(web::resource("/h5/v1/sessions/{id}/recording/{index}").route(web::put().to(chunk)));
}

fn no_store(mut response: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

async fn start(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LangQuery>,
    body: web::Json<StartRecording>,
    service: web::Data<SessionService>,
) -> Result<HttpResponse, ApiError> {
    let id = session_id(&path)?;
    let lang = lang(query.lang.as_deref());
    Ok(
        match service
            .start_recording(id, bearer(&req), lang, &body)
            .await?
        {
            Started::New(view) => no_store(HttpResponse::Created()).json(view),
            Started::Resumed(view) => no_store(HttpResponse::Ok()).json(view),
        },
    )
}

async fn status(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LangQuery>,
    service: web::Data<SessionService>,
) -> Result<HttpResponse, ApiError> {
    let id = session_id(&path)?;
    let view = service
        .recording_status(id, bearer(&req), lang(query.lang.as_deref()))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(view))
}

async fn chunk(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<LangQuery>,
    mut payload: web::Payload,
    service: web::Data<SessionService>,
) -> Result<HttpResponse, ApiError> {
    let (id, index) = path.into_inner();
    let id = session_id(&id)?;
    let index: u64 = index.parse().map_err(|_| {
        ApiError::new(ErrorCode::ValidationFailed)
            .with_detail(json!({ "reason": "the chunk index is not a number" }))
    })?;
    let too_large = || {
        ApiError::new(ErrorCode::PayloadTooLarge).with_detail(json!({ "limit": MAX_CHUNK_BODY }))
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_CHUNK_BODY) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(MAX_CHUNK_BODY));
    while let Some(part) = payload.next().await {
        let part = part.map_err(|err| ApiError::new(ErrorCode::BadRequest).with_cause(err))?;
        if body.len() + part.len() > MAX_CHUNK_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&part);
    }
    let received = service
        .put_chunk(id, bearer(&req), lang(query.lang.as_deref()), index, &body)
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(json!({ "received": received })))
}

async fn finish(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LangQuery>,
    service: web::Data<SessionService>,
) -> Result<HttpResponse, ApiError> {
    let id = session_id(&path)?;
    let result = service
        .finish_recording(id, bearer(&req), lang(query.lang.as_deref()))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(json!({ "result": result })))
}
