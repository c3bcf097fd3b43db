//! CallbackStore on sqlite.
//!
//! Claims run in a `BEGIN IMMEDIATE` transaction: it takes SQLite's write lock first, so two
//! processes on the same file cannot both select a callback before either leases it.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use uuid::Uuid;

use super::{
    conversion, get_opt_time, get_time, get_uuid, map_err, now_micros, text_time, BadText,
    SqliteStore,
};
use crate::store::callbacks::{
    later, state_after, Attempt, AttemptNext, Callback, CallbackAttempt, CallbackStatus,
    CallbackStore, NewCallback, ATTEMPT_COLUMNS, CALLBACK_COLUMNS,
};
use crate::store::{found, CallbackId, RecordId, SceneId, StoreError, TenantId};

fn callback_row(row: &Row<'_>) -> rusqlite::Result<Callback> {
    let status: String = row.get(8)?;
    Ok(Callback {
        id: CallbackId(get_uuid(row, 0)?),
        tenant_id: TenantId(get_uuid(row, 1)?),
        record_id: RecordId(get_uuid(row, 2)?),
        session_id: get_uuid(row, 3)?,
        scene_id: SceneId(get_uuid(row, 4)?),
        app_id: row.get(5)?,
        url: row.get(6)?,
        body: row.get(7)?,
        status: CallbackStatus::parse(&status).map_err(|err| conversion(8, BadText(err)))?,
        attempts: row.get(9)?,
        next_attempt_at: get_time(row, 10)?,
        lease_until: get_opt_time(row, 11)?,
        last_error: row.get(12)?,
        created_at: get_time(row, 13)?,
        delivered_at: get_opt_time(row, 14)?,
    })
}

fn attempt_row(row: &Row<'_>) -> rusqlite::Result<CallbackAttempt> {
    let duration_ms: i64 = row.get(5)?;
    Ok(CallbackAttempt {
        id: get_uuid(row, 0)?,
        callback_id: CallbackId(get_uuid(row, 1)?),
        tenant_id: TenantId(get_uuid(row, 2)?),
        attempt: row.get(3)?,
        started_at: get_time(row, 4)?,
        duration_ms: u64::try_from(duration_ms).unwrap_or(0),
        http_status: row.get(6)?,
        error: row.get(7)?,
    })
}

fn callback_by_id(
    conn: &Connection,
    tenant: TenantId,
    id: CallbackId,
) -> Result<Callback, StoreError> {
    let row = conn
        .query_row(
            &format!("SELECT {CALLBACK_COLUMNS} FROM callbacks WHERE tenant_id = ?1 AND id = ?2"),
            params![tenant.to_string(), id.to_string()],
            callback_row,
        )
        .optional()
        .map_err(map_err)?;
    found(row, "callback")
}

