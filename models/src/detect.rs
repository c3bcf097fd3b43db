//! BlazeFace face detection (MediaPipe's short- and full-range models) with SSD anchors and
//! weighted non-maximum suppression.

use image::RgbImage;

use crate::crop::{warp_into, PixelRange, RegionOfInterest};
use crate::registry::{ModelFile, ModelRegistry};
use crate::runtime::{expect_square_input, ModelSession, Runtime};
use crate::{EngineError, FaceBox};

/// Faces scoring below this are dropped (MediaPipe's threshold).
const MIN_SCORE: f32 = 0.5;
/// Boxes overlapping more than this are one face.
const MIN_SUPPRESSION_IOU: f32 = 0.3;
/// Raw scores are clipped so the sigmoid cannot overflow.
const RAW_SCORE_LIMIT: f32 = 80.0;
/// Values per anchor: box (cx, cy, w, h) and six keypoints (x, y).
const VALUES_PER_ANCHOR: usize = 16;

/// Which BlazeFace model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectorRange {
    /// 128x128 input, faces within about 2 m (selfie distance).
    Short,
    /// 192x192 input, faces up to about 5 m (small faces, group photos).
    Full,
}

impl DetectorRange {
    fn model(self) -> ModelFile {
        match self {
            DetectorRange::Short => ModelFile::FaceDetectionShortRange,
            DetectorRange::Full => ModelFile::FaceDetectionFullRange,
        }
    }

    fn side(self) -> usize {
        match self {
            DetectorRange::Short => 128,
            DetectorRange::Full => 192,
        }
    }

    /// SSD anchor centres in normalised input coordinates (MediaPipe's SsdAnchorsCalculator,
    /// reduced to what these two graphs use: fixed anchor size, offsets 0.5).
    fn anchors(self) -> Vec<[f32; 2]> {
        let (strides, interpolated): (&[usize], bool) = match self {
            DetectorRange::Short => (&[8, 16, 16, 16], true),
            DetectorRange::Full => (&[4], false),
        };
        let side = self.side();
        let mut anchors = Vec::new();
        let mut layer = 0;
        while layer < strides.len() {
            let mut repeats = 0;
            let mut last = layer;
            while last < strides.len() && strides[last] == strides[layer] {
                last += 1;
                repeats += if interpolated { 2 } else { 1 };
            }
            let cells = side / strides[layer];
            for y in 0..cells {
                let cy = (y as f32 + 0.5) / cells as f32;
                for x in 0..cells {
                    let cx = (x as f32 + 0.5) / cells as f32;
                    anchors.extend(std::iter::repeat_n([cx, cy], repeats));
                }
            }
            layer = last;
        }
        anchors
    }
}

/// One face the detector found, in frame pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The face box and its score.
    pub face: FaceBox,
    /// Six keypoints: eye on the image's left, eye on the image's right, nose tip, mouth centre,
    /// ear (tragion) on the image's left, ear on the image's right.
    pub keypoints: [[f32; 2]; 6],
}

impl Detection {
    /// The rotated square the face mesh runs on: the box scaled 1.5x, squared on its long side,
    /// rotated so the eyes are level (MediaPipe's detection-to-ROI).
    pub fn mesh_region(&self) -> RegionOfInterest {
        let (cx, cy) = self.face.center();
        RegionOfInterest {
            cx,
            cy,
            size: self.face.width.max(self.face.height) * 1.5,
            angle: RegionOfInterest::level_angle(self.keypoints[0], self.keypoints[1]),
        }
    }
}

/// A compiled BlazeFace model with its anchors.
#[derive(Debug)]
pub struct FaceDetector {
    range: DetectorRange,
    session: ModelSession,
    anchors: Vec<[f32; 2]>,
    boxes_output: usize,
    scores_output: usize,
    raw_boxes: Vec<f32>,
    raw_scores: Vec<f32>,
}

impl FaceDetector {
    /// Compiles the detector of `range`.
    pub fn new(
        runtime: &mut Runtime,
        registry: &ModelRegistry,
        range: DetectorRange,
    ) -> Result<FaceDetector, EngineError> {
        let session = runtime.compile(registry, range.model())?;
        expect_square_input(&session, range.side() as i64)?;
        let anchors = range.anchors();
        let boxes_output = session.output_index_by_len(anchors.len() * VALUES_PER_ANCHOR)?;
        let scores_output = session.output_index_by_len(anchors.len())?;
        Ok(FaceDetector {
            range,
            session,
            anchors,
            boxes_output,
            scores_output,
            raw_boxes: Vec::new(),
            raw_scores: Vec::new(),
        })
    }

    /// Which model this is.
    pub fn range(&self) -> DetectorRange {
        self.range
    }

