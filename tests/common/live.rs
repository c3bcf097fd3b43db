//! A real `livegate serve` on a fresh folder, with an API app, as an integrator and a page see
//! it: signed Open API calls, the challenge, and a page's WebSocket with sealed frames.
//!
//! Requests are signed here with the documented formula written out again (hmac + sha2), not with
//! the server's own code, so a mistake in one is not hidden by the same mistake in the other.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use livegate::h5::seal::{FrameHeader, FrameSealer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use super::models_dir;

/// A running server and the folder it lives in.
pub struct LiveServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The API app's id.
    pub app_id: String,
    /// The API app's secret.
    pub secret: String,
    dir: tempfile::TempDir,
    envs: Vec<(String, String)>,
    child: Child,
}

/// A session as created through the Open API.
#[derive(Debug, Clone)]
pub struct CreatedSession {
    /// Its id.
    pub id: Uuid,
    /// The link's token.
    pub token: String,
    /// The whole answer.
    pub body: Value,
}

impl LiveServer {
    /// Starts a server with these extra environment variables, an app, and `scenes` (code,
    /// rules) set through the CLI before it starts.
    pub async fn start(envs: &[(&str, &str)], scenes: &[(&str, Value)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut all: Vec<(String, String)> = vec![
            (
                "LIVEGATE_DATA_DIR".into(),
                dir.path().join("data").display().to_string(),
            ),
            (
                "LIVEGATE_MODELS_DIR".into(),
                models_dir().display().to_string(),
            ),
            ("LIVEGATE_LOG__LEVEL".into(), "warn".into()),
            ("LIVEGATE_SERVER__SHUTDOWN_TIMEOUT_SECS".into(), "2".into()),
            (
                "LIVEGATE_SERVER__PUBLIC_URL".into(),
                format!("http://127.0.0.1:{port}"),
            ),
        ];
        all.extend(envs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let run = |args: &[&str]| -> Output {
            Command::new(env!("CARGO_BIN_EXE_livegate"))
                .args(args)
                .current_dir(dir.path())
                .envs(all.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .output()
                .expect("run livegate")
        };
        let created = run(&["apps", "create", "--name", "test app"]);
        assert!(created.status.success(), "apps create: {created:?}");
        let app: Value = serde_json::from_slice(&created.stdout).expect("apps create prints JSON");
        for (code, rules) in scenes {
            let file = dir.path().join(format!("{code}.json"));
            std::fs::write(&file, rules.to_string()).expect("write scene file");
            let out = run(&["scenes", "set", code, "--file", &file.display().to_string()]);
            assert!(out.status.success(), "scenes set {code}: {out:?}");
        }
        let child = Command::new(env!("CARGO_BIN_EXE_livegate"))
            .args(["serve", "--port", &port.to_string()])
            .current_dir(dir.path())
            .envs(all.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start livegate serve");
        let server = Self {
            base: format!("http://127.0.0.1:{port}"),
            app_id: app["app_id"].as_str().expect("app_id").to_owned(),
            secret: app["secret"].as_str().expect("secret").to_owned(),
            dir,
            envs: all,
            child,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
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

    /// The server's data folder.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs another `livegate` command on the same folder and configuration.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_livegate"))
            .args(args)
            .current_dir(self.dir.path())
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run livegate")
    }

    /// A signed Open API call; returns the status and the JSON body.
    pub async fn open_api(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.open_api_at(method, path, body, unix_now(), &new_nonce())
            .await
    }

    /// A signed call with a chosen timestamp and nonce.
    pub async fn open_api_at(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        timestamp: u64,
        nonce: &str,
    ) -> (u16, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let canonical = format!(
            "{method}\n{path}\n\n{timestamp}\n{nonce}\n{}",
            hex::encode(Sha256::digest(&bytes))
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.as_bytes()).expect("hmac key");
        mac.update(canonical.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        let client = reqwest::Client::new();
        let mut request = client
            .request(
                method.parse().expect("method"),
                format!("{}{path}", self.base),
            )
            .header("X-LG-AppId", &self.app_id)
            .header("X-LG-Timestamp", timestamp.to_string())
            .header("X-LG-Nonce", nonce)
            .header("X-LG-Signature", signature);
        if body.is_some() {
            request = request
                .header("Content-Type", "application/json")
                .body(bytes);
        }
        let response = request.send().await.expect("open api call");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Creates a session of `scene`; panics unless 201.
    pub async fn create_session(&self, scene: &str, extra: Value) -> CreatedSession {
        let mut body =
            json!({ "scene": scene, "biz_id": format!("biz-{}", Uuid::now_v7().simple()) });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let (status, answer) = self
            .open_api("POST", "/open/v1/sessions", Some(&body))
            .await;
        assert_eq!(status, 201, "create session: {answer}");
        let url = answer["h5_url"].as_str().expect("h5_url");
        let query = url.split_once('?').expect("h5_url has a query").1;
        let mut id = None;
        let mut token = None;
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("sid", v)) => id = v.parse().ok(),
                Some(("t", v)) => token = Some(v.to_owned()),
                _ => {}
            }
        }
        CreatedSession {
            id: id.expect("sid in h5_url"),
            token: token.expect("t in h5_url"),
            body: answer,
        }
    }

    /// The page's challenge request.
    pub async fn challenge(&self, session: &CreatedSession) -> (u16, Value) {
        let response = reqwest::Client::new()
            .get(format!(
                "{}/h5/v1/sessions/{}/challenge",
                self.base, session.id
            ))
            .bearer_auth(&session.token)
            .send()
            .await
            .expect("challenge");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The result as the integrator reads it.
    pub async fn result(&self, id: Uuid) -> Value {
        let (status, body) = self
            .open_api("GET", &format!("/open/v1/sessions/{id}/result"), None)
            .await;
        assert_eq!(status, 200, "result: {body}");
        body
    }

    /// Waits for the result to leave `pending`.
    pub async fn final_result(&self, id: Uuid, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let result = self.result(id).await;
            if result["status"] != "pending" {
                return result;
            }
            assert!(Instant::now() < deadline, "still pending after {limit:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The JWKS the server publishes.
    pub async fn jwks(&self) -> Value {
        reqwest::get(format!("{}/.well-known/jwks.json", self.base))
            .await
            .expect("jwks")
            .json()
            .await
            .expect("jwks json")
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Unix milliseconds now.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A fresh nonce.
pub fn new_nonce() -> String {
    Uuid::new_v4().simple().to_string()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How a socket ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The close code.
    pub code: u16,
    /// The reason word.
    pub reason: String,
}

/// A page's WebSocket.
pub struct Page {
    socket: Socket,
    /// Seals frames with the session's keys.
    pub sealer: FrameSealer,
    /// Server messages received so far.
    pub messages: Vec<Value>,
    secret: [u8; 32],
}

impl Page {
    /// Connects with a fresh client key.
    pub async fn connect(server: &LiveServer, session: &CreatedSession) -> Self {
        Self::connect_with_key(server, session, rand_key()).await
    }

    /// Connects with a given client key (a resume uses the same one).
    pub async fn connect_with_key(
        server: &LiveServer,
        session: &CreatedSession,
        secret: [u8; 32],
    ) -> Self {
        let (_, challenge) = server.challenge(session).await;
        let server_key = challenge["server_key"].as_str().expect("server_key");
        let sealer = FrameSealer::new(session.id, secret, server_key).expect("sealer");
        let url = format!(
            "{}/h5/v1/sessions/{}/ws?t={}",
            server.base.replacen("http", "ws", 1),
            session.id,
            session.token
        );
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("ws connect");
        Self {
            socket,
            sealer,
            messages: Vec::new(),
            secret,
        }
    }

    /// The client secret (to resume with the same key).
    pub fn secret(&self) -> [u8; 32] {
        self.secret
    }

    /// Sends a text message as is.
    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::text(text.to_owned()))
            .await
            .expect("send text");
    }

    /// Sends raw bytes as a binary message.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        let _ = self.socket.send(Message::binary(bytes)).await;
    }

    /// Says hello from a phone's front camera; returns the `ready` message.
    pub async fn hello(&mut self, resume: bool) -> Value {
        self.hello_from(resume, "camera2 1, facing front").await
    }

    /// Says hello naming the camera the page reports (`camera_label`); returns `ready`.
    pub async fn hello_from(&mut self, resume: bool, camera_label: &str) -> Value {
        let hello = json!({
            "type": "hello",
            "suite": "X25519-CHACHA20POLY1305-SHA256",
            "client_key": self.sealer.public_b64(),
            "resume": resume,
            "client": {
                "user_agent": "livegate-tests",
                "camera_label": camera_label,
                "track": {"width": 480, "height": 640, "frame_rate": 15}
            }
        });
        self.send_text(&hello.to_string()).await;
        let ready = self.next().await.expect("ready");
        assert_eq!(ready["type"], "ready", "{ready}");
        ready
    }

    /// Seals and sends one frame.
    pub async fn send_frame(&mut self, seq: u64, capture_ms: u64, jpeg: &[u8]) {
        let sealed = self.sealer.seal(
            FrameHeader {
                seq,
                capture_ms,
                flash: 0,
            },
            jpeg,
        );
        self.send_binary(sealed).await;
    }

    /// The next server message, or `None` when the socket closed (see [`Page::closed`]).
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(20), self.socket.next())
                .await
                .expect("a server message within 20 s")?;
            match message {
                Ok(Message::Text(text)) => {
                    let value: Value = serde_json::from_str(&text).expect("server JSON");
                    self.messages.push(value.clone());
                    return Some(value);
                }
                Ok(Message::Close(frame)) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    self.messages
                        .push(json!({ "type": "__closed", "code": code, "reason": reason }));
                    return None;
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Reads until the socket closes; returns how.
    pub async fn closed(&mut self) -> Closed {
        while self.next().await.is_some() {}
        let last = self.messages.last().cloned().unwrap_or(Value::Null);
        Closed {
            code: last["code"].as_u64().unwrap_or(1006) as u16,
            reason: last["reason"].as_str().unwrap_or("").to_owned(),
        }
    }

    /// Messages of a type received so far.
    pub fn of_type(&self, kind: &str) -> Vec<Value> {
        self.messages
            .iter()
            .filter(|m| m["type"] == kind)
            .cloned()
            .collect()
    }
}

/// A random 32-byte client secret.
pub fn rand_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    key
}

/// The frames of a video as JPEGs (ffmpeg), `fps` a second, scaled to `width` wide.
pub fn video_jpegs(video: &Path, fps: u32, width: u32, max_seconds: u32) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-t", &max_seconds.to_string(), "-i"])
        .arg(video)
        .args(["-vf", &format!("fps={fps},scale={width}:-2"), "-q:v", "4"])
        .arg(dir.path().join("%05d.jpg"))
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg extracted frames");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .expect("frames")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).expect("frame"))
        .collect()
}
