//! The recorded-video fallback (`docs/h5-protocol.md` §7): a page that cannot stream frames
//! uploads a sealed clip in chunks; the server decodes it and runs the same session actor over
//! every frame at its presentation time, then records the result as real time does.
//!
//! ```text
//! POST recording        ─ start_recording ─ RecordingSlot: Receiving(Upload)   (a real-time actor ends)
//! PUT  recording/{i}    ─ put_chunk ─ RecordingKey::open ─ <data_dir>/recordings/<id>/<i>.chunk (sealed)
//! POST recording/finish ─ finish_recording ─ Analysing ─ clip.part (opened) ─ FFmpeg ─ JPEG frames
//!                         ─ SessionHandle::analyse (each frame, none dropped) ─ end_recording
//!                         ─ SessionService::finish (evidence, signed result, callback)
//! ```
//! Chunks stay sealed on disk; the opened clip exists only while it is decoded. The folder goes
//! when the session ends, when the clip is refused (the person may record again), and when the
//! expiry sweep ends the session.

use std::collections::BTreeSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use livegate_actors::actor::{SessionHandle, SessionOptions, SessionOutcome};
use livegate_actors::prompts::Lang;
use livegate_cluster::registry::SessionKey;
use livegate_models::media::{open_media, Media, MediaLimits, VideoOptions};
use livegate_models::EngineError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, Mutex};
use uuid::Uuid;

use super::live::LiveSession;
use super::{page_result, PageResult, SessionService};
use crate::error::{ApiError, ErrorCode};
use crate::h5::seal::{parse_public, RecordingKey, ServerKey, CHUNK_TAG_LEN, SUITE_X25519_CHACHA};
use crate::scenes::RecordingRules;

/// Plaintext bytes of every chunk but the last.
pub const CHUNK_BYTES: usize = 262_144;
/// The largest body a chunk upload may have: a full chunk and its tag.
pub const MAX_CHUNK_BODY: usize = CHUNK_BYTES + CHUNK_TAG_LEN;
/// JPEG quality of the frames handed to the session actor (the page sends 0.8).
const FRAME_JPEG_QUALITY: u8 = 90;
/// Decoded frames waiting for the actor: decoding stays a few frames ahead, no more.
const FRAMES_AHEAD: usize = 4;

/// The challenge's `recording` object for these rules.
pub fn challenge_json(rules: &RecordingRules) -> Value {
    json!({
        "enabled": rules.enabled,
        "max_bytes": rules.max_bytes(),
        "max_s": rules.max_s,
        "chunk_bytes": CHUNK_BYTES,
    })
}

/// The page's request to start (or resume) an upload.
#[derive(Debug, Clone, Deserialize)]
pub struct StartRecording {
    /// The sealing suite; only `X25519-CHACHA20POLY1305-SHA256`.
    pub suite: String,
    /// The upload's X25519 public key, base64url without padding.
    pub client_key: String,
    /// Plaintext bytes of the whole clip.
    pub size: u64,
    /// Chunks the clip is cut into: `ceil(size / chunk_bytes)`.
    pub chunks: u64,
    /// The clip's type as the page knows it (`video/mp4`, `video/webm`, ...).
    pub mime: String,
}

/// Where an upload stands, as the page sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadView {
    /// Chunks in all.
    pub chunks: u32,
    /// Plaintext bytes per chunk (the last may be shorter).
    pub chunk_bytes: usize,
    /// Indexes stored so far, ascending.
    pub received: Vec<u32>,
}

/// The answer to a start: a new upload, or the one already open with the same key and size.
#[derive(Debug)]
pub enum Started {
    /// A new upload (201).
    New(UploadView),
    /// The open upload, to resume (200).
    Resumed(UploadView),
}

/// One upload being received.
struct Upload {
    client_key: [u8; 32],
    size: u64,
    chunks: u32,
    key: RecordingKey,
    received: BTreeSet<u32>,
}

impl Upload {
    fn view(&self) -> UploadView {
        UploadView {
            chunks: self.chunks,
            chunk_bytes: CHUNK_BYTES,
            received: self.received.iter().copied().collect(),
        }
    }

    /// The plaintext length of chunk `index`.
    fn chunk_len(&self, index: u32) -> usize {
        let start = u64::from(index) * CHUNK_BYTES as u64;
        // At most CHUNK_BYTES: fits.
        self.size.saturating_sub(start).min(CHUNK_BYTES as u64) as usize
    }
}

enum SlotState {
    Idle,
    Receiving(Upload),
    /// The clip is being decoded and analysed (its chunks are all there).
    Analysing {
        chunks: u32,
    },
}

