//! Assessment periods: an ISO week (Monday to Sunday), a month, a quarter or any range of days,
//! all in Beijing time (Asia/Shanghai, UTC+8 all year: China keeps no daylight saving time).

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, Months, NaiveDate, TimeZone, Utc, Weekday,
};
use serde::Serialize;

/// What kind of period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// ISO week, Monday to Sunday.
    Week,
    /// Calendar month.
    Month,
    /// Calendar quarter.
    Quarter,
    /// Any range of whole days.
    Range,
}

/// A period of whole days in Beijing time: `first` to `last` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// The kind.
    pub kind: PeriodKind,
    /// The first day.
    pub first: NaiveDate,
    /// The last day (inclusive).
    pub last: NaiveDate,
}

/// Why a period does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "period {0:?} is not an ISO week (2026-W48), a month (2026-11), a quarter (2026-Q4) or a range of days (2026-11-02..2026-11-15, at most 366 days, first <= last)"
)]
pub struct PeriodError(pub String);

/// The longest range accepted, in days.
pub const MAX_RANGE_DAYS: i64 = 366;

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

impl Period {
    /// Parses `2026-W48`, `2026-11`, `2026-Q4` or `2026-11-02..2026-11-15`.
    pub fn parse(s: &str) -> Result<Self, PeriodError> {
        let bad = || PeriodError(s.chars().take(40).collect());
        let s = s.trim();
        if let Some((a, b)) = s.split_once("..") {
            let first = NaiveDate::parse_from_str(a, "%Y-%m-%d").map_err(|_| bad())?;
            let last = NaiveDate::parse_from_str(b, "%Y-%m-%d").map_err(|_| bad())?;
            if last < first || (last - first).num_days() >= MAX_RANGE_DAYS {
                return Err(bad());
            }
            return Ok(Period {
                kind: PeriodKind::Range,
                first,
                last,
            });
        }
        let (y, rest) = s.split_once('-').ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        if !(1970..=9999).contains(&year) || y.len() != 4 {
            return Err(bad());
        }
        let num = |t: &str| -> Result<u32, PeriodError> {
            if t.is_empty() || t.len() > 2 || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            t.parse().map_err(|_| bad())
        };
        if let Some(w) = rest.strip_prefix('W') {
            let first = NaiveDate::from_isoywd_opt(year, num(w)?, Weekday::Mon).ok_or_else(bad)?;
            return Ok(Self::week_of(first));
        }
        if let Some(q) = rest.strip_prefix('Q') {
            let q = num(q)?;
            if !(1..=4).contains(&q) {
                return Err(bad());
            }
            let first = NaiveDate::from_ymd_opt(year, 3 * q - 2, 1).ok_or_else(bad)?;
            return Ok(Self::span(PeriodKind::Quarter, first, 3));
        }
        let first = NaiveDate::from_ymd_opt(year, num(rest)?, 1).ok_or_else(bad)?;
        Ok(Self::span(PeriodKind::Month, first, 1))
    }

    fn span(kind: PeriodKind, first: NaiveDate, months: u32) -> Self {
        let next = first + Months::new(months);
        Period {
            kind,
            first,
            last: next.pred_opt().unwrap_or(next),
        }
    }

    /// The ISO week holding `day`.
    pub fn week_of(day: NaiveDate) -> Self {
        let first = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
        Period {
            kind: PeriodKind::Week,
            first,
            last: first + Duration::days(6),
        }
    }

    /// The period of `kind` holding the instant `at` (a range: the single Beijing day).
    pub fn containing(kind: PeriodKind, at: DateTime<Utc>) -> Self {
        let day = at.with_timezone(&beijing()).date_naive();
        let month = |m: u32| NaiveDate::from_ymd_opt(day.year(), m, 1).unwrap_or(day);
        match kind {
            PeriodKind::Week => Self::week_of(day),
            PeriodKind::Month => Self::span(kind, month(day.month()), 1),
            PeriodKind::Quarter => Self::span(kind, month((day.month() - 1) / 3 * 3 + 1), 3),
            PeriodKind::Range => Period {
                kind,
                first: day,
                last: day,
            },
        }
    }

