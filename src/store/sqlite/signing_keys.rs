//! SigningKeyStore on sqlite.
//!
//! Rotation runs in a `BEGIN IMMEDIATE` transaction: it takes the write lock first, so the check
//! that the old key is still current and the insert of the new one see the same state.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Row, TransactionBehavior};

use super::{get_json, get_opt_time, get_time, map_err, text_time, SqliteStore};
use crate::store::signing_keys::{
    to_micros, NewSigningKey, SigningKey, SigningKeyStore, CURRENT_KEY_CONSTRAINT,
    SIGNING_KEY_COLUMNS,
};
use crate::store::StoreError;

fn signing_key_row(row: &Row<'_>) -> rusqlite::Result<SigningKey> {
    Ok(SigningKey {
        kid: row.get(0)?,
        private_sealed: row.get(1)?,
        public_jwk: get_json(row, 2)?,
        created_at: get_time(row, 3)?,
        retired_at: get_opt_time(row, 4)?,
    })
}

fn another_is_current() -> StoreError {
    StoreError::Conflict {
        constraint: CURRENT_KEY_CONSTRAINT.into(),
    }
}

#[async_trait]
impl SigningKeyStore for SqliteStore {
    async fn add_signing_key(
        &self,
        new: &NewSigningKey,
        retire: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SigningKey, StoreError> {
        let now = to_micros(now);
        let key = SigningKey {
            kid: new.kid.clone(),
            private_sealed: new.private_sealed.clone(),
            public_jwk: new.public_jwk.clone(),
            created_at: now,
            retired_at: None,
        };
        let retire = retire.map(str::to_owned);
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            if let Some(old) = &retire {
                let retired = tx
                    .execute(
                        "UPDATE signing_keys SET retired_at = ?1 \
                         WHERE kid = ?2 AND retired_at IS NULL",
                        params![text_time(now), old],
                    )
                    .map_err(map_err)?;
                if retired == 0 {
                    return Err(another_is_current());
                }
            }
            let public_jwk = serde_json::to_string(&key.public_jwk)
                .map_err(|err| StoreError::Invalid(format!("public jwk: {err}")))?;
            tx.execute(
                &format!(
                    "INSERT INTO signing_keys ({SIGNING_KEY_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, NULL)"
                ),
                params![key.kid, key.private_sealed, public_jwk, text_time(now)],
            )
            .map_err(|err| match map_err(err) {
                // The unique index on current keys; SQLite does not name it.
                StoreError::Conflict { .. } => another_is_current(),
                other => other,
            })?;
            tx.commit().map_err(map_err)?;
            Ok(key)
        })
        .await
    }

    async fn signing_keys(
        &self,
        retired_after: DateTime<Utc>,
    ) -> Result<Vec<SigningKey>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys \
                     WHERE retired_at IS NULL OR retired_at > ?1 \
                     ORDER BY created_at DESC, kid DESC"
                ))
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![text_time(retired_after)], signing_key_row)
                .map_err(map_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
        })
        .await
    }
}
