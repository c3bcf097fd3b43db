//! Authentication of Open API requests: the app's HMAC signature over the request
//! (`src/signature.rs`), a timestamp within ±5 minutes, and a nonce used once.
//!
//! Order matters: the cheap checks on the headers first, then the app, then the signature, and
//! only a request whose signature is right consumes its nonce, so nobody without the secret can
//! burn an app's nonces. Each refusal is a 401 with its own code (docs/open-api.md).

use std::sync::Arc;

use actix_web::{web, HttpRequest};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::error::{ApiError, ErrorCode};
use crate::secrets::{app_secret_aad, MasterKey};
use crate::server::AppState;
use crate::signature::{
    canonical_request, verify, HEADER_APP_ID, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use crate::store::apps::NONCE_CONSTRAINT;
use crate::store::{AppId, AppStatus, Store, StoreError, TenantId};

/// How far a request's timestamp may be from the server's clock, in seconds.
pub const MAX_SKEW_SECS: i64 = 300;

/// How long a nonce is remembered: past it, the timestamp alone refuses the request (a request
/// stamped up to `MAX_SKEW_SECS` ahead stays acceptable that much longer).
pub const NONCE_TTL_SECS: i64 = 2 * MAX_SKEW_SECS;

/// The shortest and longest nonce.
pub const NONCE_LEN: std::ops::RangeInclusive<usize> = 16..=64;

/// The app a request was signed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedApp {
    /// Its id (`lgapp_...`).
    pub app_id: String,
    /// The tenant it acts for: every store call of the request is scoped to it.
    pub tenant_id: TenantId,
    /// Its display name.
    pub name: String,
}

/// Checks the request's signature headers against `body` and the app's secret; consumes the
/// nonce only when everything else is right.
pub async fn authenticate(
    req: &HttpRequest,
    body: &[u8],
    store: &Arc<dyn Store>,
    master: &MasterKey,
    now: DateTime<Utc>,
) -> Result<AuthenticatedApp, ApiError> {
    let app_id = header(req, HEADER_APP_ID)?;
    let timestamp = header(req, HEADER_TIMESTAMP)?;
    let nonce = header(req, HEADER_NONCE)?;
    let signature = header(req, HEADER_SIGNATURE)?;

    check_timestamp(timestamp, now)?;
    check_nonce(nonce)?;
    let app_id = AppId::parse(app_id).ok_or_else(|| ApiError::new(ErrorCode::AppUnknown))?;
    let app = match store.app(&app_id).await {
        Ok(app) => app,
        Err(StoreError::NotFound { .. }) => return Err(ApiError::new(ErrorCode::AppUnknown)),
        Err(err) => return Err(err.into()),
    };
    if app.status != AppStatus::Active {
        return Err(ApiError::new(ErrorCode::AppUnknown));
    }
    let secret = master
        .open(&app.secret_sealed, &app_secret_aad(app.app_id.as_str()))
        .map_err(|err| {
            // A node with another master key than the one that created the app.
            ApiError::internal(format!("app {}: {err}", app.app_id))
        })?;
    let canonical = canonical_request(
        req.method().as_str(),
        req.path(),
        req.query_string(),
        timestamp,
        nonce,
        body,
    );
    if !verify(&secret, &canonical, signature) {
        return Err(ApiError::new(ErrorCode::SignatureInvalid));
    }
    let expires_at = now + chrono::Duration::seconds(NONCE_TTL_SECS);
    match store.use_nonce(&app.app_id, nonce, expires_at).await {
        Ok(()) => {}
        Err(StoreError::Conflict { constraint }) if constraint == NONCE_CONSTRAINT => {
            return Err(ApiError::new(ErrorCode::NonceReused));
        }
        Err(err) => return Err(err.into()),
    }
    Ok(AuthenticatedApp {
        app_id: app.app_id.to_string(),
        tenant_id: app.tenant_id,
        name: app.name,
    })
}

