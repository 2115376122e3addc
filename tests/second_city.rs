//! Issue 12: a city that is not Zhengzhou, in BD-09, goes from an empty store to a published
//! city through the documented path only (docs/import.md): `wangge serve --no-demo`,
//! `wangge user create`, the import schema, a whole-city dry run, one publishing request, and
//! assignment checked against arithmetic on the city's own lattice. The same package from a
//! folder on the command line; a package that fails while publishing leaves nothing behind; every
//! property the served schema calls required is enforced.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};
use wangge::domain::jurisdiction::Layer;
use wangge::http::HttpSettings;
use wangge::import::LayerImportOptions;
use wangge::import::package::{CityPackage, PackageUpload, import_city};
use wangge::store::Audit;

use common::second_city as city;
use common::wire::{free_port, http_as};

/// Points within this distance (degrees, about 20 m) of a lattice line are not compared: the
/// BD-09 → WGS84 conversion of the import is exact to about a metre, not to a millimetre.
const MARGIN_DEG: f64 = 0.0002;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_without_demo(url: &str, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(["serve", "--no-demo", "--bind", &format!("127.0.0.1:{port}")])
        .env("WANGGE_DATABASE_URL", url)
        .env(
            "WANGGE_WEB_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/web"),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wangge serve --no-demo");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_as(port, "GET", "/healthz", None, None).is_none() {
        assert!(Instant::now() < deadline, "the service did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

fn call(port: u16, method: &str, path: &str, body: Option<&Value>, token: &str) -> (u16, Value) {
    let body = body.map(Value::to_string);
    let (status, text) = http_as(port, method, path, body.as_deref(), Some(token))
        .unwrap_or_else(|| panic!("no answer to {method} {path}"));
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// Compares the engine's answers for the sample points with the lattice; returns how many were
/// compared (points near a lattice line are not).
fn check_assignment(answers: &[((f64, f64), Value)]) -> usize {
    let mut compared = 0;
    for ((lon, lat), a) in answers {
        let Some(want) = city::expected(*lon, *lat, MARGIN_DEG) else {
            continue;
        };
        let at = format!("({lon:.6}, {lat:.6}): {a}");
        assert_eq!(a["district"]["code"], city::DISTRICT, "{at}");
        assert_eq!(a["street"]["code"], want.street.as_str(), "{at}");
        assert_eq!(a["community"]["code"], want.community.as_str(), "{at}");
        assert_eq!(a["grid"]["code"], want.grid.as_str(), "{at}");
        assert_eq!(a["owner"]["unit_code"], want.owner.as_str(), "{at}");
        compared += 1;
    }
    compared
}

#[tokio::test]
async fn a_second_city_in_bd09_goes_from_an_empty_store_to_published_over_http_as_the_docs_say() {
    let db = common::fresh_store().await;
    let port = free_port();
    let _server = serve_without_demo(&db.url, port);

    // 1. The first admin, on the command line; then a token over HTTP.
    let (ok, stderr) = common::user_create(&db.url, "lz_gis", "Lanzhou-grid-2026");
    assert!(ok, "{stderr}");
    let (status, login) = http_as(
        port,
        "POST",
        "/api/auth/login",
        Some(r#"{"username":"lz_gis","password":"Lanzhou-grid-2026"}"#),
        None,
    )
    .expect("login answers");
    assert_eq!(status, 200, "{login}");
    let token = serde_json::from_str::<Value>(&login).unwrap()["token"]
        .as_str()
        .expect("a token")
        .to_owned();

    // 2. Nothing is published yet, and the service says so.
    let (status, a) = call(
        port,
        "GET",
        "/api/assign?lon=103.82&lat=36.055",
        None,
        &token,
    );
    assert_eq!(
        (status, a["code"].as_str()),
        (409, Some("no_city_data")),
        "{a}"
    );

    // 3. The rules of the data, as the docs point to them.
    let (status, schemas) = call(port, "GET", "/api/import/schema", None, &token);
    assert_eq!(status, 200);
    assert_eq!(
        schemas["schemas"].as_array().map(Vec::len),
        Some(8),
        "{schemas}"
    );
    let (status, grid) = call(port, "GET", "/api/import/schema/grid", None, &token);
    assert_eq!(status, 200, "{grid}");
    assert_eq!(
        grid["properties"]["properties"]["required"],
        json!(["code", "name", "parent_code"])
    );
    assert_eq!(
        grid["properties"]["properties"]["properties"]["code"]["pattern"],
        "^[0-9]{15}$"
    );

    // 4. A broken package is refused in the dry run, each finding with its layer, feature and fix.
    let mut broken = city::upload();
    broken["layers"]["grid"]["features"][5]["properties"]["unit_code"] = json!("cc-nobody");
    let (status, r) = call(
        port,
        "POST",
        "/api/import/city?crs=bd09&dry_run=true",
        Some(&broken),
        &token,
    );
    assert_eq!(status, 422, "{r}");
    assert_eq!(r["code"], "import_refused");
    let grid_report = r["reports"]
        .as_array()
        .and_then(|rs| rs.iter().find(|x| x["layer"] == "grid"))
        .expect("a grid report");
    let issue = &grid_report["issues"][0];
    assert_eq!(issue["check"], "unknown_unit", "{grid_report}");
    assert!(
        issue["feature"].as_str().is_some_and(|f| f.len() == 15),
        "{issue}"
    );
    assert!(
        issue["fix"]
            .as_str()
            .is_some_and(|f| f.contains("units.csv")),
        "{issue}"
    );

    // A rule table naming a department the city does not have is refused too, with its finding.
    let mut broken = city::upload();
    broken["dispatch_rules"]["triage_department"] = json!("cwb");
    let (status, r) = call(
        port,
        "POST",
        "/api/import/city?crs=bd09&dry_run=true",
        Some(&broken),
        &token,
    );
    assert_eq!(status, 422, "{r}");
    let finding = &r["dispatch_rules"]["findings"][0];
    assert_eq!(finding["check"], "missing_department_unit", "{r}");
    assert!(
        finding["message"]
            .as_str()
            .is_some_and(|m| m.contains("dept-620102-cwb")),
        "{finding}"
    );

    // 5. The whole city checked in one dry run: no parent layer is published, none is needed.
    let package = city::upload();
    let (status, r) = call(
        port,
        "POST",
        "/api/import/city?crs=bd09&dry_run=true",
        Some(&package),
        &token,
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (r["errors"].as_u64(), r["warnings"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
    assert_eq!(r["published"], json!([]));
    assert_eq!(r["reports"].as_array().map(Vec::len), Some(6));
    let (status, _) = call(
        port,
        "GET",
        "/api/assign?lon=103.82&lat=36.055",
        None,
        &token,
    );
    assert_eq!(status, 409, "a dry run publishes nothing");

    // 6. Published in one request.
    let (status, r) = call(
        port,
        "POST",
        "/api/import/city?crs=bd09",
        Some(&package),
        &token,
    );
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["published"].as_array().map(Vec::len), Some(6), "{r}");
    assert_eq!(r["units"], 22);
    assert_eq!(r["dispatch_rules_version"], 1, "{r}");
    let (status, rules) = call(port, "GET", "/api/dispatch/rules", None, &token);
    assert_eq!(status, 200, "{rules}");
    assert_eq!(
        (
            rules["origin"].as_str(),
            rules["table"]["triage_department"].as_str()
        ),
        (Some("stored"), Some("cgzf")),
        "the package's table is in force at once: {rules}"
    );
    assert_eq!(rules["report"]["warnings"], 0, "{rules}");

    // 7. Every sampled point away from the lattice lines gets the chain the arithmetic gives.
    let answers: Vec<_> = city::sample_points(400)
        .into_iter()
        .map(|(lon, lat)| {
            let path = format!("/api/assign?lon={lon}&lat={lat}");
            let (status, a) = call(port, "GET", &path, None, &token);
            assert_eq!(status, 200, "{a}");
            ((lon, lat), a)
        })
        .collect();
    let compared = check_assignment(&answers);
    assert!(compared > 120, "only {compared} points compared");

    // The same points declared in BD-09, as a Baidu-map click would send them.
    for (lon, lat) in city::sample_points(40) {
        let Some(want) = city::expected(lon, lat, MARGIN_DEG) else {
            continue;
        };
        let (x, y) = city::wgs84_to_bd09(lon, lat);
        let (_, a) = call(
            port,
            "GET",
            &format!("/api/assign?lon={x}&lat={y}&crs=bd09"),
            None,
            &token,
        );
        assert_eq!(a["grid"]["code"], want.grid.as_str(), "{a}");
    }

    // A point in a shop's 门前三包 strip is the shop's.
    for c in city::SHOP_COLUMNS {
        let (lon, lat) = city::point_in_frontage_strip(c);
        let (_, a) = call(
            port,
            "GET",
            &format!("/api/assign?lon={lon}&lat={lat}"),
            None,
            &token,
        );
        assert_eq!(a["owner"]["level"], "frontage", "{a}");
        assert_eq!(a["owner"]["unit_code"], city::shop_unit(c).as_str(), "{a}");
    }
}

fn wangge(args: &[&str], url: &str) -> std::process::Output {
    common::wangge_cli(args, url)
}

#[tokio::test]
async fn the_same_city_imports_from_a_folder_on_the_command_line_and_assigns_the_same() {
    let db = common::fresh_store().await;
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in city::files() {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let folder = dir.path().to_str().unwrap();

    let dry = wangge(
        &["import", "city", folder, "--crs", "bd09", "--dry-run"],
        &db.url,
    );
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let out: Value = serde_json::from_slice(&dry.stdout).expect("a JSON summary");
    assert_eq!(
        (out["errors"].as_u64(), out["refused"].as_bool()),
        (Some(0), Some(false))
    );
    assert!(db.store.layer_versions(None).await.unwrap().is_empty());

    let real = wangge(&["import", "city", folder, "--crs", "bd09"], &db.url);
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    assert_eq!(db.store.layer_versions(None).await.unwrap().len(), 6);

    let app = common::app_over(db, HttpSettings::default()).await;
    let mut answers = Vec::new();
    for (lon, lat) in city::sample_points(200) {
        let a = app
            .get(&format!("/api/assign?lon={lon}&lat={lat}"), None)
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        answers.push(((lon, lat), a.body));
    }
    let compared = check_assignment(&answers);
    assert!(compared > 60, "only {compared} points compared");
}

/// A fresh store with the default category catalogue, as every `wangge` command opens it (the
/// package's rule table names categories).
async fn seeded_store() -> common::TestStore {
    let db = common::fresh_store().await;
    db.store
        .seed_categories(&wangge::domain::catalogue::default_catalogue())
        .await
        .unwrap();
    db
}

fn package() -> CityPackage {
    let upload: PackageUpload = serde_json::from_value(city::upload()).unwrap();
    CityPackage::try_from(upload).unwrap()
}

fn options(valid_from: &str, dry_run: bool) -> LayerImportOptions {
    LayerImportOptions {
        crs: Some(wangge::domain::crs::Crs::Bd09),
        valid_from: Some(valid_from.parse().unwrap()),
        dry_run,
        ..LayerImportOptions::default()
    }
}

#[tokio::test]
async fn a_package_that_fails_while_publishing_leaves_nothing_behind() {
    let db = seeded_store().await;
    let quiet = |_: &str| {};
    let audit = Audit::system();
    let first = import_city(
        &db.store,
        package(),
        &options("2026-01-01T00:00:00Z", false),
        &audit,
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(first.published.len(), 6);
    assert_eq!(first.dispatch_rules_version, Some(1));
    // A later frontage version, published alone…
    let frontage = package().layers[&Layer::Frontage].clone();
    let later = LayerImportOptions {
        valid_from: Some("2026-09-01T00:00:00Z".parse().unwrap()),
        ..options("2026-09-01T00:00:00Z", false)
    };
    wangge::import::import_layer(&db.store, Layer::Frontage, frontage, &later, &audit, &quiet)
        .await
        .unwrap();
    let units_before = db.store.list_units(None, i64::MAX, 0).await.unwrap().len();
    let versions_before = db.store.layer_versions(None).await.unwrap().len();

    // …so a package valid from June publishes district to grid, then fails on the frontage.
    let mut p = package();
    p.units = p
        .units
        .map(|u| u + "dept-620102-new,城关区新部门,department,\n");
    let err = import_city(
        &db.store,
        p,
        &options("2026-06-01T00:00:00Z", false),
        &audit,
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("frontage"), "{err}");
    assert_eq!(
        db.store.layer_versions(None).await.unwrap().len(),
        versions_before,
        "no layer of the failed package was published"
    );
    assert_eq!(
        db.store.list_units(None, i64::MAX, 0).await.unwrap().len(),
        units_before,
        "the package's new unit was rolled back with it"
    );
    assert_eq!(
        db.store.dispatch_rules().await.unwrap().map(|r| r.version),
        Some(1),
        "the failed package's rule table was not stored as version 2"
    );
}

/// The package with `property` (and its Chinese alias) removed from the first feature of `layer`.
fn without(layer: Layer, property: &str) -> CityPackage {
    let mut p = package();
    let text = p
        .layers
        .get_mut(&layer)
        .expect("the layer is in the package");
    let mut fc: Value = serde_json::from_str(text).unwrap();
    let props = fc["features"][0]["properties"].as_object_mut().unwrap();
    let aliases: Vec<String> = props
        .keys()
        .filter(|k| {
            wangge::import::schema::canonical(&wangge::import::schema::layer_fields(layer), k)
                == Some(property)
        })
        .cloned()
        .collect();
    assert!(!aliases.is_empty(), "{layer} has no {property} to remove");
    for k in aliases {
        props.remove(&k);
    }
    *text = fc.to_string();
    p
}

/// The code of the first feature of `layer` in the package.
fn first_code(layer: Layer) -> String {
    let fc: Value = serde_json::from_str(&package().layers[&layer]).unwrap();
    let props = fc["features"][0]["properties"].as_object().unwrap();
    props
        .iter()
        .find(|(k, _)| {
            wangge::import::schema::canonical(&wangge::import::schema::layer_fields(layer), k)
                == Some("code")
        })
        .and_then(|(_, v)| v.as_str())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_required_property_of_the_served_schema_is_enforced_by_the_import() {
    let db = seeded_store().await;
    let quiet = |_: &str| {};
    let audit = Audit::system();
    for layer in Layer::ALL {
        let schema = wangge::import::schema::layer_schema(layer);
        let required = schema["properties"]["properties"]["required"]
            .as_array()
            .unwrap()
            .clone();
        assert!(!required.is_empty());
        for property in required {
            let property = property.as_str().unwrap();
            let outcome = import_city(
                &db.store,
                without(layer, property),
                &options("2026-01-01T00:00:00Z", true),
                &audit,
                &quiet,
            )
            .await;
            // Refused as a finding of the report, naming the feature (by its code, or by its
            // position when the code itself is missing), never as an error that stops the import
            // at the first bad feature.
            let outcome = outcome.unwrap_or_else(|e| {
                panic!(
                    "{layer} without {property} stopped the import instead of being reported: {e}"
                )
            });
            assert!(
                outcome.refused,
                "{layer} without {property} was accepted: {:?}",
                outcome.reports
            );
            let first = first_code(layer);
            let named = if property == "code" {
                "#0"
            } else {
                first.as_str()
            };
            let report = outcome.reports.iter().find(|r| r.layer == layer).unwrap();
            assert!(
                report
                    .issues
                    .iter()
                    .any(|i| i.feature.as_deref() == Some(named) && !i.fix.is_empty()),
                "{layer} without {property}: no finding names {named}: {:?}",
                report.issues
            );
        }
    }
    // The complete package passes, so each refusal above was the missing property's.
    let ok = import_city(
        &db.store,
        package(),
        &options("2026-01-01T00:00:00Z", true),
        &audit,
        &quiet,
    )
    .await
    .unwrap();
    assert!(!ok.refused, "{:?}", ok.reports);
}

#[tokio::test]
async fn an_unknown_part_is_refused_and_a_part_that_cannot_be_read_is_named() {
    let app = common::spawn_empty_app(HttpSettings::default()).await;
    let (ok, stderr) = common::user_create(&app.db.url, "lz_gis", "Lanzhou-grid-2026");
    assert!(ok, "{stderr}");
    let login = app
        .call(
            axum::http::Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "lz_gis", "password": "Lanzhou-grid-2026"})),
        )
        .await;
    let token = login.body["token"].as_str().expect("a token").to_owned();
    let post = |body: Value| {
        app.call(
            axum::http::Method::POST,
            "/api/import/city?crs=bd09&dry_run=true",
            Some(&token),
            Some(body),
        )
    };

    let mut body = city::upload();
    body["layers"]["river"] = json!({"type": "FeatureCollection", "features": []});
    let a = post(body).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["code"], "invalid_package", "{}", a.text);
    assert!(a.text.contains("river"), "{}", a.text);

    let mut body = city::upload();
    body["layers"]["grid"]["features"][3]["geometry"] = Value::Null;
    let a = post(body).await;
    assert_eq!(a.body["code"], "invalid_feature", "{}", a.text);
    assert!(
        a.body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("grid.geojson: feature #3")),
        "{}",
        a.text
    );

    let a = post(json!({})).await;
    assert_eq!(a.body["code"], "empty_upload", "{}", a.text);
    assert!(app.db.store.layer_versions(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_package_over_the_vertex_cap_is_refused_before_its_next_layer_is_converted() {
    let db = seeded_store().await;
    let quiet = |_: &str| {};
    let mut opts = options("2026-01-01T00:00:00Z", true);
    // Every layer is under the per-layer cap, the package as a whole is not.
    opts.limits.max_package_vertices = 200;
    let err = import_city(&db.store, package(), &opts, &Audit::system(), &quiet)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            wangge::import::ImportError::TooManyVertices(
                wangge::import::validate::TooManyVertices::Package { limit: 200, .. }
            )
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("city package"), "{err}");
}
