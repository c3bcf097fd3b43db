//! Live sessions beside their records.

use chrono::{DateTime, Duration as TimeDelta, Utc};
use livegate::store::{EvidencePurge, NewSession, SessionRow};

use super::*;

crate::conformance!(
    a_session_round_trips_every_field_with_its_record,
    sessions_are_scoped_to_their_tenant,
    a_resume_keeps_the_first_start,
    the_first_finish_wins,
    of_concurrent_finishes_exactly_one_wins,
    due_expiries_are_unfinished_oldest_first_and_limited,
    a_refused_session_leaves_no_half_written_row,
    evidence_is_due_at_its_retention_once_and_per_tenant,
);

/// Now, cut to microseconds as the stores keep it.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).expect("now in range")
}

fn new_session(scene: &livegate::store::Scene, expires_at: DateTime<Utc>) -> NewSession {
    NewSession {
        record: new_record(scene, "biz-42"),
        token_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        challenge: json!({
            "steps": ["blink", "turn_left"],
            "capture": { "width": 480, "jpeg_quality": 0.8 },
            "limits": { "max_frames": 600 },
        }),
        return_url: Some("https://bank.example/kyc/done?state=7".into()),
        user_ref: Some("customer-0042".into()),
        expires_at,
    }
}

fn passed() -> RecordOutcome {
    RecordOutcome {
        status: RecordStatus::Finished,
        verdict: Some(Verdict::Pass),
        reasons: json!([]),
        scores: json!({ "liveness": 0.97, "action": 1.0 }),
    }
}

fn expired() -> RecordOutcome {
    RecordOutcome {
        status: RecordStatus::Expired,
        verdict: None,
        reasons: json!(["expired"]),
        scores: json!({}),
    }
}

async fn a_session_round_trips_every_field_with_its_record(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t = tenant(&*store, "bank-a").await;
    let s = scene(&*store, t, "open-account").await;
    let expires_at = now() + TimeDelta::minutes(10);
    let new = new_session(&s, expires_at);

    let created = store.create_session(t, &new).await.expect("create");
    assert_eq!(created.session_id, new.record.session_id);
    assert_eq!(created.tenant_id, t);
    assert_eq!(created.token_hash, new.token_hash);
    assert_eq!(created.challenge, new.challenge);
    assert_eq!(created.return_url, new.return_url);
    assert_eq!(created.user_ref, new.user_ref);
    assert_eq!(created.expires_at, expires_at);
    assert_eq!(created.started_at, None);
    assert_eq!(created.result, None);
    let record = &created.record;
    assert_eq!(record.tenant_id, t);
    assert_eq!(record.scene_id, s.id);
    assert_eq!(record.scene_version, s.version);
    assert_eq!(record.session_id, new.record.session_id);
    assert_eq!(record.biz_id, "biz-42");
    assert_eq!(record.app_id.as_deref(), Some("app-1"));
    assert_eq!(record.status, RecordStatus::Pending);
    assert_eq!(record.verdict, None);
    assert_eq!(record.reasons, json!([]));
    assert_eq!(record.scores, json!({}));
    assert_eq!(record.client, new.record.client);
    assert_eq!(record.finished_at, None);

    // Read back every way: the same row, and the record is the tenant's like any other.
    assert_eq!(
        store.session(created.session_id).await.expect("by id"),
        created
    );
    assert_eq!(
        store
            .session_of_tenant(t, created.session_id)
            .await
            .expect("of tenant"),
        created
    );
    assert_eq!(&store.record(t, record.id).await.expect("record"), record);

    // Optional fields stay absent.
    let bare = NewSession {
        return_url: None,
        user_ref: None,
        ..new_session(&s, expires_at)
    };
    let bare = store.create_session(t, &bare).await.expect("create bare");
    let read = store.session(bare.session_id).await.expect("read bare");
    assert_eq!((read.return_url, read.user_ref), (None, None));
}

