//! Cue 2, screen and print: what a camera sees when it films a screen or a print instead of
//! a face.
//!
//! - Moiré: a screen's pixel grid beating against the camera's sensor leaves sharp periodic
//!   peaks in the high frequencies of the face crop; skin does not. Measured on a 2-D DFT of a
//!   grey crop at the frame's own resolution, each frequency divided by the mean power at its
//!   radius (natural images fall off smoothly with frequency), averaged over the sampled frames.
//! - Glare: a glossy screen or photo reflects a lamp as a large clipped-white patch on the face;
//!   skin's highlights are small.
//!
//! Long straight edges (bezels, paper edges) are the `border` cue's ([`super::border`]): a
//! medium's edges enclose the face, where a door frame's rarely do.

use image::RgbImage;

use super::{PixelSampling, Reading};
use crate::FaceBox;

/// Band of frequencies searched for peaks, in cycles per pixel (the skin's texture and the
/// face's edges sit below it; the top is under the Nyquist frequency's corner region).
const BAND: (f32, f32) = (0.12, 0.45);
/// Moiré statistic (peak over its radius's mean, in standard deviations of the averaged
/// spectrum) at or under which the crop looks like skin: score 0...
pub const MOIRE_CLEAN: f32 = 12.0;
/// ...and at or over which it holds a screen's periodic peak: score 1.
pub const MOIRE_PEAK: f32 = 24.0;
/// Share of the face's pixels clipped white at or under which highlights are skin's: score 0...
pub const GLARE_CLEAN: f32 = 0.03;
/// ...and at or over which a reflecting surface covers the face: score 1.
pub const GLARE_FULL: f32 = 0.12;
/// A channel value this high (of 255) counts as clipped in all three channels.
const CLIPPED: u8 = 245;

/// The screen-and-print accumulator: feed it frames with the main face's box.
#[derive(Debug, Clone, Default)]
pub struct ScreenCues {
    /// Sum of the normalised spectra, and its side; reset if the side changes.
    spectrum: Vec<f32>,
    side: usize,
    spectra: usize,
    glare: Vec<f32>,
    sampling: PixelSampling,
}

impl ScreenCues {
    /// Whether a frame at `t` would be sampled (the caller can skip lending pixels otherwise).
    pub fn wants(&self, t: f64) -> bool {
        self.sampling.wants(t)
    }

    /// Adds the face region of `frame` at `t`.
    pub fn observe(&mut self, t: f64, frame: &RgbImage, face: &FaceBox) {
        if !self.wants(t) || face.width < 24.0 || face.height < 24.0 {
            return;
        }
        self.sampling.take(t);
        self.glare.push(glare_share(frame, face));
        let side = if face.width >= 160.0 { 128 } else { 64 };
        let Some(grey) = grey_crop(frame, face.center(), side) else {
            return;
        };
        let normalised = normalised_spectrum(&grey, side);
        if self.side != side {
            self.side = side;
            self.spectra = 0;
            self.spectrum = vec![0.0; side * side];
        }
        for (sum, v) in self.spectrum.iter_mut().zip(normalised) {
            *sum += v;
        }
        self.spectra += 1;
    }

    /// The moiré statistic: how far the strongest in-band peak of the averaged, radially
    /// normalised spectrum stands above 1, in standard deviations.
    pub fn moire_statistic(&self) -> Option<f32> {
        if self.spectra == 0 {
            return None;
        }
        let n = self.side;
        let m = self.spectra as f32;
        let peak = band_cells(n)
            .map(|(i, _)| self.spectrum[i] / m)
            .fold(0.0f32, f32::max);
        // The mean of m normalised periodograms has a standard deviation of about 1/sqrt(m).
        Some((peak - 1.0) * m.sqrt())
    }

    /// Mean share of clipped-white pixels on the face.
    pub fn glare_share(&self) -> Option<f32> {
        (!self.glare.is_empty()).then(|| self.glare.iter().sum::<f32>() / self.glare.len() as f32)
    }

    /// What the moiré cue says (`screen_moire`).
    pub fn moire(&self) -> Reading {
        self.moire_statistic()
            .map_or(Reading::Undecided("no_face_pixels"), |s| {
                Reading::Score(ramp(s, MOIRE_CLEAN, MOIRE_PEAK))
            })
    }

    /// What the glare cue says (`glare`).
    pub fn glare(&self) -> Reading {
        self.glare_share()
            .map_or(Reading::Undecided("no_face_pixels"), |g| {
                Reading::Score(ramp(g, GLARE_CLEAN, GLARE_FULL))
            })
    }
}

