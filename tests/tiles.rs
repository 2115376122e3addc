//! Vector tiles over the whole demo city: contents, no gaps between neighbours, caching, errors.

use crate::common;

use std::collections::{HashMap, HashSet};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use common::{TestApp, spawn_demo_app};
use geo::BoundingRect;
use http_body_util::BodyExt;
use tower::ServiceExt;
use wangge::assign::NONE;
use wangge::http::HttpSettings;
use wangge::tiles::{DecodedFeature, decode, ring_area2, tile_bounds, world};

/// Inside 二七区, near 郑州站 (WGS84).
const STATION: (f64, f64) = (113.6584, 34.7459);

struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

async fn raw(app: &TestApp, path: &str, if_none_match: Option<&str>) -> Raw {
    let mut req = Request::builder().method(Method::GET).uri(path);
    if let Some(tag) = if_none_match {
        req = req.header(header::IF_NONE_MATCH, tag);
    }
    let res = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    Raw {
        status,
        headers,
        bytes,
    }
}

fn tile_of(z: u8, (lon, lat): (f64, f64)) -> (u32, u32) {
    let [wx, wy] = world(lon, lat);
    let n = f64::from(1u32 << z);
    ((wx * n) as u32, (wy * n) as u32)
}

/// Tile coordinates back to WGS84.
fn lonlat(z: u8, x: u32, y: u32, p: [f64; 2]) -> (f64, f64) {
    let n = f64::from(1u32 << z);
    let wx = (f64::from(x) + p[0] / 4096.0) / n;
    let wy = (f64::from(y) + p[1] / 4096.0) / n;
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * wy)).sinh().atan();
    (wx * 360.0 - 180.0, lat.to_degrees())
}

async fn features(app: &TestApp, layer: &str, z: u8, x: u32, y: u32) -> Vec<DecodedFeature> {
    let r = raw(app, &format!("/tiles/{layer}/{z}/{x}/{y}.mvt"), None).await;
    if r.status == StatusCode::NO_CONTENT {
        assert!(r.bytes.is_empty());
        return Vec::new();
    }
    assert_eq!(r.status, StatusCode::OK, "{layer}/{z}/{x}/{y}");
    assert_eq!(
        r.headers[header::CONTENT_TYPE],
        "application/vnd.mapbox-vector-tile"
    );
    let mut layers = decode(&r.bytes).expect("a valid MVT");
    if layers.is_empty() {
        return Vec::new();
    }
    assert_eq!(layers.len(), 1);
    let (name, features) = layers.remove(0);
    assert_eq!(name, layer);
    features
}

