//! Special zones: urban villages (城中村), railway land (铁路沿线), back alleys (背街小巷) and the
//! inspection sites (测评点位) of the civilized-city checks.
//!
//! Urban villages (城中村) are dense built-up patches, not whole village committees: the grids of
//! an urban village committee within 300–600 m of its centre grid (a fraction of a km² to about
//! 2 km²), plus a few smaller patches (220–350 m) inside residents' communities of urban streets,
//! the villages the city grew around. Only the patch containing the centre grid is kept, so each
//! is one polygon. Railway land is the railway
//! right-of-way, 30 m either side of the track, cut into stretches of about 800 m, owned by the
//! railway bureau. Back alleys are alleys in the old core (urban score < 0.5). Inspection sites are
//! points: markets, schools and hospitals at their frontages, old compounds at core grid centres,
//! back alleys at their middle, main roads at a frontage of a main road.

use std::collections::BTreeMap;

use super::City;
use super::RAILWAY_BUREAU;
use super::frontage::{Frontage, ShopType};
use super::geojson_out::{Collection, Props, line, point, polygons};
use super::inputs::{is_rural_street, is_village_code};
use super::land::urban_score;
use super::lattice::LineClass;
use super::names::short_community;
use super::planar::NONE;
use super::projection::Fixed;
use super::projection::ring_area_m2;
use super::rng::Rng;
use super::roads::Network;
use super::units::community_code;

/// A zone. Geometry kept as GeoJSON text; helper coordinates in local metres.
#[derive(Debug, Clone)]
pub struct Zone {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// `urban_village`, `railway_land`, `back_alley`, `inspection_site`.
    pub kind: &'static str,
    /// For inspection sites.
    pub site_type: Option<&'static str>,
    /// Parent code.
    pub parent_code: String,
    /// Unit code.
    pub unit_code: String,
    /// GeoJSON geometry.
    pub geometry: String,
    /// A point inside the zone (m).
    pub centre: [f64; 2],
    /// Centre line for railway land and back alleys (m).
    pub line: Vec<[f64; 2]>,
    /// For an urban village: the radius (m) of the patch around `centre`.
    pub radius_m: f64,
    /// For an urban village: one the city grew around, inside a residents' community.
    pub inner: bool,
}

/// Urban villages inside residents' communities of urban streets.
const INNER_VILLAGES: usize = 5;

/// The grids of community `c` whose centre lies within `radius` m of `centre`.
fn grids_near(city: &City, c: usize, centre: [f64; 2], radius: f64) -> Vec<usize> {
    (0..city.grids.len())
        .filter(|&g| city.grids[g].community == c)
        .filter(|&g| {
            let p = city.pieces.list[city.grids[g].pieces[0] as usize].centre;
            (p[0] - centre[0]).hypot(p[1] - centre[1]) <= radius
        })
        .collect()
}

/// The outline of a set of grids, traced along the shared graph edges (bit-identical vertices
/// with the grids), keeping the largest part: one polygon with its holes.
fn patch(city: &City, grids: &[usize]) -> Vec<Vec<Vec<u32>>> {
    let mut label = vec![NONE; city.graph.faces.len()];
    for &g in grids {
        for &p in &city.grids[g].pieces {
            label[city.pieces.list[p as usize].face as usize] = 0;
        }
    }
    let parts = city
        .graph
        .trace(&label, 1)
        .into_iter()
        .next()
        .unwrap_or_default();
    let area = |poly: &Vec<Vec<u32>>| {
        let ring: Vec<[f64; 2]> = poly[0].iter().map(|&v| city.graph.xy[v as usize]).collect();
        ring_area_m2(&ring)
    };
    parts
        .into_iter()
        .max_by(|a, b| area(a).total_cmp(&area(b)))
        .map(|p| vec![p])
        .unwrap_or_default()
}

/// The grid of community `c` nearest the mean of its grid centres.
fn centre_grid(city: &City, c: usize) -> Option<usize> {
    let pc = |g: usize| city.pieces.list[city.grids[g].pieces[0] as usize].centre;
    let gs: Vec<usize> = (0..city.grids.len())
        .filter(|&g| city.grids[g].community == c)
        .collect();
    let n = gs.len() as f64;
    let m = gs.iter().fold([0.0, 0.0], |s, &g| {
        [s[0] + pc(g)[0] / n, s[1] + pc(g)[1] / n]
    });
    gs.iter().copied().min_by(|&a, &b| {
        let (pa, pb) = (pc(a), pc(b));
        ((pa[0] - m[0]).powi(2) + (pa[1] - m[1]).powi(2))
            .total_cmp(&((pb[0] - m[0]).powi(2) + (pb[1] - m[1]).powi(2)))
    })
}

