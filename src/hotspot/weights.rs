//! Spatial weights: who is whose neighbour. Binary, symmetric, without self-links (Gi* adds the
//! self-weight itself, as esda's `G_Local(star=True)` does).
//!
//! - **Queen contiguity** (polygons): two areas are neighbours when their boundaries share at
//!   least one vertex; **rook**: when they share at least one edge (two consecutive vertices).
//!   Vertices are compared bit for bit, as libpysal's `Queen`/`Rook` compare them: the layers of a
//!   city (and the demo city) share bit-identical vertices along common borders. A T-junction (one
//!   side has a vertex the other lacks) is therefore not an edge for rook.
//! - **k-ring** (square fishnet): the cells within k steps in the 8-neighbourhood (Chebyshev
//!   distance ≤ k), i.e. queen contiguity of order k on the lattice, limited to existing cells.
//! - **Distance band** (any areas): centroids within `d` metres (in the local frame), like
//!   libpysal's `DistanceBand(binary=True)`.

use std::collections::HashMap;

use geo::MultiPolygon;

use super::frame::Metres;

/// Binary weights in compressed rows: the neighbours of area i are
/// `neighbours[offsets[i]..offsets[i + 1]]`, sorted, without i itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Weights {
    /// Row starts; `len() == n + 1`.
    pub offsets: Vec<usize>,
    /// Neighbour indices.
    pub neighbours: Vec<u32>,
}

impl crate::cache::Footprint for Weights {
    fn footprint(&self) -> usize {
        std::mem::size_of::<Self>()
            + crate::cache::vec_bytes(&self.offsets)
            + crate::cache::vec_bytes(&self.neighbours)
    }
}

/// Contiguity rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Contiguity {
    /// A shared vertex.
    Queen,
    /// A shared edge.
    Rook,
}

impl Weights {
    /// Number of areas.
    pub fn n(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Neighbours of area i.
    pub fn of(&self, i: usize) -> &[u32] {
        &self.neighbours[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Areas without neighbours.
    pub fn islands(&self) -> usize {
        (0..self.n()).filter(|&i| self.of(i).is_empty()).count()
    }

    /// Mean number of neighbours.
    pub fn mean_neighbours(&self) -> f64 {
        if self.n() == 0 {
            0.0
        } else {
            self.neighbours.len() as f64 / self.n() as f64
        }
    }

    /// Weights from neighbour lists (sorted, deduplicated, self-links dropped here).
    pub fn from_lists(mut lists: Vec<Vec<u32>>) -> Self {
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        let mut neighbours = Vec::new();
        offsets.push(0);
        for (i, l) in lists.iter_mut().enumerate() {
            l.sort_unstable();
            l.dedup();
            neighbours.extend(l.iter().copied().filter(|&j| j as usize != i));
            offsets.push(neighbours.len());
        }
        Self {
            offsets,
            neighbours,
        }
    }

    /// Contiguity weights of polygons (any CRS: vertices are compared exactly). Every vertex
    /// (queen) or edge (rook) becomes a key; sorting the keys brings the areas sharing one together.
    pub fn contiguity(polys: &[&MultiPolygon<f64>], rule: Contiguity) -> Self {
        use rayon::prelude::*;
        let key = |c: geo::Coord<f64>| (c.x.to_bits(), c.y.to_bits());
        let mut keys: Vec<([u64; 4], u32)> = polys
            .par_iter()
            .enumerate()
            .flat_map_iter(|(i, mp)| {
                let mut out = Vec::new();
                for p in &mp.0 {
                    for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                        match rule {
                            Contiguity::Queen => out.extend(ring.0.iter().map(|c| {
                                let k = key(*c);
                                ([k.0, k.1, 0, 0], i as u32)
                            })),
                            Contiguity::Rook => out.extend(ring.0.windows(2).filter_map(|w| {
                                let (a, b) = (key(w[0]), key(w[1]));
                                let (lo, hi) = (a.min(b), a.max(b));
                                (a != b).then_some(([lo.0, lo.1, hi.0, hi.1], i as u32))
                            })),
                        }
                    }
                }
                out
            })
            .collect();
        keys.par_sort_unstable();
        keys.dedup();
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for group in keys.chunk_by(|a, b| a.0 == b.0) {
            if group.len() > 1 {
                for a in group {
                    for b in group {
                        if a.1 != b.1 {
                            pairs.push((a.1, b.1));
                        }
                    }
                }
            }
        }
        pairs.par_sort_unstable();
        pairs.dedup();
        let mut offsets = Vec::with_capacity(polys.len() + 1);
        offsets.push(0);
        let mut k = 0;
        for i in 0..polys.len() as u32 {
            while k < pairs.len() && pairs[k].0 == i {
                k += 1;
            }
            offsets.push(k);
        }
        Self {
            offsets,
            neighbours: pairs.into_iter().map(|p| p.1).collect(),
        }
    }

    /// k-ring weights of fishnet cells given by (column, row); cells absent from the list are
    /// not neighbours of anyone.
    pub fn lattice_ring(cells: &[(i64, i64)], k: u32) -> Self {
        let index: HashMap<(i64, i64), u32> = cells
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i as u32))
            .collect();
        let k = i64::from(k);
        let lists = cells
            .iter()
            .map(|&(c, r)| {
                let mut l = Vec::new();
                for dr in -k..=k {
                    for dc in -k..=k {
                        if let Some(&j) = index.get(&(c + dc, r + dr)) {
                            l.push(j);
                        }
                    }
                }
                l
            })
            .collect();
        Self::from_lists(lists)
    }