    /// Every face in the frame after weighted non-maximum suppression, largest first.
    pub fn detect(&mut self, frame: &RgbImage) -> Result<Vec<Detection>, EngineError> {
        // Letterbox: the whole frame fits the square input, padded, aspect kept.
        let roi = RegionOfInterest::letterbox(frame.width(), frame.height());
        let side = self.range.side();
        warp_into(
            frame,
            &roi,
            side,
            PixelRange::SIGNED,
            false,
            self.session.input_mut()?,
        );
        self.session.infer()?;
        self.session
            .read_output(self.boxes_output, &mut self.raw_boxes)?;
        self.session
            .read_output(self.scores_output, &mut self.raw_scores)?;
        let candidates = self.decode(side as f32);
        let mut merged = weighted_nms(candidates);
        let mut detections: Vec<Detection> = merged.drain(..).map(|c| to_frame(&c, &roi)).collect();
        detections.sort_by(|a, b| b.face.area().total_cmp(&a.face.area()));
        Ok(detections)
    }

    fn decode(&self, side: f32) -> Vec<Candidate> {
        let mut out = Vec::new();
        for (i, (anchor, raw)) in self.anchors.iter().zip(&self.raw_scores).enumerate() {
            let score = sigmoid(raw.clamp(-RAW_SCORE_LIMIT, RAW_SCORE_LIMIT));
            if score.is_nan() || score < MIN_SCORE {
                continue;
            }
            let Some(r) = self
                .raw_boxes
                .get(i * VALUES_PER_ANCHOR..(i + 1) * VALUES_PER_ANCHOR)
            else {
                break;
            };
            let cx = r[0] / side + anchor[0];
            let cy = r[1] / side + anchor[1];
            let w = r[2] / side;
            let h = r[3] / side;
            if w <= 0.0 || h <= 0.0 {
                continue;
            }
            let mut keypoints = [[0.0; 2]; 6];
            for (k, kp) in keypoints.iter_mut().enumerate() {
                *kp = [
                    r[4 + 2 * k] / side + anchor[0],
                    r[5 + 2 * k] / side + anchor[1],
                ];
            }
            out.push(Candidate {
                bounds: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
                keypoints,
                score,
            });
        }
        out
    }
}

/// A detection in normalised input coordinates, before suppression.
#[derive(Debug, Clone)]
struct Candidate {
    /// xmin, ymin, xmax, ymax.
    bounds: [f32; 4],
    keypoints: [[f32; 2]; 6],
    score: f32,
}

impl Candidate {
    fn iou(&self, other: &Candidate) -> f32 {
        let [ax0, ay0, ax1, ay1] = self.bounds;
        let [bx0, by0, bx1, by1] = other.bounds;
        let iw = (ax1.min(bx1) - ax0.max(bx0)).max(0.0);
        let ih = (ay1.min(by1) - ay0.max(by0)).max(0.0);
        let inter = iw * ih;
        let union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }
}

/// MediaPipe's weighted NMS: each kept face is the score-weighted mean of the boxes and keypoints
/// that overlap it, which steadies the box from frame to frame.
fn weighted_nms(mut candidates: Vec<Candidate>) -> Vec<Candidate> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while let Some(best) = candidates.first().cloned() {
        let (similar, rest): (Vec<Candidate>, Vec<Candidate>) = candidates
            .into_iter()
            .partition(|c| c.iou(&best) > MIN_SUPPRESSION_IOU);
        let total: f32 = similar.iter().map(|c| c.score).sum();
        let mut merged = best.clone();
        if total > 0.0 && !similar.is_empty() {
            merged.bounds = [0.0; 4];
            merged.keypoints = [[0.0; 2]; 6];
            for c in &similar {
                let wgt = c.score / total;
                for (m, v) in merged.bounds.iter_mut().zip(c.bounds) {
                    *m += v * wgt;
                }
                for (m, v) in merged.keypoints.iter_mut().zip(c.keypoints) {
                    m[0] += v[0] * wgt;
                    m[1] += v[1] * wgt;
                }
            }
        }
        out.push(merged);
        if similar.is_empty() {
            // The best box always overlaps itself; this only guards against NaN boxes.
            break;
        }
        candidates = rest;
    }
    out
}

fn to_frame(c: &Candidate, roi: &RegionOfInterest) -> Detection {
    let p0 = roi.to_frame(c.bounds[0], c.bounds[1]);
    let p1 = roi.to_frame(c.bounds[2], c.bounds[3]);
    let mut keypoints = [[0.0; 2]; 6];
    for (k, kp) in keypoints.iter_mut().enumerate() {
        *kp = roi.to_frame(c.keypoints[k][0], c.keypoints[k][1]);
    }
    Detection {
        face: FaceBox {
            x: p0[0],
            y: p0[1],
            width: p1[0] - p0[0],
            height: p1[1] - p0[1],
            score: c.score,
        },
        keypoints,
    }
}

pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_counts_match_the_graphs() {
        assert_eq!(DetectorRange::Short.anchors().len(), 896);
        assert_eq!(DetectorRange::Full.anchors().len(), 2304);
    }

    #[test]
    fn overlapping_boxes_merge_into_one_weighted_face() {
        let c = |x: f32, score| Candidate {
            bounds: [x, 0.0, x + 1.0, 1.0],
            keypoints: [[x, 0.0]; 6],
            score,
        };
        let out = weighted_nms(vec![c(0.0, 0.9), c(0.1, 0.9), c(5.0, 0.6)]);
        assert_eq!(out.len(), 2);
        assert!((out[0].bounds[0] - 0.05).abs() < 1e-5);
    }
}
