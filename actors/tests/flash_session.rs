//! The colour-flash session path without HTTP: real clips, lit by the simulator, through the
//! engine and the session's state machine exactly as the session actor feeds it.
//!
//! Chromium's fake camera cannot reflect the screen, so the real-time end-to-end cannot stage a
//! live flash; this test plays the page instead: it waits for the session's `FlashStarted`,
//! then lights the clip's frames with the challenge's sequence from that moment (or with an
//! attack's light), tags them as the page does, sends each through a JPEG round trip at the
//! page's quality, runs the engine on the result, and feeds the session
//! (`note_flash_tag`, then `on_frame_with_pixels`).
//!
//! Needs `LIVEGATE_TEST_MEDIA` and the model files (`LIVEGATE_MODELS_DIR` or `var/models`).

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::RgbImage;
use livegate_actors::flash::{choose_sequence, colour_only_session, FlashRules};
use livegate_actors::prompts::PromptCode;
use livegate_actors::session::{FailReason, SessionEvent, SessionLogic};
use livegate_models::flash::sim::{stage, SimRng, Staging, PAGE_LEAD_S};
use livegate_models::media::{open_video, VideoOptions};
use livegate_models::{
    AnalysisNeeds, Analyzer, AnalyzerConfig, FaceEngine, FaceObservation, ModelRegistry, TrackState,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn setup() -> Option<(PathBuf, Analyzer)> {
    let root = PathBuf::from(std::env::var_os("LIVEGATE_TEST_MEDIA")?);
    let dir = std::env::var_os("LIVEGATE_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../var/models"));
    match ModelRegistry::open(&dir).and_then(|r| Analyzer::new(&r, AnalyzerConfig::default())) {
        Ok(a) => Some((root, a)),
        Err(e) => {
            eprintln!("skipped: models: {e}");
            None
        }
    }
}

const NEEDS: AnalysisNeeds = AnalysisNeeds {
    eyes: false,
    detect: false,
};

/// The clip's first 6 s at 15 frames a second (the page's top rate), with the main face.
fn clip(engine: &mut Analyzer, path: &Path) -> Vec<(f64, RgbImage, FaceObservation)> {
    let options = VideoOptions {
        fit: Some((480, 640)),
        max_frames: None,
    };
    let mut track = TrackState::default();
    let mut out = Vec::new();
    let mut last: Option<f64> = None;
    for f in open_video(path, &options).unwrap() {
        let f = f.unwrap();
        if f.t > 6.0 {
            break;
        }
        if last.is_some_and(|l| f.t - l < 1.0 / 15.0 - 0.005) {
            continue;
        }
        last = Some(f.t);
        let a = engine.analyze(&f.image, f.t, &mut track, NEEDS).unwrap();
        if let Some(face) = a.main {
            out.push((f.t, f.image, face));
        }
    }
    out
}

fn jpeg(image: &RgbImage) -> RgbImage {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(Cursor::new(&mut bytes), 80)
        .encode_image(image)
        .unwrap();
    image::load_from_memory(&bytes).unwrap().into_rgb8()
}

fn colour_session(seed: u64) -> (SessionLogic, Vec<livegate_models::flash::FlashStep>) {
    let sequence = choose_sequence(&FlashRules::default(), &mut StdRng::seed_from_u64(seed))
        .expect("the default rule is valid");
    (
        SessionLogic::new(colour_only_session(sequence.clone())).expect("a colour-only session"),
        sequence,
    )
}

/// Runs one staged session; returns its events.
fn run(
    engine: &mut Analyzer,
    frames: &[(f64, RgbImage, FaceObservation)],
    staging: Staging,
    seed: u64,
) -> (SessionLogic, Vec<SessionEvent>) {
    // When does the session ask for the flash? The frames before it are unlit.
    let (mut probe, _) = colour_session(seed);
    let mut track = TrackState::default();
    let mut started = None;
    for (t, image, _) in frames {
        let a = engine.analyze(image, *t, &mut track, NEEDS).unwrap();
        let ev = probe.on_frame_with_pixels(&a, Some(image));
        if let Some(SessionEvent::FlashStarted { t }) = ev
            .iter()
            .find(|e| matches!(e, SessionEvent::FlashStarted { .. }))
        {
            started = Some(*t);
            break;
        }
    }
    let started = started.expect("the session asked for the flash");
    // The page hears it, says "hold still, close to the screen", then flashes.
    let (mut logic, sequence) = colour_session(seed);
    let staged = stage(
        frames,
        &sequence,
        started + PAGE_LEAD_S,
        staging,
        &mut SimRng::new(seed),
    );
    let mut track = TrackState::default();
    let mut events = Vec::new();
    for f in staged {
        let seen = jpeg(&f.image);
        let a = engine.analyze(&seen, f.t, &mut track, NEEDS).unwrap();
        logic.note_flash_tag(f.t, f.tag);
        events.extend(logic.on_frame_with_pixels(&a, Some(&seen)));
        if logic.is_finished() {
            break;
        }
    }
    (logic, events)
}

#[test]
fn a_colour_session_passes_a_lit_face_and_fails_each_attack_for_its_reason() {
    let Some((root, mut engine)) = setup() else {
        eprintln!("skipped: LIVEGATE_TEST_MEDIA or the models are missing");
        return;
    };
    for (k, name) in ["LivePortrait/d19.mp4", "video-retalking/1.mp4"]
        .iter()
        .enumerate()
    {
        let frames = clip(&mut engine, &root.join(name));
        for staging in Staging::ALL {
            let seed = 77 + 10 * k as u64 + staging as u64;
            let (logic, events) = run(&mut engine, &frames, staging, seed);
            let verdict = logic.verdict().cloned();
            let flash = logic.flash_verdict().cloned();
            println!("{name} {}: {verdict:?} {flash:?}", staging.as_str());
            let verdict = verdict.unwrap_or_else(|| panic!("{name} {staging:?}: no verdict"));
            let expected = match staging {
                Staging::Live => None,
                Staging::OtherSequence => Some(FailReason::FlashWrongSequence),
                Staging::FlatPhoto => Some(FailReason::FlashFlat),
                Staging::NoReaction => Some(FailReason::FlashNoResponse),
                Staging::BrightAmbient => Some(FailReason::FlashTooBright),
            };
            match expected {
                None => {
                    assert!(verdict.passed, "{name} live: {verdict:?} {flash:?}");
                    assert!(flash.is_some_and(|f| f.live && f.score > 0.0));
                }
                Some(reason) => {
                    assert_eq!(
                        verdict.reasons,
                        vec![reason],
                        "{name} {staging:?} {flash:?}"
                    )
                }
            }
            if staging == Staging::BrightAmbient {
                // The person is told, not failed silently.
                assert!(
                    events.iter().any(|e| matches!(
                        e,
                        SessionEvent::PromptRaised {
                            code: PromptCode::TooBright,
                            ..
                        }
                    )),
                    "{events:?}"
                );
            }
        }
    }
}
