//! Analysis areas, the places points are counted in: the administrative areas of the city (unit
//! grid, community, street), a square fishnet of a given size in metres, or H3 cells; the count of
//! points in each, and rates per km² and per km of 门前三包 frontage. (Not to be confused with the
//! responsible units of `domain::unit`: the wire keeps the parameter name `unit=`.)

use std::collections::HashMap;

use geo::{LineString, MultiPolygon, polygon};
use rayon::prelude::*;

use super::HotspotError;
use super::frame::{LocalFrame, Metres};
use super::weights::{Contiguity, Weights};
use crate::assign::{AreaLevel, CityIndex, NONE};

/// Most fishnet or H3 cells one analysis may build (the lattice over the extent, before cells
/// outside the city are dropped). A 5 m fishnet over two points 600 km apart would be 6×10⁹.
pub const MAX_AREA_CELLS: usize = 1_000_000;
/// Most neighbour links of one set of weights (4 bytes each).
pub const MAX_NEIGHBOUR_LINKS: usize = 50_000_000;

/// Refuses a fishnet or H3 lattice over `extent_m` (west, south, east, north, metres) that would
/// hold more than [`MAX_AREA_CELLS`] cells, before anything is allocated.
pub fn check_lattice(spec: AreaSpec, extent_m: [f64; 4]) -> Result<(), HotspotError> {
    let [w, s, e, n] = extent_m;
    let (dx, dy) = ((e - w).max(0.0), (n - s).max(0.0));
    let (cells, what, advice) = match spec {
        AreaSpec::Admin(_) => return Ok(()),
        AreaSpec::Fishnet(size) => (
            ((dx / size).ceil() + 1.0) * ((dy / size).ceil() + 1.0),
            format!("a {size} m fishnet"),
            "choose a larger size_m or a smaller extent",
        ),
        AreaSpec::H3(res) => {
            let resolution = h3o::Resolution::try_from(res).unwrap_or(h3o::Resolution::Nine);
            // A hexagon covers about 2.6 edge².
            let cell_m2 = 2.598 * resolution.edge_length_m().powi(2);
            (
                (dx + 2.0 * resolution.edge_length_m()) * (dy + 2.0 * resolution.edge_length_m())
                    / cell_m2,
                format!("H3 resolution {res}"),
                "choose a coarser res or a smaller extent",
            )
        }
    };
    if !cells.is_finite() || cells > MAX_AREA_CELLS as f64 {
        return Err(HotspotError::TooLarge(format!(
            "{what} over {:.0} × {:.0} m would have about {cells:.0} cells, more than the {MAX_AREA_CELLS} allowed; {advice}",
            dx, dy
        )));
    }
    Ok(())
}

/// Which areas to aggregate to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AreaSpec {
    /// An administrative level of the city.
    Admin(AreaLevel),
    /// Square cells of this side (metres) in the local frame.
    Fishnet(f64),
    /// H3 cells of this resolution (8–10; res 10 ≈ 15,000 m², about a 万米 grid).
    H3(u8),
}

/// The kinds of analysis area a request may name (`unit=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AreaKind {
    /// Unit grids (单元网格).
    #[default]
    Grid,
    /// Communities.
    Community,
    /// Streets.
    Street,
    /// A square fishnet.
    Fishnet,
    /// H3 cells.
    H3,
}

impl AreaSpec {
    /// The areas of `kind`: a fishnet of `size_m` (default 100) or H3 cells of resolution `res`
    /// (default 9).
    pub fn new(kind: AreaKind, size_m: Option<f64>, res: Option<u8>) -> Result<Self, String> {
        Ok(match kind {
            AreaKind::Grid => Self::Admin(AreaLevel::Grid),
            AreaKind::Community => Self::Admin(AreaLevel::Community),
            AreaKind::Street => Self::Admin(AreaLevel::Street),
            AreaKind::Fishnet => {
                let s = size_m.unwrap_or(100.0);
                if !(s.is_finite() && (5.0..=5000.0).contains(&s)) {
                    return Err(format!("fishnet cell size must be 5–5000 m, got {s}"));
                }
                Self::Fishnet(s)
            }
            AreaKind::H3 => {
                let r = res.unwrap_or(9);
                if !(8..=10).contains(&r) {
                    return Err(format!("H3 resolution must be 8, 9 or 10, got {r}"));
                }
                Self::H3(r)
            }
        })
    }

