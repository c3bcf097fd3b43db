//! The admin API's scenes and engines on a real `livegate serve` (docs/admin-api.md): logged in
//! through `/auth/login` as administrators made by `livegate admin create`, the way the console
//! does it (cookie + CSRF header).

mod common;

use std::path::Path;

use common::live::LiveServer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const PASSWORD: &str = "correct horse battery";

/// A logged-in console user.
struct Admin {
    base: String,
    cookie: String,
    csrf: String,
    http: reqwest::Client,
}

impl Admin {
    async fn login(server: &LiveServer, username: &str) -> Self {
        let http = reqwest::Client::new();
        let response = http
            .post(format!("{}/admin/api/v1/auth/login", server.base))
            .json(&json!({ "username": username, "password": PASSWORD }))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status().as_u16(), 200, "login {username}");
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("livegate_admin="))
            .and_then(|v| v.split(';').next())
            .expect("the session cookie")
            .to_owned();
        let body: Value = response.json().await.expect("login body");
        Self {
            base: server.base.clone(),
            cookie,
            csrf: body["csrf_token"].as_str().expect("csrf_token").to_owned(),
            http,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(
                method.parse().expect("method"),
                format!("{}/admin/api/v1{path}", self.base),
            )
            .header("Cookie", &self.cookie)
            .header("X-CSRF-Token", &self.csrf);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("admin call");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }
}

fn create_admin(server: &LiveServer, username: &str, tenant: &str, role: &str) {
    let out = server.cli(&[
        "admin",
        "create",
        "--username",
        username,
        "--password",
        PASSWORD,
        "--tenant",
        tenant,
        "--role",
        role,
    ]);
    assert!(out.status.success(), "admin create {username}: {out:?}");
}

/// The scene's stored config and every stored version's, read straight from the database file.
fn stored_configs(server: &LiveServer, code: &str) -> (Value, Vec<Value>) {
    let conn = rusqlite::Connection::open(server.data_dir().join("livegate.db")).expect("db");
    let scene: String = conn
        .query_row(
            "SELECT config FROM scenes WHERE code = ?1 AND tenant_id = ?2",
            [code, "00000000-0000-0000-0000-000000000001"],
            |row| row.get(0),
        )
        .expect("scene row");
    let mut stmt = conn
        .prepare(
            "SELECT v.config FROM scene_versions v JOIN scenes s \
             ON s.id = v.scene_id AND s.tenant_id = v.tenant_id \
             WHERE s.code = ?1 AND s.tenant_id = ?2 ORDER BY v.version",
        )
        .expect("prepare");
    let versions = stmt
        .query_map([code, "00000000-0000-0000-0000-000000000001"], |row| {
            row.get::<_, String>(0)
        })
        .expect("versions")
        .map(|text| serde_json::from_str(&text.expect("row")).expect("json"))
        .collect();
    (serde_json::from_str(&scene).expect("json"), versions)
}

const SECRET: &str = "0123456789abcdef";
const NEW_SECRET: &str = "fedcba9876543210-new";

