//! Deepfakes injected as the camera's stream: the media folder's face-swap and re-enactment
//! clips, and its GAN-made still (a still fed as a video: the same picture every frame).

use std::path::Path;

use livegate_actors::actions::ActionKind;

use super::{
    clips_as_stream, jpeg, load_still, media_file, AttacksError, Pick, Presentation, Species, FPS,
};

/// The deepfake clips (`INDEX.md` section 3).
pub const CLIPS: &[&str] = &[
    "icpr2020dfdc/dfdc/widuwuoiur.mp4",
    "icpr2020dfdc/ffpp/Deepfakes/519_515.mp4",
    "icpr2020dfdc/ffpp/Face2Face/750_743.mp4",
    "icpr2020dfdc/ffpp/FaceSwap/634_660.mp4",
    "icpr2020dfdc/ffpp/NeuralTextures/004_982.mp4",
];

/// The GAN-synthesised still.
pub const GAN_STILL: &str = "FaceLivenessDetection-SDK_Doubango/deepfake.jpg";

/// The deepfakes; the action session asks for a blink (the synthetic faces blink as their
/// drivers do).
pub fn stage(media: &Path, pick: &mut Pick) -> Result<Vec<Presentation>, AttacksError> {
    let mut out = clips_as_stream(media, pick, CLIPS, Species::Deepfake, |_| {
        vec![ActionKind::Blink]
    })?;
    if pick.wants(GAN_STILL) {
        if let Some(path) = media_file(media, GAN_STILL) {
            let still = jpeg(&load_still(&path)?)?;
            let n = (super::print::SECONDS * FPS) as usize;
            out.push(Presentation {
                species: Species::Deepfake,
                name: GAN_STILL.to_owned(),
                frames: (0..n).map(|k| (k as f64 / FPS, still.clone())).collect(),
                challenge: vec![ActionKind::Blink],
                recorded_under: None,
                flash: Species::Deepfake.flash_staging(),
            });
        }
    }
    Ok(out)
}