/// A session's recording: the server's key pair (kept when the session actor takes the
/// WebSocket's) and the upload, if any.
pub struct RecordingSlot {
    server_key: ServerKey,
    state: Mutex<SlotState>,
    took_over: AtomicBool,
    analysing: AtomicBool,
}

impl RecordingSlot {
    /// An empty slot for a session with this key pair.
    pub fn new(server_key: ServerKey) -> Self {
        Self {
            server_key,
            state: Mutex::new(SlotState::Idle),
            took_over: AtomicBool::new(false),
            analysing: AtomicBool::new(false),
        }
    }

    /// Whether a recording was started: it decides, a real-time attempt leaves no verdict.
    pub fn took_over(&self) -> bool {
        self.took_over.load(Ordering::SeqCst)
    }

    /// Whether a clip is being analysed now (the expiry sweep waits for it).
    pub fn is_analysing(&self) -> bool {
        self.analysing.load(Ordering::SeqCst)
    }

    /// The analysis is over: the slot takes its next state.
    async fn settle(&self, state: SlotState) {
        *self.state.lock().await = state;
        self.analysing.store(false, Ordering::SeqCst);
    }
}

/// Why a clip cannot be analysed; the person may record again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum ClipRefused {
    #[error("the clip cannot be decoded (truncated, not a video, or a codec the server lacks)")]
    Undecodable,
    #[error("the clip has no video stream")]
    NoVideo,
    #[error("the clip is a still image, not a video")]
    Image,
    #[error("the clip is longer than {0} s")]
    TooLong(u32),
}

/// What went wrong in a finish: a refused clip (422) or the server's own trouble.
enum FinishError {
    Refused(ClipRefused),
    Server(ApiError),
}

impl From<ApiError> for FinishError {
    fn from(err: ApiError) -> Self {
        FinishError::Server(err)
    }
}

fn invalid(reason: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::ValidationFailed).with_detail(json!({ "reason": reason.into() }))
}

fn no_upload() -> ApiError {
    ApiError::new(ErrorCode::NotFound)
        .with_detail(json!({ "reason": "no recording upload is open" }))
}

fn being_analysed() -> ApiError {
    ApiError::new(ErrorCode::Conflict)
        .with_detail(json!({ "reason": "the recording is being analysed" }))
}

fn chunk_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("{index}.chunk"))
}

/// Removes a session's recording folder (chunks and any clip); missing is fine.
pub async fn discard(recordings_dir: &Path, id: Uuid) {
    let dir = recordings_dir.join(id.to_string());
    match tokio::fs::remove_dir_all(&dir).await {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => {
            tracing::warn!(session = %id, error = %err, "recording folder not removed");
        }
    }
}

impl SessionService {
    fn recording_dir(&self, id: Uuid) -> PathBuf {
        self.inner.settings.recordings_dir.join(id.to_string())
    }

    /// The session a recording request is for: authorised, unfinished, running here, with the
    /// fallback enabled.
    async fn recording_session(
        &self,
        id: Uuid,
        token: &str,
        lang: Lang,
    ) -> Result<Arc<LiveSession>, ApiError> {
        let row = self.authorised_row(id, token).await?;
        if let Some(result) = &row.result {
            let page = page_result(result, row.return_url.clone(), lang);
            return Err(ApiError::new(ErrorCode::Conflict)
                .with_detail(json!({ "reason": "the session has its result", "result": page })));
        }
        if chrono::Utc::now() >= row.expires_at {
            return Err(ApiError::new(ErrorCode::Gone));
        }
        let live = self.local_session(id).await?;
        if !live.facts.rules.recording.enabled {
            return Err(ApiError::new(ErrorCode::Forbidden)
                .with_detail(json!({ "reason": "the scene does not take recorded video" })));
        }
        Ok(live)
    }

