//! The console's records search and the statistics roll-up.
//!
//! - Search: [`RecordFilter`] (a tenant scope, a `created_at` range and optional scene, app,
//!   verdict, status, reason and business id) over `records`, newest first, with a total that is
//!   counted up to [`TOTAL_CAP`] and reported as inexact past it, so that a count never reads a
//!   million rows.
//! - Statistics: `stats_hourly` holds one row per (tenant, hour of `created_at`, scene, app,
//!   engine, capture, status, verdict) with its count and a latency histogram, and one row per
//!   reason code. [`RecordSearchStore::rollup_stats`] recomputes whole hours (delete, then insert
//!   from `records`, in one transaction: safe to rerun) and moves the watermark `rolled_until`.
//!   Answers read the roll-ups before the watermark and `records` after it, in one statement.
//!
//! The SQL is written once here for both dialects ([`Sql`]); the backends only run it and read
//! rows (`sqlite/record_search.rs`, `postgres/record_search.rs`).

use async_trait::async_trait;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{Page, Record, RecordId, RecordStatus, StoreError, TenantId, Verdict};

/// A list's total is counted up to this many rows; past it the total is this and inexact.
pub const TOTAL_CAP: u64 = 10_000;

/// The most rows an export returns.
pub const EXPORT_MAX_ROWS: u32 = 100_000;

/// The upper bounds (exclusive, in milliseconds) of the latency histogram's buckets; the last
/// bucket (index [`LATENCY_BUCKETS`] − 1) holds everything from the last bound on.
pub const LATENCY_BOUNDS_MS: [i64; LATENCY_BUCKETS - 1] = [
    1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 8_000, 10_000, 12_000, 15_000, 20_000, 30_000,
    45_000, 60_000, 120_000,
];

/// How many buckets the latency histogram has (`lat_00` .. `lat_15` in `stats_hourly`).
pub const LATENCY_BUCKETS: usize = 16;

/// Which records a search or a statistic covers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RecordFilter {
    /// The tenants in scope (at least one): never a record of another.
    pub tenants: Vec<TenantId>,
    /// `created_at` at or after this.
    pub from: DateTime<Utc>,
    /// `created_at` before this.
    pub to: DateTime<Utc>,
    /// The scene's code (in any tenant of the scope).
    pub scene_code: Option<String>,
    /// The API app.
    pub app_id: Option<String>,
    /// The decision.
    pub verdict: Option<Verdict>,
    /// Where the record is in its life.
    pub status: Option<RecordStatus>,
    /// A reason code found in the record's reasons (`face_mismatch`).
    pub reason: Option<String>,
    /// The integrator's business id, exactly.
    pub biz_id: Option<String>,
}

/// One row of the records list (and of an export).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordListItem {
    /// The record.
    pub id: RecordId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its scene's code.
    pub scene_code: String,
    /// The scene's version it ran with.
    pub scene_version: i64,
    /// Its session.
    pub session_id: Uuid,
    /// The integrator's business id.
    pub biz_id: String,
    /// The API app that created it.
    pub app_id: Option<String>,
    /// Where it is in its life.
    pub status: RecordStatus,
    /// The decision, once finished.
    pub verdict: Option<Verdict>,
    /// Reason codes.
    pub reasons: Value,
    /// How the frames came (`live`, `recording`), once there is a result.
    pub capture: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// `finished_at − created_at`, once ended.
    pub duration_ms: Option<i64>,
}

/// A page of the records list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordPage {
    /// The rows, newest first.
    pub items: Vec<RecordListItem>,
    /// How many match, counted up to [`TOTAL_CAP`].
    pub total: u64,
    /// False when more than [`TOTAL_CAP`] match (then `total` is the cap).
    pub total_exact: bool,
}

/// Which records a statistic covers: whole hours, `from` included, `to` excluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsFilter {
    /// The tenants in scope (at least one).
    pub tenants: Vec<TenantId>,
    /// The first hour (a whole hour, UTC).
    pub from: DateTime<Utc>,
    /// The end (a whole hour, UTC).
    pub to: DateTime<Utc>,
    /// The scene's code.
    pub scene_code: Option<String>,
    /// The API app.
    pub app_id: Option<String>,
}

/// What a statistic is split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatsDimension {
    /// The scene's code.
    Scene,
    /// The API app (`-` for none).
    App,
    /// The tenant's code.
    Tenant,
    /// The engine (today `builtin`).
    Engine,
}

impl StatsDimension {
    /// The word in the query string.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "scene" => Self::Scene,
            "app" => Self::App,
            "tenant" => Self::Tenant,
            "engine" => Self::Engine,
            _ => return None,
        })
    }
}

