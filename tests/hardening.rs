//! Defects found by an adversarial review before production (issue 11), each pinned at the HTTP
//! boundary on both stores: empty uploads that wiped live data, NUL bytes that gave 500 on
//! PostgreSQL, and idempotency keys that handed one caller another's case.

use crate::common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{Answer, TestApp, spawn_city_without_history};
use serde_json::{Value, json};
use wangge::domain::identity::Role;
use wangge::http::HttpSettings;

/// Inside 二七区, near 郑州站 (WGS84), on the railway's land.
const STATION: (f64, f64) = (113.6584, 34.7459);

async fn post_raw(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: impl Into<Body>,
) -> Answer {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    app.request(req.body(body.into()).unwrap()).await
}

async fn counts(app: &TestApp) -> (u64, u64, u64, i64) {
    let s = &app.db.store;
    (
        s.basemap_count("road").await.unwrap(),
        s.basemap_count("railway").await.unwrap(),
        s.current_feature_count(wangge::domain::jurisdiction::Layer::Zone)
            .await
            .unwrap(),
        s.data_version().await.unwrap(),
    )
}

#[tokio::test]
async fn an_empty_or_shrinking_upload_never_wipes_live_data_unless_the_admin_names_the_count() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let admin = app.login(Role::Admin).await;
    let before = counts(&app).await;
    assert!(before.0 > 100 && before.1 > 0 && before.2 > 0, "{before:?}");
    let (lon, lat) = STATION;
    let assign = format!("/api/assign?lon={lon}&lat={lat}");
    let railway_before = app.get(&assign, None).await.body["zones"].clone();

    // An empty body is always refused, on every import.
    for path in [
        "/api/import/osm",
        "/api/import/layers/zone",
        "/api/import/layers/grid?dry_run=true",
        "/api/import/basemap/road",
        "/api/import/units",
        "/api/import/history",
    ] {
        for body in ["", "  \n"] {
            if path.ends_with("osm") && !body.is_empty() {
                continue; // binary: whitespace is not "empty" there
            }
            let a = post_raw(&app, path, Some(&admin), "application/octet-stream", body).await;
            assert_eq!(
                a.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path}: {}",
                a.text
            );
            assert_eq!(a.body["code"], "empty_upload", "{path}");
        }
    }
    // An empty FeatureCollection is empty too.
    let empty = r#"{"type":"FeatureCollection","features":[]}"#;
    for path in ["/api/import/basemap/road", "/api/import/layers/zone"] {
        let a = post_raw(&app, path, Some(&admin), "application/geo+json", empty).await;
        assert_eq!(a.body["code"], "empty_upload", "{path}: {}", a.text);
    }
    // A file that lost most of its features would remove them: refused, naming the count.
    let road = json!({"type": "FeatureCollection", "features": [{"type": "Feature",
        "properties": {"name": "一条路", "class": "main"},
        "geometry": {"type": "LineString", "coordinates": [[113.60, 34.74], [113.61, 34.74]]}}]});
    let a = post_raw(
        &app,
        "/api/import/basemap/road",
        Some(&admin),
        "application/geo+json",
        road.to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text);
    assert_eq!(a.body["code"], "import_would_remove");
    let road_count = (before.0 - 1).to_string();
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .contains(&format!("confirm_removal={road_count}")),
        "{}",
        a.text
    );
    // A wrong count is no confirmation.
    let a = post_raw(
        &app,
        "/api/import/basemap/road?confirm_removal=1",
        Some(&admin),
        "application/geo+json",
        road.to_string(),
    )
    .await;
    assert_eq!(a.body["code"], "import_would_remove", "{}", a.text);
    // A PBF without a single road or railway is the same removal.
    let pbf = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/helsinki")
            .read_dir()
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(".pbf"))
            .expect("the Helsinki extract"),
    )
    .unwrap();
    // Truncated to its first bytes: no blocks with ways.
    let a = post_raw(
        &app,
        "/api/import/osm",
        Some(&admin),
        "application/octet-stream",
        pbf[..8].to_vec(),
    )
    .await;
    assert!(a.status.is_client_error(), "{}", a.text);

    assert_eq!(counts(&app).await, before, "nothing changed");
    let railway_after = app.get(&assign, None).await.body["zones"].clone();
    assert_eq!(railway_after, railway_before, "railway land still answered");
    assert!(
        railway_after["railway_distance_m"].is_number(),
        "{railway_after}"
    );

    // An empty FeatureCollection is refused even "confirmed"; a deliberate, smaller file with
    // the exact count confirmed replaces the zones.
    let zones = before.2;
    let a = post_raw(
        &app,
        &format!("/api/import/layers/zone?confirm_removal={zones}"),
        Some(&admin),
        "application/geo+json",
        empty,
    )
    .await;
    assert_eq!(a.body["code"], "empty_upload", "{}", a.text);
    let one = json!({"type": "FeatureCollection", "features": [{"type": "Feature",
        "properties": {"code": "zone-1", "name": "城中村", "zone_kind": "urban_village"},
        "geometry": {"type": "Polygon", "coordinates": [[[113.60, 34.74], [113.601, 34.74],
            [113.601, 34.741], [113.60, 34.741], [113.60, 34.74]]]}}]});
    let a = post_raw(
        &app,
        &format!("/api/import/layers/zone?confirm_removal={}", zones - 1),
        Some(&admin),
        "application/geo+json",
        one.to_string(),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(counts(&app).await.2, 1);
}

