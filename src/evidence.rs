//! The evidence store: the frames (and small JSON files) kept with a record for audit.
//!
//! One trait, [`EvidenceStore`], shaped like an object store (put, get, list, delete by prefix)
//! so that S3 can implement it later; today [`LocalEvidence`] keeps files under a folder
//! (`evidence.dir`, default `<data_dir>/evidence`):
//!
//! ```text
//! <root>/<tenant id>/<record id>/<name>      name: [a-z0-9_-]{1,64}.(jpg|json)
//! ```
//!
//! A key names its tenant, and every call takes the caller's tenant: a key of another tenant is
//! `NotFound`, as in the database. Writes go to a temporary file in the same folder, flushed,
//! then renamed over the name, so a reader (or a crash) never sees a torn file. Face images are
//! personal data: nothing here logs them, and their names say nothing about the person.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{ApiError, ErrorCode};
use crate::store::{RecordId, TenantId};

/// The longest name before its extension.
pub const MAX_STEM_LEN: usize = 64;

/// Where one evidence object is: `<tenant>/<record>/<name>` (also its object-store key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EvidenceKey {
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// The record it belongs to.
    pub record: RecordId,
    /// Its file name, valid by [`check_name`].
    pub name: String,
}

impl EvidenceKey {
    /// A key, if the name is valid.
    pub fn new(tenant: TenantId, record: RecordId, name: &str) -> Result<Self, EvidenceError> {
        check_name(name)?;
        Ok(Self {
            tenant,
            record,
            name: name.to_owned(),
        })
    }

    /// The path under the store's root.
    fn relative(&self) -> PathBuf {
        Path::new(&self.tenant.to_string())
            .join(self.record.to_string())
            .join(&self.name)
    }
}

impl fmt::Display for EvidenceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.tenant, self.record, self.name)
    }
}

impl FromStr for EvidenceKey {
    type Err = EvidenceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || EvidenceError::InvalidKey(text.chars().take(200).collect());
        let mut parts = text.split('/');
        let (Some(tenant), Some(record), Some(name), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let tenant = Uuid::parse_str(tenant).map_err(|_| bad())?;
        let record = Uuid::parse_str(record).map_err(|_| bad())?;
        Self::new(TenantId(tenant), RecordId(record), name)
    }
}

impl Serialize for EvidenceKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EvidenceKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Why an evidence call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The name breaks the rule `[a-z0-9_-]{1,64}.(jpg|json)`.
    #[error("invalid evidence name {0:?}: must be [a-z0-9_-]{{1,64}} then .jpg or .json")]
    InvalidName(String),
    /// The text is not a `<tenant>/<record>/<name>` key.
    #[error("invalid evidence key {0:?}")]
    InvalidKey(String),
    /// No such object, or not in the caller's tenant.
    #[error("evidence not found")]
    NotFound,
    /// The storage failed (disk full, permissions, the object store is down).
    #[error("evidence storage unavailable: {0}")]
    Unavailable(String),
}

impl From<EvidenceError> for ApiError {
    fn from(err: EvidenceError) -> Self {
        match err {
            EvidenceError::NotFound => ApiError::new(ErrorCode::NotFound)
                .with_detail(serde_json::json!({ "entity": "evidence" })),
            err @ (EvidenceError::InvalidName(_) | EvidenceError::InvalidKey(_)) => {
                ApiError::new(ErrorCode::ValidationFailed)
                    .with_detail(serde_json::json!({ "reason": err.to_string() }))
            }
            err @ EvidenceError::Unavailable(_) => {
                ApiError::new(ErrorCode::Unavailable).with_cause(err)
            }
        }
    }
}

/// Checks an evidence name: `[a-z0-9_-]{1,64}` then `.jpg` or `.json`.
pub fn check_name(name: &str) -> Result<(), EvidenceError> {
    let valid = name.rsplit_once('.').is_some_and(|(stem, extension)| {
        matches!(extension, "jpg" | "json")
            && (1..=MAX_STEM_LEN).contains(&stem.len())
            && stem
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    });
    if valid {
        Ok(())
    } else {
        Err(EvidenceError::InvalidName(name.chars().take(100).collect()))
    }
}