/// 0 at or under `low`, 1 at or over `high`, linear between.
pub(super) fn ramp(v: f32, low: f32, high: f32) -> f32 {
    ((v - low) / (high - low)).clamp(0.0, 1.0)
}

/// Share of the inner face box's pixels that are clipped white in every channel.
fn glare_share(frame: &RgbImage, face: &FaceBox) -> f32 {
    let (w, h) = frame.dimensions();
    let x0 = (face.x + face.width * 0.1).max(0.0) as u32;
    let y0 = (face.y + face.height * 0.1).max(0.0) as u32;
    let x1 = ((face.x + face.width * 0.9) as u32).min(w);
    let y1 = ((face.y + face.height * 0.9) as u32).min(h);
    let (mut clipped, mut total) = (0u32, 0u32);
    for y in y0..y1 {
        for x in x0..x1 {
            let p = frame.get_pixel(x, y).0;
            total += 1;
            if p.iter().all(|&c| c >= CLIPPED) {
                clipped += 1;
            }
        }
    }
    if total == 0 {
        0.0
    } else {
        clipped as f32 / total as f32
    }
}

/// A `side` x `side` grey crop centred on `center`, moved inside the frame; `None` if the frame
/// is smaller than the crop.
fn grey_crop(frame: &RgbImage, center: (f32, f32), side: usize) -> Option<Vec<f32>> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    if w < side || h < side {
        return None;
    }
    let x0 = ((center.0 as isize) - side as isize / 2).clamp(0, (w - side) as isize) as usize;
    let y0 = ((center.1 as isize) - side as isize / 2).clamp(0, (h - side) as isize) as usize;
    let mut grey = Vec::with_capacity(side * side);
    for y in y0..y0 + side {
        for x in x0..x0 + side {
            let p = frame.get_pixel(x as u32, y as u32).0;
            grey.push(0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]));
        }
    }
    Some(grey)
}

/// Signed frequency index of DFT bin `k` of `n`.
fn signed(k: usize, n: usize) -> isize {
    if k > n / 2 {
        k as isize - n as isize
    } else {
        k as isize
    }
}

/// Cells of an `n` x `n` spectrum inside [`BAND`], off the axes (edges and block boundaries put
/// energy there) and off the 8-pixel block grid of JPEG and video codecs: (index, radius bin).
fn band_cells(n: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n * n).filter_map(move |i| {
        let (ky, kx) = (signed(i / n, n), signed(i % n, n));
        let r = ((kx * kx + ky * ky) as f32).sqrt();
        let f = r / n as f32;
        let block = (n / 8) as isize;
        let on_grid = |k: isize| k.abs() <= 1 || (block > 0 && k % block == 0);
        (f >= BAND.0 && f <= BAND.1 && !on_grid(kx) && !on_grid(ky))
            .then_some((i, r.round() as usize))
    })
}

/// Power spectrum of a Hann-windowed, mean-removed crop, each cell divided by the mean power of
/// the in-band cells at its radius (cells outside the band are 0).
fn normalised_spectrum(grey: &[f32], n: usize) -> Vec<f32> {
    let mean = grey.iter().sum::<f32>() / grey.len() as f32;
    let hann: Vec<f32> = (0..n)
        .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / n as f32).cos())
        .collect();
    // The 2-D DFT's power by rows, then columns, each a radix-2 FFT (n is 64 or 128): about
    // n^2 log2(n) operations, 20 times fewer than the direct sums this replaced, which cost a
    // fifth of the server's CPU once sessions fed every frame to the cues (issue 7).
    let mut re = vec![0.0f32; n * n];
    let mut im = vec![0.0f32; n * n];
    for y in 0..n {
        for x in 0..n {
            re[y * n + x] = (grey[y * n + x] - mean) * hann[x] * hann[y];
        }
    }
    let fft = Fft::new(n);
    for (row_re, row_im) in re.chunks_exact_mut(n).zip(im.chunks_exact_mut(n)) {
        fft.forward(row_re, row_im);
    }
    let (mut col_re, mut col_im) = (vec![0.0f32; n], vec![0.0f32; n]);
    let mut power = vec![0.0f32; n * n];
    for kx in 0..n {
        for y in 0..n {
            col_re[y] = re[y * n + kx];
            col_im[y] = im[y * n + kx];
        }
        fft.forward(&mut col_re, &mut col_im);
        for ky in 0..n {
            power[ky * n + kx] = col_re[ky] * col_re[ky] + col_im[ky] * col_im[ky];
        }
    }
    let mut ring_sum = vec![0.0f32; n];
    let mut ring_count = vec![0u32; n];
    let cells: Vec<(usize, usize)> = band_cells(n).collect();
    for &(i, r) in &cells {
        ring_sum[r] += power[i];
        ring_count[r] += 1;
    }
    let mut out = vec![0.0f32; n * n];
    for &(i, r) in &cells {
        let mean = ring_sum[r] / ring_count[r].max(1) as f32;
        if mean > 0.0 {
            out[i] = power[i] / mean;
        }
    }
    out
}

