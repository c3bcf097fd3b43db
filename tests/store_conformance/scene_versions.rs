//! Scene versions (written with every create and update) and scene status.

use livegate::store::SceneStatus;
use serde_json::Value;

use super::*;

crate::conformance!(
    every_create_and_update_of_a_scene_is_a_version,
    the_migration_keeps_the_current_version_of_existing_scenes,
    a_stale_update_writes_no_version,
    disabling_a_scene_keeps_its_version_and_is_scoped_to_its_tenant,
);

async fn every_create_and_update_of_a_scene_is_a_version(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t = tenant(&*store, "bank-a").await;
    let first_rules = json!({ "retries": 1 });
    let created = store
        .create_scene_by(
            t,
            &NewScene {
                code: "open-account".into(),
                name: "开户".into(),
                config: first_rules.clone(),
            },
            Some("alice"),
        )
        .await
        .expect("create");
    assert_eq!((created.version, created.status), (1, SceneStatus::Active));
    let updated = store
        .update_scene_by(
            t,
            "open-account",
            &SceneUpdate {
                config: Some(json!({ "retries": 2 })),
                expected_version: Some(1),
                ..Default::default()
            },
            Some("bob"),
        )
        .await
        .expect("update");
    // The plain trait call (the command line's) writes a version too, with no author.
    store
        .update_scene(
            t,
            "open-account",
            &SceneUpdate {
                name: Some("开户 v3".into()),
                ..Default::default()
            },
        )
        .await
        .expect("rename");

    let versions = store
        .scene_versions(t, "open-account")
        .await
        .expect("versions");
    let summary: Vec<(i64, &str, Option<&str>, Value)> = versions
        .iter()
        .map(|v| {
            (
                v.version,
                v.name.as_str(),
                v.created_by.as_deref(),
                v.config.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (3, "开户 v3", None, json!({ "retries": 2 })),
            (2, "开户", Some("bob"), json!({ "retries": 2 })),
            (1, "开户", Some("alice"), first_rules.clone()),
        ],
        "newest first, each as it was written"
    );
    assert!(versions
        .iter()
        .all(|v| v.scene_id == created.id && v.tenant_id == t));
    assert_eq!(versions[1].created_at, updated.updated_at);

    let one = store
        .scene_version(t, "open-account", 1)
        .await
        .expect("version 1");
    assert_eq!(one, versions[2]);
    assert_eq!(
        store.scene_version(t, "open-account", 4).await,
        not_found("scene_version")
    );
    assert_eq!(
        store.scene_versions(t, "no-such-scene").await,
        not_found("scene")
    );
    // Another tenant sees none of it.
    let other = tenant(&*store, "bank-b").await;
    assert_eq!(
        store.scene_versions(other, "open-account").await,
        not_found("scene")
    );
    assert_eq!(
        store.scene_version(other, "open-account", 1).await,
        not_found("scene")
    );
}

async fn the_migration_keeps_the_current_version_of_existing_scenes(fx: Arc<Fixture>) {
    // The default scene is written by the first migration, before versions were kept.
    let store = migrated(&fx).await;
    let versions = store
        .scene_versions(TenantId::DEFAULT, DEFAULT_CODE)
        .await
        .expect("versions");
    assert_eq!(versions.len(), 1);
    let scene = store
        .scene_by_code(TenantId::DEFAULT, DEFAULT_CODE)
        .await
        .expect("default scene");
    assert_eq!(versions[0].version, scene.version);
    assert_eq!(versions[0].config, scene.config);
    assert_eq!(versions[0].created_by, None);
    assert_eq!(scene.status, SceneStatus::Active);
}

async fn a_stale_update_writes_no_version(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t = tenant(&*store, "bank-a").await;
    scene(&*store, t, "reset-password").await;
    let stale = store
        .update_scene_by(
            t,
            "reset-password",
            &SceneUpdate {
                name: Some("lost".into()),
                expected_version: Some(7),
                ..Default::default()
            },
            Some("bob"),
        )
        .await;
    assert_eq!(
        stale,
        Err(StoreError::Conflict {
            constraint: "scenes_version".into()
        })
    );
    let versions = store
        .scene_versions(t, "reset-password")
        .await
        .expect("versions");
    assert_eq!(versions.len(), 1);
    assert_eq!(
        store
            .update_scene_by(t, "missing", &SceneUpdate::default(), None)
            .await,
        not_found("scene")
    );
}

async fn disabling_a_scene_keeps_its_version_and_is_scoped_to_its_tenant(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let a = tenant(&*store, "bank-a").await;
    let b = tenant(&*store, "bank-b").await;
    let created = scene(&*store, a, "kyc").await;
    scene(&*store, b, "kyc").await;

    let disabled = store
        .set_scene_status(a, "kyc", SceneStatus::Disabled)
        .await
        .expect("disable");
    assert_eq!(disabled.status, SceneStatus::Disabled);
    assert_eq!(
        disabled.version, created.version,
        "the rules did not change"
    );
    assert_eq!(
        store.scene_by_code(a, "kyc").await.expect("get").status,
        SceneStatus::Disabled
    );
    assert_eq!(
        store.scene(a, created.id).await.expect("by id").status,
        SceneStatus::Disabled
    );
    assert_eq!(
        store.list_scenes(a).await.expect("list")[0].status,
        SceneStatus::Disabled
    );
    assert_eq!(
        store.scene_by_code(b, "kyc").await.expect("other").status,
        SceneStatus::Active,
        "the other tenant's scene of the same code is untouched"
    );
    assert_eq!(
        store
            .set_scene_status(b, "missing", SceneStatus::Disabled)
            .await,
        not_found("scene")
    );
    assert_eq!(store.scene_versions(a, "kyc").await.expect("v").len(), 1);

    let enabled = store
        .set_scene_status(a, "kyc", SceneStatus::Active)
        .await
        .expect("enable");
    assert_eq!(enabled.status, SceneStatus::Active);
    // An update keeps the status.
    store
        .set_scene_status(a, "kyc", SceneStatus::Disabled)
        .await
        .expect("disable again");
    let updated = store
        .update_scene(
            a,
            "kyc",
            &SceneUpdate {
                name: Some("KYC".into()),
                ..Default::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(updated.status, SceneStatus::Disabled);
}
