//! Signed results: a compact JWS (ES256) over a session's result, which integrators verify
//! offline with the keys at `/.well-known/jwks.json`.
//!
//! The keys live in the store (`signing_keys`), private halves sealed with the master key, so
//! every node signs with the same current key and serves the same JWKS. A key is current for
//! `signing.rotate_days`; then [`ResultSigner::rotate_if_due`] makes a new one and the old one
//! stays in the JWKS for `signing.overlap_days`, so results signed just before still verify.
//! Two nodes rotating at once cannot make two current keys: the store refuses the second
//! (`signing_keys_one_current`) and that node takes the winner's key.
//!
//! Crates: p256 makes the keys (PKCS#8 DER); jsonwebtoken (pure-Rust backend) writes the JWS —
//! the same crate integrators' Rust verifiers use, so our tests verify with it, not with our code.
//!
//! ```text
//! start ─ store.signing_keys ─┬─ none current: make one (add_signing_key, retire: None)
//!                             └─ current older than rotate_after: rotate (retire: Some(kid))
//! sign(claims) ─ current key in memory ─ jsonwebtoken::encode (ES256, kid, typ JWT)
//! rotate_if_due(now), every minute ─ same as start; also drops keys past the overlap
//! ```

use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use serde_json::{json, Value};

use crate::config::SigningConfig;
use crate::secrets::{MasterKey, SecretsError};
use crate::store::apps::random_base32;
use crate::store::signing_keys::CURRENT_KEY_CONSTRAINT;
use crate::store::{NewSigningKey, SigningKey, Store, StoreError};

/// How often a node should call [`ResultSigner::rotate_if_due`]: it also picks up a rotation
/// another node made, so this bounds how long nodes disagree on the current key.
pub const ROTATION_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// How many times a start or a rotation retries after losing a race to another node.
const RACE_RETRIES: usize = 4;

/// When keys rotate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// A key older than this is replaced.
    pub rotate_after: chrono::Duration,
    /// A replaced key stays in the JWKS this long.
    pub overlap: chrono::Duration,
}

impl RotationPolicy {
    /// The policy of `[signing]`.
    pub fn from_config(config: &SigningConfig) -> Self {
        let days =
            |d: u64| chrono::Duration::days(i64::try_from(d).unwrap_or(i64::MAX / 86_400_000));
        Self {
            rotate_after: days(config.rotate_days),
            overlap: days(config.overlap_days),
        }
    }
}

/// Why a key could not be made, loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The store failed.
    #[error("signing keys: {0}")]
    Store(#[from] StoreError),
    /// A private key did not open (another master key?) or could not be sealed.
    #[error("signing key: {0}")]
    Secrets(#[from] SecretsError),
    /// A key could not be made or read.
    #[error("signing key: {0}")]
    Key(String),
    /// The JWS could not be written.
    #[error("jws: {0}")]
    Jws(#[from] jsonwebtoken::errors::Error),
    /// Other nodes kept rotating while this one tried to load the current key.
    #[error("signing keys: no stable current key after {RACE_RETRIES} tries")]
    Unsettled,
}

/// Signs results with the current key and serves the JWKS. `Clone` shares one state.
#[derive(Clone)]
pub struct ResultSigner {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    master: MasterKey,
    policy: RotationPolicy,
    keys: RwLock<Keys>,
}

/// The loaded keys: the current private key and the public set.
struct Keys {
    kid: String,
    encoding: EncodingKey,
    jwks: Value,
}

impl ResultSigner {
    /// Loads the current key, making one when there is none (or rotating when it is due).
    pub async fn start(
        store: Arc<dyn Store>,
        master: MasterKey,
        policy: RotationPolicy,
    ) -> Result<Self, SigningError> {
        let keys = sync(&store, &master, policy, Utc::now()).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                master,
                policy,
                keys: RwLock::new(keys),
            }),
        })
    }

    /// A compact JWS of `claims`: header `{alg: ES256, kid, typ: JWT}`.
    pub fn sign(&self, claims: &Value) -> Result<String, SigningError> {
        let keys = self
            .inner
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(keys.kid.clone());
        header.typ = Some("JWT".to_owned());
        Ok(jsonwebtoken::encode(&header, claims, &keys.encoding)?)
    }

    /// The public keys as a JWK set, `{"keys": [...]}`: the current key first, then the ones
    /// still in their overlap.
    pub fn jwks(&self) -> Value {
        let keys = self
            .inner
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        keys.jwks.clone()
    }

    /// The key id new results are signed with.
    pub fn current_kid(&self) -> String {
        let keys = self
            .inner
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        keys.kid.clone()
    }

    /// Rotates when the current key is older than the policy allows (or takes the key another
    /// node rotated to), and drops keys whose overlap ended at `now`. For a periodic job
    /// ([`ROTATION_CHECK_EVERY`]); returns whether the current key changed.
    pub async fn rotate_if_due(&self, now: DateTime<Utc>) -> Result<bool, SigningError> {
        let inner = &self.inner;
        let keys = sync(&inner.store, &inner.master, inner.policy, now).await?;
        let mut current = inner.keys.write().unwrap_or_else(PoisonError::into_inner);
        let changed = current.kid != keys.kid;
        if changed {
            tracing::info!(old = %current.kid, new = %keys.kid, "result-signing key rotated");
        }
        *current = keys;
        Ok(changed)
    }

    /// Runs [`ResultSigner::rotate_if_due`] every `every` until the task is aborted; a failure
    /// is logged and tried again at the next tick (the current key keeps signing meanwhile).
    pub fn spawn_rotation(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let signer = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                if let Err(err) = signer.rotate_if_due(Utc::now()).await {
                    tracing::warn!(error = %err, "result-signing key check failed");
                }
            }
        })
    }
}

