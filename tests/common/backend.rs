//! A small business backend on 127.0.0.1, as an integrator runs one: it receives callbacks,
//! checks their signature with its own code from the documented formula (hmac and sha2
//! directly, not `livegate::signature`), and answers per a script.

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

/// Where callbacks go; the query is signed too: given unsorted, the backend sorts it.
pub const CALLBACK_PATH: &str = "/lg/callback?b=2&a=1";

/// What the business backend saw of one request.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its headers, names in lower case.
    pub headers: HashMap<String, String>,
    /// Its body.
    pub body: String,
    /// Whether the signature checked out.
    pub signature_ok: bool,
}

/// The business backend's script and log.
#[derive(Default)]
pub struct Script {
    /// The scene's callback secret the signatures are checked with.
    pub secret: String,
    /// Statuses to answer, in order; then 200.
    pub statuses: VecDeque<u16>,
    /// Answer 503 forever instead.
    pub never_ok: bool,
    /// What came in.
    pub received: Vec<Received>,
}

/// A business backend on 127.0.0.1.
pub struct Backend {
    /// Where it listens.
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    handle: ServerHandle,
    task: JoinHandle<std::io::Result<()>>,
}

impl Backend {
    /// Starts the backend on `listener`, answering per `script`.
    pub fn start(listener: TcpListener, script: Script) -> Self {
        let addr = listener.local_addr().expect("backend addr");
        let script = Arc::new(Mutex::new(script));
        let shared = web::Data::from(Arc::clone(&script));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .expect("backend listens")
        .run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        Self {
            addr,
            script,
            handle,
            task,
        }
    }

    /// Its callback URL.
    pub fn url(&self) -> String {
        format!("http://{}{CALLBACK_PATH}", self.addr)
    }

    /// What it received so far.
    pub fn received(&self) -> Vec<Received> {
        self.script.lock().expect("script").received.clone()
    }

    /// Stops it.
    pub async fn stop(self) {
        self.handle.stop(false).await;
        let _ = self.task.await;
    }
}

/// The backend's handler: checks the signature as an integrator would, then answers per script.
async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    script: web::Data<Mutex<Script>>,
) -> HttpResponse {
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let header = |name: &str| headers.get(name).cloned().unwrap_or_default();
    let secret = script.lock().expect("script").secret.clone();
    let signature_ok = req.method() == actix_web::http::Method::POST
        && verify_signature(
            &secret,
            req.path(),
            req.query_string(),
            &header("x-lg-timestamp"),
            &header("x-lg-nonce"),
            &body,
            &header("x-lg-signature"),
        );
    let mut script = script.lock().expect("script");
    script.received.push(Received {
        headers: headers.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
        signature_ok,
    });
    let status = if !signature_ok {
        401
    } else if script.never_ok {
        503
    } else {
        script.statuses.pop_front().unwrap_or(200)
    };
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status")).body("{}")
}

/// The documented formula, written out again on the integrator's side:
/// `hex(HMAC-SHA256(secret, METHOD\nPATH\nCANONICAL_QUERY\nTIMESTAMP\nNONCE\nhex(SHA-256(body))))`
/// where the canonical query is the `key=value` pairs sorted (the test's are plain ASCII, so
/// encoding leaves them as they are).
pub fn verify_signature(
    secret: &str,
    path: &str,
    query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
    signature: &str,
) -> bool {
    let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    pairs.sort();
    let canonical = format!(
        "POST\n{path}\n{}\n{timestamp}\n{nonce}\n{}",
        pairs.join("&"),
        hex::encode(Sha256::digest(body))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(canonical.as_bytes());
    let Ok(given) = hex::decode(signature) else {
        return false;
    };
    // The timestamp must be now-ish, as an integrator would check.
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|ts| (chrono::Utc::now().timestamp() - ts).abs() <= 300);
    fresh && mac.verify_slice(&given).is_ok()
}
