//! Checks on the committed demo city in `geodata/` (no database): partitions with exactly shared
//! edges, codes and numbering, areas, unit codes, frontages, history, and that the generator
//! reproduces the committed files byte for byte.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use geo::{Contains, Coord, GeodesicArea, LineString, MultiPolygon, Point, Polygon, Validation};
use serde_json::Value;

type P = (i64, i64);
/// A grid code with its doubled bounding-box centre.
type Numbered = (String, (i64, i64));
/// A road centre-line segment in local metres.
type Seg = ([f64; 2], [f64; 2]);
/// Polygons as rings of fixed lon/lat (1e-7°), closing point dropped.
type Rings = Vec<Vec<Vec<P>>>;

fn geodata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata")
}

fn read_bytes(name: &str) -> Vec<u8> {
    let raw = std::fs::read(geodata().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    if name.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .expect("gunzip");
        out
    } else {
        raw
    }
}

fn features(name: &str) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&read_bytes(name)).expect("json");
    v["features"].as_array().expect("features").clone()
}

fn q(v: &Value) -> P {
    let a = v.as_array().expect("coordinate");
    (
        (a[0].as_f64().unwrap() * 1e7).round() as i64,
        (a[1].as_f64().unwrap() * 1e7).round() as i64,
    )
}

fn rings(f: &Value) -> Rings {
    let g = &f["geometry"];
    let polys = match g["type"].as_str().unwrap() {
        "Polygon" => vec![g["coordinates"].clone()],
        "MultiPolygon" => g["coordinates"].as_array().unwrap().clone(),
        t => panic!("unexpected {t}"),
    };
    polys
        .iter()
        .map(|p| {
            p.as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let mut pts: Vec<P> = r.as_array().unwrap().iter().map(q).collect();
                    assert_eq!(pts.first(), pts.last(), "ring not closed");
                    pts.pop();
                    pts
                })
                .collect()
        })
        .collect()
}

fn to_geo(r: &Rings) -> MultiPolygon<f64> {
    let ls = |ring: &Vec<P>| {
        let mut c: Vec<Coord<f64>> = ring
            .iter()
            .map(|p| Coord {
                x: p.0 as f64 / 1e7,
                y: p.1 as f64 / 1e7,
            })
            .collect();
        c.push(c[0]);
        LineString::from(c)
    };
    MultiPolygon::new(
        r.iter()
            .map(|p| Polygon::new(ls(&p[0]), p[1..].iter().map(ls).collect()))
            .collect(),
    )
}

fn prop<'a>(f: &'a Value, k: &str) -> &'a str {
    f["properties"][k]
        .as_str()
        .unwrap_or_else(|| panic!("property {k} missing"))
}

fn directed_edges(r: &Rings) -> Vec<(P, P)> {
    let mut out = Vec::new();
    for poly in r {
        for ring in poly {
            for k in 0..ring.len() {
                out.push((ring[k], ring[(k + 1) % ring.len()]));
            }
        }
    }
    out
}

/// Exact partition check: the children's directed edges are each either matched by the reverse
/// edge of a sibling (an inner border, shared with identical vertices) or are an edge of the
/// parent's boundary, no directed edge occurs twice, and every parent edge is covered. With
/// valid counter-clockwise rings this means: no gaps, no overlaps, children inside the parent.
/// Areas must also add up (tolerance 0.01 %).
fn assert_partition(parents: &[Value], children: &[Value]) {
    let mut by_parent: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for c in children {
        by_parent.entry(prop(c, "parent_code")).or_default().push(c);
    }
    assert_eq!(
        by_parent.len(),
        parents.len(),
        "every parent has children, no child has an unknown parent"
    );
    for p in parents {
        let code = prop(p, "code");
        let kids = by_parent
            .get(code)
            .unwrap_or_else(|| panic!("{code} has no children"));
        let mut edges: BTreeSet<(P, P)> = BTreeSet::new();
        let mut child_area = 0.0;
        for c in kids {
            let r = rings(c);
            child_area += to_geo(&r).geodesic_area_unsigned();
            for e in directed_edges(&r) {
                assert!(
                    edges.insert(e),
                    "{}: directed edge used twice (overlap)",
                    prop(c, "code")
                );
            }
        }
        let pr = rings(p);
        let parent_edges: BTreeSet<(P, P)> = directed_edges(&pr).into_iter().collect();
        for e in &edges {
            assert!(
                edges.contains(&(e.1, e.0)) || parent_edges.contains(e),
                "{code}: child edge {e:?} neither shared nor on the parent boundary (gap or overlap)"
            );
        }
        for e in &parent_edges {
            assert!(
                edges.contains(e),
                "{code}: parent edge {e:?} not covered by a child"
            );
        }
        let pa = to_geo(&pr).geodesic_area_unsigned();
        assert!(
            (child_area - pa).abs() / pa < 1e-4,
            "{code}: areas {child_area} vs {pa}"
        );
    }
}

