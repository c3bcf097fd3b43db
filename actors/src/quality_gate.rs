//! The quality gate: which conditions fail on a frame, debounced over time into prompts.
//!
//! Debouncing uses the frames' capture times (`FrameAnalysis::t`), never frame counts, so a
//! phone sending 8 fps and one sending 30 fps see prompts raised and cleared after the same
//! delays.

use std::collections::BTreeMap;

use livegate_models::{FaceObservation, FrameAnalysis};
use serde::{Deserialize, Serialize};

use crate::prompts::{FacePart, Prompt, PromptCode};
use crate::thresholds::QualityThresholds;

/// A change in the prompts shown to the person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum GateEvent {
    /// A condition lasted long enough: show its prompt.
    Raised {
        /// The prompt.
        prompt: Prompt,
        /// When it was raised (frame time, seconds).
        t: f64,
    },
    /// A condition has been gone long enough: hide its prompt.
    Cleared {
        /// The prompt's code.
        code: PromptCode,
        /// When it was cleared (frame time, seconds).
        t: f64,
    },
}

/// What the session currently asks of the person, which changes what counts as a problem.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GateMode {
    /// The person is asked to move their head (a turn, nod or raise step): no LOOK_STRAIGHT.
    pub pose_free: bool,
    /// The person is asked to keep still (while the baseline is learned): HOLD_STILL applies.
    pub hold_still: bool,
}

/// The failing conditions of one frame. `multiple_faces` is `None` where the detector did not run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameConditions {
    /// Failing prompts other than MULTIPLE_FACES.
    pub failing: Vec<Prompt>,
    /// Whether another person is in the frame; unknown on tracked frames.
    pub multiple_faces: Option<bool>,
}

/// Judge one frame against the thresholds. `speed` is the face centre's speed in face widths per
/// second since the previous frame, when known.
pub fn frame_conditions(
    frame: &FrameAnalysis,
    speed: Option<f32>,
    th: &QualityThresholds,
    mode: GateMode,
) -> FrameConditions {
    let multiple_faces = frame.detected.then(|| other_person_present(frame, th));
    let main = match &frame.main {
        Some(main) if main.presence >= th.min_presence => main,
        _ => {
            return FrameConditions {
                failing: vec![Prompt::new(PromptCode::NoFace)],
                multiple_faces,
            }
        }
    };
    let mut failing = Vec::new();
    let q = &main.quality;
    let mut fail = |cond: bool, code: PromptCode| {
        if cond {
            failing.push(Prompt::new(code));
        }
    };
    fail(q.size_ratio < th.min_face_ratio, PromptCode::TooFar);
    fail(q.size_ratio > th.max_face_ratio, PromptCode::TooClose);
    fail(
        q.center_offset[0].abs() > th.max_center_offset
            || q.center_offset[1].abs() > th.max_center_offset,
        PromptCode::OffCenter,
    );
    fail(q.brightness < th.min_brightness, PromptCode::TooDark);
    fail(q.brightness > th.max_brightness, PromptCode::TooBright);
    fail(q.backlight > th.max_backlight, PromptCode::Backlit);
    fail(q.sharpness < th.min_sharpness, PromptCode::Blurry);
    fail(
        !mode.pose_free
            && (main.pose.yaw.abs() > th.max_yaw || main.pose.pitch.abs() > th.max_pitch),
        PromptCode::LookStraight,
    );
    if let Some(speed) = speed {
        fail(speed > th.max_motion, PromptCode::Slower);
        fail(
            mode.hold_still && speed > th.max_still_motion && speed <= th.max_motion,
            PromptCode::HoldStill,
        );
    }
    // The occlusion estimate compares parts of a near-frontal face; on a turned or tilted head
    // the parts' crops take in cheek, chin or collar, and LOOK_STRAIGHT speaks for that frame.
    let frontal = main.pose.yaw.abs() <= th.max_yaw && main.pose.pitch.abs() <= th.max_pitch;
    if let Some(part) = most_covered_part(main, th).filter(|_| frontal) {
        failing.push(Prompt {
            code: PromptCode::Occluded,
            part: Some(part),
        });
    }
    FrameConditions {
        failing,
        multiple_faces,
    }
}

fn most_covered_part(main: &FaceObservation, th: &QualityThresholds) -> Option<FacePart> {
    let o = main.quality.occlusion;
    [
        (FacePart::Eyes, o.eyes),
        (FacePart::Nose, o.nose),
        (FacePart::Mouth, o.mouth),
    ]
    .into_iter()
    .filter(|(_, v)| *v > th.max_occlusion)
    .max_by(|a, b| a.1.total_cmp(&b.1))
    .map(|(part, _)| part)
}

fn other_person_present(frame: &FrameAnalysis, th: &QualityThresholds) -> bool {
    let Some(main_width) = frame
        .main
        .as_ref()
        .map(|m| m.face.width)
        .or_else(|| frame.faces.first().map(|f| f.width))
    else {
        return false;
    };
    // A small face (a photo on the wall, a passer-by far behind) is not another participant.
    frame
        .faces
        .iter()
        .filter(|f| {
            f.score >= th.min_other_face_score && f.width >= th.min_other_face_size * main_width
        })
        .count()
        > 1
}

