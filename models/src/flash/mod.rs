//! Colour-flash liveness (炫彩活体): does the face answer the colours the screen flashed?
//!
//! The page lights the screen around the face oval with a server-chosen random sequence of
//! saturated colours and tags every frame with the step on screen when it was captured (the
//! frame header's `flash` byte: 0 = none, `i + 1` = step `i`). A face at 20–30 cm from a phone
//! reflects that light: its skin's chroma moves toward each colour in turn. This module measures
//! and decides, with no I/O:
//!
//! - [`measure`]: per frame, the mean linear colour of five skin patches (forehead, nose, both
//!   cheeks, chin, placed by the mesh) and of the background beside the face.
//! - [`FlashCheck`]: an accumulator of tagged samples, then [`FlashCheck::verdict`]:
//!   1. the chroma shift of every patch per step, against the mean of the untagged frames just
//!      before the flash (the baseline);
//!   2. camera latency: a frame shows the light of a frame 0–3 frames older than its tag, so
//!      the lag with the best match is taken;
//!   3. the face must answer: the shift along each colour's expected direction (computed from
//!      the baseline's own skin colour) must stand out of the baseline's noise, else
//!      `flash_no_response`, or `flash_too_bright` when the scene is bright enough to drown the
//!      screen's light (a prompt to move out of direct light, never a silent fail);
//!   4. in the right order: the correlation of the shifts with the flashed colours, and the
//!      tags' own timing against the sequence's durations, else `flash_wrong_sequence`;
//!   5. like a 3D face near the screen: the light gained per patch (a least-squares gain for
//!      each patch over the steps) must differ between nose, cheeks, forehead and chin as a
//!      curved surface's does, and the background beside the face must gain much less than the
//!      face; else `flash_flat` (a photo, a screen or paper held to the phone).
//! - [`sim`]: the simulator the tests and the attack battery stage sessions with: real clips
//!   lit by a sequence the way a screen lights a curved face, and the attacks.
//!
//! Figures and honest limits are in `docs/attacks.md` ("Colour flash").

pub mod sim;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::FaceObservation;

/// One colour the screen may flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlashColour {
    /// Its name on the wire and in logs (`red`, `cyan` ...).
    pub name: &'static str,
    /// sRGB at full brightness.
    pub rgb: [u8; 3],
}

/// The palette: six saturated hues 60° apart, so any two differ clearly in the chroma they
/// add to skin. White is left out on purpose: it adds light but no chroma.
pub const PALETTE: [FlashColour; 6] = [
    FlashColour {
        name: "red",
        rgb: [255, 0, 0],
    },
    FlashColour {
        name: "yellow",
        rgb: [255, 255, 0],
    },
    FlashColour {
        name: "green",
        rgb: [0, 255, 0],
    },
    FlashColour {
        name: "cyan",
        rgb: [0, 255, 255],
    },
    FlashColour {
        name: "blue",
        rgb: [0, 0, 255],
    },
    FlashColour {
        name: "magenta",
        rgb: [255, 0, 255],
    },
];

/// One step of a flash sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlashStep {
    /// Index into [`PALETTE`].
    pub colour: u8,
    /// How long it stays on screen, in milliseconds.
    pub ms: u32,
}

impl FlashStep {
    /// The palette colour, if the index is valid.
    pub fn palette(&self) -> Option<FlashColour> {
        PALETTE.get(usize::from(self.colour)).copied()
    }
}

/// Mesh points at the centres of the skin patches: forehead, nose, left cheek, right cheek,
/// chin. They face the screen at different angles on a real head.
pub const PATCHES: [usize; 5] = [151, 4, 50, 280, 199];
/// The patches' names, in [`PATCHES`] order.
pub const PATCH_NAMES: [&str; 5] = ["forehead", "nose", "left_cheek", "right_cheek", "chin"];
/// Half the side of a patch, as a share of the face box's width.
const PATCH_HALF: f32 = 0.05;
/// Pixels sampled every this many in both directions (patches hold hundreds of pixels).
const STRIDE: u32 = 2;

