//! MediaPipe's iris / eye-contour model on aligned 64x64 eye crops.
//!
//! The face mesh barely moves when the eyes close (0.27 open vs 0.26 closed on a real blink);
//! this model's eye contour does (0.37 vs 0.14), so blinks are read here.

use image::RgbImage;

use crate::crop::{warp_into, PixelRange, RegionOfInterest};
use crate::mesh::{index, MESH_POINTS};
use crate::registry::{ModelFile, ModelRegistry};
use crate::runtime::{expect_square_input, ModelSession, Runtime};
use crate::{EngineError, EyeObservation};

/// Input side of the iris model.
const SIDE: usize = 64;
/// The eye crop spans this many eye widths (MediaPipe's 2.3).
const REGION_SCALE: f32 = 2.3;
/// Points in the eye contour output.
const CONTOUR_POINTS: usize = 71;
/// Points in the iris output (centre, then four on the rim).
const IRIS_POINTS: usize = 5;
/// Contour indices of the two eye corners.
const CONTOUR_CORNERS: (usize, usize) = (0, 8);
/// Contour indices of upper and lower lid pairs across the middle of the eye.
const CONTOUR_LIDS: [(usize, usize); 1] = [(12, 4)];

/// Which eye, on the image (the model is trained on the image-left eye; the other is mirrored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSide {
    /// The eye on the image's left: the person's own right eye.
    Left,
    /// The eye on the image's right: the person's own left eye (fed mirrored).
    Right,
}

/// The eye crop for one eye from the mesh's eye corners, levelled along the corner line.
pub fn eye_region(mesh: &[[f32; 3]], side: ImageSide) -> Option<RegionOfInterest> {
    if mesh.len() < MESH_POINTS {
        return None;
    }
    // Corner order runs image-left to image-right so both crops are levelled the same way.
    let (a, b) = match side {
        ImageSide::Left => (
            mesh[index::IMAGE_LEFT_EYE_OUTER],
            mesh[index::IMAGE_LEFT_EYE_INNER],
        ),
        ImageSide::Right => (
            mesh[index::IMAGE_RIGHT_EYE_INNER],
            mesh[index::IMAGE_RIGHT_EYE_OUTER],
        ),
    };
    let width = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
    if !width.is_finite() || width < 1.0 {
        return None;
    }
    Some(RegionOfInterest {
        cx: (a[0] + b[0]) / 2.0,
        cy: (a[1] + b[1]) / 2.0,
        size: width * REGION_SCALE,
        angle: RegionOfInterest::level_angle([a[0], a[1]], [b[0], b[1]]),
    })
}

/// One eye as the iris model sees it, in frame pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct EyeLandmarks {
    /// 71 eye-contour points (x, y, z): lids 0..16, then brow and surrounding rings.
    pub contour: Vec<[f32; 3]>,
    /// Iris centre then four rim points.
    pub iris: [[f32; 2]; IRIS_POINTS],
}

impl EyeLandmarks {
    /// Lid gap over eye width, and the iris centre and radius.
    pub fn observation(&self) -> EyeObservation {
        let dist =
            |p: [f32; 3], q: [f32; 3]| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt();
        let c = &self.contour;
        let width = dist(c[CONTOUR_CORNERS.0], c[CONTOUR_CORNERS.1]);
        let gap = CONTOUR_LIDS
            .iter()
            .map(|&(up, low)| dist(c[up], c[low]))
            .sum::<f32>()
            / CONTOUR_LIDS.len() as f32;
        let centre = self.iris[0];
        let radius = self.iris[1..]
            .iter()
            .map(|p| ((p[0] - centre[0]).powi(2) + (p[1] - centre[1]).powi(2)).sqrt())
            .sum::<f32>()
            / (IRIS_POINTS - 1) as f32;
        EyeObservation {
            openness: if width > 0.0 { gap / width } else { 0.0 },
            iris_center: centre,
            iris_radius: radius,
        }
    }
}

/// The compiled iris model: both eyes in one batch-2 inference where the runtime can reshape
/// the graph, else one eye per inference.
#[derive(Debug)]
pub struct IrisModel {
    session: ModelSession,
    batch: usize,
    contour_output: usize,
    iris_output: usize,
    raw_contour: Vec<f32>,
    raw_iris: Vec<f32>,
}

