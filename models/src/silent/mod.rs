//! Silent (passive) liveness: no action asked, a few seconds of looking at the camera, and a
//! verdict fused from independent cues.
//!
//! An accumulator ([`SilentLiveness`]) is fed one [`FrameAnalysis`] at a time, with the frame's
//! pixels where a cue needs them, then asked for its [`SilentVerdict`]. The same code serves
//! `livegate analyze PATH --verdict` and (later) live sessions. Pure: no I/O, no actors.
//!
//! Cues, each with an attack score in 0..=1 (0 looks live, 1 looks like the attack it names):
//! - `planar_motion` ([`planar`]): the face's rigid points move by one homography (a photo, a
//!   screen) rather than with a head's parallax; undecided (`not_enough_motion`) while the head
//!   has not turned enough to tell.
//! - `glare` ([`screen`]): a reflecting surface's clipped white on the face.
//! - `screen_moire` ([`screen`]): a screen's periodic peaks in the face's spectrum; reported in
//!   the scores but not used by the decision yet (it does not separate on the media at hand).
//! - `border` ([`border`]): a held medium's outline (a screen's bezel, a photo's edge): long
//!   straight edges on both flanks of the face and above or below it.
//! - `no_pulse` ([`pulse`]): no heart-rate peak in the skin's colour; soft.
//! - a bank's own texture model through [`TextureCue`] (none shipped).
//!
//! The fusion rule ([`SilentLiveness::verdict`], `docs/attacks.md`):
//! 1. Fewer than [`MIN_FACE_FRAMES`] frames with a face, or a face seen for less than
//!    [`MIN_FACE_SPAN_S`]: not live, `not_enough_frames`.
//! 2. Any hard cue (planar motion, glare, border, texture) at or over [`ATTACK`]: not live,
//!    every such cue named.
//! 3. `no_pulse` at or over [`ATTACK`] while a hard cue is at or over [`SUSPECT`]: not live,
//!    both named (the pulse lowers confidence, never decides alone).
//! 4. Live needs positive structure: planar motion at or under [`PARALLAX`]. Undecided: not
//!    live, `not_enough_motion`. Between [`PARALLAX`] and [`ATTACK`]: live only with a clear
//!    pulse (`no_pulse` at or under [`PARALLAX`]), else not live, `weak_parallax`.
//! 5. Otherwise live.

pub mod border;
pub mod homography;
pub mod planar;
pub mod pulse;
pub mod screen;

use std::collections::BTreeMap;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::{FaceObservation, FrameAnalysis};
pub use border::BorderCue;
pub use planar::PlanarMotion;
pub use pulse::Pulse;
pub use screen::ScreenCues;

/// Fewest frames with a face for any verdict but `not_enough_frames`.
pub const MIN_FACE_FRAMES: usize = 10;
/// Shortest span, in seconds, over which the face must be seen.
pub const MIN_FACE_SPAN_S: f64 = 1.0;
/// Only this much of a clip counts, in seconds from the first frame with a face: a silent check
/// lasts a few seconds, and a long recording must not win by sheer length.
pub const WINDOW_S: f64 = 10.0;
/// A cue's score at or over which it names an attack.
pub const ATTACK: f32 = 0.5;
/// A hard cue's score at or over which it is suspicious enough for `no_pulse` to tip it.
pub const SUSPECT: f32 = 0.3;
/// Planar-motion score at or under which the face shows a head's parallax.
pub const PARALLAX: f32 = 0.25;
/// The hard cues a deployment may turn into reported-only ones (`engine.report_only_cues`):
/// those that only ever refuse. `planar_motion` is not among them: it is also the positive cue.
pub const SWITCHABLE_CUES: &[&str] = &["glare", "border"];

/// The pixel cues' sampling: a frame at most every [`PixelSampling::PERIOD_S`], at most
/// [`PixelSampling::MAX`] of them (enough for a stable average or median; pixels cost more than
/// landmarks, and a long look must not cost more than a short one).
#[derive(Debug, Clone, Copy, Default)]
pub struct PixelSampling {
    taken: usize,
    last_t: Option<f64>,
}

