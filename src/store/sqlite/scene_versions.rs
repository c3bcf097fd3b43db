//! SceneVersionStore on sqlite: the scene and its version row in one immediate transaction.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{
    conversion, get_json, get_time, get_uuid, json_text, map_err, scene_by_code, text_time,
    BadText, SqliteStore,
};
use crate::store::scene_versions::{
    SceneStatus, SceneVersion, SceneVersionStore, SCENE_VERSION_COLUMNS,
};
use crate::store::{
    found, now_micros, NewScene, Scene, SceneId, SceneUpdate, StoreError, TenantId,
};

fn version_row(row: &Row<'_>) -> rusqlite::Result<SceneVersion> {
    Ok(SceneVersion {
        tenant_id: TenantId(get_uuid(row, 0)?),
        scene_id: SceneId(get_uuid(row, 1)?),
        version: row.get(2)?,
        name: row.get(3)?,
        config: get_json(row, 4)?,
        created_by: row.get(5)?,
        created_at: get_time(row, 6)?,
    })
}

/// Reads a scene's stored status text.
pub(super) fn get_status(row: &Row<'_>, index: usize) -> rusqlite::Result<SceneStatus> {
    let text: String = row.get(index)?;
    SceneStatus::parse(&text).map_err(|err| conversion(index, BadText(err)))
}

/// Writes the scene's current version into `scene_versions` (inside the caller's transaction).
fn record_version(
    conn: &Connection,
    scene: &Scene,
    author: Option<&str>,
) -> Result<(), StoreError> {
    conn.execute(
        &format!(
            "INSERT INTO scene_versions ({SCENE_VERSION_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ),
        params![
            scene.tenant_id.to_string(),
            scene.id.to_string(),
            scene.version,
            scene.name,
            json_text(&scene.config),
            author,
            text_time(scene.updated_at)
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl SceneVersionStore for SqliteStore {
    async fn create_scene_by(
        &self,
        tenant: TenantId,
        new: &NewScene,
        author: Option<&str>,
    ) -> Result<Scene, StoreError> {
        let now = now_micros();
        let scene = Scene {
            id: SceneId::new(),
            tenant_id: tenant,
            code: new.code.clone(),
            name: new.name.clone(),
            config: new.config.clone(),
            version: 1,
            status: SceneStatus::Active,
            created_at: now,
            updated_at: now,
        };
        let author = author.map(str::to_owned);
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            tx.execute(
                "INSERT INTO scenes (id, tenant_id, code, name, config, version, created_at, \
                 updated_at, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    scene.id.to_string(),
                    scene.tenant_id.to_string(),
                    scene.code,
                    scene.name,
                    json_text(&scene.config),
                    scene.version,
                    text_time(scene.created_at),
                    text_time(scene.updated_at),
                    scene.status.as_str()
                ],
            )
            .map_err(map_err)?;
            record_version(&tx, &scene, author.as_deref())?;
            tx.commit().map_err(map_err)?;
            Ok(scene)
        })
        .await
    }

    async fn update_scene_by(
        &self,
        tenant: TenantId,
        code: &str,
        update: &SceneUpdate,
        author: Option<&str>,
    ) -> Result<Scene, StoreError> {
        let code = code.to_owned();
        let update = update.clone();
        let author = author.map(str::to_owned);
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let current = scene_by_code(&tx, tenant, &code)?;
            if let Some(expected) = update.expected_version {
                if expected != current.version {
                    return Err(StoreError::Conflict {
                        constraint: "scenes_version".into(),
                    });
                }
            }
            tx.execute(
                "UPDATE scenes SET name = ?1, config = ?2, version = version + 1, updated_at = ?3 \
                 WHERE tenant_id = ?4 AND id = ?5",
                params![
                    update.name.as_ref().unwrap_or(&current.name),
                    json_text(update.config.as_ref().unwrap_or(&current.config)),
                    text_time(now_micros()),
                    tenant.to_string(),
                    current.id.to_string()
                ],
            )
            .map_err(map_err)?;
            let scene = scene_by_code(&tx, tenant, &code)?;
            record_version(&tx, &scene, author.as_deref())?;
            tx.commit().map_err(map_err)?;
            Ok(scene)
        })
        .await
    }

    async fn scene_versions(
        &self,
        tenant: TenantId,
        code: &str,
    ) -> Result<Vec<SceneVersion>, StoreError> {
        let code = code.to_owned();
        self.call(move |conn| {
            let scene = scene_by_code(conn, tenant, &code)?;
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {SCENE_VERSION_COLUMNS} FROM scene_versions \
                     WHERE tenant_id = ?1 AND scene_id = ?2 ORDER BY version DESC"
                ))
                .map_err(map_err)?;
            let rows = stmt
                .query_map(
                    params![tenant.to_string(), scene.id.to_string()],
                    version_row,
                )
                .map_err(map_err)?;
            rows.collect::<Result<_, _>>().map_err(map_err)
        })
        .await
    }

    async fn scene_version(
        &self,
        tenant: TenantId,
        code: &str,
        version: i64,
    ) -> Result<SceneVersion, StoreError> {
        let code = code.to_owned();
        self.call(move |conn| {
            let scene = scene_by_code(conn, tenant, &code)?;
            let row = conn
                .query_row(
                    &format!(
                        "SELECT {SCENE_VERSION_COLUMNS} FROM scene_versions \
                         WHERE tenant_id = ?1 AND scene_id = ?2 AND version = ?3"
                    ),
                    params![tenant.to_string(), scene.id.to_string(), version],
                    version_row,
                )
                .optional()
                .map_err(map_err)?;
            found(row, "scene_version")
        })
        .await
    }

    async fn set_scene_status(
        &self,
        tenant: TenantId,
        code: &str,
        status: SceneStatus,
    ) -> Result<Scene, StoreError> {
        let code = code.to_owned();
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE scenes SET status = ?1, updated_at = ?2 \
                     WHERE tenant_id = ?3 AND code = ?4",
                    params![
                        status.as_str(),
                        text_time(now_micros()),
                        tenant.to_string(),
                        code
                    ],
                )
                .map_err(map_err)?;
            if changed == 0 {
                return Err(StoreError::NotFound { entity: "scene" });
            }
            scene_by_code(conn, tenant, &code)
        })
        .await
    }
}
