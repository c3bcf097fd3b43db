//! The model files, their pinned SHA-256 and the folder they live in.
//!
//! The hashes belong to the package versions pinned in `scripts/fetch-models`; a file that hashes
//! differently is a different model and is refused at start, never discovered mid-session.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::EngineError;

/// Environment variable that overrides the models folder.
pub const MODELS_DIR_ENV: &str = "LIVEGATE_MODELS_DIR";

/// One of the model files the engine loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelFile {
    /// BlazeFace short range (128x128, faces within about 2 m).
    FaceDetectionShortRange,
    /// BlazeFace full range (192x192, faces up to about 5 m).
    FaceDetectionFullRange,
    /// The 468-point face mesh with its face-presence flag.
    FaceLandmark,
    /// The iris and eye-contour model (71 contour points, 5 iris points).
    IrisLandmark,
    /// dlib's ResNet face embedding (128 values).
    DlibFaceRecognition,
    /// dlib's 5-point landmark model that aligns faces for the embedding.
    DlibShapePredictor5,
}

impl ModelFile {
    /// Every model file, in the order they are checked.
    pub const ALL: [ModelFile; 6] = [
        ModelFile::FaceDetectionShortRange,
        ModelFile::FaceDetectionFullRange,
        ModelFile::FaceLandmark,
        ModelFile::IrisLandmark,
        ModelFile::DlibFaceRecognition,
        ModelFile::DlibShapePredictor5,
    ];

    /// The file's name in the models folder.
    pub fn file_name(self) -> &'static str {
        match self {
            ModelFile::FaceDetectionShortRange => "face_detection_short_range.tflite",
            ModelFile::FaceDetectionFullRange => "face_detection_full_range.tflite",
            ModelFile::FaceLandmark => "face_landmark.tflite",
            ModelFile::IrisLandmark => "iris_landmark.tflite",
            ModelFile::DlibFaceRecognition => "dlib_face_recognition_resnet_model_v1.dat",
            ModelFile::DlibShapePredictor5 => "shape_predictor_5_face_landmarks.dat",
        }
    }

    /// The pinned SHA-256 of the file, lowercase hex.
    pub fn sha256(self) -> &'static str {
        match self {
            ModelFile::FaceDetectionShortRange => {
                "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633"
            }
            ModelFile::FaceDetectionFullRange => {
                "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3"
            }
            ModelFile::FaceLandmark => {
                "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493"
            }
            ModelFile::IrisLandmark => {
                "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f"
            }
            ModelFile::DlibFaceRecognition => {
                "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
            }
            ModelFile::DlibShapePredictor5 => {
                "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"
            }
        }
    }
}

/// A models folder whose files were all found and hash right.
#[derive(Debug, Clone)]
pub struct ModelRegistry {
    dir: PathBuf,
}

impl ModelRegistry {
    /// The folder to use when none is given: `LIVEGATE_MODELS_DIR`, else `./var/models`.
    pub fn default_dir() -> PathBuf {
        std::env::var_os(MODELS_DIR_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("var/models"))
    }

    /// Opens the default folder (see [`ModelRegistry::default_dir`]).
    pub fn open_default() -> Result<ModelRegistry, EngineError> {
        Self::open(Self::default_dir())
    }

    /// Checks that every model file is in `dir` and has its pinned SHA-256.
    pub fn open(dir: impl Into<PathBuf>) -> Result<ModelRegistry, EngineError> {
        let dir = dir.into();
        for model in ModelFile::ALL {
            let path = dir.join(model.file_name());
            if !path.is_file() {
                return Err(EngineError::ModelMissing {
                    file: model.file_name().to_owned(),
                    dir,
                });
            }
            let actual = sha256_of(&path)?;
            if actual != model.sha256() {
                return Err(EngineError::ModelHash {
                    file: model.file_name().to_owned(),
                    expected: model.sha256().to_owned(),
                    actual,
                });
            }
        }
        Ok(ModelRegistry { dir })
    }

    /// Where a model file is.
    pub fn path(&self, model: ModelFile) -> PathBuf {
        self.dir.join(model.file_name())
    }

    /// The models folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder holding the OpenVINO runtime libraries (`libopenvino_c.so` and its plugins).
    pub fn openvino_dir(&self) -> PathBuf {
        self.dir.join("openvino")
    }
}

fn sha256_of(path: &Path) -> Result<String, EngineError> {
    let io_error = |source| EngineError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io_error)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io_error)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
