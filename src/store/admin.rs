//! The operations console's own storage: administrators, roles, console sessions and the audit
//! log (migration 0005).
//!
//! - Administrators belong to one tenant and log in by a username unique across the node
//!   (login comes before the tenant is known, as an app id does for the Open API). Their
//!   password is stored only as an argon2id PHC string (`src/admin/password.rs`).
//! - Calls on an existing administrator take `within`: the tenant whose subtree (itself and
//!   every tenant below it) the caller may act on. An administrator outside it is `NotFound`.
//! - A console session is stored under the SHA-256 of its cookie token, never the token.
//! - Audit entries are appended, never changed.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{Page, StoreError, Tenant, TenantId};

/// An administrator's identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AdminUserId(pub Uuid);

impl AdminUserId {
    /// A new, time-ordered (v7) identifier.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for AdminUserId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for AdminUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for AdminUserId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// The conflict a taken username reports.
pub const USERNAME_CONSTRAINT: &str = "admin_users_username_key";

/// Whether an administrator may log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminUserStatus {
    /// May log in.
    Active,
    /// May not log in; their sessions are ended when disabled.
    Disabled,
}

impl AdminUserStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminUserStatus::Active => "active",
            AdminUserStatus::Disabled => "disabled",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "active" => Ok(AdminUserStatus::Active),
            "disabled" => Ok(AdminUserStatus::Disabled),
            other => Err(StoreError::Backend(format!(
                "unknown admin user status {other:?}"
            ))),
        }
    }
}

/// An administrator of the console.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUser {
    /// Its identifier.
    pub id: AdminUserId,
    /// The tenant it belongs to (and acts on, with the tenants below it).
    pub tenant_id: TenantId,
    /// Login name, unique across the node (lower case).
    pub username: String,
    /// Name shown in the console.
    pub display_name: String,
    /// The argon2id PHC string of the password.
    #[serde(skip_serializing)]
    pub password_hash: String,
    /// Whether it may log in.
    pub status: AdminUserStatus,
    /// Failed logins in the current window (since `first_failed_at`).
    pub failed_logins: i64,
    /// When the current window of failures began.
    pub first_failed_at: Option<DateTime<Utc>>,
    /// Logins are refused until then.
    pub locked_until: Option<DateTime<Utc>>,
    /// The last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Role codes, sorted.
    pub roles: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

// By hand: the password hash is not for logs.
impl fmt::Debug for AdminUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminUser")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("username", &self.username)
            .field("status", &self.status)
            .field("roles", &self.roles)
            .field("locked_until", &self.locked_until)
            .finish_non_exhaustive()
    }
}

/// What it takes to create an administrator.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAdminUser {
    /// Login name (already validated and lower-cased).
    pub username: String,
    /// Name shown in the console.
    pub display_name: String,
    /// The argon2id PHC string.
    pub password_hash: String,
    /// Role codes; each must exist (else `Invalid`).
    pub roles: Vec<String>,
}

impl fmt::Debug for NewAdminUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAdminUser")
            .field("username", &self.username)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// A change to an administrator; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminUserUpdate {
    /// New display name.
    pub display_name: Option<String>,
    /// New role codes (replace the old ones); each must exist.
    pub roles: Option<Vec<String>>,
}

/// A role: a named set of permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminRole {
    /// Its code (`sys_admin`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// Permissions as stored (`records:read`, ...). Empty for built-in roles, whose permissions
    /// are defined in code (`src/admin/permission.rs`) so a new permission needs no migration.
    pub permissions: Vec<String>,
    /// Built in: not deletable, permissions from code.
    pub builtin: bool,
}

/// A console session as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminSessionRow {
    /// Lower-case hex SHA-256 of the cookie token (the token itself is never stored).
    pub id: String,
    /// Whose session.
    pub user_id: AdminUserId,
    /// The user's tenant (scopes the lookups the session makes).
    pub tenant_id: TenantId,
    /// The token `X-CSRF-Token` must carry on state-changing calls.
    pub csrf_token: String,
    /// Where the login came from.
    pub ip: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Its last use (the idle timeout counts from here).
    pub last_seen_at: DateTime<Utc>,
    /// The absolute end.
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for AdminSessionRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminSessionRow")
            .field("user_id", &self.user_id)
            .field("tenant_id", &self.tenant_id)
            .field("last_seen_at", &self.last_seen_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An audit entry to append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAuditEntry {
    /// The tenant the action concerned (the acting user's, or the target's when narrower).
    pub tenant_id: TenantId,
    /// Who acted (`None` for the command line).
    pub user_id: Option<AdminUserId>,
    /// Their username (`cli` for the command line).
    pub username: String,
    /// What was done: `resource.verb` (`user.create`, `scene.update`).
    pub action: String,
    /// On what: an id or a code.
    pub target: String,
    /// More, as JSON; never a password or a secret.
    pub detail: Value,
    /// From where.
    pub ip: Option<String>,
}

/// An audit entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its identifier (UUID v7: ordered by time).
    pub id: Uuid,
    /// The tenant.
    pub tenant_id: TenantId,
    /// Who acted.
    pub user_id: Option<AdminUserId>,
    /// Their username.
    pub username: String,
    /// What was done.
    pub action: String,
    /// On what.
    pub target: String,
    /// More.
    pub detail: Value,
    /// From where.
    pub ip: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Narrows an audit list; `None` leaves a filter out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
    /// Exactly this action.
    pub action: Option<String>,
    /// Exactly this username.
    pub username: Option<String>,
}

