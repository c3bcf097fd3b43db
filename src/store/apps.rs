//! API apps (an integrator's credentials) and the nonces their signed requests have used.
//!
//! An app belongs to one tenant, but it is looked up by its id alone ([`AppStore::app`]):
//! authentication comes before the tenant is known, and the id is what tells it. Every other
//! call takes the tenant. The secret is stored sealed under the master key (`src/secrets.rs`),
//! never in clear.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{StoreError, TenantId};

/// The prefix of every app id.
pub const APP_ID_PREFIX: &str = "lgapp_";

/// How many random base32 characters follow the prefix (100 bits).
const APP_ID_RANDOM_CHARS: usize = 20;

/// RFC 4648 base32, lower-case: easy to read aloud and to paste, no `0`/`O` or `1`/`l` mix-up.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The conflict `use_nonce` reports for a nonce seen before.
pub const NONCE_CONSTRAINT: &str = "api_nonces_pkey";

/// An app's id: `lgapp_` and 20 base32 characters (`lgapp_k3q...`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppId(String);

impl AppId {
    /// A new random id.
    pub fn generate() -> Self {
        Self(format!(
            "{APP_ID_PREFIX}{}",
            random_base32(APP_ID_RANDOM_CHARS)
        ))
    }

    /// Wraps text that has the shape of an app id; `None` otherwise (so a header full of junk
    /// never reaches the store).
    pub fn parse(text: &str) -> Option<Self> {
        let random = text.strip_prefix(APP_ID_PREFIX)?;
        let well_formed =
            random.len() == APP_ID_RANDOM_CHARS && random.bytes().all(|b| BASE32.contains(&b));
        well_formed.then(|| Self(text.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `len` random characters of lower-case base32 (from the thread's CSPRNG).
pub fn random_base32(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(BASE32[rng.random_range(0..BASE32.len())]))
        .collect()
}

/// Whether an app may call the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppStatus {
    /// Its requests are accepted.
    Active,
    /// Its requests are refused (`APP_UNKNOWN`), its rows kept.
    Disabled,
}

impl AppStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            AppStatus::Active => "active",
            AppStatus::Disabled => "disabled",
        }
    }

    /// Parses the stored text.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "active" => Ok(AppStatus::Active),
            "disabled" => Ok(AppStatus::Disabled),
            other => Err(StoreError::Backend(format!("unknown app status {other:?}"))),
        }
    }
}

/// An API app.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    /// Its id.
    pub app_id: AppId,
    /// The tenant it acts for.
    pub tenant_id: TenantId,
    /// Display name.
    pub name: String,
    /// The secret, sealed with the master key (aad `app-secret:<app_id>`).
    pub secret_sealed: Vec<u8>,
    /// Whether it may call.
    pub status: AppStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

// By hand: the sealed secret is not for logs, even sealed.
impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("app_id", &self.app_id)
            .field("tenant_id", &self.tenant_id)
            .field("name", &self.name)
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// What it takes to create an app. The caller picks the id because the sealed secret is bound
/// to it.
#[derive(Clone, PartialEq, Eq)]
pub struct NewApp {
    /// Its id ([`AppId::generate`]).
    pub app_id: AppId,
    /// Display name.
    pub name: String,
    /// The sealed secret.
    pub secret_sealed: Vec<u8>,
}

/// Storage of API apps and request nonces.
#[async_trait]
pub trait AppStore: Send + Sync {
    /// Creates an active app of the tenant; `Conflict { constraint: "apps_pkey" }` if the id is
    /// taken, `Invalid` if the tenant does not exist.
    async fn create_app(&self, tenant: TenantId, new: &NewApp) -> Result<App, StoreError>;

    /// An app by id, whatever its tenant: authentication looks the app up before it knows the
    /// tenant. `NotFound { entity: "app" }` when there is none.
    async fn app(&self, app_id: &AppId) -> Result<App, StoreError>;

    /// The tenant's apps, oldest first.
    async fn list_apps(&self, tenant: TenantId) -> Result<Vec<App>, StoreError>;

    /// Enables or disables an app of the tenant; returns it as it is now.
    async fn set_app_status(
        &self,
        tenant: TenantId,
        app_id: &AppId,
        status: AppStatus,
    ) -> Result<App, StoreError>;

    /// Records that the app used `nonce`, remembered until `expires_at`.
    /// `Conflict { constraint: "api_nonces_pkey" }` when the app used it before and it has not
    /// expired yet (an expired one may be used again).
    async fn use_nonce(
        &self,
        app_id: &AppId,
        nonce: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Deletes the nonces that expired before `before`; returns how many.
    async fn prune_nonces(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// The column list both backends select, in the order their row readers expect.
pub(crate) const APP_COLUMNS: &str = "app_id, tenant_id, name, secret_sealed, status, created_at";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_junk_does_not() {
        let id = AppId::generate();
        assert!(id.as_str().starts_with("lgapp_"));
        assert_eq!(id.as_str().len(), 26);
        assert_eq!(AppId::parse(id.as_str()), Some(id.clone()));
        assert_ne!(AppId::generate(), id);
        for junk in [
            "",
            "lgapp_",
            "lgapp_ABCDEFGHIJKLMNOPQRST",
            "lgapp_abcdefghijklmnopqrs1",
            "xxapp_abcdefghijklmnopqrst",
            "lgapp_abcdefghijklmnopqrstu",
        ] {
            assert_eq!(AppId::parse(junk), None, "{junk}");
        }
    }
}
