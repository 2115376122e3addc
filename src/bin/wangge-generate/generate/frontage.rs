//! 门前三包 frontage segments: the strip of pavement each street-facing shop or organisation is
//! responsible for.
//!
//! Rule: along every drawn road edge, on each side, segments are laid one after another on the
//! road edge line (offset from the centre line by the road's half-width), starting and ending
//! `half-width of the crossing road + 3 m + 0.2 × own half-width` away from the crossings, 8–40 m long by shop type, with
//! 0.5–3 m gaps; each stretch is occupied with a probability that falls from the core to the
//! village land. Segments on one side of one edge therefore never overlap, and segments of
//! different edges are kept apart by the crossing margins. The grid is the one containing the
//! segment's midpoint (the cell on that side of the road).

use std::collections::BTreeMap;

use super::City;
use super::geojson_out::{Collection, Props, gzip, line};
use super::land::{Land, land};
use super::lattice::LineClass;
use super::names;
use super::projection::Fixed;
use super::rng::Rng;
use super::roads::Network;

/// Kind of frontage holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ShopType {
    /// 餐饮.
    Restaurant,
    /// 零售.
    Retail,
    /// 市场摊位.
    MarketStall,
    /// 学校.
    School,
    /// 医院/诊所.
    Hospital,
    /// 办公/银行/机关.
    Office,
    /// 酒店.
    Hotel,
    /// 汽修.
    AutoRepair,
}

const TYPES: [ShopType; 8] = [
    ShopType::Restaurant,
    ShopType::Retail,
    ShopType::MarketStall,
    ShopType::School,
    ShopType::Hospital,
    ShopType::Office,
    ShopType::Hotel,
    ShopType::AutoRepair,
];

impl ShopType {
    /// Code used in the data.
    pub fn as_str(self) -> &'static str {
        match self {
            ShopType::Restaurant => "restaurant",
            ShopType::Retail => "retail",
            ShopType::MarketStall => "market_stall",
            ShopType::School => "school",
            ShopType::Hospital => "hospital",
            ShopType::Office => "office",
            ShopType::Hotel => "hotel",
            ShopType::AutoRepair => "auto_repair",
        }
    }
    /// Organisations (kind `organisation` in units.csv) rather than shops.
    pub fn is_organisation(self) -> bool {
        matches!(
            self,
            ShopType::School | ShopType::Hospital | ShopType::Office
        )
    }
    /// Frontage length range (m).
    fn length(self) -> (f64, f64) {
        match self {
            ShopType::Restaurant => (8.0, 20.0),
            ShopType::Retail => (8.0, 24.0),
            ShopType::MarketStall => (8.0, 12.0),
            ShopType::School | ShopType::Hospital => (25.0, 40.0),
            ShopType::Office => (12.0, 40.0),
            ShopType::Hotel => (18.0, 40.0),
            ShopType::AutoRepair => (12.0, 30.0),
        }
    }
    /// Responsibility depth (m): how far from the segment the 责任区 reaches.
    fn depth(self) -> f64 {
        match self {
            ShopType::Restaurant => 10.0,
            ShopType::Retail => 8.0,
            ShopType::MarketStall => 5.0,
            ShopType::School | ShopType::Hospital => 15.0,
            ShopType::Office => 10.0,
            ShopType::Hotel => 12.0,
            ShopType::AutoRepair => 10.0,
        }
    }
}

fn type_weights(class: LineClass, l: Land) -> [f64; 8] {
    // restaurant, retail, market_stall, school, hospital, office, hotel, auto_repair
    match (class, l.built_up()) {
        (LineClass::Alley, _) => [28.0, 26.0, 24.0, 2.0, 2.0, 4.0, 2.0, 12.0],
        (_, true) => [30.0, 32.0, 6.0, 3.0, 2.5, 12.0, 5.0, 6.0],
        (_, false) => [22.0, 26.0, 8.0, 3.0, 2.0, 6.0, 3.0, 30.0],
    }
}

fn occupancy(class: LineClass, l: Land) -> f64 {
    let by_land = match l {
        Land::Core => 0.45,
        Land::BuiltUp => 0.35,
        Land::Fringe => 0.14,
        Land::Rural => 0.05,
    };
    match class {
        LineClass::Main => by_land,
        LineClass::Secondary => by_land * 0.9,
        _ => by_land * 0.4,
    }
}

/// A frontage segment. `pts` fixed WGS84 lon/lat; `mid` local metres.
#[derive(Debug, Clone)]
pub struct Frontage {
    /// `<grid code>M<seq>`.
    pub code: String,
    /// Shop or organisation name.
    pub name: String,
    /// Type.
    pub shop_type: ShopType,
    /// Depth of the responsibility strip (m).
    pub depth_m: f64,
    /// Road it faces.
    pub road_name: String,
    /// Grid index.
    pub grid: usize,
    /// Grid code (parent).
    pub grid_code: String,
    /// Its own unit code.
    pub unit_code: String,
    /// Ends of the segment.
    pub pts: [Fixed; 2],
    /// Midpoint (m).
    pub mid: [f64; 2],
    /// Class of the road it faces.
    pub class: LineClass,
}

