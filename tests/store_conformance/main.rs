//! The storage conformance suite: every test here is written once and runs on both backends.
//!
//! - embedded (SQLite): a fresh file in a temporary folder per test;
//! - PostgreSQL: `LIVEGATE_TEST_PG_URL` (e.g. postgres://postgres@127.0.0.1:5432/test); each test
//!   gets its own schema (random name) through the pool's `search_path`, dropped at the end.
//!   Unset: the PostgreSQL tests print "skipped: ..." and pass; set but unreachable: they fail.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use livegate::store::postgres::PgStore;
use livegate::store::sqlite::SqliteStore;
use livegate::store::{
    NewRecord, NewScene, NewTenant, Page, RecordId, RecordOutcome, RecordStatus, SceneId,
    SceneUpdate, Store, StoreError, TenantId, Verdict, DEFAULT_CODE,
};
use serde_json::json;
use uuid::Uuid;

/// A store under test and what is needed to reach around it (raw SQL, clean-up).
pub enum Fixture {
    Sqlite {
        store: Arc<dyn Store>,
        path: PathBuf,
        _dir: tempfile::TempDir,
    },
    Postgres {
        store: Arc<dyn Store>,
        admin: tokio_postgres::Client,
        schema: String,
    },
}

impl Fixture {
    fn store(&self) -> Arc<dyn Store> {
        match self {
            Fixture::Sqlite { store, .. } | Fixture::Postgres { store, .. } => Arc::clone(store),
        }
    }

    /// Runs SQL beside the store, as an operator or another build would.
    async fn exec(&self, sql: &str) {
        match self {
            Fixture::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).expect("open sqlite");
                conn.execute_batch(sql).expect("exec sqlite");
            }
            Fixture::Postgres { admin, schema, .. } => {
                admin
                    .batch_execute(&format!("SET search_path TO {schema}; {sql}"))
                    .await
                    .expect("exec postgres");
            }
        }
    }

    async fn tear_down(&self) {
        if let Fixture::Postgres { admin, schema, .. } = self {
            admin
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await
                .expect("drop test schema");
        }
    }
}

async fn sqlite_fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data").join("livegate.db");
    let store = SqliteStore::open(&path).await.expect("open sqlite store");
    Fixture::Sqlite {
        store: Arc::new(store),
        path,
        _dir: dir,
    }
}

async fn postgres_fixture() -> Option<Fixture> {
    let Ok(url) = std::env::var("LIVEGATE_TEST_PG_URL") else {
        eprintln!("skipped: LIVEGATE_TEST_PG_URL not set");
        return None;
    };
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|err| panic!("LIVEGATE_TEST_PG_URL is set but unreachable: {err}"));
    tokio::spawn(connection);
    let schema = format!("lg_test_{}", Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create test schema");
    let mut config: tokio_postgres::Config = url.parse().expect("LIVEGATE_TEST_PG_URL parses");
    config.options(format!("-csearch_path={schema}"));
    let store = PgStore::connect(config, 4, Duration::from_secs(5)).expect("pool");
    Some(Fixture::Postgres {
        store: Arc::new(store),
        admin,
        schema,
    })
}

/// Runs a test body on a fixture, tearing it down even when the body panics.
async fn run_on<F, Fut>(fixture: Fixture, body: F)
where
    F: FnOnce(Arc<Fixture>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let fixture = Arc::new(fixture);
    let outcome = tokio::spawn(body(Arc::clone(&fixture))).await;
    fixture.tear_down().await;
    if let Err(err) = outcome {
        if err.is_panic() {
            std::panic::resume_unwind(err.into_panic());
        }
        panic!("test task failed: {err}");
    }
}

#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::run_on($crate::sqlite_fixture().await, super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(fixture) = $crate::postgres_fixture().await else { return };
                    $crate::run_on(fixture, super::$name).await;
                }
            )*
        }
    };
}

mod admin;
mod apps;
mod callbacks;
mod core;
mod record_search;
mod scene_versions;
mod scheduler;
mod sessions;
mod signing_keys;
mod system;

pub async fn migrated(fx: &Fixture) -> Arc<dyn Store> {
    let store = fx.store();
    store.migrate().await.expect("migrate");
    store
}

pub async fn tenant(store: &dyn Store, code: &str) -> TenantId {
    store
        .create_tenant(&NewTenant {
            code: code.into(),
            name: format!("{code} bank"),
            parent_id: Some(TenantId::DEFAULT),
        })
        .await
        .expect("create tenant")
        .id
}

pub async fn scene(store: &dyn Store, tenant: TenantId, code: &str) -> livegate::store::Scene {
    store
        .create_scene(
            tenant,
            &NewScene {
                code: code.into(),
                name: format!("{code} scene"),
                config: json!({ "actions": ["blink", "turn_left"] }),
            },
        )
        .await
        .expect("create scene")
}

pub fn new_record(scene: &livegate::store::Scene, biz_id: &str) -> NewRecord {
    NewRecord {
        scene_id: scene.id,
        scene_version: scene.version,
        session_id: Uuid::now_v7(),
        biz_id: biz_id.into(),
        app_id: Some("app-1".into()),
        status: RecordStatus::Pending,
        client: json!({ "ua": "Mozilla/5.0 MicroMessenger" }),
    }
}

pub fn not_found<T>(entity: &'static str) -> Result<T, StoreError> {
    Err(StoreError::NotFound { entity })
}
