//! The colour-flash simulator: real clips lit by a flash sequence, for tests and the battery.
//!
//! Chromium's fake camera cannot react to the screen and the media clips were not lit by our
//! colours, so sessions are staged: a real live clip's frames, with the reflection of a given
//! sequence added the way a phone's screen lights a face at 20–30 cm. The mesh gives each point
//! of the face a normal (a plane fitted to its neighbours) and a depth: the added light is the
//! skin's own colour filtered by the screen's colour, times `cos θ` toward the screen and the
//! inverse square of the distance (brighter and more tinted where the face faces the screen,
//! falling off at the sides), and only a small share of it reaches the background. The camera
//! sees it 1–2 frames late, and every pixel gets sensor noise.
//!
//! The attacks ([`Staging`]): the same clip lit by ANOTHER sequence (a recorded session replayed
//! or injected), a flat photo (a still warped as a plane in 3D) lit uniformly (a screen or paper
//! held to the phone), no reaction at all (a screen replay whose own light dominates), and very
//! bright ambient light (the screen's reflection drowned).
//!
//! [`PageFlash`] plays the page's side frame by frame for a session that is running (the
//! attack battery's colour sessions: the flash starts when the session asks for it);
//! [`stage`] does the same on a whole clip whose flash start is known.
//!
//! These are simulated reflections on real faces, not measurements on phones: see
//! `docs/attacks.md` for what a field check must measure.

use image::{Rgb, RgbImage};

use super::{linear, FlashColour, FlashStep};
use crate::{FaceBox, FaceObservation};

/// A hash of a pixel's position and a seed: grain and noise for staged frames that is the same
/// on every run and needs no random source.
pub fn hash3(x: u32, y: u32, seed: u32) -> u32 {
    let mut h = x
        .wrapping_mul(0x9E37_79B1)
        .wrapping_add(y.wrapping_mul(0x85EB_CA77))
        .wrapping_add(seed.wrapping_mul(0xC2B2_AE3D));
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    h
}

/// A small deterministic random source (SplitMix64): staged data must be reproducible.
#[derive(Debug, Clone)]
pub struct SimRng(u64);

impl SimRng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Roughly normal with mean 0 and standard deviation 1 (the sum of four 16-bit uniforms
    /// from one draw: cheap enough for every pixel).
    pub fn normal(&mut self) -> f32 {
        let r = self.next_u64();
        let sum: u64 = (0..4).map(|i| (r >> (16 * i)) & 0xFFFF).sum();
        (sum as f32 / 65_536.0 - 2.0) * 1.732
    }

    /// A random sequence like the server draws: `n` steps of `min_ms..=max_ms`, no colour twice
    /// in a row.
    pub fn sequence(&mut self, n: usize, min_ms: u32, max_ms: u32) -> Vec<FlashStep> {
        let mut out: Vec<FlashStep> = Vec::with_capacity(n);
        for _ in 0..n {
            let colour = loop {
                let c = (self.next_u64() % super::PALETTE.len() as u64) as u8;
                if out.last().is_none_or(|s| s.colour != c) {
                    break c;
                }
            };
            let span = u64::from(max_ms.saturating_sub(min_ms)) + 1;
            let ms = min_ms + (self.next_u64() % span) as u32;
            out.push(FlashStep { colour, ms });
        }
        out
    }
}

/// The tag the page puts on a frame captured `t` seconds in, when the flash starts at `lead_s`:
/// 0 before and after, `i + 1` during step `i`.
pub fn tag_at(t: f64, lead_s: f64, steps: &[FlashStep]) -> u8 {
    let mut at = lead_s;
    if t < at {
        return 0;
    }
    for (i, s) in steps.iter().enumerate() {
        at += f64::from(s.ms) / 1000.0;
        if t < at {
            return u8::try_from(i + 1).unwrap_or(u8::MAX);
        }
    }
    0
}

