//! Real clips turned, once and up front, into the JPEGs a page would send: scaled to fit the
//! capture size the challenge asks for, sampled at the page's frame rate, encoded at its JPEG
//! quality. Decoding then costs the load nothing; every session replays the same bytes.

use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use livegate_models::media::{open_video, VideoOptions};
use livegate_models::EngineError;

/// Why a clip could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    /// The video could not be opened or decoded.
    #[error("{path}: {source}")]
    Decode {
        /// The clip.
        path: PathBuf,
        /// Why.
        #[source]
        source: EngineError,
    },
    /// A frame could not be encoded as JPEG.
    #[error("{path}: jpeg encoding: {source}")]
    Encode {
        /// The clip.
        path: PathBuf,
        /// Why.
        #[source]
        source: image::ImageError,
    },
    /// The clip gave no frame at all.
    #[error("{0}: no frames")]
    Empty(PathBuf),
}

/// How the page captures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capture {
    /// Frames a second.
    pub fps: u32,
    /// The box each frame is scaled down to fit (portrait, as the challenge's `capture`).
    pub fit: (u32, u32),
    /// JPEG quality, 1–100 (the page's 0.8 is 80).
    pub jpeg_quality: u8,
}

/// A clip ready to be sent: its frames in order at the capture's rate.
#[derive(Debug, Clone)]
pub struct Clip {
    /// Where it came from.
    pub path: PathBuf,
    /// Seconds into the video where it starts.
    pub from_s: f64,
    /// JPEG bytes, one per frame period.
    pub frames: Vec<Vec<u8>>,
    /// Width and height of the frames.
    pub size: (u32, u32),
}

impl Clip {
    /// Mean JPEG size in bytes.
    pub fn mean_frame_bytes(&self) -> usize {
        self.frames.iter().map(Vec::len).sum::<usize>() / self.frames.len().max(1)
    }
}

/// Decodes `path` from `from_s` seconds in, keeping the first frame at or after each `1/fps` tick
/// of its own timestamps (a 24 fps clip at 10 fps keeps about every 2.4th frame, as a camera
/// sampled at 10 fps would).
pub fn prepare(path: &Path, from_s: f64, capture: &Capture) -> Result<Clip, ClipError> {
    let decode = |source| ClipError::Decode {
        path: path.to_path_buf(),
        source,
    };
    let reader = open_video(
        path,
        &VideoOptions {
            fit: Some(capture.fit),
            max_frames: None,
        },
    )
    .map_err(decode)?;
    let period = 1.0 / f64::from(capture.fps.max(1));
    let mut next_t = from_s.max(0.0);
    let mut frames = Vec::new();
    let mut size = (0, 0);
    for frame in reader {
        let frame = frame.map_err(decode)?;
        // A small tolerance keeps a 30 fps clip from losing a tick to rounding.
        if frame.t + 1e-3 < next_t {
            continue;
        }
        next_t += period;
        size = frame.image.dimensions();
        let mut jpeg = Vec::new();
        JpegEncoder::new_with_quality(&mut jpeg, capture.jpeg_quality)
            .encode_image(&frame.image)
            .map_err(|source| ClipError::Encode {
                path: path.to_path_buf(),
                source,
            })?;
        frames.push(jpeg);
    }
    if frames.is_empty() {
        return Err(ClipError::Empty(path.to_path_buf()));
    }
    Ok(Clip {
        path: path.to_path_buf(),
        from_s,
        frames,
        size,
    })
}
