//! Hot spots proven on real and planted data: John Snow's 1854 cholera map, the demo city's
//! two-year history with its planted clusters, and the HTTP surface.

mod common;

use std::collections::{HashMap, HashSet};

use wangge::assign::{AreaLevel, CityIndex};
use wangge::domain::crs::Crs;
use wangge::hotspot::analysis::{self, Places};
use wangge::hotspot::blindspots::BlindSpotParams;
use wangge::hotspot::dataset::{Dataset, Filter};
use wangge::hotspot::frame::LocalFrame;
use wangge::hotspot::gistar::Transform;
use wangge::hotspot::input::{UploadOptions, geojson_points};
use wangge::hotspot::kde::KdeParams;
use wangge::hotspot::units::{Units, WeightSpec};
use wangge::hotspot::weights::Contiguity;

/// The Broad Street pump (fid 8 of the pumps), WGS84.
const PUMP: (f64, f64) = (-0.13675, 51.51334);

fn snow_deaths() -> Vec<wangge::hotspot::Report> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/snow/snow_cholera_soho_1854_wgs84.geojson");
    let mut fc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let features = fc["features"].as_array_mut().unwrap();
    features.retain(|f| f["properties"]["layer"] == "death");
    let bytes = serde_json::to_vec(&fc).unwrap();
    geojson_points(
        &bytes,
        &UploadOptions { crs: Crs::Wgs84, weight_field: "deaths".into(), max_points: 10_000 },
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
    let r = analysis::density(&ds, &all, &KdeParams { cell_m: Some(5.0), ..Default::default() }).unwrap();
    let (c, row, v) = r.peak().unwrap();
    let peak = r.centre_wgs84(c, row);
    let d = metres_between(&ds.frame, peak, PUMP);
    println!(
        "Snow KDE: bandwidth {:.1} m ({}), peak {:.0} deaths/km² at {peak:?}, {d:.1} m from the pump",
        r.bandwidth_m, r.bandwidth_rule, v
    );
    assert!(d < AT_PUMP_M, "KDE peak {d:.1} m from the Broad Street pump");
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
        let u = Units::fishnet(ds.frame, [w, s, e, n], size, |_, _| true);
        let wts = u.weights(WeightSpec::Contiguity(Contiguity::Queen));
        let rows = analysis::gi(&ds, &all, &u, &wts, None, Transform::Binary);
        let top = rows.iter().enumerate().max_by(|a, b| a.1.z.total_cmp(&b.1.z)).unwrap();
        let centre = u.frame.inverse(u.centroids[top.0]);
        let d = metres_between(&ds.frame, centre, PUMP);
        println!("Snow Gi*, {size} m cells: top cell z {:.2} (bin {}), {d:.1} m from the pump", top.1.z, top.1.bin_fdr);
        assert_eq!(top.1.bin_fdr, 3);
        assert!(d < AT_PUMP_M, "{size} m cells: top Gi* cell {d:.1} m from the Broad Street pump");
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
    wangge::demo::load_city(&db.store, &common::demo_city(), &audit).await.unwrap();
    wangge::demo::load_history(&db.store, &common::demo_city(), &audit).await.unwrap();
    let engine = wangge::engine::Engine::load(db.store.clone(), Default::default()).await.unwrap();
    let ix = engine.current();
    let filter = wangge::store::PointFilter { history: true, cases: true, ..Default::default() };
    let t = std::time::Instant::now();
    let pts = db.store.hotspot_points(&filter).await.unwrap();
    println!("read {} points from the store in {:.0?}", pts.len(), t.elapsed());
    let c = ix.extent().center();
    let ds = Dataset::new(pts, Some(LocalFrame::at(c.x, c.y)), Some(&ix));
    (db, ix, ds)
}

