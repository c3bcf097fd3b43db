//! Cue: a held medium's border around the face (a screen's bezel, a photo's edge).
//!
//! A face shown on a phone or printed on paper sits inside the medium's outline: long straight
//! edges where the bezel or the paper meets the room, one on each side of the face, running
//! alongside it. A live head has no such frame: its neck and shoulders continue below the chin,
//! and a room's straight edges (a door jamb, a shelf, a window) rarely stand on three or four
//! sides of the face at once.
//!
//! Measured on frames sampled every 0.25 s, in a small grey picture of the face's surroundings
//! scaled so that the face is [`FACE_PX`] pixels across (the cost then does not grow with the
//! camera's resolution). For each side of the face box (left, right, top, bottom), every straight
//! line in a band from just outside the box to [`REACH`] face sizes out, tilted up to about 13°
//! from the side's axis, is scored by its *coverage*: the share of the face's span along which
//! the line sits on an edge step of one polarity, oriented along the line (texture's gradients
//! point every way and flip sign; a border's do not). A side counts fully when its best line
//! covers [`SIDE_FULL`] of the span, and the edge must run [`EXTEND`] past the face's ends (a
//! medium's edge goes on to its corners; the hairline and the jaw end with the head). A frame's
//! enclosure ([`BorderCue::enclosure`], 0..3) needs both flanks (left and right) and adds the
//! stronger of top and bottom; the cue takes the median over sampled frames (a border persists,
//! a passing edge does not) and scores 0 at or under [`OPEN`] and 1 at or over [`ENCLOSED`].
//!
//! Not measured: whether the edges move with the face. A photo's edge does, but a screen on a
//! stand playing a moving head does not, and a live face filmed by a hand-held phone moves
//! against a moving room: motion alone does not tell a medium from a room.

use image::RgbImage;

use super::screen::ramp;
use super::{PixelSampling, Reading};
use crate::FaceBox;

/// The face box's larger side, in working pixels (the working picture's scale).
pub const FACE_PX: f32 = 40.0;
/// How far out from the face box a border is looked for, in face sizes: a phone held at arm's
/// length shows a face a third of its width or less.
pub const REACH: f32 = 2.5;
/// Gap left between the face box and the searched band, in face sizes (the cheek's outline and
/// the ears sit on the box's edge).
const GAP: f32 = 0.08;
/// How far past the face's ends a border must run, in face sizes: a medium's edge goes on to
/// its corners, past the head, while the head's own outlines (hairline, jaw) end with it.
pub const EXTEND: f32 = 0.2;
/// Tilts tried, as the tangent of the angle from the side's axis (a hand holds a medium roughly
/// upright; perspective leans its edges a little more).
const SLOPES: [f32; 7] = [-0.24, -0.16, -0.08, 0.0, 0.08, 0.16, 0.24];
/// Grey-level difference across two working pixels that counts as an edge step.
const STEP: i32 = 10;
/// A side's coverage at or under which it shows no border...
pub const SIDE_NONE: f32 = 0.5;
/// ...and at or over which it shows one fully.
pub const SIDE_FULL: f32 = 0.85;
/// Enclosure (see [`BorderCue::enclosure`]) at or under which the face is not enclosed: score 0...
pub const OPEN: f32 = 2.0;
/// ...and at or over which a frame encloses it: score 1.
pub const ENCLOSED: f32 = 3.0;

/// Which side of the face a border is looked for on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
    Top,
    Bottom,
}

const SIDES: [Side; 4] = [Side::Left, Side::Right, Side::Top, Side::Bottom];

/// The border accumulator: feed it frames with the main face's box.
#[derive(Debug, Clone, Default)]
pub struct BorderCue {
    /// Each sampled frame's best coverage per side (left, right, top, bottom).
    coverage: Vec<[f32; 4]>,
    sampling: PixelSampling,
}

impl BorderCue {
    /// Whether a frame at `t` would be sampled.
    pub fn wants(&self, t: f64) -> bool {
        self.sampling.wants(t)
    }

    /// Adds the surroundings of `face` in `frame` at `t`.
    pub fn observe(&mut self, t: f64, frame: &RgbImage, face: &FaceBox) {
        if !self.wants(t) || face.width < 16.0 || face.height < 16.0 {
            return;
        }
        self.sampling.take(t);
        self.coverage.push(side_coverage(frame, face));
    }

    /// Sampled frames so far.
    pub fn samples(&self) -> usize {
        self.coverage.len()
    }

