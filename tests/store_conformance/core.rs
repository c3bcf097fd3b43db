//! Tenants, scenes and records.

use super::*;

crate::conformance!(
    migrate_twice_is_a_noop,
    a_database_newer_than_the_binary_is_refused,
    default_tenant_and_scene_exist,
    tenants_are_created_found_listed_and_unique,
    scene_versions_increment_and_stale_updates_conflict,
    scene_codes_are_unique_per_tenant,
    records_round_trip_and_finish,
    records_page_newest_first,
    session_ids_are_unique_per_tenant,
    every_read_is_scoped_to_its_tenant,
    missing_rows_are_not_found,
);

async fn migrate_twice_is_a_noop(fx: Arc<Fixture>) {
    let store = fx.store();
    let first = store.migrate().await.expect("first migrate");
    assert_eq!(
        first.first().map(|m| (m.version, m.name.as_str())),
        Some((1, "init"))
    );
    let second = store.migrate().await.expect("second migrate");
    assert!(second.is_empty(), "second migrate applied {second:?}");
    assert_eq!(store.list_tenants().await.expect("tenants").len(), 1);
    store.ping().await.expect("ping");
}

async fn a_database_newer_than_the_binary_is_refused(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    fx.exec(
        "INSERT INTO schema_migrations (version, name, applied_at) \
         VALUES (9999, 'from_the_future', '2030-01-01T00:00:00Z')",
    )
    .await;
    match store.migrate().await {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!(found, 9999);
            assert!(supported < 9999);
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

async fn default_tenant_and_scene_exist(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let default = store
        .tenant_by_code(DEFAULT_CODE)
        .await
        .expect("default tenant");
    assert_eq!(default.id, TenantId::DEFAULT);
    assert_eq!(
        store.tenant(TenantId::DEFAULT).await.expect("by id"),
        default
    );
    let scene = store
        .scene_by_code(TenantId::DEFAULT, DEFAULT_CODE)
        .await
        .expect("default scene");
    assert_eq!(scene.id, SceneId::DEFAULT);
    assert_eq!(scene.tenant_id, TenantId::DEFAULT);
    assert_eq!(scene.version, 1);
    assert_eq!(scene.config, json!({}));
}

async fn tenants_are_created_found_listed_and_unique(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let id = tenant(&*store, "bank-0101").await;
    let by_id = store.tenant(id).await.expect("by id");
    assert_eq!(by_id.code, "bank-0101");
    assert_eq!(by_id.parent_id, Some(TenantId::DEFAULT));
    assert_eq!(
        store.tenant_by_code("bank-0101").await.expect("by code"),
        by_id
    );
    let codes: Vec<String> = store
        .list_tenants()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.code)
        .collect();
    assert_eq!(codes, ["bank-0101", "default"]);
    let again = store
        .create_tenant(&NewTenant {
            code: "bank-0101".into(),
            name: "again".into(),
            parent_id: None,
        })
        .await;
    assert_eq!(
        again,
        Err(StoreError::Conflict {
            constraint: "tenants_code_key".into()
        })
    );
}

async fn scene_versions_increment_and_stale_updates_conflict(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t = tenant(&*store, "bank-a").await;
    let created = scene(&*store, t, "open-account").await;
    assert_eq!(created.version, 1);
    assert_eq!(store.scene(t, created.id).await.expect("get"), created);

    let renamed = store
        .update_scene(
            t,
            "open-account",
            &SceneUpdate {
                name: Some("开户".into()),
                ..Default::default()
            },
        )
        .await
        .expect("rename");
    assert_eq!(renamed.version, 2);
    assert_eq!(renamed.name, "开户");
    assert_eq!(renamed.config, created.config, "config untouched");

    let reconfigured = store
        .update_scene(
            t,
            "open-account",
            &SceneUpdate {
                config: Some(json!({ "actions": ["nod"] })),
                expected_version: Some(2),
                ..Default::default()
            },
        )
        .await
        .expect("reconfigure at the expected version");
    assert_eq!(reconfigured.version, 3);
    assert_eq!(reconfigured.name, "开户");
    assert_eq!(reconfigured.config, json!({ "actions": ["nod"] }));
    assert!(reconfigured.updated_at >= created.updated_at);

    let stale = store
        .update_scene(
            t,
            "open-account",
            &SceneUpdate {
                name: Some("lost update".into()),
                expected_version: Some(2),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        stale,
        Err(StoreError::Conflict {
            constraint: "scenes_version".into()
        })
    );
    let now = store.scene_by_code(t, "open-account").await.expect("get");
    assert_eq!((now.version, now.name.as_str()), (3, "开户"));
}

async fn scene_codes_are_unique_per_tenant(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let a = tenant(&*store, "bank-a").await;
    let b = tenant(&*store, "bank-b").await;
    scene(&*store, a, "reset-password").await;
    scene(&*store, b, "reset-password").await;
    let duplicate = store
        .create_scene(
            a,
            &NewScene {
                code: "reset-password".into(),
                name: "again".into(),
                config: json!({}),
            },
        )
        .await;
    assert_eq!(
        duplicate,
        Err(StoreError::Conflict {
            constraint: "scenes_tenant_id_code_key".into()
        })
    );
    let codes: Vec<String> = store
        .list_scenes(a)
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.code)
        .collect();
    assert_eq!(codes, ["reset-password"]);
}

async fn records_round_trip_and_finish(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let default_scene = store
        .scene(TenantId::DEFAULT, SceneId::DEFAULT)
        .await
        .expect("default scene");
    let inserted = store
        .insert_record(TenantId::DEFAULT, &new_record(&default_scene, "loan-42"))
        .await
        .expect("insert");
    assert_eq!(inserted.status, RecordStatus::Pending);
    assert_eq!(inserted.verdict, None);
    assert_eq!(inserted.reasons, json!([]));
    assert_eq!(inserted.scores, json!({}));
    assert_eq!(inserted.finished_at, None);
    assert_eq!(
        store
            .record(TenantId::DEFAULT, inserted.id)
            .await
            .expect("get"),
        inserted
    );

    let finished = store
        .finish_record(
            TenantId::DEFAULT,
            inserted.id,
            &RecordOutcome {
                status: RecordStatus::Finished,
                verdict: Some(Verdict::Fail),
                reasons: json!(["screen_replay", "color_flash_mismatch"]),
                scores: json!({ "planarity": 0.93, "flash": 0.12 }),
            },
        )
        .await
        .expect("finish");
    assert_eq!(finished.status, RecordStatus::Finished);
    assert_eq!(finished.verdict, Some(Verdict::Fail));
    assert_eq!(
        finished.reasons,
        json!(["screen_replay", "color_flash_mismatch"])
    );
    assert!(finished
        .finished_at
        .is_some_and(|t| t >= inserted.created_at));
    assert_eq!(finished.created_at, inserted.created_at);
    assert_eq!(
        store
            .record(TenantId::DEFAULT, inserted.id)
            .await
            .expect("get"),
        finished
    );
}

async fn records_page_newest_first(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t = tenant(&*store, "bank-a").await;
    let s = scene(&*store, t, "open-account").await;
    let mut ids: Vec<RecordId> = Vec::new();
    for n in 0..5 {
        let record = store
            .insert_record(t, &new_record(&s, &format!("biz-{n}")))
            .await
            .expect("insert");
        ids.push(record.id);
    }
    ids.reverse(); // newest first
    let page = |offset, limit| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_records(t, Page { offset, limit })
                .await
                .expect("list")
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page(0, 2).await, ids[0..2]);
    assert_eq!(page(2, 2).await, ids[2..4]);
    assert_eq!(page(4, 2).await, ids[4..5]);
    assert!(page(5, 2).await.is_empty());
    assert_eq!(page(0, 500).await, ids);
    assert!(matches!(
        store.list_records(t, Page::first(0)).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.list_records(t, Page::first(501)).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn session_ids_are_unique_per_tenant(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let a = tenant(&*store, "bank-a").await;
    let b = tenant(&*store, "bank-b").await;
    let scene_a = scene(&*store, a, "s").await;
    let scene_b = scene(&*store, b, "s").await;
    let first = new_record(&scene_a, "biz-1");
    store.insert_record(a, &first).await.expect("insert");
    let duplicate = store.insert_record(a, &first).await;
    assert_eq!(
        duplicate,
        Err(StoreError::Conflict {
            constraint: "records_tenant_id_session_id_key".into()
        })
    );
    let elsewhere = NewRecord {
        scene_id: scene_b.id,
        ..first
    };
    store
        .insert_record(b, &elsewhere)
        .await
        .expect("same session id in another tenant");
}

async fn every_read_is_scoped_to_its_tenant(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let a = tenant(&*store, "bank-a").await;
    let b = tenant(&*store, "bank-b").await;
    let scene_a = scene(&*store, a, "only-a").await;
    let record_a = store
        .insert_record(a, &new_record(&scene_a, "biz-a"))
        .await
        .expect("insert");

    assert_eq!(store.scene(b, scene_a.id).await, not_found("scene"));
    assert_eq!(store.scene_by_code(b, "only-a").await, not_found("scene"));
    assert!(store.list_scenes(b).await.expect("list").is_empty());
    assert_eq!(
        store
            .update_scene(b, "only-a", &SceneUpdate::default())
            .await,
        not_found("scene")
    );
    assert_eq!(store.record(b, record_a.id).await, not_found("record"));
    assert!(store
        .list_records(b, Page::first(100))
        .await
        .expect("list")
        .is_empty());
    assert_eq!(
        store
            .finish_record(
                b,
                record_a.id,
                &RecordOutcome {
                    status: RecordStatus::Failed,
                    verdict: None,
                    reasons: json!([]),
                    scores: json!({}),
                },
            )
            .await,
        not_found("record")
    );
    // A record of B cannot point at a scene of A.
    assert!(matches!(
        store.insert_record(b, &new_record(&scene_a, "biz-b")).await,
        Err(StoreError::Invalid(_))
    ));
    // A's own view is intact.
    assert_eq!(
        store.record(a, record_a.id).await.expect("a's record"),
        record_a
    );
    assert_eq!(
        store.scene(a, scene_a.id).await.expect("a's scene").version,
        1
    );
}

async fn missing_rows_are_not_found(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let nobody = TenantId::new();
    assert_eq!(
        store.tenant(nobody).await,
        Err(StoreError::NotFound { entity: "tenant" })
    );
    assert_eq!(
        store.tenant_by_code("no-such-bank").await,
        Err(StoreError::NotFound { entity: "tenant" })
    );
    assert_eq!(
        store
            .scene_by_code(TenantId::DEFAULT, "no-such-scene")
            .await,
        Err(StoreError::NotFound { entity: "scene" })
    );
    assert_eq!(
        store.record(TenantId::DEFAULT, RecordId::new()).await,
        Err(StoreError::NotFound { entity: "record" })
    );
    assert_eq!(
        store
            .update_scene(TenantId::DEFAULT, "no-such-scene", &SceneUpdate::default())
            .await,
        Err(StoreError::NotFound { entity: "scene" })
    );
}