/// How a staged frame is lit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lighting {
    /// Light the screen adds, relative to the ambient light, where the surface faces it
    /// squarely (a phone at 20–30 cm indoors: 0.12–0.3; direct sun: about 0.01).
    pub strength: f32,
    /// Share of that light reaching the background (a room a metre or more behind: 0.02–0.08).
    pub background: f32,
    /// Frames by which the camera lags the screen.
    pub lag_frames: usize,
    /// Sensor noise, standard deviation in sRGB levels.
    pub noise: f32,
    /// Multiplies the ambient light first (above 1: an overexposed, sunlit scene).
    pub exposure: f32,
}

impl Lighting {
    /// A live face at 20–30 cm indoors, drawn at random.
    pub fn live(rng: &mut SimRng) -> Self {
        Self {
            strength: rng.range(0.12, 0.3),
            background: rng.range(0.02, 0.08),
            lag_frames: 1 + (rng.next_u64() % 2) as usize,
            noise: rng.range(1.0, 2.5),
            exposure: 1.0,
        }
    }
}

/// What surface the screen's light falls on.
#[derive(Debug, Clone, Copy)]
pub enum Surface<'a> {
    /// A real head: shaded by the mesh's normals and depth.
    Face(&'a FaceObservation),
    /// A sheet (paper, a screen) filling the view: lit the same everywhere, but for a gentle
    /// gradient across it.
    Flat,
}

/// Linear light to sRGB, through a table (4096 steps).
fn encode(v: f32) -> u8 {
    static LUT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let lut = LUT.get_or_init(|| {
        (0..4096)
            .map(|i| super::to_srgb(i as f32 / 4095.0))
            .collect()
    });
    lut[(v.clamp(0.0, 1.0) * 4095.0).round() as usize]
}

/// Per-point light the screen gives a face: `cos θ` toward the screen times the inverse square
/// of the distance, from the mesh.
fn mesh_irradiance(face: &FaceObservation) -> Vec<f32> {
    let fw = face.face.width.max(1.0);
    let pts = &face.mesh;
    let z_min = pts.iter().map(|p| p[2]).fold(f32::INFINITY, f32::min);
    // The screen is about 1.7 face widths (25 cm) in front of the nearest point.
    const D0: f32 = 1.7;
    pts.iter()
        .map(|&p| {
            // Normal: the smallest principal axis of the 10 nearest points.
            let mut near: Vec<(f32, [f32; 3])> = pts
                .iter()
                .map(|q| {
                    let d = (q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2) + (q[2] - p[2]).powi(2);
                    (d, *q)
                })
                .collect();
            near.sort_by(|a, b| a.0.total_cmp(&b.0));
            let near: Vec<[f32; 3]> = near.iter().take(10).map(|n| n.1).collect();
            let n = plane_normal(&near);
            let cos = n[2].abs().clamp(0.0, 1.0);
            let depth = (p[2] - z_min) / fw;
            cos * (D0 / (D0 + depth)).powi(2)
        })
        .collect()
}

/// The normal of the plane best fitting `pts` (power iteration on the inverse is overkill:
/// the cross product of the two largest axes of the covariance does it).
fn plane_normal(pts: &[[f32; 3]]) -> [f32; 3] {
    let n = pts.len().max(1) as f32;
    let mut c = [0.0f32; 3];
    for p in pts {
        for k in 0..3 {
            c[k] += p[k] / n;
        }
    }
    let mut cov = [[0.0f32; 3]; 3];
    for p in pts {
        let d = [p[0] - c[0], p[1] - c[1], p[2] - c[2]];
        for i in 0..3 {
            for j in 0..3 {
                cov[i][j] += d[i] * d[j];
            }
        }
    }
    // Largest axis by power iteration, then the second in its orthogonal complement.
    let power = |cov: &[[f32; 3]; 3], start: [f32; 3], against: Option<[f32; 3]>| {
        let mut v = start;
        for _ in 0..30 {
            let mut w = [0.0f32; 3];
            for i in 0..3 {
                for j in 0..3 {
                    w[i] += cov[i][j] * v[j];
                }
            }
            if let Some(a) = against {
                let d = w[0] * a[0] + w[1] * a[1] + w[2] * a[2];
                for k in 0..3 {
                    w[k] -= d * a[k];
                }
            }
            let norm = (w[0] * w[0] + w[1] * w[1] + w[2] * w[2]).sqrt();
            if norm < 1e-12 {
                break;
            }
            v = [w[0] / norm, w[1] / norm, w[2] / norm];
        }
        v
    };
    let a = power(&cov, [1.0, 0.3, 0.1], None);
    let b = power(&cov, [0.2, 1.0, 0.1], Some(a));
    let n = [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ];
    let norm = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt().max(1e-9);
    [n[0] / norm, n[1] / norm, n[2] / norm]
}

