//! Layer validation against the vertex count: one valid disc-shaped polygon of n vertices, and
//! 1,000 grids sharing n vertices in all. Prints wall time and the work counter (candidate
//! segment pairs examined). Run: `cargo bench --bench validate` (VALIDATE_SIZES=25000,50000 to
//! choose the sizes). Before the R-tree ring check, geo's pairwise check took 3.6 / 14 / 57 s
//! for 25k / 50k / 100k vertices on two cores.

use std::time::Instant;

use geo::{LineString, Polygon};
use serde_json::Map;
use wangge::domain::jurisdiction::{Jurisdiction, Layer};
use wangge::import::validate::{Context, validate};

fn disc(n: usize, code: &str, x: f64, y: f64, r: f64) -> Jurisdiction {
    let ring: Vec<(f64, f64)> = (0..=n)
        .map(|i| {
            let a = std::f64::consts::TAU * (i % n) as f64 / n as f64;
            (x + r * a.cos(), y + r * a.sin())
        })
        .collect();
    Jurisdiction {
        layer: Layer::Grid,
        code: code.into(),
        name: code.into(),
        parent_code: Some("410103001001".into()),
        unit_code: None,
        kind: None,
        props: Map::new(),
        geometry: Polygon::new(LineString::from(ring), vec![]).into(),
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::var("VALIDATE_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|v| v.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![25_000, 50_000, 100_000, 1_000_000]);
    println!("vertices,shape,seconds,steps");
    for n in sizes {
        let one = [disc(n, "410103001001001", 113.65, 34.74, 0.0006)];
        let t = Instant::now();
        let r = validate(Layer::Grid, &one, &Context::default()).expect("not cancelled");
        println!(
            "{n},one polygon,{:.3},{}",
            t.elapsed().as_secs_f64(),
            r.steps
        );
        let many: Vec<Jurisdiction> = (0..1_000)
            .map(|i| {
                disc(
                    n / 1_000,
                    &format!("410103001001{i:03}"),
                    113.6 + (i % 40) as f64 * 0.0015,
                    34.7 + (i / 40) as f64 * 0.0015,
                    0.0006,
                )
            })
            .collect();
        let t = Instant::now();
        let r = validate(Layer::Grid, &many, &Context::default()).expect("not cancelled");
        println!(
            "{n},1000 polygons,{:.3},{}",
            t.elapsed().as_secs_f64(),
            r.steps
        );
    }
}
