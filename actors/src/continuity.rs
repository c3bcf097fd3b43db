//! Identity continuity: the same person from the first good frame to the last.
//!
//! Embeddings cost tens of milliseconds, so they are sampled, not computed on every frame: on the
//! first good frame (the reference), then every `sample_interval_s` (about once a second when
//! watching a recording, every [`SESSION_SAMPLE_INTERVAL_S`] in a live session, which also
//! confirms the person on the frame that completes the challenge), and at once after anything
//! suspicious (the track was lost and regained, the face box jumped).
//!
//! Policy: one outlier is tolerated. A sample farther than `Embedding::SAME_PERSON_DISTANCE` from
//! the reference triggers an immediate second sample; FACE_CHANGED is raised only when two samples
//! in a row disagree with the reference. A bad crop or motion blur rarely fools two samples; a
//! swapped person always does, and is caught within a couple of frames. A later sample that
//! matches the reference again clears the prompt.

use livegate_models::{Embedding, FrameAnalysis};
use serde::{Deserialize, Serialize};

/// Seconds between routine samples when watching a recording (`livegate analyze`).
pub const SAMPLE_INTERVAL_S: f64 = 1.0;
/// Seconds between routine samples in a live session. A session also samples at once after a
/// lost track or a jump, and confirms the person before it passes, so the routine samples only
/// bound how long a swap without either could go unseen mid-session (issue 7: each sample
/// costs about 12 tracked mesh frames of CPU, `docs/performance.md`).
pub const SESSION_SAMPLE_INTERVAL_S: f64 = 2.0;
/// A main-face box overlapping the previous one less than this has jumped (another face?).
const JUMP_IOU: f32 = 0.3;
/// Only fairly frontal faces make a trustworthy embedding.
const MAX_SAMPLE_YAW: f32 = 25.0;
/// Least presence confidence of a face worth embedding.
const MIN_SAMPLE_PRESENCE: f32 = 0.7;

/// What identity continuity concluded from a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ContinuityEvent {
    /// The first good sample became the reference.
    ReferenceTaken {
        /// Frame time of the sample.
        t: f64,
    },
    /// Two samples in a row were another person.
    FaceChanged {
        /// Frame time of the confirming sample.
        t: f64,
        /// Its distance to the reference.
        distance: f32,
    },
    /// After a change, a sample matched the reference again.
    FaceRestored {
        /// Frame time of the sample.
        t: f64,
    },
}

/// Decides when to sample an embedding and whether the person is still the same.
#[derive(Debug, Clone, Default)]
pub struct IdentityContinuity {
    reference: Option<Embedding>,
    last_sample_t: Option<f64>,
    pending: bool,
    suspicious: bool,
    strikes: u32,
    changed: bool,
    had_face: bool,
    last_box: Option<livegate_models::FaceBox>,
    max_distance: f32,
    samples: u32,
    sample_interval_s: f64,
    /// Whether the last embedding received matched the reference (or became it).
    last_matched: bool,
}

impl IdentityContinuity {
    /// Nothing sampled yet; routine samples every [`SAMPLE_INTERVAL_S`].
    pub fn new() -> Self {
        Self::with_interval(SAMPLE_INTERVAL_S)
    }

    /// Nothing sampled yet; routine samples every `sample_interval_s` seconds of frame time.
    pub fn with_interval(sample_interval_s: f64) -> Self {
        Self {
            sample_interval_s,
            ..Self::default()
        }
    }

    /// Ask for a sample at the next frame that can give one (presence, pose), whatever the
    /// routine interval says: the caller wants the person confirmed now.
    pub fn sample_next(&mut self) {
        self.suspicious = true;
    }

    /// Whether the last embedding received was of the reference person (the first one is).
    pub fn last_matched(&self) -> bool {
        self.last_matched
    }

    /// Whether an embedding should be computed for this frame's main face. When it returns true
    /// the caller must answer with [`IdentityContinuity::on_embedding`].
    pub fn should_sample(&mut self, frame: &FrameAnalysis) -> bool {
        let Some(main) = frame.main.as_ref() else {
            if self.had_face {
                // A lost track is the moment a swap happens.
                self.suspicious = true;
            }
            self.had_face = false;
            return false;
        };
        self.had_face = true;
        if let Some(prev) = self.last_box.replace(main.face) {
            if prev.iou(&main.face) < JUMP_IOU {
                self.suspicious = true;
            }
        }
        if self.pending
            || main.presence < MIN_SAMPLE_PRESENCE
            || main.pose.yaw.abs() > MAX_SAMPLE_YAW
        {
            return false;
        }
        let due = match self.last_sample_t {
            None => true,
            Some(last) => frame.t - last >= self.sample_interval_s,
        };
        if due || self.suspicious || self.strikes > 0 {
            self.pending = true;
            self.suspicious = false;
            self.last_sample_t = Some(frame.t);
            return true;
        }
        false
    }