fn rules(retries: u64, secret: &str) -> Value {
    json!({
        "actions": {"pool": ["blink", "nod", "turn_left"], "count": 2},
        "retries": retries,
        "callback": {"url": "https://bank.example/liveness/callback", "secret": secret},
        "recording": {"enabled": true},
        "fallback": {"order": ["action", "recording"],
                     "triggers": {"missing_capability": true, "failures": 2, "poor_network": false}}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenes_are_versioned_masked_disabled_and_kept_to_their_tenant() {
    let server = LiveServer::start(&[], &[]).await;
    create_admin(&server, "root", "default", "sys_admin");
    create_admin(&server, "reader", "default", "auditor");

    // Without a session: 401.
    let anonymous = reqwest::get(format!("{}/admin/api/v1/scenes", server.base))
        .await
        .expect("anonymous");
    assert_eq!(anonymous.status().as_u16(), 401);

    let root = Admin::login(&server, "root").await;

    // Create.
    let (status, created) = root
        .call(
            "POST",
            "/scenes",
            Some(json!({"code": "kyc", "name": "开户", "config": rules(0, SECRET)})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["version"], 1);
    assert_eq!(created["status"], "active");
    assert_eq!(created["config"]["callback"]["secret"], "***");
    assert_eq!(
        created["fallback"],
        json!({"order": ["action", "recording"],
               "triggers": {"missing_capability": true, "failures": 2, "poor_network": false}})
    );
    assert!(!created.to_string().contains(SECRET));

    // A taken code, bad rules, a fallback the scene cannot do.
    let (status, taken) = root
        .call(
            "POST",
            "/scenes",
            Some(json!({"code": "kyc", "config": {}})),
        )
        .await;
    assert_eq!(status, 409, "{taken}");
    let (status, bad) = root
        .call(
            "POST",
            "/scenes",
            Some(json!({"code": "bad", "config": {"actions": {"count": 9}}})),
        )
        .await;
    assert_eq!(status, 422, "{bad}");
    assert_eq!(bad["detail"]["field"], "config.actions.count");
    let (status, bad) = root
        .call(
            "POST",
            "/scenes",
            Some(
                json!({"code": "bad", "config": {"fallback": {"order": ["action", "recording"]}}}),
            ),
        )
        .await;
    assert_eq!(status, 422, "{bad}");
    assert_eq!(bad["detail"]["field"], "config.fallback.order[1]");
    let (status, bad) = root
        .call(
            "POST",
            "/scenes",
            Some(json!({"code": "Bad Code", "config": {}})),
        )
        .await;
    assert_eq!(
        (status, bad["detail"]["field"].clone()),
        (422, json!("code"))
    );
    let (status, masked_new) = root
        .call(
            "POST",
            "/scenes",
            Some(json!({"code": "bad", "config": rules(0, "***")})),
        )
        .await;
    assert_eq!(status, 422, "*** with nothing stored: {masked_new}");
    assert_eq!(masked_new["detail"]["field"], "config.callback.secret");

    // List and show.
    let (status, list) = root.get("/scenes").await;
    assert_eq!(status, 200, "{list}");
    let codes: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|s| s["code"].as_str())
        .collect();
    assert_eq!(
        codes,
        vec!["default", "kyc"],
        "nothing half-made by the refusals"
    );
    assert_eq!(list["total"], 2);
    let kyc = &list["items"][1];
    assert_eq!(
        (&kyc["name"], &kyc["version"], &kyc["status"], &kyc["modes"]),
        (
            &json!("开户"),
            &json!(1),
            &json!("active"),
            &json!(["action"])
        )
    );
    let (status, shown) = root.get("/scenes/kyc").await;
    assert_eq!(status, 200);
    assert_eq!(shown["config"]["callback"]["secret"], "***");
    assert!(!shown.to_string().contains(SECRET));

    // At rest the secret is sealed, in the scene and in its version.
    let (stored, versions) = stored_configs(&server, "kyc");
    let sealed_v1 = stored["callback"]["secret"]
        .as_str()
        .expect("stored secret")
        .to_owned();
    assert!(sealed_v1.starts_with("sealed:v1:"), "{sealed_v1}");
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0], stored);

    // Edit, sending the mask back: a new version, the stored secret kept as it was.
    let mut edited = shown["config"].clone();
    edited["retries"] = json!(1);
    let (status, v2) = root
        .call(
            "PUT",
            "/scenes/kyc",
            Some(json!({"version": 1, "config": edited})),
        )
        .await;
    assert_eq!(status, 200, "{v2}");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["config"]["retries"], 1);
    let (stored, _) = stored_configs(&server, "kyc");
    assert_eq!(stored["callback"]["secret"], sealed_v1.as_str(), "kept");

    // The same edit made on version 1 again is stale.
    let (status, stale) = root
        .call(
            "PUT",
            "/scenes/kyc",
            Some(json!({"version": 1, "name": "lost update"})),
        )
        .await;
    assert_eq!(status, 409, "{stale}");
    assert_eq!(stale["detail"]["current_version"], 2);

    // A new secret is sealed too, never stored or shown in clear.
    let (status, v3) = root
        .call(
            "PUT",
            "/scenes/kyc",
            Some(json!({"version": 2, "name": "开户 2", "config": rules(1, NEW_SECRET)})),
        )
        .await;
    assert_eq!(status, 200, "{v3}");
    assert_eq!(
        (v3["version"].clone(), v3["name"].clone()),
        (json!(3), json!("开户 2"))
    );
    let (stored, versions) = stored_configs(&server, "kyc");
    let sealed_v3 = stored["callback"]["secret"].as_str().expect("secret");
    assert!(sealed_v3.starts_with("sealed:v1:") && sealed_v3 != sealed_v1);
    let db = std::fs::read(server.data_dir().join("livegate.db")).expect("db bytes");
    let wal = std::fs::read(server.data_dir().join("livegate.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        for secret in [SECRET, NEW_SECRET] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in clear at rest"
            );
        }
    }
    assert_eq!(versions.len(), 3);
    // Sending the same rules again changes nothing.
    let (status, same) = root
        .call(
            "PUT",
            "/scenes/kyc",
            Some(json!({"version": 3, "config": v3["config"]})),
        )
        .await;
    assert_eq!((status, same["version"].clone()), (200, json!(3)));

    // Versions.
    let (status, listed) = root.get("/scenes/kyc/versions").await;
    assert_eq!(status, 200, "{listed}");
    let numbers: Vec<i64> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|v| v["version"].as_i64())
        .collect();
    assert_eq!(numbers, vec![3, 2, 1]);
    assert_eq!(listed["items"][0]["created_by"], "root");
    let (status, first) = root.get("/scenes/kyc/versions/1").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["name"], "开户");
    assert_eq!(first["config"]["retries"], 0);
    assert_eq!(first["config"]["callback"]["secret"], "***");
    assert_eq!(root.get("/scenes/kyc/versions/9").await.0, 404);
    assert_eq!(root.get("/scenes/nope/versions").await.0, 404);

    // A session before the scene is disabled goes on; new ones are refused with a clear error.
    let before = server.create_session("kyc", json!({})).await;
    let (status, disabled) = root.call("POST", "/scenes/kyc/disable", None).await;
    assert_eq!(
        (status, disabled["status"].clone()),
        (200, json!("disabled"))
    );
    let (status, refused) = server
        .open_api(
            "POST",
            "/open/v1/sessions",
            Some(&json!({"scene": "kyc", "biz_id": "after-disable"})),
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["code"], "FORBIDDEN");
    assert_eq!(refused["detail"]["field"], "scene");
    assert_eq!(refused["detail"]["reason"], "the scene is disabled");
    assert_eq!(refused["detail"]["reason_zh"], "场景已停用");
    let (status, challenge) = server.challenge(&before).await;
    assert_eq!(status, 200, "the earlier session still runs: {challenge}");
    assert_eq!(challenge["fallback"]["triggers"]["failures"], 2);
    let (status, enabled) = root.call("POST", "/scenes/kyc/enable", None).await;
    assert_eq!((status, enabled["status"].clone()), (200, json!("active")));
    server.create_session("kyc", json!({})).await;

    // The auditor reads, never writes.
    let reader = Admin::login(&server, "reader").await;
    assert_eq!(
        reader.get("/scenes").await.0,
        403,
        "auditors have no scenes:read"
    );
    for (method, path, body) in [
        ("POST", "/scenes", Some(json!({"code": "x", "config": {}}))),
        (
            "PUT",
            "/scenes/kyc",
            Some(json!({"version": 3, "name": "x"})),
        ),
        ("POST", "/scenes/kyc/disable", None),
    ] {
        let (status, answer) = reader.call(method, path, body).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
    }
    // A write without the CSRF header is refused too.
    let no_csrf = reqwest::Client::new()
        .post(format!("{}/admin/api/v1/scenes/kyc/disable", server.base))
        .header("Cookie", &root.cookie)
        .send()
        .await
        .expect("no csrf");
    assert_eq!(no_csrf.status().as_u16(), 403);

    // Another tenant's administrator sees none of it; the union's can act below itself.
    let (status, bank) = root
        .call(
            "POST",
            "/tenants",
            Some(json!({"code": "bank-b", "name": "B 银行"})),
        )
        .await;
    assert_eq!(status, 201, "{bank}");
    let bank_id = bank["id"].as_str().expect("tenant id").to_owned();
    create_admin(&server, "bank-admin", "bank-b", "tenant_admin");
    let other = Admin::login(&server, "bank-admin").await;
    assert_eq!(other.get("/scenes/kyc").await.0, 404);
    assert_eq!(
        other
            .get("/scenes/kyc?tenant=00000000-0000-0000-0000-000000000001")
            .await
            .0,
        404
    );
    assert_eq!(
        other
            .call(
                "PUT",
                "/scenes/kyc",
                Some(json!({"version": 3, "name": "x"}))
            )
            .await
            .0,
        404
    );
    assert_eq!(other.call("POST", "/scenes/kyc/disable", None).await.0, 404);
    let (status, below) = root
        .call(
            "POST",
            "/scenes",
            Some(json!({"code": "kyc", "tenant": bank_id, "config": {}})),
        )
        .await;
    assert_eq!(status, 201, "same code, another tenant: {below}");
    let (status, theirs) = other.get("/scenes").await;
    assert_eq!(status, 200);
    assert_eq!(theirs["total"], 1);
    assert_eq!(theirs["items"][0]["tenant_id"], bank_id.as_str());

    // Every write is audited, with no secret in it.
    let (status, audit) = root.get("/audit?limit=100").await;
    assert_eq!(status, 200, "{audit}");
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["target"] == "kyc")
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "scene.create",
        "scene.update",
        "scene.disable",
        "scene.enable",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert_eq!(
        actions.iter().filter(|a| **a == "scene.update").count(),
        2,
        "the unchanged PUT wrote nothing: {actions:?}"
    );
    let text = audit.to_string();
    assert!(!text.contains(SECRET) && !text.contains(NEW_SECRET) && !text.contains("sealed:"));
}

