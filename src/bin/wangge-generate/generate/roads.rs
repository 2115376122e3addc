//! Roads and railways along lattice lines.
//!
//! A main or secondary road is a whole lattice line, named once; an alley is the stretch of an
//! alley line between two crossing roads. Only edges whose midpoint lies inside one of the two
//! districts are drawn (alleys only in the built-up area). Real road names are placed on the line
//! nearest to where the road really runs (`names::NS_ROADS`, `names::EW_ROADS`); lines left over
//! get made-up names. The railways follow the two railway lattice lines (illustrative).

use std::collections::BTreeMap;

use geo::{Contains, Coord, LineString, Point, Polygon};

use super::City;
use super::RAILWAY_BUREAU;
use super::geojson_out::{Collection, Props, gzip, line, point};
use super::land::land;
use super::lattice::LineClass;
use super::names;
use super::projection::{Fixed, to_metres};

/// One lattice edge that carries a road. Coordinates local metres.
#[derive(Debug, Clone)]
pub struct RoadEdge {
    /// Start (m).
    pub a: [f64; 2],
    /// End (m).
    pub b: [f64; 2],
    /// Road class.
    pub class: LineClass,
    /// Index into `Network::roads`.
    pub road: usize,
    /// Lattice cell on the left of a→b, and on the right.
    pub cells: [Option<usize>; 2],
    /// Half-width of the road crossing at a and at b (0 without one).
    pub cross_hw: [f64; 2],
}

/// A drawn road: one LineString.
#[derive(Debug, Clone)]
pub struct Road {
    /// Name.
    pub name: String,
    /// Class (main, secondary, alley).
    pub class: LineClass,
    /// Vertices, fixed WGS84 lon/lat.
    pub pts: Vec<Fixed>,
}

/// A railway line (illustrative). Coordinates fixed WGS84 lon/lat.
#[derive(Debug, Clone)]
pub struct Railway {
    /// Name.
    pub name: String,
    /// Vertices.
    pub pts: Vec<Fixed>,
    /// Edges inside the districts, local metres.
    pub inside: Vec<([f64; 2], [f64; 2])>,
}

/// The road and rail network.
#[derive(Debug)]
pub struct Network {
    /// Roads.
    pub roads: Vec<Road>,
    /// Road edges (for frontages).
    pub edges: Vec<RoadEdge>,
    /// 京广铁路 and 陇海铁路.
    pub railways: Vec<Railway>,
    /// 郑州站, fixed WGS84 lon/lat.
    pub station: Fixed,
}

/// 郑州站 (WGS84 lon, lat).
pub const STATION: [f64; 2] = [113.658, 34.745];

fn name_lines(
    classes: &[LineClass],
    used: &[bool],
    pos: &dyn Fn(usize) -> f64,
    real: &[(&str, bool, f64)],
    target: &dyn Fn(f64) -> f64,
    ns: bool,
    fallback: &mut usize,
) -> BTreeMap<usize, String> {
    let mut out = BTreeMap::new();
    for want_main in [true, false] {
        let class = if want_main {
            LineClass::Main
        } else {
            LineClass::Secondary
        };
        for &(name, main, coord) in real {
            if main != want_main {
                continue;
            }
            let t = target(coord);
            let best = (0..classes.len())
                .filter(|&k| classes[k] == class && used[k] && !out.contains_key(&k))
                .min_by(|&a, &b| (pos(a) - t).abs().total_cmp(&(pos(b) - t).abs()));
            if let Some(k) = best.filter(|&k| (pos(k) - t).abs() < 2500.0) {
                out.insert(k, name.to_string());
            }
        }
    }
    for k in 0..classes.len() {
        if used[k]
            && matches!(classes[k], LineClass::Main | LineClass::Secondary)
            && !out.contains_key(&k)
        {
            out.insert(k, names::fallback_road(*fallback, ns));
            *fallback += 1;
        }
    }
    out
}