impl PixelSampling {
    /// Seconds between sampled frames at least.
    pub const PERIOD_S: f64 = 0.25;
    /// Sampled frames at most.
    pub const MAX: usize = 24;

    /// Whether a frame at `t` would be sampled (a clock that went back starts a new period).
    pub fn wants(&self, t: f64) -> bool {
        self.taken < Self::MAX
            && self
                .last_t
                .is_none_or(|last| t < last || t - last >= Self::PERIOD_S)
    }

    /// Counts the frame at `t` as sampled.
    pub fn take(&mut self, t: f64) {
        self.taken += 1;
        self.last_t = Some(t);
    }
}

/// What one cue says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading {
    /// Attack score: 0 looks live .. 1 looks like the attack the cue names.
    Score(f32),
    /// The cue cannot tell, and why (a reason word such as `not_enough_motion`).
    Undecided(&'static str),
}

impl Reading {
    fn score(self) -> Option<f32> {
        match self {
            Reading::Score(s) => Some(s),
            Reading::Undecided(_) => None,
        }
    }
}

/// A pluggable texture model (a bank's own presentation-attack classifier); none is shipped.
///
/// It sees the same frames and faces as the built-in cues and counts as a hard cue: a score at
/// or over [`ATTACK`] fails the verdict under its [`name`](TextureCue::name).
pub trait TextureCue: Send {
    /// Reason word and score key, such as `texture`.
    fn name(&self) -> &'static str;
    /// Adds one frame and its main face.
    fn observe(&mut self, t: f64, frame: &RgbImage, face: &FaceObservation);
    /// Attack score so far (0 live .. 1 attack); `None` while it cannot tell.
    fn score(&self) -> Option<f32>;
}

/// The silent-liveness verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilentVerdict {
    /// Whether the face is judged live.
    pub live: bool,
    /// Why not (cue names such as `planar_motion`, or `not_enough_frames`); empty when live.
    pub reasons: Vec<String>,
    /// Each cue that measured, by name: its attack score (0 live .. 1 attack).
    pub scores: BTreeMap<String, f32>,
}

/// The silent-liveness accumulator over one session's or clip's frames.
pub struct SilentLiveness {
    planar: PlanarMotion,
    screen: ScreenCues,
    border: BorderCue,
    pulse: Pulse,
    texture: Option<Box<dyn TextureCue>>,
    /// Hard cues whose scores are reported but never decide (from [`SWITCHABLE_CUES`]).
    report_only: Vec<&'static str>,
    face_frames: usize,
    first_face_t: Option<f64>,
    last_face_t: Option<f64>,
}

impl std::fmt::Debug for SilentLiveness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SilentLiveness")
            .field("face_frames", &self.face_frames)
            .field("planar_pairs", &self.planar.pairs())
            .field("texture", &self.texture.as_ref().map(|t| t.name()))
            .finish_non_exhaustive()
    }
}

impl Default for SilentLiveness {
    fn default() -> Self {
        Self::new()
    }
}

impl SilentLiveness {
    /// An accumulator with the built-in cues and no texture model.
    pub fn new() -> Self {
        Self {
            planar: PlanarMotion::default(),
            screen: ScreenCues::default(),
            border: BorderCue::default(),
            pulse: Pulse::default(),
            texture: None,
            report_only: Vec::new(),
            face_frames: 0,
            first_face_t: None,
            last_face_t: None,
        }
    }

    /// Adds a texture model as one more hard cue.
    pub fn with_texture(mut self, cue: Box<dyn TextureCue>) -> Self {
        self.texture = Some(cue);
        self
    }

    /// Makes the named hard cues reported-only: their scores stay in the verdict, but they
    /// never refuse. Names outside [`SWITCHABLE_CUES`] are ignored (the configuration refuses
    /// them before they get here).
    pub fn with_report_only(mut self, cues: &[String]) -> Self {
        self.report_only = SWITCHABLE_CUES
            .iter()
            .copied()
            .filter(|c| cues.iter().any(|n| n == c))
            .collect();
        self
    }

    /// Whether the named cue is reported only here (`with_report_only`): its score never
    /// refuses, in this verdict or as another decision's veto.
    pub fn reports_only(&self, cue: &str) -> bool {
        self.report_only.contains(&cue)
    }

