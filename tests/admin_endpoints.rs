//! Every route of the admin API (`/admin/api/v1`, docs/admin-api.md) refused the documented way,
//! on the embedded store and on PostgreSQL (`LIVEGATE_TEST_PG_URL`; unset: skipped):
//!
//! - the table [`routes`] lists every route registered in `src/admin/*.rs` (checked against the
//!   source, so a new route without a row fails [`every_registered_route_is_in_the_table`]);
//! - without a session, with a forged cookie or a logged-out one: `401 UNAUTHORIZED`;
//! - as an `auditor`, `operator` or `tenant_admin` lacking the route's permission: `403
//!   FORBIDDEN` naming it; with it: not refused;
//! - every write without the CSRF header or with another token: `403` (`detail.reason = "csrf"`)
//!   and nothing written;
//! - bad input to users, roles, tenants, apps, the dictionary, jobs, properties and the audit log:
//!   `422` naming the field, `400` for a body or query that does not parse, `404` for what is not
//!   there or not the user's.
//!
//! Every refusal carries the error shape with a Chinese `message` and an English `message_en`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::admin::{code, Console, Session, ROOT, ROOT_PASSWORD};
use serde_json::{json, Value};
use uuid::Uuid;

/// What a route asks of its caller besides a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Any logged-in user.
    Session,
    /// This permission.
    Permission(&'static str),
}

/// One route of the table: how it is registered, and a call of it that is valid but for the
/// refusal under test.
struct Route {
    method: &'static str,
    /// As registered (`/users/{id}`).
    template: &'static str,
    /// With ids filled in.
    path: String,
    body: Option<Value>,
    need: Need,
}

impl Route {
    fn is_write(&self) -> bool {
        self.method != "GET"
    }

    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// The ids the table's paths use: the user and app exist, the record and dictionary entry need
/// not (every refusal under test comes before the lookup).
struct Ids {
    user: String,
    app: String,
    record: String,
    item: String,
}

impl Ids {
    fn any() -> Self {
        Self {
            user: Uuid::now_v7().to_string(),
            app: "app_nonexistent".into(),
            record: Uuid::now_v7().to_string(),
            item: Uuid::now_v7().to_string(),
        }
    }
}

/// Every route but `POST /auth/login` (the one call without a session).
fn routes(ids: &Ids) -> Vec<Route> {
    use Need::{Permission as P, Session as S};
    let Ids {
        user,
        app,
        record,
        item,
    } = ids;
    let r = |method, template, path: String, body: Option<Value>, need| Route {
        method,
        template,
        path,
        body,
        need,
    };
    vec![
        r("GET", "/auth/me", "/auth/me".into(), None, S),
        r("POST", "/auth/logout", "/auth/logout".into(), None, S),
        r(
            "POST",
            "/auth/password",
            "/auth/password".into(),
            Some(json!({ "old_password": "old-password-1", "new_password": "new-password-22" })),
            S,
        ),
        r("GET", "/users", "/users".into(), None, P("users:read")),
        r(
            "POST",
            "/users",
            "/users".into(),
            Some(
                json!({ "username": "sneaky", "password": "sneaky-password-1", "roles": ["auditor"] }),
            ),
            P("users:write"),
        ),
        r(
            "GET",
            "/users/{id}",
            format!("/users/{user}"),
            None,
            P("users:read"),
        ),
        r(
            "PUT",
            "/users/{id}",
            format!("/users/{user}"),
            Some(json!({ "display_name": "sneaky" })),
            P("users:write"),
        ),
        r(
            "POST",
            "/users/{id}/disable",
            format!("/users/{user}/disable"),
            None,
            P("users:write"),
        ),
        r(
            "POST",
            "/users/{id}/enable",
            format!("/users/{user}/enable"),
            None,
            P("users:write"),
        ),
        r(
            "POST",
            "/users/{id}/unlock",
            format!("/users/{user}/unlock"),
            None,
            P("users:write"),
        ),
        r("GET", "/roles", "/roles".into(), None, P("users:read")),
        r(
            "GET",
            "/tenants",
            "/tenants".into(),
            None,
            P("tenants:read"),
        ),
        r(
            "POST",
            "/tenants",
            "/tenants".into(),
            Some(json!({ "code": "sneaky", "name": "sneaky" })),
            P("tenants:write"),
        ),
        r("GET", "/apps", "/apps".into(), None, P("apps:read")),
        r(
            "POST",
            "/apps",
            "/apps".into(),
            Some(json!({ "name": "sneaky" })),
            P("apps:write"),
        ),
        r(
            "POST",
            "/apps/{app_id}/disable",
            format!("/apps/{app}/disable"),
            None,
            P("apps:write"),
        ),
        r("GET", "/audit", "/audit".into(), None, P("audit:read")),
        r(
            "GET",
            "/records",
            "/records".into(),
            None,
            P("records:read"),
        ),
        r(
            "GET",
            "/records/export",
            "/records/export".into(),
            None,
            P("records:export"),
        ),
        r(
            "GET",
            "/records/{id}",
            format!("/records/{record}"),
            None,
            P("records:read"),
        ),
        r(
            "GET",
            "/records/{id}/evidence/{name}",
            format!("/records/{record}/evidence/best.jpg"),
            None,
            P("evidence:read"),
        ),
        r(
            "GET",
            "/stats/summary",
            "/stats/summary".into(),
            None,
            P("stats:read"),
        ),
        r(
            "GET",
            "/stats/series",
            "/stats/series".into(),
            None,
            P("stats:read"),
        ),
        r(
            "GET",
            "/stats/reasons",
            "/stats/reasons".into(),
            None,
            P("stats:read"),
        ),
        r("GET", "/scenes", "/scenes".into(), None, P("scenes:read")),
        r(
            "POST",
            "/scenes",
            "/scenes".into(),
            Some(json!({ "code": "sneaky", "config": {} })),
            P("scenes:write"),
        ),
        r(
            "GET",
            "/scenes/{code}",
            "/scenes/kyc".into(),
            None,
            P("scenes:read"),
        ),
        r(
            "PUT",
            "/scenes/{code}",
            "/scenes/kyc".into(),
            Some(json!({ "version": 1, "name": "sneaky" })),
            P("scenes:write"),
        ),
        r(
            "POST",
            "/scenes/{code}/disable",
            "/scenes/kyc/disable".into(),
            None,
            P("scenes:write"),
        ),
        r(
            "POST",
            "/scenes/{code}/enable",
            "/scenes/kyc/enable".into(),
            None,
            P("scenes:write"),
        ),
        r(
            "GET",
            "/scenes/{code}/versions",
            "/scenes/kyc/versions".into(),
            None,
            P("scenes:read"),
        ),
        r(
            "GET",
            "/scenes/{code}/versions/{version}",
            "/scenes/kyc/versions/1".into(),
            None,
            P("scenes:read"),
        ),
        r(
            "GET",
            "/engines",
            "/engines".into(),
            None,
            P("engines:read"),
        ),
        r(
            "GET",
            "/system/properties",
            "/system/properties".into(),
            None,
            P("system:read"),
        ),
        r(
            "PUT",
            "/system/properties/{key}",
            "/system/properties/admin.login_lock_threshold".into(),
            Some(json!({ "value": 6 })),
            P("system:write"),
        ),
        r("GET", "/dict/types", "/dict/types".into(), None, S),
        r(
            "POST",
            "/dict/types",
            "/dict/types".into(),
            Some(json!({ "code": "sneaky", "name_zh": "偷偷", "name_en": "sneaky" })),
            P("system:write"),
        ),
        r(
            "GET",
            "/dict/types/{type}/data",
            "/dict/types/reason/data".into(),
            None,
            S,
        ),
        r(
            "POST",
            "/dict/types/{type}/data",
            "/dict/types/reason/data".into(),
            Some(json!({ "value": "sneaky", "label_zh": "偷偷", "label_en": "sneaky" })),
            P("system:write"),
        ),
        r(
            "PUT",
            "/dict/types/{type}/data/{id}",
            format!("/dict/types/reason/data/{item}"),
            Some(json!({ "label_en": "sneaky" })),
            P("system:write"),
        ),
        r(
            "DELETE",
            "/dict/types/{type}/data/{id}",
            format!("/dict/types/reason/data/{item}"),
            None,
            P("system:write"),
        ),
        r("GET", "/jobs", "/jobs".into(), None, P("jobs:read")),
        r(
            "PUT",
            "/jobs/{code}",
            "/jobs/backup".into(),
            Some(json!({ "cron": "0 4 * * *", "enabled": true })),
            P("jobs:write"),
        ),
        r(
            "POST",
            "/jobs/{code}/run",
            "/jobs/backup/run".into(),
            None,
            P("jobs:write"),
        ),
        r(
            "GET",
            "/jobs/{code}/runs",
            "/jobs/backup/runs".into(),
            None,
            P("jobs:read"),
        ),
    ]
}

/// The routes `src/admin/*.rs` registers, as `METHOD /path`: every `web::get()` (and the other
/// methods) with the last path literal before it.
fn registered_routes() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/admin");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("src/admin") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read source");
        for (method, marker) in [
            ("GET", "web::get()"),
            ("POST", "web::post()"),
            ("PUT", "web::put()"),
            ("PATCH", "web::patch()"),
            ("DELETE", "web::delete()"),
        ] {
            for (at, _) in text.match_indices(marker) {
                let before = &text[..at];
                let Some(open) = before.rfind("\"/") else {
                    continue;
                };
                let literal = &before[open + 1..];
                let close = literal.find('"').expect("closing quote");
                found.insert(format!("{method} {}", &literal[..close]));
            }
        }
    }
    found
}

