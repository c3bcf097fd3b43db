//! Result-signing keys and their rotation.

use chrono::Utc;
use livegate::store::{NewSigningKey, SigningKey};
use serde_json::json;

use super::*;

crate::conformance!(
    the_first_key_becomes_current_once,
    rotation_retires_the_current_key_and_keeps_it_for_the_overlap,
    a_second_rotation_of_the_same_key_is_refused,
);

fn new_key(kid: &str) -> NewSigningKey {
    NewSigningKey {
        kid: kid.into(),
        private_sealed: vec![9, 8, 7, kid.len() as u8],
        public_jwk: json!({ "kty": "EC", "crv": "P-256", "kid": kid, "x": "xx", "y": "yy" }),
    }
}

fn conflict() -> Result<SigningKey, StoreError> {
    Err(StoreError::Conflict {
        constraint: "signing_keys_one_current".into(),
    })
}

fn kids(keys: &[SigningKey]) -> Vec<&str> {
    keys.iter().map(|k| k.kid.as_str()).collect()
}

async fn the_first_key_becomes_current_once(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let now = Utc::now();
    assert!(store.signing_keys(now).await.expect("none").is_empty());
    let first = store
        .add_signing_key(&new_key("k1"), None, now)
        .await
        .expect("first key");
    assert_eq!(first.retired_at, None);
    // A second node starting at the same time loses and adds nothing.
    assert_eq!(
        store.add_signing_key(&new_key("k2"), None, now).await,
        conflict()
    );
    let listed = store.signing_keys(now).await.expect("list");
    assert_eq!(listed, vec![first]);
    assert_eq!(listed[0].private_sealed, vec![9, 8, 7, 2]);
    assert_eq!(listed[0].public_jwk["kid"], "k1");
}

async fn rotation_retires_the_current_key_and_keeps_it_for_the_overlap(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t0 = Utc::now() - chrono::Duration::days(40);
    store
        .add_signing_key(&new_key("k1"), None, t0)
        .await
        .expect("k1");
    let t1 = t0 + chrono::Duration::days(30);
    let k2 = store
        .add_signing_key(&new_key("k2"), Some("k1"), t1)
        .await
        .expect("rotate");
    assert_eq!(k2.retired_at, None);

    // Newest first; k1 retired at t1 is listed while the cut-off is before t1.
    let listed = store
        .signing_keys(t1 - chrono::Duration::days(7))
        .await
        .expect("list");
    assert_eq!(kids(&listed), ["k2", "k1"]);
    assert_eq!(
        listed[1].retired_at.map(|t| t.timestamp_micros()),
        Some(t1.timestamp_micros())
    );
    assert_eq!(listed.iter().filter(|k| k.retired_at.is_none()).count(), 1);
    let later = store.signing_keys(t1).await.expect("list");
    assert_eq!(kids(&later), ["k2"]);
}

async fn a_second_rotation_of_the_same_key_is_refused(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let now = Utc::now();
    store
        .add_signing_key(&new_key("k1"), None, now)
        .await
        .expect("k1");
    store
        .add_signing_key(&new_key("k2"), Some("k1"), now)
        .await
        .expect("node a rotates");
    // Node b saw k1 as current too; its rotation changes nothing.
    assert_eq!(
        store.add_signing_key(&new_key("k3"), Some("k1"), now).await,
        conflict()
    );
    let listed = store
        .signing_keys(now - chrono::Duration::days(1))
        .await
        .expect("list");
    assert_eq!(kids(&listed), ["k2", "k1"]);
    assert_eq!(listed[0].retired_at, None);
}
