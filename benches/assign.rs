//! In-process figures of the assignment engine on the demo city: index build, single-point
//! latency (with percentiles), and batch throughput on all cores. Run: `cargo bench --bench assign`.
//! `benches/assign.sh` runs this beside PostGIS, shapely and an HTTP load test and prints ratios.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use rayon::prelude::*;
use wangge::assign::batch::{self, Format, InputPoint};
use wangge::assign::{CityIndex, CityLayers, EngineConfig};
use wangge::domain::crs::{Crs, PlausibleArea};
use wangge::domain::jurisdiction::Layer;
use wangge::import;

fn layers() -> CityLayers {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata");
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
    let railways = import::parse_basemap(
        "railway",
        &import::read_text(&dir.join("railway.geojson")).expect("railway"),
    )
    .expect("parse")
    .into_iter()
    .filter_map(|f| match f.geometry {
        geo::Geometry::LineString(l) => Some(l),
        _ => None,
    })
    .collect();
    CityLayers {
        version: 1,
        districts: read(Layer::District),
        streets: read(Layer::Street),
        communities: read(Layer::Community),
        grids: read(Layer::Grid),
        frontages: read(Layer::Frontage),
        zones: read(Layer::Zone),
        railways,
        departments: vec![],
    }
}

/// The same deterministic points as `benches/points.py` writes: uniform over the city's extent.
fn points(index: &CityIndex, n: usize) -> Vec<(f64, f64)> {
    let e = index.extent();
    let mut s: u64 = 20_231;
    let mut next = || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            (
                e.min().x + next() * e.width(),
                e.min().y + next() * e.height(),
            )
        })
        .collect()
}

fn percentiles(index: &CityIndex, pts: &[(f64, f64)]) {
    // Each call timed on its own, in random order (the realistic, cache-cold case).
    let mut ns: Vec<u64> = pts
        .iter()
        .map(|&(x, y)| {
            let t = Instant::now();
            let hit = index.locate(x, y);
            black_box(index.chain_codes(&hit));
            t.elapsed().as_nanos() as u64
        })
        .collect();
    ns.sort_unstable();
    let p = |q: f64| ns[((ns.len() as f64 - 1.0) * q) as usize];
    println!(
        "RESULT single_point_latency_ns p50={} p90={} p99={} p999={} max={}",
        p(0.5),
        p(0.9),
        p(0.99),
        p(0.999),
        ns[ns.len() - 1]
    );
}

fn main() {
    let layers = layers();
    let t = Instant::now();
    let index = CityIndex::build(&layers, EngineConfig::default());
    println!("RESULT index_build_s {:.3}", t.elapsed().as_secs_f64());
    println!(
        "RESULT index_tables_mb {:.1}",
        index.table_bytes() as f64 / 1e6
    );
    let pts = points(&index, 1_000_000);

    percentiles(&index, &pts[..200_000]);

    // Full chain on both cores: grid, community, street, district, frontages, zones.
    for round in 0..3 {
        let t = Instant::now();
        let assigned: usize = pts
            .par_chunks(4096)
            .map(|c| {
                c.iter()
                    .filter(|&&(x, y)| {
                        let hit = index.locate(x, y);
                        black_box(index.chain_codes(&hit))[0].is_some()
                    })
                    .count()
            })
            .sum();
        let s = t.elapsed().as_secs_f64();
        if round == 2 {
            println!(
                "RESULT batch_full_chain_points_per_s {:.0} (assigned {assigned} of {})",
                pts.len() as f64 / s,
                pts.len()
            );
        }
    }
    // The same with CSV formatting of every answer (what `wangge assign` writes).
    let input: Vec<InputPoint> = pts
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| InputPoint {
            id: i.to_string(),
            x,
            y,
        })
        .collect();
    let area = PlausibleArea::around("bench", index.extent(), 20_000.0);
    let t = Instant::now();
    let mut bytes = 0;
    for chunk in input.chunks(batch::CHUNK * 8) {
        let mut out = Vec::new();
        batch::process_chunk(
            &index,
            &area,
            Crs::Wgs84,
            chunk,
            Format::Csv,
            false,
            &mut out,
        );
        bytes += out.len();
    }
    println!(
        "RESULT batch_csv_points_per_s {:.0} ({bytes} bytes)",
        pts.len() as f64 / t.elapsed().as_secs_f64()
    );

    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    let mut g = c.benchmark_group("assign");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("locate_full_chain_one_point", |b| {
        b.iter(|| {
            i = (i + 1) % pts.len();
            let (x, y) = pts[i];
            let hit = index.locate(black_box(x), black_box(y));
            black_box(index.chain_codes(&hit));
        })
    });
    g.bench_function("assign_with_reasons_one_point", |b| {
        b.iter(|| {
            i = (i + 1) % pts.len();
            let (x, y) = pts[i];
            black_box(index.assign(black_box(x), black_box(y), Crs::Wgs84, None));
        })
    });
    g.finish();
    c.final_summary();
}
