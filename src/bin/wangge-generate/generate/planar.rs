//! The planar graph of the lattice and the district outlines, and tracing of region boundaries.
//!
//! Every edge of the demo city's polygons comes from this one graph, in fixed lon/lat
//! (1e-7°, WGS84), with topology computed in local metres (see `projection`). Each crossing of a
//! lattice edge with an outline segment is computed exactly once and becomes one vertex id that
//! both sides use, so neighbouring grids, communities, streets and districts share bit-identical
//! vertices. Regions (grids, communities, …) are sets of faces; their boundaries are traced from
//! the half-edges whose two faces belong to different regions, never recomputed.

use std::collections::BTreeMap;

use geo::{Contains, Coord, LineString, Point, Polygon};

use super::projection::Fixed;

/// Label of "no region" in the per-face label vectors.
pub const NONE: u32 = u32::MAX;

/// An undirected edge; side 0 is the left of a→b, side 1 the left of b→a.
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    /// First vertex id.
    pub a: u32,
    /// Second vertex id.
    pub b: u32,
    /// Lattice cell on each side (None outside the lattice or for outline-only edges).
    pub cell: [Option<u32>; 2],
    /// District index on each side, known only for outline edges.
    pub district: [Option<u8>; 2],
    /// True when the edge lies on a district outline.
    pub outline: bool,
}

/// A bounded or unbounded face of the graph.
#[derive(Debug, Clone, Copy)]
pub struct Face {
    /// One half-edge of the face (the face is on its left).
    pub first: u32,
    /// Signed area in local m² (positive = bounded face).
    pub area: f64,
    /// Lattice cell containing the face.
    pub cell: u32,
    /// District index containing the face, None outside both districts.
    pub district: Option<u8>,
}

/// The planar graph. Coordinates: `pts` fixed WGS84 lon/lat (1e-7°), `xy` local metres of the
/// same points.
#[derive(Debug)]
pub struct Graph {
    /// Vertex coordinates, fixed lon/lat.
    pub pts: Vec<Fixed>,
    /// Vertex coordinates, local metres (derived from `pts`).
    pub xy: Vec<[f64; 2]>,
    /// Undirected edges; half-edge h is edge h/2 in direction h%2.
    pub edges: Vec<Edge>,
    /// Next half-edge around the same face.
    pub next: Vec<u32>,
    /// Face of each half-edge.
    pub face_of: Vec<u32>,
    /// Faces.
    pub faces: Vec<Face>,
}

/// Snap distance (m): an intersection this close to an existing segment end reuses that vertex,
/// so rounding to 1e-7° (≈ 1 cm) can never create a sliver or a duplicate point.
const SNAP_M: f64 = 0.2;

/// Input lattice: vertices row-major, `(ni+1) × (nj+1)`, with per-column/row base positions for
/// fast range queries (local metres).
pub struct LatticeIn<'a> {
    /// Vertex positions, fixed lon/lat, index `j * (ni + 1) + i`.
    pub verts: &'a [Fixed],
    /// Cells along x.
    pub ni: usize,
    /// Cells along y.
    pub nj: usize,
    /// Unperturbed column x (m), length ni+1.
    pub xs: &'a [f64],
    /// Unperturbed row y (m), length nj+1.
    pub ys: &'a [f64],
    /// Largest displacement of a vertex from its unperturbed position (m).
    pub max_shift: f64,
}

struct Raw {
    e: Edge,
    splits: Vec<(f64, u32)>,
}

struct Verts {
    pts: Vec<Fixed>,
    xy: Vec<[f64; 2]>,
    index: BTreeMap<Fixed, u32>,
}

impl Verts {
    fn get(&mut self, p: Fixed) -> u32 {
        if let Some(&v) = self.index.get(&p) {
            return v;
        }
        let id = self.pts.len() as u32;
        self.pts.push(p);
        self.xy.push(p.metres());
        self.index.insert(p, id);
        id
    }
}

fn cross(a: [f64; 2], b: [f64; 2]) -> f64 {
    a[0] * b[1] - a[1] * b[0]
}

fn sub(a: [f64; 2], b: [f64; 2]) -> [f64; 2] {
    [a[0] - b[0], a[1] - b[1]]
}

fn dist2(a: [f64; 2], b: [f64; 2]) -> f64 {
    let d = sub(a, b);
    d[0] * d[0] + d[1] * d[1]
}

/// Half-plane + cross-product angle order (counter-clockwise from +x), no trigonometry.
fn angle_cmp(a: [f64; 2], b: [f64; 2]) -> std::cmp::Ordering {
    let half = |d: [f64; 2]| u8::from(!(d[1] > 0.0 || (d[1] == 0.0 && d[0] > 0.0)));
    half(a)
        .cmp(&half(b))
        .then_with(|| 0.0f64.total_cmp(&cross(a, b)))
}

