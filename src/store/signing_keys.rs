//! The keys that sign results (ES256), with their rotation.
//!
//! The keys are the node's, not a tenant's: one key signs every tenant's results, and every
//! node of a cluster reads the same rows, so all sign with the same current key and serve the
//! same JWKS. At most one key is current (`retired_at` unset): a unique index holds the rule, and
//! rotation retires the current key only if it is still current, so two nodes rotating at once
//! cannot leave two current keys; the loser gets a `Conflict` and takes the winner's key.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::StoreError;

/// The conflict reported when another key became current first.
pub const CURRENT_KEY_CONSTRAINT: &str = "signing_keys_one_current";

/// A result-signing key as stored.
#[derive(Clone, PartialEq)]
pub struct SigningKey {
    /// Its key id (the JWS header's `kid`).
    pub kid: String,
    /// The PKCS#8 DER private key, sealed with the master key (aad `signing-key:<kid>`).
    pub private_sealed: Vec<u8>,
    /// The public key as a JWK (`kty`, `crv`, `x`, `y`, `kid`, `alg`, `use`).
    pub public_jwk: Value,
    /// When it was made (and became current).
    pub created_at: DateTime<Utc>,
    /// When a newer key replaced it; `None` while it is current.
    pub retired_at: Option<DateTime<Utc>>,
}

// By hand: even sealed, private key bytes stay out of logs.
impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("public_jwk", &self.public_jwk)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// What it takes to add a key.
#[derive(Clone, PartialEq)]
pub struct NewSigningKey {
    /// Its key id.
    pub kid: String,
    /// The sealed private key.
    pub private_sealed: Vec<u8>,
    /// The public JWK.
    pub public_jwk: Value,
}

/// Storage of result-signing keys.
#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// Adds `new` as the current key at `now`. With `retire: Some(kid)`, first retires that key,
    /// which must still be current; with `None`, there must be no current key. Either way, when
    /// another key is current the whole call changes nothing and answers
    /// `Conflict { constraint: "signing_keys_one_current" }`.
    async fn add_signing_key(
        &self,
        new: &NewSigningKey,
        retire: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SigningKey, StoreError>;

    /// The current key and the keys retired after `retired_after`, newest first.
    async fn signing_keys(
        &self,
        retired_after: DateTime<Utc>,
    ) -> Result<Vec<SigningKey>, StoreError>;
}

/// `time` cut to whole microseconds, what both backends store exactly.
pub(crate) fn to_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(time.timestamp_micros()).unwrap_or(time)
}

/// The column list both backends select, in the order their row readers expect.
pub(crate) const SIGNING_KEY_COLUMNS: &str =
    "kid, private_sealed, public_jwk, created_at, retired_at";
