//! MediaPipe's iris / eye-contour model on aligned 64x64 eye crops.
//!
//! The face mesh barely moves when the eyes close (0.27 open vs 0.26 closed on a real blink);
//! this model's eye contour does (0.37 vs 0.14), so blinks are read here.
//!
//! It is the dearest model of a blink step (about 5.5 ms for both eyes against 3.3 ms for the
//! mesh), and on most frames the eyes look as they did: [`IrisModel::run_tracked`] compares the
//! rows of this frame's eye crops (where the lids are) with those of the crops it last read, and
//! reuses that reading while they are unchanged (see [`IrisReuse`]).

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
/// Crop columns whose rows are compared: the eye's width (its corners sit 0.22 of the crop from
/// the centre, at columns 18 and 46) and a little more.
const PROFILE_COLUMNS: std::ops::Range<usize> = 16..48;
/// Crop rows compared: from the brow's underside to below the lower lid.
const PROFILE_ROWS: std::ops::Range<usize> = 16..48;
/// Rows averaged into one band (a lid that drops by a third of the lid gap, 3 px, fills most of
/// one).
const BAND_ROWS: usize = 4;

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

/// When [`IrisModel::run_tracked`] may reuse the last reading instead of running the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IrisReuse {
    /// Largest change since the last run that still counts as the same eyes: the mean luma
    /// (0..1) of 4 crop rows across the eye, the worst band, after the vertical shift of up to
    /// `max_shift_px` that explains most. 0 runs the model on every frame. On a drawn eye, lids a
    /// third closed change a band by 0.025 to 0.1 and closed lids by over 0.12, a still eye or a
    /// crop jittering by a pixel by under 0.01; on the media's blink clips 0.012 keeps every
    /// closed frame the model reads on every frame (`docs/performance.md`).
    pub max_change: f32,
    /// Vertical shift of an eye crop, in crop pixels, forgiven before comparing: the mesh's eye
    /// corners, which place the crop, jitter by about a pixel on a still face.
    pub max_shift_px: f32,
    /// Longest frame time a reading is reused for, in seconds.
    pub max_age_s: f64,
}

impl IrisReuse {
    /// Run the model on every frame.
    pub const NEVER: IrisReuse = IrisReuse {
        max_change: 0.0,
        max_shift_px: 0.0,
        max_age_s: 0.0,
    };
}

impl Default for IrisReuse {
    fn default() -> Self {
        Self {
            max_change: 0.012,
            max_shift_px: 1.0,
            max_age_s: 0.5,
        }
    }
}

/// What the iris model read from one session's eyes when it last ran: kept in the session's
/// [`crate::TrackState`] so that a later frame whose eye crops look the same reuses it.
#[derive(Debug, Clone, PartialEq)]
pub struct EyeMemo {
    /// Frame time of the run.
    t: f64,
    /// Image-left eye, then image-right eye.
    eyes: [RememberedEye; 2],
}

/// One eye of an [`EyeMemo`]: the model's raw outputs (crop pixels, so they can be mapped through
/// a later frame's crop) and the row profile of the crop they were read from.
#[derive(Debug, Clone, PartialEq)]
struct RememberedEye {
    profile: [f32; SIDE],
    contour: Vec<f32>,
    iris: Vec<f32>,
}

/// The row profile of an eye crop (RGB in 0..1, `SIDE` x `SIDE`): the mean luma of each row
/// across the eye. Lids moving change it; the iris moving sideways (gaze) or the crop shifting
/// sideways barely does.
fn row_profile(crop: &[f32]) -> [f32; SIDE] {
    let mut rows = [0.0; SIDE];
    for (row, value) in rows.iter_mut().enumerate() {
        let start = (row * SIDE + PROFILE_COLUMNS.start) * 3;
        let end = (row * SIDE + PROFILE_COLUMNS.end) * 3;
        if let Some(pixels) = crop.get(start..end) {
            *value = pixels
                .chunks_exact(3)
                .map(|p| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2])
                .sum::<f32>()
                / PROFILE_COLUMNS.len() as f32;
        }
    }
    rows
}