#[derive(Debug, Clone, Default)]
struct Debounce {
    present_since: Option<f64>,
    absent_since: Option<f64>,
    raised: bool,
    part: Option<FacePart>,
}

/// Debounces per-frame conditions into raised and cleared prompts.
#[derive(Debug, Clone)]
pub struct QualityGate {
    thresholds: QualityThresholds,
    mode: GateMode,
    states: BTreeMap<PromptCode, Debounce>,
    last_center: Option<(f64, f32, f32, f32)>,
}

impl QualityGate {
    /// A gate with nothing raised.
    pub fn new(thresholds: QualityThresholds) -> Self {
        Self {
            thresholds,
            mode: GateMode::default(),
            states: BTreeMap::new(),
            last_center: None,
        }
    }

    /// Change what the person is asked to do (applies from the next frame).
    pub fn set_mode(&mut self, mode: GateMode) {
        self.mode = mode;
    }

    /// Feed one frame; returns the prompts raised and cleared by it.
    pub fn on_frame(&mut self, frame: &FrameAnalysis) -> Vec<GateEvent> {
        let speed = self.speed(frame);
        let cond = frame_conditions(frame, speed, &self.thresholds, self.mode);
        let t = frame.t;
        let mut events = Vec::new();
        for code in PromptCode::ALL {
            // FACE_CHANGED comes from identity continuity, never from a frame.
            if code == PromptCode::FaceChanged {
                continue;
            }
            let present = if code == PromptCode::MultipleFaces {
                match cond.multiple_faces {
                    Some(p) => p,
                    // Tracked frames say nothing about other people: keep what we had.
                    None => continue,
                }
            } else {
                cond.failing.iter().any(|p| p.code == code)
            };
            let part = cond
                .failing
                .iter()
                .find(|p| p.code == code)
                .and_then(|p| p.part);
            if let Some(e) = self.step(code, present, part, t) {
                events.push(e);
            }
        }
        events
    }

    fn speed(&mut self, frame: &FrameAnalysis) -> Option<f32> {
        let main = frame.main.as_ref()?;
        let (cx, cy) = main.face.center();
        let w = main.face.width.max(1.0);
        let speed = self.last_center.and_then(|(t0, x0, y0, w0)| {
            let dt = (frame.t - t0) as f32;
            (dt > 0.0 && dt < 1.0).then(|| ((cx - x0).hypot(cy - y0) / w.max(w0)) / dt)
        });
        self.last_center = Some((frame.t, cx, cy, w));
        speed
    }

    fn step(
        &mut self,
        code: PromptCode,
        present: bool,
        part: Option<FacePart>,
        t: f64,
    ) -> Option<GateEvent> {
        let th = &self.thresholds;
        let s = self.states.entry(code).or_default();
        if present {
            s.absent_since = None;
            let since = *s.present_since.get_or_insert(t);
            if part.is_some() {
                s.part = part;
            }
            if !s.raised && t - since >= th.raise_after_s - 1e-9 {
                s.raised = true;
                return Some(GateEvent::Raised {
                    prompt: Prompt { code, part: s.part },
                    t,
                });
            }
        } else {
            s.present_since = None;
            if s.raised {
                let since = *s.absent_since.get_or_insert(t);
                if t - since >= th.clear_after_s - 1e-9 {
                    s.raised = false;
                    s.absent_since = None;
                    return Some(GateEvent::Cleared { code, t });
                }
            }
        }
        None
    }

    /// Raise a prompt decided elsewhere (FACE_CHANGED), without debounce.
    pub fn raise_now(&mut self, prompt: Prompt, t: f64) -> Option<GateEvent> {
        let s = self.states.entry(prompt.code).or_default();
        if s.raised {
            return None;
        }
        s.raised = true;
        s.part = prompt.part;
        Some(GateEvent::Raised { prompt, t })
    }

    /// Clear a prompt decided elsewhere (FACE_CHANGED), without debounce.
    pub fn clear_now(&mut self, code: PromptCode, t: f64) -> Option<GateEvent> {
        let s = self.states.get_mut(&code)?;
        if !s.raised {
            return None;
        }
        *s = Debounce::default();
        Some(GateEvent::Cleared { code, t })
    }

    /// Every prompt currently raised, in priority order.
    pub fn raised(&self) -> Vec<Prompt> {
        self.states
            .iter()
            .filter(|(_, s)| s.raised)
            .map(|(code, s)| Prompt {
                code: *code,
                part: s.part,
            })
            .collect()
    }

    /// The prompt the page should show now, if any.
    pub fn top(&self) -> Option<Prompt> {
        self.raised().into_iter().next()
    }

