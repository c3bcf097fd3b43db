//! The Open API for integrators (`/open/v1`, docs/open-api.md): every request is signed by an
//! API app (`auth.rs`); one file per resource.
//!
//! What handlers take as `web::Data`: `AppState` (the store), `MasterKey` (opens app secrets),
//! `ResultSigner` (the JWKS and result JWS).

pub mod auth;
pub mod jwks;
pub mod ping;
pub mod sessions;

use actix_web::web;

/// Registers the Open API's routes and `/.well-known/jwks.json`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    ping::configure(cfg);
    jwks::configure(cfg);
    sessions::configure(cfg);
}
