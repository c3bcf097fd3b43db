//! The engine seam: one frame in, a [`FrameAnalysis`] out.
//!
//! The session actors only ever see these traits, so a bank's own engine (a PAD model, a vendor's
//! SDK) plugs in beside ours, and tests drive sessions with scripted engines.

use image::RgbImage;

use crate::{EngineError, FaceBox, FrameAnalysis};

/// What the session needs from a frame; lets the engine skip models it does not need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisNeeds {
    /// Refine both eyes with the iris model (blink, gaze, eye occlusion).
    pub eyes: bool,
    /// Run the detector on this frame even if a track exists (counting faces, e.g. several people).
    pub detect: bool,
}

impl Default for AnalysisNeeds {
    fn default() -> Self {
        Self {
            eyes: true,
            detect: false,
        }
    }
}

/// What the engine carries from one frame of a session to the next (tracking).
///
/// Owned by the session, lent to whichever worker analyses its next frame, so any worker of the
/// pool can serve any session. Its fields are the engine's own business.
#[derive(Debug, Clone, Default)]
pub struct TrackState {
    /// The last frame's main-face mesh, from which the next crop is taken.
    pub(crate) last_mesh: Option<Vec<[f32; 3]>>,
    /// Faces found the last time the detector ran.
    pub(crate) last_faces: Vec<FaceBox>,
    /// Frames since the detector last ran.
    pub(crate) frames_since_detect: u32,
    /// Frame time `t` when the detector last ran.
    pub(crate) last_detect_t: Option<f64>,
    /// Frame time `t` when the full-range detector last ran.
    pub(crate) last_full_range_t: Option<f64>,
    /// The iris model's last reading of the main face's eyes, reused while they look the same
    /// (boxed: the track travels in every pool job and stays small).
    pub(crate) eyes: Option<Box<crate::iris::EyeMemo>>,
}

impl TrackState {
    /// Forget the track: the next frame runs the detector.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// A face engine: analyses frames of one session after another.
///
/// Not `Sync`: one instance per model worker (model runtimes keep per-thread request state).
pub trait FaceEngine: Send {
    /// Analyse one RGB frame taken `t` seconds into the session.
    fn analyze(
        &mut self,
        frame: &RgbImage,
        t: f64,
        track: &mut TrackState,
        needs: AnalysisNeeds,
    ) -> Result<FrameAnalysis, EngineError>;
}

/// An identity engine: the embedding of the main face, sampled a few times a session.
pub trait IdentityEngine: Send {
    /// The embedding of `face` in `frame`; `None` when the face cannot be aligned (too small,
    /// cut off).
    fn embed(
        &mut self,
        frame: &RgbImage,
        face: &crate::FaceObservation,
    ) -> Result<Option<crate::Embedding>, EngineError>;
}

// A worker holds its engines boxed (`dyn`): these let it lend them to code generic over the
// traits, such as the comparator.
impl<E: FaceEngine + ?Sized> FaceEngine for Box<E> {
    fn analyze(
        &mut self,
        frame: &RgbImage,
        t: f64,
        track: &mut TrackState,
        needs: AnalysisNeeds,
    ) -> Result<FrameAnalysis, EngineError> {
        (**self).analyze(frame, t, track, needs)
    }
}

impl<E: IdentityEngine + ?Sized> IdentityEngine for Box<E> {
    fn embed(
        &mut self,
        frame: &RgbImage,
        face: &crate::FaceObservation,
    ) -> Result<Option<crate::Embedding>, EngineError> {
        (**self).embed(frame, face)
    }
}
