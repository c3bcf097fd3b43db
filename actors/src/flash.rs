//! The colour-flash step of a session: its random sequence and its state machine.
//!
//! [`choose_sequence`] draws a session's colours (the scene's `flash` rule: how many steps, how
//! long each); [`FlashLogic`] follows the step in a session: it learns which colour the page
//! had on screen for each frame (the frame header's `flash` byte, told by the actor through
//! [`FlashLogic::note_tag`]), measures every analysed frame's skin patches
//! ([`livegate_models::flash::measure`]) from the settling phase on (those frames are the
//! baseline), and decides once the page's frames have moved past the last colour, or when the
//! flash has had its time. The decision itself is [`livegate_models::flash::FlashCheck`].
//!
//! ```text
//! settled ──FlashStarted──▶ page flashes, tags frames ──frames past the end──▶ FlashVerdict
//!                                                      └─ timeout ───────────▶ (too few frames)
//! ```

use std::collections::VecDeque;

use image::RgbImage;
use livegate_models::flash::{measure, FlashCheck, FlashStep, FlashVerdict, PALETTE};
use livegate_models::FrameAnalysis;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Fewest and most steps a scene may ask for.
pub const STEPS_RANGE: (usize, usize) = (4, 12);
/// Shortest and longest step a scene may ask for, in milliseconds.
pub const MS_RANGE: (u32, u32) = (100, 1000);
/// Seconds the page gets past the sequence's own length to show it and send its frames.
pub const SLACK_S: f64 = 3.0;
/// Tags remembered (a few seconds of frames at the page's highest rate).
const TAGS_KEPT: usize = 128;

/// A scene's flash rule: how many steps, how long each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlashRules {
    /// Steps per sequence.
    pub steps: usize,
    /// Shortest step, milliseconds.
    pub min_ms: u32,
    /// Longest step, milliseconds.
    pub max_ms: u32,
}

impl Default for FlashRules {
    fn default() -> Self {
        Self {
            steps: 8,
            min_ms: 150,
            max_ms: 300,
        }
    }
}

/// A flash rule that cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FlashRulesError {
    /// Too few or too many steps.
    #[error("steps must be between {lo} and {hi} (got {0})", lo = STEPS_RANGE.0, hi = STEPS_RANGE.1)]
    Steps(usize),
    /// A step length out of range, or the shortest longer than the longest.
    #[error("step lengths must be {lo}..={hi} ms with min_ms <= max_ms (got {0}..={1})", lo = MS_RANGE.0, hi = MS_RANGE.1)]
    Lengths(u32, u32),
}

impl FlashRules {
    /// Checks the rule.
    pub fn validate(&self) -> Result<(), FlashRulesError> {
        if !(STEPS_RANGE.0..=STEPS_RANGE.1).contains(&self.steps) {
            return Err(FlashRulesError::Steps(self.steps));
        }
        let ms = MS_RANGE.0..=MS_RANGE.1;
        if !ms.contains(&self.min_ms) || !ms.contains(&self.max_ms) || self.min_ms > self.max_ms {
            return Err(FlashRulesError::Lengths(self.min_ms, self.max_ms));
        }
        Ok(())
    }
}

/// A fresh random sequence: `rules.steps` colours of the palette, never the same twice in a
/// row, each lasting a random `min_ms..=max_ms`. Unpredictable, or a clip recorded under the
/// usual colours would pass.
pub fn choose_sequence(
    rules: &FlashRules,
    rng: &mut impl Rng,
) -> Result<Vec<FlashStep>, FlashRulesError> {
    rules.validate()?;
    let mut out: Vec<FlashStep> = Vec::with_capacity(rules.steps);
    for _ in 0..rules.steps {
        // Drawn among the colours other than the last one: uniform, and never a repeat.
        let last = out.last().map(|s| usize::from(s.colour));
        let choices = PALETTE.len() - usize::from(last.is_some());
        let mut colour = rng.random_range(0..choices);
        if let Some(last) = last {
            if colour >= last {
                colour += 1;
            }
        }
        out.push(FlashStep {
            colour: colour as u8,
            ms: rng.random_range(rules.min_ms..=rules.max_ms),
        });
    }
    Ok(out)
}

/// The configuration of a session that is the colour flash alone (a `colour`-only scene's:
/// no action), flashing `sequence`, with default timeouts and thresholds.
pub fn colour_only_session(sequence: Vec<FlashStep>) -> crate::session::SessionConfig {
    crate::session::SessionConfig {
        flash: Some(sequence),
        ..crate::session::SessionConfig::new(Vec::new())
    }
}

/// Where the flash step stands.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FlashPhase {
    /// Frames are measured (the baseline) until the session asks for the flash.
    Watching,
    /// The page was asked to flash at `since`.
    Flashing { since: f64 },
    /// Decided.
    Done,
}