    /// The canonical name: `2026-W48`, `2026-11`, `2026-Q4`, `2026-11-02..2026-11-15`.
    pub fn label(&self) -> String {
        match self.kind {
            PeriodKind::Week => {
                let w = self.first.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            PeriodKind::Month => format!("{}-{:02}", self.first.year(), self.first.month()),
            PeriodKind::Quarter => {
                format!(
                    "{}-Q{}",
                    self.first.year(),
                    (self.first.month() - 1) / 3 + 1
                )
            }
            PeriodKind::Range => format!("{}..{}", self.first, self.last),
        }
    }

    /// The first instant (Beijing midnight of the first day).
    pub fn start(&self) -> DateTime<Utc> {
        midnight(self.first)
    }

    /// The instant after the period (Beijing midnight after the last day).
    pub fn end(&self) -> DateTime<Utc> {
        midnight(self.last + Duration::days(1))
    }

    /// The period before, of the same kind and length.
    pub fn previous(&self) -> Self {
        match self.kind {
            PeriodKind::Week => Self::week_of(self.first - Duration::days(7)),
            PeriodKind::Month => Self::span(self.kind, self.first - Months::new(1), 1),
            PeriodKind::Quarter => Self::span(self.kind, self.first - Months::new(3), 3),
            PeriodKind::Range => {
                let days = (self.last - self.first).num_days() + 1;
                Period {
                    kind: self.kind,
                    first: self.first - Duration::days(days),
                    last: self.last - Duration::days(days),
                }
            }
        }
    }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    beijing()
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn an_iso_week_runs_monday_to_sunday_from_beijing_midnight() {
        let w = Period::parse("2026-W48").unwrap();
        assert_eq!((w.first, w.last), (day("2026-11-23"), day("2026-11-29")));
        assert_eq!(w.start().to_rfc3339(), "2026-11-22T16:00:00+00:00");
        assert_eq!(w.end().to_rfc3339(), "2026-11-29T16:00:00+00:00");
        assert_eq!(w.label(), "2026-W48");
        assert_eq!(w.previous().label(), "2026-W47");
        // ISO week 1 of 2027 starts on Monday 2027-01-04; the week before is 2026-W53.
        assert_eq!(
            Period::parse("2027-W01").unwrap().previous().label(),
            "2026-W53"
        );
    }

    #[test]
    fn months_quarters_and_ranges_parse_and_step_back() {
        let m = Period::parse("2026-03").unwrap();
        assert_eq!((m.first, m.last), (day("2026-03-01"), day("2026-03-31")));
        assert_eq!(m.previous().label(), "2026-02");
        let q = Period::parse("2026-Q1").unwrap();
        assert_eq!((q.first, q.last), (day("2026-01-01"), day("2026-03-31")));
        assert_eq!(q.previous().label(), "2025-Q4");
        let r = Period::parse("2026-11-02..2026-11-15").unwrap();
        assert_eq!(r.previous().label(), "2026-10-19..2026-11-01");
        for bad in [
            "2026-W54",
            "2026-13",
            "2026-Q5",
            "2026-11-15..2026-11-02",
            "x",
            "2026-W4x",
            "2020-01-01..2022-01-01",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_period_holding_an_instant_is_read_in_beijing_time() {
        // Sunday 2026-11-29 17:00 UTC is Monday 01:00 in Beijing: the next week.
        let t = "2026-11-29T17:00:00Z".parse().unwrap();
        assert_eq!(Period::containing(PeriodKind::Week, t).label(), "2026-W49");
        assert_eq!(
            Period::containing(PeriodKind::Quarter, t).label(),
            "2026-Q4"
        );
        assert_eq!(Period::containing(PeriodKind::Month, t).label(), "2026-11");
    }
}
