//! AdminStore on postgres.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{column, map_err, now_micros, tenant_row, PgStore};
use crate::store::admin::{
    subtree_cte, AdminRole, AdminSessionRow, AdminStore, AdminUser, AdminUserId, AdminUserStatus,
    AdminUserUpdate, AuditEntry, AuditFilter, LockoutPolicy, NewAdminUser, NewAuditEntry,
    ADMIN_SESSION_COLUMNS, ADMIN_USER_COLUMNS, AUDIT_COLUMNS,
};
use crate::store::{found, Page, StoreError, Tenant, TenantId, TENANT_COLUMNS};

/// The user columns and their roles, sorted.
fn user_select() -> String {
    format!(
        "SELECT {ADMIN_USER_COLUMNS}, ARRAY(SELECT role_code FROM admin_user_roles r \
         WHERE r.user_id = admin_users.id ORDER BY role_code) AS roles FROM admin_users"
    )
}

fn user_row(row: &Row) -> Result<AdminUser, StoreError> {
    Ok(AdminUser {
        id: AdminUserId(column(row, "id")?),
        tenant_id: TenantId(column(row, "tenant_id")?),
        username: column(row, "username")?,
        display_name: column(row, "display_name")?,
        password_hash: column(row, "password_hash")?,
        status: AdminUserStatus::parse(column(row, "status")?)?,
        failed_logins: column(row, "failed_logins")?,
        first_failed_at: column(row, "first_failed_at")?,
        locked_until: column(row, "locked_until")?,
        last_login_at: column(row, "last_login_at")?,
        roles: column(row, "roles")?,
        created_at: column(row, "created_at")?,
        updated_at: column(row, "updated_at")?,
    })
}

fn session_row(row: &Row) -> Result<AdminSessionRow, StoreError> {
    Ok(AdminSessionRow {
        id: column(row, "id")?,
        user_id: AdminUserId(column(row, "user_id")?),
        tenant_id: TenantId(column(row, "tenant_id")?),
        csrf_token: column(row, "csrf_token")?,
        ip: column(row, "ip")?,
        created_at: column(row, "created_at")?,
        last_seen_at: column(row, "last_seen_at")?,
        expires_at: column(row, "expires_at")?,
    })
}

fn audit_row(row: &Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: column(row, "id")?,
        tenant_id: TenantId(column(row, "tenant_id")?),
        user_id: column::<Option<Uuid>>(row, "user_id")?.map(AdminUserId),
        username: column(row, "username")?,
        action: column(row, "action")?,
        target: column(row, "target")?,
        detail: column(row, "detail")?,
        ip: column(row, "ip")?,
        at: column(row, "at")?,
    })
}

async fn user_by_id(client: &impl GenericClient, id: AdminUserId) -> Result<AdminUser, StoreError> {
    let stmt = client
        .prepare_cached(&format!("{} WHERE id = $1", user_select()))
        .await
        .map_err(map_err)?;
    let row = client.query_opt(&stmt, &[&id.0]).await.map_err(map_err)?;
    found(row.as_ref().map(user_row).transpose()?, "admin_user")
}

/// The user, only when it is in `within`'s subtree; `FOR UPDATE` so the change that follows in
/// the same transaction applies to what was checked.
async fn user_within(
    client: &impl GenericClient,
    within: TenantId,
    id: AdminUserId,
) -> Result<(), StoreError> {
    let stmt = client
        .prepare_cached(&format!(
            "{}SELECT id FROM admin_users WHERE id = $2 \
             AND tenant_id IN (SELECT id FROM subtree) FOR UPDATE",
            subtree_cte("$1")
        ))
        .await
        .map_err(map_err)?;
    let row = client
        .query_opt(&stmt, &[&within.0, &id.0])
        .await
        .map_err(map_err)?;
    found(row.map(|_| ()), "admin_user")
}