/// An urban village zone: the patch of community `c` within `radius` of its centre grid.
fn village(city: &City, c: usize, radius: f64, inner: bool) -> Option<Zone> {
    let cm = &city.inputs.communities[c];
    let best = centre_grid(city, c)?;
    let centre = city.pieces.list[city.grids[best].pieces[0] as usize].centre;
    let polys = patch(city, &grids_near(city, c, centre, radius));
    if polys.is_empty() {
        return None;
    }
    Some(Zone {
        code: format!("ZUV-{}", cm.code),
        name: format!("{}城中村", short_community(&cm.name)),
        kind: "urban_village",
        site_type: None,
        parent_code: cm.code.clone(),
        unit_code: community_code(&cm.code),
        geometry: polygons(&city.fixed(&polys)),
        centre,
        line: Vec::new(),
        radius_m: radius,
        inner,
    })
}

fn offset_polygon(pts: &[[f64; 2]], d: f64) -> Vec<Fixed> {
    let n = pts.len();
    let normal = |k: usize| {
        let (a, b) = if k + 1 < n {
            (pts[k], pts[k + 1])
        } else {
            (pts[k - 1], pts[k])
        };
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let l = (dx * dx + dy * dy).sqrt();
        [-dy / l, dx / l]
    };
    let nv: Vec<[f64; 2]> = (0..n)
        .map(|k| {
            if k == 0 || k + 1 == n {
                normal(k)
            } else {
                let (a, b) = (normal(k - 1), normal(k));
                let s = [a[0] + b[0], a[1] + b[1]];
                let l = (s[0] * s[0] + s[1] * s[1]).sqrt();
                [s[0] / l, s[1] / l]
            }
        })
        .collect();
    // Counter-clockwise: right side forward, left side back.
    let mut ring: Vec<Fixed> = (0..n)
        .map(|k| Fixed::from_metres([pts[k][0] - nv[k][0] * d, pts[k][1] - nv[k][1] * d]))
        .collect();
    ring.extend(
        (0..n)
            .rev()
            .map(|k| Fixed::from_metres([pts[k][0] + nv[k][0] * d, pts[k][1] + nv[k][1] * d])),
    );
    ring
}