    /// The wire name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Admin(AreaLevel::Grid) => "grid",
            Self::Admin(AreaLevel::Community) => "community",
            Self::Admin(AreaLevel::Street) => "street",
            Self::Admin(AreaLevel::District) => "district",
            Self::Fishnet(_) => "fishnet",
            Self::H3(_) => "h3",
        }
    }
}

/// How neighbours are defined for the areas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WeightSpec {
    /// Polygon contiguity (administrative areas; on a fishnet queen = 1-ring, rook = 4 cells).
    Contiguity(Contiguity),
    /// Fishnet cells within k steps (Chebyshev).
    Ring(u32),
    /// Centroids within this many metres.
    Band(f64),
}

/// The kinds of neighbourhood a request may name (`weights=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NeighbourKind {
    /// Shared vertex.
    #[default]
    Queen,
    /// Shared edge.
    Rook,
    /// Within k steps (k-ring; on polygons contiguity of order k).
    Ring,
    /// Centroids within a distance band.
    Band,
}

impl WeightSpec {
    /// The neighbours of `kind`: a ring of `k` steps (default 1), a band of `band_m` metres
    /// (required).
    pub fn new(kind: NeighbourKind, k: Option<u32>, band_m: Option<f64>) -> Result<Self, String> {
        Ok(match kind {
            NeighbourKind::Queen => Self::Contiguity(Contiguity::Queen),
            NeighbourKind::Rook => Self::Contiguity(Contiguity::Rook),
            NeighbourKind::Ring => {
                let k = k.unwrap_or(1);
                if !(1..=10).contains(&k) {
                    return Err(format!("k must be 1–10, got {k}"));
                }
                Self::Ring(k)
            }
            NeighbourKind::Band => {
                let d = band_m.ok_or("weights=band needs band_m (metres)")?;
                if !(d.is_finite() && d > 0.0 && d <= 10_000.0) {
                    return Err(format!("band_m must be 0–10000 m, got {d}"));
                }
                Self::Band(d)
            }
        })
    }
}

#[derive(Debug, Clone)]
struct Hex {
    res: h3o::Resolution,
    cells: Vec<h3o::CellIndex>,
    index: HashMap<h3o::CellIndex, u32>,
}

#[derive(Debug, Clone)]
struct Net {
    west: f64,
    south: f64,
    size: f64,
    cells: Vec<(i64, i64)>,
    index: HashMap<(i64, i64), u32>,
}

/// A set of areas in a local frame.
#[derive(Debug, Clone)]
pub struct Areas {
    /// What they are.
    pub spec: AreaSpec,
    /// The local metric frame.
    pub frame: LocalFrame,
    /// Codes (fishnet: `c{col}_r{row}`).
    pub codes: Vec<String>,
    /// Names (fishnet: empty).
    pub names: Vec<String>,
    /// Outlines, WGS84 lon/lat degrees.
    pub polygons: Vec<MultiPolygon<f64>>,
    /// Areas, m² (in the local frame).
    pub area_m2: Vec<f64>,
    /// Centroids in the frame, metres (mean of the outline's vertices for admin areas, which
    /// are compact; cell centres for the fishnet).
    pub centroids: Vec<Metres>,
    /// Length of the 门前三包 frontages whose midpoint lies in the area, metres.
    pub frontage_m: Vec<f64>,
    net: Option<Net>,
    hex: Option<Hex>,
}

