//! `/auth`: login, the current user, logout, changing one's password.
//!
//! Login answers the same `401` for an unknown username, a wrong password and a disabled
//! account, and an unknown username costs the same argon2 work as a wrong password. The
//! `max_failures`-th failure within the window locks the account (`429 RATE_LIMITED`,
//! `detail.locked_until`) and every login until then answers the same, right password or not.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::password::{self, MAX_PASSWORD_CHARS};
use super::session::{client_ip, session_id_of, AdminSession, SESSION_COOKIE};
use super::{invalid, AdminSettings};
use crate::error::{ApiError, ErrorCode};
use crate::server::AppState;
use crate::store::{AdminSessionRow, AdminUser, AdminUserStatus, NewAuditEntry, Store, StoreError};

/// Registers `/auth/*`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/login", web::post().to(login))
        .route("/auth/me", web::get().to(me))
        .route("/auth/logout", web::post().to(logout))
        .route("/auth/password", web::post().to(change_password));
}

/// The current user as `GET /auth/me` and a login answer it.
#[derive(Debug, Clone, Serialize)]
pub struct Me {
    /// Their id.
    pub id: crate::store::AdminUserId,
    /// Their username.
    pub username: String,
    /// Their display name.
    pub display_name: String,
    /// Their tenant.
    pub tenant: TenantBrief,
    /// Their role codes.
    pub roles: Vec<String>,
    /// What they may do.
    pub permissions: Vec<super::Permission>,
    /// The token for `X-CSRF-Token`.
    pub csrf_token: String,
}

/// A tenant as `Me` names it.
#[derive(Debug, Clone, Serialize)]
pub struct TenantBrief {
    /// Its id.
    pub id: crate::store::TenantId,
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
}

async fn me_of(store: &dyn Store, user: &AdminUser, csrf_token: String) -> Result<Me, ApiError> {
    let tenant = store.tenant(user.tenant_id).await?;
    let permissions = super::session::permissions_of(store, &user.roles).await?;
    Ok(Me {
        id: user.id,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        tenant: TenantBrief {
            id: tenant.id,
            code: tenant.code,
            name: tenant.name,
        },
        roles: user.roles.clone(),
        permissions: permissions.into_iter().collect(),
        csrf_token,
    })
}

/// `POST /auth/login`.
#[derive(Deserialize)]
pub struct LoginRequest {
    username: String,
    password: String,
}

fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn wrong_credentials() -> ApiError {
    ApiError::new(ErrorCode::Unauthorized)
}

fn locked(until: chrono::DateTime<Utc>) -> ApiError {
    ApiError::new(ErrorCode::RateLimited).with_detail(json!({
        "reason": "account_locked",
        "locked_until": until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }))
}

/// Whether the session cookie gets `Secure`: the node is configured for https, or this request
/// came over TLS.
fn secure(req: &HttpRequest, settings: &AdminSettings) -> bool {
    settings.secure_cookie || req.connection_info().scheme() == "https"
}

fn session_cookie(value: String, max_age: CookieDuration, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(max_age)
        .finish()
}

