//! In-process figures of the hot spot analytics on the demo city, for `benches/hotspot.sh`, which
//! runs numpy/scipy and libpysal/esda on the same inputs in the same run and prints ratios.
//!
//! Reads `WANGGE_BENCH_POINTS` (little-endian f64 pairs lon, lat, WGS84) and writes the grid
//! counts to `WANGGE_BENCH_COUNTS` (JSON) for the Python side. Prints `RESULT name value` lines.
//! `WANGGE_BENCH_CITY` names another folder of layers than `geodata/` (`benches/province.sh`
//! passes the synthetic province's package: Gi* over its 1,000,000 grids, KDE over its 20,000,000
//! reports) and `WANGGE_BENCH_RUNS` the runs per median (default 5).

use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use wangge::assign::{AreaLevel, CityIndex, CityLayers, EngineConfig};
use wangge::domain::jurisdiction::Layer;
use wangge::hotspot::frame::{LocalFrame, Metres};
use wangge::hotspot::gistar::{self, Transform};
use wangge::hotspot::kde::{self, KdeMethod, KdeParams};
use wangge::hotspot::weights::{Contiguity, Weights};
use wangge::import;

fn layers() -> CityLayers {
    let dir = std::env::var_os("WANGGE_BENCH_CITY").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"),
        std::path::PathBuf::from,
    );
    let read = |layer: Layer| {
        let name = [format!("{layer}.geojson"), format!("{layer}.geojson.gz")]
            .into_iter()
            .find(|n| dir.join(n).exists())
            .expect("geodata");
        import::parse_layer(layer, &import::read_text(&dir.join(name)).expect("read"))
            .expect("parse")
            .into_iter()
            .map(Into::into)
            .collect()
    };
    CityLayers {
        version: 1,
        districts: read(Layer::District),
        streets: read(Layer::Street),
        communities: read(Layer::Community),
        grids: read(Layer::Grid),
        ..Default::default()
    }
}

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[runs / 2]
}

fn main() {
    let path = std::env::var("WANGGE_BENCH_POINTS").expect("WANGGE_BENCH_POINTS: points file");
    let bytes = std::fs::read(&path).expect("points");
    let pts: Vec<(f64, f64)> = bytes
        .chunks_exact(16)
        .map(|c| {
            let lon = f64::from_le_bytes(c[..8].try_into().unwrap_or_default());
            let lat = f64::from_le_bytes(c[8..].try_into().unwrap_or_default());
            (lon, lat)
        })
        .collect();
    println!("RESULT points {}", pts.len());
    let runs: usize = std::env::var("WANGGE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    println!("RESULT threads {}", rayon::current_num_threads());

    // KDE: project to metres, then 1000 × 1000 cells over the points' extent, bandwidth 150 m.
    let frame = LocalFrame::around(pts.iter().copied()).expect("points");
    let mut metres: Vec<(Metres, f64)> = Vec::new();
    let project = median_ms(runs, || {
        metres = pts
            .par_iter()
            .map(|&(x, y)| (frame.forward(x, y), 1.0))
            .collect();
    });
    let params = KdeParams {
        bandwidth_m: Some(150.0),
        size: Some((1000, 1000)),
        method: KdeMethod::Binned,
        ..Default::default()
    };
    let mut peak = 0.0;
    let kde_ms = median_ms(runs, || {
        let r = kde::kde(frame, &metres, &params).expect("kde");
        peak = r.peak().map_or(0.0, |p| p.2);
    });
    println!("RESULT wangge_project_ms {project:.1}");
    println!("RESULT wangge_kde_ms {kde_ms:.1}");
    println!("RESULT wangge_kde_peak_per_km2 {peak:.0}");

    // Gi* over every unit grid: counts by the assignment engine, then (timed) queen weights from
    // the polygons and Gi*.
    let layers = layers();
    let t = Instant::now();
    let index = CityIndex::build(&layers, EngineConfig::default());
    println!(
        "RESULT wangge_index_build_ms {:.1}",
        t.elapsed().as_secs_f64() * 1e3
    );
    println!(
        "RESULT wangge_index_tables_mb {:.1}",
        index.table_bytes() as f64 / 1e6
    );
    let grids: Vec<_> = index.areas(AreaLevel::Grid).collect();
    let mut counts = vec![0.0f64; grids.len()];
    let t = Instant::now();
    let hits: Vec<u32> = pts
        .par_iter()
        .map(|&(x, y)| index.locate(x, y).grid)
        .collect();
    for g in hits {
        if let Some(c) = counts.get_mut(g as usize) {
            *c += 1.0;
        }
    }
    println!(
        "RESULT wangge_count_ms {:.1}",
        t.elapsed().as_secs_f64() * 1e3
    );
    let polys: Vec<&geo::MultiPolygon<f64>> = grids.iter().map(|g| g.polygon).collect();
    let mut z = Vec::new();
    let mut weights_ms = 0.0;
    let gi_ms = median_ms(runs, || {
        let s = Instant::now();
        let w = Weights::contiguity(&polys, Contiguity::Queen);
        weights_ms = s.elapsed().as_secs_f64() * 1e3;
        z = gistar::z_scores(&counts, &w, Transform::Binary);
    });
    println!("RESULT grids {}", grids.len());
    println!("RESULT wangge_weights_ms {weights_ms:.1}");
    println!("RESULT wangge_gistar_total_ms {gi_ms:.1}");
    if let Ok(out) = std::env::var("WANGGE_BENCH_COUNTS") {
        let json = serde_json::json!({
            "codes": grids.iter().map(|g| g.code).collect::<Vec<_>>(),
            "y": counts,
            "z": z,
        });
        std::fs::write(out, serde_json::to_vec(&json).expect("json")).expect("write counts");
    }
}
