//! [`AdminSession`]: the extractor every admin handler takes. It finds the console session from
//! the `livegate_admin` cookie, checks the CSRF header on state-changing methods, and gives the
//! user, their tenant subtree and permissions, with `require`, `tenant_scope` and `audit`.
//!
//! ```text
//! cookie livegate_admin=TOKEN ─ SHA-256 ─ admin_sessions.id ─┬─ absent / expired ── 401 UNAUTHORIZED
//!                                                          ├─ user gone/disabled ─ 401 (session deleted)
//! POST/PUT/PATCH/DELETE: X-CSRF-Token == csrf_token? ──────┴─ no ─────────────────── 403 detail csrf
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use chrono::Utc;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::permission::{role_permissions, Permission};
use super::AdminSettings;
use crate::error::{ApiError, ErrorCode};
use crate::server::AppState;
use crate::store::{AdminUserId, AdminUserStatus, NewAuditEntry, Store, StoreError, TenantId};

/// The console session's cookie.
pub const SESSION_COOKIE: &str = "livegate_admin";
/// The header state-changing calls carry the session's CSRF token in.
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// A session is marked used at most this often (not a write on every request).
const TOUCH_EVERY_SECS: i64 = 60;

/// The lower-case hex SHA-256 of a cookie token: the session's id as stored.
pub fn session_id_of(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The logged-in administrator of a request.
#[derive(Debug, Clone)]
pub struct AdminSession {
    /// Who.
    pub user_id: AdminUserId,
    /// Their username.
    pub username: String,
    /// Their display name.
    pub display_name: String,
    /// Their tenant (the root of what they may act on).
    pub tenant: TenantId,
    /// Their role codes.
    pub roles: Vec<String>,
    /// What their roles grant.
    pub permissions: BTreeSet<Permission>,
    /// The session's CSRF token (also in `GET /auth/me`).
    pub csrf_token: String,
    /// The client's address (the TCP peer).
    pub ip: Option<String>,
    session_id: String,
    subtree: Vec<TenantId>,
}

impl AdminSession {
    /// `Ok` when the user has `permission`, else `403 FORBIDDEN` with `detail.permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.permissions.contains(&permission) {
            Ok(())
        } else {
            Err(ApiError::new(ErrorCode::Forbidden)
                .with_detail(json!({ "permission": permission.as_str() })))
        }
    }

    /// Whether the user has `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// The tenant a call acts on: the user's own when none is asked for; an asked one when it is
    /// in the user's subtree; `404 NOT_FOUND` (`detail.entity = "tenant"`) otherwise, the same
    /// answer as for a tenant that does not exist.
    pub fn tenant_scope(&self, requested: Option<TenantId>) -> Result<TenantId, ApiError> {
        match requested {
            None => Ok(self.tenant),
            Some(tenant) if self.in_subtree(tenant) => Ok(tenant),
            Some(_) => Err(ApiError::from(StoreError::NotFound { entity: "tenant" })),
        }
    }

    /// Whether `tenant` is the user's own or below it.
    pub fn in_subtree(&self, tenant: TenantId) -> bool {
        self.subtree.contains(&tenant)
    }

    /// The user's tenant and every tenant below it.
    pub fn subtree(&self) -> &[TenantId] {
        &self.subtree
    }

    /// The stored session's id (the token's hash).
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Appends an audit entry for a write, under the user's own tenant. `action` is
    /// `resource.verb` (`user.create`); `target` an id or a code. Keys naming a password, secret
    /// or token are removed from `detail` whatever the caller passed.
    pub async fn audit(
        &self,
        store: &dyn Store,
        action: &str,
        target: impl fmt::Display,
        detail: Value,
    ) -> Result<(), ApiError> {
        self.audit_in(store, self.tenant, action, target, detail)
            .await
    }

    /// [`Self::audit`] under `tenant` (the tenant the target belongs to, when the user acts
    /// below their own): that tenant's auditors see it.
    pub async fn audit_in(
        &self,
        store: &dyn Store,
        tenant: TenantId,
        action: &str,
        target: impl fmt::Display,
        detail: Value,
    ) -> Result<(), ApiError> {
        store
            .append_audit(&NewAuditEntry {
                tenant_id: tenant,
                user_id: Some(self.user_id),
                username: self.username.clone(),
                action: action.to_owned(),
                target: target.to_string(),
                detail: redact(detail),
                ip: self.ip.clone(),
            })
            .await?;
        Ok(())
    }
}

