//! Deterministic generator of the demo city in `geodata/` (issue 3).
//!
//! `wangge-generate` rebuilds every generated file of `geodata/` byte for byte from the real inputs
//! in `geodata/sources/` and a seed. The pipeline, one module per concern:
//! `inputs` (real outlines and codes) → `lattice` (bent block lattice, road classes) → `planar`
//! (one planar graph of lattice and outlines; every shared vertex computed once) → `partition`
//! (streets and communities as sets of faces) → `grids` (unit grids, numbering) → `roads`,
//! `frontage`, `zones`, `history`, `units` (everything hung on that skeleton) → `readme`.
//! Apart from reading the sources and writing the output folder, everything here is pure.

mod frontage;
mod geojson_out;
mod grids;
mod history;
mod inputs;
mod land;
mod lattice;
mod names;
mod partition;
mod planar;
mod projection;
mod readme;
pub(crate) mod rng;
mod roads;
mod units;
mod zones;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use geojson_out::{Collection, Props, gzip, polygons};
use inputs::Inputs;
use land::Land;
use lattice::{Lattice, LineClass};
use partition::Pieces;
use planar::{Graph, LatticeIn, NONE};
use projection::Fixed;

/// Unit code of the railway bureau (it owns the railway land, not the district).
pub(crate) const RAILWAY_BUREAU: &str = "dept-railway-zzj";

/// Options of `wangge-generate`.
#[derive(Debug, Clone, clap::Args)]

pub struct GenerateArgs {
    /// Folder with the real inputs and their sources (see `geodata/sources/`).
    #[arg(long, default_value = "geodata/sources")]
    pub sources: std::path::PathBuf,
    /// Output folder.
    #[arg(long, default_value = "geodata")]
    pub out: std::path::PathBuf,
    /// Seed of the deterministic generator.
    #[arg(long, default_value_t = 20231)]
    pub seed: u64,
}

/// A unit grid with its code and geometry (vertex ids of the graph).
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    /// 15-digit code.
    pub code: String,
    /// Community index.
    pub community: usize,
    /// Area, m² (local projection with latitude correction).
    pub area: f64,
    /// Land class.
    pub land: Land,
    /// 管理等级 1 (key) – 3 (rural).
    pub level: u8,
    /// Pieces.
    pub pieces: Vec<u32>,
    /// Polygons as rings of vertex ids.
    pub polys: Vec<Vec<Vec<u32>>>,
}

/// The city skeleton every layer hangs on.
pub(crate) struct City {
    pub seed: u64,
    pub inputs: Inputs,
    pub lattice: Lattice,
    pub graph: Graph,
    pub pieces: Pieces,
    /// Grid index of each piece.
    pub grid_of_piece: Vec<u32>,
    pub grids: Vec<Grid>,
    /// Polygons of each community / street / district (rings of vertex ids).
    pub comm_polys: Vec<Vec<Vec<Vec<u32>>>>,
    pub street_polys: Vec<Vec<Vec<Vec<u32>>>>,
    pub district_polys: Vec<Vec<Vec<Vec<u32>>>>,
    /// Pieces of each lattice cell.
    pub cell_pieces: BTreeMap<usize, Vec<u32>>,
}

impl City {
    /// Fixed lon/lat rings of a region.
    pub fn fixed(&self, polys: &[Vec<Vec<u32>>]) -> Vec<Vec<Vec<Fixed>>> {
        polys
            .iter()
            .map(|p| {
                p.iter()
                    .map(|r| r.iter().map(|&v| self.graph.pts[v as usize]).collect())
                    .collect()
            })
            .collect()
    }

    /// Local-metre rings of a region.
    pub fn metres(&self, polys: &[Vec<Vec<u32>>]) -> Vec<Vec<Vec<[f64; 2]>>> {
        polys
            .iter()
            .map(|p| {
                p.iter()
                    .map(|r| r.iter().map(|&v| self.graph.xy[v as usize]).collect())
                    .collect()
            })
            .collect()
    }

    /// Grid containing a point in local metres that lies in lattice cell `cell`, if any.
    pub fn grid_at(&self, cell: usize, p: [f64; 2]) -> Option<usize> {
        let pcs = self.cell_pieces.get(&cell)?;
        for &pc in pcs {
            let ring = self.graph.face_ring(self.pieces.list[pc as usize].face);
            if planar::point_in_ring(p, &ring) {
                return Some(self.grid_of_piece[pc as usize] as usize);
            }
        }
        None
    }

    /// Street index of a community.
    pub fn street_of(&self, community: usize) -> usize {
        self.inputs.communities[community].street
    }
}

