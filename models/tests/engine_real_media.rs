//! The engine on real faces: counts, blinks, head pose, tracking and bad frame sizes.
//!
//! Needs `LIVEGATE_TEST_MEDIA` (the shared face media), the model files (`LIVEGATE_MODELS_DIR` or
//! `var/models`) and the `ffmpeg` CLI for videos; each test says why when it skips.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use image::RgbImage;
use livegate_models::iris::IrisReuse;
use livegate_models::{
    AnalysisNeeds, Analyzer, AnalyzerConfig, EngineError, FaceEngine, FrameAnalysis, ModelRegistry,
    TrackState,
};

fn media(path: &str) -> Option<PathBuf> {
    let Some(root) = std::env::var_os("LIVEGATE_TEST_MEDIA") else {
        eprintln!("skipped: LIVEGATE_TEST_MEDIA is not set");
        return None;
    };
    let file = Path::new(&root).join(path);
    if file.is_file() {
        Some(file)
    } else {
        eprintln!("skipped: {} is missing", file.display());
        None
    }
}

fn analyzer() -> Option<Analyzer> {
    analyzer_with(AnalyzerConfig::default())
}

fn analyzer_with(config: AnalyzerConfig) -> Option<Analyzer> {
    let dir = std::env::var_os("LIVEGATE_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../var/models"));
    match ModelRegistry::open(&dir) {
        Ok(registry) => Some(Analyzer::new(&registry, config).unwrap()),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

fn image(path: &Path) -> RgbImage {
    image::open(path).unwrap().to_rgb8()
}

/// Every frame of a clip scaled to `width` (height keeps the aspect, even), via the ffmpeg CLI.
fn video_frames(path: &Path, width: u32) -> Option<Vec<RgbImage>> {
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=width,height", "-of", "csv=p=0"])
        .arg(path)
        .output();
    let Ok(probe) = probe else {
        eprintln!("skipped: ffprobe is not installed");
        return None;
    };
    let dims = String::from_utf8_lossy(&probe.stdout);
    let (w, h) = dims.trim().split_once(',')?;
    let (w, h): (f64, f64) = (w.parse().ok()?, h.parse().ok()?);
    let height = ((h / w * width as f64 / 2.0).round() * 2.0) as u32;
    let mut child = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-vf", &format!("scale={width}:{height}")])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut raw = Vec::new();
    child.stdout.take()?.read_to_end(&mut raw).ok()?;
    child.wait().ok()?;
    let len = (width * height * 3) as usize;
    Some(
        raw.chunks_exact(len)
            .map(|c| RgbImage::from_raw(width, height, c.to_vec()).unwrap())
            .collect(),
    )
}

fn run_clip(analyzer: &mut Analyzer, frames: &[RgbImage], fps: f64) -> Vec<FrameAnalysis> {
    let mut track = TrackState::default();
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            analyzer
                .analyze(f, i as f64 / fps, &mut track, AnalysisNeeds::default())
                .unwrap()
        })
        .collect()
}

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

#[test]
fn counts_faces_in_photos() {
    let Some(mut analyzer) = analyzer() else {
        return;
    };
    // (photo, faces BlazeFace can see): INDEX.md's counts; the two groups of "about 8" give 7.
    let cases: [(&str, std::ops::RangeInclusive<usize>); 9] = [
        ("face_recognition/two_people.jpg", 2..=2),
        ("dlib/2008_001009.jpg", 2..=2),
        ("dlib/2008_001322.jpg", 3..=3),
        ("dlib/2008_002506.jpg", 3..=3),
        ("dlib/2009_004587.jpg", 2..=2),
        ("dlib/Tom_Cruise_avp_2014_4.jpg", 1..=1),
        ("dlib/2007_007763.jpg", 6..=9),
        ("dlib/dogs.jpg", 0..=0),
        ("dlib/2008_004176.jpg", 6..=9),
    ];
    for (path, expected) in cases {
        let Some(file) = media(path) else { return };
        let faces = analyzer.detect_faces(&image(&file)).unwrap();
        assert!(
            expected.contains(&faces.len()),
            "{path}: {} faces, expected {expected:?}",
            faces.len()
        );
        for pair in faces.windows(2) {
            assert!(
                pair[0].face.area() >= pair[1].face.area(),
                "{path}: not largest first"
            );
        }
    }
}