    /// Starts an upload, or answers the open one when the key, size and chunk count match
    /// (a resume). Another key replaces an unfinished upload. A real-time attempt still running
    /// ends without a verdict: the recording decides.
    pub async fn start_recording(
        &self,
        id: Uuid,
        token: &str,
        lang: Lang,
        request: &StartRecording,
    ) -> Result<Started, ApiError> {
        let live = self.recording_session(id, token, lang).await?;
        let rules = live.facts.rules.recording;
        if request.suite != SUITE_X25519_CHACHA {
            return Err(invalid(format!(
                "unknown suite (only {SUITE_X25519_CHACHA})"
            )));
        }
        let client = parse_public(&request.client_key)
            .map_err(|_| invalid("client_key is not a base64url X25519 public key"))?;
        if !request.mime.to_ascii_lowercase().starts_with("video/") {
            return Err(invalid("mime must be a video/* type"));
        }
        if request.size == 0 {
            return Err(invalid("size must be at least 1 byte"));
        }
        if request.size > rules.max_bytes() {
            return Err(ApiError::new(ErrorCode::PayloadTooLarge)
                .with_detail(json!({ "size": request.size, "limit": rules.max_bytes() })));
        }
        let expected = request.size.div_ceil(CHUNK_BYTES as u64);
        if request.chunks != expected {
            return Err(invalid(format!(
                "chunks must be ceil(size / {CHUNK_BYTES}) = {expected}"
            )));
        }
        // At most 100 MiB / 256 KiB = 400 chunks.
        let chunks = u32::try_from(expected).map_err(|_| invalid("too many chunks"))?;
        let key = RecordingKey::for_server(id, &live.recording.server_key, &client, chunks)
            .map_err(|_| invalid("client_key is not a usable X25519 public key"))?;
        let mut state = live.recording.state.lock().await;
        match &*state {
            SlotState::Analysing { .. } => return Err(being_analysed()),
            SlotState::Receiving(open)
                if open.client_key == *client.as_bytes()
                    && open.size == request.size
                    && open.chunks == chunks =>
            {
                return Ok(Started::Resumed(open.view()));
            }
            _ => {}
        }
        if !live.recording.took_over.swap(true, Ordering::SeqCst) {
            // A page still connected in real time is told a newer client took the session.
            live.take_over();
            if let Some(handle) = live.engine.get() {
                // Its watcher sees `took_over` and records nothing.
                if let Err(err) = handle.finish().await {
                    tracing::debug!(session = %id, error = %err, "real-time actor already gone");
                }
            }
        }
        let dir = self.recording_dir(id);
        discard(&self.inner.settings.recordings_dir, id).await;
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|err| ApiError::internal(format!("recording folder: {err}")))?;
        let upload = Upload {
            client_key: *client.as_bytes(),
            size: request.size,
            chunks,
            key,
            received: BTreeSet::new(),
        };
        let view = upload.view();
        *state = SlotState::Receiving(upload);
        Ok(Started::New(view))
    }

    /// Where the open upload stands.
    pub async fn recording_status(
        &self,
        id: Uuid,
        token: &str,
        lang: Lang,
    ) -> Result<UploadView, ApiError> {
        let live = self.recording_session(id, token, lang).await?;
        let state = live.recording.state.lock().await;
        match &*state {
            SlotState::Receiving(upload) => Ok(upload.view()),
            SlotState::Analysing { chunks } => Ok(UploadView {
                chunks: *chunks,
                chunk_bytes: CHUNK_BYTES,
                received: (0..*chunks).collect(),
            }),
            SlotState::Idle => Err(no_upload()),
        }
    }

    /// Stores chunk `index` (ciphertext ‖ tag) once it opens; returns how many distinct chunks
    /// are stored. Storing an index again is idempotent.
    pub async fn put_chunk(
        &self,
        id: Uuid,
        token: &str,
        lang: Lang,
        index: u64,
        sealed: &[u8],
    ) -> Result<usize, ApiError> {
        let live = self.recording_session(id, token, lang).await?;
        let mut state = live.recording.state.lock().await;
        let upload = match &mut *state {
            SlotState::Receiving(upload) => upload,
            SlotState::Analysing { .. } => return Err(being_analysed()),
            SlotState::Idle => return Err(no_upload()),
        };
        let index = match u32::try_from(index) {
            Ok(i) if i < upload.chunks => i,
            _ => {
                return Err(invalid(format!(
                    "index must be below {} (the upload's chunks)",
                    upload.chunks
                )))
            }
        };
        let expected = upload.chunk_len(index) + CHUNK_TAG_LEN;
        if sealed.len() != expected {
            return Err(invalid(format!(
                "chunk {index} must be {expected} bytes sealed (got {})",
                sealed.len()
            )));
        }
        if upload.key.open(index, sealed).is_err() {
            return Err(invalid(format!("chunk {index} does not open (tag)")));
        }
        let dir = self.recording_dir(id);
        let part = dir.join(format!("{index}.part"));
        let write = async {
            tokio::fs::write(&part, sealed).await?;
            tokio::fs::rename(&part, chunk_path(&dir, index)).await
        };
        write
            .await
            .map_err(|err| ApiError::internal(format!("storing a recording chunk: {err}")))?;
        upload.received.insert(index);
        Ok(upload.received.len())
    }

    /// Checks every chunk is there, decodes and analyses the clip, and records the result as
    /// real time does. A clip that cannot be analysed is refused (422) and deleted; the
    /// session stays pending.
    pub async fn finish_recording(
        &self,
        id: Uuid,
        token: &str,
        lang: Lang,
    ) -> Result<PageResult, ApiError> {
        let live = self.recording_session(id, token, lang).await?;
        let upload = {
            let mut state = live.recording.state.lock().await;
            let upload = match &*state {
                SlotState::Receiving(upload) => upload,
                SlotState::Analysing { .. } => return Err(being_analysed()),
                SlotState::Idle => return Err(no_upload()),
            };
            let missing: Vec<u32> = (0..upload.chunks)
                .filter(|i| !upload.received.contains(i))
                .collect();
            if !missing.is_empty() {
                return Err(ApiError::new(ErrorCode::Conflict)
                    .with_detail(json!({ "reason": "chunks are missing", "missing": missing })));
            }
            let chunks = upload.chunks;
            match std::mem::replace(&mut *state, SlotState::Analysing { chunks }) {
                SlotState::Receiving(upload) => upload,
                _ => return Err(ApiError::internal("the upload changed under its lock")),
            }
        };
        live.recording.analysing.store(true, Ordering::SeqCst);
        let analysed = self.analyse_upload(&live, &upload).await;
        let outcome = match analysed {
            Ok(outcome) => outcome,
            Err(FinishError::Refused(why)) => {
                discard(&self.inner.settings.recordings_dir, id).await;
                live.recording.settle(SlotState::Idle).await;
                return Err(invalid(why.to_string()));
            }
            Err(FinishError::Server(err)) => {
                // The chunks are intact: finishing again may work.
                live.recording.settle(SlotState::Receiving(upload)).await;
                return Err(err);
            }
        };
        let finished = self.finish(&live, &outcome).await;
        discard(&self.inner.settings.recordings_dir, id).await;
        live.recording.settle(SlotState::Idle).await;
        finished?;
        live.release();
        let _ = self.inner.registry.remove(SessionKey(id)).await;
        let row = self.inner.store.session(id).await?;
        let result = row
            .result
            .ok_or_else(|| ApiError::internal("the recorded session's result was not stored"))?;
        Ok(page_result(&result, row.return_url.clone(), lang))
    }

    /// Opens the clip from its chunks, decodes it, and runs the session actor over every frame.
    async fn analyse_upload(
        &self,
        live: &LiveSession,
        upload: &Upload,
    ) -> Result<SessionOutcome, FinishError> {
        let id = live.facts.id;
        let dir = self.recording_dir(id);
        let clip = dir.join("clip.part");
        assemble(&dir, &clip, upload).await?;
        let rules = &live.facts.rules;
        let mut config = rules.session_config(live.facts.steps.clone());
        // The clip shows the steps of the challenge only: there is no second attempt in it.
        config.retry_challenges.clear();
        config.report_only_cues = self.inner.settings.report_only_cues.clone();
        let options = SessionOptions {
            frame_limits: self.frame_limits(rules),
            evidence_samples: rules.evidence.sampled_frames,
            ..SessionOptions::default()
        };
        let handle = SessionHandle::start(config, self.inner.pool.clone(), options)
            .await
            .map_err(|err| ApiError::internal(format!("recording session actor: {err}")))?;
        let side = rules.capture.width.max(rules.capture.height);
        let max_s = rules.recording.max_s;
        let (frames, mut rx) = mpsc::channel(FRAMES_AHEAD);
        let path = clip.clone();
        let decoding =
            tokio::task::spawn_blocking(move || decode_clip(&path, side, max_s, &frames));
        let mut decided = false;
        let mut lost = None;
        while let Some((t, jpeg)) = rx.recv().await {
            // After the verdict the rest is still decoded: a clip broken further on is refused.
            if decided || lost.is_some() {
                continue;
            }
            match handle.analyse(t, jpeg).await {
                Ok(finished) => decided = finished,
                Err(err) => lost = Some(err),
            }
        }
        let decoded = decoding.await;
        if let Err(err) = tokio::fs::remove_file(&clip).await {
            tracing::warn!(session = %id, error = %err, "opened clip not removed");
        }
        let stop = |handle: SessionHandle| async move {
            if let Err(err) = handle.finish().await {
                tracing::debug!(session = %id, error = %err, "recording actor already gone");
            }
        };
        match decoded {
            Ok(Ok(())) => {}
            Ok(Err(why)) => {
                stop(handle).await;
                return Err(FinishError::Refused(why));
            }
            Err(err) => {
                stop(handle).await;
                return Err(ApiError::internal(format!("clip decoding task: {err}")).into());
            }
        }
        if let Some(err) = lost {
            stop(handle).await;
            return Err(ApiError::internal(format!("recording session actor: {err}")).into());
        }
        let ended = handle.end_recording().await;
        let outcome = handle.outcome().await;
        stop(handle).await;
        ended.map_err(|err| ApiError::internal(format!("recording session actor: {err}")))?;
        match outcome {
            Ok(Some(outcome)) => Ok(outcome),
            Ok(None) => Err(ApiError::internal("the recording ended without a verdict").into()),
            Err(err) => Err(ApiError::internal(format!("recording session actor: {err}")).into()),
        }
    }
}

