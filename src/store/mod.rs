//! Storage: one [`Store`] trait, two backends.
//!
//! - [`sqlite::SqliteStore`]: the embedded store, SQLite (rusqlite, bundled, WAL) in the data
//!   folder; the first run and a single node.
//! - [`postgres::PgStore`]: PostgreSQL through deadpool-postgres; production.
//!
//! The tenancy rule: every row carries a `tenant_id`, and every query on scenes and records takes
//! the tenant and filters by it, so a row of tenant A is `NotFound` for tenant B. Identifiers are
//! UUID v7 (time-ordered, made by the node, unique across nodes without asking the database).
//! The same conformance suite (`tests/store_conformance.rs`) runs on both backends.

pub mod admin;
pub mod apps;
pub mod callbacks;
pub mod migrations;
pub mod postgres;
pub mod record_search;
pub mod scene_versions;
pub mod sessions;
pub mod signing_keys;
pub mod sqlite;
pub mod system;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::config::{Config, StoreBackend};

pub use admin::{
    AdminRole, AdminSessionRow, AdminStore, AdminUser, AdminUserId, AdminUserStatus,
    AdminUserUpdate, AuditEntry, AuditFilter, LockoutPolicy, NewAdminUser, NewAuditEntry,
};
pub use apps::{App, AppId, AppStatus, AppStore, NewApp};
pub use callbacks::{
    Attempt, AttemptNext, Callback, CallbackAttempt, CallbackStatus, CallbackStore, NewCallback,
};
pub use migrations::AppliedMigration;
pub use record_search::{
    RecordFilter, RecordListItem, RecordPage, RecordSearchStore, RollupReport, StatsDimension,
    StatsFilter, StatsGroup,
};
pub use scene_versions::{SceneStatus, SceneVersion, SceneVersionStore};
pub use sessions::{EvidencePurge, NewSession, SessionRow, SessionStore};
pub use signing_keys::{NewSigningKey, SigningKey, SigningKeyStore};
pub use system::SystemStore;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered (v7) identifier.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// A tenant (an institution: the union, a bank, a village bank).
    TenantId
);
uuid_id!(
    /// A scene: one business use of liveness (account opening, password reset) with its rules.
    SceneId
);
uuid_id!(
    /// One liveness record: a session's outcome.
    RecordId
);
uuid_id!(
    /// A callback in the outbox (`callbacks.rs`).
    CallbackId
);

impl TenantId {
    /// The default tenant, created by the first migration with code `default`.
    pub const DEFAULT: TenantId = TenantId(Uuid::from_u128(1));
}

impl SceneId {
    /// The default tenant's `default` scene, created by the first migration.
    pub const DEFAULT: SceneId = SceneId(Uuid::from_u128(2));
}

/// The code of the tenant and of the scene every fresh store has.
pub const DEFAULT_CODE: &str = "default";

/// An institution whose data is kept apart from every other's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Its identifier.
    pub id: TenantId,
    /// Short unique code (`default`, `bank-0101`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// The tenant above it (a bank under the union); `None` at the top.
    pub parent_id: Option<TenantId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// What it takes to create a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTenant {
    /// Short unique code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// The tenant above it.
    pub parent_id: Option<TenantId>,
}

/// A business use of liveness with its rules (`config`), versioned: every update adds one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    /// Its identifier.
    pub id: SceneId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// Code unique within the tenant.
    pub code: String,
    /// Display name.
    pub name: String,
    /// The rules (actions, thresholds, callback url ...) as JSON.
    pub config: Value,
    /// Starts at 1; every update adds 1. Records keep the version they ran with.
    pub version: i64,
    /// Whether it takes new sessions (`scene_versions.rs`).
    #[serde(default)]
    pub status: SceneStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last updated.
    pub updated_at: DateTime<Utc>,
}

/// What it takes to create a scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewScene {
    /// Code unique within the tenant.
    pub code: String,
    /// Display name.
    pub name: String,
    /// The rules as JSON.
    pub config: Value,
}

/// A change to a scene; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SceneUpdate {
    /// New display name.
    pub name: Option<String>,
    /// New rules.
    pub config: Option<Value>,
    /// When set, the update applies only if the scene is still at this version (else
    /// `Conflict { constraint: "scenes_version" }`): two admins cannot overwrite each other.
    pub expected_version: Option<i64>,
}

/// Where a record is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Created, the user has not started.
    Pending,
    /// Frames are flowing.
    Running,
    /// Ended with a verdict.
    Finished,
    /// Ended without a verdict (error, abandoned).
    Failed,
    /// Not finished in time.
    Expired,
}