/// The associated data of a signing key's sealed private key.
pub fn signing_key_aad(kid: &str) -> String {
    format!("signing-key:{kid}")
}

/// Reads the keys in force at `now`, making the first key or rotating the current one when due;
/// retries when another node won a race.
async fn sync(
    store: &Arc<dyn Store>,
    master: &MasterKey,
    policy: RotationPolicy,
    now: DateTime<Utc>,
) -> Result<Keys, SigningError> {
    for _ in 0..RACE_RETRIES {
        let in_force = store.signing_keys(now - policy.overlap).await?;
        let current = in_force.iter().find(|key| key.retired_at.is_none());
        let retire = match current {
            Some(key) if now - key.created_at < policy.rotate_after => {
                return loaded(key, &in_force, master);
            }
            Some(key) => Some(key.kid.as_str()),
            None => None,
        };
        let new = generate(master, now)?;
        match store.add_signing_key(&new, retire, now).await {
            // Read again rather than use `new`: the list drops what the overlap ended.
            Ok(_) => continue,
            // Another node made or rotated the key first: take theirs.
            Err(StoreError::Conflict { constraint }) if constraint == CURRENT_KEY_CONSTRAINT => {
                continue
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(SigningError::Unsettled)
}

/// The current key opened, and the JWKS of every key in force.
fn loaded(
    current: &SigningKey,
    in_force: &[SigningKey],
    master: &MasterKey,
) -> Result<Keys, SigningError> {
    let der = master.open(&current.private_sealed, &signing_key_aad(&current.kid))?;
    Ok(Keys {
        kid: current.kid.clone(),
        encoding: EncodingKey::from_ec_der(&der),
        // The current key first: `in_force` is newest first and only the newest is current.
        jwks: json!({ "keys": in_force.iter().map(|k| k.public_jwk.clone()).collect::<Vec<_>>() }),
    })
}

/// A new P-256 key: its kid, sealed PKCS#8 DER and public JWK.
fn generate(master: &MasterKey, now: DateTime<Utc>) -> Result<NewSigningKey, SigningError> {
    // 32 random bytes are a valid scalar but with a chance of about 2^-128; retry then.
    let secret = (0..8)
        .find_map(|_| p256::SecretKey::from_slice(&rand::random::<[u8; 32]>()).ok())
        .ok_or_else(|| SigningError::Key("no valid P-256 scalar drawn".into()))?;
    let der = secret
        .to_pkcs8_der()
        .map_err(|err| SigningError::Key(format!("pkcs8: {err}")))?;
    let point = secret.public_key().to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(SigningError::Key("public key has no coordinates".into()));
    };
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    // The date tells an operator how old a key is at a glance; the random part keeps two nodes'
    // keys of the same day apart.
    let kid = format!("{}-{}", now.format("%Y%m%d"), random_base32(8));
    let public_jwk = json!({
        "kty": "EC",
        "crv": "P-256",
        "x": b64(x),
        "y": b64(y),
        "kid": kid,
        "use": "sig",
        "alg": "ES256",
    });
    let private_sealed = master.seal(der.as_bytes(), &signing_key_aad(&kid))?;
    Ok(NewSigningKey {
        kid,
        private_sealed,
        public_jwk,
    })
}
