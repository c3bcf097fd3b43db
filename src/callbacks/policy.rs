//! When the worker polls, how long a request may take, and how long it waits before trying a
//! callback again.

use std::time::Duration;

use crate::config::CallbacksConfig;

/// Share of a delay added or taken away at random, so callbacks that failed together (the
/// integrator was down) do not all come back at the same second.
const JITTER: f64 = 0.2;

/// The delivery worker's rules. `Default` is the built-in configuration's.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryPolicy {
    /// Time between polls of the outbox when nothing wakes the worker.
    pub poll_interval: Duration,
    /// The wait after the first failed try.
    pub first_delay: Duration,
    /// Each wait is this many times the one before.
    pub backoff_factor: f64,
    /// The longest wait.
    pub max_delay: Duration,
    /// Tries before the callback is given up.
    pub max_attempts: u32,
    /// How long one request may take.
    pub timeout: Duration,
    /// Callbacks claimed and sent at once.
    pub batch_size: u32,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            first_delay: Duration::from_secs(5),
            backoff_factor: 3.0,
            max_delay: Duration::from_secs(3600),
            max_attempts: 10,
            timeout: Duration::from_secs(10),
            batch_size: 32,
        }
    }
}

impl From<&CallbacksConfig> for DeliveryPolicy {
    fn from(config: &CallbacksConfig) -> Self {
        Self {
            poll_interval: Duration::from_millis(config.poll_interval_ms),
            first_delay: Duration::from_secs(config.first_delay_secs),
            backoff_factor: config.backoff_factor,
            max_delay: Duration::from_secs(config.max_delay_secs),
            max_attempts: config.max_attempts,
            timeout: Duration::from_secs(config.timeout_secs),
            batch_size: config.batch_size,
        }
    }
}

impl DeliveryPolicy {
    /// The wait after `failed` tries (1 = after the first), before jitter:
    /// `first_delay * factor^(failed - 1)`, at most `max_delay`.
    pub fn base_delay(&self, failed: u32) -> Duration {
        let exponent = i32::try_from(failed.saturating_sub(1)).unwrap_or(i32::MAX);
        let secs = self.first_delay.as_secs_f64() * self.backoff_factor.max(1.0).powi(exponent);
        let max = self.max_delay.as_secs_f64();
        // `min` first: a huge power is +inf, which `from_secs_f64` refuses.
        Duration::from_secs_f64(secs.min(max).max(0.0))
    }

    /// The wait after `failed` tries with jitter: `base_delay` times a factor in
    /// `[1 - 20 %, 1 + 20 %)` drawn from `unit` (a number in `[0, 1)`), still at most
    /// `max_delay`.
    pub fn delay(&self, failed: u32, unit: f64) -> Duration {
        let spread = 1.0 - JITTER + 2.0 * JITTER * unit.clamp(0.0, 1.0);
        let secs = self.base_delay(failed).as_secs_f64() * spread;
        Duration::from_secs_f64(secs.min(self.max_delay.as_secs_f64()).max(0.0))
    }

    /// Whether a callback that has failed `failed` times has no try left.
    pub fn exhausted(&self, failed: u32) -> bool {
        failed >= self.max_attempts
    }

    /// How long a claim holds a callback: longer than a request can take, with room for the
    /// secret lookup and the store's write, so a live worker never loses its lease mid-send.
    pub fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(30)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_by_the_factor_up_to_the_cap() {
        let policy = DeliveryPolicy::default();
        let secs: Vec<u64> = (1..=7).map(|n| policy.base_delay(n).as_secs()).collect();
        assert_eq!(secs, [5, 15, 45, 135, 405, 1215, 3600]);
        assert_eq!(policy.base_delay(1000), Duration::from_secs(3600));
    }

    #[test]
    fn jitter_stays_within_a_fifth_and_under_the_cap() {
        let policy = DeliveryPolicy::default();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        assert!((ms(policy.delay(1, 0.0)) - 4000.0).abs() < 1.0);
        assert!((ms(policy.delay(1, 0.5)) - 5000.0).abs() < 1.0);
        assert!(policy.delay(1, 0.999) < Duration::from_secs(6));
        assert_eq!(policy.delay(50, 0.999), Duration::from_secs(3600));
    }

    #[test]
    fn ten_tries_then_none() {
        let policy = DeliveryPolicy::default();
        assert!(!policy.exhausted(9));
        assert!(policy.exhausted(10));
        assert!(policy.lease() > policy.timeout);
    }
}
