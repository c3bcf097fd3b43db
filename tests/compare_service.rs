//! The compare service adapter against a real HTTP service on 127.0.0.1 that behaves like a
//! bank's compare system: it checks the token or the HMAC signature (with its own code from the
//! documented formula, `common::backend::verify_signature`), decodes the images it is sent, and
//! answers in its own JSON, slowly, with 5xx, or with its refusal codes, as scripted.

mod common;

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use livegate::compare_service::{
    CompareServiceClient, CompareServiceRules, Reference, RemoteCompareError, RemoteCompareRequest,
    RemoteComparison,
};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use uuid::Uuid;

use common::backend::verify_signature;

const TOKEN: &str = "Bearer union-token-7f3a";
const HMAC_APP: &str = "lg-01";
const HMAC_SECRET: &str = "union-hmac-secret-0042";
const PATH: &str = "/api/face/compare";
/// Stand-in bytes where the images' content does not matter to the test.
const LIVE: &[u8] = b"\xff\xd8\xff\xe0 live frame";
const REFERENCE: &[u8] = b"\xff\xd8\xff\xe0 reference photo";

/// What the bank's service saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    query: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// How the bank's service answers one request.
struct Reply {
    status: u16,
    body: String,
    delay: Duration,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

/// The bank's usual "same person" answer.
fn same() -> Reply {
    reply(
        200,
        json!({"code": "0000", "msg": "ok", "data": {"score": 0.93, "pass": true}}),
    )
}

type Script = dyn Fn(&Seen) -> Reply + Send + Sync;

struct BankState {
    hits: AtomicU32,
    seen: Mutex<Vec<Seen>>,
    script: Box<Script>,
}

/// A bank's compare service on 127.0.0.1.
struct Bank {
    addr: SocketAddr,
    state: Arc<BankState>,
    handle: ServerHandle,
    task: JoinHandle<std::io::Result<()>>,
}

impl Bank {
    /// Starts a service answering each request with `script`.
    fn start(script: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(BankState {
            hits: AtomicU32::new(0),
            seen: Mutex::new(Vec::new()),
            script: Box::new(script),
        });
        let shared = web::Data::from(Arc::clone(&state));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                // Two photos as base64 are larger than actix's 256 KiB default.
                .app_data(web::PayloadConfig::new(8 * 1024 * 1024))
                .route(PATH, web::post().to(answer))
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .expect("listens")
        .run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        Self {
            addr,
            state,
            handle,
            task,
        }
    }

    /// Answers with `replies` in order, the last one for ever.
    fn answering(replies: Vec<Reply>) -> Self {
        let replies = Mutex::new(VecDeque::from(replies));
        Self::start(move |_| {
            let mut replies = replies.lock().expect("replies");
            if replies.len() > 1 {
                replies.pop_front().expect("a reply")
            } else {
                let last = replies.front().expect("a reply");
                Reply {
                    status: last.status,
                    body: last.body.clone(),
                    delay: last.delay,
                }
            }
        })
    }

    fn url(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }

    fn hits(&self) -> u32 {
        self.state.hits.load(Ordering::SeqCst)
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().expect("seen").clone()
    }

    async fn stop(self) {
        self.handle.stop(false).await;
        let _ = self.task.await;
    }
}

async fn answer(req: HttpRequest, body: web::Bytes, bank: web::Data<BankState>) -> HttpResponse {
    bank.hits.fetch_add(1, Ordering::SeqCst);
    let seen = Seen {
        query: req.query_string().to_owned(),
        headers: req
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: body.to_vec(),
    };
    let reply = (bank.script)(&seen);
    bank.seen.lock().expect("seen").push(seen);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(reply.status).expect("status"))
        .content_type("application/json")
        .body(reply.body)
}

