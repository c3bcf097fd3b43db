//! What the engine reports about one frame: the contract between `models` and `actors`.
//!
//! All coordinates are in pixels of the analysed frame (origin top-left, x right, y down).
//! "Left" and "right" are the person's own left and right (the person's left eye is on the
//! image's right side in an unmirrored camera image).

use serde::{Deserialize, Serialize};

/// An axis-aligned face box with the detector's confidence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    pub score: f32,
}

impl FaceBox {
    pub fn center(&self) -> (f32, f32) {
        (self.x + self.width / 2.0, self.y + self.height / 2.0)
    }

    pub fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }

    /// Intersection over union with another box.
    pub fn iou(&self, other: &FaceBox) -> f32 {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.width).min(other.x + other.width);
        let y1 = (self.y + self.height).min(other.y + other.height);
        let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
}

/// Head orientation in degrees. Yaw > 0: the person turned to their own left;
/// pitch > 0: head raised (looking up); roll > 0: head tilted towards the person's own left shoulder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HeadPose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
}

/// One eye as the iris model sees it on its aligned crop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EyeObservation {
    /// Eye opening: lid gap over eye width (about 0.3–0.4 open, under 0.15 closed).
    pub openness: f32,
    /// Iris centre in frame pixels.
    pub iris_center: [f32; 2],
    /// Iris radius in frame pixels.
    pub iris_radius: f32,
}

/// Light and sharpness measured on the face region, all in 0..=1 unless noted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct FaceQuality {
    /// Mean luma of the face region (0 black, 1 white).
    pub brightness: f32,
    /// Standard deviation of luma in the face region.
    pub contrast: f32,
    /// Background luma minus face luma (positive: face darker than what surrounds it).
    pub backlight: f32,
    /// Sharpness: variance of the Laplacian of the face region's luma, normalised to 0..=1
    /// (higher is sharper).
    pub sharpness: f32,
    /// Share of the face region's pixels that are clipped (near 0 or 255).
    pub clipped: f32,
    /// Face width over frame width.
    pub size_ratio: f32,
    /// Face centre offset from the frame centre, as a fraction of frame width and height (-0.5..0.5).
    pub center_offset: [f32; 2],
    /// How much each part seems covered (0 visible .. 1 covered).
    pub occlusion: Occlusion,
}

/// Occlusion estimate per facial part (0 visible .. 1 covered).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Occlusion {
    pub eyes: f32,
    pub nose: f32,
    pub mouth: f32,
}

/// Everything known about the tracked (main) face in one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceObservation {
    pub face: FaceBox,
    /// The mesh model's face-presence confidence (0..1).
    pub presence: f32,
    /// 468 mesh points, (x, y, z) in frame pixels (z relative, same scale as x).
    #[serde(skip)]
    pub mesh: Vec<[f32; 3]>,
    pub pose: HeadPose,
    /// The person's own left and right eyes; `None` where the eye was not refined this frame.
    pub left_eye: Option<EyeObservation>,
    pub right_eye: Option<EyeObservation>,
    /// Eye openness from the mesh alone (coarse: barely moves on a blink; see the brief).
    pub mesh_eye_openness: [f32; 2],
    /// Inner-lip gap over mouth width (about 0 closed, > 0.5 wide open).
    pub mouth_openness: f32,
    pub quality: FaceQuality,
}

impl FaceObservation {
    /// Eye openness of both eyes: the iris model's where refined, else the mesh's.
    pub fn eye_openness(&self) -> [f32; 2] {
        [
            self.left_eye
                .as_ref()
                .map_or(self.mesh_eye_openness[0], |e| e.openness),
            self.right_eye
                .as_ref()
                .map_or(self.mesh_eye_openness[1], |e| e.openness),
        ]
    }
}

/// The engine's answer for one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameAnalysis {
    /// Capture time of the frame in seconds from the session's start.
    pub t: f64,
    pub frame_width: u32,
    pub frame_height: u32,
    /// Every face found (after non-maximum suppression), largest first. On frames where
    /// detection did not run (tracking), this holds the tracked face only.
    pub faces: Vec<FaceBox>,
    /// Whether the detector ran on this frame (false: the face was tracked from the last one).
    pub detected: bool,
    /// The main face, fully analysed; `None` when there is no face.
    pub main: Option<FaceObservation>,
    /// Engine time spent on this frame, in milliseconds (decode excluded).
    pub engine_ms: f32,
}

/// A face's identity embedding (dlib's ResNet, 128 values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding(pub Vec<f32>);

impl Embedding {
    /// Two embeddings closer than this are the same person (dlib's own threshold, 99.38% on LFW).
    pub const SAME_PERSON_DISTANCE: f32 = 0.6;

    /// Euclidean distance to another embedding.
    pub fn distance(&self, other: &Embedding) -> f32 {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            .sqrt()
    }

    pub fn same_person(&self, other: &Embedding) -> bool {
        self.distance(other) < Self::SAME_PERSON_DISTANCE
    }
}
