//! The demo city's case lifecycles, replayed through the real case service on a manual clock:
//! events fall at the simulated instants, and the assessment (考评) puts the planted performers
//! of `geodata/planted_performers.json` where they belong, every week they are active. SQLite by
//! default; PostgreSQL with `WANGGE_TEST_DATABASE_URL` (see tests/common).

use crate::common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::{DateTime, Datelike, Duration, Utc};
use wangge::cases::Submission;
use wangge::clock::Clock;
use wangge::demo_cases::{PLANTED_FILE, ReplayOptions, Replayed, replay};
use wangge::domain::assessment::{Indicator, Level, Period};
use wangge::domain::case::{Action, Status};
use wangge::domain::catalogue::TimeLimit;
use wangge::domain::crs::Crs;
use wangge::domain::identity::{Principal, Role};
use wangge::domain::replay::Planted;
use wangge::http::HttpSettings;
use wangge::store::Audit;

use common::{demo_city, spawn_city_without_history};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_driven_by_a_manual_clock_gets_its_events_deadlines_and_close_at_the_simulated_instants()
 {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (admin, _) = app
        .db
        .store
        .find_login("demo_admin")
        .await
        .unwrap()
        .expect("the demo admin");
    let who = Principal {
        user_id: admin.id,
        username: admin.username.clone(),
        display_name: admin.display_name.clone(),
        role: Role::Admin,
        unit_code: None,
        grids: Default::default(),
    };
    let audit = Audit {
        actor_id: Some(admin.id),
        actor_name: Some(admin.display_name.clone()),
        request_id: None,
        at: None,
    };
    // A Tuesday morning in October 2026, long before the test runs.
    let t0 = at("2026-10-13T09:00:00+08:00");
    let clock = Clock::manual(t0);
    let service = app.state.cases().with_clock(clock.clone());
    let report = service
        .report_as_citizen(
            Submission {
                idempotency_key: "clock-1".into(),
                category: "0101".into(),
                description: "路边暴露垃圾".into(),
                lon: 113.6489155,
                lat: 34.7289072,
                crs: Ok(Crs::Wgs84),
                register: false,
                external_ref: None,
            },
            &Audit {
                actor_name: Some("citizen".into()),
                ..Audit::default()
            },
        )
        .await
        .unwrap();
    let id = report.case.id;
    assert_eq!(report.case.reported_at, t0);
    assert_eq!(report.case.step_started_at, Some(t0));
    let steps = [
        (40, Action::Verify { confirmed: true }),
        (50, Action::Register),
        (70, Action::Accept),
        (150, Action::Feedback),
        (200, Action::Check { passed: true }),
        (210, Action::Close),
    ];
    for (minutes, action) in &steps {
        clock.advance_to(t0 + Duration::minutes(*minutes)).unwrap();
        service.act(id, &who, action, None, &audit).await.unwrap();
    }
    let detail = service.detail(id).await.unwrap();
    let times: Vec<(String, DateTime<Utc>)> = detail
        .timeline
        .iter()
        .map(|e| (e.action.clone(), e.at))
        .collect();
    let m = |n: i64| t0 + Duration::minutes(n);
    assert_eq!(
        times,
        vec![
            ("case.created".to_owned(), t0),
            ("case.verify".to_owned(), m(40)),
            ("case.register".to_owned(), m(50)),
            ("case.auto_dispatch".to_owned(), m(50)),
            ("case.accept".to_owned(), m(70)),
            ("case.feedback".to_owned(), m(150)),
            ("case.check".to_owned(), m(200)),
            ("case.close".to_owned(), m(210)),
        ]
    );
    let case = detail.case.case;
    assert_eq!(case.status, Status::Closed);
    assert_eq!(case.dispatched_at, Some(m(50)));
    assert_eq!(case.closed_at, Some(m(210)));
    // 暴露垃圾 has 4 working hours: from 09:50 on a working Tuesday, over the lunch break, 15:50.
    let calendar = service.calendar();
    assert_eq!(
        case.deadline_at,
        Some(calendar.deadline(m(50), TimeLimit::WorkingHours(4)))
    );
    assert_eq!(case.deadline_at, Some(at("2026-10-13T15:50:00+08:00")));
    // The assessment reads the log: handled at 11:30, before 15:50, so on time in W42.
    let a = app.state.assessment();
    let (_, week) = a
        .assessment(&Period::parse("2026-W42").unwrap(), Utc::now())
        .await
        .unwrap();
    let unit = case.unit_code.clone().unwrap();
    let card = week.levels[&Level::Departments]
        .iter()
        .find(|c| c.key == unit)
        .expect("the unit's scorecard");
    assert_eq!(card.measures[&Indicator::OnTimeRate].value, 1.0);
    assert_eq!(card.measures[&Indicator::OnTimeRate].cases, vec![id]);
}

