//! Head pose and eye / mouth openness from the face mesh (pure geometry).
//!
//! Pose comes from a face frame built on the mesh's own 3D points: across the face from cheek to
//! cheek and up from chin to forehead. The mesh is weak-perspective (z on x's scale), so these
//! two axes rotate with the head and their cross product points out of the face.

use crate::mesh::{index, MESH_POINTS};
use crate::HeadPose;

/// What the raw estimate reads on a level head: the mesh's chin-to-forehead line is not the
/// face's vertical. The median over seven frontal clips here was -2 to -16 (people and cameras
/// differ, so actions compare against each person's own baseline); -5 centres the typical one.
const LEVEL_HEAD_PITCH_DEGREES: f32 = -5.0;

type Vec3 = [f32; 3];

fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn normalise(a: Vec3) -> Option<Vec3> {
    let n = (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt();
    (n > 1e-6 && n.is_finite()).then(|| [a[0] / n, a[1] / n, a[2] / n])
}

fn mean(points: &[[f32; 3]], indices: &[usize]) -> Vec3 {
    let mut m = [0.0; 3];
    for &i in indices {
        for (c, v) in m.iter_mut().zip(points[i]) {
            *c += v;
        }
    }
    m.map(|c| c / indices.len() as f32)
}

fn dist2(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Yaw, pitch and roll in degrees (signs as in [`HeadPose`]); `None` for a degenerate mesh.
pub fn head_pose(mesh: &[[f32; 3]]) -> Option<HeadPose> {
    if mesh.len() < MESH_POINTS {
        return None;
    }
    // Across the face, image-left to image-right, from several symmetric pairs for stability.
    let left = mean(
        mesh,
        &[index::CHEEKS.0, index::IMAGE_LEFT_EYE_OUTER, 127, 132],
    );
    let right = mean(
        mesh,
        &[index::CHEEKS.1, index::IMAGE_RIGHT_EYE_OUTER, 356, 361],
    );
    let across = normalise(sub(right, left))?;
    let up_raw = sub(mesh[index::FOREHEAD], mesh[index::CHIN]);
    // Gram-Schmidt: the up axis perpendicular to the across axis.
    let d = up_raw[0] * across[0] + up_raw[1] * across[1] + up_raw[2] * across[2];
    let up = normalise([
        up_raw[0] - d * across[0],
        up_raw[1] - d * across[1],
        up_raw[2] - d * across[2],
    ])?;
    // Out of the face, towards the camera (-z) on a frontal face.
    let forward = cross(across, up);
    // Turning to one's own left moves the nose towards the image's right (+x).
    let yaw = forward[0].atan2(-forward[2]).to_degrees();
    // Raising the head moves the nose up the image (-y).
    let pitch = (-forward[1]).atan2(-forward[2]).to_degrees() - LEVEL_HEAD_PITCH_DEGREES;
    // Tilting towards one's own left shoulder lowers the image-right side of the face.
    let roll = across[1].atan2(across[0]).to_degrees();
    Some(HeadPose { yaw, pitch, roll })
}

/// Inner-lip gap over inner mouth width (0 closed, above 0.5 wide open).
pub fn mouth_openness(mesh: &[[f32; 3]]) -> f32 {
    if mesh.len() < MESH_POINTS {
        return 0.0;
    }
    let width = dist2(mesh[index::MOUTH_CORNERS.0], mesh[index::MOUTH_CORNERS.1]);
    let gap = index::INNER_LIPS
        .iter()
        .map(|&(up, low)| dist2(mesh[up], mesh[low]))
        .sum::<f32>()
        / index::INNER_LIPS.len() as f32;
    if width > 0.0 {
        gap / width
    } else {
        0.0
    }
}

/// Eye openness from the mesh alone, `[person's left, person's right]` (coarse; see `iris`).
pub fn mesh_eye_openness(mesh: &[[f32; 3]]) -> [f32; 2] {
    if mesh.len() < MESH_POINTS {
        return [0.0; 2];
    }
    let ratio = |corners: (usize, usize), lids: &[(usize, usize)]| {
        let width = dist2(mesh[corners.0], mesh[corners.1]);
        let gap = lids
            .iter()
            .map(|&(u, l)| dist2(mesh[u], mesh[l]))
            .sum::<f32>()
            / lids.len() as f32;
        if width > 0.0 {
            gap / width
        } else {
            0.0
        }
    };
    // The person's left eye is on the image's right.
    [
        ratio(
            (index::IMAGE_RIGHT_EYE_INNER, index::IMAGE_RIGHT_EYE_OUTER),
            &index::IMAGE_RIGHT_EYE_LIDS,
        ),
        ratio(
            (index::IMAGE_LEFT_EYE_OUTER, index::IMAGE_LEFT_EYE_INNER),
            &index::IMAGE_LEFT_EYE_LIDS,
        ),
    ]
}
