//! Kernel density of points onto a raster, in cases per km², with the quartic kernel ArcGIS's
//! Kernel Density tool uses.
//!
//! Kernel (Silverman 1986, eq. 4.5, as ArcGIS documents it): a point of weight w adds
//! `w · 3/(π h²) · (1 − d²/h²)²` at distance d < h (metres; h the bandwidth, ArcGIS's "search
//! radius"), nothing beyond. The kernel integrates to 1, so the raster sums to the total weight
//! (× cell area) wherever no kernel is cut off by the raster's edge. Values are multiplied by 10⁶ to
//! give cases per km².
//!
//! Default bandwidth (when none is given): ArcGIS's spatial variant of Silverman's rule of thumb,
//! `h = 0.9 · min(SD, √(1/ln 2) · D_m) · n^−0.2`, with SD the (weighted) standard distance, D_m
//! the (weighted) median distance from the (weighted) mean centre and n the sum of the weights.
//!
//! Two evaluation methods, chosen automatically unless asked for:
//! - **exact**: each point visits the cells whose centres lie within h of it; cost n · πh²/c².
//! - **binned**: points are first counted into the raster's cells, then the counts are convolved
//!   with the kernel sampled at the cell centres (the method of numpy/scipy "binned" KDEs); cost
//!   n + cells · πh²/c². Each point moves by at most half a cell diagonal, which changes a value
//!   by at most about c/h relative; it is used when there are more points than cells.
//!
//! Both run on every core (rayon). The raster is laid out in the local transverse Mercator frame
//! ([`LocalFrame`]); its four corners are given in WGS84 for drawing it as a map image.

use rayon::prelude::*;

use super::HotspotError;
use super::frame::{LocalFrame, Metres};

/// How to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KdeMethod {
    /// Exact when there are fewer points than cells, binned otherwise.
    #[default]
    Auto,
    /// Every point at its true position.
    Exact,
    /// Points counted into cells first.
    Binned,
}

/// Largest accepted bandwidth, metres.
pub const MAX_BANDWIDTH_M: f64 = 50_000.0;
/// Accepted cell sizes, metres.
pub const CELL_M_RANGE: (f64, f64) = (1.0, 50_000.0);
/// Most kernel evaluations of one surface (cells × stencil for binned, points × window for
/// exact): about a few seconds on two cores.
pub const MAX_KERNEL_EVALUATIONS: f64 = 2.0e9;

/// Parameters of a density surface.
#[derive(Debug, Clone, Default)]
pub struct KdeParams {
    /// Bandwidth (search radius), metres; `None` = spatial-variant Silverman rule.
    pub bandwidth_m: Option<f64>,
    /// Cell size, metres; `None` = the shorter side of the extent / 250 (ArcGIS's default),
    /// enlarged if needed to stay within `max_cells`.
    pub cell_m: Option<f64>,
    /// Exact raster size (columns, rows) over the extent; overrides `cell_m` (the cell is square,
    /// sized so that the extent fits).
    pub size: Option<(usize, usize)>,
    /// Extent in metres of the frame (west, south, east, north); `None` = the points' bounding box
    /// grown by the bandwidth.
    pub extent: Option<[f64; 4]>,
    /// Largest number of cells (default 4,000,000).
    pub max_cells: Option<usize>,
    /// Method.
    pub method: KdeMethod,
}

/// A density raster. Row 0 is the northernmost row; cells are square, `cell_m` metres on a side,
/// in the local frame `frame`.
#[derive(Debug, Clone)]
pub struct Raster {
    /// The local metric frame of the raster.
    pub frame: LocalFrame,
    /// West edge, metres east of the frame's origin.
    pub west_m: f64,
    /// North edge, metres north of the frame's origin.
    pub north_m: f64,
    /// Cell size, metres.
    pub cell_m: f64,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Density, cases per km², row-major from the north-west corner.
    pub values: Vec<f64>,
    /// The bandwidth used, metres.
    pub bandwidth_m: f64,
    /// How the bandwidth was chosen: `given` or `silverman_spatial`.
    pub bandwidth_rule: &'static str,
    /// The method used.
    pub method: KdeMethod,
}

impl Raster {
    /// Centre of cell (col, row) in the frame, metres.
    pub fn centre_m(&self, col: usize, row: usize) -> Metres {
        Metres {
            x: self.west_m + (col as f64 + 0.5) * self.cell_m,
            y: self.north_m - (row as f64 + 0.5) * self.cell_m,
        }
    }

    /// Centre of cell (col, row), WGS84 (lon, lat) degrees.
    pub fn centre_wgs84(&self, col: usize, row: usize) -> (f64, f64) {
        self.frame.inverse(self.centre_m(col, row))
    }

