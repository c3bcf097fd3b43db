//! Head movements: TURN_LEFT / TURN_RIGHT (yaw), NOD (pitch down then up), RAISE_HEAD (pitch up).
//!
//! Yaw > 0 is the person's own left (see `HeadPose`), so a mirrored preview on the page does not
//! change which way counts.

use livegate_models::FaceObservation;

use super::{ActionDetector, ActionEvent, ActionKind, Baseline, MAX_GAP_S};
use crate::thresholds::QualityThresholds;

/// Largest spread, in degrees, of a resting head's yaw or pitch.
const POSE_SPREAD: f32 = 4.0;
/// The pose is measured against the camera already: a person's resting pose may differ from
/// zero by a held-phone tilt, not more.
const POSE_BASELINE_LIMIT: f32 = 10.0;

fn pose_baseline(window_s: f64) -> Baseline {
    Baseline::new(window_s, POSE_SPREAD).within(-POSE_BASELINE_LIMIT, POSE_BASELINE_LIMIT)
}

/// A held excursion of one signal past a threshold, reported once until it comes back.
#[derive(Debug, Clone, Copy)]
enum Excursion {
    Rest,
    Out { since: f64 },
    Reported,
}

impl Excursion {
    /// Step with `out` (past the threshold) and `back` (under half of it); returns the start time
    /// when the excursion has been held for `hold_s`.
    fn step(&mut self, t: f64, out: bool, back: bool, hold_s: f64) -> Option<f64> {
        match *self {
            Excursion::Rest if out => {
                *self = Excursion::Out { since: t };
                if hold_s <= 0.0 {
                    *self = Excursion::Reported;
                    return Some(t);
                }
            }
            Excursion::Out { since } if out && t - since >= hold_s - 1e-9 => {
                *self = Excursion::Reported;
                return Some(since);
            }
            Excursion::Out { .. } | Excursion::Reported if back => *self = Excursion::Rest,
            _ => {}
        }
        None
    }
}

/// Finds turns to the person's own left and right.
#[derive(Debug, Clone)]
pub struct TurnDetector {
    yaw_deg: f32,
    hold_s: f64,
    baseline: Baseline,
    left: Excursion,
    right: Excursion,
    last_t: Option<f64>,
}

impl TurnDetector {
    /// A detector with the given thresholds.
    pub fn new(th: &QualityThresholds) -> Self {
        Self {
            yaw_deg: th.turn_yaw_deg,
            hold_s: th.pose_hold_s,
            baseline: pose_baseline(th.baseline_s),
            left: Excursion::Rest,
            right: Excursion::Rest,
            last_t: None,
        }
    }
}

impl ActionDetector for TurnDetector {
    fn on_face(&mut self, t: f64, face: &FaceObservation) -> Vec<ActionEvent> {
        if self.last_t.is_some_and(|last| t - last > MAX_GAP_S) {
            self.on_no_face(t);
        }
        self.last_t = Some(t);
        let yaw = face.pose.yaw;
        let rel = self.baseline.value().map(|b| yaw - b);
        self.baseline
            .observe(t, yaw, rel.is_none_or(|r| r.abs() < self.yaw_deg / 3.0));
        let Some(rel) = rel else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let back = rel.abs() < self.yaw_deg / 2.0;
        if let Some(start) = self.left.step(t, rel > self.yaw_deg, back, self.hold_s) {
            out.push(ActionEvent {
                kind: ActionKind::TurnLeft,
                t_start: start,
                t_end: t,
            });
        }
        if let Some(start) = self.right.step(t, rel < -self.yaw_deg, back, self.hold_s) {
            out.push(ActionEvent {
                kind: ActionKind::TurnRight,
                t_start: start,
                t_end: t,
            });
        }
        out
    }

    fn on_no_face(&mut self, _t: f64) {
        self.left = Excursion::Rest;
        self.right = Excursion::Rest;
    }
}

/// Finds head raises (looking up).
#[derive(Debug, Clone)]
pub struct RaiseHeadDetector {
    pitch_deg: f32,
    hold_s: f64,
    baseline: Baseline,
    up: Excursion,
    last_t: Option<f64>,
}

impl RaiseHeadDetector {
    /// A detector with the given thresholds.
    pub fn new(th: &QualityThresholds) -> Self {
        Self {
            pitch_deg: th.raise_head_deg,
            hold_s: th.pose_hold_s,
            baseline: pose_baseline(th.baseline_s),
            up: Excursion::Rest,
            last_t: None,
        }
    }
}

impl ActionDetector for RaiseHeadDetector {
    fn on_face(&mut self, t: f64, face: &FaceObservation) -> Vec<ActionEvent> {
        if self.last_t.is_some_and(|last| t - last > MAX_GAP_S) {
            self.up = Excursion::Rest;
        }
        self.last_t = Some(t);
        let pitch = face.pose.pitch;
        let rel = self.baseline.value().map(|b| pitch - b);
        self.baseline
            .observe(t, pitch, rel.is_none_or(|r| r.abs() < self.pitch_deg / 3.0));
        let Some(rel) = rel else {
            return Vec::new();
        };
        let back = rel < self.pitch_deg / 2.0;
        self.up
            .step(t, rel > self.pitch_deg, back, self.hold_s)
            .map(|start| ActionEvent {
                kind: ActionKind::RaiseHead,
                t_start: start,
                t_end: t,
            })
            .into_iter()
            .collect()
    }

