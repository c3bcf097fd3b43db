//! False alarms of the occlusion estimate on real, unoccluded faces of all sizes (80..350 px).
//!
//! Faces are found by dlib's own HOG detector (no model file needed), turned into BlazeFace-style
//! boxes, and measured without a mesh, so parts are placed from the box alone: the harder case.

use std::path::PathBuf;

use dlib_face_recognition::{FaceDetector, FaceDetectorTrait, ImageMatrix};
use livegate_models::{quality, FaceBox};

#[test]
fn unoccluded_faces_rarely_read_as_covered() {
    let Some(dir) = std::env::var_os("LIVEGATE_TEST_MEDIA").map(PathBuf::from) else {
        eprintln!("skipped: LIVEGATE_TEST_MEDIA is unset");
        return;
    };
    let files = [
        "dlib/2008_001009.jpg",
        "dlib/2008_001322.jpg",
        "dlib/2008_002506.jpg",
        "dlib/2009_004587.jpg",
        "face_recognition/obama2.jpg",
        "face_recognition/biden.jpg",
        "face_recognition/two_people.jpg",
        "face_recognition/lin-manuel-miranda.png",
        "face_recognition/alex-lacamoire.png",
        "LivePortrait/s11.jpg",
    ];
    let detector = FaceDetector::new();
    let (mut parts, mut alarms) = (0, 0);
    for file in files {
        let path = dir.join(file);
        if !path.is_file() {
            eprintln!("skipped {file}: missing");
            continue;
        }
        let img = image::open(&path).expect("decode").to_rgb8();
        // SAFETY: an RgbImage holds width * height * 3 packed bytes.
        let matrix =
            unsafe { ImageMatrix::new(img.width() as usize, img.height() as usize, img.as_ptr()) };
        for r in detector.face_locations(&matrix).iter() {
            // dlib's square is about 0.9 of a brow-to-chin box, centred a little lower.
            let side = (r.right - r.left + r.bottom - r.top) as f32 / 2.0 / 0.9;
            let cx = (r.left + r.right) as f32 / 2.0;
            let cy = (r.top + r.bottom) as f32 / 2.0 - 0.02 * side;
            let face = FaceBox {
                x: cx - side / 2.0,
                y: cy - side / 2.0,
                width: side,
                height: side,
                score: 1.0,
            };
            let o = quality::measure(&img, &face, &[]).occlusion;
            eprintln!("{file} face {side:.0} px: {o:?}");
            for v in [o.eyes, o.nose, o.mouth] {
                parts += 1;
                alarms += usize::from(v > 0.5);
            }
        }
    }
    eprintln!("{alarms} of {parts} part readings above 0.5");
    assert!(parts >= 30, "too few faces found: {parts} readings");
    assert!(
        alarms * 100 <= parts * 10,
        "{alarms} of {parts} false alarms"
    );
}
