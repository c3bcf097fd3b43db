//! AppStore on postgres.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use super::{column, map_err, now_micros, PgStore};
use crate::store::apps::{App, AppId, AppStatus, AppStore, NewApp, APP_COLUMNS, NONCE_CONSTRAINT};
use crate::store::{found, StoreError, TenantId};

fn app_row(row: &Row) -> Result<App, StoreError> {
    let app_id: String = column(row, "app_id")?;
    Ok(App {
        app_id: AppId::parse(&app_id)
            .ok_or_else(|| StoreError::Backend(format!("malformed app id {app_id:?}")))?,
        tenant_id: TenantId(column(row, "tenant_id")?),
        name: column(row, "name")?,
        secret_sealed: column(row, "secret_sealed")?,
        status: AppStatus::parse(column(row, "status")?)?,
        created_at: column(row, "created_at")?,
    })
}

#[async_trait]
impl AppStore for PgStore {
    async fn create_app(&self, tenant: TenantId, new: &NewApp) -> Result<App, StoreError> {
        self.query_one(
            &format!(
                "INSERT INTO apps ({APP_COLUMNS}) VALUES ($1, $2, $3, $4, 'active', $5) \
                 RETURNING {APP_COLUMNS}"
            ),
            &[
                &new.app_id.as_str(),
                &tenant.0,
                &new.name,
                &new.secret_sealed,
                &now_micros(),
            ],
            app_row,
        )
        .await
    }

    async fn app(&self, app_id: &AppId) -> Result<App, StoreError> {
        let row = self
            .query_opt(
                &format!("SELECT {APP_COLUMNS} FROM apps WHERE app_id = $1"),
                &[&app_id.as_str()],
                app_row,
            )
            .await?;
        found(row, "app")
    }

    async fn list_apps(&self, tenant: TenantId) -> Result<Vec<App>, StoreError> {
        self.query(
            &format!(
                "SELECT {APP_COLUMNS} FROM apps WHERE tenant_id = $1 ORDER BY created_at, app_id"
            ),
            &[&tenant.0],
            app_row,
        )
        .await
    }

    async fn set_app_status(
        &self,
        tenant: TenantId,
        app_id: &AppId,
        status: AppStatus,
    ) -> Result<App, StoreError> {
        let row = self
            .query_opt(
                &format!(
                    "UPDATE apps SET status = $1 WHERE tenant_id = $2 AND app_id = $3 \
                     RETURNING {APP_COLUMNS}"
                ),
                &[&status.as_str(), &tenant.0, &app_id.as_str()],
                app_row,
            )
            .await?;
        found(row, "app")
    }

    async fn use_nonce(
        &self,
        app_id: &AppId,
        nonce: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO api_nonces (app_id, nonce, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT ON CONSTRAINT api_nonces_pkey \
                 DO UPDATE SET expires_at = excluded.expires_at \
                 WHERE api_nonces.expires_at <= $4",
            )
            .await
            .map_err(map_err)?;
        // One statement: a new nonce is inserted, an expired one (not yet pruned) is taken
        // again, a live one changes nothing. Concurrent uses of one nonce serialise on the key.
        let changed = client
            .execute(
                &stmt,
                &[&app_id.as_str(), &nonce, &expires_at, &now_micros()],
            )
            .await
            .map_err(map_err)?;
        if changed == 0 {
            return Err(StoreError::Conflict {
                constraint: NONCE_CONSTRAINT.into(),
            });
        }
        Ok(())
    }

    async fn prune_nonces(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM api_nonces WHERE expires_at < $1")
            .await
            .map_err(map_err)?;
        client.execute(&stmt, &[&before]).await.map_err(map_err)
    }
}