/// Every polygon edge inside the tile is covered, along its whole length, by edges of the
/// opposite direction (a neighbour's copy of the shared boundary), unless it is the city's own
/// outline: there a point just beside the edge lies in no grid at all. Returns how many edges
/// were matched.
///
/// The source's own seams are excused: where one grid has a vertex that no other grid has (a
/// T-junction, or one of the sub-square-metre slivers validation tolerates), quantization cannot
/// invent the neighbour's missing vertex. Edges ending at such a point are not checked.
fn assert_no_gaps(
    index: &wangge::assign::CityIndex,
    source: &geojson::FeatureCollection,
    z: u8,
    x: u32,
    y: u32,
    fs: &[DecodedFeature],
) -> usize {
    let scale = f64::from(1u32 << z) * 4096.0;
    let mut users: HashMap<(u64, u64), HashSet<usize>> = HashMap::new();
    for (i, f) in source.features.iter().enumerate() {
        let g: geo::Geometry<f64> = f.geometry.clone().unwrap().try_into().unwrap();
        for c in geo::CoordsIter::coords_iter(&g) {
            users
                .entry((c.x.to_bits(), c.y.to_bits()))
                .or_default()
                .insert(i);
        }
    }
    let mut shared_at: HashMap<[i64; 2], bool> = HashMap::new();
    for ((lon, lat), who) in &users {
        let [wx, wy] = world(f64::from_bits(*lon), f64::from_bits(*lat));
        let p = [
            (wx * scale).round() as i64 - i64::from(x) * 4096,
            (wy * scale).round() as i64 - i64::from(y) * 4096,
        ];
        *shared_at.entry(p).or_default() |= who.len() > 1;
    }
    let private = |p: [i64; 2]| shared_at.get(&p) == Some(&false);
    // Edges grouped by the line they lie on: (direction reduced by its gcd, offset).
    type Key = (i64, i64, i128);
    type Edge = ([i64; 2], [i64; 2]);
    let mut lines: HashMap<Key, Vec<Edge>> = HashMap::new();
    let mut edges = Vec::new();
    fn gcd(a: i64, b: i64) -> i64 {
        if b == 0 { a.abs() } else { gcd(b, a % b) }
    }
    let key = |a: [i64; 2], b: [i64; 2]| -> Key {
        let (mut dx, mut dy) = (b[0] - a[0], b[1] - a[1]);
        let g = gcd(dx, dy);
        (dx, dy) = (dx / g, dy / g);
        if dx < 0 || (dx == 0 && dy < 0) {
            (dx, dy) = (-dx, -dy);
        }
        let offset = i128::from(dx) * i128::from(a[1]) - i128::from(dy) * i128::from(a[0]);
        (dx, dy, offset)
    };
    for f in fs {
        assert!(f.polygon);
        for ring in &f.paths {
            assert!(
                ring.len() >= 3,
                "a ring of {} points in {:?}",
                ring.len(),
                f.props
            );
            for i in 0..ring.len() {
                let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
                assert_ne!(a, b, "repeated point in {:?}", f.props);
                lines.entry(key(a, b)).or_default().push((a, b));
                edges.push((a, b));
            }
        }
        assert!(ring_area2(&f.paths[0]) > 0, "exterior ring is clockwise");
    }
    let inside = |p: [f64; 2]| p.iter().all(|&v| (0.0..=4096.0).contains(&v));
    let mut matched = 0;
    for &(a, b) in &edges {
        let mid = [(a[0] + b[0]) as f64 / 2.0, (a[1] + b[1]) as f64 / 2.0];
        if !inside(mid) {
            continue;
        }
        let (dx, dy) = ((b[0] - a[0]) as f64, (b[1] - a[1]) as f64);
        let len2 = dx * dx + dy * dy;
        let t = |p: [i64; 2]| ((p[0] - a[0]) as f64 * dx + (p[1] - a[1]) as f64 * dy) / len2;
        // Parameter intervals along a→b covered by reversed edges on the same line.
        let mut cover: Vec<(f64, f64)> = lines[&key(a, b)]
            .iter()
            .filter(|(c, d)| ((d[0] - c[0]) as f64 * dx + (d[1] - c[1]) as f64 * dy) < 0.0)
            .map(|&(c, d)| (t(d).max(0.0), t(c).min(1.0)))
            .filter(|(s, e)| s < e)
            .collect();
        cover.sort_by(|p, q| p.0.total_cmp(&q.0));
        let mut reached = 0.0f64;
        let mut holes = Vec::new();
        for (s, e) in cover {
            if s > reached {
                holes.push((reached, s));
            }
            reached = reached.max(e);
        }
        if reached < 1.0 {
            holes.push((reached, 1.0));
        }
        if holes.is_empty() {
            matched += 1;
            continue;
        }
        if private(a) || private(b) {
            continue;
        }
        for (s, e) in holes {
            // The uncovered part must be the city's outline: one side of it is in no grid.
            let m = (s + e) / 2.0;
            let p = [mid[0] + (m - 0.5) * dx, mid[1] + (m - 0.5) * dy];
            let len = len2.sqrt();
            let (nx, ny) = (-dy / len * 2.0, dx / len * 2.0);
            let outside = [[p[0] + nx, p[1] + ny], [p[0] - nx, p[1] - ny]]
                .iter()
                .any(|&q| {
                    let (lon, lat) = lonlat(z, x, y, q);
                    index.locate(lon, lat).grid == NONE
                });
            let near: Vec<_> = fs
                .iter()
                .filter_map(|f| {
                    let pts: Vec<_> = f.paths[0]
                        .iter()
                        .filter(|p| (p[0] - a[0]).abs() <= 3 && (p[1] - a[1]).abs() <= 3)
                        .collect();
                    (!pts.is_empty()).then(|| (f.props["code"].clone(), pts))
                })
                .collect();
            assert!(
                outside,
                "gap: edge {a:?}→{b:?} of tile {z}/{x}/{y} has no neighbour on {s:.3}..{e:.3} and is not the city's edge; near: {near:?}"
            );
        }
    }
    matched
}

