//! A second city, not Zhengzhou: a small invented part of 兰州 (Lanzhou) with its own names and
//! codes, built on a regular WGS84 lattice so the owner of any point can be computed by
//! arithmetic alone, and written out in BD-09 (Baidu) coordinates, the system furthest from the
//! demo city's. The BD-09 conversion here is written from the published formulas, independently
//! of the crate's.

use std::f64::consts::PI;
use std::fmt::Write as _;

use serde_json::{Value, json};

/// South-west corner of the lattice, WGS84.
const LON0: f64 = 103.8100;
const LAT0: f64 = 36.0500;
/// Lattice step, degrees: about 180 m east–west and 222 m north–south, 40,000 m² per grid.
const STEP: f64 = 0.002;
/// Grids per community: 3 columns × 2 rows; communities 2 × 2 per street; 2 streets side by side.
const COLS: usize = 12;
const ROWS: usize = 4;

pub const DISTRICT: &str = "620102";
pub const DISTRICT_NAME: &str = "城关区";
const STREETS: [(&str, &str); 2] = [("620102001", "东岗西路街道"), ("620102002", "雁南街道")];
const COMMUNITIES: [&str; 4] = ["金城社区", "黄河社区", "雁滩社区", "东岗社区"];

/// The street, community and grid a lattice cell belongs to, with the grid's owner.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub street: String,
    pub community: String,
    pub grid: String,
    pub owner: String,
}

/// The cell at column `c` (0..12, west to east) and row `r` (0..4, south to north).
pub fn cell(c: usize, r: usize) -> Cell {
    let s = c / 6; // street: west or east half
    let community_index = s * 2 + r / 2; // two communities per street, south then north
    let street = STREETS[s].0.to_owned();
    let community = format!("{street}{:03}", community_index % 2 + 1);
    let seq = (r % 2) * 6 + c % 6 + 1;
    let grid = format!("{community}{seq:03}");
    // Every grid is owned by its community committee, except the east street's northern
    // community, whose grids are each owned by a grid-keeping company of their own.
    let owner = if community_index == 3 {
        format!("grid-keeper-{grid}")
    } else {
        format!("cc-{community}")
    };
    Cell {
        street,
        community,
        grid,
        owner,
    }
}

/// The expected cell of a WGS84 point, by arithmetic; None when it lies within `margin_deg` of a
/// lattice line or outside the lattice.
pub fn expected(lon: f64, lat: f64, margin_deg: f64) -> Option<Cell> {
    let x = (lon - LON0) / STEP;
    let y = (lat - LAT0) / STEP;
    let m = margin_deg / STEP;
    if x < m || y < m || x > COLS as f64 - m || y > ROWS as f64 - m {
        return None;
    }
    if (x - x.round()).abs() < m || (y - y.round()).abs() < m {
        return None;
    }
    Some(cell(x.floor() as usize, y.floor() as usize))
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    ret
}

fn transform_lon(x: f64, y: f64) -> f64 {
    let mut ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    ret
}

/// WGS84 → BD-09 (via GCJ-02), the published formulas.
pub fn wgs84_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    const A: f64 = 6_378_245.0;
    const EE: f64 = 0.006_693_421_622_965_943;
    let dlat = transform_lat(lon - 105.0, lat - 35.0);
    let dlon = transform_lon(lon - 105.0, lat - 35.0);
    let radlat = lat / 180.0 * PI;
    let magic = 1.0 - EE * radlat.sin() * radlat.sin();
    let sqrtmagic = magic.sqrt();
    let glat = lat + (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrtmagic) * PI);
    let glon = lon + (dlon * 180.0) / (A / sqrtmagic * radlat.cos() * PI);
    let x_pi = PI * 3000.0 / 180.0;
    let z = (glon * glon + glat * glat).sqrt() + 0.00002 * (glat * x_pi).sin();
    let theta = glat.atan2(glon) + 0.000003 * (glon * x_pi).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

fn node(c: usize, r: usize) -> (f64, f64) {
    (LON0 + c as f64 * STEP, LAT0 + r as f64 * STEP)
}