#[test]
fn streets_partition_each_district_without_gaps_or_overlaps() {
    let d = features("district.geojson");
    assert_eq!(d.len(), 2);
    assert!(
        d.iter()
            .all(|f| f["properties"]["synthetic"] == Value::Bool(false))
    );
    let s = features("street.geojson");
    assert_eq!(s.len(), 30);
    assert_partition(&d, &s);
}

#[test]
fn communities_partition_each_street_without_gaps_or_overlaps() {
    let c = features("community.geojson");
    assert_eq!(c.len(), 333);
    assert_partition(&features("street.geojson"), &c);
}

#[test]
fn grids_partition_each_community_without_gaps_or_overlaps() {
    assert_partition(&features("community.geojson"), &features("grid.geojson.gz"));
}

#[test]
fn every_polygon_is_valid_with_counter_clockwise_exteriors() {
    for name in [
        "district.geojson",
        "street.geojson",
        "community.geojson",
        "grid.geojson.gz",
    ] {
        for f in features(name) {
            let r = rings(&f);
            let mp = to_geo(&r);
            assert!(mp.is_valid(), "{name} {} invalid", prop(&f, "code"));
            for poly in &r {
                let ring = &poly[0];
                let a: i128 = (0..ring.len())
                    .map(|k| {
                        let (p, q) = (ring[k], ring[(k + 1) % ring.len()]);
                        i128::from(p.0) * i128::from(q.1) - i128::from(q.0) * i128::from(p.1)
                    })
                    .sum();
                assert!(
                    a > 0,
                    "{name} {}: exterior not counter-clockwise",
                    prop(&f, "code")
                );
            }
        }
    }
}

#[test]
fn codes_have_the_right_length_and_start_with_the_parent_code() {
    for (name, len, plen) in [
        ("street.geojson", 9, 6),
        ("community.geojson", 12, 9),
        ("grid.geojson.gz", 15, 12),
    ] {
        let mut seen = BTreeSet::new();
        for f in features(name) {
            let code = prop(&f, "code");
            assert_eq!(code.len(), len, "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
            assert_eq!(prop(&f, "parent_code").len(), plen);
            assert!(code.starts_with(prop(&f, "parent_code")), "{code}");
            assert!(seen.insert(code.to_string()), "duplicate {code}");
        }
    }
}

#[test]
fn grids_are_numbered_west_to_east_in_rows_from_north_to_south() {
    // The generator's row tolerance (0.00045° ≈ 50 m, `ROW_TOLERANCE_E7` in
    // src/bin/wangge-generate/generate/grids.rs), in 1e-7° of latitude.
    let tol: i64 = 4_500;
    let mut by_comm: BTreeMap<String, Vec<Numbered>> = BTreeMap::new();
    for f in features("grid.geojson.gz") {
        let pts: Vec<P> = rings(&f).into_iter().flatten().flatten().collect();
        let c = (
            pts.iter().map(|p| p.0).min().unwrap() + pts.iter().map(|p| p.0).max().unwrap(),
            pts.iter().map(|p| p.1).min().unwrap() + pts.iter().map(|p| p.1).max().unwrap(),
        );
        by_comm
            .entry(prop(&f, "parent_code").to_string())
            .or_default()
            .push((prop(&f, "code").to_string(), c));
    }
    for (comm, mut gs) in by_comm {
        gs.sort();
        for (k, g) in gs.iter().enumerate() {
            assert_eq!(
                g.0[12..].parse::<usize>().unwrap(),
                k + 1,
                "{comm}: sequence has gaps"
            );
        }
        // Recompute the documented rule independently: north to south by bounding-box centre, a
        // new row when more than `tol` south of the row's first (northernmost) centre, then west
        // to east inside each row.
        let mut by_lat = gs.clone();
        by_lat.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(a.1.0.cmp(&b.1.0)));
        let mut rows: Vec<Vec<Numbered>> = Vec::new();
        for g in by_lat {
            match rows.last_mut() {
                Some(r) if r[0].1.1 - g.1.1 <= 2 * tol => r.push(g),
                _ => rows.push(vec![g]),
            }
        }
        let expected: Vec<String> = rows
            .into_iter()
            .flat_map(|mut r| {
                r.sort_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)));
                r.into_iter().map(|g| g.0)
            })
            .collect();
        let actual: Vec<String> = gs.into_iter().map(|g| g.0).collect();
        assert_eq!(actual, expected, "{comm}: numbering");
    }
}