#[async_trait]
impl CallbackStore for SqliteStore {
    async fn enqueue_callback(
        &self,
        tenant: TenantId,
        new: &NewCallback,
    ) -> Result<Callback, StoreError> {
        let now = now_micros();
        let callback = Callback {
            id: CallbackId::new(),
            tenant_id: tenant,
            record_id: new.record_id,
            session_id: new.session_id,
            scene_id: new.scene_id,
            app_id: new.app_id.clone(),
            url: new.url.clone(),
            body: new.body.clone(),
            status: CallbackStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            lease_until: None,
            last_error: None,
            created_at: now,
            delivered_at: None,
        };
        self.call(move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO callbacks ({CALLBACK_COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, NULL, ?12, NULL)"
                ),
                params![
                    callback.id.to_string(),
                    callback.tenant_id.to_string(),
                    callback.record_id.to_string(),
                    callback.session_id.to_string(),
                    callback.scene_id.to_string(),
                    callback.app_id,
                    callback.url,
                    callback.body,
                    callback.status.as_str(),
                    callback.attempts,
                    text_time(callback.next_attempt_at),
                    text_time(callback.created_at)
                ],
            )
            .map_err(map_err)?;
            Ok(callback)
        })
        .await
    }

    async fn claim_due_callbacks(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<Callback>, StoreError> {
        let until = later(now, lease);
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let now = text_time(now);
            let ids: Vec<String> = {
                let mut stmt = tx
                    .prepare(
                        "SELECT id FROM callbacks WHERE status = 'pending' \
                         AND next_attempt_at <= ?1 \
                         AND (lease_until IS NULL OR lease_until <= ?1) \
                         ORDER BY next_attempt_at, id LIMIT ?2",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![now, limit], |row| row.get(0))
                    .map_err(map_err)?;
                rows.collect::<Result<_, _>>().map_err(map_err)?
            };
            let mut claimed = Vec::with_capacity(ids.len());
            for id in ids {
                let row = tx
                    .query_row(
                        &format!(
                            "UPDATE callbacks SET lease_until = ?1 WHERE id = ?2 \
                             RETURNING {CALLBACK_COLUMNS}"
                        ),
                        params![text_time(until), id],
                        callback_row,
                    )
                    .map_err(map_err)?;
                claimed.push(row);
            }
            tx.commit().map_err(map_err)?;
            Ok(claimed)
        })
        .await
    }

    async fn record_attempt(
        &self,
        tenant: TenantId,
        id: CallbackId,
        attempt: &Attempt,
        next: AttemptNext,
    ) -> Result<Callback, StoreError> {
        let attempt = attempt.clone();
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            callback_by_id(&tx, tenant, id)?;
            let number: i64 = tx
                .query_row(
                    "SELECT COALESCE(MAX(attempt), 0) + 1 FROM callback_attempts \
                     WHERE tenant_id = ?1 AND callback_id = ?2",
                    params![tenant.to_string(), id.to_string()],
                    |row| row.get(0),
                )
                .map_err(map_err)?;
            tx.execute(
                &format!(
                    "INSERT INTO callback_attempts ({ATTEMPT_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![
                    Uuid::now_v7().to_string(),
                    id.to_string(),
                    tenant.to_string(),
                    number,
                    text_time(attempt.started_at),
                    i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX),
                    attempt.http_status,
                    attempt.error
                ],
            )
            .map_err(map_err)?;
            let (status, next_at, delivered) = state_after(next);
            tx.execute(
                "UPDATE callbacks SET attempts = attempts + 1, status = ?1, \
                 next_attempt_at = COALESCE(?2, next_attempt_at), lease_until = NULL, \
                 last_error = ?3, delivered_at = ?4 \
                 WHERE tenant_id = ?5 AND id = ?6 AND status = 'pending'",
                params![
                    status.as_str(),
                    next_at.map(text_time),
                    attempt.error,
                    delivered.then(|| text_time(now_micros())),
                    tenant.to_string(),
                    id.to_string()
                ],
            )
            .map_err(map_err)?;
            let callback = callback_by_id(&tx, tenant, id)?;
            tx.commit().map_err(map_err)?;
            Ok(callback)
        })
        .await
    }

    async fn callback(&self, tenant: TenantId, id: CallbackId) -> Result<Callback, StoreError> {
        self.call(move |conn| callback_by_id(conn, tenant, id))
            .await
    }

    async fn callbacks_of_record(
        &self,
        tenant: TenantId,
        record_id: RecordId,
    ) -> Result<Vec<Callback>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {CALLBACK_COLUMNS} FROM callbacks \
                     WHERE tenant_id = ?1 AND record_id = ?2 ORDER BY created_at, id"
                ))
                .map_err(map_err)?;
            let rows = stmt
                .query_map(
                    params![tenant.to_string(), record_id.to_string()],
                    callback_row,
                )
                .map_err(map_err)?;
            rows.collect::<Result<_, _>>().map_err(map_err)
        })
        .await
    }

    async fn callback_attempts(
        &self,
        tenant: TenantId,
        callback_id: CallbackId,
    ) -> Result<Vec<CallbackAttempt>, StoreError> {
        self.call(move |conn| {
            callback_by_id(conn, tenant, callback_id)?;
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM callback_attempts \
                     WHERE tenant_id = ?1 AND callback_id = ?2 ORDER BY attempt"
                ))
                .map_err(map_err)?;
            let rows = stmt
                .query_map(
                    params![tenant.to_string(), callback_id.to_string()],
                    attempt_row,
                )
                .map_err(map_err)?;
            rows.collect::<Result<_, _>>().map_err(map_err)
        })
        .await
    }

    async fn replay_callback(
        &self,
        tenant: TenantId,
        id: CallbackId,
        now: DateTime<Utc>,
    ) -> Result<Callback, StoreError> {
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE callbacks SET status = 'pending', attempts = 0, next_attempt_at = ?1, \
                     delivered_at = NULL WHERE tenant_id = ?2 AND id = ?3",
                    params![text_time(now), tenant.to_string(), id.to_string()],
                )
                .map_err(map_err)?;
            if changed == 0 {
                return Err(StoreError::NotFound { entity: "callback" });
            }
            callback_by_id(conn, tenant, id)
        })
        .await
    }
}