    /// The enclosure statistic (0..3): the median over sampled frames of twice the weaker of
    /// the two flanks (left, right) plus the stronger of the two cross sides (top, bottom), each
    /// side 0..1 by its coverage.
    ///
    /// A held medium is cut off on both flanks by its own edges (one straight edge beside the
    /// face is a door jamb), while its top or bottom may be out of the picture or behind the
    /// hand that holds it: both flanks and one cross side (3) enclose the face; both flanks
    /// alone (2) are a doorway as much as a phone.
    pub fn enclosure(&self) -> Option<f32> {
        let mut per_frame: Vec<f32> = self
            .coverage
            .iter()
            .map(|c| {
                let [l, r, t, b] = c.map(|v| ramp(v, SIDE_NONE, SIDE_FULL));
                2.0 * l.min(r) + t.max(b)
            })
            .collect();
        median(&mut per_frame)
    }

    /// Median coverage of each side (left, right, top, bottom), for reports.
    pub fn side_coverage(&self) -> Option<[f32; 4]> {
        let mut out = [0.0; 4];
        for (i, o) in out.iter_mut().enumerate() {
            let mut v: Vec<f32> = self.coverage.iter().map(|c| c[i]).collect();
            *o = median(&mut v)?;
        }
        Some(out)
    }

    /// What the border cue says (`border`).
    pub fn reading(&self) -> Reading {
        self.enclosure()
            .map_or(Reading::Undecided("no_face_pixels"), |s| {
                Reading::Score(ramp(s, OPEN, ENCLOSED))
            })
    }
}

fn median(v: &mut [f32]) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Edge hits of one direction at a working pixel: a step up (bit 0) or down (bit 1) across
/// the direction, at least [`STEP`] and twice the step along it.
const RISE: u8 = 1;
const FALL: u8 = 2;

/// A grey picture of part of the frame, scaled down, reduced to its edge hits: where a vertical
/// line would sit on an edge step (`across_x`, steps in x) and where a horizontal one would
/// (`across_y`, steps in y).
struct Working {
    w: usize,
    h: usize,
    across_x: Vec<u8>,
    across_y: Vec<u8>,
}

impl Working {
    /// The frame's box (x0, y0)..(x0 + w * k, y0 + h * k) at `k` frame pixels per working pixel,
    /// each working pixel the mean of a 2x2 block of frame pixels.
    fn new(frame: &RgbImage, x0: f32, y0: f32, w: usize, h: usize, k: f32) -> Self {
        let (fw, fh) = (frame.width(), frame.height());
        let raw = frame.as_raw();
        let stride = fw as usize * 3;
        // R + 2G + B of one pixel: a luma close enough for edges, in integer adds.
        let luma = |i: usize| -> i32 {
            match raw.get(i..i + 3) {
                Some(p) => i32::from(p[0]) + 2 * i32::from(p[1]) + i32::from(p[2]),
                None => 0,
            }
        };
        let xs: Vec<usize> = (0..w)
            .map(|i| ((x0 + (i as f32 + 0.5) * k) as u32).min(fw.saturating_sub(2)) as usize * 3)
            .collect();
        let mut grey = vec![0i32; w * h];
        for j in 0..h {
            let y = ((y0 + (j as f32 + 0.5) * k) as u32).min(fh.saturating_sub(2)) as usize;
            let (row, next) = (y * stride, (y + 1) * stride);
            for (g, &x) in grey[j * w..(j + 1) * w].iter_mut().zip(&xs) {
                let sum = luma(row + x) + luma(row + x + 3) + luma(next + x) + luma(next + x + 3);
                // Four pixels of R + 2G + B: sixteen times the mean grey.
                *g = sum >> 4;
            }
        }
        let mut across_x = vec![0u8; w * h];
        let mut across_y = vec![0u8; w * h];
        let hit = |a: i32, b: i32| -> u8 {
            if a.abs() < STEP || a.abs() < 2 * b.abs() {
                0
            } else if a > 0 {
                RISE
            } else {
                FALL
            }
        };
        for j in 1..h.saturating_sub(1) {
            for i in 1..w.saturating_sub(1) {
                let c = j * w + i;
                let gx = grey[c + 1] - grey[c - 1];
                let gy = grey[c + w] - grey[c - w];
                across_x[c] = hit(gx, gy);
                across_y[c] = hit(gy, gx);
            }
        }
        Self {
            w,
            h,
            across_x,
            across_y,
        }
    }
}

