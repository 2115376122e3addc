//! A lattice of small cells over the city (in lon/lat degrees) with, per cell, the features that
//! may matter there. It replaces a tree walk by one array lookup: the reason the engine answers
//! in well under a microsecond.
//!
//! A polygon is listed for a cell when its boundary meets the cell (then the point-in-polygon
//! test decides) or flagged `INSIDE` when the closed cell lies wholly in the polygon's interior
//! (then no test is needed). The classification errs only towards "boundary": a cell is called
//! inside only when no edge comes within a small margin of it.
//!
//! The lattice is sparse. Its cells are grouped in blocks of 64 × 64 (1.6 km square at 25 m), and
//! only the blocks some feature may be listed in get cells; a small directory maps every block of
//! the extent to its cells or to none. A city fills most of its box, so this costs it nothing; a
//! province is 17 cities in a box of 410 × 440 km, where a dense lattice would hold 291 million
//! cells (8 GB of offsets) for about 16 million that can hold anything (docs/scaling.md).

use geo::{BoundingRect, Coord, CoordsIter, LineString, MultiPolygon, Rect};

/// Flag on a candidate: the whole cell lies inside this polygon.
pub const INSIDE: u32 = 1 << 31;

/// Cells per block side is `1 << BLOCK_SHIFT`.
const BLOCK_SHIFT: usize = 6;
const BLOCK: usize = 1 << BLOCK_SHIFT;
const BLOCK_CELLS: usize = BLOCK * BLOCK;
/// A block with no cells.
const EMPTY_BLOCK: u32 = u32::MAX;
/// Most entries in the block directory (4 bytes each: 64 MB, an extent of about 6,500 km square
/// at 25 m cells). Beyond it the cells are made coarser, which slows the engine but keeps it right.
pub const MAX_BLOCKS: usize = 1 << 24;
/// Most cells given to blocks (each non-empty bucket set holds 4 bytes per cell: 1 GB at this
/// cap; the province of docs/scaling.md needs about 20 million). Beyond it the cells are made
/// coarser.
pub const MAX_CELLS: usize = 1 << 28;

/// The dense geometry of the lattice: origin, cell size and dimensions, all in WGS84 degrees.
#[derive(Debug, Clone, Copy)]
struct Cells {
    /// West edge.
    lon0: f64,
    /// South edge.
    lat0: f64,
    /// Cell width, degrees of longitude.
    dlon: f64,
    /// Cell height, degrees of latitude.
    dlat: f64,
    /// Columns.
    nx: usize,
    /// Rows.
    ny: usize,
}

impl Cells {
    /// Cells of about `cell_m` metres covering `extent`.
    fn covering(extent: Rect<f64>, cell_m: f64) -> Self {
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

    /// Blocks across and down.
    fn blocks(&self) -> (usize, usize) {
        (self.nx.div_ceil(BLOCK), self.ny.div_ceil(BLOCK))
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

    /// A generous conversion of metres into degrees of longitude and latitude anywhere on the
    /// lattice (1 % extra, the narrowest longitude degree of the lattice).
    fn degrees_for(&self, m: f64) -> (f64, f64) {
        let top = self.lat0 + self.ny as f64 * self.dlat;
        let lat = self.lat0.abs().max(top.abs()).min(89.0);
        (
            m * 1.01 / (111_320.0 * lat.to_radians().cos()) + 1e-9,
            m * 1.01 / 110_574.0 + 1e-9,
        )
    }
}

/// What one bucket set lists, and so where its features may be listed: the cells of its
/// polygons' boxes, or the cells within reach of its lines' segments.
#[derive(Debug, Clone, Copy)]
pub enum Footprint<'a> {
    /// Polygons, listed where their boundary meets a cell or flagged where they hold it whole.
    Polygons(&'a [&'a MultiPolygon<f64>]),
    /// Lines, each listed for the cells within its reach (metres) of it.
    Lines(&'a [&'a LineString<f64>], &'a [f64]),
}

