//! One frame in, a [`FrameAnalysis`] out: detection when needed, mesh tracking between, eyes,
//! pose, openness and quality.

use std::time::Instant;

use image::RgbImage;

use crate::crop::RegionOfInterest;
use crate::detect::{Detection, DetectorRange, FaceDetector};
use crate::iris::{IrisModel, IrisReuse};
use crate::media::MediaLimits;
use crate::mesh::{region_from_mesh, FaceMesh, FaceMeshResult};
use crate::registry::ModelRegistry;
use crate::runtime::{InferencePrecision, Runtime};
use crate::{
    pose, quality, AnalysisNeeds, EngineError, FaceBox, FaceEngine, FaceObservation, FrameAnalysis,
    TrackState,
};

/// How the analyzer trades detection cost against responsiveness.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalyzerConfig {
    /// Run the detector at least this often (seconds of frame time) even while tracking, so new
    /// faces entering the frame are counted.
    pub detect_interval_s: f64,
    /// Below this mesh face-presence the track is lost and the detector runs.
    pub min_presence: f32,
    /// Faces narrower than this share of the frame's long side count as small: the full-range
    /// detector then runs too.
    pub small_face_ratio: f32,
    /// Arithmetic of the CPU plugin.
    pub precision: InferencePrecision,
    /// Eyes the iris model takes per inference (2: both eyes in one batch).
    pub eyes_per_inference: usize,
    /// When a session's last iris reading is reused instead of running the model again
    /// ([`IrisReuse::NEVER`]: every frame that needs eyes runs it).
    pub iris_reuse: IrisReuse,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        Self {
            detect_interval_s: 0.5,
            min_presence: 0.5,
            small_face_ratio: 0.12,
            precision: InferencePrecision::F32,
            eyes_per_inference: 2,
            iris_reuse: IrisReuse::default(),
        }
    }
}

impl AnalyzerConfig {
    /// The defaults, with the precision named by `LIVEGATE_INFERENCE_PRECISION` (f32 unless set;
    /// see `docs/engine.md`).
    pub fn from_env() -> Result<Self, EngineError> {
        Ok(Self {
            precision: InferencePrecision::from_env()?,
            ..Self::default()
        })
    }
}

/// Milliseconds spent per stage on the last frame (0 where a stage did not run).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    /// Short-range detector.
    pub detect_short_ms: f32,
    /// Full-range detector.
    pub detect_full_ms: f32,
    /// Face mesh (all runs this frame).
    pub mesh_ms: f32,
    /// Iris model, both eyes (the crops and their comparison only, when the last reading was
    /// reused).
    pub iris_ms: f32,
    /// Whether the eyes are the session's last iris reading, reused because they look the same.
    pub iris_reused: bool,
    /// Pose and openness geometry.
    pub pose_ms: f32,
    /// Quality measures.
    pub quality_ms: f32,
}