/// Opens every chunk into the clip file, in order.
async fn assemble(dir: &Path, clip: &Path, upload: &Upload) -> Result<(), ApiError> {
    let io = |err: std::io::Error| ApiError::internal(format!("opening the recording: {err}"));
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    // The opened clip is a face video: readable by the server's user only.
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(clip).await.map_err(io)?;
    let mut written = 0u64;
    for index in 0..upload.chunks {
        let sealed = tokio::fs::read(chunk_path(dir, index)).await.map_err(io)?;
        let plain = upload.key.open(index, &sealed).map_err(|_| {
            ApiError::internal(format!("stored recording chunk {index} no longer opens"))
        })?;
        file.write_all(&plain).await.map_err(io)?;
        written += plain.len() as u64;
    }
    file.flush().await.map_err(io)?;
    if written != upload.size {
        return Err(ApiError::internal(format!(
            "the recording is {written} bytes, not {}",
            upload.size
        )));
    }
    Ok(())
}

/// Decodes the clip (blocking: FFmpeg) into JPEG frames with their presentation times, sent
/// to `frames` until the end; refuses what is not a video the server can read in time.
fn decode_clip(
    path: &Path,
    side: u32,
    max_s: u32,
    frames: &mpsc::Sender<(f64, Vec<u8>)>,
) -> Result<(), ClipRefused> {
    let options = VideoOptions {
        fit: Some((side, side)),
        max_frames: None,
    };
    let reader = match open_media(path, &options, &MediaLimits::default()) {
        Ok(Media::Video(reader)) => reader,
        Ok(Media::Image(_)) => return Err(ClipRefused::Image),
        Err(EngineError::BadVideo(message)) if message.ends_with("no video stream") => {
            return Err(ClipRefused::NoVideo)
        }
        Err(err) => {
            tracing::debug!(error = %err, "recorded clip not decodable");
            return Err(ClipRefused::Undecodable);
        }
    };
    for frame in reader {
        let frame = frame.map_err(|err| {
            tracing::debug!(error = %err, "recorded clip not decodable");
            ClipRefused::Undecodable
        })?;
        if frame.t > f64::from(max_s) {
            return Err(ClipRefused::TooLong(max_s));
        }
        let mut jpeg = Cursor::new(Vec::new());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, FRAME_JPEG_QUALITY)
            .encode_image(&frame.image)
            .map_err(|err| {
                tracing::debug!(error = %err, "recorded frame not encodable");
                ClipRefused::Undecodable
            })?;
        if frames.blocking_send((frame.t, jpeg.into_inner())).is_err() {
            // The analysis stopped listening: it has what it needs or gave up.
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(size: u64) -> Upload {
        let client = parse_public(&ServerKey::generate().public_b64()).unwrap();
        let chunks = size.div_ceil(CHUNK_BYTES as u64) as u32;
        let server = ServerKey::generate();
        Upload {
            client_key: *client.as_bytes(),
            size,
            chunks,
            key: RecordingKey::for_server(Uuid::now_v7(), &server, &client, chunks).unwrap(),
            received: BTreeSet::new(),
        }
    }

    #[test]
    fn every_chunk_is_full_but_the_last() {
        let u = upload(2 * CHUNK_BYTES as u64 + 10);
        assert_eq!(u.chunks, 3);
        assert_eq!(u.chunk_len(0), CHUNK_BYTES);
        assert_eq!(u.chunk_len(1), CHUNK_BYTES);
        assert_eq!(u.chunk_len(2), 10);
        let exact = upload(CHUNK_BYTES as u64);
        assert_eq!(exact.chunks, 1);
        assert_eq!(exact.chunk_len(0), CHUNK_BYTES);
    }

    #[test]
    fn the_challenge_object_has_the_contracts_fields() {
        let rules = RecordingRules {
            enabled: true,
            max_mb: 20,
            max_s: 30,
        };
        assert_eq!(
            challenge_json(&rules),
            json!({"enabled": true, "max_bytes": 20 * 1024 * 1024, "max_s": 30, "chunk_bytes": 262_144})
        );
    }
}
