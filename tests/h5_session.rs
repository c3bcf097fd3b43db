//! The real-time session end to end through the real binary: the Open API creates a session, a
//! page streams sealed frames of a real face video, the integrator reads a signed result; and
//! every breach of the protocol closes the socket with its documented code, leaving the session
//! intact.

mod common;

use std::time::Duration;

use common::backend::{Backend, Script};
use common::live::{unix_ms, video_jpegs, LiveServer, Page};
use common::media;
use serde_json::{json, Value};

const CALLBACK_SECRET: &str = "the-scene-callback-secret";

fn blink_scene() -> Value {
    json!({
        "actions": {"pool": ["blink"], "count": 1},
        "timeouts": {"step_s": 10, "session_s": 20},
        "return_urls": ["https://bank.example/liveness/"]
    })
}

/// The result's JWS verified with the published keys, as the integrator does it offline.
async fn verified_claims(server: &LiveServer, jws: &str) -> Value {
    let header = jsonwebtoken::decode_header(jws).expect("jws header");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(server.jwks().await).expect("jwks parses");
    let jwk = jwks
        .find(header.kid.as_deref().expect("kid"))
        .expect("the signing key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("decoding key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[server.app_id.as_str()]);
    let claims = jsonwebtoken::decode::<Value>(jws, &key, &validation)
        .expect("the result's signature verifies")
        .claims;
    // Another app cannot take this result as its own.
    let mut foreign = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    foreign.set_audience(&["lgapp_someoneelse"]);
    assert!(jsonwebtoken::decode::<Value>(jws, &key, &foreign).is_err());
    claims
}

fn short_scene() -> Value {
    json!({
        "actions": {"pool": ["blink"], "count": 1},
        "timeouts": {"step_s": 3, "session_s": 10}
    })
}

/// Sends `frames` at `fps` in real time, reading what the server says meanwhile; stops at the
/// result. Returns the number of frames sent.
async fn stream(page: &mut Page, frames: &[Vec<u8>], fps: u64, first_seq: u64) -> u64 {
    let start = unix_ms();
    let mut seq = first_seq;
    for (i, jpeg) in frames.iter().enumerate() {
        let at = start + i as u64 * 1000 / fps;
        page.send_frame(seq, at, jpeg).await;
        seq += 1;
        // Read what arrived until the next frame is due.
        let due = tokio::time::Instant::now() + Duration::from_millis(1000 / fps);
        while let Ok(message) = tokio::time::timeout_at(due, page.next()).await {
            match message {
                Some(m) if m["type"] == "result" => return seq - first_seq,
                Some(_) => {}
                None => return seq - first_seq,
            }
        }
    }
    seq - first_seq
}