impl Areas {
    /// The areas of one administrative level of the city.
    pub fn admin(index: &CityIndex, level: AreaLevel, frame: LocalFrame) -> Self {
        let areas: Vec<_> = index.areas(level).collect();
        let polygons: Vec<MultiPolygon<f64>> = areas.iter().map(|a| a.polygon.clone()).collect();
        let area_m2 = polygons.par_iter().map(|p| frame.area_m2(p)).collect();
        let centroids = polygons
            .par_iter()
            .map(|p| {
                let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
                for poly in &p.0 {
                    let ring = &poly.exterior().0;
                    // The closing vertex repeats the first.
                    for c in &ring[..ring.len().saturating_sub(1)] {
                        sx += c.x;
                        sy += c.y;
                        n += 1.0;
                    }
                }
                frame.forward(sx / n, sy / n)
            })
            .collect();
        // A province has millions of frontages: they are located in parallel, then summed in
        // index order so the totals do not depend on the threads.
        let lines: Vec<&LineString<f64>> = index.frontage_lines().map(|(_, _, l)| l).collect();
        let owned: Vec<Option<(u32, f64)>> = lines
            .par_iter()
            .map(|line| {
                let mid = line.0.get(line.0.len() / 2)?;
                let u = lift(index, index.locate(mid.x, mid.y).grid, level)?;
                Some((u, frame.length_m(line)))
            })
            .collect();
        let mut frontage_m = vec![0.0; areas.len()];
        for (u, m) in owned.into_iter().flatten() {
            frontage_m[u as usize] += m;
        }
        Self {
            spec: AreaSpec::Admin(level),
            frame,
            codes: areas.iter().map(|a| a.code.to_owned()).collect(),
            names: areas.iter().map(|a| a.name.to_owned()).collect(),
            polygons,
            area_m2,
            centroids,
            frontage_m,
            net: None,
            hex: None,
        }
    }

    /// The H3 cells of resolution `res` (8–10) met by a lattice of samples over `extent_m` (a
    /// fifth of the cell's edge apart, so every cell of the extent is met), keeping those whose
    /// centre passes `keep` (WGS84 lon, lat).
    pub fn h3(
        frame: LocalFrame,
        extent_m: [f64; 4],
        res: u8,
        keep: impl Fn(f64, f64) -> bool + Sync,
    ) -> Self {
        let resolution = h3o::Resolution::try_from(res).unwrap_or(h3o::Resolution::Nine);
        let step = (resolution.edge_length_m() / 5.0).max(1.0);
        let [w, s, e, n] = extent_m;
        let cols = ((e - w) / step).ceil().max(1.0) as usize + 1;
        let rows = ((n - s) / step).ceil().max(1.0) as usize + 1;
        let mut cells: Vec<h3o::CellIndex> = (0..rows)
            .into_par_iter()
            .flat_map_iter(|r| {
                (0..cols).filter_map(move |c| {
                    let (lon, lat) = frame.inverse(Metres {
                        x: w + c as f64 * step,
                        y: s + r as f64 * step,
                    });
                    h3o::LatLng::new(lat, lon)
                        .ok()
                        .map(|ll| ll.to_cell(resolution))
                })
            })
            .collect();
        cells.par_sort_unstable();
        cells.dedup();
        cells.retain(|c| {
            let ll = h3o::LatLng::from(*c);
            keep(ll.lng(), ll.lat())
        });
        let polygons: Vec<MultiPolygon<f64>> = cells
            .iter()
            .map(|c| {
                let mut ring: Vec<geo::Coord<f64>> = c
                    .boundary()
                    .iter()
                    .map(|v| geo::Coord {
                        x: v.lng(),
                        y: v.lat(),
                    })
                    .collect();
                if let Some(first) = ring.first().copied() {
                    ring.push(first);
                }
                MultiPolygon(vec![geo::Polygon::new(geo::LineString(ring), vec![])])
            })
            .collect();
        let index = cells
            .iter()
            .enumerate()
            .map(|(i, c)| (*c, i as u32))
            .collect();
        Self {
            spec: AreaSpec::H3(res),
            frame,
            codes: cells.iter().map(ToString::to_string).collect(),
            names: vec![String::new(); cells.len()],
            area_m2: polygons.iter().map(|p| frame.area_m2(p)).collect(),
            centroids: cells
                .iter()
                .map(|c| {
                    let ll = h3o::LatLng::from(*c);
                    frame.forward(ll.lng(), ll.lat())
                })
                .collect(),
            frontage_m: vec![0.0; cells.len()],
            polygons,
            net: None,
            hex: Some(Hex {
                res: resolution,
                cells,
                index,
            }),
        }
    }

