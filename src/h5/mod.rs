//! The H5 page's side of the server: the page itself, its challenge and its WebSocket
//! (`docs/h5-protocol.md`).
//!
//! - `messages.rs`: the JSON messages and closing codes (pure).
//! - `seal.rs`: the sealing suite (X25519, HKDF-SHA256, ChaCha20-Poly1305) (pure).
//! - `ws.rs`: one connection's loop.
//! - `recording.rs`: the recorded-video fallback's upload (§7).

pub mod messages;
pub mod recording;
pub mod seal;
pub mod ws;

use std::path::PathBuf;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use livegate_actors::prompts::Lang;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::built_files::BuiltFile;
use crate::error::{ApiError, ErrorCode};
use crate::sessions::{Connection, SessionService};

/// Where the built page is served from.
#[derive(Debug, Clone)]
pub struct PageDir(pub PathBuf);

/// Registers `/h5/` (the page), the challenge and the WebSocket. Needs `web::Data` of
/// [`SessionService`] and [`PageDir`].
pub fn configure(cfg: &mut web::ServiceConfig) {
    recording::configure(cfg);
    cfg.route("/h5/v1/sessions/{id}/challenge", web::get().to(challenge))
        .route("/h5/v1/sessions/{id}/ws", web::get().to(socket))
        .route("/h5", web::get().to(redirect_to_page))
        .route("/h5/", web::get().to(page_index))
        .route("/h5/{file:.*}", web::get().to(page_file));
}

#[derive(Debug, Deserialize)]
struct LangQuery {
    #[serde(default)]
    lang: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SocketQuery {
    #[serde(default)]
    t: String,
    #[serde(default)]
    lang: Option<String>,
}

fn lang(code: Option<&str>) -> Lang {
    match code {
        Some(c) if c.eq_ignore_ascii_case("en") || c.to_ascii_lowercase().starts_with("en-") => {
            Lang::En
        }
        _ => Lang::ZhCn,
    }
}

fn session_id(raw: &str) -> Result<Uuid, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::new(ErrorCode::NotFound).with_detail(json!({ "reason": "not a session id" }))
    })
}

fn bearer(req: &HttpRequest) -> &str {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .trim()
}

async fn challenge(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LangQuery>,
    service: web::Data<SessionService>,
) -> Result<HttpResponse, ApiError> {
    let id = session_id(&path)?;
    let view = service
        .challenge(id, bearer(&req), lang(query.lang.as_deref()))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

async fn socket(
    req: HttpRequest,
    body: web::Payload,
    path: web::Path<String>,
    query: web::Query<SocketQuery>,
    service: web::Data<SessionService>,
) -> Result<HttpResponse, ApiError> {
    let id = session_id(&path)?;
    let lang = lang(query.lang.as_deref());
    let target = service.connect(id, &query.t, lang).await?;
    let (response, session, stream) = actix_ws::handle(&req, body).map_err(|err| {
        ApiError::new(ErrorCode::BadRequest)
            .with_detail(json!({ "reason": "not a WebSocket upgrade" }))
            .with_cause(err)
    })?;
    match target {
        Connection::Ended(result) => {
            let stream = stream.max_frame_size(1 << 20).aggregate_continuations();
            actix_web::rt::spawn(ws::serve_ended(session, stream, result));
        }
        Connection::Live(live) => {
            let max = service.frame_limits(&live.facts.rules).max_frame_bytes;
            let stream = stream
                .max_frame_size(max)
                .aggregate_continuations()
                .max_continuation_size(max);
            let service = service.get_ref().clone();
            actix_web::rt::spawn(ws::serve_live(session, stream, service, live, lang));
        }
    }
    Ok(response)
}

async fn redirect_to_page(req: HttpRequest) -> HttpResponse {
    let query = req.query_string();
    let location = if query.is_empty() {
        "/h5/".to_owned()
    } else {
        format!("/h5/?{query}")
    };
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, location))
        .finish()
}

async fn page_index(dir: web::Data<PageDir>) -> Result<HttpResponse, ApiError> {
    serve_file(&dir, "index.html").await
}

async fn page_file(
    path: web::Path<String>,
    dir: web::Data<PageDir>,
) -> Result<HttpResponse, ApiError> {
    serve_file(&dir, &path).await
}

/// The H5 page's Content-Security-Policy: banks' apps frame it, so any ancestor may.
const PAGE_CSP: &str = "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; frame-ancestors *";

/// Serves one file of the built page.
async fn serve_file(dir: &PageDir, name: &str) -> Result<HttpResponse, ApiError> {
    let file = BuiltFile::read(&dir.0, "the H5 page", name).await?;
    Ok(file.respond(&[("Content-Security-Policy", PAGE_CSP)]))
}
