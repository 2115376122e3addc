//! The assignment API over the whole demo city, on SQLite and PostgreSQL + PostGIS.

use crate::common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{TestApp, spawn_demo_app};
use serde_json::Value;
use wangge::domain::crs::Crs;
use wangge::http::HttpSettings;

/// Inside 二七区, near 郑州站 (WGS84).
const STATION: (f64, f64) = (113.6584, 34.7459);

async fn post(app: &TestApp, path: &str, content_type: &str, body: String) -> common::Answer {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    app.request(req).await
}

#[tokio::test]
async fn the_owner_chain_of_a_point_comes_with_reasons_and_every_bad_input_is_refused_clearly() {
    let app = spawn_demo_app(HttpSettings::default()).await;
    let (lon, lat) = STATION;
    let a = app
        .get(
            &format!("/api/assign?lon={lon}&lat={lat}&category=0101"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["status"], "assigned");
    assert_eq!(a.body["district"]["code"], "410103");
    let grid = a.body["grid"]["code"].as_str().unwrap().to_owned();
    assert_eq!(grid.len(), 15);
    assert!(grid.starts_with(a.body["community"]["code"].as_str().unwrap()));
    assert_eq!(a.body["department"]["code"], "dept-410103-hw");
    assert!(a.body["owner"]["unit_code"].is_string());
    assert!(a.body["reasons"].as_array().unwrap().len() >= 2);

    // The same place as a phone map (GCJ-02) sends it: converted first, same answer.
    let (gx, gy) = Crs::Gcj02.from_wgs84(lon, lat);
    let g = app
        .get(&format!("/api/assign?lon={gx}&lat={gy}&crs=gcj02"), None)
        .await;
    assert_eq!(g.body["grid"]["code"], grid.as_str());
    assert_eq!(g.body["input_crs"], "gcj02");
    // Taken as WGS84 it lands about 570 m away, in another grid.
    let wrong = app
        .get(&format!("/api/assign?lon={gx}&lat={gy}"), None)
        .await;
    assert_ne!(wrong.body["grid"]["code"], grid.as_str());

    let swapped = app
        .get(&format!("/api/assign?lon={lat}&lat={lon}"), None)
        .await;
    assert_eq!(swapped.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(swapped.body["code"], "swapped_coordinates");
    let far = app.get("/api/assign?lon=116.39&lat=39.91", None).await;
    assert_eq!(far.body["code"], "outside_area");
    let cat = app
        .get(
            &format!("/api/assign?lon={lon}&lat={lat}&category=9999"),
            None,
        )
        .await;
    assert_eq!(cat.body["code"], "unknown_category");
    let crs = app
        .get(
            &format!("/api/assign?lon={lon}&lat={lat}&crs=epsg:3857"),
            None,
        )
        .await;
    assert_eq!(crs.body["code"], "unknown_crs");
    let missing = app.get(&format!("/api/assign?lon={lon}"), None).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["code"], "invalid_query");
    let before = app
        .get(
            &format!("/api/assign?lon={lon}&lat={lat}&as_of=2023-06-01"),
            None,
        )
        .await;
    assert_eq!(before.body["code"], "no_data_on_date");
    let then = app
        .get(
            &format!("/api/assign?lon={lon}&lat={lat}&as_of=2025-01-01"),
            None,
        )
        .await;
    assert_eq!(then.body["grid"]["code"], grid.as_str());
}

#[tokio::test]
async fn batches_come_back_row_for_row_in_csv_geojson_and_json_with_per_row_errors() {
    let app = spawn_demo_app(HttpSettings {
        assign_batch_max_points: 40_000,
        ..HttpSettings::default()
    })
    .await;
    let (lon, lat) = STATION;
    let mut csv = String::from("id,lon,lat\n");
    let n = 30_000;
    for i in 0..n {
        let k = f64::from(i);
        csv.push_str(&format!(
            "p{i},{},{}\n",
            lon - 0.05 + (k * 0.000_37) % 0.1,
            lat - 0.05 + (k * 0.000_91) % 0.1
        ));
    }
    csv.push_str(&format!("swapped,{lat},{lon}\n"));
    let a = post(&app, "/api/assign/batch", "text/csv", csv.clone()).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let lines: Vec<&str> = a.text.lines().collect();
    assert_eq!(lines.len(), n as usize + 2, "header + one row per point");
    assert!(lines[0].starts_with("id,lon,lat,status,grid,community,street,district"));
    assert!(lines[1].starts_with("p0,"));
    assert!(
        lines[n as usize].starts_with(&format!("p{},", n - 1)),
        "order is kept"
    );
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("swapped,")
            && last.contains(",error,")
            && last.ends_with("swapped_coordinates"),
        "{last}"
    );
    let assigned = lines.iter().filter(|l| l.contains(",assigned,")).count();
    // The box around the station reaches beyond the city in the east and north.
    assert!(assigned > n as usize / 3, "{assigned} assigned");

    let single = app
        .get(&format!("/api/assign?lon={lon}&lat={lat}"), None)
        .await;
    let fc = format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","id":"station","geometry":{{"type":"Point","coordinates":[{lon},{lat}]}},"properties":{{}}}}]}}"#
    );
    let g = post(
        &app,
        "/api/assign/batch",
        "application/geo+json",
        fc.clone(),
    )
    .await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.body["features"][0]["properties"]["id"], "station");
    assert_eq!(
        g.body["features"][0]["properties"]["grid"],
        single.body["grid"]["code"]
    );
    let j = post(
        &app,
        "/api/assign/batch?format=json",
        "application/geo+json",
        fc,
    )
    .await;
    let arr: &Vec<Value> = j.body.as_array().unwrap();
    assert_eq!(arr[0]["grid"], single.body["grid"]["code"]);
    assert_eq!(arr[0]["on_boundary"], false);

    let c = post(
        &app,
        "/api/assign/batch?format=geojson",
        "text/csv",
        "id,lon,lat\nx,113.6584,34.7459\n".into(),
    )
    .await;
    assert_eq!(c.body["type"], "FeatureCollection");

    let no_cols = post(&app, "/api/assign/batch", "text/csv", "a,b\n1,2\n".into()).await;
    assert_eq!(no_cols.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_cols.body["code"], "missing_columns");
    let bad = post(
        &app,
        "/api/assign/batch",
        "application/geo+json",
        "{\"features\": [".into(),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["code"], "malformed_geojson");

    let many: Vec<String> = (0..40_001).map(|i| format!(r#"{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{lon},{lat}]}},"id":{i}}}"#)).collect();
    let too_many = post(
        &app,
        "/api/assign/batch",
        "application/geo+json",
        format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            many.join(",")
        ),
    )
    .await;
    assert_eq!(too_many.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_many.body["code"], "batch_too_large");
}

