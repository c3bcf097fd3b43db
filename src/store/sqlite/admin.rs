//! AdminStore on sqlite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use uuid::Uuid;

use super::{
    conversion, get_json, get_opt_time, get_opt_uuid, get_time, get_uuid, map_err, now_micros,
    tenant_row, text_time, BadText, SqliteStore,
};
use crate::store::admin::{
    subtree_cte, AdminRole, AdminSessionRow, AdminStore, AdminUser, AdminUserId, AdminUserStatus,
    AdminUserUpdate, AuditEntry, AuditFilter, LockoutPolicy, NewAdminUser, NewAuditEntry,
    ADMIN_SESSION_COLUMNS, ADMIN_USER_COLUMNS, AUDIT_COLUMNS,
};
use crate::store::{found, Page, StoreError, Tenant, TenantId, TENANT_COLUMNS};

/// The user columns and their roles (comma-joined: role codes have no commas).
fn user_select() -> String {
    format!(
        "SELECT {ADMIN_USER_COLUMNS}, (SELECT group_concat(role_code, ',') FROM admin_user_roles r \
         WHERE r.user_id = admin_users.id) AS roles FROM admin_users"
    )
}

fn user_row(row: &Row<'_>) -> rusqlite::Result<AdminUser> {
    let status: String = row.get(5)?;
    let roles: Option<String> = row.get(12)?;
    let mut roles: Vec<String> = roles
        .map(|r| r.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    roles.sort();
    Ok(AdminUser {
        id: AdminUserId(get_uuid(row, 0)?),
        tenant_id: TenantId(get_uuid(row, 1)?),
        username: row.get(2)?,
        display_name: row.get(3)?,
        password_hash: row.get(4)?,
        status: AdminUserStatus::parse(&status).map_err(|err| conversion(5, BadText(err)))?,
        failed_logins: row.get(6)?,
        first_failed_at: get_opt_time(row, 7)?,
        locked_until: get_opt_time(row, 8)?,
        last_login_at: get_opt_time(row, 9)?,
        created_at: get_time(row, 10)?,
        updated_at: get_time(row, 11)?,
        roles,
    })
}

fn session_row(row: &Row<'_>) -> rusqlite::Result<AdminSessionRow> {
    Ok(AdminSessionRow {
        id: row.get(0)?,
        user_id: AdminUserId(get_uuid(row, 1)?),
        tenant_id: TenantId(get_uuid(row, 2)?),
        csrf_token: row.get(3)?,
        ip: row.get(4)?,
        created_at: get_time(row, 5)?,
        last_seen_at: get_time(row, 6)?,
        expires_at: get_time(row, 7)?,
    })
}

fn audit_row(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: get_uuid(row, 0)?,
        tenant_id: TenantId(get_uuid(row, 1)?),
        user_id: get_opt_uuid(row, 2)?.map(AdminUserId),
        username: row.get(3)?,
        action: row.get(4)?,
        target: row.get(5)?,
        detail: get_json(row, 6)?,
        ip: row.get(7)?,
        at: get_time(row, 8)?,
    })
}

fn user_by_id(conn: &Connection, id: AdminUserId) -> Result<AdminUser, StoreError> {
    let row = conn
        .query_row(
            &format!("{} WHERE id = ?1", user_select()),
            params![id.to_string()],
            user_row,
        )
        .optional()
        .map_err(map_err)?;
    found(row, "admin_user")
}

/// The user, only when it is in `within`'s subtree.
fn user_within(
    conn: &Connection,
    within: TenantId,
    id: AdminUserId,
) -> Result<AdminUser, StoreError> {
    let row = conn
        .query_row(
            &format!(
                "{}{} WHERE id = ?2 AND tenant_id IN (SELECT id FROM subtree)",
                subtree_cte("?1"),
                user_select()
            ),
            params![within.to_string(), id.to_string()],
            user_row,
        )
        .optional()
        .map_err(map_err)?;
    found(row, "admin_user")
}

/// Replaces the user's roles; an unknown role is `Invalid` naming it.
fn set_roles(conn: &Connection, id: AdminUserId, roles: &[String]) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM admin_user_roles WHERE user_id = ?1",
        params![id.to_string()],
    )
    .map_err(map_err)?;
    for role in roles {
        conn.execute(
            "INSERT INTO admin_user_roles (user_id, role_code) VALUES (?1, ?2) \
             ON CONFLICT DO NOTHING",
            params![id.to_string(), role],
        )
        .map_err(|err| match map_err(err) {
            StoreError::Invalid(_) => StoreError::Invalid(format!("unknown role {role:?}")),
            other => other,
        })?;
    }
    Ok(())
}