#[test]
fn main_face_of_a_photo_is_fully_analysed() {
    let Some(mut analyzer) = analyzer() else {
        return;
    };
    let Some(file) = media("face_recognition/two_people.jpg") else {
        return;
    };
    let frame = image(&file);
    let analysis = analyzer
        .analyze(
            &frame,
            0.0,
            &mut TrackState::default(),
            AnalysisNeeds::default(),
        )
        .unwrap();
    assert!(analysis.detected);
    assert_eq!(analysis.faces.len(), 2);
    let main = analysis.main.expect("main face");
    assert_eq!(main.mesh.len(), 468);
    assert!(main.presence > 0.9, "presence {}", main.presence);
    let [left, right] = main.eye_openness();
    assert!(
        left > 0.15 && right > 0.15,
        "eyes open in the photo: {left} {right}"
    );
    let (cx, cy) = main.face.center();
    // The main face's centre lies inside the largest detected box.
    let biggest = analysis.faces[0];
    assert!(cx > biggest.x && cx < biggest.x + biggest.width);
    assert!(cy > biggest.y - biggest.height * 0.5 && cy < biggest.y + biggest.height * 1.5);
}

#[test]
fn both_eyes_in_one_batch_read_like_one_eye_at_a_time() {
    let Some(mut batched) = analyzer() else {
        return;
    };
    let Some(file) = media("face_recognition/obama.jpg") else {
        return;
    };
    let dir = std::env::var_os("LIVEGATE_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../var/models"));
    let registry = ModelRegistry::open(dir).unwrap();
    let config = AnalyzerConfig {
        eyes_per_inference: 1,
        ..AnalyzerConfig::default()
    };
    let mut single = Analyzer::new(&registry, config).unwrap();
    let frame = image(&file);
    let needs = AnalysisNeeds::default();
    let a = batched
        .analyze(&frame, 0.0, &mut TrackState::default(), needs)
        .unwrap()
        .main
        .unwrap();
    let b = single
        .analyze(&frame, 0.0, &mut TrackState::default(), needs)
        .unwrap()
        .main
        .unwrap();
    for (x, y) in [(&a.left_eye, &b.left_eye), (&a.right_eye, &b.right_eye)] {
        let (x, y) = (x.as_ref().unwrap(), y.as_ref().unwrap());
        assert!((x.openness - y.openness).abs() < 1e-3, "{x:?} vs {y:?}");
        assert!(
            (x.iris_center[0] - y.iris_center[0]).abs() < 0.05,
            "{x:?} vs {y:?}"
        );
        assert!(
            (x.iris_center[1] - y.iris_center[1]).abs() < 0.05,
            "{x:?} vs {y:?}"
        );
    }
    // The person's left eye is on the image's right.
    let (l, r) = (a.left_eye.unwrap(), a.right_eye.unwrap());
    assert!(l.iris_center[0] > r.iris_center[0]);
}

#[test]
fn iris_model_sees_blinks_the_mesh_misses() {
    let Some(mut analyzer) = analyzer() else {
        return;
    };
    let Some(file) = media("Blink-Detector_repeating/video.mp4") else {
        return;
    };
    let Some(frames) = video_frames(&file, 480) else {
        return;
    };
    let analyses = run_clip(&mut analyzer, &frames, 24.0);
    let mains: Vec<_> = analyses.iter().filter_map(|a| a.main.as_ref()).collect();
    assert!(mains.len() > frames.len() * 9 / 10, "face lost too often");
    let iris: Vec<f32> = mains
        .iter()
        .map(|m| {
            let [l, r] = m.eye_openness();
            (l + r) / 2.0
        })
        .collect();
    let mesh: Vec<f32> = mains
        .iter()
        .map(|m| (m.mesh_eye_openness[0] + m.mesh_eye_openness[1]) / 2.0)
        .collect();
    let open = median(iris.clone());
    assert!(open > 0.25, "open level {open}");
    // Count dips below half the open level, with hysteresis so one blink counts once.
    let mut blinks = 0;
    let mut closed = false;
    for &v in &iris {
        if !closed && v < open * 0.5 {
            blinks += 1;
            closed = true;
        } else if closed && v > open * 0.75 {
            closed = false;
        }
    }
    assert!(blinks >= 3, "{blinks} blinks seen");
    let lowest = iris.iter().copied().fold(f32::MAX, f32::min);
    assert!(lowest < open * 0.3, "iris lowest {lowest} vs open {open}");
    let mesh_open = median(mesh.clone());
    let mesh_lowest = mesh.iter().copied().fold(f32::MAX, f32::min);
    assert!(
        mesh_lowest > mesh_open * 0.7,
        "the mesh alone barely moves: {mesh_lowest} vs {mesh_open}"
    );
}

