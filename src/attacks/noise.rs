//! Adversarial-style noise: the moved prints and the real replays with a fixed high-frequency
//! perturbation on every frame (the sign pattern a gradient attack would add; no white-box
//! attack on our cues is staged).

use std::path::Path;

use livegate_models::flash::sim::Staging;

use super::live::challenge_for;
use super::stage::adversarial_noise;
use super::{
    jpeg, load_clip, load_still, media_file, AttacksError, Pick, Presentation, Species, MAX_CLIP_S,
};

/// Grey levels of the perturbation (of 255).
const AMPLITUDE: f64 = 6.0;

/// Moved prints and replay clips, perturbed.
pub fn stage(media: &Path, pick: &mut Pick) -> Result<Vec<Presentation>, AttacksError> {
    let mut out = Vec::new();
    for (k, rel) in super::print::STILLS.iter().take(3).enumerate() {
        if !pick.wants(rel) {
            continue;
        }
        let Some(path) = media_file(media, rel) else {
            continue;
        };
        let photo = load_still(&path)?;
        let seed = k as u32 * 7 + 1;
        out.push(Presentation {
            species: Species::AdversarialNoise,
            name: format!("print {rel}"),
            frames: super::print::moved_print(&photo, 22.0, |f| {
                adversarial_noise(f, AMPLITUDE, seed)
            })?,
            challenge: vec![livegate_actors::actions::ActionKind::Blink],
            recorded_under: None,
            // Paper, lit evenly by the screen.
            flash: Some(Staging::FlatPhoto),
        });
    }
    for rel in super::replay::CLIPS {
        if !pick.wants(rel) {
            continue;
        }
        let Some(path) = media_file(media, rel) else {
            continue;
        };
        let frames = load_clip(&path, MAX_CLIP_S)?
            .into_iter()
            .map(|(t, mut f)| {
                adversarial_noise(&mut f, AMPLITUDE, 99);
                Ok((t, jpeg(&f)?))
            })
            .collect::<Result<Vec<_>, AttacksError>>()?;
        out.push(Presentation {
            species: Species::AdversarialNoise,
            name: format!("replay {rel}"),
            frames,
            challenge: challenge_for(rel),
            recorded_under: None,
            // A screen: its own light drowns the flash.
            flash: Some(Staging::NoReaction),
        });
    }
    Ok(out)
}