/// Largest camera latency searched, in frames.
pub const MAX_LAG: usize = 3;
/// Fewest untagged frames before the flash for a baseline.
pub const MIN_BASELINE_FRAMES: usize = 2;
/// Untagged frames before the flash averaged into the baseline (the last ones).
const BASELINE_FRAMES: usize = 8;
/// Floor of the baseline's chroma noise (JPEG quantisation alone leaves about this much).
const NOISE_FLOOR: f32 = 0.0015;
/// Least mean chroma shift along the flashed colours for the face to have answered.
pub const MIN_SHIFT: f32 = 0.008;
/// Least F ratio of the face's chroma between flash steps over within them for the face to
/// have answered at all (about 1 when nothing but noise and motion moves it).
pub const MIN_STEPWISE_F: f32 = 20.0;
/// Least correlation between the face's shifts and the flashed colours' directions.
pub const MIN_CORRELATION: f32 = 0.6;
/// Least agreement of the patches on each step's shift for the face to have answered (five
/// random shifts give about 0.45).
pub const MIN_COHERENCE: f32 = 0.6;
/// Largest gain of the background relative to the face's (a distant background gains little).
pub const MAX_BACKGROUND_RATIO: f32 = 0.5;
/// Least spread of the patches' gains (std / mean) for a curved surface; a flat sheet lit by
/// one screen gains the same everywhere.
pub const MIN_SHADING_SPREAD: f32 = 0.08;
/// Face brightness (sRGB mean, 0..1) at or over which a weak answer is blamed on the light.
pub const BRIGHT_FACE: f32 = 0.75;
/// Share of clipped face pixels at or over which the same holds.
pub const BRIGHT_CLIPPED: f32 = 0.2;
/// How far a step's tagged span may differ from its scheduled length, beyond one frame gap, in
/// milliseconds (timers on a busy phone slip).
pub const TIMING_SLACK_MS: f64 = 150.0;

fn srgb_to_linear() -> &'static [f32; 256] {
    static LUT: OnceLock<[f32; 256]> = OnceLock::new();
    LUT.get_or_init(|| {
        let mut lut = [0.0f32; 256];
        for (i, v) in lut.iter_mut().enumerate() {
            let c = i as f32 / 255.0;
            *v = if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            };
        }
        lut
    })
}

/// sRGB byte to linear light, 0..=1.
pub fn linear(v: u8) -> f32 {
    srgb_to_linear()[usize::from(v)]
}

/// Linear light, 0..=1, to an sRGB byte.
pub fn to_srgb(v: f32) -> u8 {
    let v = v.clamp(0.0, 1.0);
    let c = if v <= 0.003_130_8 {
        v * 12.92
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    };
    (c * 255.0).round() as u8
}

/// The 2-D chroma of a linear colour: an opponent pair over the colour's sum, so brightness
/// alone does not move it.
pub fn chroma(c: [f32; 3]) -> [f32; 2] {
    let s = (c[0] + c[1] + c[2]).max(1e-6);
    [(c[0] - c[1]) / s, (c[0] + c[1] - 2.0 * c[2]) / (2.0 * s)]
}

/// What one frame says about the light on the face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlashSample {
    /// Capture time, seconds.
    pub t: f64,
    /// The step on screen when it was captured (0 = none, `i + 1` = step `i`).
    pub tag: u8,
    /// Mean linear colour of each patch, in [`PATCHES`] order.
    pub patches: [[f32; 3]; 5],
    /// Mean linear colour of the background beside the face, where the frame shows some.
    pub background: Option<[f32; 3]>,
    /// Mean sRGB brightness of the patches, 0..=1.
    pub face_luma: f32,
    /// Share of patch pixels clipped in some channel (≥ 250).
    pub clipped: f32,
}

#[derive(Default)]
struct Acc {
    sum: [f64; 3],
    luma: f64,
    clipped: u32,
    n: u32,
}