    /// A fishnet of square cells of `size_m` over `extent_m` (west, south, east, north in the
    /// frame), keeping the cells whose centre passes `keep` (WGS84 lon, lat).
    pub fn fishnet(
        frame: LocalFrame,
        extent_m: [f64; 4],
        size_m: f64,
        keep: impl Fn(f64, f64) -> bool + Sync,
    ) -> Self {
        let [w, s, e, n] = extent_m;
        let (west, south) = ((w / size_m).floor() * size_m, (s / size_m).floor() * size_m);
        let cols = ((e - west) / size_m).ceil().max(1.0) as i64;
        let rows = ((n - south) / size_m).ceil().max(1.0) as i64;
        let cells: Vec<(i64, i64)> = (0..rows)
            .into_par_iter()
            .flat_map_iter(|r| {
                let keep = &keep;
                (0..cols).filter_map(move |c| {
                    let m = Metres {
                        x: west + (c as f64 + 0.5) * size_m,
                        y: south + (r as f64 + 0.5) * size_m,
                    };
                    let (lon, lat) = frame.inverse(m);
                    keep(lon, lat).then_some((c, r))
                })
            })
            .collect();
        let corner = |c: i64, r: i64| {
            frame.inverse(Metres {
                x: west + c as f64 * size_m,
                y: south + r as f64 * size_m,
            })
        };
        let polygons = cells
            .par_iter()
            .map(|&(c, r)| {
                let (a, b, cc, d) = (
                    corner(c, r),
                    corner(c + 1, r),
                    corner(c + 1, r + 1),
                    corner(c, r + 1),
                );
                MultiPolygon(vec![polygon![
                    (x: a.0, y: a.1), (x: b.0, y: b.1), (x: cc.0, y: cc.1), (x: d.0, y: d.1), (x: a.0, y: a.1)
                ]])
            })
            .collect();
        let index = cells
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i as u32))
            .collect();
        Self {
            spec: AreaSpec::Fishnet(size_m),
            frame,
            codes: cells.iter().map(|(c, r)| format!("c{c}_r{r}")).collect(),
            names: vec![String::new(); cells.len()],
            area_m2: vec![size_m * size_m; cells.len()],
            centroids: cells
                .iter()
                .map(|&(c, r)| Metres {
                    x: west + (c as f64 + 0.5) * size_m,
                    y: south + (r as f64 + 0.5) * size_m,
                })
                .collect(),
            frontage_m: vec![0.0; cells.len()],
            polygons,
            hex: None,
            net: Some(Net {
                west,
                south,
                size: size_m,
                cells,
                index,
            }),
        }
    }

    /// Number of areas.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Adds the frontage lengths of the city to fishnet or H3 cells (by the frontage's midpoint).
    pub fn add_frontages(&mut self, index: &CityIndex) {
        if self.net.is_none() && self.hex.is_none() {
            return;
        }
        let frame = self.frame;
        let mut add = Vec::new();
        for (_, _, line) in index.frontage_lines() {
            if let Some(mid) = line.0.get(line.0.len() / 2) {
                let m = frame.forward(mid.x, mid.y);
                if let Some(u) = self.cell_of(m) {
                    add.push((u, frame.length_m(line)));
                }
            }
        }
        for (u, l) in add {
            self.frontage_m[u as usize] += l;
        }
    }

    /// The H3 cell holding a WGS84 point.
    fn hex_of(&self, lon: f64, lat: f64) -> Option<u32> {
        let hex = self.hex.as_ref()?;
        let cell = h3o::LatLng::new(lat, lon).ok()?.to_cell(hex.res);
        hex.index.get(&cell).copied()
    }

    fn cell_of(&self, m: Metres) -> Option<u32> {
        if self.hex.is_some() {
            let (lon, lat) = self.frame.inverse(m);
            return self.hex_of(lon, lat);
        }
        let net = self.net.as_ref()?;
        let c = ((m.x - net.west) / net.size).floor() as i64;
        let r = ((m.y - net.south) / net.size).floor() as i64;
        net.index.get(&(c, r)).copied()
    }

    /// The area of each point (WGS84 lon, lat; metres in the frame), `None` outside every area.
    /// Administrative areas need the city's index.
    pub fn assign(
        &self,
        index: Option<&CityIndex>,
        lonlat: &[(f64, f64)],
        metres: &[Metres],
    ) -> Vec<Option<u32>> {
        match (self.spec, index) {
            (AreaSpec::Admin(level), Some(ix)) => lonlat
                .par_iter()
                .map(|&(lon, lat)| lift(ix, ix.locate(lon, lat).grid, level))
                .collect(),
            (AreaSpec::Admin(_), None) => vec![None; lonlat.len()],
            (AreaSpec::H3(_), _) if lonlat.len() == metres.len() => lonlat
                .par_iter()
                .map(|&(lon, lat)| self.hex_of(lon, lat))
                .collect(),
            (AreaSpec::Fishnet(_) | AreaSpec::H3(_), _) => {
                metres.par_iter().map(|&m| self.cell_of(m)).collect()
            }
        }
    }

    /// An upper estimate of the neighbour links `spec` makes over these areas; refused above
    /// [`MAX_NEIGHBOUR_LINKS`] before anything is allocated.
    pub fn check_weights(&self, spec: WeightSpec) -> Result<(), HotspotError> {
        let n = self.len() as f64;
        let per_unit = match spec {
            WeightSpec::Contiguity(_) => 8.0,
            WeightSpec::Ring(k) => {
                let k = f64::from(k);
                if self.hex.is_some() {
                    3.0 * k * (k + 1.0)
                } else {
                    (2.0 * k + 1.0).powi(2) - 1.0
                }
            }
            WeightSpec::Band(d) => {
                // Cells of the mean area within a disc of radius d around each centroid.
                let mean_area = self.area_m2.iter().sum::<f64>() / n.max(1.0);
                std::f64::consts::PI * d * d / mean_area.max(1.0) + 8.0
            }
        };
        let links = n * per_unit.min((n - 1.0).max(0.0));
        if !links.is_finite() || links > MAX_NEIGHBOUR_LINKS as f64 {
            return Err(HotspotError::TooLarge(format!(
                "{spec:?} over {} units would make about {links:.0} neighbour links, more than the {MAX_NEIGHBOUR_LINKS} allowed; choose larger units, a smaller k or a shorter band_m",
                self.len()
            )));
        }
        Ok(())
    }

    /// Neighbours of the areas.
    pub fn weights(&self, spec: WeightSpec) -> Weights {
        if let (Some(hex), false) = (&self.hex, matches!(spec, WeightSpec::Band(_))) {
            // Hexagons share an edge with each of their six neighbours: queen = rook = 1-ring.
            let k = match spec {
                WeightSpec::Ring(k) => k,
                _ => 1,
            };
            return Weights::from_lists(
                hex.cells
                    .iter()
                    .map(|c| {
                        c.grid_disk::<Vec<_>>(k)
                            .into_iter()
                            .filter_map(|n| hex.index.get(&n).copied())
                            .collect()
                    })
                    .collect(),
            );
        }
        match (spec, &self.net) {
            (WeightSpec::Band(d), _) => Weights::distance_band(&self.centroids, d),
            (WeightSpec::Ring(k), Some(net)) => Weights::lattice_ring(&net.cells, k),
            (WeightSpec::Contiguity(Contiguity::Queen), Some(net)) => {
                Weights::lattice_ring(&net.cells, 1)
            }
            (WeightSpec::Contiguity(Contiguity::Rook), Some(net)) => {
                let lists: Vec<(i64, i64)> = net.cells.clone();
                let ring = Weights::lattice_ring(&lists, 1);
                // Keep the four edge neighbours of each cell.
                let mut offsets = vec![0];
                let mut nb = Vec::new();
                for (i, &(c, r)) in lists.iter().enumerate() {
                    for &j in ring.of(i) {
                        let (c2, r2) = lists[j as usize];
                        if (c2 - c).abs() + (r2 - r).abs() == 1 {
                            nb.push(j);
                        }
                    }
                    offsets.push(nb.len());
                }
                Weights {
                    offsets,
                    neighbours: nb,
                }
            }
            (WeightSpec::Contiguity(rule), None) => {
                let refs: Vec<&MultiPolygon<f64>> = self.polygons.iter().collect();
                Weights::contiguity(&refs, rule)
            }
            // A ring on administrative areas: contiguity of order k (k = 1 is queen).
            (WeightSpec::Ring(k), None) => {
                let refs: Vec<&MultiPolygon<f64>> = self.polygons.iter().collect();
                let q = Weights::contiguity(&refs, Contiguity::Queen);
                if k <= 1 {
                    return q;
                }
                let n = q.n();
                let mut offsets = vec![0];
                let mut nb = Vec::new();
                for i in 0..n {
                    let mut seen: Vec<u32> = q.of(i).to_vec();
                    let mut frontier = seen.clone();
                    for _ in 1..k {
                        let mut next = Vec::new();
                        for &f in &frontier {
                            next.extend_from_slice(q.of(f as usize));
                        }
                        next.sort_unstable();
                        next.dedup();
                        next.retain(|x| *x as usize != i && !seen.contains(x));
                        seen.extend_from_slice(&next);
                        frontier = next;
                    }
                    seen.sort_unstable();
                    nb.extend(seen);
                    offsets.push(nb.len());
                }
                Weights {
                    offsets,
                    neighbours: nb,
                }
            }
        }
    }
}

