//! The working calendar (工作日历): working hours, working days, public holidays and swapped
//! workdays (调休), and time limits counted in working time (处置时限 are set in working hours or
//! working days, see `shared/domain.md`). Pure: instants in, instants out.
//!
//! A working day's length is the sum of its working periods (7 h by default: 08:30–12:00 and
//! 14:00–17:30). "N working days" is N times that length of working time, so a case dispatched at
//! 16:30 with one working day is due at 16:30 the next working day.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use serde::{Deserialize, Serialize};

use super::catalogue::TimeLimit;

/// A city's working calendar, in its local time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkCalendar {
    /// Local time zone (China Standard Time, UTC+8, for Chinese cities).
    pub zone: FixedOffset,
    /// Working periods of a working day, local time, in order, not overlapping.
    pub periods: Vec<(NaiveTime, NaiveTime)>,
    /// Weekdays that are normally off.
    pub weekend: Vec<Weekday>,
    /// Public holidays (off even on a weekday).
    pub holidays: BTreeSet<NaiveDate>,
    /// Swapped workdays (调休): working even on a weekend.
    pub workdays: BTreeSet<NaiveDate>,
}

/// A city's working calendar as written in its JSON file (`--calendar`). Example:
/// `{"extends": "china", "utc_offset": "+08:00", "periods": [["08:00","12:00"],["14:30","18:00"]],
///   "holidays": [["2027-01-01","2027-01-03"]], "workdays": ["2027-01-04"]}`. With `extends:
/// "china"` the national holidays and swapped workdays are kept and the file adds to them; the
/// periods and weekend, when given, replace the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarFile {
    /// `china` to start from the national calendar, or absent for an empty one.
    #[serde(default)]
    pub extends: Option<String>,
    /// Local offset, e.g. `+08:00`.
    #[serde(default)]
    pub utc_offset: Option<String>,
    /// Working periods, local `HH:MM` pairs.
    #[serde(default)]
    pub periods: Option<Vec<(String, String)>>,
    /// Weekdays off, e.g. `["sat","sun"]`.
    #[serde(default)]
    pub weekend: Option<Vec<String>>,
    /// Holidays: single dates or `[first, last]` ranges.
    #[serde(default)]
    pub holidays: Vec<DateOrRange>,
    /// Swapped workdays (调休).
    #[serde(default)]
    pub workdays: Vec<NaiveDate>,
}

/// A date or an inclusive range of dates.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DateOrRange {
    /// One date.
    One(NaiveDate),
    /// First and last date.
    Range(NaiveDate, NaiveDate),
}

impl CalendarFile {
    fn build(self) -> Result<WorkCalendar, CalendarError> {
        let base = match self.extends.as_deref() {
            Some("china") => WorkCalendar::china_default(),
            None => WorkCalendar {
                holidays: BTreeSet::new(),
                workdays: BTreeSet::new(),
                ..WorkCalendar::china_default()
            },
            Some(other) => {
                return Err(CalendarError(format!(
                    "unknown base calendar {other:?}; use \"china\" or leave it out"
                )));
            }
        };
        let zone = match self.utc_offset.as_deref() {
            None => base.zone,
            Some(text) => text
                .parse::<FixedOffset>()
                .map_err(|_| CalendarError(format!("utc_offset {text:?} is not like +08:00")))?,
        };
        let time = |t: &str| {
            NaiveTime::parse_from_str(t, "%H:%M")
                .map_err(|_| CalendarError(format!("time {t:?} is not HH:MM")))
        };
        let periods = match self.periods {
            None => base.periods,
            Some(p) => p
                .iter()
                .map(|(a, b)| Ok((time(a)?, time(b)?)))
                .collect::<Result<_, CalendarError>>()?,
        };
        let weekend = match self.weekend {
            None => base.weekend,
            Some(w) => w
                .iter()
                .map(|d| {
                    d.parse::<Weekday>()
                        .map_err(|_| CalendarError(format!("weekday {d:?} is not like \"sat\"")))
                })
                .collect::<Result<_, _>>()?,
        };
        let mut holidays = base.holidays;
        for h in self.holidays {
            match h {
                DateOrRange::One(d) => {
                    holidays.insert(d);
                }
                DateOrRange::Range(a, b) if a <= b && (b - a).num_days() < 60 => {
                    holidays.extend(days(a, b));
                }
                DateOrRange::Range(a, b) => {
                    return Err(CalendarError(format!(
                        "holiday range {a}..{b} is reversed or longer than 60 days"
                    )));
                }
            }
        }
        let mut workdays = base.workdays;
        workdays.extend(self.workdays);
        WorkCalendar::new(zone, periods, weekend, holidays, workdays)
    }
}

