//! 1:1 compare inside a liveness session, through the real binary: the integrator creates a
//! session with a reference face and reads one result carrying liveness and compare, with the
//! built-in comparator and with the union's own compare service over HTTP.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::live::{unix_ms, video_jpegs, CreatedSession, LiveServer, Page};
use common::media;
use serde_json::{json, Value};

fn blink_scene(compare: Value) -> Value {
    json!({
        "actions": {"pool": ["blink"], "count": 1},
        "timeouts": {"step_s": 10, "session_s": 20},
        "compare": compare,
    })
}

fn image_b64(path: &std::path::Path) -> String {
    STANDARD.encode(std::fs::read(path).expect("read the reference image"))
}

/// A still of the blink clip's man from late in the clip (the session uses its first seconds):
/// the photo a bank keeps of its customer.
fn blink_man_photo(video: &std::path::Path, dir: &std::path::Path) -> std::path::PathBuf {
    let out = dir.join("blink-man.jpg");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-ss", "12", "-i"])
        .arg(video)
        .args(["-frames:v", "1", "-q:v", "3"])
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg extracts a still");
    out
}

/// Streams the clip's frames until the result arrives, and returns the served final result.
async fn run_blink(server: &LiveServer, session: &CreatedSession, frames: &[Vec<u8>]) -> Value {
    let mut page = Page::connect(server, session).await;
    page.hello(false).await;
    let start = unix_ms();
    'frames: for (i, jpeg) in frames.iter().enumerate() {
        page.send_frame(i as u64 + 1, start + i as u64 * 1000 / 15, jpeg)
            .await;
        let due = tokio::time::Instant::now() + Duration::from_millis(1000 / 15);
        while let Ok(message) = tokio::time::timeout_at(due, page.next()).await {
            match message {
                Some(m) if m["type"] == "result" => break 'frames,
                Some(_) => {}
                None => break 'frames,
            }
        }
    }
    server
        .final_result(session.id, Duration::from_secs(20))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builtin_comparator_passes_the_same_person_and_fails_another() {
    let (Some(video), Some(obama), Some(dogs)) = (
        media("Blink-Detector_repeating/video.mp4"),
        media("face_recognition/obama.jpg"),
        media("dlib/dogs.jpg"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let photo = blink_man_photo(&video, dir.path());
    let frames = video_jpegs(&video, 15, 480, 8);
    let photos = photo_store(std::fs::read(&photo).expect("photo")).await;
    let server = LiveServer::start(
        &[],
        &[
            ("kyc", blink_scene(json!({"engine": "builtin"}))),
            (
                "kyc-by-id",
                blink_scene(json!({"engine": "builtin", "reference_source": {
                    "url": format!("{}/faces/${{reference_id}}?size=full", photos.base),
                    "auth": {"kind": "token", "header": "X-Photo-Key", "value": "photo-key"},
                    "timeout_ms": 2000
                }})),
            ),
            ("plain", blink_scene(Value::Null)),
        ],
    )
    .await;

    // The same man: live and the same person, one signed result saying both.
    let session = server
        .create_session("kyc", json!({"reference": {"image": image_b64(&photo)}}))
        .await;
    let answer = run_blink(&server, &session, &frames).await;
    assert_eq!(answer["status"], "passed", "{answer}");
    assert_eq!(answer["verdict"], "pass");
    assert_eq!(answer["liveness"], "pass");
    assert_eq!(answer["compare"]["engine"], "builtin");
    assert_eq!(answer["compare"]["status"], "done");
    assert_eq!(answer["compare"]["same_person"], true, "{answer}");
    let score = answer["compare"]["score"].as_f64().expect("score");
    assert!(score > 0.5, "{answer}");
    assert_eq!(answer["scores"]["compare"].as_f64(), Some(score));
    let evidence = server.data_dir().join("evidence");
    let kept: Vec<String> = walk(&evidence)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        kept.iter().any(|p| p.ends_with("reference.jpg")),
        "the reference is kept with the evidence: {kept:?}"
    );

    // Another man's photo: a live person, but not the reference's: the session fails.
    let session = server
        .create_session("kyc", json!({"reference": {"image": image_b64(&obama)}}))
        .await;
    let answer = run_blink(&server, &session, &frames).await;
    assert_eq!(answer["status"], "failed", "{answer}");
    assert_eq!(answer["liveness"], "pass");
    assert_eq!(answer["compare"]["same_person"], false);
    assert!(
        answer["reasons"]
            .as_array()
            .expect("reasons")
            .contains(&json!("face_mismatch")),
        "{answer}"
    );

    // The bank's photo store holds the reference: the session names it by id.
    let session = server
        .create_session("kyc-by-id", json!({"reference": {"id": "C-100"}}))
        .await;
    let answer = run_blink(&server, &session, &frames).await;
    assert_eq!(answer["status"], "passed", "{answer}");
    assert_eq!(answer["compare"]["same_person"], true, "{answer}");
    assert_eq!(photos.hits.load(Ordering::SeqCst), 1);
    for (id, expected) in [
        ("C-404", "not found at the reference source"),
        ("../admin", "letters, digits"),
    ] {
        let body = json!({"scene": "kyc-by-id", "biz_id": "b-2", "reference": {"id": id}});
        let (status, answer) = server
            .open_api("POST", "/open/v1/sessions", Some(&body))
            .await;
        assert_eq!(status, 422, "{id}: {answer}");
        let reason = answer["detail"]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(expected), "{expected:?} in {reason:?}");
    }
    photos.handle.stop(false).await;

    // Bad references are refused when the session is created, naming what is wrong.
    let create = |scene: &str, reference: Value| json!({"scene": scene, "biz_id": "b-1", "reference": reference});
    let refused = [
        (create("kyc", json!({"image": image_b64(&dogs)})), "no face"),
        (
            create("kyc", json!({"image": "bm90IGFuIGltYWdl"})),
            "reference.image",
        ),
        (create("kyc", json!({"image": "%%%"})), "not base64"),
        (
            create("kyc", json!({"id": "6222-0001"})),
            "needs a reference image",
        ),
        (
            create("kyc", json!({"image": image_b64(&photo), "id": "x"})),
            "exactly one",
        ),
        (json!({"scene": "kyc", "biz_id": "b-1"}), "send a reference"),
        (
            create("plain", json!({"image": image_b64(&photo)})),
            "does not compare",
        ),
    ];
    for (body, expected) in refused {
        let (status, answer) = server
            .open_api("POST", "/open/v1/sessions", Some(&body))
            .await;
        assert_eq!(status, 422, "{body:.80}: {answer}");
        assert_eq!(answer["code"], "VALIDATION_FAILED");
        assert_eq!(answer["detail"]["field"], "reference");
        let reason = answer["detail"]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(expected), "{expected:?} in {reason:?}");
    }
    let (status, answer) = server
        .open_api(
            "POST",
            "/open/v1/sessions",
            Some(&create("kyc", json!({"image": "A".repeat(2_000_000)}))),
        )
        .await;
    assert!(status == 422 || status == 413, "{status}: {answer}");
}

