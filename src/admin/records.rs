//! Records (识别记录): `GET /records`, `/records/{id}`, `/records/{id}/evidence/{name}` and
//! `/records/export` (docs/admin-api.md).
//!
//! ```text
//! query ─ RecordsQuery::filter (422 naming the field) ─ store.search_records ─ {items, total, ...}
//! /records/{id} ─ record_in_scope(subtree) ─ + session (result, challenge) + evidence names
//!                                             + callbacks (last attempt) + timeline
//! /records/export ─ same filter ─ store.export_records(100 000) ─ CSV (formula-safe) | XLSX
//! ```
//!
//! The list and the export cover one tenant (`tenant`, default the user's own); a record's
//! detail and its evidence are found anywhere in the user's subtree; another subtree's is 404.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{invalid, AdminSession, Paged, Permission};
use crate::error::ApiError;
use crate::evidence::{EvidenceKey, EvidenceStore};
use crate::server::AppState;
use crate::store::record_search::{RecordFilter, RecordListItem, EXPORT_MAX_ROWS};
use crate::store::{
    Callback, Page, Record, RecordId, RecordStatus, SessionRow, Store, StoreError, TenantId,
    Verdict,
};

/// The longest range a list, an export or a statistic may cover.
pub const MAX_RANGE_DAYS: i64 = 366;
/// The range when none is given.
pub const DEFAULT_RANGE_DAYS: i64 = 7;

/// Registers the records routes (relative to the admin scope).
pub fn configure(cfg: &mut web::ServiceConfig) {
    // `/records/export` before `/records/{id}`: a literal segment must win over the id.
    cfg.service(web::resource("/records").route(web::get().to(list)))
        .service(web::resource("/records/export").route(web::get().to(export)))
        .service(web::resource("/records/{id}").route(web::get().to(detail)))
        .service(web::resource("/records/{id}/evidence/{name}").route(web::get().to(evidence)));
}

/// The evidence store handlers read frames from (`web::Data<dyn EvidenceStore>`, registered by
/// the node).
pub type EvidenceData = web::Data<dyn EvidenceStore>;

/// The query of the list and the export. Every field is text so that a bad value is a 422
/// naming it, not a 400 from the extractor.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RecordsQuery {
    /// `created_at` from (RFC 3339).
    pub from: Option<String>,
    /// `created_at` before (RFC 3339).
    pub to: Option<String>,
    /// Scene code.
    pub scene: Option<String>,
    /// App id.
    pub app: Option<String>,
    /// `pass`, `fail`, `inconclusive`.
    pub verdict: Option<String>,
    /// `pending`, `running`, `finished`, `failed`, `expired`.
    pub status: Option<String>,
    /// A reason code.
    pub reason: Option<String>,
    /// Business id, exact.
    pub biz_id: Option<String>,
    /// A tenant of the user's subtree.
    pub tenant: Option<String>,
    /// Rows to skip.
    pub offset: Option<String>,
    /// Rows to return.
    pub limit: Option<String>,
    /// Export only: `csv` or `xlsx`.
    pub format: Option<String>,
}

/// A time range, checked: `from <= to`, at most [`MAX_RANGE_DAYS`], default the last
/// [`DEFAULT_RANGE_DAYS`].
pub fn time_range(
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let parse = |field: &str, text: &str| {
        DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| invalid(field, "must be an RFC 3339 time, e.g. 2026-11-25T08:00:00Z"))
    };
    let to = match to.filter(|t| !t.is_empty()) {
        Some(text) => parse("to", text)?,
        None => now,
    };
    let from = match from.filter(|t| !t.is_empty()) {
        Some(text) => parse("from", text)?,
        None => to - TimeDelta::days(DEFAULT_RANGE_DAYS),
    };
    if from > to {
        return Err(invalid("from", "must not be after to"));
    }
    if to - from > TimeDelta::days(MAX_RANGE_DAYS) {
        return Err(invalid(
            "from",
            &format!("the range must be at most {MAX_RANGE_DAYS} days"),
        ));
    }
    Ok((from, to))
}