/// The scene's rules for `bank`: token auth, a JSON body with both images, the bank's answer
/// shape; `changes` replace top-level fields.
fn rules(url: &str, changes: Value) -> CompareServiceRules {
    let mut config = json!({
        "url": url,
        "auth": {"kind": "token", "header": "Authorization", "value": TOKEN},
        "format": "json",
        "body": {"img1": "${live_image}", "img2": "${reference_image}", "reqId": "${session_id}",
                 "bizNo": "${biz_id}", "channel": "H5"},
        "response": {"code": "/code", "success_codes": ["0", "0000"], "message": "/msg",
                     "score": "/data/score", "pass": "/data/pass"},
        "timeout_ms": 2000,
        "retries": 1,
        "breaker": {"failures": 5, "open_s": 30}
    });
    for (key, value) in changes.as_object().expect("an object of changes") {
        config[key] = value.clone();
    }
    CompareServiceRules::parse(&config).expect("valid rules")
}

fn request<'a>(live: &'a [u8], reference: Reference<'a>) -> RemoteCompareRequest<'a> {
    RemoteCompareRequest {
        live_jpeg: live,
        reference,
        session_id: Uuid::now_v7(),
        biz_id: "loan-2026-0042",
    }
}

fn client() -> CompareServiceClient {
    CompareServiceClient::new().expect("http client")
}

