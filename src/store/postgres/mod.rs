//! The production store: PostgreSQL through a deadpool-postgres pool.
//!
//! Parameterised, cached statements only. Errors are translated by SQLSTATE here, once:
//! 23505 (unique violation) is `Conflict` with the constraint's name, 23503 (foreign key) and
//! 23514 (check) are `Invalid`, connection and pool failures are `Unavailable`.

mod admin;
mod apps;
mod callbacks;
mod record_search;
mod scene_versions;
mod sessions;
mod signing_keys;
mod system;

use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use super::migrations::{self, AppliedMigration};
use super::SceneVersionStore;
use super::{
    found, now_micros, NewRecord, NewScene, NewTenant, Page, Record, RecordId, RecordOutcome,
    RecordStatus, Scene, SceneId, SceneUpdate, Store, StoreError, Tenant, TenantId, Verdict,
    RECORD_COLUMNS, SCENE_COLUMNS, TENANT_COLUMNS,
};
use crate::config::StoreBackend;

/// Serialises `migrate` across nodes sharing a database (any constant; this one spells "lvgt").
const MIGRATION_LOCK_KEY: i64 = 0x6c76_6774;

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
}

impl PgStore {
    /// Builds the pool; connections open lazily, so an unreachable server shows at the first
    /// call (`ping`, `migrate`) as `Unavailable`.
    pub fn connect(
        mut config: tokio_postgres::Config,
        pool_size: usize,
        connect_timeout: Duration,
    ) -> Result<Self, StoreError> {
        config.connect_timeout(connect_timeout);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(connect_timeout))
            .create_timeout(Some(connect_timeout))
            .recycle_timeout(Some(connect_timeout))
            .build()
            .map_err(|err| StoreError::Backend(format!("postgres pool: {err}")))?;
        Ok(Self { pool })
    }

    /// The pool, for callers that need more than the trait (tests dropping their schema).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(map_pool)
    }

    /// Runs `sql` (prepared once per connection) on a pooled client; exactly one row comes back.
    async fn query_one<T>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        row_to: fn(&Row) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(map_err)?;
        let row = client.query_one(&stmt, params).await.map_err(map_err)?;
        row_to(&row)
    }

    /// Like [`Self::query_one`], for a statement that may match no row.
    async fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        row_to: fn(&Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(map_err)?;
        let row = client.query_opt(&stmt, params).await.map_err(map_err)?;
        row.as_ref().map(row_to).transpose()
    }

    /// Like [`Self::query_one`], for any number of rows.
    async fn query<T>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        row_to: fn(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(map_err)?;
        let rows = client.query(&stmt, params).await.map_err(map_err)?;
        rows.iter().map(row_to).collect()
    }
}

fn map_pool(err: PoolError) -> StoreError {
    match err {
        PoolError::Backend(err) => map_err(err),
        other => StoreError::Unavailable(format!("postgres pool: {other}")),
    }
}

/// Translates tokio-postgres's errors once, by SQLSTATE.
fn map_err(err: tokio_postgres::Error) -> StoreError {
    if let Some(db) = err.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION {
            return StoreError::Conflict {
                constraint: db.constraint().unwrap_or("unknown").to_owned(),
            };
        }
        if *code == SqlState::FOREIGN_KEY_VIOLATION {
            return StoreError::Invalid("refers to a row that does not exist".into());
        }
        if *code == SqlState::CHECK_VIOLATION || *code == SqlState::NOT_NULL_VIOLATION {
            return StoreError::Invalid("breaks a rule of the schema".into());
        }
        // Class 08 (connection), 53 (resources), 57P (operator intervention: shutdown).
        let class = code.code();
        if class.starts_with("08") || class.starts_with("53") || class.starts_with("57P") {
            return StoreError::Unavailable(format!("postgres: {err}"));
        }
        return StoreError::Backend(format!("postgres: {err}"));
    }
    if let Some(cause) = std::error::Error::source(&err) {
        // No server answer at all: the connection broke or never opened. tokio-postgres's
        // Display leaves the cause (connection refused, timed out) to `source`.
        return StoreError::Unavailable(format!("postgres: {err}: {cause}"));
    }
    if err.is_closed() {
        return StoreError::Unavailable(format!("postgres: {err}"));
    }
    StoreError::Backend(format!("postgres: {err}"))
}

fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    name: &str,
) -> Result<T, StoreError> {
    row.try_get(name)
        .map_err(|err| StoreError::Backend(format!("postgres column {name}: {err}")))
}

fn tenant_row(row: &Row) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: TenantId(column(row, "id")?),
        code: column(row, "code")?,
        name: column(row, "name")?,
        parent_id: column::<Option<uuid::Uuid>>(row, "parent_id")?.map(TenantId),
        created_at: column(row, "created_at")?,
    })
}

fn scene_row(row: &Row) -> Result<Scene, StoreError> {
    Ok(Scene {
        id: SceneId(column(row, "id")?),
        tenant_id: TenantId(column(row, "tenant_id")?),
        code: column(row, "code")?,
        name: column(row, "name")?,
        config: column(row, "config")?,
        version: column(row, "version")?,
        created_at: column(row, "created_at")?,
        updated_at: column(row, "updated_at")?,
        status: scene_versions::status_column(row)?,
    })
}

fn record_row(row: &Row) -> Result<Record, StoreError> {
    Ok(Record {
        id: RecordId(column(row, "id")?),
        tenant_id: TenantId(column(row, "tenant_id")?),
        scene_id: SceneId(column(row, "scene_id")?),
        scene_version: column(row, "scene_version")?,
        session_id: column(row, "session_id")?,
        biz_id: column(row, "biz_id")?,
        app_id: column(row, "app_id")?,
        status: RecordStatus::parse(column(row, "status")?)?,
        verdict: column::<Option<&str>>(row, "verdict")?
            .map(Verdict::parse)
            .transpose()?,
        reasons: column(row, "reasons")?,
        scores: column(row, "scores")?,
        client: column(row, "client")?,
        created_at: column(row, "created_at")?,
        finished_at: column(row, "finished_at")?,
    })
}

