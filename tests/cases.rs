//! Cases through the API over the demo city, on SQLite and PostgreSQL + PostGIS: the whole loop
//! with every role, deadlines, forbidden transitions, idempotent intake under racing retries.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, spawn_demo_app};
use geo::InteriorPoint;
use serde_json::{Value, json};
use wangge::domain::identity::Role;
use wangge::domain::jurisdiction::Layer;
use wangge::http::HttpSettings;

/// A point inside the first grid the demo inspector patrols (WGS84).
async fn patrolled_point(app: &TestApp) -> (f64, f64, String) {
    let grids = app.db.store.features_at(Layer::Grid, None).await.unwrap();
    let g = &grids[0];
    let p = g.feature.geometry.interior_point().unwrap();
    (p.x(), p.y(), g.feature.code.clone())
}

async fn act(app: &TestApp, token: &str, id: i64, action: Value) -> common::Answer {
    app.call(
        Method::POST,
        &format!("/api/cases/{id}/actions"),
        Some(token),
        Some(action),
    )
    .await
}

#[tokio::test]
async fn a_citizen_report_travels_the_whole_loop_and_wrong_moves_are_refused() {
    let app = spawn_demo_app(HttpSettings::default()).await;
    let (lon, lat, grid) = patrolled_point(&app).await;
    let report = json!({"idempotency_key": "citizen-1", "category": "0101", "description": "路边暴露垃圾", "lon": lon, "lat": lat, "crs": "wgs84"});
    let r = app
        .call(Method::POST, "/api/public/reports", None, Some(report))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_i64().unwrap();
    let follow = r.body["follow_token"].as_str().unwrap().to_owned();

    let ti = app.login(Role::Inspector).await;
    let tc = app.login(Role::IntakeClerk).await;
    let td = app.login(Role::Dispatcher).await;
    let th = app.login(Role::Handler).await;
    let ts = app.login(Role::ShiftLead).await;
    let tp = app.login(Role::Planner).await;
    let unit = app.get("/api/auth/me", Some(&th)).await.body["unit_code"]
        .as_str()
        .unwrap()
        .to_owned();

    let c = app.get(&format!("/api/cases/{id}"), Some(&tp)).await;
    assert_eq!(c.body["status"], "verifying");
    assert_eq!(c.body["grid_code"], grid.as_str());
    assert_eq!(c.body["source"], "citizen");

    // Out of order, wrong role: refused, nothing changes.
    let a = act(&app, &ts, id, json!({"action": "close"})).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.body["code"], "invalid_transition");
    let a = act(
        &app,
        &tp,
        id,
        json!({"action": "verify", "confirmed": true}),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.body["code"], "forbidden_role");

    let steps: Vec<(&str, Value, &str)> = vec![
        (
            ti.as_str(),
            json!({"action": "verify", "confirmed": true, "note": "现场确认"}),
            "collected",
        ),
        (tc.as_str(), json!({"action": "register"}), "registered"),
        (
            td.as_str(),
            json!({"action": "dispatch", "unit_code": unit}),
            "dispatched",
        ),
        (th.as_str(), json!({"action": "accept"}), "handling"),
        (
            th.as_str(),
            json!({"action": "feedback", "note": "已清理"}),
            "fed_back",
        ),
        (
            ti.as_str(),
            json!({"action": "check", "passed": false, "note": "仍有残留"}),
            "handling",
        ),
        (th.as_str(), json!({"action": "feedback"}), "fed_back"),
        (
            ti.as_str(),
            json!({"action": "check", "passed": true}),
            "checked",
        ),
        (ts.as_str(), json!({"action": "close"}), "closed"),
    ];
    for (token, action, want) in steps {
        let a = act(&app, token, id, action.clone()).await;
        assert_eq!(a.status, StatusCode::OK, "{action}: {}", a.text);
        assert_eq!(a.body["status"], want, "{action}");
        if want == "dispatched" {
            assert!(a.body["deadline_at"].is_string());
            assert_eq!(a.body["light"], "green");
        }
    }
    let done = app.get(&format!("/api/cases/{id}"), Some(&tp)).await;
    assert_eq!(done.body["rework_count"], 1);
    assert!(done.body["closed_at"].is_string());
    let actions: Vec<&str> = done.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions[0], "case.created");
    assert_eq!(actions.len(), 10, "{actions:?}");
    assert_eq!(done.body["timeline"][1]["actor_name"], "demo_inspector");
    assert_eq!(done.body["timeline"][1]["detail"]["note"], "现场确认");

    // The citizen follows it up with the token, and only with it.
    let f = app
        .get(&format!("/api/public/reports/{id}?token={follow}"), None)
        .await;
    assert_eq!(f.body["status_zh"], "结案");
    assert_eq!(
        app.get(&format!("/api/public/reports/{id}?token=wrong"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn retried_submits_never_create_a_second_case_even_when_they_race() {
    let app = spawn_demo_app(HttpSettings::default()).await;
    let (lon, lat, _) = patrolled_point(&app).await;
    let token = app.login(Role::Inspector).await;
    let body = json!({"idempotency_key": "phone-42-7", "category": "0201", "description": "占道经营", "lon": lon, "lat": lat, "crs": "wgs84"});
    let tries =
        (0..8).map(|_| app.call(Method::POST, "/api/cases", Some(&token), Some(body.clone())));
    let answers = futures_util::future::join_all(tries).await;
    let created = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1);
    assert!(answers.iter().all(|a| a.status.is_success()));
    let ids: std::collections::BTreeSet<i64> = answers
        .iter()
        .map(|a| a.body["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 1);
    let list = app.get("/api/cases?limit=1000", Some(&token)).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(
        list.body[0]["status"], "collected",
        "an inspector's own report needs no verification"
    );

    // A report from a phone map in GCJ-02 lands in the same grid once declared.
    let (gx, gy) = wangge::domain::crs::Crs::Gcj02.from_wgs84(lon, lat);
    let g = json!({"idempotency_key": "phone-42-8", "category": "0201", "description": "占道经营", "lon": gx, "lat": gy, "crs": "gcj02"});
    let a = app
        .call(Method::POST, "/api/cases", Some(&token), Some(g))
        .await;
    assert_eq!(a.body["grid_code"], list.body[0]["grid_code"]);
    let bad = json!({"idempotency_key": "phone-42-9", "category": "0201", "description": "x", "lon": lat, "lat": lon, "crs": "wgs84"});
    assert_eq!(
        app.call(Method::POST, "/api/cases", Some(&token), Some(bad))
            .await
            .body["code"],
        "swapped_coordinates"
    );
    let no_crs = json!({"idempotency_key": "phone-42-10", "category": "0201", "description": "x", "lon": lon, "lat": lat});
    assert_eq!(
        app.call(Method::POST, "/api/cases", Some(&token), Some(no_crs))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
