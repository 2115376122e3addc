//! Assigning pieces (faces of the planar graph inside a district) to streets and communities.
//!
//! Streets start from hand-placed seeds (illustrative positions from the real city: 二七区's
//! 德化街, 铭功路, 一马路 … in the north-east, 侯寨 and 马寨 in the south-west; 中原区's 林山寨,
//! 建设路, 绿东村 … in the east, 须水, 柳湖 in the west). Each street gets a share of the district's
//! activity weight (`land::density` × area) proportional to its real number of communities, via a
//! balanced power diagram (Voronoi with additive weights tuned until the shares fit). Communities
//! are then laid out the same way inside each street, with seeds that also move to their centroid
//! (Lloyd), so they come out compact and of equal weight: small in the dense core, large in
//! village land. A final pass keeps the largest connected part of every street and community and
//! hands stray parts to the neighbour they share the longest border with.

use std::collections::{BTreeMap, VecDeque};

use super::inputs::Inputs;
use super::land::{Land, density, land, urban_score};
use super::lattice::Lattice;
use super::planar::Graph;
use super::projection::{ring_area_m2, to_metres};
use super::rng::Rng;

/// A face of the graph inside a district. Coordinates local metres.
#[derive(Debug, Clone)]
pub struct Piece {
    /// Face id in the graph.
    pub face: u32,
    /// District index.
    pub district: usize,
    /// Lattice cell (i, j).
    pub cell: (usize, usize),
    /// Area, m².
    pub area: f64,
    /// Vertex-mean centre, local metres (inside the face for the convex-ish cells we have).
    pub centre: [f64; 2],
    /// Activity weight used to balance streets and communities.
    pub weight: f64,
    /// Land class of its cell.
    pub land: Land,
}

/// Pieces and their adjacency (neighbour piece, shared border length in m), sorted.
#[derive(Debug)]
pub struct Pieces {
    /// All pieces, in face order.
    pub list: Vec<Piece>,
    /// Neighbours of each piece with the length of the shared border.
    pub adj: Vec<Vec<(u32, f64)>>,
}

/// Extracts pieces from the graph.
pub fn pieces(g: &Graph, lat: &Lattice) -> Pieces {
    let mut list = Vec::new();
    let mut of_face = vec![u32::MAX; g.faces.len()];
    for (f, face) in g.faces.iter().enumerate() {
        let Some(d) = face.district else { continue };
        if face.area <= 0.0 {
            continue;
        }
        let ring = g.face_ring(f as u32);
        let n = ring.len() as f64;
        let centre = ring
            .iter()
            .fold([0.0, 0.0], |s, p| [s[0] + p[0] / n, s[1] + p[1] / n]);
        let cell = (face.cell as usize % lat.ni, face.cell as usize / lat.ni);
        let cc = lat.cell_centre(cell.0, cell.1);
        let area = ring_area_m2(&ring);
        of_face[f] = list.len() as u32;
        list.push(Piece {
            face: f as u32,
            district: d as usize,
            cell,
            area,
            centre,
            weight: area * density(centre),
            land: land(cc),
        });
    }
    let mut adj_map: Vec<BTreeMap<u32, f64>> = vec![BTreeMap::new(); list.len()];
    for h in 0..g.next.len() {
        let a = of_face[g.face_of[h] as usize];
        let b = of_face[g.face_of[h ^ 1] as usize];
        if a != u32::MAX && b != u32::MAX && a != b {
            *adj_map[a as usize].entry(b).or_insert(0.0) += g.len(h as u32);
        }
    }
    let adj = adj_map
        .into_iter()
        .map(|m| m.into_iter().collect())
        .collect();
    Pieces { list, adj }
}

/// Illustrative seed positions of the 30 streets (WGS84 lon, lat), by code.
const STREET_SEEDS: [(&str, f64, f64); 30] = [
    ("410102001", 113.621, 34.760), // 林山寨
    ("410102002", 113.606, 34.764), // 建设路
    ("410102003", 113.590, 34.760), // 棉纺路
    ("410102004", 113.573, 34.752), // 秦岭路
    ("410102005", 113.611, 34.744), // 桐柏路
    ("410102006", 113.606, 34.727), // 三官庙
    ("410102007", 113.613, 34.782), // 绿东村
    ("410102008", 113.590, 34.737), // 汝河路
    ("410102009", 113.572, 34.724), // 航海西路
    ("410102010", 113.540, 34.742), // 中原西路
    ("410102011", 113.558, 34.778), // 西流湖
    ("410102012", 113.498, 34.752), // 须水
    ("410102013", 113.565, 34.825), // 莲湖
    ("410102014", 113.492, 34.818), // 柳湖
    ("410103001", 113.637, 34.735), // 淮河路
    ("410103003", 113.650, 34.758), // 铭功路
    ("410103004", 113.654, 34.748), // 一马路
    ("410103005", 113.664, 34.727), // 蜜蜂张
    ("410103006", 113.651, 34.726), // 五里堡
    ("410103007", 113.656, 34.713), // 大学路
    ("410103008", 113.637, 34.752), // 建中街
    ("410103009", 113.646, 34.742), // 福华街
    ("410103010", 113.659, 34.755), // 德化街
    ("410103011", 113.624, 34.726), // 嵩山路
    ("410103012", 113.641, 34.718), // 京广路
    ("410103013", 113.622, 34.708), // 长江路
    ("410103014", 113.660, 34.695), // 人和路
    ("410103015", 113.595, 34.645), // 侯寨
    ("410103016", 113.635, 34.675), // 金水源
    ("410103100", 113.530, 34.672), // 马寨镇
];