async fn result_message(page: &mut Page) -> Value {
    loop {
        if let Some(m) = page.of_type("result").into_iter().next() {
            return m;
        }
        if page.next().await.is_none() {
            return page
                .of_type("result")
                .into_iter()
                .next()
                .unwrap_or(Value::Null);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_person_blinking_on_request_passes_with_a_signed_result() {
    let Some(video) = media("Blink-Detector_repeating/video.mp4") else {
        return;
    };
    let frames = video_jpegs(&video, 15, 480, 14);
    // The integrator's backend, which receives the callback and checks both signatures.
    let backend = Backend::start(
        std::net::TcpListener::bind("127.0.0.1:0").expect("backend port"),
        Script {
            secret: CALLBACK_SECRET.into(),
            ..Script::default()
        },
    );
    let mut scene = blink_scene();
    scene["callback"] = json!({"url": backend.url(), "secret": CALLBACK_SECRET});
    let server = LiveServer::start(&[], &[("kyc", scene)]).await;
    let session = server
        .create_session(
            "kyc",
            json!({"return_url": "https://bank.example/liveness/done?x=1", "user_ref": "u-1"}),
        )
        .await;
    assert!(session.body["h5_url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/h5/?sid=", server.base)));
    let (status, challenge) = server.challenge(&session).await;
    assert_eq!(status, 200);
    assert_eq!(challenge["status"], "pending");
    assert_eq!(challenge["steps"][0]["action"], "blink");
    assert_eq!(challenge["steps"][0]["text"], "请眨眨眼");
    assert_eq!(server.result(session.id).await["status"], "pending");

    let mut page = Page::connect(&server, &session).await;
    let ready = page.hello(false).await;
    assert_eq!(ready["next_seq"], 1);
    assert_eq!(ready["total"], 1);
    stream(&mut page, &frames, 15, 1).await;
    let result = result_message(&mut page).await;
    assert_eq!(result["passed"], true, "messages: {:?}", page.messages);
    assert_eq!(result["text"], "验证通过");
    assert_eq!(
        result["return_url"],
        "https://bank.example/liveness/done?x=1"
    );
    assert!(!page.of_type("ack").is_empty(), "frames are acknowledged");
    assert_eq!(page.of_type("step").len(), 1);
    assert_eq!(page.closed().await.code, 1000);

    let answer = server
        .final_result(session.id, Duration::from_secs(10))
        .await;
    assert_eq!(answer["status"], "passed", "{answer}");
    assert_eq!(answer["verdict"], "pass");
    assert_eq!(answer["capture"], "live");
    assert_eq!(answer["user_ref"], "u-1");
    assert_eq!(answer["actions"][0]["action"], "blink");
    assert_eq!(answer["actions"][0]["passed"], true);
    assert!(answer["scores"]["action"].as_f64() == Some(1.0), "{answer}");
    assert!(answer["timings"]["duration_ms"].as_i64().unwrap() > 0);

    // The JWS verifies offline against the published keys and carries the same verdict.
    let claims = verified_claims(&server, answer["jws"].as_str().expect("jws")).await;
    assert_eq!(claims["status"], "passed");
    assert_eq!(claims["iss"], "livegate");
    assert_eq!(claims["session_id"], session.id.to_string());

    // The callback reaches the backend, signed with the scene's secret, carrying the same
    // result and a JWS that verifies.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let callback = loop {
        if let Some(r) = backend.received().into_iter().next() {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no callback within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        callback.signature_ok,
        "the callback's HMAC signature verifies"
    );
    assert_eq!(callback.headers["x-lg-appid"], server.app_id);
    let body: Value = serde_json::from_str(&callback.body).expect("callback JSON");
    assert_eq!(body, answer, "the callback carries the result as served");
    verified_claims(&server, body["jws"].as_str().expect("jws in the callback")).await;
    backend.stop().await;

    // Evidence: the best frame and the step's frame are kept with the record.
    let evidence: Vec<_> = walk(&server.data_dir().join("evidence"));
    assert!(
        evidence.iter().any(|p| p.ends_with("best.jpg"))
            && evidence.iter().any(|p| p.ends_with("step_0.jpg")),
        "evidence files: {evidence:?}"
    );

    // A reload of the page shows the end screen; a reconnect hears the result and a frame after
    // the end is refused.
    let (_, challenge) = server.challenge(&session).await;
    assert_eq!(challenge["status"], "finished");
    assert_eq!(challenge["result"]["passed"], true);
    assert_eq!(challenge["result"]["text"], "验证通过");
    let mut again = Page::connect(&server, &session).await;
    let late = again.next().await.expect("the result again");
    assert_eq!(late["type"], "result");
    again.send_frame(999, unix_ms(), &frames[0]).await;
    assert_eq!(again.closed().await.code, 4011);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_still_photo_fails_with_a_reason() {
    let Some(photo) = media("Silent-Face-Anti-Spoofing/image_F1.jpg") else {
        return;
    };
    let jpeg = std::fs::read(&photo).expect("photo");
    let server = LiveServer::start(&[], &[("quick", short_scene())]).await;
    let session = server.create_session("quick", json!({})).await;
    let mut page = Page::connect(&server, &session).await;
    page.hello(false).await;
    let frames = vec![jpeg; 15 * 8];
    stream(&mut page, &frames, 15, 1).await;
    let result = result_message(&mut page).await;
    assert_eq!(result["passed"], false, "{:?}", page.messages);
    assert!(
        result["reasons"].as_array().is_some_and(|r| !r.is_empty()),
        "a failure says why: {result}"
    );
    let answer = server
        .final_result(session.id, Duration::from_secs(10))
        .await;
    assert_eq!(answer["status"], "failed");
    assert_eq!(answer["verdict"], "fail");
    assert!(answer["reasons"].as_array().is_some_and(|r| !r.is_empty()));
}

/// A page whose camera names a virtual-camera driver fails though the person did what was asked;
/// the same label in `engine.trusted_camera_labels` (a kiosk's capture card, a test rig) passes.
#[tokio::test]
async fn a_virtual_camera_fails_unless_the_deployment_trusts_its_label() {
    let Some(video) = media("Blink-Detector_repeating/video.mp4") else {
        return;
    };
    let frames = video_jpegs(&video, 15, 480, 14);
    for (trusted, passes) in [("[]", false), (r#"["obs virtual camera"]"#, true)] {
        let server = LiveServer::start(
            &[("LIVEGATE_ENGINE__TRUSTED_CAMERA_LABELS", trusted)],
            &[("kyc", blink_scene())],
        )
        .await;
        let session = server.create_session("kyc", json!({})).await;
        let mut page = Page::connect(&server, &session).await;
        page.hello_from(false, "OBS Virtual Camera").await;
        stream(&mut page, &frames, 15, 1).await;
        let result = result_message(&mut page).await;
        assert_eq!(result["passed"], passes, "trusted {trusted}: {result}");
        let answer = server
            .final_result(session.id, Duration::from_secs(10))
            .await;
        let named = answer["reasons"]
            .as_array()
            .is_some_and(|r| r.iter().any(|w| w == "virtual_camera"));
        assert_eq!(named, !passes, "trusted {trusted}: {answer}");
    }
}

/// One fresh session, a page said hello, and two real frames.
async fn started(server: &LiveServer) -> (common::live::CreatedSession, Page, Vec<Vec<u8>>) {
    let frames = match media("Blink-Detector_repeating/video.mp4") {
        Some(video) => video_jpegs(&video, 5, 320, 1),
        None => vec![tiny_jpeg(), tiny_jpeg()],
    };
    let session = server.create_session("quick", json!({})).await;
    let mut page = Page::connect(server, &session).await;
    page.hello(false).await;
    (session, page, frames)
}

fn tiny_jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 64, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 4) as u8, 90])
    });
    let mut out = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut out),
        image::ImageFormat::Jpeg,
    )
    .expect("encode");
    out
}

