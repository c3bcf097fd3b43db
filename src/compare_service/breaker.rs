//! The circuit breaker of a compare service: after `failures` failed attempts in a row (a
//! timeout, a 5xx, an unreachable service), calls fail at once for `open_s`; then one trial call
//! is let through (half-open), and its outcome closes the circuit or opens it again.
//!
//! A failing service then costs a session a fast `compare_circuit_open` instead of the whole
//! timeout, and the service gets room to recover. Any other answer (2xx, 4xx, a refusal, a body
//! that cannot be read) shows the service is up and resets the count. The state machine is pure
//! (time is passed in); [`Breakers`] keeps one per endpoint for a client and all its clones.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::rules::BreakerRules;

/// Where one endpoint's breaker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; `failures` in a row so far.
    Closed {
        /// Consecutive failed attempts.
        failures: u32,
    },
    /// Calls fail at once until `until`.
    Open {
        /// When a trial call may go.
        until: Instant,
    },
    /// One trial call is under way; others fail at once.
    HalfOpen,
}

/// How an attempt was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The circuit is closed.
    Normal,
    /// The half-open trial: its outcome decides the circuit.
    Trial,
}

/// One endpoint's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breaker {
    state: BreakerState,
}

impl Default for Breaker {
    fn default() -> Self {
        Self {
            state: BreakerState::Closed { failures: 0 },
        }
    }
}

impl Breaker {
    /// Where it is.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether an attempt may go at `now`, and as what; `None`: the circuit is open.
    pub fn admit(&mut self, now: Instant) -> Option<Admission> {
        match self.state {
            BreakerState::Closed { .. } => Some(Admission::Normal),
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen;
                Some(Admission::Trial)
            }
            BreakerState::Open { .. } | BreakerState::HalfOpen => None,
        }
    }

    /// The service answered: the circuit closes.
    pub fn succeeded(&mut self) {
        self.state = BreakerState::Closed { failures: 0 };
    }

    /// An attempt failed at `now`; `true` when this failure opened the circuit.
    pub fn failed(&mut self, now: Instant, rules: &BreakerRules) -> bool {
        let open = BreakerState::Open {
            until: now + rules.open_for(),
        };
        match self.state {
            BreakerState::Closed { failures } if failures + 1 >= rules.failures => {
                self.state = open;
                true
            }
            BreakerState::Closed { failures } => {
                self.state = BreakerState::Closed {
                    failures: failures + 1,
                };
                false
            }
            BreakerState::HalfOpen => {
                self.state = open;
                true
            }
            // An attempt let through before the circuit opened, failing late: already open.
            BreakerState::Open { .. } => false,
        }
    }

    /// An attempt ended with no outcome (its call was dropped): a trial frees its place, so
    /// the next call can try at once rather than the circuit staying half-open for ever.
    pub fn abandoned(&mut self, admission: Admission, now: Instant) {
        if admission == Admission::Trial && self.state == BreakerState::HalfOpen {
            self.state = BreakerState::Open { until: now };
        }
    }
}

/// The breakers of every endpoint a client calls, keyed by the endpoint's URL.
#[derive(Debug, Default)]
pub struct Breakers {
    by_endpoint: Mutex<HashMap<String, Breaker>>,
}

impl Breakers {
    fn with<T>(&self, endpoint: &str, change: impl FnOnce(&mut Breaker) -> T) -> T {
        // A panic elsewhere while holding the lock leaves a consistent map: every change is
        // one assignment.
        let mut map = self
            .by_endpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        change(map.entry(endpoint.to_owned()).or_default())
    }

    /// The endpoint's breaker state now.
    pub fn state(&self, endpoint: &str) -> BreakerState {
        self.with(endpoint, |b| b.state())
    }

    /// The endpoint's breaker state now, without keeping an entry for an endpoint never called
    /// (what the engines page reads).
    pub fn peek(&self, endpoint: &str) -> BreakerState {
        let map = self
            .by_endpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(endpoint).copied().unwrap_or_default().state()
    }