#[async_trait]
impl AdminStore for SqliteStore {
    async fn tenant_subtree(&self, root: TenantId) -> Result<Vec<Tenant>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "{}SELECT {TENANT_COLUMNS} FROM tenants WHERE id IN (SELECT id FROM subtree) \
                     ORDER BY code",
                    subtree_cte("?1")
                ))
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![root.to_string()], tenant_row)
                .map_err(map_err)?;
            let tenants = rows.collect::<Result<Vec<_>, _>>().map_err(map_err)?;
            if tenants.is_empty() {
                return Err(StoreError::NotFound { entity: "tenant" });
            }
            Ok(tenants)
        })
        .await
    }

    async fn create_admin_user(
        &self,
        tenant: TenantId,
        new: &NewAdminUser,
    ) -> Result<AdminUser, StoreError> {
        let new = new.clone();
        self.call(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            let id = AdminUserId::new();
            let now = text_time(now_micros());
            tx.execute(
                &format!(
                    "INSERT INTO admin_users ({ADMIN_USER_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, 'active', 0, NULL, NULL, NULL, ?6, ?6)"
                ),
                params![
                    id.to_string(),
                    tenant.to_string(),
                    new.username,
                    new.display_name,
                    new.password_hash,
                    now
                ],
            )
            .map_err(map_err)?;
            set_roles(&tx, id, &new.roles)?;
            let user = user_by_id(&tx, id)?;
            tx.commit().map_err(map_err)?;
            Ok(user)
        })
        .await
    }

    async fn admin_user_by_username(&self, username: &str) -> Result<AdminUser, StoreError> {
        let username = username.to_owned();
        self.call(move |conn| {
            let row = conn
                .query_row(
                    &format!("{} WHERE username = ?1", user_select()),
                    params![username],
                    user_row,
                )
                .optional()
                .map_err(map_err)?;
            found(row, "admin_user")
        })
        .await
    }

    async fn admin_user(&self, within: TenantId, id: AdminUserId) -> Result<AdminUser, StoreError> {
        self.call(move |conn| user_within(conn, within, id)).await
    }

    async fn list_admin_users(
        &self,
        tenant: TenantId,
        page: Page,
    ) -> Result<(Vec<AdminUser>, u64), StoreError> {
        let page = page.check()?;
        self.call(move |conn| {
            let total: i64 = conn
                .query_row(
                    "SELECT count(*) FROM admin_users WHERE tenant_id = ?1",
                    params![tenant.to_string()],
                    |row| row.get(0),
                )
                .map_err(map_err)?;
            let mut stmt = conn
                .prepare_cached(&format!(
                    "{} WHERE tenant_id = ?1 ORDER BY username LIMIT ?2 OFFSET ?3",
                    user_select()
                ))
                .map_err(map_err)?;
            let rows = stmt
                .query_map(
                    params![tenant.to_string(), page.limit, page.offset],
                    user_row,
                )
                .map_err(map_err)?;
            let users = rows.collect::<Result<Vec<_>, _>>().map_err(map_err)?;
            Ok((users, u64::try_from(total).unwrap_or(0)))
        })
        .await
    }

    async fn update_admin_user(
        &self,
        within: TenantId,
        id: AdminUserId,
        update: &AdminUserUpdate,
    ) -> Result<AdminUser, StoreError> {
        let update = update.clone();
        self.call(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            user_within(&tx, within, id)?;
            tx.execute(
                "UPDATE admin_users SET display_name = COALESCE(?1, display_name), \
                 updated_at = ?2 WHERE id = ?3",
                params![update.display_name, text_time(now_micros()), id.to_string()],
            )
            .map_err(map_err)?;
            if let Some(roles) = &update.roles {
                set_roles(&tx, id, roles)?;
            }
            let user = user_by_id(&tx, id)?;
            tx.commit().map_err(map_err)?;
            Ok(user)
        })
        .await
    }

    async fn set_admin_user_status(
        &self,
        within: TenantId,
        id: AdminUserId,
        status: AdminUserStatus,
    ) -> Result<AdminUser, StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            user_within(&tx, within, id)?;
            tx.execute(
                "UPDATE admin_users SET status = ?1, updated_at = ?2 WHERE id = ?3",
                params![status.as_str(), text_time(now_micros()), id.to_string()],
            )
            .map_err(map_err)?;
            if status == AdminUserStatus::Disabled {
                tx.execute(
                    "DELETE FROM admin_sessions WHERE user_id = ?1",
                    params![id.to_string()],
                )
                .map_err(map_err)?;
            }
            let user = user_by_id(&tx, id)?;
            tx.commit().map_err(map_err)?;
            Ok(user)
        })
        .await
    }

    async fn set_admin_password(
        &self,
        within: TenantId,
        id: AdminUserId,
        password_hash: &str,
        keep_session: Option<&str>,
    ) -> Result<AdminUser, StoreError> {
        let hash = password_hash.to_owned();
        let keep = keep_session.map(str::to_owned);
        self.call(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            user_within(&tx, within, id)?;
            tx.execute(
                "UPDATE admin_users SET password_hash = ?1, failed_logins = 0, \
                 first_failed_at = NULL, locked_until = NULL, updated_at = ?2 WHERE id = ?3",
                params![hash, text_time(now_micros()), id.to_string()],
            )
            .map_err(map_err)?;
            tx.execute(
                "DELETE FROM admin_sessions WHERE user_id = ?1 AND (?2 IS NULL OR id <> ?2)",
                params![id.to_string(), keep],
            )
            .map_err(map_err)?;
            let user = user_by_id(&tx, id)?;
            tx.commit().map_err(map_err)?;
            Ok(user)
        })
        .await
    }

    async fn unlock_admin_user(
        &self,
        within: TenantId,
        id: AdminUserId,
    ) -> Result<AdminUser, StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            user_within(&tx, within, id)?;
            tx.execute(
                "UPDATE admin_users SET failed_logins = 0, first_failed_at = NULL, \
                 locked_until = NULL, updated_at = ?1 WHERE id = ?2",
                params![text_time(now_micros()), id.to_string()],
            )
            .map_err(map_err)?;
            let user = user_by_id(&tx, id)?;
            tx.commit().map_err(map_err)?;
            Ok(user)
        })
        .await
    }

    async fn record_login_failure(
        &self,
        id: AdminUserId,
        now: DateTime<Utc>,
        policy: LockoutPolicy,
    ) -> Result<AdminUser, StoreError> {
        self.call(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            let changed = tx
                .execute(
                    "UPDATE admin_users SET \
                     failed_logins = CASE WHEN first_failed_at IS NULL OR first_failed_at < ?1 \
                         THEN 1 ELSE failed_logins + 1 END, \
                     first_failed_at = CASE WHEN first_failed_at IS NULL OR first_failed_at < ?1 \
                         THEN ?2 ELSE first_failed_at END \
                     WHERE id = ?3",
                    params![
                        text_time(now - policy.window),
                        text_time(now),
                        id.to_string()
                    ],
                )
                .map_err(map_err)?;
            if changed == 0 {
                return Err(StoreError::NotFound {
                    entity: "admin_user",
                });
            }
            tx.execute(
                "UPDATE admin_users SET locked_until = ?1, failed_logins = 0, \
                 first_failed_at = NULL WHERE id = ?2 AND failed_logins >= ?3",
                params![
                    text_time(now + policy.lock_for),
                    id.to_string(),
                    policy.max_failures
                ],
            )
            .map_err(map_err)?;
            let user = user_by_id(&tx, id)?;
            tx.commit().map_err(map_err)?;
            Ok(user)
        })
        .await
    }

    async fn record_login_success(
        &self,
        id: AdminUserId,
        now: DateTime<Utc>,
    ) -> Result<AdminUser, StoreError> {
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE admin_users SET failed_logins = 0, first_failed_at = NULL, \
                     locked_until = NULL, last_login_at = ?1 WHERE id = ?2",
                    params![text_time(now), id.to_string()],
                )
                .map_err(map_err)?;
            if changed == 0 {
                return Err(StoreError::NotFound {
                    entity: "admin_user",
                });
            }
            user_by_id(conn, id)
        })
        .await
    }

    async fn list_admin_roles(&self) -> Result<Vec<AdminRole>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT code, name, permissions, builtin FROM admin_roles ORDER BY code",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map([], |row| {
                    let permissions = get_json(row, 2)?;
                    Ok(AdminRole {
                        code: row.get(0)?,
                        name: row.get(1)?,
                        permissions: serde_json::from_value(permissions)
                            .map_err(|err| conversion(2, err))?,
                        builtin: row.get::<_, i64>(3)? != 0,
                    })
                })
                .map_err(map_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
        })
        .await
    }

    async fn create_admin_session(&self, session: &AdminSessionRow) -> Result<(), StoreError> {
        let s = session.clone();
        self.call(move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO admin_sessions ({ADMIN_SESSION_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![
                    s.id,
                    s.user_id.to_string(),
                    s.tenant_id.to_string(),
                    s.csrf_token,
                    s.ip,
                    text_time(s.created_at),
                    text_time(s.last_seen_at),
                    text_time(s.expires_at)
                ],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn admin_session(&self, id: &str) -> Result<AdminSessionRow, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            let row = conn
                .query_row(
                    &format!("SELECT {ADMIN_SESSION_COLUMNS} FROM admin_sessions WHERE id = ?1"),
                    params![id],
                    session_row,
                )
                .optional()
                .map_err(map_err)?;
            found(row, "admin_session")
        })
        .await
    }

    async fn touch_admin_session(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            conn.execute(
                "UPDATE admin_sessions SET last_seen_at = ?1 WHERE id = ?2",
                params![text_time(at), id],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn delete_admin_session(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            conn.execute("DELETE FROM admin_sessions WHERE id = ?1", params![id])
                .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn prune_admin_sessions(
        &self,
        expired_before: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.call(move |conn| {
            let deleted = conn
                .execute(
                    "DELETE FROM admin_sessions WHERE expires_at < ?1 OR last_seen_at < ?2",
                    params![text_time(expired_before), text_time(idle_before)],
                )
                .map_err(map_err)?;
            Ok(deleted as u64)
        })
        .await
    }

    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<AuditEntry, StoreError> {
        let stored = AuditEntry {
            id: Uuid::now_v7(),
            tenant_id: entry.tenant_id,
            user_id: entry.user_id,
            username: entry.username.clone(),
            action: entry.action.clone(),
            target: entry.target.clone(),
            detail: entry.detail.clone(),
            ip: entry.ip.clone(),
            at: now_micros(),
        };
        self.call(move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO audit_log ({AUDIT_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                params![
                    stored.id.to_string(),
                    stored.tenant_id.to_string(),
                    stored.user_id.map(|u| u.to_string()),
                    stored.username,
                    stored.action,
                    stored.target,
                    stored.detail.to_string(),
                    stored.ip,
                    text_time(stored.at)
                ],
            )
            .map_err(map_err)?;
            Ok(stored)
        })
        .await
    }

    async fn list_audit(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<(Vec<AuditEntry>, u64), StoreError> {
        let page = page.check()?;
        let filter = filter.clone();
        self.call(move |conn| {
            // Every filter is a parameter; an absent one is NULL and matches everything.
            let where_clause = "WHERE tenant_id = ?1 AND (?2 IS NULL OR at >= ?2) \
                 AND (?3 IS NULL OR at < ?3) AND (?4 IS NULL OR action = ?4) \
                 AND (?5 IS NULL OR username = ?5)";
            use rusqlite::types::Value as Sql;
            let text = |v: Option<String>| v.map(Sql::Text).unwrap_or(Sql::Null);
            let mut args: Vec<Sql> = vec![
                Sql::Text(tenant.to_string()),
                text(filter.from.map(text_time)),
                text(filter.to.map(text_time)),
                text(filter.action.clone()),
                text(filter.username.clone()),
            ];
            let total: i64 = conn
                .query_row(
                    &format!("SELECT count(*) FROM audit_log {where_clause}"),
                    params_from_iter(args.iter()),
                    |row| row.get(0),
                )
                .map_err(map_err)?;
            args.push(Sql::Integer(i64::from(page.limit)));
            args.push(Sql::Integer(i64::from(page.offset)));
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_log {where_clause} \
                     ORDER BY at DESC, id DESC LIMIT ?6 OFFSET ?7"
                ))
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params_from_iter(args.iter()), audit_row)
                .map_err(map_err)?;
            let entries = rows.collect::<Result<Vec<_>, _>>().map_err(map_err)?;
            Ok((entries, u64::try_from(total).unwrap_or(0)))
        })
        .await
    }
}
