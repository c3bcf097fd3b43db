//! Cue 1, structure from motion: does the face move as a plane?
//!
//! Between two samples some time apart whose mesh points changed shape enough to tell (what a
//! turn, scale and shift cannot explain: foreshortening, parallax), one homography is fitted to
//! them. A photo or a screen moves as a plane: the homography explains its shape change, leaving
//! the mesh's jitter. A head shows parallax: the nose moves against the eye and mouth corners.
//! The cue's measure is the share of the shape change the homography leaves unexplained. A face
//! whose shape did not change cannot be told from a photo: the cue then says
//! `not_enough_motion` instead of guessing.
//!
//! Two things learnt on real frames: the gate is geometric, not the head pose (the mesh model
//! reads a tilted photo as a frontal face seen askew, so its pose barely moves while the photo
//! turns); and only points the model sees are used (on a tilted photo the face outline is the
//! model's 3-D guess, which does not follow the plane).

use std::collections::VecDeque;

use super::homography;
use super::Reading;
use crate::FaceObservation;

/// Well-textured mesh points that barely move with expression: eye corners, nose tip, base,
/// alae and bridge, mouth corners, inner brows (MediaPipe numbering).
const RIGID_POINTS: [usize; 14] = [
    33, 133, 362, 263, // eye corners
    1, 2, 98, 327, 168, 6, // nose tip, base, alae, bridge
    61, 291, 55, 285, // mouth corners, inner brows
];

/// Take a sample of the points at most this often (seconds).
const SAMPLE_PERIOD_S: f64 = 0.1;
/// Pair a sample with earlier ones at least this much older (seconds)...
const MIN_GAP_S: f64 = 0.2;
/// ...and at most this much older (older samples are dropped).
const MAX_GAP_S: f64 = 1.5;
/// Least shape change between two samples for the pair to count: RMS distance left by the best
/// similarity, as a share of face width (the mesh's jitter on a still face stays under it).
pub const MIN_SHAPE_CHANGE: f32 = 0.012;
/// Fewest counted pairs for the cue to speak.
pub const MIN_PAIRS: usize = 3;
/// Median share of the shape change left unexplained by one homography, at or under which the
/// face moves as a plane: score 1. Staged prints read 0.19–0.49 (the mesh's jitter), heads
/// 0.30–0.87 (`docs/attacks.md`).
pub const PLANAR_MAX: f32 = 0.40;
/// Median unexplained share at or over which the face clearly shows parallax: score 0.
pub const PARALLAX_MIN: f32 = 0.60;

#[derive(Debug, Clone)]
struct Sample {
    t: f64,
    points: Vec<[f64; 2]>,
}

/// Frames being averaged into the next sample.
#[derive(Debug, Clone)]
struct Bucket {
    t: f64,
    sum: Vec<[f64; 2]>,
    width: f64,
    frames: u32,
}

/// The planar-motion accumulator: feed it the main face of each frame.
#[derive(Debug, Clone, Default)]
pub struct PlanarMotion {
    samples: VecDeque<Sample>,
    bucket: Option<Bucket>,
    /// Counted pairs: (shape change, homography residual), both shares of face width.
    counted: Vec<(f32, f32)>,
    /// Largest shape change seen between two samples in reach of each other (share of width).
    max_shape_change: f32,
}

impl PlanarMotion {
    /// Adds the face seen at `t`. Frames are averaged over `SAMPLE_PERIOD_S` into one
    /// sample: the mesh's jitter shrinks, the head's motion stays.
    pub fn observe(&mut self, t: f64, face: &FaceObservation) {
        if face.mesh.len() <= *RIGID_POINTS.iter().max().unwrap_or(&0) || face.face.width < 8.0 {
            return;
        }
        // A clock that went backwards starts over.
        if self.bucket.as_ref().is_some_and(|b| t < b.t) {
            self.samples.clear();
            self.bucket = None;
        }
        if let Some(bucket) = self.bucket.take_if(|b| t - b.t >= SAMPLE_PERIOD_S) {
            self.add_sample(bucket);
        }
        let bucket = self.bucket.get_or_insert_with(|| Bucket {
            t,
            sum: vec![[0.0; 2]; RIGID_POINTS.len()],
            width: 0.0,
            frames: 0,
        });
        for (sum, &i) in bucket.sum.iter_mut().zip(&RIGID_POINTS) {
            sum[0] += f64::from(face.mesh[i][0]);
            sum[1] += f64::from(face.mesh[i][1]);
        }
        bucket.width += f64::from(face.face.width);
        bucket.frames += 1;
    }