/// A calendar definition that does not make sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid working calendar: {0}")]
pub struct CalendarError(pub String);

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

impl WorkCalendar {
    /// A calendar, checked: at least one period, each starting before it ends, in order.
    pub fn new(
        zone: FixedOffset,
        periods: Vec<(NaiveTime, NaiveTime)>,
        weekend: Vec<Weekday>,
        holidays: BTreeSet<NaiveDate>,
        workdays: BTreeSet<NaiveDate>,
    ) -> Result<Self, CalendarError> {
        if periods.is_empty() {
            return Err(CalendarError(
                "a working day needs at least one working period".into(),
            ));
        }
        for w in periods.windows(2) {
            if w[0].1 > w[1].0 {
                return Err(CalendarError(format!(
                    "working periods overlap or are out of order: {:?} and {:?}",
                    w[0], w[1]
                )));
            }
        }
        if let Some(p) = periods.iter().find(|(a, b)| a >= b) {
            return Err(CalendarError(format!(
                "working period {p:?} ends before it starts"
            )));
        }
        if let Some(d) = holidays.intersection(&workdays).next() {
            return Err(CalendarError(format!(
                "{d} is listed both as a holiday and as a swapped workday"
            )));
        }
        Ok(Self {
            zone,
            periods,
            weekend,
            holidays,
            workdays,
        })
    }

    /// A city's calendar from its JSON definition (see [`CalendarFile`]).
    pub fn from_json(text: &str) -> Result<Self, CalendarError> {
        let f: CalendarFile = serde_json::from_str(text)
            .map_err(|e| CalendarError(format!("not a calendar definition: {e}")))?;
        f.build()
    }