#[test]
fn built_up_grids_are_close_to_ten_thousand_square_metres() {
    let grids = features("grid.geojson.gz");
    let mut built = Vec::new();
    for f in &grids {
        let area = f["properties"]["area_m2"].as_f64().unwrap();
        let geodesic = to_geo(&rings(f)).geodesic_area_unsigned();
        assert!(
            (area - geodesic).abs() / geodesic < 0.003,
            "{}: area_m2 {area} vs {geodesic}",
            prop(f, "code")
        );
        assert!(area >= 1_000.0, "{}: tiny grid {area}", prop(f, "code"));
        let level = f["properties"]["management_level"].as_i64().unwrap();
        assert!((1..=3).contains(&level));
        if level <= 2 {
            built.push(area);
        }
    }
    assert!(built.len() > 10_000);
    assert!(
        built.iter().all(|&a| a <= 25_000.0),
        "built-up grid over 25,000 m²"
    );
    let typical = built
        .iter()
        .filter(|&&a| (5_000.0..=20_000.0).contains(&a))
        .count();
    assert!(
        typical as f64 / built.len() as f64 > 0.95,
        "{typical} of {} typical",
        built.len()
    );
    built.sort_by(f64::total_cmp);
    let median = built[built.len() / 2];
    assert!((8_000.0..12_000.0).contains(&median), "median {median}");
}

fn units() -> BTreeMap<String, (String, String)> {
    let bytes = read_bytes("units.csv");
    let mut rdr = csv::Reader::from_reader(&bytes[..]);
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        ["code", "name", "kind", "parent_code"]
    );
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), (r[2].to_string(), r[3].to_string()))
        })
        .collect()
}

#[test]
fn every_unit_code_exists_in_units_csv() {
    let units = units();
    let kinds: BTreeSet<&str> = [
        "department",
        "street_office",
        "community_committee",
        "shop",
        "organisation",
    ]
    .into();
    assert!(units.values().all(|u| kinds.contains(u.0.as_str())));
    for name in [
        "district.geojson",
        "street.geojson",
        "community.geojson",
        "grid.geojson.gz",
        "zone.geojson",
        "railway.geojson",
        "frontage.geojson.gz",
    ] {
        for f in features(name) {
            let u = prop(&f, "unit_code");
            assert!(
                units.contains_key(u),
                "{name}: unit {u} missing from units.csv"
            );
        }
    }
    for d in ["410102", "410103"] {
        for k in ["cgzf", "hw", "scjg", "zj", "jj", "yl", "cwb"] {
            assert!(units.contains_key(&format!("dept-{d}-{k}")));
        }
    }
}