    fn add_sample(&mut self, bucket: Bucket) {
        let n = f64::from(bucket.frames.max(1));
        let points: Vec<[f64; 2]> = bucket.sum.iter().map(|p| [p[0] / n, p[1] / n]).collect();
        let width = (bucket.width / n) as f32;
        let sample = Sample {
            t: bucket.t,
            points,
        };
        while self
            .samples
            .front()
            .is_some_and(|s| sample.t - s.t > MAX_GAP_S)
        {
            self.samples.pop_front();
        }
        let partner = self
            .samples
            .iter()
            .filter(|s| sample.t - s.t >= MIN_GAP_S)
            .filter_map(|s| {
                homography::similarity_residual(&s.points, &sample.points)
                    .map(|r| (r as f32 / width, s))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((change, earlier)) = partner {
            self.max_shape_change = self.max_shape_change.max(change);
            if change >= MIN_SHAPE_CHANGE {
                if let Some(r) = planar_residual(&earlier.points, &sample.points) {
                    self.counted.push((change, r / width));
                }
            }
        }
        self.samples.push_back(sample);
    }

    /// Median residual of the counted pairs (share of face width), if any.
    pub fn median_residual(&self) -> Option<f32> {
        median(&self.counted.iter().map(|c| c.1).collect::<Vec<_>>())
    }

    /// Median over the counted pairs of the homography residual over the shape change: the share
    /// of the change a plane cannot explain.
    pub fn median_ratio(&self) -> Option<f32> {
        median(&self.counted.iter().map(|c| c.1 / c.0).collect::<Vec<_>>())
    }

    /// Largest shape change seen between two samples in reach (share of face width).
    pub fn max_shape_change(&self) -> f32 {
        self.max_shape_change
    }

    /// Pairs counted so far.
    pub fn pairs(&self) -> usize {
        self.counted.len()
    }

    /// What the cue says: `planar_motion` score from the median unexplained share, or
    /// undecided for lack of shape change.
    pub fn reading(&self) -> Reading {
        match self.median_ratio() {
            Some(r) if self.counted.len() >= MIN_PAIRS => {
                Reading::Score(((PARALLAX_MIN - r) / (PARALLAX_MIN - PLANAR_MAX)).clamp(0.0, 1.0))
            }
            _ => Reading::Undecided("not_enough_motion"),
        }
    }
}

/// RMS distance (pixels of the later frame) of `to` from the best homography image of `from`.
pub fn planar_residual(from: &[[f64; 2]], to: &[[f64; 2]]) -> Option<f32> {
    let h = homography::fit(from, to)?;
    homography::rms_residual(&h, from, to).map(|r| r as f32)
}

pub(super) fn median(values: &[f32]) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f32::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FaceBox, FaceQuality, HeadPose};

    /// A face-sized cloud: x, y in -1..1 on a grid; `depth` gives each point its z.
    fn cloud(depth: impl Fn(f64, f64) -> f64) -> Vec<[f64; 3]> {
        let mut points = Vec::new();
        for i in 0..7 {
            for j in 0..7 {
                let (x, y) = (i as f64 / 3.0 - 1.0, j as f64 / 3.0 - 1.0);
                points.push([x, y, depth(x, y)]);
            }
        }
        points
    }

    /// Pinhole view of `points` turned by `yaw` (radians) about the vertical axis, 4 units away,
    /// focal length 400 px: a 2-unit face is about 200 px wide.
    fn view(points: &[[f64; 3]], yaw: f64) -> Vec<[f64; 2]> {
        let (s, c) = yaw.sin_cos();
        points
            .iter()
            .map(|p| {
                let x = c * p[0] + s * p[2];
                let z = -s * p[0] + c * p[2] + 4.0;
                [320.0 + 400.0 * x / z, 240.0 + 400.0 * p[1] / z]
            })
            .collect()
    }

