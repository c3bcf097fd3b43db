//! A per-person resting value: learned as a median over a steady stretch, then followed slowly
//! while neutral.
//!
//! "Steady" means the middle half of the window's samples lie within `max_spread` (interquartile
//! range): a blink or a quick glance inside the window does not spoil it, but a person who starts
//! the session turning their head does, and the window slides on until they settle. Someone who
//! never settles still gets a baseline (the window's median) after `GIVE_UP_WINDOWS` windows.

use std::collections::VecDeque;

/// Time constant of the slow update: a person's rest drifts over seconds, an action takes less.
const FOLLOW_TAU_S: f64 = 5.0;
/// After this many windows without a steady one, take the median anyway.
const GIVE_UP_WINDOWS: f64 = 4.0;

/// The resting value of one signal (eye openness, yaw, ...), for one person.
#[derive(Debug, Clone)]
pub struct Baseline {
    window_s: f64,
    max_spread: f32,
    range: (f32, f32),
    samples: VecDeque<(f64, f32)>,
    first_t: Option<f64>,
    value: Option<f32>,
    last_t: f64,
}

impl Baseline {
    /// A baseline learned from a steady `window_s` seconds, whose samples' interquartile range is
    /// at most `max_spread`.
    pub fn new(window_s: f64, max_spread: f32) -> Self {
        Self {
            window_s,
            max_spread,
            range: (f32::NEG_INFINITY, f32::INFINITY),
            samples: VecDeque::new(),
            first_t: None,
            value: None,
            last_t: 0.0,
        }
    }

    /// Keep the baseline within `min..=max` (head pose: the pose is already relative to the
    /// camera, so a resting yaw of 20 degrees means "not looking straight", not "a new zero").
    pub fn within(mut self, min: f32, max: f32) -> Self {
        self.range = (min, max);
        self
    }

    /// The resting value, once learned.
    pub fn value(&self) -> Option<f32> {
        self.value
    }

    /// Add a sample. Before the baseline is known, samples fill the sliding window; afterwards
    /// only `neutral` samples move it, and slowly.
    pub fn observe(&mut self, t: f64, v: f32, neutral: bool) {
        if !v.is_finite() {
            return;
        }
        match self.value {
            None => self.learn(t, v),
            Some(ref mut value) if neutral => {
                let dt = (t - self.last_t).clamp(0.0, 1.0);
                let alpha = (dt / FOLLOW_TAU_S) as f32;
                *value = (*value + (v - *value) * alpha).clamp(self.range.0, self.range.1);
            }
            Some(_) => {}
        }
        self.last_t = t;
    }

    fn learn(&mut self, t: f64, v: f32) {
        let first_t = *self.first_t.get_or_insert(t);
        self.samples.push_back((t, v));
        // Slide: drop the oldest sample while the rest still spans the window.
        while self.samples.len() > 1 && t - self.samples[1].0 >= self.window_s {
            self.samples.pop_front();
        }
        let spans = self
            .samples
            .front()
            .is_some_and(|s| t - s.0 >= self.window_s);
        if !spans || self.samples.len() < 3 {
            return;
        }
        let mut values: Vec<f32> = self.samples.iter().map(|s| s.1).collect();
        values.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f32| values[((values.len() - 1) as f32 * p).round() as usize];
        let steady = q(0.75) - q(0.25) <= self.max_spread;
        if steady || t - first_t >= GIVE_UP_WINDOWS * self.window_s {
            self.value = Some(q(0.5).clamp(self.range.0, self.range.1));
            self.samples = VecDeque::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_ignores_a_blink_inside_the_window() {
        let mut b = Baseline::new(0.7, 0.05);
        for i in 0..22 {
            let t = i as f64 / 30.0;
            // A 130 ms blink at the very start of the window.
            let v = if i < 4 { 0.1 } else { 0.35 };
            b.observe(t, v, true);
        }
        assert_eq!(b.value(), Some(0.35));
    }

    #[test]
    fn an_early_turn_slides_the_window_until_the_head_settles() {
        let mut b = Baseline::new(0.7, 4.0).within(-10.0, 10.0);
        for i in 0..60 {
            let t = i as f64 / 30.0;
            // Turning right for the first second, then still at -2 degrees.
            let v = if t < 1.0 {
                -15.0 * (t * 3.0).sin() as f32
            } else {
                -2.0
            };
            b.observe(t, v, true);
        }
        assert_eq!(b.value(), Some(-2.0));
    }

    #[test]
    fn a_person_who_never_settles_still_gets_a_baseline() {
        let mut b = Baseline::new(0.5, 1.0);
        for i in 0..90 {
            let t = i as f64 / 30.0;
            b.observe(t, 10.0 * (t * 6.0).sin() as f32, true);
        }
        assert!(b.value().is_some());
    }
}