#[tokio::test]
async fn tiles_hold_the_features_of_their_area_without_gaps_and_bad_addresses_are_refused() {
    let app = spawn_demo_app(HttpSettings::default()).await;
    let index = app.state.live().current();

    // A z14 grid tile holds exactly the grids that reach into it.
    let (x, y) = tile_of(14, STATION);
    let got = features(&app, "grid", 14, x, y).await;
    let codes: HashSet<String> = got.iter().map(|f| f.props["code"].clone()).collect();
    assert_eq!(codes.len(), got.len(), "each grid once");
    let [w, s, e, n] = tile_bounds(14, x, y);
    let pad = (e - w) * 64.0 / 4096.0;
    let grids: geojson::FeatureCollection =
        wangge::import::read_text(&common::demo_city().join("grid.geojson.gz"))
            .unwrap()
            .parse()
            .unwrap();
    let mut expected = 0;
    for f in &grids.features {
        let code = f.property("code").unwrap().as_str().unwrap();
        let g: geo::Geometry<f64> = f.geometry.clone().unwrap().try_into().unwrap();
        let r = g.bounding_rect().unwrap();
        let vertex_inside =
            geo::CoordsIter::coords_iter(&g).any(|c| c.x > w && c.x < e && c.y > s && c.y < n);
        let meets_buffered = r.min().x <= e + pad
            && r.max().x >= w - pad
            && r.min().y <= n + pad
            && r.max().y >= s - pad;
        if vertex_inside {
            expected += 1;
            assert!(codes.contains(code), "grid {code} reaches into the tile");
        }
        if codes.contains(code) {
            assert!(meets_buffered, "grid {code} is far from the tile");
        }
    }
    assert!(
        expected > 100,
        "{expected} grids in a z14 tile near the station"
    );
    let one = &got[0];
    assert_eq!(one.props["code"].len(), 15);
    assert!(one.props["parent_code"].len() == 12);
    assert!(one.props.contains_key("name") && one.props.contains_key("unit_code"));

    // No gaps between neighbouring grids, at a coarse and a fine zoom.
    for z in [12u8, 16] {
        let (x, y) = tile_of(z, STATION);
        let fs = features(&app, "grid", z, x, y).await;
        assert!(!fs.is_empty());
        let matched = assert_no_gaps(&index, &grids, z, x, y, &fs);
        assert!(matched > fs.len(), "z{z}: {matched} shared edges matched");
    }
    // Communities at z10 are heavily quantized, and still meet without gaps.
    let (x, y) = tile_of(10, STATION);
    let fs = features(&app, "community", 10, x, y).await;
    assert!(fs.len() > 50, "{}", fs.len());
    let communities: geojson::FeatureCollection =
        wangge::import::read_text(&common::demo_city().join("community.geojson"))
            .unwrap()
            .parse()
            .unwrap();
    assert_no_gaps(&index, &communities, 10, x, y, &fs);

    // Frontages from z14, with their shop.
    let (x, y) = tile_of(16, STATION);
    let fronts = features(&app, "frontage", 16, x, y).await;
    assert!(!fronts.is_empty());
    assert!(
        fronts
            .iter()
            .all(|f| !f.polygon && f.paths.iter().all(|p| p.len() >= 2))
    );
    assert!(fronts[0].props.contains_key("shop_type"));
    assert!(fronts[0].props["depth_m"].parse::<f64>().unwrap() > 0.0);
    let (x, y) = tile_of(13, STATION);
    assert!(
        features(&app, "frontage", 13, x, y).await.is_empty(),
        "below z14"
    );
    assert!(!features(&app, "street", 13, x, y).await.is_empty());

    // Outside the city, and outside the zoom range: no feature, 204 No Content (with its tag).
    let (x, y) = tile_of(14, (116.39, 39.91));
    let r = raw(&app, &format!("/tiles/grid/14/{x}/{y}.mvt"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.bytes.is_empty());
    assert!(r.headers.contains_key(header::ETAG));
    let (x, y) = tile_of(11, STATION);
    assert!(features(&app, "grid", 11, x, y).await.is_empty());
    let (x, y) = tile_of(19, STATION);
    assert!(features(&app, "grid", 19, x, y).await.is_empty());

    // Bad addresses are JSON errors with stable codes.
    for (path, status, code) in [
        ("/tiles/province/14/1/1.mvt", 404, "not_found"),
        ("/tiles/grid/14/1/1.png", 400, "invalid_tile"),
        ("/tiles/grid/14/x/1.mvt", 400, "invalid_tile"),
        ("/tiles/grid/-1/1/1.mvt", 400, "invalid_tile"),
        ("/tiles/grid/3/8/1.mvt", 400, "invalid_tile"),
        ("/tiles/grid/25/1/1.mvt", 400, "invalid_tile"),
        ("/tiles/grid/99999999999/1/1.mvt", 400, "invalid_tile"),
        ("/tiles/grid/14/1", 404, "not_found"),
    ] {
        let a = app.get(path, None).await;
        assert_eq!(a.status.as_u16(), status, "{path}: {}", a.text);
        assert_eq!(a.body["code"], code, "{path}");
    }
}

#[tokio::test]
async fn a_tile_answers_304_to_its_etag_until_an_import_publishes_new_data() {
    let app = spawn_demo_app(HttpSettings::default()).await;
    let (x, y) = tile_of(12, STATION);
    let path = format!("/tiles/street/12/{x}/{y}.mvt");
    let first = raw(&app, &path, None).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.headers[header::CACHE_CONTROL], "public, max-age=60");
    let tag = first.headers[header::ETAG].to_str().unwrap().to_owned();
    assert!(tag.starts_with("W/\"") && tag.ends_with('"'), "{tag}");
    let again = raw(&app, &path, None).await;
    assert_eq!(again.bytes, first.bytes, "same data, same bytes");
    assert_eq!(again.headers[header::ETAG], tag.as_str());
    let other = raw(&app, &format!("/tiles/grid/12/{x}/{y}.mvt"), None).await;
    assert_ne!(
        other.headers[header::ETAG],
        tag.as_str(),
        "the layer is in the tag"
    );

    let cached = raw(&app, &path, Some(&tag)).await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
    assert!(cached.bytes.is_empty());
    assert_eq!(cached.headers[header::ETAG], tag.as_str());
    let listed = raw(&app, &path, Some(&format!("\"nope\", {tag}"))).await;
    assert_eq!(listed.status, StatusCode::NOT_MODIFIED);
    let strong = tag.trim_start_matches("W/");
    let listed = raw(&app, &path, Some(strong)).await;
    assert_eq!(listed.status, StatusCode::NOT_MODIFIED);
    let stale = raw(&app, &path, Some("\"nope\"")).await;
    assert_eq!(stale.status, StatusCode::OK);

    // Renaming every street publishes a new version: new tag, new contents.
    let a = app
        .republish_renamed("street.geojson", "street", "?accept_warnings=true")
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let after = raw(&app, &path, Some(&tag)).await;
    assert_eq!(
        after.status,
        StatusCode::OK,
        "the old tag no longer matches"
    );
    assert_ne!(after.headers[header::ETAG], tag.as_str());
    let names: Vec<String> = decode(&after.bytes).unwrap()[0]
        .1
        .iter()
        .map(|f| f.props["name"].clone())
        .collect();
    assert!(
        !names.is_empty() && names.iter().all(|n| n.ends_with("(新)")),
        "{names:?}"
    );
}

