//! Callback outbox and delivery history.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use livegate::store::{
    Attempt, AttemptNext, Callback, CallbackId, CallbackStatus, NewCallback, Record,
};

use super::*;

crate::conformance!(
    an_enqueued_callback_is_pending_and_due_at_once,
    a_claim_is_exclusive_while_its_lease_holds,
    an_expired_lease_makes_a_callback_claimable_again,
    a_retry_waits_until_its_time,
    giving_up_marks_the_callback_failed,
    history_is_kept_in_order_until_delivered,
    a_replay_sends_again_and_the_history_continues,
    callbacks_are_scoped_to_their_tenant,
);

const LEASE: Duration = Duration::from_secs(30);

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

async fn finished_record(store: &dyn Store, tenant: TenantId) -> Record {
    let scene = scene(store, tenant, "account-open").await;
    store
        .insert_record(tenant, &new_record(&scene, "biz-1"))
        .await
        .expect("insert record")
}

fn new_callback(record: &Record, body: &str) -> NewCallback {
    NewCallback {
        record_id: record.id,
        session_id: record.session_id,
        scene_id: record.scene_id,
        app_id: record.app_id.clone(),
        url: "https://biz.example/lg/callback?channel=app".into(),
        body: body.into(),
    }
}

async fn enqueue(store: &dyn Store, tenant: TenantId, record: &Record, body: &str) -> Callback {
    store
        .enqueue_callback(tenant, &new_callback(record, body))
        .await
        .expect("enqueue")
}

fn failed_try(at: DateTime<Utc>, status: u16) -> Attempt {
    Attempt {
        started_at: at,
        duration_ms: 12,
        http_status: Some(status),
        error: Some(format!("http status {status}")),
    }
}

fn ids(callbacks: &[Callback]) -> Vec<CallbackId> {
    callbacks.iter().map(|c| c.id).collect()
}

