//! Where a callback's signing secret comes from.
//!
//! Today it is in the scene's rules, `scene.config["callback"]["secret"]` (the url, from
//! `scenes::SceneRules::callback`, is written into the callback at enqueue). The worker asks a [`CallbackSecrets`] at every try (not
//! at enqueue), so a rotated secret applies to pending retries and no secret is copied into the
//! outbox; sealed secrets can replace [`SceneConfigSecrets`] without touching the worker.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::secrets::MasterKey;
use crate::store::{SceneId, Store, StoreError, TenantId};

/// A callback signing secret. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct CallbackSecret(Vec<u8>);

impl CallbackSecret {
    /// Wraps the secret's bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The bytes, for the HMAC only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for CallbackSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallbackSecret(***)")
    }
}

/// Why no secret came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// There is none (the scene is gone, or has no `callback.secret`): the callback cannot be
    /// signed and is given up. The text says what to fix and becomes the callback's
    /// `last_error`.
    #[error("{0}")]
    Missing(String),
    /// The lookup failed for now (the store is down): the callback is tried again later.
    #[error("callback secret lookup failed: {0}")]
    Unavailable(String),
}

/// Finds the secret that signs a scene's callbacks.
#[async_trait]
pub trait CallbackSecrets: Send + Sync {
    /// The secret of the tenant's scene.
    async fn callback_secret(
        &self,
        tenant: TenantId,
        scene: SceneId,
    ) -> Result<CallbackSecret, SecretError>;
}

/// The secret in the scene's rules, `config.callback.secret` (a non-empty string, sealed at
/// rest: `crate::scene_secrets`).
#[derive(Clone)]
pub struct SceneConfigSecrets {
    store: Arc<dyn Store>,
    master: MasterKey,
}

impl SceneConfigSecrets {
    /// Reads scenes from `store`, opening their secrets with `master`.
    pub fn new(store: Arc<dyn Store>, master: MasterKey) -> Self {
        Self { store, master }
    }
}

#[async_trait]
impl CallbackSecrets for SceneConfigSecrets {
    async fn callback_secret(
        &self,
        tenant: TenantId,
        scene: SceneId,
    ) -> Result<CallbackSecret, SecretError> {
        let scene = match self.store.scene(tenant, scene).await {
            Ok(scene) => scene,
            Err(StoreError::NotFound { .. }) => {
                return Err(SecretError::Missing(format!(
                    "no callback secret: scene {scene} no longer exists"
                )))
            }
            Err(err) => return Err(SecretError::Unavailable(err.to_string())),
        };
        let config = crate::scene_secrets::open(&scene.config, &self.master).map_err(|err| {
            SecretError::Unavailable(format!("scene {:?}'s secrets: {err}", scene.code))
        })?;
        match callback_field(&config, "secret") {
            Some(secret) => Ok(CallbackSecret::new(secret.as_bytes())),
            None => Err(SecretError::Missing(format!(
                "no callback secret: scene {:?} has no callback.secret in its config",
                scene.code
            ))),
        }
    }
}

/// A non-empty string field of `config.callback`, as written (a secret is never trimmed).
fn callback_field<'a>(config: &'a Value, name: &str) -> Option<&'a str> {
    config
        .get("callback")?
        .get(name)?
        .as_str()
        .filter(|text| !text.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_secret_comes_from_the_callback_object_as_written() {
        let config = json!({"callback": {"url": "https://biz.example/cb", "secret": " s "}});
        assert_eq!(callback_field(&config, "secret"), Some(" s "));
        assert_eq!(callback_field(&json!({}), "secret"), None);
        assert_eq!(
            callback_field(&json!({"callback": {"secret": ""}}), "secret"),
            None
        );
        assert_eq!(
            callback_field(&json!({"callback": {"secret": 3}}), "secret"),
            None
        );
    }

    #[test]
    fn a_secret_never_shows_in_debug() {
        let secret = CallbackSecret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "CallbackSecret(***)");
        assert_eq!(secret.expose(), b"hunter2");
    }
}
