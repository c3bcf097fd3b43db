//! SessionStore on sqlite.
//!
//! Every write runs in a `BEGIN IMMEDIATE` transaction: it takes SQLite's write lock first, so
//! of two finishes (two processes on one file) the second reads what the first wrote.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde_json::Value;
use uuid::Uuid;

use super::{
    conversion, get_json, get_opt_time, get_time, get_uuid, insert_record_on, json_text, map_err,
    record_row, text_time, SqliteStore,
};
use crate::store::sessions::{
    check_new_session, check_outcome, select_sessions, EvidencePurge, NewSession, SessionRow,
    SessionStore,
};
use crate::store::{found, now_micros, RecordOutcome, RecordStatus, StoreError, TenantId, Verdict};

/// Reads a row of [`select_sessions`]: the record's columns, then the session's.
fn session_row(row: &Row<'_>) -> rusqlite::Result<SessionRow> {
    let record = record_row(row)?;
    let result: Option<String> = row.get(20)?;
    Ok(SessionRow {
        session_id: record.session_id,
        tenant_id: record.tenant_id,
        token_hash: row.get(14)?,
        challenge: get_json(row, 15)?,
        return_url: row.get(16)?,
        user_ref: row.get(17)?,
        expires_at: get_time(row, 18)?,
        started_at: get_opt_time(row, 19)?,
        result: result
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|err| conversion(20, err))?,
        record,
    })
}

