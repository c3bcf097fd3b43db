//! The admin API as the console calls it, on a real `livegate serve` over the embedded store or
//! PostgreSQL (`LIVEGATE_TEST_PG_URL`, a schema of its own per test, dropped after): a `root`
//! system administrator made by `livegate admin create`, logins, and calls carrying the session
//! cookie by hand (read from `Set-Cookie`, sent as `Cookie`, as a browser would) and the CSRF
//! header.

use serde_json::{json, Value};
use uuid::Uuid;

use super::live::LiveServer;

pub const ROOT: &str = "root";
pub const ROOT_PASSWORD: &str = "root-password-1";

#[derive(Clone, Copy)]
pub enum Backend {
    Embedded,
    Postgres,
}

/// A server with a `root` system administrator (made by the CLI), on one backend.
pub struct Console {
    pub server: LiveServer,
    /// The PostgreSQL URL and schema, dropped on drop.
    schema: Option<(String, String)>,
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Some((url, schema)) = self.schema.take() {
            // A thread of its own: the test's runtime may be the one panicking.
            let _ = std::thread::spawn(move || {
                let Ok(runtime) = tokio::runtime::Runtime::new() else {
                    return;
                };
                runtime.block_on(async move {
                    if let Ok((client, conn)) =
                        tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                    {
                        tokio::spawn(conn);
                        let _ = client
                            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

impl Console {
    /// `None` (skipped) for PostgreSQL when `LIVEGATE_TEST_PG_URL` is not set.
    pub async fn start(backend: Backend) -> Option<Self> {
        let mut envs: Vec<(String, String)> = Vec::new();
        let mut schema = None;
        if let Backend::Postgres = backend {
            let Ok(url) = std::env::var("LIVEGATE_TEST_PG_URL") else {
                eprintln!("skipped: LIVEGATE_TEST_PG_URL not set");
                return None;
            };
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|err| panic!("LIVEGATE_TEST_PG_URL is set but unreachable: {err}"));
            tokio::spawn(conn);
            let name = format!("lg_admin_{}", Uuid::new_v4().simple());
            client
                .batch_execute(&format!("CREATE SCHEMA {name}"))
                .await
                .expect("create schema");
            let mut with_path = url::Url::parse(&url).expect("LIVEGATE_TEST_PG_URL parses");
            with_path
                .query_pairs_mut()
                .append_pair("options", &format!("-csearch_path={name}"));
            envs.push(("LIVEGATE_STORE__BACKEND".into(), "postgres".into()));
            envs.push(("LIVEGATE_STORE__URL".into(), with_path.to_string()));
            schema = Some((url, name));
        }
        let borrowed: Vec<(&str, &str)> =
            envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let server = LiveServer::start(&borrowed, &[]).await;
        let console = Self { server, schema };
        let out = console.server.cli(&[
            "admin",
            "create",
            "--username",
            ROOT,
            "--password",
            ROOT_PASSWORD,
        ]);
        assert!(out.status.success(), "admin create: {out:?}");
        Some(console)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/admin/api/v1{path}", self.server.base)
    }

    /// `POST /auth/login`: the status, the body, and the session when it succeeded.
    pub async fn login(&self, username: &str, password: &str) -> (u16, Value, Option<Session>) {
        let response = reqwest::Client::new()
            .post(self.url("/auth/login"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .expect("login call");
        let status = response.status().as_u16();
        let set_cookie: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let session = (status == 200).then(|| {
            let header = set_cookie
                .iter()
                .find(|c| c.starts_with("livegate_admin="))
                .unwrap_or_else(|| panic!("no session cookie in {set_cookie:?}"))
                .clone();
            let pair = header.split(';').next().expect("cookie pair").to_owned();
            Session {
                cookie: pair,
                set_cookie: header,
                csrf: body["csrf_token"].as_str().expect("csrf_token").to_owned(),
            }
        });
        (status, body, session)
    }

    /// Logs in and panics unless it works.
    pub async fn session(&self, username: &str, password: &str) -> Session {
        let (status, body, session) = self.login(username, password).await;
        assert_eq!(status, 200, "login {username}: {body}");
        session.expect("session")
    }

    /// A call with the session's cookie and (for writes) its CSRF token.
    pub async fn call(
        &self,
        session: Option<&Session>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call_with(session, session.is_some(), method, path, body)
            .await
    }

    pub async fn call_with(
        &self,
        session: Option<&Session>,
        send_csrf: bool,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request =
            reqwest::Client::new().request(method.parse().expect("method"), self.url(path));
        if let Some(session) = session {
            request = request.header("Cookie", &session.cookie);
            if send_csrf {
                request = request.header("X-CSRF-Token", &session.csrf);
            }
        }
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

    /// Creates a user through the API as `by`; panics unless 201.
    pub async fn create_user(
        &self,
        by: &Session,
        username: &str,
        roles: &[&str],
        tenant: Option<&str>,
    ) -> Value {
        let mut body = json!({ "username": username, "password": format!("{username}-password"), "roles": roles });
        if let Some(tenant) = tenant {
            body["tenant"] = json!(tenant);
        }
        let (status, user) = self.call(Some(by), "POST", "/users", Some(body)).await;
        assert_eq!(status, 201, "create {username}: {user}");
        user
    }

    pub async fn create_tenant(&self, by: &Session, code: &str, parent: Option<&str>) -> String {
        let (status, tenant) = self
            .call(
                Some(by),
                "POST",
                "/tenants",
                Some(json!({ "code": code, "name": format!("{code} 银行"), "parent_id": parent })),
            )
            .await;
        assert_eq!(status, 201, "create tenant {code}: {tenant}");
        tenant["id"].as_str().expect("tenant id").to_owned()
    }

    /// A user with `roles` (in `tenant`, else `by`'s own) made by `by`, logged in; their password
    /// is `<username>-password`.
    pub async fn user(
        &self,
        by: &Session,
        username: &str,
        roles: &[&str],
        tenant: Option<&str>,
    ) -> (Value, Session) {
        let user = self.create_user(by, username, roles, tenant).await;
        let session = self
            .session(username, &format!("{username}-password"))
            .await;
        (user, session)
    }
}

/// A logged-in console session, as the browser holds it.
#[derive(Clone)]
pub struct Session {
    /// `livegate_admin=...`.
    pub cookie: String,
    /// The whole `Set-Cookie` header.
    pub set_cookie: String,
    /// The CSRF token the login answered with.
    pub csrf: String,
}

pub fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

/// One `#[tokio::test]` per function and backend (`embedded::NAME`, `postgres::NAME`), each
/// given a fresh [`Console`]; the PostgreSQL ones skip when `LIVEGATE_TEST_PG_URL` is not set.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(console) = $crate::common::admin::Console::start($crate::common::admin::Backend::Embedded).await {
                        super::$name(console).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(console) = $crate::common::admin::Console::start($crate::common::admin::Backend::Postgres).await {
                        super::$name(console).await;
                    }
                }
            )*
        }
    };
}
