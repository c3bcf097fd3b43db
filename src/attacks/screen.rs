//! A screen replay, staged: a live clip played on a phone held to the camera (the display's
//! gamma and colour, a black bezel, the hand's small motion) and filmed (moiré from the pixel
//! grid, refresh banding rolling down).

use std::path::Path;

use super::live::challenge_for;
use super::stage::{
    plane_homography, room, screen_capture_artefacts, screen_picture, warp, PlanePose,
};
use super::{jpeg, load_clip, media_file, AttacksError, Pick, Presentation, Species, MAX_CLIP_S};

/// Live clips replayed (people who do the actions the action session asks).
pub const CLIPS: &[&str] = &[
    "Blink-Detector_repeating/video.mp4",
    "LivePortrait/d18.mp4",
    "face_anti_spoofing_tranvanluyt2203/real.mp4",
    "LivePortrait/d3.mp4",
    "video-retalking/4.mp4",
];

/// The screen replays of the live clips.
pub fn stage(media: &Path, pick: &mut Pick) -> Result<Vec<Presentation>, AttacksError> {
    let background = room();
    let mut out = Vec::new();
    for rel in CLIPS {
        if !pick.wants(rel) {
            continue;
        }
        let Some(path) = media_file(media, rel) else {
            continue;
        };
        let clip = load_clip(&path, MAX_CLIP_S)?;
        let frames = clip
            .iter()
            .map(|(t, frame)| {
                let shown = screen_picture(frame, 24);
                // The screen fills most of the camera's width, held still-ish by hand.
                let h = plane_homography(shown.dimensions(), 420.0, PlanePose::hand(*t, 6.0));
                let mut filmed = warp(&shown, &h, &background);
                screen_capture_artefacts(&mut filmed, *t);
                Ok((*t, jpeg(&filmed)?))
            })
            .collect::<Result<Vec<_>, AttacksError>>()?;
        out.push(Presentation {
            species: Species::ScreenReplay,
            name: (*rel).to_owned(),
            frames,
            challenge: challenge_for(rel),
            recorded_under: None,
            flash: Species::ScreenReplay.flash_staging(),
        });
    }
    Ok(out)
}