/// The union's compare service, as a test double: answers `{"code": "0", "data": {"score": S}}`
/// after `delay`, and counts its calls.
struct UnionCompare {
    url: String,
    calls: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

async fn union_compare(score: f64, delay: Duration) -> UnionCompare {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let addr = listener.local_addr().expect("addr");
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let server = HttpServer::new(move || {
        let calls = Arc::clone(&counted);
        App::new().route(
            "/face/compare",
            web::post().to(move |body: web::Json<Value>| {
                let calls = Arc::clone(&calls);
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    // What a bank's service checks: both images present and decodable.
                    let ok = ["live", "photo"].iter().all(|k| {
                        body[*k]
                            .as_str()
                            .and_then(|b| STANDARD.decode(b).ok())
                            .is_some_and(|bytes| bytes.starts_with(&[0xff, 0xd8]))
                    });
                    tokio::time::sleep(delay).await;
                    if ok {
                        HttpResponse::Ok().json(json!({"code": "0", "data": {"score": score}}))
                    } else {
                        HttpResponse::Ok().json(json!({"code": "E01", "msg": "bad image"}))
                    }
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(0)
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    UnionCompare {
        url: format!("http://{addr}/face/compare"),
        calls,
        handle,
    }
}

/// The bank's photo store: `GET /faces/C-100` answers the customer's photo to a caller with
/// the right key, anything else 404 (401 without the key).
struct PhotoStore {
    base: String,
    hits: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

async fn photo_store(photo: Vec<u8>) -> PhotoStore {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let photo = Arc::new(photo);
    let server = HttpServer::new(move || {
        let hits = Arc::clone(&counted);
        let photo = Arc::clone(&photo);
        App::new().route(
            "/faces/{id}",
            web::get().to(move |req: actix_web::HttpRequest, id: web::Path<String>| {
                let hits = Arc::clone(&hits);
                let photo = Arc::clone(&photo);
                async move {
                    let key = req
                        .headers()
                        .get("x-photo-key")
                        .and_then(|v| v.to_str().ok());
                    if key != Some("photo-key") || req.query_string() != "size=full" {
                        return HttpResponse::Unauthorized().finish();
                    }
                    if id.as_str() != "C-100" {
                        return HttpResponse::NotFound().finish();
                    }
                    hits.fetch_add(1, Ordering::SeqCst);
                    HttpResponse::Ok()
                        .content_type("image/jpeg")
                        .body(photo.as_ref().clone())
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(0)
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    PhotoStore {
        base: format!("http://{addr}"),
        hits,
        handle,
    }
}

fn http_compare(url: &str) -> Value {
    json!({
        "engine": "http",
        "http": {
            "url": url,
            "auth": {"kind": "token", "header": "Authorization", "value": "Bearer union-token"},
            "format": "json",
            "body": {"live": "${live_image}", "photo": "${reference_image}", "req": "${session_id}"},
            "response": {"score": "/data/score", "code": "/code", "success_codes": ["0"],
                         "message": "/msg", "min_score": 80},
            "timeout_ms": 1000,
            "retries": 1,
            "breaker": {"failures": 5, "open_s": 30}
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unions_compare_service_decides_and_its_timeouts_are_reported() {
    let (Some(video), Some(_)) = (
        media("Blink-Detector_repeating/video.mp4"),
        media("face_recognition/obama.jpg"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let photo = blink_man_photo(&video, dir.path());
    let frames = video_jpegs(&video, 15, 480, 8);
    let same = union_compare(93.5, Duration::ZERO).await;
    let slow = union_compare(93.5, Duration::from_secs(3)).await;
    let server = LiveServer::start(
        &[],
        &[
            ("union", blink_scene(http_compare(&same.url))),
            ("union-slow", blink_scene(http_compare(&slow.url))),
        ],
    )
    .await;

    let session = server
        .create_session("union", json!({"reference": {"image": image_b64(&photo)}}))
        .await;
    let answer = run_blink(&server, &session, &frames).await;
    assert_eq!(answer["status"], "passed", "{answer}");
    assert_eq!(answer["compare"]["engine"], "http");
    assert_eq!(answer["compare"]["same_person"], true);
    assert_eq!(answer["compare"]["score"], 93.5);
    assert_eq!(same.calls.load(Ordering::SeqCst), 1);

    // A service that answers too late: the person was live, the compare is unavailable, and
    // the result says so instead of passing.
    let session = server
        .create_session(
            "union-slow",
            json!({"reference": {"image": image_b64(&photo)}}),
        )
        .await;
    let answer = run_blink(&server, &session, &frames).await;
    assert_eq!(answer["status"], "failed", "{answer}");
    assert_eq!(answer["liveness"], "pass");
    assert_eq!(answer["compare"]["status"], "error");
    assert_eq!(answer["compare"]["error"], "compare_timeout");
    assert!(answer["reasons"]
        .as_array()
        .expect("reasons")
        .contains(&json!("compare_unavailable")));
    assert_eq!(slow.calls.load(Ordering::SeqCst), 2, "one retry");

    // The service's token never shows in the scene as listed.
    let listed = server.cli(&["scenes", "show", "union"]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains("***") && !text.contains("union-token"),
        "{text}"
    );
    same.handle.stop(false).await;
    slow.handle.stop(false).await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}