async fn sessions_are_scoped_to_their_tenant(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let a = tenant(&*store, "bank-a").await;
    let b = tenant(&*store, "bank-b").await;
    let scene_a = scene(&*store, a, "open-account").await;
    let created = store
        .create_session(a, &new_session(&scene_a, now() + TimeDelta::minutes(5)))
        .await
        .expect("create");
    let id = created.session_id;

    assert_eq!(store.session_of_tenant(b, id).await, not_found("session"));
    assert_eq!(
        store.start_session(b, id, &json!({ "ua": "evil" })).await,
        not_found("session")
    );
    assert_eq!(
        store
            .finish_session(b, id, &passed(), &json!({ "x": 1 }))
            .await,
        not_found("session")
    );
    // Tenant B's tries changed nothing of tenant A's session.
    assert_eq!(store.session_of_tenant(a, id).await.expect("a's"), created);
    // The page knows only the id: the global lookup finds it, and nothing else.
    assert_eq!(store.session(id).await.expect("global"), created);
    assert_eq!(store.session(Uuid::now_v7()).await, not_found("session"));
    assert_eq!(
        store.session_of_tenant(a, Uuid::now_v7()).await,
        not_found("session")
    );
    assert_eq!(
        store
            .finish_session(a, Uuid::now_v7(), &passed(), &json!({}))
            .await,
        not_found("session")
    );
}

async fn a_resume_keeps_the_first_start(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t = tenant(&*store, "bank-a").await;
    let s = scene(&*store, t, "open-account").await;
    let created = store
        .create_session(t, &new_session(&s, now() + TimeDelta::minutes(5)))
        .await
        .expect("create");
    let id = created.session_id;

    let before = now();
    let first_client = json!({ "ua": "iPhone Safari", "camera": "Front Camera" });
    let started = store
        .start_session(t, id, &first_client)
        .await
        .expect("start");
    assert_eq!(started.record.status, RecordStatus::Running);
    assert_eq!(started.record.client, first_client);
    let started_at = started.started_at.expect("started_at set");
    assert!(started_at >= before, "{started_at} < {before}");
    assert_eq!(started.result, None);
    assert_eq!(store.session(id).await.expect("read"), started);

    // A reconnect (another phone, even) does not overwrite what the first connection reported.
    let resumed = store
        .start_session(t, id, &json!({ "ua": "Android WeChat" }))
        .await
        .expect("resume");
    assert_eq!(resumed, started);

    // Nor does a connection after the end.
    assert!(store
        .finish_session(t, id, &passed(), &json!({ "status": "passed" }))
        .await
        .expect("finish"));
    let finished = store.session(id).await.expect("finished");
    let late = store
        .start_session(t, id, &json!({ "ua": "late" }))
        .await
        .expect("late start");
    assert_eq!(late, finished);
    assert_eq!(late.record.status, RecordStatus::Finished);
    assert_eq!(late.record.client, first_client);
}

async fn the_first_finish_wins(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t = tenant(&*store, "bank-a").await;
    let s = scene(&*store, t, "open-account").await;
    let created = store
        .create_session(t, &new_session(&s, now() + TimeDelta::minutes(5)))
        .await
        .expect("create");
    let id = created.session_id;
    store
        .start_session(t, id, &json!({ "ua": "iPhone" }))
        .await
        .expect("start");

    // A finish must end the record.
    let mut not_an_end = passed();
    not_an_end.status = RecordStatus::Running;
    assert!(matches!(
        store.finish_session(t, id, &not_an_end, &json!({})).await,
        Err(StoreError::Invalid(_))
    ));

    let before = now();
    let result = json!({ "status": "passed", "jws": "eyJhbGciOiJFUzI1NiJ9.e30.sig" });
    assert!(store
        .finish_session(t, id, &passed(), &result)
        .await
        .expect("first finish"));
    let finished = store.session(id).await.expect("finished");
    assert_eq!(finished.result.as_ref(), Some(&result));
    assert_eq!(finished.record.status, RecordStatus::Finished);
    assert_eq!(finished.record.verdict, Some(Verdict::Pass));
    assert_eq!(finished.record.reasons, json!([]));
    assert_eq!(finished.record.scores, passed().scores);
    assert!(finished.record.finished_at.expect("finished_at") >= before);
    assert!(finished.started_at.is_some(), "the start is kept");

    // The expiry sweep racing the verdict loses, and changes nothing.
    assert!(!store
        .finish_session(t, id, &expired(), &json!({ "status": "expired" }))
        .await
        .expect("second finish"));
    assert_eq!(store.session(id).await.expect("after second"), finished);

    // A record finished another way (finish_record) also refuses a session finish.
    let other = store
        .create_session(t, &new_session(&s, now() + TimeDelta::minutes(5)))
        .await
        .expect("create other");
    store
        .finish_record(t, other.record.id, &expired())
        .await
        .expect("finish record");
    assert!(!store
        .finish_session(
            t,
            other.session_id,
            &passed(),
            &json!({ "status": "passed" })
        )
        .await
        .expect("finish after record"));
    assert_eq!(
        store.session(other.session_id).await.expect("other").result,
        None
    );
}