    /// The national calendar of China (国务院办公厅 holiday notices) for 2024 to 2026, with the
    /// usual office hours 08:30–12:00 and 14:00–17:30. Cities adjust hours; later years are added
    /// as the notices are published.
    pub fn china_default() -> Self {
        let mut holidays = BTreeSet::new();
        let mut workdays = BTreeSet::new();
        for (a, b) in [
            // 2024: 元旦, 春节, 清明, 劳动节, 端午, 中秋, 国庆.
            (date(2024, 1, 1), date(2024, 1, 1)),
            (date(2024, 2, 10), date(2024, 2, 17)),
            (date(2024, 4, 4), date(2024, 4, 6)),
            (date(2024, 5, 1), date(2024, 5, 5)),
            (date(2024, 6, 10), date(2024, 6, 10)),
            (date(2024, 9, 15), date(2024, 9, 17)),
            (date(2024, 10, 1), date(2024, 10, 7)),
            // 2025.
            (date(2025, 1, 1), date(2025, 1, 1)),
            (date(2025, 1, 28), date(2025, 2, 4)),
            (date(2025, 4, 4), date(2025, 4, 6)),
            (date(2025, 5, 1), date(2025, 5, 5)),
            (date(2025, 5, 31), date(2025, 6, 2)),
            (date(2025, 10, 1), date(2025, 10, 8)),
            // 2026 (国办发明电〔2025〕7号).
            (date(2026, 1, 1), date(2026, 1, 3)),
            (date(2026, 2, 15), date(2026, 2, 23)),
            (date(2026, 4, 4), date(2026, 4, 6)),
            (date(2026, 5, 1), date(2026, 5, 5)),
            (date(2026, 6, 19), date(2026, 6, 21)),
            (date(2026, 9, 25), date(2026, 9, 27)),
            (date(2026, 10, 1), date(2026, 10, 7)),
        ] {
            holidays.extend(days(a, b));
        }
        for d in [
            date(2024, 2, 4),
            date(2024, 2, 18),
            date(2024, 4, 7),
            date(2024, 4, 28),
            date(2024, 5, 11),
            date(2024, 9, 14),
            date(2024, 9, 29),
            date(2024, 10, 12),
            date(2025, 1, 26),
            date(2025, 2, 8),
            date(2025, 4, 27),
            date(2025, 9, 28),
            date(2025, 10, 11),
            date(2026, 1, 4),
            date(2026, 2, 14),
            date(2026, 2, 28),
            date(2026, 5, 9),
            date(2026, 9, 20),
            date(2026, 10, 10),
        ] {
            workdays.insert(d);
        }
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default();
        Self {
            zone: FixedOffset::east_opt(8 * 3600)
                .unwrap_or(FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!())),
            periods: vec![(t(8, 30), t(12, 0)), (t(14, 0), t(17, 30))],
            weekend: vec![Weekday::Sat, Weekday::Sun],
            holidays,
            workdays,
        }
    }

    /// Whether a local date is a working day.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if self.workdays.contains(&d) {
            return true;
        }
        !self.holidays.contains(&d) && !self.weekend.contains(&d.weekday())
    }

    /// Working time in one working day.
    pub fn day_length(&self) -> Duration {
        self.periods.iter().map(|(a, b)| *b - *a).sum()
    }

    fn local(&self, d: NaiveDate, t: NaiveTime) -> DateTime<Utc> {
        self.zone
            .from_local_datetime(&d.and_time(t))
            .single()
            .map(|x| x.with_timezone(&Utc))
            .unwrap_or_default()
    }

    /// The working periods of a local date as UTC intervals (none on a day off).
    fn intervals(&self, d: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.is_working_day(d) {
            return Vec::new();
        }
        self.periods
            .iter()
            .map(|(a, b)| (self.local(d, *a), self.local(d, *b)))
            .collect()
    }

    /// The instant `amount` of working time after `start`.
    pub fn add_working(&self, start: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        let mut left = amount;
        if left <= Duration::zero() {
            return start;
        }
        let mut day = start.with_timezone(&self.zone).date_naive();
        // Ten years of days off in a row would be a broken calendar; stop rather than loop.
        for _ in 0..3660 {
            for (a, b) in self.intervals(day) {
                let from = a.max(start);
                if from >= b {
                    continue;
                }
                let available = b - from;
                if available >= left {
                    return from + left;
                }
                left -= available;
            }
            day = day.succ_opt().unwrap_or(day);
        }
        start + amount
    }

    /// The deadline of a time limit started at `start`.
    pub fn deadline(&self, start: DateTime<Utc>, limit: TimeLimit) -> DateTime<Utc> {
        let amount = match limit {
            TimeLimit::WorkingHours(h) => Duration::hours(i64::from(h)),
            TimeLimit::WorkingDays(d) => self.day_length() * i32::try_from(d).unwrap_or(i32::MAX),
        };
        self.add_working(start, amount)
    }

    /// Working time between two instants (zero when `to` is not after `from`).
    pub fn working_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let mut total = Duration::zero();
        let mut day = from.with_timezone(&self.zone).date_naive();
        let last = to.with_timezone(&self.zone).date_naive();
        while day <= last {
            for (a, b) in self.intervals(day) {
                let (s, e) = (a.max(from), b.min(to));
                if e > s {
                    total += e - s;
                }
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        total
    }

    /// The traffic light of a running time limit at `now`: green under 80 % of the working time
    /// used, yellow from 80 % to 100 %, red when overdue.
    pub fn light(
        &self,
        start: DateTime<Utc>,
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Light {
        if now > deadline {
            return Light::Red;
        }
        let total = self.working_between(start, deadline).num_seconds().max(1);
        let used = self.working_between(start, now).num_seconds();
        if used * 100 >= total * 80 {
            Light::Yellow
        } else {
            Light::Green
        }
    }
}

/// The traffic light of a deadline (红黄绿灯).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Light {
    /// Under 80 % of the time used.
    Green,
    /// 80–100 % used.
    Yellow,
    /// Overdue.
    Red,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn four_working_hours_from_friday_afternoon_end_on_monday_morning() {
        let c = WorkCalendar::china_default();
        // Friday 2025-03-07 16:30: 1 h left that day, 3 h on Monday from 08:30.
        let due = c.deadline(at(2025, 3, 7, 16, 30), TimeLimit::WorkingHours(4));
        assert_eq!(due, at(2025, 3, 10, 11, 30));
    }

    #[test]
    fn the_lunch_break_and_the_night_do_not_count() {
        let c = WorkCalendar::china_default();
        assert_eq!(
            c.deadline(at(2025, 3, 10, 11, 0), TimeLimit::WorkingHours(2)),
            at(2025, 3, 10, 15, 0)
        );
        // Reported at night: the clock starts at 08:30.
        assert_eq!(
            c.deadline(at(2025, 3, 10, 22, 0), TimeLimit::WorkingHours(1)),
            at(2025, 3, 11, 9, 30)
        );
    }

    #[test]
    fn the_spring_festival_is_skipped_and_its_swapped_saturday_counts() {
        let c = WorkCalendar::china_default();
        // Monday 2025-01-27 17:00 with one working day (7 h): 30 min on the 27th, then 春节
        // (01-28 to 02-04), then 6.5 h on Wednesday 02-05: until 17:00.
        assert_eq!(
            c.deadline(at(2025, 1, 27, 17, 0), TimeLimit::WorkingDays(1)),
            at(2025, 2, 5, 17, 0)
        );
        // Saturday 2025-02-08 is a swapped workday (调休).
        assert!(c.is_working_day(date(2025, 2, 8)));
        assert!(!c.is_working_day(date(2025, 2, 1)));
        assert_eq!(
            c.deadline(at(2025, 2, 7, 17, 0), TimeLimit::WorkingHours(1)),
            at(2025, 2, 8, 9, 0)
        );
    }

    #[test]
    fn working_time_between_two_instants_counts_only_working_periods() {
        let c = WorkCalendar::china_default();
        let w = c.working_between(at(2025, 3, 7, 16, 30), at(2025, 3, 10, 11, 30));
        assert_eq!(w, Duration::hours(4));
        assert_eq!(
            c.working_between(at(2025, 3, 10, 12, 0), at(2025, 3, 10, 14, 0)),
            Duration::zero()
        );
    }

    #[test]
    fn the_light_turns_yellow_at_80_percent_and_red_when_overdue() {
        let c = WorkCalendar::china_default();
        let start = at(2025, 3, 10, 8, 30);
        let due = c.deadline(start, TimeLimit::WorkingHours(5)); // 14:00 + 1.5 h = 15:30
        assert_eq!(due, at(2025, 3, 10, 15, 30));
        assert_eq!(c.light(start, due, at(2025, 3, 10, 11, 0)), Light::Green);
        // 4 h of 5 used at 14:30.
        assert_eq!(c.light(start, due, at(2025, 3, 10, 14, 30)), Light::Yellow);
        assert_eq!(c.light(start, due, at(2025, 3, 10, 15, 31)), Light::Red);
    }

    #[test]
    fn a_nonsensical_calendar_is_refused() {
        let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
        let z = FixedOffset::east_opt(8 * 3600).unwrap();
        assert!(WorkCalendar::new(z, vec![], vec![], BTreeSet::new(), BTreeSet::new()).is_err());
        assert!(
            WorkCalendar::new(
                z,
                vec![(t(9), t(8))],
                vec![],
                BTreeSet::new(),
                BTreeSet::new()
            )
            .is_err()
        );
        assert!(
            WorkCalendar::new(
                z,
                vec![(t(8), t(12)), (t(11), t(13))],
                vec![],
                BTreeSet::new(),
                BTreeSet::new()
            )
            .is_err()
        );
        let d = BTreeSet::from([date(2025, 1, 1)]);
        assert!(WorkCalendar::new(z, vec![(t(8), t(12))], vec![], d.clone(), d).is_err());
    }

    #[test]
    fn a_city_calendar_file_adds_its_own_days_to_the_national_ones() {
        let c = WorkCalendar::from_json(
            r#"{"extends":"china","periods":[["08:00","12:00"],["14:30","18:00"]],
                "holidays":["2027-01-01",["2027-01-02","2027-01-03"]],"workdays":["2027-01-04"]}"#,
        )
        .unwrap();
        assert!(
            !c.is_working_day(date(2026, 10, 1)),
            "national holiday kept"
        );
        assert!(!c.is_working_day(date(2027, 1, 2)));
        assert_eq!(c.day_length(), Duration::minutes(450));
        assert!(WorkCalendar::from_json(r#"{"extends":"mars"}"#).is_err());
        assert!(WorkCalendar::from_json(r#"{"periods":[["14:00","12:00"]]}"#).is_err());
        assert!(
            WorkCalendar::from_json(r#"{"holiday":[]}"#).is_err(),
            "typos are refused"
        );
    }

    #[test]
    fn the_2026_national_day_week_and_its_swapped_saturday() {
        let c = WorkCalendar::china_default();
        assert!(!c.is_working_day(date(2026, 10, 7)));
        assert!(
            c.is_working_day(date(2026, 10, 10)),
            "Saturday 10 October is a workday"
        );
        assert!(c.is_working_day(date(2026, 10, 8)));
    }
}