/// A coarse map of how much of the screen's light each part of the frame gets (0..=1).
struct LightMap {
    cell: f32,
    cols: usize,
    rows: usize,
    value: Vec<f32>,
}

impl LightMap {
    fn face(width: u32, height: u32, face: &FaceObservation, background: f32) -> Self {
        let fw = face.face.width.max(8.0);
        let cell = (fw / 16.0).max(2.0);
        let cols = (width as f32 / cell).ceil() as usize + 1;
        let rows = (height as f32 / cell).ceil() as usize + 1;
        let irr = mesh_irradiance(face);
        let sigma = fw / 14.0;
        let reach = (3.0 * sigma / cell).ceil() as isize;
        let mut wsum = vec![0.0f32; cols * rows];
        let mut vsum = vec![0.0f32; cols * rows];
        for (p, &v) in face.mesh.iter().zip(&irr) {
            let (cx, cy) = ((p[0] / cell) as isize, (p[1] / cell) as isize);
            for dy in -reach..=reach {
                for dx in -reach..=reach {
                    let (x, y) = (cx + dx, cy + dy);
                    if x < 0 || y < 0 || x as usize >= cols || y as usize >= rows {
                        continue;
                    }
                    let (gx, gy) = (x as f32 * cell, y as f32 * cell);
                    let d2 = (gx - p[0]).powi(2) + (gy - p[1]).powi(2);
                    let w = (-d2 / (2.0 * sigma * sigma)).exp();
                    let i = y as usize * cols + x as usize;
                    wsum[i] += w;
                    vsum[i] += w * v;
                }
            }
        }
        // Inside the mesh the weights pile up; at its edge they thin out: that is the face's
        // outline, past which only the background's share arrives.
        let mut at_points: Vec<f32> = face
            .mesh
            .iter()
            .filter_map(|p| {
                let (x, y) = ((p[0] / cell).round(), (p[1] / cell).round());
                (x >= 0.0 && y >= 0.0 && (x as usize) < cols && (y as usize) < rows)
                    .then(|| wsum[y as usize * cols + x as usize])
            })
            .collect();
        at_points.sort_by(f32::total_cmp);
        let dense = at_points
            .get(at_points.len() / 2)
            .copied()
            .unwrap_or(1.0)
            .max(1e-6);
        let value = wsum
            .iter()
            .zip(&vsum)
            .map(|(&w, &v)| {
                let cover = (w / (0.35 * dense)).clamp(0.0, 1.0);
                let on_face = if w > 0.0 { v / w } else { 0.0 };
                cover * on_face + (1.0 - cover) * background
            })
            .collect();
        Self {
            cell,
            cols,
            rows,
            value,
        }
    }

    fn flat(width: u32, height: u32) -> Self {
        let cell = (width.max(height) as f32 / 32.0).max(2.0);
        let cols = (width as f32 / cell).ceil() as usize + 1;
        let rows = (height as f32 / cell).ceil() as usize + 1;
        let value = (0..rows * cols)
            .map(|i| 0.97 + 0.06 * (i % cols) as f32 / cols as f32)
            .collect();
        Self {
            cell,
            cols,
            rows,
            value,
        }
    }

