//! Hand-worked examples: every number below is worked out in the comments. Week 2026-W48 runs
//! from Monday 2026-11-23 00:00 Beijing time, hour 0 here; hour 168 is the next Monday.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::domain::case::{Case, RequestKind, Status};
use crate::domain::jurisdiction::AreaSize;

fn h(x: i64) -> DateTime<Utc> {
    Period::parse("2026-W48").unwrap().start() + Duration::hours(x)
}

fn far() -> DateTime<Utc> {
    h(10_000)
}

/// Builds a case's timeline event by event.
struct B {
    cur: Case,
    events: Vec<CaseEvent>,
}

const DISPATCHER: i64 = 7;
const INSPECTOR: i64 = 5;

impl B {
    /// A report: an inspector's (collected) or a citizen's (to verify).
    fn new(id: i64, at: i64, source: &str) -> Self {
        let mut c = Case::draft(source, "0101", 113.6, 34.7);
        c.id = id;
        c.reported_at = h(at);
        c.street_code = Some("S1".into());
        c.community_code = Some("C1".into());
        c.status = if source == "inspector" {
            c.reported_by = Some(INSPECTOR);
            Status::Collected
        } else {
            Status::Verifying
        };
        c.step_due_at = Some(h(at) + Duration::hours(if source == "inspector" { 1 } else { 2 }));
        let actor = (source == "inspector").then_some(INSPECTOR);
        let mut b = B {
            cur: c.clone(),
            events: Vec::new(),
        };
        b.events.push(CaseEvent {
            id: id * 100,
            at: h(at),
            action: "created".into(),
            actor_id: actor,
            actor_name: actor.map(|a| format!("user{a}")),
            before: None,
            after: c,
        });
        b
    }

    fn step(
        mut self,
        at: i64,
        action: &str,
        actor: Option<i64>,
        f: impl FnOnce(&mut Case),
    ) -> Self {
        let before = self.cur.clone();
        f(&mut self.cur);
        let id = self.events.last().unwrap().id + 1;
        self.events.push(CaseEvent {
            id,
            at: h(at),
            action: action.into(),
            actor_id: actor,
            actor_name: actor.map(|a| format!("user{a}")),
            before: Some(before),
            after: self.cur.clone(),
        });
        self
    }

    fn status(
        self,
        at: i64,
        action: &str,
        actor: Option<i64>,
        to: Status,
        step_hours: Option<i64>,
    ) -> Self {
        self.step(at, action, actor, |c| {
            c.status = to;
            c.step_due_at = step_hours.map(|s| h(at) + Duration::hours(s));
        })
    }

    fn verify(self, at: i64, confirmed: bool) -> Self {
        let to = if confirmed {
            Status::Collected
        } else {
            Status::Voided
        };
        self.status(at, "verify", Some(INSPECTOR), to, Some(1))
    }

    fn register(self, at: i64) -> Self {
        self.status(
            at,
            "register",
            Some(DISPATCHER),
            Status::Registered,
            Some(1),
        )
    }

    /// 派遣 to `unit` with a handling time limit of `limit` hours.
    fn dispatch(self, at: i64, unit: &str, limit: i64) -> Self {
        self.step(at, "dispatch", Some(DISPATCHER), |c| {
            c.status = Status::Dispatched;
            c.unit_code = Some(unit.into());
            c.dispatched_at = Some(h(at));
            c.deadline_at = Some(h(at + limit));
            c.step_due_at = c.deadline_at;
        })
    }

    fn feedback(self, at: i64) -> Self {
        self.status(at, "feedback", Some(1), Status::FedBack, Some(4))
    }

    fn check(self, at: i64, passed: bool) -> Self {
        self.step(at, "check", Some(INSPECTOR), |c| {
            if passed {
                c.status = Status::Checked;
                c.step_due_at = Some(h(at + 1));
            } else {
                c.status = Status::Dispatched;
                c.rework_count += 1;
                c.step_due_at = c.deadline_at;
            }
        })
    }

    fn close(self, at: i64) -> Self {
        self.step(at, "close", Some(3), |c| {
            c.status = Status::Closed;
            c.closed_at = Some(h(at));
            c.step_due_at = None;
        })
    }

    /// Feedback, a passed check and 结案 an hour apart each.
    fn done(self, at: i64) -> Self {
        self.feedback(at).check(at + 1, true).close(at + 2)
    }

