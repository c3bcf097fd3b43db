//! The built-in 1:1 face comparator: is the person in one image the person in another?
//!
//! Each image must hold exactly one face worth comparing: the face engine finds it (detector on,
//! whatever the image size), dlib's ResNet embeds it with its 5-point alignment, and the two
//! embeddings' Euclidean distance is decided at [`SAME_PERSON_DISTANCE`]. The score is a
//! monotone map of that distance (see [`score`]); the calibration is in `docs/compare.md`.
//!
//! Pure: images in, a [`Comparison`] out; no I/O beyond the models the engines already hold.

use image::RgbImage;

use crate::embedding::MIN_FACE_SIDE;
use crate::{AnalysisNeeds, Embedding, EngineError, FaceEngine, IdentityEngine, TrackState};

/// Two faces closer than this distance are the same person.
///
/// Calibrated on the 42 people of the shared media (`docs/compare.md`, reproduced by
/// `models/tests/compare_calibration.rs`): dlib's own 0.6 (99.38 % on LFW) accepted 232 of 6666
/// impostor pairs there, the nearest between East Asian men, the population Livegate serves;
/// at 0.40 none is accepted (the nearest impostor pair is at 0.425) and 9 of 120 genuine pairs are
/// rejected (grimaces, head turns, one photo pair at 0.434). A false match costs a bank more than
/// a retry.
pub const SAME_PERSON_DISTANCE: f32 = 0.40;

/// How steeply [`score`] falls around the threshold, in distance units.
///
/// 0.05 puts score 0.95 at a distance of 0.25 (a typical genuine pair) and 0.05 at 0.55.
pub const SCORE_SCALE: f32 = 0.05;

/// A detected face narrower than this share of the main face does not count as another person:
/// a passer-by far behind the subject is not an ambiguity about who is being compared.
pub const OTHER_FACE_RATIO: f32 = 0.5;

/// The score (0..1, 1 = same person) for a distance: a logistic centred on the threshold.
///
/// Strictly decreasing in the distance, exactly 0.5 at [`SAME_PERSON_DISTANCE`], so
/// `score > 0.5` and `same_person` always agree.
pub fn score(distance: f32) -> f32 {
    1.0 / (1.0 + ((distance - SAME_PERSON_DISTANCE) / SCORE_SCALE).exp())
}

/// The answer of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Comparison {
    /// 0..1, 1 = the same person; [`score`] of `distance`.
    pub score: f32,
    /// Euclidean distance between the two embeddings (same person mostly under 0.4).
    pub distance: f32,
    /// `distance < SAME_PERSON_DISTANCE`.
    pub same_person: bool,
}

impl Comparison {
    /// The comparison of two embeddings at the calibrated threshold.
    pub fn of(a: &Embedding, b: &Embedding) -> Comparison {
        let distance = a.distance(b);
        Comparison {
            score: score(distance),
            distance,
            same_person: distance < SAME_PERSON_DISTANCE,
        }
    }
}

/// Which image a face problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRole {
    /// The first image of `compare(a, b)`.
    A,
    /// The second image of `compare(a, b)`.
    B,
    /// The image given to `reference`.
    Reference,
}

impl std::fmt::Display for ImageRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ImageRole::A => "image a",
            ImageRole::B => "image b",
            ImageRole::Reference => "reference image",
        })
    }
}