fn file_sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("model file")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engines_list_the_models_with_their_files_hashes_and_the_pool_health() {
    let server = LiveServer::start(
        &[],
        &[(
            "union",
            json!({"compare": {"engine": "http", "http": {
                "url": "https://compare.union.example/api/face/compare?key=k",
                "auth": {"kind": "hmac", "app_id": "lg-01", "secret": "at-least-16-characters"},
                "format": "json",
                "body": {"img1": "${live_image}", "img2": "${reference_image}"},
                "response": {"code": "/code", "success_codes": ["0"], "score": "/data/score",
                             "min_score": 0.8}
            }}}),
        )],
    )
    .await;
    create_admin(&server, "root", "default", "sys_admin");
    create_admin(&server, "reader", "default", "auditor");
    let anonymous = reqwest::get(format!("{}/admin/api/v1/engines", server.base))
        .await
        .expect("anonymous");
    assert_eq!(anonymous.status().as_u16(), 401);
    let reader = Admin::login(&server, "reader").await;
    assert_eq!(reader.get("/engines").await.0, 403);

    let root = Admin::login(&server, "root").await;
    let (status, engines) = root.get("/engines").await;
    assert_eq!(status, 200, "{engines}");
    let items = engines["items"].as_array().expect("items");
    let builtin: Vec<&Value> = items.iter().filter(|e| e["kind"] == "builtin").collect();
    assert_eq!(builtin.len(), 2, "{engines}");
    let models_dir = common::models_dir();
    let mut files = 0;
    for engine in &builtin {
        assert_eq!(engine["health"], "ok", "{engine}");
        assert_eq!(engine["version"], env!("CARGO_PKG_VERSION"));
        assert!(
            engine["pool"]["workers"].as_u64().unwrap_or(0) > 0,
            "{engine}"
        );
        assert!(engine["pool"]["latency_ms"].is_object());
        for model in engine["models"].as_array().expect("models") {
            let file = model["file"].as_str().expect("file");
            assert_eq!(
                model["sha256"].as_str(),
                Some(file_sha256(&models_dir.join(file)).as_str()),
                "{file}"
            );
            files += 1;
        }
    }
    assert_eq!(files, 6, "every model file, once");
    let service = items
        .iter()
        .find(|e| e["scene"] == "union")
        .expect("the scene's compare service");
    assert_eq!(service["kind"], "plugin");
    assert_eq!(
        service["url"],
        "https://compare.union.example/api/face/compare"
    );
    assert_eq!(service["breaker"]["state"], "closed");
    assert!(!engines.to_string().contains("at-least-16-characters"));
}
