//! A person swapped mid-session: one person is in front of the camera while the session settles
//! and learns who it is, then another takes their place and does the action.

use std::path::Path;

use livegate_actors::actions::ActionKind;

use super::stage::letterbox;
use super::{
    jpeg, load_clip, media_file, AttacksError, Pick, Presentation, Species, FPS, MAX_CLIP_S,
};

/// Seconds of the first person before the swap: past settling (0.7 s) and the first identity
/// sample, before the first person's own actions.
const FIRST_S: f64 = 1.5;

/// First person, second person, and what the second does.
pub const SWAPS: &[(&str, &str, &[ActionKind])] = &[
    (
        "LivePortrait/d18.mp4",
        "Blink-Detector_repeating/video.mp4",
        &[ActionKind::Blink],
    ),
    (
        "Blink-Detector_repeating/video.mp4",
        "LivePortrait/d18.mp4",
        &[ActionKind::MouthOpen],
    ),
    (
        "face_anti_spoofing_tranvanluyt2203/real.mp4",
        "LivePortrait/d14.mp4",
        &[ActionKind::Blink],
    ),
    (
        "video-retalking/1.mp4",
        "Blink-Detector_repeating/video.mp4",
        &[ActionKind::Blink],
    ),
];

/// The swapped sessions (the second clip shown in the first's frame size).
pub fn stage(media: &Path, pick: &mut Pick) -> Result<Vec<Presentation>, AttacksError> {
    let mut out = Vec::new();
    for (a, b, challenge) in SWAPS {
        if !pick.wants(&format!("{a} then {b}")) {
            continue;
        }
        let (Some(pa), Some(pb)) = (media_file(media, a), media_file(media, b)) else {
            continue;
        };
        let first = load_clip(&pa, FIRST_S)?;
        let second = load_clip(&pb, MAX_CLIP_S - FIRST_S)?;
        let size = first[0].1.dimensions();
        let mut frames = Vec::with_capacity(first.len() + second.len());
        for (_, f) in &first {
            frames.push(jpeg(f)?);
        }
        for (_, f) in &second {
            frames.push(jpeg(&letterbox(f, size))?);
        }
        out.push(Presentation {
            species: Species::PersonSwap,
            name: format!("{a} then {b}"),
            frames: frames
                .into_iter()
                .enumerate()
                .map(|(k, f)| (k as f64 / FPS, f))
                .collect(),
            challenge: challenge.to_vec(),
            recorded_under: None,
            flash: Species::PersonSwap.flash_staging(),
        });
    }
    Ok(out)
}