/// Power-diagram assignment of `members` to `seeds` balanced to `targets` (activity weight).
fn balanced(
    pcs: &[Piece],
    members: &[usize],
    seeds: &mut [[f64; 2]],
    targets: &[f64],
    iters: usize,
    lloyd_iters: usize,
) -> Vec<usize> {
    let k = seeds.len();
    let mut w = vec![0.0f64; k];
    let mut lab = vec![0usize; members.len()];
    let total_area: f64 = members.iter().map(|&m| pcs[m].area).sum();
    for it in 0..iters {
        for (slot, &m) in members.iter().enumerate() {
            let c = pcs[m].centre;
            let mut best = (f64::INFINITY, 0);
            for s in 0..k {
                let dx = c[0] - seeds[s][0];
                let dy = c[1] - seeds[s][1];
                let cost = dx * dx + dy * dy - w[s];
                if cost < best.0 {
                    best = (cost, s);
                }
            }
            lab[slot] = best.1;
        }
        let mut pop = vec![0.0; k];
        let mut area = vec![0.0; k];
        let mut cen = vec![[0.0, 0.0]; k];
        for (slot, &m) in members.iter().enumerate() {
            let s = lab[slot];
            pop[s] += pcs[m].weight;
            area[s] += pcs[m].area;
            cen[s][0] += pcs[m].centre[0] * pcs[m].weight;
            cen[s][1] += pcs[m].centre[1] * pcs[m].weight;
        }
        // A region that lost every piece restarts inside the heaviest region, which it then splits.
        for s in 0..k {
            if pop[s] == 0.0 {
                let big = (0..k)
                    .max_by(|&a, &b| (pop[a] / targets[a]).total_cmp(&(pop[b] / targets[b])))
                    .unwrap_or(0);
                if let Some(slot) = (0..members.len()).filter(|&x| lab[x] == big).nth(it % 7) {
                    seeds[s] = pcs[members[slot]].centre;
                    w[s] = w[big];
                    pop[s] = targets[s];
                }
            }
        }
        for s in 0..k {
            // Damped so the weights settle instead of oscillating between neighbours.
            let eta = 0.5 * (1.0 - it as f64 / iters as f64) + 0.05;
            let a = area[s].max(total_area / k as f64 * 0.05);
            w[s] += eta * a * (targets[s] - pop[s]) / targets[s].max(pop[s]);
            if it < lloyd_iters && pop[s] > 0.0 {
                seeds[s] = [
                    0.5 * seeds[s][0] + 0.5 * cen[s][0] / pop[s],
                    0.5 * seeds[s][1] + 0.5 * cen[s][1] / pop[s],
                ];
            }
        }
    }
    lab
}