impl RecordStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Pending => "pending",
            RecordStatus::Running => "running",
            RecordStatus::Finished => "finished",
            RecordStatus::Failed => "failed",
            RecordStatus::Expired => "expired",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "pending" => RecordStatus::Pending,
            "running" => RecordStatus::Running,
            "finished" => RecordStatus::Finished,
            "failed" => RecordStatus::Failed,
            "expired" => RecordStatus::Expired,
            other => {
                return Err(StoreError::Backend(format!(
                    "unknown record status {other:?}"
                )))
            }
        })
    }
}

/// The liveness decision of a finished record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A live person.
    Pass,
    /// An attack or a failed challenge.
    Fail,
    /// Not enough evidence either way.
    Inconclusive,
}

impl Verdict {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "pass" => Verdict::Pass,
            "fail" => Verdict::Fail,
            "inconclusive" => Verdict::Inconclusive,
            other => return Err(StoreError::Backend(format!("unknown verdict {other:?}"))),
        })
    }
}

/// One liveness session's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Its identifier.
    pub id: RecordId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// The scene it ran under.
    pub scene_id: SceneId,
    /// The scene's version at the time.
    pub scene_version: i64,
    /// The session, unique within the tenant.
    pub session_id: Uuid,
    /// The integrator's business id.
    pub biz_id: String,
    /// The API app that created it (none for console tests).
    pub app_id: Option<String>,
    /// Where it is in its life.
    pub status: RecordStatus,
    /// The decision, once finished.
    pub verdict: Option<Verdict>,
    /// Why (reason codes), as JSON.
    pub reasons: Value,
    /// Per-signal scores, as JSON.
    pub scores: Value,
    /// What the client reported (user agent, capabilities), as JSON.
    pub client: Value,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

/// What it takes to create a record; it starts with no verdict, `[]` reasons and `{}` scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRecord {
    /// The scene it runs under (of the same tenant).
    pub scene_id: SceneId,
    /// The scene's version.
    pub scene_version: i64,
    /// The session, unique within the tenant.
    pub session_id: Uuid,
    /// The integrator's business id.
    pub biz_id: String,
    /// The API app.
    pub app_id: Option<String>,
    /// Initial status (usually `Pending`).
    pub status: RecordStatus,
    /// What the client reported.
    pub client: Value,
}

/// How a record ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordOutcome {
    /// Final status (`Finished`, `Failed`, `Expired`).
    pub status: RecordStatus,
    /// The decision, if there is one.
    pub verdict: Option<Verdict>,
    /// Reason codes.
    pub reasons: Value,
    /// Per-signal scores.
    pub scores: Value,
}

/// A page of a list: newest first, `limit` rows after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Rows to skip.
    pub offset: u32,
    /// Rows to return, 1..=[`Page::MAX_LIMIT`].
    pub limit: u32,
}

impl Page {
    /// The largest page.
    pub const MAX_LIMIT: u32 = 500;

    /// The first `limit` rows.
    pub fn first(limit: u32) -> Self {
        Self { offset: 0, limit }
    }

    pub(crate) fn check(self) -> Result<Self, StoreError> {
        if (1..=Self::MAX_LIMIT).contains(&self.limit) {
            Ok(self)
        } else {
            Err(StoreError::Invalid(format!(
                "page limit must be between 1 and {} (got {})",
                Self::MAX_LIMIT,
                self.limit
            )))
        }
    }
}

/// Why a store call failed. Backends translate their own errors into these once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No such row, or not in the caller's tenant.
    #[error("{entity} not found")]
    NotFound {
        /// What was looked for: `tenant`, `scene`, `record`.
        entity: &'static str,
    },
    /// A unique constraint or a version check refused the write. The name is ours
    /// (`tenants_code_key`, `scenes_tenant_id_code_key`, `records_tenant_id_session_id_key`,
    /// `scenes_version`), the same on every backend.
    #[error("conflicts with an existing row ({constraint})")]
    Conflict {
        /// The constraint's name.
        constraint: String,
    },
    /// The database cannot be reached now (pool timeout, connection refused, busy).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The request breaks a rule (a bad page size, a reference to a row that is not there).
    #[error("invalid request to the store: {0}")]
    Invalid(String),
    /// The database has migrations this binary does not know: it was upgraded by a newer build.
    #[error(
        "database schema is at version {found}, newer than this build knows ({supported}): run a newer livegate"
    )]
    SchemaTooNew {
        /// The highest version in the database.
        found: i64,
        /// The highest version this build has.
        supported: i64,
    },
    /// Anything else the backend reported; logged, never shown to a client.
    #[error("store backend: {0}")]
    Backend(String),
}