/// A latency histogram over [`LATENCY_BOUNDS_MS`], with count, sum and maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LatencyHistogram {
    /// Latencies counted.
    pub count: i64,
    /// Their sum.
    pub sum_ms: i64,
    /// The largest.
    pub max_ms: i64,
    /// Per bucket.
    pub buckets: [i64; LATENCY_BUCKETS],
}

impl LatencyHistogram {
    /// Adds another histogram's latencies.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        self.count += other.count;
        self.sum_ms += other.sum_ms;
        self.max_ms = self.max_ms.max(other.max_ms);
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *mine += theirs;
        }
    }

    /// The `q` quantile (0..=1), estimated by interpolating inside its bucket (the last
    /// bucket's top is the maximum seen); `None` with no latency.
    pub fn quantile(&self, q: f64) -> Option<i64> {
        let total: i64 = self.buckets.iter().sum();
        if total <= 0 {
            return None;
        }
        // The rank of the quantile among `total` sorted values (1-based, nearest-rank).
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as i64).max(1);
        let mut below = 0i64;
        for (index, &count) in self.buckets.iter().enumerate() {
            if count == 0 {
                continue;
            }
            if below + count >= rank {
                let low = if index == 0 {
                    0
                } else {
                    LATENCY_BOUNDS_MS[index - 1]
                };
                let high = LATENCY_BOUNDS_MS
                    .get(index)
                    .copied()
                    .unwrap_or(self.max_ms)
                    .min(self.max_ms.max(low));
                // The rank's value taken at the middle of its share of the bucket.
                let share = ((rank - below) as f64 - 0.5) / count as f64;
                return Some(low + ((high - low) as f64 * share).round() as i64);
            }
            below += count;
        }
        Some(self.max_ms)
    }

    /// The bucket of a latency.
    pub fn bucket_of(ms: i64) -> usize {
        LATENCY_BOUNDS_MS
            .iter()
            .position(|&bound| ms < bound)
            .unwrap_or(LATENCY_BUCKETS - 1)
    }
}

/// Counts of one group of records in a statistic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsGroup {
    /// The hour, when asked by hour.
    pub hour: Option<DateTime<Utc>>,
    /// The dimension's key (scene code, app id, tenant code, engine), when split.
    pub key: Option<String>,
    /// The decision (`None`: not finished with one).
    pub verdict: Option<Verdict>,
    /// How many records.
    pub count: i64,
    /// Their latencies (finished records only).
    pub latency: LatencyHistogram,
}

/// How often a reason code was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCount {
    /// The reason code.
    pub reason: String,
    /// Records that carry it.
    pub count: i64,
}

/// What a roll-up did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupReport {
    /// The first hour recomputed.
    pub since: DateTime<Utc>,
    /// The end of the last hour recomputed.
    pub until: DateTime<Utc>,
    /// Rows written to `stats_hourly`.
    pub rows: u64,
    /// Every hour before this is rolled up (`None`: none yet).
    pub rolled_until: Option<DateTime<Utc>>,
}

/// Records search and statistics.
#[async_trait]
pub trait RecordSearchStore: Send + Sync {
    /// The records matching the filter, newest first, with their total counted up to
    /// [`TOTAL_CAP`]. `Invalid` for an empty tenant scope or a bad page.
    async fn search_records(
        &self,
        filter: &RecordFilter,
        page: Page,
    ) -> Result<RecordPage, StoreError>;

    /// Up to `max_rows` (at most [`EXPORT_MAX_ROWS`]) records matching the filter, newest first.
    async fn export_records(
        &self,
        filter: &RecordFilter,
        max_rows: u32,
    ) -> Result<Vec<RecordListItem>, StoreError>;

    /// A record of one of the tenants (`NotFound` when it is another's).
    async fn record_in_scope(
        &self,
        tenants: &[TenantId],
        id: RecordId,
    ) -> Result<Record, StoreError>;

    /// Counts and latencies of the filter's records by verdict, split by hour and/or by a
    /// dimension when asked: roll-ups before the watermark, `records` from it on.
    async fn stats_groups(
        &self,
        filter: &StatsFilter,
        by_hour: bool,
        by: Option<StatsDimension>,
    ) -> Result<Vec<StatsGroup>, StoreError>;

