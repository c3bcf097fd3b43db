//! The Open API's authentication and the signed results, as an integrator meets them: an app made
//! with the real `livegate apps create`, then signed requests to a real listener on port 0 over
//! the same data folder; result JWS verified with jsonwebtoken against the served JWKS.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use actix_web::web;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use livegate::error::ErrorCode;
use livegate::result_signing::{ResultSigner, RotationPolicy};
use livegate::secrets::MasterKey;
use livegate::server::{self, AppState, HttpLimits};
use livegate::signature::{canonical_request, sign};
use livegate::store::sqlite::SqliteStore;
use livegate::store::{AppId, AppStatus, Store, TenantId};
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// What `livegate apps create` printed.
#[derive(Debug, Clone)]
struct Created {
    app_id: String,
    secret: String,
}

/// Runs `livegate apps ARGS` on the data folder `data`.
fn livegate_apps(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_livegate"))
        .arg("apps")
        .args(args)
        .current_dir(dir)
        .env("LIVEGATE_DATA_DIR", dir.join("data"))
        .env_remove("LIVEGATE_SECRETS__MASTER_KEY")
        .output()
        .expect("run livegate apps")
}

fn create_app(dir: &Path, name: &str) -> Created {
    let out = livegate_apps(dir, &["create", "--name", name]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "apps create failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stdout: {stdout:?}");
    let line: Value = serde_json::from_str(lines[0]).expect("a JSON line");
    let keys: Vec<&str> = line
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["app_id", "secret", "tenant"]);
    assert_eq!(line["tenant"], "default");
    let secret = line["secret"].as_str().expect("secret").to_owned();
    assert_eq!(secret.len(), 43, "32 bytes, base64url without padding");
    assert!(!stderr.contains(&secret), "the secret is not logged");
    Created {
        app_id: line["app_id"].as_str().expect("app_id").to_owned(),
        secret,
    }
}

struct Running {
    addr: SocketAddr,
    store: Arc<dyn Store>,
    signer: ResultSigner,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    dir: tempfile::TempDir,
}

impl Running {
    fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task
            .await
            .expect("server task")
            .expect("server stopped cleanly");
    }
}

fn policy() -> RotationPolicy {
    RotationPolicy {
        rotate_after: chrono::Duration::days(30),
        overlap: chrono::Duration::days(7),
    }
}

/// A server over the data folder `apps create` used (the same store file and master key file).
async fn serve(dir: tempfile::TempDir) -> Running {
    let data = dir.path().join("data");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&data.join("livegate.db"))
            .await
            .expect("open store"),
    );
    store.migrate().await.expect("migrate");
    let master = MasterKey::load_or_create_file(&data.join("master.key")).expect("master key");
    let signer = ResultSigner::start(Arc::clone(&store), master.clone(), policy())
        .await
        .expect("signer");
    let state = AppState::new(Arc::clone(&store), HttpLimits::default());
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let data = (web::Data::new(master), web::Data::new(signer.clone()));
    let task = tokio::spawn(server::run_with(
        listener,
        state,
        move |cfg| {
            cfg.app_data(data.0.clone()).app_data(data.1.clone());
            livegate::open_api::configure(cfg);
        },
        async move {
            let _ = stopped.await;
        },
    ));
    Running {
        addr,
        store,
        signer,
        stop: Some(stop),
        task,
        dir,
    }
}

/// A request an integrator signs: what is signed may differ from what is sent, to tamper.
struct Signed<'a> {
    app_id: &'a str,
    secret: &'a str,
    path: &'a str,
    query: &'a str,
    body: &'a [u8],
    timestamp: i64,
    nonce: String,
}

impl<'a> Signed<'a> {
    fn new(app: &'a Created) -> Self {
        Self {
            app_id: &app.app_id,
            secret: &app.secret,
            path: "/open/v1/ping",
            query: "",
            body: b"",
            timestamp: Utc::now().timestamp(),
            nonce: format!("n{}", uuid::Uuid::new_v4().simple()),
        }
    }

