//! The three clocks of a case and what "overdue" means, written once: the case view and the
//! store's `overdue` filter both follow [`overdue`] (the store builds its SQL from [`RUNNING`] and
//! [`HANDLING`]).
//!
//! - The **handling** clock (`dispatched_at` → `deadline_at`, the category's time limit) measures
//!   the responsible unit's work: it runs while the case is 派遣 or 处置.
//! - The **step** clock (`step_started_at` → `step_due_at`) measures the current step; it is reset
//!   on every change of status (the handling step uses the handling deadline).
//! - The **overall** clock (`reported_at` → `due_at`, the category's limit plus one working day)
//!   measures the whole case.
//!
//! A deadline makes a case overdue only while the stage it measures is still running: the
//! handling deadline while 派遣/处置 (once the unit has fed back, its part was done; a case sent
//! back to 立案 keeps its old `deadline_at` until the next dispatch, and that deadline is no
//! longer anyone's), the step and overall deadlines while the case runs at all. Nothing is
//! overdue once the case is finished (结案, 作废, 已合并) or parked (挂账 stops the clocks).

use chrono::{DateTime, Utc};

use super::Status;
use super::record::Case;
use crate::domain::calendar::{Light, WorkCalendar};
use crate::domain::catalogue::TimeLimit;

/// Statuses in which a case's clocks run: open and not parked.
pub const RUNNING: [Status; 7] = [
    Status::Verifying,
    Status::Collected,
    Status::Registered,
    Status::Dispatched,
    Status::Handling,
    Status::FedBack,
    Status::Checked,
];

/// Statuses of the handling stage (派遣, 处置), the only ones the handling deadline counts in.
pub const HANDLING: [Status; 2] = [Status::Dispatched, Status::Handling];

/// The time the command centre's own steps may take, in working time (the handling step's
/// limit is the category's). Overall, a case is due at the category's limit plus one working
/// day for these steps.
pub fn step_limit(status: Status) -> Option<TimeLimit> {
    match status {
        // 核实: the grid's inspector goes to look.
        Status::Verifying => Some(TimeLimit::WorkingHours(2)),
        // 立案 and 派遣: desk work at the command centre.
        Status::Collected | Status::Registered => Some(TimeLimit::WorkingHours(1)),
        // 核查: the inspector checks the fix on site.
        Status::FedBack => Some(TimeLimit::WorkingHours(4)),
        // 结案.
        Status::Checked => Some(TimeLimit::WorkingHours(1)),
        _ => None,
    }
}

impl Status {
    /// Whether the case's clocks run in this status (open and not parked).
    pub fn clocks_run(self) -> bool {
        RUNNING.contains(&self)
    }

    /// Whether this is the handling stage (派遣, 处置), where the handling clock runs.
    pub fn in_handling(self) -> bool {
        HANDLING.contains(&self)
    }
}

/// The three deadlines of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Deadlines {
    /// The handling deadline (`deadline_at`).
    pub handling: Option<DateTime<Utc>>,
    /// The current step's deadline (`step_due_at`).
    pub step: Option<DateTime<Utc>>,
    /// The whole case's deadline (`due_at`).
    pub overall: Option<DateTime<Utc>>,
}

/// Whether a case in `status` with these deadlines is overdue at `now`: a deadline has passed
/// while the stage it measures is still running (see the module's documentation).
pub fn overdue(status: Status, deadlines: Deadlines, now: DateTime<Utc>) -> bool {
    let past = |t: Option<DateTime<Utc>>| t.is_some_and(|t| t < now);
    status.clocks_run()
        && (past(deadlines.step)
            || past(deadlines.overall)
            || (status.in_handling() && past(deadlines.handling)))
}

/// What a case's clocks say at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockReading {
    /// The handling clock's light while it runs (派遣, 处置).
    pub light: Option<Light>,
    /// The step clock's light while the case runs.
    pub step_light: Option<Light>,
    /// See [`overdue`].
    pub overdue: bool,
    /// A deadline lies past the last day of the holiday table: it was counted with weekends
    /// only.
    pub deadline_without_holidays: bool,
}

impl Case {
    /// The three deadlines.
    pub fn deadlines(&self) -> Deadlines {
        Deadlines {
            handling: self.deadline_at,
            step: self.step_due_at,
            overall: self.due_at,
        }
    }

    /// Whether the case is overdue at `now` (see [`overdue`]).
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        overdue(self.status, self.deadlines(), now)
    }

    /// The clocks read at `now` in working time.
    pub fn read_clocks(&self, calendar: &WorkCalendar, now: DateTime<Utc>) -> ClockReading {
        let runs = self.status.clocks_run();
        let light = match (self.dispatched_at, self.deadline_at) {
            (Some(start), Some(due)) if runs && self.status.in_handling() => {
                Some(calendar.light(start, due, now))
            }
            _ => None,
        };
        let step_light = match (self.step_started_at, self.step_due_at) {
            (Some(start), Some(due)) if runs => Some(calendar.light(start, due, now)),
            _ => None,
        };
        let deadline_without_holidays = [
            self.deadline_at,
            self.step_due_at,
            self.due_at,
            self.escalation_due_at,
        ]
        .into_iter()
        .flatten()
        .any(|t| calendar.beyond_holiday_data(t));
        ClockReading {
            light,
            step_light,
            overdue: self.overdue(now),
            deadline_without_holidays,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap() + Duration::hours(h)
    }

    #[test]
    fn the_handling_deadline_counts_only_while_the_unit_handles_the_case() {
        let past = Deadlines {
            handling: Some(at(-1)),
            ..Deadlines::default()
        };
        for status in Status::ALL {
            assert_eq!(
                overdue(status, past, at(0)),
                matches!(status, Status::Dispatched | Status::Handling),
                "{status:?}"
            );
        }
    }

    #[test]
    fn the_step_and_overall_deadlines_count_while_the_case_runs_and_never_once_parked_or_done() {
        for deadlines in [
            Deadlines {
                step: Some(at(-1)),
                ..Deadlines::default()
            },
            Deadlines {
                overall: Some(at(-1)),
                ..Deadlines::default()
            },
        ] {
            for status in Status::ALL {
                assert_eq!(
                    overdue(status, deadlines, at(0)),
                    !status.is_final() && status != Status::Parked,
                    "{status:?} {deadlines:?}"
                );
            }
        }
    }

    #[test]
    fn a_deadline_not_yet_reached_is_not_overdue() {
        let all = Deadlines {
            handling: Some(at(0)),
            step: Some(at(1)),
            overall: Some(at(2)),
        };
        assert!(!overdue(Status::Handling, all, at(0)));
        assert!(overdue(Status::Handling, all, at(0) + Duration::seconds(1)));
    }

    #[test]
    fn the_handling_light_shows_only_in_the_handling_stage() {
        let cal = WorkCalendar::china_default();
        let mut c = Case {
            dispatched_at: Some(at(-10)),
            deadline_at: Some(at(-1)),
            step_started_at: Some(at(-10)),
            step_due_at: Some(at(-1)),
            ..Case::draft("inspector", "0101", 113.6, 34.7)
        };
        for status in Status::ALL {
            c.status = status;
            let r = c.read_clocks(&cal, at(0));
            assert_eq!(r.light.is_some(), status.in_handling(), "{status:?}");
            assert_eq!(r.step_light.is_some(), status.clocks_run(), "{status:?}");
            assert_eq!(r.overdue, status.clocks_run(), "{status:?}");
        }
    }
}
