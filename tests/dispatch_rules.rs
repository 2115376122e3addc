//! The dispatch rule table as data, on SQLite and PostgreSQL: an admin loads a city's table over
//! HTTP or the command line; it is checked against the city first, stored as a version, in force
//! at once for new cases, and the table a restart puts in force.

use crate::common;

use axum::http::{Method, StatusCode};
use common::{TestApp, spawn_city_without_history};
use geo::InteriorPoint;
use serde_json::{Value, json};
use wangge::domain::dispatch::RuleTable;
use wangge::domain::identity::Role;
use wangge::domain::jurisdiction::Layer;
use wangge::http::HttpSettings;

/// Interior points of two different grids of the demo inspector's patrol (WGS84).
async fn two_points(app: &TestApp) -> [(f64, f64); 2] {
    let grids = app.db.store.features_at(Layer::Grid, None).await.unwrap();
    let p = |i: usize| {
        let p = grids[i].feature.geometry.interior_point().unwrap();
        (p.x(), p.y())
    };
    [p(0), p(1)]
}

/// The built-in table with one rule in front: 私搭乱建 (0401) goes to the territorial owner.
fn city_table() -> Value {
    let mut t = serde_json::to_value(RuleTable::default()).unwrap();
    t["source"] = json!("某市数字城管案件派遣规则（测试版）");
    t["rules"].as_array_mut().unwrap().insert(
        0,
        json!({"id": "building_to_street", "name": "私搭乱建：属地街道先行处置",
               "when": {"categories": ["0401"]}, "then": {"to": "territorial"}}),
    );
    t
}

#[tokio::test]
async fn a_city_table_is_checked_stored_and_routes_the_next_case_at_once() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let admin = app.login(Role::Admin).await;
    let inspector = app.login(Role::Inspector).await;
    let [a, b] = two_points(&app).await;
    let report = |key: &str, (lon, lat): (f64, f64)| {
        json!({"idempotency_key": key, "category": "0401", "description": "楼顶私搭乱建",
               "lon": lon, "lat": lat, "crs": "wgs84", "register": true})
    };

    let r = app.get("/api/dispatch/rules", Some(&inspector)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["origin"], "built_in");
    assert_eq!(r.body["report"]["errors"], 0, "{}", r.text);
    assert_eq!(
        app.get("/api/dispatch/rules", None).await.status,
        StatusCode::UNAUTHORIZED
    );

    let before = app
        .call(
            Method::POST,
            "/api/cases",
            Some(&inspector),
            Some(report("r-1", a)),
        )
        .await;
    assert_eq!(before.status, StatusCode::CREATED, "{}", before.text);
    assert_eq!(
        before.body["dispatch_rule"], "department",
        "{}",
        before.text
    );

    let put = |query: &'static str, body: Value| {
        let admin = admin.clone();
        let app = &app;
        async move {
            app.call(
                Method::PUT,
                &format!("/api/dispatch/rules{query}"),
                Some(&admin),
                Some(body),
            )
            .await
        }
    };

    // Malformed: an unknown field.
    let mut bad = city_table();
    bad["rules"][0]["when"]["weekday"] = json!("monday");
    let r = put("", bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["code"], "invalid_dispatch_rules");
    assert!(r.text.contains("weekday"), "{}", r.text);

    // A category the catalogue does not have: refused with the finding, nothing stored.
    let mut unknown = city_table();
    unknown["rules"][0]["when"]["categories"] = json!(["0401", "9999"]);
    let r = put("", unknown).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["code"], "dispatch_rules_refused");
    let f = &r.body["report"]["findings"][0];
    assert_eq!(f["check"], "unknown_category", "{}", r.text);
    assert_eq!(f["rule"], "building_to_street");
    assert!(f["fix"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(app.db.store.dispatch_rules().await.unwrap().is_none());

    // A dry run passes and stores nothing.
    let r = put("?dry_run=true", city_table()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["refused"], false);
    assert_eq!(r.body["in_force"]["origin"], "built_in");
    assert!(app.db.store.dispatch_rules().await.unwrap().is_none());

    // Only an admin loads a table.
    let r = app
        .call(
            Method::PUT,
            "/api/dispatch/rules",
            Some(&inspector),
            Some(city_table()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

    // Loaded: version 1, in force for the very next case.
    let r = put("", city_table()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["in_force"]["origin"], "stored");
    assert_eq!(r.body["in_force"]["version"], 1);
    let after = app
        .call(
            Method::POST,
            "/api/cases",
            Some(&inspector),
            Some(report("r-2", b)),
        )
        .await;
    assert_eq!(after.status, StatusCode::CREATED, "{}", after.text);
    assert_eq!(
        after.body["dispatch_rule"], "building_to_street",
        "{}",
        after.text
    );
    let unit = after.body["unit_code"].as_str().unwrap_or_default();
    assert!(
        !unit.starts_with("dept-"),
        "the territorial owner, not a department: {}",
        after.text
    );
    let r = app.get("/api/dispatch/rules", Some(&inspector)).await;
    assert_eq!(r.body["version"], 1);
    assert_eq!(
        r.body["table"]["source"],
        "某市数字城管案件派遣规则（测试版）"
    );
    let events = app
        .get("/api/events?action=dispatch.rules_loaded", Some(&admin))
        .await;
    assert!(
        events.text.contains("dispatch.rules_loaded"),
        "{}",
        events.text
    );

    // What a restart puts in force: the stored version, as the command line shows it.
    let out = common::wangge_cli(["rules", "show"], &app.db.url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["origin"], "stored");
    assert_eq!(shown["version"], 1);
    assert_eq!(shown["table"]["rules"][0]["id"], "building_to_street");
}

#[tokio::test]
async fn the_command_line_refuses_a_table_that_does_not_fit_and_stores_one_that_does() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.json");
    let mut unknown = city_table();
    unknown["rules"][0]["when"]["categories"] = json!(["9999"]);
    std::fs::write(&file, unknown.to_string()).unwrap();
    let out = common::wangge_cli(["rules", "load", file.to_str().unwrap()], &app.db.url);
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"][0]["check"], "unknown_category");
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));
    assert!(app.db.store.dispatch_rules().await.unwrap().is_none());

    std::fs::write(&file, city_table().to_string()).unwrap();
    let out = common::wangge_cli(
        ["rules", "load", file.to_str().unwrap(), "--dry-run"],
        &app.db.url,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(app.db.store.dispatch_rules().await.unwrap().is_none());
    let out = common::wangge_cli(["rules", "load", file.to_str().unwrap()], &app.db.url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = app.db.store.dispatch_rules().await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(
        stored.loaded_by.as_deref().map(|s| s.starts_with("cli:")),
        Some(true)
    );
    assert_eq!(stored.table.rules[0].id, "building_to_street");
}