/// Each side's best coverage (left, right, top, bottom) in one frame.
fn side_coverage(frame: &RgbImage, face: &FaceBox) -> [f32; 4] {
    let (fw, fh) = (frame.width() as f32, frame.height() as f32);
    let size = face.width.max(face.height);
    // Frame pixels per working pixel; never up-sampled.
    let k = (size / FACE_PX).max(1.0);
    let margin = (REACH + 0.1) * size;
    let x0 = (face.x - margin).max(0.0);
    let y0 = (face.y - margin).max(0.0);
    let x1 = (face.x + face.width + margin).min(fw);
    let y1 = (face.y + face.height + margin).min(fh);
    if x1 - x0 < 4.0 * k || y1 - y0 < 4.0 * k {
        return [0.0; 4];
    }
    let w = ((x1 - x0) / k) as usize;
    let h = ((y1 - y0) / k) as usize;
    let work = Working::new(frame, x0, y0, w, h, k);
    // The face box and its size in working pixels.
    let fx0 = (face.x - x0) / k;
    let fy0 = (face.y - y0) / k;
    let fx1 = fx0 + face.width / k;
    let fy1 = fy0 + face.height / k;
    let s = size / k;
    let mut coverage = [0.0; 4];
    let ext = EXTEND * s;
    for (i, side) in SIDES.into_iter().enumerate() {
        // Normal positions searched (nearest the face first is irrelevant: the best wins).
        let (near, far, span) = match side {
            Side::Left => (fx0 - GAP * s, fx0 - REACH * s, (fy0 - ext, fy1 + ext)),
            Side::Right => (fx1 + GAP * s, fx1 + REACH * s, (fy0 - ext, fy1 + ext)),
            Side::Top => (fy0 - GAP * s, fy0 - REACH * s, (fx0 - ext, fx1 + ext)),
            Side::Bottom => (fy1 + GAP * s, fy1 + REACH * s, (fx0 - ext, fx1 + ext)),
        };
        coverage[i] = best_line(&work, side, near.min(far), near.max(far), span);
    }
    coverage
}