#[test]
fn every_registered_route_is_in_the_table() {
    let registered = registered_routes();
    let mut listed: BTreeSet<String> = routes(&Ids::any())
        .iter()
        .map(|r| format!("{} {}", r.method, r.template))
        .collect();
    listed.insert("POST /auth/login".into());
    assert!(
        registered.len() > 40,
        "the source scan found too few routes: {registered:?}"
    );
    let missing: Vec<&String> = registered.difference(&listed).collect();
    let stale: Vec<&String> = listed.difference(&registered).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "routes without a row: {missing:?}; rows without a route: {stale:?}"
    );
}

/// Asserts the answer is the error `status`/`code` in the documented shape: a zh-CN `message`
/// (holding Chinese) and an English `message_en`.
#[track_caller]
fn assert_refused(context: &str, status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(
        (status, code(body)),
        (want_status, want_code),
        "{context}: {body}"
    );
    let zh = body["message"].as_str().unwrap_or_default();
    assert!(
        zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "{context}: message is not Chinese: {body}"
    );
    let en = body["message_en"].as_str().unwrap_or_default();
    assert!(
        !en.is_empty() && en.is_ascii() && en.chars().any(|c| c.is_ascii_alphabetic()),
        "{context}: message_en is not English: {body}"
    );
}

/// A `422 VALIDATION_FAILED` naming `field`.
#[track_caller]
fn assert_invalid(context: &str, status: u16, body: &Value, field: &str) {
    assert_refused(context, status, body, 422, "VALIDATION_FAILED");
    assert_eq!(body["detail"]["field"], field, "{context}: {body}");
    assert!(
        body["detail"]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{context}: no reason: {body}"
    );
}

/// A `400 BAD_REQUEST`.
#[track_caller]
fn assert_bad_request(context: &str, status: u16, body: &Value) {
    assert_refused(context, status, body, 400, "BAD_REQUEST");
}