/// Even-odd point-in-ring test in local metres.
pub fn point_in_ring(p: [f64; 2], ring: &[[f64; 2]]) -> bool {
    let mut inside = false;
    let n = ring.len();
    let mut j = n - 1;
    for i in 0..n {
        let (a, b) = (ring[i], ring[j]);
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if p[0] < x {
                inside = !inside;
            }
        }
        j = i;
    }
    inside
}

/// Shoelace signed area in local m² (no latitude correction; used for orientation only).
pub fn signed_area(ring: &[[f64; 2]]) -> f64 {
    let n = ring.len();
    let mut a = 0.0;
    for k in 0..n {
        a += cross(ring[k], ring[(k + 1) % n]);
    }
    a * 0.5
}

impl Graph {
    /// Builds the graph of the lattice and the outlines. `outlines[d]` is district d's exterior
    /// ring (fixed lon/lat, counter-clockwise, not closed).
    pub fn build(lat: &LatticeIn<'_>, outlines: &[Vec<Fixed>]) -> Graph {
        let mut vs = Verts {
            pts: Vec::new(),
            xy: Vec::new(),
            index: BTreeMap::new(),
        };
        for &p in lat.verts {
            vs.get(p);
        }
        let (ni, nj) = (lat.ni, lat.nj);
        let vid = |i: usize, j: usize| (j * (ni + 1) + i) as u32;
        let cell = |i: usize, j: usize| (j * ni + i) as u32;
        let mut raws: Vec<Raw> = Vec::new();
        // Horizontal lattice edges, index j*ni + i, running east: the cell above is on the left.
        for j in 0..=nj {
            for i in 0..ni {
                let l = (j < nj).then(|| cell(i, j));
                let r = (j > 0).then(|| cell(i, j - 1));
                raws.push(Raw {
                    e: Edge {
                        a: vid(i, j),
                        b: vid(i + 1, j),
                        cell: [l, r],
                        district: [None, None],
                        outline: false,
                    },
                    splits: Vec::new(),
                });
            }
        }
        let hcount = raws.len();
        // Vertical lattice edges, index hcount + j*(ni+1) + i, running north: west cell on the left.
        for j in 0..nj {
            for i in 0..=ni {
                let l = (i > 0).then(|| cell(i - 1, j));
                let r = (i < ni).then(|| cell(i, j));
                raws.push(Raw {
                    e: Edge {
                        a: vid(i, j),
                        b: vid(i, j + 1),
                        cell: [l, r],
                        district: [None, None],
                        outline: false,
                    },
                    splits: Vec::new(),
                });
            }
        }
        let nlattice = raws.len();
        // Outline segments, shared borders merged so the crossing points are computed once.
        let mut seg_index: BTreeMap<(u32, u32), usize> = BTreeMap::new();
        for (d, ring) in outlines.iter().enumerate() {
            for k in 0..ring.len() {
                let a = vs.get(ring[k]);
                let b = vs.get(ring[(k + 1) % ring.len()]);
                if a == b {
                    continue;
                }
                let key = (a.min(b), a.max(b));
                if let Some(&s) = seg_index.get(&key) {
                    let side = usize::from(raws[s].e.a != a);
                    raws[s].e.district[side] = Some(d as u8);
                } else {
                    seg_index.insert(key, raws.len());
                    raws.push(Raw {
                        e: Edge {
                            a,
                            b,
                            cell: [None, None],
                            district: [Some(d as u8), None],
                            outline: true,
                        },
                        splits: Vec::new(),
                    });
                }
            }
        }
        // Crossings of outline segments with lattice edges.
        let range = |vals: &[f64], lo: f64, hi: f64| {
            let m = lat.max_shift + 1.0;
            let s = vals.partition_point(|&v| v < lo - m).saturating_sub(1);
            let e = vals.partition_point(|&v| v <= hi + m).min(vals.len());
            (s, e)
        };
        for s in nlattice..raws.len() {
            let (a, b) = (raws[s].e.a, raws[s].e.b);
            let (pa, pb) = (vs.xy[a as usize], vs.xy[b as usize]);
            let (minx, maxx) = (pa[0].min(pb[0]), pa[0].max(pb[0]));
            let (miny, maxy) = (pa[1].min(pb[1]), pa[1].max(pb[1]));
            let (i0, i1) = range(lat.xs, minx, maxx);
            let (j0, j1) = range(lat.ys, miny, maxy);
            let mut cands = Vec::new();
            for j in j0..j1.min(nj + 1) {
                for i in i0..i1.min(ni + 1) {
                    if i < ni {
                        cands.push(j * ni + i);
                    }
                    if j < nj {
                        cands.push(hcount + j * (ni + 1) + i);
                    }
                }
            }
            for le in cands {
                let (p, q) = (raws[le].e.a, raws[le].e.b);
                let (pp, pq) = (vs.xy[p as usize], vs.xy[q as usize]);
                if pp[0].max(pq[0]) < minx - SNAP_M
                    || pp[0].min(pq[0]) > maxx + SNAP_M
                    || pp[1].max(pq[1]) < miny - SNAP_M
                    || pp[1].min(pq[1]) > maxy + SNAP_M
                {
                    continue;
                }
                let r = sub(pq, pp);
                let sv = sub(pb, pa);
                let denom = cross(r, sv);
                if denom.abs() < 1e-9 {
                    continue;
                }
                let ap = sub(pa, pp);
                let t = cross(ap, sv) / denom;
                let u = cross(ap, r) / denom;
                let (lr, ls) = (dist2(pp, pq).sqrt(), dist2(pa, pb).sqrt());
                let (et, eu) = (SNAP_M / lr, SNAP_M / ls);
                if t < -et || t > 1.0 + et || u < -eu || u > 1.0 + eu {
                    continue;
                }
                let x = [pp[0] + t * r[0], pp[1] + t * r[1]];
                let snap = [p, q, a, b]
                    .into_iter()
                    .find(|&v| dist2(vs.xy[v as usize], x) < SNAP_M * SNAP_M);
                let v = match snap {
                    Some(v) => v,
                    None => vs.get(Fixed::from_metres(x)),
                };
                if v != p && v != q {
                    raws[le].splits.push((t, v));
                }
                if v != a && v != b {
                    raws[s].splits.push((u, v));
                }
            }
        }
        // Split and merge into final edges.
        let mut edges: Vec<Edge> = Vec::new();
        let mut eindex: BTreeMap<(u32, u32), usize> = BTreeMap::new();
        for raw in &mut raws {
            raw.splits
                .sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            let mut chain = vec![raw.e.a];
            for &(_, v) in &raw.splits {
                if *chain.last().unwrap_or(&u32::MAX) != v {
                    chain.push(v);
                }
            }
            if *chain.last().unwrap_or(&u32::MAX) != raw.e.b {
                chain.push(raw.e.b);
            }
            for w in chain.windows(2) {
                let (a, b) = (w[0], w[1]);
                if a == b {
                    continue;
                }
                let key = (a.min(b), a.max(b));
                let mut e = raw.e;
                e.a = a;
                e.b = b;
                if let Some(&k) = eindex.get(&key) {
                    let flip = edges[k].a != a;
                    let old = &mut edges[k];
                    for side in 0..2 {
                        let src = if flip { 1 - side } else { side };
                        old.cell[side] = old.cell[side].or(e.cell[src]);
                        old.district[side] = old.district[side].or(e.district[src]);
                    }
                    old.outline |= e.outline;
                } else {
                    eindex.insert(key, edges.len());
                    edges.push(e);
                }
            }
        }
        drop(eindex);
        let nv = vs.pts.len();
        let nh = edges.len() * 2;
        let origin = |h: usize| {
            if h & 1 == 0 {
                edges[h >> 1].a
            } else {
                edges[h >> 1].b
            }
        };
        let mut out: Vec<Vec<u32>> = vec![Vec::new(); nv];
        for h in 0..nh {
            out[origin(h) as usize].push(h as u32);
        }
        let dir = |h: u32| {
            let e = &edges[(h >> 1) as usize];
            let (o, d) = if h & 1 == 0 { (e.a, e.b) } else { (e.b, e.a) };
            sub(vs.xy[d as usize], vs.xy[o as usize])
        };
        let mut pos = vec![0u32; nh];
        for list in &mut out {
            list.sort_by(|&x, &y| angle_cmp(dir(x), dir(y)).then(x.cmp(&y)));
            for (k, &h) in list.iter().enumerate() {
                pos[h as usize] = k as u32;
            }
        }
        let mut next = vec![0u32; nh];
        for (h, nx) in next.iter_mut().enumerate() {
            let tw = h ^ 1;
            let v = origin(tw) as usize;
            let list = &out[v];
            let p = pos[tw] as usize;
            *nx = list[(p + list.len() - 1) % list.len()];
        }
        let mut face_of = vec![NONE; nh];
        let mut faces = Vec::new();
        for h0 in 0..nh {
            if face_of[h0] != NONE {
                continue;
            }
            let fid = faces.len() as u32;
            let mut ring = Vec::new();
            let (mut cellv, mut dist, mut has_outline) = (NONE, None, false);
            let mut h = h0;
            loop {
                face_of[h] = fid;
                ring.push(vs.xy[origin(h) as usize]);
                let e = &edges[h >> 1];
                let side = h & 1;
                if let Some(c) = e.cell[side] {
                    cellv = cellv.min(c);
                }
                if e.outline && !has_outline {
                    has_outline = true;
                    dist = e.district[side];
                }
                h = next[h] as usize;
                if h == h0 {
                    break;
                }
            }
            let area = signed_area(&ring);
            faces.push((
                Face {
                    first: h0 as u32,
                    area,
                    cell: cellv,
                    district: dist,
                },
                has_outline,
                ring,
            ));
        }
        // Faces untouched by an outline are whole cells: one point-in-polygon test decides them.
        let polys: Vec<Polygon<f64>> = outlines
            .iter()
            .map(|r| {
                Polygon::new(
                    LineString::from(
                        r.iter()
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
        let faces = faces
            .into_iter()
            .map(|(mut f, has_outline, ring)| {
                if !has_outline && f.area > 0.0 {
                    let n = ring.len() as f64;
                    let c = ring
                        .iter()
                        .fold([0.0, 0.0], |s, p| [s[0] + p[0] / n, s[1] + p[1] / n]);
                    f.district = polys
                        .iter()
                        .position(|poly| poly.contains(&Point::new(c[0], c[1])))
                        .map(|d| d as u8);
                }
                if f.area <= 0.0 {
                    f.district = None;
                }
                f
            })
            .collect();
        Graph {
            pts: vs.pts,
            xy: vs.xy,
            edges,
            next,
            face_of,
            faces,
        }
    }

    /// Origin vertex of half-edge `h`.
    pub fn origin(&self, h: u32) -> u32 {
        let e = &self.edges[(h >> 1) as usize];
        if h & 1 == 0 { e.a } else { e.b }
    }

    /// Length (m) of half-edge `h`.
    pub fn len(&self, h: u32) -> f64 {
        let e = &self.edges[(h >> 1) as usize];
        dist2(self.xy[e.a as usize], self.xy[e.b as usize]).sqrt()
    }

    /// Local-metre ring of a face.
    pub fn face_ring(&self, f: u32) -> Vec<[f64; 2]> {
        let h0 = self.faces[f as usize].first;
        let mut h = h0;
        let mut ring = Vec::new();
        loop {
            ring.push(self.xy[self.origin(h) as usize]);
            h = self.next[h as usize];
            if h == h0 {
                break;
            }
        }
        ring
    }

    /// Boundaries of regions given a label per face (`NONE` = no region). Returns, per region,
    /// its polygons, each as rings of vertex ids (exterior counter-clockwise first, then holes
    /// clockwise, unclosed). Region boundaries follow graph edges exactly, and at a vertex where a
    /// region touches itself the tightest turn is taken, so rings never self-touch.
    pub fn trace(&self, label: &[u32], nregions: usize) -> Vec<Vec<Vec<Vec<u32>>>> {
        let nh = self.next.len();
        let lab = |h: usize| label[self.face_of[h] as usize];
        let mut seen = vec![false; nh];
        let mut rings: Vec<Vec<(Vec<u32>, f64)>> = vec![Vec::new(); nregions];
        for h0 in 0..nh {
            let r = lab(h0);
            if r == NONE || seen[h0] || lab(h0 ^ 1) == r {
                continue;
            }
            let mut ring = Vec::new();
            let mut h = h0;
            let mut guard = 0usize;
            loop {
                seen[h] = true;
                ring.push(self.origin(h as u32));
                let mut e = self.next[h] as usize;
                while lab(e ^ 1) == r {
                    e = self.next[e ^ 1] as usize;
                    guard += 1;
                    assert!(guard < 10_000_000, "boundary tracing does not terminate");
                }
                h = e;
                if h == h0 {
                    break;
                }
            }
            let xy: Vec<[f64; 2]> = ring.iter().map(|&v| self.xy[v as usize]).collect();
            let a = signed_area(&xy);
            rings[r as usize].push((ring, a));
        }
        rings
            .into_iter()
            .map(|rs| {
                let mut polys: Vec<Vec<Vec<u32>>> = Vec::new();
                let outers: Vec<&(Vec<u32>, f64)> = rs.iter().filter(|r| r.1 > 0.0).collect();
                for o in &outers {
                    polys.push(vec![o.0.clone()]);
                }
                for hole in rs.iter().filter(|r| r.1 <= 0.0) {
                    let k = if outers.len() == 1 {
                        0
                    } else {
                        let (a, b) = (self.xy[hole.0[0] as usize], self.xy[hole.0[1] as usize]);
                        let mid = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
                        outers
                            .iter()
                            .position(|o| {
                                let ring: Vec<[f64; 2]> =
                                    o.0.iter().map(|&v| self.xy[v as usize]).collect();
                                point_in_ring(mid, &ring)
                            })
                            .unwrap_or(0)
                    };
                    polys[k].push(hole.0.clone());
                }
                polys
            })
            .collect()
    }
}
