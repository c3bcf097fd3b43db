//! SessionStore on postgres.
//!
//! Writes run in one transaction each. Of two finishes racing on several nodes, the second's
//! `UPDATE records` waits for the first's row lock, then re-reads the row under PostgreSQL's
//! READ COMMITTED rules: the record is no longer `pending` or `running`, so it updates nothing
//! and reports `false`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{column, insert_record_on, map_err, record_row, PgStore};
use crate::store::sessions::{
    check_new_session, check_outcome, select_sessions, EvidencePurge, NewSession, SessionRow,
    SessionStore,
};
use crate::store::{found, now_micros, RecordOutcome, RecordStatus, StoreError, TenantId, Verdict};

fn session_row(row: &Row) -> Result<SessionRow, StoreError> {
    let record = record_row(row)?;
    Ok(SessionRow {
        session_id: record.session_id,
        tenant_id: record.tenant_id,
        token_hash: column(row, "token_hash")?,
        challenge: column(row, "challenge")?,
        return_url: column(row, "return_url")?,
        user_ref: column(row, "user_ref")?,
        expires_at: column(row, "expires_at")?,
        started_at: column(row, "started_at")?,
        result: column(row, "result")?,
        record,
    })
}

/// The session, scoped to `tenant` when one is given, read through `client` (a pooled
/// connection or the transaction that just wrote it).
async fn session_on(
    client: &impl GenericClient,
    tenant: Option<TenantId>,
    session_id: Uuid,
) -> Result<SessionRow, StoreError> {
    let stmt = client
        .prepare_cached(&format!(
            "{} WHERE session_id = $1 AND ($2::uuid IS NULL OR tenant_id = $2)",
            select_sessions()
        ))
        .await
        .map_err(map_err)?;
    let row = client
        .query_opt(&stmt, &[&session_id, &tenant.map(|t| t.0)])
        .await
        .map_err(map_err)?;
    found(row.as_ref().map(session_row).transpose()?, "session")
}

/// Runs one statement through `client`; returns how many rows it changed.
async fn execute(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64, StoreError> {
    let stmt = client.prepare_cached(sql).await.map_err(map_err)?;
    client.execute(&stmt, params).await.map_err(map_err)
}

#[async_trait]
impl SessionStore for PgStore {
    async fn create_session(
        &self,
        tenant: TenantId,
        new: &NewSession,
    ) -> Result<SessionRow, StoreError> {
        check_new_session(new)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let record = insert_record_on(&tx, tenant, &new.record).await?;
        execute(
            &tx,
            "INSERT INTO sessions (session_id, tenant_id, record_id, token_hash, challenge, \
             return_url, user_ref, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &record.session_id,
                &tenant.0,
                &record.id.0,
                &new.token_hash,
                &new.challenge,
                &new.return_url,
                &new.user_ref,
                &new.expires_at,
            ],
        )
        .await?;
        let session = session_on(&tx, Some(tenant), record.session_id).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(session)
    }

    async fn session(&self, session_id: Uuid) -> Result<SessionRow, StoreError> {
        session_on(&self.client().await?, None, session_id).await
    }

    async fn session_of_tenant(
        &self,
        tenant: TenantId,
        session_id: Uuid,
    ) -> Result<SessionRow, StoreError> {
        session_on(&self.client().await?, Some(tenant), session_id).await
    }

    async fn start_session(
        &self,
        tenant: TenantId,
        session_id: Uuid,
        client_facts: &Value,
    ) -> Result<SessionRow, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // Only the first connection counts: a resume keeps the first client's facts.
        let started = execute(
            &tx,
            "UPDATE records SET status = $3, client = $4 \
             WHERE tenant_id = $1 AND session_id = $2 AND status = $5 \
             AND EXISTS (SELECT 1 FROM sessions s WHERE s.tenant_id = $1 AND s.session_id = $2)",
            &[
                &tenant.0,
                &session_id,
                &RecordStatus::Running.as_str(),
                client_facts,
                &RecordStatus::Pending.as_str(),
            ],
        )
        .await?;
        if started > 0 {
            execute(
                &tx,
                "UPDATE sessions SET started_at = $3 WHERE tenant_id = $1 AND session_id = $2",
                &[&tenant.0, &session_id, &now_micros()],
            )
            .await?;
        }
        let session = session_on(&tx, Some(tenant), session_id).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(session)
    }

    async fn finish_session(
        &self,
        tenant: TenantId,
        session_id: Uuid,
        outcome: &RecordOutcome,
        result: &Value,
    ) -> Result<bool, StoreError> {
        check_outcome(outcome)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let finished = execute(
            &tx,
            "UPDATE records SET status = $3, verdict = $4, reasons = $5, scores = $6, \
             finished_at = $7 \
             WHERE tenant_id = $1 AND session_id = $2 AND status IN ($8, $9) \
             AND EXISTS (SELECT 1 FROM sessions s WHERE s.tenant_id = $1 \
             AND s.session_id = $2 AND s.result IS NULL)",
            &[
                &tenant.0,
                &session_id,
                &outcome.status.as_str(),
                &outcome.verdict.map(Verdict::as_str),
                &outcome.reasons,
                &outcome.scores,
                &now_micros(),
                &RecordStatus::Pending.as_str(),
                &RecordStatus::Running.as_str(),
            ],
        )
        .await?;
        if finished == 0 {
            // Already finished, or no such session of the tenant: the latter is NotFound. The
            // transaction wrote nothing; dropping it rolls back.
            session_on(&tx, Some(tenant), session_id).await?;
            return Ok(false);
        }
        execute(
            &tx,
            "UPDATE sessions SET result = $3 WHERE tenant_id = $1 AND session_id = $2",
            &[&tenant.0, &session_id, result],
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn due_expiries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(TenantId, Uuid)>, StoreError> {
        self.query(
            "SELECT tenant_id, session_id FROM sessions \
             WHERE result IS NULL AND expires_at <= $1 \
             ORDER BY expires_at, session_id LIMIT $2",
            &[&now, &i64::from(limit)],
            |row| {
                Ok((
                    TenantId(column(row, "tenant_id")?),
                    column(row, "session_id")?,
                ))
            },
        )
        .await
    }

    async fn set_evidence_until(
        &self,
        tenant: TenantId,
        session_id: Uuid,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE sessions SET evidence_until = $1 WHERE tenant_id = $2 AND session_id = $3",
                &[&until, &tenant.0, &session_id],
            )
            .await
            .map_err(map_err)?;
        found((changed > 0).then_some(()), "session")
    }

    async fn due_evidence_purges(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EvidencePurge>, StoreError> {
        self.query(
            "SELECT tenant_id, record_id, session_id FROM sessions \
             WHERE evidence_until IS NOT NULL AND evidence_until <= $1 \
             AND evidence_purged_at IS NULL \
             ORDER BY evidence_until, session_id LIMIT $2",
            &[&now, &i64::from(limit)],
            |row| {
                Ok(EvidencePurge {
                    tenant: TenantId(column(row, "tenant_id")?),
                    record_id: crate::store::RecordId(column(row, "record_id")?),
                    session_id: column(row, "session_id")?,
                })
            },
        )
        .await
    }

    async fn mark_evidence_purged(
        &self,
        tenant: TenantId,
        session_id: Uuid,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE sessions SET evidence_purged_at = now() WHERE tenant_id = $1 AND session_id = $2",
                &[&tenant.0, &session_id],
            )
            .await
            .map_err(map_err)?;
        found((changed > 0).then_some(()), "session")
    }
}