/// The ring of the lattice rectangle [c0, c1] × [r0, r1], counter-clockwise, through every
/// lattice node on its boundary, so neighbours share exactly the same vertices, in BD-09.
fn ring(c0: usize, r0: usize, c1: usize, r1: usize) -> Value {
    let mut nodes = Vec::new();
    nodes.extend((c0..c1).map(|c| (c, r0)));
    nodes.extend((r0..r1).map(|r| (c1, r)));
    nodes.extend((c0 + 1..=c1).rev().map(|c| (c, r1)));
    nodes.extend((r0 + 1..=r1).rev().map(|r| (c0, r)));
    nodes.push((c0, r0));
    let coords: Vec<Value> = nodes
        .into_iter()
        .map(|(c, r)| {
            let (lon, lat) = node(c, r);
            let (x, y) = wgs84_to_bd09(lon, lat);
            json!([x, y])
        })
        .collect();
    json!({ "type": "Polygon", "coordinates": [coords] })
}

fn feature(geometry: Value, props: Value) -> Value {
    json!({ "type": "Feature", "geometry": geometry, "properties": props })
}

fn collection(features: Vec<Value>) -> Value {
    json!({ "type": "FeatureCollection", "features": features })
}

/// A road along the lattice row `r` (WGS84 lattice, written in BD-09).
fn road_line(r: usize) -> Value {
    let coords: Vec<Value> = (0..=COLS)
        .map(|c| {
            let (lon, lat) = node(c, r);
            let (x, y) = wgs84_to_bd09(lon, lat);
            json!([x, y])
        })
        .collect();
    json!({ "type": "LineString", "coordinates": coords })
}

/// The frontage of a shop: along row 2's road, from column `c` + 0.2 to + 0.6, in BD-09.
fn frontage_line(c: usize) -> Value {
    let (lon, lat) = node(c, 2);
    let a = wgs84_to_bd09(lon + STEP * 0.2, lat + 0.00005);
    let b = wgs84_to_bd09(lon + STEP * 0.6, lat + 0.00005);
    json!({ "type": "LineString", "coordinates": [[a.0, a.1], [b.0, b.1]] })
}

/// The columns whose cell just north of road row 2 has a shop frontage.
pub const SHOP_COLUMNS: [usize; 2] = [1, 8];

/// A WGS84 point 3 m north of the frontage of the shop in column `c`, inside its 8 m strip.
pub fn point_in_frontage_strip(c: usize) -> (f64, f64) {
    let (lon, lat) = node(c, 2);
    (lon + STEP * 0.4, lat + 0.00005 + 0.000027)
}

pub fn shop_unit(c: usize) -> String {
    format!("shop-lz-{c:02}")
}