    /// The highest cell: (col, row, value).
    pub fn peak(&self) -> Option<(usize, usize, f64)> {
        self.values
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, &v)| (i % self.width, i / self.width, v))
    }

    /// The four corners, WGS84 [lon, lat], in the order MapLibre's image source wants: top-left,
    /// top-right, bottom-right, bottom-left. (The frame is conformal and the raster small, so the
    /// image's slight rotation against north is drawn by the four corners.)
    pub fn corners_wgs84(&self) -> [[f64; 2]; 4] {
        let e = self.west_m + self.width as f64 * self.cell_m;
        let s = self.north_m - self.height as f64 * self.cell_m;
        [
            (self.west_m, self.north_m),
            (e, self.north_m),
            (e, s),
            (self.west_m, s),
        ]
        .map(|(x, y)| {
            let (lon, lat) = self.frame.inverse(Metres { x, y });
            [lon, lat]
        })
    }
}

/// ArcGIS's spatial-variant Silverman bandwidth (metres) of weighted points in metres.
/// `None` for fewer than two distinct points or zero total weight.
pub fn silverman_spatial(points: &[(Metres, f64)]) -> Option<f64> {
    let wsum: f64 = points.iter().map(|p| p.1).sum();
    if wsum <= 0.0 || points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0.x * p.1).sum::<f64>() / wsum;
    let my = points.iter().map(|p| p.0.y * p.1).sum::<f64>() / wsum;
    let sd = (points
        .iter()
        .map(|p| p.1 * ((p.0.x - mx).powi(2) + (p.0.y - my).powi(2)))
        .sum::<f64>()
        / wsum)
        .sqrt();
    // Weighted median of the distances to the mean centre.
    let mut d: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.1 > 0.0)
        .map(|p| ((p.0.x - mx).hypot(p.0.y - my), p.1))
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut acc = 0.0;
    let mut dm = d.last().map_or(0.0, |x| x.0);
    for (dist, w) in &d {
        acc += w;
        if acc >= wsum / 2.0 {
            dm = *dist;
            break;
        }
    }
    let h = 0.9 * sd.min((1.0 / std::f64::consts::LN_2).sqrt() * dm) * wsum.powf(-0.2);
    (h > 0.0).then_some(h)
}

/// The quartic kernel in cases per km² per unit weight at squared distance `d2` (m²).
#[inline]
fn quartic(d2: f64, h2: f64, norm: f64) -> f64 {
    if d2 >= h2 {
        0.0
    } else {
        let u = 1.0 - d2 / h2;
        norm * u * u
    }
}

/// The density surface of weighted points given in metres of `frame`.
pub fn kde(
    frame: LocalFrame,
    points: &[(Metres, f64)],
    params: &KdeParams,
) -> Result<Raster, HotspotError> {
    if points.is_empty() {
        return Err(HotspotError::NoPoints);
    }
    let (h, rule) = match params.bandwidth_m {
        Some(h) if h.is_finite() && h > 0.0 && h <= MAX_BANDWIDTH_M => (h, "given"),
        Some(h) => {
            return Err(HotspotError::BadParameter(format!(
                "bandwidth must be a positive number of metres up to {MAX_BANDWIDTH_M}, got {h}"
            )));
        }
        None => (
            silverman_spatial(points).ok_or_else(|| {
                HotspotError::BadParameter(
                    "the points are too few or all at one place to choose a bandwidth; give bandwidth_m"
                        .into(),
                )
            })?,
            "silverman_spatial",
        ),
    };
    let [w0, s0, e0, n0] = params.extent.unwrap_or_else(|| {
        let (mut w, mut s, mut e, mut n) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for (p, _) in points {
            w = w.min(p.x);
            e = e.max(p.x);
            s = s.min(p.y);
            n = n.max(p.y);
        }
        [w - h, s - h, e + h, n + h]
    });
    if !(e0 > w0 && n0 > s0 && (e0 - w0).is_finite() && (n0 - s0).is_finite()) {
        return Err(HotspotError::BadParameter(
            "the extent is empty (west ≥ east or south ≥ north) or not finite".into(),
        ));
    }
    let max_cells = params.max_cells.unwrap_or(4_000_000);
    let (width, height, cell) = if let Some((cols, rows)) = params.size {
        if cols == 0 || rows == 0 || cols.saturating_mul(rows) > max_cells {
            return Err(HotspotError::BadParameter(format!(
                "raster size {cols}×{rows} must be positive and at most {max_cells} cells"
            )));
        }
        let c = ((e0 - w0) / cols as f64).max((n0 - s0) / rows as f64);
        (cols, rows, c)
    } else {
        let mut c = match params.cell_m {
            Some(c) if c.is_finite() && (CELL_M_RANGE.0..=CELL_M_RANGE.1).contains(&c) => c,
            Some(c) => {
                return Err(HotspotError::BadParameter(format!(
                    "cell size must be {}–{} m, got {c}",
                    CELL_M_RANGE.0, CELL_M_RANGE.1
                )));
            }
            None => (e0 - w0).min(n0 - s0) / 250.0,
        };
        let cells = |c: f64| ((e0 - w0) / c).ceil() * ((n0 - s0) / c).ceil();
        while cells(c) > max_cells as f64 {
            c *= 1.25;
        }
        (
            ((e0 - w0) / c).ceil() as usize,
            ((n0 - s0) / c).ceil() as usize,
            c,
        )
    };
    if width == 0 || height == 0 || width.saturating_mul(height) > max_cells {
        return Err(HotspotError::TooLarge(format!(
            "a raster of {width}×{height} cells of {cell} m is empty or larger than {max_cells} cells"
        )));
    }
    let method = match params.method {
        KdeMethod::Auto if points.len() > width * height => KdeMethod::Binned,
        KdeMethod::Auto => KdeMethod::Exact,
        m => m,
    };
    // The work, before any of it is done: a kernel (2·h/c + 1 cells wide) is clipped to the raster.
    let cells = (width * height) as f64;
    let window = ((2.0 * (h / cell).floor() + 1.0).powi(2)).min(cells);
    let evaluations = match method {
        KdeMethod::Binned => cells * window,
        _ => points.len() as f64 * window,
    };
    if evaluations > MAX_KERNEL_EVALUATIONS {
        return Err(HotspotError::TooLarge(format!(
            "a {h:.0} m kernel on {cell:.1} m cells over {width}×{height} cells would take about {evaluations:.1e} evaluations, more than {MAX_KERNEL_EVALUATIONS:.0e}; choose a smaller bandwidth_m or a larger cell_m"
        )));
    }
    let mut raster = Raster {
        frame,
        west_m: w0,
        north_m: n0,
        cell_m: cell,
        width,
        height,
        values: Vec::new(),
        bandwidth_m: h,
        bandwidth_rule: rule,
        method,
    };
    raster.values = match method {
        KdeMethod::Binned => binned(&raster, points),
        _ => exact(&raster, points),
    };
    Ok(raster)
}

