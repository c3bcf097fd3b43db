//! Silent liveness and injection cues inside `SessionLogic` (docs/attacks.md): the silent mode's
//! look, and a cue that fails a session whose actions were done.

use image::RgbImage;
use livegate_actors::actions::ActionKind;
use livegate_actors::session::{
    FailReason, LivenessMode, SessionConfig, SessionEvent, SessionLogic, SILENT_MAX_S,
};
use livegate_actors::synthetic::{face_frame, jitter, with_eyes, FRAME_HEIGHT, FRAME_WIDTH};
use livegate_models::FrameAnalysis;

fn drive(
    logic: &mut SessionLogic,
    until: f64,
    frame: impl Fn(f64) -> FrameAnalysis,
) -> Vec<SessionEvent> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let t = f64::from(i) / 15.0;
        if t > until || logic.is_finished() {
            break;
        }
        out.extend(logic.on_frame(&frame(t)));
        i += 1;
    }
    out
}

#[test]
fn a_silent_session_asks_nothing_and_decides_from_the_silent_cues() {
    let config = SessionConfig::silent();
    assert_eq!(config.mode, LivenessMode::Silent);
    config.validate().expect("a silent session needs no steps");
    let mut logic = SessionLogic::new(config).expect("runs");
    assert_eq!(logic.mode(), LivenessMode::Silent);
    // A face that never moves: the plane cue cannot tell, and the look ends undecided.
    let events = drive(&mut logic, 10.0, face_frame);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, SessionEvent::StepStarted { .. })),
        "{events:?}"
    );
    let verdict = logic.verdict().expect("decided within the look");
    assert!(!verdict.passed);
    assert_eq!(verdict.reasons, vec![FailReason::NotEnoughMotion]);
    // It ends at the longest look (the first frame with a face starts it), not by the timeout.
    let mut again = SessionLogic::new(SessionConfig::silent()).expect("runs");
    let mut finished_at = None;
    for i in 0..150 {
        let t = f64::from(i) / 15.0;
        let ev = again.on_frame(&face_frame(t));
        if ev
            .iter()
            .any(|e| matches!(e, SessionEvent::Finished { .. }))
        {
            finished_at = Some(t);
            break;
        }
    }
    let at = finished_at.expect("finished within 10 s");
    assert!(
        (SILENT_MAX_S..SILENT_MAX_S + 0.2).contains(&at),
        "finished at {at}"
    );
}

#[test]
fn an_action_session_still_needs_its_steps() {
    let config = SessionConfig {
        mode: LivenessMode::Action,
        ..SessionConfig::new(Vec::new())
    };
    assert!(
        config.validate().is_err(),
        "an action session with no steps"
    );
}

#[test]
fn a_virtual_camera_fails_a_session_whose_actions_were_done() {
    let blink = |t: f64| {
        let mut f = face_frame(t);
        if (1.5..1.7).contains(&t) {
            if let Some(m) = f.main.take() {
                f.main = Some(with_eyes(m, 0.1));
            }
        }
        f
    };
    let mut clean = SessionLogic::new(SessionConfig::new(vec![ActionKind::Blink])).expect("runs");
    drive(&mut clean, 8.0, blink);
    assert_eq!(
        clean.verdict().map(|v| v.passed),
        Some(true),
        "{:?}",
        clean.verdict()
    );

    let mut injected =
        SessionLogic::new(SessionConfig::new(vec![ActionKind::Blink])).expect("runs");
    injected.on_injection_cue(FailReason::VirtualCamera, 1.0);
    injected.on_injection_cue(FailReason::FrameTiming, 0.0);
    drive(&mut injected, 8.0, blink);
    let verdict = injected.verdict().expect("finished");
    assert!(!verdict.passed);
    assert_eq!(verdict.reasons, vec![FailReason::VirtualCamera]);
    let scores = injected.injection_scores();
    assert_eq!(scores.get("virtual_camera"), Some(&1.0));
    assert_eq!(scores.get("frame_timing"), Some(&0.0));
}

/// The synthetic face (its box 220..420 x 140..360) before a wall, with or without a phone held
/// up to the camera: a dark bezel around a brighter picture that holds the face. Noise from the
/// frame's time, so no two frames are equal.
fn room(t: f64, phone: bool) -> RgbImage {
    let seed = (t * 1000.0) as usize;
    RgbImage::from_fn(FRAME_WIDTH, FRAME_HEIGHT, |x, y| {
        let (u, v) = (x as f32 - 320.0, y as f32 - 250.0);
        let face = (u / 95.0).powi(2) + (v / 110.0).powi(2) < 1.0;
        let value = if face {
            150.0 + 0.1 * u
        } else if phone && u.abs() < 150.0 && v.abs() < 190.0 {
            200.0 - 0.1 * v
        } else if phone && u.abs() < 165.0 && v.abs() < 205.0 {
            14.0
        } else {
            120.0 - 0.05 * y as f32
        };
        let noise = 4.0 * jitter(seed + (y * FRAME_WIDTH + x) as usize);
        let p = (value + noise).clamp(0.0, 255.0) as u8;
        image::Rgb([p, p, p.saturating_add(4)])
    })
}

fn held_phone(t: f64) -> RgbImage {
    room(t, true)
}

fn plain_wall(t: f64) -> RgbImage {
    room(t, false)
}

/// A blink session fed `pixels(t)` with every analysis.
fn blink_before(pixels: fn(f64) -> RgbImage, report_only_cues: Vec<String>) -> SessionLogic {
    let config = SessionConfig {
        report_only_cues,
        ..SessionConfig::new(vec![ActionKind::Blink])
    };
    let mut logic = SessionLogic::new(config).expect("runs");
    for i in 0..120 {
        let t = f64::from(i) / 15.0;
        if logic.is_finished() {
            break;
        }
        let mut f = face_frame(t);
        if (1.5..1.7).contains(&t) {
            f.main = f.main.take().map(|m| with_eyes(m, 0.1));
        }
        logic.on_frame_with_pixels(&f, Some(&pixels(t)));
    }
    logic
}

#[test]
fn a_phone_held_to_the_camera_fails_an_action_session_unless_its_border_is_report_only() {
    let wall = blink_before(plain_wall, Vec::new());
    assert_eq!(
        wall.verdict().map(|v| v.passed),
        Some(true),
        "{:?}",
        wall.verdict()
    );

    let refused = blink_before(held_phone, Vec::new());
    let verdict = refused.verdict().expect("finished");
    assert!(!verdict.passed, "{verdict:?}");
    assert_eq!(verdict.reasons, vec![FailReason::Border]);

    // A site whose doorway frames faces keeps the cue for the record only: the same blink
    // passes, and the result still says what the cue read.
    let reported = blink_before(held_phone, vec!["border".to_owned()]);
    let verdict = reported.verdict().expect("finished");
    assert!(verdict.passed, "{verdict:?}");
    let border = reported.silent_verdict().scores.get("border").copied();
    assert!(border.is_some_and(|s| s >= 0.5), "border read {border:?}");
}