/// Builds all zones.
pub fn build(city: &City, net: &Network, fronts: &[Frontage]) -> Vec<Zone> {
    let mut rng = Rng::derive(city.seed, "zones");
    let inp = &city.inputs;
    let mut out = Vec::new();
    // Their own random stream, so the other zones stay as they were.
    let mut vrng = Rng::derive(city.seed, "urban village patches");
    for (c, cm) in inp.communities.iter().enumerate() {
        if cm.urban_village {
            let radius = vrng.range(300.0, 600.0);
            out.extend(village(city, c, radius, false));
        }
    }
    // A few inside the urban streets: residents' communities of built-up streets.
    let mut hosts: Vec<usize> = (0..inp.communities.len())
        .filter(|&c| {
            let cm = &inp.communities[c];
            let street = &inp.streets[cm.street].name;
            !cm.urban_village
                && !is_village_code(&cm.code)
                && street.ends_with("街道")
                && !is_rural_street(street)
                && centre_grid(city, c).is_some_and(|g| city.grids[g].land.built_up())
        })
        .collect();
    for k in (1..hosts.len()).rev() {
        let j = vrng.below(k + 1);
        hosts.swap(k, j);
    }
    hosts.truncate(INNER_VILLAGES);
    hosts.sort_unstable();
    for c in hosts {
        let radius = vrng.range(220.0, 350.0);
        out.extend(village(city, c, radius, true));
    }
    let mut k = 0;
    for r in &net.railways {
        // Contiguous runs of edges inside the districts, in stretches of 8 edges.
        let mut runs: Vec<Vec<[f64; 2]>> = Vec::new();
        for &(a, b) in &r.inside {
            match runs.last_mut() {
                Some(run) if run.last() == Some(&a) && run.len() < 9 => run.push(b),
                _ => runs.push(vec![a, b]),
            }
        }
        for run in runs {
            let mid = run[run.len() / 2];
            let parent = city
                .grid_of_point(mid)
                .map(|g| {
                    inp.streets[city.street_of(city.grids[g].community)]
                        .code
                        .clone()
                })
                .unwrap_or_else(|| "410103".into());
            k += 1;
            out.push(Zone {
                code: format!("ZRL-{k:03}"),
                name: format!("{}沿线(第{}段)", r.name, k),
                kind: "railway_land",
                site_type: None,
                parent_code: parent,
                unit_code: RAILWAY_BUREAU.into(),
                geometry: polygons(&[vec![offset_polygon(&run, 30.0)]]),
                centre: mid,
                line: run,
                radius_m: 0.0,
                inner: false,
            });
        }
    }
    // Back alleys: alleys in the old core.
    let mut alleys: Vec<usize> = (0..net.roads.len())
        .filter(|&r| {
            let road = &net.roads[r];
            road.class == LineClass::Alley && road.pts.len() >= 2 && {
                let m = road.pts[road.pts.len() / 2].metres();
                urban_score(m) < 0.5
            }
        })
        .collect();
    for i in (1..alleys.len()).rev() {
        let j = rng.below(i + 1);
        alleys.swap(i, j);
    }
    alleys.truncate(150);
    alleys.sort_unstable();
    for (n, &r) in alleys.iter().enumerate() {
        let road = &net.roads[r];
        let pts: Vec<[f64; 2]> = road.pts.iter().map(|p| p.metres()).collect();
        let a = pts[pts.len() / 2 - usize::from(pts.len().is_multiple_of(2))];
        let b = pts[pts.len() / 2];
        let mid = if a == b {
            a
        } else {
            [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0]
        };
        let Some(g) = city.grid_of_point([mid[0] + 0.5, mid[1] + 0.5]) else {
            continue;
        };
        let cm = &inp.communities[city.grids[g].community];
        out.push(Zone {
            code: format!("ZBA-{:03}", n + 1),
            name: format!("{}(背街小巷)", road.name),
            kind: "back_alley",
            site_type: None,
            parent_code: cm.code.clone(),
            unit_code: community_code(&cm.code),
            geometry: line(&road.pts),
            centre: mid,
            line: pts,
            radius_m: 0.0,
            inner: false,
        });
    }
    // Inspection sites.
    let mut sites: Vec<(&'static str, String, [f64; 2])> = Vec::new();
    let pick = |t: ShopType,
                site: &'static str,
                n: usize,
                rng: &mut Rng,
                sites: &mut Vec<(&'static str, String, [f64; 2])>| {
        let cands: Vec<&Frontage> = fronts
            .iter()
            .filter(|f| f.shop_type == t && urban_score(f.mid) < 1.0)
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..n * 4 {
            if cands.is_empty() || seen.len() >= n {
                break;
            }
            let f = cands[rng.below(cands.len())];
            let name = if site == "market" {
                format!("{}农贸市场", f.road_name.trim_end_matches('路'))
            } else {
                f.name.clone()
            };
            if seen.insert(name.clone()) {
                sites.push((site, name, f.mid));
            }
        }
    };
    pick(ShopType::MarketStall, "market", 40, &mut rng, &mut sites);
    pick(ShopType::School, "school", 50, &mut rng, &mut sites);
    pick(ShopType::Hospital, "hospital", 25, &mut rng, &mut sites);
    let compounds = [
        "棉纺厂家属院",
        "铁路局家属院",
        "国棉三厂生活区",
        "油化厂家属院",
        "电缆厂家属院",
        "煤机厂家属院",
        "印染厂家属院",
        "肉联厂家属院",
        "水泥厂家属院",
        "纺织机械厂家属院",
        "第二砂轮厂宿舍",
        "市政公司家属院",
    ];
    let core: Vec<usize> = (0..city.grids.len())
        .filter(|&g| city.grids[g].land == super::land::Land::Core)
        .collect();
    for n in 0..60 {
        if core.is_empty() {
            break;
        }
        let g = core[rng.below(core.len())];
        let c = city.pieces.list[city.grids[g].pieces[0] as usize].centre;
        sites.push((
            "old_compound",
            format!(
                "{}{}号院",
                compounds[n % compounds.len()],
                n / compounds.len() + 1
            ),
            c,
        ));
    }
    for z in out.iter().filter(|z| z.kind == "back_alley").take(30) {
        sites.push(("back_alley", z.name.clone(), z.centre));
    }
    let mains: Vec<&Frontage> = fronts
        .iter()
        .filter(|f| f.class == LineClass::Main && urban_score(f.mid) < 0.6)
        .collect();
    for _ in 0..25 {
        if mains.is_empty() {
            break;
        }
        let f = mains[rng.below(mains.len())];
        sites.push((
            "main_road",
            format!("{}(主干道测评路段)", f.road_name),
            f.mid,
        ));
    }
    let mut n = 0;
    for (t, name, p) in sites {
        let Some(g) = city.grid_of_point(p) else {
            continue;
        };
        let cm = &inp.communities[city.grids[g].community];
        n += 1;
        out.push(Zone {
            code: format!("ZIS-{n:03}"),
            name,
            kind: "inspection_site",
            site_type: Some(t),
            parent_code: cm.code.clone(),
            unit_code: community_code(&cm.code),
            geometry: point(Fixed::from_metres(p)),
            centre: p,
            line: Vec::new(),
            radius_m: 0.0,
            inner: false,
        });
    }
    out
}

/// Writes `zone.geojson`.
pub fn write(zones: &[Zone], files: &mut BTreeMap<String, Vec<u8>>) {
    let mut fc = Collection::new();
    for z in zones {
        let mut p = Props::new()
            .s("code", &z.code)
            .s("name", &z.name)
            .s("zone_kind", z.kind);
        if let Some(t) = z.site_type {
            p = p.s("site_type", t);
        }
        let p = p
            .s("parent_code", &z.parent_code)
            .s("unit_code", &z.unit_code)
            .b("synthetic", true)
            .done();
        fc.push(p, &z.geometry);
    }
    files.insert("zone.geojson".into(), fc.finish());
}
