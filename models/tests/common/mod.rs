//! What the model crate's real-media tests share.

use std::path::{Path, PathBuf};

use livegate_models::ModelFile;

/// The media folder (`LIVEGATE_TEST_MEDIA`) and the models folder (`LIVEGATE_MODELS_DIR`, else
/// `var/models`); `None`, with the reason on stderr, when either is missing.
pub fn media_and_models() -> Option<(PathBuf, PathBuf)> {
    let Some(media) = std::env::var_os("LIVEGATE_TEST_MEDIA").map(PathBuf::from) else {
        eprintln!("skipped: LIVEGATE_TEST_MEDIA is not set (point it at the shared face media)");
        return None;
    };
    let models = std::env::var_os("LIVEGATE_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../var/models"));
    if !models
        .join(ModelFile::DlibFaceRecognition.file_name())
        .is_file()
    {
        eprintln!("skipped: the model files are not in {}", models.display());
        return None;
    }
    Some((media, models))
}