impl IrisModel {
    /// Compiles the iris model for `eyes_per_inference` (1 or 2) eyes per run; falls back to one
    /// when the graph does not take a batch of two.
    pub fn new(
        runtime: &mut Runtime,
        registry: &ModelRegistry,
        eyes_per_inference: usize,
    ) -> Result<IrisModel, EngineError> {
        let batch = eyes_per_inference.clamp(1, 2);
        let (session, batch) =
            match runtime.compile_batched(registry, ModelFile::IrisLandmark, batch as i64) {
                Ok(session) => (session, batch),
                Err(e) if batch > 1 => {
                    tracing::warn!("iris model runs one eye per inference: {e}");
                    (runtime.compile(registry, ModelFile::IrisLandmark)?, 1)
                }
                Err(e) => return Err(e),
            };
        expect_square_input(&session, SIDE as i64)?;
        let contour_output = session.output_index_by_len(batch * CONTOUR_POINTS * 3)?;
        let iris_output = session.output_index_by_len(batch * IRIS_POINTS * 3)?;
        Ok(IrisModel {
            session,
            batch,
            contour_output,
            iris_output,
            raw_contour: Vec::new(),
            raw_iris: Vec::new(),
        })
    }

    /// Runs the model on both eyes of the mesh: `[image-left eye, image-right eye]`, each `None`
    /// when the mesh gives no usable crop for it.
    pub fn run(
        &mut self,
        frame: &RgbImage,
        mesh: &[[f32; 3]],
    ) -> Result<[Option<EyeLandmarks>; 2], EngineError> {
        let sides = [ImageSide::Left, ImageSide::Right];
        let regions = sides.map(|side| eye_region(mesh, side));
        let mut eyes = [None, None];
        if regions.iter().all(Option::is_none) {
            return Ok(eyes);
        }
        let plane = SIDE * SIDE * 3;
        for first in (0..2).step_by(self.batch) {
            let group = first..(first + self.batch).min(2);
            let input = self.session.input_mut()?;
            for (slot, k) in input.chunks_exact_mut(plane).zip(group.clone()) {
                match &regions[k] {
                    // The model knows the image-left eye; the other is fed mirrored.
                    Some(region) => warp_into(
                        frame,
                        region,
                        SIDE,
                        PixelRange::UNIT,
                        sides[k] == ImageSide::Right,
                        slot,
                    ),
                    None => slot.fill(0.0),
                }
            }
            self.session.infer()?;
            self.session
                .read_output(self.contour_output, &mut self.raw_contour)?;
            self.session
                .read_output(self.iris_output, &mut self.raw_iris)?;
            for (b, k) in group.enumerate() {
                if let Some(region) = &regions[k] {
                    eyes[k] = Some(self.project(b, region, sides[k] == ImageSide::Right)?);
                }
            }
        }
        Ok(eyes)
    }

    /// Batch item `b` of the last outputs, mapped from the crop back to frame pixels.
    fn project(
        &self,
        b: usize,
        region: &RegionOfInterest,
        flip: bool,
    ) -> Result<EyeLandmarks, EngineError> {
        let n = SIDE as f32;
        let to_frame = region.frame_mapping();
        let project = |p: &[f32]| -> [f32; 3] {
            let u = p[0] / n;
            let u = if flip { 1.0 - u } else { u };
            let xy = to_frame(u, p[1] / n);
            [xy[0], xy[1], p[2] / n * region.size]
        };
        let contour_values = CONTOUR_POINTS * 3;
        let iris_values = IRIS_POINTS * 3;
        let (Some(raw_contour), Some(raw_iris)) = (
            self.raw_contour
                .get(b * contour_values..(b + 1) * contour_values),
            self.raw_iris.get(b * iris_values..(b + 1) * iris_values),
        ) else {
            return Err(EngineError::Runtime(format!(
                "iris_landmark.tflite: outputs of {} and {} values, expected {} and {}",
                self.raw_contour.len(),
                self.raw_iris.len(),
                self.batch * contour_values,
                self.batch * iris_values
            )));
        };
        let contour = raw_contour.chunks_exact(3).map(project).collect();
        let mut iris = [[0.0; 2]; IRIS_POINTS];
        for (slot, p) in iris.iter_mut().zip(raw_iris.chunks_exact(3)) {
            let q = project(p);
            *slot = [q[0], q[1]];
        }
        Ok(EyeLandmarks { contour, iris })
    }
}
