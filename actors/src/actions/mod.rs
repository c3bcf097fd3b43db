//! Actions as temporal state machines over (t, face), each relative to a per-person baseline.
//!
//! Every detector works in seconds, not frames, so the same thresholds hold from 8 to 30 fps.

mod baseline;
mod blink;
mod head_pose;
mod mouth;

pub use baseline::Baseline;
pub use blink::BlinkDetector;
pub use head_pose::{NodDetector, RaiseHeadDetector, TurnDetector};
pub use mouth::MouthOpenDetector;

use livegate_models::FaceObservation;
use serde::{Deserialize, Serialize};

use crate::thresholds::QualityThresholds;

/// What the person did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Both eyes closed briefly and opened again.
    Blink,
    /// Mouth opened well beyond its rest.
    MouthOpen,
    /// Head turned to the person's own left.
    TurnLeft,
    /// Head turned to the person's own right.
    TurnRight,
    /// Head went down, then back up.
    Nod,
    /// Head raised (looking up).
    RaiseHead,
    /// Eyes kept closed for a long time (not a blink; never a challenge step).
    EyesClosed,
}

impl ActionKind {
    /// The actions a challenge may ask for.
    pub const CHALLENGE: [ActionKind; 6] = [
        ActionKind::Blink,
        ActionKind::MouthOpen,
        ActionKind::TurnLeft,
        ActionKind::TurnRight,
        ActionKind::Nod,
        ActionKind::RaiseHead,
    ];

    /// The name as in JSON (`turn_left`).
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Blink => "blink",
            ActionKind::MouthOpen => "mouth_open",
            ActionKind::TurnLeft => "turn_left",
            ActionKind::TurnRight => "turn_right",
            ActionKind::Nod => "nod",
            ActionKind::RaiseHead => "raise_head",
            ActionKind::EyesClosed => "eyes_closed",
        }
    }

    /// Whether the action moves the head (the LOOK_STRAIGHT prompt must not fight it).
    pub fn moves_head(self) -> bool {
        matches!(
            self,
            ActionKind::TurnLeft | ActionKind::TurnRight | ActionKind::Nod | ActionKind::RaiseHead
        )
    }
}

/// One occurrence of an action, from its start to its end (frame times, seconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ActionEvent {
    /// What was done.
    pub kind: ActionKind,
    /// When it began.
    pub t_start: f64,
    /// When it was complete.
    pub t_end: f64,
}

/// A detector of one or two action kinds, fed the main face frame by frame.
pub trait ActionDetector: Send {
    /// Feed the face seen at `t`; returns the actions completed on this frame.
    fn on_face(&mut self, t: f64, face: &FaceObservation) -> Vec<ActionEvent>;
    /// No face at `t`: abandon any action in progress (the baseline is kept).
    fn on_no_face(&mut self, t: f64);
}

/// Every detector, run together (observe mode, or a challenge watching for any action).
pub struct ActionSet {
    detectors: Vec<Box<dyn ActionDetector>>,
}

impl ActionSet {
    /// All detectors with the given thresholds.
    pub fn new(th: &QualityThresholds) -> Self {
        Self {
            detectors: vec![
                Box::new(BlinkDetector::new(th)),
                Box::new(MouthOpenDetector::new(th)),
                Box::new(TurnDetector::new(th)),
                Box::new(NodDetector::new(th)),
                Box::new(RaiseHeadDetector::new(th)),
            ],
        }
    }

    /// Feed one frame's main face (or its absence); returns actions completed, in time order.
    pub fn on_frame(&mut self, t: f64, face: Option<&FaceObservation>) -> Vec<ActionEvent> {
        let mut out = Vec::new();
        for d in &mut self.detectors {
            match face {
                Some(face) => out.extend(d.on_face(t, face)),
                None => d.on_no_face(t),
            }
        }
        out.sort_by(|a, b| a.t_end.total_cmp(&b.t_end));
        out
    }
}

impl std::fmt::Debug for ActionSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionSet")
            .field("detectors", &self.detectors.len())
            .finish()
    }
}

/// A longer gap than this between two faces abandons an action in progress.
const MAX_GAP_S: f64 = 0.7;

#[cfg(test)]
pub(crate) mod test_series {
    //! Synthetic series: a neutral face with small jitter, with an action scripted on top.
    use super::*;
    use crate::synthetic::{face_observation, jitter, with_eyes};

    /// What to change on the neutral face at time t.
    pub struct Script<'a> {
        pub fps: f64,
        pub duration: f64,
        pub at: &'a dyn Fn(f64, usize, FaceObservation) -> FaceObservation,
    }

    /// A neutral face with jitter: eyes 0.35 ± 0.02, mouth 0.05 ± 0.01, pose ± 1.5 deg.
    pub fn neutral(i: usize) -> FaceObservation {
        let mut f = with_eyes(face_observation(), 0.35 + 0.02 * jitter(i));
        f.mouth_openness = 0.05 + 0.01 * jitter(i + 1000);
        f.pose.yaw = 1.5 * jitter(i + 2000);
        f.pose.pitch = 1.5 * jitter(i + 3000);
        f
    }

    /// Run all detectors over the script.
    pub fn run(script: &Script<'_>) -> Vec<ActionEvent> {
        let mut set = ActionSet::new(&QualityThresholds::default());
        let mut out = Vec::new();
        let n = (script.duration * script.fps).round() as usize;
        for i in 0..n {
            let t = i as f64 / script.fps;
            let face = (script.at)(t, i, neutral(i));
            out.extend(set.on_frame(t, Some(&face)));
        }
        out
    }

    /// The kinds found, in order.
    pub fn kinds(events: &[ActionEvent]) -> Vec<ActionKind> {
        events.iter().map(|e| e.kind).collect()
    }

    pub const RATES: [f64; 3] = [8.0, 15.0, 30.0];

    #[test]
    fn noise_alone_gives_nothing() {
        for fps in RATES {
            let ev = run(&Script {
                fps,
                duration: 10.0,
                at: &|_, _, f| f,
            });
            assert!(ev.is_empty(), "{fps} fps: {ev:?}");
        }
    }
}