/// How failed logins lock an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures within `window` that lock.
    pub max_failures: i64,
    /// The window failures are counted in.
    pub window: chrono::Duration,
    /// How long a lock lasts.
    pub lock_for: chrono::Duration,
}

impl Default for LockoutPolicy {
    /// 5 failures in 15 minutes lock for 15 minutes.
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: chrono::Duration::minutes(15),
            lock_for: chrono::Duration::minutes(15),
        }
    }
}

/// Storage of the console's administrators, roles, sessions and audit log.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// The tenant `root` and every tenant below it, by code. `NotFound { entity: "tenant" }`
    /// when `root` does not exist.
    async fn tenant_subtree(&self, root: TenantId) -> Result<Vec<Tenant>, StoreError>;

    /// Creates an active administrator of `tenant`; `Conflict { constraint:
    /// "admin_users_username_key" }` when the username is taken, `Invalid` when the tenant or a
    /// role does not exist.
    async fn create_admin_user(
        &self,
        tenant: TenantId,
        new: &NewAdminUser,
    ) -> Result<AdminUser, StoreError>;

    /// An administrator by username, whatever the tenant: login knows no tenant yet.
    async fn admin_user_by_username(&self, username: &str) -> Result<AdminUser, StoreError>;

    /// An administrator of `within`'s subtree.
    async fn admin_user(&self, within: TenantId, id: AdminUserId) -> Result<AdminUser, StoreError>;

    /// The administrators of exactly `tenant`, by username, and how many there are in all.
    async fn list_admin_users(
        &self,
        tenant: TenantId,
        page: Page,
    ) -> Result<(Vec<AdminUser>, u64), StoreError>;

    /// Changes an administrator of `within`'s subtree; returns it as it is now.
    async fn update_admin_user(
        &self,
        within: TenantId,
        id: AdminUserId,
        update: &AdminUserUpdate,
    ) -> Result<AdminUser, StoreError>;

    /// Enables or disables an administrator of `within`'s subtree; disabling also ends their
    /// sessions.
    async fn set_admin_user_status(
        &self,
        within: TenantId,
        id: AdminUserId,
        status: AdminUserStatus,
    ) -> Result<AdminUser, StoreError>;

    /// Sets a new password hash, clears failures and any lock, and ends the administrator's
    /// sessions except `keep_session` (the one changing its own password).
    async fn set_admin_password(
        &self,
        within: TenantId,
        id: AdminUserId,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> Result<AdminUser, StoreError>;

    /// Clears failures and the lock of an administrator of `within`'s subtree.
    async fn unlock_admin_user(
        &self,
        within: TenantId,
        id: AdminUserId,
    ) -> Result<AdminUser, StoreError>;

    /// Counts a failed login at `now`, in one atomic step: a failure outside the policy's window
    /// starts a new window; the `max_failures`-th in a window locks the account until
    /// `now + lock_for` and starts the count again. Returns the administrator as it is now.
    async fn record_login_failure(
        &self,
        id: AdminUserId,
        now: DateTime<Utc>,
        policy: LockoutPolicy,
    ) -> Result<AdminUser, StoreError>;

    /// A successful login at `now`: clears failures and the lock, sets `last_login_at`.
    async fn record_login_success(
        &self,
        id: AdminUserId,
        now: DateTime<Utc>,
    ) -> Result<AdminUser, StoreError>;

    /// Every role, by code.
    async fn list_admin_roles(&self) -> Result<Vec<AdminRole>, StoreError>;

    /// Stores a new console session.
    async fn create_admin_session(&self, session: &AdminSessionRow) -> Result<(), StoreError>;

    /// A session by the hash of its token; `NotFound { entity: "admin_session" }`.
    async fn admin_session(&self, id: &str) -> Result<AdminSessionRow, StoreError>;

    /// Marks a session used at `at`.
    async fn touch_admin_session(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Deletes a session (logout); deleting one that is gone is not an error.
    async fn delete_admin_session(&self, id: &str) -> Result<(), StoreError>;

    /// Deletes the sessions whose absolute end is before `expired_before` or whose last use is
    /// before `idle_before`; returns how many.
    async fn prune_admin_sessions(
        &self,
        expired_before: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Appends an audit entry.
    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry, StoreError>;

    /// The audit entries of exactly `tenant`, newest first, and how many match in all.
    async fn list_audit(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<(Vec<AuditEntry>, u64), StoreError>;
}

/// The column list both backends select for an administrator (roles come from a subquery).
pub(crate) const ADMIN_USER_COLUMNS: &str = "id, tenant_id, username, display_name, \
     password_hash, status, failed_logins, first_failed_at, locked_until, last_login_at, \
     created_at, updated_at";

/// The session columns, in the order the row readers expect.
pub(crate) const ADMIN_SESSION_COLUMNS: &str =
    "id, user_id, tenant_id, csrf_token, ip, created_at, last_seen_at, expires_at";

/// The audit columns.
pub(crate) const AUDIT_COLUMNS: &str =
    "id, tenant_id, user_id, username, action, target, detail, ip, at";

/// `WITH RECURSIVE subtree(id)`: the tenant bound to the first parameter and every tenant below
/// it (`UNION`, not `UNION ALL`: a cycle someone made by hand ends instead of looping).
pub(crate) fn subtree_cte(param: &str) -> String {
    format!(
        "WITH RECURSIVE subtree(id) AS (\
             SELECT id FROM tenants WHERE id = {param} \
             UNION SELECT t.id FROM tenants t JOIN subtree s ON t.parent_id = s.id) "
    )
}