/// An optional code-like text (scene, app, reason, biz id): trimmed, 1..=`max` characters of
/// `allowed`; empty means "not given".
pub fn optional_code(
    field: &str,
    value: Option<&str>,
    max: usize,
    allowed: fn(char) -> bool,
) -> Result<Option<String>, ApiError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > max {
        return Err(invalid(field, &format!("must be at most {max} characters")));
    }
    if !value.chars().all(allowed) {
        return Err(invalid(field, "has characters that are not allowed"));
    }
    Ok(Some(value.to_owned()))
}

/// Scene codes, app ids: letters, digits, `-`, `_`, `.`.
pub fn code_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

fn reason_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
}

fn biz_char(c: char) -> bool {
    !c.is_control()
}

/// The tenant asked for, parsed (422 `tenant` when it is not a UUID).
pub fn tenant_param(value: Option<&str>) -> Result<Option<TenantId>, ApiError> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<TenantId>()
                .map_err(|_| invalid("tenant", "must be a tenant id (UUID)"))
        })
        .transpose()
}

impl RecordsQuery {
    /// The store filter of this query for `session`, or 422 naming the first bad field.
    pub fn filter(
        &self,
        session: &AdminSession,
        now: DateTime<Utc>,
    ) -> Result<RecordFilter, ApiError> {
        let (from, to) = time_range(self.from.as_deref(), self.to.as_deref(), now)?;
        let tenant = session.tenant_scope(tenant_param(self.tenant.as_deref())?)?;
        let verdict = match self
            .verdict
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            None => None,
            Some(text) => Some(
                Verdict::parse(text)
                    .map_err(|_| invalid("verdict", "must be one of pass, fail, inconclusive"))?,
            ),
        };
        let status = match self
            .status
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            None => None,
            Some(text) => Some(RecordStatus::parse(text).map_err(|_| {
                invalid(
                    "status",
                    "must be one of pending, running, finished, failed, expired",
                )
            })?),
        };
        Ok(RecordFilter {
            tenants: vec![tenant],
            from,
            to,
            scene_code: optional_code("scene", self.scene.as_deref(), 64, code_char)?,
            app_id: optional_code("app", self.app.as_deref(), 64, code_char)?,
            verdict,
            status,
            reason: optional_code("reason", self.reason.as_deref(), 64, reason_char)?,
            biz_id: optional_code("biz_id", self.biz_id.as_deref(), 64, biz_char)?,
        })
    }

    /// The page (`offset` default 0, `limit` default 20, 1..=500), or 422 naming the field.
    pub fn page(&self) -> Result<Page, ApiError> {
        let number = |field: &str, text: Option<&str>, default: u32| match text
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            None => Ok(default),
            Some(t) => t
                .parse::<u32>()
                .map_err(|_| invalid(field, "must be a whole number")),
        };
        let offset = number("offset", self.offset.as_deref(), 0)?;
        let limit = number(
            "limit",
            self.limit.as_deref(),
            super::PageQuery::DEFAULT_LIMIT,
        )?;
        if !(1..=Page::MAX_LIMIT).contains(&limit) {
            return Err(invalid(
                "limit",
                &format!("must be between 1 and {}", Page::MAX_LIMIT),
            ));
        }
        Ok(Page { offset, limit })
    }
}

/// The list's answer: the admin API's page plus whether the total is exact.
#[derive(Debug, Serialize)]
pub struct RecordsPage {
    /// `items`, `total`, `offset`, `limit`.
    #[serde(flatten)]
    pub page: Paged<RecordListItem>,
    /// False when more than 10 000 match: `total` is then 10 000 ("10 000+").
    pub total_exact: bool,
}