async fn assert_intact(server: &LiveServer, session: &common::live::CreatedSession) {
    let answer = server.result(session.id).await;
    assert_eq!(
        answer["status"], "pending",
        "the session is untouched: {answer}"
    );
    let (status, challenge) = server.challenge(session).await;
    assert_eq!(status, 200);
    assert_ne!(challenge["status"], "finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protocol_breach_closes_with_its_code_and_the_session_survives() {
    let server = LiveServer::start(
        &[("LIVEGATE_SESSIONS__MAX_FRAME_BYTES", "200000")],
        &[("quick", short_scene())],
    )
    .await;

    // Tampered ciphertext.
    let (session, mut page, frames) = started(&server).await;
    let mut sealed = page.sealer.seal(
        livegate::h5::seal::FrameHeader {
            seq: 1,
            capture_ms: unix_ms(),
            flash: 0,
        },
        &frames[0],
    );
    let last = sealed.len() - 1;
    sealed[last] ^= 0x55;
    page.send_binary(sealed).await;
    assert_eq!(page.closed().await.code, 4004);
    assert_intact(&server, &session).await;
    // ... and the same page resumes with its key and goes on.
    let mut resumed = Page::connect_with_key(&server, &session, page.secret()).await;
    let ready = resumed.hello(true).await;
    assert_eq!(ready["next_seq"], 1);
    resumed.send_frame(1, unix_ms(), &frames[0]).await;
    let ack = resumed.next().await.expect("ack");
    assert_eq!(ack, json!({"type": "ack", "seq": 1}));

    // A replayed frame (same sequence number again).
    let now = unix_ms();
    resumed.send_frame(2, now, &frames[1]).await;
    resumed.send_frame(2, now, &frames[1]).await;
    let closed = resumed.closed().await;
    assert_eq!((closed.code, closed.reason.as_str()), (4005, "replay"));
    assert_intact(&server, &session).await;

    // Another key than the one the session is bound to.
    let mut stranger = Page::connect(&server, &session).await;
    stranger
        .send_text(
            &json!({"type": "hello", "suite": "X25519-CHACHA20POLY1305-SHA256",
                    "client_key": stranger.sealer.public_b64(), "resume": true})
            .to_string(),
        )
        .await;
    assert_eq!(stranger.closed().await.code, 4003);

    // A frame sealed under a wrong key (the hello is the bound page's).
    let mut wrong = Page::connect(&server, &session).await;
    let bound_key = page.sealer.public_b64();
    wrong
        .send_text(
            &json!({"type": "hello", "suite": "X25519-CHACHA20POLY1305-SHA256",
                    "client_key": bound_key, "resume": true})
            .to_string(),
        )
        .await;
    let ready = wrong.next().await.expect("ready");
    assert_eq!(ready["type"], "ready");
    wrong.send_frame(50, unix_ms(), &frames[0]).await;
    assert_eq!(wrong.closed().await.code, 4004);
    assert_intact(&server, &session).await;

    // An oversized frame.
    let (session, mut page, _) = started(&server).await;
    page.send_frame(1, unix_ms(), &vec![0u8; 300_000]).await;
    assert_eq!(page.closed().await.code, 4006);
    assert_intact(&server, &session).await;

    // Garbage instead of a hello, a binary frame before it, an unknown suite.
    let session = server.create_session("quick", json!({})).await;
    let mut page = Page::connect(&server, &session).await;
    page.send_text("{not json").await;
    assert_eq!(page.closed().await.code, 4000);
    let mut page = Page::connect(&server, &session).await;
    page.send_binary(vec![1, 1, 0, 0]).await;
    assert_eq!(page.closed().await.code, 4000);
    let mut page = Page::connect(&server, &session).await;
    page.send_text(&json!({"type": "hello", "suite": "ROT13", "client_key": "x"}).to_string())
        .await;
    assert_eq!(page.closed().await.code, 4001);
    assert_intact(&server, &session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_frames_end_the_session_and_a_bad_link_is_refused() {
    let server = LiveServer::start(
        &[("LIVEGATE_SESSIONS__MAX_FRAMES", "5")],
        &[("quick", short_scene())],
    )
    .await;
    let (session, mut page, frames) = started(&server).await;
    for seq in 1..=6 {
        page.send_frame(seq, unix_ms(), &frames[0]).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let closed = page.closed().await;
    assert_eq!(
        (closed.code, closed.reason.as_str()),
        (4008, "too_many_frames")
    );
    let answer = server
        .final_result(session.id, Duration::from_secs(10))
        .await;
    assert_eq!(answer["status"], "failed");
    assert_eq!(answer["reasons"], json!(["limit_exceeded"]));

    // A wrong token and an unknown session are refused before any upgrade.
    let mut forged = session.clone();
    forged.token = "not-the-token".into();
    assert_eq!(server.challenge(&forged).await.0, 401);
    let mut unknown = session.clone();
    unknown.id = uuid::Uuid::now_v7();
    assert_eq!(server.challenge(&unknown).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_api_refuses_unknown_scenes_and_foreign_return_urls() {
    let server = LiveServer::start(&[], &[("kyc", blink_scene())]).await;
    let (status, body) = server
        .open_api(
            "POST",
            "/open/v1/sessions",
            Some(&json!({"scene": "nope", "biz_id": "b1"})),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "NOT_FOUND");
    let (status, body) = server
        .open_api(
            "POST",
            "/open/v1/sessions",
            Some(&json!({"scene": "kyc", "biz_id": "b1", "return_url": "https://evil.example/x"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["detail"]["field"], "return_url");
    let (status, body) = server
        .open_api(
            "POST",
            "/open/v1/sessions",
            Some(&json!({"scene": "kyc", "biz_id": ""})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = server
        .open_api("POST", "/open/v1/sessions", Some(&json!({"scene": "kyc"})))
        .await;
    assert_eq!(status, 400);
    // The default scene works with no rules at all.
    let created = server.create_session("default", json!({})).await;
    let (_, challenge) = server.challenge(&created).await;
    assert_eq!(challenge["steps"].as_array().map(Vec::len), Some(2));
    // Another tenant's app cannot read it: an unknown id reads as not found.
    let (status, _) = server
        .open_api(
            "GET",
            &format!("/open/v1/sessions/{}/result", uuid::Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_attempt_is_retried_and_the_second_passes() {
    let Some(video) = media("Blink-Detector_repeating/video.mp4") else {
        return;
    };
    let moving = video_jpegs(&video, 15, 480, 8);
    // The person holds still (no blink) for 4.5 s, then blinks as the video does.
    let mut frames = vec![moving[0].clone(); 15 * 9 / 2];
    frames.extend(moving);
    let scene = json!({
        "actions": {"pool": ["blink"], "count": 1},
        "timeouts": {"step_s": 3, "session_s": 10},
        "retries": 1
    });
    let server = LiveServer::start(&[], &[("retry", scene)]).await;
    let session = server.create_session("retry", json!({})).await;
    let mut page = Page::connect(&server, &session).await;
    page.hello(false).await;
    stream(&mut page, &frames, 15, 1).await;
    let result = result_message(&mut page).await;
    let retries = page.of_type("retry");
    assert_eq!(retries.len(), 1, "{:?}", page.messages);
    assert_eq!(retries[0]["attempt"], 2);
    assert_eq!(retries[0]["of"], 2);
    assert_eq!(retries[0]["reasons"], json!(["timeout"]));
    assert!(retries[0]["text"].as_str().unwrap().contains("请再试一次"));
    assert_eq!(result["passed"], true, "{:?}", page.messages);
    let answer = server
        .final_result(session.id, Duration::from_secs(10))
        .await;
    assert_eq!(answer["status"], "passed");
    assert_eq!(answer["attempts"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_is_deleted_when_the_scene_keeps_none_and_the_result_stays() {
    let Some(photo) = media("Silent-Face-Anti-Spoofing/image_F1.jpg") else {
        return;
    };
    let jpeg = std::fs::read(&photo).expect("photo");
    let mut keep_none = short_scene();
    keep_none["evidence"] = json!({"retention_days": 0});
    let server = LiveServer::start(
        &[("LIVEGATE_SESSIONS__SWEEP_SECS", "1")],
        &[("keepnone", keep_none), ("quick", short_scene())],
    )
    .await;
    let mut records = Vec::new();
    for scene in ["keepnone", "quick"] {
        let session = server.create_session(scene, json!({})).await;
        let mut page = Page::connect(&server, &session).await;
        page.hello(false).await;
        stream(&mut page, &vec![jpeg.clone(); 15 * 8], 15, 1).await;
        let answer = server
            .final_result(session.id, Duration::from_secs(10))
            .await;
        assert_eq!(answer["status"], "failed");
        records.push(answer);
    }
    // Where each session's frames are, and whether the sweep deleted them (the store's view).
    let db = server.data_dir().join("livegate.db");
    let state = |session: &str| -> (String, String, bool) {
        let conn = rusqlite::Connection::open(&db).expect("open the embedded store");
        conn.query_row(
            "SELECT tenant_id, record_id, evidence_purged_at IS NOT NULL FROM sessions WHERE session_id = ?1",
            [session],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .expect("the session's row")
    };
    let ids: Vec<String> = records
        .iter()
        .map(|r| r["session_id"].as_str().expect("session id").to_owned())
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !state(&ids[0]).2 {
        assert!(
            std::time::Instant::now() < deadline,
            "not purged by the sweep"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let evidence = server.data_dir().join("evidence");
    let (tenant, record, _) = state(&ids[0]);
    assert!(
        !evidence.join(&tenant).join(&record).exists(),
        "the frames of the scene that keeps none are gone"
    );
    let (tenant, record, purged) = state(&ids[1]);
    assert!(!purged);
    assert!(
        evidence
            .join(&tenant)
            .join(&record)
            .join("best.jpg")
            .is_file(),
        "the frames of the scene that keeps them for 180 days stay"
    );
    // The results are still there, signed, for the integrator and the auditor.
    for answer in &records {
        let id: uuid::Uuid = answer["session_id"].as_str().unwrap().parse().unwrap();
        assert_eq!(server.result(id).await, *answer);
    }
}