/// Two photos of one person from the shared media, or `None` (reason printed) without them.
fn photos() -> Option<(Vec<u8>, Vec<u8>)> {
    let live = common::media("face_recognition/obama.jpg")?;
    let reference = common::media("face_recognition/obama2.jpg")?;
    Some((
        std::fs::read(live).expect("read live photo"),
        std::fs::read(reference).expect("read reference photo"),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_sent_and_a_wrong_one_is_its_401_without_retry() {
    let bank = Bank::start(|seen| {
        if seen.header("authorization") == TOKEN {
            same()
        } else {
            reply(401, json!({"code": "401", "msg": "bad token"}))
        }
    });
    let client = client();
    let ok = client
        .compare(
            &rules(&bank.url(), json!({})),
            &request(LIVE, Reference::Image(REFERENCE)),
        )
        .await
        .expect("same person");
    assert!(ok.same_person);
    assert_eq!(ok.score, Some(0.93));
    assert_eq!(ok.attempts, 1);

    let wrong = rules(
        &bank.url(),
        json!({"auth": {"kind": "token", "header": "Authorization", "value": "Bearer old"},
               "retries": 3}),
    );
    let err = client
        .compare(&wrong, &request(LIVE, Reference::Image(REFERENCE)))
        .await
        .expect_err("refused by the bank");
    assert_eq!(err, RemoteCompareError::Status(401));
    assert_eq!(err.as_str(), "compare_http_status");
    assert_eq!(bank.hits(), 2, "a 401 is not retried");
    bank.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_requests_verify_with_the_documented_signature_and_each_attempt_is_signed_anew() {
    // The bank checks the X-LG-* headers as docs/open-api.md writes them, with its own code;
    // its first answer is a 503, so the retry's signature is checked too.
    let first = AtomicU32::new(0);
    let bank = Bank::start(move |seen| {
        let signed = seen.header("x-lg-appid") == HMAC_APP
            && verify_signature(
                HMAC_SECRET,
                PATH,
                &seen.query,
                seen.header("x-lg-timestamp"),
                seen.header("x-lg-nonce"),
                &seen.body,
                seen.header("x-lg-signature"),
            );
        if !signed {
            return reply(401, json!({"code": "401", "msg": "bad signature"}));
        }
        if first.fetch_add(1, Ordering::SeqCst) == 0 {
            return reply(503, json!({"code": "503"}));
        }
        same()
    });
    // The query is signed too; given unsorted, the bank sorts it.
    let url = format!("{}?b=2&a=1", bank.url());
    let hmac = |secret: &str| {
        rules(
            &url,
            json!({"auth": {"kind": "hmac", "app_id": HMAC_APP, "secret": secret}}),
        )
    };
    let client = client();
    let ok = client
        .compare(
            &hmac(HMAC_SECRET),
            &request(LIVE, Reference::Image(REFERENCE)),
        )
        .await
        .expect("signed and answered");
    assert!(ok.same_person);
    assert_eq!(ok.attempts, 2);
    let seen = bank.seen();
    assert_eq!(seen.len(), 2);
    assert_ne!(
        seen[0].header("x-lg-nonce"),
        seen[1].header("x-lg-nonce"),
        "a retry is a new request with a new nonce"
    );
    assert_eq!(seen[1].header("content-type"), "application/json");

    let err = client
        .compare(
            &hmac("another-secret-of-16+"),
            &request(LIVE, Reference::Image(REFERENCE)),
        )
        .await
        .expect_err("wrong secret");
    assert_eq!(err, RemoteCompareError::Status(401));
    assert_eq!(bank.hits(), 3);
    bank.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_body_carries_both_photos_as_base64_and_the_ids() {
    let Some((live, reference)) = photos() else {
        return;
    };
    let (expect_live, expect_reference) = (live.clone(), reference.clone());
    let bank = Bank::start(move |seen| {
        let body = seen.json();
        let decode = |field: &str| {
            body["images"][field]
                .as_str()
                .and_then(|b64| STANDARD.decode(b64).ok())
        };
        if decode("live").as_deref() == Some(&expect_live[..])
            && decode("photo").as_deref() == Some(&expect_reference[..])
        {
            same()
        } else {
            reply(
                400,
                json!({"code": "9001", "msg": "cannot decode the images"}),
            )
        }
    });
    let rules = rules(
        &bank.url(),
        json!({"body": {"images": {"live": "${live_image}", "photo": "${reference_image}"},
                        "reqId": "${session_id}", "bizNo": "${biz_id}", "channel": "H5",
                        "version": 2, "flags": ["${biz_id}", true]}}),
    );
    let request = request(&live, Reference::Image(&reference));
    let ok = client()
        .compare(&rules, &request)
        .await
        .expect("the bank decoded both photos");
    assert!(ok.same_person);
    let sent = bank.seen()[0].json();
    assert_eq!(sent["reqId"], request.session_id.to_string());
    assert_eq!(sent["bizNo"], "loan-2026-0042");
    assert_eq!(sent["channel"], "H5");
    assert_eq!(sent["version"], 2);
    assert_eq!(sent["flags"], json!(["loan-2026-0042", true]));
    bank.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_body_carries_the_photo_and_the_reference_id() {
    let Some((live, _)) = photos() else {
        return;
    };
    let expect_live = live.clone();
    let bank = Bank::start(move |seen| {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&seen.body)
            .into_owned()
            .collect();
        let photo_ok = form
            .get("photo")
            .and_then(|b64| STANDARD.decode(b64).ok())
            .is_some_and(|bytes| bytes == expect_live);
        let form_type = seen.header("content-type") == "application/x-www-form-urlencoded";
        match form.get("certNo").map(String::as_str) {
            _ if !photo_ok || !form_type => reply(400, json!({"code": "9001"})),
            Some("110101199003070011") => same(),
            _ => reply(
                200,
                json!({"code": "1001", "msg": "no reference photo on file"}),
            ),
        }
    });
    let rules = rules(
        &bank.url(),
        json!({"format": "form",
               "body": {"photo": "${live_image}", "certNo": "${reference_id}",
                        "bizNo": "${biz_id}", "channel": "H5"}}),
    );
    let client = client();
    let ok = client
        .compare(&rules, &request(&live, Reference::Id("110101199003070011")))
        .await
        .expect("the bank decoded the photo");
    assert!(ok.same_person);
    let err = client
        .compare(&rules, &request(&live, Reference::Id("110101199003070029")))
        .await
        .expect_err("unknown person");
    assert_eq!(
        err,
        RemoteCompareError::Refused {
            code: "1001".into(),
            message: Some("no reference photo on file".into())
        }
    );
    assert_eq!(err.as_str(), "compare_refused");
    bank.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_or_different_from_the_pass_flag_or_the_score_against_min_score() {
    let bank = Bank::answering(vec![
        reply(
            200,
            json!({"code": "0", "data": {"score": 0.97, "pass": true}}),
        ),
        reply(
            200,
            json!({"code": "0", "data": {"score": 0.31, "pass": "0"}}),
        ),
        reply(200, json!({"code": 0, "data": {"score": "86.5"}})),
        reply(200, json!({"code": "0", "data": {"score": "42"}})),
    ]);
    let client = client();
    let compare = |rules: CompareServiceRules| {
        let client = client.clone();
        async move {
            client
                .compare(&rules, &request(LIVE, Reference::Image(REFERENCE)))
                .await
        }
    };
    let by_flag = rules(&bank.url(), json!({}));
    let verdict = |c: RemoteComparison| (c.same_person, c.score);
    assert_eq!(
        compare(by_flag.clone()).await.map(verdict),
        Ok((true, Some(0.97)))
    );
    assert_eq!(compare(by_flag).await.map(verdict), Ok((false, Some(0.31))));
    // A 0..100 scale, the score as a string, a numeric code.
    let by_score = rules(
        &bank.url(),
        json!({"response": {"code": "/code", "success_codes": ["0"], "score": "/data/score",
                            "min_score": 80}}),
    );
    assert_eq!(
        compare(by_score.clone()).await.map(verdict),
        Ok((true, Some(86.5)))
    );
    assert_eq!(
        compare(by_score).await.map(verdict),
        Ok((false, Some(42.0)))
    );
    bank.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_service_is_retried_then_times_out() {
    let bank = Bank::answering(vec![Reply {
        delay: Duration::from_millis(1500),
        ..same()
    }]);
    let rules = rules(&bank.url(), json!({"timeout_ms": 200, "retries": 2}));
    let started = Instant::now();
    let err = client()
        .compare(&rules, &request(LIVE, Reference::Image(REFERENCE)))
        .await
        .expect_err("too slow");
    assert_eq!(err, RemoteCompareError::Timeout);
    assert_eq!(err.as_str(), "compare_timeout");
    assert_eq!(bank.hits(), 3, "1 attempt + 2 retries");
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "each attempt is cut at timeout_ms ({:?})",
        started.elapsed()
    );
    bank.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_then_a_200_succeeds_on_the_second_attempt() {
    let bank = Bank::answering(vec![reply(500, json!({"code": "500"})), same()]);
    let ok = client()
        .compare(
            &rules(&bank.url(), json!({"retries": 1})),
            &request(LIVE, Reference::Image(REFERENCE)),
        )
        .await
        .expect("the retry succeeds");
    assert!(ok.same_person);
    assert_eq!(ok.attempts, 2);
    assert_eq!(bank.hits(), 2);
    bank.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_always_failing_gives_its_status_after_every_retry() {
    let bank = Bank::answering(vec![reply(500, json!({"code": "500"}))]);
    let err = client()
        .compare(
            &rules(&bank.url(), json!({"retries": 2})),
            &request(LIVE, Reference::Image(REFERENCE)),
        )
        .await
        .expect_err("always 500");
    assert_eq!(err, RemoteCompareError::Status(500));
    assert_eq!(bank.hits(), 3, "1 attempt + 2 retries");
    bank.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_fail_at_once_without_retry() {
    let bank = Bank::answering(vec![
        Reply {
            status: 200,
            body: "<html>gateway maintenance</html>".into(),
            delay: Duration::ZERO,
        },
        reply(200, json!({"code": "0", "data": {"pass": true}})),
        reply(
            200,
            json!({"code": "0", "data": {"score": {"value": 0.9}, "pass": true}}),
        ),
    ]);
    let rules = rules(&bank.url(), json!({"retries": 3}));
    let client = client();
    let mut reasons = Vec::new();
    for expected_hits in 1..=3 {
        let err = client
            .compare(&rules, &request(LIVE, Reference::Image(REFERENCE)))
            .await
            .expect_err("malformed");
        assert_eq!(err.as_str(), "compare_malformed");
        assert_eq!(bank.hits(), expected_hits, "not retried");
        let RemoteCompareError::Malformed(reason) = err else {
            panic!("malformed, got {err:?}");
        };
        reasons.push(reason);
    }
    assert!(reasons[0].starts_with("not JSON"), "{}", reasons[0]);
    assert_eq!(reasons[1], "no score at /data/score");
    assert_eq!(
        reasons[2],
        "the score at /data/score is an object, not a number"
    );
    bank.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_code_keeps_the_services_code_and_message_without_retry() {
    let bank = Bank::answering(vec![reply(
        200,
        json!({"code": "1001", "msg": "no reference photo"}),
    )]);
    let err = client()
        .compare(
            &rules(&bank.url(), json!({"retries": 3})),
            &request(LIVE, Reference::Image(REFERENCE)),
        )
        .await
        .expect_err("refused");
    assert_eq!(
        err,
        RemoteCompareError::Refused {
            code: "1001".into(),
            message: Some("no reference photo".into())
        }
    );
    assert_eq!(bank.hits(), 1);
    bank.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_opens_after_consecutive_failures_and_a_trial_after_open_s_closes_it() {
    let metrics = livegate::metrics::install();
    let failure = || reply(502, json!({"code": "502"}));
    let bank = Bank::answering(vec![failure(), failure(), failure(), failure(), same()]);
    let rules = rules(
        &bank.url(),
        json!({"retries": 0, "breaker": {"failures": 3, "open_s": 1}}),
    );
    let client = client();
    // Sessions share the breaker through clones of one client.
    let other_session = client.clone();
    let call = |client: &CompareServiceClient| {
        let client = client.clone();
        let rules = rules.clone();
        async move {
            client
                .compare(&rules, &request(LIVE, Reference::Image(REFERENCE)))
                .await
        }
    };
    for _ in 0..3 {
        assert_eq!(call(&client).await, Err(RemoteCompareError::Status(502)));
    }
    let started = Instant::now();
    assert_eq!(
        call(&other_session).await,
        Err(RemoteCompareError::CircuitOpen)
    );
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "fails at once"
    );
    assert_eq!(bank.hits(), 3, "an open circuit does not reach the service");

    // After open_s, one trial: it fails, and the circuit opens again at once.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(call(&client).await, Err(RemoteCompareError::Status(502)));
    assert_eq!(call(&client).await, Err(RemoteCompareError::CircuitOpen));
    assert_eq!(bank.hits(), 4);

    // The next trial succeeds and closes it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(call(&other_session).await.is_ok());
    assert!(call(&client).await.is_ok(), "closed again");
    assert_eq!(bank.hits(), 6);

    let text = metrics.render();
    assert!(
        text.contains(r#"livegate_compare_service_calls_total{outcome="compare_circuit_open"} 2"#),
        "{text}"
    );
    bank.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_service_is_retried_then_compare_unreachable() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    // The listener is dropped: nothing listens there now.
    let rules = rules(&format!("http://{addr}{PATH}"), json!({"retries": 1}));
    let err = client()
        .compare(&rules, &request(LIVE, Reference::Image(REFERENCE)))
        .await
        .expect_err("nobody listens");
    assert!(matches!(err, RemoteCompareError::Transport(_)), "{err:?}");
    assert_eq!(err.as_str(), "compare_unreachable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_of_the_wrong_kind_never_reaches_the_service() {
    let bank = Bank::answering(vec![same()]);
    let rules = rules(&bank.url(), json!({}));
    assert!(!rules.accepts(&Reference::Id("110101199003070011")));
    let err = client()
        .compare(&rules, &request(LIVE, Reference::Id("110101199003070011")))
        .await
        .expect_err("an id for an image service");
    assert_eq!(err, RemoteCompareError::ReferenceKind);
    assert_eq!(err.as_str(), "compare_reference_kind");
    assert_eq!(bank.hits(), 0);
    bank.stop().await;
}
