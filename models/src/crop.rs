//! Rotated square regions of a frame and their warp into model input tensors.
//!
//! Every model sees the frame through a [`RegionOfInterest`]: a square of the frame, rotated so
//! the face (or eye) is level, sampled bilinearly into an NHWC tensor. Mapping model output back
//! to frame pixels goes through the same region, so crop and projection never disagree.

use image::RgbImage;

/// A square region of the frame: centre and side in frame pixels, rotated by `angle` radians
/// (image coordinates, y down: a positive angle turns the region's x axis towards +y).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionOfInterest {
    /// Centre x in frame pixels.
    pub cx: f32,
    /// Centre y in frame pixels.
    pub cy: f32,
    /// Side length in frame pixels.
    pub size: f32,
    /// Rotation in radians.
    pub angle: f32,
}

impl RegionOfInterest {
    /// The unrotated square that holds the whole frame, centred (a letterbox of the frame).
    pub fn letterbox(width: u32, height: u32) -> RegionOfInterest {
        RegionOfInterest {
            cx: width as f32 / 2.0,
            cy: height as f32 / 2.0,
            size: width.max(height) as f32,
            angle: 0.0,
        }
    }

    /// The frame point at normalised region coordinates (`u`, `v` in 0..=1 across the square).
    pub fn to_frame(&self, u: f32, v: f32) -> [f32; 2] {
        self.frame_mapping()(u, v)
    }

    /// [`Self::to_frame`] with the rotation worked out once, for mapping many points.
    pub fn frame_mapping(&self) -> impl Fn(f32, f32) -> [f32; 2] {
        let (sin, cos) = self.angle.sin_cos();
        let RegionOfInterest { cx, cy, size, .. } = *self;
        move |u, v| {
            let dx = (u - 0.5) * size;
            let dy = (v - 0.5) * size;
            [cx + cos * dx - sin * dy, cy + sin * dx + cos * dy]
        }
    }

    /// Normalised region coordinates of a frame point (the inverse of [`Self::to_frame`]).
    pub fn from_frame(&self, x: f32, y: f32) -> [f32; 2] {
        let (sin, cos) = self.angle.sin_cos();
        let dx = x - self.cx;
        let dy = y - self.cy;
        [
            (cos * dx + sin * dy) / self.size + 0.5,
            (-sin * dx + cos * dy) / self.size + 0.5,
        ]
    }

    /// The angle that levels the line from `a` to `b` (MediaPipe's rotation from two keypoints),
    /// normalised to -pi..pi.
    pub fn level_angle(a: [f32; 2], b: [f32; 2]) -> f32 {
        (b[1] - a[1]).atan2(b[0] - a[0])
    }
}

/// The value range a model expects its pixels in (0..1 for the mesh, -1..1 for BlazeFace).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelRange {
    /// Value of a 0 byte.
    pub low: f32,
    /// Value of a 255 byte.
    pub high: f32,
}

impl PixelRange {
    /// 0..=1.
    pub const UNIT: PixelRange = PixelRange {
        low: 0.0,
        high: 1.0,
    };
    /// -1..=1.
    pub const SIGNED: PixelRange = PixelRange {
        low: -1.0,
        high: 1.0,
    };
}

/// Samples `roi` of `frame` bilinearly into `out`, an NHWC tensor of `side`x`side`x3.
///
/// Outside the frame is black (the model then sees a border, as with MediaPipe's zero border).
/// With `flip`, the crop is mirrored left-right (MediaPipe feeds the right eye mirrored).
pub fn warp_into(
    frame: &RgbImage,
    roi: &RegionOfInterest,
    side: usize,
    range: PixelRange,
    flip: bool,
    out: &mut [f32],
) {
    let needed = side * side * 3;
    if out.len() < needed || side == 0 {
        return;
    }
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let source = Source {
        raw: frame.as_raw(),
        stride: w * 3,
        w,
        h,
        // Bilinear weights sum to one, so mapping bytes to model values before blending gives
        // the same value as after, and a table lookup is cheaper than a conversion per byte.
        value: std::array::from_fn(|b| b as f32 * ((range.high - range.low) / 255.0) + range.low),
        // An integer blend is a byte scaled by both weights.
        scale: (range.high - range.low) / (255.0 * WEIGHT_ONE as f32 * WEIGHT_ONE as f32),
        low: range.low,
    };
    let (sin, cos) = roi.angle.sin_cos();
    let step = roi.size / side as f32;
    // Frame position of crop pixel (i, j) centre, in pixel-index space (pixel k's centre at k).
    let origin = roi.to_frame(0.5 / side as f32, 0.5 / side as f32);
    let (ox, oy) = (origin[0] - 0.5, origin[1] - 0.5);
    let (dxi, dyi) = (cos * step, sin * step);
    let (dxj, dyj) = (-sin * step, cos * step);
    // Mirroring samples each row right to left: start at the row's far end and step back.
    let (first, step_x, step_y) = if flip {
        ((side - 1) as f32, -dxi, -dyi)
    } else {
        (0.0, dxi, dyi)
    };
    let (ox, oy) = (ox + dxi * first, oy + dyi * first);
    // Positions step in fixed point (32 fractional bits: no drift over a row) and blend in
    // integers with 12-bit weights, within an eighth of a grey level of the float blend: half
    // the float warp's time, and the mesh's crop was a third of its run (docs/performance.md).
    let (sx, sy) = (to_fixed(step_x), to_fixed(step_y));
    for (j, row) in out[..needed].chunks_exact_mut(side * 3).enumerate() {
        let mut x = to_fixed(ox + dxj * j as f32);
        let mut y = to_fixed(oy + dyj * j as f32);
        for px in row.chunks_exact_mut(3) {
            source.sample_fixed(x, y, px);
            x += sx;
            y += sy;
        }
    }
}