    /// Adds one analysed frame; `frame` is its pixels, for the cues that need them (without
    /// them only the planar-motion cue learns from this frame).
    pub fn observe(&mut self, analysis: &FrameAnalysis, frame: Option<&RgbImage>) {
        let Some(face) = analysis.main.as_ref() else {
            return;
        };
        let t = analysis.t;
        if self.first_face_t.is_some_and(|first| t - first > WINDOW_S) {
            return;
        }
        self.face_frames += 1;
        self.first_face_t.get_or_insert(t);
        self.last_face_t = Some(t);
        self.planar.observe(t, face);
        if let Some(frame) = frame {
            self.screen.observe(t, frame, &face.face);
            self.border.observe(t, frame, &face.face);
            self.pulse.observe(t, frame, face);
            if let Some(texture) = self.texture.as_mut() {
                texture.observe(t, frame, face);
            }
        }
    }

    /// The planar-motion cue's accumulator (for reports: its residual and pair count).
    pub fn planar(&self) -> &PlanarMotion {
        &self.planar
    }

    /// The screen cues' accumulator (for reports: the raw moiré statistic and glare share).
    pub fn screen(&self) -> &ScreenCues {
        &self.screen
    }

    /// The pulse accumulator (for reports: the pulse share).
    pub fn pulse(&self) -> &Pulse {
        &self.pulse
    }