/// The flash step's state machine (pure: frames and tags in, a verdict out).
#[derive(Debug, Clone)]
pub struct FlashLogic {
    check: FlashCheck,
    tags: VecDeque<(f64, u8)>,
    phase: FlashPhase,
    verdict: Option<FlashVerdict>,
}

impl FlashLogic {
    /// A step for `sequence` (step `i` is tagged `i + 1`).
    pub fn new(sequence: Vec<FlashStep>) -> Self {
        Self {
            check: FlashCheck::new(sequence),
            tags: VecDeque::new(),
            phase: FlashPhase::Watching,
            verdict: None,
        }
    }

    /// The sequence.
    pub fn sequence(&self) -> &[FlashStep] {
        self.check.steps()
    }

    /// The page's tag for the frame captured at `t` (session seconds), from its header.
    pub fn note_tag(&mut self, t: f64, tag: u8) {
        if self.tags.len() == TAGS_KEPT {
            self.tags.pop_front();
        }
        self.tags.push_back((t, tag));
    }

    fn tag_of(&self, t: f64) -> u8 {
        self.tags
            .iter()
            .rev()
            .find(|(at, _)| (at - t).abs() < 1e-6)
            .map_or(0, |(_, tag)| *tag)
    }

    /// Measures an analysed frame (needs its pixels and a face); kept until decided.
    pub fn on_frame(&mut self, frame: &FrameAnalysis, pixels: Option<&RgbImage>) {
        if self.phase == FlashPhase::Done {
            return;
        }
        let (Some(face), Some(pixels)) = (frame.main.as_ref(), pixels) else {
            return;
        };
        let tag = self.tag_of(frame.t);
        if tag != 0 && self.phase == FlashPhase::Watching {
            // Colours before the server asked for them: not this session's page.
            return;
        }
        if let Some(sample) = measure(frame.t, tag, pixels, face) {
            self.check.observe(sample);
        }
    }

    /// The session asks the page to flash now.
    pub fn start(&mut self, t: f64) {
        if self.phase == FlashPhase::Watching {
            self.phase = FlashPhase::Flashing { since: t };
        }
    }

    /// Whether the page is flashing (the session analyses every frame meanwhile).
    pub fn is_flashing(&self) -> bool {
        matches!(self.phase, FlashPhase::Flashing { .. })
    }

    /// Decides when the frames have moved past the sequence or its time is up (`t`: the
    /// session's clock); returns the verdict when it is taken.
    pub fn poll(&mut self, t: f64) -> Option<&FlashVerdict> {
        let FlashPhase::Flashing { since } = self.phase else {
            return None;
        };
        let length: f64 = self
            .sequence()
            .iter()
            .map(|s| f64::from(s.ms) / 1000.0)
            .sum();
        if self.check.past_the_end() || t - since > length + SLACK_S {
            self.phase = FlashPhase::Done;
            self.verdict = Some(self.check.verdict());
        }
        self.verdict.as_ref()
    }

    /// The verdict, once taken.
    pub fn verdict(&self) -> Option<&FlashVerdict> {
        self.verdict.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn sequences_are_random_within_the_rule_and_never_repeat_a_colour() {
        let rules = FlashRules::default();
        let mut rng = StdRng::seed_from_u64(3);
        let mut firsts = [0usize; 6];
        for _ in 0..600 {
            let s = choose_sequence(&rules, &mut rng).unwrap();
            assert_eq!(s.len(), 8);
            assert!(s.windows(2).all(|w| w[0].colour != w[1].colour), "{s:?}");
            assert!(s.iter().all(|x| (150..=300).contains(&x.ms)));
            firsts[usize::from(s[0].colour)] += 1;
        }
        // Every colour opens some sequences (about 100 each).
        assert!(firsts.iter().all(|&n| n > 60), "{firsts:?}");
    }

    #[test]
    fn rules_out_of_range_are_refused() {
        let bad = |steps, min_ms, max_ms| {
            FlashRules {
                steps,
                min_ms,
                max_ms,
            }
            .validate()
            .is_err()
        };
        assert!(bad(3, 150, 300));
        assert!(bad(13, 150, 300));
        assert!(bad(8, 300, 150));
        assert!(bad(8, 50, 300));
        assert!(bad(8, 150, 2000));
        assert!(!bad(6, 150, 150));
    }

    #[test]
    fn a_flash_without_frames_is_decided_when_its_time_is_up() {
        let mut logic = FlashLogic::new(
            choose_sequence(&FlashRules::default(), &mut StdRng::seed_from_u64(1)).unwrap(),
        );
        assert!(logic.poll(1.0).is_none(), "not started");
        logic.start(1.0);
        assert!(logic.is_flashing());
        assert!(logic.poll(2.0).is_none());
        let v = logic.poll(1.0 + 2.4 + SLACK_S + 0.1).cloned().unwrap();
        assert!(!v.live);
        assert_eq!(v.reasons[0].as_str(), "flash_too_few_frames");
    }
}
