//! Light, sharpness, size, centring and occlusion of the main face.
//!
//! Pure pixel statistics, cheap enough for every frame (about 0.1 ms for a 480x640 frame): the
//! face is point-sampled on a grid of at most [`FACE_SAMPLES`] columns across the face width, so
//! the cost does not grow with the camera's resolution and texture is compared at the scale the
//! face models see. Sharpness alone looks at the camera's own pixel scale.

use image::RgbImage;

use crate::{FaceBox, FaceQuality, Occlusion};

/// Samples across the face width; faces wider than this are point-sampled with a larger step.
pub const FACE_SAMPLES: f32 = 64.0;

/// Sharpness is `v / (v + SHARPNESS_HALF)`, where `v` is the variance of the 4-neighbour
/// Laplacian of luma (0..1) over ±1-pixel neighbours at the sampled points of the face oval.
/// A sharp face 130..270 px wide measures v = 5e-3..1.4e-2 (0.87..0.95); the same faces under a
/// Gaussian blur of sigma 2 px measure under 8e-4 (under 0.5), sigma 3 under 3.2e-4 (under 0.3).
pub const SHARPNESS_HALF: f32 = 8e-4;

/// Luma at or below this (any channel's maximum) counts as crushed black.
const CLIP_LOW: u8 = 6;
/// Any channel at or above this counts as blown out.
const CLIP_HIGH: u8 = 250;

/// A point in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Point {
    x: f32,
    y: f32,
}

impl Point {
    fn mid(self, other: Point) -> Point {
        self.lerp(other, 0.5)
    }

    fn lerp(self, other: Point, f: f32) -> Point {
        Point {
            x: self.x + (other.x - self.x) * f,
            y: self.y + (other.y - self.y) * f,
        }
    }

    fn dist(self, other: Point) -> f32 {
        ((self.x - other.x).powi(2) + (self.y - other.y).powi(2)).sqrt()
    }
}

/// The face points the measures need, from the mesh or (without one) from the box.
#[derive(Debug, Clone, Copy)]
struct FacePoints {
    /// Image-left eye (the person's right): outer corner, inner corner, upper lid, lower lid.
    eye_a: [Point; 4],
    /// Image-right eye (the person's left): outer, inner, upper lid, lower lid.
    eye_b: [Point; 4],
    nose_tip: Point,
    /// Mouth corners (image-left, image-right) and inner lips (upper, lower).
    mouth: [Point; 4],
    forehead_top: Point,
    chin: Point,
    /// Face oval's image-left and image-right extremes.
    side_a: Point,
    side_b: Point,
}

/// MediaPipe face-mesh indices of the points in [`FacePoints`].
mod mesh_index {
    pub const EYE_A: [usize; 4] = [33, 133, 159, 145];
    pub const EYE_B: [usize; 4] = [263, 362, 386, 374];
    pub const NOSE_TIP: usize = 4;
    pub const MOUTH: [usize; 4] = [61, 291, 13, 14];
    pub const FOREHEAD_TOP: usize = 10;
    pub const CHIN: usize = 152;
    pub const SIDE_A: usize = 234;
    pub const SIDE_B: usize = 454;
    pub const COUNT: usize = 468;
}

/// Where a frontal face's points sit inside a detector box, as fractions of its width and
/// height (measured on frontal photos); used when no mesh is available.
const BOX_LAYOUT: [(f32, f32); 16] = [
    (0.20, 0.36),
    (0.38, 0.36),
    (0.29, 0.32),
    (0.29, 0.39),
    (0.80, 0.36),
    (0.62, 0.36),
    (0.71, 0.32),
    (0.71, 0.39),
    (0.50, 0.58),
    (0.32, 0.73),
    (0.68, 0.73),
    (0.50, 0.72),
    (0.50, 0.74),
    (0.50, 0.03),
    (0.50, 0.98),
    (0.00, 0.52),
];

