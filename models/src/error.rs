//! The one error type of the engine.

use std::path::PathBuf;

/// Why the engine could not load a model or analyse an input.
///
/// Messages are lowercase and name the file, the key or the limit that was broken, so an operator
/// can act on them without reading code.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A model file is not in the models folder.
    #[error("model file {file} is missing from {dir}: run scripts/fetch-models (or set LIVEGATE_MODELS_DIR)")]
    ModelMissing { file: String, dir: PathBuf },
    /// A model file is there but is not the one this build was made for.
    #[error("model file {file} has sha-256 {actual}, expected {expected}: run scripts/fetch-models again")]
    ModelHash {
        file: String,
        expected: String,
        actual: String,
    },
    /// The model runtime failed to load or to run a model.
    #[error("model runtime: {0}")]
    Runtime(String),
    /// The input is not a decodable image.
    #[error("not a decodable image: {0}")]
    BadImage(String),
    /// The input is not a decodable video (or is truncated beyond its first frame).
    #[error("not a decodable video: {0}")]
    BadVideo(String),
    /// The input is an image or a frame outside the sizes the engine accepts.
    #[error(
        "frame size {width}x{height} is outside the accepted range ({min}..={max} pixels a side)"
    )]
    FrameSize {
        width: u32,
        height: u32,
        min: u32,
        max: u32,
    },
    /// Reading an input file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}