#[tokio::test]
async fn an_import_swaps_in_a_new_index_and_health_reports_its_version() {
    let app = spawn_demo_app(HttpSettings::default()).await;
    let before = app.get("/healthz", None).await.body["index_version"]
        .as_i64()
        .unwrap();
    let a = app
        .republish_renamed("district.geojson", "district", "")
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let after = app.get("/healthz", None).await.body["index_version"]
        .as_i64()
        .unwrap();
    assert!(after > before);
    let (lon, lat) = STATION;
    let now = app
        .get(&format!("/api/assign?lon={lon}&lat={lat}"), None)
        .await;
    assert_eq!(now.body["district"]["name"], "二七区(新)");
    assert_eq!(now.body["version"], after);
    // The day before, the old version answers.
    let then = app
        .get(
            &format!("/api/assign?lon={lon}&lat={lat}&as_of=2025-01-01"),
            None,
        )
        .await;
    assert_eq!(then.body["district"]["name"], "二七区");
}

#[tokio::test]
async fn the_demo_history_is_loaded_assigned_and_a_bad_history_file_changes_nothing() {
    let app = spawn_demo_app(HttpSettings::default()).await;
    let n = app.db.store.count_history().await.unwrap();
    assert_eq!(n, 200_000);
    let top = app.db.store.history_per_grid(5).await.unwrap();
    assert!(top[0].1 > 50, "{top:?}");
    assert!(top[0].0.len() == 15);

    let token = app.login(wangge::domain::identity::Role::Admin).await;
    let send = |body: &'static str| {
        Request::builder()
            .method(Method::POST)
            .uri("/api/import/history")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "text/csv")
            .body(Body::from(body))
            .unwrap()
    };
    let ok = app
        .request(send("id,reported_at,category,lon,lat,channel,closed_at\nH1,2025-03-01T09:00:00+08:00,0201,113.6584,34.7459,hotline_12345,\n"))
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    let bad = app
        .request(send("id,reported_at,category,lon,lat\nH2,2025-03-01T09:00:00+08:00,0201,113.6584,34.7459\nH3,2025-03-01T09:00:00+08:00,0101,34.7459,113.6584\n"))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["code"], "invalid_csv");
    assert!(
        bad.body["message"].as_str().unwrap().contains("line 3"),
        "{}",
        bad.text
    );
    let dup = app
        .request(send(
            "id,reported_at,category,lon,lat\nH1,2025-03-01T09:00:00+08:00,0201,113.6584,34.7459\n",
        ))
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(app.db.store.count_history().await.unwrap(), 200_001);
}
