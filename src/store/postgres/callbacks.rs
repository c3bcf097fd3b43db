//! CallbackStore on postgres.
//!
//! Claims are one `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)`: concurrent
//! workers on several nodes each skip the rows another is taking, never wait on them, and never
//! get the same one.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{column, map_err, now_micros, PgStore};
use crate::store::callbacks::{
    later, state_after, Attempt, AttemptNext, Callback, CallbackAttempt, CallbackStatus,
    CallbackStore, NewCallback, ATTEMPT_COLUMNS, CALLBACK_COLUMNS,
};
use crate::store::{found, CallbackId, RecordId, SceneId, StoreError, TenantId};

fn count(value: i32, name: &str) -> Result<u32, StoreError> {
    u32::try_from(value)
        .map_err(|_| StoreError::Backend(format!("postgres column {name}: negative ({value})")))
}

fn callback_row(row: &Row) -> Result<Callback, StoreError> {
    Ok(Callback {
        id: CallbackId(column(row, "id")?),
        tenant_id: TenantId(column(row, "tenant_id")?),
        record_id: RecordId(column(row, "record_id")?),
        session_id: column(row, "session_id")?,
        scene_id: SceneId(column(row, "scene_id")?),
        app_id: column(row, "app_id")?,
        url: column(row, "url")?,
        body: column(row, "body")?,
        status: CallbackStatus::parse(column(row, "status")?)?,
        attempts: count(column(row, "attempts")?, "attempts")?,
        next_attempt_at: column(row, "next_attempt_at")?,
        lease_until: column(row, "lease_until")?,
        last_error: column(row, "last_error")?,
        created_at: column(row, "created_at")?,
        delivered_at: column(row, "delivered_at")?,
    })
}

fn attempt_row(row: &Row) -> Result<CallbackAttempt, StoreError> {
    let http_status: Option<i32> = column(row, "http_status")?;
    Ok(CallbackAttempt {
        id: column(row, "id")?,
        callback_id: CallbackId(column(row, "callback_id")?),
        tenant_id: TenantId(column(row, "tenant_id")?),
        attempt: count(column(row, "attempt")?, "attempt")?,
        started_at: column(row, "started_at")?,
        duration_ms: u64::try_from(column::<i64>(row, "duration_ms")?).unwrap_or(0),
        http_status: http_status.and_then(|s| u16::try_from(s).ok()),
        error: column(row, "error")?,
    })
}

#[async_trait]
impl CallbackStore for PgStore {
    async fn enqueue_callback(
        &self,
        tenant: TenantId,
        new: &NewCallback,
    ) -> Result<Callback, StoreError> {
        let now = now_micros();
        self.query_one(
            &format!(
                "INSERT INTO callbacks (id, tenant_id, record_id, session_id, scene_id, app_id, \
                 url, body, status, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $9) \
                 RETURNING {CALLBACK_COLUMNS}"
            ),
            &[
                &CallbackId::new().0,
                &tenant.0,
                &new.record_id.0,
                &new.session_id,
                &new.scene_id.0,
                &new.app_id,
                &new.url,
                &new.body,
                &now,
            ],
            callback_row,
        )
        .await
    }