/// Inserts a record of the tenant through `client`: a pooled connection, or a transaction that
/// writes more beside it (a session).
async fn insert_record_on(
    client: &impl deadpool_postgres::GenericClient,
    tenant: TenantId,
    new: &NewRecord,
) -> Result<Record, StoreError> {
    let stmt = client
        .prepare_cached(&format!(
            "INSERT INTO records (id, tenant_id, scene_id, scene_version, session_id, biz_id, \
             app_id, status, client, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {RECORD_COLUMNS}"
        ))
        .await
        .map_err(map_err)?;
    let row = client
        .query_one(
            &stmt,
            &[
                &RecordId::new().0,
                &tenant.0,
                &new.scene_id.0,
                &new.scene_version,
                &new.session_id,
                &new.biz_id,
                &new.app_id,
                &new.status.as_str(),
                &new.client,
                &now_micros(),
            ],
        )
        .await
        .map_err(map_err)?;
    record_row(&row)
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> StoreBackend {
        StoreBackend::Postgres
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(map_err)?;
        Ok(())
    }

    async fn migrate(&self) -> Result<Vec<AppliedMigration>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // "relation already exists, skipping" notices would reach the log at every start.
        tx.batch_execute("SET LOCAL client_min_messages = warning")
            .await
            .map_err(map_err)?;
        // Two nodes starting together: the second waits here, then finds nothing to do.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
            .await
            .map_err(map_err)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY,
                 name TEXT NOT NULL,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(map_err)?;
        let applied: Vec<i64> = tx
            .query("SELECT version FROM schema_migrations", &[])
            .await
            .map_err(map_err)?
            .iter()
            .map(|row| column(row, "version"))
            .collect::<Result<_, _>>()?;
        let mut done = Vec::new();
        for migration in migrations::pending(migrations::POSTGRES, &applied)? {
            tx.batch_execute(migration.sql).await.map_err(map_err)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[&migration.version, &migration.name],
            )
            .await
            .map_err(map_err)?;
            done.push(AppliedMigration {
                version: migration.version,
                name: migration.name.to_owned(),
            });
        }
        tx.commit().await.map_err(map_err)?;
        Ok(done)
    }

    async fn create_tenant(&self, new: &NewTenant) -> Result<Tenant, StoreError> {
        self.query_one(
            &format!(
                "INSERT INTO tenants (id, code, name, parent_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING {TENANT_COLUMNS}"
            ),
            &[
                &TenantId::new().0,
                &new.code,
                &new.name,
                &new.parent_id.map(|p| p.0),
                &now_micros(),
            ],
            tenant_row,
        )
        .await
    }

    async fn tenant(&self, id: TenantId) -> Result<Tenant, StoreError> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        found(self.query_opt(&sql, &[&id.0], tenant_row).await?, "tenant")
    }

    async fn tenant_by_code(&self, code: &str) -> Result<Tenant, StoreError> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE code = $1");
        found(self.query_opt(&sql, &[&code], tenant_row).await?, "tenant")
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY code COLLATE \"C\"");
        self.query(&sql, &[], tenant_row).await
    }

    async fn create_scene(&self, tenant: TenantId, new: &NewScene) -> Result<Scene, StoreError> {
        self.create_scene_by(tenant, new, None).await
    }

    async fn scene(&self, tenant: TenantId, id: SceneId) -> Result<Scene, StoreError> {
        let sql = format!("SELECT {SCENE_COLUMNS} FROM scenes WHERE tenant_id = $1 AND id = $2");
        found(
            self.query_opt(&sql, &[&tenant.0, &id.0], scene_row).await?,
            "scene",
        )
    }

    async fn scene_by_code(&self, tenant: TenantId, code: &str) -> Result<Scene, StoreError> {
        let sql = format!("SELECT {SCENE_COLUMNS} FROM scenes WHERE tenant_id = $1 AND code = $2");
        found(
            self.query_opt(&sql, &[&tenant.0, &code], scene_row).await?,
            "scene",
        )
    }

    async fn list_scenes(&self, tenant: TenantId) -> Result<Vec<Scene>, StoreError> {
        let sql = format!(
            "SELECT {SCENE_COLUMNS} FROM scenes WHERE tenant_id = $1 ORDER BY code COLLATE \"C\""
        );
        self.query(&sql, &[&tenant.0], scene_row).await
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
        insert_record_on(&self.client().await?, tenant, new).await
    }

    async fn record(&self, tenant: TenantId, id: RecordId) -> Result<Record, StoreError> {
        let sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE tenant_id = $1 AND id = $2");
        found(
            self.query_opt(&sql, &[&tenant.0, &id.0], record_row)
                .await?,
            "record",
        )
    }

    async fn list_records(&self, tenant: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
        let page = page.check()?;
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE tenant_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        );
        let (limit, offset) = (i64::from(page.limit), i64::from(page.offset));
        self.query(&sql, &[&tenant.0, &limit, &offset], record_row)
            .await
    }

    async fn finish_record(
        &self,
        tenant: TenantId,
        id: RecordId,
        outcome: &RecordOutcome,
    ) -> Result<Record, StoreError> {
        let finished = self
            .query_opt(
                &format!(
                    "UPDATE records SET status = $3, verdict = $4, reasons = $5, scores = $6, \
                     finished_at = $7 WHERE tenant_id = $1 AND id = $2 RETURNING {RECORD_COLUMNS}"
                ),
                &[
                    &tenant.0,
                    &id.0,
                    &outcome.status.as_str(),
                    &outcome.verdict.map(Verdict::as_str),
                    &outcome.reasons,
                    &outcome.scores,
                    &now_micros(),
                ],
                record_row,
            )
            .await?;
        found(finished, "record")
    }
}
