//! The case service's sense of "now".
//!
//! A city runs on the system clock. Replaying the demo city's history through the real workflow
//! (`crate::demo_cases`) needs the same code to believe it is an afternoon in October 2026: a
//! manual clock that the replay moves forward, so that deadlines, step clocks, on-time flags and
//! the instants of the events all fall at the simulated moments, exactly as if the people had
//! acted then.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

/// Where "now" comes from; cheap to clone (a manual clock is shared by its clones).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<Mutex<DateTime<Utc>>>>,
}

/// A manual clock was asked to go back in time, or a system clock to move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClockError {
    /// A manual clock only moves forward: an event log whose instants go backwards would read
    /// wrongly (a case's state at an instant is the last event before it).
    #[error("the clock stands at {now} and cannot go back to {to}")]
    Backwards {
        /// Where the clock stands.
        now: DateTime<Utc>,
        /// Where it was asked to go.
        to: DateTime<Utc>,
    },
    /// The system clock is not ours to move.
    #[error("the system clock cannot be set")]
    System,
}

impl Clock {
    /// The system clock (the default).
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that stands at `at` until it is moved with [`Clock::advance_to`].
    pub fn manual(at: DateTime<Utc>) -> Self {
        Self {
            manual: Some(Arc::new(Mutex::new(at))),
        }
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// Now, by this clock.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            Some(t) => *t.lock().unwrap_or_else(PoisonError::into_inner),
            None => Utc::now(),
        }
    }

    /// Moves a manual clock forward to `to` (standing still is allowed).
    pub fn advance_to(&self, to: DateTime<Utc>) -> Result<(), ClockError> {
        let Some(t) = &self.manual else {
            return Err(ClockError::System);
        };
        let mut now = t.lock().unwrap_or_else(PoisonError::into_inner);
        if to < *now {
            return Err(ClockError::Backwards { now: *now, to });
        }
        *now = to;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_until_moved_and_never_goes_back() {
        let t0 = DateTime::parse_from_rfc3339("2026-10-05T09:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::manual(t0);
        let shared = clock.clone();
        assert_eq!(clock.now(), t0);
        let t1 = t0 + chrono::Duration::minutes(30);
        shared.advance_to(t1).unwrap();
        assert_eq!(clock.now(), t1, "clones share the instant");
        assert!(matches!(
            clock.advance_to(t0),
            Err(ClockError::Backwards { .. })
        ));
        assert_eq!(clock.now(), t1);
    }

    #[test]
    fn the_system_clock_follows_real_time_and_cannot_be_set() {
        let clock = Clock::system();
        let before = Utc::now();
        let now = clock.now();
        assert!(now >= before && now <= Utc::now());
        assert_eq!(clock.advance_to(now), Err(ClockError::System));
        assert!(!clock.is_manual());
    }
}
