//! SigningKeyStore on postgres.
//!
//! Two nodes rotating at once: the second one's `UPDATE ... WHERE retired_at IS NULL` waits for
//! the first one's row lock, then finds the key already retired and changes nothing, so it rolls
//! back; the unique index on current keys catches the first key made twice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use super::{column, map_err, PgStore};
use crate::store::signing_keys::{
    to_micros, NewSigningKey, SigningKey, SigningKeyStore, CURRENT_KEY_CONSTRAINT,
    SIGNING_KEY_COLUMNS,
};
use crate::store::StoreError;

fn signing_key_row(row: &Row) -> Result<SigningKey, StoreError> {
    Ok(SigningKey {
        kid: column(row, "kid")?,
        private_sealed: column(row, "private_sealed")?,
        public_jwk: column(row, "public_jwk")?,
        created_at: column(row, "created_at")?,
        retired_at: column(row, "retired_at")?,
    })
}

fn another_is_current() -> StoreError {
    StoreError::Conflict {
        constraint: CURRENT_KEY_CONSTRAINT.into(),
    }
}

#[async_trait]
impl SigningKeyStore for PgStore {
    async fn add_signing_key(
        &self,
        new: &NewSigningKey,
        retire: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SigningKey, StoreError> {
        let now = to_micros(now);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        if let Some(old) = retire {
            let retired = tx
                .execute(
                    "UPDATE signing_keys SET retired_at = $1 \
                     WHERE kid = $2 AND retired_at IS NULL",
                    &[&now, &old],
                )
                .await
                .map_err(map_err)?;
            if retired == 0 {
                // Dropping the transaction rolls it back.
                return Err(another_is_current());
            }
        }
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO signing_keys ({SIGNING_KEY_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, NULL) RETURNING {SIGNING_KEY_COLUMNS}"
                ),
                &[&new.kid, &new.private_sealed, &new.public_jwk, &now],
            )
            .await
            .map_err(|err| match map_err(err) {
                StoreError::Conflict { constraint } if constraint == CURRENT_KEY_CONSTRAINT => {
                    another_is_current()
                }
                other => other,
            })?;
        let key = signing_key_row(&row)?;
        tx.commit().await.map_err(map_err)?;
        Ok(key)
    }

    async fn signing_keys(
        &self,
        retired_after: DateTime<Utc>,
    ) -> Result<Vec<SigningKey>, StoreError> {
        self.query(
            &format!(
                "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys \
                 WHERE retired_at IS NULL OR retired_at > $1 \
                 ORDER BY created_at DESC, kid DESC"
            ),
            &[&retired_after],
            signing_key_row,
        )
        .await
    }
}
