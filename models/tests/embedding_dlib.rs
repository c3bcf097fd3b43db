//! dlib's identity embedding on real photos: the same person stays under 0.6, two people do not.
//!
//! Face boxes: dlib's own HOG detector boxes for these photos (found once, listed below),
//! turned into BlazeFace-style boxes by inverting `embedding`'s box conversion, as the detector
//! helper's boxes will arrive; obama.jpg uses a brow-to-chin box found by eye.

use std::path::PathBuf;
use std::time::Instant;

use image::RgbImage;
use livegate_models::embedding::DlibIdentity;
use livegate_models::{
    Embedding, EngineError, FaceBox, FaceObservation, FaceQuality, HeadPose, IdentityEngine,
};

fn dirs() -> Option<(PathBuf, PathBuf)> {
    let media = PathBuf::from(std::env::var_os("LIVEGATE_TEST_MEDIA")?);
    let models = std::env::var_os("LIVEGATE_MODELS_DIR")
        .map_or_else(|| PathBuf::from("../var/models"), PathBuf::from);
    (media.join("face_recognition").is_dir()
        && models
            .join("dlib_face_recognition_resnet_model_v1.dat")
            .is_file())
    .then_some((media, models))
}

fn engine(models: &std::path::Path) -> DlibIdentity {
    DlibIdentity::open_dlib_network(
        &models.join("shape_predictor_5_face_landmarks.dat"),
        &models.join("dlib_face_recognition_resnet_model_v1.dat"),
    )
    .expect("open dlib models")
}

fn observation(face: FaceBox) -> FaceObservation {
    FaceObservation {
        face,
        presence: 1.0,
        mesh: Vec::new(),
        pose: HeadPose::default(),
        left_eye: None,
        right_eye: None,
        mesh_eye_openness: [0.3, 0.3],
        mouth_openness: 0.0,
        quality: FaceQuality::default(),
    }
}

/// A BlazeFace-style box for a dlib detector square (left, top, right, bottom).
fn from_dlib(left: f32, top: f32, right: f32, bottom: f32) -> FaceBox {
    let side = (right - left + bottom - top) / 2.0 / 0.9;
    let (cx, cy) = ((left + right) / 2.0, (top + bottom) / 2.0 - 0.02 * side);
    FaceBox {
        x: cx - side / 2.0,
        y: cy - side / 2.0,
        width: side,
        height: side,
        score: 1.0,
    }
}

fn load(media: &std::path::Path, file: &str) -> RgbImage {
    image::open(media.join("face_recognition").join(file))
        .expect("decode")
        .to_rgb8()
}

fn embed(engine: &mut DlibIdentity, frame: &RgbImage, face: FaceBox) -> Embedding {
    engine
        .embed(frame, &observation(face))
        .expect("embed")
        .expect("a face big enough and inside the frame")
}

#[test]
fn the_same_person_is_near_and_two_people_are_far() {
    let Some((media, models)) = dirs() else {
        eprintln!("skipped: LIVEGATE_TEST_MEDIA or LIVEGATE_MODELS_DIR (dlib models) missing");
        return;
    };
    let mut engine = engine(&models);
    let obama = embed(
        &mut engine,
        &load(&media, "obama.jpg"),
        FaceBox {
            x: 360.0,
            y: 110.0,
            width: 270.0,
            height: 300.0,
            score: 1.0,
        },
    );
    assert_eq!(obama.0.len(), 128);
    let obama2 = embed(
        &mut engine,
        &load(&media, "obama2.jpg"),
        from_dlib(164.0, 302.0, 474.0, 611.0),
    );
    let obama_240p = embed(
        &mut engine,
        &load(&media, "obama-240p.jpg"),
        from_dlib(189.0, 29.0, 261.0, 101.0),
    );
    let biden = embed(
        &mut engine,
        &load(&media, "biden.jpg"),
        from_dlib(439.0, 233.0, 749.0, 542.0),
    );
    let pairs = [
        ("obama/obama2", obama.distance(&obama2)),
        ("obama/obama-240p", obama.distance(&obama_240p)),
        ("obama2/obama-240p", obama2.distance(&obama_240p)),
        ("obama/biden", obama.distance(&biden)),
        ("obama2/biden", obama2.distance(&biden)),
        ("obama-240p/biden", obama_240p.distance(&biden)),
    ];
    eprintln!("distances: {pairs:?}");
    for (name, d) in &pairs[..3] {
        assert!(*d < Embedding::SAME_PERSON_DISTANCE, "{name}: {d}");
    }
    for (name, d) in &pairs[3..] {
        assert!(*d > Embedding::SAME_PERSON_DISTANCE, "{name}: {d}");
    }

    // In the two-person photo each face matches its own portrait and not the other's.
    let two = load(&media, "two_people.jpg");
    let left = embed(&mut engine, &two, from_dlib(244.0, 62.0, 394.0, 211.0));
    let right = embed(&mut engine, &two, from_dlib(792.0, 95.0, 941.0, 244.0));
    let (near_left, near_right) = (obama.distance(&left), obama.distance(&right));
    eprintln!("two_people: obama-left {near_left}, obama-right {near_right}");
    let (obama_side, biden_side) = if near_left < near_right {
        (left, right)
    } else {
        (right, left)
    };
    assert!(obama.same_person(&obama_side));
    assert!(biden.same_person(&biden_side));
    assert!(!obama_side.same_person(&biden_side));
}