impl Acc {
    fn add_rect(&mut self, frame: &RgbImage, x0: f32, y0: f32, x1: f32, y1: f32) {
        let (w, h) = (frame.width() as f32, frame.height() as f32);
        let (x0, y0) = (x0.max(0.0) as u32, y0.max(0.0) as u32);
        let (x1, y1) = (x1.min(w).max(0.0) as u32, y1.min(h).max(0.0) as u32);
        for y in (y0..y1).step_by(STRIDE as usize) {
            for x in (x0..x1).step_by(STRIDE as usize) {
                let p = frame.get_pixel(x, y).0;
                for (sum, &v) in self.sum.iter_mut().zip(&p) {
                    *sum += f64::from(linear(v));
                }
                self.luma +=
                    (0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
                        / 255.0;
                if p.iter().any(|&v| v >= 250) {
                    self.clipped += 1;
                }
                self.n += 1;
            }
        }
    }

    fn mean(&self) -> Option<[f32; 3]> {
        (self.n > 0).then(|| {
            let n = f64::from(self.n);
            [
                (self.sum[0] / n) as f32,
                (self.sum[1] / n) as f32,
                (self.sum[2] / n) as f32,
            ]
        })
    }
}

/// Least pixels sampled in a background region for it to count.
const MIN_BACKGROUND_SAMPLES: u32 = 48;

/// Measures the skin patches and the background of one frame; `None` without a full mesh.
pub fn measure(t: f64, tag: u8, frame: &RgbImage, face: &FaceObservation) -> Option<FlashSample> {
    let max_index = PATCHES.iter().copied().max().unwrap_or(0);
    if face.mesh.len() <= max_index {
        return None;
    }
    let half = (face.face.width * PATCH_HALF).max(2.0);
    let mut patches = [[0.0f32; 3]; 5];
    let mut all = Acc::default();
    for (slot, &i) in patches.iter_mut().zip(PATCHES.iter()) {
        let [cx, cy, _] = face.mesh[i];
        let mut acc = Acc::default();
        acc.add_rect(frame, cx - half, cy - half, cx + half, cy + half);
        *slot = acc.mean()?;
        all.luma += acc.luma;
        all.clipped += acc.clipped;
        all.n += acc.n;
    }
    // Beside the face, a little away from it so hair and ears stay out: on a live person
    // that is the room behind, on a held photo the photo's own surroundings.
    let b = &face.face;
    let mut bg = Acc::default();
    for (x0, x1) in [
        (b.x - 0.9 * b.width, b.x - 0.45 * b.width),
        (b.x + 1.45 * b.width, b.x + 1.9 * b.width),
    ] {
        let mut side = Acc::default();
        side.add_rect(frame, x0, b.y, x1, b.y + b.height);
        if side.n >= MIN_BACKGROUND_SAMPLES {
            for c in 0..3 {
                bg.sum[c] += side.sum[c];
            }
            bg.n += side.n;
        }
    }
    let n = f64::from(all.n.max(1));
    Some(FlashSample {
        t,
        tag,
        patches,
        background: bg.mean(),
        face_luma: (all.luma / n) as f32,
        clipped: all.clipped as f32 / all.n.max(1) as f32,
    })
}

/// Why a flash check did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlashFailure {
    /// Too few frames before or during the flash to judge (no baseline, steps unseen).
    FlashTooFewFrames,
    /// The face's colour did not follow the screen's.
    FlashNoResponse,
    /// The face followed another sequence, or the frames' tags do not keep the sequence's time.
    FlashWrongSequence,
    /// The light fell on it like on a flat sheet: uniform over the face, or as strong on the
    /// background as on the face.
    FlashFlat,
    /// The scene is so bright that the screen cannot change the face's colour measurably.
    FlashTooBright,
}

impl FlashFailure {
    /// The reason's word in results (`flash_no_response` ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FlashFailure::FlashTooFewFrames => "flash_too_few_frames",
            FlashFailure::FlashNoResponse => "flash_no_response",
            FlashFailure::FlashWrongSequence => "flash_wrong_sequence",
            FlashFailure::FlashFlat => "flash_flat",
            FlashFailure::FlashTooBright => "flash_too_bright",
        }
    }
}

/// The decision and the measures behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlashVerdict {
    /// Whether the face answered the sequence as a live face near the screen does.
    pub live: bool,
    /// Why not (empty when live).
    pub reasons: Vec<FlashFailure>,
    /// The measures, by name (`shift`, `snr`, `correlation`, `background_ratio`,
    /// `shading_spread`, `lag_frames`, `steps_seen`, `face_luma`).
    pub measures: BTreeMap<String, f32>,
    /// One score in 0..=1 (1 = as a live face answers), for results' `scores.flash`.
    pub score: f32,
}

impl FlashVerdict {
    fn failed(reason: FlashFailure, measures: BTreeMap<String, f32>) -> Self {
        Self {
            live: false,
            reasons: vec![reason],
            measures,
            score: 0.0,
        }
    }
}

/// The accumulator: feed it every tagged frame's sample, then ask for the verdict.
#[derive(Debug, Clone)]
pub struct FlashCheck {
    steps: Vec<FlashStep>,
    samples: Vec<FlashSample>,
}

fn sub(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    [a[0] - b[0], a[1] - b[1]]
}

fn dot(a: [f32; 2], b: [f32; 2]) -> f32 {
    a[0] * b[0] + a[1] * b[1]
}

fn mean3(v: &[[f32; 3]]) -> [f32; 3] {
    let n = v.len().max(1) as f32;
    let mut m = [0.0f32; 3];
    for c in v {
        for k in 0..3 {
            m[k] += c[k] / n;
        }
    }
    m
}