    /// Whether a blocking prompt (no face, several faces, face changed) is up.
    pub fn is_blocked(&self) -> bool {
        self.states
            .iter()
            .any(|(code, s)| s.raised && code.is_blocking())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{face_frame, no_face_frame};

    fn run(gate: &mut QualityGate, fps: f64, from: f64, to: f64, dark: bool) -> Vec<GateEvent> {
        let mut out = Vec::new();
        let mut t = from;
        while t < to {
            let mut f = face_frame(t);
            if dark {
                if let Some(m) = f.main.as_mut() {
                    m.quality.brightness = 0.05;
                }
            }
            out.extend(gate.on_frame(&f));
            t += 1.0 / fps;
        }
        out
    }

    #[test]
    fn debounce_is_by_time_at_any_frame_rate() {
        for fps in [8.0, 15.0, 30.0] {
            let mut gate = QualityGate::new(QualityThresholds::default());
            assert!(run(&mut gate, fps, 0.0, 1.0, false).is_empty(), "{fps} fps");
            // A 0.2 s dip is too short to prompt.
            assert!(run(&mut gate, fps, 1.0, 1.2, true).is_empty(), "{fps} fps");
            assert!(run(&mut gate, fps, 1.2, 2.0, false).is_empty(), "{fps} fps");
            // A long dark spell raises TOO_DARK about 0.3 s in.
            let ev = run(&mut gate, fps, 2.0, 3.0, true);
            let raised_at = ev
                .iter()
                .find_map(|e| match e {
                    GateEvent::Raised { prompt, t } if prompt.code == PromptCode::TooDark => {
                        Some(*t)
                    }
                    _ => None,
                })
                .unwrap();
            assert!(
                (2.29..2.45).contains(&raised_at),
                "{fps} fps raised at {raised_at}"
            );
            assert_eq!(gate.top().map(|p| p.code), Some(PromptCode::TooDark));
            let ev = run(&mut gate, fps, 3.0, 4.0, false);
            let cleared_at = ev
                .iter()
                .find_map(|e| match e {
                    GateEvent::Cleared { code, t } if *code == PromptCode::TooDark => Some(*t),
                    _ => None,
                })
                .unwrap();
            assert!(
                (3.29..3.45).contains(&cleared_at),
                "{fps} fps cleared at {cleared_at}"
            );
            assert_eq!(gate.top(), None);
        }
    }

    #[test]
    fn occlusion_is_judged_on_a_frontal_face_only() {
        let th = QualityThresholds::default();
        let mut frame = face_frame(0.0);
        if let Some(main) = frame.main.as_mut() {
            main.quality.occlusion.mouth = 0.9;
        }
        let codes = |f: &FrameAnalysis| -> Vec<PromptCode> {
            frame_conditions(f, None, &th, GateMode::default())
                .failing
                .iter()
                .map(|p| p.code)
                .collect()
        };
        assert!(codes(&frame).contains(&PromptCode::Occluded));
        // Looking far down, the mouth's crop takes in chin and collar: LOOK_STRAIGHT, not OCCLUDED.
        if let Some(main) = frame.main.as_mut() {
            main.pose.pitch = -35.0;
        }
        let down = codes(&frame);
        assert!(down.contains(&PromptCode::LookStraight), "{down:?}");
        assert!(!down.contains(&PromptCode::Occluded), "{down:?}");
    }

    #[test]
    fn no_face_blocks_and_outranks_the_rest() {
        let mut gate = QualityGate::new(QualityThresholds::default());
        let mut t = 0.0;
        while t < 1.0 {
            gate.on_frame(&no_face_frame(t));
            t += 0.1;
        }
        assert_eq!(gate.top().map(|p| p.code), Some(PromptCode::NoFace));
        assert!(gate.is_blocked());
    }

    #[test]
    fn a_second_person_raises_multiple_faces_only_where_detection_ran() {
        let mut gate = QualityGate::new(QualityThresholds::default());
        let mut t = 0.0;
        while t < 1.0 {
            let mut f = face_frame(t);
            let mut other = f.faces[0];
            other.x += 300.0;
            f.faces.push(other);
            out_of(&mut gate, f);
            t += 0.1;
        }
        assert_eq!(gate.top().map(|p| p.code), Some(PromptCode::MultipleFaces));
        // Tracked frames (no detection) keep the prompt up.
        while t < 2.0 {
            let mut f = face_frame(t);
            f.detected = false;
            out_of(&mut gate, f);
            t += 0.1;
        }
        assert_eq!(gate.top().map(|p| p.code), Some(PromptCode::MultipleFaces));
    }

    fn out_of(gate: &mut QualityGate, f: FrameAnalysis) {
        gate.on_frame(&f);
    }

    #[test]
    fn occlusion_names_the_part() {
        let mut gate = QualityGate::new(QualityThresholds::default());
        let mut t = 0.0;
        while t < 1.0 {
            let mut f = face_frame(t);
            if let Some(m) = f.main.as_mut() {
                m.quality.occlusion.mouth = 0.9;
            }
            gate.on_frame(&f);
            t += 0.1;
        }
        assert_eq!(
            gate.top(),
            Some(Prompt {
                code: PromptCode::Occluded,
                part: Some(FacePart::Mouth)
            })
        );
    }
}
