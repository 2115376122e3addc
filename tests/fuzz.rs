//! Fuzzing of the parsers that take a city's files and the public's input: the GeoJSON layer and
//! basemap parser (with the layer validation behind it), the CRS and coordinate parser, the CSV
//! importers (units, history, 12345 exports, batch points) and the OpenStreetMap PBF reader.
//!
//! Stable Rust, driven by proptest: every target starts from the seed files in
//! `tests/fuzz/corpus/<target>/` and mutates them (byte flips, insertions of tokens that break
//! parsers, deletions, duplications, truncations). The property is the same everywhere: the
//! parser answers `Ok` or a clean error and never panics. A failing input is shrunk and kept
//! by proptest in `tests/fuzz.proptest-regressions`, replayed first on every later run.
//!
//! `cargo test --test suite fuzz::` runs a bounded number of cases per target (`WANGGE_FUZZ_CASES`,
//! default 256); CI runs more. To fuzz for longer:
//! `WANGGE_FUZZ_CASES=200000 cargo test --release --test suite fuzz:: -- --nocapture`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use wangge::domain::crs::{Crs, PlausibleArea};
use wangge::domain::jurisdiction::Layer;
use wangge::import::validate::{self, Context};

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

fn cases(default_share: u32) -> u32 {
    let all = std::env::var("WANGGE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(256);
    (all / default_share).max(1)
}

/// Bytes that break parsers where they land.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\n",
    b"\r\n",
    b"\0",
    b"-",
    b"1e308",
    b"-1e308",
    b"NaN",
    b"null",
    b"0",
    b"-0",
    b"99999999999999999999",
    b"\xEF\xBB\xBF",
    b"\xFF\xFE",
    b"\"\"",
    b",,",
    b"\"a\nb\"",
    b"1.7976931348623157e309",
    b"\\u0000",
    b"\xe4\xba\x8c",
];

#[derive(Debug, Clone)]
enum Op {
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, prop::sample::Index),
    Delete(prop::sample::Index, usize),
    Duplicate(prop::sample::Index, usize),
    Truncate(prop::sample::Index),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(i, x)| Op::Flip(i, x)),
        4 => (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(i, t)| Op::Insert(i, t)),
        2 => (any::<prop::sample::Index>(), 1usize..64).prop_map(|(i, n)| Op::Delete(i, n)),
        2 => (any::<prop::sample::Index>(), 1usize..256).prop_map(|(i, n)| Op::Duplicate(i, n)),
        1 => any::<prop::sample::Index>().prop_map(Op::Truncate),
    ]
}

fn apply(mut b: Vec<u8>, ops: &[Op]) -> Vec<u8> {
    for op in ops {
        let at = |i: &prop::sample::Index, len: usize| if len == 0 { 0 } else { i.index(len) };
        match op {
            Op::Flip(i, x) if !b.is_empty() => {
                let k = at(i, b.len());
                b[k] ^= x;
            }
            Op::Insert(i, t) => {
                let k = at(i, b.len() + 1);
                let token = TOKENS[t.index(TOKENS.len())];
                b.splice(k..k, token.iter().copied());
            }
            Op::Delete(i, n) if !b.is_empty() => {
                let k = at(i, b.len());
                let end = (k + n).min(b.len());
                b.drain(k..end);
            }
            Op::Duplicate(i, n) if !b.is_empty() => {
                let k = at(i, b.len());
                let end = (k + n).min(b.len());
                let piece: Vec<u8> = b[k..end].to_vec();
                b.splice(k..k, piece);
            }
            Op::Truncate(i) => {
                let k = at(i, b.len() + 1);
                b.truncate(k);
            }
            _ => {}
        }
    }
    b
}

/// Seeds, mutated.
fn inputs(seeds: Vec<Vec<u8>>, max_ops: usize) -> impl Strategy<Value = Vec<u8>> {
    (0..seeds.len(), prop::collection::vec(op(), 0..=max_ops))
        .prop_map(move |(i, ops)| apply(seeds[i].clone(), &ops))
}

