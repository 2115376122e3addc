//! Issue 12: a real city starts on its own data — the first admin without demo users, data
//! rules that refuse what would be wrong, a calendar that cannot silently run out, and sensible
//! answers from an empty or partial city.

use crate::common;

use axum::http::{Method, StatusCode};
use serde_json::json;
use wangge::http::HttpSettings;

use common::user_create;

async fn login(app: &common::TestApp, username: &str, password: &str) -> common::Answer {
    app.call(
        Method::POST,
        "/api/auth/login",
        None,
        Some(json!({"username": username, "password": password})),
    )
    .await
}

#[tokio::test]
async fn the_first_admin_of_a_store_without_demo_users_is_created_on_the_command_line_and_logs_in_over_http()
 {
    let app = common::spawn_empty_app(HttpSettings::default()).await;
    assert_eq!(app.db.store.count_users().await.unwrap(), 0);
    let (ok, stderr) = user_create(&app.db.url, "city_admin", "Zhou-Kou 2026 river");
    assert!(ok, "{stderr}");

    let a = login(&app, "city_admin", "Zhou-Kou 2026 river").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let token = a.body["token"].as_str().unwrap().to_owned();
    let me = app.get("/api/auth/me", Some(&token)).await;
    assert_eq!(me.body["role"], "admin", "{}", me.text);
    // The admin API is usable: the audit log shows who created the account, and how.
    let events = app.get("/api/events", Some(&token)).await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.text);
    assert!(
        events.text.contains("user.created") && events.text.contains("cli:"),
        "{}",
        events.text
    );
    // Nothing else is usable: no default password.
    assert_eq!(
        login(&app, "city_admin", "wangge-demo").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn user_create_refuses_empty_and_weak_passwords_and_a_taken_name() {
    let app = common::spawn_empty_app(HttpSettings::default()).await;
    for weak in [
        "",
        "short",
        "aaaaaaaaaaaa",
        "wangge-demo",
        "my-city_admin-pw",
    ] {
        let (ok, stderr) = user_create(&app.db.url, "city_admin", weak);
        assert!(!ok, "{weak:?} was accepted");
        assert!(stderr.contains("password"), "{stderr}");
    }
    assert_eq!(app.db.store.count_users().await.unwrap(), 0);
    let (ok, stderr) = user_create(&app.db.url, "city_admin", "Zhou-Kou 2026 river");
    assert!(ok, "{stderr}");
    let (ok, stderr) = user_create(&app.db.url, "city_admin", "another-good-pw 42");
    assert!(!ok);
    assert!(stderr.contains("taken"), "{stderr}");
    // The first password still holds.
    assert_eq!(
        login(&app, "city_admin", "Zhou-Kou 2026 river")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(app.db.store.count_users().await.unwrap(), 1);
}

fn settings_with_calendar(json: &str) -> HttpSettings {
    HttpSettings {
        calendar: wangge::domain::calendar::WorkCalendar::from_json(json).unwrap(),
        ..HttpSettings::default()
    }
}

/// A point of the city: the first vertex of its first district.
async fn a_point_of_the_city(app: &common::TestApp) -> (f64, f64) {
    let grids = app.get("/api/layers/district", None).await;
    let ring = &grids.body["features"][0]["geometry"]["coordinates"];
    let first = if ring[0][0][0].is_array() {
        &ring[0][0][0]
    } else {
        &ring[0][0]
    };
    (first[0].as_f64().unwrap(), first[1].as_f64().unwrap())
}

#[tokio::test]
async fn healthz_says_until_when_the_holiday_table_is_known_and_warns_as_its_end_nears() {
    let app = common::spawn_app().await;
    let h = app.get("/healthz", None).await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(
        h.body["calendar"]["known_until"], "2026-12-31",
        "{}",
        h.text
    );
    assert_eq!(h.body["calendar"]["years"][2]["year"], 2026);
    assert!(
        h.body["calendar"]["years"][2]["source"]
            .as_str()
            .unwrap()
            .contains("国办发明电"),
        "{}",
        h.text
    );
    // Written on 2026-11-30, 31 days before the end: the warning is there, and stays after it.
    let warning = h.body["calendar"]["warning"].as_str().expect("a warning");
    assert!(warning.contains("/api/calendar/years/2027"), "{warning}");
    // A calendar that knows far ahead does not warn.
    let calm = common::spawn_app_with(settings_with_calendar(
        r#"{"extends":"china","known_until":"2099-12-31"}"#,
    ))
    .await;
    let h = calm.get("/healthz", None).await;
    assert!(h.body["calendar"]["warning"].is_null(), "{}", h.text);
}

#[tokio::test]
async fn an_admin_loads_a_year_of_the_holiday_table_at_run_time_and_it_is_audited_and_kept() {
    let app = common::spawn_app().await;
    let admin = app.login(wangge::domain::identity::Role::Admin).await;
    let planner = app.login(wangge::domain::identity::Role::Planner).await;
    // A made-up test table: the real 2027 notice is not out.
    let year = json!({"region": "cn", "year": 2027, "source": "测试用 test table",
        "holidays": [["2027-01-01", "2027-01-01"]], "workdays": []});
    let put = |token: String, path: &'static str, body: serde_json::Value| {
        let app = &app;
        async move { app.call(Method::PUT, path, Some(&token), Some(body)).await }
    };
    let a = put(planner, "/api/calendar/years/2027", year.clone()).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = put(admin.clone(), "/api/calendar/years/2028", year.clone()).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["code"], "invalid_calendar");
    let mut no_source = year.clone();
    no_source["source"] = json!("");
    let a = put(admin.clone(), "/api/calendar/years/2027", no_source).await;
    assert_eq!(a.body["code"], "invalid_calendar", "{}", a.text);

    let a = put(admin.clone(), "/api/calendar/years/2027", year).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["known_until"], "2027-12-31");
    let cal = app.get("/api/calendar", None).await;
    assert_eq!(cal.body["known_until"], "2027-12-31");
    assert!(
        !app.state
            .calendar()
            .is_working_day("2027-01-01".parse().unwrap())
    );
    let events = app.get("/api/events", Some(&admin)).await;
    assert!(
        events.text.contains("calendar.year_loaded"),
        "{}",
        events.text
    );
    // Kept in the store: a restart applies it over the built-in years.
    let restarted = wangge::calendar::with_stored_years(
        &app.db.store,
        wangge::domain::calendar::WorkCalendar::china_default(),
    )
    .await
    .unwrap();
    assert_eq!(restarted.known_until(), "2027-12-31".parse().ok());
}

