//! A uniform lattice of small cells over the city (in lon/lat degrees) with, per cell, the
//! features that may matter there. It replaces a tree walk by one array lookup: the reason the
//! engine answers in well under a microsecond.
//!
//! A polygon is listed for a cell when its boundary meets the cell (then the point-in-polygon
//! test decides) or flagged `INSIDE` when the closed cell lies wholly in the polygon's interior
//! (then no test is needed). The classification errs only towards "boundary": a cell is called
//! inside only when no edge comes within a small margin of it.

use geo::{Coord, CoordsIter, LineString, MultiPolygon, Rect};

/// Flag on a candidate: the whole cell lies inside this polygon.
pub const INSIDE: u32 = 1 << 31;

/// The lattice geometry: origin, cell size and dimensions, all in WGS84 degrees.
#[derive(Debug, Clone, Copy)]
pub struct Lattice {
    /// West edge.
    pub lon0: f64,
    /// South edge.
    pub lat0: f64,
    /// Cell width, degrees of longitude.
    pub dlon: f64,
    /// Cell height, degrees of latitude.
    pub dlat: f64,
    /// Columns.
    pub nx: usize,
    /// Rows.
    pub ny: usize,
}

impl Lattice {
    /// A lattice covering `extent` with cells of about `cell_m` metres.
    pub fn covering(extent: Rect<f64>, cell_m: f64) -> Self {
        let mid = (extent.min().y + extent.max().y) / 2.0;
        let dlat = cell_m / 110_946.0;
        let dlon = cell_m / (111_320.0 * mid.to_radians().cos());
        let nx = (((extent.max().x - extent.min().x) / dlon).ceil() as usize).max(1);
        let ny = (((extent.max().y - extent.min().y) / dlat).ceil() as usize).max(1);
        Self {
            lon0: extent.min().x,
            lat0: extent.min().y,
            dlon,
            dlat,
            nx,
            ny,
        }
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.nx * self.ny
    }

    /// Whether the lattice has no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cell holding a coordinate, if inside the lattice.
    #[inline]
    pub fn cell(&self, lon: f64, lat: f64) -> Option<usize> {
        let fx = (lon - self.lon0) / self.dlon;
        let fy = (lat - self.lat0) / self.dlat;
        if fx >= 0.0 && fy >= 0.0 {
            let (ix, iy) = (fx as usize, fy as usize);
            if ix < self.nx && iy < self.ny {
                return Some(iy * self.nx + ix);
            }
        }
        None
    }

    /// Column and row ranges of the cells meeting a box (clamped to the lattice).
    fn range(&self, min: Coord<f64>, max: Coord<f64>) -> Option<(usize, usize, usize, usize)> {
        let x0 = ((min.x - self.lon0) / self.dlon).floor();
        let y0 = ((min.y - self.lat0) / self.dlat).floor();
        let x1 = ((max.x - self.lon0) / self.dlon).floor();
        let y1 = ((max.y - self.lat0) / self.dlat).floor();
        if x1 < 0.0 || y1 < 0.0 || x0 >= self.nx as f64 || y0 >= self.ny as f64 {
            return None;
        }
        let clamp = |v: f64, n: usize| (v.max(0.0) as usize).min(n - 1);
        Some((
            clamp(x0, self.nx),
            clamp(y0, self.ny),
            clamp(x1, self.nx),
            clamp(y1, self.ny),
        ))
    }

    /// The rectangle of a cell, degrees.
    fn cell_rect(&self, ix: usize, iy: usize) -> (Coord<f64>, Coord<f64>) {
        let min = Coord {
            x: self.lon0 + ix as f64 * self.dlon,
            y: self.lat0 + iy as f64 * self.dlat,
        };
        (
            min,
            Coord {
                x: min.x + self.dlon,
                y: min.y + self.dlat,
            },
        )
    }
}

/// Per-cell candidate lists in compressed form (offsets into one array).
#[derive(Debug, Clone, Default)]
pub struct Buckets {
    offsets: Vec<u32>,
    items: Vec<u32>,
}

