//! Injection cues: signs that the frames did not come from a camera in front of a person, but
//! were fed to the page (a virtual camera, a script) or replayed from another session.
//!
//! Pure measures, each giving an attack score in 0..=1 (0 looks like a camera, 1 like an
//! injection) under its reason word:
//! - `virtual_camera` ([`camera_cue`]): the camera's label names a virtual-camera driver (OBS,
//!   ManyCam, v4l2loopback ...), or the track's settings are ones no phone or webcam reports.
//! - `frame_timing` ([`FrameTiming`]): the page's capture times are machine-regular (every
//!   interval the same: frames pumped by a script, not grabbed by the page's adaptive timer), or
//!   they run at another speed than the server's clock (a recording pushed faster or slower
//!   than it was captured).
//! - `replayed_frames` ([`SeenFrames`]): face crops already seen in another session on this node
//!   within the last minutes (a perceptual hash of the face, kept for a bounded time).
//!
//! A challenge mismatch (the action done is not the one asked) needs no cue of its own: the step
//! never passes and the session fails as timed out.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use image::RgbImage;
use livegate_models::FaceBox;
use serde_json::Value;

/// A cue's score at or over which it fails a session.
pub const INJECTION_ATTACK: f32 = 0.5;

/// Words in a camera's label that name a virtual camera or a frame-injection tool (lowercase;
/// matched as whole words, or as a substring for the longer, unambiguous ones).
pub const VIRTUAL_CAMERA_WORDS: &[&str] = &["obs", "vcam", "virtual", "fake", "dummy", "ndi"];

/// Longer names matched anywhere in the lowercased label.
pub const VIRTUAL_CAMERA_NAMES: &[&str] = &[
    "manycam",
    "v4l2loopback",
    "v4l2 loopback",
    "loopback",
    "splitcam",
    "xsplit",
    "snap camera",
    "camtwist",
    "webcamoid",
    "akvirtualcamera",
    "e2esoft",
    "youcam",
    "mmhmm",
    "chromacam",
    "droidcam",
    "iriun",
    "epoccam",
    "camo",
    "unity video capture",
    "screen capture",
    "sparkocam",
    "magic camera",
];

/// Whether a camera label names a virtual camera.
pub fn is_virtual_camera_label(label: &str) -> bool {
    let lower = label.to_lowercase();
    if VIRTUAL_CAMERA_NAMES.iter().any(|n| lower.contains(n)) {
        return true;
    }
    lower
        .split(|c: char| !c.is_alphanumeric())
        .any(|word| VIRTUAL_CAMERA_WORDS.contains(&word))
}

/// The `virtual_camera` score from the page's client facts (`camera_label` and `track`:
/// `width`, `height`, `frame_rate`, as `ui/h5/src/capture.ts` sends them); `None` when the page
/// said nothing about its camera, or named one of the deployment's `trusted` labels (exact, any
/// case).
///
/// A virtual camera's label scores 1. Settings no camera reports score 0.6 each (capped at 1): a
/// frame rate outside 1–120, a side of 0 or over 7680 pixels, a picture narrower than 1:3.
pub fn camera_cue(client: &Value, trusted: &[String]) -> Option<f32> {
    let label = client.get("camera_label").and_then(Value::as_str);
    let track = client.get("track").filter(|t| t.is_object());
    if label.is_none() && track.is_none() {
        return None;
    }
    if label.is_some_and(|l| {
        trusted
            .iter()
            .any(|t| t.trim().eq_ignore_ascii_case(l.trim()))
    }) {
        return None;
    }
    if label.is_some_and(is_virtual_camera_label) {
        return Some(1.0);
    }
    let mut score = 0.0f32;
    if let Some(track) = track {
        let number = |k: &str| track.get(k).and_then(Value::as_f64);
        if number("frame_rate").is_some_and(|r| !(1.0..=120.0).contains(&r)) {
            score += 0.6;
        }
        let (w, h) = (number("width"), number("height"));
        for side in [w, h].into_iter().flatten() {
            if !(1.0..=7680.0).contains(&side) {
                score += 0.6;
            }
        }
        if let (Some(w), Some(h)) = (w, h) {
            if w >= 1.0 && h >= 1.0 && (w / h > 3.0 || h / w > 3.0) {
                score += 0.6;
            }
        }
    }
    Some(score.min(1.0))
}

