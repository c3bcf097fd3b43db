//! The admin API's access rules on a real `livegate serve`, on the embedded store and on
//! PostgreSQL (`LIVEGATE_TEST_PG_URL`, a schema of its own per test; unset: skipped): login,
//! lockout and unlock, the session cookie, CSRF, permissions, tenant scoping, bad input, and
//! `livegate admin create | reset-password`.
//!
//! The cookie is carried by hand (read from `Set-Cookie`, sent as `Cookie`), as a browser would,
//! so its attributes are checked too.

mod common;

use std::process::Command;
use std::time::Instant;

use common::admin::{code, Backend, Console, Session, ROOT, ROOT_PASSWORD};
use serde_json::{json, Value};
use uuid::Uuid;

on_both_backends!(
    login_locks_after_five_failures_and_unlock_lets_the_user_in,
    cookies_csrf_permissions_logout_and_tenant_scoping,
    bad_input_is_refused_naming_the_field,
);

async fn login_locks_after_five_failures_and_unlock_lets_the_user_in(console: Console) {
    let root = console.session(ROOT, ROOT_PASSWORD).await;
    let ops = console.create_user(&root, "ops", &["operator"], None).await;
    let ops_id = ops["id"].as_str().expect("id");
    let timer = console
        .create_user(&root, "timer", &["operator"], None)
        .await;
    assert_eq!(timer["status"], "active");

    // An unknown user and a wrong password: the same answer, and about the same time (the
    // unknown user costs an argon2 check too, so timing does not tell which usernames exist).
    let mut unknown_ms = Vec::new();
    let mut wrong_ms = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let (status, unknown, _) = console.login("no-such-user", "whatever-password").await;
        unknown_ms.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!((status, code(&unknown)), (401, "UNAUTHORIZED"), "{unknown}");
        let started = Instant::now();
        let (status, wrong, _) = console.login("timer", "wrong-password-1").await;
        wrong_ms.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!((status, code(&wrong)), (401, "UNAUTHORIZED"), "{wrong}");
        assert_eq!(unknown, wrong, "the same body for both");
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (unknown, wrong) = (median(&mut unknown_ms), median(&mut wrong_ms));
    assert!(
        unknown * 3.0 >= wrong,
        "an unknown user answered in {unknown:.1} ms, a wrong password in {wrong:.1} ms"
    );

    for attempt in 1..=4 {
        let (status, body, _) = console.login("ops", "wrong-password-1").await;
        assert_eq!(status, 401, "attempt {attempt}: {body}");
    }
    let (status, body, _) = console.login("ops", "wrong-password-1").await;
    assert_eq!((status, code(&body)), (429, "RATE_LIMITED"), "{body}");
    let until = body["detail"]["locked_until"]
        .as_str()
        .expect("detail.locked_until");
    let until = chrono::DateTime::parse_from_rfc3339(until).expect("RFC 3339");
    let minutes =
        (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds() as f64 / 60.0;
    assert!((14.0..=15.1).contains(&minutes), "locked for {minutes} min");
    // Locked: the right password is refused too.
    let (status, body, session) = console.login("ops", "ops-password").await;
    assert_eq!((status, code(&body)), (429, "RATE_LIMITED"), "{body}");
    assert!(session.is_none());

    // The user list shows the lock; an unlock by an administrator ends it.
    let (status, listed) = console
        .call(Some(&root), "GET", &format!("/users/{ops_id}"), None)
        .await;
    assert_eq!(status, 200, "{listed}");
    assert!(listed["locked_until"].is_string(), "{listed}");
    let (status, unlocked) = console
        .call(
            Some(&root),
            "POST",
            &format!("/users/{ops_id}/unlock"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{unlocked}");
    assert_eq!(unlocked["locked_until"], Value::Null);
    let (status, body, session) = console.login("ops", "ops-password").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["username"], "ops");
    assert!(session.is_some());

    // The lock and the unlock are in the audit log, without any password.
    let (status, audit) = console
        .call(Some(&root), "GET", "/audit?limit=100", None)
        .await;
    assert_eq!(status, 200, "{audit}");
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for expected in [
        "auth.locked",
        "user.unlock",
        "auth.login_failed",
        "auth.login",
        "user.create",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let text = audit.to_string();
    assert!(!text.contains("password\":"), "{text}");
    assert!(
        !text.contains("ops-password") && !text.contains("wrong-password"),
        "{text}"
    );
}

async fn cookies_csrf_permissions_logout_and_tenant_scoping(console: Console) {
    // Nothing without a session.
    for path in [
        "/auth/me", "/users", "/audit", "/tenants", "/apps", "/roles", "/records",
    ] {
        let (status, body) = console.call(None, "GET", path, None).await;
        assert_eq!(
            (status, code(&body)),
            (401, "UNAUTHORIZED"),
            "{path}: {body}"
        );
    }
    let forged = Session {
        cookie: "livegate_admin=forged-token".into(),
        set_cookie: String::new(),
        csrf: "x".into(),
    };
    let (status, _) = console.call(Some(&forged), "GET", "/auth/me", None).await;
    assert_eq!(status, 401);

    let (status, body, root) = console.login(ROOT, ROOT_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let root = root.expect("session");
    let attrs = root.set_cookie.to_ascii_lowercase();
    for attr in [
        "httponly",
        "samesite=strict",
        "path=/admin",
        "max-age=86400",
    ] {
        assert!(attrs.contains(attr), "{attr} missing: {}", root.set_cookie);
    }
    assert!(
        !attrs.contains("secure"),
        "plain http public url: {}",
        root.set_cookie
    );
    assert_eq!(body["user"]["roles"], json!(["sys_admin"]));
    assert_eq!(body["user"]["tenant"]["code"], "default");
    let union_id = body["user"]["tenant"]["id"]
        .as_str()
        .expect("tenant id")
        .to_owned();
    assert_eq!(
        body["user"]["permissions"].as_array().map(Vec::len),
        Some(18)
    );
    let (status, me) = console.call(Some(&root), "GET", "/auth/me", None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["csrf_token"], root.csrf.as_str());

    // A write without the CSRF header, or with another's, is refused and changes nothing.
    let tenant = json!({ "code": "bank-a", "name": "A 银行" });
    let (status, body) = console
        .call_with(Some(&root), false, "POST", "/tenants", Some(tenant.clone()))
        .await;
    assert_eq!((status, code(&body)), (403, "FORBIDDEN"), "{body}");
    assert_eq!(body["detail"]["reason"], "csrf");
    let wrong = Session {
        csrf: "not-the-token".into(),
        ..root.clone()
    };
    let (status, _) = console
        .call(Some(&wrong), "POST", "/tenants", Some(tenant))
        .await;
    assert_eq!(status, 403);
    let (_, tenants) = console.call(Some(&root), "GET", "/tenants", None).await;
    assert_eq!(tenants["total"], 1, "{tenants}");

    // The union, two banks, a village bank under the first.
    let bank_a = console.create_tenant(&root, "bank-a", None).await;
    let bank_b = console.create_tenant(&root, "bank-b", None).await;
    let village = console
        .create_tenant(&root, "bank-a-v1", Some(&bank_a))
        .await;

    let admin_a = console
        .create_user(&root, "admin-a", &["tenant_admin"], Some(&bank_a))
        .await;
    assert_eq!(admin_a["tenant_id"], bank_a.as_str());
    let user_b = console
        .create_user(&root, "ops-b", &["operator"], Some(&bank_b))
        .await;
    let user_v = console
        .create_user(&root, "ops-v", &["operator"], Some(&village))
        .await;
    console
        .create_user(&root, "auditor", &["auditor"], None)
        .await;

    // An auditor reads the audit log but creates no one.
    let auditor = console.session("auditor", "auditor-password").await;
    let (status, body) = console
        .call(
            Some(&auditor),
            "POST",
            "/users",
            Some(json!({ "username": "sneaky", "password": "sneaky-password", "roles": ["auditor"] })),
        )
        .await;
    assert_eq!((status, code(&body)), (403, "FORBIDDEN"), "{body}");
    assert_eq!(body["detail"]["permission"], "users:write");
    let (status, body) = console.call(Some(&auditor), "GET", "/users", None).await;
    assert_eq!(status, 403, "{body}");
    let (status, audit) = console.call(Some(&auditor), "GET", "/audit", None).await;
    assert_eq!(status, 200, "{audit}");
    assert!(audit["items"]
        .as_array()
        .is_some_and(|i| i.iter().any(|e| e["action"] == "tenant.create")));

    // A bank's admin sees their bank and the village bank below it, nothing above or beside.
    let a = console.session("admin-a", "admin-a-password").await;
    let (status, users) = console.call(Some(&a), "GET", "/users", None).await;
    assert_eq!(status, 200, "{users}");
    let names: Vec<&str> = users["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["admin-a"]);
    let (status, users) = console
        .call(Some(&a), "GET", &format!("/users?tenant={village}"), None)
        .await;
    assert_eq!(status, 200, "{users}");
    assert_eq!(users["items"][0]["username"], "ops-v");
    for other in [&union_id, &bank_b] {
        let (status, body) = console
            .call(Some(&a), "GET", &format!("/users?tenant={other}"), None)
            .await;
        assert_eq!((status, code(&body)), (404, "NOT_FOUND"), "{body}");
    }
    let root_id = me["id"].as_str().expect("id");
    for id in [root_id, user_b["id"].as_str().expect("id")] {
        let (status, _) = console
            .call(Some(&a), "GET", &format!("/users/{id}"), None)
            .await;
        assert_eq!(status, 404);
        let (status, _) = console
            .call(Some(&a), "POST", &format!("/users/{id}/disable"), None)
            .await;
        assert_eq!(status, 404);
    }
    let (status, _) = console
        .call(
            Some(&a),
            "GET",
            &format!("/users/{}", user_v["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, tenants) = console.call(Some(&a), "GET", "/tenants", None).await;
    assert_eq!(status, 200);
    let codes: Vec<&str> = tenants["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["code"].as_str())
        .collect();
    assert_eq!(codes, ["bank-a", "bank-a-v1"]);
    // A tenant admin grants no more than they hold: not sys_admin.
    let (status, body) = console
        .call(
            Some(&a),
            "POST",
            "/users",
            Some(
                json!({ "username": "boss", "password": "boss-password", "roles": ["sys_admin"] }),
            ),
        )
        .await;
    assert_eq!((status, code(&body)), (403, "FORBIDDEN"), "{body}");
    assert_eq!(body["detail"]["role"], "sys_admin");
    // ... and cannot create tenants (no tenants:write).
    let (status, _) = console
        .call(
            Some(&a),
            "POST",
            "/tenants",
            Some(json!({ "code": "bank-a-v2", "name": "v2" })),
        )
        .await;
    assert_eq!(status, 403);

    // Apps: the secret is shown once; a disabled app's signed calls are refused.
    let (status, app) = console
        .call(
            Some(&a),
            "POST",
            "/apps",
            Some(json!({ "name": "core banking" })),
        )
        .await;
    assert_eq!(status, 201, "{app}");
    assert_eq!(app["tenant_id"], bank_a.as_str());
    assert!(
        app["secret"].as_str().is_some_and(|s| s.len() >= 40),
        "{app}"
    );
    let (status, apps) = console.call(Some(&a), "GET", "/apps", None).await;
    assert_eq!(status, 200);
    assert_eq!(apps["total"], 1);
    assert!(apps["items"][0].get("secret").is_none(), "{apps}");
    // The server's own test app belongs to the union: not the bank admin's to disable.
    let server_app = console.server.app_id.clone();
    let (status, _) = console
        .call(
            Some(&a),
            "POST",
            &format!("/apps/{server_app}/disable"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = console.server.open_api("GET", "/open/v1/ping", None).await;
    assert_eq!(status, 200);
    let (status, disabled) = console
        .call(
            Some(&root),
            "POST",
            &format!("/apps/{server_app}/disable"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{disabled}");
    assert_eq!(disabled["status"], "disabled");
    let (status, refused) = console.server.open_api("GET", "/open/v1/ping", None).await;
    assert_eq!((status, code(&refused)), (401, "APP_UNKNOWN"), "{refused}");

    // A new password ends the user's other sessions; the changing one lives on.
    let a2 = console.session("admin-a", "admin-a-password").await;
    let (status, body) = console
        .call(
            Some(&a),
            "POST",
            "/auth/password",
            Some(json!({ "old_password": "admin-a-password", "new_password": "a brand new one" })),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        console.call(Some(&a2), "GET", "/auth/me", None).await.0,
        401
    );
    assert_eq!(console.call(Some(&a), "GET", "/auth/me", None).await.0, 200);
    assert_eq!(console.login("admin-a", "admin-a-password").await.0, 401);

    // Logout kills the session server-side: the same cookie no longer works.
    let (status, _) = console
        .call_with(Some(&a), false, "POST", "/auth/logout", None)
        .await;
    assert_eq!(status, 403, "logout is a write: CSRF needed");
    let (status, _) = console.call(Some(&a), "POST", "/auth/logout", None).await;
    assert_eq!(status, 204);
    let (status, body) = console.call(Some(&a), "GET", "/auth/me", None).await;
    assert_eq!((status, code(&body)), (401, "UNAUTHORIZED"), "{body}");

    // Disabling a user ends their sessions and their logins.
    let v = console.session("ops-v", "ops-v-password").await;
    let (status, _) = console
        .call(
            Some(&root),
            "POST",
            &format!("/users/{}/disable", user_v["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(console.call(Some(&v), "GET", "/auth/me", None).await.0, 401);
    assert_eq!(console.login("ops-v", "ops-v-password").await.0, 401);

    // The bank's writes are in the bank's audit log, the union's in the union's.
    let (status, audit) = console
        .call(
            Some(&root),
            "GET",
            &format!("/audit?tenant={bank_a}&action=app.create"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{audit}");
    assert_eq!(audit["total"], 1);
    assert_eq!(audit["items"][0]["username"], "admin-a");
    assert!(!audit.to_string().contains("secret"), "{audit}");
}

async fn bad_input_is_refused_naming_the_field(console: Console) {
    for (username, password, field) in [
        ("", "some-password", "username"),
        (&"a".repeat(65)[..], "some-password", "username"),
        ("root", "", "password"),
    ] {
        let (status, body, _) = console.login(username, password).await;
        assert_eq!((status, code(&body)), (422, "VALIDATION_FAILED"), "{body}");
        assert_eq!(body["detail"]["field"], field, "{body}");
    }
    let root = console.session(ROOT, ROOT_PASSWORD).await;
    for (body, field) in [
        (
            json!({ "username": "ok-name", "password": "short", "roles": ["operator"] }),
            "password",
        ),
        (
            json!({ "username": "", "password": "long-enough-1", "roles": ["operator"] }),
            "username",
        ),
        (
            json!({ "username": "a".repeat(65), "password": "long-enough-1", "roles": ["operator"] }),
            "username",
        ),
        (
            json!({ "username": "has space", "password": "long-enough-1", "roles": ["operator"] }),
            "username",
        ),
        (
            json!({ "username": "ok-name", "password": "ok-name", "roles": ["operator"] }),
            "password",
        ),
        (
            json!({ "username": "ok-name", "password": "long-enough-1", "roles": [] }),
            "roles",
        ),
        (
            json!({ "username": "ok-name", "password": "long-enough-1", "roles": ["wizard"] }),
            "roles",
        ),
        (
            json!({ "username": "ok-name", "password": "long-enough-1", "roles": ["operator"], "display_name": " " }),
            "display_name",
        ),
    ] {
        let (status, answer) = console
            .call(Some(&root), "POST", "/users", Some(body.clone()))
            .await;
        assert_eq!(
            (status, code(&answer)),
            (422, "VALIDATION_FAILED"),
            "{body} -> {answer}"
        );
        assert_eq!(answer["detail"]["field"], field, "{body} -> {answer}");
    }
    let (status, users) = console.call(Some(&root), "GET", "/users", None).await;
    assert_eq!(
        (status, users["total"].as_u64()),
        (200, Some(1)),
        "nothing was created: {users}"
    );

    let (status, answer) = console
        .call(Some(&root), "GET", "/users?limit=0", None)
        .await;
    assert_eq!(
        (status, answer["detail"]["field"].as_str()),
        (422, Some("limit")),
        "{answer}"
    );
    let (status, answer) = console
        .call(Some(&root), "GET", "/users?limit=501", None)
        .await;
    assert_eq!(status, 422, "{answer}");
    let (status, answer) = console
        .call(Some(&root), "GET", "/users?limit=2&offset=0", None)
        .await;
    assert_eq!(
        (status, answer["limit"].as_u64()),
        (200, Some(2)),
        "{answer}"
    );
    let (status, _) = console
        .call(Some(&root), "GET", "/users?tenant=not-a-uuid", None)
        .await;
    assert_eq!(status, 400);
    let (status, _) = console
        .call(
            Some(&root),
            "GET",
            &format!("/users/{}", Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(status, 404);

    let (status, answer) = console
        .call(
            Some(&root),
            "POST",
            "/auth/password",
            Some(json!({ "old_password": ROOT_PASSWORD, "new_password": "short" })),
        )
        .await;
    assert_eq!(
        (status, answer["detail"]["field"].as_str()),
        (422, Some("new_password")),
        "{answer}"
    );
    let (status, answer) = console
        .call(
            Some(&root),
            "POST",
            "/auth/password",
            Some(json!({ "old_password": "not-it-at-all", "new_password": "long-enough-2" })),
        )
        .await;
    assert_eq!(
        (status, answer["detail"]["field"].as_str()),
        (422, Some("old_password")),
        "{answer}"
    );
    let (status, answer) = console
        .call(
            Some(&root),
            "POST",
            "/tenants",
            Some(json!({ "code": "Bad Code", "name": "x" })),
        )
        .await;
    assert_eq!(
        (status, answer["detail"]["field"].as_str()),
        (422, Some("code")),
        "{answer}"
    );
    let (status, answer) = console
        .call(
            Some(&root),
            "POST",
            "/tenants",
            Some(json!({ "code": "default", "name": "again" })),
        )
        .await;
    assert_eq!(
        (status, answer["detail"]["constraint"].as_str()),
        (409, Some("tenants_code_key")),
        "{answer}"
    );
    let (status, _) = console
        .call(
            Some(&root),
            "POST",
            "/users",
            Some(json!({ "username": "ROOT", "password": "long-enough-1", "roles": ["operator"] })),
        )
        .await;
    assert_eq!(status, 409, "usernames are case-insensitive: ROOT is root");
}

/// `livegate` on a folder of its own, with no server.
fn livegate_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_livegate"))
        .args(args)
        .current_dir(dir)
        .env("LIVEGATE_DATA_DIR", dir.join("data"))
        .env("LIVEGATE_LOG__LEVEL", "warn")
        .env_remove("LIVEGATE_STORE__BACKEND")
        .env_remove("LIVEGATE_STORE__URL")
        .env_remove("LIVEGATE_DATABASE_URL")
        .output()
        .expect("run livegate")
}

#[test]
fn admin_create_checks_its_input_and_reset_password_unlocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let short = livegate_in(
        dir,
        &[
            "admin",
            "create",
            "--username",
            "first",
            "--password",
            "short",
        ],
    );
    assert_eq!(short.status.code(), Some(2), "{short:?}");
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(
        stderr.contains("password") && stderr.contains("10"),
        "{stderr}"
    );
    assert!(!dir.join("data").exists(), "a refused input writes nothing");

    let created = livegate_in(
        dir,
        &[
            "admin",
            "create",
            "--username",
            "First.Admin",
            "--password",
            "first-password",
        ],
    );
    assert!(created.status.success(), "{created:?}");
    let stdout = String::from_utf8_lossy(&created.stdout);
    assert!(!stdout.contains("first-password"), "{stdout}");
    let line: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(line["username"], "first.admin");
    assert_eq!(line["tenant"], "default");
    assert_eq!(line["roles"], json!(["sys_admin"]));

    let again = livegate_in(
        dir,
        &[
            "admin",
            "create",
            "--username",
            "first.admin",
            "--password",
            "other-password",
        ],
    );
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains("admin_users_username_key"));
    let bad_tenant = livegate_in(
        dir,
        &[
            "admin",
            "create",
            "--username",
            "x-admin",
            "--password",
            "x-password-1",
            "--tenant",
            "nope",
        ],
    );
    assert_eq!(bad_tenant.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_tenant.stderr).contains("no tenant with code \"nope\""));
    let roles = livegate_in(
        dir,
        &[
            "admin",
            "create",
            "--username",
            "aud",
            "--password",
            "aud-password",
            "--role",
            "auditor",
            "--role",
            "operator",
        ],
    );
    assert!(roles.status.success(), "{roles:?}");
    let line: Value = serde_json::from_slice(&roles.stdout).expect("JSON");
    assert_eq!(line["roles"], json!(["auditor", "operator"]));

    let reset = livegate_in(
        dir,
        &[
            "admin",
            "reset-password",
            "--username",
            "first.admin",
            "--password",
            "second-password",
        ],
    );
    assert!(reset.status.success(), "{reset:?}");
    let unknown = livegate_in(
        dir,
        &[
            "admin",
            "reset-password",
            "--username",
            "ghost",
            "--password",
            "ghost-password",
        ],
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no administrator \"ghost\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_from_the_cli_unlocks_and_ends_sessions() {
    let console = Console::start(Backend::Embedded).await.expect("embedded");
    let session = console.session(ROOT, ROOT_PASSWORD).await;
    for _ in 0..5 {
        console.login(ROOT, "wrong-password-x").await;
    }
    assert_eq!(console.login(ROOT, ROOT_PASSWORD).await.0, 429);
    let out = console.server.cli(&[
        "admin",
        "reset-password",
        "--username",
        ROOT,
        "--password",
        "recovered-password",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        console
            .call(Some(&session), "GET", "/auth/me", None)
            .await
            .0,
        401
    );
    assert_eq!(console.login(ROOT, ROOT_PASSWORD).await.0, 401);
    let (status, body, _) = console.login(ROOT, "recovered-password").await;
    assert_eq!(status, 200, "{body}");
}