    fn at(&self, x: u32, y: u32) -> f32 {
        let fx = x as f32 / self.cell;
        let fy = y as f32 / self.cell;
        let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
        let (x0, y0) = (x0.min(self.cols - 1), y0.min(self.rows - 1));
        let (x1, y1) = ((x0 + 1).min(self.cols - 1), (y0 + 1).min(self.rows - 1));
        let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
        let v = |x: usize, y: usize| self.value[y * self.cols + x];
        let top = v(x0, y0) * (1.0 - ax) + v(x1, y0) * ax;
        let bottom = v(x0, y1) * (1.0 - ax) + v(x1, y1) * ax;
        top * (1.0 - ay) + bottom * ay
    }
}

/// `frame` as the camera sees it while `colour` (or nothing) lights `surface`.
pub fn light_frame(
    frame: &RgbImage,
    surface: Surface<'_>,
    colour: Option<FlashColour>,
    lighting: &Lighting,
    rng: &mut SimRng,
) -> RgbImage {
    let (w, h) = frame.dimensions();
    let map = match (colour, surface) {
        (None, _) => None,
        (Some(_), Surface::Face(face)) => Some(LightMap::face(w, h, face, lighting.background)),
        (Some(_), Surface::Flat) => Some(LightMap::flat(w, h)),
    };
    let add = colour.map_or([0.0; 3], |c| c.rgb.map(linear));
    let mut out = RgbImage::new(w, h);
    for (x, y, p) in frame.enumerate_pixels() {
        let k = map.as_ref().map_or(0.0, |m| m.at(x, y)) * lighting.strength;
        let px: [u8; 3] = std::array::from_fn(|c| {
            let base = linear(p.0[c]) * lighting.exposure;
            let lit = base * (1.0 + k * add[c]);
            let v = f32::from(encode(lit)) + lighting.noise * rng.normal();
            v.round().clamp(0.0, 255.0) as u8
        });
        out.put_pixel(x, y, Rgb(px));
    }
    out
}

/// A plane tilting in 3D, as a photo held and moved: the homography at `t` seconds.
pub fn held_photo_homography(t: f64, width: u32, height: u32) -> [[f64; 3]; 3] {
    let (cx, cy) = (f64::from(width) / 2.0, f64::from(height) / 2.0);
    // Small tilts about both axes (perspective terms), a slow sway and a breath of scale.
    let px = 0.00025 * (t * 1.3).sin();
    let py = 0.0002 * (t * 0.9).cos();
    let s = 1.0 + 0.03 * (t * 0.7).sin();
    let (tx, ty) = (6.0 * (t * 1.1).sin(), 4.0 * (t * 0.8).cos());
    // Translate to the centre, tilt and scale, translate back.
    let a = [[s, 0.0, tx], [0.0, s, ty], [px, py, 1.0]];
    let to = [[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]];
    let back = [[1.0, 0.0, cx], [0.0, 1.0, cy], [0.0, 0.0, 1.0]];
    mul(&back, &mul(&a, &to))
}

fn mul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut m = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

fn apply(h: &[[f64; 3]; 3], x: f64, y: f64) -> (f64, f64) {
    let w = h[2][0] * x + h[2][1] * y + h[2][2];
    (
        (h[0][0] * x + h[0][1] * y + h[0][2]) / w,
        (h[1][0] * x + h[1][1] * y + h[1][2]) / w,
    )
}

fn invert(m: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if det.abs() < 1e-12 {
        return None;
    }
    let c =
        |r0: usize, r1: usize, c0: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    Some([
        [
            c(1, 2, 1, 2) / det,
            -c(0, 2, 1, 2) / det,
            c(0, 1, 1, 2) / det,
        ],
        [
            -c(1, 2, 0, 2) / det,
            c(0, 2, 0, 2) / det,
            -c(0, 1, 0, 2) / det,
        ],
        [
            c(1, 2, 0, 1) / det,
            -c(0, 2, 0, 1) / det,
            c(0, 1, 0, 1) / det,
        ],
    ])
}

