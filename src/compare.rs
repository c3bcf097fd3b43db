//! `livegate compare A B`: the built-in 1:1 comparator over two images, as one JSON line.
//!
//! Prints `{"compare": {"score": ..., "distance": ..., "same_person": ...}}`; an image that is
//! unreadable, not a JPEG or PNG, or without exactly one usable face is an error naming it.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use livegate_models::compare::{CompareError, FaceComparator, ImageRole};
use livegate_models::embedding::DlibIdentity;
use livegate_models::media::{open_media, Media, MediaLimits, VideoOptions};
use livegate_models::{Analyzer, AnalyzerConfig, EngineError, ModelRegistry};
use serde_json::json;

/// `livegate compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// The first image (JPEG or PNG), one face.
    pub a: PathBuf,
    /// The second image (JPEG or PNG), one face.
    pub b: PathBuf,
    /// The model files (default: models.dir of the configuration).
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
}

/// Why `compare` gave no answer; `Display` names the image at fault.
#[derive(Debug, thiserror::Error)]
pub enum CompareCommandError {
    /// An image could not be read or decoded, or is a video.
    #[error("{path}: {source}")]
    Input {
        /// The image as given on the command line.
        path: String,
        /// Why.
        #[source]
        source: EngineError,
    },
    /// An image has no face, several, or one too small or cut off.
    #[error("{path}: {problem}")]
    Face {
        /// The image as given on the command line.
        path: String,
        /// The problem, without the image's role.
        problem: String,
    },
    /// The models could not be loaded or failed.
    #[error("models: {0}")]
    Models(#[source] EngineError),
    /// Writing the answer failed (for example a closed pipe).
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// Decodes one image, upright; videos are refused.
fn load(path: &Path) -> Result<image::RgbImage, CompareCommandError> {
    let input = |source| CompareCommandError::Input {
        path: path.display().to_string(),
        source,
    };
    match open_media(path, &VideoOptions::default(), &MediaLimits::default()).map_err(input)? {
        Media::Image(image) => Ok(image),
        Media::Video(_) => Err(input(EngineError::BadImage(
            "a video, not an image (jpeg or png only)".into(),
        ))),
    }
}

/// Compares the faces of `args.a` and `args.b`, writing one JSON line to `out`.
pub fn run(
    args: &CompareArgs,
    models_dir: &Path,
    out: &mut impl Write,
) -> Result<(), CompareCommandError> {
    // Both images first: a wrong path is reported before seconds of model loading.
    let a = load(&args.a)?;
    let b = load(&args.b)?;
    let registry = ModelRegistry::open(models_dir).map_err(CompareCommandError::Models)?;
    let analyzer =
        Analyzer::new(&registry, AnalyzerConfig::default()).map_err(CompareCommandError::Models)?;
    let identity = DlibIdentity::open(&registry).map_err(CompareCommandError::Models)?;
    let mut comparator = FaceComparator::new(analyzer, identity);
    let comparison = comparator.compare(&a, &b).map_err(|e| match e {
        // Both images passed the media limits the engine checks, so an engine error is the
        // models' failure, not the input's.
        CompareError::Engine(source) => CompareCommandError::Models(source),
        face => {
            let path = if face.image() == Some(ImageRole::B) {
                &args.b
            } else {
                &args.a
            };
            CompareCommandError::Face {
                path: path.display().to_string(),
                problem: face.problem(),
            }
        }
    })?;
    writeln!(
        out,
        "{}",
        json!({ "compare": {
            "score": comparison.score,
            "distance": comparison.distance,
            "same_person": comparison.same_person,
        }})
    )?;
    out.flush()?;
    Ok(())
}