async fn an_enqueued_callback_is_pending_and_due_at_once(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t = tenant(&*store, "bank-a").await;
    let record = finished_record(&*store, t).await;
    // Bytes that JSON would normalise: the body must come back exactly as written.
    let body = "{\"b\": 1,  \"a\":\"中文\"}";
    let cb = enqueue(&*store, t, &record, body).await;
    assert_eq!(cb.status, CallbackStatus::Pending);
    assert_eq!(cb.attempts, 0);
    assert_eq!((cb.lease_until, cb.delivered_at), (None, None));
    assert_eq!(cb.body, body);
    assert_eq!(store.callback(t, cb.id).await.expect("read back"), cb);

    let claimed = store
        .claim_due_callbacks(Utc::now() + secs(1), 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(ids(&claimed), [cb.id]);
    assert_eq!(claimed[0].body, body);
    assert!(claimed[0].lease_until.is_some());

    let mut foreign = new_callback(&record, "{}");
    foreign.record_id = RecordId::new();
    assert!(
        matches!(
            store.enqueue_callback(t, &foreign).await,
            Err(StoreError::Invalid(_))
        ),
        "a callback needs a record of its tenant"
    );
}

async fn a_claim_is_exclusive_while_its_lease_holds(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t = tenant(&*store, "bank-a").await;
    let record = finished_record(&*store, t).await;
    let mut enqueued = HashSet::new();
    for i in 0..6 {
        enqueued.insert(
            enqueue(&*store, t, &record, &format!("{{\"n\":{i}}}"))
                .await
                .id,
        );
    }
    let now = Utc::now() + secs(1);
    // Two workers claim at the same moment.
    let (a, b) = tokio::join!(
        store.claim_due_callbacks(now, 4, LEASE),
        store.claim_due_callbacks(now, 4, LEASE)
    );
    let (a, b) = (a.expect("claim a"), b.expect("claim b"));
    let seen: Vec<CallbackId> = ids(&a).into_iter().chain(ids(&b)).collect();
    let unique: HashSet<CallbackId> = seen.iter().copied().collect();
    assert_eq!(seen.len(), unique.len(), "a callback was claimed twice");
    assert_eq!(unique, enqueued, "every due callback was claimed once");
    assert!(a.len() <= 4 && b.len() <= 4);

    let again = store
        .claim_due_callbacks(now + secs(5), 10, LEASE)
        .await
        .expect("claim again");
    assert!(again.is_empty(), "leased callbacks were claimed again");
}

async fn an_expired_lease_makes_a_callback_claimable_again(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t = tenant(&*store, "bank-a").await;
    let record = finished_record(&*store, t).await;
    let cb = enqueue(&*store, t, &record, "{}").await;
    let now = Utc::now() + secs(1);
    let first = store
        .claim_due_callbacks(now, 10, Duration::from_secs(10))
        .await
        .expect("claim");
    assert_eq!(ids(&first), [cb.id]);
    // The worker died: nothing is recorded. Within the lease, nobody gets it ...
    let within = store
        .claim_due_callbacks(now + secs(9), 10, LEASE)
        .await
        .expect("claim within");
    assert!(within.is_empty());
    // ... after it, another worker does.
    let after = store
        .claim_due_callbacks(now + secs(11), 10, LEASE)
        .await
        .expect("claim after");
    assert_eq!(ids(&after), [cb.id]);
    assert!(after[0].lease_until > first[0].lease_until);
}

async fn a_retry_waits_until_its_time(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t = tenant(&*store, "bank-a").await;
    let record = finished_record(&*store, t).await;
    let cb = enqueue(&*store, t, &record, "{}").await;
    let now = Utc::now() + secs(1);
    store
        .claim_due_callbacks(now, 10, LEASE)
        .await
        .expect("claim");
    let retry_at = now + secs(60);
    let after = store
        .record_attempt(
            t,
            cb.id,
            &failed_try(now, 503),
            AttemptNext::RetryAt(retry_at),
        )
        .await
        .expect("record");
    assert_eq!(after.status, CallbackStatus::Pending);
    assert_eq!(after.attempts, 1);
    assert_eq!(after.lease_until, None, "recording releases the lease");
    assert_eq!(after.last_error.as_deref(), Some("http status 503"));
    assert!((after.next_attempt_at - retry_at).num_milliseconds().abs() <= 1);

    let early = store
        .claim_due_callbacks(now + secs(59), 10, LEASE)
        .await
        .expect("early");
    assert!(early.is_empty(), "claimed before its retry time");
    let due = store
        .claim_due_callbacks(now + secs(61), 10, LEASE)
        .await
        .expect("due");
    assert_eq!(ids(&due), [cb.id]);
}

async fn giving_up_marks_the_callback_failed(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t = tenant(&*store, "bank-a").await;
    let record = finished_record(&*store, t).await;
    let cb = enqueue(&*store, t, &record, "{}").await;
    let now = Utc::now() + secs(1);
    store
        .claim_due_callbacks(now, 10, LEASE)
        .await
        .expect("claim");
    let attempt = Attempt {
        started_at: now,
        duration_ms: 0,
        http_status: None,
        error: Some("no callback secret: scene has no callback.secret".into()),
    };
    let failed = store
        .record_attempt(t, cb.id, &attempt, AttemptNext::GiveUp)
        .await
        .expect("give up");
    assert_eq!(failed.status, CallbackStatus::Failed);
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.last_error, attempt.error);
    assert_eq!(failed.delivered_at, None);
    let later = store
        .claim_due_callbacks(now + secs(3600), 10, LEASE)
        .await
        .expect("claim later");
    assert!(later.is_empty(), "a failed callback is never claimed");
    let history = store.callback_attempts(t, cb.id).await.expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].http_status, None);
    assert_eq!(history[0].error, attempt.error);
}