/// The city as files: (name, contents).
pub fn files() -> Vec<(String, String)> {
    // Units, with the Chinese headings a clerk's spreadsheet has.
    let mut units = String::from("单位编码,单位名称,单位类型,上级单位编码\n");
    writeln!(units, "dept-{DISTRICT}-cgzf,城关区城市管理局,department,").unwrap();
    writeln!(units, "dept-{DISTRICT}-hw,城关区环境卫生管理所,department,").unwrap();
    for (code, name) in STREETS {
        writeln!(units, "so-{code},{name}办事处,street_office,").unwrap();
    }
    let mut communities = Vec::new();
    let mut grids = Vec::new();
    for c in 0..COLS {
        for r in 0..ROWS {
            let cell = cell(c, r);
            if !communities.contains(&cell.community) {
                communities.push(cell.community.clone());
            }
            grids.push((c, r, cell));
        }
    }
    for (i, code) in communities.iter().enumerate() {
        let street = &code[..9];
        writeln!(
            units,
            "cc-{code},{}居委会,community_committee,so-{street}",
            COMMUNITIES[i]
        )
        .unwrap();
    }
    for (_, _, cell) in &grids {
        if cell.owner.starts_with("grid-keeper-") {
            writeln!(
                units,
                "{},网格保洁公司{},organisation,",
                cell.owner,
                &cell.grid[12..]
            )
            .unwrap();
        }
    }
    for c in SHOP_COLUMNS {
        writeln!(units, "{},兰州牛肉面馆{c},shop,", shop_unit(c)).unwrap();
    }

    let district = collection(vec![feature(
        ring(0, 0, COLS, ROWS),
        json!({ "code": DISTRICT, "name": DISTRICT_NAME, "parent_code": "620100" }),
    )]);
    let streets = collection(
        STREETS
            .iter()
            .enumerate()
            .map(|(s, (code, name))| {
                feature(
                    ring(s * 6, 0, s * 6 + 6, ROWS),
                    json!({ "code": code, "name": name, "parent_code": DISTRICT, "unit_code": format!("so-{code}") }),
                )
            })
            .collect(),
    );
    // Communities: each 6 columns × 2 rows; the Chinese property names of a shapefile export.
    let community_features = (0..2)
        .flat_map(|s| (0..2).map(move |half| (s, half)))
        .map(|(s, half)| {
            let code = cell(s * 6, half * 2).community;
            let i = communities.iter().position(|c| *c == code).unwrap();
            feature(
                ring(s * 6, half * 2, s * 6 + 6, half * 2 + 2),
                json!({ "编码": code, "名称": COMMUNITIES[i], "上级编码": &code[..9], "unit_code": format!("cc-{code}"), "committee": "residents" }),
            )
        })
        .collect();
    let grid_features = grids
        .iter()
        .map(|(c, r, cell)| {
            feature(
                ring(*c, *r, c + 1, r + 1),
                json!({ "code": cell.grid, "name": format!("{}网格", &cell.grid[9..]), "parent_code": cell.community, "unit_code": cell.owner }),
            )
        })
        .collect();
    let frontages = SHOP_COLUMNS
        .iter()
        .map(|&c| {
            feature(
                frontage_line(c),
                json!({ "code": format!("LZ-F{c:02}"), "name": format!("兰州牛肉面馆{c}"), "parent_code": cell(c, 2).grid,
                        "unit_code": shop_unit(c), "depth_m": 8, "shop_type": "餐饮", "road_name": "东岗西路" }),
            )
        })
        .collect();
    let zones = collection(vec![feature(
        ring(10, 3, 11, 4),
        json!({ "code": "LZ-UV-01", "name": "雁滩村", "zone_kind": "urban_village" }),
    )]);
    let roads = collection(vec![feature(
        road_line(2),
        json!({ "name": "东岗西路", "class": "main" }),
    )]);
    // Lanzhou's own rule table: its 城管局 also decides what no rule routes (no 创文办 unit).
    let rules = json!({
        "source": "兰州市城关区数字城管案件派遣规则（测试用）",
        "triage_department": "cgzf",
        "rules": [
            {"id": "unassigned", "name": "网格外：交城管局研判", "when": {"place": "unassigned"}, "then": {"to": "triage"}},
            {"id": "village_garbage", "name": "城中村暴露垃圾：属地社区", "when": {"place": "urban_village", "categories": ["0101"]}, "then": {"to": "territorial"}},
            {"id": "frontage_shop", "name": "门前三包：商户自行整改",
             "when": {"place": "frontage", "frontage_category": true},
             "then": {"to": "shop", "self_fix": {"unit": "working_hours", "value": 2}, "step": {"unit": "working_hours", "value": 2}, "enforcement": "cgzf"}},
            {"id": "department", "name": "按类别派至职能部门", "then": {"to": "department"}},
            {"id": "territorial", "name": "属地兜底", "then": {"to": "territorial"}}
        ]
    });
    vec![
        ("dispatch_rules.json".into(), rules.to_string()),
        ("units.csv".into(), units),
        ("road.geojson".into(), roads.to_string()),
        ("district.geojson".into(), district.to_string()),
        ("street.geojson".into(), streets.to_string()),
        (
            "community.geojson".into(),
            collection(community_features).to_string(),
        ),
        ("grid.geojson".into(), collection(grid_features).to_string()),
        ("frontage.geojson".into(), collection(frontages).to_string()),
        ("zone.geojson".into(), zones.to_string()),
    ]
}

/// The city as one `POST /api/import/city` body.
pub fn upload() -> Value {
    let mut body = json!({ "layers": {}, "basemap": {} });
    for (name, text) in files() {
        match name.split_once('.') {
            Some(("units", _)) => body["units"] = text.into(),
            Some(("dispatch_rules", _)) => {
                body["dispatch_rules"] = serde_json::from_str(&text).unwrap();
            }
            Some(("road", _)) => {
                body["basemap"]["road"] = serde_json::from_str(&text).unwrap();
            }
            Some((layer, _)) => body["layers"][layer] = serde_json::from_str(&text).unwrap(),
            None => unreachable!(),
        }
    }
    body
}

/// WGS84 sample points over the whole lattice and a little beyond, in a fixed pseudo-random order.
pub fn sample_points(n: usize) -> Vec<(f64, f64)> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            (
                LON0 - STEP * 0.5 + next() * STEP * (COLS as f64 + 1.0),
                LAT0 - STEP * 0.5 + next() * STEP * (ROWS as f64 + 1.0),
            )
        })
        .collect()
}