    /// Asks to send one attempt to `endpoint`; `None`: the circuit is open.
    pub fn admit(self: &Arc<Self>, endpoint: &str) -> Option<Permit> {
        let admission = self.with(endpoint, |b| b.admit(Instant::now()))?;
        Some(Permit {
            breakers: Arc::clone(self),
            endpoint: endpoint.to_owned(),
            admission,
            settled: false,
        })
    }
}

/// One attempt let through; tell it how the attempt went. Dropped untold, a trial lets the
/// next call try.
#[derive(Debug)]
pub struct Permit {
    breakers: Arc<Breakers>,
    endpoint: String,
    admission: Admission,
    settled: bool,
}

impl Permit {
    /// The service answered.
    pub fn succeeded(mut self) {
        self.settled = true;
        self.breakers.with(&self.endpoint, Breaker::succeeded);
    }

    /// The attempt failed (timeout, 5xx, unreachable); `true` when the circuit opened.
    pub fn failed(mut self, rules: &BreakerRules) -> bool {
        self.settled = true;
        self.breakers
            .with(&self.endpoint, |b| b.failed(Instant::now(), rules))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.settled {
            let admission = self.admission;
            self.breakers
                .with(&self.endpoint, |b| b.abandoned(admission, Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const RULES: BreakerRules = BreakerRules {
        failures: 3,
        open_s: 30,
    };

    #[test]
    fn consecutive_failures_open_the_circuit_and_a_success_resets_the_count() {
        let t0 = Instant::now();
        let mut b = Breaker::default();
        for _ in 0..2 {
            assert_eq!(b.admit(t0), Some(Admission::Normal));
            assert!(!b.failed(t0, &RULES));
        }
        b.succeeded();
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
        assert!(!b.failed(t0, &RULES));
        assert!(!b.failed(t0, &RULES));
        assert!(b.failed(t0, &RULES), "the third in a row opens it");
        assert_eq!(
            b.state(),
            BreakerState::Open {
                until: t0 + Duration::from_secs(30)
            }
        );
        assert_eq!(b.admit(t0 + Duration::from_secs(29)), None);
    }

    #[test]
    fn after_open_s_one_trial_closes_or_reopens_it() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(30);
        let mut b = Breaker {
            state: BreakerState::Open { until: later },
        };
        assert_eq!(b.admit(later), Some(Admission::Trial));
        assert_eq!(b.admit(later), None, "one trial at a time");
        assert!(b.failed(later, &RULES), "a failed trial opens it again");
        assert_eq!(
            b.state(),
            BreakerState::Open {
                until: later + Duration::from_secs(30)
            }
        );
        let again = later + Duration::from_secs(30);
        assert_eq!(b.admit(again), Some(Admission::Trial));
        b.succeeded();
        assert_eq!(b.admit(again), Some(Admission::Normal));
    }

    #[test]
    fn an_abandoned_trial_lets_the_next_call_try() {
        let t0 = Instant::now();
        let mut b = Breaker {
            state: BreakerState::Open { until: t0 },
        };
        assert_eq!(b.admit(t0), Some(Admission::Trial));
        b.abandoned(Admission::Trial, t0);
        assert_eq!(b.admit(t0), Some(Admission::Trial));
        // A normal attempt dropped changes nothing.
        let mut closed = Breaker::default();
        closed.abandoned(Admission::Normal, t0);
        assert_eq!(closed.state(), BreakerState::Closed { failures: 0 });
    }

    #[test]
    fn permits_update_the_shared_breaker_of_their_endpoint() {
        let breakers = Arc::new(Breakers::default());
        let one = BreakerRules {
            failures: 1,
            open_s: 30,
        };
        let permit = breakers.admit("http://a/").expect("closed");
        assert!(permit.failed(&one));
        assert!(breakers.admit("http://a/").is_none(), "a is open");
        assert!(
            breakers.admit("http://b/").is_some(),
            "b has its own breaker"
        );
        assert!(matches!(
            breakers.state("http://a/"),
            BreakerState::Open { .. }
        ));
    }
}
