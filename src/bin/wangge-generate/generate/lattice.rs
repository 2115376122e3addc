//! The block lattice: a gently bent grid of lines ~100 m apart, some of which are roads.
//!
//! Zhengzhou's network is largely grid-aligned, so the lattice is aligned to north, but a smooth
//! displacement field (±60 m over ~2 km) bends every line a little and each line wobbles on its
//! own by a few metres, so it does not look like graph paper. Main roads are every 11–14 lines
//! (1.1–1.5 km), secondary roads every 4–6 lines between them (400–600 m), and the remaining lines
//! are alleys (in the built-up area, about half of them) or plain block edges (walls, field edges).
//! One column is the 京广铁路 and one row the 陇海铁路.

use super::projection::{Fixed, to_metres};
use super::rng::{Rng, value_noise2};

/// What runs along a lattice line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LineClass {
    /// Block edge without a road (wall, field edge).
    Edge,
    /// Alley (巷/里/胡同) where built-up; block edge elsewhere.
    Alley,
    /// Secondary road.
    Secondary,
    /// Main road.
    Main,
    /// Railway (京广 or 陇海).
    Railway,
}

impl LineClass {
    /// Half the carriageway width (m): frontages sit this far from the centre line.
    pub fn half_width(self) -> f64 {
        match self {
            LineClass::Main => 20.0,
            LineClass::Secondary => 12.0,
            LineClass::Alley => 3.0,
            LineClass::Railway => 15.0,
            LineClass::Edge => 0.0,
        }
    }
}

/// The lattice. Coordinates: `verts` fixed WGS84 lon/lat; `xs`, `ys` local metres.
#[derive(Debug)]
pub struct Lattice {
    /// Number of cells along x (west → east).
    pub ni: usize,
    /// Number of cells along y (south → north).
    pub nj: usize,
    /// Unperturbed x of each column line (m), length ni+1.
    pub xs: Vec<f64>,
    /// Unperturbed y of each row line (m), length nj+1.
    pub ys: Vec<f64>,
    /// Vertices, row-major `j * (ni+1) + i`, fixed lon/lat.
    pub verts: Vec<Fixed>,
    /// Class of each column line (running north–south).
    pub col_class: Vec<LineClass>,
    /// Class of each row line (running east–west).
    pub row_class: Vec<LineClass>,
    /// Largest displacement of a vertex from its unperturbed position (m).
    pub max_shift: f64,
}

/// 京广铁路 runs along the column nearest this longitude (郑州站 is at about 113.658° E).
pub const JINGGUANG_LON: f64 = 113.6565;
/// 陇海铁路 runs along the row nearest this latitude (it passes north of the station).
pub const LONGHAI_LAT: f64 = 34.7535;

fn classes(rng: &mut Rng, n: usize) -> Vec<LineClass> {
    let mut c = vec![LineClass::Edge; n];
    let mut k = rng.below(8);
    let mut mains = Vec::new();
    while k < n {
        mains.push(k);
        k += rng.int(11, 14) as usize;
    }
    for &m in &mains {
        c[m] = LineClass::Main;
    }
    // Secondary roads split the stretch between two mains into pieces of 4–6 lines.
    let mut bounds = vec![0];
    bounds.extend(mains.iter().copied());
    bounds.push(n);
    for w in bounds.windows(2) {
        let (a, b) = (w[0], w[1]);
        let mut k = a + rng.int(4, 6) as usize;
        while k + 3 < b {
            c[k] = LineClass::Secondary;
            k += rng.int(4, 6) as usize;
        }
    }
    for cl in &mut c {
        if *cl == LineClass::Edge && rng.chance(0.55) {
            *cl = LineClass::Alley;
        }
    }
    c
}

impl Lattice {
    /// Builds the lattice over a bounding box in local metres `[minx, miny, maxx, maxy]`.
    pub fn build(seed: u64, bbox: [f64; 4]) -> Lattice {
        let mut rng = Rng::derive(seed, "lattice");
        let margin = 300.0;
        let mut xs = vec![bbox[0] - margin];
        while *xs.last().unwrap_or(&0.0) < bbox[2] + margin {
            let x = xs.last().copied().unwrap_or(0.0) + rng.range(92.0, 108.0);
            xs.push(x);
        }
        let mut ys = vec![bbox[1] - margin];
        while *ys.last().unwrap_or(&0.0) < bbox[3] + margin {
            let y = ys.last().copied().unwrap_or(0.0) + rng.range(92.0, 108.0);
            ys.push(y);
        }
        let (ni, nj) = (xs.len() - 1, ys.len() - 1);
        let mut col_class = classes(&mut rng, ni + 1);
        let mut row_class = classes(&mut rng, nj + 1);
        let station = to_metres(JINGGUANG_LON, LONGHAI_LAT);
        let nearest = |v: &[f64], t: f64| {
            (0..v.len())
                .min_by(|&a, &b| (v[a] - t).abs().total_cmp(&(v[b] - t).abs()))
                .unwrap_or(0)
        };
        let rc = nearest(&xs, station[0]);
        let rr = nearest(&ys, station[1]);
        col_class[rc] = LineClass::Railway;
        row_class[rr] = LineClass::Railway;
        let (sx, sy) = (mix_stream(seed, "bend-x"), mix_stream(seed, "bend-y"));
        let (wx, wy) = (mix_stream(seed, "wobble-x"), mix_stream(seed, "wobble-y"));
        let (bend, wobble) = (60.0, 6.0);
        let mut verts = Vec::with_capacity((ni + 1) * (nj + 1));
        for (j, &y) in ys.iter().enumerate() {
            for (i, &x) in xs.iter().enumerate() {
                let dx = bend * value_noise2(sx, x / 2000.0, y / 2000.0)
                    + wobble * value_noise2(wx, i as f64 * 7.31, y / 450.0);
                let dy = bend * value_noise2(sy, x / 2000.0, y / 2000.0)
                    + wobble * value_noise2(wy, x / 450.0, j as f64 * 7.31);
                verts.push(Fixed::from_metres([x + dx, y + dy]));
            }
        }
        Lattice {
            ni,
            nj,
            xs,
            ys,
            verts,
            col_class,
            row_class,
            max_shift: bend + wobble + 1.0,
        }
    }

    /// Vertex index of lattice point (i, j).
    pub fn vid(&self, i: usize, j: usize) -> usize {
        j * (self.ni + 1) + i
    }

    /// Cell index of cell (i, j) (between columns i, i+1 and rows j, j+1).
    pub fn cell(&self, i: usize, j: usize) -> usize {
        j * self.ni + i
    }

    /// Local metres of lattice point (i, j).
    pub fn xy(&self, i: usize, j: usize) -> [f64; 2] {
        self.verts[self.vid(i, j)].metres()
    }

    /// Centre (m) of cell (i, j): mean of its four corners.
    pub fn cell_centre(&self, i: usize, j: usize) -> [f64; 2] {
        let ps = [
            self.xy(i, j),
            self.xy(i + 1, j),
            self.xy(i + 1, j + 1),
            self.xy(i, j + 1),
        ];
        [
            ps.iter().map(|p| p[0]).sum::<f64>() / 4.0,
            ps.iter().map(|p| p[1]).sum::<f64>() / 4.0,
        ]
    }
}

fn mix_stream(seed: u64, name: &str) -> u64 {
    Rng::derive(seed, name).next_u64()
}