#[test]
fn urban_villages_follow_the_code_rule() {
    let streets: BTreeMap<String, String> = features("street.geojson")
        .iter()
        .map(|f| (prop(f, "code").into(), prop(f, "name").into()))
        .collect();
    let mut n = 0;
    for f in features("community.geojson") {
        let code = prop(&f, "code");
        let suffix: u32 = code[9..].parse().unwrap();
        let village = (200..400).contains(&suffix);
        assert_eq!(
            prop(&f, "committee"),
            if village { "village" } else { "residents" },
            "{code}"
        );
        let street = &streets[prop(&f, "parent_code")];
        let expected = village && street.ends_with("街道") && !street.starts_with("侯寨");
        assert_eq!(
            f["properties"]["urban_village"].as_bool(),
            Some(expected),
            "{code}"
        );
        n += usize::from(expected);
    }
    let flagged: BTreeSet<String> = features("community.geojson")
        .iter()
        .filter(|f| f["properties"]["urban_village"].as_bool() == Some(true))
        .map(|f| prop(f, "code").to_owned())
        .collect();
    let zones = features("zone.geojson");
    let uv: Vec<&Value> = zones
        .iter()
        .filter(|z| prop(z, "zone_kind") == "urban_village")
        .collect();
    // One 城中村 per urban village committee, and a few inside residents' communities of
    // urban streets (the villages the city grew around).
    let (own, inner): (Vec<&&Value>, Vec<&&Value>) = uv
        .iter()
        .partition(|z| flagged.contains(prop(z, "parent_code")));
    assert_eq!(own.len(), n);
    assert!(n > 40);
    assert_eq!(inner.len(), 5, "villages inside urban streets");
    for z in &inner {
        let parent = prop(z, "parent_code");
        let suffix: u32 = parent[9..].parse().unwrap();
        assert!(suffix < 200, "{parent}: a residents' community");
    }
    // Dense patches, not whole committees: each one polygon of a fraction of a km² to a few
    // km², together a small part of the two districts (the committees cover about 117 km²).
    let mut total = 0.0;
    for z in &uv {
        assert_eq!(z["geometry"]["type"], "Polygon", "{}", prop(z, "code"));
        let area = to_geo(&rings(z)).geodesic_area_unsigned() / 1e6;
        assert!(
            (0.03..=3.0).contains(&area),
            "{}: {area:.2} km²",
            prop(z, "code")
        );
        total += area;
    }
    assert!(total < 40.0, "urban villages cover {total:.1} km²");
}