/// Makes every label connected: stray components go to the neighbour label with the longest
/// shared border. `scope[p]` must be equal for pieces that may trade labels.
fn repair(pcs: &Pieces, label: &mut [u32], scope: &[u32]) {
    loop {
        let mut changed = false;
        let mut comp = vec![u32::MAX; label.len()];
        let mut comps: Vec<(u32, Vec<usize>, f64)> = Vec::new();
        for start in 0..label.len() {
            if comp[start] != u32::MAX {
                continue;
            }
            let id = comps.len() as u32;
            let mut q = VecDeque::from([start]);
            comp[start] = id;
            let mut members = Vec::new();
            let mut area = 0.0;
            while let Some(p) = q.pop_front() {
                members.push(p);
                area += pcs.list[p].area;
                for &(nb, _) in &pcs.adj[p] {
                    let nb = nb as usize;
                    if comp[nb] == u32::MAX
                        && label[nb] == label[start]
                        && scope[nb] == scope[start]
                    {
                        comp[nb] = id;
                        q.push_back(nb);
                    }
                }
            }
            comps.push((label[start], members, area));
        }
        let mut biggest: BTreeMap<u32, (f64, u32)> = BTreeMap::new();
        for (id, c) in comps.iter().enumerate() {
            let e = biggest.entry(c.0).or_insert((-1.0, 0));
            if c.2 > e.0 {
                *e = (c.2, id as u32);
            }
        }
        for (id, c) in comps.iter().enumerate() {
            if biggest[&c.0].1 == id as u32 {
                continue;
            }
            let mut border: BTreeMap<u32, f64> = BTreeMap::new();
            for &p in &c.1 {
                for &(nb, len) in &pcs.adj[p] {
                    let nb = nb as usize;
                    if label[nb] != c.0 && scope[nb] == scope[p] {
                        *border.entry(label[nb]).or_insert(0.0) += len;
                    }
                }
            }
            if let Some((&to, _)) = border
                .iter()
                .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
            {
                for &p in &c.1 {
                    label[p] = to;
                }
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

/// Street and community of every piece (indices into `inputs.streets` / `inputs.communities`).
pub fn assign(seed: u64, inputs: &Inputs, pcs: &Pieces) -> (Vec<u32>, Vec<u32>) {
    let n = pcs.list.len();
    let mut street = vec![0u32; n];
    for d in 0..inputs.districts.len() {
        let members: Vec<usize> = (0..n).filter(|&p| pcs.list[p].district == d).collect();
        let sts: Vec<usize> = (0..inputs.streets.len())
            .filter(|&s| inputs.streets[s].district == d)
            .collect();
        let mut seeds: Vec<[f64; 2]> = sts
            .iter()
            .map(|&s| {
                let (_, lon, lat) = STREET_SEEDS
                    .iter()
                    .find(|x| x.0 == inputs.streets[s].code)
                    .copied()
                    .unwrap_or(("", 113.6, 34.7));
                to_metres(lon, lat)
            })
            .collect();
        let counts: Vec<f64> = sts
            .iter()
            .map(|&s| inputs.communities.iter().filter(|c| c.street == s).count() as f64)
            .collect();
        let total: f64 = members.iter().map(|&m| pcs.list[m].weight).sum();
        let csum: f64 = counts.iter().sum();
        let targets: Vec<f64> = counts.iter().map(|c| total * c / csum).collect();
        let lab = balanced(&pcs.list, &members, &mut seeds, &targets, 150, 0);
        for (slot, &m) in members.iter().enumerate() {
            street[m] = sts[lab[slot]] as u32;
        }
    }
    let dscope: Vec<u32> = pcs.list.iter().map(|p| p.district as u32).collect();
    repair(pcs, &mut street, &dscope);

    let mut comm = vec![0u32; n];
    let mut rng = Rng::derive(seed, "communities");
    for s in 0..inputs.streets.len() {
        let members: Vec<usize> = (0..n).filter(|&p| street[p] == s as u32).collect();
        let mut cs: Vec<usize> = (0..inputs.communities.len())
            .filter(|&c| inputs.communities[c].street == s)
            .collect();
        let k = cs.len();
        assert!(
            members.len() >= k,
            "street {} too small for its communities",
            inputs.streets[s].name
        );
        // k-means++ seeding by activity weight, so seeds start where the people are.
        let mut seeds: Vec<[f64; 2]> = Vec::new();
        let w0: Vec<f64> = members.iter().map(|&m| pcs.list[m].weight).collect();
        seeds.push(pcs.list[members[rng.weighted(&w0)]].centre);
        while seeds.len() < k {
            let w: Vec<f64> = members
                .iter()
                .map(|&m| {
                    let c = pcs.list[m].centre;
                    let d2 = seeds
                        .iter()
                        .map(|s| (c[0] - s[0]).powi(2) + (c[1] - s[1]).powi(2))
                        .fold(f64::INFINITY, f64::min);
                    d2 * pcs.list[m].weight
                })
                .collect();
            seeds.push(pcs.list[members[rng.weighted(&w)]].centre);
        }
        let total: f64 = members.iter().map(|&m| pcs.list[m].weight).sum();
        let targets = vec![total / k as f64; k];
        let lab = balanced(&pcs.list, &members, &mut seeds, &targets, 80, 30);
        // Residents' committees take the most urban seeds, villages the outer ones.
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| {
            urban_score(seeds[a])
                .total_cmp(&urban_score(seeds[b]))
                .then(a.cmp(&b))
        });
        cs.sort_by_key(|&c| {
            (
                inputs.communities[c].village,
                inputs.communities[c].code.clone(),
            )
        });
        let mut map = vec![0usize; k];
        for (rank, &sd) in order.iter().enumerate() {
            map[sd] = cs[rank];
        }
        for (slot, &m) in members.iter().enumerate() {
            comm[m] = map[lab[slot]] as u32;
        }
    }
    let sscope: Vec<u32> = street.clone();
    repair(pcs, &mut comm, &sscope);
    (street, comm)
}