#[tokio::test]
async fn tiles_are_cut_once_kept_gzipped_and_a_publish_evicts_the_old_ones() {
    use flate2::read::GzDecoder;
    use std::io::Read;
    let app = spawn_demo_app(HttpSettings::default()).await;
    let (x, y) = tile_of(12, STATION);
    let path = format!("/tiles/grid/12/{x}/{y}.mvt");
    let gzip_get = |path: String| {
        let router = app.router.clone();
        async move {
            let req = Request::builder()
                .uri(path)
                .header(header::ACCEPT_ENCODING, "gzip, deflate, br")
                .body(Body::empty())
                .unwrap();
            let res = router.oneshot(req).await.unwrap();
            let headers = res.headers().clone();
            let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
            (headers, bytes)
        }
    };

    // Sixteen requests for one cold tile at once: one cut.
    let cuts = app.state.tile_cache().cuts();
    let answers = futures_util::future::join_all((0..16).map(|_| gzip_get(path.clone()))).await;
    assert_eq!(
        app.state.tile_cache().cuts() - cuts,
        1,
        "one cut for sixteen requests"
    );
    let (headers, gz) = &answers[0];
    assert!(answers.iter().all(|(_, b)| b == gz));
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(headers[header::VARY], "accept-encoding");
    let mut unzipped = Vec::new();
    GzDecoder::new(&gz[..]).read_to_end(&mut unzipped).unwrap();

    // A client without gzip gets the same tile uncompressed, from the same cache entry.
    let plain = raw(&app, &path, None).await;
    assert!(plain.headers.get(header::CONTENT_ENCODING).is_none());
    assert_eq!(plain.bytes, unzipped);
    assert!(
        gz.len() < plain.bytes.len() / 2,
        "{} vs {}",
        gz.len(),
        plain.bytes.len()
    );
    assert!(!decode(&plain.bytes).unwrap()[0].1.is_empty());
    assert_eq!(app.state.tile_cache().cuts() - cuts, 1);
    let (bytes, entries) = app.state.tile_cache().usage();
    assert_eq!(entries, 1);
    assert!(bytes >= gz.len() && bytes <= app.state.settings().tile_cache_bytes);

    // A publish makes a new version: the old tiles are evicted, the new one cut once.
    let a = app
        .republish_renamed("street.geojson", "street", "?accept_warnings=true")
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let _ = gzip_get(path.clone()).await;
    assert_eq!(app.state.tile_cache().cuts() - cuts, 2);
    assert_eq!(
        app.state.tile_cache().usage().1,
        1,
        "only the new version's tile is kept"
    );
}