/// A call with a raw body and content type (for bodies that are not JSON).
async fn call_raw(
    console: &Console,
    session: &Session,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method.parse().expect("method"), console.url(path))
        .header("Cookie", &session.cookie)
        .header("X-CSRF-Token", &session.csrf)
        .header("Content-Type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .expect("admin call");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// How many entries the audit log of root's tenant holds.
async fn audit_total(console: &Console, root: &Session) -> u64 {
    let (status, audit) = console
        .call(Some(root), "GET", "/audit?limit=1", None)
        .await;
    assert_eq!(status, 200, "{audit}");
    audit["total"].as_u64().expect("audit total")
}

on_both_backends!(
    every_route_refuses_callers_without_a_session_a_permission_or_the_csrf_token,
    users_and_roles_refuse_bad_input_and_change_the_documented_way,
    tenants_apps_and_the_audit_log_refuse_bad_input,
    the_dictionary_jobs_and_properties_refuse_bad_input,
    refusals_come_in_order_and_login_password_scenes_engines_stats_check_their_input,
);

async fn every_route_refuses_callers_without_a_session_a_permission_or_the_csrf_token(
    console: Console,
) {
    let root = console.session(ROOT, ROOT_PASSWORD).await;
    let (ops, _) = console.user(&root, "ops", &["operator"], None).await;
    let ids = Ids {
        user: ops["id"].as_str().expect("id").to_owned(),
        app: console.server.app_id.clone(),
        ..Ids::any()
    };
    let table = routes(&ids);

    // No cookie, a cookie the server never issued, a logged-out session's cookie: 401, the
    // session's absence named.
    let (_, gone) = console.user(&root, "leaver", &["auditor"], None).await;
    let (status, _) = console
        .call(Some(&gone), "POST", "/auth/logout", None)
        .await;
    assert_eq!(status, 204);
    let forged = Session {
        cookie: "livegate_admin=forged-token".into(),
        set_cookie: String::new(),
        csrf: "forged".into(),
    };
    for route in &table {
        let (status, body) = console
            .call(None, route.method, &route.path, route.body.clone())
            .await;
        let context = format!("{} without a session", route.name());
        assert_refused(&context, status, &body, 401, "UNAUTHORIZED");
        assert_eq!(body["detail"]["reason"], "no_session", "{context}: {body}");
        for (who, session) in [("forged", &forged), ("logged out", &gone)] {
            let (status, body) = console
                .call(Some(session), route.method, &route.path, route.body.clone())
                .await;
            assert_refused(
                &format!("{} with a {who} cookie", route.name()),
                status,
                &body,
                401,
                "UNAUTHORIZED",
            );
        }
    }
    // Without a session the body is not even read: a body that is not JSON is still a 401.
    let response = reqwest::Client::new()
        .post(console.url("/users"))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("call");
    assert_eq!(response.status().as_u16(), 401);

    // Each built-in role holds the documented permissions, and a route needing one it lacks is
    // 403 naming it; one it holds is not refused (reads only: the writes would write).
    let documented: [(&str, &[&str]); 3] = [
        (
            "auditor",
            &["audit:read", "evidence:read", "records:read", "stats:read"],
        ),
        (
            "operator",
            &[
                "apps:read",
                "engines:read",
                "evidence:read",
                "records:export",
                "records:read",
                "scenes:read",
                "scenes:write",
                "stats:read",
            ],
        ),
        (
            "tenant_admin",
            &[
                "apps:read",
                "apps:write",
                "audit:read",
                "engines:read",
                "evidence:read",
                "jobs:read",
                "jobs:write",
                "records:export",
                "records:read",
                "scenes:read",
                "scenes:write",
                "stats:read",
                "system:read",
                "tenants:read",
                "users:read",
                "users:write",
            ],
        ),
    ];
    for (role, permissions) in documented {
        let session = if role == "operator" {
            console.session("ops", "ops-password").await
        } else {
            console
                .user(
                    &root,
                    &format!("as-{role}").replace('_', "-"),
                    &[role],
                    None,
                )
                .await
                .1
        };
        let (status, me) = console.call(Some(&session), "GET", "/auth/me", None).await;
        assert_eq!(status, 200, "{me}");
        let held: BTreeSet<&str> = me["permissions"]
            .as_array()
            .expect("permissions")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            held,
            permissions.iter().copied().collect::<BTreeSet<_>>(),
            "{role}'s permissions"
        );
        for route in &table {
            let context = format!("{} as {role}", route.name());
            match route.need {
                Need::Permission(needed) if !held.contains(needed) => {
                    let (status, body) = console
                        .call(
                            Some(&session),
                            route.method,
                            &route.path,
                            route.body.clone(),
                        )
                        .await;
                    assert_refused(&context, status, &body, 403, "FORBIDDEN");
                    assert_eq!(body["detail"]["permission"], needed, "{context}: {body}");
                }
                _ if route.is_write() => {}
                _ => {
                    let (status, body) = console
                        .call(Some(&session), route.method, &route.path, None)
                        .await;
                    assert!(
                        ![401, 403].contains(&status) && status < 500,
                        "{context}: refused or failed: {status} {body}"
                    );
                }
            }
        }
    }

    // Every write without the CSRF header, or with another session's token: 403 `csrf`, and
    // nothing happens (no audit entry, root's password and session as they were).
    let other = console.session(ROOT, ROOT_PASSWORD).await;
    let stolen = Session {
        csrf: other.csrf.clone(),
        ..root.clone()
    };
    let audit_before = audit_total(&console, &root).await;
    for route in table.iter().filter(|r| r.is_write()) {
        let (status, body) = console
            .call_with(
                Some(&root),
                false,
                route.method,
                &route.path,
                route.body.clone(),
            )
            .await;
        let context = format!("{} without the CSRF header", route.name());
        assert_refused(&context, status, &body, 403, "FORBIDDEN");
        assert_eq!(body["detail"]["reason"], "csrf", "{context}: {body}");
        let (status, body) = console
            .call(Some(&stolen), route.method, &route.path, route.body.clone())
            .await;
        let context = format!("{} with another session's token", route.name());
        assert_refused(&context, status, &body, 403, "FORBIDDEN");
        assert_eq!(body["detail"]["reason"], "csrf", "{context}: {body}");
    }
    assert_eq!(
        audit_total(&console, &root).await,
        audit_before,
        "a refused write left an audit entry"
    );
    let (status, me) = console.call(Some(&root), "GET", "/auth/me", None).await;
    assert_eq!(
        status, 200,
        "logout without the token did not log out: {me}"
    );
    let (status, users) = console.call(Some(&root), "GET", "/users", None).await;
    assert_eq!(status, 200);
    assert!(
        users["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|u| u["username"] != "sneaky" && u["status"] == "active"),
        "{users}"
    );
    let (status, _, _) = console.login(ROOT, ROOT_PASSWORD).await;
    assert_eq!(status, 200, "the password did not change");
}

async fn users_and_roles_refuse_bad_input_and_change_the_documented_way(console: Console) {
    let root = console.session(ROOT, ROOT_PASSWORD).await;
    let (me_status, me) = console.call(Some(&root), "GET", "/auth/me", None).await;
    assert_eq!(me_status, 200);
    let root_id = me["id"].as_str().expect("id").to_owned();
    let ops = console.create_user(&root, "ops", &["operator"], None).await;
    let ops_id = ops["id"].as_str().expect("id").to_owned();
    let ops_path = format!("/users/{ops_id}");

    // Bodies and paths that do not parse: 400.
    for (method, path) in [("GET", "/users/not-a-uuid"), ("PUT", "/users/not-a-uuid")] {
        let body = (method == "PUT").then(|| json!({ "display_name": "x" }));
        let (status, answer) = console.call(Some(&root), method, path, body).await;
        assert_bad_request(&format!("{method} {path}"), status, &answer);
        assert_eq!(answer["detail"]["in"], "path", "{answer}");
    }
    let (status, answer) = console
        .call(Some(&root), "POST", "/users/not-a-uuid/disable", None)
        .await;
    assert_bad_request("disable not-a-uuid", status, &answer);
    let (status, answer) = call_raw(
        &console,
        &root,
        "POST",
        "/users",
        "application/json",
        "{\"username\": \"x\",",
    )
    .await;
    assert_bad_request("truncated JSON", status, &answer);
    for (body, mentions) in [
        (
            json!({ "username": "ok-name", "roles": ["operator"] }),
            "password",
        ),
        (
            json!({ "username": "ok-name", "password": "long-enough-1", "roles": "operator" }),
            "sequence",
        ),
        (
            json!({ "username": 42, "password": "long-enough-1", "roles": ["operator"] }),
            "string",
        ),
    ] {
        let (status, answer) = console
            .call(Some(&root), "POST", "/users", Some(body.clone()))
            .await;
        assert_bad_request(&body.to_string(), status, &answer);
        assert!(
            answer["detail"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains(mentions)),
            "{body} -> {answer}"
        );
    }
    let (status, answer) = call_raw(
        &console,
        &root,
        "POST",
        "/users",
        "text/plain",
        "username=x",
    )
    .await;
    assert_refused(
        "a form body",
        status,
        &answer,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    );

    // Updates: each bad field named; no such user 404.
    for (body, field) in [
        (json!({ "display_name": " " }), "display_name"),
        (json!({ "display_name": "名".repeat(65) }), "display_name"),
        (json!({ "roles": [] }), "roles"),
        (json!({ "roles": ["wizard"] }), "roles"),
        (json!({ "roles": vec!["operator"; 17] }), "roles"),
    ] {
        let (status, answer) = console
            .call(Some(&root), "PUT", &ops_path, Some(body.clone()))
            .await;
        assert_invalid(&format!("PUT {body}"), status, &answer, field);
    }
    // No one re-roles, disables or enables themselves.
    let root_path = format!("/users/{root_id}");
    let (status, answer) = console
        .call(
            Some(&root),
            "PUT",
            &root_path,
            Some(json!({ "roles": ["auditor"] })),
        )
        .await;
    assert_invalid("re-role oneself", status, &answer, "roles");
    for verb in ["disable", "enable"] {
        let (status, answer) = console
            .call(Some(&root), "POST", &format!("{root_path}/{verb}"), None)
            .await;
        assert_invalid(&format!("{verb} oneself"), status, &answer, "id");
    }
    let nobody = format!("/users/{}", Uuid::now_v7());
    for (method, path, body) in [
        ("GET", nobody.clone(), None),
        ("PUT", nobody.clone(), Some(json!({ "display_name": "x" }))),
        ("POST", format!("{nobody}/disable"), None),
        ("POST", format!("{nobody}/enable"), None),
        ("POST", format!("{nobody}/unlock"), None),
    ] {
        let (status, answer) = console.call(Some(&root), method, &path, body).await;
        assert_refused(
            &format!("{method} {path}"),
            status,
            &answer,
            404,
            "NOT_FOUND",
        );
    }

    // A tenant admin changes no one holding more than they do, and grants nothing they lack.
    let (_, admin) = console.user(&root, "ta", &["tenant_admin"], None).await;
    let (status, answer) = console
        .call(
            Some(&admin),
            "PUT",
            &ops_path,
            Some(json!({ "roles": ["sys_admin"] })),
        )
        .await;
    assert_refused("grant sys_admin", status, &answer, 403, "FORBIDDEN");
    assert_eq!(answer["detail"]["reason"], "role_exceeds_own", "{answer}");
    for (method, path, body) in [
        (
            "PUT",
            root_path.clone(),
            Some(json!({ "display_name": "x" })),
        ),
        ("POST", format!("{root_path}/disable"), None),
        ("POST", format!("{root_path}/enable"), None),
        ("POST", format!("{root_path}/unlock"), None),
    ] {
        let (status, answer) = console.call(Some(&admin), method, &path, body).await;
        let context = format!("tenant admin {method} {path}");
        assert_refused(&context, status, &answer, 403, "FORBIDDEN");
        assert_eq!(answer["detail"]["reason"], "user_exceeds_own", "{answer}");
    }

    // What works: a new name and roles, disable (the user's session ends), enable (they log in
    // again); all audited.
    let ops_session = console.session("ops", "ops-password").await;
    let (status, updated) = console
        .call(
            Some(&admin),
            "PUT",
            &ops_path,
            Some(json!({ "display_name": "值班员 Zhang", "roles": ["auditor"] })),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["display_name"], "值班员 Zhang");
    assert_eq!(updated["roles"], json!(["auditor"]));
    let (status, me) = console
        .call(Some(&ops_session), "GET", "/auth/me", None)
        .await;
    assert_eq!(status, 200, "{me}");
    assert!(
        me["permissions"]
            .as_array()
            .is_some_and(|p| p.contains(&json!("audit:read")) && !p.contains(&json!("scenes:read"))),
        "the new roles hold at once: {me}"
    );
    let (status, disabled) = console
        .call(Some(&admin), "POST", &format!("{ops_path}/disable"), None)
        .await;
    assert_eq!(
        (status, disabled["status"].as_str()),
        (200, Some("disabled"))
    );
    let (status, _) = console
        .call(Some(&ops_session), "GET", "/auth/me", None)
        .await;
    assert_eq!(status, 401);
    let (status, enabled) = console
        .call(Some(&admin), "POST", &format!("{ops_path}/enable"), None)
        .await;
    assert_eq!((status, enabled["status"].as_str()), (200, Some("active")));
    console.session("ops", "ops-password").await;
    let (status, audit) = console
        .call(Some(&root), "GET", "/audit?limit=100&username=ta", None)
        .await;
    assert_eq!(status, 200, "{audit}");
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in ["user.update", "user.disable", "user.enable"] {
        assert!(actions.contains(&action), "{action} not in {actions:?}");
    }

    // Roles: the four built-in ones with what they grant; paging checked.
    let (status, roles) = console.call(Some(&root), "GET", "/roles", None).await;
    assert_eq!(status, 200, "{roles}");
    let by_code = |code: &str| {
        roles["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|r| r["code"] == code)
            .cloned()
            .unwrap_or_else(|| panic!("no role {code}: {roles}"))
    };
    for code in ["sys_admin", "tenant_admin", "operator", "auditor"] {
        assert_eq!(by_code(code)["builtin"], true, "{code}");
    }
    assert_eq!(
        by_code("sys_admin")["permissions"].as_array().map(Vec::len),
        Some(18)
    );
    let auditor = by_code("auditor");
    let held: BTreeSet<&str> = auditor["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        held,
        BTreeSet::from(["audit:read", "evidence:read", "records:read", "stats:read"])
    );
    for (query, field) in [("limit=0", "limit"), ("limit=501", "limit")] {
        let (status, answer) = console
            .call(Some(&root), "GET", &format!("/roles?{query}"), None)
            .await;
        assert_invalid(&format!("/roles?{query}"), status, &answer, field);
    }
    let (status, answer) = console
        .call(Some(&root), "GET", "/roles?limit=ten", None)
        .await;
    assert_bad_request("/roles?limit=ten", status, &answer);
    assert_eq!(answer["detail"]["in"], "query", "{answer}");
    let (status, page) = console
        .call(Some(&root), "GET", "/roles?limit=2&offset=3", None)
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["total"], 4, "{page}");
}

async fn tenants_apps_and_the_audit_log_refuse_bad_input(console: Console) {
    let root = console.session(ROOT, ROOT_PASSWORD).await;
    let bank_a = console.create_tenant(&root, "bank-a", None).await;
    let bank_b = console.create_tenant(&root, "bank-b", None).await;
    // A system administrator of bank A: every permission, but only over bank A's subtree.
    let (_, a_root) = console
        .user(&root, "a-root", &["sys_admin"], Some(&bank_a))
        .await;

    // Tenants.
    for (body, field) in [
        (json!({ "code": "", "name": "x" }), "code"),
        (json!({ "code": "a".repeat(65), "name": "x" }), "code"),
        (json!({ "code": "Bank A", "name": "x" }), "code"),
        (json!({ "code": "银行", "name": "x" }), "code"),
        (json!({ "code": "bank-c", "name": "" }), "name"),
        (json!({ "code": "bank-c", "name": "  " }), "name"),
        (
            json!({ "code": "bank-c", "name": "名".repeat(129) }),
            "name",
        ),
    ] {
        let (status, answer) = console
            .call(Some(&root), "POST", "/tenants", Some(body.clone()))
            .await;
        assert_invalid(&format!("POST /tenants {body}"), status, &answer, field);
    }
    for body in [
        json!({ "code": "bank-c" }),
        json!({ "code": "bank-c", "name": "c", "parent_id": "bank-a" }),
    ] {
        let (status, answer) = console
            .call(Some(&root), "POST", "/tenants", Some(body.clone()))
            .await;
        assert_bad_request(&format!("POST /tenants {body}"), status, &answer);
    }
    for parent in [bank_b.clone(), Uuid::now_v7().to_string()] {
        let (status, answer) = console
            .call(
                Some(&a_root),
                "POST",
                "/tenants",
                Some(json!({ "code": "bank-c", "name": "c", "parent_id": parent })),
            )
            .await;
        assert_refused(
            "a parent outside the subtree",
            status,
            &answer,
            404,
            "NOT_FOUND",
        );
    }
    let (status, answer) = console
        .call(Some(&root), "GET", "/tenants?limit=0", None)
        .await;
    assert_invalid("/tenants?limit=0", status, &answer, "limit");
    let (status, tenants) = console.call(Some(&root), "GET", "/tenants", None).await;
    assert_eq!(
        (status, tenants["total"].as_u64()),
        (200, Some(3)),
        "{tenants}"
    );

    // Apps.
    for (body, field) in [
        (json!({ "name": "" }), "name"),
        (json!({ "name": "\t " }), "name"),
        (json!({ "name": "名".repeat(129) }), "name"),
    ] {
        let (status, answer) = console
            .call(Some(&root), "POST", "/apps", Some(body.clone()))
            .await;
        assert_invalid(&format!("POST /apps {body}"), status, &answer, field);
    }
    for body in [json!({}), json!({ "name": "x", "tenant": "bank-a" })] {
        let (status, answer) = console
            .call(Some(&root), "POST", "/apps", Some(body.clone()))
            .await;
        assert_bad_request(&format!("POST /apps {body}"), status, &answer);
    }
    let (status, answer) = console
        .call(
            Some(&a_root),
            "POST",
            "/apps",
            Some(json!({ "name": "x", "tenant": bank_b })),
        )
        .await;
    assert_refused(
        "an app in another subtree",
        status,
        &answer,
        404,
        "NOT_FOUND",
    );
    for path in [
        format!("/apps?tenant={bank_b}"),
        format!("/apps?tenant={}", Uuid::now_v7()),
    ] {
        let (status, answer) = console.call(Some(&a_root), "GET", &path, None).await;
        assert_refused(&path, status, &answer, 404, "NOT_FOUND");
    }
    let (status, answer) = console
        .call(Some(&root), "GET", "/apps?tenant=bank-a", None)
        .await;
    assert_bad_request("/apps?tenant=bank-a", status, &answer);
    let (status, answer) = console
        .call(Some(&root), "GET", "/apps?limit=501", None)
        .await;
    assert_invalid("/apps?limit=501", status, &answer, "limit");
    for app in ["not-an-app", "app_0000000000000000"] {
        let (status, answer) = console
            .call(Some(&root), "POST", &format!("/apps/{app}/disable"), None)
            .await;
        assert_refused(&format!("disable {app}"), status, &answer, 404, "NOT_FOUND");
    }
    let (status, answer) = console
        .call(
            Some(&a_root),
            "POST",
            &format!("/apps/{}/disable?tenant={bank_a}", console.server.app_id),
            None,
        )
        .await;
    assert_refused(
        "another tenant's app named under one's own tenant",
        status,
        &answer,
        404,
        "NOT_FOUND",
    );
    let (status, apps) = console.call(Some(&root), "GET", "/apps", None).await;
    assert_eq!(status, 200, "{apps}");
    assert_eq!(apps["items"][0]["status"], "active", "{apps}");

    // The audit log.
    for query in ["from=yesterday", "to=2026-13-01T00:00:00Z", "tenant=bank-a"] {
        let (status, answer) = console
            .call(Some(&root), "GET", &format!("/audit?{query}"), None)
            .await;
        assert_bad_request(&format!("/audit?{query}"), status, &answer);
    }
    for (query, field) in [("limit=0", "limit"), ("limit=501", "limit")] {
        let (status, answer) = console
            .call(Some(&root), "GET", &format!("/audit?{query}"), None)
            .await;
        assert_invalid(&format!("/audit?{query}"), status, &answer, field);
    }
    let (status, answer) = console
        .call(
            Some(&a_root),
            "GET",
            &format!("/audit?tenant={bank_b}"),
            None,
        )
        .await;
    assert_refused(
        "another subtree's audit log",
        status,
        &answer,
        404,
        "NOT_FOUND",
    );
    let (status, audit) = console
        .call(
            Some(&root),
            "GET",
            "/audit?action=tenant.create&from=2020-01-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!((status, audit["total"].as_u64()), (200, Some(2)), "{audit}");
}

async fn the_dictionary_jobs_and_properties_refuse_bad_input(console: Console) {
    let root = console.session(ROOT, ROOT_PASSWORD).await;

    // Dictionary types.
    for (body, field) in [
        (
            json!({ "code": "", "name_zh": "渠道", "name_en": "Channel" }),
            "code",
        ),
        (
            json!({ "code": "has space", "name_zh": "渠道", "name_en": "Channel" }),
            "code",
        ),
        (
            json!({ "code": "c".repeat(65), "name_zh": "渠道", "name_en": "Channel" }),
            "code",
        ),
        (
            json!({ "code": "channel", "name_zh": "", "name_en": "Channel" }),
            "name_zh",
        ),
        (
            json!({ "code": "channel", "name_zh": "渠\u{7}道", "name_en": "Channel" }),
            "name_zh",
        ),
        (
            json!({ "code": "channel", "name_zh": "渠道", "name_en": "C".repeat(65) }),
            "name_en",
        ),
    ] {
        let (status, answer) = console
            .call(Some(&root), "POST", "/dict/types", Some(body.clone()))
            .await;
        assert_invalid(&format!("POST /dict/types {body}"), status, &answer, field);
    }
    for body in [
        json!({ "code": "channel", "name_zh": "渠道" }),
        json!({ "code": "channel", "name_zh": "渠道", "name_en": "Channel", "builtin": true }),
    ] {
        let (status, answer) = console
            .call(Some(&root), "POST", "/dict/types", Some(body.clone()))
            .await;
        assert_bad_request(&format!("POST /dict/types {body}"), status, &answer);
    }

    // Dictionary entries.
    let item = json!({ "value": "wechat", "label_zh": "微信", "label_en": "WeChat" });
    let (status, answer) = console
        .call(Some(&root), "POST", "/dict/types/nope/data", Some(item))
        .await;
    assert_refused(
        "an entry of an unknown type",
        status,
        &answer,
        404,
        "NOT_FOUND",
    );
    for (body, field) in [
        (
            json!({ "value": "bad value", "label_zh": "坏", "label_en": "Bad" }),
            "value",
        ),
        (
            json!({ "value": "", "label_zh": "坏", "label_en": "Bad" }),
            "value",
        ),
        (
            json!({ "value": "ok", "label_zh": "", "label_en": "Bad" }),
            "label_zh",
        ),
        (
            json!({ "value": "ok", "label_zh": "坏", "label_en": "B".repeat(65) }),
            "label_en",
        ),
        (
            json!({ "value": "ok", "label_zh": "坏", "label_en": "Bad", "sort": 100_001 }),
            "sort",
        ),
        (
            json!({ "value": "ok", "label_zh": "坏", "label_en": "Bad", "sort": -100_001 }),
            "sort",
        ),
    ] {
        let (status, answer) = console
            .call(
                Some(&root),
                "POST",
                "/dict/types/reason/data",
                Some(body.clone()),
            )
            .await;
        assert_invalid(&format!("POST entry {body}"), status, &answer, field);
    }
    for body in [
        json!({ "value": "ok", "label_zh": "坏", "label_en": "Bad", "status": "maybe" }),
        json!({ "value": "ok", "label_zh": "坏", "label_en": "Bad", "sort": "first" }),
        json!({ "value": "ok", "label_zh": "坏" }),
    ] {
        let (status, answer) = console
            .call(
                Some(&root),
                "POST",
                "/dict/types/reason/data",
                Some(body.clone()),
            )
            .await;
        assert_bad_request(&format!("POST entry {body}"), status, &answer);
    }
    let (status, items) = console
        .call(Some(&root), "GET", "/dict/types/reason/data?limit=1", None)
        .await;
    assert_eq!(status, 200, "{items}");
    let id = items["items"][0]["id"]
        .as_str()
        .expect("an entry")
        .to_owned();
    let item_path = format!("/dict/types/reason/data/{id}");
    for (body, field) in [
        (json!({ "label_zh": "" }), "label_zh"),
        (json!({ "label_en": "\u{1b}[31m" }), "label_en"),
        (json!({ "sort": 100_001 }), "sort"),
    ] {
        let (status, answer) = console
            .call(Some(&root), "PUT", &item_path, Some(body.clone()))
            .await;
        assert_invalid(&format!("PUT entry {body}"), status, &answer, field);
    }
    let (status, answer) = console
        .call(
            Some(&root),
            "PUT",
            &item_path,
            Some(json!({ "status": "gone" })),
        )
        .await;
    assert_bad_request("PUT entry status gone", status, &answer);
    let (status, answer) = console
        .call(
            Some(&root),
            "PUT",
            "/dict/types/reason/data/not-a-uuid",
            Some(json!({ "sort": 1 })),
        )
        .await;
    assert_bad_request("PUT entry not-a-uuid", status, &answer);
    assert_eq!(answer["detail"]["in"], "path", "{answer}");
    let unknown = format!("/dict/types/reason/data/{}", Uuid::now_v7());
    let (status, answer) = console
        .call(Some(&root), "PUT", &unknown, Some(json!({ "sort": 1 })))
        .await;
    assert_refused("PUT an unknown entry", status, &answer, 404, "NOT_FOUND");
    let (status, answer) = console.call(Some(&root), "DELETE", &unknown, None).await;
    assert_refused("DELETE an unknown entry", status, &answer, 404, "NOT_FOUND");
    let (status, answer) = console
        .call(
            Some(&root),
            "PUT",
            &format!("/dict/types/verdict/data/{id}"),
            Some(json!({ "sort": 1 })),
        )
        .await;
    assert_refused(
        "an entry under another type",
        status,
        &answer,
        404,
        "NOT_FOUND",
    );
    let (status, answer) = console
        .call(
            Some(&root),
            "GET",
            "/dict/types/reason/data?status=maybe",
            None,
        )
        .await;
    assert_bad_request("?status=maybe", status, &answer);
    for path in ["/dict/types?limit=0", "/dict/types/reason/data?limit=501"] {
        let (status, answer) = console.call(Some(&root), "GET", path, None).await;
        assert_invalid(path, status, &answer, "limit");
    }

    // Jobs.
    for cron in [
        "",
        "every day",
        "* * * * * *",
        "*/10 * * * * *",
        "0 0 30 2 *",
        "61 * * * *",
        &"0 ".repeat(200),
    ] {
        let (status, answer) = console
            .call(
                Some(&root),
                "PUT",
                "/jobs/backup",
                Some(json!({ "cron": cron, "enabled": true })),
            )
            .await;
        assert_invalid(&format!("cron {cron:?}"), status, &answer, "cron");
    }
    for body in [
        json!({ "cron": "0 4 * * *" }),
        json!({ "cron": "0 4 * * *", "enabled": "yes" }),
        json!({ "cron": "0 4 * * *", "enabled": true, "node": "x" }),
    ] {
        let (status, answer) = console
            .call(Some(&root), "PUT", "/jobs/backup", Some(body.clone()))
            .await;
        assert_bad_request(&format!("PUT /jobs/backup {body}"), status, &answer);
    }
    for (method, path, body) in [
        (
            "PUT",
            "/jobs/nope",
            Some(json!({ "cron": "0 4 * * *", "enabled": true })),
        ),
        ("POST", "/jobs/nope/run", None),
        ("GET", "/jobs/nope/runs", None),
    ] {
        let (status, answer) = console.call(Some(&root), method, path, body).await;
        assert_refused(
            &format!("{method} {path}"),
            status,
            &answer,
            404,
            "NOT_FOUND",
        );
    }
    for path in ["/jobs?limit=0", "/jobs/backup/runs?limit=501"] {
        let (status, answer) = console.call(Some(&root), "GET", path, None).await;
        assert_invalid(path, status, &answer, "limit");
    }
    let (status, jobs) = console.call(Some(&root), "GET", "/jobs", None).await;
    assert_eq!(status, 200, "{jobs}");
    let backup = jobs["items"]
        .as_array()
        .and_then(|j| j.iter().find(|j| j["code"] == "backup"))
        .expect("the backup job");
    assert_eq!(
        backup["cron"], backup["default_cron"],
        "no refused change was kept: {backup}"
    );

    // Properties.
    let path = "/system/properties/admin.login_lock_threshold";
    for value in [json!("five"), json!(null), json!(5.5), json!(0), json!([5])] {
        let (status, answer) = console
            .call(Some(&root), "PUT", path, Some(json!({ "value": value })))
            .await;
        assert_invalid(&format!("value {value}"), status, &answer, "value");
    }
    for body in [json!({}), json!({ "value": 6, "key": "x" })] {
        let (status, answer) = console
            .call(Some(&root), "PUT", path, Some(body.clone()))
            .await;
        assert_bad_request(&format!("PUT {body}"), status, &answer);
    }
    let (status, answer) = console
        .call(
            Some(&root),
            "PUT",
            "/system/properties/no.such.key",
            Some(json!({ "value": 1 })),
        )
        .await;
    assert_refused("an unknown property", status, &answer, 404, "NOT_FOUND");
    assert_eq!(answer["detail"]["entity"], "property", "{answer}");
    let (status, answer) = console
        .call(Some(&root), "GET", "/system/properties?limit=0", None)
        .await;
    assert_invalid("/system/properties?limit=0", status, &answer, "limit");
    let (status, props) = console
        .call(Some(&root), "GET", "/system/properties?limit=100", None)
        .await;
    assert_eq!(status, 200, "{props}");
    let threshold = props["items"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["key"] == "admin.login_lock_threshold"))
        .expect("the property");
    assert_eq!(threshold["value"], threshold["default"], "{threshold}");
    assert_eq!(threshold["updated_by"], Value::Null, "{threshold}");
}

async fn refusals_come_in_order_and_login_password_scenes_engines_stats_check_their_input(
    console: Console,
) {
    let root = console.session(ROOT, ROOT_PASSWORD).await;

    // The session and CSRF refusals come first, whatever the body: a write without the token is
    // 403 `csrf` even when its body would be refused too, and a forged cookie is 401.
    let forged = Session {
        cookie: "livegate_admin=forged-token".into(),
        set_cookie: String::new(),
        csrf: "forged".into(),
    };
    for (content_type, body) in [
        ("text/plain", "username=x"),
        ("application/json", "{not json"),
        ("application/json", "{\"name\": 5}"),
    ] {
        for (path, method) in [("/apps", "POST"), ("/jobs/backup", "PUT")] {
            let send = |cookie: &str, csrf: Option<&str>| {
                let mut request = reqwest::Client::new()
                    .request(method.parse().expect("method"), console.url(path))
                    .header("Cookie", cookie)
                    .header("Content-Type", content_type)
                    .body(body);
                if let Some(csrf) = csrf {
                    request = request.header("X-CSRF-Token", csrf);
                }
                request.send()
            };
            let context = format!("{method} {path} {content_type} {body}");
            let response = send(&root.cookie, None).await.expect("call");
            let status = response.status().as_u16();
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            assert_refused(
                &format!("{context}, no token"),
                status,
                &answer,
                403,
                "FORBIDDEN",
            );
            assert_eq!(answer["detail"]["reason"], "csrf", "{context}: {answer}");
            let response = send(&forged.cookie, Some(&forged.csrf))
                .await
                .expect("call");
            let status = response.status().as_u16();
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            assert_refused(
                &format!("{context}, forged"),
                status,
                &answer,
                401,
                "UNAUTHORIZED",
            );
        }
    }

    for path in [
        "/users?limit=ten",
        "/records/export?tenant=bank-a",
        "/users/not-a-uuid",
    ] {
        let (status, answer) = console.call(Some(&forged), "GET", path, None).await;
        assert_refused(
            &format!("{path}, forged"),
            status,
            &answer,
            401,
            "UNAUTHORIZED",
        );
    }

    // Login bodies.
    let login = |content_type: &'static str, body: String| {
        reqwest::Client::new()
            .post(console.url("/auth/login"))
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    for (content_type, body, want) in [
        ("text/plain", "root".to_owned(), 415),
        (
            "application/json",
            "{\"username\": \"root\",".to_owned(),
            400,
        ),
        (
            "application/json",
            json!({ "username": ROOT }).to_string(),
            400,
        ),
        (
            "application/json",
            json!({ "username": ROOT, "password": 12345678901_u64 }).to_string(),
            400,
        ),
    ] {
        let response = login(content_type, body.clone()).await.expect("login");
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let code = if want == 415 {
            "UNSUPPORTED_MEDIA_TYPE"
        } else {
            "BAD_REQUEST"
        };
        assert_refused(&format!("login {body}"), status, &answer, want, code);
    }
    let (status, answer, _) = console.login(ROOT, &"p".repeat(129)).await;
    assert_invalid("an over-long password", status, &answer, "password");

    // Password changes.
    for (new_password, field) in [
        ("aaaaaaaaaaaaaa", "new_password"),
        ("abababababab", "new_password"),
        (&"long-enough-".repeat(11)[..], "new_password"),
        ("", "new_password"),
    ] {
        let (status, answer) = console
            .call(
                Some(&root),
                "POST",
                "/auth/password",
                Some(json!({ "old_password": ROOT_PASSWORD, "new_password": new_password })),
            )
            .await;
        assert_invalid(
            &format!("new password {new_password:?}"),
            status,
            &answer,
            field,
        );
    }
    let (status, answer) = console
        .call(
            Some(&root),
            "POST",
            "/auth/password",
            Some(json!({ "new_password": "long-enough-2" })),
        )
        .await;
    assert_bad_request("no old password", status, &answer);
    let (status, _, _) = console.login(ROOT, ROOT_PASSWORD).await;
    assert_eq!(status, 200, "the password is unchanged");

    // Scenes.
    for (body, field) in [
        (json!({ "code": "" }), "code"),
        (json!({ "code": "kyc", "name": " " }), "name"),
        (json!({ "code": "kyc", "name": "名".repeat(129) }), "name"),
    ] {
        let (status, answer) = console
            .call(Some(&root), "POST", "/scenes", Some(body.clone()))
            .await;
        assert_invalid(&format!("POST /scenes {body}"), status, &answer, field);
    }
    for body in [
        json!({ "name": "kyc" }),
        json!({ "code": "kyc", "rules": {} }),
    ] {
        let (status, answer) = console
            .call(Some(&root), "POST", "/scenes", Some(body.clone()))
            .await;
        assert_bad_request(&format!("POST /scenes {body}"), status, &answer);
    }
    let (status, scene) = console
        .call(
            Some(&root),
            "POST",
            "/scenes",
            Some(json!({ "code": "kyc" })),
        )
        .await;
    assert_eq!(status, 201, "{scene}");
    for body in [
        json!({ "name": "x" }),
        json!({ "version": "one", "name": "x" }),
    ] {
        let (status, answer) = console
            .call(Some(&root), "PUT", "/scenes/kyc", Some(body.clone()))
            .await;
        assert_bad_request(&format!("PUT /scenes/kyc {body}"), status, &answer);
    }
    let (status, answer) = console
        .call(
            Some(&root),
            "PUT",
            "/scenes/kyc",
            Some(json!({ "version": 1, "name": "" })),
        )
        .await;
    assert_invalid("a blank scene name", status, &answer, "name");
    for path in ["/scenes?tenant=default", "/scenes/kyc?tenant=default"] {
        let (status, answer) = console.call(Some(&root), "GET", path, None).await;
        assert_bad_request(path, status, &answer);
    }
    for path in ["/scenes?limit=0", "/scenes/kyc/versions?limit=501"] {
        let (status, answer) = console.call(Some(&root), "GET", path, None).await;
        assert_invalid(path, status, &answer, "limit");
    }

    // Engines.
    let (status, answer) = console
        .call(Some(&root), "GET", "/engines?tenant=default", None)
        .await;
    assert_bad_request("/engines?tenant=default", status, &answer);
    let (status, answer) = console
        .call(
            Some(&root),
            "GET",
            &format!("/engines?tenant={}", Uuid::now_v7()),
            None,
        )
        .await;
    assert_refused(
        "engines of an unknown tenant",
        status,
        &answer,
        404,
        "NOT_FOUND",
    );

    // Statistics.
    for (path, field) in [
        ("/stats/summary?from=yesterday", "from"),
        ("/stats/summary?to=soon", "to"),
        (
            "/stats/summary?from=2026-11-25T08:00:00Z&to=2026-11-24T08:00:00Z",
            "from",
        ),
        ("/stats/series?tz_offset=15", "tz_offset"),
        ("/stats/series?tz_offset=eight", "tz_offset"),
        (
            "/stats/series?bucket=hour&from=2026-09-01T00:00:00Z&to=2026-11-01T00:00:00Z",
            "bucket",
        ),
        ("/stats/reasons?tenant=default", "tenant"),
    ] {
        let (status, answer) = console.call(Some(&root), "GET", path, None).await;
        assert_invalid(path, status, &answer, field);
    }
}