impl FacePoints {
    fn from_mesh(mesh: &[[f32; 3]]) -> Option<Self> {
        use mesh_index::*;
        if mesh.len() < COUNT {
            return None;
        }
        let p = |i: usize| Point {
            x: mesh[i][0],
            y: mesh[i][1],
        };
        let points = Self {
            eye_a: EYE_A.map(p),
            eye_b: EYE_B.map(p),
            nose_tip: p(NOSE_TIP),
            mouth: MOUTH.map(p),
            forehead_top: p(FOREHEAD_TOP),
            chin: p(CHIN),
            side_a: p(SIDE_A),
            side_b: p(SIDE_B),
        };
        let finite = mesh
            .iter()
            .take(COUNT)
            .all(|q| q[0].is_finite() && q[1].is_finite());
        finite.then_some(points)
    }

    fn from_box(face: &FaceBox) -> Self {
        let p = |i: usize| Point {
            x: face.x + BOX_LAYOUT[i].0 * face.width,
            y: face.y + BOX_LAYOUT[i].1 * face.height,
        };
        Self {
            eye_a: [p(0), p(1), p(2), p(3)],
            eye_b: [p(4), p(5), p(6), p(7)],
            nose_tip: p(8),
            mouth: [p(9), p(10), p(11), p(12)],
            forehead_top: p(13),
            chin: p(14),
            side_a: p(15),
            side_b: Point {
                x: face.x + face.width,
                y: p(15).y,
            },
        }
    }

    fn eye_centre(eye: &[Point; 4]) -> Point {
        eye[0].mid(eye[1]).mid(eye[2].mid(eye[3]))
    }
}

/// An axis-aligned sampling rectangle in frame pixels.
#[derive(Debug, Clone, Copy)]
struct Region {
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
}

impl Region {
    fn around(c: Point, width: f32, height: f32) -> Self {
        Self {
            x0: c.x - width / 2.0,
            y0: c.y - height / 2.0,
            x1: c.x + width / 2.0,
            y1: c.y + height / 2.0,
        }
    }
}

/// Luma and chroma of a pixel, all in 0..1 (BT.601).
fn ycc(p: &image::Rgb<u8>) -> (f32, f32, f32) {
    let [r, g, b] = p.0.map(|v| f32::from(v) / 255.0);
    (
        0.299 * r + 0.587 * g + 0.114 * b,
        0.5 - 0.168_736 * r - 0.331_264 * g + 0.5 * b,
        0.5 + 0.5 * r - 0.418_688 * g - 0.081_312 * b,
    )
}

/// BT.601 luma in 0..1 with integer weights (the hot loop's version of [`ycc`]).
fn fast_luma(p: &image::Rgb<u8>) -> f32 {
    let [r, g, b] = p.0.map(u32::from);
    (77 * r + 150 * g + 29 * b) as f32 * (1.0 / (256.0 * 255.0))
}

/// Luma point-sampled every `step` pixels over a rectangle of the frame; neighbouring cells
/// are `step` pixels apart, so the Laplacian is taken at the sampling scale.
struct LumaGrid {
    x0: f32,
    y0: f32,
    step: u32,
    cols: usize,
    rows: usize,
    luma: Vec<f32>,
}

impl LumaGrid {
    fn new(frame: &RgbImage, region: Region, step: u32) -> Self {
        let (w, h) = frame.dimensions();
        let x0 = region.x0.max(0.0).floor() as u32;
        let y0 = region.y0.max(0.0).floor() as u32;
        let x1 = (region.x1.ceil().max(0.0) as u32).min(w.saturating_sub(1));
        let y1 = (region.y1.ceil().max(0.0) as u32).min(h.saturating_sub(1));
        let cols = if x1 >= x0 {
            ((x1 - x0) / step + 1) as usize
        } else {
            0
        };
        let rows = if y1 >= y0 {
            ((y1 - y0) / step + 1) as usize
        } else {
            0
        };
        let mut luma = Vec::with_capacity(cols * rows);
        for r in 0..rows {
            let y = y0 + r as u32 * step;
            for c in 0..cols {
                luma.push(fast_luma(frame.get_pixel(x0 + c as u32 * step, y)));
            }
        }
        Self {
            x0: x0 as f32,
            y0: y0 as f32,
            step,
            cols,
            rows,
            luma,
        }
    }

    fn at(&self, c: usize, r: usize) -> f32 {
        self.luma[r * self.cols + c]
    }

