//! `/users` and `/roles`: the console's administrators.
//!
//! No one hands out more than they have: a role is granted only when every permission it
//! carries is the granter's own, and a user is changed only by someone holding every
//! permission that user holds (a tenant admin cannot edit, disable or unlock a system admin).

use std::collections::BTreeSet;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::password;
use super::permission::{role_permissions, Permission};
use super::session::{permissions_of, AdminSession};
use super::{invalid, required_text, PageQuery, Paged, TenantPageQuery};
use crate::error::{ApiError, ErrorCode};
use crate::server::AppState;
use crate::store::{
    AdminRole, AdminUser, AdminUserId, AdminUserStatus, AdminUserUpdate, NewAdminUser, Store,
    TenantId,
};

/// The longest display name.
const MAX_DISPLAY_NAME: usize = 64;
/// The most roles one user may hold.
const MAX_ROLES: usize = 16;

/// Registers `/users*` and `/roles`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(list))
        .route("/users", web::post().to(create))
        .route("/users/{id}", web::get().to(show))
        .route("/users/{id}", web::put().to(update))
        .route("/users/{id}/disable", web::post().to(set_status::<false>))
        .route("/users/{id}/enable", web::post().to(set_status::<true>))
        .route("/users/{id}/unlock", web::post().to(unlock))
        .route("/roles", web::get().to(roles));
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    id: AdminUserId,
    tenant_id: TenantId,
    username: String,
    display_name: String,
    status: AdminUserStatus,
    roles: Vec<String>,
    /// Set while the account is locked.
    locked_until: Option<DateTime<Utc>>,
    last_login_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<AdminUser> for UserView {
    fn from(user: AdminUser) -> Self {
        let now = Utc::now();
        Self {
            id: user.id,
            tenant_id: user.tenant_id,
            username: user.username,
            display_name: user.display_name,
            status: user.status,
            roles: user.roles,
            locked_until: user.locked_until.filter(|until| *until > now),
            last_login_at: user.last_login_at,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

async fn list(
    session: AdminSession,
    state: web::Data<AppState>,
    query: web::Query<TenantPageQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::UsersRead)?;
    let tenant = session.tenant_scope(query.tenant.tenant)?;
    let page = query.page.page()?;
    let (users, total) = state.store.list_admin_users(tenant, page).await?;
    let items = users.into_iter().map(UserView::from).collect();
    Ok(HttpResponse::Ok().json(Paged::new(items, total, page)))
}

async fn show(
    session: AdminSession,
    state: web::Data<AppState>,
    id: web::Path<AdminUserId>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::UsersRead)?;
    let user = state.store.admin_user(session.tenant, *id).await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

/// The roles `codes` name, checked: each exists (else 422 `roles`) and grants nothing the
/// session lacks (else 403 with `detail.role`).
async fn grantable_roles(
    session: &AdminSession,
    store: &dyn Store,
    codes: &[String],
) -> Result<Vec<String>, ApiError> {
    if codes.is_empty() {
        return Err(invalid("roles", "must name at least one role"));
    }
    if codes.len() > MAX_ROLES {
        return Err(invalid("roles", &format!("at most {MAX_ROLES} roles")));
    }
    let known = store.list_admin_roles().await?;
    let mut granted = BTreeSet::new();
    for code in codes {
        let Some(role) = known.iter().find(|r| &r.code == code) else {
            return Err(invalid("roles", &format!("unknown role {code:?}")));
        };
        let grants = role_permissions(&role.code, &role.permissions);
        if !grants.is_subset(&session.permissions) {
            return Err(ApiError::new(ErrorCode::Forbidden)
                .with_detail(json!({ "reason": "role_exceeds_own", "role": code })));
        }
        granted.insert(code.clone());
    }
    Ok(granted.into_iter().collect())
}

/// The user `id` of the session's subtree, when the session may change them: 404 outside the
/// subtree, 403 when the user holds a permission the session lacks.
async fn changeable_user(
    session: &AdminSession,
    store: &dyn Store,
    id: AdminUserId,
) -> Result<AdminUser, ApiError> {
    let user = store.admin_user(session.tenant, id).await?;
    let theirs = permissions_of(store, &user.roles).await?;
    if !theirs.is_subset(&session.permissions) {
        return Err(ApiError::new(ErrorCode::Forbidden)
            .with_detail(json!({ "reason": "user_exceeds_own" })));
    }
    Ok(user)
}

#[derive(Deserialize)]
struct CreateUser {
    username: String,
    password: String,
    display_name: Option<String>,
    roles: Vec<String>,
    tenant: Option<TenantId>,
}

async fn create(
    session: AdminSession,
    state: web::Data<AppState>,
    body: web::Json<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::UsersWrite)?;
    let store = state.store.as_ref();
    let body = body.into_inner();
    let username = password::normalise_username(&body.username)?;
    password::check_password("password", &username, &body.password)?;
    let display_name = match &body.display_name {
        Some(name) => required_text("display_name", name, MAX_DISPLAY_NAME)?,
        None => username.clone(),
    };
    let tenant = session.tenant_scope(body.tenant)?;
    let roles = grantable_roles(&session, store, &body.roles).await?;
    let password_hash = password::hash_password(body.password).await?;
    let user = store
        .create_admin_user(
            tenant,
            &NewAdminUser {
                username,
                display_name,
                password_hash,
                roles,
            },
        )
        .await?;
    session
        .audit_in(
            store,
            tenant,
            "user.create",
            user.id,
            json!({ "username": user.username, "roles": user.roles, "tenant_id": tenant }),
        )
        .await?;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

#[derive(Deserialize)]
struct UpdateUser {
    display_name: Option<String>,
    roles: Option<Vec<String>>,
}

async fn update(
    session: AdminSession,
    state: web::Data<AppState>,
    id: web::Path<AdminUserId>,
    body: web::Json<UpdateUser>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::UsersWrite)?;
    let store = state.store.as_ref();
    let body = body.into_inner();
    let display_name = body
        .display_name
        .as_deref()
        .map(|name| required_text("display_name", name, MAX_DISPLAY_NAME))
        .transpose()?;
    let target = changeable_user(&session, store, *id).await?;
    let roles = match &body.roles {
        Some(codes) => {
            if target.id == session.user_id {
                // Taking one's own roles away could leave no one able to give them back.
                return Err(invalid("roles", "cannot change your own roles"));
            }
            Some(grantable_roles(&session, store, codes).await?)
        }
        None => None,
    };
    let user = store
        .update_admin_user(
            session.tenant,
            target.id,
            &AdminUserUpdate {
                display_name,
                roles,
            },
        )
        .await?;
    session
        .audit_in(
            store,
            user.tenant_id,
            "user.update",
            user.id,
            json!({
                "username": user.username,
                "display_name": body.display_name.is_some().then_some(&user.display_name),
                "roles": body.roles.is_some().then_some(&user.roles),
            }),
        )
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

/// `POST /users/{id}/enable` (`ACTIVE`) and `/disable`.
async fn set_status<const ACTIVE: bool>(
    session: AdminSession,
    state: web::Data<AppState>,
    id: web::Path<AdminUserId>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::UsersWrite)?;
    let (status, action) = if ACTIVE {
        (AdminUserStatus::Active, "user.enable")
    } else {
        (AdminUserStatus::Disabled, "user.disable")
    };
    let store = state.store.as_ref();
    let target = changeable_user(&session, store, *id).await?;
    if target.id == session.user_id {
        return Err(invalid("id", "cannot disable or enable yourself"));
    }
    let user = store
        .set_admin_user_status(session.tenant, target.id, status)
        .await?;
    session
        .audit_in(
            store,
            user.tenant_id,
            action,
            user.id,
            json!({ "username": user.username }),
        )
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

async fn unlock(
    session: AdminSession,
    state: web::Data<AppState>,
    id: web::Path<AdminUserId>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::UsersWrite)?;
    let store = state.store.as_ref();
    let target = changeable_user(&session, store, *id).await?;
    let user = store.unlock_admin_user(session.tenant, target.id).await?;
    session
        .audit_in(
            store,
            user.tenant_id,
            "user.unlock",
            user.id,
            json!({ "username": user.username }),
        )
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

/// A role as `GET /roles` shows it: what it grants, resolved.
#[derive(Debug, Clone, Serialize)]
struct RoleView {
    code: String,
    name: String,
    builtin: bool,
    permissions: Vec<Permission>,
}

impl From<AdminRole> for RoleView {
    fn from(role: AdminRole) -> Self {
        Self {
            permissions: role_permissions(&role.code, &role.permissions)
                .into_iter()
                .collect(),
            code: role.code,
            name: role.name,
            builtin: role.builtin,
        }
    }
}

async fn roles(
    session: AdminSession,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::UsersRead)?;
    let page = query.into_inner().page()?;
    let roles: Vec<RoleView> = state
        .store
        .list_admin_roles()
        .await?
        .into_iter()
        .map(RoleView::from)
        .collect();
    Ok(HttpResponse::Ok().json(Paged::slice(roles, page)))
}