impl crate::cache::Footprint for Areas {
    fn footprint(&self) -> usize {
        use crate::cache::{multipolygons_bytes, strings_bytes, vec_bytes};
        // A hash map entry: key, value and about one control word.
        let map = |n: usize, entry: usize| n * (entry + 8) * 8 / 7;
        std::mem::size_of::<Self>()
            + strings_bytes(&self.codes)
            + strings_bytes(&self.names)
            + multipolygons_bytes(&self.polygons)
            + vec_bytes(&self.area_m2)
            + vec_bytes(&self.centroids)
            + vec_bytes(&self.frontage_m)
            + self
                .net
                .as_ref()
                .map_or(0, |n| vec_bytes(&n.cells) + map(n.index.capacity(), 20))
            + self
                .hex
                .as_ref()
                .map_or(0, |h| vec_bytes(&h.cells) + map(h.index.capacity(), 12))
    }
}

/// The index at `level` of the administrative area holding grid `grid` (its grid, community or
/// street), `None` for no grid.
pub fn lift(ix: &CityIndex, grid: u32, level: AreaLevel) -> Option<u32> {
    let mut g = grid;
    for l in [AreaLevel::Grid, AreaLevel::Community, AreaLevel::Street] {
        if g == NONE {
            return None;
        }
        if l == level {
            return Some(g);
        }
        g = ix.parent(l, g);
    }
    (g != NONE).then_some(g)
}

