//! `livegate attacks`: a small subset of the attack battery on real media, through the session
//! actors' own decision (docs/attacks.md).
//!
//! Needs `LIVEGATE_TEST_MEDIA` (the shared media folder) and the model files; skips with the
//! reason on stderr without them.

mod common;

use std::time::Duration;

use common::{livegate, media};
use serde_json::Value;

/// Runs the battery with `args` and returns its `attacks` object (the last line).
fn battery(args: &[&str]) -> Value {
    let media_dir = std::env::var("LIVEGATE_TEST_MEDIA").unwrap_or_default();
    let mut all = vec!["attacks", "--media", media_dir.as_str()];
    all.extend_from_slice(args);
    let out = livegate(&all, Duration::from_secs(600));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "attacks {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    let line: Value = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("last line is not JSON ({e}): {last}"));
    assert!(
        stdout.contains("| species |"),
        "the table comes before the JSON line: {stdout}"
    );
    line["attacks"].clone()
}

fn rate(row: &Value, mode: &str, key: &str) -> f64 {
    row[mode][key]
        .as_f64()
        .unwrap_or_else(|| panic!("{mode}.{key} is a number: {row}"))
}

#[test]
fn moved_prints_and_injected_sessions_are_stopped() {
    if media("face_recognition/obama.jpg").is_none()
        || media("Blink-Detector_repeating/video.mp4").is_none()
    {
        return;
    }
    let attacks = battery(&["--species", "print_moved,injected_session", "--limit", "2"]);
    let print = &attacks["print_moved"];
    assert_eq!(print["action"]["presentations"], 2, "{print}");
    assert_eq!(
        rate(print, "action", "apcer"),
        0.0,
        "a moved print passed: {print}"
    );
    // A recorded session played to a new one: its frames were seen on this node minutes ago.
    let injected = &attacks["injected_session"];
    assert_eq!(injected["action"]["presentations"], 2, "{injected}");
    // The colour session's page replays the frames lit by the recorded session's sequence.
    for mode in ["action", "silent", "colour"] {
        assert_eq!(rate(injected, mode, "apcer"), 0.0, "{mode}: {injected}");
        assert_eq!(
            injected[mode]["reasons"]["replayed_frames"], 2,
            "{mode}: every injected session named replayed_frames: {injected}"
        );
    }
}

#[test]
fn people_doing_what_is_asked_pass_the_action_session() {
    if media("LivePortrait/d18.mp4").is_none() {
        return;
    }
    // The three people whose actions are known (the load test's): all must pass (docs/attacks.md).
    let attacks = battery(&[
        "--species",
        "live",
        "--only",
        "Blink-Detector_repeating,tranvanluyt2203/real,LivePortrait/d18",
    ]);
    let row = &attacks["live"];
    assert_eq!(row["action"]["presentations"], 3, "{row}");
    assert_eq!(
        rate(row, "action", "bpcer"),
        0.0,
        "a live person refused: {row}"
    );
}

#[test]
fn a_screen_held_with_its_bezel_in_view_is_refused_even_when_the_action_is_done() {
    if media("LivePortrait/d18.mp4").is_none() {
        return;
    }
    // The person on the screen does the asked blink and their head's parallax survives the
    // screen: only the bezel around the face gives it away (docs/attacks.md, `border`).
    let attacks = battery(&[
        "--species",
        "screen_replay",
        "--only",
        "LivePortrait/d18",
        "--modes",
        "action,silent",
    ]);
    let screen = &attacks["screen_replay"];
    for mode in ["action", "silent"] {
        assert_eq!(screen[mode]["presentations"], 1, "{mode}: {screen}");
        assert_eq!(rate(screen, mode, "apcer"), 0.0, "{mode}: {screen}");
        assert_eq!(
            screen[mode]["reasons"]["border"], 1,
            "{mode}: refused for its border: {screen}"
        );
    }
}

#[test]
fn a_colour_session_passes_a_live_clip_and_refuses_a_flat_print() {
    if media("face_recognition/obama.jpg").is_none()
        || media("Blink-Detector_repeating/video.mp4").is_none()
    {
        return;
    }
    // Only the colour session: the page simulated, lighting a live person with the session's
    // own sequence and a moved print evenly, as a sheet of paper (docs/attacks.md).
    let attacks = battery(&[
        "--species",
        "live,print_moved",
        "--limit",
        "1",
        "--only",
        "Blink-Detector_repeating,obama",
        "--modes",
        "colour",
    ]);
    let live = &attacks["live"];
    assert!(
        live.get("action").is_none() && live.get("silent").is_none(),
        "only the colour session was asked for: {live}"
    );
    assert_eq!(live["colour"]["presentations"], 1, "{live}");
    assert_eq!(
        rate(live, "colour", "bpcer"),
        0.0,
        "a live person lit by the flash was refused: {live}"
    );
    let print = &attacks["print_moved"];
    assert_eq!(print["colour"]["presentations"], 1, "{print}");
    assert_eq!(
        rate(print, "colour", "apcer"),
        0.0,
        "a print passed: {print}"
    );
    assert_eq!(
        print["colour"]["reasons"]["flash_flat"], 1,
        "the print was refused as lit like a flat sheet: {print}"
    );
}

#[test]
fn an_unknown_species_is_a_usage_error() {
    let out = livegate(
        &[
            "attacks",
            "--media",
            "/nonexistent",
            "--species",
            "hologram",
        ],
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown species \"hologram\""), "{stderr}");
}
