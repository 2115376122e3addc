//! The working calendar (工作日历): working hours, working days, public holidays and swapped
//! workdays (调休), and time limits counted in working time (处置时限 are set in working hours or
//! working days, per the category catalogue; see docs/cases.md). Pure: instants in, instants out.
//!
//! A working day's length is the sum of its working periods (7 h by default: 08:30–12:00 and
//! 14:00–17:30). "N working days" is N times that length of working time, so a case dispatched at
//! 16:30 with one working day is due at 16:30 the next working day.

use std::collections::{BTreeMap, BTreeSet};

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
    /// The national holiday table, one entry per year (built in from `calendar/cn-*.json`, or
    /// loaded by an admin); merged into `holidays` and `workdays`.
    national: BTreeMap<i32, YearTable>,
    /// The city's own holidays and workdays (its `--calendar` file), kept apart from the national
    /// table so that loading a year does not drop them.
    extra_holidays: BTreeSet<NaiveDate>,
    extra_workdays: BTreeSet<NaiveDate>,
    /// The last day the city's file says it has holiday data for, overriding the national table's.
    declared_known_until: Option<NaiveDate>,
}

/// How many entries (dates or ranges) one year's table may hold, each of holidays and workdays.
pub const MAX_YEAR_ENTRIES: usize = 100;

/// One year of the national holiday table, as in `calendar/cn-YYYY.json`: the holidays and
/// swapped workdays (调休) of one State Council notice, with that notice named as `source`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearTable {
    /// Region: `cn`.
    pub region: String,
    /// The year.
    pub year: i32,
    /// Where the days come from, e.g. "国务院办公厅关于2026年部分节假日安排的通知（国办发明电〔2025〕7号）".
    pub source: String,
    /// Holidays: dates or inclusive `[first, last]` ranges.
    pub holidays: Vec<DateOrRange>,
    /// Swapped workdays (调休).
    pub workdays: Vec<NaiveDate>,
}

impl YearTable {
    /// Parses and checks one year's table: the region is `cn`, the source named, at most
    /// [`MAX_YEAR_ENTRIES`] entries each, every date within the year or the month either side of
    /// it, ranges in order and at most 60 days, no day both a holiday and a workday.
    pub fn parse(text: &str) -> Result<Self, CalendarError> {
        let t: YearTable = serde_json::from_str(text)
            .map_err(|e| CalendarError(format!("not a year of the holiday table: {e}")))?;
        t.check()?;
        Ok(t)
    }

    /// The checks of [`YearTable::parse`].
    pub fn check(&self) -> Result<(), CalendarError> {
        if self.region != "cn" {
            return Err(CalendarError(format!(
                "region {:?} is not known; the national table is \"cn\"",
                self.region
            )));
        }
        if !(2000..=2100).contains(&self.year) {
            return Err(CalendarError(format!(
                "year {} is outside 2000–2100",
                self.year
            )));
        }
        if self.source.trim().is_empty() {
            return Err(CalendarError(
                "source must name the notice the days come from (e.g. 国办发明电〔2025〕7号)"
                    .into(),
            ));
        }
        if self.holidays.len() > MAX_YEAR_ENTRIES || self.workdays.len() > MAX_YEAR_ENTRIES {
            return Err(CalendarError(format!(
                "at most {MAX_YEAR_ENTRIES} holiday entries and {MAX_YEAR_ENTRIES} workdays per year"
            )));
        }
        let first = date(self.year - 1, 12, 1);
        let last = date(self.year + 1, 1, 31);
        let (holidays, workdays) = self.days()?;
        if let Some(d) = holidays
            .iter()
            .chain(&workdays)
            .find(|d| **d < first || **d > last)
        {
            return Err(CalendarError(format!(
                "{d} does not belong to the table of {}",
                self.year
            )));
        }
        if let Some(d) = holidays.intersection(&workdays).next() {
            return Err(CalendarError(format!(
                "{d} is listed both as a holiday and as a swapped workday"
            )));
        }
        Ok(())
    }

    /// The holidays and workdays as sets of dates.
    fn days(&self) -> Result<(BTreeSet<NaiveDate>, BTreeSet<NaiveDate>), CalendarError> {
        Ok((
            expand(&self.holidays)?,
            self.workdays.iter().copied().collect(),
        ))
    }

    /// The years built into wangge (`calendar/cn-*.json`).
    pub fn built_in() -> Vec<YearTable> {
        [
            include_str!("../../calendar/cn-2024.json"),
            include_str!("../../calendar/cn-2025.json"),
            include_str!("../../calendar/cn-2026.json"),
        ]
        .into_iter()
        .filter_map(|text| YearTable::parse(text).ok())
        .collect()
    }
}

