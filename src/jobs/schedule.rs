//! Cron schedules: parsed by `croner` (5 fields `min hour dom month dow`, or 6 with seconds
//! first), read in a fixed offset from UTC (the `jobs.cron_utc_offset_min` property, the same
//! on every node), never more often than once a minute.

use std::str::FromStr;

use chrono::{DateTime, FixedOffset, Offset, Utc};
use croner::Cron;

/// The shortest gap between two runs a schedule may ask for.
pub const MIN_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);

/// The longest cron expression taken, in characters.
const MAX_CHARS: usize = 120;

/// Why a cron expression is refused; the reason quotes only the expression's own shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ScheduleError {
    /// What is wrong, in English.
    pub reason: String,
}

fn refuse(reason: impl Into<String>) -> ScheduleError {
    ScheduleError {
        reason: reason.into(),
    }
}

/// A parsed, checked cron schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    text: String,
}

impl Schedule {
    /// Parses and checks `text`: a valid expression that fires, at most once a minute.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(refuse("must not be empty"));
        }
        if text.chars().count() > MAX_CHARS {
            return Err(refuse(format!("must be at most {MAX_CHARS} characters")));
        }
        let cron = Cron::from_str(text).map_err(|err| refuse(err.to_string()))?;
        let schedule = Self {
            cron,
            text: text.to_owned(),
        };
        // Two consecutive firings from a fixed point tell both "never fires" and "too often".
        let start = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(); // 2026-01-01
        let utc = Utc.fix();
        let first = schedule
            .next_after(start, utc)
            .ok_or_else(|| refuse("never fires"))?;
        let second = schedule
            .next_after(first, utc)
            .ok_or_else(|| refuse("never fires"))?;
        if second - first < MIN_INTERVAL {
            return Err(refuse("must not fire more often than once a minute"));
        }
        Ok(schedule)
    }

    /// The expression as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first firing strictly after `after`, reading the expression in `offset`.
    pub fn next_after(&self, after: DateTime<Utc>, offset: FixedOffset) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&offset);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// The offset a `jobs.cron_utc_offset_min` value names (UTC when out of range).
pub fn offset_from_minutes(minutes: i64) -> FixedOffset {
    i32::try_from(minutes.saturating_mul(60))
        .ok()
        .and_then(FixedOffset::east_opt)
        .unwrap_or_else(|| Utc.fix())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn the_next_firing_is_read_in_the_configured_zone() {
        let daily = Schedule::parse("0 2 * * *").expect("parses");
        let china = offset_from_minutes(480);
        // 02:00 in UTC+8 is 18:00 UTC the day before.
        assert_eq!(
            daily.next_after(at("2026-11-25T12:00:00Z"), china),
            Some(at("2026-11-25T18:00:00Z"))
        );
        assert_eq!(
            daily.next_after(at("2026-11-25T18:00:00Z"), china),
            Some(at("2026-11-26T18:00:00Z")),
            "strictly after"
        );
        assert_eq!(
            daily.next_after(at("2026-11-25T12:00:00Z"), offset_from_minutes(0)),
            Some(at("2026-11-26T02:00:00Z"))
        );
        let five = Schedule::parse("*/5 * * * *").expect("parses");
        assert_eq!(
            five.next_after(at("2026-11-25T12:03:10Z"), china),
            Some(at("2026-11-25T12:05:00Z"))
        );
    }

    #[test]
    fn bad_never_and_too_frequent_expressions_are_refused() {
        for bad in ["", "every day", "61 * * * *", "* * * *", "0 0 31 2 *"] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Schedule::parse("*/10 * * * * *")
                .expect_err("seconds")
                .reason,
            "must not fire more often than once a minute"
        );
        assert!(
            Schedule::parse("30 */1 * * * *").is_ok(),
            "seconds field, once a minute"
        );
        assert_eq!(
            Schedule::parse("  0 3 * * 0 ").expect("ok").as_str(),
            "0 3 * * 0"
        );
    }
}
