//! The pixel work of staging attacks, pure: a picture held as a plane in 3-D before a pinhole
//! camera, paper and screen looks, eyes composited through holes, adversarial-style noise.

use image::{imageops, Rgb, RgbImage};
use livegate_models::flash::sim::hash3;

/// The size live frames are fitted into (as `livegate analyze` does) and staged frames have.
pub const FIT: (u32, u32) = (640, 640);
/// The staged camera's picture, portrait as a phone's.
pub const CAMERA: (u32, u32) = (480, 640);

/// A 3x3 matrix, row-major.
pub type Mat3 = [f64; 9];

/// Inverse of a 3x3 matrix (the staged homographies are never singular).
pub fn invert(m: &Mat3) -> Mat3 {
    let det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6])
        + m[2] * (m[3] * m[7] - m[4] * m[6]);
    let c = |a: usize, b: usize, c: usize, d: usize| (m[a] * m[d] - m[b] * m[c]) / det;
    [
        c(4, 5, 7, 8),
        -c(1, 2, 7, 8),
        c(1, 2, 4, 5),
        -c(3, 5, 6, 8),
        c(0, 2, 6, 8),
        -c(0, 2, 3, 5),
        c(3, 4, 6, 7),
        -c(0, 1, 6, 7),
        c(0, 1, 3, 4),
    ]
}

/// Where a flat picture is held: turned by `yaw` and `pitch` degrees, shifted by `shift` (mm,
/// the camera's x and y), `distance` mm from the camera.
#[derive(Debug, Clone, Copy)]
pub struct PlanePose {
    /// Turn about the vertical axis, degrees.
    pub yaw: f64,
    /// Tilt about the horizontal axis, degrees.
    pub pitch: f64,
    /// Sideways and vertical shift.
    pub shift: (f64, f64),
    /// Distance of the picture's centre.
    pub distance: f64,
}

impl PlanePose {
    /// A hand holding a picture up and turning it, `t` seconds in (up to `amplitude` degrees of
    /// yaw and half that of pitch, drifting).
    pub fn hand(t: f64, amplitude: f64) -> Self {
        Self {
            yaw: amplitude * (t * 1.6).sin(),
            pitch: amplitude * 0.5 * (t * 1.1).cos(),
            shift: (30.0 * (t * 0.7).sin(), 8.0 * (t * 0.9).sin()),
            distance: 900.0,
        }
    }
}

/// The homography taking picture pixels to camera pixels for a picture `span` camera pixels
/// wide (at the plane's distance) held at `pose` before a 600 px focal-length camera.
pub fn plane_homography(picture: (u32, u32), span: f64, pose: PlanePose) -> Mat3 {
    let (w, h) = (f64::from(CAMERA.0), f64::from(CAMERA.1));
    let f = 600.0;
    let scale = span / f64::from(picture.0) * pose.distance / f;
    let (sy, cy) = pose.yaw.to_radians().sin_cos();
    let (sp, cp) = pose.pitch.to_radians().sin_cos();
    // R = Rx(pitch) * Ry(yaw): the plane's axes r1, r2 and its position t.
    let r = [cy, 0.0, sy, sp * sy, cp, -sp * cy, -cp * sy, sp, cp * cy];
    let (u0, v0) = (f64::from(picture.0) / 2.0, f64::from(picture.1) / 2.0);
    let col = |i: usize| [r[i], r[3 + i], r[6 + i]];
    let (r1, r2) = (col(0), col(1));
    let t = [pose.shift.0, pose.shift.1, pose.distance];
    let mut m = [0.0; 9];
    for row in 0..3 {
        let k = |v: [f64; 3]| match row {
            0 => f * v[0] + w / 2.0 * v[2],
            1 => f * v[1] + h / 2.0 * v[2],
            _ => v[2],
        };
        let a = k(r1) * scale;
        let b = k(r2) * scale;
        m[row * 3] = a;
        m[row * 3 + 1] = b;
        m[row * 3 + 2] = k(t) - a * u0 - b * v0;
    }
    m
}

/// Bilinear sample of `img` at (u, v); `None` outside.
fn sample(img: &RgbImage, u: f64, v: f64) -> Option<[f64; 3]> {
    if u < 0.0 || v < 0.0 || u >= f64::from(img.width() - 1) || v >= f64::from(img.height() - 1) {
        return None;
    }
    let (x0, y0) = (u.floor() as u32, v.floor() as u32);
    let (fx, fy) = (u - u.floor(), v - v.floor());
    let mut out = [0.0; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let p = |xx: u32, yy: u32| f64::from(img.get_pixel(xx, yy).0[c]);
        let top = p(x0, y0) * (1.0 - fx) + p(x0 + 1, y0) * fx;
        let bottom = p(x0, y0 + 1) * (1.0 - fx) + p(x0 + 1, y0 + 1) * fx;
        *o = top * (1.0 - fy) + bottom * fy;
    }
    Some(out)
}

