//! A printed photo held up and moved: a live still printed on paper (a print's range, grain, a
//! lamp across the sheet) and turned by hand before the camera as a plane in 3-D.

use std::path::Path;

use livegate_actors::actions::ActionKind;

use super::stage::{paper, plane_homography, room, warp, PlanePose};
use super::{load_still, media_file, staged, AttacksError, Pick, Presentation, Species};

/// Live stills of real people (the prints' sources).
pub const STILLS: &[&str] = &[
    "face_recognition/obama.jpg",
    "dlib/Tom_Cruise_avp_2014_4.jpg",
    "FaceLivenessDetection-SDK_Doubango/genuine.jpg",
    "liveness-web-login_jomariya23156/reals/1.jpg",
    "Silent-Face-Anti-Spoofing/image_T1.jpg",
];

/// Seconds of frames: past the step timeout of an action session (0.7 s settling + 10 s).
pub const SECONDS: f64 = 12.0;

/// The frames of `photo` printed and moved, up to `amplitude` degrees, with `noise` applied to
/// each finished frame.
pub fn moved_print(
    photo: &image::RgbImage,
    amplitude: f64,
    mut noise: impl FnMut(&mut image::RgbImage),
) -> Result<Vec<(f64, Vec<u8>)>, AttacksError> {
    let printed = paper(photo, 0.25);
    let background = room();
    // The print spans about 300 camera pixels: a face a phone's front camera sees at arm's length.
    let span = 300.0;
    staged(SECONDS, |_, t| {
        let h = plane_homography(printed.dimensions(), span, PlanePose::hand(t, amplitude));
        let mut frame = warp(&printed, &h, &background);
        noise(&mut frame);
        Ok(frame)
    })
}

/// The moved prints (a print cannot blink: the action session asks for a blink).
pub fn stage(media: &Path, pick: &mut Pick) -> Result<Vec<Presentation>, AttacksError> {
    let mut out = Vec::new();
    for rel in STILLS {
        if !pick.wants(rel) {
            continue;
        }
        let Some(path) = media_file(media, rel) else {
            continue;
        };
        let photo = load_still(&path)?;
        out.push(Presentation {
            species: Species::PrintMoved,
            name: (*rel).to_owned(),
            frames: moved_print(&photo, 22.0, |_| {})?,
            challenge: vec![ActionKind::Blink],
            recorded_under: None,
            flash: Species::PrintMoved.flash_staging(),
        });
    }
    Ok(out)
}
