//! Synthetic observations of a well-lit, centred, still face, for tests here and in callers.

use livegate_models::{
    EyeObservation, FaceBox, FaceObservation, FaceQuality, FrameAnalysis, HeadPose, Occlusion,
};

/// Frame width of every synthetic frame.
pub const FRAME_WIDTH: u32 = 640;
/// Frame height of every synthetic frame.
pub const FRAME_HEIGHT: u32 = 480;

/// A good face observation: centred, sharp, eyes open (0.35), mouth closed, looking straight.
pub fn face_observation() -> FaceObservation {
    let eye = |x: f32| EyeObservation {
        openness: 0.35,
        iris_center: [x, 220.0],
        iris_radius: 6.0,
    };
    FaceObservation {
        face: FaceBox {
            x: 220.0,
            y: 140.0,
            width: 200.0,
            height: 220.0,
            score: 0.95,
        },
        presence: 0.99,
        mesh: Vec::new(),
        pose: HeadPose::default(),
        left_eye: Some(eye(360.0)),
        right_eye: Some(eye(280.0)),
        mesh_eye_openness: [0.3, 0.3],
        mouth_openness: 0.05,
        quality: FaceQuality {
            brightness: 0.5,
            contrast: 0.2,
            backlight: 0.0,
            sharpness: 0.5,
            clipped: 0.0,
            size_ratio: 200.0 / FRAME_WIDTH as f32,
            center_offset: [0.0, 0.0],
            occlusion: Occlusion::default(),
        },
    }
}

/// A frame at time `t` holding one good face, with detection run.
pub fn face_frame(t: f64) -> FrameAnalysis {
    let main = face_observation();
    FrameAnalysis {
        t,
        frame_width: FRAME_WIDTH,
        frame_height: FRAME_HEIGHT,
        faces: vec![main.face],
        detected: true,
        main: Some(main),
        engine_ms: 5.0,
    }
}

/// A frame at time `t` with nobody in it.
pub fn no_face_frame(t: f64) -> FrameAnalysis {
    FrameAnalysis {
        t,
        frame_width: FRAME_WIDTH,
        frame_height: FRAME_HEIGHT,
        faces: Vec::new(),
        detected: true,
        main: None,
        engine_ms: 5.0,
    }
}

/// Set both eyes' openness (iris model values).
pub fn with_eyes(mut obs: FaceObservation, openness: f32) -> FaceObservation {
    for eye in [&mut obs.left_eye, &mut obs.right_eye]
        .into_iter()
        .flatten()
    {
        eye.openness = openness;
    }
    obs
}

/// A small deterministic jitter in -1..1, so "noise" tests need no random crate.
pub fn jitter(i: usize) -> f32 {
    let x = (i as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((x >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
}