    fn request(self, at: i64, kind: RequestKind) -> Self {
        self.step(at, "request", Some(1), |c| c.pending_request = Some(kind))
    }

    fn approve(self, at: i64, f: impl FnOnce(&mut Case)) -> Self {
        self.step(at, "approve", Some(DISPATCHER), |c| {
            c.pending_request = None;
            f(c);
        })
    }

    fn history(self) -> CaseHistory {
        CaseHistory {
            case_id: self.cur.id,
            events: self.events,
        }
    }
}

/// An inspector's report registered and dispatched at `at` to `unit`.
fn dispatched(id: i64, at: i64, unit: &str, limit: i64) -> B {
    B::new(id, at, "inspector")
        .register(at)
        .dispatch(at, unit, limit)
}

fn card<'a>(a: &'a Assessment, level: Level, key: &str) -> &'a Scorecard {
    a.levels[&level]
        .iter()
        .find(|c| c.key == key)
        .unwrap_or_else(|| panic!("{level:?} {key}"))
}

fn week(histories: &[CaseHistory]) -> Assessment {
    assess(
        histories,
        &Period::parse("2026-W48").unwrap(),
        far(),
        &Scheme::default_scheme(),
        &(),
        &BTreeMap::new(),
    )
}

fn m(card: &Scorecard, i: Indicator) -> (usize, usize) {
    let m = &card.measures[&i];
    (m.numerator, m.denominator)
}

/// The denominator 应结案数 = closed in the period + open past their deadline:
/// - 1: deadline h25, handled h10, closed h12 → on time, reckoned at h12 (W48).
/// - 2: deadline h26, handled late h40, closed h42 → late, reckoned at its deadline h26 (W48).
/// - 3: deadline h27, never handled → open past its deadline (W48), overdue.
/// - 4: dispatched h100, deadline h200 (W49), still open → not due yet.
/// - 5: dispatched in W47, deadline h-10, closed late in W48 → reckoned in W47, not here.
/// - 6: void, 7: merged → left out.
///
/// So 应结案 3 (1, 2, 3), 结案 2 (1, 2) → 结案率 2/3, 按期 1 (1) → 1/3, no rework; dispatched in
/// W48: 1, 2, 3, 4 → 4 cases, ladder 100. Score 10 + 30 × 2/3 + 30 × 1/3 + 30 = 70, grade C.
fn first_week() -> Vec<CaseHistory> {
    vec![
        dispatched(1, 1, "U1", 24).done(10).history(),
        dispatched(2, 2, "U1", 24).done(40).history(),
        dispatched(3, 3, "U1", 24).history(),
        dispatched(4, 100, "U1", 100).history(),
        dispatched(5, -60, "U1", 50).done(3).history(),
        B::new(6, 5, "citizen").verify(6, false).history(),
        B::new(7, 5, "inspector")
            .status(6, "link", Some(3), Status::Merged, None)
            .history(),
    ]
}

