//! Importing as a city would: declared coordinate systems, validation before storage, refusals
//! that change nothing, OpenStreetMap, and version history. On SQLite and PostgreSQL + PostGIS.

use crate::common;

use std::path::Path;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{TestApp, spawn_app};
use serde_json::Value;
use wangge::domain::crs::Crs;
use wangge::domain::identity::Role;
use wangge::domain::jurisdiction::Layer;
use wangge::store::Audit;

fn geodata(name: &str) -> String {
    wangge::import::read_text(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("geodata")
            .join(name),
    )
    .unwrap()
}

async fn post_raw(
    app: &TestApp,
    path: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> common::Answer {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    app.request(req).await
}

/// An app whose store holds the demo city's units and its real district outlines.
async fn app_with_districts() -> (TestApp, String) {
    let app = spawn_app().await;
    let token = app.login(Role::Admin).await;
    let a = post_raw(
        &app,
        "/api/import/units",
        &token,
        "text/csv",
        geodata("units.csv").into_bytes(),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let a = post_raw(
        &app,
        "/api/import/layers/district?valid_from=2024-06-01",
        &token,
        "application/geo+json",
        geodata("district.geojson").into_bytes(),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    (app, token)
}

fn map_geometries(fc: &str, f: impl Fn(&geo::Geometry<f64>) -> geo::Geometry<f64>) -> String {
    let mut fc: geojson::FeatureCollection = fc.parse().unwrap();
    for feature in &mut fc.features {
        let g = geo::Geometry::<f64>::try_from(feature.geometry.as_ref().unwrap()).unwrap();
        feature.geometry = Some(geojson::Geometry::from(&f(&g)));
    }
    fc.to_string()
}

#[tokio::test]
async fn a_layer_converted_to_gcj02_and_imported_as_gcj02_lands_within_5_m_of_the_original() {
    use geo::{CoordsIter, Distance, Haversine, Point};
    let (app, token) = app_with_districts().await;
    let original = geodata("street.geojson");
    let gcj = map_geometries(&original, |g| Crs::Gcj02.geometry_from_wgs84(g));
    let a = post_raw(
        &app,
        "/api/import/layers/street?crs=gcj02",
        &token,
        "application/geo+json",
        gcj.into_bytes(),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["crs"], "gcj02");
    assert_eq!(a.body["report"]["errors"], 0, "{}", a.text);

    let stored = app.db.store.features_at(Layer::Street, None).await.unwrap();
    let mut want: geojson::FeatureCollection = original.parse().unwrap();
    want.features
        .sort_by_key(|f| f.property("code").unwrap().as_str().unwrap().to_owned());
    assert_eq!(stored.len(), want.features.len());
    let mut worst = 0.0_f64;
    for (s, w) in stored.iter().zip(&want.features) {
        let w = geo::Geometry::<f64>::try_from(w.geometry.as_ref().unwrap()).unwrap();
        for (a, b) in s.feature.geometry.coords_iter().zip(w.coords_iter()) {
            worst = worst.max(Haversine.distance(Point::from(a), Point::from(b)));
        }
    }
    assert!(worst < 5.0, "worst vertex {worst} m from the original");
}

#[tokio::test]
async fn a_refused_import_leaves_the_store_exactly_as_it_was() {
    let (app, token) = app_with_districts().await;
    let a = post_raw(
        &app,
        "/api/import/layers/street",
        &token,
        "application/geo+json",
        geodata("street.geojson").into_bytes(),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let versions_before = app.db.store.layer_versions(None).await.unwrap();
    let events_before = app
        .db
        .store
        .list_events(&Default::default())
        .await
        .unwrap()
        .len();
    let streets_before = app.db.store.features_at(Layer::Street, None).await.unwrap();

    // Move one street 300 m east: it overlaps a neighbour, leaves a gap, and sticks out.
    let mut fc: geojson::FeatureCollection = geodata("street.geojson").parse().unwrap();
    let g = geo::Geometry::<f64>::try_from(fc.features[0].geometry.as_ref().unwrap()).unwrap();
    let moved = geo::Translate::translate(&g, 0.0033, 0.0);
    fc.features[0].geometry = Some(geojson::Geometry::from(&moved));
    let a = post_raw(
        &app,
        "/api/import/layers/street",
        &token,
        "application/geo+json",
        fc.to_string().into_bytes(),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["code"], "import_refused");
    let checks: Vec<&str> = a.body["report"]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["check"].as_str().unwrap())
        .collect();
    for want in ["overlap", "gap"] {
        assert!(checks.contains(&want), "{want} in {checks:?}");
    }

    // The same report as GeoJSON, with the problem areas to draw.
    let report = post_raw(
        &app,
        "/api/import/layers/street?report=geojson",
        &token,
        "application/geo+json",
        fc.to_string().into_bytes(),
    )
    .await;
    assert_eq!(report.status, StatusCode::UNPROCESSABLE_ENTITY);
    let located = report.body["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["geometry"].is_object())
        .count();
    assert!(located >= 2);

    assert_eq!(
        app.db.store.layer_versions(None).await.unwrap(),
        versions_before
    );
    assert_eq!(
        app.db
            .store
            .list_events(&Default::default())
            .await
            .unwrap()
            .len(),
        events_before
    );
    assert_eq!(
        app.db.store.features_at(Layer::Street, None).await.unwrap(),
        streets_before
    );
}

#[tokio::test]
async fn swapped_coordinates_are_refused_with_a_message_that_says_so() {
    let (app, token) = app_with_districts().await;
    let swapped = map_geometries(&geodata("street.geojson"), |g| {
        geo::MapCoords::map_coords(g, |c| geo::coord! { x: c.y, y: c.x })
    });
    let a = post_raw(
        &app,
        "/api/import/layers/street",
        &token,
        "application/geo+json",
        swapped.into_bytes(),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["code"], "swapped_coordinates");
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .contains("longitude first"),
        "{}",
        a.text
    );
    assert!(
        app.db
            .store
            .features_at(Layer::Street, None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_point_far_from_the_city_and_an_unknown_crs_are_refused() {
    let (app, token) = app_with_districts().await;
    let far = map_geometries(&geodata("street.geojson"), |g| {
        geo::Translate::translate(g, 5.0, 0.0)
    });
    let a = post_raw(
        &app,
        "/api/import/layers/street",
        &token,
        "application/geo+json",
        far.into_bytes(),
    )
    .await;
    assert_eq!(a.body["code"], "outside_area", "{}", a.text);

    let mercator = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3857"}},"features":[]}"#;
    let a = post_raw(
        &app,
        "/api/import/layers/street",
        &token,
        "application/geo+json",
        mercator.into(),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["code"], "unknown_crs");

    let a = post_raw(
        &app,
        "/api/import/layers/street?crs=epsg:3857",
        &token,
        "application/geo+json",
        "{}".into(),
    )
    .await;
    assert_eq!(a.body["code"], "unknown_crs");

    let a = post_raw(
        &app,
        "/api/import/layers/street",
        &token,
        "application/geo+json",
        b"{\"type\": ".to_vec(),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body["code"], "malformed_geojson");
}

#[tokio::test]
async fn only_an_admin_may_import() {
    let app = spawn_app().await;
    let token = app.login(Role::Dispatcher).await;
    let a = post_raw(
        &app,
        "/api/import/units",
        &token,
        "text/csv",
        b"code,name,kind,parent_code\n".to_vec(),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_helsinki_openstreetmap_extract_yields_its_railway_and_roads() {
    let app = spawn_app().await;
    let token = app.login(Role::Admin).await;
    let pbf = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/helsinki/Helsinki.osm.pbf"),
    )
    .unwrap();
    // The mini city (郑州) is loaded: Helsinki lies outside it and is refused …
    let a = post_raw(
        &app,
        "/api/import/osm",
        &token,
        "application/octet-stream",
        pbf.clone(),
    )
    .await;
    assert_eq!(a.body["code"], "outside_area", "{}", a.text);

    // … while a store for Helsinki (no districts yet) takes it.
    let db = common::fresh_store().await;
    let quiet = |_: &str| {};
    let outcome =
        wangge::import::import_osm(&db.store, pbf, Default::default(), &Audit::system(), &quiet)
            .await
            .unwrap();
    assert!(outcome.roads > 1_000, "{outcome:?}");
    assert!(outcome.railways > 100, "{outcome:?}");
    assert!(outcome.buildings > 100, "{outcome:?}");
    let rail = db.store.basemap("railway").await.unwrap();
    let rail_lines = rail
        .iter()
        .filter(|f| f.class.as_deref() == Some("rail"))
        .count();
    assert!(rail_lines > 50, "{rail_lines} rail lines");
    assert!(rail.iter().any(|f| f.class.as_deref() == Some("tram")));
    let roads = db.store.basemap("road").await.unwrap();
    assert!(
        roads
            .iter()
            .any(|f| f.name.as_deref() == Some("Mannerheimintie"))
    );

    let a = post_raw(
        &app,
        "/api/import/osm",
        &token,
        "application/octet-stream",
        b"not a pbf".to_vec(),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body["code"], "malformed_osm");
}

#[tokio::test]
async fn the_owner_on_a_past_date_comes_from_the_version_valid_then() {
    let (app, token) = app_with_districts().await;
    let mut fc: geojson::FeatureCollection = geodata("district.geojson").parse().unwrap();
    for f in &mut fc.features {
        let name = f.property("name").unwrap().as_str().unwrap().to_owned();
        f.set_property("name", format!("{name}(2025年调整)"));
    }
    let a = post_raw(
        &app,
        "/api/import/layers/district?valid_from=2025-06-01",
        &token,
        "application/geo+json",
        fc.to_string().into_bytes(),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    // Version 1 is the mini city of the first start, version 2 the import above.
    assert_eq!(a.body["published"]["version"], 3);
    let name_at = |body: &Value| {
        body["features"][1]["properties"]["name"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        name_at(
            &app.get("/api/layers/district?at=2025-05-31", None)
                .await
                .body
        ),
        "二七区"
    );
    assert_eq!(
        name_at(
            &app.get("/api/layers/district?at=2025-06-01", None)
                .await
                .body
        ),
        "二七区(2025年调整)"
    );
    assert_eq!(
        name_at(&app.get("/api/layers/district", None).await.body),
        "二七区(2025年调整)"
    );
    let before = app.get("/api/layers/district?at=2024-07-01", None).await;
    assert_eq!(
        before.body["features"][1]["properties"]["valid_to"],
        "2025-05-31T16:00:00+00:00"
    );
}

#[tokio::test]
async fn the_whole_demo_city_imports_cleanly_through_the_validating_importer() {
    let db = common::fresh_store().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata");
    let report = wangge::demo::load_city(&db.store, &dir, &Audit::system())
        .await
        .unwrap();
    let counts: Vec<(Layer, usize)> = report.layers.clone();
    assert_eq!(counts[0], (Layer::District, 2));
    assert_eq!(counts[1], (Layer::Street, 30));
    assert_eq!(counts[2], (Layer::Community, 333));
    assert!(counts[3].1 > 15_000, "{counts:?}");
    assert!(counts[4].1 > 30_000, "{counts:?}");

    // On PostGIS, PostGIS itself confirms the partition the importer accepted.
    let Some(pool) = db.store.postgres_pool() else {
        return;
    };
    let not_covered: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM current_grid g JOIN current_community c ON c.code = g.parent_code \
                 WHERE NOT ST_CoveredBy(g.geom, c.geom)) \
              + (SELECT COUNT(*) FROM current_community c JOIN current_street s ON s.code = c.parent_code \
                 WHERE NOT ST_CoveredBy(c.geom, s.geom)) \
              + (SELECT COUNT(*) FROM current_street s JOIN current_district d ON d.code = s.parent_code \
                 WHERE NOT ST_CoveredBy(s.geom, d.geom))",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(not_covered, 0);
    let invalid: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM jurisdictions WHERE NOT ST_IsValid(geom)")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(invalid, 0);
    let (districts, grids): (f64, f64) = sqlx::query_as(
        "SELECT (SELECT SUM(ST_Area(geom::geography)) FROM current_district), \
                (SELECT SUM(ST_Area(geom::geography)) FROM current_grid)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(
        (districts - grids).abs() / districts < 1e-6,
        "districts {districts} m², grids {grids} m²"
    );
}

/// A FeatureCollection of `features` identical discs of the street layer, each with `vertices`
/// vertices on its outline, inside the mini city.
fn discs(features: usize, vertices: usize) -> String {
    let ring: Vec<[f64; 2]> = (0..=vertices)
        .map(|i| {
            let a = std::f64::consts::TAU * (i % vertices) as f64 / vertices as f64;
            [113.6 + 0.01 * a.cos(), 34.75 + 0.01 * a.sin()]
        })
        .collect();
    let fs: Vec<Value> = (0..features)
        .map(|i| {
            serde_json::json!({"type": "Feature",
                "properties": {"code": format!("410103{:03}", i % 1000), "name": "街道", "parent_code": "410103"},
                "geometry": {"type": "Polygon", "coordinates": [ring]}})
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": fs}).to_string()
}

#[tokio::test]
async fn a_feature_or_an_upload_over_the_vertex_limits_is_refused_with_413_before_validation() {
    let app = common::spawn_app_with(wangge::http::HttpSettings {
        import_limits: wangge::import::validate::Limits {
            max_feature_vertices: 1_000,
            max_upload_vertices: 5_000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let token = app.login(Role::Admin).await;
    let one_big = post_raw(
        &app,
        "/api/import/layers/street?dry_run=true",
        &token,
        "application/geo+json",
        discs(1, 1_001).into_bytes(),
    )
    .await;
    assert_eq!(
        one_big.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        one_big.text
    );
    assert_eq!(one_big.body["code"], "too_many_vertices");
    assert!(one_big.text.contains("feature #0"), "{}", one_big.text);
    let many = post_raw(
        &app,
        "/api/import/layers/street?dry_run=true",
        &token,
        "application/geo+json",
        discs(10, 900).into_bytes(),
    )
    .await;
    assert_eq!(many.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", many.text);
    assert_eq!(many.body["code"], "too_many_vertices");
    // Under both limits, the same shapes are validated (and refused for their overlaps).
    let fine = post_raw(
        &app,
        "/api/import/layers/street?dry_run=true",
        &token,
        "application/geo+json",
        discs(2, 900).into_bytes(),
    )
    .await;
    assert_eq!(
        fine.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        fine.text
    );
    assert!(fine.text.contains("overlap"), "{}", fine.text);
}

#[tokio::test]
async fn a_100k_vertex_street_validates_within_the_suite() {
    // geo's quadratic ring check took 57 s for this on two cores; near-linear, it is a moment.
    let app = spawn_app().await;
    let token = app.login(Role::Admin).await;
    let a = post_raw(
        &app,
        "/api/import/layers/street?dry_run=true",
        &token,
        "application/geo+json",
        discs(1, 100_000).into_bytes(),
    )
    .await;
    assert!(
        !a.text.contains("invalid_geometry"),
        "a circle is a valid polygon: {}",
        a.text
    );
    assert!(
        a.status.is_success() || a.status == StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        a.text
    );
}
