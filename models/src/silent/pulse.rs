//! Cue 3, pulse (rPPG), soft: does the skin's colour beat at a heart rate?
//!
//! The mean colour of the forehead and both cheeks, frame by frame, combined by CHROM (de Haan
//! and Jeanne 2013: two chrominance signals that cancel most of the light's and the motion's
//! share), then the share of its power at the strongest frequency in 0.7–4 Hz (42–240 beats a
//! minute) and its first harmonic. Needs 4 s of frames at 8 fps or more; head motion, talking,
//! compression and make-up all weaken it, so it never decides alone (see the fusion rule in
//! `docs/attacks.md`).

use image::RgbImage;

use super::screen::ramp;
use super::Reading;
use crate::FaceObservation;

/// Mesh points at the centres of the skin patches: forehead, the two cheeks.
const PATCHES: [usize; 3] = [151, 50, 280];
/// Half the side of a patch, as a share of face width.
const PATCH_HALF: f32 = 0.06;
/// Least span of frames, seconds.
pub const MIN_SPAN_S: f64 = 4.0;
/// Least frame rate, frames a second.
pub const MIN_FPS: f64 = 8.0;
/// Heart-rate band, Hz.
const BAND: (f64, f64) = (0.7, 4.0);
/// Whole band the power is compared against, Hz (the top is cut at half the frame rate).
const WHOLE: (f64, f64) = (0.5, 5.0);
/// Half-width of the peak's window, Hz.
const PEAK_HALF: f64 = 0.15;
/// Frequency step of the spectrum, Hz.
const STEP: f64 = 0.02;
/// Share of power in the pulse peak at or over which a pulse is present: `no_pulse` score 0...
pub const PULSE_CLEAR: f32 = 0.35;
/// ...and at or under which none is: score 1.
pub const PULSE_ABSENT: f32 = 0.18;

/// The pulse accumulator: feed it the main face and the frame's pixels.
#[derive(Debug, Clone, Default)]
pub struct Pulse {
    /// (t, mean r, g, b) of the skin patches.
    samples: Vec<(f64, [f64; 3])>,
}

impl Pulse {
    /// Adds the skin colour of `face` in `frame` at `t`.
    pub fn observe(&mut self, t: f64, frame: &RgbImage, face: &FaceObservation) {
        if face.mesh.len() <= PATCHES[0].max(PATCHES[1]).max(PATCHES[2]) {
            return;
        }
        if self.samples.last().is_some_and(|&(last, _)| t <= last) {
            // A clock that went backwards starts over.
            if self.samples.last().is_some_and(|&(last, _)| t < last) {
                self.samples.clear();
            } else {
                return;
            }
        }
        let half = (face.face.width * PATCH_HALF).max(1.0);
        let (w, h) = (frame.width() as f32, frame.height() as f32);
        let mut sum = [0.0f64; 3];
        let mut count = 0u32;
        for &i in &PATCHES {
            let [cx, cy, _] = face.mesh[i];
            let x0 = (cx - half).max(0.0) as u32;
            let y0 = (cy - half).max(0.0) as u32;
            let x1 = (cx + half).min(w) as u32;
            let y1 = (cy + half).min(h) as u32;
            for y in y0..y1 {
                for x in x0..x1 {
                    let p = frame.get_pixel(x, y).0;
                    for c in 0..3 {
                        sum[c] += f64::from(p[c]);
                    }
                    count += 1;
                }
            }
        }
        if count > 0 {
            let n = f64::from(count);
            self.samples.push((t, [sum[0] / n, sum[1] / n, sum[2] / n]));
        }
    }

    /// Share of the CHROM signal's power in its pulse peak (and first harmonic); `None` when
    /// the frames are too few, too short or too sparse.
    pub fn pulse_share(&self) -> Option<f32> {
        let (first, last) = (self.samples.first()?.0, self.samples.last()?.0);
        let span = last - first;
        if span < MIN_SPAN_S || (self.samples.len() as f64) / span < MIN_FPS {
            return None;
        }
        let fps = self.samples.len() as f64 / span;
        let times: Vec<f64> = self.samples.iter().map(|s| s.0 - first).collect();
        // Each channel over its own 1 s moving mean: the light's level and slow drifts go.
        let channel = |c: usize| -> Vec<f64> {
            let raw: Vec<f64> = self.samples.iter().map(|s| s.1[c]).collect();
            let trend = moving_mean(&times, &raw, 0.5);
            raw.iter()
                .zip(&trend)
                .map(|(v, m)| if *m > 0.0 { v / m } else { 1.0 })
                .collect()
        };
        let (r, g, b) = (channel(0), channel(1), channel(2));
        let x: Vec<f64> = r.iter().zip(&g).map(|(r, g)| 3.0 * r - 2.0 * g).collect();
        let y: Vec<f64> = r
            .iter()
            .zip(&g)
            .zip(&b)
            .map(|((r, g), b)| 1.5 * r + g - 1.5 * b)
            .collect();
        let alpha = std_dev(&x) / std_dev(&y).max(1e-12);
        let s: Vec<f64> = x.iter().zip(&y).map(|(x, y)| x - alpha * y).collect();
        let trend = moving_mean(&times, &s, 0.5);
        let s: Vec<f64> = s.iter().zip(&trend).map(|(v, m)| v - m).collect();

        let top = WHOLE.1.min(fps / 2.0);
        let freqs: Vec<f64> = (0..)
            .map(|k| WHOLE.0 + f64::from(k) * STEP)
            .take_while(|f| *f <= top)
            .collect();
        let power: Vec<f64> = freqs.iter().map(|&f| power_at(&times, &s, f)).collect();
        let total: f64 = power.iter().sum();
        if total <= 0.0 {
            return None;
        }
        let (peak_f, _) = freqs
            .iter()
            .zip(&power)
            .filter(|(f, _)| (BAND.0..=BAND.1).contains(*f))
            .max_by(|a, b| a.1.total_cmp(b.1))?;
        let near = |f: f64, centre: f64| (f - centre).abs() <= PEAK_HALF;
        let in_peak: f64 = freqs
            .iter()
            .zip(&power)
            .filter(|(f, _)| near(**f, *peak_f) || near(**f, 2.0 * peak_f))
            .map(|(_, p)| p)
            .sum();
        Some((in_peak / total) as f32)
    }