    /// Distance-band weights: areas whose points (metres) lie within `band_m` of each other.
    pub fn distance_band(points: &[Metres], band_m: f64) -> Self {
        let cell = band_m.max(1e-9);
        let mut buckets: HashMap<(i64, i64), Vec<u32>> = HashMap::new();
        let at = |p: &Metres| ((p.x / cell).floor() as i64, (p.y / cell).floor() as i64);
        for (i, p) in points.iter().enumerate() {
            buckets.entry(at(p)).or_default().push(i as u32);
        }
        let b2 = band_m * band_m;
        let lists = points
            .iter()
            .map(|p| {
                let (cx, cy) = at(p);
                let mut l = Vec::new();
                for dy in -1..=1 {
                    for dx in -1..=1 {
                        for &j in buckets.get(&(cx + dx, cy + dy)).map_or(&[][..], |v| v) {
                            let q = &points[j as usize];
                            if (q.x - p.x).powi(2) + (q.y - p.y).powi(2) <= b2 {
                                l.push(j);
                            }
                        }
                    }
                }
                l
            })
            .collect();
        Self::from_lists(lists)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{MultiPolygon, polygon};

    fn square(x: f64, y: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![
            polygon![(x: x, y: y), (x: x + 1.0, y: y), (x: x + 1.0, y: y + 1.0), (x: x, y: y + 1.0), (x: x, y: y)],
        ])
    }

    #[test]
    fn diagonal_squares_are_queen_but_not_rook_neighbours() {
        let sq: Vec<MultiPolygon<f64>> = (0..9)
            .map(|i| square(f64::from(i % 3), f64::from(i / 3)))
            .collect();
        let refs: Vec<&MultiPolygon<f64>> = sq.iter().collect();
        let q = Weights::contiguity(&refs, Contiguity::Queen);
        let r = Weights::contiguity(&refs, Contiguity::Rook);
        assert_eq!(q.of(4).len(), 8);
        assert_eq!(r.of(4), &[1, 3, 5, 7]);
        assert_eq!(q.of(0), &[1, 3, 4]);
        assert_eq!(r.of(0), &[1, 3]);
    }

    #[test]
    fn a_lattice_ring_and_a_distance_band_agree_on_a_full_lattice() {
        let cells: Vec<(i64, i64)> = (0..25).map(|i| (i % 5, i / 5)).collect();
        let pts: Vec<Metres> = cells
            .iter()
            .map(|&(c, r)| Metres {
                x: c as f64 * 10.0,
                y: r as f64 * 10.0,
            })
            .collect();
        let ring = Weights::lattice_ring(&cells, 1);
        let band = Weights::distance_band(&pts, 10.0 * 2f64.sqrt() + 1e-6);
        assert_eq!(ring, band);
        assert_eq!(ring.of(12).len(), 8);
    }
}