impl Buckets {
    /// Builds from (cell, item) pairs.
    fn from_pairs(cells: usize, mut pairs: Vec<(u32, u32)>) -> Self {
        pairs.sort_unstable();
        pairs.dedup();
        let mut offsets = vec![0u32; cells + 1];
        for &(c, _) in &pairs {
            offsets[c as usize + 1] += 1;
        }
        for i in 0..cells {
            offsets[i + 1] += offsets[i];
        }
        Self {
            offsets,
            items: pairs.into_iter().map(|(_, item)| item).collect(),
        }
    }

    /// The candidates of a cell.
    #[inline]
    pub fn get(&self, cell: usize) -> &[u32] {
        match (self.offsets.get(cell), self.offsets.get(cell + 1)) {
            (Some(&a), Some(&b)) => &self.items[a as usize..b as usize],
            _ => &[],
        }
    }

    /// Memory held, bytes.
    pub fn bytes(&self) -> usize {
        (self.offsets.len() + self.items.len()) * 4
    }

    /// Lists each polygon for the cells its boundary meets, or with [`INSIDE`] for the cells it
    /// wholly contains.
    pub fn polygons(lattice: &Lattice, polys: &[&MultiPolygon<f64>]) -> Self {
        let mut pairs = Vec::new();
        // A margin of about 1 mm: a cell this close to an edge is never called inside.
        let eps = 1e-8;
        for (i, poly) in polys.iter().enumerate() {
            let i = i as u32;
            let Some(bbox) = geo::BoundingRect::bounding_rect(*poly) else {
                continue;
            };
            let Some((x0, y0, x1, y1)) = lattice.range(bbox.min(), bbox.max()) else {
                continue;
            };
            let edges: Vec<(Coord<f64>, Coord<f64>)> = poly
                .iter()
                .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                .flat_map(|ring| ring.lines().map(|l| (l.start, l.end)))
                .collect();
            // Mark the cells each edge crosses, walking only the cells of its own box.
            let w = x1 - x0 + 1;
            let mut touched = vec![false; w * (y1 - y0 + 1)];
            for &(a, b) in &edges {
                let lo = Coord {
                    x: a.x.min(b.x) - eps,
                    y: a.y.min(b.y) - eps,
                };
                let hi = Coord {
                    x: a.x.max(b.x) + eps,
                    y: a.y.max(b.y) + eps,
                };
                let Some((ex0, ey0, ex1, ey1)) = lattice.range(lo, hi) else {
                    continue;
                };
                for iy in ey0.max(y0)..=ey1.min(y1) {
                    for ix in ex0.max(x0)..=ex1.min(x1) {
                        let (cmin, cmax) = lattice.cell_rect(ix, iy);
                        let cmin = Coord {
                            x: cmin.x - eps,
                            y: cmin.y - eps,
                        };
                        let cmax = Coord {
                            x: cmax.x + eps,
                            y: cmax.y + eps,
                        };
                        if segment_meets_rect(a, b, cmin, cmax) {
                            touched[(iy - y0) * w + (ix - x0)] = true;
                        }
                    }
                }
            }
            for iy in y0..=y1 {
                for ix in x0..=x1 {
                    let cell = (iy * lattice.nx + ix) as u32;
                    if touched[(iy - y0) * w + (ix - x0)] {
                        pairs.push((cell, i));
                    } else {
                        let (cmin, cmax) = lattice.cell_rect(ix, iy);
                        let centre = Coord {
                            x: (cmin.x + cmax.x) / 2.0,
                            y: (cmin.y + cmax.y) / 2.0,
                        };
                        // No edge meets the cell, so the whole cell is on one side.
                        if geo::Intersects::intersects(*poly, &centre) {
                            pairs.push((cell, i | INSIDE));
                        }
                    }
                }
            }
        }
        Self::from_pairs(lattice.len(), pairs)
    }

