//! `livegate analyze PATH --verdict`: silent liveness's last line on real media.
//!
//! Needs `LIVEGATE_TEST_MEDIA` (the shared media folder) and the model files; each test says why
//! it skipped when they are missing.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{livegate, media};

/// The summary and the verdict, the last two lines of `analyze --verdict`.
fn verdict_of(path: &Path) -> (serde_json::Value, serde_json::Value) {
    let path = path.to_str().expect("utf-8 media path");
    let out = livegate(&["analyze", path, "--verdict"], Duration::from_secs(240));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "analyze --verdict {path} failed: {stderr}"
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let [.., summary, verdict] = lines.as_slice() else {
        panic!("fewer than two lines: {lines:?}");
    };
    assert!(
        summary.get("summary").is_some(),
        "summary before the verdict: {summary}"
    );
    let verdict = verdict
        .get("verdict")
        .unwrap_or_else(|| panic!("last line is not the verdict: {verdict}"));
    (summary["summary"].clone(), verdict.clone())
}

fn reasons(verdict: &serde_json::Value) -> Vec<String> {
    verdict["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("reasons is a list: {verdict}"))
        .iter()
        .map(|r| r.as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_single_image_is_not_enough_frames() {
    let Some(path) = media("face_recognition/obama.jpg") else {
        return;
    };
    let (_, verdict) = verdict_of(&path);
    assert_eq!(verdict["live"], false, "{verdict}");
    assert_eq!(reasons(&verdict), ["not_enough_frames"], "{verdict}");
    assert!(verdict["scores"].is_object(), "{verdict}");
}

#[test]
fn a_person_turning_and_talking_is_live() {
    let Some(path) = media("LivePortrait/d12.mp4") else {
        return;
    };
    let (_, verdict) = verdict_of(&path);
    assert_eq!(verdict["live"], true, "{verdict}");
    assert!(reasons(&verdict).is_empty(), "{verdict}");
    assert!(
        verdict["scores"]["planar_motion"].as_f64().is_some(),
        "{verdict}"
    );
}

#[test]
fn a_phone_replay_with_glare_is_not_live() {
    let Some(path) = media("Face-Liveness-detection_Manikantha-M/fake.mp4") else {
        return;
    };
    let (_, verdict) = verdict_of(&path);
    assert_eq!(verdict["live"], false, "{verdict}");
    assert!(reasons(&verdict).iter().any(|r| r == "glare"), "{verdict}");
}

#[test]
fn without_the_flag_there_is_no_verdict_line() {
    let Some(path) = media("face_recognition/obama.jpg") else {
        return;
    };
    let a = common::analyze(&path, &[]);
    assert!(a.events.iter().all(|e| e.get("verdict").is_none()));
}