impl Footprint<'_> {
    /// Calls `f(item, min, max)` for every box (degrees) whose cells may list the item; the
    /// lattice gives cells to exactly these boxes, and the bucket sets list nothing outside them.
    fn boxes(&self, cells: &Cells, mut f: impl FnMut(u32, Coord<f64>, Coord<f64>)) {
        match *self {
            Footprint::Polygons(polys) => {
                for (i, poly) in polys.iter().enumerate() {
                    if let Some(bbox) = poly.bounding_rect() {
                        f(i as u32, bbox.min(), bbox.max());
                    }
                }
            }
            Footprint::Lines(lines, reach_m) => {
                for (i, (line, reach)) in lines.iter().zip(reach_m).enumerate() {
                    let (dx, dy) = cells.degrees_for(*reach);
                    let grow = |a: Coord<f64>, b: Coord<f64>| {
                        (
                            Coord {
                                x: a.x.min(b.x) - dx,
                                y: a.y.min(b.y) - dy,
                            },
                            Coord {
                                x: a.x.max(b.x) + dx,
                                y: a.y.max(b.y) + dy,
                            },
                        )
                    };
                    for seg in line.lines() {
                        let (lo, hi) = grow(seg.start, seg.end);
                        f(i as u32, lo, hi);
                    }
                    if line.coords_count() == 1 {
                        let (lo, hi) = grow(line.0[0], line.0[0]);
                        f(i as u32, lo, hi);
                    }
                }
            }
        }
    }
}

/// The sparse lattice: the dense geometry, and a directory giving each block of cells its place
/// among the allocated ones.
#[derive(Debug, Clone)]
pub struct Lattice {
    cells: Cells,
    /// Blocks across.
    bx: usize,
    /// Per block (row-major), the index of its first cell divided by `BLOCK_CELLS`, or
    /// [`EMPTY_BLOCK`].
    blocks: Vec<u32>,
    /// Allocated blocks.
    slots: usize,
}

impl Lattice {
    /// A lattice over `extent` with cells of about `cell_m` metres, holding cells only in the
    /// blocks the footprints may list something in. When the directory or the cells would pass
    /// [`MAX_BLOCKS`] or [`MAX_CELLS`], the cell size is doubled until they fit.
    pub fn sparse(extent: Rect<f64>, cell_m: f64, footprints: &[&Footprint]) -> Self {
        let mut cell_m = cell_m;
        loop {
            let cells = Cells::covering(extent, cell_m);
            let (bx, by) = cells.blocks();
            if bx.saturating_mul(by) > MAX_BLOCKS {
                cell_m *= 2.0;
                continue;
            }
            let mut blocks = vec![EMPTY_BLOCK; bx * by];
            for fp in footprints {
                fp.boxes(&cells, |_, lo, hi| {
                    if let Some((x0, y0, x1, y1)) = cells.range(lo, hi) {
                        for by in (y0 >> BLOCK_SHIFT)..=(y1 >> BLOCK_SHIFT) {
                            let row = &mut blocks[by * bx..(by + 1) * bx];
                            row[x0 >> BLOCK_SHIFT..=x1 >> BLOCK_SHIFT].fill(0);
                        }
                    }
                });
            }
            // Slots in row-major block order: deterministic, and neighbours stay near.
            let mut slots = 0usize;
            for b in blocks.iter_mut().filter(|b| **b != EMPTY_BLOCK) {
                *b = slots as u32;
                slots += 1;
            }
            if slots.saturating_mul(BLOCK_CELLS) > MAX_CELLS {
                cell_m *= 2.0;
                continue;
            }
            return Self {
                cells,
                bx,
                blocks,
                slots,
            };
        }
    }

    /// Number of allocated cells (the range of [`Lattice::cell`]).
    pub fn len(&self) -> usize {
        self.slots * BLOCK_CELLS
    }

    /// Whether no cell is allocated.
    pub fn is_empty(&self) -> bool {
        self.slots == 0
    }

    /// The cell size in use, metres (larger than asked when the caps made it coarser).
    pub fn cell_m(&self) -> f64 {
        self.cells.dlat * 110_946.0
    }

    /// Memory held by the directory, bytes.
    pub fn bytes(&self) -> usize {
        self.blocks.len() * 4
    }

    /// The allocated cell at column `ix`, row `iy`, if its block has cells.
    #[inline]
    fn index(&self, ix: usize, iy: usize) -> Option<usize> {
        let slot = self.blocks[(iy >> BLOCK_SHIFT) * self.bx + (ix >> BLOCK_SHIFT)];
        (slot != EMPTY_BLOCK).then(|| {
            slot as usize * BLOCK_CELLS + ((iy & (BLOCK - 1)) << BLOCK_SHIFT) + (ix & (BLOCK - 1))
        })
    }

