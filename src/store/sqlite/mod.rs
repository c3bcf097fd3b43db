//! The embedded store: SQLite through rusqlite (bundled), WAL, foreign keys on.
//!
//! One connection behind a mutex serves every call, always inside `spawn_blocking`, so a slow
//! disk never stalls the async runtime. One writer is what SQLite allows anyway; WAL lets other
//! processes (a backup, the `sqlite3` shell) read meanwhile.

mod admin;
mod apps;
mod callbacks;
mod record_search;
mod scene_versions;
mod sessions;
mod signing_keys;
mod system;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde_json::Value;
use uuid::Uuid;

use super::migrations::{self, AppliedMigration};
use super::SceneVersionStore;
use super::{
    found, now_micros, NewRecord, NewScene, NewTenant, Page, Record, RecordId, RecordOutcome,
    RecordStatus, Scene, SceneId, SceneUpdate, Store, StoreError, Tenant, TenantId, Verdict,
    RECORD_COLUMNS, SCENE_COLUMNS, TENANT_COLUMNS,
};
use crate::config::StoreBackend;

/// How long a statement waits for a lock held by another process before giving up.
const BUSY_TIMEOUT_MS: u32 = 5_000;

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (or creates) the database file, creating its folder, and sets WAL, foreign keys and
    /// the busy timeout.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let path = path.to_owned();
        let opened = path.clone();
        let conn = tokio::task::spawn_blocking(move || open_connection(&opened))
            .await
            .map_err(|err| StoreError::Backend(format!("sqlite open task: {err}")))??;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the connection off the async runtime.
    async fn call<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic in an earlier call leaves the connection itself usable; SQLite rolls back
            // an unfinished transaction when the next one begins.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn)
        })
        .await
        .map_err(|err| StoreError::Backend(format!("sqlite task: {err}")))?
    }
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|err| {
            StoreError::Unavailable(format!("cannot create {}: {err}", dir.display()))
        })?;
    }
    let conn = Connection::open(path)
        .map_err(|err| StoreError::Unavailable(format!("cannot open {}: {err}", path.display())))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(map_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "{} refused WAL mode (journal_mode is {mode})",
            path.display()
        )));
    }
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(map_err)?;
    conn.pragma_update(None, "busy_timeout", BUSY_TIMEOUT_MS)
        .map_err(map_err)?;
    // With WAL, NORMAL keeps the database consistent on power loss and only risks the last
    // transactions; FULL would fsync every commit.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(map_err)?;
    Ok(conn)
}

/// Translates rusqlite's errors once; constraint names are rebuilt in PostgreSQL's style
/// (`table_col1_col2_key`) because SQLite reports columns, not constraint names.
fn map_err(err: rusqlite::Error) -> StoreError {
    use rusqlite::ffi;
    use rusqlite::ErrorCode as C;
    if let rusqlite::Error::SqliteFailure(failure, message) = &err {
        let message = message.as_deref().unwrap_or("");
        match failure.code {
            C::ConstraintViolation => {
                return match failure.extended_code {
                    ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                        StoreError::Conflict {
                            constraint: constraint_name(message),
                        }
                    }
                    ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
                        StoreError::Invalid("refers to a row that does not exist".into())
                    }
                    _ => StoreError::Invalid("breaks a rule of the schema".into()),
                };
            }
            C::DatabaseBusy
            | C::DatabaseLocked
            | C::CannotOpen
            | C::SystemIoFailure
            | C::DiskFull
            | C::ReadOnly => {
                return StoreError::Unavailable(err.to_string());
            }
            _ => {}
        }
    }
    StoreError::Backend(err.to_string())
}

/// `UNIQUE constraint failed: scenes.tenant_id, scenes.code` → `scenes_tenant_id_code_key`.
fn constraint_name(message: &str) -> String {
    let columns = message.rsplit(": ").next().unwrap_or("");
    let mut table = "";
    let mut names = Vec::new();
    for qualified in columns.split(", ") {
        let (t, column) = qualified.split_once('.').unwrap_or(("", qualified));
        table = t;
        names.push(column.trim());
    }
    if table.is_empty() {
        "unknown".to_owned()
    } else {
        format!("{table}_{}_key", names.join("_"))
    }
}

