//! Which frames a session keeps as evidence: the best frame of the person, and one frame at
//! each passed step (what an auditor wants to see: the face, and the actions done).

use std::sync::Arc;

use livegate_models::FaceObservation;

/// A frame kept as evidence, with the name it is stored under.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceFrame {
    /// `best`, or `step_<index>`.
    pub name: String,
    /// Seconds into the session.
    pub t: f64,
    /// The JPEG as the page sent it.
    pub jpeg: Arc<Vec<u8>>,
}

/// How good a frame of the face is for a person to look at: sharp, frontal and large.
pub fn portrait_score(face: &FaceObservation) -> f32 {
    let q = &face.quality;
    let frontal = (1.0 - face.pose.yaw.abs() / 45.0).clamp(0.0, 1.0)
        * (1.0 - face.pose.pitch.abs() / 45.0).clamp(0.0, 1.0);
    let size = (q.size_ratio / 0.35).clamp(0.0, 1.0);
    q.sharpness.clamp(0.0, 1.0) * frontal * size * face.presence.clamp(0.0, 1.0)
}

/// Picks the evidence frames as analysed frames go by.
#[derive(Debug, Default)]
pub struct EvidencePicker {
    max_samples: usize,
    best: Option<(f32, f64, Arc<Vec<u8>>)>,
    last_good: Option<(f64, Arc<Vec<u8>>)>,
    samples: Vec<EvidenceFrame>,
}

impl EvidencePicker {
    /// Keeps the best frame and up to `max_samples` step frames.
    pub fn new(max_samples: usize) -> Self {
        Self {
            max_samples,
            ..Self::default()
        }
    }

    /// An analysed frame with its main face; `clean` when no blocking prompt was raised.
    pub fn offer(&mut self, t: f64, face: &FaceObservation, clean: bool, jpeg: &Arc<Vec<u8>>) {
        if !clean {
            return;
        }
        let score = portrait_score(face);
        if self.best.as_ref().is_none_or(|(s, _, _)| score > *s) {
            self.best = Some((score, t, Arc::clone(jpeg)));
        }
        self.last_good = Some((t, Arc::clone(jpeg)));
    }

    /// Step `index` was passed: keep the latest clean frame as its sample.
    pub fn on_step_passed(&mut self, index: usize) {
        if self.samples.len() >= self.max_samples {
            return;
        }
        if let Some((t, jpeg)) = &self.last_good {
            self.samples.push(EvidenceFrame {
                name: format!("step_{index}"),
                t: *t,
                jpeg: Arc::clone(jpeg),
            });
        }
    }

    /// A new attempt begins: its steps' frames replace the last attempt's.
    pub fn new_attempt(&mut self) {
        self.samples.clear();
    }

    /// The frames kept: the best first, then the step samples.
    pub fn frames(&self) -> Vec<EvidenceFrame> {
        let best = self.best.as_ref().map(|(_, t, jpeg)| EvidenceFrame {
            name: "best".to_owned(),
            t: *t,
            jpeg: Arc::clone(jpeg),
        });
        best.into_iter()
            .chain(self.samples.iter().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic;

    fn face(yaw: f32, sharpness: f32) -> FaceObservation {
        let mut f = synthetic::face_observation();
        f.pose.yaw = yaw;
        f.quality.sharpness = sharpness;
        f.quality.size_ratio = 0.4;
        f.presence = 1.0;
        f
    }

    fn jpeg(tag: u8) -> Arc<Vec<u8>> {
        Arc::new(vec![tag])
    }

    #[test]
    fn the_sharpest_frontal_clean_frame_is_best() {
        let mut p = EvidencePicker::new(3);
        p.offer(0.1, &face(30.0, 0.9), true, &jpeg(1));
        p.offer(0.2, &face(0.0, 0.8), true, &jpeg(2));
        p.offer(0.3, &face(0.0, 0.95), false, &jpeg(3));
        p.offer(0.4, &face(0.0, 0.2), true, &jpeg(4));
        let frames = p.frames();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].name, "best");
        assert_eq!(*frames[0].jpeg, vec![2]);
    }

    #[test]
    fn each_passed_step_keeps_its_latest_clean_frame_up_to_the_limit() {
        let mut p = EvidencePicker::new(2);
        p.on_step_passed(0);
        assert!(p.frames().is_empty(), "no clean frame yet, nothing to keep");
        p.offer(1.0, &face(0.0, 0.5), true, &jpeg(1));
        p.on_step_passed(0);
        p.offer(2.0, &face(25.0, 0.5), true, &jpeg(2));
        p.on_step_passed(1);
        p.offer(3.0, &face(0.0, 0.5), true, &jpeg(3));
        p.on_step_passed(2);
        let names: Vec<String> = p.frames().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["best", "step_0", "step_1"]);
    }
}
