//! dlib's ResNet face embedding (128 values) with its 5-point alignment: identity continuity
//! within a session ("is this still the same person?") and the optional 1:1 compare.
//!
//! Only the 5-point shape predictor is used, never the 68-point one (its training data forbids
//! commercial use).

use std::path::Path;

use dlib_face_recognition::{
    FaceEncoderNetwork, FaceEncoderTrait, ImageMatrix, LandmarkPredictor, LandmarkPredictorTrait,
    Rectangle,
};
use image::RgbImage;

use crate::{Embedding, EngineError, FaceObservation, IdentityEngine};

/// Faces narrower than this (in frame pixels) are not embedded: dlib's 150 px chip would be
/// mostly interpolation and the distance meaningless.
pub const MIN_FACE_SIDE: f32 = 40.0;

/// Share of the face box that must lie inside the frame for the face to be embedded.
const MIN_BOX_INSIDE: f32 = 0.8;

/// The landmark model's point count (the 5-point predictor: eye corners and nose base).
const SHAPE_POINTS: usize = 5;

/// dlib's face recognition: 5-point alignment, then the ResNet embedding.
///
/// Not `Sync` (dlib's network keeps per-call state): one instance per worker. Opening one pins
/// OpenBLAS to one thread: one core per worker is faster here (about 29 ms a face against 80
/// with OpenBLAS threads fighting over two cores).
pub struct DlibIdentity {
    landmarks: LandmarkPredictor,
    network: FaceEncoderNetwork,
}

impl std::fmt::Debug for DlibIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DlibIdentity").finish_non_exhaustive()
    }
}

#[link(name = "openblas")]
extern "C" {
    /// OpenBLAS's own knob (dlib's BLAS is OpenBLAS: `scripts/setup` installs libopenblas-dev).
    fn openblas_set_num_threads(num_threads: std::os::raw::c_int);
}

/// `ModelMissing` for a path that is not a file.
fn require_file(path: &Path) -> Result<(), EngineError> {
    if path.is_file() {
        return Ok(());
    }
    Err(EngineError::ModelMissing {
        file: path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into(),
        ),
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
    })
}

impl DlibIdentity {
    /// Load `shape_predictor_5_face_landmarks.dat` and `dlib_face_recognition_resnet_model_v1.dat`.
    pub fn open(shape_predictor_5: &Path, resnet: &Path) -> Result<Self, EngineError> {
        require_file(shape_predictor_5)?;
        require_file(resnet)?;
        // SAFETY: sets OpenBLAS's global thread count; callable at any time, no pointers involved.
        unsafe { openblas_set_num_threads(1) };
        let landmarks = LandmarkPredictor::open(shape_predictor_5)
            .map_err(|e| EngineError::Runtime(format!("dlib shape predictor: {e}")))?;
        let network = FaceEncoderNetwork::open(resnet)
            .map_err(|e| EngineError::Runtime(format!("dlib face network: {e}")))?;
        // The alignment below assumes 5 points; a 68-point file must never be accepted.
        let probe = RgbImage::new(32, 32);
        let parts = landmarks
            .face_landmarks(
                &to_matrix(&probe),
                &Rectangle {
                    left: 4,
                    top: 4,
                    right: 27,
                    bottom: 27,
                },
            )
            .len();
        if parts != SHAPE_POINTS {
            return Err(EngineError::Runtime(format!(
                "{} predicts {parts} points; only the 5-point shape predictor is accepted",
                shape_predictor_5.display()
            )));
        }
        Ok(Self { landmarks, network })
    }
}

/// Copy an RGB image into dlib's matrix.
fn to_matrix(image: &RgbImage) -> ImageMatrix {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let raw: &[u8] = image.as_raw();
    debug_assert!(raw.len() >= w * h * 3);
    // SAFETY: an `RgbImage` holds exactly width * height * 3 packed bytes (checked by
    // `ImageBuffer` on construction), which is what `ImageMatrix::new` reads.
    unsafe { ImageMatrix::new(w, h, raw.as_ptr()) }
}

/// The square box dlib's detector would draw for a face our detector boxed as `face`.
///
/// dlib's boxes (what its shape predictor was trained on) are square, about 0.9 of a
/// BlazeFace-style box's mean side and centred a little lower (measured on the Obama portrait:
/// 258 px square centred 5 px below a 270x300 brow-to-chin box).
fn dlib_square(face: &crate::FaceBox) -> (f32, f32, f32) {
    let side = (face.width + face.height) / 2.0 * 0.9;
    let (cx, cy) = face.center();
    (cx, cy + face.height * 0.02, side)
}

impl IdentityEngine for DlibIdentity {
    fn embed(
        &mut self,
        frame: &RgbImage,
        face: &FaceObservation,
    ) -> Result<Option<Embedding>, EngineError> {
        let b = &face.face;
        let (fw, fh) = (frame.width() as f32, frame.height() as f32);
        let finite = [b.x, b.y, b.width, b.height].iter().all(|v| v.is_finite());
        if !finite || b.width < MIN_FACE_SIDE || b.height < MIN_FACE_SIDE {
            return Ok(None);
        }
        let inside_w = (b.x + b.width).min(fw) - b.x.max(0.0);
        let inside_h = (b.y + b.height).min(fh) - b.y.max(0.0);
        if inside_w <= 0.0 || inside_h <= 0.0 || inside_w * inside_h < MIN_BOX_INSIDE * b.area() {
            return Ok(None);
        }
        // Only the face and a margin go to dlib: its chip (150 px, 25% padding) never reaches
        // further, and copying a whole frame would cost more than the landmarks.
        let (cx, cy, side) = dlib_square(b);
        let margin = side * 1.0;
        let x0 = (cx - side / 2.0 - margin).max(0.0).floor() as u32;
        let y0 = (cy - side / 2.0 - margin).max(0.0).floor() as u32;
        let x1 = ((cx + side / 2.0 + margin).ceil().max(0.0) as u32).min(frame.width());
        let y1 = ((cy + side / 2.0 + margin).ceil().max(0.0) as u32).min(frame.height());
        if x1 <= x0 || y1 <= y0 {
            return Ok(None);
        }
        let crop = image::imageops::crop_imm(frame, x0, y0, x1 - x0, y1 - y0).to_image();
        let matrix = to_matrix(&crop);
        let rect = Rectangle {
            left: (cx - side / 2.0 - x0 as f32).round() as _,
            top: (cy - side / 2.0 - y0 as f32).round() as _,
            right: (cx + side / 2.0 - x0 as f32).round() as _,
            bottom: (cy + side / 2.0 - y0 as f32).round() as _,
        };
        let landmarks = self.landmarks.face_landmarks(&matrix, &rect);
        if landmarks.len() != SHAPE_POINTS {
            return Ok(None);
        }
        let encodings =
            self.network
                .get_face_encodings(&matrix, std::slice::from_ref(&landmarks), 0);
        let Some(encoding) = encodings.first() else {
            return Ok(None);
        };
        let values: Vec<f32> = encoding.as_ref().iter().map(|&v| v as f32).collect();
        if values.len() != 128 || values.iter().any(|v| !v.is_finite()) {
            return Err(EngineError::Runtime(format!(
                "dlib face network returned {} values, expected 128 finite ones",
                values.len()
            )));
        }
        Ok(Some(Embedding(values)))
    }
}