fn norm(h: f64) -> f64 {
    3.0 / (std::f64::consts::PI * h * h) * 1e6
}

fn exact(r: &Raster, points: &[(Metres, f64)]) -> Vec<f64> {
    let (h, c) = (r.bandwidth_m, r.cell_m);
    let (h2, k) = (h * h, norm(h));
    let cells = r.width * r.height;
    let chunk = points
        .len()
        .div_ceil(rayon::current_num_threads().max(1))
        .max(1024);
    points
        .par_chunks(chunk)
        .map(|pts| {
            let mut out = vec![0.0f64; cells];
            for &(p, w) in pts {
                if w == 0.0 {
                    continue;
                }
                // Column of a cell centre x: (x − west)/c − 0.5.
                let fx = (p.x - r.west_m) / c - 0.5;
                let fy = (r.north_m - p.y) / c - 0.5;
                let rc = h / c;
                let c0 = (fx - rc).ceil().max(0.0) as usize;
                let c1 = ((fx + rc).floor()).min(r.width as f64 - 1.0);
                let r0 = (fy - rc).ceil().max(0.0) as usize;
                let r1 = ((fy + rc).floor()).min(r.height as f64 - 1.0);
                if c1 < 0.0 || r1 < 0.0 {
                    continue;
                }
                for row in r0..=r1 as usize {
                    let dy = (row as f64 - fy) * c;
                    let base = row * r.width;
                    for col in c0..=c1 as usize {
                        let dx = (col as f64 - fx) * c;
                        out[base + col] += w * quartic(dx * dx + dy * dy, h2, k);
                    }
                }
            }
            out
        })
        .reduce_with(|mut a, b| {
            a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
            a
        })
        .unwrap_or_else(|| vec![0.0; cells])
}

