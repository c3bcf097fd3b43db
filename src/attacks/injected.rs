//! A recorded session injected into a new one: the clip of a session that did challenge A
//! (played to this node first, as it was recorded) is fed to a new session asking for B.

use std::path::Path;

use livegate_actors::actions::ActionKind;

use super::{
    encoded, load_clip, media_file, AttacksError, Pick, Presentation, Species, MAX_CLIP_S,
};

/// Recorded sessions: the clip, the challenge it answered, and the new session's challenge.
pub const SESSIONS: &[(&str, &[ActionKind], &[ActionKind])] = &[
    (
        "Blink-Detector_repeating/video.mp4",
        &[ActionKind::Blink],
        &[ActionKind::MouthOpen],
    ),
    (
        "face_anti_spoofing_tranvanluyt2203/real.mp4",
        &[ActionKind::TurnLeft, ActionKind::TurnRight, ActionKind::Nod],
        &[ActionKind::TurnRight, ActionKind::TurnLeft],
    ),
    (
        "LivePortrait/d18.mp4",
        &[ActionKind::MouthOpen, ActionKind::Blink],
        &[ActionKind::Blink, ActionKind::MouthOpen],
    ),
];

/// The injected sessions.
pub fn stage(media: &Path, pick: &mut Pick) -> Result<Vec<Presentation>, AttacksError> {
    let mut out = Vec::new();
    for (rel, recorded, asked) in SESSIONS {
        if !pick.wants(rel) {
            continue;
        }
        let Some(path) = media_file(media, rel) else {
            continue;
        };
        out.push(Presentation {
            species: Species::InjectedSession,
            name: format!("{rel} ({recorded:?} recorded, {asked:?} asked)"),
            frames: encoded(&load_clip(&path, MAX_CLIP_S)?)?,
            challenge: asked.to_vec(),
            recorded_under: Some(recorded.to_vec()),
            flash: Species::InjectedSession.flash_staging(),
        });
    }
    Ok(out)
}