/// Per frame with a face: whether both eyes read under 0.65 of their median over the clip (the
/// blink detector's default closed fraction of the resting openness).
fn closed_frames(analyses: &[FrameAnalysis]) -> Vec<(usize, bool)> {
    let eyes: Vec<(usize, [f32; 2])> = analyses
        .iter()
        .enumerate()
        .filter_map(|(i, a)| a.main.as_ref().map(|m| (i, m.eye_openness())))
        .collect();
    let rest = [0, 1].map(|k| median(eyes.iter().map(|(_, e)| e[k]).collect()));
    eyes.iter()
        .map(|&(i, e)| (i, e[0] < rest[0] * 0.65 && e[1] < rest[1] * 0.65))
        .collect()
}

/// The clip analysed with eyes on every frame, and how many frames ran the iris model.
fn run_counting_iris(
    analyzer: &mut Analyzer,
    frames: &[&RgbImage],
    fps: f64,
) -> (Vec<FrameAnalysis>, usize) {
    let mut track = TrackState::default();
    let mut runs = 0;
    let analyses = frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let a = analyzer
                .analyze(f, i as f64 / fps, &mut track, AnalysisNeeds::default())
                .unwrap();
            runs += usize::from(a.main.is_some() && !analyzer.last_stage_times().iris_reused);
            a
        })
        .collect();
    (analyses, runs)
}

#[test]
fn reused_iris_readings_keep_every_closed_frame_and_spare_still_eyes() {
    let never = AnalyzerConfig {
        iris_reuse: IrisReuse::NEVER,
        ..AnalyzerConfig::default()
    };
    let (Some(mut always), Some(mut reusing)) = (analyzer_with(never), analyzer()) else {
        return;
    };
    // (clip, frames kept: 1 of every `step`, frame rate, most of the faces' frames that may run
    // the model). The blink clip at its own 24 fps (as `livegate analyze` reads a recording) and
    // at 12 fps (as a live session's 10, where the model ran on 35 %); eye squeezes behind
    // glasses at 10 fps (72 %); a still face breathing (25 %).
    let cases = [
        ("Blink-Detector_repeating/video.mp4", 1, 24.0, 0.5),
        ("Blink-Detector_repeating/video.mp4", 2, 12.0, 0.6),
        ("LivePortrait/d9.mp4", 3, 10.0, 0.9),
        ("eulerian-remote-heartrate-detection/face.mp4", 2, 15.0, 0.5),
    ];
    for (clip, step, fps, most) in cases {
        let Some(file) = media(clip) else { return };
        let Some(all) = video_frames(&file, 480) else {
            return;
        };
        let frames: Vec<&RgbImage> = all.iter().step_by(step).collect();
        let (reference, _) = run_counting_iris(&mut always, &frames, fps);
        let (reused, runs) = run_counting_iris(&mut reusing, &frames, fps);
        let (expected, got) = (closed_frames(&reference), closed_frames(&reused));
        let differ: Vec<_> = expected
            .iter()
            .zip(&got)
            .filter(|(a, b)| a != b)
            .map(|(a, _)| a.0)
            .collect();
        let faces = got.len();
        let closed = expected.iter().filter(|c| c.1).count();
        eprintln!("{clip} at {fps} fps: iris ran on {runs} of {faces} frames; {closed} closed");
        assert!(
            differ.is_empty(),
            "{clip} at {fps} fps: closed frames differ at {differ:?}"
        );
        assert!(
            (runs as f64) < faces as f64 * most,
            "{clip} at {fps} fps: iris ran on {runs} of {faces} frames"
        );
    }
}

#[test]
fn head_turns_and_nods_read_with_the_right_signs() {
    let Some(mut analyzer) = analyzer() else {
        return;
    };
    let Some(file) = media("face_anti_spoofing_tranvanluyt2203/real.mp4") else {
        return;
    };
    let Some(frames) = video_frames(&file, 368) else {
        return;
    };
    let analyses = run_clip(&mut analyzer, &frames, 30.0);
    let pose = |i: usize| analyses[i].main.as_ref().expect("face").pose;
    let yaws: Vec<f32> = analyses
        .iter()
        .filter_map(|a| a.main.as_ref().map(|m| m.pose.yaw))
        .collect();
    let max_yaw = yaws.iter().copied().fold(f32::MIN, f32::max);
    let min_yaw = yaws.iter().copied().fold(f32::MAX, f32::min);
    assert!(
        max_yaw > 15.0 && min_yaw < -15.0,
        "yaw {min_yaw}..{max_yaw}"
    );
    // Checked by eye: frame 130 has the nose towards the image's right, the person turned to
    // their own left; frame 280 the other way; 380 looks down; 460 looks up.
    assert!(pose(130).yaw > 20.0, "frame 130 {:?}", pose(130));
    assert!(pose(280).yaw < -8.0, "frame 280 {:?}", pose(280));
    assert!(pose(380).pitch < -15.0, "frame 380 {:?}", pose(380));
    assert!(pose(460).pitch > 15.0, "frame 460 {:?}", pose(460));
    assert!(pose(130).roll.abs() < 15.0, "frame 130 {:?}", pose(130));
}

