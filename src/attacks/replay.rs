//! The media folder's own replay attacks: screens showing a person, filmed by another camera.

use std::path::Path;

use super::live::challenge_for;
use super::{clips_as_stream, AttacksError, Pick, Presentation, Species};

/// The replay clips (`INDEX.md`: attack (screen replay), videos).
pub const CLIPS: &[&str] = &[
    "face_anti_spoofing_tranvanluyt2203/fake.mp4",
    "anit-spoofing_ZubairCracksCode/fake.mp4",
    "Face-Liveness-detection_Manikantha-M/fake.mp4",
];

/// The replay clips as the camera's stream; the action session asks what the replayed person
/// does (tranvanluyt's replay shows the turns and the nod of its live clip).
pub fn stage(media: &Path, pick: &mut Pick) -> Result<Vec<Presentation>, AttacksError> {
    clips_as_stream(media, pick, CLIPS, Species::ReplayClips, challenge_for)
}