/// Builds roads and railways.
pub fn build(city: &City) -> Network {
    let lat = &city.lattice;
    let polys: Vec<Polygon<f64>> = city
        .inputs
        .districts
        .iter()
        .map(|d| {
            Polygon::new(
                LineString::from(
                    d.ring
                        .iter()
                        .map(|p| {
                            let m = p.metres();
                            Coord { x: m[0], y: m[1] }
                        })
                        .collect::<Vec<_>>(),
                ),
                vec![],
            )
        })
        .collect();
    let inside = |p: [f64; 2]| {
        polys
            .iter()
            .any(|poly| poly.contains(&Point::new(p[0], p[1])))
    };
    // Edge (vertical?, line, step) → drawn?
    let (ni, nj) = (lat.ni, lat.nj);
    let drawn = |class: LineClass, a: [f64; 2], b: [f64; 2]| {
        let m = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
        match class {
            LineClass::Main | LineClass::Secondary => inside(m),
            LineClass::Alley => inside(m) && land(m).built_up(),
            _ => false,
        }
    };
    let col_used: Vec<bool> = (0..=ni)
        .map(|i| (0..nj).any(|j| drawn(lat.col_class[i], lat.xy(i, j), lat.xy(i, j + 1))))
        .collect();
    let row_used: Vec<bool> = (0..=nj)
        .map(|j| (0..ni).any(|i| drawn(lat.row_class[j], lat.xy(i, j), lat.xy(i + 1, j))))
        .collect();
    let mut fallback = 0;
    let col_names = name_lines(
        &lat.col_class,
        &col_used,
        &|i| lat.xs[i],
        &names::NS_ROADS,
        &|lon| to_metres(lon, 34.72)[0],
        true,
        &mut fallback,
    );
    let row_names = name_lines(
        &lat.row_class,
        &row_used,
        &|j| lat.ys[j],
        &names::EW_ROADS,
        &|la| to_metres(113.56, la)[1],
        false,
        &mut fallback,
    );
    let mut roads: Vec<Road> = Vec::new();
    let mut edges: Vec<RoadEdge> = Vec::new();
    let mut alley_n = 0usize;
    // Walk every line; `vertical` lines are columns (running north).
    for vertical in [true, false] {
        let nlines = if vertical { ni + 1 } else { nj + 1 };
        let steps = if vertical { nj } else { ni };
        for l in 0..nlines {
            let class = if vertical {
                lat.col_class[l]
            } else {
                lat.row_class[l]
            };
            if !matches!(
                class,
                LineClass::Main | LineClass::Secondary | LineClass::Alley
            ) {
                continue;
            }
            let vtx = |k: usize| if vertical { (l, k) } else { (k, l) };
            let cross_class = |k: usize| {
                if vertical {
                    lat.row_class[k]
                } else {
                    lat.col_class[k]
                }
            };
            let mut current: Option<usize> = None;
            for k in 0..steps {
                let (p, q) = (vtx(k), vtx(k + 1));
                let (a, b) = (lat.xy(p.0, p.1), lat.xy(q.0, q.1));
                let is_drawn = drawn(class, a, b);
                // Alleys end at every crossing road.
                if class == LineClass::Alley
                    && matches!(
                        cross_class(k),
                        LineClass::Main | LineClass::Secondary | LineClass::Railway
                    )
                {
                    current = None;
                }
                if !is_drawn {
                    current = None;
                    continue;
                }
                let r = match current {
                    Some(r) => r,
                    None => {
                        let name = match class {
                            LineClass::Alley => {
                                alley_n += 1;
                                names::alley(alley_n - 1)
                            }
                            _ => {
                                let m = if vertical { &col_names } else { &row_names };
                                m.get(&l).cloned().unwrap_or_default()
                            }
                        };
                        roads.push(Road {
                            name,
                            class,
                            pts: vec![lat.verts[lat.vid(p.0, p.1)]],
                        });
                        current = Some(roads.len() - 1);
                        roads.len() - 1
                    }
                };
                roads[r].pts.push(lat.verts[lat.vid(q.0, q.1)]);
                let cells = if vertical {
                    [
                        (l > 0).then(|| lat.cell(l - 1, k)),
                        (l < ni).then(|| lat.cell(l, k)),
                    ]
                } else {
                    [
                        (l < nj).then(|| lat.cell(k, l)),
                        (l > 0).then(|| lat.cell(k, l - 1)),
                    ]
                };
                let hw = |c: LineClass| {
                    if c == LineClass::Edge {
                        0.0
                    } else {
                        c.half_width()
                    }
                };
                edges.push(RoadEdge {
                    a,
                    b,
                    class,
                    road: r,
                    cells,
                    cross_hw: [hw(cross_class(k)), hw(cross_class(k + 1))],
                });
            }
        }
    }
    // Railways along their lattice lines, drawn a little beyond the districts.
    let rc = (0..=ni)
        .find(|&i| lat.col_class[i] == LineClass::Railway)
        .unwrap_or(0);
    let rr = (0..=nj)
        .find(|&j| lat.row_class[j] == LineClass::Railway)
        .unwrap_or(0);
    let (y_lo, y_hi) = (to_metres(113.6, 34.640)[1], to_metres(113.6, 34.800)[1]);
    let (x_lo, x_hi) = (to_metres(113.440, 34.75)[0], to_metres(113.700, 34.75)[0]);
    let mut jg = Railway {
        name: "京广铁路".into(),
        pts: Vec::new(),
        inside: Vec::new(),
    };
    for j in (0..=nj).rev() {
        if (y_lo..=y_hi).contains(&lat.ys[j]) {
            jg.pts.push(lat.verts[lat.vid(rc, j)]);
            if j > 0 && inside(lat.xy(rc, j)) && inside(lat.xy(rc, j - 1)) {
                jg.inside.push((lat.xy(rc, j), lat.xy(rc, j - 1)));
            }
        }
    }
    let mut lh = Railway {
        name: "陇海铁路".into(),
        pts: Vec::new(),
        inside: Vec::new(),
    };
    for i in 0..=ni {
        if (x_lo..=x_hi).contains(&lat.xs[i]) {
            lh.pts.push(lat.verts[lat.vid(i, rr)]);
            if i < ni && inside(lat.xy(i, rr)) && inside(lat.xy(i + 1, rr)) {
                lh.inside.push((lat.xy(i, rr), lat.xy(i + 1, rr)));
            }
        }
    }
    Network {
        roads,
        edges,
        railways: vec![jg, lh],
        station: Fixed::from_deg(STATION[0], STATION[1]),
    }
}

/// Writes `road.geojson.gz` and `railway.geojson`.
pub fn write(_city: &City, net: &Network, files: &mut BTreeMap<String, Vec<u8>>) {
    let mut fc = Collection::new();
    for r in &net.roads {
        let class = match r.class {
            LineClass::Main => "main",
            LineClass::Secondary => "secondary",
            _ => "alley",
        };
        fc.push(
            Props::new()
                .s("class", class)
                .s("name", &r.name)
                .b("synthetic", true)
                .done(),
            &line(&r.pts),
        );
    }
    files.insert("road.geojson.gz".into(), gzip(&fc.finish()));
    let mut fc = Collection::new();
    for r in &net.railways {
        let p = Props::new()
            .s("name", &r.name)
            .s("kind", "railway")
            .b("illustrative", true)
            .s("unit_code", RAILWAY_BUREAU)
            .done();
        fc.push(p, &line(&r.pts));
    }
    let p = Props::new()
        .s("name", "郑州站")
        .s("kind", "station")
        .b("illustrative", true)
        .s("unit_code", RAILWAY_BUREAU)
        .done();
    fc.push(p, &point(net.station));
    files.insert("railway.geojson".into(), fc.finish());
}