    /// As [`stats_groups`](Self::stats_groups) by hour, but each group's `hour` may be the
    /// start of its day in a zone `utc_offset_hours` from UTC (local midnight as a UTC
    /// instant), summed in the database: a series by day reads 24 times fewer rows. The
    /// default answers by hour, which `stats::series` folds into the same days.
    async fn stats_groups_by_day(
        &self,
        filter: &StatsFilter,
        utc_offset_hours: i32,
        by: Option<StatsDimension>,
    ) -> Result<Vec<StatsGroup>, StoreError> {
        let _ = utc_offset_hours;
        self.stats_groups(filter, true, by).await
    }

    /// How often each reason code was given in the filter's records, most frequent first.
    async fn stats_reasons(&self, filter: &StatsFilter) -> Result<Vec<ReasonCount>, StoreError>;

    /// Recomputes the roll-ups of the whole hours from `since` (rounded down) to `until`
    /// (rounded up, and never past the current hour, which is always read from `records`), in
    /// one transaction; rerunning it gives the same rows. Moves the watermark when the hours
    /// before `since` were rolled already (or hold no record).
    async fn rollup_stats(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<RollupReport, StoreError>;

    /// Every hour before this is rolled up; `None` before the first roll-up.
    async fn stats_rolled_until(&self) -> Result<Option<DateTime<Utc>>, StoreError>;
}

// ---------------------------------------------------------------------------------------------
// What both backends share: the SQL, written once for both dialects.

/// The SQL dialect a statement is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound value; each backend converts it to its own types.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Uuid(Uuid),
    Uuids(Vec<Uuid>),
    Text(String),
    Time(DateTime<Utc>),
    Int(i64),
}

/// A statement under construction with its parameters, numbered as the dialect wants.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    pub dialect: Dialect,
    pub params: Vec<Param>,
}

impl Sql {
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            params: Vec::new(),
        }
    }

    /// Binds a value; returns its placeholder.
    pub fn bind(&mut self, param: Param) -> String {
        self.params.push(param);
        match self.dialect {
            Dialect::Postgres => format!("${}", self.params.len()),
            Dialect::Sqlite => format!("?{}", self.params.len()),
        }
    }

    /// `column` is one of the tenants.
    pub fn tenant_in(&mut self, column: &str, tenants: &[TenantId]) -> String {
        if let [only] = tenants {
            // One tenant (the usual case): a plain equality lets the planner walk the
            // (tenant_id, created_at) index in order and stop at the page's end.
            return format!("{column} = {}", self.bind(Param::Uuid(only.0)));
        }
        match self.dialect {
            Dialect::Postgres => {
                let ids = tenants.iter().map(|t| t.0).collect();
                format!("{column} = ANY({})", self.bind(Param::Uuids(ids)))
            }
            Dialect::Sqlite => {
                let marks: Vec<String> = tenants
                    .iter()
                    .map(|t| self.bind(Param::Uuid(t.0)))
                    .collect();
                format!("{column} IN ({})", marks.join(", "))
            }
        }
    }

    /// The whole UTC hour of a time column.
    fn hour_of(&self, column: &str) -> String {
        match self.dialect {
            Dialect::Postgres => format!("date_trunc('hour', {column}, 'UTC')"),
            // Times are stored as 2026-11-25T08:12:34.567890Z: the hour is its first 13 chars.
            Dialect::Sqlite => format!("substr({column}, 1, 13) || ':00:00.000000Z'"),
        }
    }

    /// Milliseconds from `start` to `end` (NULL while `end` is).
    fn millis_between(&self, start: &str, end: &str) -> String {
        match self.dialect {
            Dialect::Postgres => {
                format!("CAST(round(EXTRACT(EPOCH FROM ({end} - {start})) * 1000) AS BIGINT)")
            }
            Dialect::Sqlite => format!(
                "CAST(round((julianday({end}) - julianday({start})) * 86400000.0) AS INTEGER)"
            ),
        }
    }

    /// A text member of a JSON column (NULL when absent).
    fn json_text(&self, column: &str, key: &str) -> String {
        match self.dialect {
            Dialect::Postgres => format!("({column} ->> '{key}')"),
            Dialect::Sqlite => format!("json_extract({column}, '$.{key}')"),
        }
    }

    /// A join that gives one row per element of a JSON array column, and the expression of
    /// that element as text.
    fn each_reason(&self, column: &str) -> (String, &'static str) {
        match self.dialect {
            Dialect::Postgres => (
                format!(
                    "CROSS JOIN LATERAL jsonb_array_elements_text(CASE WHEN jsonb_typeof({column}) \
                     = 'array' THEN {column} ELSE '[]'::jsonb END) AS x(reason)"
                ),
                "x.reason",
            ),
            // A table-valued function may take a column of a table before it in the join.
            Dialect::Sqlite => (
                format!(
                    "JOIN json_each(CASE WHEN json_type({column}) = 'array' THEN {column} \
                     ELSE '[]' END) AS x"
                ),
                "CAST(x.value AS TEXT)",
            ),
        }
    }

    /// A NULL of a type both drivers read as `Option` of it.
    fn null_of(&self, sql_type: &str) -> String {
        format!("CAST(NULL AS {sql_type})")
    }

    /// `column` (a JSON array of reason codes) contains the bound code.
    fn reasons_contain(&mut self, column: &str, reason: &str) -> String {
        let mark = self.bind(Param::Text(reason.to_owned()));
        match self.dialect {
            // jsonb_path_ops GIN index (migration 0006).
            Dialect::Postgres => format!("{column} @> jsonb_build_array({mark}::text)"),
            Dialect::Sqlite => {
                format!("EXISTS (SELECT 1 FROM json_each({column}) AS je WHERE je.value = {mark})")
            }
        }
    }
}

