//! Point tiles of live cases: individual pins at street zoom, server-side clusters below it, so a
//! city-wide view with tens of thousands of open cases stays a few kilobytes per tile. Pure: the
//! caller passes the points of the tile (with a margin), already filtered and coloured.

use std::collections::BTreeMap;

use super::pbf::{self, Feature, GeomType, Value};
use super::world;

/// Tile extent (MVT units per tile side).
const EXTENT: u32 = 4096;

/// One case pin.
#[derive(Debug, Clone, PartialEq)]
pub struct CasePoint {
    /// Case id.
    pub id: i64,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// Status (wire name).
    pub status: String,
    /// Deadline light: green, yellow, red, or empty when no clock runs.
    pub light: String,
    /// Category code.
    pub category: String,
    /// Open and past a deadline.
    pub overdue: bool,
}

fn light_rank(l: &str) -> u8 {
    match l {
        "red" => 3,
        "yellow" => 2,
        "green" => 1,
        _ => 0,
    }
}

fn zigzag(v: i64) -> u32 {
    ((v << 1) ^ (v >> 63)) as u32
}

/// Encodes the `cases` layer of tile `z/x/y`. Below `cluster_below` zoom, points closer than
/// `cell_px` pixels (of a 256 px tile) are merged into one cluster feature with `point_count`,
/// the worst light and the overdue count; single points and every point at or above that zoom
/// are pins with their case id. Points outside the tile are skipped.
pub fn cases_tile(
    points: &[CasePoint],
    z: u8,
    x: u32,
    y: u32,
    cluster_below: u8,
    cell_px: u32,
) -> Vec<u8> {
    let n = f64::from(1u32 << z);
    let to_tile = |p: &CasePoint| {
        let [wx, wy] = world(p.lon, p.lat);
        let tx = (wx * n - f64::from(x)) * f64::from(EXTENT);
        let ty = (wy * n - f64::from(y)) * f64::from(EXTENT);
        (tx, ty)
    };
    let inside = |t: (f64, f64)| {
        (0.0..f64::from(EXTENT)).contains(&t.0) && (0.0..f64::from(EXTENT)).contains(&t.1)
    };
    // Cell size in tile units: a 256 px tile has EXTENT/256 units per pixel.
    let cell = f64::from(cell_px.max(1) * (EXTENT / 256));
    // Cell (or case id at pin zoom) → the members with their tile coordinates.
    type Members<'a> = Vec<(&'a CasePoint, (f64, f64))>;
    let mut groups: BTreeMap<(i64, i64), Members> = BTreeMap::new();
    for p in points {
        let t = to_tile(p);
        if !inside(t) {
            continue;
        }
        let key = if z < cluster_below {
            ((t.0 / cell) as i64, (t.1 / cell) as i64)
        } else {
            // One group per point: never clustered.
            (p.id, i64::MIN)
        };
        groups.entry(key).or_default().push((p, t));
    }
    let keys = [
        "id",
        "status",
        "light",
        "category",
        "overdue",
        "cluster",
        "point_count",
    ];
    let mut values: Vec<Value> = Vec::new();
    let mut value_index: BTreeMap<String, u32> = BTreeMap::new();
    let mut intern = |v: Value| -> u32 {
        let k = match &v {
            Value::Text(t) => format!("t{t}"),
            Value::Number(d) => format!("n{d}"),
        };
        *value_index.entry(k).or_insert_with(|| {
            values.push(v);
            (values.len() - 1) as u32
        })
    };
    let mut features = Vec::with_capacity(groups.len());
    for members in groups.values() {
        let (sx, sy) = members
            .iter()
            .fold((0.0, 0.0), |(a, b), (_, t)| (a + t.0, b + t.1));
        let k = members.len() as f64;
        let (px, py) = ((sx / k).round() as i64, (sy / k).round() as i64);
        let worst = members
            .iter()
            .map(|(p, _)| p.light.as_str())
            .max_by_key(|l| light_rank(l))
            .unwrap_or("");
        let overdue = members.iter().filter(|(p, _)| p.overdue).count();
        let mut tags = Vec::new();
        let (id, cluster) = if members.len() == 1 {
            let p = members[0].0;
            tags.extend([0, intern(Value::Number(p.id as f64))]);
            tags.extend([1, intern(Value::Text(p.status.as_str().into()))]);
            tags.extend([3, intern(Value::Text(p.category.as_str().into()))]);
            (p.id.max(0) as u64, false)
        } else {
            tags.extend([6, intern(Value::Number(k))]);
            // Cluster ids only need to be unique within the tile.
            (features.len() as u64 + 1, true)
        };
        tags.extend([2, intern(Value::Text(worst.into()))]);
        tags.extend([4, intern(Value::Number(overdue as f64))]);
        tags.extend([
            5,
            intern(Value::Text(if cluster { "1" } else { "0" }.into())),
        ]);
        features.push(Feature {
            id,
            tags,
            kind: GeomType::Point,
            geometry: vec![9, zigzag(px), zigzag(py)],
        });
    }
    if features.is_empty() {
        return Vec::new();
    }
    pbf::encode_layer("cases", &features, &keys, &values, EXTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::decode;

    fn pin(id: i64, lon: f64, lat: f64, light: &str) -> CasePoint {
        CasePoint {
            id,
            lon,
            lat,
            status: "dispatched".into(),
            light: light.into(),
            category: "0101".into(),
            overdue: light == "red",
        }
    }

    fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
        let [wx, wy] = world(lon, lat);
        let n = f64::from(1u32 << z);
        ((wx * n) as u32, (wy * n) as u32)
    }

    #[test]
    fn near_pins_cluster_at_city_zoom_with_the_worst_light_and_split_at_street_zoom() {
        let pts = vec![
            pin(1, 113.6200, 34.7400, "green"),
            pin(2, 113.6201, 34.7401, "red"),
            pin(3, 113.6202, 34.7399, "yellow"),
        ];
        let (x, y) = tile_of(113.62, 34.74, 12);
        let t = decode(&cases_tile(&pts, 12, x, y, 15, 40)).unwrap();
        assert_eq!(t[0].0, "cases");
        assert_eq!(t[0].1.len(), 1);
        let c = &t[0].1[0].props;
        assert_eq!(c["point_count"], "3");
        assert_eq!(c["light"], "red");
        assert_eq!(c["overdue"], "1");
        assert_eq!(c["cluster"], "1");

        let (x, y) = tile_of(113.62, 34.74, 16);
        let t = decode(&cases_tile(&pts, 16, x, y, 15, 40)).unwrap();
        let mut ids: Vec<u64> = t[0].1.iter().map(|f| f.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, [1, 2, 3]);
        assert!(
            t[0].1
                .iter()
                .all(|f| f.paths.len() == 1 && f.paths[0].len() == 1)
        );
    }

    #[test]
    fn points_of_other_tiles_are_left_out_and_an_empty_tile_is_empty() {
        let pts = vec![pin(1, 113.62, 34.74, "green")];
        let (x, y) = tile_of(113.62, 34.74, 14);
        assert!(cases_tile(&pts, 14, x + 1, y, 15, 40).is_empty());
        assert!(!cases_tile(&pts, 14, x, y, 15, 40).is_empty());
    }
}