    /// What the cue says (`no_pulse`).
    pub fn reading(&self) -> Reading {
        self.pulse_share()
            .map_or(Reading::Undecided("pulse_too_short"), |share| {
                Reading::Score(1.0 - ramp(share, PULSE_ABSENT, PULSE_CLEAR))
            })
    }
}

/// Power of the samples `(t, v)` at frequency `f` (a DFT term on uneven times).
fn power_at(times: &[f64], values: &[f64], f: f64) -> f64 {
    let w = std::f64::consts::TAU * f;
    let (mut re, mut im) = (0.0, 0.0);
    for (t, v) in times.iter().zip(values) {
        re += v * (w * t).cos();
        im -= v * (w * t).sin();
    }
    re * re + im * im
}

/// Mean of the values within `half` seconds of each time (times ascending).
fn moving_mean(times: &[f64], values: &[f64], half: f64) -> Vec<f64> {
    let (mut lo, mut hi, mut sum) = (0usize, 0usize, 0.0);
    let mut out = Vec::with_capacity(values.len());
    for &t in times {
        while hi < times.len() && times[hi] <= t + half {
            sum += values[hi];
            hi += 1;
        }
        while times[lo] < t - half {
            sum -= values[lo];
            lo += 1;
        }
        out.push(sum / (hi - lo).max(1) as f64);
    }
    out
}

fn std_dev(v: &[f64]) -> f64 {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FaceBox, FaceQuality, HeadPose};

    fn face() -> FaceObservation {
        let mut mesh = vec![[100.0f32, 100.0, 0.0]; 468];
        mesh[151] = [100.0, 60.0, 0.0];
        mesh[50] = [70.0, 110.0, 0.0];
        mesh[280] = [130.0, 110.0, 0.0];
        FaceObservation {
            face: FaceBox {
                x: 50.0,
                y: 40.0,
                width: 100.0,
                height: 120.0,
                score: 1.0,
            },
            presence: 1.0,
            mesh,
            pose: HeadPose::default(),
            left_eye: None,
            right_eye: None,
            mesh_eye_openness: [0.3, 0.3],
            mouth_openness: 0.0,
            quality: FaceQuality::default(),
        }
    }

    /// 6 s at 15 fps of skin whose colour beats at `hz` with `amplitude` (plus flicker noise).
    fn clip(hz: f64, amplitude: f64) -> Pulse {
        let mut pulse = Pulse::default();
        let mut state = 7u32;
        for k in 0..90 {
            let t = f64::from(k) / 15.0;
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let noise = f64::from((state >> 16) % 5) * 0.3 - 0.6;
            let beat = amplitude * (std::f64::consts::TAU * hz * t).sin();
            // Blood volume darkens green most, red least.
            let px = image::Rgb([
                (170.0 - 0.3 * beat + noise) as u8,
                (120.0 - beat + noise) as u8,
                (100.0 - 0.5 * beat + noise) as u8,
            ]);
            pulse.observe(t, &RgbImage::from_pixel(200, 200, px), &face());
        }
        pulse
    }

    #[test]
    fn a_beating_skin_has_a_pulse_and_flat_noise_has_none() {
        let beating = clip(1.2, 3.0).pulse_share().expect("long enough");
        let flat = clip(1.2, 0.0).pulse_share().expect("long enough");
        assert!(beating > PULSE_CLEAR, "beating {beating}");
        assert!(flat < beating, "flat {flat} beating {beating}");
    }

    #[test]
    fn a_short_clip_is_undecided() {
        let mut pulse = Pulse::default();
        let px = image::Rgb([170, 120, 100]);
        for k in 0..30 {
            pulse.observe(
                f64::from(k) / 15.0,
                &RgbImage::from_pixel(200, 200, px),
                &face(),
            );
        }
        assert_eq!(pulse.reading(), Reading::Undecided("pulse_too_short"));
    }
}