    /// The cell holding a coordinate, if inside the lattice and in a block with cells (a point
    /// elsewhere has no feature near it).
    #[inline]
    pub fn cell(&self, lon: f64, lat: f64) -> Option<usize> {
        let c = &self.cells;
        let fx = (lon - c.lon0) / c.dlon;
        let fy = (lat - c.lat0) / c.dlat;
        if fx >= 0.0 && fy >= 0.0 {
            let (ix, iy) = (fx as usize, fy as usize);
            if ix < c.nx && iy < c.ny {
                return self.index(ix, iy);
            }
        }
        None
    }
}

/// Per-cell candidate lists in compressed form (offsets into one array). An empty set holds no
/// offsets at all.
#[derive(Debug, Clone, Default)]
pub struct Buckets {
    offsets: Vec<u32>,
    items: Vec<u32>,
}

impl Buckets {
    /// Lists a footprint's features on the lattice (which must have been built with it).
    pub fn of(lattice: &Lattice, footprint: &Footprint) -> Self {
        match *footprint {
            Footprint::Polygons(polys) => Self::polygons(lattice, polys),
            Footprint::Lines(..) => {
                let cells = &lattice.cells;
                let mut pairs = Vec::new();
                footprint.boxes(cells, |i, lo, hi| {
                    let Some((x0, y0, x1, y1)) = cells.range(lo, hi) else {
                        return;
                    };
                    for iy in y0..=y1 {
                        for ix in x0..=x1 {
                            push(&mut pairs, lattice, ix, iy, i);
                        }
                    }
                });
                Self::from_pairs(lattice.len(), pairs)
            }
        }
    }

    /// Builds from (cell, item) pairs.
    fn from_pairs(cells: usize, mut pairs: Vec<(u32, u32)>) -> Self {
        if pairs.is_empty() {
            return Self::default();
        }
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
    fn polygons(lattice: &Lattice, polys: &[&MultiPolygon<f64>]) -> Self {
        let cells = &lattice.cells;
        let mut pairs = Vec::new();
        // A margin of about 1 mm: a cell this close to an edge is never called inside.
        let eps = 1e-8;
        for (i, poly) in polys.iter().enumerate() {
            let i = i as u32;
            let Some(bbox) = poly.bounding_rect() else {
                continue;
            };
            let Some((x0, y0, x1, y1)) = cells.range(bbox.min(), bbox.max()) else {
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
                let Some((ex0, ey0, ex1, ey1)) = cells.range(lo, hi) else {
                    continue;
                };
                for iy in ey0.max(y0)..=ey1.min(y1) {
                    for ix in ex0.max(x0)..=ex1.min(x1) {
                        let (cmin, cmax) = cells.cell_rect(ix, iy);
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
                    if touched[(iy - y0) * w + (ix - x0)] {
                        push(&mut pairs, lattice, ix, iy, i);
                    } else {
                        let (cmin, cmax) = cells.cell_rect(ix, iy);
                        let centre = Coord {
                            x: (cmin.x + cmax.x) / 2.0,
                            y: (cmin.y + cmax.y) / 2.0,
                        };
                        // No edge meets the cell, so the whole cell is on one side.
                        if geo::Intersects::intersects(*poly, &centre) {
                            push(&mut pairs, lattice, ix, iy, i | INSIDE);
                        }
                    }
                }
            }
        }
        Self::from_pairs(lattice.len(), pairs)
    }
}

/// Lists `item` for the cell at column `ix`, row `iy`. Every cell a footprint's boxes meet has
/// been given to a block by [`Lattice::sparse`], so the lookup cannot miss.
fn push(pairs: &mut Vec<(u32, u32)>, lattice: &Lattice, ix: usize, iy: usize, item: u32) {
    let cell = lattice.index(ix, iy);
    debug_assert!(
        cell.is_some(),
        "cell ({ix}, {iy}) lies in no allocated block"
    );
    if let Some(cell) = cell {
        pairs.push((cell as u32, item));
    }
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

    fn square(x0: f64, y0: f64, side: f64) -> MultiPolygon<f64> {
        geo::Polygon::new(
            LineString::from(vec![
                (x0, y0),
                (x0 + side, y0),
                (x0 + side, y0 + side),
                (x0, y0 + side),
                (x0, y0),
            ]),
            vec![],
        )
        .into()
    }

    #[test]
    fn a_cell_deep_inside_a_polygon_is_flagged_and_a_cell_on_its_edge_is_listed() {
        let extent = Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 0.01, y: 0.01 });
        let poly = square(0.0, 0.0, 0.005);
        let polys = [&poly];
        let fp = Footprint::Polygons(&polys);
        let lattice = Lattice::sparse(extent, 100.0, &[&fp]);
        let b = Buckets::of(&lattice, &fp);
        let deep = lattice.cell(0.0025, 0.0025).unwrap();
        assert_eq!(b.get(deep), [INSIDE]);
        let edge = lattice.cell(0.00499, 0.0025).unwrap();
        assert_eq!(b.get(edge), [0]);
        let outside = lattice.cell(0.008, 0.008).unwrap();
        assert!(b.get(outside).is_empty());
    }

