//! The media folder's own replay attacks: screens showing a person, filmed by another camera.

use std::path::Path;

use super::live::challenge_for;
use super::{
    encoded, load_clip, media_file, AttacksError, Pick, Presentation, Species, MAX_CLIP_S,
};

/// The replay clips (`INDEX.md`: attack (screen replay), videos).
pub const CLIPS: &[&str] = &[
    "face_anti_spoofing_tranvanluyt2203/fake.mp4",
    "anit-spoofing_ZubairCracksCode/fake.mp4",
    "Face-Liveness-detection_Manikantha-M/fake.mp4",
];

/// The replay clips as the camera's stream; the action session asks what the replayed person
/// does (tranvanluyt's replay shows the turns and the nod of its live clip).
pub fn stage(media: &Path, pick: &mut Pick) -> Result<Vec<Presentation>, AttacksError> {
    let mut out = Vec::new();
    for rel in CLIPS {
        if !pick.wants(rel) {
            continue;
        }
        let Some(path) = media_file(media, rel) else {
            continue;
        };
        out.push(Presentation {
            species: Species::ReplayClips,
            name: (*rel).to_owned(),
            frames: encoded(&load_clip(&path, MAX_CLIP_S)?)?,
            challenge: challenge_for(rel),
            recorded_under: None,
        });
    }
    Ok(out)
}