#[tokio::test]
async fn wangge_calendar_load_stores_a_year_from_the_command_line_and_refuses_a_bad_file() {
    let app = common::spawn_empty_app(HttpSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("cn-2027.json");
    std::fs::write(
        &good,
        r#"{"region":"cn","year":2027,"source":"test","holidays":["2027-01-01"],"workdays":[]}"#,
    )
    .unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"region":"cn","year":2027,"holidays":[]}"#).unwrap();
    let run = |file: &std::path::Path| {
        common::wangge_cli(
            [
                std::ffi::OsStr::new("calendar"),
                "load".as_ref(),
                file.as_os_str(),
            ],
            &app.db.url,
        )
    };
    assert!(!run(&bad).status.success());
    assert!(app.db.store.calendar_years().await.unwrap().is_empty());
    let out = run(&good);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let years = app.db.store.calendar_years().await.unwrap();
    assert_eq!(years.len(), 1);
    assert_eq!(years[0].year, 2027);
}

#[tokio::test]
async fn a_case_whose_deadline_lies_past_the_holiday_table_says_so() {
    for (calendar, expected) in [
        (r#"{"extends":"china","known_until":"2020-12-31"}"#, true),
        (r#"{"extends":"china","known_until":"2099-12-31"}"#, false),
    ] {
        let app = common::spawn_app_with(settings_with_calendar(calendar)).await;
        let (lon, lat) = a_point_of_the_city(&app).await;
        let clerk = app.login(wangge::domain::identity::Role::IntakeClerk).await;
        let body = json!({"idempotency_key": "cal-1", "category": "0101", "description": "暴露垃圾",
            "lon": lon, "lat": lat, "crs": "wgs84", "external_ref": "12345-1"});
        let a = app
            .call(Method::POST, "/api/cases", Some(&clerk), Some(body))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        assert_eq!(
            a.body["deadline_without_holidays"], expected,
            "{calendar}: {}",
            a.text
        );
    }
}

async fn post_raw(
    app: &common::TestApp,
    path: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> common::Answer {
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(axum::http::header::AUTHORIZATION, format!("Bearer {token}"))
        .header(axum::http::header::CONTENT_TYPE, content_type)
        .body(axum::body::Body::from(body))
        .unwrap();
    app.request(req).await
}

fn geodata(file: &str) -> String {
    wangge::import::read_text(&common::demo_city().join(file)).unwrap()
}

#[tokio::test]
async fn a_dry_run_reports_a_unit_code_that_names_no_unit_with_the_feature_and_the_code() {
    let app = common::spawn_app().await;
    let admin = app.login(wangge::domain::identity::Role::Admin).await;
    // The demo city's units and districts, as `tests/import.rs` sets them up.
    let a = post_raw(
        &app,
        "/api/import/units",
        &admin,
        "text/csv",
        geodata("units.csv").into_bytes(),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let a = post_raw(
        &app,
        "/api/import/layers/district",
        &admin,
        "application/geo+json",
        geodata("district.geojson").into_bytes(),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let mut streets: serde_json::Value = serde_json::from_str(&geodata("street.geojson")).unwrap();
    let code = streets["features"][0]["properties"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    streets["features"][0]["properties"]["unit_code"] = json!("no-such-unit");
    let body = streets.to_string().into_bytes();
    for query in ["?dry_run=true", "?accept_warnings=true"] {
        let a = post_raw(
            &app,
            &format!("/api/import/layers/street{query}"),
            &admin,
            "application/geo+json",
            body.clone(),
        )
        .await;
        let unknown: Vec<&serde_json::Value> = a.body["report"]["issues"]
            .as_array()
            .unwrap_or_else(|| panic!("{query}: {}", a.text))
            .iter()
            .filter(|i| i["check"] == "unknown_unit")
            .collect();
        assert_eq!(unknown.len(), 1, "{query}: {}", a.text);
        assert_eq!(unknown[0]["feature"], code.as_str());
        assert_eq!(unknown[0]["severity"], "error");
        assert!(
            unknown[0]["message"]
                .as_str()
                .unwrap()
                .contains("no-such-unit")
        );
        assert!(
            a.body["published"].is_null(),
            "{query}: nothing is published"
        );
    }
    let versions = app.get("/api/layers", None).await;
    assert!(!versions.text.contains("\"street\""), "{}", versions.text);
}

#[tokio::test]
async fn a_frontage_layer_without_depth_is_refused_even_with_accept_warnings() {
    let app = common::spawn_app().await;
    let admin = app.login(wangge::domain::identity::Role::Admin).await;
    let frontage = json!({"type": "FeatureCollection", "features": [{"type": "Feature",
        "properties": {"code": "F-1", "name": "小卖部", "shop_type": "零售"},
        "geometry": {"type": "LineString", "coordinates": [[113.60, 34.72], [113.6003, 34.72]]}}]});
    let a = post_raw(
        &app,
        "/api/import/layers/frontage?accept_warnings=true",
        &admin,
        "application/geo+json",
        frontage.to_string().into_bytes(),
    )
    .await;
    assert!(
        a.text.contains("missing_depth") && a.body["published"].is_null(),
        "{}",
        a.text
    );
}

#[tokio::test]
async fn an_empty_city_says_no_layers_are_published_instead_of_outside_area() {
    let app = common::spawn_empty_app(HttpSettings::default()).await;
    let a = app.get("/api/assign?lon=113.65&lat=34.75", None).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    assert_eq!(a.body["code"], "no_city_data");
    assert!(a.text.contains("No jurisdiction layers are published yet"));
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/assign/batch")
        .header(axum::http::header::CONTENT_TYPE, "text/csv")
        .body(axum::body::Body::from("id,lon,lat\n1,113.65,34.75\n"))
        .unwrap();
    let a = app.request(req).await;
    assert_eq!(a.body["code"], "no_city_data", "{}", a.text);
}

#[tokio::test]
async fn a_district_only_city_answers_with_its_district_and_names_the_missing_layers() {
    // The mini city has only its district layer.
    let app = common::spawn_app().await;
    let (lon, lat) = a_point_of_the_city(&app).await;
    let a = app
        .get(&format!("/api/assign?lon={lon}&lat={lat}"), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["status"], "unassigned");
    assert!(a.body["district"]["code"].is_string(), "{}", a.text);
    assert_eq!(
        a.body["missing_layers"],
        json!(["street", "community", "grid"]),
        "{}",
        a.text
    );
    assert!(a.text.contains("Layers not published yet"), "{}", a.text);
}
