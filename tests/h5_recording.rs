//! The recorded-video fallback end to end through the real binary (`docs/h5-protocol.md` §7):
//! a page uploads a real clip in sealed chunks, the server analyses every frame with the same
//! engine and decision as real time, and the integrator reads a signed result marked
//! `capture: "recording"`. Broken uploads are refused with their documented codes, leave nothing
//! on disk and keep the session pending.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::live::{rand_key, CreatedSession, LiveServer, Page};
use common::media;
use livegate::h5::seal::RecordingSealer;
use serde_json::{json, Value};

const CHUNK: usize = 262_144;
const SUITE: &str = "X25519-CHACHA20POLY1305-SHA256";

fn recording_scene() -> Value {
    json!({
        "actions": {"pool": ["blink"], "count": 1},
        "timeouts": {"step_s": 10, "session_s": 20},
        "return_urls": ["https://bank.example/liveness/"],
        "recording": {"enabled": true}
    })
}

fn plain_scene() -> Value {
    json!({"actions": {"pool": ["blink"], "count": 1}})
}

/// Runs ffmpeg with `args`; `None` (with the reason printed) when ffmpeg is missing.
fn ffmpeg(args: &[&str]) -> Option<()> {
    match Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .status()
    {
        Ok(status) => {
            assert!(status.success(), "ffmpeg {args:?}");
            Some(())
        }
        Err(err) => {
            eprintln!("skipped: ffmpeg cannot run ({err})");
            None
        }
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A page's recording upload for one session, with its own fresh key.
struct Recorder<'a> {
    server: &'a LiveServer,
    session: &'a CreatedSession,
    secret: [u8; 32],
    http: reqwest::Client,
}

impl<'a> Recorder<'a> {
    fn new(server: &'a LiveServer, session: &'a CreatedSession) -> Self {
        Self {
            server,
            session,
            secret: rand_key(),
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, tail: &str) -> String {
        format!(
            "{}/h5/v1/sessions/{}/recording{tail}",
            self.server.base, self.session.id
        )
    }

    async fn answer(response: reqwest::Response) -> (u16, Value) {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn sealer(&self, chunks: u32) -> RecordingSealer {
        let (status, challenge) = self.server.challenge(self.session).await;
        assert_eq!(status, 200, "{challenge}");
        let server_key = challenge["server_key"].as_str().expect("server_key");
        RecordingSealer::new(self.session.id, self.secret, server_key, chunks).expect("sealer")
    }

    async fn start_raw(&self, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(""))
            .bearer_auth(&self.session.token)
            .json(body)
            .send()
            .await
            .expect("start");
        Self::answer(response).await
    }

    async fn start(&self, size: usize, mime: &str) -> (u16, Value) {
        let sealer = self.sealer(1).await;
        self.start_raw(&json!({
            "suite": SUITE,
            "client_key": sealer.public_b64(),
            "size": size,
            "chunks": size.div_ceil(CHUNK),
            "mime": mime,
        }))
        .await
    }

    async fn put(&self, index: u64, body: Vec<u8>) -> (u16, Value) {
        let response = self
            .http
            .put(self.url(&format!("/{index}")))
            .bearer_auth(&self.session.token)
            .header("Content-Type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .expect("put chunk");
        Self::answer(response).await
    }

    async fn status(&self) -> (u16, Value) {
        let response = self
            .http
            .get(self.url(""))
            .bearer_auth(&self.session.token)
            .send()
            .await
            .expect("status");
        Self::answer(response).await
    }

    async fn finish(&self) -> (u16, Value) {
        let response = self
            .http
            .post(self.url("/finish"))
            .bearer_auth(&self.session.token)
            .timeout(Duration::from_secs(300))
            .send()
            .await
            .expect("finish");
        Self::answer(response).await
    }

    /// The clip's chunks sealed for this upload.
    async fn sealed(&self, clip: &[u8]) -> Vec<Vec<u8>> {
        let chunks = clip.len().div_ceil(CHUNK);
        let sealer = self.sealer(chunks as u32).await;
        clip.chunks(CHUNK)
            .enumerate()
            .map(|(i, plain)| sealer.seal(i as u32, plain))
            .collect()
    }

    /// Starts, sends every chunk and finishes; returns the finish's answer.
    async fn upload(&self, clip: &[u8], mime: &str) -> (u16, Value) {
        let (status, started) = self.start(clip.len(), mime).await;
        assert_eq!(status, 201, "start: {started}");
        for (i, sealed) in self.sealed(clip).await.into_iter().enumerate() {
            let (status, body) = self.put(i as u64, sealed).await;
            assert_eq!(status, 200, "chunk {i}: {body}");
        }
        self.finish().await
    }
}

/// What is left of a session's recording on disk.
fn leftovers(server: &LiveServer, session: &CreatedSession) -> Vec<PathBuf> {
    let dir = server
        .data_dir()
        .join("recordings")
        .join(session.id.to_string());
    match std::fs::read_dir(&dir) {
        Ok(entries) => entries.map(|e| e.expect("entry").path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// The result's JWS verified with the published keys, as the integrator does it offline.
async fn verified_claims(server: &LiveServer, jws: &str) -> Value {
    let header = jsonwebtoken::decode_header(jws).expect("jws header");
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(server.jwks().await).expect("jwks parses");
    let jwk = jwks
        .find(header.kid.as_deref().expect("kid"))
        .expect("the signing key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("decoding key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[server.app_id.as_str()]);
    jsonwebtoken::decode::<Value>(jws, &key, &validation)
        .expect("the result's signature verifies")
        .claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_blink_uploaded_with_a_resume_passes_with_a_signed_result() {
    let Some(video) = media("Blink-Detector_repeating/video.mp4") else {
        return;
    };
    let clip = std::fs::read(&video).expect("clip");
    let server = LiveServer::start(&[], &[("rec", recording_scene())]).await;
    let session = server
        .create_session(
            "rec",
            json!({"return_url": "https://bank.example/liveness/done"}),
        )
        .await;
    let (_, challenge) = server.challenge(&session).await;
    assert_eq!(
        challenge["recording"],
        json!({"enabled": true, "max_bytes": 20 * 1024 * 1024, "max_s": 30, "chunk_bytes": CHUNK})
    );
    assert_eq!(challenge["steps"][0]["action"], "blink");

    let page = Recorder::new(&server, &session);
    let sealed = page.sealed(&clip).await;
    assert_eq!(sealed.len(), 7, "1.6 MB in 256 KiB chunks");
    let (status, started) = page.start(clip.len(), "video/mp4").await;
    assert_eq!(status, 201, "{started}");
    assert_eq!(
        started,
        json!({"chunks": 7, "chunk_bytes": CHUNK, "received": []})
    );
    for i in [0usize, 2, 3] {
        assert_eq!(page.put(i as u64, sealed[i].clone()).await.0, 200);
    }
    // The same chunk again changes nothing.
    let (status, again) = page.put(2, sealed[2].clone()).await;
    assert_eq!((status, again), (200, json!({"received": 3})));
    let (status, view) = page.status().await;
    assert_eq!(status, 200);
    assert_eq!(view["received"], json!([0, 2, 3]));
    // Finishing early names what is missing.
    let (status, early) = page.finish().await;
    assert_eq!(status, 409, "{early}");
    assert_eq!(early["code"], "CONFLICT");
    assert_eq!(early["detail"]["missing"], json!([1, 4, 5, 6]));
    // A reload: the same key and size resume the upload.
    let (status, resumed) = page.start(clip.len(), "video/mp4").await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["received"], json!([0, 2, 3]));
    for i in [1usize, 4, 5, 6] {
        let (status, body) = page.put(i as u64, sealed[i].clone()).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, finished) = page.finish().await;
    assert_eq!(status, 200, "{finished}");
    assert_eq!(finished["result"]["passed"], true, "{finished}");
    assert_eq!(finished["result"]["text"], "验证通过");
    assert_eq!(
        finished["result"]["return_url"],
        "https://bank.example/liveness/done"
    );
    assert!(leftovers(&server, &session).is_empty(), "chunks removed");

    let result = server
        .final_result(session.id, Duration::from_secs(5))
        .await;
    assert_eq!(result["status"], "passed", "{result}");
    assert_eq!(result["capture"], "recording");
    assert_eq!(result["actions"][0]["passed"], true);
    assert_eq!(result["frames"]["dropped"], 0, "{result}");
    let claims = verified_claims(&server, result["jws"].as_str().expect("jws")).await;
    assert_eq!(claims["capture"], "recording");
    assert_eq!(claims["status"], "passed");
    assert_eq!(claims["session_id"], session.id.to_string());
    // The challenge shows the end screen; the upload is closed for good.
    let (_, challenge) = server.challenge(&session).await;
    assert_eq!(challenge["status"], "finished");
    assert_eq!(challenge["result"]["passed"], true);
    let (status, after) = Recorder::new(&server, &session)
        .start(clip.len(), "video/mp4")
        .await;
    assert_eq!(status, 409, "{after}");
    assert_eq!(after["detail"]["result"]["passed"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iphone_style_hevc_mov_passes() {
    let Some(video) = media("Blink-Detector_repeating/video.mp4") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mov = dir.path().join("blink.mov");
    // What an iPhone's camera app hands the page: HEVC in a QuickTime file, tagged hvc1.
    let made = ffmpeg(&[
        "-t",
        "6",
        "-i",
        path_str(&video),
        "-an",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "log-level=error",
        "-tag:v",
        "hvc1",
        path_str(&mov),
    ]);
    if made.is_none() {
        return;
    }
    let clip = std::fs::read(&mov).expect("mov");
    let server = LiveServer::start(&[], &[("rec", recording_scene())]).await;
    let session = server.create_session("rec", json!({})).await;
    let (status, finished) = Recorder::new(&server, &session)
        .upload(&clip, "video/quicktime")
        .await;
    assert_eq!(status, 200, "{finished}");
    assert_eq!(finished["result"]["passed"], true, "{finished}");
    let answer = server.result(session.id).await;
    assert_eq!(answer["capture"], "recording");
    assert_eq!(answer["status"], "passed", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_of_a_still_photo_fails() {
    let Some(photo) = media("Silent-Face-Anti-Spoofing/image_F1.jpg") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("still.mp4");
    let args = [
        "-loop",
        "1",
        "-i",
        path_str(&photo),
        "-t",
        "4",
        "-r",
        "15",
        "-vf",
        "scale=trunc(iw/2)*2:trunc(ih/2)*2",
        "-pix_fmt",
        "yuv420p",
        path_str(&out),
    ];
    if ffmpeg(&args).is_none() {
        return;
    }
    let clip = std::fs::read(&out).expect("still clip");
    let server = LiveServer::start(&[], &[("rec", recording_scene())]).await;
    let session = server.create_session("rec", json!({})).await;
    // Real time started, then the page fell back to a recording: the real-time attempt ends
    // without a verdict of its own.
    let mut realtime = Page::connect(&server, &session).await;
    realtime.hello(false).await;
    let page = Recorder::new(&server, &session);
    let (status, started) = page.start(clip.len(), "video/mp4").await;
    assert_eq!(status, 201, "{started}");
    assert_eq!(
        realtime.closed().await.code,
        4013,
        "{:?}",
        realtime.messages
    );
    assert!(
        realtime.of_type("result").is_empty(),
        "{:?}",
        realtime.messages
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.result(session.id).await["status"], "pending");
    // Nor can real time come back.
    let ws = format!(
        "{}/h5/v1/sessions/{}/ws?t={}",
        server.base.replacen("http", "ws", 1),
        session.id,
        session.token
    );
    match tokio_tungstenite::connect_async(ws).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(refused)) => {
            assert_eq!(refused.status().as_u16(), 409)
        }
        other => panic!(
            "a socket after the recording started: {:?}",
            other.map(|_| ())
        ),
    }
    for (i, sealed) in page.sealed(&clip).await.into_iter().enumerate() {
        assert_eq!(page.put(i as u64, sealed).await.0, 200);
    }
    let (status, finished) = page.finish().await;
    assert_eq!(status, 200, "{finished}");
    assert_eq!(finished["result"]["passed"], false, "{finished}");
    let result = server
        .final_result(session.id, Duration::from_secs(5))
        .await;
    assert_eq!(result["status"], "failed", "{result}");
    assert_eq!(result["capture"], "recording");
    assert_eq!(result["actions"][0]["passed"], false);
    assert_eq!(result["reasons"], json!(["timeout"]), "{result}");
    assert!(leftovers(&server, &session).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_uploads_are_refused_and_the_session_can_record_again() {
    let Some(video) = media("Blink-Detector_repeating/video.mp4") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let webm = dir.path().join("blink.webm");
    let wav = dir.path().join("tone.wav");
    let png = dir.path().join("frame.png");
    let made = ffmpeg(&[
        "-i",
        path_str(&video),
        "-an",
        "-c:v",
        "libvpx",
        "-b:v",
        "1M",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        path_str(&webm),
    ])
    .and_then(|()| {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=1",
            path_str(&wav),
        ])
    })
    .and_then(|()| ffmpeg(&["-i", path_str(&video), "-frames:v", "1", path_str(&png)]));
    if made.is_none() {
        return;
    }
    let mp4 = std::fs::read(&video).expect("clip");
    let mut short = recording_scene();
    short["recording"]["max_s"] = json!(5);
    let server = LiveServer::start(
        &[],
        &[
            ("rec", recording_scene()),
            ("plain", plain_scene()),
            ("short", short),
        ],
    )
    .await;

    // A clip longer than the scene's max_s is refused even though the blink in it passes.
    let session = server.create_session("short", json!({})).await;
    let (status, refused) = Recorder::new(&server, &session)
        .upload(&mp4, "video/mp4")
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["detail"]["reason"], "the clip is longer than 5 s");
    assert!(leftovers(&server, &session).is_empty());
    assert_eq!(server.result(session.id).await["status"], "pending");

    // A truncated mp4 is refused, leaves nothing behind, and the session stays pending ...
    let session = server.create_session("rec", json!({})).await;
    let half = &mp4[..mp4.len() / 2];
    let (status, refused) = Recorder::new(&server, &session)
        .upload(half, "video/mp4")
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["code"], "VALIDATION_FAILED");
    assert!(refused["detail"]["reason"]
        .as_str()
        .expect("reason")
        .contains("cannot be decoded"));
    assert!(
        leftovers(&server, &session).is_empty(),
        "nothing half-stored"
    );
    let (_, challenge) = server.challenge(&session).await;
    assert_eq!(challenge["status"], "pending");
    assert_eq!(server.result(session.id).await["status"], "pending");
    assert_eq!(Recorder::new(&server, &session).status().await.0, 404);
    // ... so the person records again: a VP8 webm of the same blink passes.
    let clip = std::fs::read(&webm).expect("webm");
    let (status, finished) = Recorder::new(&server, &session)
        .upload(&clip, "video/webm")
        .await;
    assert_eq!(status, 200, "{finished}");
    assert_eq!(finished["result"]["passed"], true, "{finished}");
    assert_eq!(
        server.result(session.id).await["capture"],
        "recording",
        "webm decided"
    );

    // Not a video at all: random bytes, audio only, a picture.
    let noise: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let wav = std::fs::read(&wav).expect("wav");
    let png = std::fs::read(&png).expect("png");
    for (what, bytes, mime, reason) in [
        ("noise", noise.as_slice(), "video/mp4", "cannot be decoded"),
        ("audio", wav.as_slice(), "video/mp4", "no video stream"),
        ("picture", png.as_slice(), "video/mp4", "still image"),
    ] {
        let session = server.create_session("rec", json!({})).await;
        let (status, refused) = Recorder::new(&server, &session).upload(bytes, mime).await;
        assert_eq!(status, 422, "{what}: {refused}");
        assert!(
            refused["detail"]["reason"]
                .as_str()
                .expect("reason")
                .contains(reason),
            "{what}: {refused}"
        );
        assert!(leftovers(&server, &session).is_empty(), "{what}");
        assert_eq!(server.result(session.id).await["status"], "pending");
    }

    // Refused at the start.
    let session = server.create_session("rec", json!({})).await;
    let page = Recorder::new(&server, &session);
    let (status, body) = page.start(20 * 1024 * 1024 + 1, "video/mp4").await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], "PAYLOAD_TOO_LARGE");
    assert_eq!(page.start(0, "video/mp4").await.0, 422);
    assert_eq!(page.start(1000, "image/png").await.0, 422);
    let sealer = page.sealer(1).await;
    let start = |suite: &str, key: String, chunks: u64| json!({"suite": suite, "client_key": key, "size": 1000, "chunks": chunks, "mime": "video/mp4"});
    for (what, body) in [
        ("chunk count", start(SUITE, sealer.public_b64(), 2)),
        ("suite", start("X25519-AES", sealer.public_b64(), 1)),
        ("key", start(SUITE, "not-a-key".into(), 1)),
    ] {
        let (status, answer) = page.start_raw(&body).await;
        assert_eq!(status, 422, "{what}: {answer}");
    }
    assert_eq!(page.status().await.0, 404, "nothing was opened");
    assert_eq!(page.put(0, vec![0; 100]).await.0, 404, "no upload open");

    // Chunks: out of range, the wrong length, a broken tag.
    let clip = &mp4[..3 * CHUNK / 2];
    let (status, _) = page.start(clip.len(), "video/mp4").await;
    assert_eq!(status, 201);
    let sealed = page.sealed(clip).await;
    assert_eq!(sealed.len(), 2);
    assert_eq!(page.put(2, sealed[1].clone()).await.0, 422, "index 2 of 2");
    let (status, short) = page.put(0, sealed[0][..1000].to_vec()).await;
    assert_eq!(status, 422, "{short}");
    assert_eq!(
        page.put(0, sealed[1].clone()).await.0,
        422,
        "length of chunk 1"
    );
    let mut flipped = sealed[0].clone();
    flipped[10] ^= 1;
    assert_eq!(page.put(0, flipped).await.0, 422, "bad tag");
    let mut too_big = sealed[0].clone();
    too_big.push(0);
    assert_eq!(page.put(0, too_big).await.0, 413, "over chunk_bytes + 16");
    assert_eq!(page.put(1, sealed[1].clone()).await.0, 200);
    let (status, missing) = page.finish().await;
    assert_eq!(status, 409, "{missing}");
    assert_eq!(missing["detail"]["missing"], json!([0]));
    assert_eq!(
        leftovers(&server, &session).len(),
        1,
        "the good chunk is kept"
    );
    // Another key replaces the unfinished upload and its chunks.
    let (status, replaced) = Recorder::new(&server, &session)
        .start(clip.len(), "video/mp4")
        .await;
    assert_eq!(status, 201, "{replaced}");
    assert_eq!(replaced["received"], json!([]));
    assert!(
        leftovers(&server, &session).is_empty(),
        "old chunks deleted"
    );
    assert_eq!(
        page.put(1, sealed[1].clone()).await.0,
        422,
        "the old key's chunk"
    );

    // A scene without the fallback.
    let plain = server.create_session("plain", json!({})).await;
    let (_, challenge) = server.challenge(&plain).await;
    assert_eq!(challenge["recording"]["enabled"], false);
    let (status, forbidden) = Recorder::new(&server, &plain)
        .start(1000, "video/mp4")
        .await;
    assert_eq!(status, 403, "{forbidden}");
    assert_eq!(forbidden["code"], "FORBIDDEN");
}
