//! Getis-Ord Gi* (Getis & Ord 1992; Ord & Getis 1995), computed exactly as PySAL esda's
//! `G_Local(y, w, transform=…, star=True)` computes its analytical z-scores (`Zs`):
//!
//! - the binary weights get a self-weight of 1 (esda fills the empty diagonal with the row's
//!   largest weight, which for binary weights is 1);
//! - `transform = Binary` ("B", ArcGIS's convention) keeps them binary; `Row` ("R", esda's default)
//!   divides each row by its sum, so every area's weights (itself included) sum to 1;
//! - with n areas, ȳ = Σy/n, s² = Σy²/n − ȳ² and W_i = Σ_j w_ij:
//!   `G*_i = Σ_j w_ij y_j / Σ y`, `E[G*_i] = W_i / n`,
//!   `Var[G*_i] = W_i (n − W_i) / (n − 1) / n² · s² / ȳ²`, `z_i = (G*_i − E) / √Var`.
//!
//! For binary weights this is ArcGIS's Gi* z-score `(Σ w x − x̄ W) / (S √((nW − W²)/(n − 1)))`.
//! p-values are two-sided normal (ArcGIS's; esda's `p_norm` is the one-sided half). Bins follow
//! ArcGIS's `Gi_Bin`: ±3 at 99 % (p < 0.01), ±2 at 95 %, ±1 at 90 %, signed like z; `bin_fdr`
//! applies the same thresholds to Benjamini–Hochberg q-values instead of p-values.

use super::stats::{benjamini_hochberg, two_sided_p};
use super::weights::Weights;

/// Weight transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transform {
    /// Binary weights with self-weight 1 (ArcGIS; esda `transform="B"`).
    #[default]
    #[serde(alias = "b", alias = "B")]
    Binary,
    /// Row-standardised (esda's default `transform="R"`).
    #[serde(alias = "r", alias = "R")]
    Row,
}

/// Gi* results per area.
#[derive(Debug, Clone, Default)]
pub struct GiStar {
    /// z-scores.
    pub z: Vec<f64>,
    /// Two-sided p-values.
    pub p: Vec<f64>,
    /// Benjamini–Hochberg q-values.
    pub q: Vec<f64>,
    /// ArcGIS bins −3…3 from p.
    pub bin: Vec<i8>,
    /// ArcGIS bins −3…3 from q (false discovery rate corrected).
    pub bin_fdr: Vec<i8>,
}

/// The ArcGIS confidence bin of a z-score with (two-sided) significance `p`.
pub fn bin(z: f64, p: f64) -> i8 {
    let level = if p < 0.01 {
        3
    } else if p < 0.05 {
        2
    } else if p < 0.10 {
        1
    } else {
        0
    };
    if z > 0.0 {
        level
    } else if z < 0.0 {
        -level
    } else {
        0
    }
}

/// Gi* z-scores only (esda `Zs`). With no variance in y every z is 0.
pub fn z_scores(y: &[f64], w: &Weights, transform: Transform) -> Vec<f64> {
    let n = y.len();
    debug_assert_eq!(w.n(), n);
    let nf = n as f64;
    let sum: f64 = y.iter().sum();
    let mean = sum / nf;
    let var = y.iter().map(|v| v * v).sum::<f64>() / nf - mean * mean;
    if n < 2 || var <= 0.0 || sum == 0.0 {
        return vec![0.0; n];
    }
    let ratio = var / (mean * mean);
    (0..n)
        .map(|i| {
            let nb = w.of(i);
            let local: f64 = y[i] + nb.iter().map(|&j| y[j as usize]).sum::<f64>();
            let k = nb.len() as f64 + 1.0;
            let (stat, card) = match transform {
                Transform::Binary => (local / sum, k),
                Transform::Row => (local / k / sum, 1.0),
            };
            let e = card / nf;
            let v = card * (nf - card) / (nf - 1.0) / (nf * nf) * ratio;
            if v > 0.0 { (stat - e) / v.sqrt() } else { 0.0 }
        })
        .collect()
}

/// Gi* with p-values, FDR q-values and bins.
pub fn gi_star(y: &[f64], w: &Weights, transform: Transform) -> GiStar {
    let z = z_scores(y, w, transform);
    let p: Vec<f64> = z.iter().map(|&z| two_sided_p(z)).collect();
    let q = benjamini_hochberg(&p);
    let bins = |sig: &[f64]| z.iter().zip(sig).map(|(&z, &s)| bin(z, s)).collect();
    GiStar {
        bin: bins(&p),
        bin_fdr: bins(&q),
        z,
        p,
        q,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hotspot::frame::Metres;

    /// esda's own doctest: `DistanceBand(points, threshold=15)` and y, `G_Local(y, w,
    /// transform='B', star=True).Zs` and `transform='R'`.
    #[test]
    fn the_esda_docstring_example_gives_esdas_z_scores() {
        let pts: Vec<Metres> = [(10, 10), (20, 10), (40, 10), (15, 20), (30, 20), (30, 30)]
            .iter()
            .map(|&(x, y)| Metres {
                x: f64::from(x),
                y: f64::from(y),
            })
            .collect();
        let w = Weights::distance_band(&pts, 15.0);
        let y = [2.0, 3.0, 3.2, 5.0, 8.0, 7.0];
        let b = z_scores(&y, &w, Transform::Binary);
        let want_b = [
            -1.397_276_26,
            -0.289_177_62,
            0.650_649_64,
            -0.289_177_62,
            1.234_520_88,
            2.024_243_31,
        ];
        let r = z_scores(&y, &w, Transform::Row);
        let want_r = [
            -0.624_880_94,
            -0.091_445_99,
            0.411_506_96,
            -0.091_445_99,
            0.246_904_18,
            1.280_243_88,
        ];
        for i in 0..6 {
            assert!(
                (b[i] - want_b[i]).abs() < 1e-7,
                "B {i}: {} vs {}",
                b[i],
                want_b[i]
            );
            assert!(
                (r[i] - want_r[i]).abs() < 1e-7,
                "R {i}: {} vs {}",
                r[i],
                want_r[i]
            );
        }
    }

    #[test]
    fn bins_follow_arcgis_thresholds() {
        assert_eq!(bin(2.6, 0.009), 3);
        assert_eq!(bin(-2.0, 0.045), -2);
        assert_eq!(bin(1.7, 0.089), 1);
        assert_eq!(bin(1.0, 0.3), 0);
    }
}
