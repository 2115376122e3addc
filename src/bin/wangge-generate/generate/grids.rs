//! Unit grids (单元网格): groups of pieces inside one community, and their numbering.
//!
//! Rule: in the built-up area (land class Core/BuiltUp) a grid is one lattice cell, ~100 m on a
//! side (≈ 10,000 m², the 万米单元网格); in the fringe it is a 2 × 2 block of cells (~200 m) and in
//! rural village land a 3 × 3 block (~300 m), blocks aligned on the global lattice and cut by
//! community borders (a block split by a border becomes one grid on each side, and a block whose
//! part in one community is not connected becomes one grid per connected part). Cells clipped by
//! the district outline keep their clipped shape; any grid still under `TINY_M2` is merged into the
//! neighbouring grid of the same community with which it shares the longest border (or, failing
//! that, the neighbouring grid of the same district, whose community then absorbs it).

use std::collections::{BTreeMap, VecDeque};

use super::land::Land;
use super::partition::Pieces;
use super::projection::Fixed;

/// Grids under this area (m²) are merged into a neighbour.
pub const TINY_M2: f64 = 1_000.0;

/// Row tolerance of the numbering rule, in 1e-7° of latitude (0.00045° ≈ 50 m).
pub const ROW_TOLERANCE_E7: i64 = 4_500;

/// A grid before numbering.
#[derive(Debug, Clone)]
pub struct GridDraft {
    /// Pieces (indices into `Pieces::list`).
    pub pieces: Vec<u32>,
    /// Community index.
    pub community: u32,
    /// Area, m² (sum of the pieces).
    pub area: f64,
    /// Land class (the most urban of its pieces).
    pub land: Land,
}

/// Groups pieces into grids. May move tiny pieces to a neighbouring community (updating
/// `comm` and `street`), so communities are derived only after this step.
pub fn build(
    pcs: &Pieces,
    comm: &mut [u32],
    street: &mut [u32],
    comm_street: &[u32],
) -> Vec<GridDraft> {
    let n = pcs.list.len();
    let mut groups: BTreeMap<(u32, usize, usize, usize), Vec<usize>> = BTreeMap::new();
    for (p, pc) in pcs.list.iter().enumerate() {
        let k = pc.land.block();
        groups
            .entry((comm[p], k, pc.cell.0 / k, pc.cell.1 / k))
            .or_default()
            .push(p);
    }
    let mut grid_of = vec![u32::MAX; n];
    let mut grids: Vec<GridDraft> = Vec::new();
    for ((c, _, _, _), members) in &groups {
        let key = |p: usize| {
            (
                comm[p],
                pcs.list[p].land.block(),
                pcs.list[p].cell.0 / pcs.list[p].land.block(),
                pcs.list[p].cell.1 / pcs.list[p].land.block(),
            )
        };
        for &start in members {
            if grid_of[start] != u32::MAX {
                continue;
            }
            let id = grids.len() as u32;
            let mut q = VecDeque::from([start]);
            grid_of[start] = id;
            let mut g = GridDraft {
                pieces: Vec::new(),
                community: *c,
                area: 0.0,
                land: pcs.list[start].land,
            };
            while let Some(p) = q.pop_front() {
                g.pieces.push(p as u32);
                g.area += pcs.list[p].area;
                g.land = g.land.min(pcs.list[p].land);
                for &(nb, _) in &pcs.adj[p] {
                    let nb = nb as usize;
                    if grid_of[nb] == u32::MAX && key(nb) == key(start) {
                        grid_of[nb] = id;
                        q.push_back(nb);
                    }
                }
            }
            grids.push(g);
        }
    }
    // Merge tiny grids, smallest first, until none is left that has a neighbour.
    loop {
        let mut tiny: Vec<usize> = (0..grids.len())
            .filter(|&g| !grids[g].pieces.is_empty() && grids[g].area < TINY_M2)
            .collect();
        tiny.sort_by(|&a, &b| grids[a].area.total_cmp(&grids[b].area).then(a.cmp(&b)));
        let mut changed = false;
        for g in tiny {
            if grids[g].pieces.is_empty() || grids[g].area >= TINY_M2 {
                continue;
            }
            let mut border: BTreeMap<u32, f64> = BTreeMap::new();
            for &p in &grids[g].pieces {
                for &(nb, len) in &pcs.adj[p as usize] {
                    let h = grid_of[nb as usize];
                    if h != g as u32
                        && pcs.list[nb as usize].district == pcs.list[p as usize].district
                    {
                        *border.entry(h).or_insert(0.0) += len;
                    }
                }
            }
            let same = border
                .iter()
                .filter(|(h, _)| grids[**h as usize].community == grids[g].community);
            let pick = |it: &mut dyn Iterator<Item = (&u32, &f64)>| {
                it.max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
                    .map(|x| *x.0)
            };
            let target = pick(&mut same.into_iter()).or_else(|| pick(&mut border.iter()));
            let Some(h) = target else { continue };
            let moved = std::mem::take(&mut grids[g].pieces);
            let hc = grids[h as usize].community;
            for &p in &moved {
                grid_of[p as usize] = h;
                comm[p as usize] = hc;
                street[p as usize] = comm_street[hc as usize];
            }
            grids[h as usize].area += grids[g].area;
            grids[h as usize].pieces.extend(moved);
            grids[h as usize].land = grids[h as usize].land.min(grids[g].land);
            grids[g].area = 0.0;
            changed = true;
        }
        if !changed {
            break;
        }
    }
    grids.retain(|g| !g.pieces.is_empty());
    for g in &mut grids {
        g.pieces.sort_unstable();
    }
    grids
}

/// The numbering rule, on fixed WGS84 lon/lat (1e-7°). Each grid's representative point is the
/// centre of its bounding box (given doubled: `min + max`, so it stays an integer). Grids are
/// sorted north to south by that point (ties west to east); a new row starts at the first grid
/// whose centre is more than `ROW_TOLERANCE_E7` south of the centre of the row's first grid;
/// inside a row grids run west to east (ties north to south). Returns the order of `centres2`.
pub fn numbering_order(centres2: &[(i64, i64)]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..centres2.len()).collect();
    idx.sort_by(|&a, &b| {
        centres2[b]
            .1
            .cmp(&centres2[a].1)
            .then(centres2[a].0.cmp(&centres2[b].0))
    });
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut row_lat = i64::MAX;
    for i in idx {
        if rows.is_empty() || row_lat - centres2[i].1 > 2 * ROW_TOLERANCE_E7 {
            rows.push(Vec::new());
            row_lat = centres2[i].1;
        }
        if let Some(r) = rows.last_mut() {
            r.push(i);
        }
    }
    let mut out = Vec::new();
    for mut r in rows {
        r.sort_by(|&a, &b| {
            centres2[a]
                .0
                .cmp(&centres2[b].0)
                .then(centres2[b].1.cmp(&centres2[a].1))
        });
        out.extend(r);
    }
    out
}

/// Doubled bounding-box centre of a set of rings (fixed lon/lat).
pub fn bbox_centre2(points: impl Iterator<Item = Fixed>) -> (i64, i64) {
    let (mut x0, mut y0, mut x1, mut y1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    for p in points {
        x0 = x0.min(p.lon);
        x1 = x1.max(p.lon);
        y0 = y0.min(p.lat);
        y1 = y1.max(p.lat);
    }
    (x0 + x1, y0 + y1)
}