    #[test]
    fn a_plane_under_perspective_has_no_residual() {
        // A tilted plane: z = 0.3x + 0.1y.
        let plane = cloud(|x, y| 0.3 * x + 0.1 * y);
        let r = planar_residual(&view(&plane, 0.0), &view(&plane, 0.25)).expect("fit");
        assert!(r < 1e-3, "plane residual {r} px");
    }

    #[test]
    fn a_rotated_head_shape_has_a_clear_residual() {
        // A nose-like bump in the middle and cheeks curving back at the sides.
        let head = cloud(|x, y| -0.6 * (-(x * x + y * y) * 4.0).exp() + 0.35 * x * x);
        let (from, to) = (view(&head, 0.0), view(&head, 0.12));
        let r = planar_residual(&from, &to).expect("fit");
        let change = homography::similarity_residual(&from, &to).expect("fit") as f32;
        // 0.12 rad is about 7 degrees; the face is about 200 px wide.
        assert!(
            change / 200.0 > MIN_SHAPE_CHANGE,
            "shape change {change} px"
        );
        assert!(
            r / change > PARALLAX_MIN,
            "head residual {r} px of {change} px"
        );
    }

    fn face_at(points: &[[f64; 2]], yaw: f32) -> FaceObservation {
        let mut mesh = vec![[0.0f32; 3]; 468];
        for (k, &i) in RIGID_POINTS.iter().enumerate() {
            let p = points[k % points.len()];
            mesh[i] = [p[0] as f32, p[1] as f32, 0.0];
        }
        FaceObservation {
            face: FaceBox {
                x: 220.0,
                y: 140.0,
                width: 200.0,
                height: 200.0,
                score: 1.0,
            },
            presence: 1.0,
            mesh,
            pose: HeadPose {
                yaw,
                pitch: 0.0,
                roll: 0.0,
            },
            left_eye: None,
            right_eye: None,
            mesh_eye_openness: [0.3, 0.3],
            mouth_openness: 0.0,
            quality: FaceQuality::default(),
        }
    }

    /// Feeds 3 s at 10 fps of `shape` turning by `amplitude` radians back and forth.
    fn track(shape: &[[f64; 3]], amplitude: f64) -> PlanarMotion {
        let mut cue = PlanarMotion::default();
        for k in 0..30 {
            let t = k as f64 * 0.1;
            let yaw = amplitude * (t * 2.0).sin();
            cue.observe(t, &face_at(&view(shape, yaw), yaw.to_degrees() as f32));
        }
        cue
    }

    #[test]
    fn a_turning_plane_reads_as_planar_and_a_head_as_parallax() {
        // The points of RIGID_POINTS in their order, on a face 2 units wide: (x, y, depth),
        // depth negative towards the camera.
        let head: Vec<[f64; 3]> = [
            [-0.7, -0.3, 0.0],
            [-0.25, -0.3, -0.05],
            [0.25, -0.3, -0.05],
            [0.7, -0.3, 0.0],
            [0.0, 0.2, -0.5],
            [0.0, 0.35, -0.35],
            [-0.2, 0.3, -0.25],
            [0.2, 0.3, -0.25],
            [0.0, -0.3, -0.15],
            [0.0, -0.1, -0.3],
            [-0.4, 0.65, -0.05],
            [0.4, 0.65, -0.05],
            [-0.2, -0.55, -0.1],
            [0.2, -0.55, -0.1],
        ]
        .iter()
        .map(|p| [p[0], p[1], p[2] + 0.35 * p[0] * p[0]])
        .collect();
        let plane: Vec<[f64; 3]> = head.iter().map(|p| [p[0], p[1], 0.2 * p[0]]).collect();
        assert_eq!(track(&plane, 0.3).reading(), Reading::Score(1.0));
        assert_eq!(track(&head, 0.3).reading(), Reading::Score(0.0));
    }

    #[test]
    fn a_still_face_is_undecided() {
        let head = cloud(|x, y| -0.6 * (-(x * x + y * y) * 4.0).exp());
        assert_eq!(
            track(&head, 0.0).reading(),
            Reading::Undecided("not_enough_motion")
        );
    }
}