async fn list(
    session: AdminSession,
    state: web::Data<AppState>,
    query: web::Query<RecordsQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::RecordsRead)?;
    let filter = query.filter(&session, Utc::now())?;
    let page = query.page()?;
    let found = state.store.search_records(&filter, page).await?;
    Ok(HttpResponse::Ok().json(RecordsPage {
        page: Paged::new(found.items, found.total, page),
        total_exact: found.total_exact,
    }))
}

fn record_id(text: &str) -> Result<RecordId, ApiError> {
    text.parse::<RecordId>()
        .map_err(|_| ApiError::from(StoreError::NotFound { entity: "record" }))
}

/// A record of the user's subtree.
async fn scoped_record(
    store: &dyn Store,
    session: &AdminSession,
    id: &str,
) -> Result<Record, ApiError> {
    Ok(store
        .record_in_scope(session.subtree(), record_id(id)?)
        .await?)
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The steps of a record with their times: created, started, each action of the challenge (from
/// the result), finished, and each callback's delivery.
pub fn timeline(record: &Record, session: Option<&SessionRow>, callbacks: &[Callback]) -> Value {
    let mut steps = vec![json!({ "step": "created", "at": time(record.created_at) })];
    if let Some(started) = session.and_then(|s| s.started_at) {
        steps.push(json!({ "step": "started", "at": time(started) }));
    }
    let result = session.and_then(|s| s.result.as_ref());
    if let Some(actions) = result.and_then(|r| r["actions"].as_array()) {
        for action in actions {
            steps.push(json!({
                "step": "action",
                "action": action["action"],
                "passed": action["passed"],
                "seconds": action["seconds"],
            }));
        }
    }
    if let Some(finished) = record.finished_at {
        steps.push(json!({
            "step": "finished",
            "at": time(finished),
            "status": record.status,
            "verdict": record.verdict,
        }));
    } else if let Some(session) = session {
        steps.push(json!({ "step": "expires", "at": time(session.expires_at) }));
    }
    for callback in callbacks {
        steps.push(json!({
            "step": "callback",
            "at": callback.delivered_at.map(time),
            "status": callback.status,
            "attempts": callback.attempts,
        }));
    }
    Value::Array(steps)
}

async fn detail(
    session: AdminSession,
    state: web::Data<AppState>,
    evidence: EvidenceData,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::RecordsRead)?;
    let store = state.store.as_ref();
    let record = scoped_record(store, &session, &path).await?;
    let tenant = record.tenant_id;
    let scene_code = match store.scene(tenant, record.scene_id).await {
        Ok(scene) => Some(scene.code),
        Err(StoreError::NotFound { .. }) => None,
        Err(err) => return Err(err.into()),
    };
    let session_row = match store.session_of_tenant(tenant, record.session_id).await {
        Ok(row) => Some(row),
        // Records made without a session (console tests, imports) have none.
        Err(StoreError::NotFound { .. }) => None,
        Err(err) => return Err(err.into()),
    };
    let callbacks = store.callbacks_of_record(tenant, record.id).await?;
    let mut deliveries = Vec::with_capacity(callbacks.len());
    for callback in &callbacks {
        let attempts = store.callback_attempts(tenant, callback.id).await?;
        let last = attempts.last();
        deliveries.push(json!({
            "id": callback.id,
            "url": callback.url,
            "status": callback.status,
            "attempts": callback.attempts,
            "last_status_code": last.and_then(|a| a.http_status),
            "last_error": callback.last_error,
            "created_at": time(callback.created_at),
            "delivered_at": callback.delivered_at.map(time),
            "next_attempt_at": time(callback.next_attempt_at),
        }));
    }
    let names: Vec<String> = evidence
        .list(tenant, record.id)
        .await?
        .into_iter()
        .map(|key| key.name)
        .collect();
    let result = session_row.as_ref().and_then(|s| s.result.clone());
    let capture = result
        .as_ref()
        .and_then(|r| r["capture"].as_str())
        .map(str::to_owned);
    let body = json!({
        "id": record.id,
        "tenant_id": record.tenant_id,
        "scene_code": scene_code,
        "scene_version": record.scene_version,
        "session_id": record.session_id,
        "biz_id": record.biz_id,
        "app_id": record.app_id,
        "status": record.status,
        "verdict": record.verdict,
        "reasons": record.reasons,
        "capture": capture,
        "created_at": time(record.created_at),
        "finished_at": record.finished_at.map(time),
        "duration_ms": record.finished_at.map(|f| (f - record.created_at).num_milliseconds()),
        "scores": record.scores,
        "client": record.client,
        "result": result,
        "timeline": timeline(&record, session_row.as_ref(), &callbacks),
        "evidence": names,
        "callbacks": deliveries,
    });
    Ok(HttpResponse::Ok().json(body))
}

async fn evidence(
    session: AdminSession,
    state: web::Data<AppState>,
    evidence: EvidenceData,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::EvidenceRead)?;
    let (id, name) = path.into_inner();
    if !name.ends_with(".jpg") {
        return Err(invalid("name", "must be a .jpg evidence frame"));
    }
    let store = state.store.as_ref();
    let record = scoped_record(store, &session, &id).await?;
    let key = EvidenceKey::new(record.tenant_id, record.id, &name)?;
    let bytes = evidence.get(record.tenant_id, &key).await?;
    // Face images are personal data: every read is in the audit log, under the record's tenant.
    session
        .audit_in(
            store,
            record.tenant_id,
            "evidence.read",
            format!("{}/{}", record.id, name),
            json!({ "record_id": record.id, "name": name }),
        )
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("image/jpeg")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}