    /// The embedding computed for the frame at `t` (`None`: the face could not be aligned).
    pub fn on_embedding(
        &mut self,
        t: f64,
        embedding: Option<Embedding>,
    ) -> Option<ContinuityEvent> {
        self.pending = false;
        self.last_matched = false;
        let embedding = embedding?;
        self.samples += 1;
        let Some(reference) = self.reference.as_ref() else {
            self.last_matched = true;
            self.reference = Some(embedding);
            return Some(ContinuityEvent::ReferenceTaken { t });
        };
        let distance = reference.distance(&embedding);
        self.max_distance = self.max_distance.max(distance);
        if distance < Embedding::SAME_PERSON_DISTANCE {
            self.strikes = 0;
            self.last_matched = true;
            if self.changed {
                self.changed = false;
                return Some(ContinuityEvent::FaceRestored { t });
            }
            return None;
        }
        self.strikes += 1;
        if self.strikes >= 2 && !self.changed {
            self.changed = true;
            return Some(ContinuityEvent::FaceChanged { t, distance });
        }
        None
    }

    /// Whether the person is currently judged to be someone else.
    pub fn is_changed(&self) -> bool {
        self.changed
    }

    /// Whether a reference embedding has been taken.
    pub fn has_reference(&self) -> bool {
        self.reference.is_some()
    }

    /// The largest distance to the reference seen so far (a score for the record).
    pub fn max_distance(&self) -> f32 {
        self.max_distance
    }

    /// How many embeddings were received.
    pub fn samples(&self) -> u32 {
        self.samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{face_frame, no_face_frame};

    fn person(v: f32) -> Embedding {
        Embedding(vec![v; 128])
    }

    #[test]
    fn samples_first_frame_then_about_once_a_second() {
        let mut c = IdentityContinuity::new();
        let mut sampled = Vec::new();
        for i in 0..45 {
            let t = i as f64 / 15.0;
            if c.should_sample(&face_frame(t)) {
                sampled.push(t);
                c.on_embedding(t, Some(person(0.0)));
            }
        }
        assert_eq!(sampled.len(), 3, "{sampled:?}");
        assert_eq!(sampled[0], 0.0);
    }

    #[test]
    fn track_lost_and_regained_samples_at_once() {
        let mut c = IdentityContinuity::new();
        assert!(c.should_sample(&face_frame(0.0)));
        c.on_embedding(0.0, Some(person(0.0)));
        assert!(!c.should_sample(&face_frame(0.1)));
        assert!(!c.should_sample(&no_face_frame(0.2)));
        assert!(c.should_sample(&face_frame(0.3)));
    }

    #[test]
    fn one_outlier_is_tolerated_two_change_the_face() {
        let mut c = IdentityContinuity::new();
        assert_eq!(
            c.on_embedding(0.0, Some(person(0.0))),
            Some(ContinuityEvent::ReferenceTaken { t: 0.0 })
        );
        // distance = sqrt(128 * 0.1^2) = 1.13: another person.
        assert_eq!(c.on_embedding(1.0, Some(person(0.1))), None);
        assert_eq!(c.on_embedding(2.0, Some(person(0.0))), None);
        assert!(!c.is_changed());
        assert_eq!(c.on_embedding(3.0, Some(person(0.1))), None);
        assert!(matches!(
            c.on_embedding(3.1, Some(person(0.1))),
            Some(ContinuityEvent::FaceChanged { .. })
        ));
        assert!(c.is_changed());
        assert_eq!(
            c.on_embedding(4.0, Some(person(0.001))),
            Some(ContinuityEvent::FaceRestored { t: 4.0 })
        );
    }

    #[test]
    fn a_mismatch_asks_for_another_sample_on_the_next_frame() {
        let mut c = IdentityContinuity::new();
        assert!(c.should_sample(&face_frame(0.0)));
        c.on_embedding(0.0, Some(person(0.0)));
        assert!(c.should_sample(&face_frame(1.0)));
        c.on_embedding(1.0, Some(person(0.1)));
        assert!(c.should_sample(&face_frame(1.07)));
    }
}
