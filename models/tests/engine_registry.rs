//! The registry refuses a models folder with a missing or altered file, naming it.

use std::path::{Path, PathBuf};

use livegate_models::{EngineError, ModelFile, ModelRegistry};

fn models_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("LIVEGATE_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../var/models"));
    if dir.join(ModelFile::FaceLandmark.file_name()).is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: no model files in {} (run scripts/fetch-models)",
            dir.display()
        );
        None
    }
}

/// A folder of links to the real models, minus `skip`.
fn linked_copy(models: &Path, skip: ModelFile) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for model in ModelFile::ALL {
        if model != skip {
            std::os::unix::fs::symlink(
                models.join(model.file_name()),
                dir.path().join(model.file_name()),
            )
            .unwrap();
        }
    }
    dir
}

#[test]
fn complete_folder_opens() {
    let Some(models) = models_dir() else { return };
    let registry = ModelRegistry::open(&models).unwrap();
    assert_eq!(
        registry.path(ModelFile::IrisLandmark),
        models.join("iris_landmark.tflite")
    );
}

#[test]
fn missing_file_is_named_with_the_fix() {
    let Some(models) = models_dir() else { return };
    let dir = linked_copy(&models, ModelFile::IrisLandmark);
    let err = ModelRegistry::open(dir.path()).unwrap_err();
    assert!(matches!(err, EngineError::ModelMissing { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("iris_landmark.tflite"), "{message}");
    assert!(message.contains("run scripts/fetch-models"), "{message}");
}

#[test]
fn altered_file_is_refused_by_hash() {
    let Some(models) = models_dir() else { return };
    let dir = linked_copy(&models, ModelFile::FaceDetectionShortRange);
    std::fs::write(
        dir.path()
            .join(ModelFile::FaceDetectionShortRange.file_name()),
        b"not a model",
    )
    .unwrap();
    let err = ModelRegistry::open(dir.path()).unwrap_err();
    match &err {
        EngineError::ModelHash {
            file,
            expected,
            actual,
        } => {
            assert_eq!(file, "face_detection_short_range.tflite");
            assert_eq!(expected, ModelFile::FaceDetectionShortRange.sha256());
            assert_ne!(actual, expected);
        }
        other => panic!("expected ModelHash, got {other:?}"),
    }
    assert!(err.to_string().contains("run scripts/fetch-models"));
}

#[test]
fn empty_folder_reports_the_first_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = ModelRegistry::open(dir.path()).unwrap_err();
    assert!(
        err.to_string()
            .contains("face_detection_short_range.tflite"),
        "{err}"
    );
}
