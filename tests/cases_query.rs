//! The case list's filters against the case view, on SQLite and PostgreSQL + PostGIS: the
//! overdue list holds exactly the cases whose view says `overdue`, in every status and with
//! every deadline passed or not; a drawn polygon finds exactly the cases inside it, page after
//! full page, in the list and the export alike.

use crate::common;

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use common::{Rng, TestApp, spawn_app};
use geo::Intersects;
use serde_json::Value;
use wangge::domain::case::{Case, Status};
use wangge::domain::identity::Role;

async fn store_case(app: &TestApp, key: &str, case: Case) -> i64 {
    app.store_case(key, case).await.id
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_overdue_list_holds_exactly_the_cases_whose_view_says_overdue_in_every_status() {
    let app = spawn_app().await;
    let admin = app.login(Role::Admin).await;
    let now = Utc::now();
    let (past, future) = (
        Some(now - Duration::hours(3)),
        Some(now + Duration::days(3)),
    );
    // Which deadline has passed: none, each alone, all three.
    let variants = [
        ("none", future, future, future),
        ("handling", past, future, future),
        ("step", future, past, future),
        ("overall", future, future, past),
        ("all", past, past, past),
    ];
    let mut expected = BTreeSet::new();
    for status in Status::ALL {
        for (name, handling, step, overall) in variants {
            let id = store_case(
                &app,
                &format!("{}-{name}", status.as_str()),
                Case {
                    description: "暴露垃圾".into(),
                    status,
                    unit_code: Some("dept-410102-cgzf".into()),
                    dispatched_at: Some(now - Duration::days(4)),
                    deadline_at: handling,
                    step_started_at: Some(now - Duration::days(4)),
                    step_due_at: step,
                    due_at: overall,
                    ..Case::draft("inspector", "0101", 113.6, 34.75)
                },
            )
            .await;
            // The rule: a deadline counts while the stage it measures runs.
            let runs = !status.is_final() && status != Status::Parked;
            let handling_stage = matches!(status, Status::Dispatched | Status::Handling);
            let overdue = runs
                && match name {
                    "none" => false,
                    "handling" => handling_stage,
                    _ => true,
                };
            if overdue {
                expected.insert(id);
            }
        }
    }
    let all = app.get("/api/cases?limit=1000", Some(&admin)).await;
    assert_eq!(all.body.as_array().unwrap().len(), 11 * 5, "{}", all.text);
    let flagged: BTreeSet<i64> = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["overdue"] == true)
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    let listed: BTreeSet<i64> = ids(&app
        .get("/api/cases?overdue=true&limit=1000", Some(&admin))
        .await
        .body)
    .into_iter()
    .collect();
    assert_eq!(flagged, expected, "the views");
    assert_eq!(listed, expected, "the overdue list");
    let exported = app
        .get(
            "/api/cases/export?format=geojson&overdue=true",
            Some(&admin),
        )
        .await;
    let features = exported.body["features"].as_array().unwrap();
    assert_eq!(features.len(), expected.len());
    assert!(features.iter().all(|f| f["properties"]["overdue"] == true));
}

/// Every page of `path` (which has a `limit`), following `x-next-before-id`.
async fn pages(app: &TestApp, token: &str, path: &str) -> Vec<Vec<i64>> {
    let mut out = Vec::new();
    let mut next = path.to_owned();
    loop {
        let page = app.get(&next, Some(token)).await;
        assert_eq!(page.status, 200, "{}", page.text);
        out.push(ids(&page.body));
        match page.headers.get("x-next-before-id") {
            Some(n) => next = format!("{path}&before_id={}", n.to_str().unwrap()),
            None => return out,
        }
    }
}