    fn signature(&self) -> String {
        let canonical = canonical_request(
            "GET",
            self.path,
            self.query,
            &self.timestamp.to_string(),
            &self.nonce,
            self.body,
        );
        sign(self.secret.as_bytes(), &canonical)
    }

    /// Sends it as signed, or with `sent_query` / `sent_body` instead.
    async fn send_as(&self, server: &Running, sent_query: &str, sent_body: &[u8]) -> (u16, Value) {
        let url = if sent_query.is_empty() {
            server.url(self.path)
        } else {
            server.url(&format!("{}?{sent_query}", self.path))
        };
        let response = reqwest::Client::new()
            .get(url)
            .header("X-LG-AppId", self.app_id)
            .header("X-LG-Timestamp", self.timestamp.to_string())
            .header("X-LG-Nonce", &self.nonce)
            .header("X-LG-Signature", self.signature())
            .body(sent_body.to_vec())
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json body"))
    }

    async fn send(&self, server: &Running) -> (u16, Value) {
        self.send_as(server, self.query, self.body).await
    }
}

fn assert_refused(answer: (u16, Value), code: ErrorCode) {
    assert_eq!(answer.0, 401, "{}", answer.1);
    assert_eq!(answer.1["code"], code.as_str(), "{}", answer.1);
    assert!(answer.1["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(answer.1["message_en"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

async fn started_with_an_app() -> (Running, Created) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = create_app(dir.path(), "integration test");
    (serve(dir).await, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_ping_answers_the_app_and_its_tenant() {
    let (server, app) = started_with_an_app().await;
    let (status, body) = Signed::new(&app).send(&server).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "app_id": app.app_id, "tenant": "default" }));

    // A query and a body are signed too; the order of the query's pairs does not matter.
    let signed = Signed {
        query: "b=2&a=%E4%B8%AD+x",
        body: b"{\"k\":1}",
        ..Signed::new(&app)
    };
    let (status, body) = signed
        .send_as(&server, "a=%e4%b8%ad%20x&b=2", signed.body)
        .await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timestamp_six_minutes_off_is_expired_either_way() {
    let (server, app) = started_with_an_app().await;
    for offset in [-360, 360] {
        let signed = Signed {
            timestamp: Utc::now().timestamp() + offset,
            ..Signed::new(&app)
        };
        assert_refused(signed.send(&server).await, ErrorCode::TimestampExpired);
    }
    // Four minutes off is within the window.
    let signed = Signed {
        timestamp: Utc::now().timestamp() - 240,
        ..Signed::new(&app)
    };
    assert_eq!(signed.send(&server).await.0, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_works_once() {
    let (server, app) = started_with_an_app().await;
    let signed = Signed::new(&app);
    assert_eq!(signed.send(&server).await.0, 200);
    assert_refused(signed.send(&server).await, ErrorCode::NonceReused);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_change_to_the_request_breaks_the_signature_and_burns_no_nonce() {
    let (server, app) = started_with_an_app().await;
    let signed = Signed {
        query: "scene=default",
        body: b"hello",
        ..Signed::new(&app)
    };
    assert_refused(
        signed.send_as(&server, "scene=defaulu", b"hello").await,
        ErrorCode::SignatureInvalid,
    );
    assert_refused(
        signed.send_as(&server, "scene=default", b"hellp").await,
        ErrorCode::SignatureInvalid,
    );
    assert_refused(
        signed.send_as(&server, "scene=default&x=1", b"hello").await,
        ErrorCode::SignatureInvalid,
    );
    let wrong_secret = Created {
        secret: "not-the-secret".into(),
        ..app.clone()
    };
    let forged = Signed {
        nonce: signed.nonce.clone(),
        ..Signed::new(&wrong_secret)
    };
    assert_refused(forged.send(&server).await, ErrorCode::SignatureInvalid);
    // None of the refused requests used the nonce: the genuine one still passes.
    assert_eq!(signed.send(&server).await.0, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_disabled_apps_and_missing_headers_are_refused() {
    let (server, app) = started_with_an_app().await;
    let unknown = Created {
        app_id: AppId::generate().to_string(),
        ..app.clone()
    };
    assert_refused(
        Signed::new(&unknown).send(&server).await,
        ErrorCode::AppUnknown,
    );
    let junk = Created {
        app_id: "'; drop table apps; --".into(),
        ..app.clone()
    };
    assert_refused(
        Signed::new(&junk).send(&server).await,
        ErrorCode::AppUnknown,
    );

    let id = AppId::parse(&app.app_id).expect("app id");
    server
        .store
        .set_app_status(TenantId::DEFAULT, &id, AppStatus::Disabled)
        .await
        .expect("disable");
    assert_refused(Signed::new(&app).send(&server).await, ErrorCode::AppUnknown);
    server
        .store
        .set_app_status(TenantId::DEFAULT, &id, AppStatus::Active)
        .await
        .expect("enable");
    assert_eq!(Signed::new(&app).send(&server).await.0, 200);

    let response = reqwest::Client::new()
        .get(server.url("/open/v1/ping"))
        .header("X-LG-AppId", &app.app_id)
        .header("X-LG-Timestamp", Utc::now().timestamp().to_string())
        .header("X-LG-Nonce", "0123456789abcdef")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["code"], "UNAUTHORIZED");
    assert_eq!(body["detail"]["header"], "X-LG-Signature");

    let short_nonce = Signed {
        nonce: "short".into(),
        ..Signed::new(&app)
    };
    let (status, body) = short_nonce.send(&server).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHORIZED")));
    assert_eq!(body["detail"]["header"], "X-LG-Nonce");
    server.stop().await;
}

#[test]
fn apps_create_for_an_unknown_tenant_fails_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = livegate_apps(dir.path(), &["create", "--name", "x", "--tenant", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "livegate: no tenant with code \"nope\""
    );
}

#[test]
fn a_configured_master_key_is_used_and_a_bad_one_is_refused_without_echo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |key: &str| {
        Command::new(env!("CARGO_BIN_EXE_livegate"))
            .args(["apps", "create", "--name", "x"])
            .current_dir(dir.path())
            .env("LIVEGATE_DATA_DIR", dir.path().join("data"))
            .env("LIVEGATE_SECRETS__MASTER_KEY", key)
            .output()
            .expect("run livegate")
    };
    let bad = run("c2VjcmV0LXRvby1zaG9ydA==");
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr).trim_end(),
        "livegate: invalid configuration: secrets.master_key: must be base64 of 32 bytes"
    );
    let good = run("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    assert!(good.status.success(), "{good:?}");
    assert!(
        !dir.path().join("data/master.key").exists(),
        "no key file when the key is configured"
    );
}

#[test]
fn apps_list_shows_the_apps_without_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = create_app(dir.path(), "first");
    let second = create_app(dir.path(), "second");
    let out = livegate_apps(dir.path(), &["list"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let listed: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let ids: Vec<&str> = listed.iter().filter_map(|a| a["app_id"].as_str()).collect();
    assert_eq!(ids, [first.app_id.as_str(), second.app_id.as_str()]);
    assert_eq!(listed[0]["status"], "active");
    assert!(!stdout.contains(&first.secret) && !stdout.contains(&second.secret));
}

/// The served JWKS, checking its cache header.
async fn fetch_jwks(server: &Running) -> JwkSet {
    let response = reqwest::get(server.url("/.well-known/jwks.json"))
        .await
        .expect("jwks");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("public, max-age=300")
    );
    response.json().await.expect("a JWK set")
}

/// Verifies `token` as an integrator would: its kid's key from the JWKS, ES256 only.
fn verify_offline(token: &str, jwks: &JwkSet) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks
        .find(&kid)
        .ok_or(format!("kid {kid} not in the JWKS"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_required_spec_claims(&["exp"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

fn claims(n: u32) -> Value {
    json!({
        "session_id": format!("s-{n}"),
        "verdict": "pass",
        "exp": Utc::now().timestamp() + 3600,
    })
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("header")
        .kid
        .expect("kid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_verify_offline_and_keys_rotate_with_overlap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(dir).await;
    let signer = server.signer.clone();

    let first = signer.sign(&claims(1)).expect("sign");
    let first_kid = kid_of(&first);
    let jwks = fetch_jwks(&server).await;
    assert_eq!(jwks.keys.len(), 1);
    assert_eq!(
        verify_offline(&first, &jwks).expect("verifies")["session_id"],
        "s-1"
    );
    // One changed byte of the payload and it does not verify.
    let mut parts: Vec<String> = first.split('.').map(str::to_owned).collect();
    let swap = if parts[1].starts_with('e') { "f" } else { "e" };
    parts[1].replace_range(0..1, swap);
    assert!(verify_offline(&parts.join("."), &jwks).is_err());

    // Not due yet: nothing changes.
    assert!(!signer
        .rotate_if_due(Utc::now() + chrono::Duration::days(29))
        .await
        .expect("check"));
    assert_eq!(signer.current_kid(), first_kid);

    // Past rotate_after: a new key signs, the old one is still published.
    let rotated_at: DateTime<Utc> = Utc::now() + chrono::Duration::days(31);
    assert!(signer.rotate_if_due(rotated_at).await.expect("rotate"));
    let second = signer.sign(&claims(2)).expect("sign");
    let second_kid = kid_of(&second);
    assert_ne!(second_kid, first_kid);
    let jwks = fetch_jwks(&server).await;
    let kids: Vec<_> = jwks
        .keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect();
    assert_eq!(kids, [second_kid.clone(), first_kid.clone()]);
    assert!(
        verify_offline(&first, &jwks).is_ok(),
        "old results verify during the overlap"
    );
    assert!(verify_offline(&second, &jwks).is_ok());

    // Another node on the same store agrees on the current key and the JWKS.
    let other = ResultSigner::start(
        Arc::clone(&server.store),
        MasterKey::load_or_create_file(&server.dir.path().join("data/master.key")).expect("master"),
        policy(),
    )
    .await
    .expect("second node");
    other.rotate_if_due(rotated_at).await.expect("check");
    assert_eq!(other.current_kid(), second_kid);
    assert_eq!(other.jwks(), signer.jwks());

    // After the overlap the old key is gone; the current one stays.
    let after_overlap = rotated_at + chrono::Duration::days(8);
    assert!(!signer.rotate_if_due(after_overlap).await.expect("check"));
    let jwks = fetch_jwks(&server).await;
    assert_eq!(jwks.keys.len(), 1);
    assert!(verify_offline(&first, &jwks).is_err());
    assert!(verify_offline(&second, &jwks).is_ok());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_rotating_at_once_leave_one_current_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("db"))
            .await
            .expect("open"),
    );
    store.migrate().await.expect("migrate");
    let master = MasterKey::from_bytes(&[3; 32]);
    let (a, b) = tokio::join!(
        ResultSigner::start(Arc::clone(&store), master.clone(), policy()),
        ResultSigner::start(Arc::clone(&store), master.clone(), policy()),
    );
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_eq!(a.current_kid(), b.current_kid());
    let later = Utc::now() + chrono::Duration::days(31);
    let (ra, rb) = tokio::join!(a.rotate_if_due(later), b.rotate_if_due(later));
    ra.expect("a rotates");
    rb.expect("b rotates");
    assert_eq!(a.current_kid(), b.current_kid());
    let keys = store
        .signing_keys(later - chrono::Duration::days(7))
        .await
        .expect("keys");
    assert_eq!(keys.len(), 2, "one rotation, not two");
    assert_eq!(keys.iter().filter(|k| k.retired_at.is_none()).count(), 1);
}

#[test]
fn every_error_code_is_documented_in_the_open_api_doc() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/open-api.md"))
            .expect("docs/open-api.md");
    for code in ErrorCode::ALL {
        assert!(
            doc.contains(&format!("`{}`", code.as_str())),
            "{code} missing from docs/open-api.md"
        );
    }
}