    /// Frame pixel of a cell.
    fn pixel(&self, c: usize, r: usize) -> (u32, u32) {
        (
            self.x0 as u32 + c as u32 * self.step,
            self.y0 as u32 + r as u32 * self.step,
        )
    }

    /// The 4-neighbour Laplacian at an interior cell.
    fn laplacian(&self, c: usize, r: usize) -> Option<f32> {
        (c > 0 && r > 0 && c + 1 < self.cols && r + 1 < self.rows).then(|| {
            self.at(c - 1, r) + self.at(c + 1, r) + self.at(c, r - 1) + self.at(c, r + 1)
                - 4.0 * self.at(c, r)
        })
    }

    /// The cells inside `region` (inclusive ranges; empty when it misses the grid).
    fn cells(&self, region: Region) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let step = self.step as f32;
        let span = |lo: f32, hi: f32, origin: f32, n: usize| {
            let a = ((lo - origin) / step).ceil().max(0.0) as usize;
            let b = (((hi - origin) / step).floor().max(-1.0) + 1.0) as usize;
            a.min(n)..b.min(n)
        };
        (
            span(region.x0, region.x1, self.x0, self.cols),
            span(region.y0, region.y1, self.y0, self.rows),
        )
    }
}

/// Colour and texture statistics of one region, robust to a cover's edge crossing it.
#[derive(Debug, Clone, Copy, Default)]
struct PatchStats {
    samples: u32,
    luma: f32,
    /// Interquartile range of luma.
    spread: f32,
    cb: f32,
    cr: f32,
    /// 60th percentile of the absolute Laplacian of luma at the sampling step, over
    /// (mean luma + 0.1): texture that does not change when the light dims, and that a few
    /// strong edges (a hand's outline) do not move.
    detail: f32,
}

impl PatchStats {
    /// Redness relative to brightness: chroma shrinks with luma, so a darker frame keeps it.
    fn redness(&self) -> f32 {
        (self.cr - 0.5) / (self.luma + 0.05)
    }

    /// Chroma relative to brightness, for comparing colours under different light.
    fn chroma(&self) -> (f32, f32) {
        ((self.cb - 0.5) / (self.luma + 0.05), self.redness())
    }
}

/// The `q` quantile of `values` (reorders them).
fn quantile(values: &mut [f32], q: f32) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let k = ((values.len() - 1) as f32 * q).round() as usize;
    *values.select_nth_unstable_by(k, f32::total_cmp).1
}

/// Statistics of the grid cells inside `region`.
fn patch(frame: &RgbImage, grid: &LumaGrid, region: Region) -> PatchStats {
    let (cols, rows) = grid.cells(region);
    let (mut scb, mut scr) = (0f32, 0f32);
    let mut lumas = Vec::with_capacity(cols.len() * rows.len());
    let mut laps = Vec::with_capacity(cols.len() * rows.len());
    for r in rows {
        for c in cols.clone() {
            let (x, y) = grid.pixel(c, r);
            let (l, cb, cr) = ycc(frame.get_pixel(x, y));
            lumas.push(l);
            scb += cb;
            scr += cr;
            if let Some(lap) = grid.laplacian(c, r) {
                laps.push(lap.abs());
            }
        }
    }
    if lumas.is_empty() {
        return PatchStats::default();
    }
    let nf = lumas.len() as f32;
    let luma = lumas.iter().sum::<f32>() / nf;
    PatchStats {
        samples: lumas.len() as u32,
        luma,
        spread: quantile(&mut lumas, 0.75) - quantile(&mut lumas, 0.25),
        cb: scb / nf,
        cr: scr / nf,
        detail: quantile(&mut laps, 0.6) / (luma + 0.1),
    }
}

/// Typical YCbCr chroma of skin across skin tones (centre of the classic skin cluster).
const SKIN_CB: f32 = 102.0 / 255.0;
const SKIN_CR: f32 = 153.0 / 255.0;

/// Map `v` linearly from `lo` (0) to `hi` (1), clamped.
fn ramp(v: f32, lo: f32, hi: f32) -> f32 {
    ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
}