/// Lays out all frontage segments, sorted by code.
pub fn build(city: &City, net: &Network) -> Vec<Frontage> {
    let mut rng = Rng::derive(city.seed, "frontage");
    let mut out: Vec<Frontage> = Vec::new();
    let mut serial = 0usize;
    for e in &net.edges {
        let d = [e.b[0] - e.a[0], e.b[1] - e.a[1]];
        let len = (d[0] * d[0] + d[1] * d[1]).sqrt();
        let u = [d[0] / len, d[1] / len];
        let nrm = [-u[1], u[0]];
        let hw = e.class.half_width();
        let m = [(e.a[0] + e.b[0]) / 2.0, (e.a[1] + e.b[1]) / 2.0];
        let l = land(m);
        let weights = type_weights(e.class, l);
        let occ = occupancy(e.class, l);
        let road_name = &net.roads[e.road].name;
        for side in 0..2 {
            let Some(cell) = e.cells[side] else { continue };
            let sgn = if side == 0 { 1.0 } else { -1.0 };
            let off = [nrm[0] * hw * sgn, nrm[1] * hw * sgn];
            // Crossings are not quite square (the lattice bends up to ~10 %), so the clearance grows
            // with this road's own half-width: the corner of two offset lines shifts by hw·tan θ.
            let clear = 3.0 + 0.2 * hw;
            let (start, end) = (e.cross_hw[0] + clear, len - e.cross_hw[1] - clear);
            let mut pos = start + rng.range(0.0, 3.0);
            while pos + 8.0 <= end {
                let t = TYPES[rng.weighted(&weights)];
                let (lo, hi) = t.length();
                let seg = rng.range(lo, hi).min(end - pos);
                if seg < 8.0 {
                    break;
                }
                if rng.chance(occ) {
                    let p0 = [e.a[0] + u[0] * pos + off[0], e.a[1] + u[1] * pos + off[1]];
                    let p1 = [p0[0] + u[0] * seg, p0[1] + u[1] * seg];
                    let mid = [(p0[0] + p1[0]) / 2.0, (p0[1] + p1[1]) / 2.0];
                    if let Some(g) = city.grid_at(cell, mid) {
                        serial += 1;
                        let name = names::shop(&mut rng, t.as_str(), road_name, serial);
                        // Never under 5 m: the 门前三包 strip covers at least the pavement.
                        let depth = (t.depth() + rng.int(-2, 2) as f64).max(5.0);
                        out.push(Frontage {
                            code: String::new(),
                            name,
                            shop_type: t,
                            depth_m: depth,
                            road_name: road_name.clone(),
                            grid: g,
                            grid_code: city.grids[g].code.clone(),
                            unit_code: String::new(),
                            pts: [Fixed::from_metres(p0), Fixed::from_metres(p1)],
                            mid,
                            class: e.class,
                        });
                    }
                }
                pos += seg + rng.range(0.5, 3.0);
            }
        }
    }
    // Codes: sequence inside each grid in laying order; then unit codes in code order.
    let mut per_grid: BTreeMap<usize, usize> = BTreeMap::new();
    out.retain_mut(|f| {
        let n = per_grid.entry(f.grid).or_insert(0);
        *n += 1;
        f.code = format!("{}M{:03}", f.grid_code, n);
        *n <= 999
    });
    out.sort_by(|a, b| a.code.cmp(&b.code));
    let (mut shops, mut orgs) = (0, 0);
    for f in &mut out {
        f.unit_code = if f.shop_type.is_organisation() {
            orgs += 1;
            format!("org-{orgs:06}")
        } else {
            shops += 1;
            format!("shop-{shops:06}")
        };
    }
    out
}

/// Writes `frontage.geojson.gz`.
pub fn write(_city: &City, fronts: &[Frontage], files: &mut BTreeMap<String, Vec<u8>>) {
    let mut fc = Collection::new();
    for f in fronts {
        let p = Props::new()
            .s("code", &f.code)
            .s("name", &f.name)
            .s("shop_type", f.shop_type.as_str())
            .i("depth_m", f.depth_m as i64)
            .s("road_name", &f.road_name)
            .s("parent_code", &f.grid_code)
            .s("unit_code", &f.unit_code)
            .b("synthetic", true)
            .done();
        fc.push(p, &line(&f.pts));
    }
    files.insert("frontage.geojson.gz".into(), gzip(&fc.finish()));
}