async fn history_is_kept_in_order_until_delivered(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t = tenant(&*store, "bank-a").await;
    let record = finished_record(&*store, t).await;
    let cb = enqueue(&*store, t, &record, "{}").await;
    let mut now = Utc::now() + secs(1);
    for status in [500, 502] {
        assert_eq!(
            ids(&store
                .claim_due_callbacks(now, 10, LEASE)
                .await
                .expect("claim")),
            [cb.id]
        );
        store
            .record_attempt(
                t,
                cb.id,
                &failed_try(now, status),
                AttemptNext::RetryAt(now + secs(5)),
            )
            .await
            .expect("record failure");
        now += secs(6);
    }
    store
        .claim_due_callbacks(now, 10, LEASE)
        .await
        .expect("claim");
    let ok = Attempt {
        started_at: now,
        duration_ms: 40,
        http_status: Some(200),
        error: None,
    };
    let delivered = store
        .record_attempt(t, cb.id, &ok, AttemptNext::Delivered)
        .await
        .expect("record delivery");
    assert_eq!(delivered.status, CallbackStatus::Delivered);
    assert_eq!(delivered.attempts, 3);
    assert_eq!(delivered.last_error, None);
    assert!(delivered.delivered_at.is_some());

    let history = store.callback_attempts(t, cb.id).await.expect("history");
    let seen: Vec<(u32, Option<u16>)> =
        history.iter().map(|a| (a.attempt, a.http_status)).collect();
    assert_eq!(seen, [(1, Some(500)), (2, Some(502)), (3, Some(200))]);
    assert_eq!(history[2].duration_ms, 40);
    assert!(history
        .iter()
        .all(|a| a.callback_id == cb.id && a.tenant_id == t));
    assert_eq!(
        ids(&store
            .callbacks_of_record(t, record.id)
            .await
            .expect("of record")),
        [cb.id]
    );

    // A late result from a worker whose lease had run out does not undo the delivery.
    let late = store
        .record_attempt(t, cb.id, &failed_try(now, 500), AttemptNext::GiveUp)
        .await
        .expect("late attempt");
    assert_eq!(late.status, CallbackStatus::Delivered);
    assert_eq!(
        store
            .callback_attempts(t, cb.id)
            .await
            .expect("history")
            .len(),
        4
    );
}

async fn a_replay_sends_again_and_the_history_continues(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t = tenant(&*store, "bank-a").await;
    let record = finished_record(&*store, t).await;
    let cb = enqueue(&*store, t, &record, "{}").await;
    let now = Utc::now() + secs(1);
    store
        .claim_due_callbacks(now, 10, LEASE)
        .await
        .expect("claim");
    store
        .record_attempt(t, cb.id, &failed_try(now, 404), AttemptNext::GiveUp)
        .await
        .expect("give up");
    let replayed = store
        .replay_callback(t, cb.id, now + secs(10))
        .await
        .expect("replay");
    assert_eq!(replayed.status, CallbackStatus::Pending);
    assert_eq!(replayed.attempts, 0, "a replay gets a fresh budget");
    assert_eq!(
        ids(&store
            .claim_due_callbacks(now + secs(10), 10, LEASE)
            .await
            .expect("claim")),
        [cb.id]
    );
    store
        .record_attempt(t, cb.id, &failed_try(now, 200), AttemptNext::Delivered)
        .await
        .expect("deliver");
    let numbers: Vec<u32> = store
        .callback_attempts(t, cb.id)
        .await
        .expect("history")
        .iter()
        .map(|a| a.attempt)
        .collect();
    assert_eq!(numbers, [1, 2]);
}

async fn callbacks_are_scoped_to_their_tenant(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let a = tenant(&*store, "bank-a").await;
    let b = tenant(&*store, "bank-b").await;
    let record = finished_record(&*store, a).await;
    let cb = enqueue(&*store, a, &record, "{}").await;

    assert_eq!(store.callback(b, cb.id).await, not_found("callback"));
    assert!(store
        .callbacks_of_record(b, record.id)
        .await
        .expect("b's view")
        .is_empty());
    assert_eq!(
        store.callback_attempts(b, cb.id).await,
        not_found("callback")
    );
    let now = Utc::now();
    assert_eq!(
        store
            .record_attempt(b, cb.id, &failed_try(now, 500), AttemptNext::GiveUp)
            .await,
        not_found("callback")
    );
    assert_eq!(
        store.replay_callback(b, cb.id, now).await,
        not_found("callback")
    );
    // Tenant A's callback is untouched by B's calls.
    let still = store.callback(a, cb.id).await.expect("a's callback");
    assert_eq!((still.status, still.attempts), (CallbackStatus::Pending, 0));
    assert!(store
        .callback_attempts(a, cb.id)
        .await
        .expect("history")
        .is_empty());
    // And B cannot enqueue against A's record.
    assert!(matches!(
        store
            .enqueue_callback(b, &new_callback(&record, "{}"))
            .await,
        Err(StoreError::Invalid(_))
    ));
}