/// Fewest capture intervals before the timing cue says anything.
const TIMING_MIN_INTERVALS: usize = 30;
/// Shortest span of the server's clock, in seconds, before the clocks are compared.
const TIMING_MIN_SPAN_S: f64 = 4.0;
/// Share of intervals equal to the most common one at or over which the capture is
/// machine-regular (the page's timer adapts to acknowledgements, so its intervals vary).
const TIMING_REGULAR_SHARE: f64 = 0.95;
/// The page's clock may run this much faster or slower than the server's (network jitter, a
/// stalled connection) before the timing is implausible.
const TIMING_RATE_BAND: (f64, f64) = (0.75, 1.33);

/// Frame-timing statistics of one real-time session: the page's capture time of each frame
/// beside the server's arrival time.
#[derive(Debug, Clone, Default)]
pub struct FrameTiming {
    first: Option<(u64, Instant)>,
    last: Option<(u64, Instant)>,
    intervals: HashMap<u64, usize>,
    count: usize,
}

impl FrameTiming {
    /// Adds a frame captured at `capture_ms` (the page's clock) that arrived at `arrived`.
    pub fn add(&mut self, capture_ms: u64, arrived: Instant) {
        if let Some((last_ms, _)) = self.last {
            if capture_ms > last_ms {
                *self.intervals.entry(capture_ms - last_ms).or_default() += 1;
                self.count += 1;
            }
        }
        self.first.get_or_insert((capture_ms, arrived));
        self.last = Some((capture_ms, arrived));
    }

    /// The share of intervals equal to the most common one (`None` with too few intervals).
    pub fn regular_share(&self) -> Option<f64> {
        if self.count < TIMING_MIN_INTERVALS {
            return None;
        }
        let mode = self.intervals.values().copied().max().unwrap_or(0);
        Some(mode as f64 / self.count as f64)
    }

    /// The page's clock over the server's across the session (`None` while the span is short).
    pub fn clock_rate(&self) -> Option<f64> {
        let ((c0, a0), (c1, a1)) = (self.first?, self.last?);
        let server_s = a1.duration_since(a0).as_secs_f64();
        if server_s < TIMING_MIN_SPAN_S {
            return None;
        }
        Some(c1.saturating_sub(c0) as f64 / 1000.0 / server_s)
    }

    /// The `frame_timing` score: 1 when machine-regular or on another clock, else 0; `None`
    /// while there is too little to tell.
    pub fn score(&self) -> Option<f32> {
        let regular = self.regular_share();
        let rate = self.clock_rate();
        if regular.is_none() && rate.is_none() {
            return None;
        }
        let machine = regular.is_some_and(|s| s >= TIMING_REGULAR_SHARE);
        let other_clock =
            rate.is_some_and(|r| !(TIMING_RATE_BAND.0..=TIMING_RATE_BAND.1).contains(&r));
        Some(if machine || other_clock { 1.0 } else { 0.0 })
    }
}

/// A perceptual hash of a face crop: 16x16 grey, each bit whether a pixel is brighter than its
/// right neighbour (a difference hash; 256 bits, robust to re-encoding and small rescaling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaceHash(pub [u64; 4]);

impl FaceHash {
    /// Bits that differ.
    pub fn distance(&self, other: &FaceHash) -> u32 {
        self.0
            .iter()
            .zip(other.0.iter())
            .map(|(a, b)| (a ^ b).count_ones())
            .sum()
    }
}