/// A cut is CPU work: more at once than cores only adds blocking threads, each keeping its own
/// malloc arena (the unexplained ~90 MB of the first HTTP benchmark).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cold_tiles_asked_for_at_once_are_cut_at_most_one_per_core_at_a_time() {
    let app = spawn_demo_app(HttpSettings::default()).await;
    let (x0, y0) = tile_of(14, STATION);
    let get = |dx: u32, dy: u32| {
        let router = app.router.clone();
        async move {
            let req = Request::builder()
                .uri(format!(
                    "/tiles/grid/14/{}/{}.mvt",
                    x0 + dx - 3,
                    y0 + dy - 3
                ))
                .body(Body::empty())
                .unwrap();
            router.oneshot(req).await.unwrap().status()
        }
    };
    let cuts = app.state.tile_cache().cuts();
    let statuses = futures_util::future::join_all(
        (0..6)
            .flat_map(|dx| (0..6).map(move |dy| (dx, dy)))
            .map(|(dx, dy)| get(dx, dy)),
    )
    .await;
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::NO_CONTENT)
    );
    assert_eq!(
        app.state.tile_cache().cuts() - cuts,
        36,
        "36 different cold tiles"
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let peak = app.state.tile_cache().peak_concurrent_cuts();
    assert!(
        (1..=cores).contains(&peak),
        "{peak} cuts at once on {cores} cores"
    );
}

#[tokio::test]
async fn the_tile_cache_never_holds_more_than_its_budget() {
    let app = spawn_demo_app(HttpSettings {
        tile_cache_bytes: 64 * 1024,
        ..HttpSettings::default()
    })
    .await;
    let (x0, y0) = tile_of(14, STATION);
    for dx in 0..4 {
        for dy in 0..4 {
            let r = raw(
                &app,
                &format!("/tiles/grid/14/{}/{}.mvt", x0 + dx, y0 + dy),
                None,
            )
            .await;
            assert!(r.status == StatusCode::OK || r.status == StatusCode::NO_CONTENT);
            assert!(app.state.tile_cache().usage().0 <= 64 * 1024);
        }
    }
    assert!(app.state.tile_cache().usage().1 > 1);
}