fn expand(entries: &[DateOrRange]) -> Result<BTreeSet<NaiveDate>, CalendarError> {
    let mut out = BTreeSet::new();
    for h in entries {
        match *h {
            DateOrRange::One(d) => {
                out.insert(d);
            }
            DateOrRange::Range(a, b) if a <= b && (b - a).num_days() < 60 => {
                out.extend(days(a, b));
            }
            DateOrRange::Range(a, b) => {
                return Err(CalendarError(format!(
                    "holiday range {a}..{b} is reversed or longer than 60 days"
                )));
            }
        }
    }
    Ok(out)
}

/// Whether the holiday table covers a deadline, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// The last day with holiday data (None: the city's calendar declares no national table).
    pub known_until: Option<NaiveDate>,
    /// The years of the national table.
    pub years: Vec<i32>,
    /// Set from 60 days before `known_until`: what is about to run out and what to do.
    pub warning: Option<String>,
}

/// How many days before the end of the holiday table wangge starts warning.
pub const WARN_DAYS_AHEAD: i64 = 60;

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
    /// The last day this file has holiday data for (default: the end of the national table's
    /// last year; none for a calendar without `extends`).
    #[serde(default)]
    pub known_until: Option<NaiveDate>,
}

/// A date or an inclusive range of dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
                national: BTreeMap::new(),
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
        let mut calendar = WorkCalendar::new(
            zone,
            periods,
            weekend,
            expand(&self.holidays)?,
            self.workdays.into_iter().collect(),
        )?;
        calendar.declared_known_until = self.known_until;
        calendar.national = base.national;
        calendar.merge()?;
        Ok(calendar)
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
            extra_holidays: holidays.clone(),
            extra_workdays: workdays.clone(),
            holidays,
            workdays,
            national: BTreeMap::new(),
            declared_known_until: None,
        })
    }

    /// Recomputes the effective holidays and workdays from the national table and the city's own
    /// days (the city's days win over the national ones).
    fn merge(&mut self) -> Result<(), CalendarError> {
        let mut holidays = BTreeSet::new();
        let mut workdays = BTreeSet::new();
        for t in self.national.values() {
            let (h, w) = t.days()?;
            holidays.extend(h);
            workdays.extend(w);
        }
        for d in &self.extra_holidays {
            workdays.remove(d);
            holidays.insert(*d);
        }
        for d in &self.extra_workdays {
            holidays.remove(d);
            workdays.insert(*d);
        }
        self.holidays = holidays;
        self.workdays = workdays;
        Ok(())
    }

    /// This calendar with one year of the national table replaced (or added).
    pub fn with_year(&self, table: YearTable) -> Result<Self, CalendarError> {
        table.check()?;
        let mut next = self.clone();
        next.national.insert(table.year, table);
        next.merge()?;
        Ok(next)
    }

    /// The years of the national table, each with its source.
    pub fn national_years(&self) -> impl Iterator<Item = &YearTable> {
        self.national.values()
    }

    /// The last day with holiday data: the city's declared day, else 31 December of the national
    /// table's last year; None when neither is known (a city calendar of its own without
    /// `known_until`).
    pub fn known_until(&self) -> Option<NaiveDate> {
        self.declared_known_until
            .or_else(|| self.national.keys().next_back().map(|y| date(*y, 12, 31)))
    }

    /// Whether an instant lies past the last day with holiday data: a deadline reaching there was
    /// counted with weekends only.
    pub fn beyond_holiday_data(&self, at: DateTime<Utc>) -> bool {
        self.known_until()
            .is_some_and(|k| at.with_timezone(&self.zone).date_naive() > k)
    }

    /// What `/healthz` and the start-up log say about the holiday data on `today`.
    pub fn coverage(&self, today: NaiveDate) -> Coverage {
        let known_until = self.known_until();
        let warning = known_until
            .filter(|k| (*k - today).num_days() <= WARN_DAYS_AHEAD)
            .map(|k| {
                let next = k.year() + 1;
                if today > k {
                    format!(
                        "节假日数据已于 {k} 用完 / the holiday table ended on {k}: deadlines after it count weekends only \
                         (deadline_without_holidays). Load the {next} table (国务院办公厅 notice) with \
                         PUT /api/calendar/years/{next} or `wangge calendar load cn-{next}.json`."
                    )
                } else {
                    format!(
                        "节假日数据将于 {k} 用完 / the holiday table ends on {k}: deadlines after it count weekends only \
                         (deadline_without_holidays). Load the {next} table (国务院办公厅 notice) with \
                         PUT /api/calendar/years/{next} or `wangge calendar load cn-{next}.json`."
                    )
                }
            });
        Coverage {
            known_until,
            years: self.national.keys().copied().collect(),
            warning,
        }
    }

    /// A city's calendar from its JSON definition (see [`CalendarFile`]).
    pub fn from_json(text: &str) -> Result<Self, CalendarError> {
        let f: CalendarFile = serde_json::from_str(text)
            .map_err(|e| CalendarError(format!("not a calendar definition: {e}")))?;
        f.build()
    }

    /// The national calendar of China: the holiday tables built in from `calendar/cn-*.json`
    /// (国务院办公厅 notices, 2024 to 2026), with the usual office hours 08:30–12:00 and
    /// 14:00–17:30. Later years are loaded at run time (`PUT /api/calendar/years/{year}`).
    pub fn china_default() -> Self {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default();
        let mut c = Self {
            zone: FixedOffset::east_opt(8 * 3600)
                .unwrap_or(FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!())),
            periods: vec![(t(8, 30), t(12, 0)), (t(14, 0), t(17, 30))],
            weekend: vec![Weekday::Sat, Weekday::Sun],
            holidays: BTreeSet::new(),
            workdays: BTreeSet::new(),
            national: YearTable::built_in()
                .into_iter()
                .map(|t| (t.year, t))
                .collect(),
            extra_holidays: BTreeSet::new(),
            extra_workdays: BTreeSet::new(),
            declared_known_until: None,
        };
        // The built-in tables are checked by the tests; a broken one would only lose its days.
        let _ = c.merge();
        c
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

    #[test]
    fn the_built_in_years_come_from_the_data_files_each_with_its_source() {
        let years = YearTable::built_in();
        assert_eq!(
            years.iter().map(|t| t.year).collect::<Vec<_>>(),
            [2024, 2025, 2026],
            "every calendar/cn-*.json parses"
        );
        assert!(years.iter().all(|t| t.source.contains("国务院办公厅")));
        let c = WorkCalendar::china_default();
        assert_eq!(c.known_until(), Some(date(2026, 12, 31)));
    }

    #[test]
    fn the_calendar_warns_from_60_days_before_its_last_known_day_and_not_before() {
        let c = WorkCalendar::china_default();
        assert_eq!(c.coverage(date(2026, 10, 1)).warning, None);
        let w = c
            .coverage(date(2026, 11, 30))
            .warning
            .expect("a warning 31 days ahead");
        assert!(
            w.contains("2026-12-31") && w.contains("/api/calendar/years/2027"),
            "{w}"
        );
        assert!(c.coverage(date(2027, 1, 5)).warning.is_some());
    }

    #[test]
    fn a_deadline_past_the_table_is_marked_and_a_loaded_year_moves_the_end() {
        let c = WorkCalendar::china_default();
        // 2026-12-30 15:00 + 2 working days: reaches into 2027, which the table does not know.
        let due = c.deadline(at(2026, 12, 30, 15, 0), TimeLimit::WorkingDays(2));
        assert!(c.beyond_holiday_data(due));
        assert!(!c.beyond_holiday_data(at(2026, 12, 31, 10, 0)));
        // An admin loads 2027 (a test table, not the real one): 2027-01-01 becomes a holiday.
        let t = YearTable::parse(
            r#"{"region":"cn","year":2027,"source":"test notice","holidays":[["2027-01-01","2027-01-01"]],"workdays":[]}"#,
        )
        .unwrap();
        let c2 = c.with_year(t).unwrap();
        assert_eq!(c2.known_until(), Some(date(2027, 12, 31)));
        assert!(!c2.beyond_holiday_data(due));
        assert!(!c2.is_working_day(date(2027, 1, 1)));
        assert!(
            c.is_working_day(date(2027, 1, 1)),
            "the old calendar is unchanged"
        );
    }

    #[test]
    fn a_year_table_without_source_or_with_foreign_dates_is_refused() {
        let ok = r#"{"region":"cn","year":2027,"source":"x","holidays":[],"workdays":[]}"#;
        assert!(YearTable::parse(ok).is_ok());
        for bad in [
            r#"{"region":"cn","year":2027,"source":" ","holidays":[],"workdays":[]}"#,
            r#"{"region":"cn","year":2027,"source":"x","holidays":["2029-01-01"],"workdays":[]}"#,
            r#"{"region":"cn","year":2027,"source":"x","holidays":[["2027-03-01","2027-01-01"]],"workdays":[]}"#,
            r#"{"region":"cn","year":2027,"source":"x","holidays":["2027-01-04"],"workdays":["2027-01-04"]}"#,
            r#"{"region":"us","year":2027,"source":"x","holidays":[],"workdays":[]}"#,
            r#"{"region":"cn","year":2027,"source":"x","holidays":[],"workdays":[],"extra":1}"#,
        ] {
            assert!(YearTable::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_city_file_keeps_its_own_days_when_a_national_year_is_loaded() {
        let c =
            WorkCalendar::from_json(r#"{"extends":"china","holidays":["2027-03-15"]}"#).unwrap();
        let t = YearTable::parse(
            r#"{"region":"cn","year":2027,"source":"x","holidays":["2027-01-01"],"workdays":[]}"#,
        )
        .unwrap();
        let c = c.with_year(t).unwrap();
        assert!(!c.is_working_day(date(2027, 3, 15)));
        assert!(!c.is_working_day(date(2027, 1, 1)));
        let own = WorkCalendar::from_json(r#"{"holidays":["2027-03-15"]}"#).unwrap();
        assert_eq!(
            own.known_until(),
            None,
            "a calendar of its own claims nothing"
        );
    }
}