/// The difference hash of the face box's inner part (`None` for a face too small to hash).
pub fn face_hash(frame: &RgbImage, face: &FaceBox) -> Option<FaceHash> {
    const SIDE: usize = 16;
    if face.width < 32.0 || face.height < 32.0 {
        return None;
    }
    let (fw, fh) = (frame.width() as f32, frame.height() as f32);
    // The inner 80% of the box: the background at its edges changes between sessions.
    let x0 = (face.x + face.width * 0.1).max(0.0);
    let y0 = (face.y + face.height * 0.1).max(0.0);
    let x1 = (face.x + face.width * 0.9).min(fw);
    let y1 = (face.y + face.height * 0.9).min(fh);
    if x1 - x0 < 16.0 || y1 - y0 < 16.0 {
        return None;
    }
    let mut grey = [[0.0f32; SIDE + 1]; SIDE];
    let (cw, ch) = ((x1 - x0) / (SIDE + 1) as f32, (y1 - y0) / SIDE as f32);
    for (gy, row) in grey.iter_mut().enumerate() {
        for (gx, cell) in row.iter_mut().enumerate() {
            // Mean of a 3x3 grid of samples inside the cell: cheap, and steady under small shifts.
            let mut sum = 0.0;
            for sy in 0..3 {
                for sx in 0..3 {
                    let x = x0 + cw * (gx as f32 + (sx as f32 + 0.5) / 3.0);
                    let y = y0 + ch * (gy as f32 + (sy as f32 + 0.5) / 3.0);
                    let p = frame
                        .get_pixel(
                            (x as u32).min(frame.width() - 1),
                            (y as u32).min(frame.height() - 1),
                        )
                        .0;
                    sum +=
                        0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]);
                }
            }
            *cell = sum / 9.0;
        }
    }
    let mut bits = [0u64; 4];
    for (gy, row) in grey.iter().enumerate() {
        for gx in 0..SIDE {
            if row[gx] > row[gx + 1] {
                let i = gy * SIDE + gx;
                bits[i / 64] |= 1 << (i % 64);
            }
        }
    }
    Some(FaceHash(bits))
}

/// Hashes at most this far apart (of 256 bits) are the same picture.
pub const SAME_FRAME_BITS: u32 = 12;
/// Frames of a session matching another session's at or under which nothing is said...
const REPLAY_CLEAN: f32 = 2.0;
/// ...and at or over which the session replays another's frames: score 1.
const REPLAY_FULL: f32 = 8.0;

/// The face hashes of the frames sessions on this node saw recently: a bounded, time-limited
/// set shared by the node's sessions (`replayed_frames`).
#[derive(Debug)]
pub struct SeenFrames {
    keep_for: Duration,
    capacity: usize,
    entries: Mutex<VecDeque<(Instant, u64, FaceHash)>>,
}

