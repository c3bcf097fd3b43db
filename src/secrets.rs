//! The master key: it seals the secrets the store keeps (app secrets, result-signing keys), so a
//! copy of the database alone reveals none of them.
//!
//! Where it comes from: `secrets.master_key` (base64 of 32 bytes; `LIVEGATE_SECRETS__MASTER_KEY`)
//! or, when that is unset, the file `<data_dir>/master.key`, made once with mode 0600 and read
//! ever after. Nodes that share one database must share the key: a node with another key cannot
//! open what the first one sealed. Set the variable on every node of an active-active cluster.
//!
//! Sealing is ChaCha20-Poly1305 with a random 96-bit nonce stored in front of the ciphertext.
//! The associated data names the purpose and the row (`app-secret:<app_id>`,
//! `signing-key:<kid>`), so a sealed value copied to another row or used for another purpose
//! does not open.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::config::Config;

/// The name of the key file in the data folder.
pub const MASTER_KEY_FILE: &str = "master.key";

/// The key's length in bytes.
pub const KEY_LEN: usize = 32;

const NONCE_LEN: usize = 12;

/// Why the master key could not be had or a sealed value not opened. Never holds key material.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The configured or stored key is not base64 of 32 bytes.
    #[error("must be base64 of {KEY_LEN} bytes")]
    BadKey,
    /// The key file could not be read or written.
    #[error("master key file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key file holds no valid key.
    #[error("master key file {path}: must hold base64 of {KEY_LEN} bytes")]
    BadFile {
        /// The file.
        path: PathBuf,
    },
    /// The value was sealed with another key or for another purpose, or was changed.
    #[error("sealed value does not open with this master key (another key, purpose or row)")]
    Open,
    /// The value could not be sealed (too long for the cipher).
    #[error("value cannot be sealed")]
    Seal,
}

/// The master key. `Clone` is cheap; `Debug` shows nothing of the key.
#[derive(Clone)]
pub struct MasterKey {
    cipher: ChaCha20Poly1305,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(bytes)),
        }
    }

    /// A key from base64 (standard or URL-safe, padding optional) of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, SecretsError> {
        let text = text.trim();
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        let bytes = engines
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or(SecretsError::BadKey)?;
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| SecretsError::BadKey)?;
        Ok(Self::from_bytes(&bytes))
    }

    /// The configured key: `secrets.master_key`, else `<data_dir>/master.key` (made if missing).
    pub fn load_or_create(config: &Config) -> Result<Self, SecretsError> {
        match &config.secrets.master_key {
            Some(text) => Self::from_base64(text.expose()),
            None => {
                if config.store.backend == crate::config::StoreBackend::Postgres {
                    // Each node would make a key of its own and fail to open the others' secrets.
                    tracing::warn!(
                        "secrets.master_key is unset: this node uses its own {MASTER_KEY_FILE}; \
                         nodes sharing the database must share LIVEGATE_SECRETS__MASTER_KEY"
                    );
                }
                Self::load_or_create_file(&config.data_dir.join(MASTER_KEY_FILE))
            }
        }
    }

    /// The key in `path`; when there is no file, a new random key written there with mode 0600
    /// (and its folder created). Two processes starting at once agree: only one creates the file,
    /// the other reads it.
    pub fn load_or_create_file(path: &Path) -> Result<Self, SecretsError> {
        let file_err = |source| SecretsError::File {
            path: path.to_owned(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                return Self::from_base64(&text).map_err(|_| SecretsError::BadFile {
                    path: path.to_owned(),
                })
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(file_err(err)),
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(file_err)?;
        }
        let bytes: [u8; KEY_LEN] = rand::random();
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(format!("{text}\n").as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(file_err)?;
                Ok(Self::from_bytes(&bytes))
            }
            // Another process made it first: use theirs. (It may still be writing: a short
            // read is a bad file, and the caller's retry or restart reads it whole.)
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).map_err(file_err)?;
                Self::from_base64(&text).map_err(|_| SecretsError::BadFile {
                    path: path.to_owned(),
                })
            }
            Err(err) => Err(file_err(err)),
        }
    }

    /// Seals `plaintext` bound to `aad`: a random nonce, then the ciphertext and its tag.
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Result<Vec<u8>, SecretsError> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Seal)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`MasterKey::seal`] made with the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &str) -> Result<Vec<u8>, SecretsError> {
        if sealed.len() < NONCE_LEN {
            return Err(SecretsError::Open);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Open)
    }
}

/// The associated data of an app's sealed secret.
pub fn app_secret_aad(app_id: &str) -> String {
    format!("app-secret:{app_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_aad() {
        let key = MasterKey::from_bytes(&[7; KEY_LEN]);
        let sealed = key.seal(b"the secret", "app-secret:a").expect("seal");
        assert_eq!(
            key.open(&sealed, "app-secret:a").expect("open"),
            b"the secret"
        );
        assert_ne!(
            key.seal(b"the secret", "app-secret:a").expect("seal"),
            sealed,
            "a fresh nonce every time"
        );
        assert!(matches!(
            key.open(&sealed, "app-secret:b"),
            Err(SecretsError::Open)
        ));
        let other = MasterKey::from_bytes(&[8; KEY_LEN]);
        assert!(other.open(&sealed, "app-secret:a").is_err());
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN] ^= 1;
        assert!(key.open(&tampered, "app-secret:a").is_err());
        assert!(key.open(&sealed[..5], "app-secret:a").is_err());
    }

    #[test]
    fn base64_keys_must_be_32_bytes() {
        let text = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
        assert!(MasterKey::from_base64(&text).is_ok());
        assert!(MasterKey::from_base64(&format!(" {text}\n")).is_ok());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(MasterKey::from_base64("not base64 !").is_err());
        assert_eq!(
            format!("{:?}", MasterKey::from_bytes(&[1; 32])),
            "MasterKey(***)"
        );
    }

    #[test]
    fn the_key_file_is_made_once_private_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data").join(MASTER_KEY_FILE);
        let first = MasterKey::load_or_create_file(&path).expect("create");
        let sealed = first.seal(b"x", "t").expect("seal");
        let again = MasterKey::load_or_create_file(&path).expect("read");
        assert_eq!(again.open(&sealed, "t").expect("same key"), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "junk").expect("write");
        assert!(matches!(
            MasterKey::load_or_create_file(&path),
            Err(SecretsError::BadFile { .. })
        ));
    }
}
