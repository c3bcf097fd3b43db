//! Latency samples with their percentiles, and errors counted by kind. Pure: no I/O.

use std::collections::BTreeMap;
use std::time::Duration;

/// Every latency sample of one measure, in milliseconds.
///
/// All samples are kept (not bucketed): a load run makes at most a few hundred thousand, and
/// exact percentiles cost nothing to explain.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latencies {
    samples_ms: Vec<f64>,
    sorted: bool,
}

impl Latencies {
    /// No samples.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sample.
    pub fn record(&mut self, elapsed: Duration) {
        self.record_ms(elapsed.as_secs_f64() * 1000.0);
    }

    /// Adds one sample given in milliseconds.
    pub fn record_ms(&mut self, ms: f64) {
        self.samples_ms.push(ms);
        self.sorted = false;
    }

    /// Adds every sample of another measure.
    pub fn merge(&mut self, other: &Latencies) {
        self.samples_ms.extend_from_slice(&other.samples_ms);
        self.sorted = false;
    }

    /// How many samples.
    pub fn count(&self) -> usize {
        self.samples_ms.len()
    }

    /// The `q` quantile (0–1) by nearest rank: the smallest sample with at least `q` of the
    /// samples at or below it; `None` without samples.
    pub fn percentile(&mut self, q: f64) -> Option<f64> {
        if self.samples_ms.is_empty() {
            return None;
        }
        if !self.sorted {
            self.samples_ms.sort_by(f64::total_cmp);
            self.sorted = true;
        }
        let n = self.samples_ms.len();
        let rank = (q.clamp(0.0, 1.0) * n as f64).ceil() as usize;
        Some(self.samples_ms[rank.clamp(1, n) - 1])
    }

    /// The largest sample.
    pub fn max(&self) -> Option<f64> {
        self.samples_ms.iter().copied().reduce(f64::max)
    }

    /// The mean.
    pub fn mean(&self) -> Option<f64> {
        if self.samples_ms.is_empty() {
            return None;
        }
        Some(self.samples_ms.iter().sum::<f64>() / self.samples_ms.len() as f64)
    }
}

/// Errors counted by kind (`create_http_429`, `ws_close_4007`, `timeout`, `failed_timeout`...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorCounts(BTreeMap<String, u64>);

impl ErrorCounts {
    /// Counts one error of `kind`.
    pub fn add(&mut self, kind: &str) {
        *self.0.entry(kind.to_owned()).or_default() += 1;
    }

    /// Errors of every kind.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Each kind with its count, by kind.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values: &[f64]) -> Latencies {
        let mut l = Latencies::new();
        for v in values {
            l.record_ms(*v);
        }
        l
    }

    #[test]
    fn percentiles_are_nearest_rank_samples() {
        // 1..=100: p50 is 50, p95 is 95, p99 is 99, p100 is the max.
        let mut l = of(&(1..=100).rev().map(f64::from).collect::<Vec<_>>());
        assert_eq!(l.percentile(0.50), Some(50.0));
        assert_eq!(l.percentile(0.95), Some(95.0));
        assert_eq!(l.percentile(0.99), Some(99.0));
        assert_eq!(l.percentile(1.0), Some(100.0));
        assert_eq!(l.percentile(0.0), Some(1.0));
    }

    #[test]
    fn a_slow_tail_shows_in_p95_not_in_p50() {
        // 94 fast frames and 6 slow ones: the tail is above the 95th rank, the median is not.
        let mut values = vec![10.0; 94];
        values.extend([400.0; 6]);
        let mut l = of(&values);
        assert_eq!(l.percentile(0.5), Some(10.0));
        assert_eq!(l.percentile(0.95), Some(400.0));
        assert_eq!(l.max(), Some(400.0));
    }

    #[test]
    fn few_samples_and_none() {
        let mut one = of(&[7.0]);
        assert_eq!(one.percentile(0.99), Some(7.0));
        assert_eq!(one.percentile(0.01), Some(7.0));
        let mut none = Latencies::new();
        assert_eq!(none.percentile(0.5), None);
        assert_eq!(none.mean(), None);
        let mut two = of(&[1.0, 3.0]);
        assert_eq!(two.percentile(0.5), Some(1.0));
        assert_eq!(two.mean(), Some(2.0));
    }

    #[test]
    fn merged_samples_count_once_each_and_resort() {
        let mut a = of(&[5.0, 1.0]);
        assert_eq!(a.percentile(1.0), Some(5.0));
        a.merge(&of(&[9.0]));
        assert_eq!(a.count(), 3);
        assert_eq!(a.percentile(1.0), Some(9.0));
    }

    #[test]
    fn errors_count_by_kind() {
        let mut e = ErrorCounts::default();
        e.add("timeout");
        e.add("ws_close_4007");
        e.add("timeout");
        assert_eq!(e.total(), 3);
        assert_eq!(
            e.iter().collect::<Vec<_>>(),
            vec![("timeout", 2), ("ws_close_4007", 1)]
        );
    }
}