/// An export's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// UTF-8 CSV with a byte-order mark (Excel reads Chinese right), formula-safe.
    Csv,
    /// An Excel workbook.
    Xlsx,
}

/// The export's columns, in order.
pub const EXPORT_COLUMNS: [&str; 14] = [
    "id",
    "tenant_id",
    "scene_code",
    "scene_version",
    "session_id",
    "biz_id",
    "app_id",
    "status",
    "verdict",
    "reasons",
    "capture",
    "created_at",
    "finished_at",
    "duration_ms",
];

/// One export row as text, in [`EXPORT_COLUMNS`] order.
pub fn export_row(item: &RecordListItem) -> [String; 14] {
    let reasons = item
        .reasons
        .as_array()
        .map(|list| {
            list.iter()
                .map(|r| {
                    r.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| r.to_string())
                })
                .collect::<Vec<_>>()
                .join(";")
        })
        .unwrap_or_default();
    [
        item.id.to_string(),
        item.tenant_id.to_string(),
        item.scene_code.clone(),
        item.scene_version.to_string(),
        item.session_id.to_string(),
        item.biz_id.clone(),
        item.app_id.clone().unwrap_or_default(),
        item.status.as_str().to_owned(),
        item.verdict
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default(),
        reasons,
        item.capture.clone().unwrap_or_default(),
        time(item.created_at),
        item.finished_at.map(time).unwrap_or_default(),
        item.duration_ms.map(|d| d.to_string()).unwrap_or_default(),
    ]
}

/// A CSV cell a spreadsheet will not run as a formula: text starting with `=`, `+`, `-`, `@`
/// (or a tab or carriage return, which some spreadsheets strip first) gets a leading `'`.
pub fn formula_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// The CSV file of the rows.
pub fn to_csv(items: &[RecordListItem]) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(64 + items.len() * 256);
    out.extend_from_slice("\u{feff}".as_bytes());
    let mut writer = csv::Writer::from_writer(out);
    writer
        .write_record(EXPORT_COLUMNS)
        .map_err(ApiError::internal)?;
    for item in items {
        let row = export_row(item);
        writer
            .write_record(row.iter().map(|cell| formula_safe(cell).into_owned()))
            .map_err(ApiError::internal)?;
    }
    writer.into_inner().map_err(ApiError::internal)
}