fn precision_recall(tp_detections: usize, detections: usize, found: usize, truth: usize) -> (f64, f64) {
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
    let units = Units::admin(&ix, AreaLevel::Grid, frame);
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
    let area_truth: Vec<&Planted> = truth.iter().filter(|p| p.kind != "recurring_spot").collect();
    let found = area_truth.iter().filter(|p| hot.iter().any(|&i| near(i, p, 0.0))).count();
    let true_areas = areas
        .iter()
        .filter(|a| a.iter().any(|&i| truth.iter().any(|p| near(i, p, 100.0))))
        .count();
    let (precision, recall) = precision_recall(true_areas, areas.len(), found, area_truth.len());
    println!(
        "Gi* hot spots (99 %, FDR): {} hot grids in {} hot areas; precision {precision:.3} ({true_areas}/{}), recall {recall:.3} ({found}/{})",
        hot.len(), areas.len(), areas.len(), area_truth.len()
    );
    let missed: Vec<&str> = area_truth.iter().filter(|p| !hot.iter().any(|&i| near(i, p, 0.0))).map(|p| p.id.as_str()).collect();
    println!("missed: {missed:?}");

    // Recurring sanitation spots: blind spots by DBSCAN over the sanitation categories.
    let sanitation: Vec<String> = wangge::domain::catalogue::default_catalogue()
        .into_iter()
        .filter(|c| c.sanitation)
        .map(|c| c.code)
        .collect();
    let sel = ds.select(&Filter { categories: sanitation, ..Default::default() }, Some(&ix));
    let params = BlindSpotParams::default();
    let t = std::time::Instant::now();
    let spots = analysis::blind_spots(&ds, &sel, Places::Dbscan, Some(&ix), &params);
    println!("blind spots over {} sanitation reports in {:.0?}", sel.len(), t.elapsed());
    let spot_truth: Vec<&Planted> = truth.iter().filter(|p| p.kind == "recurring_spot").collect();
    let close = |s: &analysis::BlindSpotRow, p: &Planted| metres_between(&frame, (s.lon, s.lat), (p.center[0], p.center[1])) <= 30.0;
    let tp = spots.iter().filter(|s| spot_truth.iter().any(|p| close(s, p))).count();
    // A planted spot is expected to be found when its own reports meet the rule.
    let qualifies = |p: &Planted| {
        let times: Vec<chrono::DateTime<chrono::Utc>> = p.intervals.as_ref().unwrap().iter()
            .map(|iv| chrono::DateTime::parse_from_rfc3339(&iv[0]).unwrap().to_utc()).collect();
        let window = chrono::Duration::weeks(i64::from(params.window_weeks));
        // Every report after the first came after the previous one was closed.
        times.iter().enumerate().any(|(i, t0)| {
            let inside: Vec<usize> = (i..times.len()).filter(|&j| times[j] < *t0 + window).collect();
            let after = inside.iter().filter(|&&j| j > 0).count();
            inside.len() >= params.min_reports && after >= params.min_after_close
        })
    };
    let expected: Vec<&&Planted> = spot_truth.iter().filter(|p| qualifies(p)).collect();
    let found_spots = expected.iter().filter(|p| spots.iter().any(|s| close(s, p))).count();
    let found_any = spot_truth.iter().filter(|p| spots.iter().any(|s| close(s, p))).count();
    let (sp, sr) = precision_recall(tp, spots.len(), found_spots, expected.len());
    println!(
        "卫生死角: {} blind spots; precision {sp:.3} ({tp}/{}), recall {sr:.3} ({found_spots}/{} planted spots meeting the rule; {found_any}/{} of all planted spots)",
        spots.len(), spots.len(), expected.len(), spot_truth.len()
    );
    let _ = truth.iter().map(|p| p.count).sum::<usize>();
    assert!(precision >= 0.9 && recall >= 0.9, "hot spots: precision {precision}, recall {recall}");
    assert!(sp >= 0.9 && sr >= 0.9, "blind spots: precision {sp}, recall {sr}");
}