/// The ISO weeks wholly inside the replay after its first (in which cases only start to fall
/// due), as periods.
fn weeks_inside(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Period> {
    let mut out = Vec::new();
    let mut day = (from + Duration::days(7))
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive();
    while day.weekday() != chrono::Weekday::Mon {
        day += Duration::days(1);
    }
    loop {
        let p = Period::week_of(day);
        if p.end() > to {
            break;
        }
        out.push(p);
        day += Duration::days(7);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replayed_demo_weeks_rank_the_planted_performers_where_they_belong_every_week() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let store = app.db.store.clone();
    let planted =
        Planted::from_json(&std::fs::read_to_string(demo_city().join(PLANTED_FILE)).unwrap())
            .unwrap();
    // The replay of the first start, as it is by default.
    let options = ReplayOptions::default();
    let started = std::time::Instant::now();
    let outcome = match replay(app.state.cases(), &store, &demo_city(), &options)
        .await
        .unwrap()
    {
        Replayed::Done(o) => o,
        Replayed::Skipped(why) => panic!("skipped: {why}"),
    };
    eprintln!(
        "replayed {} weeks in {:.1} s: {outcome:?}",
        options.weeks(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        outcome.to - outcome.from,
        Duration::weeks(i64::from(options.weeks()))
    );
    assert!(outcome.reports > 2_000, "{outcome:?}");
    assert!(outcome.actions > 5 * outcome.reports, "{outcome:?}");
    assert!(outcome.open > 0, "some cases are left open at the end");
    assert!(outcome.refused * 50 < outcome.actions, "{outcome:?}");
    // The service the caller holds keeps the system clock.
    assert!(!app.state.cases().clock().is_manual());
    // Once only.
    assert!(matches!(
        replay(app.state.cases(), &store, &demo_city(), &options)
            .await
            .unwrap(),
        Replayed::Skipped(_)
    ));

    let assessment = app.state.assessment();
    let now = Utc::now();
    let missing_inspector = store
        .find_login(&format!("demo_insp_{}", planted.missing_inspector.street))
        .await
        .unwrap()
        .expect("the planted inspector")
        .0
        .id
        .to_string();
    let weeks = weeks_inside(outcome.from, outcome.to);
    assert!(weeks.len() >= 2, "{weeks:?}");
    // Every finding of every week is collected, so that one run shows them all.
    let mut failures: Vec<String> = Vec::new();
    // Weeks each planted performer was active in: late departments, excellent street, failing
    // street, missing inspector.
    let mut active_weeks = [0usize; 4];
    macro_rules! check {
        ($cond:expr, $($msg:tt)+) => {
            let held: bool = $cond;
            if !held {
                failures.push(format!($($msg)+));
            }
        };
    }
    for period in &weeks {
        let label = period.label();
        let (_, a) = assessment.assessment(period, now).await.unwrap();
        let cards = |level: Level| -> BTreeMap<String, &wangge::domain::assessment::Scorecard> {
            a.levels[&level]
                .iter()
                .map(|c| (c.key.clone(), c))
                .collect()
        };
        let streets = cards(Level::Streets);
        assert!(streets.len() >= 25, "{label}: {} streets", streets.len());

        // Late departments: at the bottom of the departments (专业部门, `dept-`; 门前三包 shops are
        // ranked at this level too, but they are not departments), below every one not planted
        // with at least ten cases due that week (a small department's week can hang on three
        // late cases of six, as 二七区园林's W43 does), with most of their cases late.
        let depts = assessment
            .ranking(period, Level::Departments, now)
            .await
            .unwrap();
        let dept_cards = cards(Level::Departments);
        let others_worst = depts
            .rows
            .iter()
            .filter(|r| {
                r.key.starts_with("dept-")
                    && !planted.late_departments.contains_key(&r.key)
                    && dept_cards[&r.key].measures[&Indicator::OnTimeRate].denominator >= 10
            })
            .map(|r| r.score)
            .fold(f64::INFINITY, f64::min);
        let mut active = 0;
        for unit in planted.late_departments.keys() {
            let Some(row) = depts.rows.iter().find(|r| &r.key == unit) else {
                continue;
            };
            let on_time = &dept_cards[unit].measures[&Indicator::OnTimeRate];
            if on_time.denominator < 5 {
                continue;
            }
            active += 1;
            check!(
                row.score < others_worst && on_time.value <= 0.5,
                "{label}: late department {unit} scored {} with 按期结案率 {} (the worst other department {others_worst})",
                row.score,
                on_time.value
            );
        }
        if active > 0 {
            active_weeks[0] += 1;
        }

        // The excellent street: at or near the top (top 3 of about 30).
        let ranked = assessment
            .ranking(period, Level::Streets, now)
            .await
            .unwrap();
        let due = |key: &str| {
            streets
                .get(key)
                .map_or(0, |c| c.measures[&Indicator::OnTimeRate].denominator)
        };
        if due(&planted.excellent_street.street) >= 5 {
            active_weeks[1] += 1;
            let excellent = ranked
                .rows
                .iter()
                .find(|r| r.key == planted.excellent_street.street)
                .expect("the excellent street is ranked");
            check!(
                excellent.rank <= 3,
                "{label}: the excellent street ranks {} of {}",
                excellent.rank,
                ranked.rows.len()
            );
        }

        // The failing street: the lowest 1 − 返工率 of all streets.
        let rework =
            |c: &wangge::domain::assessment::Scorecard| c.measures[&Indicator::ReworkFree].value;
        let failing = streets.get(&planted.failing_street.street);
        for (key, c) in &streets {
            if let Some(failing) =
                failing.filter(|f| f.measures[&Indicator::ReworkFree].denominator >= 5)
                && *key != planted.failing_street.street
            {
                check!(
                    rework(failing) < rework(c),
                    "{label}: failing street 1−返工率 {} not below {key}'s {}",
                    rework(failing),
                    rework(c)
                );
            }
        }

        // The missing inspector: the worst 漏报率 (lowest 1 − 漏报率) of the inspectors with at least
        // ten reports judged (a quiet rural street's week can hang on one or two).
        let inspectors = cards(Level::Inspectors);
        let miss =
            |c: &wangge::domain::assessment::Scorecard| c.measures[&Indicator::MissFree].value;
        let theirs = inspectors
            .get(&missing_inspector)
            .filter(|c| c.measures[&Indicator::MissFree].denominator >= 5);
        if failing.is_some_and(|f| f.measures[&Indicator::ReworkFree].denominator >= 5) {
            active_weeks[2] += 1;
        }
        if theirs.is_some() {
            active_weeks[3] += 1;
        }
        for (key, c) in &inspectors {
            if let Some(theirs) = theirs
                && *key != missing_inspector
                && c.measures[&Indicator::MissFree].denominator >= 10
            {
                check!(
                    miss(theirs) < miss(c),
                    "{label}: planted inspector 1−漏报率 {} not below {key}'s {}",
                    miss(theirs),
                    miss(c)
                );
            }
        }
        // Several people are ranked at both people levels.
        assert!(inspectors.len() >= 25, "{label}");
        assert!(a.levels[&Level::Dispatchers].len() >= 4, "{label}");
    }

    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Each planted performer was judged in most weeks (a week with fewer than five of its cases
    // due, e.g. over the National Day holiday, is not one it is active in).
    for (who, n) in [
        "late departments",
        "excellent street",
        "failing street",
        "missing inspector",
    ]
    .iter()
    .zip(active_weeks)
    {
        assert!(
            n + 1 >= weeks.len() && n >= 2,
            "{who} active in {n} of {} weeks",
            weeks.len()
        );
    }

    // The same ranking through the API.
    let token = app.login(Role::Planner).await;
    let week = weeks[0].label();
    let answer = app
        .get(
            &format!("/api/assessment/rankings?level=streets&period={week}"),
            Some(&token),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let rows = answer.body["rows"].as_array().unwrap();
    let top: Vec<&str> = rows[..3]
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert!(
        top.contains(&planted.excellent_street.street.as_str()),
        "{top:?}"
    );
}