/// Builds the skeleton: lattice, graph, streets, communities, grids.
fn build_city(sources: &Path, seed: u64) -> Result<City> {
    let inputs = inputs::read(sources)?;
    let mut bbox = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for d in &inputs.districts {
        for p in &d.ring {
            let m = p.metres();
            bbox = [
                bbox[0].min(m[0]),
                bbox[1].min(m[1]),
                bbox[2].max(m[0]),
                bbox[3].max(m[1]),
            ];
        }
    }
    let lattice = Lattice::build(seed, bbox);
    let outlines: Vec<Vec<Fixed>> = inputs.districts.iter().map(|d| d.ring.clone()).collect();
    let graph = Graph::build(
        &LatticeIn {
            verts: &lattice.verts,
            ni: lattice.ni,
            nj: lattice.nj,
            xs: &lattice.xs,
            ys: &lattice.ys,
            max_shift: lattice.max_shift,
        },
        &outlines,
    );
    let pieces = partition::pieces(&graph, &lattice);
    let (mut street, mut comm) = partition::assign(seed, &inputs, &pieces);
    let comm_street: Vec<u32> = inputs.communities.iter().map(|c| c.street as u32).collect();
    let drafts = grids::build(&pieces, &mut comm, &mut street, &comm_street);

    let nf = graph.faces.len();
    let mut grid_of_piece = vec![0u32; pieces.list.len()];
    let mut lab = vec![NONE; nf];
    for (g, d) in drafts.iter().enumerate() {
        for &p in &d.pieces {
            grid_of_piece[p as usize] = g as u32;
            lab[pieces.list[p as usize].face as usize] = g as u32;
        }
    }
    let grid_polys = graph.trace(&lab, drafts.len());
    let face_labels = |f: &dyn Fn(usize) -> u32| {
        let mut l = vec![NONE; nf];
        for (p, pc) in pieces.list.iter().enumerate() {
            l[pc.face as usize] = f(p);
        }
        l
    };
    let comm_polys = graph.trace(&face_labels(&|p| comm[p]), inputs.communities.len());
    let street_polys = graph.trace(&face_labels(&|p| street[p]), inputs.streets.len());
    let district_polys = graph.trace(
        &face_labels(&|p| pieces.list[p].district as u32),
        inputs.districts.len(),
    );
    for (c, polys) in comm_polys.iter().enumerate() {
        anyhow::ensure!(
            !polys.is_empty(),
            "community {} got no land",
            inputs.communities[c].name
        );
    }

    // Number the grids inside each community.
    let mut by_comm: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (g, d) in drafts.iter().enumerate() {
        by_comm.entry(d.community).or_default().push(g);
    }
    let mut seq_of = vec![0usize; drafts.len()];
    for gs in by_comm.values() {
        let centres: Vec<(i64, i64)> = gs
            .iter()
            .map(|&g| {
                grids::bbox_centre2(
                    grid_polys[g]
                        .iter()
                        .flatten()
                        .flatten()
                        .map(|&v| graph.pts[v as usize]),
                )
            })
            .collect();
        anyhow::ensure!(gs.len() <= 999, "a community has more than 999 grids");
        for (rank, k) in grids::numbering_order(&centres).into_iter().enumerate() {
            seq_of[gs[k]] = rank + 1;
        }
    }
    let mut cell_pieces: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    for (p, pc) in pieces.list.iter().enumerate() {
        cell_pieces
            .entry(lattice.cell(pc.cell.0, pc.cell.1))
            .or_default()
            .push(p as u32);
    }
    let mut grids_out: Vec<Grid> = drafts
        .iter()
        .enumerate()
        .map(|(g, d)| {
            let c = &inputs.communities[d.community as usize];
            let on_main = d.pieces.iter().any(|&p| {
                let (i, j) = pieces.list[p as usize].cell;
                [
                    lattice.col_class[i],
                    lattice.col_class[i + 1],
                    lattice.row_class[j],
                    lattice.row_class[j + 1],
                ]
                .iter()
                .any(|&k| k == LineClass::Main || k == LineClass::Railway)
            });
            let level = if !d.land.built_up() {
                3
            } else if d.land == Land::Core || c.urban_village || on_main {
                1
            } else {
                2
            };
            Grid {
                code: format!("{}{:03}", c.code, seq_of[g]),
                community: d.community as usize,
                area: d.area,
                land: d.land,
                level,
                pieces: d.pieces.clone(),
                polys: grid_polys[g].clone(),
            }
        })
        .collect();
    // Output order: by code. Re-index pieces accordingly.
    let mut order: Vec<usize> = (0..grids_out.len()).collect();
    order.sort_by(|&a, &b| grids_out[a].code.cmp(&grids_out[b].code));
    let mut new_index = vec![0u32; order.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new as u32;
    }
    for g in &mut grid_of_piece {
        *g = new_index[*g as usize];
    }
    let mut sorted: Vec<Option<Grid>> = grids_out.drain(..).map(Some).collect();
    let grids_sorted: Vec<Grid> = order.iter().filter_map(|&o| sorted[o].take()).collect();
    Ok(City {
        seed,
        inputs,
        lattice,
        graph,
        pieces,
        grid_of_piece,
        grids: grids_sorted,
        comm_polys,
        street_polys,
        district_polys,
        cell_pieces,
    })
}