/// How much the lids changed from `then` to `now` (row profiles): the largest change of a band
/// of [`BAND_ROWS`] rows, after the vertical shift of the crop (up to `max_shift` rows, in half
/// steps) that explains most.
fn profile_change(now: &[f32; SIDE], then: &[f32; SIDE], max_shift: f32) -> f32 {
    let max_shift = max_shift.clamp(0.0, 2.0);
    let at = |row: f32| {
        // Linear between rows; PROFILE_ROWS leaves room for the shifts inside the crop.
        let below = row.floor().max(0.0);
        let i = (below as usize).min(SIDE - 2);
        let f = row - below;
        then[i] * (1.0 - f) + then[i + 1] * f
    };
    [-1.0, -0.5, 0.0, 0.5, 1.0]
        .iter()
        .map(|&step| {
            let shift = step * max_shift;
            PROFILE_ROWS
                .step_by(BAND_ROWS)
                .map(|first| {
                    let sum: f32 = (first..first + BAND_ROWS)
                        .map(|row| now[row] - at(row as f32 + shift))
                        .sum();
                    (sum / BAND_ROWS as f32).abs()
                })
                .fold(0.0, f32::max)
        })
        .fold(f32::MAX, f32::min)
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
    /// This frame's two eye crops, warped before the model is known to be needed.
    crops: [Vec<f32>; 2],
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
            crops: [vec![0.0; SIDE * SIDE * 3], vec![0.0; SIDE * SIDE * 3]],
        })
    }

    /// Runs the model on both eyes of the mesh: `[image-left eye, image-right eye]`, each `None`
    /// when the mesh gives no usable crop for it.
    pub fn run(
        &mut self,
        frame: &RgbImage,
        mesh: &[[f32; 3]],
    ) -> Result<[Option<EyeLandmarks>; 2], EngineError> {
        let (eyes, _) = self.run_tracked(frame, mesh, 0.0, &mut None, IrisReuse::NEVER)?;
        Ok(eyes)
    }

    /// As [`Self::run`] for frame time `t` of a session whose last reading is `memo`: when both
    /// eyes' row profiles changed by at most `reuse.max_change` since that reading, and it is at
    /// most `reuse.max_age_s` old, the reading is mapped through this frame's crops instead of
    /// running the model (the lids and the iris are where they were in the eye; the eye is where
    /// the mesh says). Returns the eyes and whether the model ran; a run replaces `memo`.
    pub fn run_tracked(
        &mut self,
        frame: &RgbImage,
        mesh: &[[f32; 3]],
        t: f64,
        memo: &mut Option<Box<EyeMemo>>,
        reuse: IrisReuse,
    ) -> Result<([Option<EyeLandmarks>; 2], bool), EngineError> {
        let sides = [ImageSide::Left, ImageSide::Right];
        let regions = sides.map(|side| eye_region(mesh, side));
        let mut eyes = [None, None];
        if regions.iter().all(Option::is_none) {
            *memo = None;
            return Ok((eyes, false));
        }
        let mut profiles = [[0.0; SIDE]; 2];
        for k in 0..2 {
            if let Some(region) = &regions[k] {
                // The model knows the image-left eye; the other is fed mirrored.
                warp_into(
                    frame,
                    region,
                    SIDE,
                    PixelRange::UNIT,
                    sides[k] == ImageSide::Right,
                    &mut self.crops[k],
                );
                profiles[k] = row_profile(&self.crops[k]);
            }
        }
        if let (Some(last), [Some(left), Some(right)]) = (memo.as_ref(), &regions) {
            let fresh = t >= last.t && t - last.t <= reuse.max_age_s;
            let same = (0..2).all(|k| {
                let change =
                    profile_change(&profiles[k], &last.eyes[k].profile, reuse.max_shift_px);
                change <= reuse.max_change
            });
            if reuse.max_change > 0.0 && fresh && same {
                for (k, region) in [left, right].into_iter().enumerate() {
                    let eye = &last.eyes[k];
                    let flip = sides[k] == ImageSide::Right;
                    eyes[k] = Some(project_raw(&eye.contour, &eye.iris, region, flip)?);
                }
                return Ok((eyes, false));
            }
        }
        let plane = SIDE * SIDE * 3;
        let mut remembered: [Option<RememberedEye>; 2] = [None, None];
        for first in (0..2).step_by(self.batch) {
            let group = first..(first + self.batch).min(2);
            let input = self.session.input_mut()?;
            for (slot, k) in input.chunks_exact_mut(plane).zip(group.clone()) {
                match (&regions[k], self.crops[k].get(..plane)) {
                    (Some(_), Some(crop)) => slot.copy_from_slice(crop),
                    _ => slot.fill(0.0),
                }
            }
            self.session.infer()?;
            self.session
                .read_output(self.contour_output, &mut self.raw_contour)?;
            self.session
                .read_output(self.iris_output, &mut self.raw_iris)?;
            for (b, k) in group.enumerate() {
                if let Some(region) = &regions[k] {
                    let (contour, iris) = self.raw_outputs(b)?;
                    eyes[k] = Some(project_raw(
                        contour,
                        iris,
                        region,
                        sides[k] == ImageSide::Right,
                    )?);
                    remembered[k] = Some(RememberedEye {
                        profile: profiles[k],
                        contour: contour.to_vec(),
                        iris: iris.to_vec(),
                    });
                }
            }
        }
        *memo = match remembered {
            [Some(left), Some(right)] => Some(Box::new(EyeMemo {
                t,
                eyes: [left, right],
            })),
            _ => None,
        };
        Ok((eyes, true))
    }

    /// Batch item `b` of the last outputs: its contour and iris values.
    fn raw_outputs(&self, b: usize) -> Result<(&[f32], &[f32]), EngineError> {
        let contour_values = CONTOUR_POINTS * 3;
        let iris_values = IRIS_POINTS * 3;
        match (
            self.raw_contour
                .get(b * contour_values..(b + 1) * contour_values),
            self.raw_iris.get(b * iris_values..(b + 1) * iris_values),
        ) {
            (Some(contour), Some(iris)) => Ok((contour, iris)),
            _ => Err(EngineError::Runtime(format!(
                "iris_landmark.tflite: outputs of {} and {} values, expected {} and {}",
                self.raw_contour.len(),
                self.raw_iris.len(),
                self.batch * contour_values,
                self.batch * iris_values
            ))),
        }
    }
}