/// Replaces the user's roles; an unknown role is `Invalid` naming it.
async fn set_roles(
    client: &impl GenericClient,
    id: AdminUserId,
    roles: &[String],
) -> Result<(), StoreError> {
    client
        .execute("DELETE FROM admin_user_roles WHERE user_id = $1", &[&id.0])
        .await
        .map_err(map_err)?;
    for role in roles {
        client
            .execute(
                "INSERT INTO admin_user_roles (user_id, role_code) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
                &[&id.0, role],
            )
            .await
            .map_err(|err| match map_err(err) {
                StoreError::Invalid(_) => StoreError::Invalid(format!("unknown role {role:?}")),
                other => other,
            })?;
    }
    Ok(())
}

impl PgStore {
    /// Runs `sql` (which changes the user `$1`) in a transaction after checking the user is in
    /// `within`'s subtree; returns the user as it is then.
    async fn change_user_within(
        &self,
        within: TenantId,
        id: AdminUserId,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<AdminUser, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        user_within(&tx, within, id).await?;
        tx.execute(sql, params).await.map_err(map_err)?;
        let user = user_by_id(&tx, id).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(user)
    }
}

#[async_trait]
impl AdminStore for PgStore {
    async fn tenant_subtree(&self, root: TenantId) -> Result<Vec<Tenant>, StoreError> {
        let tenants = self
            .query(
                &format!(
                    "{}SELECT {TENANT_COLUMNS} FROM tenants WHERE id IN (SELECT id FROM subtree) \
                     ORDER BY code COLLATE \"C\"",
                    subtree_cte("$1")
                ),
                &[&root.0],
                tenant_row,
            )
            .await?;
        if tenants.is_empty() {
            return Err(StoreError::NotFound { entity: "tenant" });
        }
        Ok(tenants)
    }

