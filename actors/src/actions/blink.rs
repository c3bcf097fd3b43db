//! BLINK: both eyes fall below a fraction of their resting openness and reopen quickly.
//! A long closure is reported as EYES_CLOSED instead.

use livegate_models::FaceObservation;

use super::{ActionDetector, ActionEvent, ActionKind, Baseline, MAX_GAP_S};
use crate::thresholds::QualityThresholds;

/// A closure shorter than this (from first closed frame to the first open one) is noise: at
/// 30 fps a blink spans several frames, a lone dark frame does not.
const MIN_BLINK_S: f64 = 0.05;
/// A closure at least this long is an eyes-closed episode.
const EYES_CLOSED_MIN_S: f64 = 1.0;
/// Largest spread of resting eye openness (the iris model jitters by about 0.02).
const EYE_SPREAD: f32 = 0.05;

#[derive(Debug, Clone, Copy)]
enum Eyes {
    Open,
    Closed { first: f64, last: f64 },
}

/// Finds blinks and eyes-closed episodes.
#[derive(Debug, Clone)]
pub struct BlinkDetector {
    closed_fraction: f32,
    max_blink_s: f64,
    baselines: [Baseline; 2],
    eyes: Eyes,
    last_t: Option<f64>,
    /// Frames seen while the baseline is learned (bounded: learning gives up after a few
    /// windows), replayed once it is known.
    learning: Vec<(f64, [f32; 2])>,
}

impl BlinkDetector {
    /// A detector with the given thresholds.
    pub fn new(th: &QualityThresholds) -> Self {
        Self {
            closed_fraction: th.blink_closed_fraction,
            max_blink_s: th.blink_max_s,
            baselines: [
                Baseline::new(th.baseline_s, EYE_SPREAD),
                Baseline::new(th.baseline_s, EYE_SPREAD),
            ],
            eyes: Eyes::Open,
            last_t: None,
            learning: Vec::new(),
        }
    }
}

impl BlinkDetector {
    /// Step the open/closed machine with a frame's eye openness against known baselines.
    fn step(&mut self, t: f64, open: [f32; 2], base: [f32; 2]) -> Option<ActionEvent> {
        if self.last_t.is_some_and(|last| t - last > MAX_GAP_S) {
            self.eyes = Eyes::Open;
        }
        self.last_t = Some(t);
        let closed = (0..2).all(|i| open[i] < base[i] * self.closed_fraction);
        match (self.eyes, closed) {
            (Eyes::Open, true) => self.eyes = Eyes::Closed { first: t, last: t },
            (Eyes::Closed { first, .. }, true) => self.eyes = Eyes::Closed { first, last: t },
            (Eyes::Closed { first, last }, false) => {
                self.eyes = Eyes::Open;
                let shortest = last - first;
                let longest = t - first;
                let kind = if longest >= MIN_BLINK_S && shortest <= self.max_blink_s {
                    ActionKind::Blink
                } else if shortest >= EYES_CLOSED_MIN_S {
                    ActionKind::EyesClosed
                } else {
                    return None;
                };
                return Some(ActionEvent {
                    kind,
                    t_start: first,
                    t_end: t,
                });
            }
            (Eyes::Open, false) => {}
        }
        None
    }
}

impl ActionDetector for BlinkDetector {
    fn on_face(&mut self, t: f64, face: &FaceObservation) -> Vec<ActionEvent> {
        // The mesh's coarse eye openness is on another scale: only the iris model's counts.
        if face.left_eye.is_none() || face.right_eye.is_none() {
            return Vec::new();
        }
        let open = face.eye_openness();
        let base = [self.baselines[0].value(), self.baselines[1].value()];
        for i in 0..2 {
            let neutral = base[i].is_none_or(|b| open[i] >= b * self.closed_fraction);
            self.baselines[i].observe(t, open[i], neutral);
        }
        match (base, [self.baselines[0].value(), self.baselines[1].value()]) {
            ([Some(l), Some(r)], _) => self.step(t, open, [l, r]).into_iter().collect(),
            (_, [Some(l), Some(r)]) => {
                // The baseline was just learned: replay the frames it was learned from, so a
                // blink in the first moments of a session is not lost.
                let learned = std::mem::take(&mut self.learning);
                learned
                    .into_iter()
                    .chain(std::iter::once((t, open)))
                    .filter_map(|(t, open)| self.step(t, open, [l, r]))
                    .collect()
            }
            _ => {
                self.learning.push((t, open));
                Vec::new()
            }
        }
    }