/// The session, scoped to `tenant` when one is given.
fn session_by_id(
    conn: &Connection,
    tenant: Option<TenantId>,
    session_id: Uuid,
) -> Result<SessionRow, StoreError> {
    let row = conn
        .query_row(
            &format!(
                "{} WHERE session_id = ?1 AND (?2 IS NULL OR tenant_id = ?2)",
                select_sessions()
            ),
            params![session_id.to_string(), tenant.map(|t| t.to_string())],
            session_row,
        )
        .optional()
        .map_err(map_err)?;
    found(row, "session")
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(
        &self,
        tenant: TenantId,
        new: &NewSession,
    ) -> Result<SessionRow, StoreError> {
        check_new_session(new)?;
        let new = new.clone();
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let record = insert_record_on(&tx, tenant, &new.record)?;
            tx.execute(
                "INSERT INTO sessions (session_id, tenant_id, record_id, token_hash, challenge, \
                 return_url, user_ref, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    record.session_id.to_string(),
                    tenant.to_string(),
                    record.id.to_string(),
                    new.token_hash,
                    json_text(&new.challenge),
                    new.return_url,
                    new.user_ref,
                    text_time(new.expires_at)
                ],
            )
            .map_err(map_err)?;
            let session = session_by_id(&tx, Some(tenant), record.session_id)?;
            tx.commit().map_err(map_err)?;
            Ok(session)
        })
        .await
    }

    async fn session(&self, session_id: Uuid) -> Result<SessionRow, StoreError> {
        self.call(move |conn| session_by_id(conn, None, session_id))
            .await
    }

    async fn session_of_tenant(
        &self,
        tenant: TenantId,
        session_id: Uuid,
    ) -> Result<SessionRow, StoreError> {
        self.call(move |conn| session_by_id(conn, Some(tenant), session_id))
            .await
    }

    async fn start_session(
        &self,
        tenant: TenantId,
        session_id: Uuid,
        client: &Value,
    ) -> Result<SessionRow, StoreError> {
        let client = json_text(client);
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let (tenant_text, session_text) = (tenant.to_string(), session_id.to_string());
            // Only the first connection counts: a resume keeps the first client's facts.
            let started = tx
                .execute(
                    "UPDATE records SET status = ?1, client = ?2 \
                     WHERE tenant_id = ?3 AND session_id = ?4 AND status = ?5 \
                     AND EXISTS (SELECT 1 FROM sessions WHERE sessions.tenant_id = ?3 \
                     AND sessions.session_id = ?4)",
                    params![
                        RecordStatus::Running.as_str(),
                        client,
                        tenant_text,
                        session_text,
                        RecordStatus::Pending.as_str()
                    ],
                )
                .map_err(map_err)?;
            if started > 0 {
                tx.execute(
                    "UPDATE sessions SET started_at = ?1 WHERE tenant_id = ?2 AND session_id = ?3",
                    params![text_time(now_micros()), tenant_text, session_text],
                )
                .map_err(map_err)?;
            }
            let session = session_by_id(&tx, Some(tenant), session_id)?;
            tx.commit().map_err(map_err)?;
            Ok(session)
        })
        .await
    }

    async fn finish_session(
        &self,
        tenant: TenantId,
        session_id: Uuid,
        outcome: &RecordOutcome,
        result: &Value,
    ) -> Result<bool, StoreError> {
        check_outcome(outcome)?;
        let outcome = outcome.clone();
        let result = json_text(result);
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let (tenant_text, session_text) = (tenant.to_string(), session_id.to_string());
            let finished = tx
                .execute(
                    "UPDATE records SET status = ?1, verdict = ?2, reasons = ?3, scores = ?4, \
                     finished_at = ?5 \
                     WHERE tenant_id = ?6 AND session_id = ?7 AND status IN (?8, ?9) \
                     AND EXISTS (SELECT 1 FROM sessions WHERE sessions.tenant_id = ?6 \
                     AND sessions.session_id = ?7 AND sessions.result IS NULL)",
                    params![
                        outcome.status.as_str(),
                        outcome.verdict.map(Verdict::as_str),
                        json_text(&outcome.reasons),
                        json_text(&outcome.scores),
                        text_time(now_micros()),
                        tenant_text,
                        session_text,
                        RecordStatus::Pending.as_str(),
                        RecordStatus::Running.as_str()
                    ],
                )
                .map_err(map_err)?;
            if finished == 0 {
                // Already finished, or no such session of the tenant: the latter is NotFound.
                session_by_id(&tx, Some(tenant), session_id)?;
                return Ok(false);
            }
            tx.execute(
                "UPDATE sessions SET result = ?1 WHERE tenant_id = ?2 AND session_id = ?3",
                params![result, tenant_text, session_text],
            )
            .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(true)
        })
        .await
    }

    async fn due_expiries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(TenantId, Uuid)>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT tenant_id, session_id FROM sessions \
                     WHERE result IS NULL AND expires_at <= ?1 \
                     ORDER BY expires_at, session_id LIMIT ?2",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![text_time(now), limit], |row| {
                    Ok((TenantId(get_uuid(row, 0)?), get_uuid(row, 1)?))
                })
                .map_err(map_err)?;
            rows.collect::<Result<_, _>>().map_err(map_err)
        })
        .await
    }

    async fn set_evidence_until(
        &self,
        tenant: TenantId,
        session_id: Uuid,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE sessions SET evidence_until = ?1 WHERE tenant_id = ?2 AND session_id = ?3",
                    params![text_time(until), tenant.to_string(), session_id.to_string()],
                )
                .map_err(map_err)?;
            found((changed > 0).then_some(()), "session")
        })
        .await
    }

    async fn due_evidence_purges(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EvidencePurge>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT tenant_id, record_id, session_id FROM sessions \
                     WHERE evidence_until IS NOT NULL AND evidence_until <= ?1 \
                     AND evidence_purged_at IS NULL \
                     ORDER BY evidence_until, session_id LIMIT ?2",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![text_time(now), limit], |row| {
                    Ok(EvidencePurge {
                        tenant: TenantId(get_uuid(row, 0)?),
                        record_id: crate::store::RecordId(get_uuid(row, 1)?),
                        session_id: get_uuid(row, 2)?,
                    })
                })
                .map_err(map_err)?;
            rows.collect::<Result<_, _>>().map_err(map_err)
        })
        .await
    }

    async fn mark_evidence_purged(
        &self,
        tenant: TenantId,
        session_id: Uuid,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE sessions SET evidence_purged_at = ?1 WHERE tenant_id = ?2 AND session_id = ?3",
                    params![text_time(now_micros()), tenant.to_string(), session_id.to_string()],
                )
                .map_err(map_err)?;
            found((changed > 0).then_some(()), "session")
        })
        .await
    }
}