/// Why an image gave no face to compare, or the engine failed.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The detector found no face.
    #[error("{image}: no face found")]
    NoFace {
        /// Which image.
        image: ImageRole,
    },
    /// More than one face of comparable size: which one to compare would be a guess.
    #[error("{image}: several faces ({count}): one person per image")]
    SeveralFaces {
        /// Which image.
        image: ImageRole,
        /// Faces of comparable size found.
        count: usize,
    },
    /// The face is narrower than dlib's alignment needs.
    #[error("{image}: face too small ({width} px wide, at least {min} needed)")]
    FaceTooSmall {
        /// Which image.
        image: ImageRole,
        /// The face's width in pixels.
        width: u32,
        /// The least width embedded.
        min: u32,
    },
    /// The face is cut off by the image's edge, so it cannot be aligned.
    #[error("{image}: face cut off by the image's edge")]
    FaceCutOff {
        /// Which image.
        image: ImageRole,
    },
    /// The engines failed (model runtime, frame size).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl CompareError {
    /// The image the problem is about; `None` for engine failures.
    pub fn image(&self) -> Option<ImageRole> {
        match self {
            CompareError::NoFace { image }
            | CompareError::SeveralFaces { image, .. }
            | CompareError::FaceTooSmall { image, .. }
            | CompareError::FaceCutOff { image } => Some(*image),
            CompareError::Engine(_) => None,
        }
    }

    /// The message without the image's role, for callers that name the image themselves (a
    /// path on the command line).
    pub fn problem(&self) -> String {
        match self {
            CompareError::NoFace { .. } => "no face found".into(),
            CompareError::SeveralFaces { count, .. } => {
                format!("several faces ({count}): one person per image")
            }
            CompareError::FaceTooSmall { width, min, .. } => {
                format!("face too small ({width} px wide, at least {min} needed)")
            }
            CompareError::FaceCutOff { .. } => "face cut off by the image's edge".into(),
            CompareError::Engine(e) => e.to_string(),
        }
    }
}

/// The 1:1 comparator: a face engine to find the face and an identity engine to embed it.
///
/// Not `Sync` (neither engine is): one per worker, like the engines themselves.
#[derive(Debug)]
pub struct FaceComparator<F, I> {
    faces: F,
    identity: I,
}

impl<F: FaceEngine, I: IdentityEngine> FaceComparator<F, I> {
    /// A comparator over these engines.
    pub fn new(faces: F, identity: I) -> Self {
        Self { faces, identity }
    }

    /// Compares the one face of `a` with the one face of `b`.
    pub fn compare(&mut self, a: &RgbImage, b: &RgbImage) -> Result<Comparison, CompareError> {
        let ea = self.embed_one(a, ImageRole::A)?;
        let eb = self.embed_one(b, ImageRole::B)?;
        Ok(Comparison::of(&ea, &eb))
    }

    /// The embedding of the one face of a reference image (kept by a session to compare its
    /// best frame with).
    pub fn reference(&mut self, image: &RgbImage) -> Result<Embedding, CompareError> {
        self.embed_one(image, ImageRole::Reference)
    }

    /// The embedding of the single face of `image`.
    pub fn embed_one(
        &mut self,
        image: &RgbImage,
        role: ImageRole,
    ) -> Result<Embedding, CompareError> {
        // A fresh track: the detector runs on this image alone, never on a previous one's face.
        let mut track = TrackState::default();
        let needs = AnalysisNeeds {
            eyes: false,
            detect: true,
        };
        let analysis = self.faces.analyze(image, 0.0, &mut track, needs)?;
        let Some(main) = analysis.main else {
            return Err(CompareError::NoFace { image: role });
        };
        let largest = analysis
            .faces
            .iter()
            .map(|f| f.width)
            .fold(main.face.width, f32::max);
        let count = analysis
            .faces
            .iter()
            .filter(|f| f.width >= largest * OTHER_FACE_RATIO)
            .count();
        if count > 1 {
            return Err(CompareError::SeveralFaces { image: role, count });
        }
        if main.face.width < MIN_FACE_SIDE || main.face.height < MIN_FACE_SIDE {
            return Err(CompareError::FaceTooSmall {
                image: role,
                width: main.face.width.max(0.0).round() as u32,
                min: MIN_FACE_SIDE as u32,
            });
        }
        self.identity
            .embed(image, &main)?
            .ok_or(CompareError::FaceCutOff { image: role })
    }

