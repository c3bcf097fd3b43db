//! System management on a real `livegate serve`, on the embedded store and on PostgreSQL
//! (`LIVEGATE_TEST_PG_URL`, a schema of its own per test; unset: skipped): system properties,
//! the data dictionary and scheduled jobs through `/admin/api/v1`, with their refusals; and a
//! real backup of the embedded store that opens as a SQLite database holding the records.

mod common;

use std::time::{Duration, Instant};

use common::admin::{Backend, Console, Session, ROOT, ROOT_PASSWORD};
use serde_json::{json, Value};

/// Waits for the run to end; returns it.
async fn finished_run(console: &Console, session: &Session, job: &str, run: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, runs) = console
            .call(
                Some(session),
                "GET",
                &format!("/jobs/{job}/runs?limit=50"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{runs}");
        let found = runs["items"]
            .as_array()
            .and_then(|items| items.iter().find(|r| r["id"] == run))
            .cloned();
        if let Some(found) = found.filter(|r| r["status"] != "running") {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "run {run} of {job} never finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn detail<'a>(body: &'a Value, key: &str) -> &'a Value {
    &body["detail"][key]
}

on_both_backends!(
    properties_are_listed_changed_within_their_definition_and_audited,
    the_dictionary_is_read_by_everyone_and_changed_within_its_rules,
    jobs_are_listed_rescheduled_and_run_now_with_a_log,
);

async fn properties_are_listed_changed_within_their_definition_and_audited(console: Console) {
    let root = console.session(ROOT, ROOT_PASSWORD).await;
    let (status, list) = console
        .call(Some(&root), "GET", "/system/properties?limit=100", None)
        .await;
    assert_eq!(status, 200, "{list}");
    let idle = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|p| p["key"] == "admin.session_idle_timeout_s")
        .expect("idle timeout listed")
        .clone();
    assert_eq!(
        (
            &idle["kind"],
            &idle["value"],
            &idle["default"],
            &idle["min"],
            &idle["updated_by"]
        ),
        (
            &json!("duration_s"),
            &json!(28800),
            &json!(28800),
            &json!(300),
            &Value::Null
        )
    );
    assert!(idle["name_zh"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(list["total"].as_u64().is_some_and(|n| n >= 10));

    let path = "/system/properties/admin.session_idle_timeout_s";
    let (status, changed) = console
        .call(Some(&root), "PUT", path, Some(json!({ "value": 600 })))
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (&changed["value"], &changed["updated_by"]),
        (&json!(600), &json!(ROOT))
    );
    for bad in [json!(10), json!("600"), json!(600.5), json!(null)] {
        let (status, body) = console
            .call(Some(&root), "PUT", path, Some(json!({ "value": bad })))
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(detail(&body, "field"), "value");
    }
    let (status, body) = console
        .call(
            Some(&root),
            "PUT",
            "/system/properties/console.default_language",
            Some(json!({ "value": "fr" })),
        )
        .await;
    assert_eq!((status, detail(&body, "field")), (422, &json!("value")));
    let (status, _) = console
        .call(
            Some(&root),
            "PUT",
            "/system/properties/no.such_key",
            Some(json!({ "value": 1 })),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = console
        .call_with(
            Some(&root),
            false,
            "PUT",
            path,
            Some(json!({ "value": 900 })),
        )
        .await;
    assert_eq!(status, 403, "no CSRF token");
    // The refused changes changed nothing.
    let (_, list) = console
        .call(Some(&root), "GET", "/system/properties?limit=100", None)
        .await;
    let idle = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|p| p["key"] == "admin.session_idle_timeout_s")
        .expect("listed")
        .clone();
    assert_eq!(idle["value"], 600);

    let auditor = console.user(&root, "auditor1", &["auditor"], None).await.1;
    let (status, _) = console
        .call(Some(&auditor), "GET", "/system/properties", None)
        .await;
    assert_eq!(status, 403);
    let admin = console
        .user(&root, "tenant1", &["tenant_admin"], None)
        .await
        .1;
    let (status, _) = console
        .call(Some(&admin), "GET", "/system/properties", None)
        .await;
    assert_eq!(status, 200, "tenant_admin reads");
    let (status, body) = console
        .call(Some(&admin), "PUT", path, Some(json!({ "value": 900 })))
        .await;
    assert_eq!(
        (status, detail(&body, "permission")),
        (403, &json!("system:write"))
    );

    let (status, audit) = console
        .call(Some(&root), "GET", "/audit?action=property.update", None)
        .await;
    assert_eq!(status, 200, "{audit}");
    let entry = &audit["items"][0];
    assert_eq!(entry["target"], "admin.session_idle_timeout_s");
    assert_eq!(entry["detail"], json!({ "old": 28800, "new": 600 }));
}

async fn the_dictionary_is_read_by_everyone_and_changed_within_its_rules(console: Console) {
    let root = console.session(ROOT, ROOT_PASSWORD).await;
    let auditor = console.user(&root, "auditor1", &["auditor"], None).await.1;
    let (status, types) = console
        .call(Some(&auditor), "GET", "/dict/types?limit=100", None)
        .await;
    assert_eq!(status, 200, "{types}");
    let codes: Vec<&str> = types["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["code"].as_str())
        .collect();
    for code in [
        "action",
        "capture",
        "liveness_mode",
        "reason",
        "record_status",
        "verdict",
    ] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    let (status, reasons) = console
        .call(
            Some(&auditor),
            "GET",
            "/dict/types/reason/data?limit=100",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let mismatch = reasons["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["value"] == "face_mismatch")
        .expect("face_mismatch")
        .clone();
    assert_eq!(
        (&mismatch["label_zh"], &mismatch["builtin"]),
        (&json!("人脸比对不一致"), &json!(true))
    );
    let (status, _) = console
        .call(Some(&auditor), "GET", "/dict/types/nope/data", None)
        .await;
    assert_eq!(status, 404);
    let (status, modes) = console
        .call(
            Some(&auditor),
            "GET",
            "/dict/types/liveness_mode/data?status=enabled",
            None,
        )
        .await;
    assert_eq!((status, modes["total"].as_u64()), (200, Some(1)));

    // Built-in entries: relabelled, never renamed or deleted.
    let id = mismatch["id"].as_str().expect("id");
    let item_path = format!("/dict/types/reason/data/{id}");
    let (status, relabelled) = console
        .call(
            Some(&root),
            "PUT",
            &item_path,
            Some(json!({ "label_zh": "比对不通过", "sort": 5 })),
        )
        .await;
    assert_eq!(status, 200, "{relabelled}");
    assert_eq!(
        (
            &relabelled["label_zh"],
            &relabelled["label_en"],
            &relabelled["sort"]
        ),
        (&json!("比对不通过"), &mismatch["label_en"], &json!(5))
    );
    let (status, _) = console
        .call(
            Some(&root),
            "PUT",
            &item_path,
            Some(json!({ "value": "renamed" })),
        )
        .await;
    assert_eq!(status, 400, "the value never changes");
    let (status, body) = console.call(Some(&root), "DELETE", &item_path, None).await;
    assert_eq!(
        (status, detail(&body, "constraint")),
        (409, &json!("dict_data_builtin"))
    );
    let (status, _) = console
        .call(
            Some(&auditor),
            "PUT",
            &item_path,
            Some(json!({ "label_zh": "x" })),
        )
        .await;
    assert_eq!(status, 403);

    // A type and entries of the operator's own.
    let (status, created) = console
        .call(
            Some(&root),
            "POST",
            "/dict/types",
            Some(json!({ "code": "channel", "name_zh": "渠道", "name_en": "Channel" })),
        )
        .await;
    assert_eq!(
        (status, &created["builtin"]),
        (201, &json!(false)),
        "{created}"
    );
    let (status, _) = console
        .call(
            Some(&root),
            "POST",
            "/dict/types",
            Some(json!({ "code": "channel", "name_zh": "渠道", "name_en": "Channel" })),
        )
        .await;
    assert_eq!(status, 409);
    let new_item =
        json!({ "value": "wechat", "label_zh": "微信", "label_en": "WeChat", "sort": 10 });
    let (status, wechat) = console
        .call(
            Some(&root),
            "POST",
            "/dict/types/channel/data",
            Some(new_item.clone()),
        )
        .await;
    assert_eq!(
        (status, &wechat["status"]),
        (201, &json!("enabled")),
        "{wechat}"
    );
    let (status, body) = console
        .call(
            Some(&root),
            "POST",
            "/dict/types/channel/data",
            Some(new_item),
        )
        .await;
    assert_eq!(
        (status, detail(&body, "constraint")),
        (409, &json!("dict_data_type_code_value_key"))
    );
    for (bad, field) in [
        (
            json!({ "value": "we chat", "label_zh": "微信", "label_en": "WeChat" }),
            "value",
        ),
        (
            json!({ "value": "app", "label_zh": " ", "label_en": "App" }),
            "label_zh",
        ),
        (
            json!({ "value": "app", "label_zh": "应用", "label_en": "App", "sort": 1_000_000 }),
            "sort",
        ),
    ] {
        let (status, body) = console
            .call(Some(&root), "POST", "/dict/types/channel/data", Some(bad))
            .await;
        assert_eq!(
            (status, detail(&body, "field")),
            (422, &json!(field)),
            "{body}"
        );
    }
    let wechat_path = format!(
        "/dict/types/channel/data/{}",
        wechat["id"].as_str().expect("id")
    );
    let (status, _) = console
        .call(Some(&root), "DELETE", &wechat_path, None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = console
        .call(Some(&root), "DELETE", &wechat_path, None)
        .await;
    assert_eq!(status, 404);
    let (_, channel) = console
        .call(Some(&root), "GET", "/dict/types/channel/data", None)
        .await;
    assert_eq!(channel["total"], 0);
}

async fn jobs_are_listed_rescheduled_and_run_now_with_a_log(console: Console) {
    let root = console.session(ROOT, ROOT_PASSWORD).await;
    let (status, jobs) = console.call(Some(&root), "GET", "/jobs", None).await;
    assert_eq!(status, 200, "{jobs}");
    let codes: Vec<&str> = jobs["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|j| j["code"].as_str())
        .collect();
    assert_eq!(
        codes,
        vec![
            "backup",
            "callback_retry",
            "evidence_purge",
            "session_expiry",
            "stats_rollup"
        ]
    );
    let purge = jobs["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|j| j["code"] == "evidence_purge")
        .expect("purge")
        .clone();
    assert_eq!(
        (&purge["cron"], &purge["enabled"]),
        (&json!("15 * * * *"), &json!(true))
    );
    assert!(purge["next_run_at"].is_string());

    for bad in ["every hour", "61 * * * *", "*/10 * * * * *", ""] {
        let (status, body) = console
            .call(
                Some(&root),
                "PUT",
                "/jobs/evidence_purge",
                Some(json!({ "cron": bad, "enabled": true })),
            )
            .await;
        assert_eq!(
            (status, detail(&body, "field")),
            (422, &json!("cron")),
            "{bad}: {body}"
        );
    }
    let (status, edited) = console
        .call(
            Some(&root),
            "PUT",
            "/jobs/evidence_purge",
            Some(json!({ "cron": "0 4 * * *", "enabled": false })),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(
        (
            &edited["cron"],
            &edited["enabled"],
            &edited["next_run_at"],
            &edited["updated_by"]
        ),
        (
            &json!("0 4 * * *"),
            &json!(false),
            &Value::Null,
            &json!(ROOT)
        )
    );
    let (status, enabled) = console
        .call(
            Some(&root),
            "PUT",
            "/jobs/evidence_purge",
            Some(json!({ "cron": "0 4 * * *", "enabled": true })),
        )
        .await;
    assert_eq!(status, 200);
    assert!(enabled["next_run_at"].is_string(), "{enabled}");
    let (status, _) = console
        .call(
            Some(&root),
            "PUT",
            "/jobs/no_such_job",
            Some(json!({ "cron": "0 4 * * *", "enabled": true })),
        )
        .await;
    assert_eq!(status, 404);

    // Run now, even though the schedule is tomorrow: a run with a log.
    let (status, started) = console
        .call(Some(&root), "POST", "/jobs/evidence_purge/run", None)
        .await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(
        (&started["trigger"], &started["requested_by"]),
        (&json!("manual"), &json!(ROOT))
    );
    let run = finished_run(
        &console,
        &root,
        "evidence_purge",
        started["id"].as_str().expect("id"),
    )
    .await;
    assert_eq!(run["status"], "ok", "{run}");
    assert!(
        run["log"]
            .as_str()
            .is_some_and(|l| l.contains("purged the evidence of 0 records")),
        "{run}"
    );
    let (_, jobs) = console.call(Some(&root), "GET", "/jobs", None).await;
    let purge = jobs["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|j| j["code"] == "evidence_purge")
        .expect("purge")
        .clone();
    assert_eq!(
        (&purge["last_status"], &purge["running"]),
        (&json!("ok"), &json!(false))
    );
    assert_eq!(
        purge["cron"], "0 4 * * *",
        "a run now leaves the schedule alone"
    );

    // Refusals: permissions, the top tenant, unknown jobs.
    let (status, _) = console
        .call(Some(&root), "POST", "/jobs/no_such_job/run", None)
        .await;
    assert_eq!(status, 404);
    let auditor = console.user(&root, "auditor1", &["auditor"], None).await.1;
    let (status, _) = console.call(Some(&auditor), "GET", "/jobs", None).await;
    assert_eq!(status, 403);
    let (status, tenant) = console
        .call(
            Some(&root),
            "POST",
            "/tenants",
            Some(json!({ "code": "bank-0101", "name": "某农商银行" })),
        )
        .await;
    assert_eq!(status, 201, "{tenant}");
    let bank_admin = console
        .user(
            &root,
            "bank_admin",
            &["tenant_admin"],
            tenant["id"].as_str(),
        )
        .await
        .1;
    let (status, _) = console.call(Some(&bank_admin), "GET", "/jobs", None).await;
    assert_eq!(status, 200, "a bank's administrator reads the schedule");
    let (status, body) = console
        .call(Some(&bank_admin), "POST", "/jobs/backup/run", None)
        .await;
    assert_eq!(
        (status, detail(&body, "reason")),
        (403, &json!("system_wide")),
        "{body}"
    );

    let (status, audit) = console
        .call(Some(&root), "GET", "/audit?action=job.run", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(audit["items"][0]["target"], "evidence_purge");
}

/// The backup job on the embedded store: a file in `data/backups` that SQLite opens, with the
/// records in it; the job's log names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_the_embedded_store_opens_with_the_records_in_it() {
    let Some(console) = Console::start(Backend::Embedded).await else {
        return;
    };
    let root = console.session(ROOT, ROOT_PASSWORD).await;
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(console.server.create_session("default", json!({})).await);
    }
    let (status, started) = console
        .call(Some(&root), "POST", "/jobs/backup/run", None)
        .await;
    assert_eq!(status, 202, "{started}");
    // Asked again while it runs (or just after): never two at once.
    let (again, body) = console
        .call(Some(&root), "POST", "/jobs/backup/run", None)
        .await;
    assert!(
        again == 202 || (again == 409 && detail(&body, "reason") == "running"),
        "{again} {body}"
    );
    let run = finished_run(
        &console,
        &root,
        "backup",
        started["id"].as_str().expect("id"),
    )
    .await;
    assert_eq!(run["status"], "ok", "{run}");
    if again == 202 {
        // The second request was taken just after the first run ended: its run writes a
        // `.partial` file of its own until it finishes too.
        let second =
            finished_run(&console, &root, "backup", body["id"].as_str().expect("id")).await;
        assert_eq!(second["status"], "ok", "{second}");
    }
    let log = run["log"].as_str().expect("log");
    let backups = console.server.data_dir().join("backups");
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(&backups)
        .expect("backups folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "db"))
        .collect();
    assert!(!files.is_empty(), "no backup in {}", backups.display());
    let file = files
        .iter()
        .find(|f| log.contains(&f.display().to_string()))
        .unwrap_or_else(|| panic!("the log names none of {files:?}: {log}"));
    assert!(std::fs::read_dir(&backups)
        .expect("backups folder")
        .filter_map(Result::ok)
        .all(|e| !e.path().display().to_string().ends_with(".partial")));

    let copy =
        rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the backup opens as SQLite");
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity check");
    assert_eq!(check, "ok");
    for session in &sessions {
        let found: i64 = copy
            .query_row(
                "SELECT COUNT(*) FROM records WHERE session_id = ?1",
                [session.id.to_string()],
                |row| row.get(0),
            )
            .expect("records table");
        assert_eq!(found, 1, "session {} in the backup", session.id);
    }
    let jobs: i64 = copy
        .query_row(
            "SELECT COUNT(*) FROM jobs WHERE code = 'backup'",
            [],
            |row| row.get(0),
        )
        .expect("jobs table");
    assert_eq!(jobs, 1);
}