    fn on_no_face(&mut self, _t: f64) {
        self.eyes = Eyes::Open;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_series::*;
    use super::*;
    use crate::synthetic::with_eyes;

    fn closed_between(
        from: f64,
        to: f64,
        level: f32,
    ) -> impl Fn(f64, usize, FaceObservation) -> FaceObservation {
        move |t, _, f| {
            if t >= from && t < to {
                with_eyes(f, level)
            } else {
                f
            }
        }
    }

    #[test]
    fn a_blink_is_found_at_8_15_and_30_fps() {
        for fps in RATES {
            // A 150 ms blink at 2 s: at 8 fps that is one or two low frames.
            let at = closed_between(2.0, 2.15, 0.12);
            let ev = run(&Script {
                fps,
                duration: 4.0,
                at: &at,
            });
            assert_eq!(kinds(&ev), vec![ActionKind::Blink], "{fps} fps");
            assert!((1.95..2.3).contains(&ev[0].t_start), "{fps} fps {ev:?}");
        }
    }

    #[test]
    fn a_single_low_frame_at_8_fps_is_a_blink() {
        let at =
            |_t: f64, i: usize, f: FaceObservation| if i == 20 { with_eyes(f, 0.14) } else { f };
        let ev = run(&Script {
            fps: 8.0,
            duration: 4.0,
            at: &at,
        });
        assert_eq!(kinds(&ev), vec![ActionKind::Blink]);
    }

    #[test]
    fn a_blink_while_the_baseline_is_learned_is_not_lost() {
        for fps in RATES {
            let at = closed_between(0.3, 0.45, 0.1);
            let ev = run(&Script {
                fps,
                duration: 3.0,
                at: &at,
            });
            assert_eq!(kinds(&ev), vec![ActionKind::Blink], "{fps} fps");
        }
    }

    #[test]
    fn a_long_closure_is_eyes_closed_not_a_blink() {
        for fps in RATES {
            let at = closed_between(2.0, 4.0, 0.12);
            let ev = run(&Script {
                fps,
                duration: 6.0,
                at: &at,
            });
            assert_eq!(kinds(&ev), vec![ActionKind::EyesClosed], "{fps} fps");
        }
    }

    #[test]
    fn three_blinks_are_three() {
        for fps in RATES {
            let at = |t: f64, _: usize, f: FaceObservation| {
                if [1.5, 2.5, 3.5].iter().any(|s| t >= *s && t < s + 0.2) {
                    with_eyes(f, 0.1)
                } else {
                    f
                }
            };
            let ev = run(&Script {
                fps,
                duration: 5.0,
                at: &at,
            });
            assert_eq!(kinds(&ev), vec![ActionKind::Blink; 3], "{fps} fps");
        }
    }

    #[test]
    fn small_eyes_blink_relative_to_their_own_baseline() {
        // A person whose eyes rest at 0.22 and close to 0.1 still blinks.
        let at = |t: f64, _: usize, f: FaceObservation| {
            if (2.0..2.2).contains(&t) {
                with_eyes(f, 0.10)
            } else {
                let o = f.eye_openness()[0];
                with_eyes(f, o - 0.13)
            }
        };
        let ev = run(&Script {
            fps: 15.0,
            duration: 4.0,
            at: &at,
        });
        assert_eq!(kinds(&ev), vec![ActionKind::Blink]);
    }
}