#[tokio::test]
async fn a_drawn_polygon_finds_exactly_the_cases_inside_it_page_after_full_page() {
    let app = spawn_app().await;
    let admin = app.login(Role::Admin).await;
    // An L-shaped area with a hole, over a box of scattered cases (some outside the box too).
    let (x0, y0) = (113.60, 34.74);
    let ring = |pts: &[(f64, f64)]| {
        geo::LineString::from(
            pts.iter()
                .map(|(x, y)| (x0 + x * 0.01, y0 + y * 0.01))
                .collect::<Vec<_>>(),
        )
    };
    let area = geo::Polygon::new(
        ring(&[
            (0.0, 0.0),
            (3.0, 0.0),
            (3.0, 1.0),
            (1.0, 1.0),
            (1.0, 3.0),
            (0.0, 3.0),
            (0.0, 0.0),
        ]),
        vec![ring(&[
            (0.2, 0.2),
            (0.8, 0.2),
            (0.8, 0.8),
            (0.2, 0.8),
            (0.2, 0.2),
        ])],
    );
    let mut rng = Rng(7);
    let mut inside = Vec::new();
    for i in 0..120 {
        let (x, y) = (rng.next() * 4.0 - 0.5, rng.next() * 4.0 - 0.5);
        let (lon, lat) = (x0 + x * 0.01, y0 + y * 0.01);
        let category = if i % 3 == 0 { "0401" } else { "0101" };
        let id = store_case(
            &app,
            &format!("p-{i}"),
            Case {
                description: "x".into(),
                ..Case::draft("inspector", category, lon, lat)
            },
        )
        .await;
        if area.intersects(&geo::Point::new(lon, lat)) {
            inside.push((id, category, lon, lat));
        }
    }
    inside.reverse(); // newest first
    assert!(inside.len() > 20, "{} inside", inside.len());
    let gj = common::url_encode(&geojson::Geometry::from(&area).to_string());

    let limit = 7;
    let got = pages(
        &app,
        &admin,
        &format!("/api/cases?polygon={gj}&limit={limit}"),
    )
    .await;
    let want: Vec<i64> = inside.iter().map(|c| c.0).collect();
    assert_eq!(got.concat(), want);
    let (last, full) = got.split_last().unwrap();
    assert!(full.iter().all(|p| p.len() == limit), "{got:?}");
    assert!(last.len() <= limit);

    // With a box and another filter on top.
    let [w, s, e, n] = [x0, y0, x0 + 0.015, y0 + 0.03];
    let got = pages(
        &app,
        &admin,
        &format!("/api/cases?polygon={gj}&bbox={w},{s},{e},{n}&category=0101&limit=5"),
    )
    .await;
    let want: Vec<i64> = inside
        .iter()
        .filter(|c| c.1 == "0101" && (w..=e).contains(&c.2) && (s..=n).contains(&c.3))
        .map(|c| c.0)
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got.concat(), want);

    // The export takes the same filter.
    let export = app
        .get(
            &format!("/api/cases/export?format=geojson&polygon={gj}"),
            Some(&admin),
        )
        .await;
    let exported: Vec<i64> = export.body["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect();
    assert_eq!(exported, inside.iter().map(|c| c.0).collect::<Vec<_>>());
}

#[tokio::test]
async fn from_and_to_take_a_day_of_the_city_or_an_instant_as_every_endpoint_does() {
    let app = spawn_app().await;
    let admin = app.login(Role::Admin).await;
    // Reported at 2026-03-01 07:59 and 08:00 in UTC+8: the day 2026-03-01 starts at 00:00 UTC+8.
    for (key, at) in [
        ("before-day", "2026-02-28T23:59:00+08:00"),
        ("on-day", "2026-03-01T08:00:00+08:00"),
    ] {
        store_case(
            &app,
            key,
            Case {
                reported_at: at.parse().unwrap(),
                ..Case::draft("inspector", "0101", 113.6, 34.75)
            },
        )
        .await;
    }
    let count = |q: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let a = app.get(&format!("/api/cases?{q}"), Some(&admin)).await;
            assert_eq!(a.status, 200, "{q}: {}", a.text);
            a.body.as_array().map_or(0, Vec::len)
        }
    };
    assert_eq!(count("from=2026-03-01").await, 1);
    assert_eq!(
        count("from=2026-03-01").await,
        count("from=2026-03-01T00:00:00%2B08:00").await
    );
    assert_eq!(count("to=2026-03-01").await, 1);
    assert_eq!(count("from=2026-02-28&to=2026-03-02").await, 2);
    let bad = app.get("/api/cases?from=2026-02-30", Some(&admin)).await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body["code"], "invalid_date",
        "the code of every other date parameter"
    );
}