/// Our face engine: BlazeFace, face mesh and iris on OpenVINO, tracking between detections.
pub struct Analyzer {
    config: AnalyzerConfig,
    short: FaceDetector,
    full: FaceDetector,
    mesh: FaceMesh,
    iris: IrisModel,
    last_stages: StageTimes,
    // Dropped last: the compiled models above came from it.
    _runtime: Runtime,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn ms_since(start: Instant) -> f32 {
    start.elapsed().as_secs_f32() * 1000.0
}

/// The main face: the largest; among faces of nearly the same size, the most central.
fn main_detection(detections: &[Detection], width: u32, height: u32) -> Option<&Detection> {
    let largest = detections.iter().map(|d| d.face.area()).fold(0.0, f32::max);
    let (fx, fy) = (width as f32 / 2.0, height as f32 / 2.0);
    let off_centre = |d: &Detection| {
        let (cx, cy) = d.face.center();
        (cx - fx).powi(2) + (cy - fy).powi(2)
    };
    detections
        .iter()
        .filter(|d| d.face.area() >= largest * 0.9)
        .min_by(|a, b| off_centre(a).total_cmp(&off_centre(b)))
}

/// Whether most of the mesh lies inside the frame (a crop that drifted off the face does not).
fn mesh_in_frame(mesh: &FaceMeshResult, width: u32, height: u32) -> bool {
    let b = mesh.bounding_box();
    let (cx, cy) = b.center();
    b.width >= 8.0 && cx >= 0.0 && cy >= 0.0 && cx < width as f32 && cy < height as f32
}

impl Analyzer {
    /// Loads the runtime and compiles the four models.
    pub fn new(registry: &ModelRegistry, config: AnalyzerConfig) -> Result<Analyzer, EngineError> {
        let mut runtime = Runtime::new(registry, config.precision)?;
        let short = FaceDetector::new(&mut runtime, registry, DetectorRange::Short)?;
        let full = FaceDetector::new(&mut runtime, registry, DetectorRange::Full)?;
        let mesh = FaceMesh::new(&mut runtime, registry)?;
        let iris = IrisModel::new(&mut runtime, registry, config.eyes_per_inference)?;
        Ok(Analyzer {
            config,
            short,
            full,
            mesh,
            iris,
            last_stages: StageTimes::default(),
            _runtime: runtime,
        })
    }

    /// Per-stage times of the last analysed frame.
    pub fn last_stage_times(&self) -> StageTimes {
        self.last_stages
    }

    /// Every face in the frame, largest first: short range, and full range when short range
    /// sees nothing or only small faces.
    pub fn detect_faces(&mut self, frame: &RgbImage) -> Result<Vec<Detection>, EngineError> {
        self.last_stages.detect_short_ms = 0.0;
        self.last_stages.detect_full_ms = 0.0;
        self.detect_with(frame, true)
    }

    fn detect_with(
        &mut self,
        frame: &RgbImage,
        allow_full_range: bool,
    ) -> Result<Vec<Detection>, EngineError> {
        check_frame_size(frame)?;
        let start = Instant::now();
        let short = self.short.detect(frame)?;
        self.last_stages.detect_short_ms += ms_since(start);
        let small = frame.width().max(frame.height()) as f32 * self.config.small_face_ratio;
        if !allow_full_range || short.iter().any(|d| d.face.width >= small) {
            return Ok(short);
        }
        let start = Instant::now();
        let full = self.full.detect(frame)?;
        self.last_stages.detect_full_ms += ms_since(start);
        Ok(if full.len() >= short.len() {
            full
        } else {
            short
        })
    }

    fn run_mesh(
        &mut self,
        frame: &RgbImage,
        region: &RegionOfInterest,
    ) -> Result<FaceMeshResult, EngineError> {
        let start = Instant::now();
        let mesh = self.mesh.run(frame, region);
        self.last_stages.mesh_ms += ms_since(start);
        mesh
    }