    /// The engines back, for a worker that reuses them.
    pub fn into_parts(self) -> (F, I) {
        (self.faces, self.identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FaceBox, FaceObservation, FaceQuality, FrameAnalysis, HeadPose};

    fn face_box(x: f32, width: f32) -> FaceBox {
        FaceBox {
            x,
            y: 10.0,
            width,
            height: width,
            score: 0.9,
        }
    }

    /// A face engine that reports the boxes it was given, the first one as the main face.
    struct Boxes(Vec<FaceBox>);

    impl FaceEngine for Boxes {
        fn analyze(
            &mut self,
            frame: &RgbImage,
            t: f64,
            _track: &mut TrackState,
            _needs: AnalysisNeeds,
        ) -> Result<FrameAnalysis, EngineError> {
            let main = self.0.first().map(|&face| FaceObservation {
                face,
                presence: 1.0,
                mesh: Vec::new(),
                pose: HeadPose::default(),
                left_eye: None,
                right_eye: None,
                mesh_eye_openness: [0.3, 0.3],
                mouth_openness: 0.0,
                quality: FaceQuality::default(),
            });
            Ok(FrameAnalysis {
                t,
                frame_width: frame.width(),
                frame_height: frame.height(),
                faces: self.0.clone(),
                detected: true,
                main,
                engine_ms: 0.0,
            })
        }
    }

    /// An identity engine whose embedding is the frame's first pixel's red value on one axis.
    struct RedAxis;

    impl IdentityEngine for RedAxis {
        fn embed(
            &mut self,
            frame: &RgbImage,
            face: &FaceObservation,
        ) -> Result<Option<Embedding>, EngineError> {
            if face.face.x < 0.0 {
                return Ok(None);
            }
            let mut v = vec![0.0; 128];
            v[0] = f32::from(frame.get_pixel(0, 0)[0]) / 100.0;
            Ok(Some(Embedding(v)))
        }
    }

    fn image(red: u8) -> RgbImage {
        RgbImage::from_pixel(64, 64, image::Rgb([red, 0, 0]))
    }

    fn comparator(faces: Vec<FaceBox>) -> FaceComparator<Boxes, RedAxis> {
        FaceComparator::new(Boxes(faces), RedAxis)
    }

    #[test]
    fn score_is_one_half_at_the_threshold_and_falls_with_distance() {
        assert!((score(SAME_PERSON_DISTANCE) - 0.5).abs() < 1e-6);
        let mut last = 1.0;
        for step in 0..=40 {
            let s = score(step as f32 * 0.05);
            assert!(s < last && (0.0..=1.0).contains(&s), "{step}: {s}");
            last = s;
        }
        assert!(score(0.25) > 0.95 && score(0.55) < 0.05);
    }

    #[test]
    fn near_faces_are_the_same_person_and_far_ones_are_not() {
        let mut c = comparator(vec![face_box(5.0, 50.0)]);
        let same = c.compare(&image(100), &image(130)).unwrap();
        assert!(same.same_person && same.score > 0.5);
        assert!((same.distance - 0.3).abs() < 1e-5);
        let other = c.compare(&image(100), &image(200)).unwrap();
        assert!(!other.same_person && other.score < 0.5);
    }

    #[test]
    fn each_face_problem_names_its_image() {
        let err = comparator(vec![])
            .compare(&image(1), &image(2))
            .unwrap_err();
        assert!(matches!(
            err,
            CompareError::NoFace {
                image: ImageRole::A
            }
        ));
        assert_eq!(err.to_string(), "image a: no face found");

        let group = vec![
            face_box(0.0, 50.0),
            face_box(30.0, 45.0),
            face_box(9.0, 48.0),
        ];
        let err = comparator(group).reference(&image(1)).unwrap_err();
        assert!(matches!(
            err,
            CompareError::SeveralFaces {
                image: ImageRole::Reference,
                count: 3
            }
        ));
        assert_eq!(err.problem(), "several faces (3): one person per image");

        let err = comparator(vec![face_box(5.0, 30.0)])
            .reference(&image(1))
            .unwrap_err();
        assert!(matches!(err, CompareError::FaceTooSmall { width: 30, .. }));

        let err = comparator(vec![face_box(-5.0, 50.0)])
            .reference(&image(1))
            .unwrap_err();
        assert!(matches!(err, CompareError::FaceCutOff { .. }));
    }

    #[test]
    fn a_small_face_far_behind_the_subject_is_not_another_person() {
        let faces = vec![face_box(0.0, 60.0), face_box(40.0, 20.0)];
        assert!(comparator(faces).reference(&image(1)).is_ok());
    }
}