    async fn create_admin_user(
        &self,
        tenant: TenantId,
        new: &NewAdminUser,
    ) -> Result<AdminUser, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let id = AdminUserId::new();
        tx.execute(
            &format!(
                "INSERT INTO admin_users ({ADMIN_USER_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, 'active', 0, NULL, NULL, NULL, $6, $6)"
            ),
            &[
                &id.0,
                &tenant.0,
                &new.username,
                &new.display_name,
                &new.password_hash,
                &now_micros(),
            ],
        )
        .await
        .map_err(map_err)?;
        set_roles(&tx, id, &new.roles).await?;
        let user = user_by_id(&tx, id).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(user)
    }

    async fn admin_user_by_username(&self, username: &str) -> Result<AdminUser, StoreError> {
        let sql = format!("{} WHERE username = $1", user_select());
        found(
            self.query_opt(&sql, &[&username], user_row).await?,
            "admin_user",
        )
    }

    async fn admin_user(&self, within: TenantId, id: AdminUserId) -> Result<AdminUser, StoreError> {
        let sql = format!(
            "{}{} WHERE id = $2 AND tenant_id IN (SELECT id FROM subtree)",
            subtree_cte("$1"),
            user_select()
        );
        found(
            self.query_opt(&sql, &[&within.0, &id.0], user_row).await?,
            "admin_user",
        )
    }

    async fn list_admin_users(
        &self,
        tenant: TenantId,
        page: Page,
    ) -> Result<(Vec<AdminUser>, u64), StoreError> {
        let page = page.check()?;
        let total: i64 = self
            .query_one(
                "SELECT count(*) AS n FROM admin_users WHERE tenant_id = $1",
                &[&tenant.0],
                |row| column(row, "n"),
            )
            .await?;
        let sql = format!(
            "{} WHERE tenant_id = $1 ORDER BY username COLLATE \"C\" LIMIT $2 OFFSET $3",
            user_select()
        );
        let (limit, offset) = (i64::from(page.limit), i64::from(page.offset));
        let users = self
            .query(&sql, &[&tenant.0, &limit, &offset], user_row)
            .await?;
        Ok((users, u64::try_from(total).unwrap_or(0)))
    }

    async fn update_admin_user(
        &self,
        within: TenantId,
        id: AdminUserId,
        update: &AdminUserUpdate,
    ) -> Result<AdminUser, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        user_within(&tx, within, id).await?;
        tx.execute(
            "UPDATE admin_users SET display_name = COALESCE($1::text, display_name), \
             updated_at = $2 WHERE id = $3",
            &[&update.display_name, &now_micros(), &id.0],
        )
        .await
        .map_err(map_err)?;
        if let Some(roles) = &update.roles {
            set_roles(&tx, id, roles).await?;
        }
        let user = user_by_id(&tx, id).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(user)
    }

    async fn set_admin_user_status(
        &self,
        within: TenantId,
        id: AdminUserId,
        status: AdminUserStatus,
    ) -> Result<AdminUser, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        user_within(&tx, within, id).await?;
        tx.execute(
            "UPDATE admin_users SET status = $1, updated_at = $2 WHERE id = $3",
            &[&status.as_str(), &now_micros(), &id.0],
        )
        .await
        .map_err(map_err)?;
        if status == AdminUserStatus::Disabled {
            tx.execute("DELETE FROM admin_sessions WHERE user_id = $1", &[&id.0])
                .await
                .map_err(map_err)?;
        }
        let user = user_by_id(&tx, id).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(user)
    }

    async fn set_admin_password(
        &self,
        within: TenantId,
        id: AdminUserId,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> Result<AdminUser, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        user_within(&tx, within, id).await?;
        tx.execute(
            "UPDATE admin_users SET password_hash = $1, failed_logins = 0, \
             first_failed_at = NULL, locked_until = NULL, updated_at = $2 WHERE id = $3",
            &[&password_hash, &now_micros(), &id.0],
        )
        .await
        .map_err(map_err)?;
        tx.execute(
            "DELETE FROM admin_sessions WHERE user_id = $1 AND ($2::text IS NULL OR id <> $2)",
            &[&id.0, &keep_session],
        )
        .await
        .map_err(map_err)?;
        let user = user_by_id(&tx, id).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(user)
    }

    async fn unlock_admin_user(
        &self,
        within: TenantId,
        id: AdminUserId,
    ) -> Result<AdminUser, StoreError> {
        self.change_user_within(
            within,
            id,
            "UPDATE admin_users SET failed_logins = 0, first_failed_at = NULL, \
             locked_until = NULL, updated_at = $2 WHERE id = $1",
            &[&id.0, &now_micros()],
        )
        .await
    }

    async fn record_login_failure(
        &self,
        id: AdminUserId,
        now: DateTime<Utc>,
        policy: LockoutPolicy,
    ) -> Result<AdminUser, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // The first UPDATE takes the row's lock: concurrent failures count one after another.
        let changed = tx
            .execute(
                "UPDATE admin_users SET \
                 failed_logins = CASE WHEN first_failed_at IS NULL OR first_failed_at < $1 \
                     THEN 1 ELSE failed_logins + 1 END, \
                 first_failed_at = CASE WHEN first_failed_at IS NULL OR first_failed_at < $1 \
                     THEN $2 ELSE first_failed_at END \
                 WHERE id = $3",
                &[&(now - policy.window), &now, &id.0],
            )
            .await
            .map_err(map_err)?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                entity: "admin_user",
            });
        }
        tx.execute(
            "UPDATE admin_users SET locked_until = $1, failed_logins = 0, \
             first_failed_at = NULL WHERE id = $2 AND failed_logins >= $3",
            &[&(now + policy.lock_for), &id.0, &policy.max_failures],
        )
        .await
        .map_err(map_err)?;
        let user = user_by_id(&tx, id).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(user)
    }

    async fn record_login_success(
        &self,
        id: AdminUserId,
        now: DateTime<Utc>,
    ) -> Result<AdminUser, StoreError> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE admin_users SET failed_logins = 0, first_failed_at = NULL, \
                 locked_until = NULL, last_login_at = $1 WHERE id = $2",
                &[&now, &id.0],
            )
            .await
            .map_err(map_err)?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                entity: "admin_user",
            });
        }
        user_by_id(&client, id).await
    }

    async fn list_admin_roles(&self) -> Result<Vec<AdminRole>, StoreError> {
        self.query(
            "SELECT code, name, permissions, builtin FROM admin_roles ORDER BY code COLLATE \"C\"",
            &[],
            |row| {
                let permissions: serde_json::Value = column(row, "permissions")?;
                Ok(AdminRole {
                    code: column(row, "code")?,
                    name: column(row, "name")?,
                    permissions: serde_json::from_value(permissions).map_err(|err| {
                        StoreError::Backend(format!("admin_roles.permissions: {err}"))
                    })?,
                    builtin: column(row, "builtin")?,
                })
            },
        )
        .await
    }

    async fn create_admin_session(&self, s: &AdminSessionRow) -> Result<(), StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "INSERT INTO admin_sessions ({ADMIN_SESSION_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .await
            .map_err(map_err)?;
        client
            .execute(
                &stmt,
                &[
                    &s.id,
                    &s.user_id.0,
                    &s.tenant_id.0,
                    &s.csrf_token,
                    &s.ip,
                    &s.created_at,
                    &s.last_seen_at,
                    &s.expires_at,
                ],
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn admin_session(&self, id: &str) -> Result<AdminSessionRow, StoreError> {
        let sql = format!("SELECT {ADMIN_SESSION_COLUMNS} FROM admin_sessions WHERE id = $1");
        found(
            self.query_opt(&sql, &[&id], session_row).await?,
            "admin_session",
        )
    }

    async fn touch_admin_session(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("UPDATE admin_sessions SET last_seen_at = $1 WHERE id = $2")
            .await
            .map_err(map_err)?;
        client.execute(&stmt, &[&at, &id]).await.map_err(map_err)?;
        Ok(())
    }

    async fn delete_admin_session(&self, id: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM admin_sessions WHERE id = $1")
            .await
            .map_err(map_err)?;
        client.execute(&stmt, &[&id]).await.map_err(map_err)?;
        Ok(())
    }

    async fn prune_admin_sessions(
        &self,
        expired_before: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM admin_sessions WHERE expires_at < $1 OR last_seen_at < $2")
            .await
            .map_err(map_err)?;
        client
            .execute(&stmt, &[&expired_before, &idle_before])
            .await
            .map_err(map_err)
    }

    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry, StoreError> {
        self.query_one(
            &format!(
                "INSERT INTO audit_log ({AUDIT_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {AUDIT_COLUMNS}"
            ),
            &[
                &Uuid::now_v7(),
                &entry.tenant_id.0,
                &entry.user_id.map(|u| u.0),
                &entry.username,
                &entry.action,
                &entry.target,
                &entry.detail,
                &entry.ip,
                &now_micros(),
            ],
            audit_row,
        )
        .await
    }

    async fn list_audit(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<(Vec<AuditEntry>, u64), StoreError> {
        let page = page.check()?;
        // Every filter is a parameter; an absent one is NULL and matches everything.
        let where_clause = "WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR at >= $2) \
             AND ($3::timestamptz IS NULL OR at < $3) AND ($4::text IS NULL OR action = $4) \
             AND ($5::text IS NULL OR username = $5)";
        let total: i64 = self
            .query_one(
                &format!("SELECT count(*) AS n FROM audit_log {where_clause}"),
                &[
                    &tenant.0,
                    &filter.from,
                    &filter.to,
                    &filter.action,
                    &filter.username,
                ],
                |row| column(row, "n"),
            )
            .await?;
        let (limit, offset) = (i64::from(page.limit), i64::from(page.offset));
        let entries = self
            .query(
                &format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log {where_clause} \
                     ORDER BY at DESC, id DESC LIMIT $6 OFFSET $7"
                ),
                &[
                    &tenant.0,
                    &filter.from,
                    &filter.to,
                    &filter.action,
                    &filter.username,
                    &limit,
                    &offset,
                ],
                audit_row,
            )
            .await?;
        Ok((entries, u64::try_from(total).unwrap_or(0)))
    }
}