fn to_u8(v: f64) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// `picture` seen through `h` (picture to camera) over `background` (the camera's size).
pub fn warp(picture: &RgbImage, h: &Mat3, background: &RgbImage) -> RgbImage {
    let inv = invert(h);
    RgbImage::from_fn(CAMERA.0, CAMERA.1, |x, y| {
        let (x, y) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
        let z = inv[6] * x + inv[7] * y + inv[8];
        let u = (inv[0] * x + inv[1] * y + inv[2]) / z;
        let v = (inv[3] * x + inv[4] * y + inv[5]) / z;
        match sample(picture, u, v) {
            Some(p) => Rgb([to_u8(p[0]), to_u8(p[1]), to_u8(p[2])]),
            None => *background.get_pixel(x as u32, y as u32),
        }
    })
}

/// An ordinary room behind the picture: a soft wall gradient with a door-frame edge and grain.
pub fn room() -> RgbImage {
    RgbImage::from_fn(CAMERA.0, CAMERA.1, |x, y| {
        let g = 150.0 - f64::from(y) * 0.08 + f64::from(x) * 0.03;
        let door = if (60..72).contains(&x) { -40.0 } else { 0.0 };
        let grain = f64::from(hash3(x, y, 7) % 9) - 4.0;
        let v = g + door + grain;
        Rgb([to_u8(v + 6.0), to_u8(v), to_u8(v - 8.0)])
    })
}

/// A photo printed on paper: a print's narrower range and duller colour, paper grain, and a lamp's
/// light falling across the sheet (brighter on one side), in the picture's own coordinates so it
/// moves with the paper.
pub fn paper(photo: &RgbImage, light: f64) -> RgbImage {
    let (w, h) = photo.dimensions();
    RgbImage::from_fn(w, h, |x, y| {
        let p = photo.get_pixel(x, y).0;
        let grey = (f64::from(p[0]) + f64::from(p[1]) + f64::from(p[2])) / 3.0;
        let across = f64::from(x) / f64::from(w) - 0.5;
        let lamp = 1.0 + light * across;
        let grain = f64::from(hash3(x, y, 11) % 13) - 6.0;
        let mut out = [0u8; 3];
        for (c, o) in out.iter_mut().enumerate() {
            // Ink on paper: 15..235 instead of 0..255, colours 15% towards grey.
            let v = 0.85 * f64::from(p[c]) + 0.15 * grey;
            *o = to_u8((15.0 + v * 0.86) * lamp + grain);
        }
        Rgb(out)
    })
}

/// A video frame as a phone's or monitor's screen shows it: the display's gamma and blue cast,
/// with a black bezel around it.
pub fn screen_picture(frame: &RgbImage, bezel: u32) -> RgbImage {
    let (w, h) = frame.dimensions();
    RgbImage::from_fn(w + 2 * bezel, h + 2 * bezel, |x, y| {
        if x < bezel || y < bezel || x >= w + bezel || y >= h + bezel {
            let v = 12 + (hash3(x, y, 3) % 6) as u8;
            return Rgb([v, v, v + 2]);
        }
        let p = frame.get_pixel(x - bezel, y - bezel).0;
        let g = |v: u8, k: f64| to_u8(255.0 * (f64::from(v) / 255.0).powf(0.8) * k + 10.0);
        Rgb([g(p[0], 0.93), g(p[1], 0.97), g(p[2], 1.04)])
    })
}

/// What the camera adds when it films a screen: moiré (the screen's pixel grid beating against
/// the sensor's, a fine slanted grating) and refresh banding (a darker band rolling down), `t`
/// seconds in.
pub fn screen_capture_artefacts(img: &mut RgbImage, t: f64) {
    let theta = 0.21f64;
    let (c, s) = (theta.cos(), theta.sin());
    let period = 3.4;
    let band_y = (t * 180.0) % (f64::from(img.height()) + 120.0) - 60.0;
    for (x, y, p) in img.enumerate_pixels_mut() {
        let (xf, yf) = (f64::from(x), f64::from(y));
        let grating = 1.0 + 0.07 * (std::f64::consts::TAU * (xf * c + yf * s) / period).sin();
        let band = if (yf - band_y).abs() < 40.0 { 0.9 } else { 1.0 };
        for v in p.0.iter_mut() {
            *v = to_u8(f64::from(*v) * grating * band);
        }
    }
}

/// Adversarial-style noise: a fixed, high-frequency perturbation of `amplitude` grey levels
/// (the sign pattern of a gradient attack, without its gradient: a white-box attack on our
/// cues is not staged).
pub fn adversarial_noise(img: &mut RgbImage, amplitude: f64, seed: u32) {
    for (x, y, p) in img.enumerate_pixels_mut() {
        for (c, v) in p.0.iter_mut().enumerate() {
            let sign = if hash3(x, y, seed.wrapping_add(c as u32)) & 1 == 0 {
                1.0
            } else {
                -1.0
            };
            *v = to_u8(f64::from(*v) + amplitude * sign);
        }
    }
}

/// An axis-aligned box in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