/// Runs `check` on every mutated input of `target`; a panic fails the test with the input.
fn fuzz(target: &str, share: u32, max_ops: usize, check: impl Fn(&[u8])) {
    let config = Config {
        cases: cases(share),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fuzz.proptest-regressions"
        )))),
        max_shrink_iters: 2_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    // The seeds themselves first.
    for seed in corpus(target) {
        check(&seed);
    }
    let result = runner.run(&inputs(corpus(target), max_ops), |bytes| {
        let outcome = catch_unwind(AssertUnwindSafe(|| check(&bytes)));
        prop_assert!(
            outcome.is_ok(),
            "{target} panicked on {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(2_000)])
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_geojson_layer_parser_and_validation_never_panic_on_mangled_files() {
    fuzz("layer", 1, 12, |bytes| {
        let text = text(bytes);
        for layer in Layer::ALL {
            let Ok((mut features, member)) =
                wangge::import::geojson_layer::parse_layer_with_crs(layer, &text)
            else {
                continue;
            };
            if let Some(name) = member {
                let _ = Crs::from_str(&name);
            }
            if wangge::import::service::to_wgs84(&mut features, Crs::Gcj02, &PlausibleArea::world())
                .is_err()
            {
                continue;
            }
            if validate::check_limits(&features, validate::Limits::default()).is_err() {
                continue;
            }
            let ctx = Context {
                parents: None,
                roads: Vec::new(),
                tolerances: Default::default(),
                cancel: validate::Cancel::new(),
                units: None,
            };
            let _ = validate::validate(layer, &features, &ctx);
        }
        let _ = wangge::import::parse_basemap("road", &text);
        let _ = wangge::assign::batch::geojson_points(bytes, 10_000);
    });
}

#[test]
fn coordinates_and_coordinate_systems_parse_or_are_refused_never_panic() {
    fuzz("crs", 1, 8, |bytes| {
        let text = text(bytes);
        let areas = [
            PlausibleArea::world(),
            PlausibleArea::china(),
            PlausibleArea::around(
                "郑州",
                geo::Rect::new(
                    geo::coord! { x: 113.5, y: 34.6 },
                    geo::coord! { x: 113.8, y: 34.9 },
                ),
                20_000.0,
            ),
        ];
        for line in text.lines() {
            let _ = Crs::from_str(line.trim());
            let numbers: Vec<f64> = line
                .split([',', ' ', '\t'])
                .filter_map(|x| x.trim().parse::<f64>().ok())
                .collect();
            for pair in numbers.windows(2) {
                let (x, y) = (pair[0], pair[1]);
                for area in &areas {
                    let _ = area.check(x, y);
                }
                for crs in [Crs::Wgs84, Crs::Cgcs2000, Crs::Gcj02, Crs::Bd09] {
                    let _ = crs.to_wgs84(x, y);
                    let _ = crs.from_wgs84(x, y);
                }
            }
        }
    });
}

#[test]
fn the_csv_importers_answer_every_mangled_file_with_rows_or_errors() {
    let catalogue = wangge::domain::catalogue::default_catalogue();
    let listed =
        wangge::domain::catalogue::Catalogue::new(catalogue.iter().cloned().map(|c| (1, c)));
    let index = wangge::assign::CityIndex::build(&Default::default(), Default::default());
    fuzz("csv", 1, 12, |bytes| {
        let text = text(bytes);
        let _ = wangge::import::parse_units_csv(&text);
        let _ = wangge::import::hotline_csv::parse_hotline_csv(&text, Some(Crs::Gcj02), &listed);
        let _ = wangge::import::hotline_csv::parse_hotline_csv(&text, None, &listed);
        let _ =
            wangge::import::history_csv::parse_history_csv(&text, Crs::Wgs84, &index, &catalogue);
        let mut points = wangge::assign::batch::CsvPoints::default();
        for chunk in bytes.chunks(97) {
            if points.feed(chunk).is_err() {
                return;
            }
        }
        let _ = points.finish();
    });
}

#[test]
fn the_openstreetmap_reader_refuses_damaged_pbf_files_without_panicking() {
    // Each case parses up to 165 kB of raw blocks: fewer cases than the text targets.
    fuzz("osm", 4, 6, |bytes| {
        let _ = wangge::import::osm::read_pbf(bytes);
    });
}