fn binned(r: &Raster, points: &[(Metres, f64)]) -> Vec<f64> {
    let (w, hgt, c) = (r.width, r.height, r.cell_m);
    let cells = w * hgt;
    let chunk = points
        .len()
        .div_ceil(rayon::current_num_threads().max(1))
        .max(4096);
    // Counts per cell; a point outside the raster is dropped (its kernel may still reach in,
    // which the exact method keeps: give an extent that covers the points to avoid the loss).
    let counts = points
        .par_chunks(chunk)
        .map(|pts| {
            let mut out = vec![0.0f32; cells];
            for &(p, wt) in pts {
                let col = ((p.x - r.west_m) / c).floor();
                let row = ((r.north_m - p.y) / c).floor();
                if col >= 0.0 && row >= 0.0 && (col as usize) < w && (row as usize) < hgt {
                    out[row as usize * w + col as usize] += wt as f32;
                }
            }
            out
        })
        .reduce_with(|mut a, b| {
            a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
            a
        })
        .unwrap_or_else(|| vec![0.0; cells]);
    // The stencil: the kernel at the offsets of cell centres, per row offset the non-zero run.
    let h = r.bandwidth_m;
    // Offsets beyond the raster never meet a cell.
    let rc = ((h / c).floor() as isize).min(w.max(hgt) as isize);
    let (h2, k) = (h * h, norm(h));
    let stencil: Vec<(isize, Vec<(isize, f32)>)> = (-rc..=rc)
        .map(|dy| {
            let row: Vec<(isize, f32)> = (-rc..=rc)
                .filter_map(|dx| {
                    let d2 = ((dx * dx + dy * dy) as f64) * c * c;
                    let v = quartic(d2, h2, k);
                    (v > 0.0).then_some((dx, v as f32))
                })
                .collect();
            (dy, row)
        })
        .filter(|(_, row)| !row.is_empty())
        .collect();
    let mut out = vec![0.0f64; cells];
    out.par_chunks_mut(w).enumerate().for_each(|(y, out_row)| {
        let mut acc = vec![0.0f32; w];
        for (dy, run) in &stencil {
            let sy = y as isize + dy;
            if sy < 0 || sy >= hgt as isize {
                continue;
            }
            let src = &counts[sy as usize * w..(sy as usize + 1) * w];
            for &(dx, kv) in run {
                // acc[x] += kv · src[x + dx] for the x where x + dx is inside the row.
                let (lo, hi) = if dx >= 0 {
                    (0, w.saturating_sub(dx as usize))
                } else {
                    ((-dx) as usize, w)
                };
                if lo >= hi {
                    continue;
                }
                let s = &src[(lo as isize + dx) as usize..(hi as isize + dx) as usize];
                for (a, b) in acc[lo..hi].iter_mut().zip(s) {
                    *a += kv * b;
                }
            }
        }
        for (o, a) in out_row.iter_mut().zip(&acc) {
            *o = f64::from(*a);
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> LocalFrame {
        LocalFrame::at(113.65, 34.75)
    }

    #[test]
    fn one_point_integrates_to_its_weight_and_peaks_at_3_over_pi_h2() {
        let pts = [(Metres { x: 0.0, y: 0.0 }, 2.0)];
        let r = kde(
            frame(),
            &pts,
            &KdeParams {
                bandwidth_m: Some(100.0),
                cell_m: Some(2.0),
                extent: Some([-151.0, -151.0, 151.0, 151.0]),
                ..Default::default()
            },
        )
        .unwrap();
        let total: f64 = r.values.iter().sum::<f64>() * r.cell_m * r.cell_m / 1e6;
        assert!((total - 2.0).abs() < 0.01, "integral {total}");
        let (_, _, peak) = r.peak().unwrap();
        let want = 2.0 * 3.0 / (std::f64::consts::PI * 100.0 * 100.0) * 1e6;
        assert!((peak - want).abs() / want < 0.01, "peak {peak} want {want}");
    }

    #[test]
    fn binned_and_exact_agree_for_points_at_cell_centres() {
        let pts: Vec<(Metres, f64)> = (0..50)
            .map(|i| {
                let (cx, cy) = ((i * 7 % 40) as f64, (i * 13 % 40) as f64);
                (
                    Metres {
                        x: cx * 10.0 + 5.0,
                        y: -(cy * 10.0 + 5.0),
                    },
                    1.0 + (i % 3) as f64,
                )
            })
            .collect();
        let p = |method| KdeParams {
            bandwidth_m: Some(55.0),
            cell_m: Some(10.0),
            extent: Some([0.0, -400.0, 400.0, 0.0]),
            method,
            ..Default::default()
        };
        let a = kde(frame(), &pts, &p(KdeMethod::Exact)).unwrap();
        let b = kde(frame(), &pts, &p(KdeMethod::Binned)).unwrap();
        assert_eq!((a.width, a.height), (40, 40));
        for (x, y) in a.values.iter().zip(&b.values) {
            assert!((x - y).abs() <= 1e-4 * x.abs().max(1.0), "{x} vs {y}");
        }
    }

    #[test]
    fn the_silverman_rule_shrinks_with_more_points() {
        let few: Vec<(Metres, f64)> = (0..100)
            .map(|i| {
                (
                    Metres {
                        x: f64::from(i % 10) * 50.0,
                        y: f64::from(i / 10) * 50.0,
                    },
                    1.0,
                )
            })
            .collect();
        let h1 = silverman_spatial(&few).unwrap();
        let many: Vec<(Metres, f64)> = few.iter().map(|&(p, _)| (p, 10.0)).collect();
        let h2 = silverman_spatial(&many).unwrap();
        assert!(h2 < h1 && (h1 / h2 - 10f64.powf(0.2)).abs() < 1e-9);
    }
}
