//! System properties, the data dictionary, the job schedule and its runs.

use chrono::{DateTime, Utc};
use livegate::store::system::{
    DictItemUpdate, DictStatus, JobUpdate, LeaseRequest, NewDictItem, NewDictType, NewJob,
    NewJobRun, RunStatus, RunTrigger, ABANDONED_MARK, LOG_CUT_MARK, MAX_RUN_LOG_BYTES,
};

use serde_json::Value;

use super::*;

crate::conformance!(
    properties_are_set_replaced_and_listed,
    dictionary_types_and_entries_are_kept_with_their_rules,
    built_in_entries_are_seeded_once_relabelled_never_deleted,
    a_job_is_seeded_once_and_its_schedule_changed,
    a_lease_is_held_by_one_node_until_released_or_run_out,
    a_scheduled_lease_takes_an_enabled_due_job_and_moves_it_on,
    of_many_concurrent_lease_requests_one_wins,
    runs_are_recorded_cut_listed_newest_first_and_pruned,
);

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

async fn properties_are_set_replaced_and_listed(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    assert!(store.system_properties().await.expect("list").is_empty());
    let (old, now) = store
        .set_system_property("jobs.backup_keep", &json!(3), "root")
        .await
        .expect("set");
    assert_eq!(old, None);
    assert_eq!(
        (now.key.as_str(), &now.value, now.updated_by.as_str()),
        ("jobs.backup_keep", &json!(3), "root")
    );
    let (old, now) = store
        .set_system_property("jobs.backup_keep", &json!(9), "ops")
        .await
        .expect("replace");
    assert_eq!(
        old.map(|o| (o.value, o.updated_by)),
        Some((json!(3), "root".into()))
    );
    assert_eq!(now.value, json!(9));
    store
        .set_system_property("console.site_title", &json!("农信活体"), "ops")
        .await
        .expect("set text");
    let listed = store.system_properties().await.expect("list");
    let listed: Vec<(String, Value)> = listed.into_iter().map(|p| (p.key, p.value)).collect();
    assert_eq!(
        listed,
        vec![
            ("console.site_title".into(), json!("农信活体")),
            ("jobs.backup_keep".into(), json!(9)),
        ]
    );
}

fn item(value: &str, sort: i32) -> NewDictItem {
    NewDictItem {
        value: value.into(),
        label_zh: format!("{value} 中文"),
        label_en: format!("{value} label"),
        sort,
        status: DictStatus::Enabled,
    }
}

