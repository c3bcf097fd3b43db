//! SceneVersionStore on postgres: the scene and its version row written by one statement (a
//! data-modifying CTE), so they commit together and a concurrent update cannot slip between.

use async_trait::async_trait;
use tokio_postgres::Row;

use super::{column, scene_row, PgStore};
use crate::store::scene_versions::{
    SceneStatus, SceneVersion, SceneVersionStore, SCENE_VERSION_COLUMNS,
};
use crate::store::{
    found, now_micros, NewScene, Scene, SceneId, SceneUpdate, Store, StoreError, TenantId,
    SCENE_COLUMNS,
};

fn version_row(row: &Row) -> Result<SceneVersion, StoreError> {
    Ok(SceneVersion {
        tenant_id: TenantId(column(row, "tenant_id")?),
        scene_id: SceneId(column(row, "scene_id")?),
        version: column(row, "version")?,
        name: column(row, "name")?,
        config: column(row, "config")?,
        created_by: column(row, "created_by")?,
        created_at: column(row, "created_at")?,
    })
}

/// Reads a scene's stored status text.
pub(super) fn status_column(row: &Row) -> Result<SceneStatus, StoreError> {
    SceneStatus::parse(&column::<String>(row, "status")?)
}

/// The tail of a statement whose CTE `s` returned the written scene: records `s` as a version
/// (`$author` is the given parameter) and returns the scene.
fn and_record_version(author: &str) -> String {
    format!(
        ", v AS (INSERT INTO scene_versions ({SCENE_VERSION_COLUMNS}) \
         SELECT tenant_id, id, version, name, config, {author}::text, updated_at FROM s) \
         SELECT {SCENE_COLUMNS} FROM s"
    )
}

#[async_trait]
impl SceneVersionStore for PgStore {
    async fn create_scene_by(
        &self,
        tenant: TenantId,
        new: &NewScene,
        author: Option<&str>,
    ) -> Result<Scene, StoreError> {
        self.query_one(
            &format!(
                "WITH s AS (INSERT INTO scenes (id, tenant_id, code, name, config, version, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $6) \
                 RETURNING {SCENE_COLUMNS}){}",
                and_record_version("$7")
            ),
            &[
                &SceneId::new().0,
                &tenant.0,
                &new.code,
                &new.name,
                &new.config,
                &now_micros(),
                &author,
            ],
            scene_row,
        )
        .await
    }

    async fn update_scene_by(
        &self,
        tenant: TenantId,
        code: &str,
        update: &SceneUpdate,
        author: Option<&str>,
    ) -> Result<Scene, StoreError> {
        // One statement: the version check, the increment and the version row cannot
        // interleave with another update.
        let updated = self
            .query_opt(
                &format!(
                    "WITH s AS (UPDATE scenes SET name = COALESCE($3::text, name), \
                     config = COALESCE($4::jsonb, config), version = version + 1, \
                     updated_at = $5 \
                     WHERE tenant_id = $1 AND code = $2 AND ($6::bigint IS NULL OR version = $6) \
                     RETURNING {SCENE_COLUMNS}){}",
                    and_record_version("$7")
                ),
                &[
                    &tenant.0,
                    &code,
                    &update.name,
                    &update.config,
                    &now_micros(),
                    &update.expected_version,
                    &author,
                ],
                scene_row,
            )
            .await?;
        match updated {
            Some(scene) => Ok(scene),
            None => {
                // Either there is no such scene, or its version moved on.
                Store::scene_by_code(self, tenant, code).await?;
                Err(StoreError::Conflict {
                    constraint: "scenes_version".into(),
                })
            }
        }
    }

    async fn scene_versions(
        &self,
        tenant: TenantId,
        code: &str,
    ) -> Result<Vec<SceneVersion>, StoreError> {
        let scene = Store::scene_by_code(self, tenant, code).await?;
        self.query(
            &format!(
                "SELECT {SCENE_VERSION_COLUMNS} FROM scene_versions \
                 WHERE tenant_id = $1 AND scene_id = $2 ORDER BY version DESC"
            ),
            &[&tenant.0, &scene.id.0],
            version_row,
        )
        .await
    }

    async fn scene_version(
        &self,
        tenant: TenantId,
        code: &str,
        version: i64,
    ) -> Result<SceneVersion, StoreError> {
        let scene = Store::scene_by_code(self, tenant, code).await?;
        let row = self
            .query_opt(
                &format!(
                    "SELECT {SCENE_VERSION_COLUMNS} FROM scene_versions \
                     WHERE tenant_id = $1 AND scene_id = $2 AND version = $3"
                ),
                &[&tenant.0, &scene.id.0, &version],
                version_row,
            )
            .await?;
        found(row, "scene_version")
    }

    async fn set_scene_status(
        &self,
        tenant: TenantId,
        code: &str,
        status: SceneStatus,
    ) -> Result<Scene, StoreError> {
        let row = self
            .query_opt(
                &format!(
                    "UPDATE scenes SET status = $1, updated_at = $2 \
                     WHERE tenant_id = $3 AND code = $4 RETURNING {SCENE_COLUMNS}"
                ),
                &[&status.as_str(), &now_micros(), &tenant.0, &code],
                scene_row,
            )
            .await?;
        found(row, "scene")
    }
}