/// Storage of evidence objects, by tenant and record.
#[async_trait]
pub trait EvidenceStore: Send + Sync {
    /// Writes `bytes` as `name` of the record, replacing an object of that name; returns its key.
    async fn put(
        &self,
        tenant: TenantId,
        record: RecordId,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<EvidenceKey, EvidenceError>;

    /// The object's bytes; `NotFound` when it is not there or the key is another tenant's.
    async fn get(&self, tenant: TenantId, key: &EvidenceKey) -> Result<Vec<u8>, EvidenceError>;

    /// The record's objects, by name; empty when it has none.
    async fn list(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<EvidenceKey>, EvidenceError>;

    /// Deletes every object of the record (retention, erasure); nothing to delete is fine.
    async fn delete_record(&self, tenant: TenantId, record: RecordId) -> Result<(), EvidenceError>;
}

/// Evidence as files under a local folder (one node, or a shared mount).
#[derive(Debug, Clone)]
pub struct LocalEvidence {
    root: PathBuf,
}

impl LocalEvidence {
    /// A store under `root` (created at the first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Its folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn record_dir(&self, tenant: TenantId, record: RecordId) -> PathBuf {
        self.root.join(tenant.to_string()).join(record.to_string())
    }
}

/// Runs file work off the async runtime.
async fn blocking<T, F>(work: F) -> Result<T, EvidenceError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, EvidenceError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| EvidenceError::Unavailable(format!("evidence task: {err}")))?
}

fn io_error(what: &str, path: &Path, err: &std::io::Error) -> EvidenceError {
    EvidenceError::Unavailable(format!("{what} {}: {err}", path.display()))
}

/// Writes `bytes` to `path` through a temporary file beside it, flushed before the rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    let dir = path
        .parent()
        .ok_or_else(|| EvidenceError::Unavailable(format!("{} has no folder", path.display())))?;
    std::fs::create_dir_all(dir).map_err(|err| io_error("cannot create", dir, &err))?;
    // A leading dot keeps temporary files out of `list` (valid names never start with one).
    let temp = dir.join(format!(".tmp-{}", Uuid::new_v4().simple()));
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(err) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(io_error("cannot write", &temp, &err));
    }
    if let Err(err) = std::fs::rename(&temp, path) {
        let _ = std::fs::remove_file(&temp);
        return Err(io_error("cannot rename into", path, &err));
    }
    Ok(())
}

#[async_trait]
impl EvidenceStore for LocalEvidence {
    async fn put(
        &self,
        tenant: TenantId,
        record: RecordId,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<EvidenceKey, EvidenceError> {
        let key = EvidenceKey::new(tenant, record, name)?;
        let path = self.root.join(key.relative());
        blocking(move || write_atomically(&path, &bytes)).await?;
        Ok(key)
    }

    async fn get(&self, tenant: TenantId, key: &EvidenceKey) -> Result<Vec<u8>, EvidenceError> {
        // The key's own check again: a key may have been built field by field.
        check_name(&key.name)?;
        if key.tenant != tenant {
            return Err(EvidenceError::NotFound);
        }
        let path = self.root.join(key.relative());
        blocking(move || match std::fs::read(&path) {
            Ok(bytes) => Ok(bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(EvidenceError::NotFound),
            Err(err) => Err(io_error("cannot read", &path, &err)),
        })
        .await
    }

    async fn list(
        &self,
        tenant: TenantId,
        record: RecordId,
    ) -> Result<Vec<EvidenceKey>, EvidenceError> {
        let dir = self.record_dir(tenant, record);
        blocking(move || {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(err) => return Err(io_error("cannot list", &dir, &err)),
            };
            let mut keys = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|err| io_error("cannot list", &dir, &err))?;
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                // Temporary files and anything put there by hand are not evidence.
                if let Ok(key) = EvidenceKey::new(tenant, record, &name) {
                    keys.push(key);
                }
            }
            keys.sort();
            Ok(keys)
        })
        .await
    }

    async fn delete_record(&self, tenant: TenantId, record: RecordId) -> Result<(), EvidenceError> {
        let dir = self.record_dir(tenant, record);
        blocking(move || match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(io_error("cannot delete", &dir, &err)),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        for good in [
            "best.jpg",
            "step_1.jpg",
            "a.json",
            "x-y_z09.jpg",
            &format!("{}.jpg", "a".repeat(64)),
        ] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".jpg",
            "best",
            "best.png",
            "Best.jpg",
            "../x.jpg",
            "a/b.jpg",
            "a.b.jpg",
            "best.jpg/",
            "人脸.jpg",
            &format!("{}.jpg", "a".repeat(65)),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_print_and_parse_as_tenant_record_name() {
        let key = EvidenceKey::new(TenantId::DEFAULT, RecordId(Uuid::from_u128(7)), "best.jpg")
            .expect("key");
        let text = key.to_string();
        assert_eq!(
            text,
            "00000000-0000-0000-0000-000000000001/00000000-0000-0000-0000-000000000007/best.jpg"
        );
        assert_eq!(text.parse::<EvidenceKey>().expect("parse"), key);
        assert_eq!(serde_json::to_value(&key).expect("json"), text.as_str());
        assert!("a/b".parse::<EvidenceKey>().is_err());
        assert!(format!("{text}/x").parse::<EvidenceKey>().is_err());
    }
}