/// Fractional bits of a fixed-point position.
const FIXED_SHIFT: u32 = 32;
/// Bits of a bilinear weight.
const WEIGHT_BITS: u32 = 12;
/// A whole pixel's weight.
const WEIGHT_ONE: u32 = 1 << WEIGHT_BITS;

/// `v` pixels in fixed point.
fn to_fixed(v: f32) -> i64 {
    (f64::from(v) * (1u64 << FIXED_SHIFT) as f64).round() as i64
}

/// The frame bytes a warp reads, with the value mapping of the model's input.
struct Source<'a> {
    raw: &'a [u8],
    stride: usize,
    w: usize,
    h: usize,
    value: [f32; 256],
    scale: f32,
    low: f32,
}

impl Source<'_> {
    /// Bilinear sample at fixed-point position (x, y) into `px` (three channels).
    #[inline(always)]
    fn sample_fixed(&self, x: i64, y: i64, px: &mut [f32]) {
        let (x0, y0) = (x >> FIXED_SHIFT, y >> FIXED_SHIFT);
        // Negative positions wrap to huge unsigned ones: one comparison per axis.
        if (x0 as u64) < self.w.saturating_sub(1) as u64
            && (y0 as u64) < self.h.saturating_sub(1) as u64
        {
            let wx = ((x >> (FIXED_SHIFT - WEIGHT_BITS)) as u32) & (WEIGHT_ONE - 1);
            let wy = ((y >> (FIXED_SHIFT - WEIGHT_BITS)) as u32) & (WEIGHT_ONE - 1);
            let p = y0 as usize * self.stride + x0 as usize * 3;
            let (Some(top), Some(bottom)) = (
                self.raw.get(p..p + 6),
                self.raw.get(p + self.stride..p + self.stride + 6),
            ) else {
                return;
            };
            let (ix, iy) = (WEIGHT_ONE - wx, WEIGHT_ONE - wy);
            for (c, v) in px.iter_mut().enumerate().take(3) {
                let t = u32::from(top[c]) * ix + u32::from(top[c + 3]) * wx;
                let b = u32::from(bottom[c]) * ix + u32::from(bottom[c + 3]) * wx;
                *v = (t * iy + b * wy) as f32 * self.scale + self.low;
            }
        } else {
            let unit = 1.0 / (1u64 << FIXED_SHIFT) as f64;
            self.sample_edge((x as f64 * unit) as f32, (y as f64 * unit) as f32, px);
        }
    }

    /// A sample near or past the frame's edge: edge pixels replicate up to one pixel out, and
    /// beyond that the model sees black.
    #[cold]
    fn sample_edge(&self, x: f32, y: f32, px: &mut [f32]) {
        let (w, h) = (self.w as i64, self.h as i64);
        if !(x > -1.0 && y > -1.0 && x < w as f32 && y < h as f32) || w == 0 || h == 0 {
            px.fill(self.value[0]);
            return;
        }
        let x0 = x.floor() as i64;
        let y0 = y.floor() as i64;
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let at = |xi: i64, yi: i64| {
            let p = yi.clamp(0, h - 1) as usize * self.stride + xi.clamp(0, w - 1) as usize * 3;
            self.raw.get(p..p + 3).unwrap_or(&[0, 0, 0])
        };
        self.blend(
            [
                at(x0, y0),
                at(x0 + 1, y0),
                at(x0, y0 + 1),
                at(x0 + 1, y0 + 1),
            ],
            fx,
            fy,
            px,
        );
    }

    /// Bilinear blend of the four neighbours (top-left, top-right, bottom-left, bottom-right).
    #[inline(always)]
    fn blend(&self, n: [&[u8]; 4], fx: f32, fy: f32, px: &mut [f32]) {
        let value = |b: u8| self.value[b as usize];
        for (c, v) in px.iter_mut().enumerate().take(3) {
            let (a, b) = (value(n[0][c]), value(n[1][c]));
            let top = a + (b - a) * fx;
            let (a, b) = (value(n[2][c]), value(n[3][c]));
            let bottom = a + (b - a) * fx;
            *v = top + (bottom - top) * fy;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn frame_mapping_round_trips_through_a_rotated_region() {
        let roi = RegionOfInterest {
            cx: 100.0,
            cy: 80.0,
            size: 50.0,
            angle: 0.4,
        };
        let p = roi.to_frame(0.2, 0.9);
        let uv = roi.from_frame(p[0], p[1]);
        assert!((uv[0] - 0.2).abs() < 1e-5 && (uv[1] - 0.9).abs() < 1e-5);
    }

    #[test]
    fn unrotated_warp_reproduces_the_pixels() {
        let mut img = RgbImage::new(4, 4);
        img.put_pixel(1, 2, image::Rgb([255, 0, 0]));
        let roi = RegionOfInterest {
            cx: 2.0,
            cy: 2.0,
            size: 4.0,
            angle: 0.0,
        };
        let mut out = vec![0.0; 4 * 4 * 3];
        warp_into(&img, &roi, 4, PixelRange::UNIT, false, &mut out);
        assert!((out[(2 * 4 + 1) * 3] - 1.0).abs() < 1e-6);
        assert!(out[(2 * 4 + 2) * 3].abs() < 1e-6);
        warp_into(&img, &roi, 4, PixelRange::UNIT, true, &mut out);
        assert!((out[(2 * 4 + 2) * 3] - 1.0).abs() < 1e-6);
    }

    /// The warp as first written (per-pixel checks, conversion after blending): the reference the
    /// fast warp must match.
    fn reference_warp(
        frame: &RgbImage,
        roi: &RegionOfInterest,
        side: usize,
        range: PixelRange,
        flip: bool,
        out: &mut [f32],
    ) {
        let needed = side * side * 3;
        if out.len() < needed || side == 0 {
            return;
        }
        let (w, h) = (frame.width() as i64, frame.height() as i64);
        let raw: &[u8] = frame.as_raw();
        let stride = w as usize * 3;
        let scale = (range.high - range.low) / 255.0;
        let low = range.low;
        let black = [low; 3];
        let (sin, cos) = roi.angle.sin_cos();
        let step = roi.size / side as f32;
        // Frame position of crop pixel (i, j) centre, in pixel-index space (pixel k's centre at k).
        let origin = roi.to_frame(0.5 / side as f32, 0.5 / side as f32);
        let (ox, oy) = (origin[0] - 0.5, origin[1] - 0.5);
        let (dxi, dyi) = (cos * step, sin * step);
        let (dxj, dyj) = (-sin * step, cos * step);
        // When every sample has all four neighbours inside the frame (the usual case for a tracked
        // face), the per-pixel bounds handling is skipped: this warp runs on every frame.
        let last = (side - 1) as f32;
        let corners = [(0.0, 0.0), (last, 0.0), (0.0, last), (last, last)];
        let inside = corners.iter().all(|&(i, j)| {
            let x = ox + dxi * i + dxj * j;
            let y = oy + dyi * i + dyj * j;
            x >= 0.0 && y >= 0.0 && x < (w - 1) as f32 && y < (h - 1) as f32
        });
        for (j, row) in out[..needed].chunks_exact_mut(side * 3).enumerate() {
            let x = ox + dxj * j as f32;
            let y = oy + dyj * j as f32;
            if inside {
                for (i, px) in row.chunks_exact_mut(3).enumerate() {
                    // Mirroring samples the row right to left.
                    let k = if flip {
                        (side - 1 - i) as f32
                    } else {
                        i as f32
                    };
                    sample_inside(raw, stride, x + dxi * k, y + dyi * k, scale, low, px);
                }
            } else {
                for (i, px) in row.chunks_exact_mut(3).enumerate() {
                    let k = if flip {
                        (side - 1 - i) as f32
                    } else {
                        i as f32
                    };
                    let v = sample(raw, stride, w, h, x + dxi * k, y + dyi * k, scale, low)
                        .unwrap_or(black);
                    px.copy_from_slice(&v);
                }
            }
        }
    }

    /// Bilinear sample at (x, y) known to have all four neighbours inside the frame.
    #[inline(always)]
    fn sample_inside(
        raw: &[u8],
        stride: usize,
        x: f32,
        y: f32,
        scale: f32,
        low: f32,
        px: &mut [f32],
    ) {
        let x0 = x as usize;
        let y0 = y as usize;
        let fx = x - x0 as f32;
        let fy = y - y0 as f32;
        let p = y0 * stride + x0 * 3;
        let (Some(top), Some(bottom)) = (raw.get(p..p + 6), raw.get(p + stride..p + stride + 6))
        else {
            return;
        };
        for c in 0..3 {
            let t = top[c] as f32 + (top[c + 3] as f32 - top[c] as f32) * fx;
            let b = bottom[c] as f32 + (bottom[c + 3] as f32 - bottom[c] as f32) * fx;
            px[c] = (t + (b - t) * fy) * scale + low;
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn sample(
        raw: &[u8],
        stride: usize,
        w: i64,
        h: i64,
        x: f32,
        y: f32,
        scale: f32,
        low: f32,
    ) -> Option<[f32; 3]> {
        if !(x > -1.0 && y > -1.0 && x < w as f32 && y < h as f32) {
            return None;
        }
        let x0 = x.floor() as i64;
        let y0 = y.floor() as i64;
        let fx = x - x0 as f32;
        let fy = y - y0 as f32;
        // Edge pixels replicate so a region touching the border does not fade to black.
        let xa = x0.clamp(0, w - 1) as usize;
        let xb = (x0 + 1).clamp(0, w - 1) as usize;
        let ya = y0.clamp(0, h - 1) as usize;
        let yb = (y0 + 1).clamp(0, h - 1) as usize;
        let p00 = ya * stride + xa * 3;
        let p10 = ya * stride + xb * 3;
        let p01 = yb * stride + xa * 3;
        let p11 = yb * stride + xb * 3;
        let mut px = [0.0f32; 3];
        for (c, v) in px.iter_mut().enumerate() {
            let top = raw[p00 + c] as f32 * (1.0 - fx) + raw[p10 + c] as f32 * fx;
            let bottom = raw[p01 + c] as f32 * (1.0 - fx) + raw[p11 + c] as f32 * fx;
            *v = (top * (1.0 - fy) + bottom * fy) * scale + low;
        }
        Some(px)
    }

    #[test]
    fn fast_warp_matches_the_reference_warp_on_a_real_frame() {
        let Some(media) = std::env::var_os("LIVEGATE_TEST_MEDIA").map(PathBuf::from) else {
            eprintln!("skipped: LIVEGATE_TEST_MEDIA is not set");
            return;
        };
        let clip = media.join("face_anti_spoofing_tranvanluyt2203/real.mp4");
        if !clip.is_file() {
            eprintln!("skipped: {} is missing", clip.display());
            return;
        }
        let options = crate::media::VideoOptions {
            fit: Some((480, 640)),
            max_frames: Some(1),
        };
        let frame = crate::media::open_video(&clip, &options)
            .expect("clip opens")
            .next()
            .expect("one frame")
            .expect("frame decodes")
            .image;
        let (w, h) = (frame.width() as f32, frame.height() as f32);
        let region = |cx, cy, size, angle| RegionOfInterest {
            cx,
            cy,
            size,
            angle,
        };
        // A tracked face, an eye, a face running off the top-left corner, a tilted region larger
        // than the frame, and the detector's letterbox.
        let cases = [
            (
                region(w * 0.5, h * 0.45, 300.0, 0.12),
                192,
                PixelRange::UNIT,
            ),
            (region(w * 0.4, h * 0.4, 40.0, -0.3), 64, PixelRange::UNIT),
            (region(30.0, 20.0, 200.0, 0.7), 192, PixelRange::UNIT),
            (region(w * 0.5, h * 0.5, 900.0, 2.5), 64, PixelRange::SIGNED),
            (
                RegionOfInterest::letterbox(480, 640),
                128,
                PixelRange::SIGNED,
            ),
        ];
        for (roi, side, range) in cases {
            for flip in [false, true] {
                let mut fast = vec![f32::NAN; side * side * 3];
                let mut reference = vec![f32::NAN; side * side * 3];
                warp_into(&frame, &roi, side, range, flip, &mut fast);
                reference_warp(&frame, &roi, side, range, flip, &mut reference);
                let worst = fast
                    .iter()
                    .zip(&reference)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(
                    worst < 1e-3,
                    "{roi:?} side {side} flip {flip}: off by {worst}"
                );
            }
        }
    }
}