async fn of_concurrent_finishes_exactly_one_wins(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t = tenant(&*store, "bank-a").await;
    let s = scene(&*store, t, "open-account").await;
    for round in 0..5 {
        let created = store
            .create_session(t, &new_session(&s, now() + TimeDelta::minutes(5)))
            .await
            .expect("create");
        let id = created.session_id;
        let racers: Vec<_> = (0..4)
            .map(|racer| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let outcome = if racer % 2 == 0 { passed() } else { expired() };
                    let result = json!({ "round": round, "racer": racer });
                    let won = store
                        .finish_session(t, id, &outcome, &result)
                        .await
                        .expect("finish");
                    (won, outcome, result)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for racer in racers {
            let (won, outcome, result) = racer.await.expect("racer");
            if won {
                winners.push((outcome, result));
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {} winners", winners.len());
        let (outcome, result) = winners.remove(0);
        let stored: SessionRow = store.session(id).await.expect("read");
        // The record and the result are the same finish's.
        assert_eq!(stored.result, Some(result));
        assert_eq!(stored.record.status, outcome.status);
        assert_eq!(stored.record.verdict, outcome.verdict);
        assert_eq!(stored.record.reasons, outcome.reasons);
    }
}

async fn due_expiries_are_unfinished_oldest_first_and_limited(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let a = tenant(&*store, "bank-a").await;
    let b = tenant(&*store, "bank-b").await;
    let scene_a = scene(&*store, a, "open-account").await;
    let scene_b = scene(&*store, b, "open-account").await;
    let now = now();
    let create = |t: TenantId, s: livegate::store::Scene, ago: i64| {
        let store = Arc::clone(&store);
        async move {
            store
                .create_session(t, &new_session(&s, now - TimeDelta::minutes(ago)))
                .await
                .expect("create")
                .session_id
        }
    };
    let one_ago = create(a, scene_a.clone(), 1).await;
    let three_ago = create(b, scene_b.clone(), 3).await;
    let two_ago = create(a, scene_a.clone(), 2).await;
    let due_now = create(b, scene_b.clone(), 0).await;
    let _later = create(a, scene_a.clone(), -10).await;
    let finished = create(a, scene_a.clone(), 5).await;
    assert!(store
        .finish_session(a, finished, &passed(), &json!({ "status": "passed" }))
        .await
        .expect("finish"));

    assert_eq!(
        store.due_expiries(now, 10).await.expect("due"),
        vec![(b, three_ago), (a, two_ago), (a, one_ago), (b, due_now)]
    );
    assert_eq!(
        store.due_expiries(now, 2).await.expect("due, limited"),
        vec![(b, three_ago), (a, two_ago)]
    );
    assert_eq!(
        store
            .due_expiries(now - TimeDelta::seconds(90), 10)
            .await
            .expect("due earlier"),
        vec![(b, three_ago), (a, two_ago)]
    );
    // Once the sweep expires one, it is no longer due.
    assert!(store
        .finish_session(b, three_ago, &expired(), &json!({ "status": "expired" }))
        .await
        .expect("expire"));
    assert_eq!(
        store.due_expiries(now, 1).await.expect("due after expiry"),
        vec![(a, two_ago)]
    );
    assert!(store.due_expiries(now, 0).await.expect("none").is_empty());
}

async fn a_refused_session_leaves_no_half_written_row(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let a = tenant(&*store, "bank-a").await;
    let b = tenant(&*store, "bank-b").await;
    let scene_a = scene(&*store, a, "open-account").await;
    let scene_b = scene(&*store, b, "open-account").await;
    let records_of = |t: TenantId| {
        let store = Arc::clone(&store);
        async move { store.list_records(t, Page::first(50)).await.expect("list") }
    };

    // Another tenant's scene: refused, and no record is left without its session.
    let foreign = new_session(&scene_b, now() + TimeDelta::minutes(5));
    assert!(matches!(
        store.create_session(a, &foreign).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(records_of(a).await.is_empty());
    assert_eq!(
        store.session(foreign.record.session_id).await,
        not_found("session")
    );

    // A session's record starts pending.
    let mut running = new_session(&scene_a, now() + TimeDelta::minutes(5));
    running.record.status = RecordStatus::Running;
    assert!(matches!(
        store.create_session(a, &running).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(records_of(a).await.is_empty());

    // The same session id twice in a tenant: the record's key refuses it.
    let first = store
        .create_session(a, &new_session(&scene_a, now() + TimeDelta::minutes(5)))
        .await
        .expect("create");
    let mut again = new_session(&scene_a, now() + TimeDelta::minutes(5));
    again.record.session_id = first.session_id;
    assert_eq!(
        store.create_session(a, &again).await,
        Err(StoreError::Conflict {
            constraint: "records_tenant_id_session_id_key".into()
        })
    );
    // In another tenant, the record would fit but the session's key (unique across tenants)
    // refuses it: the record written before it in the transaction is gone too.
    let mut elsewhere = new_session(&scene_b, now() + TimeDelta::minutes(5));
    elsewhere.record.session_id = first.session_id;
    assert_eq!(
        store.create_session(b, &elsewhere).await,
        Err(StoreError::Conflict {
            constraint: "sessions_session_id_key".into()
        })
    );
    assert!(records_of(b).await.is_empty());
    assert_eq!(
        store.session_of_tenant(b, first.session_id).await,
        not_found("session")
    );
    assert_eq!(records_of(a).await, vec![first.record.clone()]);
    assert_eq!(store.session(first.session_id).await.expect("first"), first);
}

async fn evidence_is_due_at_its_retention_once_and_per_tenant(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let a = tenant(&*store, "bank-a").await;
    let b = tenant(&*store, "bank-b").await;
    let scene_a = scene(&*store, a, "open-account").await;
    let scene_b = scene(&*store, b, "open-account").await;
    let now = now();
    let later = now + TimeDelta::minutes(10);
    let finished = |t: TenantId, s: livegate::store::Scene| {
        let store = Arc::clone(&store);
        async move {
            let row = store
                .create_session(t, &new_session(&s, later))
                .await
                .expect("create");
            assert!(store
                .finish_session(t, row.session_id, &passed(), &json!({ "status": "passed" }))
                .await
                .expect("finish"));
            row
        }
    };
    let old = finished(b, scene_b.clone()).await;
    let newer = finished(a, scene_a.clone()).await;
    let kept = finished(a, scene_a.clone()).await;
    let _never_set = finished(a, scene_a.clone()).await;
    store
        .set_evidence_until(b, old.session_id, now - TimeDelta::days(2))
        .await
        .expect("set");
    store
        .set_evidence_until(a, newer.session_id, now - TimeDelta::days(1))
        .await
        .expect("set");
    store
        .set_evidence_until(a, kept.session_id, now + TimeDelta::days(180))
        .await
        .expect("set");
    // Another tenant's session cannot be touched.
    assert_eq!(
        store
            .set_evidence_until(a, old.session_id, now)
            .await
            .unwrap_err(),
        StoreError::NotFound { entity: "session" }
    );
    let purge = |row: &SessionRow, t: TenantId| EvidencePurge {
        tenant: t,
        record_id: row.record.id,
        session_id: row.session_id,
    };
    assert_eq!(
        store.due_evidence_purges(now, 10).await.expect("due"),
        vec![purge(&old, b), purge(&newer, a)],
        "oldest first; the one kept 180 days and the one without a date are not due"
    );
    assert_eq!(
        store.due_evidence_purges(now, 1).await.expect("limited"),
        vec![purge(&old, b)]
    );
    assert_eq!(
        store
            .mark_evidence_purged(a, old.session_id)
            .await
            .unwrap_err(),
        StoreError::NotFound { entity: "session" }
    );
    store
        .mark_evidence_purged(b, old.session_id)
        .await
        .expect("mark");
    assert_eq!(
        store.due_evidence_purges(now, 10).await.expect("due after"),
        vec![purge(&newer, a)],
        "a purged one is not due again"
    );
}
