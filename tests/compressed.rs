//! Every streaming endpoint answers whole to a client that accepts gzip (browsers,
//! python-requests, `curl --compressed`): the batch assignment in all three formats, the case
//! exports and the live case stream. The streamed batch body used to panic under the compression
//! layer once its source ended, cutting the answer off.

use crate::common;

use std::io::Read;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{TestApp, spawn_city_without_history};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use wangge::domain::identity::Role;
use wangge::http::HttpSettings;

/// Inside 二七区, near 郑州站 (WGS84).
const STATION: (f64, f64) = (113.6584, 34.7459);

/// Sends `req` with `Accept-Encoding: gzip` and returns the status, headers and the whole body,
/// gunzipped when the server compressed it.
async fn fetch_gzip(
    app: &TestApp,
    mut req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    req.headers_mut()
        .insert(header::ACCEPT_ENCODING, "gzip".parse().unwrap());
    let res = app.router.clone().oneshot(req).await.expect("infallible");
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = res
        .into_body()
        .collect()
        .await
        .expect("the whole body")
        .to_bytes();
    let text = if headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v == "gzip")
    {
        let mut out = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut out)
            .expect("a complete gzip stream");
        out
    } else {
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    };
    (status, headers, text)
}

fn csv_points(n: usize) -> String {
    let (lon, lat) = STATION;
    let mut csv = String::from("id,lon,lat\n");
    for i in 0..n {
        let k = i as f64;
        csv.push_str(&format!(
            "p{i},{:.6},{:.6}\n",
            lon - 0.03 + (k * 0.000_37) % 0.06,
            lat - 0.03 + (k * 0.000_91) % 0.06
        ));
    }
    csv
}

fn batch_request(path: &str, content_type: &str, body: String) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn a_gzip_client_receives_every_row_of_a_batch_in_csv_geojson_and_json() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let n = 20_000;
    let csv = csv_points(n);
    for format in ["csv", "geojson", "json"] {
        let (status, headers, text) = fetch_gzip(
            &app,
            batch_request(
                &format!("/api/assign/batch?crs=wgs84&format={format}"),
                "text/csv",
                csv.clone(),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{format}: {text}");
        assert_eq!(
            headers[header::CONTENT_ENCODING],
            "gzip",
            "{format}: compressed"
        );
        let rows = match format {
            "csv" => text.lines().count() - 1,
            "geojson" => {
                let v: Value = serde_json::from_str(&text).expect("complete GeoJSON");
                v["features"].as_array().unwrap().len()
            }
            _ => {
                let v: Value = serde_json::from_str(&text).expect("complete JSON");
                v.as_array()
                    .or_else(|| v["results"].as_array())
                    .expect("an array of results")
                    .len()
            }
        };
        assert_eq!(rows, n, "{format}: one row per point");
    }
    // A GeoJSON batch is streamed the same way.
    let mut fc = json!({"type": "FeatureCollection", "features": []});
    for (i, line) in csv.lines().skip(1).enumerate().take(5_000) {
        let parts: Vec<f64> = line
            .split(',')
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect();
        fc["features"].as_array_mut().unwrap().push(json!({
            "type": "Feature", "id": i,
            "geometry": {"type": "Point", "coordinates": [parts[0], parts[1]]}, "properties": {}
        }));
    }
    let (status, _, text) = fetch_gzip(
        &app,
        batch_request(
            "/api/assign/batch?crs=wgs84&format=csv",
            "application/geo+json",
            fc.to_string(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(text.lines().count(), 5_001);
}

#[tokio::test]
async fn a_gzip_client_receives_whole_case_exports_and_the_live_stream() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let inspector = app.login(Role::Inspector).await;
    let admin = app.login(Role::Admin).await;

    // The live stream is not compressed (that would buffer it) and still delivers at once.
    let stream_req = Request::builder()
        .uri("/api/cases/stream")
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(stream_req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get(header::CONTENT_ENCODING).is_none());
    let mut stream = res.into_body();

    let (lon, lat) = STATION;
    let n = 30;
    for i in 0..n {
        let a = app
            .call(
                Method::POST,
                "/api/cases",
                Some(&inspector),
                Some(json!({
                    "idempotency_key": format!("gzip-{i}"), "category": "0401",
                    "description": format!("私搭乱建 {i}"),
                    "lon": lon + f64::from(i) * 0.002, "lat": lat, "crs": "wgs84"
                })),
            )
            .await;
        assert!(a.status.is_success(), "{}", a.text);
    }

    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("event: case") {
        let frame = tokio::time::timeout_at(deadline, stream.frame())
            .await
            .expect("a case event within 10 s")
            .expect("the stream stays open")
            .expect("a frame");
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    drop(stream);

    for format in ["geojson", "csv"] {
        let req = Request::builder()
            .uri(format!("/api/cases/export?format={format}"))
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .body(Body::empty())
            .unwrap();
        let (status, _, text) = fetch_gzip(&app, req).await;
        assert_eq!(status, StatusCode::OK, "{format}: {text}");
        let rows = if format == "csv" {
            text.lines().count() - 1
        } else {
            let v: Value = serde_json::from_str(&text).expect("complete GeoJSON");
            v["features"].as_array().unwrap().len()
        };
        assert_eq!(rows, n as usize, "{format}: every case");
    }
}
