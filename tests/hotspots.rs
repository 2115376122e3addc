//! Hot spots proven on real and planted data: John Snow's 1854 cholera map, the demo city's
//! two-year history with its planted clusters, and the HTTP surface.

use crate::common;

use std::collections::{HashMap, HashSet};

use wangge::assign::{AreaLevel, CityIndex};
use wangge::domain::crs::Crs;
use wangge::hotspot::analysis::{self, Places};
use wangge::hotspot::areas::{Areas, WeightSpec};
use wangge::hotspot::blindspots::BlindSpotParams;
use wangge::hotspot::dataset::{Dataset, Filter};
use wangge::hotspot::frame::LocalFrame;
use wangge::hotspot::gistar::Transform;
use wangge::hotspot::input::{UploadOptions, geojson_points};
use wangge::hotspot::kde::KdeParams;
use wangge::hotspot::weights::Contiguity;

/// The Broad Street pump (fid 8 of the pumps), WGS84.
const PUMP: (f64, f64) = (-0.13675, 51.51334);

fn snow_deaths() -> Vec<wangge::hotspot::Report> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/snow/snow_cholera_soho_1854_wgs84.geojson"
    );
    let mut fc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let features = fc["features"].as_array_mut().unwrap();
    features.retain(|f| f["properties"]["layer"] == "death");
    let bytes = serde_json::to_vec(&fc).unwrap();
    geojson_points(
        &bytes,
        &UploadOptions {
            crs: Crs::Wgs84,
            weight_field: "deaths".into(),
            max_points: 10_000,
        },
    )
    .unwrap()
}

fn metres_between(frame: &LocalFrame, a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p, q) = (frame.forward(a.0, a.1), frame.forward(b.0, b.1));
    (p.x - q.x).hypot(p.y - q.y)
}

/// "At the pump" means within 50 m: about half a Soho block, and less than the distance to any
/// other pump of the map (the nearest, on Rupert Street, is 280 m away).
const AT_PUMP_M: f64 = 50.0;

#[test]
fn john_snows_kde_peak_lies_at_the_broad_street_pump() {
    let deaths = snow_deaths();
    assert_eq!(deaths.iter().map(|d| d.weight).sum::<f64>(), 392.0);
    let ds = Dataset::new(deaths, None, None);
    let all: Vec<u32> = (0..ds.reports.len() as u32).collect();
    let r = analysis::density(
        &ds,
        &all,
        &KdeParams {
            cell_m: Some(5.0),
            ..Default::default()
        },
    )
    .unwrap();
    let (c, row, v) = r.peak().unwrap();
    let peak = r.centre_wgs84(c, row);
    let d = metres_between(&ds.frame, peak, PUMP);
    println!(
        "Snow KDE: bandwidth {:.1} m ({}), peak {:.0} deaths/km² at {peak:?}, {d:.1} m from the pump",
        r.bandwidth_m, r.bandwidth_rule, v
    );
    assert!(
        d < AT_PUMP_M,
        "KDE peak {d:.1} m from the Broad Street pump"
    );
}

#[test]
fn john_snows_top_gi_star_hot_spot_lies_at_the_broad_street_pump() {
    let deaths = snow_deaths();
    let ds = Dataset::new(deaths, None, None);
    let all: Vec<u32> = (0..ds.reports.len() as u32).collect();
    let (mut w, mut s, mut e, mut n) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for m in &ds.metres {
        (w, s, e, n) = (w.min(m.x), s.min(m.y), e.max(m.x), n.max(m.y));
    }
    // Fishnets of 20, 30 and 40 m (a few house fronts to a short block) over the deaths' extent,
    // queen neighbours (the 8 surrounding cells): the answer must not hang on one cell size.
    for size in [20.0, 30.0, 40.0] {
        let u = Areas::fishnet(ds.frame, [w, s, e, n], size, |_, _| true);
        let wts = u.weights(WeightSpec::Contiguity(Contiguity::Queen));
        let rows = analysis::gi(&ds, &all, &u, &wts, None, Transform::Binary);
        let top = rows
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.z.total_cmp(&b.1.z))
            .unwrap();
        let centre = u.frame.inverse(u.centroids[top.0]);
        let d = metres_between(&ds.frame, centre, PUMP);
        println!(
            "Snow Gi*, {size} m cells: top cell z {:.2} (bin {}), {d:.1} m from the pump",
            top.1.z, top.1.bin_fdr
        );
        assert_eq!(top.1.bin_fdr, 3);
        assert!(
            d < AT_PUMP_M,
            "{size} m cells: top Gi* cell {d:.1} m from the Broad Street pump"
        );
    }
}

#[derive(serde::Deserialize)]
struct Planted {
    id: String,
    kind: String,
    center: [f64; 2],
    radius_m: f64,
    count: usize,
    #[serde(default)]
    intervals: Option<Vec<[String; 2]>>,
}

fn planted() -> Vec<Planted> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/geodata/planted_truth.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