fn dist_to_segment(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let t = (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
    ((p[0] - a[0] - t * dx).powi(2) + (p[1] - a[1] - t * dy).powi(2)).sqrt()
}

/// Local metres around 34.72° N (good to ~0.3 % here).
fn metres(p: P) -> [f64; 2] {
    [
        (p.0 as f64 / 1e7 - 113.56) * 91_598.0,
        (p.1 as f64 / 1e7 - 34.72) * 110_935.0,
    ]
}

#[test]
fn frontages_lie_along_a_road_edge_inside_their_grid() {
    let mut roads: BTreeMap<String, Vec<Seg>> = BTreeMap::new();
    for r in features("road.geojson.gz") {
        let pts: Vec<[f64; 2]> = r["geometry"]["coordinates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| metres(q(c)))
            .collect();
        let e = roads.entry(prop(&r, "name").to_string()).or_default();
        for w in pts.windows(2) {
            e.push((w[0], w[1]));
        }
    }
    let grids: BTreeMap<String, MultiPolygon<f64>> = features("grid.geojson.gz")
        .iter()
        .map(|f| (prop(f, "code").to_string(), to_geo(&rings(f))))
        .collect();
    let fronts = features("frontage.geojson.gz");
    assert!(
        (30_000..=50_000).contains(&fronts.len()),
        "{} frontages",
        fronts.len()
    );
    let mut codes = BTreeSet::new();
    for (k, f) in fronts.iter().enumerate() {
        let code = prop(f, "code");
        assert!(codes.insert(code.to_string()), "duplicate {code}");
        assert!(
            code.starts_with(prop(f, "parent_code")) && code.len() == 19 && &code[15..16] == "M"
        );
        if k % 10 != 0 {
            continue;
        }
        let c = f["geometry"]["coordinates"].as_array().unwrap();
        let (a, b) = (q(&c[0]), q(&c[1]));
        let (ma, mb) = (metres(a), metres(b));
        let len = ((ma[0] - mb[0]).powi(2) + (ma[1] - mb[1]).powi(2)).sqrt();
        assert!((7.9..=40.2).contains(&len), "{code}: length {len}");
        let mid = [(ma[0] + mb[0]) / 2.0, (ma[1] + mb[1]) / 2.0];
        let d = roads[prop(f, "road_name")]
            .iter()
            .map(|s| dist_to_segment(mid, s.0, s.1))
            .fold(f64::MAX, f64::min);
        // On the road edge: half-width 3/12/20 m from the centre line, within a few metres.
        assert!(
            (2.0..=23.0).contains(&d),
            "{code}: {d} m from {}",
            prop(f, "road_name")
        );
        let m = Point::new((a.0 + b.0) as f64 / 2e7, (a.1 + b.1) as f64 / 2e7);
        assert!(
            grids[prop(f, "parent_code")].contains(&m),
            "{code}: midpoint outside its grid"
        );
        let depth = f["properties"]["depth_m"].as_f64().unwrap();
        assert!((5.0..=17.0).contains(&depth));
    }
}

#[test]
fn history_has_two_hundred_thousand_reports_with_valid_fields_and_planted_clusters() {
    let truth: Vec<Value> = serde_json::from_slice(&read_bytes("planted_truth.json")).unwrap();
    let counts: BTreeMap<String, u64> = truth
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    let cats: BTreeSet<&str> = [
        "0101", "0102", "0103", "0104", "0105", "0106", "0201", "0202", "0203", "0301", "0302",
        "0401", "0501", "0502", "0601", "0602",
    ]
    .into();
    let channels: BTreeSet<&str> = ["inspector", "citizen", "hotline_12345", "video"].into();
    let bytes = read_bytes("history.csv.gz");
    let mut rdr = csv::Reader::from_reader(&bytes[..]);
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "id",
            "reported_at",
            "category",
            "lon",
            "lat",
            "channel",
            "closed_at",
            "cluster_id"
        ]
    );
    let (mut n, mut clustered, mut open) = (0usize, 0usize, 0usize);
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for r in rdr.records() {
        let r = r.unwrap();
        n += 1;
        let rep = chrono::DateTime::parse_from_rfc3339(&r[1]).unwrap();
        assert!(r[1].ends_with("+08:00"));
        assert!(
            ("2024-11-01".."2026-11-01").contains(&&r[1][..10]),
            "{}",
            &r[1]
        );
        assert!(cats.contains(&r[2]), "category {}", &r[2]);
        let (lon, lat): (f64, f64) = (r[3].parse().unwrap(), r[4].parse().unwrap());
        assert!((113.44..113.68).contains(&lon) && (34.60..34.87).contains(&lat));
        assert!(channels.contains(&r[5]));
        if r[6].is_empty() {
            open += 1;
        } else {
            assert!(chrono::DateTime::parse_from_rfc3339(&r[6]).unwrap() > rep);
        }
        if !r[7].is_empty() {
            clustered += 1;
            *seen.entry(r[7].to_string()).or_default() += 1;
        }
    }
    assert!((190_000..=210_000).contains(&n), "{n} reports");
    let share = clustered as f64 / n as f64;
    assert!((0.25..=0.35).contains(&share), "cluster share {share}");
    assert!(open > 0 && open < n / 50);
    assert_eq!(seen, counts, "cluster sizes match planted_truth.json");
    for kind in ["urban_village", "railway", "back_alley", "recurring_spot"] {
        assert!(truth.iter().any(|c| c["kind"] == kind), "no {kind} cluster");
    }
}