/// Measure the face region of `frame` described by its box and 468-point mesh.
///
/// Without a full mesh (fewer than 468 points) the face points are placed from the box as on a
/// frontal face. A face box outside the frame gives the default (all zero) quality.
///
/// Occlusion compares each part with what a visible part looks like, relative to the face's own
/// skin (the most skin-coloured of both cheeks and the forehead):
/// - eyes: a visible eye is a textured, high-contrast spot (iris, sclera, lashes). A hand, a
///   patch, a mask or dark sunglasses make it flat. Closed eyes read as partly covered (lashes
///   keep some texture), and clear glasses do not count.
/// - nose: covered when its colour is far from the skin's (a mask, a dark patch) or it is flat;
///   a skin-coloured cover with the nose's own shading (a hand) is not seen.
/// - mouth: visible lips are redder than skin or textured (teeth, lip line); a skin-coloured
///   or dark flat cover is neither.
///
/// Scores are uncalibrated evidence (0 visible .. 1 covered), meant for thresholds around 0.5
/// held over several frames, not for a single-frame decision.
pub fn measure(frame: &RgbImage, face: &FaceBox, mesh: &[[f32; 3]]) -> FaceQuality {
    let (fw, fh) = frame.dimensions();
    if fw == 0
        || fh == 0
        || !(face.width > 1.0 && face.height > 1.0)
        || face.x >= fw as f32
        || face.y >= fh as f32
        || face.x + face.width <= 0.0
        || face.y + face.height <= 0.0
    {
        return FaceQuality::default();
    }
    let pts = FacePoints::from_mesh(mesh).unwrap_or_else(|| FacePoints::from_box(face));
    let step = ((face.width / FACE_SAMPLES).ceil() as u32).max(1);

    let (cx, cy) = face.center();
    let size_ratio = face.width / fw as f32;
    let center_offset = [
        ((cx - fw as f32 / 2.0) / fw as f32).clamp(-0.5, 0.5),
        ((cy - fh as f32 / 2.0) / fh as f32).clamp(-0.5, 0.5),
    ];

    // One grid over the face and a margin holds every region the measures read.
    let grid = LumaGrid::new(
        frame,
        Region::around(Point { x: cx, y: cy }, face.width * 1.3, face.height * 1.3),
        step,
    );
    let light = face_light(frame, &grid, &pts);
    let backlight = background_luma(frame, face).map_or(0.0, |bg| bg - light.brightness);

    FaceQuality {
        brightness: light.brightness,
        contrast: light.contrast,
        backlight,
        sharpness: light.sharpness,
        clipped: light.clipped,
        size_ratio,
        center_offset,
        occlusion: occlusion(frame, &grid, &pts, &light),
    }
}

/// Light measured inside the face oval.
struct FaceLight {
    brightness: f32,
    contrast: f32,
    sharpness: f32,
    clipped: f32,
    /// The face's typical texture, in [`PatchStats::detail`]'s units.
    detail: f32,
}