async fn demo_history() -> (common::TestStore, std::sync::Arc<CityIndex>, Dataset) {
    let db = common::fresh_store().await;
    let audit = wangge::store::Audit::system();
    wangge::demo::load_city(&db.store, &common::demo_city(), &audit)
        .await
        .unwrap();
    wangge::demo::load_history(&db.store, &common::demo_city(), &audit)
        .await
        .unwrap();
    let engine = wangge::live::LiveCity::load(db.store.clone(), Default::default())
        .await
        .unwrap();
    let ix = engine.current();
    let filter = wangge::store::PointFilter {
        history: true,
        cases: true,
        ..Default::default()
    };
    let t = std::time::Instant::now();
    let pts = db.store.hotspot_points(&filter).await.unwrap();
    println!(
        "read {} points from the store in {:.0?}",
        pts.len(),
        t.elapsed()
    );
    let c = ix.extent().center();
    let ds = Dataset::new(pts, Some(LocalFrame::at(c.x, c.y)), Some(&ix));
    (db, ix, ds)
}

fn precision_recall(
    tp_detections: usize,
    detections: usize,
    found: usize,
    truth: usize,
) -> (f64, f64) {
    (
        tp_detections as f64 / detections.max(1) as f64,
        found as f64 / truth.max(1) as f64,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_planted_clusters_of_the_demo_history_are_found() {
    let (_db, ix, ds) = demo_history().await;
    assert_eq!(ds.reports.len(), 200_000);
    let truth = planted();
    let frame = ds.frame;
    let all = ds.select(&Filter::default(), Some(&ix));

    // Area clusters (urban villages, railway, back alleys): Gi* on unit grids, queen contiguity,
    // 99 % hot spots after FDR correction, connected into hot areas.
    let units = Areas::admin(&ix, AreaLevel::Grid, frame);
    let w = units.weights(WeightSpec::Contiguity(Contiguity::Queen));
    let t = std::time::Instant::now();
    let gi = analysis::gi(&ds, &all, &units, &w, Some(&ix), Transform::Binary);
    println!("Gi* over {} grids in {:.0?}", units.len(), t.elapsed());
    let hot: Vec<usize> = (0..gi.len()).filter(|&i| gi[i].bin_fdr == 3).collect();
    let hot_set: HashSet<usize> = hot.iter().copied().collect();
    // Connected hot areas.
    let mut comp: HashMap<usize, usize> = HashMap::new();
    let mut areas: Vec<Vec<usize>> = Vec::new();
    for &h in &hot {
        if comp.contains_key(&h) {
            continue;
        }
        let id = areas.len();
        let mut stack = vec![h];
        let mut members = Vec::new();
        comp.insert(h, id);
        while let Some(x) = stack.pop() {
            members.push(x);
            for &nb in w.of(x) {
                let nb = nb as usize;
                if hot_set.contains(&nb) && !comp.contains_key(&nb) {
                    comp.insert(nb, id);
                    stack.push(nb);
                }
            }
        }
        areas.push(members);
    }
    let near = |i: usize, p: &Planted, slack: f64| {
        let c = frame.forward(p.center[0], p.center[1]);
        let m = units.centroids[i];
        (m.x - c.x).hypot(m.y - c.y) <= p.radius_m + slack
    };
    let area_truth: Vec<&Planted> = truth
        .iter()
        .filter(|p| p.kind != "recurring_spot")
        .collect();
    let found = area_truth
        .iter()
        .filter(|p| hot.iter().any(|&i| near(i, p, 0.0)))
        .count();
    let true_areas = areas
        .iter()
        .filter(|a| a.iter().any(|&i| truth.iter().any(|p| near(i, p, 100.0))))
        .count();
    let (precision, recall) = precision_recall(true_areas, areas.len(), found, area_truth.len());
    println!(
        "Gi* hot spots (99 %, FDR): {} hot grids in {} hot areas; precision {precision:.3} ({true_areas}/{}), recall {recall:.3} ({found}/{})",
        hot.len(),
        areas.len(),
        areas.len(),
        area_truth.len()
    );
    let missed: Vec<&str> = area_truth
        .iter()
        .filter(|p| !hot.iter().any(|&i| near(i, p, 0.0)))
        .map(|p| p.id.as_str())
        .collect();
    println!("missed: {missed:?}");

    // Recurring sanitation spots: blind spots by DBSCAN over the sanitation categories.
    let sanitation: Vec<String> = wangge::domain::catalogue::default_catalogue()
        .into_iter()
        .filter(|c| c.sanitation)
        .map(|c| c.code)
        .collect();
    let sel = ds.select(
        &Filter {
            categories: sanitation,
            ..Default::default()
        },
        Some(&ix),
    );
    let params = BlindSpotParams::default();
    let t = std::time::Instant::now();
    let spots = analysis::blind_spots(&ds, &sel, Places::Dbscan, Some(&ix), &params);
    println!(
        "blind spots over {} sanitation reports in {:.0?}",
        sel.len(),
        t.elapsed()
    );
    let spot_truth: Vec<&Planted> = truth
        .iter()
        .filter(|p| p.kind == "recurring_spot")
        .collect();
    let close = |s: &analysis::BlindSpotRow, p: &Planted| {
        metres_between(&frame, (s.lon, s.lat), (p.center[0], p.center[1])) <= 30.0
    };
    let tp = spots
        .iter()
        .filter(|s| spot_truth.iter().any(|p| close(s, p)))
        .count();
    // A planted spot is expected to be found when its own reports meet the rule.
    let qualifies = |p: &Planted| {
        let times: Vec<chrono::DateTime<chrono::Utc>> = p
            .intervals
            .as_ref()
            .unwrap()
            .iter()
            .map(|iv| {
                chrono::DateTime::parse_from_rfc3339(&iv[0])
                    .unwrap()
                    .to_utc()
            })
            .collect();
        let window = chrono::Duration::weeks(i64::from(params.window_weeks));
        // Every report after the first came after the previous one was closed.
        times.iter().enumerate().any(|(i, t0)| {
            let inside: Vec<usize> = (i..times.len())
                .filter(|&j| times[j] < *t0 + window)
                .collect();
            let after = inside.iter().filter(|&&j| j > 0).count();
            inside.len() >= params.min_reports && after >= params.min_after_close
        })
    };
    let expected: Vec<&&Planted> = spot_truth.iter().filter(|p| qualifies(p)).collect();
    let found_spots = expected
        .iter()
        .filter(|p| spots.iter().any(|s| close(s, p)))
        .count();
    let found_any = spot_truth
        .iter()
        .filter(|p| spots.iter().any(|s| close(s, p)))
        .count();
    let (sp, sr) = precision_recall(tp, spots.len(), found_spots, expected.len());
    println!(
        "卫生死角: {} blind spots; precision {sp:.3} ({tp}/{}), recall {sr:.3} ({found_spots}/{} planted spots meeting the rule; {found_any}/{} of all planted spots)",
        spots.len(),
        spots.len(),
        expected.len(),
        spot_truth.len()
    );
    let _ = truth.iter().map(|p| p.count).sum::<usize>();
    assert!(
        precision >= 0.9 && recall >= 0.9,
        "hot spots: precision {precision}, recall {recall}"
    );
    assert!(
        sp >= 0.9 && sr >= 0.9,
        "blind spots: precision {sp}, recall {sr}"
    );
}

fn snow_upload() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/snow/snow_cholera_soho_1854_wgs84.geojson"
    );
    let mut fc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    fc["features"]
        .as_array_mut()
        .unwrap()
        .retain(|f| f["properties"]["layer"] == "death");
    fc
}