/// Copies `from`'s `src` box into `into`'s `dst` box (resampled), through an elliptical hole
/// with a soft edge: a real eye seen through a hole cut in a photo.
pub fn paste_through_hole(into: &mut RgbImage, dst: Rect, from: &RgbImage, src: Rect) {
    let (iw, ih) = (into.width() as f64, into.height() as f64);
    let x0 = dst.x.max(0.0) as u32;
    let y0 = dst.y.max(0.0) as u32;
    let x1 = (dst.x + dst.w).min(iw - 1.0).max(0.0) as u32;
    let y1 = (dst.y + dst.h).min(ih - 1.0).max(0.0) as u32;
    for y in y0..y1 {
        for x in x0..x1 {
            let fx = (f64::from(x) - dst.x) / dst.w;
            let fy = (f64::from(y) - dst.y) / dst.h;
            let r = ((fx - 0.5) * 2.0).powi(2) + ((fy - 0.5) * 2.0).powi(2);
            if r >= 1.0 {
                continue;
            }
            let alpha = ((1.0 - r) / 0.3).min(1.0);
            let Some(p) = sample(from, src.x + fx * src.w, src.y + fy * src.h) else {
                continue;
            };
            let q = into.get_pixel_mut(x, y);
            for (out, &v) in q.0.iter_mut().zip(&p) {
                *out = to_u8(alpha * v + (1.0 - alpha) * f64::from(*out));
            }
        }
    }
}

/// `img` scaled to fit inside `fit` (never up), as the page's capture would.
pub fn fit(img: &RgbImage, fit: (u32, u32)) -> RgbImage {
    let (w, h) = img.dimensions();
    let k = (f64::from(fit.0) / f64::from(w))
        .min(f64::from(fit.1) / f64::from(h))
        .min(1.0);
    if k >= 1.0 {
        return img.clone();
    }
    let (nw, nh) = (
        ((f64::from(w) * k).round() as u32).max(1),
        ((f64::from(h) * k).round() as u32).max(1),
    );
    imageops::resize(img, nw, nh, imageops::FilterType::Triangle)
}

/// `img` scaled to fit `size` and centred on grey (a second clip shown in the first's frame).
pub fn letterbox(img: &RgbImage, size: (u32, u32)) -> RgbImage {
    let (w, h) = img.dimensions();
    let k = (f64::from(size.0) / f64::from(w)).min(f64::from(size.1) / f64::from(h));
    let (nw, nh) = (
        ((f64::from(w) * k).round() as u32).clamp(1, size.0),
        ((f64::from(h) * k).round() as u32).clamp(1, size.1),
    );
    let scaled = imageops::resize(img, nw, nh, imageops::FilterType::Triangle);
    let mut out = RgbImage::from_pixel(size.0, size.1, Rgb([128, 128, 128]));
    imageops::overlay(
        &mut out,
        &scaled,
        i64::from((size.0 - nw) / 2),
        i64::from((size.1 - nh) / 2),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_picture_facing_the_camera_lands_in_the_middle() {
        let h = plane_homography(
            (300, 400),
            300.0,
            PlanePose {
                yaw: 0.0,
                pitch: 0.0,
                shift: (0.0, 0.0),
                distance: 900.0,
            },
        );
        let centre = |u: f64, v: f64| {
            let z = h[6] * u + h[7] * v + h[8];
            (
                (h[0] * u + h[1] * v + h[2]) / z,
                (h[3] * u + h[4] * v + h[5]) / z,
            )
        };
        let (x, y) = centre(150.0, 200.0);
        assert!(
            (x - 240.0).abs() < 1e-6 && (y - 320.0).abs() < 1e-6,
            "{x} {y}"
        );
        let (left, _) = centre(0.0, 200.0);
        assert!((left - 90.0).abs() < 1e-6, "{left}");
        let inv = invert(&h);
        let mut p = [0.0; 9];
        for r in 0..3 {
            for c in 0..3 {
                p[r * 3 + c] = (0..3).map(|k| h[r * 3 + k] * inv[k * 3 + c]).sum();
            }
        }
        for (i, v) in p.iter().enumerate() {
            let want = if i % 4 == 0 { 1.0 } else { 0.0 };
            assert!((v - want).abs() < 1e-9, "{p:?}");
        }
    }

    #[test]
    fn a_hole_shows_what_is_behind_it_and_nothing_outside() {
        let mut photo = RgbImage::from_pixel(100, 100, Rgb([10, 10, 10]));
        let eye = RgbImage::from_pixel(50, 50, Rgb([200, 200, 200]));
        let dst = Rect {
            x: 20.0,
            y: 20.0,
            w: 40.0,
            h: 20.0,
        };
        let src = Rect {
            x: 5.0,
            y: 5.0,
            w: 40.0,
            h: 40.0,
        };
        paste_through_hole(&mut photo, dst, &eye, src);
        assert_eq!(photo.get_pixel(40, 30).0, [200, 200, 200]);
        assert_eq!(photo.get_pixel(21, 21).0, [10, 10, 10]);
        assert_eq!(photo.get_pixel(80, 80).0, [10, 10, 10]);
    }
}
