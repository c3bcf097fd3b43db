//! What one session may send: frame size, rate, count, bytes and time.
//!
//! The budget belongs to the session, not to a connection: a page that reconnects keeps spending
//! the same one, so reconnecting never resets a limit.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The limits on a session's frames.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrameLimits {
    /// Largest sealed frame, in bytes.
    pub max_frame_bytes: usize,
    /// Most frames in any one second.
    pub max_fps: u32,
    /// Most frames in the session.
    pub max_frames: u64,
    /// Most bytes in the session.
    pub max_total_bytes: u64,
    /// Longest time from the first frame to the last, in seconds.
    pub max_duration_s: u64,
}

impl Default for FrameLimits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 256 * 1024,
            max_fps: 20,
            max_frames: 1200,
            max_total_bytes: 64 * 1024 * 1024,
            max_duration_s: 90,
        }
    }
}

/// A limit a frame broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BudgetBreach {
    /// One frame larger than `max_frame_bytes`.
    #[error("frame larger than the limit")]
    FrameTooLarge,
    /// More than `max_fps` frames within a second.
    #[error("too many frames per second")]
    RateExceeded,
    /// More than `max_frames` frames in the session.
    #[error("too many frames in the session")]
    TooManyFrames,
    /// More than `max_total_bytes` in the session.
    #[error("too many bytes in the session")]
    BytesExceeded,
    /// Frames still coming after `max_duration_s`.
    #[error("session went on too long")]
    DurationExceeded,
}

impl BudgetBreach {
    /// Whether the breach ends the session (a reconnect could only breach it again).
    pub fn ends_session(self) -> bool {
        matches!(
            self,
            BudgetBreach::TooManyFrames
                | BudgetBreach::BytesExceeded
                | BudgetBreach::DurationExceeded
        )
    }
}

/// A session's spending against its [`FrameLimits`].
#[derive(Debug, Clone)]
pub struct FrameBudget {
    limits: FrameLimits,
    first: Option<Instant>,
    last_second: VecDeque<Instant>,
    frames: u64,
    bytes: u64,
}

impl FrameBudget {
    /// A budget with nothing spent.
    pub fn new(limits: FrameLimits) -> Self {
        Self {
            limits,
            first: None,
            last_second: VecDeque::new(),
            frames: 0,
            bytes: 0,
        }
    }

    /// The limits.
    pub fn limits(&self) -> &FrameLimits {
        &self.limits
    }

    /// Charges one frame of `len` bytes arriving at `now`; a refused frame is not charged.
    pub fn charge(&mut self, now: Instant, len: usize) -> Result<(), BudgetBreach> {
        if len > self.limits.max_frame_bytes {
            return Err(BudgetBreach::FrameTooLarge);
        }
        let first = *self.first.get_or_insert(now);
        if now.duration_since(first) > Duration::from_secs(self.limits.max_duration_s) {
            return Err(BudgetBreach::DurationExceeded);
        }
        if self.frames >= self.limits.max_frames {
            return Err(BudgetBreach::TooManyFrames);
        }
        if self.bytes + len as u64 > self.limits.max_total_bytes {
            return Err(BudgetBreach::BytesExceeded);
        }
        while self
            .last_second
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.last_second.pop_front();
        }
        if self.last_second.len() >= self.limits.max_fps as usize {
            return Err(BudgetBreach::RateExceeded);
        }
        self.last_second.push_back(now);
        self.frames += 1;
        self.bytes += len as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> FrameLimits {
        FrameLimits {
            max_frame_bytes: 100,
            max_fps: 3,
            max_frames: 10,
            max_total_bytes: 500,
            max_duration_s: 5,
        }
    }

    #[test]
    fn frames_within_limits_pass_and_each_limit_refuses() {
        let t0 = Instant::now();
        let mut b = FrameBudget::new(limits());
        assert_eq!(b.charge(t0, 101), Err(BudgetBreach::FrameTooLarge));
        for i in 0..3 {
            assert_eq!(b.charge(t0 + Duration::from_millis(i * 10), 10), Ok(()));
        }
        assert_eq!(
            b.charge(t0 + Duration::from_millis(500), 10),
            Err(BudgetBreach::RateExceeded)
        );
        // A second later the window has room again.
        assert_eq!(b.charge(t0 + Duration::from_millis(1000), 10), Ok(()));
        assert_eq!(
            b.charge(t0 + Duration::from_secs(6), 10),
            Err(BudgetBreach::DurationExceeded)
        );
    }

    #[test]
    fn session_totals_end_the_session() {
        let t0 = Instant::now();
        let mut b = FrameBudget::new(limits());
        for i in 0..10 {
            b.charge(t0 + Duration::from_millis(400 * i), 10)
                .expect("within limits");
        }
        let breach = b.charge(t0 + Duration::from_millis(4100), 10).unwrap_err();
        assert_eq!(breach, BudgetBreach::TooManyFrames);
        assert!(breach.ends_session());

        let mut b = FrameBudget::new(limits());
        for i in 0..5 {
            b.charge(t0 + Duration::from_millis(400 * i), 100)
                .expect("within limits");
        }
        assert_eq!(
            b.charge(t0 + Duration::from_millis(2100), 1),
            Err(BudgetBreach::BytesExceeded)
        );
        assert!(!BudgetBreach::RateExceeded.ends_session());
    }
}