#[tokio::test]
async fn an_uploaded_snow_map_finds_the_pump_through_the_api() {
    use axum::http::Method;
    let app = common::spawn_app().await;
    let token = app.login(wangge::domain::identity::Role::Planner).await;
    let frame = LocalFrame::at(PUMP.0, PUMP.1);
    let gi = app
        .call(
            Method::POST,
            "/api/hotspots/gistar?crs=wgs84&unit=fishnet&size_m=30&weight_field=deaths&limit=1",
            Some(&token),
            Some(snow_upload()),
        )
        .await;
    assert_eq!(gi.status, 200, "{}", gi.text);
    assert_eq!(gi.body["meta"]["points"], 324);
    assert_eq!(gi.body["meta"]["crs"], "EPSG:4326");
    let top = &gi.body["rows"][0];
    assert_eq!(top["bin_fdr"], 3);
    let geo = app
        .call(Method::POST, "/api/hotspots/gistar?crs=wgs84&unit=fishnet&size_m=30&weight_field=deaths&limit=1&format=geojson", Some(&token), Some(snow_upload()))
        .await;
    let ring = &geo.body["features"][0]["geometry"]["coordinates"][0][0];
    let (mut x, mut y) = (0.0, 0.0);
    for k in 0..4 {
        x += ring[k][0].as_f64().unwrap() / 4.0;
        y += ring[k][1].as_f64().unwrap() / 4.0;
    }
    let d = metres_between(&frame, (x, y), PUMP);
    assert!(d < AT_PUMP_M, "top Gi* cell {d:.1} m from the pump");

    let kde = app
        .call(
            Method::POST,
            "/api/hotspots/kde?crs=wgs84&weight_field=deaths&cell_m=5",
            Some(&token),
            Some(snow_upload()),
        )
        .await;
    assert_eq!(kde.status, 200, "{}", kde.text);
    let peak = (
        kde.body["peak"]["lon"].as_f64().unwrap(),
        kde.body["peak"]["lat"].as_f64().unwrap(),
    );
    assert!(metres_between(&frame, peak, PUMP) < AT_PUMP_M);
    assert_eq!(kde.body["units"], "cases per km²");
    assert!(
        kde.body["png_base64"]
            .as_str()
            .unwrap()
            .starts_with("iVBORw0KGgo")
    );
    assert_eq!(kde.body["corners"].as_array().unwrap().len(), 4);

    // H3 cells as units.
    let hex = app
        .call(
            Method::POST,
            "/api/hotspots/gistar?crs=wgs84&unit=h3&res=10&weight_field=deaths&limit=1",
            Some(&token),
            Some(snow_upload()),
        )
        .await;
    assert_eq!(hex.status, 200, "{}", hex.text);
    assert_eq!(hex.body["meta"]["unit"], "h3");
    assert!(
        hex.body["rows"][0]["code"]
            .as_str()
            .unwrap()
            .starts_with("8a")
    );
    assert_eq!(hex.body["rows"][0]["neighbours"], 6);

    // GCJ-02 must be declared, and is converted: the same map shifted into GCJ-02 is refused
    // without a CRS and gives the same hot spot with one.
    let none = app
        .call(
            Method::POST,
            "/api/hotspots/gistar?unit=fishnet",
            Some(&token),
            Some(snow_upload()),
        )
        .await;
    assert_eq!(none.status, 400);
    assert_eq!(none.body["code"], "invalid_parameter");
    let bad = app
        .call(
            Method::POST,
            "/api/hotspots/gistar?crs=wgs84",
            Some(&token),
            Some(json_line()),
        )
        .await;
    // The same code as a layer import's unusable feature.
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_eq!(bad.body["code"], "invalid_feature");
}