/// [`authenticate`] with the store and master key the app was built with (`web::Data<AppState>`
/// and `web::Data<MasterKey>`) and the current time: what handlers call.
pub async fn authenticate_request(
    req: &HttpRequest,
    body: &[u8],
) -> Result<AuthenticatedApp, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("AppState is not registered"))?;
    let master = req
        .app_data::<web::Data<MasterKey>>()
        .ok_or_else(|| ApiError::internal("MasterKey is not registered"))?;
    authenticate(req, body, &state.store, master, Utc::now()).await
}

/// Deletes the nonces that can no longer matter; for a periodic job. Returns how many.
pub async fn prune_expired_nonces(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    store.prune_nonces(now).await
}

/// A required header as text; missing (or not text) is `UNAUTHORIZED` naming it.
fn header<'a>(req: &'a HttpRequest, name: &'static str) -> Result<&'a str, ApiError> {
    req.headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| {
            ApiError::new(ErrorCode::Unauthorized).with_detail(json!({ "header": name }))
        })
}

/// Unix seconds within [`MAX_SKEW_SECS`] of `now`.
fn check_timestamp(timestamp: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    let seconds: i64 = timestamp
        .parse()
        .ok()
        .filter(|_| timestamp.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            ApiError::new(ErrorCode::Unauthorized).with_detail(json!({
                "header": HEADER_TIMESTAMP,
                "reason": "must be Unix time in seconds",
            }))
        })?;
    let skew = seconds.saturating_sub(now.timestamp()).saturating_abs();
    if skew > MAX_SKEW_SECS {
        return Err(
            ApiError::new(ErrorCode::TimestampExpired).with_detail(json!({
                "server_time": now.timestamp(),
                "max_skew_secs": MAX_SKEW_SECS,
            })),
        );
    }
    Ok(())
}

/// 16–64 characters of `[A-Za-z0-9_-]`.
fn check_nonce(nonce: &str) -> Result<(), ApiError> {
    let well_formed = NONCE_LEN.contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if well_formed {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::Unauthorized).with_detail(json!({
            "header": HEADER_NONCE,
            "reason": "must be 16-64 characters of A-Z a-z 0-9 _ -",
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).expect("time")
    }

    #[test]
    fn timestamps_within_five_minutes_pass_either_way() {
        let now = at(1_700_000_000);
        for ok in ["1700000000", "1699999700", "1700000300"] {
            assert!(check_timestamp(ok, now).is_ok(), "{ok}");
        }
        for late in ["1699999699", "1700000301", "0"] {
            let err = check_timestamp(late, now).expect_err(late);
            assert_eq!(err.code(), ErrorCode::TimestampExpired, "{late}");
        }
        for junk in [
            "",
            "abc",
            "-5",
            "+1700000000",
            "1700000000.5",
            "99999999999999999999",
        ] {
            let err = check_timestamp(junk, now).expect_err(junk);
            assert_eq!(err.code(), ErrorCode::Unauthorized, "{junk}");
        }
    }

    #[test]
    fn nonces_are_16_to_64_safe_characters() {
        assert!(check_nonce("0123456789abcdef").is_ok());
        assert!(check_nonce(&"a-_Z".repeat(16)).is_ok());
        for bad in [
            "0123456789abcde".to_owned(),
            "a".repeat(65),
            "0123456789abcde!".to_owned(),
            "0123456789abcde=".to_owned(),
            "0123456789abcdé".to_owned(),
        ] {
            let err = check_nonce(&bad).expect_err(&bad);
            assert_eq!(err.code(), ErrorCode::Unauthorized);
        }
    }

    #[test]
    fn the_canonical_query_sorts_reencodes_and_may_be_empty() {
        use crate::signature::canonical_query;
        assert_eq!(canonical_query(""), "");
        assert_eq!(canonical_query("z=1&a=2&a=1"), "a=1&a=2&z=1");
        assert_eq!(canonical_query("q=a%20b%2fc&x=~.-_"), "q=a%20b%2Fc&x=~.-_");
        assert_eq!(canonical_query("name=%E5%BC%A0"), "name=%E5%BC%A0");
    }
}
