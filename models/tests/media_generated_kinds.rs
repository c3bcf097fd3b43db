//! Video kinds the media folder lacks (MPEG-2, VP9 in WebM, QuickTime .mov, a phone's rotation
//! flag), made from a real clip with the `ffmpeg` command-line tool; skipped where it is absent.
//! The rotated clip is checked against the `ffmpeg` tool's own upright decode.

use std::path::{Path, PathBuf};
use std::process::Command;

use image::RgbImage;
use livegate_models::media::{open_video, VideoOptions};

fn source_clip() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("LIVEGATE_TEST_MEDIA")?);
    let clip = dir.join("LivePortrait/s20.mp4");
    let tool = Command::new("ffmpeg").arg("-version").output().ok()?;
    (tool.status.success() && clip.is_file()).then_some(clip)
}

/// Run the ffmpeg tool quietly; false if it failed (an encoder missing from this build).
fn ffmpeg(args: &[&str]) -> bool {
    Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

fn frames(path: &Path, options: &VideoOptions) -> Vec<(f64, RgbImage)> {
    open_video(path, options)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|f| f.map(|f| (f.t, f.image)))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn mpeg2_vp9_and_mov_decode() {
    let Some(clip) = source_clip() else {
        eprintln!("skipped: LIVEGATE_TEST_MEDIA or the ffmpeg tool is missing");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = clip.to_string_lossy().into_owned();
    let kinds: [(&str, &[&str]); 3] = [
        ("mpeg2.mpg", &["-c:v", "mpeg2video", "-q:v", "4"]),
        (
            "vp9.webm",
            &[
                "-c:v",
                "libvpx-vp9",
                "-b:v",
                "1M",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
            ],
        ),
        ("h264.mov", &["-c:v", "copy"]),
    ];
    for (name, codec) in kinds {
        let out = dir.path().join(name);
        let out_s = out.to_string_lossy().into_owned();
        let mut args = vec!["-i", clip.as_str(), "-t", "2", "-an"];
        args.extend_from_slice(codec);
        args.push(out_s.as_str());
        if !ffmpeg(&args) {
            eprintln!("skipped {name}: the ffmpeg tool could not make it");
            continue;
        }
        let got = frames(&out, &VideoOptions::default());
        eprintln!(
            "{name}: {} frames, last t {:.2}",
            got.len(),
            got.last().map_or(0.0, |f| f.0)
        );
        // Two seconds at 30 fps.
        assert!(
            (55..=62).contains(&got.len()),
            "{name}: {} frames",
            got.len()
        );
        assert!(
            got.windows(2).all(|w| w[1].0 > w[0].0),
            "{name}: t not rising"
        );
        assert_eq!(got[0].1.dimensions(), (480, 908), "{name}");
    }
}

#[test]
fn a_phone_video_rotation_flag_is_honoured() {
    let Some(clip) = source_clip() else {
        eprintln!("skipped: LIVEGATE_TEST_MEDIA or the ffmpeg tool is missing");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = clip.to_string_lossy().into_owned();
    for degrees in ["90", "180", "270"] {
        let rotated = dir.path().join(format!("rot{degrees}.mp4"));
        let rotated_s = rotated.to_string_lossy().into_owned();
        let reference = dir.path().join(format!("rot{degrees}.png"));
        let reference_s = reference.to_string_lossy().into_owned();
        let tag = format!("rotate={degrees}");
        assert!(ffmpeg(&[
            "-i",
            &clip,
            "-t",
            "1",
            "-an",
            "-c:v",
            "copy",
            "-metadata:s:v:0",
            &tag,
            &rotated_s
        ]));
        // The ffmpeg tool turns frames upright by default: that is the reference.
        assert!(ffmpeg(&["-i", &rotated_s, "-frames:v", "1", &reference_s]));
        let expected = image::open(&reference).expect("reference png").to_rgb8();
        let options = VideoOptions {
            fit: None,
            max_frames: Some(1),
        };
        let got = &frames(&rotated, &options)[0].1;
        assert_eq!(got.dimensions(), expected.dimensions(), "rotate={degrees}");
        let diff: f64 = got
            .as_raw()
            .iter()
            .zip(expected.as_raw())
            .map(|(a, b)| f64::from(a.abs_diff(*b)))
            .sum::<f64>()
            / got.as_raw().len() as f64;
        // Scaler differences only (a wrong turn differs by tens of levels).
        assert!(diff < 4.0, "rotate={degrees}: mean difference {diff}");
    }
}