    #[test]
    fn two_small_cities_far_apart_get_cells_only_around_themselves() {
        // Two 1 km squares 300 km apart, at 25 m: a dense lattice would have 144 million cells.
        let a = square(113.0, 34.0, 0.01);
        let b = square(116.0, 35.0, 0.01);
        let extent = Rect::new(
            Coord { x: 113.0, y: 34.0 },
            Coord {
                x: 116.01,
                y: 35.01,
            },
        );
        let polys = [&a, &b];
        let road = LineString::from(vec![(113.005, 34.005), (113.009, 34.005)]);
        let lines = [&road];
        let reach = [30.0];
        let (grids, roads) = (
            Footprint::Polygons(&polys),
            Footprint::Lines(&lines, &reach),
        );
        let lattice = Lattice::sparse(extent, 25.0, &[&grids, &roads]);
        assert!(lattice.len() <= 4 * BLOCK_CELLS, "{} cells", lattice.len());
        assert!(lattice.bytes() < 1_000_000);
        let buckets = Buckets::of(&lattice, &grids);
        let at = |lon, lat| lattice.cell(lon, lat).map(|c| buckets.get(c).to_vec());
        assert_eq!(at(113.005, 34.005), Some(vec![INSIDE]));
        assert_eq!(at(116.005, 35.005), Some(vec![1 | INSIDE]));
        // Half-way between them nothing lies, and no cell is there.
        assert_eq!(at(114.5, 34.5), None);
        let near = Buckets::of(&lattice, &roads);
        assert_eq!(near.get(lattice.cell(113.007, 34.0052).unwrap()), [0]);
        assert!(near.get(lattice.cell(116.005, 35.005).unwrap()).is_empty());
    }

    #[test]
    fn an_extent_too_large_for_the_caps_gets_coarser_cells_and_still_answers() {
        // Half the globe at 25 m would need 278 million directory entries: the cells grow until
        // the directory fits.
        let extent = Rect::new(
            Coord {
                x: -179.0,
                y: -80.0,
            },
            Coord { x: 179.0, y: 80.0 },
        );
        let town = square(-100.0, 0.0, 0.01);
        let polys = [&town];
        let fp = Footprint::Polygons(&polys);
        let lattice = Lattice::sparse(extent, 25.0, &[&fp]);
        assert!(lattice.blocks.len() <= MAX_BLOCKS);
        assert!(lattice.cell_m() > 25.0 * 7.9, "{} m", lattice.cell_m());
        let b = Buckets::of(&lattice, &fp);
        let listed = b.get(lattice.cell(-99.995, 0.005).unwrap());
        assert_eq!(listed.iter().map(|i| i & !INSIDE).collect::<Vec<_>>(), [0]);
        // A polygon filling 20° × 20° at 25 m would need 7.9 billion cells: they grow until
        // at most MAX_CELLS are allocated (only the lattice is built here, not its lists).
        let extent = Rect::new(Coord { x: 100.0, y: 20.0 }, Coord { x: 120.0, y: 40.0 });
        let big = square(100.0, 20.0, 20.0);
        let polys = [&big];
        let lattice = Lattice::sparse(extent, 25.0, &[&Footprint::Polygons(&polys)]);
        assert!(lattice.len() <= MAX_CELLS);
        assert!(lattice.cell_m() > 25.0 * 7.9, "{} m", lattice.cell_m());
    }

    #[test]
    fn a_set_with_nothing_in_it_holds_no_offsets() {
        let extent = Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 0.01, y: 0.01 });
        let poly = square(0.0, 0.0, 0.005);
        let polys = [&poly];
        let fp = Footprint::Polygons(&polys);
        let none = Footprint::Lines(&[], &[]);
        let lattice = Lattice::sparse(extent, 100.0, &[&fp, &none]);
        let b = Buckets::of(&lattice, &none);
        assert_eq!(b.bytes(), 0);
        assert!(b.get(lattice.cell(0.001, 0.001).unwrap()).is_empty());
    }
}