fn check_tenants(tenants: &[TenantId]) -> Result<(), StoreError> {
    if tenants.is_empty() {
        return Err(StoreError::Invalid("the tenant scope is empty".into()));
    }
    Ok(())
}

/// The `WHERE` clause of a records filter over `records AS r`.
fn record_where(sql: &mut Sql, filter: &RecordFilter) -> Result<String, StoreError> {
    check_tenants(&filter.tenants)?;
    let mut clauses = vec![
        sql.tenant_in("r.tenant_id", &filter.tenants),
        format!("r.created_at >= {}", sql.bind(Param::Time(filter.from))),
        format!("r.created_at < {}", sql.bind(Param::Time(filter.to))),
    ];
    if let Some(code) = &filter.scene_code {
        let tenants = sql.tenant_in("sc.tenant_id", &filter.tenants);
        let code = sql.bind(Param::Text(code.clone()));
        clauses.push(format!(
            "r.scene_id IN (SELECT sc.id FROM scenes sc WHERE {tenants} AND sc.code = {code})"
        ));
    }
    if let Some(app) = &filter.app_id {
        clauses.push(format!("r.app_id = {}", sql.bind(Param::Text(app.clone()))));
    }
    if let Some(verdict) = filter.verdict {
        let mark = sql.bind(Param::Text(verdict.as_str().into()));
        clauses.push(format!("r.verdict = {mark}"));
    }
    if let Some(status) = filter.status {
        let mark = sql.bind(Param::Text(status.as_str().into()));
        clauses.push(format!("r.status = {mark}"));
    }
    if let Some(biz_id) = &filter.biz_id {
        clauses.push(format!(
            "r.biz_id = {}",
            sql.bind(Param::Text(biz_id.clone()))
        ));
    }
    if let Some(reason) = &filter.reason {
        clauses.push(sql.reasons_contain("r.reasons", reason));
    }
    Ok(clauses.join(" AND "))
}

/// The columns a list row is read from, in order: id, tenant_id, scene_code, scene_version,
/// session_id, biz_id, app_id, status, verdict, reasons, capture, created_at, finished_at,
/// duration_ms.
pub(crate) fn list_select(
    sql: &mut Sql,
    filter: &RecordFilter,
    limit: u32,
    offset: u32,
) -> Result<String, StoreError> {
    let filter_sql = record_where(sql, filter)?;
    let capture = sql.json_text("s.result", "capture");
    let duration = sql.millis_between("r.created_at", "r.finished_at");
    let limit = sql.bind(Param::Int(i64::from(limit)));
    let offset = sql.bind(Param::Int(i64::from(offset)));
    Ok(format!(
        "SELECT r.id, r.tenant_id, sc.code, r.scene_version, r.session_id, r.biz_id, r.app_id, \
         r.status, r.verdict, r.reasons, {capture}, r.created_at, r.finished_at, {duration} \
         FROM records r \
         JOIN scenes sc ON sc.tenant_id = r.tenant_id AND sc.id = r.scene_id \
         LEFT JOIN sessions s ON s.tenant_id = r.tenant_id AND s.session_id = r.session_id \
         WHERE {filter_sql} ORDER BY r.created_at DESC, r.id DESC LIMIT {limit} OFFSET {offset}"
    ))
}

/// Counts the filter's records up to `TOTAL_CAP + 1` (one column, an integer).
pub(crate) fn count_select(sql: &mut Sql, filter: &RecordFilter) -> Result<String, StoreError> {
    let filter_sql = record_where(sql, filter)?;
    let cap = sql.bind(Param::Int(TOTAL_CAP as i64 + 1));
    Ok(format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM records r WHERE {filter_sql} LIMIT {cap}) AS capped"
    ))
}