    async fn claim_due_callbacks(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<Callback>, StoreError> {
        let until = later(now, lease);
        let mut claimed = self
            .query(
                &format!(
                    "UPDATE callbacks SET lease_until = $2 WHERE id IN ( \
                         SELECT id FROM callbacks WHERE status = 'pending' \
                         AND next_attempt_at <= $1 \
                         AND (lease_until IS NULL OR lease_until <= $1) \
                         ORDER BY next_attempt_at, id LIMIT $3 \
                         FOR UPDATE SKIP LOCKED) \
                     RETURNING {CALLBACK_COLUMNS}"
                ),
                &[&now, &until, &i64::from(limit)],
                callback_row,
            )
            .await?;
        // RETURNING has no order of its own.
        claimed.sort_by_key(|c| (c.next_attempt_at, c.id));
        Ok(claimed)
    }

    async fn record_attempt(
        &self,
        tenant: TenantId,
        id: CallbackId,
        attempt: &Attempt,
        next: AttemptNext,
    ) -> Result<Callback, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // The row lock orders concurrent attempts on one callback, so their numbers differ.
        let locked = tx
            .query_opt(
                "SELECT id FROM callbacks WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
                &[&tenant.0, &id.0],
            )
            .await
            .map_err(map_err)?;
        found(locked, "callback")?;
        let number: i32 = column(
            &tx.query_one(
                "SELECT COALESCE(MAX(attempt), 0) + 1 AS next FROM callback_attempts \
                 WHERE tenant_id = $1 AND callback_id = $2",
                &[&tenant.0, &id.0],
            )
            .await
            .map_err(map_err)?,
            "next",
        )?;
        tx.execute(
            &format!(
                "INSERT INTO callback_attempts ({ATTEMPT_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            &[
                &Uuid::now_v7(),
                &id.0,
                &tenant.0,
                &number,
                &attempt.started_at,
                &i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX),
                &attempt.http_status.map(i32::from),
                &attempt.error,
            ],
        )
        .await
        .map_err(map_err)?;
        let (status, next_at, delivered) = state_after(next);
        tx.execute(
            "UPDATE callbacks SET attempts = attempts + 1, status = $3, \
             next_attempt_at = COALESCE($4, next_attempt_at), lease_until = NULL, \
             last_error = $5, delivered_at = $6 \
             WHERE tenant_id = $1 AND id = $2 AND status = 'pending'",
            &[
                &tenant.0,
                &id.0,
                &status.as_str(),
                &next_at,
                &attempt.error,
                &delivered.then(now_micros),
            ],
        )
        .await
        .map_err(map_err)?;
        let row = tx
            .query_one(
                &format!(
                    "SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE tenant_id = $1 AND id = $2"
                ),
                &[&tenant.0, &id.0],
            )
            .await
            .map_err(map_err)?;
        let callback = callback_row(&row)?;
        tx.commit().await.map_err(map_err)?;
        Ok(callback)
    }

    async fn callback(&self, tenant: TenantId, id: CallbackId) -> Result<Callback, StoreError> {
        let sql =
            format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE tenant_id = $1 AND id = $2");
        found(
            self.query_opt(&sql, &[&tenant.0, &id.0], callback_row)
                .await?,
            "callback",
        )
    }

    async fn callbacks_of_record(
        &self,
        tenant: TenantId,
        record_id: RecordId,
    ) -> Result<Vec<Callback>, StoreError> {
        let sql = format!(
            "SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE tenant_id = $1 AND record_id = $2 \
             ORDER BY created_at, id"
        );
        self.query(&sql, &[&tenant.0, &record_id.0], callback_row)
            .await
    }

    async fn callback_attempts(
        &self,
        tenant: TenantId,
        callback_id: CallbackId,
    ) -> Result<Vec<CallbackAttempt>, StoreError> {
        self.callback(tenant, callback_id).await?;
        let sql = format!(
            "SELECT {ATTEMPT_COLUMNS} FROM callback_attempts \
             WHERE tenant_id = $1 AND callback_id = $2 ORDER BY attempt"
        );
        self.query(&sql, &[&tenant.0, &callback_id.0], attempt_row)
            .await
    }

    async fn replay_callback(
        &self,
        tenant: TenantId,
        id: CallbackId,
        now: DateTime<Utc>,
    ) -> Result<Callback, StoreError> {
        let replayed = self
            .query_opt(
                &format!(
                    "UPDATE callbacks SET status = 'pending', attempts = 0, next_attempt_at = $3, \
                     delivered_at = NULL WHERE tenant_id = $1 AND id = $2 \
                     RETURNING {CALLBACK_COLUMNS}"
                ),
                &[&tenant.0, &id.0, &now],
                callback_row,
            )
            .await?;
        found(replayed, "callback")
    }
}