#[test]
fn tiny_or_cut_off_faces_are_not_embedded() {
    let Some((media, models)) = dirs() else {
        eprintln!("skipped: LIVEGATE_TEST_MEDIA or LIVEGATE_MODELS_DIR (dlib models) missing");
        return;
    };
    let mut engine = engine(&models);
    let frame = load(&media, "obama.jpg");
    let tiny = FaceBox {
        x: 480.0,
        y: 240.0,
        width: 30.0,
        height: 34.0,
        score: 1.0,
    };
    assert!(engine.embed(&frame, &observation(tiny)).unwrap().is_none());
    let outside = FaceBox {
        x: 800.0,
        y: 110.0,
        width: 270.0,
        height: 300.0,
        score: 1.0,
    };
    assert!(engine
        .embed(&frame, &observation(outside))
        .unwrap()
        .is_none());
    let nan = FaceBox {
        x: f32::NAN,
        ..outside
    };
    assert!(engine.embed(&frame, &observation(nan)).unwrap().is_none());
}

#[test]
fn a_missing_model_file_names_it() {
    let dir = std::env::temp_dir().join("livegate-no-models-here");
    let err = DlibIdentity::open_dlib_network(
        &dir.join("shape_predictor_5_face_landmarks.dat"),
        &dir.join("dlib_face_recognition_resnet_model_v1.dat"),
    )
    .unwrap_err();
    match err {
        EngineError::ModelMissing { file, .. } => {
            assert_eq!(file, "shape_predictor_5_face_landmarks.dat")
        }
        other => panic!("expected ModelMissing, got {other:?}"),
    }
}

#[test]
fn one_embedding_costs_tens_of_milliseconds_on_one_core() {
    let Some((media, models)) = dirs() else {
        eprintln!("skipped: LIVEGATE_TEST_MEDIA or LIVEGATE_MODELS_DIR (dlib models) missing");
        return;
    };
    let mut engine = engine(&models);
    // A 480x640 frame as a phone sends it, the face about 40% of its width.
    let frame = image::imageops::resize(
        &load(&media, "obama.jpg"),
        480,
        600,
        image::imageops::FilterType::Triangle,
    );
    let k = (480.0 / 910.0, 600.0 / 1137.0);
    let face = FaceBox {
        x: 360.0 * k.0,
        y: 110.0 * k.1,
        width: 270.0 * k.0,
        height: 300.0 * k.1,
        score: 1.0,
    };
    embed(&mut engine, &frame, face);
    let runs = 10;
    let start = Instant::now();
    for _ in 0..runs {
        embed(&mut engine, &frame, face);
    }
    let ms = start.elapsed().as_secs_f64() * 1e3 / f64::from(runs);
    eprintln!("dlib embedding (5-point alignment + ResNet): {ms:.1} ms per face");
    assert!(ms < 1000.0, "{ms} ms");
}