/// The total of a capped count.
pub(crate) fn capped_total(counted: i64) -> (u64, bool) {
    let counted = counted.max(0) as u64;
    if counted > TOTAL_CAP {
        (TOTAL_CAP, false)
    } else {
        (counted, true)
    }
}

pub(crate) fn check_export(max_rows: u32) -> Result<(), StoreError> {
    if (1..=EXPORT_MAX_ROWS).contains(&max_rows) {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "an export has 1 to {EXPORT_MAX_ROWS} rows (asked {max_rows})"
        )))
    }
}

/// `SELECT` of one record of the scope (the record's columns).
pub(crate) fn record_in_scope_select(
    sql: &mut Sql,
    tenants: &[TenantId],
    id: RecordId,
) -> Result<String, StoreError> {
    check_tenants(tenants)?;
    let scope = sql.tenant_in("tenant_id", tenants);
    let id = sql.bind(Param::Uuid(id.0));
    Ok(format!(
        "SELECT {} FROM records WHERE {scope} AND id = {id}",
        super::RECORD_COLUMNS
    ))
}

/// The histogram columns of `stats_hourly`, in order.
fn histogram_columns() -> Vec<String> {
    (0..LATENCY_BUCKETS)
        .map(|i| format!("lat_{i:02}"))
        .collect()
}

/// A CTE `base` of one row per record matching `where_sql` (over `records r`), with the roll-up
/// key, the reasons, the latency `d` and its bucket `b`.
fn base_cte(sql: &Sql, where_sql: &str) -> String {
    let hour = sql.hour_of("r.created_at");
    let engine = sql.json_text("s.result", "engine");
    let capture = sql.json_text("s.result", "capture");
    let millis = sql.millis_between("r.created_at", "r.finished_at");
    let mut bucket = String::from("CASE WHEN d IS NULL THEN NULL");
    for (index, bound) in LATENCY_BOUNDS_MS.iter().enumerate() {
        bucket.push_str(&format!(" WHEN d < {bound} THEN {index}"));
    }
    bucket.push_str(&format!(" ELSE {} END", LATENCY_BUCKETS - 1));
    // PostgreSQL inlines a CTE read once: `d` (two EXTRACTs) would then be computed again in
    // every WHEN of `b`, and `b` again in each of the 16 histogram sums, ~500 times a row
    // (40 ms for the current hour's 450 records of the benchmark). Materialised, once.
    let materialized = match sql.dialect {
        Dialect::Postgres => "MATERIALIZED ",
        Dialect::Sqlite => "",
    };
    format!(
        "base0 AS {materialized}(SELECT r.tenant_id, {hour} AS hour, r.scene_id, COALESCE(r.app_id, '') AS app_id, \
         COALESCE({engine}, 'builtin') AS engine, COALESCE({capture}, '') AS capture, r.status, \
         COALESCE(r.verdict, '') AS verdict, r.reasons, \
         CASE WHEN {millis} < 0 THEN 0 ELSE {millis} END AS d \
         FROM records r \
         LEFT JOIN sessions s ON s.tenant_id = r.tenant_id AND s.session_id = r.session_id \
         WHERE {where_sql}), \
         base AS (SELECT base0.*, {bucket} AS b FROM base0)"
    )
}

/// The aggregate columns (count, latency and histogram) over `base`, matching
/// `stats_hourly`'s `count .. lat_15`.
fn base_aggregates() -> String {
    let mut columns = vec![
        "COUNT(*)".to_owned(),
        "COUNT(d)".to_owned(),
        "CAST(COALESCE(SUM(d), 0) AS BIGINT)".to_owned(),
        "CAST(COALESCE(MAX(d), 0) AS BIGINT)".to_owned(),
    ];
    for index in 0..LATENCY_BUCKETS {
        columns.push(format!(
            "CAST(SUM(CASE WHEN b = {index} THEN 1 ELSE 0 END) AS BIGINT)"
        ));
    }
    columns.join(", ")
}

const KEY_COLUMNS: &str = "tenant_id, hour, scene_id, app_id, engine, capture, status, verdict";

fn stats_columns() -> String {
    let mut columns = vec![
        "count".to_owned(),
        "latency_count".to_owned(),
        "latency_sum_ms".to_owned(),
        "latency_max_ms".to_owned(),
    ];
    columns.extend(histogram_columns());
    columns.join(", ")
}

