//! Silent liveness and injection cues inside `SessionLogic` (docs/attacks.md): the silent mode's
//! look, and a cue that fails a session whose actions were done.

use livegate_actors::actions::ActionKind;
use livegate_actors::session::{
    FailReason, LivenessMode, SessionConfig, SessionEvent, SessionLogic, SILENT_MAX_S,
};
use livegate_actors::synthetic::{face_frame, with_eyes};
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