/// The best coverage of a straight line parallel (within [`SLOPES`]) to `side`'s axis, at normal
/// positions `lo..=hi`, over the tangent span `span` (all in working pixels).
fn best_line(work: &Working, side: Side, lo: f32, hi: f32, span: (f32, f32)) -> f32 {
    let vertical = matches!(side, Side::Left | Side::Right);
    let (normal_len, tangent_len, hits) = if vertical {
        (work.w, work.h, &work.across_x)
    } else {
        (work.h, work.w, &work.across_y)
    };
    // Stay off the working picture's outer pixels (no difference is taken there).
    let lo = lo.max(1.0);
    let hi = hi.min(normal_len as f32 - 2.0);
    let n = (span.1.round() - span.0.round()).max(0.0) as usize;
    if hi < lo || n < 4 {
        return 0.0;
    }
    // Samples off the picture count as misses (a border that leaves the frame is not seen).
    let t0 = (span.0.round() as isize).max(1);
    let t1 = (span.1.round() as isize).min(tangent_len as isize - 1);
    if t1 <= t0 {
        return 0.0;
    }
    let tc = (span.0 + span.1) / 2.0;
    // Index steps: along the normal and along the tangent.
    let (dn, dt) = if vertical { (1, work.w) } else { (work.w, 1) };
    let mut best = 0usize;
    for slope in SLOPES {
        let shift: Vec<isize> = (t0..t1)
            .map(|t| (slope * (t as f32 - tc)).round() as isize)
            .collect();
        for p in (lo.ceil() as isize)..=(hi.floor() as isize) {
            let (mut rise, mut fall) = (0usize, 0usize);
            for (t, &d) in (t0..t1).zip(&shift) {
                let q = p + d;
                if q < 1 || q >= normal_len as isize - 1 {
                    continue;
                }
                let hit = hits[q as usize * dn + t as usize * dt];
                rise += usize::from(hit & RISE);
                fall += usize::from(hit >> 1);
            }
            best = best.max(rise.max(fall));
        }
    }
    best as f32 / n as f32
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Grain in -6..=6 grey levels, the same on every run.
    fn noise(x: u32, y: u32, seed: u32) -> f32 {
        (crate::flash::sim::hash3(x, y, seed) % 13) as f32 - 6.0
    }

    pub(in crate::silent) fn face_box(cx: f32, cy: f32) -> FaceBox {
        FaceBox {
            x: cx - 60.0,
            y: cy - 75.0,
            width: 120.0,
            height: 150.0,
            score: 1.0,
        }
    }

    /// Skin-toned ellipse with shading, a dark hair cap and a torso below the chin: a head.
    fn head(x: f32, y: f32, cx: f32, cy: f32) -> Option<f32> {
        let (dx, dy) = ((x - cx) / 66.0, (y - cy) / 88.0);
        if dx * dx + dy * dy <= 1.0 {
            let hair = if dy < -0.6 { -90.0 } else { 0.0 };
            return Some(170.0 - 30.0 * dx.abs() + 10.0 * (y / 9.0).sin() + hair);
        }
        // Neck and shoulders: the body continues to the frame's bottom.
        if y > cy + 80.0 && (x - cx).abs() < 40.0 + (y - cy - 80.0) * 1.5 {
            return Some(70.0 + 20.0 * ((x - cx) / 30.0).sin());
        }
        None
    }

    /// A live person before a wall with a door frame (its jamb close to the face, and its
    /// lintel above), the head at `(cx, cy)`.
    fn live_frame(cx: f32, cy: f32, seed: u32) -> RgbImage {
        RgbImage::from_fn(640, 480, |x, y| {
            let (xf, yf) = (x as f32, y as f32);
            let wall = 150.0 - yf * 0.05 + xf * 0.03;
            let jamb = if (150..166).contains(&x) && y > 40 {
                -55.0
            } else {
                0.0
            };
            let lintel = if (150..420).contains(&x) && (30..42).contains(&y) {
                -55.0
            } else {
                0.0
            };
            let v = head(xf, yf, cx, cy).unwrap_or(wall + jamb + lintel) + noise(x, y, seed);
            let v = v.clamp(0.0, 255.0) as u8;
            image::Rgb([v.saturating_add(8), v, v.saturating_sub(6)])
        })
    }

    /// The same person seen on a phone held before the same wall: a dark bezel around a
    /// brighter picture that holds the head, the phone turned a few degrees.
    pub(in crate::silent) fn screen_frame(cx: f32, cy: f32, seed: u32) -> RgbImage {
        let tilt = 0.06;
        RgbImage::from_fn(640, 480, |x, y| {
            let (xf, yf) = (x as f32, y as f32);
            // The phone's own axes (turned by `tilt` about the face's centre).
            let u = (xf - cx) + tilt * (yf - cy);
            let v = (yf - cy) - tilt * (xf - cx);
            let wall = 150.0 - yf * 0.05 + xf * 0.03;
            let jamb = if (60..76).contains(&x) { -55.0 } else { 0.0 };
            let value = if u.abs() < 150.0 && v.abs() < 190.0 {
                head(xf, yf, cx, cy).unwrap_or(190.0 - 0.1 * v)
            } else if u.abs() < 165.0 && v.abs() < 205.0 {
                14.0
            } else {
                wall + jamb
            };
            let p = (value + noise(x, y, seed)).clamp(0.0, 255.0) as u8;
            image::Rgb([p, p, p.saturating_add(4)])
        })
    }

    fn score(frames: impl Iterator<Item = (RgbImage, FaceBox)>) -> (f32, BorderCue) {
        let mut cue = BorderCue::default();
        for (k, (frame, face)) in frames.enumerate() {
            cue.observe(k as f64 * 0.3, &frame, &face);
        }
        match cue.reading() {
            Reading::Score(s) => (s, cue),
            Reading::Undecided(why) => panic!("undecided: {why}"),
        }
    }

    #[test]
    fn a_bezel_around_the_face_is_a_border_and_a_door_frame_is_not() {
        let positions = [
            (320.0, 230.0),
            (330.0, 236.0),
            (312.0, 226.0),
            (326.0, 232.0),
        ];
        let (live, live_cue) = score(
            positions
                .iter()
                .enumerate()
                .map(|(k, &(x, y))| (live_frame(x, y, k as u32), face_box(x, y))),
        );
        let (screen, screen_cue) = score(
            positions
                .iter()
                .enumerate()
                .map(|(k, &(x, y))| (screen_frame(x, y, k as u32), face_box(x, y))),
        );
        assert!(
            live < super::super::SUSPECT,
            "live {live}, sides {:?}",
            live_cue.side_coverage()
        );
        assert!(
            screen >= super::super::ATTACK && screen - live >= 0.7,
            "screen {screen} live {live}, sides {:?}",
            screen_cue.side_coverage()
        );
    }

    #[test]
    fn a_plain_wall_shows_no_side() {
        let frame = RgbImage::from_fn(640, 480, |x, y| {
            let v = (140.0 + noise(x, y, 5)) as u8;
            image::Rgb([v, v, v])
        });
        let mut cue = BorderCue::default();
        cue.observe(0.0, &frame, &face_box(320.0, 240.0));
        assert_eq!(cue.enclosure(), Some(0.0));
        assert_eq!(cue.reading(), Reading::Score(0.0));
    }

    #[test]
    fn frames_are_sampled_sparsely() {
        let frame = RgbImage::from_pixel(640, 480, image::Rgb([120, 120, 120]));
        let mut cue = BorderCue::default();
        for k in 0..30 {
            cue.observe(f64::from(k) / 30.0, &frame, &face_box(320.0, 240.0));
        }
        // One second at 30 fps: every 0.25 s, so 4 samples (0, 0.27, 0.53, 0.8).
        assert_eq!(cue.samples(), 4);
        assert_eq!(cue.reading(), Reading::Score(0.0));
    }
}