    /// Lists each segment of `lines[i]` (an item is the line's index) for the cells within
    /// `reach_m[i]` metres of it.
    pub fn near_lines(lattice: &Lattice, lines: &[&LineString<f64>], reach_m: &[f64]) -> Self {
        let mut pairs = Vec::new();
        for (i, (line, reach)) in lines.iter().zip(reach_m).enumerate() {
            let (dx, dy) = degrees_for(*reach, lattice);
            for seg in line.lines() {
                let lo = Coord {
                    x: seg.start.x.min(seg.end.x) - dx,
                    y: seg.start.y.min(seg.end.y) - dy,
                };
                let hi = Coord {
                    x: seg.start.x.max(seg.end.x) + dx,
                    y: seg.start.y.max(seg.end.y) + dy,
                };
                let Some((x0, y0, x1, y1)) = lattice.range(lo, hi) else {
                    continue;
                };
                for iy in y0..=y1 {
                    for ix in x0..=x1 {
                        pairs.push(((iy * lattice.nx + ix) as u32, i as u32));
                    }
                }
            }
            if line.coords_count() == 1 {
                let c = line.0[0];
                let lo = Coord {
                    x: c.x - dx,
                    y: c.y - dy,
                };
                let hi = Coord {
                    x: c.x + dx,
                    y: c.y + dy,
                };
                if let Some((x0, y0, x1, y1)) = lattice.range(lo, hi) {
                    for iy in y0..=y1 {
                        for ix in x0..=x1 {
                            pairs.push(((iy * lattice.nx + ix) as u32, i as u32));
                        }
                    }
                }
            }
        }
        Self::from_pairs(lattice.len(), pairs)
    }
}

/// A generous conversion of metres into degrees of longitude and latitude anywhere on the
/// lattice (1 % extra, the narrowest longitude degree of the lattice).
fn degrees_for(m: f64, lattice: &Lattice) -> (f64, f64) {
    let top = lattice.lat0 + lattice.ny as f64 * lattice.dlat;
    let lat = lattice.lat0.abs().max(top.abs()).min(89.0);
    (
        m * 1.01 / (111_320.0 * lat.to_radians().cos()) + 1e-9,
        m * 1.01 / 110_574.0 + 1e-9,
    )
}

fn orient(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>) -> f64 {
    (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)
}

fn segments_cross(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>, d: Coord<f64>) -> bool {
    let (d1, d2) = (orient(c, d, a), orient(c, d, b));
    let (d3, d4) = (orient(a, b, c), orient(a, b, d));
    // Touching counts as meeting: this test only decides "maybe on the boundary".
    (d1 * d2 <= 0.0) && (d3 * d4 <= 0.0)
}

/// Whether segment a–b meets the closed rectangle [min, max].
fn segment_meets_rect(a: Coord<f64>, b: Coord<f64>, min: Coord<f64>, max: Coord<f64>) -> bool {
    let inside = |p: Coord<f64>| p.x >= min.x && p.x <= max.x && p.y >= min.y && p.y <= max.y;
    if inside(a) || inside(b) {
        return true;
    }
    if a.x.max(b.x) < min.x || a.x.min(b.x) > max.x || a.y.max(b.y) < min.y || a.y.min(b.y) > max.y
    {
        return false;
    }
    let c = [
        min,
        Coord { x: max.x, y: min.y },
        max,
        Coord { x: min.x, y: max.y },
    ];
    (0..4).any(|k| segments_cross(a, b, c[k], c[(k + 1) % 4]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_deep_inside_a_polygon_is_flagged_and_a_cell_on_its_edge_is_listed() {
        let extent = Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 0.01, y: 0.01 });
        let lattice = Lattice::covering(extent, 100.0);
        let square: MultiPolygon<f64> = geo::Polygon::new(
            LineString::from(vec![
                (0.0, 0.0),
                (0.005, 0.0),
                (0.005, 0.005),
                (0.0, 0.005),
                (0.0, 0.0),
            ]),
            vec![],
        )
        .into();
        let b = Buckets::polygons(&lattice, &[&square]);
        let deep = lattice.cell(0.0025, 0.0025).unwrap();
        assert_eq!(b.get(deep), [INSIDE]);
        let edge = lattice.cell(0.00499, 0.0025).unwrap();
        assert_eq!(b.get(edge), [0]);
        let outside = lattice.cell(0.008, 0.008).unwrap();
        assert!(b.get(outside).is_empty());
    }
}