/// The roll-up's statements for `[since, until)` (whole hours): delete, then insert.
pub(crate) fn rollup_statements(
    dialect: Dialect,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> (Sql, String, Sql, String) {
    let mut delete = Sql::new(dialect);
    let delete_sql = format!(
        "DELETE FROM stats_hourly WHERE hour >= {} AND hour < {}",
        delete.bind(Param::Time(since)),
        delete.bind(Param::Time(until))
    );
    let mut insert = Sql::new(dialect);
    let where_sql = format!(
        "r.created_at >= {} AND r.created_at < {}",
        insert.bind(Param::Time(since)),
        insert.bind(Param::Time(until))
    );
    let base = base_cte(&insert, &where_sql);
    let (each_reason, reason) = insert.each_reason("base.reasons");
    let zeros = vec!["0"; 3 + LATENCY_BUCKETS].join(", ");
    let insert_sql = format!(
        "WITH {base} \
         INSERT INTO stats_hourly ({KEY_COLUMNS}, reason, {columns}) \
         SELECT {KEY_COLUMNS}, '', {aggregates} FROM base GROUP BY {KEY_COLUMNS} \
         UNION ALL \
         SELECT {keys_b}, {reason}, COUNT(*), {zeros} FROM base {each_reason} \
         GROUP BY {keys_b}, {reason}",
        columns = stats_columns(),
        aggregates = base_aggregates(),
        keys_b = KEY_COLUMNS
            .split(", ")
            .map(|c| format!("base.{c}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    (delete, delete_sql, insert, insert_sql)
}

/// Where a statistic's rolled and raw parts meet: the watermark clamped into the range.
pub(crate) fn split_at(filter: &StatsFilter, rolled_until: Option<DateTime<Utc>>) -> DateTime<Utc> {
    match rolled_until {
        None => filter.from,
        Some(mark) => mark.clamp(filter.from, filter.to.max(filter.from)),
    }
}

/// The filter's clauses over a relation with `tenant_id`, `scene_id`, `app_id` columns.
fn stats_where(sql: &mut Sql, alias: &str, filter: &StatsFilter) -> String {
    let mut clauses = vec![sql.tenant_in(&format!("{alias}.tenant_id"), &filter.tenants)];
    if let Some(code) = &filter.scene_code {
        let tenants = sql.tenant_in("sc2.tenant_id", &filter.tenants);
        let code = sql.bind(Param::Text(code.clone()));
        clauses.push(format!(
            "{alias}.scene_id IN (SELECT sc2.id FROM scenes sc2 WHERE {tenants} AND sc2.code = {code})"
        ));
    }
    if let Some(app) = &filter.app_id {
        clauses.push(format!(
            "{alias}.app_id = {}",
            sql.bind(Param::Text(app.clone()))
        ));
    }
    clauses.join(" AND ")
}

/// How a statistic's rows are split in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatsTime {
    /// One total over the range (`hour` NULL).
    Total,
    /// By UTC hour.
    Hour,
    /// By day starting at local midnight of a zone `n` hours from UTC (`hour` is that
    /// midnight as a UTC instant). PostgreSQL only; SQLite answers by hour, which
    /// `stats::series` folds into the same days.
    Day(i32),
}

/// The statistic's statement: rows of (hour?, key?, verdict, count, latency_count,
/// latency_sum_ms, latency_max_ms, lat_00..lat_15), in that column order, `hour` and `key`
/// being NULL when not asked for.
///
/// The roll-ups are summed to the answer's keys before they meet the raw rows: 30 days of a
/// subtree are tens of thousands of hourly rows, each 20 counters wide, and grouping them once
/// by (time, verdict, the dimension's columns) is what keeps the answer within 300 ms at a
/// million records (docs/performance.md).
pub(crate) fn stats_select(
    dialect: Dialect,
    filter: &StatsFilter,
    mid: DateTime<Utc>,
    time: StatsTime,
    by: Option<StatsDimension>,
) -> Result<Statement, StoreError> {
    check_tenants(&filter.tenants)?;
    let time = match (dialect, time) {
        (Dialect::Sqlite, StatsTime::Day(_)) => StatsTime::Hour,
        (_, time) => time,
    };
    let mut sql = Sql::new(dialect);
    // Raw part: records from the watermark to the end.
    let mut raw_where = stats_where(&mut sql, "r", filter);
    raw_where.push_str(&format!(
        " AND r.created_at >= {} AND r.created_at < {}",
        sql.bind(Param::Time(mid)),
        sql.bind(Param::Time(filter.to))
    ));
    let base = base_cte(&sql, &raw_where);
    // Rolled part: stats_hourly before the watermark.
    let mut rolled_where = stats_where(&mut sql, "h", filter);
    rolled_where.push_str(&format!(
        " AND h.hour >= {} AND h.hour < {} AND h.reason = ''",
        sql.bind(Param::Time(filter.from)),
        sql.bind(Param::Time(mid))
    ));
    let columns = stats_columns();
    let sums_of = |alias: &str| {
        columns
            .split(", ")
            .map(|c| {
                if c == "latency_max_ms" {
                    format!("CAST(MAX({alias}.{c}) AS BIGINT)")
                } else {
                    format!("CAST(SUM({alias}.{c}) AS BIGINT)")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let keys = "tenant_id, hour, scene_id, app_id, engine, verdict";
    let (hour_type, id_type) = match dialect {
        Dialect::Postgres => ("TIMESTAMPTZ", "UUID"),
        Dialect::Sqlite => ("TEXT", "TEXT"),
    };
    // The time of a row as the answer splits it (the day expression is idempotent, so it
    // applies to rolled rows already by day and to raw rows by hour alike).
    let time_of = |column: &str| match time {
        StatsTime::Total => sql.null_of(hour_type),
        StatsTime::Hour => column.to_owned(),
        StatsTime::Day(offset) => format!(
            "(date_trunc('day', {column} + interval '{offset} hours', 'UTC') \
             - interval '{offset} hours')"
        ),
    };
    // The columns of stats_hourly the dimension needs; the others are summed away.
    let needed = |column: &str| match column {
        "tenant_id" => matches!(
            by,
            Some(StatsDimension::Scene) | Some(StatsDimension::Tenant)
        ),
        "scene_id" => by == Some(StatsDimension::Scene),
        "app_id" => by == Some(StatsDimension::App),
        "engine" => by == Some(StatsDimension::Engine),
        _ => true,
    };
    let mut rolled_keys = Vec::new();
    let mut rolled_group = Vec::new();
    for column in keys.split(", ") {
        let value = match column {
            "hour" => time_of("h.hour"),
            "verdict" => "h.verdict".to_owned(),
            "tenant_id" | "scene_id" if !needed(column) => sql.null_of(id_type),
            _ if !needed(column) => sql.null_of("TEXT"),
            _ => format!("h.{column}"),
        };
        if value.starts_with("h.") || (column == "hour" && time != StatsTime::Total) {
            rolled_group.push(value.clone());
        }
        rolled_keys.push(value);
    }
    let rolled = format!(
        "SELECT {}, {} FROM stats_hourly h WHERE {rolled_where} GROUP BY {}",
        rolled_keys.join(", "),
        sums_of("h"),
        rolled_group.join(", ")
    );
    let hour = time_of("src.hour");
    let no_key = sql.null_of("TEXT");
    let (key, join) = match by {
        None => (no_key.as_str(), ""),
        Some(StatsDimension::Scene) => ("sc.code", "JOIN scenes sc ON sc.id = src.scene_id"),
        Some(StatsDimension::Tenant) => ("t.code", "JOIN tenants t ON t.id = src.tenant_id"),
        Some(StatsDimension::App) => ("src.app_id", ""),
        Some(StatsDimension::Engine) => ("src.engine", ""),
    };
    let mut group = vec!["src.verdict".to_owned()];
    if time != StatsTime::Total {
        group.push(hour.clone());
    }
    if by.is_some() {
        group.push(key.into());
    }
    let text = format!(
        "WITH {base}, \
         raw AS (SELECT {keys}, {aggregates} FROM base GROUP BY {keys}), \
         src ({keys}, {columns}) AS ({rolled} UNION ALL SELECT * FROM raw) \
         SELECT {hour}, {key}, src.verdict, {sums} FROM src {join} GROUP BY {group}",
        aggregates = base_aggregates(),
        sums = sums_of("src"),
        group = group.join(", "),
    );
    Ok(Statement { sql, text })
}

/// How often each reason was given: (reason, count) rows.
pub(crate) fn reasons_select(
    dialect: Dialect,
    filter: &StatsFilter,
    mid: DateTime<Utc>,
) -> Result<Statement, StoreError> {
    check_tenants(&filter.tenants)?;
    let mut sql = Sql::new(dialect);
    let mut raw_where = stats_where(&mut sql, "r", filter);
    raw_where.push_str(&format!(
        " AND r.created_at >= {} AND r.created_at < {}",
        sql.bind(Param::Time(mid)),
        sql.bind(Param::Time(filter.to))
    ));
    let base = base_cte(&sql, &raw_where);
    let (each_reason, reason) = sql.each_reason("base.reasons");
    let mut rolled_where = stats_where(&mut sql, "h", filter);
    rolled_where.push_str(&format!(
        " AND h.hour >= {} AND h.hour < {} AND h.reason <> ''",
        sql.bind(Param::Time(filter.from)),
        sql.bind(Param::Time(mid))
    ));
    let text = format!(
        "WITH {base}, \
         src (reason, count) AS ( \
           SELECT h.reason, h.count FROM stats_hourly h WHERE {rolled_where} \
           UNION ALL SELECT {reason}, 1 FROM base {each_reason}) \
         SELECT reason, CAST(SUM(count) AS BIGINT) AS n FROM src GROUP BY reason \
         ORDER BY n DESC, reason"
    );
    Ok(Statement { sql, text })
}

/// A statement's text with its parameters.
pub(crate) struct Statement {
    pub sql: Sql,
    pub text: String,
}

/// Parses a stored verdict word ('' for none).
pub(crate) fn stored_verdict(text: &str) -> Result<Option<Verdict>, StoreError> {
    if text.is_empty() {
        Ok(None)
    } else {
        Verdict::parse(text).map(Some)
    }
}

/// The whole hour at or before `t`.
pub fn floor_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

/// The whole hour at or after `t`.
pub fn ceil_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = floor_hour(t);
    if floor == t {
        t
    } else {
        floor + TimeDelta::hours(1)
    }
}

/// The hours a roll-up from `since` to `until` recomputes at `now`: whole hours, never the
/// current one.
pub(crate) fn rollup_span(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let since = floor_hour(since);
    let until = ceil_hour(until).min(floor_hour(now));
    (since, until.max(since))
}

/// The watermark after rolling `[since, until)`: it moves only when nothing unrolled is left
/// before `since`.
pub(crate) fn next_watermark(
    current: Option<DateTime<Utc>>,
    oldest_record: Option<DateTime<Utc>>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match current {
        Some(mark) if since <= mark => Some(mark.max(until)),
        Some(mark) => Some(mark),
        None if oldest_record.is_none_or(|oldest| oldest >= since) => Some(until),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn quantiles_interpolate_inside_their_bucket() {
        let mut histogram = LatencyHistogram::default();
        for ms in [1_500, 1_500, 2_500, 2_500, 9_000] {
            histogram.buckets[LatencyHistogram::bucket_of(ms)] += 1;
            histogram.count += 1;
            histogram.max_ms = histogram.max_ms.max(ms);
        }
        // Rank 3 of 5 is the first of the two in [2000, 3000): a quarter of the way in.
        assert_eq!(histogram.quantile(0.5), Some(2_250));
        // Rank 5 is alone in [8000, 10000), capped at the largest seen (9000): its middle.
        assert_eq!(histogram.quantile(0.95), Some(8_500));
        assert_eq!(LatencyHistogram::default().quantile(0.5), None);
        let mut slow = LatencyHistogram::default();
        slow.buckets[LATENCY_BUCKETS - 1] = 1;
        slow.max_ms = 400_000;
        // Alone past the last bound: half-way to the largest seen.
        assert_eq!(slow.quantile(0.5), Some(260_000));
    }

    #[test]
    fn a_rollup_recomputes_whole_past_hours_only() {
        let now = t("2026-11-25T10:20:00Z");
        assert_eq!(
            rollup_span(t("2026-11-25T07:30:00Z"), now, now),
            (t("2026-11-25T07:00:00Z"), t("2026-11-25T10:00:00Z"))
        );
        assert_eq!(
            rollup_span(t("2026-11-25T10:05:00Z"), now, now),
            (t("2026-11-25T10:00:00Z"), t("2026-11-25T10:00:00Z"))
        );
    }

    #[test]
    fn the_watermark_never_skips_unrolled_hours() {
        let (h1, h2, h3) = (
            t("2026-11-25T01:00:00Z"),
            t("2026-11-25T02:00:00Z"),
            t("2026-11-25T03:00:00Z"),
        );
        assert_eq!(next_watermark(None, None, h2, h3), Some(h3));
        assert_eq!(next_watermark(None, Some(h1), h2, h3), None);
        assert_eq!(next_watermark(None, Some(h2), h2, h3), Some(h3));
        assert_eq!(next_watermark(Some(h2), None, h1, h3), Some(h3));
        assert_eq!(next_watermark(Some(h1), None, h2, h3), Some(h1));
        assert_eq!(next_watermark(Some(h3), None, h1, h2), Some(h3));
    }
}