async fn dictionary_types_and_entries_are_kept_with_their_rules(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let channel = NewDictType {
        code: "channel".into(),
        name_zh: "渠道".into(),
        name_en: "Channel".into(),
    };
    let created = store.create_dict_type(&channel, false).await.expect("type");
    assert_eq!(
        (created.code.as_str(), created.builtin, created.status),
        ("channel", false, DictStatus::Enabled)
    );
    assert_eq!(
        store.create_dict_type(&channel, false).await.map(|_| ()),
        Err(StoreError::Conflict {
            constraint: "dict_types_code_key".into()
        })
    );
    assert_eq!(store.dict_data("nope").await, not_found("dict_type"));
    assert_eq!(
        store.create_dict_item("nope", &item("x", 0), false).await,
        not_found("dict_type")
    );

    let wechat = store
        .create_dict_item("channel", &item("wechat", 20), false)
        .await
        .expect("item");
    let app = store
        .create_dict_item("channel", &item("app", 10), false)
        .await
        .expect("item");
    let web = store
        .create_dict_item("channel", &item("web", 20), true)
        .await
        .expect("item");
    assert_eq!(
        store
            .create_dict_item("channel", &item("app", 99), false)
            .await
            .map(|_| ()),
        Err(StoreError::Conflict {
            constraint: "dict_data_type_code_value_key".into()
        })
    );
    // By sort, then value.
    let values: Vec<String> = store
        .dict_data("channel")
        .await
        .expect("list")
        .into_iter()
        .map(|i| i.value)
        .collect();
    assert_eq!(values, vec!["app", "web", "wechat"]);

    let updated = store
        .update_dict_item(
            "channel",
            wechat.id,
            &DictItemUpdate {
                label_zh: Some("微信".into()),
                status: Some(DictStatus::Disabled),
                ..Default::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(
        (
            updated.label_zh.as_str(),
            updated.label_en.as_str(),
            updated.sort,
            updated.status,
            updated.value.as_str()
        ),
        ("微信", "wechat label", 20, DictStatus::Disabled, "wechat")
    );
    assert!(updated.updated_at >= wechat.updated_at);
    assert_eq!(
        store
            .update_dict_item("channel", Uuid::now_v7(), &DictItemUpdate::default())
            .await,
        not_found("dict_item")
    );

    // Another type's path does not reach the entry.
    store
        .create_dict_type(
            &NewDictType {
                code: "other".into(),
                name_zh: "其他".into(),
                name_en: "Other".into(),
            },
            false,
        )
        .await
        .expect("type");
    assert_eq!(
        store.delete_dict_item("other", app.id).await,
        not_found("dict_item")
    );

    assert_eq!(
        store.delete_dict_item("channel", web.id).await.map(|_| ()),
        Err(StoreError::Conflict {
            constraint: "dict_data_builtin".into()
        })
    );
    let deleted = store
        .delete_dict_item("channel", app.id)
        .await
        .expect("delete");
    assert_eq!(deleted.value, "app");
    let values: Vec<String> = store
        .dict_data("channel")
        .await
        .expect("list")
        .into_iter()
        .map(|i| i.value)
        .collect();
    assert_eq!(values, vec!["web", "wechat"]);
}

async fn built_in_entries_are_seeded_once_relabelled_never_deleted(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let added = livegate::dictionary::seed_builtin(store.as_ref())
        .await
        .expect("seed");
    let expected: usize = livegate::dictionary::BUILTIN
        .iter()
        .map(|t| 1 + t.items.len())
        .sum();
    assert_eq!(added, expected);
    let reasons = store.dict_data("reason").await.expect("reasons");
    let mismatch = reasons
        .iter()
        .find(|i| i.value == "face_mismatch")
        .expect("face_mismatch seeded")
        .clone();
    assert!(mismatch.builtin);
    assert_eq!(mismatch.label_zh, "人脸比对不一致");
    store
        .update_dict_item(
            "reason",
            mismatch.id,
            &DictItemUpdate {
                label_zh: Some("比对不通过".into()),
                ..Default::default()
            },
        )
        .await
        .expect("relabel");
    assert_eq!(
        livegate::dictionary::seed_builtin(store.as_ref())
            .await
            .expect("seed again"),
        0
    );
    let again = store.dict_data("reason").await.expect("reasons");
    assert_eq!(again.len(), reasons.len());
    assert!(again
        .iter()
        .any(|i| i.value == "face_mismatch" && i.label_zh == "比对不通过"));
    assert_eq!(
        store
            .delete_dict_item("reason", mismatch.id)
            .await
            .map(|_| ()),
        Err(StoreError::Conflict {
            constraint: "dict_data_builtin".into()
        })
    );
    let modes = store.dict_data("liveness_mode").await.expect("modes");
    let enabled: Vec<&str> = modes
        .iter()
        .filter(|m| m.status == DictStatus::Enabled)
        .map(|m| m.value.as_str())
        .collect();
    assert_eq!(enabled, vec!["action"]);
}

fn new_job(code: &str, next: Option<DateTime<Utc>>) -> NewJob {
    NewJob {
        code: code.into(),
        cron: "*/5 * * * *".into(),
        enabled: true,
        next_run_at: next,
    }
}

async fn a_job_is_seeded_once_and_its_schedule_changed(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let due = at("2026-11-25T12:05:00Z");
    let seeded = store
        .ensure_job(&new_job("evidence_purge", Some(due)))
        .await
        .expect("seed");
    assert_eq!(
        (
            seeded.cron.as_str(),
            seeded.enabled,
            seeded.next_run_at,
            seeded.updated_by.as_deref()
        ),
        ("*/5 * * * *", true, Some(due), None)
    );
    assert_eq!(seeded.locked_by, None);
    let (before, after) = store
        .update_job(
            "evidence_purge",
            &JobUpdate {
                cron: "0 3 * * *".into(),
                enabled: false,
                next_run_at: None,
            },
            "ops",
        )
        .await
        .expect("update");
    assert_eq!(before, seeded);
    assert_eq!(
        (
            after.cron.as_str(),
            after.enabled,
            after.next_run_at,
            after.updated_by.as_deref()
        ),
        ("0 3 * * *", false, None, Some("ops"))
    );
    // Seeding again keeps the operator's schedule.
    let kept = store
        .ensure_job(&new_job("evidence_purge", Some(due)))
        .await
        .expect("seed again");
    assert_eq!(kept, after);
    store
        .ensure_job(&new_job("backup", None))
        .await
        .expect("seed");
    let codes: Vec<String> = store
        .jobs()
        .await
        .expect("jobs")
        .into_iter()
        .map(|j| j.code)
        .collect();
    assert_eq!(codes, vec!["backup", "evidence_purge"]);
    assert_eq!(store.job("nope").await, not_found("job"));
    assert_eq!(
        store
            .update_job(
                "nope",
                &JobUpdate {
                    cron: "* * * * *".into(),
                    enabled: true,
                    next_run_at: None
                },
                "ops"
            )
            .await
            .map(|_| ()),
        not_found("job")
    );
}

fn lease(node: &str, now: DateTime<Utc>, secs: i64, due_only: bool) -> LeaseRequest {
    LeaseRequest {
        node: node.into(),
        now,
        until: now + chrono::Duration::seconds(secs),
        due_only,
        next_run_at: Some(now + chrono::Duration::minutes(5)),
    }
}

async fn a_lease_is_held_by_one_node_until_released_or_run_out(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let t0 = at("2026-11-25T12:00:00Z");
    store
        .ensure_job(&new_job("backup", None))
        .await
        .expect("seed");
    let held = store
        .lease_job("backup", &lease("node-a", t0, 60, false))
        .await
        .expect("lease")
        .expect("free: taken");
    assert_eq!(held.locked_by.as_deref(), Some("node-a"));
    assert_eq!(held.locked_until, Some(t0 + chrono::Duration::seconds(60)));
    assert_eq!(
        held.next_run_at, None,
        "a run now leaves the schedule alone"
    );
    let later = t0 + chrono::Duration::seconds(30);
    assert_eq!(
        store
            .lease_job("backup", &lease("node-b", later, 60, false))
            .await
            .expect("lease"),
        None
    );
    // Only the holder renews or releases.
    assert!(!store
        .renew_job_lease("backup", "node-b", later + chrono::Duration::seconds(60))
        .await
        .expect("renew"));
    store
        .release_job("backup", "node-b", t0, RunStatus::Ok)
        .await
        .expect("release by another");
    assert_eq!(
        store.job("backup").await.expect("job").locked_by.as_deref(),
        Some("node-a")
    );
    assert!(store
        .renew_job_lease("backup", "node-a", t0 + chrono::Duration::seconds(120))
        .await
        .expect("renew"));
    // The renewed lease holds past the first deadline, then runs out.
    let past_first = t0 + chrono::Duration::seconds(90);
    assert_eq!(
        store
            .lease_job("backup", &lease("node-b", past_first, 60, false))
            .await
            .expect("lease"),
        None
    );
    let past_renewed = t0 + chrono::Duration::seconds(120);
    let taken = store
        .lease_job("backup", &lease("node-b", past_renewed, 60, false))
        .await
        .expect("lease")
        .expect("ran out: taken");
    assert_eq!(taken.locked_by.as_deref(), Some("node-b"));
    store
        .release_job("backup", "node-b", past_renewed, RunStatus::Failed)
        .await
        .expect("release");
    let released = store.job("backup").await.expect("job");
    assert_eq!((released.locked_by, released.locked_until), (None, None));
    assert_eq!(
        (released.last_run_at, released.last_status),
        (Some(past_renewed), Some(RunStatus::Failed))
    );
    assert_eq!(
        store
            .lease_job("nope", &lease("node-a", t0, 60, false))
            .await,
        not_found("job")
    );
}

async fn a_scheduled_lease_takes_an_enabled_due_job_and_moves_it_on(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let due = at("2026-11-25T12:05:00Z");
    store
        .ensure_job(&new_job("evidence_purge", Some(due)))
        .await
        .expect("seed");
    let early = due - chrono::Duration::seconds(1);
    assert_eq!(
        store
            .lease_job("evidence_purge", &lease("node-a", early, 60, true))
            .await
            .expect("lease"),
        None,
        "not due yet"
    );
    let taken = store
        .lease_job("evidence_purge", &lease("node-a", due, 60, true))
        .await
        .expect("lease")
        .expect("due: taken");
    assert_eq!(taken.next_run_at, Some(due + chrono::Duration::minutes(5)));
    store
        .release_job("evidence_purge", "node-a", due, RunStatus::Ok)
        .await
        .expect("release");
    // A node that read the old due time cannot take the same slot again.
    assert_eq!(
        store
            .lease_job("evidence_purge", &lease("node-b", due, 60, true))
            .await
            .expect("lease"),
        None
    );
    // A disabled job is never due, whatever its time.
    store
        .update_job(
            "evidence_purge",
            &JobUpdate {
                cron: "*/5 * * * *".into(),
                enabled: false,
                next_run_at: Some(due),
            },
            "ops",
        )
        .await
        .expect("disable");
    assert_eq!(
        store
            .lease_job("evidence_purge", &lease("node-b", due, 60, true))
            .await
            .expect("lease"),
        None
    );
    // A run now still works.
    assert!(store
        .lease_job("evidence_purge", &lease("node-b", due, 60, false))
        .await
        .expect("lease")
        .is_some());
}

async fn of_many_concurrent_lease_requests_one_wins(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    let due = at("2026-11-25T12:05:00Z");
    store
        .ensure_job(&new_job("session_expiry", Some(due)))
        .await
        .expect("seed");
    let attempts = (0..8).map(|n| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            store
                .lease_job(
                    "session_expiry",
                    &lease(&format!("node-{n}"), due, 60, n % 2 == 0),
                )
                .await
                .expect("lease")
        })
    });
    let mut winners = 0;
    for attempt in attempts {
        if attempt.await.expect("task").is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

fn new_run(code: &str, started_at: DateTime<Utc>) -> NewJobRun {
    NewJobRun {
        job_code: code.into(),
        trigger: RunTrigger::Schedule,
        requested_by: None,
        node: "node-a".into(),
        started_at,
    }
}

async fn runs_are_recorded_cut_listed_newest_first_and_pruned(fx: Arc<Fixture>) {
    let store = migrated(&fx).await;
    store
        .ensure_job(&new_job("backup", None))
        .await
        .expect("seed");
    let t0 = at("2026-11-25T02:30:00Z");
    let first = store
        .start_job_run(&NewJobRun {
            trigger: RunTrigger::Manual,
            requested_by: Some("ops".into()),
            ..new_run("backup", t0)
        })
        .await
        .expect("start");
    assert_eq!(
        (first.status, first.finished_at, first.log.as_str()),
        (RunStatus::Running, None, "")
    );
    let long = "备份 wrote livegate-20261125.db\n".repeat(4_000);
    assert!(long.len() > MAX_RUN_LOG_BYTES);
    let finished = store
        .finish_job_run(
            first.id,
            t0 + chrono::Duration::seconds(3),
            RunStatus::Ok,
            &long,
        )
        .await
        .expect("finish");
    assert_eq!(finished.status, RunStatus::Ok);
    assert_eq!(
        finished.finished_at,
        Some(t0 + chrono::Duration::seconds(3))
    );
    assert!(finished.log.len() <= MAX_RUN_LOG_BYTES);
    assert!(finished.log.ends_with(LOG_CUT_MARK));
    assert_eq!(finished.requested_by.as_deref(), Some("ops"));
    assert_eq!(finished.trigger, RunTrigger::Manual);

    for n in 1..=3 {
        let run = store
            .start_job_run(&new_run("backup", t0 + chrono::Duration::minutes(n)))
            .await
            .expect("start");
        store
            .finish_job_run(run.id, run.started_at, RunStatus::Failed, "disk full")
            .await
            .expect("finish");
    }
    // A run whose node went away stays `running` until the next lease holder marks it.
    let stuck = store
        .start_job_run(&new_run("backup", t0 + chrono::Duration::minutes(10)))
        .await
        .expect("start");
    let (page, total) = store
        .job_runs("backup", Page::first(2))
        .await
        .expect("runs");
    assert_eq!(total, 5);
    assert_eq!(
        page.iter().map(|r| r.started_at).collect::<Vec<_>>(),
        vec![
            t0 + chrono::Duration::minutes(10),
            t0 + chrono::Duration::minutes(3)
        ]
    );
    let marked = store
        .fail_abandoned_runs("backup", t0 + chrono::Duration::minutes(20))
        .await
        .expect("abandon");
    assert_eq!(marked, 1);
    let (page, _) = store
        .job_runs("backup", Page::first(1))
        .await
        .expect("runs");
    assert_eq!(page[0].id, stuck.id);
    assert_eq!(page[0].status, RunStatus::Failed);
    assert!(page[0].log.ends_with(ABANDONED_MARK));

    let pruned = store.prune_job_runs("backup", 2).await.expect("prune");
    assert_eq!(pruned, 3);
    let (rest, total) = store
        .job_runs("backup", Page::first(10))
        .await
        .expect("runs");
    assert_eq!(total, 2);
    assert_eq!(rest[0].id, stuck.id);
    assert_eq!(
        store.job_runs("nope", Page::first(1)).await,
        not_found("job")
    );
}
