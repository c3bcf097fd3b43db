//! RecordSearchStore on postgres: runs the statements of `store/record_search.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{column, map_err, now_micros, record_row, PgStore};
use crate::store::record_search::{
    capped_total, check_export, count_select, list_select, next_watermark, reasons_select,
    record_in_scope_select, rollup_span, rollup_statements, split_at, stats_select, stored_verdict,
    Dialect, LatencyHistogram, Param, ReasonCount, RecordFilter, RecordListItem, RecordPage,
    RecordSearchStore, RollupReport, Sql, StatsDimension, StatsFilter, StatsGroup, StatsTime,
    LATENCY_BUCKETS,
};
use crate::store::{found, Page, Record, RecordId, RecordStatus, StoreError, TenantId, Verdict};

/// Serialises roll-ups across nodes (any constant; this one spells "lgst").
const ROLLUP_LOCK_KEY: i64 = 0x6c67_7374;

type Boxed = Box<dyn ToSql + Sync + Send>;

fn params(sql: &Sql) -> Vec<Boxed> {
    sql.params
        .iter()
        .map(|param| -> Boxed {
            match param {
                Param::Uuid(id) => Box::new(*id),
                Param::Uuids(ids) => Box::new(ids.clone()),
                Param::Text(text) => Box::new(text.clone()),
                Param::Time(time) => Box::new(*time),
                Param::Int(n) => Box::new(*n),
            }
        })
        .collect()
}