#[test]
fn tracking_skips_detection_on_most_frames() {
    let Some(mut analyzer) = analyzer() else {
        return;
    };
    let Some(file) = media("eulerian-remote-heartrate-detection/face.mp4") else {
        return;
    };
    let Some(frames) = video_frames(&file, 480) else {
        return;
    };
    let analyses = run_clip(&mut analyzer, &frames, 30.0);
    let detected = analyses.iter().filter(|a| a.detected).count();
    assert!(
        analyses.iter().all(|a| a.main.is_some()),
        "steady face lost"
    );
    assert!(
        detected * 5 < analyses.len(),
        "detector ran on {detected} of {} frames",
        analyses.len()
    );
    // Tracked frames report the tracked face only.
    assert!(analyses
        .iter()
        .filter(|a| !a.detected)
        .all(|a| a.faces.len() == 1));
}

#[test]
fn asking_for_detection_runs_the_detector() {
    let Some(mut analyzer) = analyzer() else {
        return;
    };
    let Some(file) = media("face_recognition/two_people.jpg") else {
        return;
    };
    let frame = image(&file);
    let mut track = TrackState::default();
    let needs = AnalysisNeeds::default();
    assert!(
        analyzer
            .analyze(&frame, 0.0, &mut track, needs)
            .unwrap()
            .detected
    );
    assert!(
        !analyzer
            .analyze(&frame, 0.03, &mut track, needs)
            .unwrap()
            .detected
    );
    let forced = AnalysisNeeds {
        detect: true,
        ..needs
    };
    let again = analyzer.analyze(&frame, 0.06, &mut track, forced).unwrap();
    assert!(again.detected);
    assert_eq!(again.faces.len(), 2);
}

#[test]
fn no_face_is_an_answer_not_an_error() {
    let Some(mut analyzer) = analyzer() else {
        return;
    };
    let Some(file) = media("dlib/dogs.jpg") else {
        return;
    };
    let analysis = analyzer
        .analyze(
            &image(&file),
            0.0,
            &mut TrackState::default(),
            AnalysisNeeds::default(),
        )
        .unwrap();
    assert!(analysis.main.is_none());
    assert!(analysis.faces.is_empty());
}

#[test]
fn nobody_in_view_keeps_the_full_range_detector_rare() {
    let Some(mut analyzer) = analyzer() else {
        return;
    };
    let Some(file) = media("dlib/dogs.jpg") else {
        return;
    };
    let frame = image(&file);
    let mut track = TrackState::default();
    let mut full_range_runs = 0;
    // One second at 30 frames/s: the detector runs on every frame (no track), the expensive
    // full-range model only once per detection interval (0.5 s).
    for i in 0..30 {
        let analysis = analyzer
            .analyze(
                &frame,
                i as f64 / 30.0,
                &mut track,
                AnalysisNeeds::default(),
            )
            .unwrap();
        assert!(analysis.detected && analysis.main.is_none());
        full_range_runs += usize::from(analyzer.last_stage_times().detect_full_ms > 0.0);
    }
    assert_eq!(full_range_runs, 2);
}

#[test]
fn frames_outside_the_accepted_sizes_are_refused() {
    let Some(mut analyzer) = analyzer() else {
        return;
    };
    for (w, h) in [(1, 1), (15, 200), (200, 15), (10_000, 16), (16, 4097)] {
        let frame = RgbImage::new(w, h);
        let err = analyzer
            .analyze(
                &frame,
                0.0,
                &mut TrackState::default(),
                AnalysisNeeds::default(),
            )
            .unwrap_err();
        assert!(
            matches!(err, EngineError::FrameSize { width, height, .. } if width == w && height == h),
            "{w}x{h}: {err:?}"
        );
    }
    // The limits themselves are accepted.
    for (w, h) in [(16, 16), (4096, 16)] {
        let frame = RgbImage::new(w, h);
        assert!(analyzer
            .analyze(
                &frame,
                0.0,
                &mut TrackState::default(),
                AnalysisNeeds::default()
            )
            .is_ok());
    }
}