/// The storage of a node. Every scene and record call takes the tenant and never sees another's.
///
/// Each area beyond tenants, scenes and records is a trait of its own (`apps.rs`, ...) with its
/// implementation in `sqlite/<area>.rs` and `postgres/<area>.rs`.
#[async_trait]
pub trait Store:
    AppStore
    + SigningKeyStore
    + CallbackStore
    + SessionStore
    + RecordSearchStore
    + SceneVersionStore
    + SystemStore
    + AdminStore
    + Send
    + Sync
{
    /// Which backend this is.
    fn backend(&self) -> StoreBackend;

    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Applies the migrations the database lacks, in one transaction; returns what it applied
    /// (empty when up to date). Refuses a database newer than this build.
    async fn migrate(&self) -> Result<Vec<AppliedMigration>, StoreError>;

    /// Creates a tenant; `Conflict { constraint: "tenants_code_key" }` if the code is taken.
    async fn create_tenant(&self, new: &NewTenant) -> Result<Tenant, StoreError>;

    /// A tenant by id.
    async fn tenant(&self, id: TenantId) -> Result<Tenant, StoreError>;

    /// A tenant by code.
    async fn tenant_by_code(&self, code: &str) -> Result<Tenant, StoreError>;

    /// Every tenant, by code.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;

    /// Creates a scene at version 1; `Conflict { constraint: "scenes_tenant_id_code_key" }` if
    /// the tenant already has the code.
    async fn create_scene(&self, tenant: TenantId, new: &NewScene) -> Result<Scene, StoreError>;

    /// A scene of the tenant by id.
    async fn scene(&self, tenant: TenantId, id: SceneId) -> Result<Scene, StoreError>;

    /// A scene of the tenant by code.
    async fn scene_by_code(&self, tenant: TenantId, code: &str) -> Result<Scene, StoreError>;

    /// The tenant's scenes, by code.
    async fn list_scenes(&self, tenant: TenantId) -> Result<Vec<Scene>, StoreError>;

    /// Applies the update and adds one to the version; returns the scene as it is now.
    async fn update_scene(
        &self,
        tenant: TenantId,
        code: &str,
        update: &SceneUpdate,
    ) -> Result<Scene, StoreError>;

    /// Inserts a record for the tenant; the scene must be the tenant's (else `Invalid`), the
    /// session unique in the tenant (else `Conflict { constraint:
    /// "records_tenant_id_session_id_key" }`).
    async fn insert_record(&self, tenant: TenantId, new: &NewRecord) -> Result<Record, StoreError>;

    /// A record of the tenant.
    async fn record(&self, tenant: TenantId, id: RecordId) -> Result<Record, StoreError>;

    /// The tenant's records, newest first.
    async fn list_records(&self, tenant: TenantId, page: Page) -> Result<Vec<Record>, StoreError>;

    /// Sets the outcome and `finished_at` of a record of the tenant.
    async fn finish_record(
        &self,
        tenant: TenantId,
        id: RecordId,
        outcome: &RecordOutcome,
    ) -> Result<Record, StoreError>;
}

/// Opens the configured backend (the embedded store's file, or the PostgreSQL pool). Does not
/// migrate.
pub async fn open(config: &Config) -> Result<Arc<dyn Store>, StoreError> {
    match config.store.backend {
        StoreBackend::Embedded => {
            let store = sqlite::SqliteStore::open(&config.embedded_db_path()).await?;
            Ok(Arc::new(store))
        }
        StoreBackend::Postgres => {
            let url = config.store.url.as_ref().ok_or_else(|| {
                StoreError::Invalid("store.url is required for the postgres backend".into())
            })?;
            let pg_config: tokio_postgres::Config = url
                .expose()
                .parse()
                .map_err(|_| StoreError::Invalid("store.url is not a valid postgres url".into()))?;
            let store = postgres::PgStore::connect(
                pg_config,
                config.store.pool_size,
                Duration::from_secs(config.store.connect_timeout_secs),
            )?;
            Ok(Arc::new(store))
        }
    }
}

// The column lists both backends select and return, in the order their row readers expect.
const TENANT_COLUMNS: &str = "id, code, name, parent_id, created_at";
const SCENE_COLUMNS: &str =
    "id, tenant_id, code, name, config, version, created_at, updated_at, status";
const RECORD_COLUMNS: &str = "id, tenant_id, scene_id, scene_version, session_id, biz_id, app_id, \
     status, verdict, reasons, scores, client, created_at, finished_at";

/// A row the query did not find becomes `NotFound` for `entity`.
fn found<T>(row: Option<T>, entity: &'static str) -> Result<T, StoreError> {
    row.ok_or(StoreError::NotFound { entity })
}

/// Now, cut to whole microseconds: what both backends can store exactly.
pub(crate) fn now_micros() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}