fn refs(boxed: &[Boxed]) -> Vec<&(dyn ToSql + Sync)> {
    boxed
        .iter()
        .map(|b| b.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

impl PgStore {
    /// Runs a statement built at run time (not cached: filters make many shapes).
    async fn query_built(&self, sql: &Sql, text: &str) -> Result<Vec<Row>, StoreError> {
        let client = self.client().await?;
        let boxed = params(sql);
        client.query(text, &refs(&boxed)).await.map_err(map_err)
    }
}

impl PgStore {
    async fn stats_groups_at(
        &self,
        filter: &StatsFilter,
        time: StatsTime,
        by: Option<StatsDimension>,
    ) -> Result<Vec<StatsGroup>, StoreError> {
        let mid = split_at(filter, self.stats_rolled_until().await?);
        let statement = stats_select(Dialect::Postgres, filter, mid, time, by)?;
        self.query_built(&statement.sql, &statement.text)
            .await?
            .iter()
            .map(group_row)
            .collect()
    }
}

fn list_row(row: &Row) -> Result<RecordListItem, StoreError> {
    Ok(RecordListItem {
        id: RecordId(column(row, "id")?),
        tenant_id: TenantId(column(row, "tenant_id")?),
        scene_code: column(row, "code")?,
        scene_version: column(row, "scene_version")?,
        session_id: column(row, "session_id")?,
        biz_id: column(row, "biz_id")?,
        app_id: column(row, "app_id")?,
        status: RecordStatus::parse(column(row, "status")?)?,
        verdict: column::<Option<&str>>(row, "verdict")?
            .map(Verdict::parse)
            .transpose()?,
        reasons: column(row, "reasons")?,
        capture: index(row, 10)?,
        created_at: column(row, "created_at")?,
        finished_at: column(row, "finished_at")?,
        duration_ms: index(row, 13)?,
    })
}

fn index<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    at: usize,
) -> Result<T, StoreError> {
    row.try_get(at)
        .map_err(|err| StoreError::Backend(format!("postgres column {at}: {err}")))
}

fn group_row(row: &Row) -> Result<StatsGroup, StoreError> {
    let mut latency = LatencyHistogram {
        count: index(row, 4)?,
        sum_ms: index(row, 5)?,
        max_ms: index(row, 6)?,
        ..LatencyHistogram::default()
    };
    for bucket in 0..LATENCY_BUCKETS {
        latency.buckets[bucket] = index(row, 7 + bucket)?;
    }
    Ok(StatsGroup {
        hour: index(row, 0)?,
        key: index(row, 1)?,
        verdict: stored_verdict(index(row, 2)?)?,
        count: index(row, 3)?,
        latency,
    })
}

#[async_trait]
impl RecordSearchStore for PgStore {
    async fn search_records(
        &self,
        filter: &RecordFilter,
        page: Page,
    ) -> Result<RecordPage, StoreError> {
        let page = page.check()?;
        let mut sql = Sql::new(Dialect::Postgres);
        let text = list_select(&mut sql, filter, page.limit, page.offset)?;
        let items = self
            .query_built(&sql, &text)
            .await?
            .iter()
            .map(list_row)
            .collect::<Result<Vec<_>, _>>()?;
        // A short first page is the whole answer: no count needed.
        let (total, total_exact) = if page.offset == 0 && items.len() < page.limit as usize {
            (items.len() as u64, true)
        } else {
            let mut sql = Sql::new(Dialect::Postgres);
            let text = count_select(&mut sql, filter)?;
            let rows = self.query_built(&sql, &text).await?;
            let counted: i64 = match rows.first() {
                Some(row) => index(row, 0)?,
                None => 0,
            };
            capped_total(counted)
        };
        Ok(RecordPage {
            items,
            total,
            total_exact,
        })
    }

    async fn export_records(
        &self,
        filter: &RecordFilter,
        max_rows: u32,
    ) -> Result<Vec<RecordListItem>, StoreError> {
        check_export(max_rows)?;
        let mut sql = Sql::new(Dialect::Postgres);
        let text = list_select(&mut sql, filter, max_rows, 0)?;
        self.query_built(&sql, &text)
            .await?
            .iter()
            .map(list_row)
            .collect()
    }

    async fn record_in_scope(
        &self,
        tenants: &[TenantId],
        id: RecordId,
    ) -> Result<Record, StoreError> {
        let mut sql = Sql::new(Dialect::Postgres);
        let text = record_in_scope_select(&mut sql, tenants, id)?;
        let rows = self.query_built(&sql, &text).await?;
        found(rows.first().map(record_row).transpose()?, "record")
    }

    async fn stats_groups(
        &self,
        filter: &StatsFilter,
        by_hour: bool,
        by: Option<StatsDimension>,
    ) -> Result<Vec<StatsGroup>, StoreError> {
        let time = if by_hour {
            StatsTime::Hour
        } else {
            StatsTime::Total
        };
        self.stats_groups_at(filter, time, by).await
    }

    async fn stats_groups_by_day(
        &self,
        filter: &StatsFilter,
        utc_offset_hours: i32,
        by: Option<StatsDimension>,
    ) -> Result<Vec<StatsGroup>, StoreError> {
        self.stats_groups_at(filter, StatsTime::Day(utc_offset_hours), by)
            .await
    }

    async fn stats_reasons(&self, filter: &StatsFilter) -> Result<Vec<ReasonCount>, StoreError> {
        let mid = split_at(filter, self.stats_rolled_until().await?);
        let statement = reasons_select(Dialect::Postgres, filter, mid)?;
        self.query_built(&statement.sql, &statement.text)
            .await?
            .iter()
            .map(|row| {
                Ok(ReasonCount {
                    reason: index(row, 0)?,
                    count: index(row, 1)?,
                })
            })
            .collect()
    }

    async fn rollup_stats(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<RollupReport, StoreError> {
        let now = now_micros();
        let (since, until) = rollup_span(since, until, now);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // Two nodes rolling the same hours: the second waits, then recomputes them again.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ROLLUP_LOCK_KEY])
            .await
            .map_err(map_err)?;
        let current: Option<DateTime<Utc>> = tx
            .query_one(
                "SELECT rolled_until FROM stats_rollup_state WHERE id = 1",
                &[],
            )
            .await
            .map_err(map_err)?
            .try_get(0)
            .map_err(map_err)?;
        let oldest: Option<DateTime<Utc>> = tx
            .query_one("SELECT min(created_at) FROM records", &[])
            .await
            .map_err(map_err)?
            .try_get(0)
            .map_err(map_err)?;
        let mut rows = 0;
        if since < until {
            let (delete, delete_sql, insert, insert_sql) =
                rollup_statements(Dialect::Postgres, since, until);
            let boxed = params(&delete);
            tx.execute(delete_sql.as_str(), &refs(&boxed))
                .await
                .map_err(map_err)?;
            let boxed = params(&insert);
            rows = tx
                .execute(insert_sql.as_str(), &refs(&boxed))
                .await
                .map_err(map_err)?;
        }
        let rolled_until = next_watermark(current, oldest, since, until);
        tx.execute(
            "UPDATE stats_rollup_state SET rolled_until = $1, last_run_at = $2 WHERE id = 1",
            &[&rolled_until, &now],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(RollupReport {
            since,
            until,
            rows,
            rolled_until,
        })
    }

    async fn stats_rolled_until(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT rolled_until FROM stats_rollup_state WHERE id = 1",
                &[],
            )
            .await
            .map_err(map_err)?;
        match row {
            Some(row) => index(&row, 0),
            None => Ok(None),
        }
    }
}
