//! The console's records and statistics API on a real `livegate serve`, embedded and PostgreSQL:
//! records seeded through the store (times in the past set beside it), administrators made with
//! `livegate admin create`, every call over HTTP with the login cookie.

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use livegate::evidence::{EvidenceStore, LocalEvidence};
use livegate::store::postgres::PgStore;
use livegate::store::sqlite::SqliteStore;
use livegate::store::{
    NewRecord, NewScene, NewTenant, Record, RecordOutcome, RecordStatus, Scene, Store, TenantId,
    Verdict,
};
use serde_json::{json, Value};
use uuid::Uuid;

const PASSWORD: &str = "correct-horse-battery";

/// A server on a fresh folder (and, for PostgreSQL, a fresh schema), with the store beside it.
struct Console {
    base: String,
    store: Arc<dyn Store>,
    dir: tempfile::TempDir,
    envs: Vec<(String, String)>,
    child: Option<Child>,
    pg: Option<(tokio_postgres::Client, String)>,
    http: reqwest::Client,
}

impl Console {
    async fn new(postgres: bool) -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let data = dir.path().join("data");
        let mut envs: Vec<(String, String)> = vec![
            ("LIVEGATE_DATA_DIR".into(), data.display().to_string()),
            (
                "LIVEGATE_MODELS_DIR".into(),
                common::models_dir().display().to_string(),
            ),
            ("LIVEGATE_LOG__LEVEL".into(), "warn".into()),
            ("LIVEGATE_SERVER__SHUTDOWN_TIMEOUT_SECS".into(), "2".into()),
            (
                "LIVEGATE_SERVER__PUBLIC_URL".into(),
                format!("http://127.0.0.1:{port}"),
            ),
        ];
        let (store, pg): (Arc<dyn Store>, _) = if postgres {
            let Ok(url) = std::env::var("LIVEGATE_TEST_PG_URL") else {
                eprintln!("skipped: LIVEGATE_TEST_PG_URL not set");
                return None;
            };
            let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .expect("LIVEGATE_TEST_PG_URL is set but unreachable");
            tokio::spawn(connection);
            let schema = format!("lg_test_{}", Uuid::new_v4().simple());
            admin
                .batch_execute(&format!("CREATE SCHEMA {schema}"))
                .await
                .expect("create schema");
            let mut scoped = url::Url::parse(&url).expect("url");
            scoped
                .query_pairs_mut()
                .append_pair("options", &format!("-csearch_path={schema}"));
            envs.push(("LIVEGATE_STORE__BACKEND".into(), "postgres".into()));
            envs.push(("LIVEGATE_STORE__URL".into(), scoped.to_string()));
            let mut config: tokio_postgres::Config = url.parse().expect("pg url");
            config.options(format!("-csearch_path={schema}"));
            let store = PgStore::connect(config, 2, Duration::from_secs(5)).expect("pool");
            (Arc::new(store), Some((admin, schema)))
        } else {
            let store = SqliteStore::open(&data.join("livegate.db"))
                .await
                .expect("sqlite");
            (Arc::new(store), None)
        };
        store.migrate().await.expect("migrate");
        Some(Self {
            base: format!("http://127.0.0.1:{port}"),
            store,
            dir,
            envs,
            child: None,
            pg,
            http: reqwest::Client::new(),
        })
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_livegate"))
            .args(args)
            .current_dir(self.dir.path())
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run livegate")
    }

    fn create_admin(&self, username: &str, tenant: &str, role: &str) {
        let out = self.cli(&[
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

    async fn serve(&mut self) {
        let port = self.base.rsplit(':').next().expect("port").to_owned();
        let child = Command::new(env!("CARGO_BIN_EXE_livegate"))
            .args(["serve", "--port", &port])
            .current_dir(self.dir.path())
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start livegate serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/readyz", self.base)).await {
                if r.status().as_u16() == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "serve never became ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Logs in; returns the cookie header value.
    async fn login(&self, username: &str) -> String {
        let response = self
            .http
            .post(format!("{}/admin/api/v1/auth/login", self.base))
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
            .expect("session cookie")
            .split(';')
            .next()
            .expect("cookie pair")
            .to_owned();
        cookie
    }

    async fn get_raw(&self, cookie: Option<&str>, path: &str) -> reqwest::Response {
        let mut request = self.http.get(format!("{}/admin/api/v1{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.expect("request")
    }

    async fn get(&self, cookie: Option<&str>, path: &str) -> (u16, Value) {
        let response = self.get_raw(cookie, path).await;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some((admin, schema)) = self.pg.take() {
            admin
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await
                .expect("drop schema");
        }
    }

    /// Sets a record's times beside the store.
    async fn set_times(
        &self,
        record: &Record,
        created: DateTime<Utc>,
        finished: Option<DateTime<Utc>>,
    ) {
        let text = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        let sql = format!(
            "UPDATE records SET created_at = '{}', finished_at = {} WHERE id = '{}'",
            text(created),
            finished.map_or("NULL".into(), |f| format!("'{}'", text(f))),
            record.id
        );
        match &self.pg {
            Some((admin, schema)) => admin
                .batch_execute(&format!("SET search_path TO {schema}; {sql}"))
                .await
                .expect("update pg"),
            None => {
                let conn = rusqlite::Connection::open(self.data_dir().join("livegate.db"))
                    .expect("open sqlite");
                conn.execute_batch(&sql).expect("update sqlite");
            }
        }
    }
}

fn field(body: &Value) -> Option<&str> {
    body["detail"]["field"].as_str()
}

struct Seeded {
    bank_a: TenantId,
    bank_b: TenantId,
    a_records: Vec<Record>,
    b_record: Record,
    injected: Record,
    from: DateTime<Utc>,
}

async fn scene(store: &dyn Store, tenant: TenantId, code: &str) -> Scene {
    store
        .create_scene(
            tenant,
            &NewScene {
                code: code.into(),
                name: code.into(),
                config: json!({}),
            },
        )
        .await
        .expect("scene")
}

/// Bank A: 6 records over the last 3 hours and the current one; bank B: 1.
async fn seed(console: &Console) -> Seeded {
    let store = console.store.as_ref();
    let bank = |code: &str| NewTenant {
        code: code.into(),
        name: format!("{code} 银行"),
        parent_id: Some(TenantId::DEFAULT),
    };
    let bank_a = store.create_tenant(&bank("bank-a")).await.expect("a").id;
    let bank_b = store.create_tenant(&bank("bank-b")).await.expect("b").id;
    let open = scene(store, bank_a, "open-account").await;
    let reset = scene(store, bank_a, "reset-password").await;
    let other = scene(store, bank_b, "open-account").await;
    let current = Utc::now()
        .duration_trunc(TimeDelta::hours(1))
        .expect("hour");
    let h = |n: i64| current - TimeDelta::hours(n);
    type Plan<'a> = (
        &'a Scene,
        &'a str,
        Option<&'a str>,
        DateTime<Utc>,
        Option<(Verdict, &'a [&'a str], i64)>,
    );
    let plan: Vec<Plan> = vec![
        (
            &open,
            "biz-1",
            Some("app-1"),
            h(3) + TimeDelta::minutes(1),
            Some((Verdict::Pass, &[], 2_000)),
        ),
        (
            &open,
            "biz-2",
            Some("app-2"),
            h(3) + TimeDelta::minutes(2),
            Some((Verdict::Fail, &["face_mismatch"], 6_000)),
        ),
        (
            &reset,
            "biz-3",
            Some("app-1"),
            h(2) + TimeDelta::minutes(3),
            Some((Verdict::Fail, &["timeout", "no_face"], 12_000)),
        ),
        (
            &reset,
            "=HYPERLINK(\"http://x\")",
            Some("app-1"),
            h(1) + TimeDelta::minutes(4),
            Some((Verdict::Inconclusive, &[], 3_000)),
        ),
        (&open, "+biz-5", None, h(1) + TimeDelta::minutes(5), None),
        (
            &open,
            "biz-6",
            Some("app-1"),
            current,
            Some((Verdict::Pass, &[], 2_500)),
        ),
    ];
    let mut a_records = Vec::new();
    for (scene, biz, app, created, outcome) in plan {
        let record = insert(console, bank_a, scene, biz, app, created, outcome).await;
        a_records.push(record);
    }
    let b_record = insert(
        console,
        bank_b,
        &other,
        "biz-1",
        Some("app-9"),
        h(2),
        Some((Verdict::Fail, &["face_changed"], 4_000)),
    )
    .await;
    let injected = a_records[3].clone();
    Seeded {
        bank_a,
        bank_b,
        a_records,
        b_record,
        injected,
        from: h(3),
    }
}

async fn insert(
    console: &Console,
    tenant: TenantId,
    scene: &Scene,
    biz: &str,
    app: Option<&str>,
    created: DateTime<Utc>,
    outcome: Option<(Verdict, &[&str], i64)>,
) -> Record {
    let store = console.store.as_ref();
    let record = store
        .insert_record(
            tenant,
            &NewRecord {
                scene_id: scene.id,
                scene_version: scene.version,
                session_id: Uuid::now_v7(),
                biz_id: biz.into(),
                app_id: app.map(str::to_owned),
                status: RecordStatus::Pending,
                client: json!({ "ua": "Mozilla/5.0 MicroMessenger" }),
            },
        )
        .await
        .expect("insert");
    let mut finished = None;
    if let Some((verdict, reasons, ms)) = outcome {
        store
            .finish_record(
                tenant,
                record.id,
                &RecordOutcome {
                    status: RecordStatus::Finished,
                    verdict: Some(verdict),
                    reasons: json!(reasons),
                    scores: json!({ "action": 1.0 }),
                },
            )
            .await
            .expect("finish");
        finished = Some(created + TimeDelta::milliseconds(ms));
    }
    console.set_times(&record, created, finished).await;
    store
        .record(tenant, record.id)
        .await
        .expect("record as stored")
}

fn ids(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

fn q(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        .replace('+', "%2B")
}

async fn records_and_stats(postgres: bool) {
    let Some(mut console) = Console::new(postgres).await else {
        return;
    };
    let seeded = seed(&console).await;
    let jpeg = {
        let image = image::RgbImage::from_pixel(8, 8, image::Rgb([200, 150, 120]));
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut bytes)
            .encode_image(&image)
            .expect("jpeg");
        bytes
    };
    let evidence = LocalEvidence::new(console.data_dir().join("evidence"));
    let first = &seeded.a_records[0];
    evidence
        .put(seeded.bank_a, first.id, "best.jpg", jpeg.clone())
        .await
        .expect("evidence");
    console.create_admin("root-admin", "default", "sys_admin");
    console.create_admin("auditor-a", "bank-a", "auditor");
    console.create_admin("admin-b", "bank-b", "tenant_admin");
    console.serve().await;

    // 401 without a session.
    assert_eq!(console.get(None, "/records").await.0, 401);
    assert_eq!(console.get(None, "/stats/summary").await.0, 401);

    let root = console.login("root-admin").await;
    let auditor = console.login("auditor-a").await;
    let admin_b = console.login("admin-b").await;
    let a = seeded.bank_a;
    let window = format!(
        "from={}&to={}",
        q(seeded.from),
        q(Utc::now() + TimeDelta::minutes(1))
    );
    let list = |cookie: &str, query: String| {
        let cookie = cookie.to_owned();
        let console = &console;
        async move {
            console
                .get(Some(&cookie), &format!("/records?{query}"))
                .await
        }
    };

    // The root admin's default is their own tenant (no records); `tenant` narrows to bank A.
    let (status, body) = list(&root, window.clone()).await;
    assert_eq!((status, body["total"].as_u64()), (200, Some(0)), "{body}");
    let (status, body) = list(&root, format!("{window}&tenant={a}")).await;
    assert_eq!(status, 200, "{body}");
    let newest_first: Vec<String> = seeded
        .a_records
        .iter()
        .rev()
        .map(|r| r.id.to_string())
        .collect();
    assert_eq!(ids(&body), newest_first);
    assert_eq!(body["total"], 6);
    assert_eq!(body["total_exact"], true);
    assert_eq!(
        (body["offset"].as_u64(), body["limit"].as_u64()),
        (Some(0), Some(20))
    );
    let item = &body["items"][5];
    for key in [
        "id",
        "tenant_id",
        "scene_code",
        "scene_version",
        "session_id",
        "biz_id",
        "app_id",
        "status",
        "verdict",
        "reasons",
        "capture",
        "created_at",
        "finished_at",
        "duration_ms",
    ] {
        assert!(item.get(key).is_some(), "item has {key}: {item}");
    }
    assert_eq!(item["scene_code"], "open-account");
    assert_eq!(item["duration_ms"], 2_000);

    // Each filter.
    let r = &seeded.a_records;
    let only = |i: &[usize]| i.iter().map(|&i| r[i].id.to_string()).collect::<Vec<_>>();
    for (query, expected) in [
        ("scene=reset-password", only(&[3, 2])),
        ("app=app-2", only(&[1])),
        ("verdict=fail", only(&[2, 1])),
        ("verdict=inconclusive", only(&[3])),
        ("status=pending", only(&[4])),
        ("reason=no_face", only(&[2])),
        ("reason=face_mismatch", only(&[1])),
        ("biz_id=biz-3", only(&[2])),
        ("biz_id=biz", vec![]),
        ("scene=open-account&verdict=pass", only(&[5, 0])),
        ("limit=2&offset=1", only(&[4, 3])),
    ] {
        let (status, body) = list(&root, format!("{window}&tenant={a}&{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(ids(&body), expected, "{query}");
    }
    let (_, paged) = list(&root, format!("{window}&tenant={a}&limit=2")).await;
    assert_eq!(paged["total"], 6, "the total counts past the page");
    let narrow = format!(
        "from={}&to={}&tenant={a}",
        q(seeded.from + TimeDelta::hours(1)),
        q(seeded.from + TimeDelta::hours(2))
    );
    assert_eq!(ids(&list(&root, narrow).await.1), only(&[2]), "from/to");

    // Tenant isolation: bank A's auditor lists bank A, never bank B; B's record is 404.
    let (status, body) = list(&auditor, window.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), newest_first);
    let (status, _) = list(&auditor, format!("{window}&tenant={}", seeded.bank_b)).await;
    assert_eq!(status, 404, "another subtree's tenant");
    let (status, body) = list(&auditor, format!("{window}&biz_id=biz-1")).await;
    assert_eq!(
        (status, ids(&body)),
        (200, only(&[0])),
        "B's biz-1 is not listed"
    );
    let b_path = format!("/records/{}", seeded.b_record.id);
    assert_eq!(console.get(Some(&auditor), &b_path).await.0, 404);
    assert_eq!(
        console
            .get(Some(&admin_b), &format!("/records/{}", first.id))
            .await
            .0,
        404
    );
    assert_eq!(
        console
            .get(
                Some(&admin_b),
                &format!("/records/{}/evidence/best.jpg", first.id)
            )
            .await
            .0,
        404
    );
    assert_eq!(
        console.get(Some(&root), &b_path).await.0,
        200,
        "the union sees below it"
    );

    // Detail.
    let (status, detail) = console
        .get(Some(&auditor), &format!("/records/{}", first.id))
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["evidence"], json!(["best.jpg"]));
    assert_eq!(detail["scores"], json!({ "action": 1.0 }));
    assert_eq!(detail["client"]["ua"], "Mozilla/5.0 MicroMessenger");
    assert_eq!(detail["callbacks"], json!([]));
    assert_eq!(detail["timeline"][0]["step"], "created");
    assert_eq!(
        detail["timeline"]
            .as_array()
            .and_then(|t| t.last())
            .map(|s| s["step"].clone()),
        Some(json!("finished"))
    );
    assert_eq!(
        console.get(Some(&auditor), "/records/not-a-uuid").await.0,
        404
    );

    // Evidence: the auditor may read it; the image as stored, never cached.
    let response = console
        .get_raw(
            Some(&auditor),
            &format!("/records/{}/evidence/best.jpg", first.id),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.bytes().await.expect("bytes").to_vec(), jpeg);
    assert_eq!(
        console
            .get(
                Some(&auditor),
                &format!("/records/{}/evidence/other.jpg", first.id)
            )
            .await
            .0,
        404
    );
    let (status, body) = console
        .get(Some(&root), &format!("/audit?tenant={a}&limit=50"))
        .await;
    if status == 200 {
        let logged = body.to_string();
        assert!(
            logged.contains("evidence.read"),
            "evidence reads are audited: {logged}"
        );
    }

    // Bad input: 422 naming the field.
    for (query, name) in [
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("from=2026-11-25T08:00:00Z&to=2026-11-24T08:00:00Z", "from"),
        ("from=2025-01-01T00:00:00Z&to=2026-11-01T00:00:00Z", "from"),
        ("verdict=maybe", "verdict"),
        ("status=done", "status"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("tenant=bank-a", "tenant"),
        ("reason=Face%20Mismatch", "reason"),
    ] {
        let (status, body) = list(&root, query.into()).await;
        assert_eq!((status, field(&body)), (422, Some(name)), "{query}: {body}");
    }
    let (status, body) = console.get(Some(&root), "/stats/series?bucket=week").await;
    assert_eq!((status, field(&body)), (422, Some("bucket")));
    let (status, body) = console.get(Some(&root), "/stats/series?by=city").await;
    assert_eq!((status, field(&body)), (422, Some("by")));

    // Export: the auditor reads but may not export.
    let export = format!("/records/export?{window}&tenant={a}");
    assert_eq!(
        console
            .get(Some(&auditor), &format!("/records/export?{window}"))
            .await
            .0,
        403
    );
    let response = console
        .get_raw(Some(&root), &format!("{export}&format=csv"))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .expect("type")
        .starts_with("text/csv"));
    assert!(response.headers()["content-disposition"]
        .to_str()
        .expect("disposition")
        .contains(".csv"));
    let csv_text = response.text().await.expect("csv");
    let csv_text = csv_text.trim_start_matches('\u{feff}');
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[0], "id");
    assert_eq!(header.len(), 14);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 6);
    let biz = header
        .iter()
        .position(|h| h == "biz_id")
        .expect("biz_id column");
    let injected_row = rows
        .iter()
        .find(|row| row[0] == seeded.injected.id.to_string())
        .expect("injected row");
    assert_eq!(
        &injected_row[biz], "'=HYPERLINK(\"http://x\")",
        "formula quoted"
    );
    assert!(rows.iter().any(|row| &row[biz] == "'+biz-5"));
    assert!(
        rows.iter().any(|row| &row[biz] == "biz-1"),
        "plain text untouched"
    );
    let reasons = header
        .iter()
        .position(|h| h == "reasons")
        .expect("reasons column");
    assert!(rows.iter().any(|row| &row[reasons] == "timeout;no_face"));

    let response = console
        .get_raw(Some(&root), &format!("{export}&format=xlsx"))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let xlsx = response.bytes().await.expect("xlsx").to_vec();
    assert_eq!(&xlsx[..4], b"PK\x03\x04", "an xlsx is a zip");
    {
        use calamine::{Reader, Xlsx};
        let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(xlsx)).expect("opens as xlsx");
        let sheet = book.worksheet_range("records").expect("records sheet");
        assert_eq!(sheet.height(), 7, "header + 6 rows");
        assert_eq!(
            sheet.get_value((0, 0)).map(|c| c.to_string()),
            Some("id".into())
        );
    }
    let (status, body) = console
        .get(Some(&root), &format!("{export}&format=pdf"))
        .await;
    assert_eq!((status, field(&body)), (422, Some("format")));

    // Statistics: bank A's auditor, 3 past hours and the current one.
    let stats_window = format!("from={}&to={}", q(seeded.from), q(Utc::now()));
    let summary = |cookie: String, query: String| {
        let console = &console;
        async move {
            let (status, body) = console
                .get(Some(&cookie), &format!("/stats/summary?{query}"))
                .await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    let expected = json!({ "total": 6, "pass": 2, "fail": 2, "inconclusive": 1, "no_verdict": 1 });
    let pick = |body: &Value| {
        json!({
            "total": body["total"], "pass": body["pass"], "fail": body["fail"],
            "inconclusive": body["inconclusive"], "no_verdict": body["no_verdict"],
        })
    };
    let raw = summary(auditor.clone(), stats_window.clone()).await;
    assert_eq!(pick(&raw), expected, "{raw}");
    assert_eq!(raw["pass_rate"], 0.4);
    let report = console
        .store
        .rollup_stats(DateTime::UNIX_EPOCH, Utc::now())
        .await
        .expect("rollup");
    assert!(report.rolled_until.is_some());
    let rolled = summary(auditor.clone(), stats_window.clone()).await;
    assert_eq!(rolled, raw, "the same figures from the roll-ups");
    livegate::stats::rollup_recent(console.store.as_ref())
        .await
        .expect("again");
    assert_eq!(
        summary(auditor.clone(), stats_window.clone()).await,
        raw,
        "rerun: same figures"
    );
    let union = summary(root.clone(), stats_window.clone()).await;
    assert_eq!(union["total"], 7, "the union's subtree: both banks");
    let scene_only = summary(
        root.clone(),
        format!("{stats_window}&tenant={a}&scene=reset-password"),
    )
    .await;
    assert_eq!(scene_only["total"], 2);
    assert_eq!(
        summary(admin_b.clone(), stats_window.clone()).await["total"],
        1
    );

    let (status, series) = console
        .get(
            Some(&root),
            &format!("/stats/series?{stats_window}&bucket=hour&by=tenant"),
        )
        .await;
    assert_eq!(status, 200, "{series}");
    assert_eq!(series["buckets"].as_array().map(Vec::len), Some(4));
    let line = |key: &str| {
        series["series"]
            .as_array()
            .and_then(|lines| lines.iter().find(|l| l["key"] == key))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(line("bank-a")["total"], json!([2, 1, 2, 1]));
    assert_eq!(line("bank-b")["total"], json!([0, 1, 0, 0]));
    let (status, reasons) = console
        .get(Some(&auditor), &format!("/stats/reasons?{stats_window}"))
        .await;
    assert_eq!(status, 200, "{reasons}");
    let codes: Vec<(String, i64, String)> = reasons["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| {
            (
                r["reason"].as_str().unwrap_or_default().to_owned(),
                r["count"].as_i64().unwrap_or_default(),
                r["kind"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        codes.contains(&("face_mismatch".into(), 1, "attack".into())),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("timeout".into(), 1, "failure".into())),
        "{codes:?}"
    );
    assert!(
        !codes.iter().any(|c| c.0 == "face_changed"),
        "B's reason is not A's"
    );
    assert_eq!(
        console
            .get(
                Some(&auditor),
                "/stats/summary?tenant=00000000-0000-0000-0000-000000000001"
            )
            .await
            .0,
        404
    );
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_and_statistics_on_the_embedded_store() {
    records_and_stats(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_and_statistics_on_postgres() {
    records_and_stats(true).await;
}