impl SeenFrames {
    /// A set keeping each hash for `keep_for`, and at most `capacity` hashes (the oldest go first).
    pub fn new(keep_for: Duration, capacity: usize) -> Self {
        Self {
            keep_for,
            capacity: capacity.max(1),
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// Ten minutes, 100 000 hashes (about 5 MB): some 300 sessions of 20 s at 15 fps.
    pub fn for_node() -> Self {
        Self::new(Duration::from_secs(600), 100_000)
    }

    /// Whether `hash` was seen in a session other than `session` (within the time kept), then
    /// remembers it for `session`.
    pub fn check_and_insert(&self, session: u64, hash: FaceHash, now: Instant) -> bool {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while entries
            .front()
            .is_some_and(|(at, _, _)| now.duration_since(*at) > self.keep_for)
        {
            entries.pop_front();
        }
        // A linear scan: 100 000 popcounts of 4 words is well under a millisecond.
        let seen = entries
            .iter()
            .any(|(_, s, h)| *s != session && h.distance(&hash) <= SAME_FRAME_BITS);
        if entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back((now, session, hash));
        seen
    }
}

/// The `replayed_frames` score for a session with `matched` frames already seen elsewhere.
pub fn replay_score(matched: usize) -> f32 {
    ((matched as f32 - REPLAY_CLEAN) / (REPLAY_FULL - REPLAY_CLEAN)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn virtual_camera_labels_are_named() {
        for label in [
            "OBS Virtual Camera",
            "ManyCam Virtual Webcam",
            "Dummy video device (0x0000)",
            "v4l2loopback: Loopback video device",
            "Snap Camera",
            "e2eSoft VCam",
        ] {
            assert!(is_virtual_camera_label(label), "{label}");
        }
        for label in [
            "FaceTime HD Camera",
            "Integrated Webcam (0bda:58f4)",
            "camera2 1, facing front",
            "Front Camera",
            "HD Pro Webcam C920 (046d:082d)",
            "Jobs' webcam",
        ] {
            assert!(!is_virtual_camera_label(label), "{label}");
        }
    }

    #[test]
    fn camera_cue_reads_label_and_settings() {
        let phone = json!({"camera_label": "camera2 1, facing front",
            "track": {"width": 480, "height": 640, "frame_rate": 30, "facing_mode": "user"}});
        assert_eq!(camera_cue(&phone, &[]), Some(0.0));
        let obs =
            json!({"camera_label": "OBS Virtual Camera", "track": {"width": 1280, "height": 720}});
        assert_eq!(camera_cue(&obs, &[]), Some(1.0));
        let odd = json!({"track": {"width": 1280, "height": 720, "frame_rate": 1000}});
        assert!(camera_cue(&odd, &[]).is_some_and(|s| s >= INJECTION_ATTACK));
        let strip = json!({"track": {"width": 3000, "height": 100}});
        assert!(camera_cue(&strip, &[]).is_some_and(|s| s >= INJECTION_ATTACK));
        assert_eq!(camera_cue(&json!({"user_agent": "x"}), &[]), None);
        let rig = json!({"camera_label": "fake_device_0", "track": {"width": 640, "height": 480}});
        assert_eq!(camera_cue(&rig, &[]), Some(1.0));
        assert_eq!(camera_cue(&rig, &["FAKE_DEVICE_0".to_string()]), None);
    }

    #[test]
    fn machine_regular_capture_is_flagged_and_a_page_timer_is_not() {
        let start = Instant::now();
        let mut script = FrameTiming::default();
        let mut page = FrameTiming::default();
        let mut page_ms = 1_700_000_000_000u64;
        for i in 0..60u64 {
            let at = start + Duration::from_millis(i * 100);
            script.add(1_700_000_000_000 + i * 100, at);
            // The page's adaptive timer: 90–130 ms apart.
            page_ms += 90 + (i * 37) % 41;
            page.add(page_ms, at);
        }
        assert_eq!(script.score(), Some(1.0));
        assert_eq!(page.score(), Some(0.0));
    }

    #[test]
    fn a_recording_pushed_faster_than_captured_is_on_another_clock() {
        let start = Instant::now();
        let mut t = FrameTiming::default();
        for i in 0..100u64 {
            // Captured 100 ms apart (with jitter), sent 50 ms apart (4.95 s of the server's clock).
            t.add(
                1_000_000 + i * 100 + (i * 7) % 13,
                start + Duration::from_millis(i * 50 + 2000),
            );
        }
        assert!(
            t.clock_rate().is_some_and(|r| r > 1.8),
            "{:?}",
            t.clock_rate()
        );
        assert_eq!(t.score(), Some(1.0));
    }

    fn face_image(shift: u32, seed: u32) -> RgbImage {
        RgbImage::from_fn(320, 320, |x, y| {
            let v = ((x + shift) * 7 + y * 13 + ((x * y + seed) % 17)) % 255;
            image::Rgb([v as u8, (v / 2) as u8, 90])
        })
    }

    #[test]
    fn a_frame_seen_in_another_session_is_recognised() {
        let face = FaceBox {
            x: 80.0,
            y: 80.0,
            width: 160.0,
            height: 160.0,
            score: 1.0,
        };
        let seen = SeenFrames::new(Duration::from_secs(600), 10);
        let now = Instant::now();
        let a = face_hash(&face_image(0, 0), &face).unwrap();
        assert!(!seen.check_and_insert(1, a, now));
        // The same session seeing its own frame again is not a replay.
        assert!(!seen.check_and_insert(1, a, now));
        assert!(seen.check_and_insert(2, a, now));
        let other = face_hash(&face_image(40, 5), &face).unwrap();
        assert!(a.distance(&other) > SAME_FRAME_BITS);
        assert!(!seen.check_and_insert(3, other, now));
        // Past the time kept, it is forgotten.
        assert!(!seen.check_and_insert(4, a, now + Duration::from_secs(601)));
        assert_eq!(replay_score(0), 0.0);
        assert_eq!(replay_score(8), 1.0);
    }
}
