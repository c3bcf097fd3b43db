//! `livegate analyze` on real face media: the actions, faces and prompts a person would see.
//!
//! Needs `LIVEGATE_TEST_MEDIA` (the shared media folder) and the model files; each test says why
//! it skipped when they are missing.

mod common;

use common::{analyze, media, Analysis};

fn count(a: &Analysis, key: &str) -> u64 {
    a.summary[key]
        .as_u64()
        .unwrap_or_else(|| panic!("summary has no count {key}: {}", a.summary))
}

#[test]
fn blinks_in_a_blink_video() {
    let Some(path) = media("Blink-Detector_repeating/video.mp4") else {
        return;
    };
    let a = analyze(&path, &[]);
    let blinks = count(&a, "blink");
    assert!(
        (3..=12).contains(&blinks),
        "expected several deliberate blinks, got {blinks}: {}",
        a.summary
    );
    assert_eq!(
        count(&a, "turn_left") + count(&a, "turn_right"),
        0,
        "{}",
        a.summary
    );
}

#[test]
fn long_eye_closure_is_not_a_string_of_blinks() {
    let Some(path) = media("Closed_eyes_detector/me.mp4") else {
        return;
    };
    let a = analyze(&path, &[]);
    assert!(
        count(&a, "eyes_closed") >= 1,
        "the long closure is seen: {}",
        a.summary
    );
    assert!(
        count(&a, "blink") <= 4,
        "a long closure is not many blinks: {}",
        a.summary
    );
}

#[test]
fn mouth_opening() {
    let Some(path) = media("LivePortrait/d18.mp4") else {
        return;
    };
    let a = analyze(&path, &[]);
    assert!(count(&a, "mouth_open") >= 1, "{}", a.summary);
}

#[test]
fn turns_both_ways_and_nods() {
    let Some(path) = media("face_anti_spoofing_tranvanluyt2203/real.mp4") else {
        return;
    };
    let a = analyze(&path, &[]);
    assert!(count(&a, "turn_left") >= 1, "{}", a.summary);
    assert!(count(&a, "turn_right") >= 1, "{}", a.summary);
    assert!(count(&a, "nod") >= 1, "{}", a.summary);
    // Every event carries its time within the 20.7 s clip.
    let times: Vec<f64> = a.events.iter().filter_map(|e| e["t"].as_f64()).collect();
    assert_eq!(
        times.len(),
        a.events.len(),
        "every event has a time: {:?}",
        a.events
    );
    assert!(times.iter().all(|t| (0.0..=20.8).contains(t)), "{times:?}");
}

#[test]
fn a_still_face_does_no_action() {
    let Some(path) = media("eulerian-remote-heartrate-detection/face.mp4") else {
        return;
    };
    let a = analyze(&path, &[]);
    for key in ["blink", "mouth_open", "turn_left", "turn_right", "nod"] {
        assert_eq!(count(&a, key), 0, "{key} on a still face: {}", a.summary);
    }
    assert_eq!(count(&a, "faces_max"), 1, "{}", a.summary);
    assert!(count(&a, "frames") >= 250, "10 s at 30 fps: {}", a.summary);
}

#[test]
fn counts_faces_in_photos() {
    for (file, faces) in [
        ("face_recognition/two_people.jpg", 2..=2),
        ("face_recognition/obama.jpg", 1..=1),
        ("dlib/2008_001322.jpg", 3..=3),
        ("dlib/2008_002506.jpg", 3..=3),
        ("dlib/2009_004587.jpg", 2..=2),
        ("dlib/2007_007763.jpg", 5..=9),
        ("dlib/dogs.jpg", 0..=0),
    ] {
        let Some(path) = media(file) else { return };
        let a = analyze(&path, &[]);
        let n = count(&a, "faces_max");
        assert!(faces.contains(&n), "{file}: {n} faces, expected {faces:?}");
    }
}

#[test]
fn no_face_prompt_on_dogs() {
    let Some(path) = media("dlib/dogs.jpg") else {
        return;
    };
    let a = analyze(&path, &[]);
    assert!(
        a.summary["prompts"]["NO_FACE"].as_u64().unwrap_or(0) >= 1,
        "{}",
        a.summary
    );
}