/// Brightness, contrast, clipping and Laplacian sharpness inside the face oval (an ellipse
/// through the forehead top, the chin and both sides, shrunk to stay on skin).
fn face_light(frame: &RgbImage, grid: &LumaGrid, pts: &FacePoints) -> FaceLight {
    let centre = pts
        .side_a
        .mid(pts.side_b)
        .mid(pts.forehead_top.mid(pts.chin));
    let rx = (pts.side_a.dist(pts.side_b) / 2.0 * 0.85).max(1.0);
    let ry = (pts.forehead_top.dist(pts.chin) / 2.0 * 0.9).max(1.0);
    let (cols, rows) = grid.cells(Region::around(centre, 2.0 * rx, 2.0 * ry));
    let (mut n, mut sy, mut syy, mut clipped) = (0u32, 0f64, 0f64, 0u32);
    let (mut nl, mut sl, mut sll) = (0u32, 0f64, 0f64);
    let mut abs_laps = Vec::with_capacity(cols.len() * rows.len());
    for r in rows {
        let (_, y) = grid.pixel(0, r);
        let dy = (y as f32 - centre.y) / ry;
        for c in cols.clone() {
            let (x, _) = grid.pixel(c, r);
            let dx = (x as f32 - centre.x) / rx;
            if dx * dx + dy * dy > 1.0 {
                continue;
            }
            let l = grid.at(c, r);
            n += 1;
            sy += f64::from(l);
            syy += f64::from(l * l);
            let max = frame.get_pixel(x, y).0.iter().copied().max().unwrap_or(0);
            if max <= CLIP_LOW || max >= CLIP_HIGH {
                clipped += 1;
            }
            if let Some(lap) = grid.laplacian(c, r) {
                abs_laps.push(lap.abs());
            }
            // Focus and motion blur are judged at the camera's own pixel scale.
            if x > 0 && y > 0 && x + 1 < frame.width() && y + 1 < frame.height() {
                let lap = fast_luma(frame.get_pixel(x - 1, y))
                    + fast_luma(frame.get_pixel(x + 1, y))
                    + fast_luma(frame.get_pixel(x, y - 1))
                    + fast_luma(frame.get_pixel(x, y + 1))
                    - 4.0 * l;
                nl += 1;
                sl += f64::from(lap);
                sll += f64::from(lap * lap);
            }
        }
    }
    if n == 0 {
        return FaceLight {
            brightness: 0.0,
            contrast: 0.0,
            sharpness: 0.0,
            clipped: 0.0,
            detail: 0.0,
        };
    }
    let nf = f64::from(n);
    let mean = sy / nf;
    let nl = f64::from(nl);
    let lap_var = if nl == 0.0 {
        0.0
    } else {
        let m = sl / nl;
        (sll / nl - m * m).max(0.0)
    } as f32;
    FaceLight {
        brightness: mean as f32,
        contrast: (syy / nf - mean * mean).max(0.0).sqrt() as f32,
        sharpness: lap_var / (lap_var + SHARPNESS_HALF),
        clipped: clipped as f32 / n as f32,
        detail: quantile(&mut abs_laps, 0.6) / (mean as f32 + 0.1),
    }
}

/// Mean luma of what surrounds the face: bands beside and above the box (not below, which is
/// the person's neck and clothes). `None` when the face fills the frame.
fn background_luma(frame: &RgbImage, face: &FaceBox) -> Option<f32> {
    let (w, h) = frame.dimensions();
    let margin_x = face.width * 0.5;
    let margin_y = face.height * 0.35;
    let bands = [
        // image-left of the face, down to its chin
        Region {
            x0: face.x - margin_x,
            y0: face.y - margin_y,
            x1: face.x - face.width * 0.08,
            y1: face.y + face.height,
        },
        // image-right
        Region {
            x0: face.x + face.width * 1.08,
            y0: face.y - margin_y,
            x1: face.x + face.width + margin_x,
            y1: face.y + face.height,
        },
        // above the head (hair is part of it, as it is of the surround a camera meters)
        Region {
            x0: face.x,
            y0: face.y - margin_y,
            x1: face.x + face.width,
            y1: face.y - face.height * 0.08,
        },
    ];
    // A mean needs few samples: about 24 across the face width.
    let step = ((face.width / 24.0).ceil() as u32).max(2) as usize;
    let (mut sum, mut n) = (0f32, 0u32);
    for band in bands {
        let x0 = band.x0.max(0.0).ceil() as u32;
        let y0 = band.y0.max(0.0).ceil() as u32;
        let x1 = band.x1.min(w as f32 - 1.0).floor();
        let y1 = band.y1.min(h as f32 - 1.0).floor();
        if x1 < x0 as f32 || y1 < y0 as f32 {
            continue;
        }
        for y in (y0..=y1 as u32).step_by(step) {
            for x in (x0..=x1 as u32).step_by(step) {
                sum += fast_luma(frame.get_pixel(x, y));
                n += 1;
            }
        }
    }
    (n > 0).then(|| sum / n as f32)
}

