//! `GET /.well-known/jwks.json`: the public keys that verify result JWS (the current one and the
//! ones replaced less than `signing.overlap_days` ago). Public, cacheable for 5 minutes; a
//! verifier that meets an unknown `kid` (a rotation newer than its copy) fetches it again.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::result_signing::ResultSigner;

/// How long clients and proxies may cache the JWKS, in seconds.
pub const JWKS_MAX_AGE_SECS: u32 = 300;

/// Registers `GET /.well-known/jwks.json`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/.well-known/jwks.json", web::get().to(jwks));
}

async fn jwks(signer: web::Data<ResultSigner>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={JWKS_MAX_AGE_SECS}"),
        ))
        .json(signer.jwks())
}
