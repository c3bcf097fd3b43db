//! Light, sharpness, size, centring and occlusion of the main face.

use image::RgbImage;

use crate::{FaceBox, FaceQuality};

/// Measure the face region of `frame` described by its box and 468-point mesh.
pub fn measure(frame: &RgbImage, face: &FaceBox, mesh: &[[f32; 3]]) -> FaceQuality {
    let _ = (frame, face, mesh);
    FaceQuality::default()
}