/// `detail` without any key that names a password, secret or token (at any depth).
pub fn redact(detail: Value) -> Value {
    match detail {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(key, _)| {
                    let key = key.to_ascii_lowercase();
                    !["password", "secret", "token"]
                        .iter()
                        .any(|word| key.contains(word))
                })
                .map(|(key, value)| (key, redact(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

/// Equal in time whatever the bytes, so the comparison leaks nothing about the token.
fn same_token(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn unauthorized(reason: &'static str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized).with_detail(json!({ "reason": reason }))
}

/// The client's address as the server saw it (the TCP peer; a proxy's own when behind one).
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|addr| addr.ip().to_string())
}

/// The session as [`resolve_first`] found it (or its refusal), for the extractor to take.
struct Resolved(Result<AdminSession, ApiError>);

/// Middleware of the admin scope: finds the session (and checks the CSRF header) before the
/// handler's other extractors run. Actix extracts a handler's arguments together and answers
/// the first that fails; the session needs the store, so without this a forged cookie or a
/// missing CSRF token with a body that is not JSON got `415`/`400` instead of `401`/`403`,
/// telling a caller without a session how their input reads.
pub async fn resolve_first(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // Logging in is the one call without a session.
    if !req.path().ends_with("/auth/login") {
        let resolved = load(req.request()).await;
        req.extensions_mut().insert(Resolved(resolved));
    }
    next.call(req).await
}

impl FromRequest for AdminSession {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        // Found by `resolve_first`: ready at once, so its refusal is the answer.
        if let Some(Resolved(resolved)) = req.extensions_mut().remove::<Resolved>() {
            return Box::pin(std::future::ready(resolved));
        }
        let req = req.clone();
        Box::pin(async move { load(&req).await })
    }
}

async fn load(req: &HttpRequest) -> Result<AdminSession, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("AppState is not registered"))?;
    let settings = req
        .app_data::<web::Data<AdminSettings>>()
        .map(|s| s.get_ref().clone())
        .unwrap_or_default();
    let store = state.store.as_ref();
    let cookie = req
        .cookie(SESSION_COOKIE)
        .ok_or_else(|| unauthorized("no_session"))?;
    let id = session_id_of(cookie.value());
    let row = match store.admin_session(&id).await {
        Err(StoreError::NotFound { .. }) => return Err(unauthorized("no_session")),
        other => other?,
    };
    let now = Utc::now();
    if now >= row.expires_at || now >= row.last_seen_at + settings.idle_timeout {
        store.delete_admin_session(&id).await?;
        return Err(unauthorized("expired"));
    }
    let user = match store.admin_user(row.tenant_id, row.user_id).await {
        Err(StoreError::NotFound { .. }) => {
            store.delete_admin_session(&id).await?;
            return Err(unauthorized("no_session"));
        }
        other => other?,
    };
    if user.status != AdminUserStatus::Active {
        store.delete_admin_session(&id).await?;
        return Err(unauthorized("disabled"));
    }
    let changes_state = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if changes_state {
        let given = req
            .headers()
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !same_token(given, row.csrf_token.as_bytes()) {
            return Err(
                ApiError::new(ErrorCode::Forbidden).with_detail(json!({ "reason": "csrf" }))
            );
        }
    }
    let permissions = permissions_of(store, &user.roles).await?;
    let subtree = store
        .tenant_subtree(user.tenant_id)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    if now - row.last_seen_at >= chrono::Duration::seconds(TOUCH_EVERY_SECS) {
        store.touch_admin_session(&id, now).await?;
    }
    Ok(AdminSession {
        user_id: user.id,
        username: user.username,
        display_name: user.display_name,
        tenant: user.tenant_id,
        roles: user.roles,
        permissions,
        csrf_token: row.csrf_token,
        ip: client_ip(req),
        session_id: id,
        subtree,
    })
}

/// What `roles` grant together. The role table is read only when a role is not built in.
pub async fn permissions_of(
    store: &dyn Store,
    roles: &[String],
) -> Result<BTreeSet<Permission>, ApiError> {
    use super::permission::BuiltinRole;
    let mut granted = BTreeSet::new();
    if roles.iter().all(|r| BuiltinRole::from_code(r).is_some()) {
        for role in roles {
            granted.extend(role_permissions(role, &[]));
        }
        return Ok(granted);
    }
    let stored = store.list_admin_roles().await?;
    for role in roles {
        let listed = stored
            .iter()
            .find(|r| &r.code == role)
            .map(|r| r.permissions.as_slice())
            .unwrap_or_default();
        granted.extend(role_permissions(role, listed));
    }
    Ok(granted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_the_audit_detail() {
        let detail = json!({
            "username": "ops",
            "password": "hunter2hunter2",
            "nested": { "new_password": "x", "app": { "Secret": "s", "name": "n" } },
            "list": [{ "csrf_token": "t", "roles": ["auditor"] }],
        });
        assert_eq!(
            redact(detail),
            json!({
                "username": "ops",
                "nested": { "app": { "name": "n" } },
                "list": [{ "roles": ["auditor"] }],
            })
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token(b"abc", b"abc"));
        assert!(!same_token(b"abd", b"abc"));
        assert!(!same_token(b"ab", b"abc"));
        assert!(!same_token(b"", b"abc"));
    }
}
