//! Grid tile generation in process, timed per tile: the wangge half of `benches/tiles.sh`.
//!
//! `WANGGE_BENCH_DATABASE_URL` names the store holding the city and `WANGGE_BENCH_TILES` a file of
//! `z,x,y` lines; `WANGGE_BENCH_ROUNDS` (default 3) passes are timed over the whole list. Prints
//! `RESULT wangge_z{z} p50_ms p99_ms tiles bytes` lines.

use std::collections::BTreeMap;
use std::time::Instant;

use wangge::store::{Store, StoreOptions};
use wangge::tiles::{TileLayer, TileSet};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let (Ok(url), Ok(list)) = (
        std::env::var("WANGGE_BENCH_DATABASE_URL"),
        std::env::var("WANGGE_BENCH_TILES"),
    ) else {
        eprintln!(
            "tiles bench: set WANGGE_BENCH_DATABASE_URL and WANGGE_BENCH_TILES (see benches/tiles.sh)"
        );
        return;
    };
    let rounds: usize = std::env::var("WANGGE_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let layers = rt.block_on(async {
        let store = Store::connect(&url, &StoreOptions::default())
            .await
            .expect("connect");
        wangge::live::load_layers(&store, None)
            .await
            .expect("load layers")
    });
    let start = Instant::now();
    let set = TileSet::build(&layers);
    println!(
        "RESULT wangge_tileset_build_s {:.3}",
        start.elapsed().as_secs_f64()
    );
    let tiles: Vec<(u8, u32, u32)> = std::fs::read_to_string(&list)
        .expect("tile list")
        .lines()
        .filter_map(|l| {
            let v: Vec<u32> = l.split(',').filter_map(|p| p.trim().parse().ok()).collect();
            (v.len() == 3).then(|| (v[0] as u8, v[1], v[2]))
        })
        .collect();
    let mut times: BTreeMap<u8, Vec<f64>> = BTreeMap::new();
    let mut bytes: BTreeMap<u8, usize> = BTreeMap::new();
    for round in 0..rounds {
        for &(z, x, y) in &tiles {
            let t = Instant::now();
            let tile = std::hint::black_box(set.tile(TileLayer::Grid, z, x, y));
            times
                .entry(z)
                .or_default()
                .push(t.elapsed().as_secs_f64() * 1000.0);
            if round == 0 {
                *bytes.entry(z).or_default() += tile.len();
            }
        }
    }
    for (z, mut v) in times {
        v.sort_by(f64::total_cmp);
        println!(
            "RESULT wangge_z{z} {:.4} {:.4} {} {}",
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            v.len() / rounds,
            bytes[&z]
        );
    }
}