fn json_line() -> serde_json::Value {
    serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0.0, 0.0], [1.0, 1.0]]}, "properties": {}}]})
}

#[tokio::test(flavor = "multi_thread")]
async fn filtered_hotspot_requests_on_the_demo_history_are_complete() {
    use axum::http::Method;
    let app = common::spawn_demo_app(Default::default()).await;
    let token = app.login(wangge::domain::identity::Role::Planner).await;
    // The first request reads and locates the two-year history once.
    let first = app.get("/api/hotspots/gistar?limit=5", Some(&token)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["meta"]["points"], 200_000);

    let filters = [
        "category=0101",
        "category=0201,0202",
        "from=2025-06-01&to=2025-09-01",
        "status=closed&category=0103",
        "source=hotline_12345",
        "street=410103001",
        "category=0301&from=2026-01-01",
        "include=history&category=0106",
        "category=0401",
        "from=2024-11-01&to=2025-11-01&category=0101",
    ];
    // Timings belong to benches/hotspot.sh; here every filtered request must answer completely.
    for f in filters {
        let a = app
            .get(&format!("/api/hotspots/gistar?{f}"), Some(&token))
            .await;
        assert_eq!(a.status, 200, "{f}: {}", a.text);
    }

    // The zone breakdown gives a sentence to quote.
    let z = app.get("/api/hotspots/zones", Some(&token)).await;
    assert_eq!(z.status, 200, "{}", z.text);
    println!("{}", z.body["sentences_zh"]);
    println!("{}", z.body["sentences_en"]);
    assert!(
        z.body["sentences_en"][0]
            .as_str()
            .unwrap()
            .contains("% of the reports in 99% hotspot units lie")
    );
    assert_eq!(z.body["rows"].as_array().unwrap().len(), 6);
    // Back alleys are the densest zone of the demo city: counted by reports, not by the hot
    // units' centres (which almost never fall in a 10 m alley buffer), their share shows.
    let alley = z.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["zone"] == "back_alley")
        .unwrap();
    assert!(
        alley["hotspot99_share"].as_f64().unwrap() > 0.01,
        "back alleys hold hot spot reports: {alley}"
    );
    // The project's premise holds in the demo city: urban villages (dense patches, not whole
    // village committees) draw more reports per km² than the rest of the city.
    let row = |zone: &str| {
        z.body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["zone"] == zone)
            .unwrap()["per_km2"]
            .as_f64()
            .unwrap()
    };
    assert!(
        row("urban_village") > 2.0 * row("rest"),
        "urban villages {} per km², the rest {}",
        row("urban_village"),
        row("rest")
    );

    // Blind spots come with evidence: ids, dates, owners, shops.
    let b = app
        .get("/api/hotspots/blindspots?limit=3", Some(&token))
        .await;
    assert_eq!(b.status, 200, "{}", b.text);
    let top = &b.body["rows"][0];
    assert!(top["window_reports"].as_u64().unwrap() >= 4);
    assert!(top["evidence"][0]["id"].is_string() && top["evidence"][0]["closed_at"].is_string());
    assert!(top["owners"][0].is_string(), "{top}");

    // Emerging hot spots on weeks, CSV aggregation with frontage rates, a KDE image.
    let e = app
        .get("/api/hotspots/emerging?step=month&limit=5", Some(&token))
        .await;
    assert_eq!(e.status, 200, "{}", e.text);
    println!("emerging (months): {}", e.body["meta"]["categories"]);
    let c = app
        .call(
            Method::GET,
            "/api/hotspots/aggregate?unit=street&format=csv",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(c.status, 200);
    assert!(c.text.starts_with(
        "code,name,count,area_km2,per_km2,frontage_count,frontage_km,per_frontage_km\n"
    ));
    assert_eq!(c.text.lines().count(), 31);
    let k = app
        .get(
            "/api/hotspots/kde?category=0101&bandwidth_m=300",
            Some(&token),
        )
        .await;
    assert_eq!(k.status, 200, "{}", k.text);
    assert_eq!(k.body["bandwidth_rule"], "given");
    let bad = app
        .get("/api/hotspots/gistar?weights=hexagon", Some(&token))
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["code"], "invalid_parameter");
    // The most-reported 门前三包 frontages, most first, with their shop and rate per 100 m.
    let f = app
        .get(
            "/api/hotspots/frontages?category=0101,0202&limit=5",
            Some(&token),
        )
        .await;
    assert_eq!(f.status, 200, "{}", f.text);
    let rows = f.body.as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let counts: Vec<u64> = rows.iter().map(|r| r["count"].as_u64().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    assert!(counts[0] > 1);
    assert!(rows[0]["name"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(rows[0]["length_m"].as_f64().unwrap() > 1.0);
}

/// Writes the units, neighbours, values and wangge's Gi* z-scores, two-sided p-values and ArcGIS
/// bins of four cases (all demo grids with queen contiguity and with a 400 m distance band, the
/// demo communities with rook contiguity, all over the full history; the Snow deaths on a 20 m
/// fishnet with k-ring 2) to `$WANGGE_ESDA_FIXTURE`, for `.ci/esda_check.sh` to compare with
/// PySAL esda's `G_Local(star=True)`. The contiguity cases also carry each area's outline as
/// GeoJSON MultiPolygon coordinates in WGS84 lon/lat — the very vertices `Weights::contiguity`
/// compared (JSON numbers round-trip f64 exactly) — so that libpysal builds its own Queen/Rook
/// neighbours from them.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "writes the esda comparison fixture; run by .ci/esda_check.sh"]
async fn write_the_esda_comparison_fixture() {
    let out =
        std::env::var("WANGGE_ESDA_FIXTURE").expect("set WANGGE_ESDA_FIXTURE to the output path");
    let mut cases = Vec::new();
    let mut case = |name: &str,
                    units: &Areas,
                    spec: WeightSpec,
                    w: &wangge::hotspot::weights::Weights,
                    rows: Vec<analysis::GiRow>,
                    row_rows: Vec<analysis::GiRow>| {
        assert_eq!(
            w.islands(),
            0,
            "{name}: esda's row transform treats islands differently"
        );
        let column = |rows: &[analysis::GiRow], f: fn(&analysis::GiRow) -> serde_json::Value| {
            rows.iter().map(f).collect::<Vec<_>>()
        };
        let mut c = serde_json::json!({
            "name": name,
            "ids": units.codes,
            "neighbours": (0..w.n()).map(|i| w.of(i).to_vec()).collect::<Vec<_>>(),
            "y": column(&rows, |r| r.count.into()),
            "z_binary": column(&rows, |r| r.z.into()),
            "p_binary": column(&rows, |r| r.p.into()),
            "bin_binary": column(&rows, |r| r.bin.into()),
            "z_row": column(&row_rows, |r| r.z.into()),
            "p_row": column(&row_rows, |r| r.p.into()),
            "bin_row": column(&row_rows, |r| r.bin.into()),
        });
        if let WeightSpec::Contiguity(rule) = spec {
            let ring =
                |r: &geo::LineString<f64>| r.0.iter().map(|p| [p.x, p.y]).collect::<Vec<_>>();
            c["contiguity"] = serde_json::to_value(rule).unwrap();
            c["polygons"] = units
                .polygons
                .iter()
                .map(|mp| {
                    mp.0.iter()
                        .map(|p| {
                            std::iter::once(p.exterior())
                                .chain(p.interiors())
                                .map(ring)
                                .collect::<Vec<_>>()
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
                .into();
        }
        cases.push(c);
    };
    let (_db, ix, ds) = demo_history().await;
    let all = ds.select(&Filter::default(), Some(&ix));
    for (name, level, spec) in [
        (
            "demo grids, queen",
            AreaLevel::Grid,
            WeightSpec::Contiguity(Contiguity::Queen),
        ),
        (
            "demo communities, rook",
            AreaLevel::Community,
            WeightSpec::Contiguity(Contiguity::Rook),
        ),
        (
            "demo grids, 400 m band",
            AreaLevel::Grid,
            WeightSpec::Band(400.0),
        ),
    ] {
        let u = Areas::admin(&ix, level, ds.frame);
        let w = u.weights(spec);
        let b = analysis::gi(&ds, &all, &u, &w, Some(&ix), Transform::Binary);
        let r = analysis::gi(&ds, &all, &u, &w, Some(&ix), Transform::Row);
        case(name, &u, spec, &w, b, r);
    }
    let snow = Dataset::new(snow_deaths(), None, None);
    let sel: Vec<u32> = (0..snow.reports.len() as u32).collect();
    let (mut w0, mut s0, mut e0, mut n0) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for m in &snow.metres {
        (w0, s0, e0, n0) = (w0.min(m.x), s0.min(m.y), e0.max(m.x), n0.max(m.y));
    }
    let u = Areas::fishnet(snow.frame, [w0, s0, e0, n0], 20.0, |_, _| true);
    let w = u.weights(WeightSpec::Ring(2));
    let b = analysis::gi(&snow, &sel, &u, &w, None, Transform::Binary);
    let r = analysis::gi(&snow, &sel, &u, &w, None, Transform::Row);
    case(
        "Snow deaths, 20 m fishnet, 2-ring",
        &u,
        WeightSpec::Ring(2),
        &w,
        b,
        r,
    );
    std::fs::write(
        &out,
        serde_json::to_vec(&serde_json::json!({"cases": cases})).unwrap(),
    )
    .unwrap();
    println!("wrote {out}");
}

#[tokio::test]
async fn a_new_case_shows_in_the_next_hotspot_answer_and_a_login_does_not_reload() {
    use axum::http::Method;
    use wangge::domain::identity::Role;
    let app = common::spawn_app().await;
    let planner = app.login(Role::Planner).await;
    let count = |a: &common::Answer| a.body["meta"]["points"].as_u64().unwrap();
    let before = app
        .get(
            "/api/hotspots/aggregate?include=cases&unit=fishnet&size_m=500",
            Some(&planner),
        )
        .await;
    assert_eq!(before.status, 200, "{}", before.text);
    assert_eq!(count(&before), 0);
    let revision = app.db.store.points_revision().await.unwrap();
    // Logins write audit events too, but not the points' revision.
    let clerk = app.login(Role::IntakeClerk).await;
    assert_eq!(app.db.store.points_revision().await.unwrap(), revision);
    let case = serde_json::json!({"idempotency_key": "hotline-1", "category": "0101", "description": "暴露垃圾",
        "lon": 113.62, "lat": 34.74, "crs": "wgs84"});
    let created = app
        .call(Method::POST, "/api/cases", Some(&clerk), Some(case))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(app.db.store.points_revision().await.unwrap() > revision);
    let after = app
        .get(
            "/api/hotspots/aggregate?include=cases&unit=fishnet&size_m=500",
            Some(&planner),
        )
        .await;
    assert_eq!(count(&after), 1);
    let history_only = app
        .get(
            "/api/hotspots/aggregate?include=history&unit=fishnet&size_m=500",
            Some(&planner),
        )
        .await;
    assert_eq!(count(&history_only), 0);
}

#[tokio::test]
async fn a_case_change_reuses_the_located_history_and_a_history_import_reads_it_again() {
    use axum::http::{Method, Request, header};
    use wangge::domain::identity::Role;
    let app = common::spawn_app().await;
    let planner = app.login(Role::Planner).await;
    let points = |include: &'static str| {
        let (app, planner) = (&app, &planner);
        async move {
            let a = app
                .get(
                    &format!("/api/hotspots/aggregate?include={include}&unit=fishnet&size_m=500"),
                    Some(planner),
                )
                .await;
            assert_eq!(a.status, 200, "{}", a.text);
            a.body["meta"]["points"].as_u64().unwrap()
        }
    };
    let hotspots = app.state.hotspots();
    assert!(hotspots.located_history().await.is_none());
    let history_before = points("history").await;
    let (version, history) = hotspots.located_history().await.expect("history loaded");
    assert_eq!(version, app.state.live().current().version());

    let clerk = app.login(Role::IntakeClerk).await;
    let case = serde_json::json!({"idempotency_key": "reuse-1", "category": "0101", "description": "暴露垃圾",
        "lon": 113.62, "lat": 34.74, "crs": "wgs84"});
    let created = app
        .call(Method::POST, "/api/cases", Some(&clerk), Some(case))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(points("cases").await, 1);
    assert_eq!(points("both").await, history_before + 1);
    let (_, kept) = hotspots.located_history().await.unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&history, &kept),
        "the case change located the history again"
    );

    let admin = app.login(Role::Admin).await;
    let csv = "id,reported_at,category,lon,lat,channel,closed_at\n\
               H-reuse-1,2025-03-01T09:00:00+08:00,0201,113.62,34.74,hotline_12345,\n";
    let imported = app
        .request(
            Request::builder()
                .method(Method::POST)
                .uri("/api/import/history")
                .header(header::AUTHORIZATION, format!("Bearer {admin}"))
                .header(header::CONTENT_TYPE, "text/csv")
                .body(axum::body::Body::from(csv))
                .unwrap(),
        )
        .await;
    assert_eq!(imported.status, 201, "{}", imported.text);
    assert_eq!(points("history").await, history_before + 1);
    assert_eq!(points("cases").await, 1);
    let (_, reread) = hotspots.located_history().await.unwrap();
    assert!(!std::sync::Arc::ptr_eq(&history, &reread));
    assert_eq!(reread.reports.len() as u64, history_before + 1);
}

#[tokio::test]
async fn the_warmer_loads_the_points_and_default_areas_at_start_and_after_each_index_build() {
    let app = common::spawn_demo_app(wangge::http::HttpSettings::default()).await;
    let hotspots = app.state.hotspots();
    assert!(hotspots.located_history().await.is_none());
    assert!(hotspots.usage().iter().all(|(_, _, entries)| *entries == 0));
    assert_eq!(hotspots.warmed_version(), 0);
    app.state.warm_hotspots();
    let warmed_at = |version: i64| async move {
        // The warm-up of the demo city takes about a second; a minute is generous for a debug
        // build on a busy machine.
        for _ in 0..600 {
            if hotspots.warmed_version() == version {
                let (v, history) = hotspots.located_history().await.expect("warmed points");
                assert_eq!(v, version);
                return history;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("not warmed at version {version}: {:?}", hotspots.usage());
    };
    let first = app.state.live().current().version();
    let history = warmed_at(first).await;
    assert_eq!(history.reports.len(), 200_000);
    let published = app
        .republish_renamed("district.geojson", "district", "")
        .await;
    assert_eq!(published.status, 201, "{}", published.text);
    let second = app.state.live().current().version();
    assert!(second > first);
    let again = warmed_at(second).await;
    assert!(!std::sync::Arc::ptr_eq(&history, &again));
    // The Gi* request then finds the default areas and neighbours built.
    let (areas_bytes, weights_bytes) = (hotspots.usage()[0].1, hotspots.usage()[1].1);
    let token = app.login(wangge::domain::identity::Role::Planner).await;
    let gi = app.get("/api/hotspots/gistar", Some(&token)).await;
    assert_eq!(gi.status, 200, "{}", gi.text);
    assert_eq!(
        (hotspots.usage()[0].1, hotspots.usage()[1].1),
        (areas_bytes, weights_bytes)
    );
}

/// Two points 600 km apart: a lattice over their extent is what a careless size makes huge.
fn far_apart_upload() -> serde_json::Value {
    serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.0, 34.0]}, "properties": {}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [119.5, 34.0]}, "properties": {}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.0, 35.0]}, "properties": {}}]})
}