/// The chroma shift per unit of added screen light on a surface whose colour is `base`:
/// the added light is the surface's own colour filtered by the screen's.
pub fn expected_shift(base: [f32; 3], colour: FlashColour) -> [f32; 2] {
    const EPS: f32 = 0.05;
    let c = colour.rgb.map(linear);
    let lit = [
        base[0] * (1.0 + EPS * c[0]),
        base[1] * (1.0 + EPS * c[1]),
        base[2] * (1.0 + EPS * c[2]),
    ];
    let d = sub(chroma(lit), chroma(base));
    [d[0] / EPS, d[1] / EPS]
}

/// Least-squares gain of `observed` on `predicted` (Σ o·p / Σ p·p); 0 without prediction.
fn gain(observed: &[[f32; 2]], predicted: &[[f32; 2]]) -> f32 {
    let num: f32 = observed
        .iter()
        .zip(predicted)
        .map(|(o, p)| dot(*o, *p))
        .sum();
    let den: f32 = predicted.iter().map(|p| dot(*p, *p)).sum();
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

/// What one latency hypothesis gives.
struct LagFit {
    lag: usize,
    /// Steps with at least one frame.
    seen: Vec<usize>,
    /// Face shift per seen step (pooled over patches).
    face: Vec<[f32; 2]>,
    correlation: f32,
    /// Mean shift along the expected directions, chroma units.
    shift: f32,
    /// How much the patches agree on each step's shift (|sum| / sum of lengths, mean over
    /// steps): one light moves every patch the same way; motion and noise do not.
    coherence: f32,
}

impl FlashCheck {
    /// A check of `steps` (step `i` is tagged `i + 1`).
    pub fn new(steps: Vec<FlashStep>) -> Self {
        Self {
            steps,
            samples: Vec::new(),
        }
    }

    /// The sequence being checked.
    pub fn steps(&self) -> &[FlashStep] {
        &self.steps
    }

    /// Adds one frame's sample; frames out of time order are ignored (the page's clock only
    /// moves forward).
    pub fn observe(&mut self, sample: FlashSample) {
        if self.samples.last().is_some_and(|s| sample.t <= s.t) {
            return;
        }
        self.samples.push(sample);
    }

    /// Frames kept so far.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether no frame was kept.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Whether the frames have moved past the sequence's last step (then [`Self::verdict`] has
    /// all it will get).
    pub fn past_the_end(&self) -> bool {
        let last = self.steps.len();
        let Some(end) = self.samples.iter().position(|s| usize::from(s.tag) == last) else {
            return false;
        };
        // The last step's frames, then enough untagged ones for the largest latency.
        self.samples[end..]
            .iter()
            .filter(|s| s.tag == 0 || usize::from(s.tag) > last)
            .count()
            > MAX_LAG
    }

    fn tags_keep_time(&self) -> bool {
        // Tags must climb 0, 1, 2, ... n, 0 without going back, each step seen, and each
        // step's span near its scheduled length.
        let mut last = 0usize;
        let mut first_t: Vec<Option<f64>> = vec![None; self.steps.len() + 1];
        let mut after: Vec<Option<f64>> = vec![None; self.steps.len() + 1];
        let mut ended = false;
        for s in &self.samples {
            let tag = usize::from(s.tag);
            if tag > self.steps.len() {
                return false;
            }
            if tag == 0 {
                if last > 0 {
                    ended = true;
                    if after[last].is_none() {
                        after[last] = Some(s.t);
                    }
                }
                continue;
            }
            if ended || tag < last {
                return false;
            }
            if tag > last {
                if last > 0 && after[last].is_none() {
                    after[last] = Some(s.t);
                }
                first_t[tag] = Some(s.t);
                last = tag;
            }
        }
        let gaps: Vec<f64> = self.samples.windows(2).map(|w| w[1].t - w[0].t).collect();
        let gap = median(gaps).unwrap_or(0.1);
        for (i, step) in self.steps.iter().enumerate() {
            let tag = i + 1;
            let (Some(start), Some(end)) = (first_t[tag], after[tag]) else {
                // A step with no frame at all: fine only when shorter than a frame gap.
                if f64::from(step.ms) / 1000.0 > 1.5 * gap && first_t[tag].is_none() {
                    return false;
                }
                continue;
            };
            let span_ms = (end - start) * 1000.0;
            if (span_ms - f64::from(step.ms)).abs() > TIMING_SLACK_MS + 1000.0 * gap {
                return false;
            }
        }
        true
    }

    fn baseline(&self) -> Option<Vec<&FlashSample>> {
        let first_flash = self.samples.iter().position(|s| s.tag != 0)?;
        let before: Vec<&FlashSample> = self.samples[..first_flash]
            .iter()
            .rev()
            .take(BASELINE_FRAMES)
            .collect();
        (before.len() >= MIN_BASELINE_FRAMES).then_some(before)
    }

    fn fit(&self, lag: usize, base: &[[f32; 3]; 5]) -> Option<LagFit> {
        let first_flash = self.samples.iter().position(|s| s.tag != 0)?;
        let mut seen = Vec::new();
        let mut face = Vec::new();
        let mut along = 0.0f32;
        let mut coherence = 0.0f32;
        for (i, step) in self.steps.iter().enumerate() {
            let tag = (i + 1) as u8;
            let colour = step.palette()?;
            let frames: Vec<&FlashSample> = (first_flash..self.samples.len())
                .filter(|&n| n >= lag && self.samples[n - lag].tag == tag)
                .map(|n| &self.samples[n])
                .collect();
            if frames.is_empty() {
                continue;
            }
            let mut shift = [0.0f32; 2];
            let mut dir = [0.0f32; 2];
            let mut lengths = 0.0f32;
            for (p, b) in base.iter().enumerate() {
                let now = mean3(&frames.iter().map(|f| f.patches[p]).collect::<Vec<_>>());
                let d = sub(chroma(now), chroma(*b));
                lengths += dot(d, d).sqrt() / 5.0;
                let e = expected_shift(*b, colour);
                let norm = dot(e, e).sqrt().max(1e-9);
                for k in 0..2 {
                    shift[k] += d[k] / 5.0;
                    dir[k] += e[k] / norm / 5.0;
                }
            }
            let norm = dot(dir, dir).sqrt().max(1e-9);
            let unit = [dir[0] / norm, dir[1] / norm];
            seen.push(i);
            face.push(shift);
            along += dot(shift, unit);
            coherence += dot(shift, shift).sqrt() / lengths.max(1e-9);
        }
        if seen.is_empty() {
            return None;
        }
        let energy: f32 = face.iter().map(|o| dot(*o, *o)).sum();
        let n = seen.len() as f32;
        let correlation = if energy > 0.0 {
            along / (energy.sqrt() * n.sqrt())
        } else {
            0.0
        };
        Some(LagFit {
            lag,
            seen,
            face,
            correlation,
            shift: along / n,
            coherence: coherence / n,
        })
    }

    /// The pooled face chroma's F ratio between steps (the baseline counting as one) over
    /// within steps, frames attributed to steps with a camera lag of `lag` frames.
    fn step_f(&self, lag: usize) -> Option<f32> {
        let first_flash = self.samples.iter().position(|s| s.tag != 0)?;
        let pooled = |s: &FlashSample| {
            let mut c = [0.0f32; 2];
            for p in &s.patches {
                let q = chroma(*p);
                c[0] += q[0] / 5.0;
                c[1] += q[1] / 5.0;
            }
            c
        };
        // The steps only: the baseline was taken earlier, and a head's slow drift since then
        // would pass for an answer.
        let mut groups: Vec<Vec<[f32; 2]>> = Vec::new();
        for i in 0..self.steps.len() {
            let tag = (i + 1) as u8;
            let g: Vec<[f32; 2]> = (first_flash..self.samples.len())
                .filter(|&n| n >= lag && self.samples[n - lag].tag == tag)
                .map(|n| pooled(&self.samples[n]))
                .collect();
            if !g.is_empty() {
                groups.push(g);
            }
        }
        let n: usize = groups.iter().map(Vec::len).sum();
        let k = groups.len();
        if k < 3 || n < k + 3 {
            return None;
        }
        let mean = |v: &[[f32; 2]]| {
            let len = v.len().max(1) as f32;
            [
                v.iter().map(|c| c[0]).sum::<f32>() / len,
                v.iter().map(|c| c[1]).sum::<f32>() / len,
            ]
        };
        let all: Vec<[f32; 2]> = groups.iter().flatten().copied().collect();
        let grand = mean(&all);
        let (mut between, mut within) = (0.0f32, 0.0f32);
        for g in &groups {
            let m = mean(g);
            between += g.len() as f32 * dot(sub(m, grand), sub(m, grand));
            within += g.iter().map(|c| dot(sub(*c, m), sub(*c, m))).sum::<f32>();
        }
        // JPEG's quantisation leaves some noise even on a still face: never divide by less.
        let floor = NOISE_FLOOR * NOISE_FLOOR * (n - k) as f32 / 4.0;
        Some((between / (k - 1) as f32) / (within.max(floor) / (n - k) as f32))
    }

    /// Per-patch gains and the background's, for one lag.
    fn gains(&self, fit: &LagFit, base: &[[f32; 3]; 5], bg_base: Option<[f32; 3]>) -> GainFit {
        let first_flash = self
            .samples
            .iter()
            .position(|s| s.tag != 0)
            .unwrap_or(self.samples.len());
        let mut observed: Vec<Vec<[f32; 2]>> = vec![Vec::new(); 5];
        let mut predicted: Vec<Vec<[f32; 2]>> = vec![Vec::new(); 5];
        let mut bg_obs = Vec::new();
        let mut bg_pred = Vec::new();
        for &i in &fit.seen {
            let tag = (i + 1) as u8;
            let Some(colour) = self.steps[i].palette() else {
                continue;
            };
            let frames: Vec<&FlashSample> = (first_flash..self.samples.len())
                .filter(|&n| n >= fit.lag && self.samples[n - fit.lag].tag == tag)
                .map(|n| &self.samples[n])
                .collect();
            for p in 0..5 {
                let now = mean3(&frames.iter().map(|f| f.patches[p]).collect::<Vec<_>>());
                observed[p].push(sub(chroma(now), chroma(base[p])));
                predicted[p].push(expected_shift(base[p], colour));
            }
            if let Some(bb) = bg_base {
                let bgs: Vec<[f32; 3]> = frames.iter().filter_map(|f| f.background).collect();
                if !bgs.is_empty() {
                    bg_obs.push(sub(chroma(mean3(&bgs)), chroma(bb)));
                    bg_pred.push(expected_shift(bb, colour));
                }
            }
        }
        let patch: Vec<f32> = (0..5).map(|p| gain(&observed[p], &predicted[p])).collect();
        let background = (!bg_obs.is_empty()).then(|| gain(&bg_obs, &bg_pred));
        GainFit { patch, background }
    }

    /// The decision over the frames so far (call once the flash is over).
    pub fn verdict(&self) -> FlashVerdict {
        let mut m = BTreeMap::new();
        let Some(baseline) = self.baseline() else {
            return FlashVerdict::failed(FlashFailure::FlashTooFewFrames, m);
        };
        let base: [[f32; 3]; 5] = std::array::from_fn(|p| {
            mean3(&baseline.iter().map(|s| s.patches[p]).collect::<Vec<_>>())
        });
        let bg_frames: Vec<[f32; 3]> = baseline.iter().filter_map(|s| s.background).collect();
        let bg_base = (bg_frames.len() >= MIN_BASELINE_FRAMES).then(|| mean3(&bg_frames));
        let face_luma = baseline.iter().map(|s| s.face_luma).sum::<f32>() / baseline.len() as f32;
        let clipped = baseline.iter().map(|s| s.clipped).sum::<f32>() / baseline.len() as f32;
        m.insert("face_luma".into(), face_luma);
        // The baseline's own frame-to-frame chroma noise, pooled over the patches.
        let pooled: Vec<[f32; 2]> = baseline
            .iter()
            .map(|s| {
                let mut c = [0.0f32; 2];
                for p in &s.patches {
                    let q = chroma(*p);
                    c[0] += q[0] / 5.0;
                    c[1] += q[1] / 5.0;
                }
                c
            })
            .collect();
        let centre = [
            pooled.iter().map(|c| c[0]).sum::<f32>() / pooled.len() as f32,
            pooled.iter().map(|c| c[1]).sum::<f32>() / pooled.len() as f32,
        ];
        let var = pooled
            .iter()
            .map(|c| dot(sub(*c, centre), sub(*c, centre)))
            .sum::<f32>()
            / (pooled.len().saturating_sub(1).max(1)) as f32;
        let noise = var.sqrt().max(NOISE_FLOOR);
        m.insert("noise".into(), noise);

        let Some(fit) = (0..=MAX_LAG)
            .filter_map(|lag| self.fit(lag, &base))
            .max_by(|a, b| a.correlation.total_cmp(&b.correlation))
        else {
            return FlashVerdict::failed(FlashFailure::FlashTooFewFrames, m);
        };
        let needed = 4.max((self.steps.len() * 3).div_ceil(5));
        m.insert("steps_seen".into(), fit.seen.len() as f32);
        m.insert("lag_frames".into(), fit.lag as f32);
        m.insert("correlation".into(), fit.correlation);
        m.insert("shift".into(), fit.shift);
        let snr = fit.shift / noise;
        m.insert("snr".into(), snr);
        if fit.seen.len() < needed {
            return FlashVerdict::failed(FlashFailure::FlashTooFewFrames, m);
        }
        // Did the face answer at all? The strongest step-wise answer, whatever the order,
        // tells a weak answer from a wrong one.
        let magnitude =
            fit.face.iter().map(|o| dot(*o, *o).sqrt()).sum::<f32>() / fit.face.len() as f32;
        m.insert("magnitude".into(), magnitude);
        // Whatever the colours, light switched in steps moves the chroma in steps: the variance
        // between the steps' means must stand out of the variance within steps (an F ratio at
        // the lag that shows it best). Head motion and talking drift smoothly and raise both.
        let stepwise = (0..=MAX_LAG)
            .filter_map(|lag| self.step_f(lag))
            .fold(0.0f32, f32::max);
        m.insert("stepwise_f".into(), stepwise);
        m.insert("coherence".into(), fit.coherence);
        let answered =
            magnitude >= MIN_SHIFT && stepwise >= MIN_STEPWISE_F && fit.coherence >= MIN_COHERENCE;
        let bright = face_luma >= BRIGHT_FACE || clipped >= BRIGHT_CLIPPED;
        if !answered {
            let reason = if bright {
                FlashFailure::FlashTooBright
            } else {
                FlashFailure::FlashNoResponse
            };
            return FlashVerdict::failed(reason, m);
        }
        let timing = self.tags_keep_time();
        m.insert("timing_ok".into(), if timing { 1.0 } else { 0.0 });
        let mut reasons = Vec::new();
        if fit.correlation < MIN_CORRELATION || !timing || fit.shift < MIN_SHIFT {
            // In light this strong the answer is too weak to read its order: say so rather
            // than blame the sequence (it fails either way).
            reasons.push(if bright && timing {
                FlashFailure::FlashTooBright
            } else {
                FlashFailure::FlashWrongSequence
            });
        }
        let g = self.gains(&fit, &base, bg_base);
        let mean_gain = g.patch.iter().sum::<f32>() / g.patch.len() as f32;
        let spread = if mean_gain > 0.0 {
            let var =
                g.patch.iter().map(|x| (x - mean_gain).powi(2)).sum::<f32>() / g.patch.len() as f32;
            var.sqrt() / mean_gain
        } else {
            0.0
        };
        for (name, v) in PATCH_NAMES.iter().zip(&g.patch) {
            m.insert(format!("gain_{name}"), *v);
        }
        m.insert("shading_spread".into(), spread);
        let ratio = g.background.map(|b| b / mean_gain.max(1e-6));
        if let Some(r) = ratio {
            m.insert("background_ratio".into(), r);
        }
        let flat = spread < MIN_SHADING_SPREAD || ratio.is_some_and(|r| r > MAX_BACKGROUND_RATIO);
        if reasons.is_empty() && flat {
            reasons.push(FlashFailure::FlashFlat);
        }
        // One score: the weakest of the answer's strength, its order and its shape.
        let order = ramp(fit.correlation, 0.3, 0.8);
        let strength = ramp(snr, 2.0, 8.0);
        let shape = ramp(spread, 0.03, 0.15).min(ratio.map_or(1.0, |r| 1.0 - ramp(r, 0.3, 0.7)));
        let score = order.min(strength).min(shape);
        FlashVerdict {
            live: reasons.is_empty(),
            reasons,
            measures: m,
            score: if timing { score } else { 0.0 },
        }
    }
}

struct GainFit {
    patch: Vec<f32>,
    background: Option<f32>,
}

fn ramp(v: f32, lo: f32, hi: f32) -> f32 {
    ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps() -> Vec<FlashStep> {
        [0u8, 2, 4, 1, 3, 5, 0]
            .iter()
            .map(|&colour| FlashStep { colour, ms: 200 })
            .collect()
    }

    /// A synthetic face whose patches take `gain[p]` of the flashed colour's light, with a
    /// camera lag of `lag` frames, 15 fps, and the background taking `bg` of it.
    fn drive(check: &mut FlashCheck, shown: &[FlashStep], gain: [f32; 5], bg: f32, lag: usize) {
        let skin = [0.45f32, 0.28, 0.2];
        let mut tags = Vec::new();
        let mut t = 0.0;
        // 0.6 s before, the steps, 0.5 s after.
        let total: f64 = 0.6 + shown.iter().map(|s| f64::from(s.ms) / 1000.0).sum::<f64>() + 0.5;
        while t < total {
            let mut at = 0.6;
            let mut tag = 0u8;
            if t >= at {
                for (i, s) in shown.iter().enumerate() {
                    let end = at + f64::from(s.ms) / 1000.0;
                    if t < end {
                        tag = (i + 1) as u8;
                        break;
                    }
                    at = end;
                }
            }
            tags.push((t, tag));
            t += 1.0 / 15.0;
        }
        for (n, &(t, tag)) in tags.iter().enumerate() {
            let lit_tag = if n >= lag { tags[n - lag].1 } else { 0 };
            let light = if lit_tag == 0 {
                [0.0; 3]
            } else {
                shown[usize::from(lit_tag) - 1]
                    .palette()
                    .unwrap()
                    .rgb
                    .map(linear)
            };
            let wobble = ((n * 7919) % 13) as f32 / 13.0 * 0.002;
            let patches = std::array::from_fn(|p| {
                std::array::from_fn(|c| skin[c] * (1.0 + 0.25 * gain[p] * light[c]) + wobble)
            });
            let background = Some(std::array::from_fn(|c| {
                [0.3f32, 0.3, 0.32][c] * (1.0 + 0.25 * bg * light[c])
            }));
            check.observe(FlashSample {
                t,
                tag,
                patches,
                background,
                face_luma: 0.45,
                clipped: 0.0,
            });
        }
    }

    const CURVED: [f32; 5] = [0.85, 1.0, 0.65, 0.7, 0.8];

    #[test]
    fn a_curved_face_answering_the_sequence_with_latency_passes() {
        for lag in 0..=3 {
            let mut check = FlashCheck::new(steps());
            drive(&mut check, &steps(), CURVED, 0.05, lag);
            assert!(check.past_the_end());
            let v = check.verdict();
            assert!(v.live, "lag {lag}: {v:?}");
            assert_eq!(v.measures["lag_frames"], lag as f32);
            assert!(v.score > 0.5, "{v:?}");
        }
    }

    #[test]
    fn another_sequence_fails_as_wrong() {
        let other: Vec<FlashStep> = [3u8, 5, 1, 4, 0, 2, 4]
            .iter()
            .map(|&colour| FlashStep { colour, ms: 200 })
            .collect();
        let mut check = FlashCheck::new(steps());
        drive(&mut check, &other, CURVED, 0.05, 1);
        let v = check.verdict();
        assert_eq!(v.reasons, vec![FlashFailure::FlashWrongSequence], "{v:?}");
    }

    #[test]
    fn a_uniformly_lit_sheet_fails_as_flat() {
        let mut check = FlashCheck::new(steps());
        drive(&mut check, &steps(), [1.0; 5], 1.0, 1);
        let v = check.verdict();
        assert_eq!(v.reasons, vec![FlashFailure::FlashFlat], "{v:?}");
    }

    #[test]
    fn no_answer_fails_and_a_bright_scene_says_so() {
        let mut check = FlashCheck::new(steps());
        drive(&mut check, &steps(), [0.0; 5], 0.0, 1);
        assert_eq!(check.verdict().reasons, vec![FlashFailure::FlashNoResponse]);
        let bright: Vec<FlashSample> = check
            .samples
            .iter()
            .map(|s| FlashSample {
                face_luma: 0.8,
                ..*s
            })
            .collect();
        let mut check = FlashCheck::new(steps());
        bright.into_iter().for_each(|s| check.observe(s));
        assert_eq!(check.verdict().reasons, vec![FlashFailure::FlashTooBright]);
    }

    #[test]
    fn tags_that_skip_or_go_back_fail_the_sequence() {
        let mut check = FlashCheck::new(steps());
        drive(&mut check, &steps(), CURVED, 0.05, 0);
        // Re-tag the frames of step 3 as step 5: the order is broken.
        for s in check.samples.iter_mut() {
            if s.tag == 3 {
                s.tag = 5;
            }
        }
        let v = check.verdict();
        assert!(
            v.reasons.contains(&FlashFailure::FlashWrongSequence),
            "{v:?}"
        );
    }

    #[test]
    fn no_frames_before_the_flash_is_too_few() {
        let check = FlashCheck::new(steps());
        assert_eq!(
            check.verdict().reasons,
            vec![FlashFailure::FlashTooFewFrames]
        );
    }

    #[test]
    fn linear_and_srgb_round_trip() {
        for v in [0u8, 1, 40, 128, 200, 255] {
            assert_eq!(to_srgb(linear(v)), v);
        }
    }
}