/// A still photo warped by `h` (a plane seen from a moving phone), with its face's mesh and box
/// moved the same way; pixels outside the photo are a grey table.
pub fn warp_still(
    still: &RgbImage,
    face: &FaceObservation,
    h: &[[f64; 3]; 3],
) -> (RgbImage, FaceObservation) {
    let (w, hgt) = still.dimensions();
    let inv = invert(h).unwrap_or([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
    let mut out = RgbImage::from_pixel(w, hgt, Rgb([96, 96, 96]));
    for (x, y, px) in out.enumerate_pixels_mut() {
        let (sx, sy) = apply(&inv, f64::from(x) + 0.5, f64::from(y) + 0.5);
        if sx >= 0.0 && sy >= 0.0 && sx < f64::from(w) && sy < f64::from(hgt) {
            *px = *still.get_pixel(sx as u32, sy as u32);
        }
    }
    let mut moved = face.clone();
    for p in moved.mesh.iter_mut() {
        let (x, y) = apply(h, f64::from(p[0]), f64::from(p[1]));
        // A plane has no depth of its own: the mesh's z is the model's guess, flattened.
        *p = [x as f32, y as f32, 0.0];
    }
    let b = face.face;
    let (x0, y0) = apply(h, f64::from(b.x), f64::from(b.y));
    let (x1, y1) = apply(h, f64::from(b.x + b.width), f64::from(b.y + b.height));
    moved.face = FaceBox {
        x: x0 as f32,
        y: y0 as f32,
        width: (x1 - x0) as f32,
        height: (y1 - y0) as f32,
        score: b.score,
    };
    (out, moved)
}

/// The exposure that brings the face's mean sRGB brightness to `target` (0..1).
fn exposure_for(image: &RgbImage, face: &FaceObservation, target: f32) -> f32 {
    let b = face.face;
    let (w, h) = image.dimensions();
    let mut sum = 0.0f32;
    let mut n = 0u32;
    let (x0, y0) = (
        (b.x + 0.25 * b.width).max(0.0) as u32,
        (b.y + 0.3 * b.height).max(0.0) as u32,
    );
    let (x1, y1) = (
        ((b.x + 0.75 * b.width).max(0.0) as u32).min(w),
        ((b.y + 0.8 * b.height).max(0.0) as u32).min(h),
    );
    for y in (y0..y1).step_by(2) {
        for x in (x0..x1).step_by(2) {
            let p = image.get_pixel(x, y).0;
            sum += 0.2126 * linear(p[0]) + 0.7152 * linear(p[1]) + 0.0722 * linear(p[2]);
            n += 1;
        }
    }
    let now = if n > 0 { sum / n as f32 } else { 0.2 };
    let goal = linear((target * 255.0) as u8);
    (goal / now.max(1e-3)).clamp(1.0, 8.0)
}

/// Which staged presentation a clip becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staging {
    /// The person in front of the phone, lit by the session's own sequence.
    Live,
    /// The same clip lit by another sequence (recorded in another session, replayed or
    /// injected into this one, whose page tags it with this session's steps).
    OtherSequence,
    /// A still of the clip warped as a held plane, lit uniformly (paper or a screen held to
    /// the phone).
    FlatPhoto,
    /// A screen replay: its own light dominates, the flash barely touches it.
    NoReaction,
    /// Direct sun: the scene is overexposed and the screen's reflection is weak.
    BrightAmbient,
}

impl Staging {
    /// Every staging, live first.
    pub const ALL: [Staging; 5] = [
        Staging::Live,
        Staging::OtherSequence,
        Staging::FlatPhoto,
        Staging::NoReaction,
        Staging::BrightAmbient,
    ];

    /// Its name in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Staging::Live => "live",
            Staging::OtherSequence => "other_sequence",
            Staging::FlatPhoto => "flat_photo",
            Staging::NoReaction => "no_reaction",
            Staging::BrightAmbient => "bright_ambient",
        }
    }
}

/// One staged frame: what the page would send and what the engine would see.
#[derive(Debug, Clone)]
pub struct StagedFrame {
    /// Capture time, seconds.
    pub t: f64,
    /// The page's `flash` byte (from the session's sequence).
    pub tag: u8,
    /// The picture as the camera delivers it.
    pub image: RgbImage,
    /// The face in it (the clip's own mesh, moved for a held photo).
    pub face: FaceObservation,
}