/// Writes the area-division layers: district, street, community, grid.
fn area_layers(city: &City, files: &mut BTreeMap<String, Vec<u8>>) {
    let inp = &city.inputs;
    let mut fc = Collection::new();
    for (d, dist) in inp.districts.iter().enumerate() {
        let props = Props::new()
            .s("code", &dist.code)
            .s("name", &dist.name)
            .s("parent_code", "410100")
            .s("unit_code", &units::dept_code(&dist.code, "cgzf"))
            .b("synthetic", false)
            .done();
        fc.push(props, &polygons(&city.fixed(&city.district_polys[d])));
    }
    files.insert("district.geojson".into(), fc.finish());
    let mut fc = Collection::new();
    for (s, st) in inp.streets.iter().enumerate() {
        let props = Props::new()
            .s("code", &st.code)
            .s("name", &st.name)
            .s("parent_code", &inp.districts[st.district].code)
            .s("unit_code", &units::street_code(&st.code))
            .b("synthetic", true)
            .done();
        fc.push(props, &polygons(&city.fixed(&city.street_polys[s])));
    }
    files.insert("street.geojson".into(), fc.finish());
    let mut fc = Collection::new();
    for (c, cm) in inp.communities.iter().enumerate() {
        let props = Props::new()
            .s("code", &cm.code)
            .s("name", &cm.name)
            .s("parent_code", &inp.streets[cm.street].code)
            .s("unit_code", &units::community_code(&cm.code))
            .s(
                "committee",
                if cm.village { "village" } else { "residents" },
            )
            .b("urban_village", cm.urban_village)
            .b("synthetic", true)
            .done();
        fc.push(props, &polygons(&city.fixed(&city.comm_polys[c])));
    }
    files.insert("community.geojson".into(), fc.finish());
    let mut fc = Collection::new();
    for g in &city.grids {
        let cm = &inp.communities[g.community];
        let seq = &g.code[12..];
        let props = Props::new()
            .s("code", &g.code)
            .s(
                "name",
                &format!("{}第{}网格", names::short_community(&cm.name), seq),
            )
            .s("parent_code", &cm.code)
            .s("unit_code", &units::community_code(&cm.code))
            .f1("area_m2", g.area)
            .i("management_level", i64::from(g.level))
            .b("synthetic", true)
            .done();
        fc.push(props, &polygons(&city.fixed(&g.polys)));
    }
    files.insert("grid.geojson.gz".into(), gzip(&fc.finish()));
}

/// Generates every output file in memory: file name → bytes. Pure apart from reading `sources`.
pub fn generate_files(sources: &Path, seed: u64) -> Result<BTreeMap<String, Vec<u8>>> {
    let city = build_city(sources, seed)?;
    let mut files = BTreeMap::new();
    area_layers(&city, &mut files);
    let net = roads::build(&city);
    roads::write(&city, &net, &mut files);
    let fronts = frontage::build(&city, &net);
    frontage::write(&city, &fronts, &mut files);
    let zs = zones::build(&city, &net, &fronts);
    zones::write(&zs, &mut files);
    let hist = history::build(&city, &net, &zs);
    history::write(&hist, &mut files);
    units::write(&city, &fronts, &mut files);
    let stats = readme::Stats::collect(&city, &net, &fronts, &zs, &hist, &files);
    files.insert(
        "README.md".into(),
        readme::render(&stats, seed).into_bytes(),
    );
    Ok(files)
}

/// Runs the generator: writes every generated file into `args.out`.
pub fn run(args: &GenerateArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let files = generate_files(&args.sources, args.seed)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    for (name, bytes) in &files {
        let path = args.out.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "generated {} files into {} in {:.1} s",
        files.len(),
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

impl City {
    /// Grid containing a point in local metres, searching the lattice cells around it.
    pub fn grid_of_point(&self, p: [f64; 2]) -> Option<usize> {
        let lat = &self.lattice;
        let i0 = lat.xs.partition_point(|&x| x < p[0]);
        let j0 = lat.ys.partition_point(|&y| y < p[1]);
        for j in j0.saturating_sub(2)..(j0 + 2).min(lat.nj) {
            for i in i0.saturating_sub(2)..(i0 + 2).min(lat.ni) {
                if let Some(g) = self.grid_at(lat.cell(i, j), p) {
                    return Some(g);
                }
            }
        }
        None
    }
}