/// Weighted counts per area: (all points, points passing `frontage_category`). Points outside
/// every area are summed in the last element.
pub fn count(
    n_areas: usize,
    area_of: &[Option<u32>],
    weights: &[f64],
    frontage_category: &[bool],
) -> (Vec<f64>, Vec<f64>, f64) {
    let mut all = vec![0.0; n_areas];
    let mut front = vec![0.0; n_areas];
    let mut outside = 0.0;
    for (i, u) in area_of.iter().enumerate() {
        match u {
            Some(u) => {
                all[*u as usize] += weights[i];
                if frontage_category[i] {
                    front[*u as usize] += weights[i];
                }
            }
            None => outside += weights[i],
        }
    }
    (all, front, outside)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Contains;

    #[test]
    fn an_h3_unit_holds_its_points_and_has_six_neighbours_inside_the_extent() {
        let frame = LocalFrame::at(113.65, 34.75);
        let u = Areas::h3(frame, [-2000.0, -2000.0, 2000.0, 2000.0], 9, |_, _| true);
        assert!(u.len() > 30, "{} cells", u.len());
        let (lon, lat) = (113.651, 34.7512);
        let m = frame.forward(lon, lat);
        let i = u.assign(None, &[(lon, lat)], &[m])[0].expect("a cell") as usize;
        assert!(u.polygons[i].contains(&geo::Point::new(lon, lat)));
        assert!(u.codes[i].starts_with("89"), "{}", u.codes[i]);
        // Our area (ellipsoid, local frame) against h3o's (spherical): within 1 %.
        let cell: h3o::CellIndex = u.codes[i].parse().unwrap();
        let theirs = cell.area_m2();
        assert!(
            (u.area_m2[i] / theirs - 1.0).abs() < 0.01,
            "{} vs {theirs}",
            u.area_m2[i]
        );
        let w = u.weights(WeightSpec::Contiguity(Contiguity::Queen));
        assert_eq!(w.of(i).len(), 6);
        assert_eq!(u.weights(WeightSpec::Ring(2)).of(i).len(), 18);
    }
}