    /// The verdict over everything observed so far, by the fusion rule of the module doc.
    pub fn verdict(&self) -> SilentVerdict {
        let planar = self.planar.reading();
        // `border` never read over 0.5 on a live clip of the media folder (enclosure at most 1.8
        // of the 2.5 line); a doorway or a window frame around a still head could
        // (docs/attacks.md).
        let mut hard: Vec<(&'static str, Reading)> = vec![
            ("planar_motion", planar),
            ("glare", self.screen.glare()),
            ("border", self.border.reading()),
        ];
        if let Some(texture) = self.texture.as_ref() {
            let reading = texture
                .score()
                .map_or(Reading::Undecided("texture_undecided"), Reading::Score);
            hard.push((texture.name(), reading));
        }
        let pulse = self.pulse.reading();
        let mut scores: BTreeMap<String, f32> = hard
            .iter()
            .filter_map(|(name, r)| r.score().map(|s| (name.to_string(), s)))
            .collect();
        if let Some(s) = pulse.score() {
            scores.insert("no_pulse".into(), s);
        }
        // Reported, not decided on: on the media at hand the statistic does not tell screens
        // from faces (docs/attacks.md).
        if let Some(s) = self.screen.moire().score() {
            scores.insert("screen_moire".into(), s);
        }
        let not_live = |reasons: Vec<&str>| SilentVerdict {
            live: false,
            reasons: reasons.into_iter().map(str::to_string).collect(),
            scores: scores.clone(),
        };

        let span = match (self.first_face_t, self.last_face_t) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        };
        if self.face_frames < MIN_FACE_FRAMES || span < MIN_FACE_SPAN_S {
            return not_live(vec!["not_enough_frames"]);
        }
        hard.retain(|(name, _)| !self.reports_only(name));
        let attacks: Vec<&str> = hard
            .iter()
            .filter(|(_, r)| r.score().is_some_and(|s| s >= ATTACK))
            .map(|(name, _)| *name)
            .collect();
        if !attacks.is_empty() {
            return not_live(attacks);
        }
        let no_pulse = pulse.score();
        if no_pulse.is_some_and(|s| s >= ATTACK) {
            let suspects: Vec<&str> = hard
                .iter()
                .filter(|(_, r)| r.score().is_some_and(|s| s >= SUSPECT))
                .map(|(name, _)| *name)
                .collect();
            if !suspects.is_empty() {
                return not_live(std::iter::once("no_pulse").chain(suspects).collect());
            }
        }
        match planar {
            Reading::Undecided(why) => not_live(vec![why]),
            Reading::Score(s) if s <= PARALLAX => SilentVerdict {
                live: true,
                reasons: Vec::new(),
                scores,
            },
            Reading::Score(_) if no_pulse.is_some_and(|p| p <= PARALLAX) => SilentVerdict {
                live: true,
                reasons: Vec::new(),
                scores,
            },
            Reading::Score(_) => not_live(vec!["weak_parallax"]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FaceBox, FaceQuality, HeadPose};

    fn analysis(t: f64, main: Option<FaceObservation>) -> FrameAnalysis {
        FrameAnalysis {
            t,
            frame_width: 640,
            frame_height: 480,
            faces: main.iter().map(|m| m.face).collect(),
            detected: true,
            main,
            engine_ms: 0.0,
        }
    }

    fn still_face() -> FaceObservation {
        FaceObservation {
            face: FaceBox {
                x: 200.0,
                y: 120.0,
                width: 200.0,
                height: 240.0,
                score: 1.0,
            },
            presence: 1.0,
            mesh: (0..468)
                .map(|i| {
                    [
                        200.0 + (i % 20) as f32 * 10.0,
                        120.0 + (i / 20) as f32 * 10.0,
                        0.0,
                    ]
                })
                .collect(),
            pose: HeadPose::default(),
            left_eye: None,
            right_eye: None,
            mesh_eye_openness: [0.3, 0.3],
            mouth_openness: 0.0,
            quality: FaceQuality::default(),
        }
    }

    #[test]
    fn one_frame_is_not_enough() {
        let mut silent = SilentLiveness::new();
        silent.observe(&analysis(0.0, Some(still_face())), None);
        let v = silent.verdict();
        assert!(!v.live);
        assert_eq!(v.reasons, ["not_enough_frames"]);
    }

    #[test]
    fn a_still_face_is_not_enough_motion() {
        let mut silent = SilentLiveness::new();
        for k in 0..40 {
            silent.observe(&analysis(f64::from(k) * 0.1, Some(still_face())), None);
        }
        let v = silent.verdict();
        assert!(!v.live);
        assert_eq!(v.reasons, ["not_enough_motion"]);
    }

    /// Four seconds of a still face on a phone held before the camera, its bezel in view.
    fn look_at_a_held_screen(mut silent: SilentLiveness) -> SilentVerdict {
        for k in 0..40 {
            let frame = border::tests::screen_frame(320.0, 230.0, k);
            let mut face = still_face();
            face.face = border::tests::face_box(320.0, 230.0);
            silent.observe(&analysis(f64::from(k) * 0.1, Some(face)), Some(&frame));
        }
        silent.verdict()
    }

    #[test]
    fn a_held_screens_border_fails_the_look_whatever_the_motion_says() {
        let v = look_at_a_held_screen(SilentLiveness::new());
        assert!(!v.live);
        assert!(v.reasons.iter().any(|r| r == "border"), "{:?}", v.reasons);
        assert!(v.scores.get("border").is_some_and(|s| *s >= ATTACK));
    }

    #[test]
    fn a_reported_only_border_is_scored_but_does_not_refuse() {
        let v =
            look_at_a_held_screen(SilentLiveness::new().with_report_only(&["border".to_string()]));
        assert!(v.scores.get("border").is_some_and(|s| *s >= ATTACK));
        // Still not live: the still face gives no parallax; but not for its border.
        assert_eq!(v.reasons, ["not_enough_motion"]);
    }

    struct AlwaysAttack;

    impl TextureCue for AlwaysAttack {
        fn name(&self) -> &'static str {
            "texture"
        }
        fn observe(&mut self, _: f64, _: &RgbImage, _: &FaceObservation) {}
        fn score(&self) -> Option<f32> {
            Some(0.9)
        }
    }

    #[test]
    fn a_texture_model_is_a_hard_cue() {
        let mut silent = SilentLiveness::new().with_texture(Box::new(AlwaysAttack));
        let frame = RgbImage::from_pixel(640, 480, image::Rgb([120, 100, 90]));
        for k in 0..40 {
            silent.observe(
                &analysis(f64::from(k) * 0.1, Some(still_face())),
                Some(&frame),
            );
        }
        let v = silent.verdict();
        assert!(!v.live);
        assert!(v.reasons.iter().any(|r| r == "texture"), "{:?}", v.reasons);
        assert_eq!(v.scores.get("texture"), Some(&0.9));
    }
}