#[tokio::test]
async fn nul_and_control_characters_get_a_clear_4xx_and_store_nothing() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let admin = app.login(Role::Admin).await;
    let inspector = app.login(Role::Inspector).await;
    let clerk = app.login(Role::IntakeClerk).await;
    let events_before = app.get("/api/events?limit=1000", Some(&admin)).await;
    let (lon, lat) = STATION;

    let refused = |a: &Answer, what: &str| {
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{what}: {}", a.text);
        assert_eq!(a.body["code"], "invalid_text", "{what}: {}", a.text);
    };
    let a = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "demo\u{0}admin", "password": "x"})),
        )
        .await;
    refused(&a, "login name");
    let report = |key: &str, description: &str| {
        json!({"idempotency_key": key, "category": "0401", "description": description,
               "lon": lon, "lat": lat, "crs": "wgs84"})
    };
    let a = app
        .call(
            Method::POST,
            "/api/public/reports",
            None,
            Some(report("k1", "垃圾\u{0}")),
        )
        .await;
    refused(&a, "public description");
    let a = app
        .call(
            Method::POST,
            "/api/cases",
            Some(&inspector),
            Some(report("k\u{0}", "私搭乱建")),
        )
        .await;
    refused(&a, "idempotency key");
    let a = app
        .call(
            Method::POST,
            "/api/cases",
            Some(&inspector),
            Some(report("k2", "escape \u{1b}[2J")),
        )
        .await;
    refused(&a, "escape sequence");
    let a = app
        .call(
            Method::POST,
            "/api/units",
            Some(&admin),
            Some(json!({"code": "u\u{0}1", "name": "某单位", "kind": "department"})),
        )
        .await;
    refused(&a, "POST /api/units");
    let a = app.get("/api/cases?category=%00", Some(&admin)).await;
    refused(&a, "?category=%00");
    let a = app.get("/api/units/a%00b", Some(&admin)).await;
    refused(&a, "/api/units/a%00b");
    let a = app
        .get("/api/assign?lon=113.6&lat=34.7&category=%7F", None)
        .await;
    refused(&a, "DEL in the query");

    // An action note: the case exists, the note is refused, the case is unchanged.
    let created = app
        .call(
            Method::POST,
            "/api/cases",
            Some(&inspector),
            Some(report("note-case", "私搭乱建")),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_i64().unwrap();
    let version = created.body["version"].clone();
    let a = app
        .call(
            Method::POST,
            &format!("/api/cases/{id}/actions"),
            Some(&admin),
            Some(json!({"action": "register", "note": "立案\u{0}"})),
        )
        .await;
    refused(&a, "action note");
    let after = app.get(&format!("/api/cases/{id}"), Some(&admin)).await;
    assert_eq!(after.body["version"], version);

    // In a hotline export only the bad row is refused; the good ones go in.
    let csv = "ticket_no,reported_at,category,description,lon,lat,crs\n\
               T-1,2026-11-28 09:30,0401,好的一行,113.6584,34.7459,wgs84\n\
               T-2,2026-11-28 09:31,0401,坏\u{0}的一行,113.6590,34.7459,wgs84\n";
    let a = post_raw(&app, "/api/cases/hotline", Some(&clerk), "text/csv", csv).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let rows = a.body.as_array().unwrap();
    let outcome = |t: &str| {
        rows.iter()
            .find(|r| r["ticket_no"] == t)
            .unwrap_or_else(|| panic!("{t} in {rows:?}"))
            .clone()
    };
    assert_eq!(outcome("T-1")["outcome"], "created");
    assert_eq!(outcome("T-2")["outcome"], "error");
    assert!(
        outcome("T-2")["error"].as_str().unwrap().contains("U+0000"),
        "{rows:?}"
    );

    // A layer with a NUL in a name is refused with its feature.
    let fc = json!({"type": "FeatureCollection", "features": [{"type": "Feature",
        "properties": {"code": "410103", "name": "二七\u{0}区"},
        "geometry": {"type": "Point", "coordinates": [lon, lat]}}]});
    let a = post_raw(
        &app,
        "/api/import/layers/zone?dry_run=true",
        Some(&admin),
        "application/geo+json",
        fc.to_string(),
    )
    .await;
    refused(&a, "a layer's feature name");
    assert!(a.text.contains("feature #0"), "{}", a.text);

    // Only the two good submissions left a trace, and the service is healthy.
    let events_after = app.get("/api/events?limit=1000", Some(&admin)).await;
    let new_events =
        events_after.body.as_array().unwrap().len() - events_before.body.as_array().unwrap().len();
    let cases = app.get("/api/cases", Some(&admin)).await;
    assert_eq!(
        cases.body.as_array().map_or(0, Vec::len),
        2,
        "{}",
        cases.text
    );
    assert!(new_events >= 2, "{new_events}");
    assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn idempotency_keys_belong_to_their_caller_and_a_reused_key_with_another_body_is_refused() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let inspector = app.login(Role::Inspector).await;
    let clerk = app.login(Role::IntakeClerk).await;
    let (lon, lat) = STATION;
    let body = |description: &str, dx: f64| {
        json!({"idempotency_key": "shared-key", "category": "0401", "description": description,
               "lon": lon + dx, "lat": lat, "crs": "wgs84"})
    };
    let first = app
        .call(
            Method::POST,
            "/api/cases",
            Some(&inspector),
            Some(body("违章搭建", 0.0)),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let inspector_case = first.body["id"].clone();

    // The same key from another caller is another report, never the inspector's case.
    let theirs = app
        .call(
            Method::POST,
            "/api/cases",
            Some(&clerk),
            Some(body("市民来电：违章搭建", 0.004)),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.text);
    assert_ne!(theirs.body["id"], inspector_case);

    // The inspector's exact retry is the first case; the key with another body is refused.
    let retry = app
        .call(
            Method::POST,
            "/api/cases",
            Some(&inspector),
            Some(body("违章搭建", 0.0)),
        )
        .await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.text);
    assert_eq!(retry.body["id"], inspector_case);
    let reused = app
        .call(
            Method::POST,
            "/api/cases",
            Some(&inspector),
            Some(body("另一处违章搭建", 0.01)),
        )
        .await;
    assert_eq!(reused.status, StatusCode::CONFLICT, "{}", reused.text);
    assert_eq!(reused.body["code"], "idempotency_key_reused");

    // A citizen whose first answer was lost gets the same receipt with its follow token again.
    let citizen = |description: &str| {
        json!({"idempotency_key": "shared-key", "category": "0401", "description": description,
               "lon": lon - 0.004, "lat": lat, "crs": "wgs84"})
    };
    let r1 = app
        .call(
            Method::POST,
            "/api/public/reports",
            None,
            Some(citizen("路边乱搭棚子")),
        )
        .await;
    assert_eq!(r1.status, StatusCode::CREATED, "{}", r1.text);
    assert_ne!(r1.body["id"], inspector_case, "not the inspector's case");
    let r2 = app
        .call(
            Method::POST,
            "/api/public/reports",
            None,
            Some(citizen("路边乱搭棚子")),
        )
        .await;
    assert_eq!(r2.status, StatusCode::OK, "{}", r2.text);
    assert_eq!(r2.body["id"], r1.body["id"]);
    let token = r1.body["follow_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    assert_eq!(r2.body["follow_token"], Value::from(token.clone()));
    let follow = app
        .get(
            &format!("/api/public/reports/{}?token={token}", r1.body["id"]),
            None,
        )
        .await;
    assert_eq!(follow.status, StatusCode::OK, "{}", follow.text);
    let other = app
        .call(
            Method::POST,
            "/api/public/reports",
            None,
            Some(citizen("完全不同的问题")),
        )
        .await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{}", other.text);
    assert_eq!(other.body["code"], "idempotency_key_reused");
    assert!(other.body.get("follow_token").is_none(), "{}", other.text);
}
