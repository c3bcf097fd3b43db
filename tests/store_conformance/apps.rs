//! API apps and request nonces.

use chrono::Utc;
use livegate::store::{AppId, AppStatus, NewApp};

use super::*;

crate::conformance!(
    apps_are_created_found_by_id_and_listed_per_tenant,
    app_ids_are_unique_and_the_tenant_must_exist,
    disabling_an_app_is_scoped_to_its_tenant,
    a_nonce_is_used_once_per_app_until_it_expires,
    expired_nonces_are_pruned,
);

fn new_app(name: &str) -> NewApp {
    NewApp {
        app_id: AppId::generate(),
        name: name.into(),
        secret_sealed: vec![0, 1, 2, 255, 42],
    }
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

async fn apps_are_created_found_by_id_and_listed_per_tenant(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let bank = tenant(store.as_ref(), "bank-0101").await;
    let first = store
        .create_app(bank, &new_app("core banking"))
        .await
        .expect("create");
    assert_eq!(first.tenant_id, bank);
    assert_eq!(first.status, AppStatus::Active);
    assert_eq!(first.secret_sealed, vec![0, 1, 2, 255, 42]);
    let second = store
        .create_app(bank, &new_app("mobile"))
        .await
        .expect("create");
    let other = store
        .create_app(TenantId::DEFAULT, &new_app("default's"))
        .await
        .expect("create");

    // Found by id alone, whatever the tenant: authentication knows no tenant yet.
    assert_eq!(store.app(&first.app_id).await.expect("by id"), first);
    assert_eq!(store.app(&other.app_id).await.expect("by id"), other);
    assert_eq!(
        store.app(&AppId::generate()).await.map(|_| ()),
        not_found("app")
    );

    let listed = store.list_apps(bank).await.expect("list");
    assert_eq!(listed, vec![first.clone(), second.clone()]);
    assert_eq!(
        store.list_apps(TenantId::DEFAULT).await.expect("list"),
        vec![other]
    );
}

async fn app_ids_are_unique_and_the_tenant_must_exist(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let app = new_app("one");
    store
        .create_app(TenantId::DEFAULT, &app)
        .await
        .expect("create");
    assert_eq!(
        store.create_app(TenantId::DEFAULT, &app).await.map(|_| ()),
        Err(StoreError::Conflict {
            constraint: "apps_pkey".into()
        })
    );
    match store.create_app(TenantId::new(), &new_app("orphan")).await {
        Err(StoreError::Invalid(_)) => {}
        other => panic!("expected Invalid for a missing tenant, got {other:?}"),
    }
}

async fn disabling_an_app_is_scoped_to_its_tenant(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let bank = tenant(store.as_ref(), "bank-0102").await;
    let app = store.create_app(bank, &new_app("x")).await.expect("create");

    // Another tenant cannot touch it.
    assert_eq!(
        store
            .set_app_status(TenantId::DEFAULT, &app.app_id, AppStatus::Disabled)
            .await
            .map(|_| ()),
        not_found("app")
    );
    assert_eq!(
        store.app(&app.app_id).await.expect("app").status,
        AppStatus::Active
    );

    let disabled = store
        .set_app_status(bank, &app.app_id, AppStatus::Disabled)
        .await
        .expect("disable");
    assert_eq!(disabled.status, AppStatus::Disabled);
    assert_eq!(store.app(&app.app_id).await.expect("app"), disabled);
    let enabled = store
        .set_app_status(bank, &app.app_id, AppStatus::Active)
        .await
        .expect("enable");
    assert_eq!(enabled.status, AppStatus::Active);
}

async fn a_nonce_is_used_once_per_app_until_it_expires(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let a = store
        .create_app(TenantId::DEFAULT, &new_app("a"))
        .await
        .expect("create");
    let b = store
        .create_app(TenantId::DEFAULT, &new_app("b"))
        .await
        .expect("create");
    let later = Utc::now() + secs(600);
    let nonce = "0123456789abcdef-nonce";
    store
        .use_nonce(&a.app_id, nonce, later)
        .await
        .expect("first use");
    assert_eq!(
        store.use_nonce(&a.app_id, nonce, later).await,
        Err(StoreError::Conflict {
            constraint: "api_nonces_pkey".into()
        })
    );
    // Nonces are per app.
    store
        .use_nonce(&b.app_id, nonce, later)
        .await
        .expect("another app's nonce");

    // Once expired (and not yet pruned), a nonce may be used again.
    let gone = "expired-nonce-0000000";
    store
        .use_nonce(&a.app_id, gone, Utc::now() - secs(1))
        .await
        .expect("use");
    store
        .use_nonce(&a.app_id, gone, later)
        .await
        .expect("an expired nonce is free again");
    assert!(store.use_nonce(&a.app_id, gone, later).await.is_err());
}

async fn expired_nonces_are_pruned(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let app = store
        .create_app(TenantId::DEFAULT, &new_app("a"))
        .await
        .expect("create");
    let now = Utc::now();
    for (i, offset) in [-120, -60, 60].into_iter().enumerate() {
        store
            .use_nonce(
                &app.app_id,
                &format!("nonce-{i}-0123456789"),
                now + secs(offset),
            )
            .await
            .expect("use");
    }
    assert_eq!(store.prune_nonces(now).await.expect("prune"), 2);
    assert_eq!(store.prune_nonces(now).await.expect("prune again"), 0);
    // The live one is still remembered.
    assert!(store
        .use_nonce(&app.app_id, "nonce-2-0123456789", now + secs(60))
        .await
        .is_err());
}