#[test]
fn the_denominator_is_the_cases_closed_in_the_period_plus_those_open_past_their_deadline() {
    let a = week(&first_week());
    let u = card(&a, Level::Departments, "U1");
    assert_eq!(u.counts["due"].cases, [1, 2, 3]);
    assert_eq!(m(u, Indicator::ClosureRate), (2, 3));
    assert_eq!(m(u, Indicator::OnTimeRate), (1, 3));
    assert_eq!(u.measures[&Indicator::OnTimeRate].other_cases, [2, 3]);
    assert_eq!(m(u, Indicator::ReworkFree), (3, 3));
    assert_eq!(u.measures[&Indicator::CaseCountScore].cases, [1, 2, 3, 4]);
    assert_eq!(u.counts["overdue_open"].cases, [3]);
    assert_eq!(u.own_score, 70.0);
    assert_eq!(u.grade, "C");
    // The merged case is no input of any number; the void one only of its inspector's
    // 按时核实率 (the visit that found nothing is still a verification done).
    assert_eq!(
        a.inputs.keys().copied().collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert!(u.counts["due"].cases.iter().all(|c| *c != 6));
    // Streets and communities see the same cases (all in S1/C1); 立案数 counts the cases
    // registered in W48: 1, 2, 3, 4 (5 was registered in W47; 6 void; 7 merged).
    let s = card(&a, Level::Streets, "S1");
    assert_eq!(m(s, Indicator::ClosureRate), (2, 3));
    assert_eq!(s.measures[&Indicator::CaseCountScore].cases, [1, 2, 3, 4]);
}

#[test]
fn the_week_before_reads_as_it_stood_at_its_end() {
    // Case 5 as of the end of W47: dispatched h-60, deadline h-10, still open → overdue.
    // 应结案 1, 结案 0, 按期 0: 10 × 1 + 0 + 0 + 30 × 1 = 40, grade D, under the line.
    let p = Period::parse("2026-W47").unwrap();
    let a = assess(
        &first_week(),
        &p,
        far(),
        &Scheme::default_scheme(),
        &(),
        &BTreeMap::new(),
    );
    let u = card(&a, Level::Departments, "U1");
    assert_eq!(u.counts["due"].cases, [5]);
    assert_eq!(u.own_score, 40.0);
    assert!(u.below_pass);
}

#[test]
fn a_case_dispatched_in_one_week_and_closed_in_the_next_counts_in_the_week_it_falls_due() {
    // Dispatched Friday h100 with 80 hours (deadline h180, in W49), closed h172 on time: counted
    // in W49's 应结案 (at its closing), not in W48's.
    let hs = vec![dispatched(1, 100, "U1", 80).done(170).history()];
    let a = week(&hs);
    assert_eq!(card(&a, Level::Departments, "U1").counts["due"].n, 0);
    let next = assess(
        &hs,
        &Period::parse("2026-W49").unwrap(),
        far(),
        &Scheme::default_scheme(),
        &(),
        &BTreeMap::new(),
    );
    let u = card(&next, Level::Departments, "U1");
    assert_eq!(u.counts["due"].cases, [1]);
    assert_eq!(m(u, Indicator::OnTimeRate), (1, 1));
}

#[test]
fn time_parked_moves_the_deadline_and_a_parked_case_is_not_due() {
    // Deadline h24; parked h10 → h40 (30 h), so the effective deadline is h54; handled h50 → on
    // time. Without the parked time it would be 26 hours late.
    let parked = |b: B| {
        b.request(9, RequestKind::Park).approve(10, |c| {
            c.parked_from = Some(c.status);
            c.status = Status::Parked;
        })
    };
    let resumed = parked(dispatched(1, 0, "U1", 24))
        .status(40, "resume", Some(3), Status::Dispatched, None)
        .done(50)
        .history();
    // Still parked at the end of the week, long past h24: not due, not overdue.
    let still = parked(dispatched(2, 0, "U1", 24)).history();
    let a = week(&[resumed, still]);
    let u = card(&a, Level::Departments, "U1");
    assert_eq!(u.counts["due"].cases, [1]);
    assert_eq!(m(u, Indicator::OnTimeRate), (1, 1));
    assert_eq!(u.counts["overdue_open"].n, 0);
}

#[test]
fn an_approved_extension_moves_the_deadline_and_is_counted() {
    // Deadline h24, extended at h20 to h48; handled h40 → on time; one 延期 for U1.
    let hs = vec![
        dispatched(1, 0, "U1", 24)
            .request(19, RequestKind::Extend)
            .approve(20, |c| {
                c.deadline_at = Some(h(48));
                c.step_due_at = c.deadline_at;
            })
            .done(40)
            .history(),
    ];
    let a = week(&hs);
    let u = card(&a, Level::Departments, "U1");
    assert_eq!(m(u, Indicator::OnTimeRate), (1, 1));
    assert_eq!(u.counts["extensions"].cases, [1]);
}

#[test]
fn a_failed_check_is_a_rework_and_deductions_double_for_media_cases() {
    // Case 1 fails its first 核查 at h11, passes at h16: 返工 1 of 应结案 2 (case 2 is clean).
    // 返工率 1/2 → 30 × 1/2 = 15 points; both on time and closed: 10 + 30 + 30 + 15 = 85.
    // With 0.5 points per rework and case 1 exposed by the media: − 0.5 × 2 = 84.
    let mut one = dispatched(1, 0, "U1", 24)
        .feedback(10)
        .check(11, false)
        .done(15);
    one.events.iter_mut().for_each(|e| {
        e.after.source = "media".into();
        if let Some(b) = e.before.as_mut() {
            b.source = "media".into();
        }
    });
    let hs = vec![one.history(), dispatched(2, 0, "U1", 24).done(5).history()];
    let a = week(&hs);
    let u = card(&a, Level::Departments, "U1");
    assert_eq!(m(u, Indicator::ReworkFree), (1, 2));
    assert_eq!(u.own_score, 85.0);
    let mut scheme = Scheme::default_scheme();
    scheme.deductions.per_rework = 0.5;
    let a = assess(
        &hs,
        &Period::parse("2026-W48").unwrap(),
        far(),
        &scheme,
        &(),
        &BTreeMap::new(),
    );
    let u = card(&a, Level::Departments, "U1");
    assert_eq!(u.deductions.len(), 1);
    assert_eq!(u.own_score, 84.0);
}

#[test]
fn a_send_back_counts_against_the_unit_and_the_dispatchers_accuracy() {
    // Dispatched to U1 at h1, sent back at h3 (back to 立案, no unit), dispatched to U2 at h4.
    // The dispatcher: 2 dispatches, 1 accurate → 准确派遣率 1/2; both within the step's hour
    // of 立案? The first at h1 (立案 h1, due h2) yes; the second at h4 is a 派遣 from 立案 at h3
    // (due h4) → on time: 2/2. U1 has one 回退.
    let hs = vec![
        dispatched(1, 1, "U1", 24)
            .request(2, RequestKind::SendBack)
            .approve(3, |c| {
                c.status = Status::Registered;
                c.unit_code = None;
                c.wrong_dispatches += 1;
                c.step_due_at = Some(h(4));
            })
            .dispatch(4, "U2", 24)
            .done(10)
            .history(),
    ];
    let a = week(&hs);
    assert_eq!(
        card(&a, Level::Departments, "U1").counts["send_backs"].cases,
        [1]
    );
    let d = card(&a, Level::Dispatchers, &DISPATCHER.to_string());
    assert_eq!(m(d, Indicator::AccurateDispatchRate), (1, 2));
    assert_eq!(m(d, Indicator::OnTimeDispatchRate), (2, 2));
    assert_eq!(m(d, Indicator::OnTimeRegisterRate), (1, 1));
    // 2 dispatches is on the first rung of the volume ladder (≤ 100 → 0):
    // 0 + 40 × 1 + 40 × 1/2 = 60.
    assert_eq!(d.own_score, 60.0);
    assert_eq!(d.name.as_deref(), Some("user7"));
    // U2 took the case over: it is reckoned there.
    assert_eq!(card(&a, Level::Departments, "U2").counts["due"].cases, [1]);
}

#[test]
fn inspectors_are_judged_on_valid_reports_misses_and_on_time_verification_and_checks() {
    // Inspector 5: reports 1 (registered) and 2 (voided before 立案) → 有效上报率 1/2.
    // Citizen reports 3 (verified at h3, due h4: on time, confirmed) and 4 (verified h20, due
    // h12: late, confirmed) → 按时核实率 1/2; both are 漏报: 漏报率 = 2 / (2 + 1 valid report),
    // so 1 − 漏报率 = 1/3. Checks: case 1 fed back h10 (due h14), checked h11 → 1/1.
    // Score: 40 × 1/2 + 20 × 1/3 + 20 × 1/2 + 20 × 1 = 56.67, grade D.
    let hs = vec![
        dispatched(1, 1, "U1", 24).done(10).history(),
        B::new(2, 1, "inspector")
            .status(2, "void", Some(3), Status::Voided, None)
            .history(),
        B::new(3, 2, "citizen").verify(3, true).history(),
        B::new(4, 10, "citizen").verify(20, true).history(),
    ];
    let a = week(&hs);
    let i = card(&a, Level::Inspectors, &INSPECTOR.to_string());
    assert_eq!(m(i, Indicator::ValidReportRate), (1, 2));
    assert_eq!(i.measures[&Indicator::MissFree].other_cases, [3, 4]);
    assert_eq!(m(i, Indicator::MissFree), (1, 3));
    assert_eq!(m(i, Indicator::OnTimeVerifyRate), (1, 2));
    assert_eq!(m(i, Indicator::OnTimeCheckRate), (1, 1));
    assert_eq!(i.own_score, 56.67);
    assert_eq!(i.grade, "D");
}

#[test]
fn bundled_scores_blend_streets_with_their_departments() {
    // S1's cases: 1 (U1, on time) and 2 (U2, open past its deadline). U1 alone: 100. U2: 应结案 1,
    // none closed: 10 + 0 + 0 + 30 = 40. S1 own: 10 + 15 + 15 + 30 = 70. S1 bundled = 0.7 × 70 +
    // 0.3 × (100 + 40) / 2 = 49 + 21 = 70. U1 bundled = 0.7 × 100 + 0.3 × 70 = 91; U2 = 0.7 × 40
    // + 0.3 × 70 = 49.
    let hs = vec![
        dispatched(1, 1, "U1", 24).done(10).history(),
        dispatched(2, 1, "U2", 24).history(),
    ];
    let a = week(&hs);
    let s = card(&a, Level::Streets, "S1");
    assert_eq!((s.own_score, s.score), (70.0, 70.0));
    assert_eq!(card(&a, Level::Departments, "U1").score, 91.0);
    let u2 = card(&a, Level::Departments, "U2");
    assert_eq!(
        (u2.own_score, u2.score, u2.grade.as_str()),
        (40.0, 49.0, "D")
    );
}

#[test]
fn rankings_carry_the_change_the_evening_meeting_list_and_the_chronic_units() {
    // U1: W47 40 (case 5 overdue), W48 70 (see above). U9 is under the line both weeks:
    // a case open past its deadline each week (10 + 0 + 0 + 30 = 40). No 捆绑 blend here.
    let mut hs = first_week();
    hs.push(dispatched(20, -100, "U9", 10).history());
    hs.push(dispatched(21, 10, "U9", 10).history());
    let scheme = Scheme {
        streak: 2,
        bundle: scheme::Bundle {
            own: 1.0,
            partners: 0.0,
        },
        ..Scheme::default_scheme()
    };
    let w48 = Period::parse("2026-W48").unwrap();
    let now = far();
    let cur = assess(&hs, &w48, now, &scheme, &(), &BTreeMap::new());
    let prev = assess(&hs, &w48.previous(), now, &scheme, &(), &BTreeMap::new());
    let r = rank(Level::Departments, &cur, &[prev], &scheme);
    let rows: Vec<_> = r
        .rows
        .iter()
        .map(|x| {
            (
                x.rank,
                x.key.as_str(),
                x.own_score,
                x.change,
                x.below_streak,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (1, "U1", 70.0, Some(30.0), 0),
            (2, "U9", 40.0, Some(0.0), 2)
        ]
    );
    assert_eq!(r.evening_meetings, ["U9"]);
    assert_eq!(r.chronic, ["U9"]);
}

#[test]
fn a_running_period_is_read_as_of_now_and_its_digest_follows_its_inputs() {
    let hs = first_week();
    let w48 = Period::parse("2026-W48").unwrap();
    let s = Scheme::default_scheme();
    // At h30 case 2 (deadline h26) is open past its deadline, case 3 too; 1 closed on time.
    let a = assess(&hs, &w48, h(30), &s, &(), &BTreeMap::new());
    let u = card(&a, Level::Departments, "U1");
    assert_eq!(u.counts["closed"].cases, [1]);
    assert_eq!(u.counts["due"].cases, [1, 2, 3]);
    assert_eq!(a, assess(&hs, &w48, h(30), &s, &(), &BTreeMap::new()));
    let later = assess(&hs, &w48, h(45), &s, &(), &BTreeMap::new());
    assert_ne!(a.digest, later.digest);
    // The inputs name the case that moved on: 2 was handled and closed between h30 and h45.
    let changed: Vec<i64> = later
        .inputs
        .iter()
        .filter(|(id, last)| a.inputs.get(id) != Some(last))
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(changed, [2]);
}

#[test]
fn a_report_dispatched_on_intake_counts_for_the_department_and_for_no_dispatcher() {
    // The case service writes an inspector's own report in its final state: `created` already
    // dispatched (its `register` and `auto_dispatch` follow-ups carry no state). U1 counts it;
    // neither the inspector nor anyone else is credited with a 派遣.
    let mut b = B::new(1, 1, "inspector");
    let e = &mut b.events[0];
    e.after.status = Status::Dispatched;
    e.after.unit_code = Some("U1".into());
    e.after.dispatched_at = Some(h(1));
    e.after.deadline_at = Some(h(25));
    b.cur = e.after.clone();
    let a = week(&[b.done(5).history()]);
    assert_eq!(
        m(card(&a, Level::Departments, "U1"), Indicator::OnTimeRate),
        (1, 1)
    );
    assert!(!a.levels.contains_key(&Level::Dispatchers));
    let i = card(&a, Level::Inspectors, &INSPECTOR.to_string());
    assert_eq!(m(i, Indicator::ValidReportRate), (1, 1));
}

#[test]
fn areas_count_problems_per_km2_and_per_km_of_frontage_and_grids_use_their_class_ladder() {
    // Grid G1 (一类区域, 0.01 km², 0.5 km of frontage) in C1, S1, district D1. Three cases
    // registered in W48: 1 closed on time, 2 dispatched and still open at the week's end,
    // 3 registered but not yet dispatched. Case 4 was registered in W47 and is still open.
    let in_g1 = |b: B| {
        let mut b = b;
        b.cur.grid_code = Some("G1".into());
        b.cur.district_code = Some("D1".into());
        for e in &mut b.events {
            e.after.grid_code = Some("G1".into());
            e.after.district_code = Some("D1".into());
        }
        b
    };
    let hs = vec![
        in_g1(dispatched(1, 10, "U1", 24)).done(20).history(),
        in_g1(dispatched(2, 30, "U1", 200)).history(),
        in_g1(B::new(3, 40, "inspector")).register(41).history(),
        in_g1(B::new(4, -30, "inspector")).register(-29).history(),
    ];
    let sizes: BTreeMap<(Level, String), AreaSize> = [
        (
            (Level::Grids, "G1".to_owned()),
            AreaSize {
                km2: 0.01,
                frontage_km: 0.5,
                class: Some(1),
            },
        ),
        (
            (Level::Streets, "S1".to_owned()),
            AreaSize {
                km2: 2.0,
                frontage_km: 0.0,
                class: None,
            },
        ),
    ]
    .into();
    let w48 = Period::parse("2026-W48").unwrap();
    let a = assess(
        &hs,
        &w48,
        far(),
        &Scheme::default_scheme(),
        &sizes,
        &BTreeMap::new(),
    );
    let g = card(&a, Level::Grids, "G1");
    let area = g.area.as_ref().expect("a grid has area figures");
    // 3 registered in the week: 3 / 0.01 km² = 300 per km², 3 / 0.5 km = 6 per km.
    assert_eq!(area.registered, 3);
    assert_eq!(
        (area.per_km2, area.per_frontage_km),
        (Some(300.0), Some(6.0))
    );
    assert_eq!(area.class, Some(1));
    // Open at the week's end (read as of `far()`: never closed): 2, 3 and 4.
    assert_eq!(area.open.cases, [2, 3, 4]);
    // 一类区域: 3–4 cases score 75 (the general ladder would give 100 for up to 50).
    assert_eq!(g.measures[&Indicator::CaseCountScore].value, 0.75);
    // The street has no frontage: no per-km figure; the district has no size at all.
    let s = card(&a, Level::Streets, "S1").area.as_ref().unwrap();
    assert_eq!((s.per_km2, s.per_frontage_km), (Some(1.5), None));
    assert_eq!(s.class, None);
    let d = card(&a, Level::Districts, "D1").area.as_ref().unwrap();
    assert_eq!((d.km2, d.per_km2, d.registered), (None, None, 3));
    assert_eq!(
        card(&a, Level::Districts, "D1").measures[&Indicator::CaseCountScore].value,
        1.0
    );
    // Departments carry no area figures.
    assert!(card(&a, Level::Departments, "U1").area.is_none());
}

#[test]
fn a_scheme_refuses_an_unknown_area_class() {
    let mut v = serde_json::to_value(Scheme::default_scheme()).unwrap();
    v["ladders"]["area_classes"]["3"] = v["ladders"]["area_classes"]["1"].clone();
    let e = Scheme::parse(&v.to_string()).unwrap_err();
    assert!(e.0.contains("area class \"3\""), "{e}");
}

#[test]
fn a_trend_lists_every_unit_scored_in_any_period_oldest_first_with_gaps() {
    // W46: nothing. W47: U1 40 (case 5 overdue). W48: U1 70, and U9 40 (case 21 overdue); no
    // 捆绑 blend, so the scores are the own ones worked out above.
    let mut hs = first_week();
    hs.push(dispatched(21, 10, "U9", 10).history());
    let scheme = Scheme {
        bundle: scheme::Bundle {
            own: 1.0,
            partners: 0.0,
        },
        ..Scheme::default_scheme()
    };
    let w48 = Period::parse("2026-W48").unwrap();
    let periods: Vec<Assessment> = [w48.previous().previous(), w48.previous(), w48]
        .iter()
        .map(|p| assess(&hs, p, far(), &scheme, &(), &BTreeMap::new()))
        .collect();
    let t = trend(Level::Departments, &periods, &scheme);
    assert_eq!(t.periods, ["2026-W46", "2026-W47", "2026-W48"]);
    assert_eq!(t.pass_line, 60.0);
    let series: Vec<(&str, &[Option<f64>])> = t
        .units
        .iter()
        .map(|u| (u.key.as_str(), u.scores.as_slice()))
        .collect();
    assert_eq!(
        series,
        [
            ("U1", &[None, Some(40.0), Some(70.0)][..]),
            ("U9", &[None, None, Some(40.0)][..]),
        ]
    );
}

#[test]
fn an_inspection_finding_costs_its_unit_and_areas_the_checklist_deduction_in_the_week_it_was_found()
{
    // Case 1: a 督查 finding of W48 (h10), dispatched to U1 and rectified on time: its criterion
    // costs 2 points. Case 2: a finding of W47 (h−10): charged in W47, not in W48. Case 3: a
    // volunteer's finding that 核实 found untrue (voided): costs nothing. Case 4: an ordinary
    // report of U1, in no round.
    let finding = |id: i64, at: i64| {
        let mut b = dispatched(id, at, "U1", 24);
        b.events.iter_mut().for_each(|e| {
            e.after.source = "inspection".into();
            if let Some(b) = e.before.as_mut() {
                b.source = "inspection".into();
            }
        });
        b
    };
    let hs = vec![
        finding(1, 10).done(12).history(),
        finding(2, -10).done(-8).history(),
        B::new(3, 20, "volunteer").verify(21, false).history(),
        dispatched(4, 30, "U1", 24).done(32).history(),
    ];
    let inspected = BTreeMap::from([(1, 2.0), (2, 3.0), (3, 5.0)]);
    let w48 = Period::parse("2026-W48").unwrap();
    let with = |factor: f64, period: &Period| {
        let mut scheme = Scheme::default_scheme();
        scheme.deductions.inspection_factor = factor;
        assess(&hs, period, far(), &scheme, &(), &inspected)
    };
    let plain = with(0.0, &w48);
    let charged = with(1.0, &w48);
    let halved = with(0.5, &w48);
    for (level, key) in [
        (Level::Departments, "U1"),
        (Level::Streets, "S1"),
        (Level::Communities, "C1"),
    ] {
        let before = card(&plain, level, key);
        assert!(
            before.deductions.is_empty(),
            "{key}: factor 0 charges nothing"
        );
        let after = card(&charged, level, key);
        assert_eq!(
            after.deductions,
            [score::Deducted {
                case_id: 1,
                reason: "inspection".into(),
                points: 2.0
            }],
            "{key}: only W48's finding, and not the voided one"
        );
        assert_eq!(after.own_score, before.own_score - 2.0, "{key}");
        assert_eq!(
            card(&halved, level, key).own_score,
            before.own_score - 1.0,
            "{key}"
        );
    }
    let w47 = with(1.0, &w48.previous());
    let u = card(&w47, Level::Departments, "U1");
    assert_eq!(
        u.deductions.iter().map(|d| d.case_id).collect::<Vec<_>>(),
        [2]
    );
    assert!(charged.inputs.contains_key(&1));
}

#[test]
fn a_scheme_refuses_an_inspection_factor_out_of_range_and_defaults_to_one() {
    let mut doc = serde_json::to_value(Scheme::default_scheme()).unwrap();
    doc["deductions"]
        .as_object_mut()
        .unwrap()
        .remove("inspection_factor");
    let parsed = Scheme::parse(&doc.to_string()).unwrap();
    assert_eq!(parsed.deductions.inspection_factor, 1.0);
    doc["deductions"]["inspection_factor"] = serde_json::json!(11.0);
    let e = Scheme::parse(&doc.to_string()).unwrap_err();
    assert!(e.to_string().contains("inspection_factor"), "{e}");
}
