//! MediaPipe's 468-point face mesh on a crop levelled by the eye line.

use image::RgbImage;

use crate::crop::{warp_into, PixelRange, RegionOfInterest};
use crate::detect::sigmoid;
use crate::registry::{ModelFile, ModelRegistry};
use crate::runtime::{expect_square_input, ModelSession, Runtime};
use crate::EngineError;

/// Points in the mesh.
pub const MESH_POINTS: usize = 468;
/// Input side of the mesh model.
const SIDE: usize = 192;
/// The crop around the face is this many times the face's extent (MediaPipe's 1.5).
const REGION_SCALE: f32 = 1.5;

/// Mesh indices used across the engine (MediaPipe's canonical numbering, image-left first:
/// on an unmirrored camera image the image's left eye is the person's right eye).
pub mod index {
    /// Outer corner of the eye on the image's left (the person's right eye).
    pub const IMAGE_LEFT_EYE_OUTER: usize = 33;
    /// Inner corner of the eye on the image's left.
    pub const IMAGE_LEFT_EYE_INNER: usize = 133;
    /// Inner corner of the eye on the image's right (the person's left eye).
    pub const IMAGE_RIGHT_EYE_INNER: usize = 362;
    /// Outer corner of the eye on the image's right.
    pub const IMAGE_RIGHT_EYE_OUTER: usize = 263;
    /// Upper and lower lid pairs of the image-left eye.
    pub const IMAGE_LEFT_EYE_LIDS: [(usize, usize); 3] = [(160, 144), (159, 145), (158, 153)];
    /// Upper and lower lid pairs of the image-right eye.
    pub const IMAGE_RIGHT_EYE_LIDS: [(usize, usize); 3] = [(387, 373), (386, 374), (385, 380)];
    /// Inner lip pairs (upper, lower), left to right in the image.
    pub const INNER_LIPS: [(usize, usize); 3] = [(82, 87), (13, 14), (312, 317)];
    /// Inner mouth corners, image-left then image-right.
    pub const MOUTH_CORNERS: (usize, usize) = (78, 308);
    /// Top of the forehead.
    pub const FOREHEAD: usize = 10;
    /// Chin.
    pub const CHIN: usize = 152;
    /// Cheek contour points on the image's left and right (face width at eye level).
    pub const CHEEKS: (usize, usize) = (234, 454);
    /// Nose tip.
    pub const NOSE_TIP: usize = 1;
}

/// The mesh of one face.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceMeshResult {
    /// 468 points (x, y, z) in frame pixels; z is depth on x's scale (smaller: nearer).
    pub points: Vec<[f32; 3]>,
    /// Face-presence confidence (0..1).
    pub presence: f32,
}

impl FaceMeshResult {
    /// The axis-aligned box around the mesh (score: the presence).
    pub fn bounding_box(&self) -> crate::FaceBox {
        bounding_box(&self.points, self.presence)
    }
}

/// The axis-aligned box of a set of mesh points.
pub fn bounding_box(points: &[[f32; 3]], score: f32) -> crate::FaceBox {
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in points {
        x0 = x0.min(p[0]);
        y0 = y0.min(p[1]);
        x1 = x1.max(p[0]);
        y1 = y1.max(p[1]);
    }
    if points.is_empty() {
        (x0, y0, x1, y1) = (0.0, 0.0, 0.0, 0.0);
    }
    crate::FaceBox {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
        score,
    }
}

/// The crop for the next frame, taken from this frame's mesh (tracking): the points' extent in
/// the eye-levelled frame, squared and scaled 1.5x.
pub fn region_from_mesh(points: &[[f32; 3]]) -> Option<RegionOfInterest> {
    if points.len() < MESH_POINTS {
        return None;
    }
    let a = points[index::IMAGE_LEFT_EYE_OUTER];
    let b = points[index::IMAGE_RIGHT_EYE_OUTER];
    let angle = RegionOfInterest::level_angle([a[0], a[1]], [b[0], b[1]]);
    let (sin, cos) = angle.sin_cos();
    let (mut u0, mut v0, mut u1, mut v1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in points {
        // Into the levelled frame: rotate by -angle.
        let u = cos * p[0] + sin * p[1];
        let v = -sin * p[0] + cos * p[1];
        u0 = u0.min(u);
        v0 = v0.min(v);
        u1 = u1.max(u);
        v1 = v1.max(v);
    }
    let (uc, vc) = ((u0 + u1) / 2.0, (v0 + v1) / 2.0);
    let size = (u1 - u0).max(v1 - v0) * REGION_SCALE;
    if !size.is_finite() || size < 4.0 {
        return None;
    }
    Some(RegionOfInterest {
        cx: cos * uc - sin * vc,
        cy: sin * uc + cos * vc,
        size,
        angle,
    })
}

/// The compiled face mesh model.
#[derive(Debug)]
pub struct FaceMesh {
    session: ModelSession,
    points_output: usize,
    flag_output: usize,
    raw_points: Vec<f32>,
    raw_flag: Vec<f32>,
}

impl FaceMesh {
    /// Compiles the mesh model.
    pub fn new(runtime: &mut Runtime, registry: &ModelRegistry) -> Result<FaceMesh, EngineError> {
        let session = runtime.compile(registry, ModelFile::FaceLandmark)?;
        expect_square_input(&session, SIDE as i64)?;
        let points_output = session.output_index_by_len(MESH_POINTS * 3)?;
        let flag_output = session.output_index_by_len(1)?;
        Ok(FaceMesh {
            session,
            points_output,
            flag_output,
            raw_points: Vec::new(),
            raw_flag: Vec::new(),
        })
    }

    /// Runs the mesh on `region` of `frame`; points come back in frame pixels.
    pub fn run(
        &mut self,
        frame: &RgbImage,
        region: &RegionOfInterest,
    ) -> Result<FaceMeshResult, EngineError> {
        warp_into(
            frame,
            region,
            SIDE,
            PixelRange::UNIT,
            false,
            self.session.input_mut()?,
        );
        self.session.infer()?;
        self.session
            .read_output(self.points_output, &mut self.raw_points)?;
        self.session
            .read_output(self.flag_output, &mut self.raw_flag)?;
        let presence = self.raw_flag.first().copied().map_or(0.0, sigmoid);
        let side = SIDE as f32;
        let to_frame = region.frame_mapping();
        let points = self
            .raw_points
            .chunks_exact(3)
            .take(MESH_POINTS)
            .map(|p| {
                let xy = to_frame(p[0] / side, p[1] / side);
                [xy[0], xy[1], p[2] / side * region.size]
            })
            .collect();
        Ok(FaceMeshResult { points, presence })
    }
}