/// Seconds between the session asking for the flash and the page starting it (it first says
/// "hold still, close to the screen"): the simulator's assumption for a staged page.
pub const PAGE_LEAD_S: f64 = 0.6;

/// What lights one frame: the page's tag on it and the colour its camera caught.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameLight {
    /// The page's `flash` byte for the frame (from the session's sequence).
    pub tag: u8,
    /// The screen colour reaching the camera in this frame (lagging the screen), if any.
    pub colour: Option<FlashColour>,
}

/// The page's side of a colour-flash session, frame after frame: the tag it puts on each frame
/// and how the screen's light reaches the camera under a [`Staging`].
///
/// Made for a session that is running: the flash's start is learnt when the session asks for
/// it ([`PageFlash::start`]), so the frames before it are unlit (sensor noise only), as on a
/// real page. [`stage`] is the same on a whole clip whose start is known.
#[derive(Debug, Clone)]
pub struct PageFlash {
    session: Vec<FlashStep>,
    shown: Vec<FlashStep>,
    staging: Staging,
    lighting: Lighting,
    lead_s: Option<f64>,
    /// The shown sequence's tag at each frame so far: the camera sees frame `n - lag`'s colour.
    lit: Vec<u8>,
    /// Set from the first frame with a face, for [`Staging::BrightAmbient`].
    exposure_set: bool,
}

impl PageFlash {
    /// The page of a session that drew `session`, staged as `staging` (the lighting and, for
    /// [`Staging::OtherSequence`], the other sequence are drawn from `rng` now).
    pub fn new(session: &[FlashStep], staging: Staging, rng: &mut SimRng) -> Self {
        let mut lighting = Lighting::live(rng);
        let mut shown = session.to_vec();
        match staging {
            Staging::Live | Staging::FlatPhoto => {}
            Staging::OtherSequence => {
                // Another session's draw, with the same timing so only the colours differ.
                let other = rng.sequence(session.len(), 150, 300);
                shown = session
                    .iter()
                    .zip(other)
                    .map(|(s, o)| FlashStep {
                        colour: o.colour,
                        ms: s.ms,
                    })
                    .collect();
            }
            Staging::NoReaction => {
                // Only the screen's glass gives back a trace, evenly.
                lighting.strength = 0.004;
                lighting.background = 1.0;
            }
            Staging::BrightAmbient => {
                lighting.strength = rng.range(0.006, 0.015);
            }
        }
        Self {
            session: session.to_vec(),
            shown,
            staging,
            lighting,
            lead_s: None,
            lit: Vec::new(),
            exposure_set: staging != Staging::BrightAmbient,
        }
    }

    /// The page starts flashing at `lead_s` (capture time); later calls change nothing.
    pub fn start(&mut self, lead_s: f64) {
        self.lead_s.get_or_insert(lead_s);
    }

    /// The next frame, captured at `t`: its tag and the colour lighting it.
    pub fn next_frame(&mut self, t: f64) -> FrameLight {
        let (tag, lit) = match self.lead_s {
            Some(lead) => (tag_at(t, lead, &self.session), tag_at(t, lead, &self.shown)),
            None => (0, 0),
        };
        self.lit.push(lit);
        let n = self.lit.len() - 1;
        let seen = n
            .checked_sub(self.lighting.lag_frames)
            .map_or(0, |k| self.lit[k]);
        let colour = (seen > 0)
            .then(|| self.shown.get(usize::from(seen) - 1))
            .flatten()
            .and_then(FlashStep::palette);
        FrameLight { tag, colour }
    }

    /// Whether [`PageFlash::light`] needs the frame's face to light it as the staging says
    /// (a head is shaded by its mesh; a sheet or a screen is lit evenly).
    pub fn needs_face(&self, light: &FrameLight) -> bool {
        match self.staging {
            Staging::FlatPhoto | Staging::NoReaction => false,
            Staging::BrightAmbient if !self.exposure_set => true,
            Staging::Live | Staging::OtherSequence | Staging::BrightAmbient => {
                light.colour.is_some()
            }
        }
    }

