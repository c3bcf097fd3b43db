//! A scene's history and whether it takes new sessions.
//!
//! Every create and every update of a scene writes a row of `scene_versions` (its number, name,
//! rules, who and when) in the same transaction as the scene itself, so the history never misses
//! a version a record may name. The rules are kept as stored: their secrets sealed
//! (`src/scene_secrets.rs`), masked wherever a version is shown. A disabled scene refuses new
//! sessions; its running sessions, versions and records stay.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{NewScene, Scene, SceneId, SceneUpdate, StoreError, TenantId};

/// Whether a scene takes new sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SceneStatus {
    /// New sessions are created under it.
    #[default]
    Active,
    /// New sessions are refused; sessions already created run to their end.
    Disabled,
}

impl SceneStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            SceneStatus::Active => "active",
            SceneStatus::Disabled => "disabled",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "active" => Ok(SceneStatus::Active),
            "disabled" => Ok(SceneStatus::Disabled),
            other => Err(StoreError::Backend(format!(
                "unknown scene status {other:?}"
            ))),
        }
    }
}

/// One version of a scene: its name and rules as they were from `created_at` on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SceneVersion {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The scene.
    pub scene_id: SceneId,
    /// Its number (1 at creation).
    pub version: i64,
    /// The display name at that version.
    pub name: String,
    /// The rules at that version, as stored (secrets sealed).
    pub config: Value,
    /// Who wrote it (an admin's user name, `cli`), `None` for versions kept from before
    /// versions were recorded.
    pub created_by: Option<String>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// Scene versions and status, on every backend (the conformance suite runs them on both).
#[async_trait]
pub trait SceneVersionStore: Send + Sync {
    /// Like `Store::create_scene`, recording `author` on version 1.
    async fn create_scene_by(
        &self,
        tenant: TenantId,
        new: &NewScene,
        author: Option<&str>,
    ) -> Result<Scene, StoreError>;

    /// Like `Store::update_scene`, recording `author` on the new version.
    async fn update_scene_by(
        &self,
        tenant: TenantId,
        code: &str,
        update: &SceneUpdate,
        author: Option<&str>,
    ) -> Result<Scene, StoreError>;

    /// The versions of the tenant's scene `code`, newest first; `NotFound { entity: "scene" }`
    /// when the tenant has no such scene.
    async fn scene_versions(
        &self,
        tenant: TenantId,
        code: &str,
    ) -> Result<Vec<SceneVersion>, StoreError>;

    /// One version of the tenant's scene `code`; `NotFound` for `scene` or `scene_version`.
    async fn scene_version(
        &self,
        tenant: TenantId,
        code: &str,
        version: i64,
    ) -> Result<SceneVersion, StoreError>;

    /// Sets whether the scene takes new sessions (the version stays: the rules did not change);
    /// returns the scene as it is now.
    async fn set_scene_status(
        &self,
        tenant: TenantId,
        code: &str,
        status: SceneStatus,
    ) -> Result<Scene, StoreError>;
}

/// The columns of `scene_versions`, in the order the row readers expect.
pub(crate) const SCENE_VERSION_COLUMNS: &str =
    "tenant_id, scene_id, version, name, config, created_by, created_at";