    fn on_no_face(&mut self, _t: f64) {
        self.up = Excursion::Rest;
    }
}

#[derive(Debug, Clone, Copy)]
enum Nod {
    Level,
    Down {
        since: f64,
    },
    /// Down for too long: wait for the head to come up before watching again.
    Stale,
}

/// Finds nods: head down past a threshold, then back up within a time limit.
#[derive(Debug, Clone)]
pub struct NodDetector {
    down_deg: f32,
    max_s: f64,
    baseline: Baseline,
    nod: Nod,
    last_t: Option<f64>,
}

impl NodDetector {
    /// A detector with the given thresholds.
    pub fn new(th: &QualityThresholds) -> Self {
        Self {
            down_deg: th.nod_down_deg,
            max_s: th.nod_max_s,
            baseline: pose_baseline(th.baseline_s),
            nod: Nod::Level,
            last_t: None,
        }
    }
}

impl ActionDetector for NodDetector {
    fn on_face(&mut self, t: f64, face: &FaceObservation) -> Vec<ActionEvent> {
        if self.last_t.is_some_and(|last| t - last > MAX_GAP_S) {
            self.nod = Nod::Level;
        }
        self.last_t = Some(t);
        let pitch = face.pose.pitch;
        let rel = self.baseline.value().map(|b| pitch - b);
        self.baseline
            .observe(t, pitch, rel.is_none_or(|r| r.abs() < self.down_deg / 3.0));
        let Some(rel) = rel else {
            return Vec::new();
        };
        let down = rel < -self.down_deg;
        // Back up: within a third of the threshold of the rest (or above it).
        let up = rel > -self.down_deg / 3.0;
        match self.nod {
            Nod::Level if down => self.nod = Nod::Down { since: t },
            Nod::Down { since } if up => {
                self.nod = Nod::Level;
                if t - since <= self.max_s {
                    return vec![ActionEvent {
                        kind: ActionKind::Nod,
                        t_start: since,
                        t_end: t,
                    }];
                }
            }
            Nod::Down { since } if t - since > self.max_s => self.nod = Nod::Stale,
            Nod::Stale if up => self.nod = Nod::Level,
            _ => {}
        }
        Vec::new()
    }

    fn on_no_face(&mut self, _t: f64) {
        self.nod = Nod::Level;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_series::*;
    use super::*;

    /// A smooth excursion of `amp` degrees from `from` lasting `len` seconds (half a sine).
    fn bump(t: f64, from: f64, len: f64, amp: f32) -> f32 {
        if t < from || t > from + len {
            0.0
        } else {
            amp * (((t - from) / len * std::f64::consts::PI).sin() as f32)
        }
    }

    #[test]
    fn turns_follow_the_sign_of_yaw_as_the_persons_own_side() {
        for fps in RATES {
            let at = |t: f64, _: usize, mut f: FaceObservation| {
                f.pose.yaw += bump(t, 1.5, 1.0, 35.0) + bump(t, 3.5, 1.0, -35.0);
                f
            };
            let ev = run(&Script {
                fps,
                duration: 5.5,
                at: &at,
            });
            assert_eq!(
                kinds(&ev),
                vec![ActionKind::TurnLeft, ActionKind::TurnRight],
                "{fps} fps"
            );
        }
    }

    #[test]
    fn a_held_turn_counts_once() {
        let at = |t: f64, _: usize, mut f: FaceObservation| {
            if t > 1.5 {
                f.pose.yaw += 30.0;
            }
            f
        };
        let ev = run(&Script {
            fps: 30.0,
            duration: 5.0,
            at: &at,
        });
        assert_eq!(kinds(&ev), vec![ActionKind::TurnLeft]);
    }

    #[test]
    fn nod_needs_down_then_up() {
        for fps in RATES {
            let at = |t: f64, _: usize, mut f: FaceObservation| {
                f.pose.pitch += bump(t, 2.0, 0.8, -20.0);
                f
            };
            let ev = run(&Script {
                fps,
                duration: 4.0,
                at: &at,
            });
            assert_eq!(kinds(&ev), vec![ActionKind::Nod], "{fps} fps");
            // Head down and staying down is not a nod.
            let at = |t: f64, _: usize, mut f: FaceObservation| {
                if t > 2.0 {
                    f.pose.pitch -= 20.0;
                }
                f
            };
            let ev = run(&Script {
                fps,
                duration: 6.0,
                at: &at,
            });
            assert!(ev.is_empty(), "{fps} fps: {ev:?}");
            // Head up then back is a raise, never a nod.
            let at = |t: f64, _: usize, mut f: FaceObservation| {
                f.pose.pitch += bump(t, 2.0, 0.8, 20.0);
                f
            };
            let ev = run(&Script {
                fps,
                duration: 4.0,
                at: &at,
            });
            assert_eq!(kinds(&ev), vec![ActionKind::RaiseHead], "{fps} fps");
        }
    }

    #[test]
    fn a_head_turned_from_the_start_is_the_baseline_not_a_turn() {
        let at = |_t: f64, _: usize, mut f: FaceObservation| {
            f.pose.yaw += 15.0;
            f
        };
        let ev = run(&Script {
            fps: 15.0,
            duration: 4.0,
            at: &at,
        });
        assert!(ev.is_empty(), "{ev:?}");
    }
}