#[tokio::test]
async fn extreme_values_of_every_hotspot_parameter_get_a_4xx_json_error_never_a_5xx() {
    use axum::http::Method;
    let app = common::spawn_app().await;
    let token = app.login(wangge::domain::identity::Role::Planner).await;
    let params = [
        "size_m",
        "res",
        "k",
        "band_m",
        "bandwidth_m",
        "cell_m",
        "time_neighbours",
        "alpha",
        "min_reports",
        "window_weeks",
        "min_after_close",
        "eps_m",
        "min_contrast",
        "limit",
    ];
    let values = [
        "0",
        "-1",
        "1e308",
        "-1e308",
        "NaN",
        "inf",
        "-inf",
        "99999999999999999999999",
        "18446744073709551615",
        "4294967296",
        "abc",
    ];
    let endpoints = [
        "kde",
        "aggregate",
        "gistar",
        "emerging",
        "blindspots",
        "zones",
        "frontages",
    ];
    let extra = |param: &str| match param {
        "band_m" => "&weights=band",
        "k" => "&weights=ring",
        "size_m" => "&unit=fishnet",
        "res" => "&unit=h3",
        _ => "",
    };
    for endpoint in endpoints {
        for param in params {
            for value in values {
                // Zero is a meaningful count of these two.
                let in_range =
                    value == "0" && matches!(param, "time_neighbours" | "min_after_close");
                let want = |status: u16| {
                    if in_range {
                        status < 500
                    } else {
                        (400..500).contains(&status)
                    }
                };
                let path = format!("/api/hotspots/{endpoint}?{param}={value}{}", extra(param));
                let a = app.get(&path, Some(&token)).await;
                assert!(
                    want(a.status.as_u16()),
                    "GET {path}: {} {}",
                    a.status,
                    a.text.chars().take(300).collect::<String>()
                );
                assert!(
                    a.status.as_u16() < 400 || a.body["code"].is_string(),
                    "GET {path}: {}",
                    a.text
                );
                if endpoint != "frontages" {
                    let p = format!("{path}&crs=wgs84");
                    let b = app
                        .call(Method::POST, &p, Some(&token), Some(far_apart_upload()))
                        .await;
                    assert!(want(b.status.as_u16()), "POST {p}: {} {}", b.status, b.text);
                    assert!(
                        b.status.as_u16() < 400 || b.body["code"].is_string(),
                        "POST {p}: {}",
                        b.text
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn a_huge_kde_bandwidth_is_refused_instead_of_panicking() {
    let app = common::spawn_app().await;
    let token = app.login(wangge::domain::identity::Role::Planner).await;
    let a = app
        .get("/api/hotspots/kde?bandwidth_m=1e308", Some(&token))
        .await;
    assert_eq!(a.status, 400, "{}", a.text);
    assert_eq!(a.body["code"], "invalid_parameter");
    // In range, but a kernel of 50 km on 1 m cells is too much work: refused before it starts.
    let b = app
        .get("/api/hotspots/kde?bandwidth_m=50000&cell_m=1", Some(&token))
        .await;
    assert!(
        b.status == 413 || b.status == 422,
        "{} {}",
        b.status,
        b.text
    );
}

#[tokio::test]
async fn fishnet_and_h3_units_over_a_wide_upload_are_refused_before_they_are_built() {
    use axum::http::Method;
    let app = common::spawn_app().await;
    let token = app.login(wangge::domain::identity::Role::Planner).await;
    for (endpoint, query) in [
        ("aggregate", "unit=fishnet&size_m=5"),
        ("gistar", "unit=fishnet&size_m=5"),
        ("emerging", "unit=fishnet&size_m=5"),
        ("zones", "unit=fishnet&size_m=5"),
        ("blindspots", "place=fishnet&size_m=5"),
        ("aggregate", "unit=h3&res=10"),
        ("gistar", "unit=h3&res=10"),
    ] {
        let path = format!("/api/hotspots/{endpoint}?crs=wgs84&{query}");
        let a = app
            .call(Method::POST, &path, Some(&token), Some(far_apart_upload()))
            .await;
        assert_eq!(a.status, 413, "{path}: {}", a.text);
        assert_eq!(a.body["code"], "too_large", "{path}: {}", a.text);
    }
    // A distance band that would link every one of many cells to millions of others.
    let a = app
        .call(
            Method::POST,
            "/api/hotspots/gistar?crs=wgs84&unit=fishnet&size_m=500&weights=band&band_m=10000",
            Some(&token),
            Some(far_apart_upload()),
        )
        .await;
    assert_eq!(a.status, 413, "{}", a.text);
}

#[tokio::test]
async fn choice_parameters_take_their_documented_values_and_a_wrong_one_is_named() {
    let app = common::spawn_app().await;
    let token = app.login(wangge::domain::identity::Role::Planner).await;
    for choice in [
        "status=",
        "status=all",
        "status=open",
        "status=closed",
        "include=history",
        "include=cases",
        "include=both",
        "unit=street",
        "unit=h3",
        "weights=rook",
        "weights=ring&k=2",
        "transform=row",
        "transform=B",
        "transform=r",
        "method=binned",
        "step=month",
        "place=grid",
        "format=geojson",
        "format=csv",
    ] {
        let a = app
            .get(&format!("/api/hotspots/aggregate?{choice}"), Some(&token))
            .await;
        assert_eq!(a.status, 200, "{choice}: {}", a.text);
    }
    for (query, code) in [
        ("weights=hexagon", "invalid_parameter"),
        ("status=pending", "invalid_parameter"),
        ("unit=", "invalid_parameter"),
        ("format=png", "invalid_parameter"),
        ("weights=band", "invalid_parameter"),
        ("k=abc", "invalid_query"),
        ("colour=red", "invalid_query"),
    ] {
        // Gi* reads every kind of parameter, and refuses before it finds no points.
        let a = app
            .get(&format!("/api/hotspots/gistar?{query}"), Some(&token))
            .await;
        assert_eq!(a.status, 400, "{query}: {}", a.text);
        assert_eq!(a.body["code"], code, "{query}: {}", a.text);
    }
}

#[tokio::test]
async fn a_blind_spot_csv_quotes_report_ids_with_commas_and_quotes() {
    use axum::http::Method;
    let app = common::spawn_app().await;
    let token = app.login(wangge::domain::identity::Role::Planner).await;
    // Five reports at one corner, a week apart, each closed two days after it came.
    let t0 = chrono::DateTime::parse_from_rfc3339("2025-03-03T09:00:00+08:00").unwrap();
    let features: Vec<serde_json::Value> = (0..5)
        .map(|k| {
            let at = t0 + chrono::Duration::days(7 * k);
            serde_json::json!({"type": "Feature",
                "geometry": {"type": "Point", "coordinates": [113.62 + 1e-5 * k as f64, 34.74]},
                "properties": {"id": format!("r{k},\"x\""), "time": at.to_rfc3339(),
                    "closed": (at + chrono::Duration::days(2)).to_rfc3339()}})
        })
        .collect();
    let upload = serde_json::json!({"type": "FeatureCollection", "features": features});
    let a = app
        .call(
            Method::POST,
            "/api/hotspots/blindspots?crs=wgs84&format=csv",
            Some(&token),
            Some(upload),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let mut r = csv::Reader::from_reader(a.text.as_bytes());
    let header = r.headers().unwrap().clone();
    let ids = header.iter().position(|h| h == "report_ids").unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "{}", a.text);
    assert_eq!(
        &rows[0][ids],
        "r0,\"x\" r1,\"x\" r2,\"x\" r3,\"x\" r4,\"x\""
    );
}

#[tokio::test]
async fn the_hot_spot_caches_report_their_bytes_in_metrics() {
    use axum::http::Method;
    let app = common::spawn_app().await;
    let token = app.login(wangge::domain::identity::Role::Planner).await;
    let stored = app
        .get(
            "/api/hotspots/aggregate?unit=fishnet&size_m=500",
            Some(&token),
        )
        .await;
    assert_eq!(stored.status, 200, "{}", stored.text);
    // Points in the city: its frame, so its grids and their neighbours come from the caches.
    let upload = serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.62, 34.74]}, "properties": {}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.621, 34.741]}, "properties": {}}]});
    let zones = app
        .call(
            Method::POST,
            "/api/hotspots/zones?crs=wgs84",
            Some(&token),
            Some(upload),
        )
        .await;
    assert_eq!(zones.status, 200, "{}", zones.text);
    let metrics = app.get("/metrics", None).await;
    for cache in [
        "hotspot_units",
        "hotspot_weights",
        "hotspot_points",
        "hotspot_zones",
    ] {
        for gauge in ["wangge_cache_bytes", "wangge_cache_entries"] {
            let line = format!("{gauge}{{cache=\"{cache}\"}}");
            assert!(metrics.text.contains(&line), "{line} in {}", metrics.text);
        }
    }
}
