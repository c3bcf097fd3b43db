//! Livegate's server crate: the only one that knows HTTP, storage and the command line.
//!
//! Layout:
//! - `admin/`: the admin API (`/admin/api/v1`) the operations console calls: console sessions
//!   (`session.rs`, the `AdminSession` extractor), permissions and roles, users, tenants, apps,
//!   the audit log.
//! - `analyze.rs`: `livegate analyze`, the engine over a video or an image as JSON lines.
//! - `attacks/`: `livegate attacks`, the attack battery (a stager per species, played to
//!   session actors; APCER / BPCER table, `docs/attacks.md`).
//! - `built_files.rs`: a front end's build folder over HTTP (safe names, types, caching), for
//!   `h5/` and `console.rs`.
//! - `compare.rs`: `livegate compare A B`, the built-in 1:1 comparator as one JSON line.
//! - `compare_service/`: the adapter to a union's own compare service over HTTP (a scene's
//!   `compare.http`: body template, auth, retries, circuit breaker).
//! - `cli.rs`: the subcommands (clap); `commands.rs`: what each one does; `main.rs` only parses
//!   and exits.
//! - `loadtest.rs`: `livegate loadtest`, many H5 pages over the real protocol, measured (the
//!   protocol-free half is the `livegate-loadtest` crate).
//! - `console.rs`: the operations console's built files at `/admin/` (SPA fallback, its CSP).
//! - `config.rs`: figment layers (built-in defaults, file, `LIVEGATE_*`), then `validate()`;
//!   every environment variable is in its `ENV_VARS` table.
//! - `error.rs`: `ErrorCode` and `ApiError`, the one error shape of every HTTP answer.
//! - `server.rs`: `run(listener, state, shutdown)`, `/healthz`, `/readyz`, `/metrics`;
//!   `metrics.rs`: the described metrics and the request middleware; `logging.rs`.
//! - `scenes.rs`: `SceneRules`, the typed and validated form of a scene's `config` JSON;
//!   `scene_secrets.rs`: its secrets sealed at rest under the master key.
//! - `models.rs`: the model files checked at start and the `models` readiness check.
//! - `callbacks/`: the result callbacks' delivery worker (signed POSTs from the store's outbox,
//!   retried with backoff); `evidence.rs`: the evidence store (frames kept with a record).
//! - `open_api/`: the integrators' API (`/open/v1`), signed requests checked in `auth.rs`;
//!   `signature.rs` the signature itself; `secrets.rs` the master key sealing stored secrets;
//!   `result_signing.rs` the ES256 result JWS and `/.well-known/jwks.json`, keys rotated.
//! - `store/`: the `Store` trait with SQLite (embedded) and PostgreSQL backends, and their
//!   numbered migrations (SQL in `migrations/<dialect>/`).
//!
//! ```text
//! livegate serve ─ config::load ─ store::open + migrate ─ server::run ─┬─ /healthz
//!                                                                     ├─ /readyz  (ReadinessCheck: store, ...)
//!                                                                     ├─ /metrics
//!                                                                     └─ routes added by run_with
//! ```

pub mod admin;
pub mod analyze;
pub mod attacks;
pub mod built_files;
pub mod callbacks;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod compare_service;
pub mod config;
pub mod console;
pub mod dictionary;
pub mod error;
pub mod evidence;
pub mod h5;
pub mod jobs;
pub mod loadtest;
pub mod logging;
pub mod metrics;
pub mod models;
pub mod node;
pub mod open_api;
pub mod properties;
pub mod result_signing;
pub mod scene_secrets;
pub mod scenes;
pub mod secrets;
pub mod server;
pub mod sessions;
pub mod signature;
pub mod stats;
pub mod store;
