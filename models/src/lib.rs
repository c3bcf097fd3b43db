//! What the pixels say: face detection, mesh, eyes, pose, quality and identity embeddings.
//!
//! Layout:
//! - `registry`: the model files, their SHA-256 and where they live (`var/models` by default).
//! - `runtime`: the OpenVINO runtime that runs the MediaPipe TFLite graphs (see
//!   `docs/decisions/0001-model-runtime.md`).
//! - `detect`, `mesh`, `iris`: one model each: BlazeFace (short and full range, NMS), the 468-point
//!   face mesh on an aligned crop, the iris / eye-contour model on aligned eye crops.
//! - `pose`, `quality`: pure geometry and pixel statistics over a frame and its landmarks.
//! - `analyzer`: one frame in, a [`FrameAnalysis`] out; tracks between frames so detection need not
//!   run on every frame.
//! - `embedding`: dlib's ResNet face embedding with its 5-point alignment (identity continuity).
//! - `compare`: the 1:1 comparator: one face per image, embedded, decided at a calibrated
//!   threshold.
//! - `media`: decoding images (EXIF orientation) and videos (FFmpeg) into RGB frames.
//! - `silent`: silent (passive) liveness: planar motion, screen and print cues, pulse, fused
//!   into one verdict over a session's or clip's analysed frames (`docs/attacks.md`).
//! - `flash`: colour-flash liveness: does the face's skin answer the colours the screen flashed
//!   (chroma per skin patch, latency, shading, background); `flash::sim` stages lit clips.
//!
//! Pure computation: no actors and no I/O beyond loading model files and reading media.

pub mod analyzer;
pub mod compare;
pub mod crop;
pub mod detect;
pub mod embedding;
pub mod engine;
pub mod error;
pub mod flash;
pub mod iris;
pub mod media;
pub mod mesh;
pub mod observation;
pub mod pose;
pub mod quality;
pub mod registry;
pub mod runtime;
pub mod silent;

pub use analyzer::{Analyzer, AnalyzerConfig, StageTimes};
pub use engine::{AnalysisNeeds, FaceEngine, IdentityEngine, TrackState};
pub use error::EngineError;
pub use observation::*;
pub use registry::{ModelFile, ModelRegistry};
pub use runtime::InferencePrecision;