fn text_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn conversion(
    index: usize,
    err: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(err))
}

fn get_uuid(row: &Row<'_>, index: usize) -> rusqlite::Result<Uuid> {
    let text: String = row.get(index)?;
    Uuid::parse_str(&text).map_err(|err| conversion(index, err))
}

fn get_opt_uuid(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<Uuid>> {
    let text: Option<String> = row.get(index)?;
    text.map(|t| Uuid::parse_str(&t).map_err(|err| conversion(index, err)))
        .transpose()
}

fn get_time(row: &Row<'_>, index: usize) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = row.get(index)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|err| conversion(index, err))
}

fn get_opt_time(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let text: Option<String> = row.get(index)?;
    text.map(|t| {
        DateTime::parse_from_rfc3339(&t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|err| conversion(index, err))
    })
    .transpose()
}

fn get_json(row: &Row<'_>, index: usize) -> rusqlite::Result<Value> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|err| conversion(index, err))
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadText(StoreError);

fn tenant_row(row: &Row<'_>) -> rusqlite::Result<Tenant> {
    Ok(Tenant {
        id: TenantId(get_uuid(row, 0)?),
        code: row.get(1)?,
        name: row.get(2)?,
        parent_id: get_opt_uuid(row, 3)?.map(TenantId),
        created_at: get_time(row, 4)?,
    })
}

fn scene_row(row: &Row<'_>) -> rusqlite::Result<Scene> {
    Ok(Scene {
        id: SceneId(get_uuid(row, 0)?),
        tenant_id: TenantId(get_uuid(row, 1)?),
        code: row.get(2)?,
        name: row.get(3)?,
        config: get_json(row, 4)?,
        version: row.get(5)?,
        created_at: get_time(row, 6)?,
        updated_at: get_time(row, 7)?,
        status: scene_versions::get_status(row, 8)?,
    })
}

fn record_row(row: &Row<'_>) -> rusqlite::Result<Record> {
    let status: String = row.get(7)?;
    let verdict: Option<String> = row.get(8)?;
    Ok(Record {
        id: RecordId(get_uuid(row, 0)?),
        tenant_id: TenantId(get_uuid(row, 1)?),
        scene_id: SceneId(get_uuid(row, 2)?),
        scene_version: row.get(3)?,
        session_id: get_uuid(row, 4)?,
        biz_id: row.get(5)?,
        app_id: row.get(6)?,
        status: RecordStatus::parse(&status).map_err(|err| conversion(7, BadText(err)))?,
        verdict: verdict
            .map(|v| Verdict::parse(&v).map_err(|err| conversion(8, BadText(err))))
            .transpose()?,
        reasons: get_json(row, 9)?,
        scores: get_json(row, 10)?,
        client: get_json(row, 11)?,
        created_at: get_time(row, 12)?,
        finished_at: get_opt_time(row, 13)?,
    })
}

fn scene_by_code(conn: &Connection, tenant: TenantId, code: &str) -> Result<Scene, StoreError> {
    let row = conn
        .query_row(
            &format!("SELECT {SCENE_COLUMNS} FROM scenes WHERE tenant_id = ?1 AND code = ?2"),
            params![tenant.to_string(), code],
            scene_row,
        )
        .optional()
        .map_err(map_err)?;
    found(row, "scene")
}

fn record_by_id(conn: &Connection, tenant: TenantId, id: RecordId) -> Result<Record, StoreError> {
    let row = conn
        .query_row(
            &format!("SELECT {RECORD_COLUMNS} FROM records WHERE tenant_id = ?1 AND id = ?2"),
            params![tenant.to_string(), id.to_string()],
            record_row,
        )
        .optional()
        .map_err(map_err)?;
    found(row, "record")
}

fn json_text(value: &Value) -> String {
    value.to_string()
}

/// Inserts a record of the tenant on `conn` (the connection, or a transaction that writes more
/// beside it: a session).
fn insert_record_on(
    conn: &Connection,
    tenant: TenantId,
    new: &NewRecord,
) -> Result<Record, StoreError> {
    let record = Record {
        id: RecordId::new(),
        tenant_id: tenant,
        scene_id: new.scene_id,
        scene_version: new.scene_version,
        session_id: new.session_id,
        biz_id: new.biz_id.clone(),
        app_id: new.app_id.clone(),
        status: new.status,
        verdict: None,
        reasons: Value::Array(Vec::new()),
        scores: Value::Object(Default::default()),
        client: new.client.clone(),
        created_at: now_micros(),
        finished_at: None,
    };
    conn.execute(
        &format!(
            "INSERT INTO records ({RECORD_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        ),
        params![
            record.id.to_string(),
            record.tenant_id.to_string(),
            record.scene_id.to_string(),
            record.scene_version,
            record.session_id.to_string(),
            record.biz_id,
            record.app_id,
            record.status.as_str(),
            record.verdict.map(Verdict::as_str),
            json_text(&record.reasons),
            json_text(&record.scores),
            json_text(&record.client),
            text_time(record.created_at),
            record.finished_at.map(text_time)
        ],
    )
    .map_err(map_err)?;
    Ok(record)
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> StoreBackend {
        StoreBackend::Embedded
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.call(|conn| {
            conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
                .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn migrate(&self) -> Result<Vec<AppliedMigration>, StoreError> {
        self.call(|conn| {
            // IMMEDIATE takes the write lock first, so two processes cannot both apply.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version INTEGER PRIMARY KEY,
                     name TEXT NOT NULL,
                     applied_at TEXT NOT NULL
                 )",
            )
            .map_err(map_err)?;
            let applied: Vec<i64> = {
                let mut stmt = tx
                    .prepare("SELECT version FROM schema_migrations")
                    .map_err(map_err)?;
                let rows = stmt.query_map([], |row| row.get(0)).map_err(map_err)?;
                rows.collect::<Result<_, _>>().map_err(map_err)?
            };
            let mut done = Vec::new();
            for migration in migrations::pending(migrations::SQLITE, &applied)? {
                tx.execute_batch(migration.sql).map_err(map_err)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                    params![migration.version, migration.name, text_time(now_micros())],
                )
                .map_err(map_err)?;
                done.push(AppliedMigration {
                    version: migration.version,
                    name: migration.name.to_owned(),
                });
            }
            tx.commit().map_err(map_err)?;
            Ok(done)
        })
        .await
    }

    async fn create_tenant(&self, new: &NewTenant) -> Result<Tenant, StoreError> {
        let tenant = Tenant {
            id: TenantId::new(),
            code: new.code.clone(),
            name: new.name.clone(),
            parent_id: new.parent_id,
            created_at: now_micros(),
        };
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO tenants (id, code, name, parent_id, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    tenant.id.to_string(),
                    tenant.code,
                    tenant.name,
                    tenant.parent_id.map(|p| p.to_string()),
                    text_time(tenant.created_at)
                ],
            )
            .map_err(map_err)?;
            Ok(tenant)
        })
        .await
    }

    async fn tenant(&self, id: TenantId) -> Result<Tenant, StoreError> {
        self.call(move |conn| {
            let row = conn
                .query_row(
                    &format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = ?1"),
                    params![id.to_string()],
                    tenant_row,
                )
                .optional()
                .map_err(map_err)?;
            found(row, "tenant")
        })
        .await
    }

    async fn tenant_by_code(&self, code: &str) -> Result<Tenant, StoreError> {
        let code = code.to_owned();
        self.call(move |conn| {
            let row = conn
                .query_row(
                    &format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE code = ?1"),
                    params![code],
                    tenant_row,
                )
                .optional()
                .map_err(map_err)?;
            found(row, "tenant")
        })
        .await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {TENANT_COLUMNS} FROM tenants ORDER BY code"
                ))
                .map_err(map_err)?;
            let rows = stmt.query_map([], tenant_row).map_err(map_err)?;
            rows.collect::<Result<_, _>>().map_err(map_err)
        })
        .await
    }

    async fn create_scene(&self, tenant: TenantId, new: &NewScene) -> Result<Scene, StoreError> {
        self.create_scene_by(tenant, new, None).await
    }

    async fn scene(&self, tenant: TenantId, id: SceneId) -> Result<Scene, StoreError> {
        self.call(move |conn| {
            let row = conn
                .query_row(
                    &format!("SELECT {SCENE_COLUMNS} FROM scenes WHERE tenant_id = ?1 AND id = ?2"),
                    params![tenant.to_string(), id.to_string()],
                    scene_row,
                )
                .optional()
                .map_err(map_err)?;
            found(row, "scene")
        })
        .await
    }

    async fn scene_by_code(&self, tenant: TenantId, code: &str) -> Result<Scene, StoreError> {
        let code = code.to_owned();
        self.call(move |conn| scene_by_code(conn, tenant, &code))
            .await
    }

    async fn list_scenes(&self, tenant: TenantId) -> Result<Vec<Scene>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {SCENE_COLUMNS} FROM scenes WHERE tenant_id = ?1 ORDER BY code"
                ))
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![tenant.to_string()], scene_row)
                .map_err(map_err)?;
            rows.collect::<Result<_, _>>().map_err(map_err)
        })
        .await
    }

    async fn update_scene(
        &self,
        tenant: TenantId,
        code: &str,
        update: &SceneUpdate,
    ) -> Result<Scene, StoreError> {
        self.update_scene_by(tenant, code, update, None).await
    }

    async fn insert_record(&self, tenant: TenantId, new: &NewRecord) -> Result<Record, StoreError> {
        let new = new.clone();
        self.call(move |conn| insert_record_on(conn, tenant, &new))
            .await
    }

    async fn record(&self, tenant: TenantId, id: RecordId) -> Result<Record, StoreError> {
        self.call(move |conn| record_by_id(conn, tenant, id)).await
    }

    async fn list_records(&self, tenant: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
        let page = page.check()?;
        self.call(move |conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {RECORD_COLUMNS} FROM records WHERE tenant_id = ?1 \
                     ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3"
                ))
                .map_err(map_err)?;
            let rows = stmt
                .query_map(
                    params![tenant.to_string(), page.limit, page.offset],
                    record_row,
                )
                .map_err(map_err)?;
            rows.collect::<Result<_, _>>().map_err(map_err)
        })
        .await
    }

    async fn finish_record(
        &self,
        tenant: TenantId,
        id: RecordId,
        outcome: &RecordOutcome,
    ) -> Result<Record, StoreError> {
        let outcome = outcome.clone();
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE records SET status = ?1, verdict = ?2, reasons = ?3, scores = ?4, \
                     finished_at = ?5 WHERE tenant_id = ?6 AND id = ?7",
                    params![
                        outcome.status.as_str(),
                        outcome.verdict.map(Verdict::as_str),
                        json_text(&outcome.reasons),
                        json_text(&outcome.scores),
                        text_time(now_micros()),
                        tenant.to_string(),
                        id.to_string()
                    ],
                )
                .map_err(map_err)?;
            if changed == 0 {
                return Err(StoreError::NotFound { entity: "record" });
            }
            record_by_id(conn, tenant, id)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_messages_become_postgres_style_constraint_names() {
        assert_eq!(
            constraint_name("UNIQUE constraint failed: scenes.tenant_id, scenes.code"),
            "scenes_tenant_id_code_key"
        );
        assert_eq!(
            constraint_name("UNIQUE constraint failed: tenants.code"),
            "tenants_code_key"
        );
    }
}