async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    settings: Option<web::Data<AdminSettings>>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let settings = settings.map(|s| s.get_ref().clone()).unwrap_or_default();
    let store = state.store.as_ref();
    let LoginRequest { username, password } = body.into_inner();
    // Only the shape is checked here: the policy is for new passwords, an old one may predate it.
    let username = password::normalise_username(&username)?;
    if password.is_empty() {
        return Err(invalid("password", "must not be empty"));
    }
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            &format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    let user = match store.admin_user_by_username(&username).await {
        Ok(user) => user,
        Err(StoreError::NotFound { .. }) => {
            password::verify_against_dummy(password).await;
            return Err(wrong_credentials());
        }
        Err(err) => return Err(err.into()),
    };
    let now = Utc::now();
    if let Some(until) = user.locked_until.filter(|until| *until > now) {
        return Err(locked(until));
    }
    let ok = password::verify_password(user.password_hash.clone(), password).await?;
    let ip = client_ip(&req);
    let audit = |action: &str, detail: serde_json::Value| NewAuditEntry {
        tenant_id: user.tenant_id,
        user_id: Some(user.id),
        username: user.username.clone(),
        action: action.to_owned(),
        target: user.id.to_string(),
        detail,
        ip: ip.clone(),
    };
    if !ok {
        let after = store
            .record_login_failure(user.id, now, settings.lockout)
            .await?;
        if let Some(until) = after.locked_until.filter(|until| *until > now) {
            store
                .append_audit(&audit(
                    "auth.locked",
                    json!({ "locked_until": until, "after_failures": settings.lockout.max_failures }),
                ))
                .await?;
            tracing::warn!(user = %user.id, until = %until, "admin account locked after failed logins");
            return Err(locked(until));
        }
        store
            .append_audit(&audit(
                "auth.login_failed",
                json!({ "failures": after.failed_logins }),
            ))
            .await?;
        return Err(wrong_credentials());
    }
    if user.status != AdminUserStatus::Active {
        // The same answer as a wrong password: a disabled account says nothing more.
        store
            .append_audit(&audit(
                "auth.login_refused",
                json!({ "reason": "disabled" }),
            ))
            .await?;
        return Err(wrong_credentials());
    }
    let user = store.record_login_success(user.id, now).await?;
    // Logins are rare and sessions few: ended sessions are swept here rather than by a job.
    if let Err(err) = store
        .prune_admin_sessions(now, now - settings.idle_timeout)
        .await
    {
        tracing::warn!(error = %err, "cannot prune ended console sessions");
    }
    let token = random_token();
    let csrf_token = random_token();
    store
        .create_admin_session(&AdminSessionRow {
            id: session_id_of(&token),
            user_id: user.id,
            tenant_id: user.tenant_id,
            csrf_token: csrf_token.clone(),
            ip: ip.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + settings.absolute_timeout,
        })
        .await?;
    store.append_audit(&audit("auth.login", json!({}))).await?;
    let me = me_of(store, &user, csrf_token.clone()).await?;
    let max_age = CookieDuration::seconds(settings.absolute_timeout.num_seconds());
    Ok(HttpResponse::Ok()
        .cookie(session_cookie(token, max_age, secure(&req, &settings)))
        .json(json!({ "user": me, "csrf_token": csrf_token })))
}

async fn me(session: AdminSession, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.as_ref();
    let user = store.admin_user(session.tenant, session.user_id).await?;
    Ok(HttpResponse::Ok().json(me_of(store, &user, session.csrf_token.clone()).await?))
}

async fn logout(
    req: HttpRequest,
    session: AdminSession,
    state: web::Data<AppState>,
    settings: Option<web::Data<AdminSettings>>,
) -> Result<HttpResponse, ApiError> {
    let settings = settings.map(|s| s.get_ref().clone()).unwrap_or_default();
    let store = state.store.as_ref();
    store.delete_admin_session(session.session_id()).await?;
    session
        .audit(store, "auth.logout", session.user_id, json!({}))
        .await?;
    Ok(HttpResponse::NoContent()
        .cookie(session_cookie(
            String::new(),
            CookieDuration::ZERO,
            secure(&req, &settings),
        ))
        .finish())
}

/// `POST /auth/password`.
#[derive(Deserialize)]
pub struct PasswordChange {
    old_password: String,
    new_password: String,
}

async fn change_password(
    session: AdminSession,
    state: web::Data<AppState>,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.as_ref();
    let PasswordChange {
        old_password,
        new_password,
    } = body.into_inner();
    password::check_password("new_password", &session.username, &new_password)?;
    let user = store.admin_user(session.tenant, session.user_id).await?;
    if old_password.chars().count() > MAX_PASSWORD_CHARS
        || !password::verify_password(user.password_hash, old_password).await?
    {
        return Err(invalid(
            "old_password",
            "does not match the current password",
        ));
    }
    let hash = password::hash_password(new_password).await?;
    // Every other session of the user ends: a stolen cookie dies with the old password.
    store
        .set_admin_password(
            session.tenant,
            session.user_id,
            &hash,
            Some(session.session_id()),
        )
        .await?;
    session
        .audit(store, "auth.password", session.user_id, json!({}))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