    /// `frame` as the camera delivers it under `light`. `face` is the frame's face when
    /// [`PageFlash::needs_face`] says so; without one a head is lit like a sheet.
    pub fn light(
        &mut self,
        frame: &RgbImage,
        face: Option<&FaceObservation>,
        light: &FrameLight,
        rng: &mut SimRng,
    ) -> RgbImage {
        if !self.exposure_set {
            if let Some(face) = face {
                // Sunlight the camera's exposure cannot fully bring down: the face ends up
                // bright (about 0.8 of full scale), whatever the clip's own light was.
                self.lighting.exposure = exposure_for(frame, face, 0.8);
                self.exposure_set = true;
            }
        }
        let surface = match (self.staging, face) {
            (Staging::FlatPhoto | Staging::NoReaction, _) | (_, None) => Surface::Flat,
            (_, Some(face)) => Surface::Face(face),
        };
        light_frame(frame, surface, light.colour, &self.lighting, rng)
    }
}

/// Stages a session: `frames` are a real clip's (time, picture, analysed face), `session` the
/// sequence the server drew (the page's tags), `lead_s` when the flash begins.
pub fn stage(
    frames: &[(f64, RgbImage, FaceObservation)],
    session: &[FlashStep],
    lead_s: f64,
    staging: Staging,
    rng: &mut SimRng,
) -> Vec<StagedFrame> {
    let mut page = PageFlash::new(session, staging, rng);
    page.start(lead_s);
    let still = frames.first();
    frames
        .iter()
        .map(|(t, image, face)| {
            let light = page.next_frame(*t);
            let (image, face) = match (staging, still) {
                (Staging::FlatPhoto, Some((_, s_img, s_face))) => {
                    let h = held_photo_homography(*t, s_img.width(), s_img.height());
                    let (img, f) = warp_still(s_img, s_face, &h);
                    (page.light(&img, Some(&f), &light, rng), f)
                }
                _ => (page.light(image, Some(face), &light, rng), face.clone()),
            };
            StagedFrame {
                t: *t,
                tag: light.tag,
                image,
                face,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_never_repeat_a_colour_in_a_row() {
        let mut rng = SimRng::new(7);
        for _ in 0..200 {
            let s = rng.sequence(10, 150, 300);
            assert!(s.windows(2).all(|w| w[0].colour != w[1].colour));
            assert!(s.iter().all(|x| (150..=300).contains(&x.ms)));
        }
    }

    #[test]
    fn tags_follow_the_schedule() {
        let steps = [
            FlashStep { colour: 0, ms: 200 },
            FlashStep { colour: 1, ms: 300 },
        ];
        assert_eq!(tag_at(0.1, 0.5, &steps), 0);
        assert_eq!(tag_at(0.55, 0.5, &steps), 1);
        assert_eq!(tag_at(0.75, 0.5, &steps), 2);
        assert_eq!(tag_at(1.01, 0.5, &steps), 0);
    }

    #[test]
    fn a_homography_and_its_inverse_agree() {
        let h = held_photo_homography(1.3, 400, 300);
        let inv = invert(&h).unwrap();
        let (x, y) = apply(&h, 120.0, 80.0);
        let (bx, by) = apply(&inv, x, y);
        assert!((bx - 120.0).abs() < 1e-6 && (by - 80.0).abs() < 1e-6);
    }

    #[test]
    fn plane_normal_of_a_tilted_plane() {
        let pts: Vec<[f32; 3]> = (0..9)
            .map(|i| {
                let (x, y) = ((i % 3) as f32, (i / 3) as f32);
                [x, y, 0.5 * x]
            })
            .collect();
        let n = plane_normal(&pts);
        let expected = [-0.5f32, 0.0, 1.0];
        let norm = (1.25f32).sqrt();
        let cos = (n[0] * expected[0] + n[2] * expected[2]).abs() / norm;
        assert!(cos > 0.999, "{n:?}");
    }
}
