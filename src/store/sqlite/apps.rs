//! AppStore on sqlite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{conversion, get_time, get_uuid, map_err, now_micros, text_time, BadText, SqliteStore};
use crate::store::apps::{App, AppId, AppStatus, AppStore, NewApp, APP_COLUMNS, NONCE_CONSTRAINT};
use crate::store::{found, StoreError, TenantId};

fn app_row(row: &Row<'_>) -> rusqlite::Result<App> {
    let app_id: String = row.get(0)?;
    let status: String = row.get(4)?;
    Ok(App {
        app_id: AppId::parse(&app_id).ok_or_else(|| {
            conversion(
                0,
                BadText(StoreError::Backend(format!("malformed app id {app_id:?}"))),
            )
        })?,
        tenant_id: TenantId(get_uuid(row, 1)?),
        name: row.get(2)?,
        secret_sealed: row.get(3)?,
        status: AppStatus::parse(&status).map_err(|err| conversion(4, BadText(err)))?,
        created_at: get_time(row, 5)?,
    })
}

fn app_by_id(
    conn: &Connection,
    tenant: Option<TenantId>,
    app_id: &AppId,
) -> Result<App, StoreError> {
    let row = match tenant {
        Some(tenant) => conn.query_row(
            &format!("SELECT {APP_COLUMNS} FROM apps WHERE tenant_id = ?1 AND app_id = ?2"),
            params![tenant.to_string(), app_id.as_str()],
            app_row,
        ),
        None => conn.query_row(
            &format!("SELECT {APP_COLUMNS} FROM apps WHERE app_id = ?1"),
            params![app_id.as_str()],
            app_row,
        ),
    }
    .optional()
    .map_err(map_err)?;
    found(row, "app")
}

#[async_trait]
impl AppStore for SqliteStore {
    async fn create_app(&self, tenant: TenantId, new: &NewApp) -> Result<App, StoreError> {
        let app = App {
            app_id: new.app_id.clone(),
            tenant_id: tenant,
            name: new.name.clone(),
            secret_sealed: new.secret_sealed.clone(),
            status: AppStatus::Active,
            created_at: now_micros(),
        };
        self.call(move |conn| {
            conn.execute(
                &format!("INSERT INTO apps ({APP_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![
                    app.app_id.as_str(),
                    app.tenant_id.to_string(),
                    app.name,
                    app.secret_sealed,
                    app.status.as_str(),
                    text_time(app.created_at)
                ],
            )
            .map_err(|err| match map_err(err) {
                // SQLite names the column; PostgreSQL names the primary key.
                StoreError::Conflict { .. } => StoreError::Conflict {
                    constraint: "apps_pkey".into(),
                },
                other => other,
            })?;
            Ok(app)
        })
        .await
    }

    async fn app(&self, app_id: &AppId) -> Result<App, StoreError> {
        let app_id = app_id.clone();
        self.call(move |conn| app_by_id(conn, None, &app_id)).await
    }

    async fn list_apps(&self, tenant: TenantId) -> Result<Vec<App>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {APP_COLUMNS} FROM apps WHERE tenant_id = ?1 \
                     ORDER BY created_at, app_id"
                ))
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![tenant.to_string()], app_row)
                .map_err(map_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
        })
        .await
    }

    async fn set_app_status(
        &self,
        tenant: TenantId,
        app_id: &AppId,
        status: AppStatus,
    ) -> Result<App, StoreError> {
        let app_id = app_id.clone();
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE apps SET status = ?1 WHERE tenant_id = ?2 AND app_id = ?3",
                    params![status.as_str(), tenant.to_string(), app_id.as_str()],
                )
                .map_err(map_err)?;
            if changed == 0 {
                return Err(StoreError::NotFound { entity: "app" });
            }
            app_by_id(conn, Some(tenant), &app_id)
        })
        .await
    }

    async fn use_nonce(
        &self,
        app_id: &AppId,
        nonce: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let app_id = app_id.clone();
        let nonce = nonce.to_owned();
        let now = now_micros();
        self.call(move |conn| {
            // One statement: a new nonce is inserted, an expired one (not yet pruned) is taken
            // again, a live one changes nothing.
            let changed = conn
                .execute(
                    "INSERT INTO api_nonces (app_id, nonce, expires_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (app_id, nonce) DO UPDATE SET expires_at = excluded.expires_at \
                     WHERE api_nonces.expires_at <= ?4",
                    params![
                        app_id.as_str(),
                        nonce,
                        text_time(expires_at),
                        text_time(now)
                    ],
                )
                .map_err(map_err)?;
            if changed == 0 {
                return Err(StoreError::Conflict {
                    constraint: NONCE_CONSTRAINT.into(),
                });
            }
            Ok(())
        })
        .await
    }

    async fn prune_nonces(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.call(move |conn| {
            let deleted = conn
                .execute(
                    "DELETE FROM api_nonces WHERE expires_at < ?1",
                    params![text_time(before)],
                )
                .map_err(map_err)?;
            Ok(deleted as u64)
        })
        .await
    }
}