/// Occlusion evidence per part; see [`measure`].
fn occlusion(frame: &RgbImage, grid: &LumaGrid, pts: &FacePoints, light: &FaceLight) -> Occlusion {
    let eye_c = [
        FacePoints::eye_centre(&pts.eye_a),
        FacePoints::eye_centre(&pts.eye_b),
    ];
    let eye_w = [
        pts.eye_a[0].dist(pts.eye_a[1]),
        pts.eye_b[0].dist(pts.eye_b[1]),
    ];
    let interocular = eye_c[0].dist(eye_c[1]).max(4.0);

    // Skin references: both cheeks (below the eyes, level between nose tip and eyes) and the
    // forehead (above the brows).
    let cheek_size = interocular * 0.3;
    let eyes_mid = eye_c[0].mid(eye_c[1]);
    let skin_patches = [
        Region::around(
            Point {
                x: eye_c[0].x,
                y: eye_c[0].y + (pts.nose_tip.y - eyes_mid.y) * 0.8,
            },
            cheek_size,
            cheek_size,
        ),
        Region::around(
            Point {
                x: eye_c[1].x,
                y: eye_c[1].y + (pts.nose_tip.y - eyes_mid.y) * 0.8,
            },
            cheek_size,
            cheek_size,
        ),
        Region::around(
            eyes_mid.lerp(pts.forehead_top, 0.55),
            interocular * 0.5,
            interocular * 0.2,
        ),
    ];
    let skin_stats = skin_patches.map(|r| patch(frame, grid, r));
    let skin = skin_stats
        .iter()
        .filter(|p| p.samples > 0)
        .min_by(|a, b| {
            let d = |p: &PatchStats| (p.cb - SKIN_CB).hypot(p.cr - SKIN_CR);
            d(a).total_cmp(&d(b))
        })
        .copied()
        .unwrap_or_default();
    // Lips are redder than the reddest skin, which is on the cheeks.
    let cheek_redness = skin_stats[..2]
        .iter()
        .filter(|p| p.samples > 0)
        .map(PatchStats::redness)
        .fold(skin.redness(), f32::max);
    let chroma_gap = |p: &PatchStats| {
        let (a, b) = (p.chroma(), skin.chroma());
        (a.0 - b.0).hypot(a.1 - b.1)
    };
    // Texture relative to the whole face's, so blur and noise move parts and face alike.
    let rel = |p: &PatchStats| p.detail / light.detail.max(1e-4);
    let rel_spread = |p: &PatchStats| p.spread / light.contrast.max(1e-3);

    // Thresholds below are from real photos: a visible eye has 0.5..6 times the face's texture
    // (2.5..4.5 on a well-placed frontal face) and 0.3..1.9 of its luma spread; a visible nose
    // 0.6..0.9 of its texture; a visible mouth 1.2..2.7 (teeth, lip line). Flat covers read
    // near 0, a hand's skin near 1 (so a hand over the eyes reads only about 0.4).
    let eyes = (0..2)
        .map(|i| {
            let width = eye_w[i].max(interocular * 0.35) * 1.3;
            let p = patch(frame, grid, Region::around(eye_c[i], width, width * 0.5));
            let flat = 1.0 - ramp(rel(&p), 0.4, 1.2);
            let even = 1.0 - ramp(rel_spread(&p), 0.15, 0.5);
            (flat + even) / 2.0
        })
        .fold(0.0f32, f32::max);

    let nose = {
        let size = interocular * 0.45;
        let p = patch(frame, grid, Region::around(pts.nose_tip, size, size));
        let off_skin = ramp(chroma_gap(&p), 0.06, 0.12);
        let flat = 1.0 - ramp(rel(&p), 0.15, 0.4);
        off_skin.max(flat)
    };

    let mouth = {
        let [a, b, upper, lower] = pts.mouth;
        let width = a.dist(b).max(interocular * 0.6) * 1.1;
        let height = upper.dist(lower) + width * 0.35;
        let p = patch(frame, grid, Region::around(upper.mid(lower), width, height));
        let redder = ramp(p.redness() - cheek_redness, 0.02, 0.06);
        let textured = ramp(rel(&p), 0.6, 1.1).min(ramp(rel_spread(&p), 0.35, 0.8));
        1.0 - redder.max(textured)
    };
    // A mostly clipped face shows nothing to judge: "too bright" or "too dark" comes first.
    let trust = 1.0 - ramp(light.clipped, 0.3, 0.8);
    Occlusion {
        eyes: eyes * trust,
        nose: nose * trust,
        mouth: mouth * trust,
    }
}
