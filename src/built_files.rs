//! A front end's build folder (`ui/h5/dist`, `ui/console/dist`) served over HTTP.
//!
//! One reading of a file for both front ends: only plain names inside the folder, a content type
//! from the extension, hashed `assets/` cached for a year and everything else revalidated. Each
//! front end adds its own security headers (the H5 page is framed by banks' apps; the console is
//! never framed).

use std::io::ErrorKind;
use std::path::Path;

use actix_web::http::header;
use actix_web::HttpResponse;
use serde_json::json;

use crate::error::{ApiError, ErrorCode};

/// Whether `name` is a plain relative file name: segments of letters, digits, `-`, `_` and `.`,
/// none empty, `.` or `..`, so nothing outside the folder can be read.
pub fn is_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('/').all(|part| {
            !part.is_empty()
                && part != ".."
                && part != "."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

/// One file of a build, read and ready to send.
#[derive(Debug)]
pub struct BuiltFile {
    bytes: Vec<u8>,
    content_type: &'static str,
    cache: &'static str,
}

impl BuiltFile {
    /// Reads `name` from the build in `dir`; `what` names the front end in the 503 sent when it
    /// was never built ("the H5 page"). A name that is not a plain file name is a 404.
    pub async fn read(dir: &Path, what: &str, name: &str) -> Result<Self, ApiError> {
        if !is_file_name(name) {
            return Err(ApiError::new(ErrorCode::NotFound));
        }
        let path = dir.join(name);
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(err) if matches!(err.kind(), ErrorKind::NotFound | ErrorKind::IsADirectory) => {
                if name == "index.html" {
                    return Err(ApiError::new(ErrorCode::Unavailable).with_detail(json!({
                        "reason": format!("{what} is not built in {}: run scripts/setup", dir.display())
                    })));
                }
                return Err(ApiError::new(ErrorCode::NotFound));
            }
            Err(err) => {
                return Err(ApiError::internal(format!(
                    "reading {}: {err}",
                    path.display()
                )))
            }
        };
        Ok(Self {
            bytes,
            content_type: content_type(name),
            // Built assets carry a content hash in their names; the rest must always be fresh.
            cache: if name.starts_with("assets/") {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            },
        })
    }

    /// The 200 answer with the front end's own `headers` besides type, caching and `nosniff`.
    pub fn respond(self, headers: &[(&'static str, &'static str)]) -> HttpResponse {
        let mut answer = HttpResponse::Ok();
        answer
            .insert_header((header::CONTENT_TYPE, self.content_type))
            .insert_header((header::CACHE_CONTROL, self.cache))
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .insert_header(("Referrer-Policy", "no-referrer"));
        for &header in headers {
            answer.insert_header(header);
        }
        answer.body(self.bytes)
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("ttf") => "font/ttf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_inside_the_folder_are_files() {
        for name in ["index.html", "assets/app-1a2b.js", "favicon.ico"] {
            assert!(is_file_name(name), "{name}");
        }
        for name in [
            "",
            "../secret",
            "assets/../../x",
            "a//b",
            "./index.html",
            "a b",
            "%2e%2e/x",
        ] {
            assert!(!is_file_name(name), "{name}");
        }
    }

    #[actix_web::test]
    async fn a_missing_build_says_how_to_build_it_and_a_missing_asset_is_404() {
        let dir = tempfile::tempdir().expect("temp dir");
        let unbuilt = BuiltFile::read(dir.path(), "the H5 page", "index.html").await;
        let err = unbuilt.expect_err("no index.html");
        assert_eq!(err.code(), ErrorCode::Unavailable);
        let missing = BuiltFile::read(dir.path(), "the H5 page", "assets/x.js").await;
        assert_eq!(missing.expect_err("no asset").code(), ErrorCode::NotFound);
        let outside = BuiltFile::read(dir.path(), "the H5 page", "../etc/passwd").await;
        assert_eq!(outside.expect_err("outside").code(), ErrorCode::NotFound);
    }

    #[actix_web::test]
    async fn hashed_assets_are_cached_and_pages_revalidated() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("assets")).expect("assets");
        std::fs::write(dir.path().join("assets/app-1a2b.js"), "1").expect("asset");
        std::fs::write(dir.path().join("index.html"), "<!doctype html>").expect("index");
        let asset = BuiltFile::read(dir.path(), "x", "assets/app-1a2b.js")
            .await
            .expect("asset")
            .respond(&[("X-Frame-Options", "DENY")]);
        let h = asset.headers();
        assert_eq!(
            h.get("content-type").unwrap(),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            h.get("cache-control").unwrap(),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
        let page = BuiltFile::read(dir.path(), "x", "index.html")
            .await
            .expect("index")
            .respond(&[]);
        assert_eq!(page.headers().get("cache-control").unwrap(), "no-cache");
        assert_eq!(
            page.headers().get("x-content-type-options").unwrap(),
            "nosniff"
        );
    }
}
