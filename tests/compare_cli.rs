//! `livegate compare A B` through the real binary on real photos: one JSON line when each image
//! holds one face, exit 1 and a line naming the image when one does not.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{livegate, media};

const LIMIT: Duration = Duration::from_secs(120);

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The `compare` object of a successful run.
fn compare_ok(a: &Path, b: &Path) -> serde_json::Value {
    let out = livegate(&["compare", path(a), path(b)], LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "compare failed: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {stdout}");
    let line: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON line");
    let compare = line["compare"].clone();
    let score = compare["score"].as_f64().expect("a score");
    assert!((0.0..=1.0).contains(&score), "{compare}");
    assert!(compare["distance"].as_f64().is_some(), "{compare}");
    compare
}

/// The one stderr line of a run that must fail with exit code 1.
fn compare_err(a: &Path, b: &Path) -> String {
    let out = livegate(&["compare", path(a), path(b)], LIMIT);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "no answer on stdout: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    stderr
}

#[test]
fn two_photos_of_one_person_are_the_same_person() {
    let (Some(a), Some(b)) = (
        media("face_recognition/obama.jpg"),
        media("face_recognition/obama2.jpg"),
    ) else {
        return;
    };
    let compare = compare_ok(&a, &b);
    assert_eq!(compare["same_person"], true, "{compare}");
    assert!(compare["score"].as_f64().unwrap() > 0.5, "{compare}");
}

#[test]
fn two_people_are_not_the_same_person() {
    let (Some(a), Some(b)) = (
        media("face_recognition/obama.jpg"),
        media("face_recognition/biden.jpg"),
    ) else {
        return;
    };
    let compare = compare_ok(&a, &b);
    assert_eq!(compare["same_person"], false, "{compare}");
    assert!(compare["score"].as_f64().unwrap() < 0.5, "{compare}");
}

#[test]
fn an_image_without_a_face_is_named() {
    let (Some(face), Some(dogs)) = (media("face_recognition/obama.jpg"), media("dlib/dogs.jpg"))
    else {
        return;
    };
    let stderr = compare_err(&face, &dogs);
    assert_eq!(
        stderr,
        format!("livegate: {}: no face found", dogs.display())
    );

    // A blank picture, as the first image this time.
    let dir = tempfile::tempdir().unwrap();
    let blank = dir.path().join("blank.png");
    image::RgbImage::from_pixel(320, 240, image::Rgb([200, 200, 200]))
        .save(&blank)
        .unwrap();
    let stderr = compare_err(&blank, &face);
    assert_eq!(
        stderr,
        format!("livegate: {}: no face found", blank.display())
    );
}

#[test]
fn a_group_photo_is_named_with_its_face_count() {
    let (Some(face), Some(group)) = (
        media("face_recognition/obama.jpg"),
        media("dlib/2008_001322.jpg"),
    ) else {
        return;
    };
    let stderr = compare_err(&face, &group);
    assert_eq!(
        stderr,
        format!(
            "livegate: {}: several faces (3): one person per image",
            group.display()
        )
    );
}

#[test]
fn an_unreadable_or_undecodable_file_is_named() {
    let Some(face) = media("face_recognition/obama.jpg") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.jpg");
    let stderr = compare_err(&face, &missing);
    assert!(
        stderr.starts_with(&format!("livegate: {}: cannot read", missing.display())),
        "{stderr}"
    );
    let garbage = dir.path().join("garbage.jpg");
    std::fs::write(&garbage, b"\xFF\xD8\xFFnot really a jpeg").unwrap();
    let stderr = compare_err(&garbage, &face);
    assert!(
        stderr.starts_with(&format!(
            "livegate: {}: not a decodable image",
            garbage.display()
        )),
        "{stderr}"
    );
}
