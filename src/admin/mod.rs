//! The admin API (`/admin/api/v1`, docs/admin-api.md): what the operations console and
//! operators' scripts call. One file per resource; every handler takes an [`AdminSession`]
//! (401 without a session, 403 without the CSRF header on writes), calls
//! `session.require(Permission::...)`, scopes by `session.tenant_scope(query.tenant)`, and
//! audits every write with `session.audit(...)`.
//!
//! ```text
//! /admin/api/v1 ─┬─ auth.rs     /auth/login, /auth/me, /auth/logout, /auth/password
//!                ├─ users.rs    /users, /roles
//!                ├─ tenants.rs  /tenants
//!                ├─ apps.rs     /apps
//!                ├─ audit.rs    /audit
//!                └─ (records, stats, system, jobs, scenes: one `configure` each, below)
//! ```
//!
//! What handlers take as `web::Data`: `AppState` (the store), `AdminSettings` (cookie and
//! timeouts), `MasterKey` (seals app secrets).
//!
//! Adding an area: write `src/admin/<area>.rs` with `pub fn configure(cfg: &mut
//! web::ServiceConfig)` registering paths relative to the scope (`web::resource("/records")`),
//! add its `pub mod` and one call in [`routes`].

pub mod apps;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod password;
pub mod permission;
pub mod session;
pub mod tenants;
pub mod users;
// Other areas' modules (one line each):
pub mod engines;
pub mod jobs;
pub mod records;
pub mod scenes;
pub mod stats;
pub mod system;

use actix_web::web;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{ApiError, ErrorCode};
use crate::store::{LockoutPolicy, Page, TenantId};

pub use permission::{BuiltinRole, Permission};
pub use session::{AdminSession, CSRF_HEADER, SESSION_COOKIE};

/// Where the admin API is mounted.
pub const SCOPE: &str = "/admin/api/v1";

/// Mounts the admin API under [`SCOPE`]; called from `Node::routes`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(SCOPE)
            .wrap(actix_web::middleware::from_fn(session::resolve_first))
            .configure(routes),
    );
}

/// Every area's routes, relative to [`SCOPE`].
fn routes(cfg: &mut web::ServiceConfig) {
    auth::configure(cfg);
    users::configure(cfg);
    tenants::configure(cfg);
    apps::configure(cfg);
    audit::configure(cfg);
    // Other areas register here (one line each):
    records::configure(cfg);
    stats::configure(cfg);
    system::configure(cfg);
    jobs::configure(cfg);
    scenes::configure(cfg);
    engines::configure(cfg);
}

/// How console sessions and logins behave on this node.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// Mark the cookie `Secure` (the public URL is https); a request that came over TLS gets it
    /// anyway.
    pub secure_cookie: bool,
    /// A session unused this long is over.
    pub idle_timeout: chrono::Duration,
    /// A session is over this long after login, used or not.
    pub absolute_timeout: chrono::Duration,
    /// Failed logins that lock an account.
    pub lockout: LockoutPolicy,
}

impl Default for AdminSettings {
    /// 8 h idle, 24 h absolute, 5 failures in 15 min lock for 15 min; `Secure` off.
    fn default() -> Self {
        Self {
            secure_cookie: false,
            idle_timeout: chrono::Duration::hours(8),
            absolute_timeout: chrono::Duration::hours(24),
            lockout: LockoutPolicy::default(),
        }
    }
}

impl AdminSettings {
    /// The defaults, with `Secure` cookies when `server.public_url` is https.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            secure_cookie: config.public_url().starts_with("https://"),
            ..Self::default()
        }
    }
}

/// A `422 VALIDATION_FAILED` naming the request's `field` (`detail.field`) and what is wrong
/// with it (`detail.reason`, English). Never put the value itself in `reason`.
pub fn invalid(field: &str, reason: &str) -> ApiError {
    ApiError::new(ErrorCode::ValidationFailed)
        .with_detail(json!({ "field": field, "reason": reason }))
}

/// A required text field, trimmed: 1 to `max` characters, else 422 naming it.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(invalid(field, &format!("must be at most {max} characters")));
    }
    Ok(value.to_owned())
}

/// The paging of a list call: `offset` (default 0) and `limit` (default 20, 1..=500). Flatten it
/// into a handler's query struct with `#[serde(flatten)]`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct PageQuery {
    /// Rows to skip.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub offset: Option<u32>,
    /// Rows to return.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub limit: Option<u32>,
}

/// A number given as a number or as text: under `#[serde(flatten)]` a query string's values
/// reach the flattened struct as text, which a plain `u32` field refuses.
fn lenient_u32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(u32),
        Text(String),
    }
    match Option::<NumberOrText>::deserialize(d)? {
        None => Ok(None),
        Some(NumberOrText::Number(n)) => Ok(Some(n)),
        Some(NumberOrText::Text(t)) => t
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("not a number: {t:?}"))),
    }
}

impl PageQuery {
    /// The default page size.
    pub const DEFAULT_LIMIT: u32 = 20;

    /// The page, or 422 naming `limit` when it is out of range.
    pub fn page(self) -> Result<Page, ApiError> {
        let limit = self.limit.unwrap_or(Self::DEFAULT_LIMIT);
        if !(1..=Page::MAX_LIMIT).contains(&limit) {
            return Err(invalid(
                "limit",
                &format!("must be between 1 and {}", Page::MAX_LIMIT),
            ));
        }
        Ok(Page {
            offset: self.offset.unwrap_or(0),
            limit,
        })
    }
}

/// The `tenant` query parameter of list calls (a tenant id), for handlers to flatten.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct TenantQuery {
    /// Narrow to this tenant of the user's subtree.
    pub tenant: Option<TenantId>,
}

/// The query of a tenant-scoped list call: `tenant` and the paging.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct TenantPageQuery {
    /// Narrow to this tenant of the user's subtree.
    #[serde(flatten)]
    pub tenant: TenantQuery,
    /// Which rows.
    #[serde(flatten)]
    pub page: PageQuery,
}

/// A page of a list as the admin API answers it: `{"items", "total", "offset", "limit"}`.
#[derive(Debug, Clone, Serialize)]
pub struct Paged<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// How many rows match in all.
    pub total: u64,
    /// Rows skipped.
    pub offset: u32,
    /// The page size asked for.
    pub limit: u32,
}

impl<T> Paged<T> {
    /// A page of `items` out of `total`.
    pub fn new(items: Vec<T>, total: u64, page: Page) -> Self {
        Self {
            items,
            total,
            offset: page.offset,
            limit: page.limit,
        }
    }

    /// Cuts one page out of a whole list (for small lists the store returns at once).
    pub fn slice(all: Vec<T>, page: Page) -> Self {
        let total = all.len() as u64;
        let items = all
            .into_iter()
            .skip(page.offset as usize)
            .take(page.limit as usize)
            .collect();
        Self::new(items, total, page)
    }
}