#[test]
fn recurring_spots_come_back_after_being_closed() {
    let truth: Vec<Value> = serde_json::from_slice(&read_bytes("planted_truth.json")).unwrap();
    let spots: Vec<&Value> = truth
        .iter()
        .filter(|c| c["kind"] == "recurring_spot")
        .collect();
    assert!(spots.len() >= 100);
    for s in spots {
        let iv = s["intervals"].as_array().unwrap();
        assert_eq!(iv.len() as u64, s["count"].as_u64().unwrap());
        assert!(iv.len() >= 2);
        for w in iv.windows(2) {
            let closed = w[0][1].as_str().unwrap();
            let next = w[1][0].as_str().unwrap();
            assert!(
                !closed.is_empty() && closed < next,
                "{}: reported again before it was closed",
                s["id"]
            );
        }
    }
}

#[test]
fn railway_and_station_are_where_zhengzhou_has_them() {
    let f = features("railway.geojson");
    let names: BTreeSet<&str> = f.iter().map(|x| prop(x, "name")).collect();
    assert!(names.contains("京广铁路") && names.contains("陇海铁路") && names.contains("郑州站"));
    let st = f.iter().find(|x| prop(x, "name") == "郑州站").unwrap();
    let p = q(&st["geometry"]["coordinates"]);
    assert!((p.0 - 1_136_580_000).abs() < 50_000 && (p.1 - 347_450_000).abs() < 50_000);
}

#[test]
fn the_generator_is_deterministic_and_the_committed_geodata_is_up_to_date() {
    let sources = geodata().join("sources");
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    std::thread::scope(|s| {
        for d in &dirs {
            let sources = sources.clone();
            s.spawn(move || {
                let out = std::process::Command::new(env!("CARGO_BIN_EXE_wangge-generate"))
                    .arg("--sources")
                    .arg(&sources)
                    .arg("--out")
                    .arg(d.path())
                    .args(["--seed", "20231"])
                    .output()
                    .expect("run wangge-generate");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            });
        }
    });
    let list = |p: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(p)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let files = list(dirs[0].path());
    assert_eq!(files, list(dirs[1].path()));
    assert!(files.len() >= 12);
    let mut total = 0u64;
    for name in &files {
        let a = std::fs::read(dirs[0].path().join(name)).unwrap();
        let b = std::fs::read(dirs[1].path().join(name)).unwrap();
        assert!(a == b, "{name} differs between two runs");
        let committed = std::fs::read(geodata().join(name)).unwrap_or_default();
        assert!(
            a == committed,
            "geodata/{name} is out of date: run `cargo run --release --bin wangge-generate`"
        );
        total += a.len() as u64;
    }
    assert!(total < 30_000_000, "geodata is {total} bytes");
}

#[test]
fn frontages_in_a_grid_never_overlap_or_touch() {
    let mut by_grid: BTreeMap<String, Vec<Seg>> = BTreeMap::new();
    for f in features("frontage.geojson.gz") {
        let c = f["geometry"]["coordinates"].as_array().unwrap();
        by_grid
            .entry(prop(&f, "parent_code").to_string())
            .or_default()
            .push((metres(q(&c[0])), metres(q(&c[1]))));
    }
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    for (grid, segs) in by_grid {
        for i in 0..segs.len() {
            for j in i + 1..segs.len() {
                let (a, b) = (segs[i], segs[j]);
                let crossing = cross(a.0, a.1, b.0) * cross(a.0, a.1, b.1) < 0.0
                    && cross(b.0, b.1, a.0) * cross(b.0, b.1, a.1) < 0.0;
                let d = [
                    dist_to_segment(a.0, b.0, b.1),
                    dist_to_segment(a.1, b.0, b.1),
                    dist_to_segment(b.0, a.0, a.1),
                    dist_to_segment(b.1, a.0, a.1),
                ]
                .into_iter()
                .fold(f64::MAX, f64::min);
                assert!(
                    !crossing && d > 0.3,
                    "{grid}: frontages {i} and {j} overlap ({d:.2} m)"
                );
            }
        }
    }
}
