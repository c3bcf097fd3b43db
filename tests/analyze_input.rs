//! `livegate analyze` on bad input says what is wrong and exits; it never crashes or hangs. And
//! frames of two people spliced together raise FACE_CHANGED.

mod common;

use std::process::Command;

use common::{analyze, analyze_error, media};

#[test]
fn not_an_image_or_video() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("notes.jpg");
    std::fs::write(&text, "this is not a picture\n").expect("write");
    let err = analyze_error(&text);
    assert!(err.contains("not a decodable"), "{err}");

    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").expect("write");
    let err = analyze_error(&empty);
    assert!(
        err.contains("not a decodable") || err.contains("empty"),
        "{err}"
    );

    let err = analyze_error(&dir.path().join("missing.mp4"));
    assert!(err.contains("missing.mp4"), "names the file: {err}");
}

#[test]
fn frames_too_small_or_too_large() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tiny = dir.path().join("tiny.png");
    image::RgbImage::new(1, 1).save(&tiny).expect("write");
    let err = analyze_error(&tiny);
    assert!(err.contains("frame size 1x1"), "{err}");

    // A PNG whose header claims 10000x10000 (with a token IDAT chunk): refused from the header,
    // before any pixel is decoded or allocated.
    let huge = dir.path().join("huge.png");
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&10_000u32.to_be_bytes());
    ihdr.extend_from_slice(&10_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale, deflate, no filter, no interlace
    png_chunk(&mut png, b"IHDR", &ihdr);
    png_chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    );
    png_chunk(&mut png, b"IEND", &[]);
    std::fs::write(&huge, &png).expect("write");
    let err = analyze_error(&huge);
    assert!(err.contains("frame size 10000x10000"), "{err}");
}

/// Append one PNG chunk (length, type, data, CRC-32 of type and data).
fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let len = u32::try_from(data.len()).expect("small chunk");
    out.extend_from_slice(&len.to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = 0xffff_ffffu32;
    for &byte in &out[start..] {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    out.extend_from_slice(&(!crc).to_be_bytes());
}

#[test]
fn truncated_video_ends_cleanly() {
    let Some(clip) = media("face_anti_spoofing_tranvanluyt2203/real.mp4") else {
        return;
    };
    let bytes = std::fs::read(&clip).expect("read clip");
    let dir = tempfile::tempdir().expect("tempdir");
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() * 3 / 10]).expect("write");
    let out = common::livegate(
        &["analyze", cut.to_str().expect("path")],
        std::time::Duration::from_secs(120),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Either the frames that decode are analysed, or the file is refused with a reason.
    if out.status.success() {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout
                .lines()
                .last()
                .is_some_and(|l| l.contains("\"summary\"")),
            "{stdout}"
        );
    } else {
        assert!(stderr.contains("not a decodable video"), "{stderr}");
    }
}

/// Two people's clips, 3 s each at 15 fps, joined into one video with ffmpeg.
fn spliced(a: &std::path::Path, b: &std::path::Path, out: &std::path::Path) {
    let fit = "scale=480:640:force_original_aspect_ratio=decrease,pad=480:640:(ow-iw)/2:(oh-ih)/2,fps=15,format=yuv420p,setsar=1";
    let filter = format!(
        "[0:v]trim=0:3,setpts=PTS-STARTPTS,{fit}[a];[1:v]trim=0:3,setpts=PTS-STARTPTS,{fit}[b];[a][b]concat=n=2:v=1[out]"
    );
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(a)
        .arg("-i")
        .arg(b)
        .args([
            "-filter_complex",
            &filter,
            "-map",
            "[out]",
            "-an",
            "-c:v",
            "libx264",
        ])
        .arg(out)
        .status()
        .expect("ffmpeg runs (scripts/setup installs it)");
    assert!(status.success(), "ffmpeg spliced the clips");
}

#[test]
fn face_changed_when_two_people_are_spliced() {
    let (Some(a), Some(b)) = (
        media("face_anti_spoofing_tranvanluyt2203/real.mp4"),
        media("eulerian-remote-heartrate-detection/face.mp4"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let both = dir.path().join("both.mp4");
    spliced(&a, &b, &both);
    let r = analyze(&both, &[]);
    let changed: Vec<f64> = r
        .events
        .iter()
        .filter(|e| e["event"] == "prompt" && e["code"] == "FACE_CHANGED")
        .filter_map(|e| e["t"].as_f64())
        .collect();
    assert!(!changed.is_empty(), "no FACE_CHANGED: {}", r.summary);
    assert!(
        changed.iter().all(|t| *t >= 2.9),
        "FACE_CHANGED only after the splice at 3 s: {changed:?}"
    );

    // The same person all along: no FACE_CHANGED.
    let same = dir.path().join("same.mp4");
    spliced(&a, &a, &same);
    let r = analyze(&same, &[]);
    assert!(
        r.summary["prompts"].get("FACE_CHANGED").is_none(),
        "{}",
        r.summary
    );
}