/// The Excel workbook of the rows (cells are strings, never formulas).
pub fn to_xlsx(items: &[RecordListItem]) -> Result<Vec<u8>, ApiError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("records").map_err(ApiError::internal)?;
    let bold = Format::new().set_bold();
    for (col, name) in EXPORT_COLUMNS.iter().enumerate() {
        sheet
            .write_string_with_format(0, col as u16, *name, &bold)
            .map_err(ApiError::internal)?;
    }
    for (index, item) in items.iter().enumerate() {
        let row = index as u32 + 1;
        for (col, cell) in export_row(item).iter().enumerate() {
            match (col, item) {
                (3, item) => sheet.write_number(row, col as u16, item.scene_version as f64),
                (
                    13,
                    RecordListItem {
                        duration_ms: Some(ms),
                        ..
                    },
                ) => sheet.write_number(row, col as u16, *ms as f64),
                _ => sheet.write_string(row, col as u16, cell),
            }
            .map_err(ApiError::internal)?;
        }
    }
    book.save_to_buffer().map_err(ApiError::internal)
}

async fn export(
    session: AdminSession,
    state: web::Data<AppState>,
    query: web::Query<RecordsQuery>,
) -> Result<HttpResponse, ApiError> {
    session.require(Permission::RecordsExport)?;
    let format = match query.format.as_deref().map(str::trim) {
        None | Some("") | Some("csv") => ExportFormat::Csv,
        Some("xlsx") => ExportFormat::Xlsx,
        Some(_) => return Err(invalid("format", "must be csv or xlsx")),
    };
    let now = Utc::now();
    let filter = query.filter(&session, now)?;
    let store: &Arc<dyn Store> = &state.store;
    let items = store.export_records(&filter, EXPORT_MAX_ROWS).await?;
    let rows = items.len();
    // The cap reached: there may be more; the console says so and asks for a narrower range.
    let truncated = rows as u32 >= EXPORT_MAX_ROWS;
    session
        .audit_in(
            store.as_ref(),
            filter.tenants[0],
            "records.export",
            match format {
                ExportFormat::Csv => "csv",
                ExportFormat::Xlsx => "xlsx",
            },
            json!({ "filter": filter, "rows": rows, "truncated": truncated }),
        )
        .await?;
    let stamp = now.format("%Y%m%dT%H%M%SZ");
    // Building a large file is CPU work: off the async runtime.
    let (bytes, content_type, extension) = tokio::task::spawn_blocking(move || match format {
        ExportFormat::Csv => to_csv(&items).map(|b| (b, "text/csv; charset=utf-8", "csv")),
        ExportFormat::Xlsx => to_xlsx(&items).map(|b| {
            (
                b,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
            )
        }),
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"records-{stamp}.{extension}\""),
        ))
        .insert_header(("X-Export-Rows", rows.to_string()))
        .insert_header(("X-Export-Truncated", truncated.to_string()))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_quoted_and_plain_text_is_not() {
        assert_eq!(formula_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(formula_safe("+1"), "'+1");
        assert_eq!(formula_safe("-2"), "'-2");
        assert_eq!(formula_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(formula_safe("biz-001"), "biz-001");
        assert_eq!(formula_safe(""), "");
    }

    #[test]
    fn ranges_are_checked() {
        let now = Utc::now();
        let (from, to) = time_range(None, None, now).expect("default");
        assert_eq!(to - from, TimeDelta::days(7));
        let err = time_range(
            Some("2026-11-25T08:00:00Z"),
            Some("2026-11-24T08:00:00Z"),
            now,
        )
        .expect_err("from after to");
        assert_eq!(err.detail().and_then(|d| d["field"].as_str()), Some("from"));
        let err = time_range(Some("yesterday"), None, now).expect_err("bad time");
        assert_eq!(err.detail().and_then(|d| d["field"].as_str()), Some("from"));
        assert!(time_range(
            Some("2025-01-01T00:00:00Z"),
            Some("2026-11-25T00:00:00Z"),
            now
        )
        .is_err());
    }
}