/// An in-place radix-2 complex FFT of one length (a power of two), forward (e^-i).
struct Fft {
    n: usize,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Fft {
    fn new(n: usize) -> Self {
        debug_assert!(n.is_power_of_two());
        let (cos, sin) = (0..n / 2)
            .map(|k| {
                let a = std::f64::consts::TAU * k as f64 / n as f64;
                (a.cos() as f32, a.sin() as f32)
            })
            .unzip();
        Self { n, cos, sin }
    }

    fn forward(&self, re: &mut [f32], im: &mut [f32]) {
        let n = self.n;
        let bits = n.trailing_zeros();
        if bits == 0 {
            return;
        }
        for i in 0..n {
            let j = i.reverse_bits() >> (usize::BITS - bits);
            if j > i {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        let mut len = 2;
        while len <= n {
            let half = len / 2;
            let step = n / len;
            for start in (0..n).step_by(len) {
                for k in 0..half {
                    let (c, s) = (self.cos[k * step], self.sin[k * step]);
                    let (a, b) = (start + k, start + k + half);
                    // (re + i im) * (cos - i sin)
                    let tr = re[b] * c + im[b] * s;
                    let ti = im[b] * c - re[b] * s;
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] += tr;
                    im[a] += ti;
                }
            }
            len *= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fft_gives_the_direct_dft() {
        let n = 64;
        let signal: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.3 + (i as f32 * 0.7).sin())
            .collect();
        let (mut re, mut im) = (signal.clone(), vec![0.0f32; n]);
        Fft::new(n).forward(&mut re, &mut im);
        for k in 0..n {
            let (mut sr, mut si) = (0.0f64, 0.0f64);
            for (x, v) in signal.iter().enumerate() {
                let a = std::f64::consts::TAU * (k * x) as f64 / n as f64;
                sr += f64::from(*v) * a.cos();
                si -= f64::from(*v) * a.sin();
            }
            assert!(
                (f64::from(re[k]) - sr).abs() < 1e-3,
                "re[{k}]: {} vs {sr}",
                re[k]
            );
            assert!(
                (f64::from(im[k]) - si).abs() < 1e-3,
                "im[{k}]: {} vs {si}",
                im[k]
            );
        }
    }

    fn face() -> FaceBox {
        FaceBox {
            x: 40.0,
            y: 40.0,
            width: 180.0,
            height: 180.0,
            score: 1.0,
        }
    }

    /// A smooth, noisy "skin" frame, plus `grating` of amplitude `a` at 0.3 cycles/px diagonal.
    fn frame(a: f32, seed: u32) -> RgbImage {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        RgbImage::from_fn(260, 260, |x, y| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state % 9) as f32 - 4.0;
            let base = 140.0 + 30.0 * ((x as f32 / 40.0).sin() + (y as f32 / 55.0).cos());
            let grating =
                a * (std::f32::consts::TAU * 0.3 * (x as f32 * 0.8 + y as f32 * 0.6)).sin();
            let v = (base + noise + grating).clamp(0.0, 255.0) as u8;
            image::Rgb([v, v, v])
        })
    }

    fn moire_of(a: f32) -> f32 {
        let mut cues = ScreenCues::default();
        for k in 0..6 {
            cues.observe(f64::from(k) * 0.3, &frame(a, k + 1), &face());
        }
        cues.moire_statistic().expect("sampled")
    }

    #[test]
    fn a_periodic_grating_is_moire_and_noise_is_not() {
        let clean = moire_of(0.0);
        let grid = moire_of(6.0);
        assert!(clean < MOIRE_CLEAN, "clean {clean}");
        assert!(grid > MOIRE_PEAK, "grid {grid}");
    }

    #[test]
    fn white_glare_on_the_face_is_counted() {
        let mut cues = ScreenCues::default();
        let mut f = frame(0.0, 3);
        for y in 60..160 {
            for x in 60..200 {
                f.put_pixel(x, y, image::Rgb([255, 255, 255]));
            }
        }
        cues.observe(0.0, &f, &face());
        assert_eq!(cues.glare(), Reading::Score(1.0));
    }
}
