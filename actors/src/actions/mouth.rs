//! MOUTH_OPEN: the inner-lip gap rises well above its rest and stays there briefly.

use livegate_models::FaceObservation;

use super::{ActionDetector, ActionEvent, ActionKind, Baseline, MAX_GAP_S};
use crate::thresholds::QualityThresholds;

/// Largest spread of a resting mouth's openness.
const MOUTH_SPREAD: f32 = 0.08;

#[derive(Debug, Clone, Copy)]
enum Mouth {
    Rest,
    Open {
        since: f64,
    },
    /// Reported; waits for the mouth to close before counting again.
    Reported,
}

/// Finds mouth openings.
#[derive(Debug, Clone)]
pub struct MouthOpenDetector {
    rise: f32,
    min_s: f64,
    baseline: Baseline,
    mouth: Mouth,
    last_t: Option<f64>,
}

impl MouthOpenDetector {
    /// A detector with the given thresholds.
    pub fn new(th: &QualityThresholds) -> Self {
        Self {
            rise: th.mouth_open_rise,
            min_s: th.mouth_open_min_s,
            baseline: Baseline::new(th.baseline_s, MOUTH_SPREAD),
            mouth: Mouth::Rest,
            last_t: None,
        }
    }
}

impl ActionDetector for MouthOpenDetector {
    fn on_face(&mut self, t: f64, face: &FaceObservation) -> Vec<ActionEvent> {
        if self.last_t.is_some_and(|last| t - last > MAX_GAP_S) {
            self.mouth = Mouth::Rest;
        }
        self.last_t = Some(t);
        let v = face.mouth_openness;
        let base = self.baseline.value();
        let rise = base.map(|b| v - b);
        self.baseline
            .observe(t, v, rise.is_none_or(|r| r < self.rise / 2.0));
        let Some(rise) = rise else {
            return Vec::new();
        };
        let open = rise > self.rise;
        // Hysteresis: closing means back under half the rise, so a wobbling lip is one opening.
        let closed = rise < self.rise / 2.0;
        match self.mouth {
            Mouth::Rest if open => {
                self.mouth = Mouth::Open { since: t };
                if self.min_s <= 0.0 {
                    return self.report(t, t);
                }
            }
            Mouth::Open { since } if open && t - since >= self.min_s - 1e-9 => {
                return self.report(since, t);
            }
            Mouth::Open { .. } if closed => self.mouth = Mouth::Rest,
            Mouth::Reported if closed => self.mouth = Mouth::Rest,
            _ => {}
        }
        Vec::new()
    }

    fn on_no_face(&mut self, _t: f64) {
        self.mouth = Mouth::Rest;
    }
}

impl MouthOpenDetector {
    fn report(&mut self, t_start: f64, t_end: f64) -> Vec<ActionEvent> {
        self.mouth = Mouth::Reported;
        vec![ActionEvent {
            kind: ActionKind::MouthOpen,
            t_start,
            t_end,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_series::*;
    use super::*;

    #[test]
    fn an_open_mouth_is_found_once_at_every_rate() {
        for fps in RATES {
            let at = |t: f64, _: usize, mut f: FaceObservation| {
                if (2.0..2.8).contains(&t) {
                    f.mouth_openness = 0.55;
                }
                f
            };
            let ev = run(&Script {
                fps,
                duration: 4.0,
                at: &at,
            });
            assert_eq!(kinds(&ev), vec![ActionKind::MouthOpen], "{fps} fps");
        }
    }

    #[test]
    fn talking_slightly_is_not_an_open_mouth() {
        let at = |t: f64, _: usize, mut f: FaceObservation| {
            f.mouth_openness += 0.12 * ((t * 9.0).sin().abs() as f32);
            f
        };
        let ev = run(&Script {
            fps: 30.0,
            duration: 5.0,
            at: &at,
        });
        assert!(ev.is_empty(), "{ev:?}");
    }
}
