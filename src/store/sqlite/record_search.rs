//! RecordSearchStore on sqlite: runs the statements of `store/record_search.rs`.
//!
//! The roll-up runs in a `BEGIN IMMEDIATE` transaction: two processes on one file roll up one
//! after the other.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{
    conversion, get_json, get_opt_time, get_time, get_uuid, map_err, record_row, text_time,
    BadText, SqliteStore,
};
use crate::store::record_search::{
    capped_total, check_export, count_select, list_select, next_watermark, reasons_select,
    record_in_scope_select, rollup_span, rollup_statements, split_at, stats_select, stored_verdict,
    Dialect, LatencyHistogram, Param, ReasonCount, RecordFilter, RecordListItem, RecordPage,
    RecordSearchStore, RollupReport, Sql, StatsDimension, StatsFilter, StatsGroup, StatsTime,
    LATENCY_BUCKETS,
};
use crate::store::{
    found, now_micros, Page, Record, RecordId, RecordStatus, StoreError, TenantId, Verdict,
};

fn values(sql: &Sql) -> Vec<SqlValue> {
    sql.params
        .iter()
        .map(|param| match param {
            Param::Uuid(id) => SqlValue::Text(id.to_string()),
            // The SQLite statements expand a tenant list into one parameter each.
            Param::Uuids(ids) => SqlValue::Text(
                ids.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            Param::Text(text) => SqlValue::Text(text.clone()),
            Param::Time(time) => SqlValue::Text(text_time(*time)),
            Param::Int(n) => SqlValue::Integer(*n),
        })
        .collect()
}

fn query_built<T>(
    conn: &Connection,
    sql: &Sql,
    text: &str,
    read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare(text).map_err(map_err)?;
    let rows = stmt
        .query_map(params_from_iter(values(sql)), read)
        .map_err(map_err)?
        .collect::<rusqlite::Result<Vec<T>>>()
        .map_err(map_err)?;
    Ok(rows)
}

fn list_row(row: &Row<'_>) -> rusqlite::Result<RecordListItem> {
    let status: String = row.get(7)?;
    let verdict: Option<String> = row.get(8)?;
    Ok(RecordListItem {
        id: RecordId(get_uuid(row, 0)?),
        tenant_id: TenantId(get_uuid(row, 1)?),
        scene_code: row.get(2)?,
        scene_version: row.get(3)?,
        session_id: get_uuid(row, 4)?,
        biz_id: row.get(5)?,
        app_id: row.get(6)?,
        status: RecordStatus::parse(&status).map_err(|err| conversion(7, BadText(err)))?,
        verdict: verdict
            .map(|v| Verdict::parse(&v).map_err(|err| conversion(8, BadText(err))))
            .transpose()?,
        reasons: get_json(row, 9)?,
        capture: row.get(10)?,
        created_at: get_time(row, 11)?,
        finished_at: get_opt_time(row, 12)?,
        duration_ms: row.get(13)?,
    })
}

fn group_row(row: &Row<'_>) -> rusqlite::Result<StatsGroup> {
    let mut latency = LatencyHistogram {
        count: row.get(4)?,
        sum_ms: row.get(5)?,
        max_ms: row.get(6)?,
        ..LatencyHistogram::default()
    };
    for bucket in 0..LATENCY_BUCKETS {
        latency.buckets[bucket] = row.get(7 + bucket)?;
    }
    let verdict: String = row.get(2)?;
    Ok(StatsGroup {
        hour: get_opt_time(row, 0)?,
        key: row.get(1)?,
        verdict: stored_verdict(&verdict).map_err(|err| conversion(2, BadText(err)))?,
        count: row.get(3)?,
        latency,
    })
}

fn rolled_until(conn: &Connection) -> Result<Option<DateTime<Utc>>, StoreError> {
    let mark = conn
        .query_row(
            "SELECT rolled_until FROM stats_rollup_state WHERE id = 1",
            [],
            |row| get_opt_time(row, 0),
        )
        .optional()
        .map_err(map_err)?;
    Ok(mark.flatten())
}

#[async_trait]
impl RecordSearchStore for SqliteStore {
    async fn search_records(
        &self,
        filter: &RecordFilter,
        page: Page,
    ) -> Result<RecordPage, StoreError> {
        let page = page.check()?;
        let filter = filter.clone();
        self.call(move |conn| {
            let mut sql = Sql::new(Dialect::Sqlite);
            let text = list_select(&mut sql, &filter, page.limit, page.offset)?;
            let items = query_built(conn, &sql, &text, list_row)?;
            let (total, total_exact) = if page.offset == 0 && items.len() < page.limit as usize {
                (items.len() as u64, true)
            } else {
                let mut sql = Sql::new(Dialect::Sqlite);
                let text = count_select(&mut sql, &filter)?;
                let counted = query_built(conn, &sql, &text, |row| row.get::<_, i64>(0))?;
                capped_total(counted.first().copied().unwrap_or(0))
            };
            Ok(RecordPage {
                items,
                total,
                total_exact,
            })
        })
        .await
    }

    async fn export_records(
        &self,
        filter: &RecordFilter,
        max_rows: u32,
    ) -> Result<Vec<RecordListItem>, StoreError> {
        check_export(max_rows)?;
        let filter = filter.clone();
        self.call(move |conn| {
            let mut sql = Sql::new(Dialect::Sqlite);
            let text = list_select(&mut sql, &filter, max_rows, 0)?;
            query_built(conn, &sql, &text, list_row)
        })
        .await
    }

    async fn record_in_scope(
        &self,
        tenants: &[TenantId],
        id: RecordId,
    ) -> Result<Record, StoreError> {
        let tenants = tenants.to_vec();
        self.call(move |conn| {
            let mut sql = Sql::new(Dialect::Sqlite);
            let text = record_in_scope_select(&mut sql, &tenants, id)?;
            let rows = query_built(conn, &sql, &text, record_row)?;
            found(rows.into_iter().next(), "record")
        })
        .await
    }

    async fn stats_groups(
        &self,
        filter: &StatsFilter,
        by_hour: bool,
        by: Option<StatsDimension>,
    ) -> Result<Vec<StatsGroup>, StoreError> {
        let filter = filter.clone();
        self.call(move |conn| {
            let mid = split_at(&filter, rolled_until(conn)?);
            let time = if by_hour {
                StatsTime::Hour
            } else {
                StatsTime::Total
            };
            let statement = stats_select(Dialect::Sqlite, &filter, mid, time, by)?;
            query_built(conn, &statement.sql, &statement.text, group_row)
        })
        .await
    }

    async fn stats_reasons(&self, filter: &StatsFilter) -> Result<Vec<ReasonCount>, StoreError> {
        let filter = filter.clone();
        self.call(move |conn| {
            let mid = split_at(&filter, rolled_until(conn)?);
            let statement = reasons_select(Dialect::Sqlite, &filter, mid)?;
            query_built(conn, &statement.sql, &statement.text, |row| {
                Ok(ReasonCount {
                    reason: row.get(0)?,
                    count: row.get(1)?,
                })
            })
        })
        .await
    }

    async fn rollup_stats(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<RollupReport, StoreError> {
        let now = now_micros();
        let (since, until) = rollup_span(since, until, now);
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let current = rolled_until(&tx)?;
            let oldest = tx
                .query_row("SELECT min(created_at) FROM records", [], |row| {
                    get_opt_time(row, 0)
                })
                .map_err(map_err)?;
            let mut rows = 0;
            if since < until {
                let (delete, delete_sql, insert, insert_sql) =
                    rollup_statements(Dialect::Sqlite, since, until);
                tx.execute(&delete_sql, params_from_iter(values(&delete)))
                    .map_err(map_err)?;
                rows = tx
                    .execute(&insert_sql, params_from_iter(values(&insert)))
                    .map_err(map_err)? as u64;
            }
            let rolled_until = next_watermark(current, oldest, since, until);
            tx.execute(
                "UPDATE stats_rollup_state SET rolled_until = ?1, last_run_at = ?2 WHERE id = 1",
                rusqlite::params![rolled_until.map(text_time), text_time(now)],
            )
            .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(RollupReport {
                since,
                until,
                rows,
                rolled_until,
            })
        })
        .await
    }

    async fn stats_rolled_until(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.call(|conn| rolled_until(conn)).await
    }
}