/// One eye's raw model outputs (crop pixels), mapped from the crop back to frame pixels.
fn project_raw(
    raw_contour: &[f32],
    raw_iris: &[f32],
    region: &RegionOfInterest,
    flip: bool,
) -> Result<EyeLandmarks, EngineError> {
    if raw_contour.len() < CONTOUR_POINTS * 3 || raw_iris.len() < IRIS_POINTS * 3 {
        return Err(EngineError::Runtime(format!(
            "iris_landmark.tflite: {} contour and {} iris values for one eye",
            raw_contour.len(),
            raw_iris.len()
        )));
    }
    let n = SIDE as f32;
    let to_frame = region.frame_mapping();
    let project = |p: &[f32]| -> [f32; 3] {
        let u = p[0] / n;
        let u = if flip { 1.0 - u } else { u };
        let xy = to_frame(u, p[1] / n);
        [xy[0], xy[1], p[2] / n * region.size]
    };
    let contour = raw_contour
        .chunks_exact(3)
        .take(CONTOUR_POINTS)
        .map(project)
        .collect();
    let mut iris = [[0.0; 2]; IRIS_POINTS];
    for (slot, p) in iris.iter_mut().zip(raw_iris.chunks_exact(3)) {
        let q = project(p);
        *slot = [q[0], q[1]];
    }
    Ok(EyeLandmarks { contour, iris })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A drawn eye crop as the model is fed it (RGB in 0..1): skin, an almond of sclera whose
    /// upper lid (with its lashes) has dropped to `openness` of the open gap, and a dark iris
    /// `gaze` px sideways; the whole eye moved by (`dx`, `dy`) px and lit `light` brighter.
    fn drawn_eye(dx: f32, dy: f32, gaze: f32, openness: f32, light: f32) -> Vec<f32> {
        const SAMPLES: usize = 3;
        let (half_width, gap) = (14.0_f32, 9.0_f32);
        let mut crop = Vec::with_capacity(SIDE * SIDE * 3);
        for row in 0..SIDE {
            for col in 0..SIDE {
                let mut sum = 0.0;
                for a in 0..SAMPLES {
                    for b in 0..SAMPLES {
                        let x = col as f32 + (b as f32 + 0.5) / SAMPLES as f32 - 32.0 - dx;
                        let y = row as f32 + (a as f32 + 0.5) / SAMPLES as f32 - 32.0 - dy;
                        let mut value = 0.62;
                        if x.abs() < half_width {
                            let shape = 1.0 - (x / half_width).powi(2);
                            let upper = (-gap / 2.0 + gap * (1.0 - openness)) * shape;
                            let lower = gap / 2.0 * shape;
                            if y > upper && y < lower {
                                value = if (x - gaze).powi(2) + y * y < 36.0 {
                                    0.15
                                } else {
                                    0.8
                                };
                            }
                            if (y - upper).abs() < 0.7 {
                                value = 0.2;
                            }
                        }
                        sum += value;
                    }
                }
                let v = sum / (SAMPLES * SAMPLES) as f32 + light;
                crop.extend([v, v, v]);
            }
        }
        crop
    }

    fn change(now: &[f32], then: &[f32]) -> f32 {
        profile_change(
            &row_profile(now),
            &row_profile(then),
            IrisReuse::default().max_shift_px,
        )
    }

    #[test]
    fn a_still_eye_and_a_jittering_crop_count_as_the_same_eyes() {
        let open = drawn_eye(0.0, 0.0, 0.0, 1.0, 0.0);
        let max = IrisReuse::default().max_change;
        // Sensor noise of ±0.03, deterministic.
        let noisy: Vec<f32> = open
            .iter()
            .enumerate()
            .map(|(i, v)| v + ((i * 7919 % 61) as f32 / 60.0 - 0.5) * 0.06)
            .collect();
        let cases = [
            ("noise", noisy),
            ("1 px sideways", drawn_eye(1.0, 0.0, 0.0, 1.0, 0.0)),
            ("1 px down", drawn_eye(0.0, 1.0, 0.0, 1.0, 0.0)),
            ("1 px up", drawn_eye(0.0, -1.0, 0.0, 1.0, 0.0)),
            ("half a px down", drawn_eye(0.0, 0.5, 0.0, 1.0, 0.0)),
        ];
        for (name, crop) in cases {
            let c = change(&crop, &open);
            assert!(c <= max, "{name}: change {c} over {max}");
        }
    }

    #[test]
    fn lids_closing_past_a_blink_threshold_are_not_the_same_eyes() {
        let open = drawn_eye(0.0, 0.0, 0.0, 1.0, 0.0);
        let max = IrisReuse::default().max_change;
        // The blink threshold is 0.65 of the resting openness: from 0.67 down the model runs,
        // also when the crop moved by a pixel at the same time.
        for openness in [0.67, 0.6, 0.3, 0.0] {
            for dy in [0.0, 1.0, -1.0] {
                let c = change(&drawn_eye(0.0, dy, 0.0, openness, 0.0), &open);
                assert!(c > max, "openness {openness}, moved {dy} px: change {c}");
            }
        }
        // The eyes opening again (against the closed crop the model last read), and, on the safe
        // side, the light changing or the gaze moving run it too.
        let closed = drawn_eye(0.0, 0.0, 0.0, 0.0, 0.0);
        assert!(change(&open, &closed) > max);
        assert!(change(&drawn_eye(0.0, 0.0, 0.0, 1.0, 0.03), &open) > max);
        assert!(change(&drawn_eye(0.0, 0.0, 3.0, 1.0, 0.0), &open) > max);
    }
}