    fn observe(
        &mut self,
        frame: &RgbImage,
        mesh: FaceMeshResult,
        score: f32,
        needs: AnalysisNeeds,
        t: f64,
        track: &mut TrackState,
    ) -> Result<FaceObservation, EngineError> {
        let (mut left_eye, mut right_eye) = (None, None);
        if needs.eyes {
            let start = Instant::now();
            let ([image_left, image_right], ran) = self.iris.run_tracked(
                frame,
                &mesh.points,
                t,
                &mut track.eyes,
                self.config.iris_reuse,
            )?;
            // The person's left eye is on the image's right.
            left_eye = image_right.map(|e| e.observation());
            right_eye = image_left.map(|e| e.observation());
            self.last_stages.iris_ms = ms_since(start);
            self.last_stages.iris_reused = !ran;
        }
        let start = Instant::now();
        let head = pose::head_pose(&mesh.points).unwrap_or_default();
        let mouth_openness = pose::mouth_openness(&mesh.points);
        let mesh_eye_openness = pose::mesh_eye_openness(&mesh.points);
        self.last_stages.pose_ms = ms_since(start);
        let face = FaceBox {
            score,
            ..mesh.bounding_box()
        };
        let start = Instant::now();
        let quality = quality::measure(frame, &face, &mesh.points);
        self.last_stages.quality_ms = ms_since(start);
        Ok(FaceObservation {
            face,
            presence: mesh.presence,
            mesh: mesh.points,
            pose: head,
            left_eye,
            right_eye,
            mesh_eye_openness,
            mouth_openness,
            quality,
        })
    }
}

/// Refuses frames outside the accepted sizes (the media limits' defaults) before anything is
/// allocated for them.
pub fn check_frame_size(frame: &RgbImage) -> Result<(), EngineError> {
    let (width, height) = frame.dimensions();
    MediaLimits::default().check(width, height)
}

impl FaceEngine for Analyzer {
    fn analyze(
        &mut self,
        frame: &RgbImage,
        t: f64,
        track: &mut TrackState,
        needs: AnalysisNeeds,
    ) -> Result<FrameAnalysis, EngineError> {
        check_frame_size(frame)?;
        let start = Instant::now();
        self.last_stages = StageTimes::default();
        let (width, height) = frame.dimensions();
        if track.last_mesh.is_none() {
            // A new track may be another face: its eyes are read afresh.
            track.eyes = None;
        }
        let detect_due = match track.last_detect_t {
            None => true,
            // A clock that went backwards is a new session reusing the state: start over.
            Some(last) => t < last || t - last >= self.config.detect_interval_s,
        };
        let mut detected = false;
        let mut tracked = None;
        if !(needs.detect || detect_due) {
            if let Some(region) = track.last_mesh.as_deref().and_then(region_from_mesh) {
                let mesh = self.run_mesh(frame, &region)?;
                if mesh.presence >= self.config.min_presence && mesh_in_frame(&mesh, width, height)
                {
                    tracked = Some(mesh);
                }
            }
        }
        let mut score = tracked.as_ref().map_or(0.0, |m| m.presence);
        let faces;
        if tracked.is_none() {
            detected = true;
            // Full range costs three short-range runs; with nobody in view it would run on every
            // frame, so it runs at most once per detection interval unless asked for.
            let allow_full_range = needs.detect
                || track
                    .last_full_range_t
                    .is_none_or(|last| t < last || t - last >= self.config.detect_interval_s);
            let detections = self.detect_with(frame, allow_full_range)?;
            if self.last_stages.detect_full_ms > 0.0 {
                track.last_full_range_t = Some(t);
            }
            track.last_detect_t = Some(t);
            track.frames_since_detect = 0;
            track.last_faces = detections.iter().map(|d| d.face).collect();
            faces = track.last_faces.clone();
            if let Some(main) = main_detection(&detections, width, height) {
                score = main.face.score;
                let region = main.mesh_region();
                tracked = Some(self.run_mesh(frame, &region)?);
            }
        } else {
            track.frames_since_detect = track.frames_since_detect.saturating_add(1);
            faces = Vec::new();
        }

        let main = match tracked {
            Some(mesh) => {
                // A weak mesh is still reported (an occluded face is a face) but not tracked
                // from: the next frame detects again.
                let trusted = mesh.presence >= self.config.min_presence
                    && mesh_in_frame(&mesh, width, height);
                let observation = self.observe(frame, mesh, score, needs, t, track)?;
                track.last_mesh = trusted.then(|| observation.mesh.clone());
                Some(observation)
            }
            None => {
                track.last_mesh = None;
                track.eyes = None;
                None
            }
        };
        let faces = if detected {
            faces
        } else {
            main.iter().map(|m| m.face).collect()
        };
        Ok(FrameAnalysis {
            t,
            frame_width: width,
            frame_height: height,
            faces,
            detected,
            main,
            engine_ms: ms_since(start),
        })
    }
}
