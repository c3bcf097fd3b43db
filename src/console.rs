//! The operations console's built files (`ui/console/dist`), served at `/admin/`.
//!
//! The console is a single-page app: a path under `/admin/` that names no file (`/admin/records`,
//! `/admin/records/{id}`) is one of its client routes and gets `index.html`, which the app's
//! router then reads. Nothing under `/admin/api/` is answered here: that is the admin API's, and
//! this service's catch-all skips it whatever order the routes are registered in.

use std::path::PathBuf;

use actix_web::http::header;
use actix_web::{guard, web, HttpResponse};

use crate::built_files::{is_file_name, BuiltFile};
use crate::error::{ApiError, ErrorCode};

/// Where the built console is served from (`server.console_dir`).
#[derive(Debug, Clone)]
pub struct ConsoleDir(pub PathBuf);

/// The console's Content-Security-Policy: its own scripts only, no frames around it. Element
/// Plus sets inline `style` attributes, hence `'unsafe-inline'` for styles (never scripts).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' blob: data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Registers `/admin` (a redirect), `/admin/` and every file or client route under it except
/// `/admin/api/...`. Needs `web::Data<ConsoleDir>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(redirect_to_console))
        .route("/admin/", web::get().to(console_index))
        .service(
            web::resource("/admin/{file:.*}")
                // A resource guard makes the router try the next resource, so the admin API's
                // routes are found even if they are registered after this one.
                .guard(guard::fn_guard(|ctx| {
                    !ctx.head().uri.path().starts_with("/admin/api/")
                }))
                .route(web::get().to(console_file)),
        );
}

async fn redirect_to_console() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/admin/"))
        .finish()
}

async fn console_index(dir: web::Data<ConsoleDir>) -> Result<HttpResponse, ApiError> {
    serve(&dir, "index.html").await
}

async fn console_file(
    path: web::Path<String>,
    dir: web::Data<ConsoleDir>,
) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    match target(&name) {
        Target::File => match serve(&dir, &name).await {
            Err(err) if err.code() == ErrorCode::NotFound && is_client_route(&name) => {
                serve(&dir, "index.html").await
            }
            other => other,
        },
        Target::ClientRoute => serve(&dir, "index.html").await,
        Target::Nothing => Err(ApiError::new(ErrorCode::NotFound)),
    }
}

/// What a path under `/admin/` asks for.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// A file of the build, if it exists (else a client route when it looks like one).
    File,
    /// A path that cannot be a file name here but can be a client route: the app decides.
    ClientRoute,
    /// Neither (a missing asset, a dot segment): 404.
    Nothing,
}

fn target(name: &str) -> Target {
    if is_file_name(name) {
        Target::File
    } else if is_client_route(name) {
        Target::ClientRoute
    } else {
        Target::Nothing
    }
}

/// A client route names no file: no dot in its last segment, not under `assets/`. A missing
/// `assets/app-1234.js` stays a 404 instead of turning into HTML the browser cannot run.
fn is_client_route(name: &str) -> bool {
    let last = name.rsplit('/').next().unwrap_or(name);
    !name.starts_with("assets/") && !last.contains('.') && !name.split('/').any(|p| p == "..")
}

/// Serves one file of the build.
async fn serve(dir: &ConsoleDir, name: &str) -> Result<HttpResponse, ApiError> {
    let file = BuiltFile::read(&dir.0, "the console", name).await?;
    Ok(file.respond(&[
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy", CSP),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    // Not `test` itself: it would shadow the `#[test]` attribute in this module.
    use actix_web::{test as web_test, App};

    fn built() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("assets")).expect("assets dir");
        std::fs::write(
            dir.path().join("index.html"),
            "<!doctype html><title>console</title>",
        )
        .expect("index");
        std::fs::write(dir.path().join("assets/app-1a2b.js"), "console.log(1)").expect("asset");
        dir
    }

    #[test]
    fn client_routes_are_told_from_files() {
        assert_eq!(target("assets/app-1a2b.js"), Target::File);
        assert_eq!(target("records"), Target::File);
        assert!(is_client_route(
            "records/0b5c3e1e-6a4e-4a57-9a0e-2f3a1c1b2d3e"
        ));
        assert!(!is_client_route("assets/missing"));
        assert!(!is_client_route("favicon.ico"));
        assert_eq!(target("a/../../etc/passwd"), Target::Nothing);
        assert_eq!(target("scenes/new%20one"), Target::ClientRoute);
    }

    #[actix_web::test]
    async fn serves_files_and_falls_back_to_the_app_for_client_routes() {
        let dir = built();
        let app = web_test::init_service(
            App::new()
                .app_data(web::Data::new(ConsoleDir(dir.path().to_path_buf())))
                .configure(configure)
                .route(
                    "/admin/api/v1/records",
                    web::get().to(|| async { HttpResponse::Ok().body("api") }),
                ),
        )
        .await;
        let get = |uri: &str| web_test::TestRequest::get().uri(uri).to_request();

        let r = web_test::call_service(&app, get("/admin/")).await;
        assert_eq!(r.status(), 200);
        let csp = r.headers().get("content-security-policy").cloned();
        assert_eq!(csp.as_ref().and_then(|v| v.to_str().ok()), Some(CSP));
        assert_eq!(
            web_test::read_body(r).await,
            "<!doctype html><title>console</title>"
        );

        let r = web_test::call_service(&app, get("/admin/assets/app-1a2b.js")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("text/javascript; charset=utf-8")
        );

        for route in [
            "/admin/records",
            "/admin/records/0b5c3e1e-6a4e",
            "/admin/system/jobs",
        ] {
            let r = web_test::call_service(&app, get(route)).await;
            assert_eq!(r.status(), 200, "{route}");
            assert_eq!(
                web_test::read_body(r).await,
                "<!doctype html><title>console</title>",
                "{route}"
            );
        }

        for missing in ["/admin/assets/gone-1234.js", "/admin/favicon.ico"] {
            let r = web_test::call_service(&app, get(missing)).await;
            assert_eq!(r.status(), 404, "{missing}");
        }

        // The admin API registered after the console is still reached.
        let r = web_test::call_service(&app, get("/admin/api/v1/records")).await;
        assert_eq!(web_test::read_body(r).await, "api");
        let r = web_test::call_service(&app, get("/admin/api/v1/nothing")).await;
        assert_eq!(r.status(), 404);

        let r = web_test::call_service(&app, get("/admin")).await;
        assert_eq!(r.status(), 308);
    }

    #[actix_web::test]
    async fn an_unbuilt_console_says_how_to_build_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let app = web_test::init_service(
            App::new()
                .app_data(web::Data::new(ConsoleDir(dir.path().join("dist"))))
                .configure(configure),
        )
        .await;
        let r = web_test::call_service(
            &app,
            web_test::TestRequest::get().uri("/admin/").to_request(),
        )
        .await;
        assert_eq!(r.status(), 503);
        let body = web_test::read_body(r).await;
        assert!(String::from_utf8_lossy(&body).contains("scripts/setup"));
    }
}
