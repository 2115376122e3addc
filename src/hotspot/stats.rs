//! The few statistical functions the hot spot tools need: the normal tail, Benjamini–Hochberg
//! false-discovery-rate adjustment, and the Mann-Kendall trend test.

/// erfc(x) for x ≥ 0, to about 1e-15 relative: a positive series below 3 (no cancellation), a
/// continued fraction (modified Lentz) above.
fn erfc_pos(x: f64) -> f64 {
    if x < 3.0 {
        // erf(x) = 2/√π · e^{−x²} · Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1)).
        let mut term = x;
        let mut sum = x;
        let x2 = x * x;
        let mut k = 1.0;
        while term > sum * 1e-17 {
            term *= 2.0 * x2 / (2.0 * k + 1.0);
            sum += term;
            k += 1.0;
        }
        1.0 - 2.0 / std::f64::consts::PI.sqrt() * (-x2).exp() * sum
    } else {
        // erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))).
        let tiny = 1e-300;
        let mut f = x;
        let mut c = x;
        let mut d = 0.0;
        for k in 1..300 {
            let a = k as f64 / 2.0;
            d = x + a * d;
            d = if d.abs() < tiny { tiny } else { d };
            c = x + a / c;
            c = if c.abs() < tiny { tiny } else { c };
            d = 1.0 / d;
            let delta = c * d;
            f *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (-x * x).exp() / std::f64::consts::PI.sqrt() / f
    }
}

/// P(Z > z) for a standard normal Z.
pub fn normal_sf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    if x >= 0.0 {
        erfc_pos(x) / 2.0
    } else {
        1.0 - erfc_pos(-x) / 2.0
    }
}

/// Two-sided p-value of a z-score: P(|Z| ≥ |z|). (esda's `p_norm` is the one-sided
/// `sf(|z|)`, half of this; ArcGIS reports the two-sided value.)
pub fn two_sided_p(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    (2.0 * normal_sf(z.abs())).min(1.0)
}

/// Benjamini–Hochberg adjusted p-values (q-values), in the input order. A test is significant at
/// false discovery rate α when its q ≤ α. NaN p-values stay NaN and are not counted as tests.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let m = idx.len() as f64;
    let mut q = vec![f64::NAN; p.len()];
    let mut running = 1.0f64;
    for (rank, &i) in idx.iter().enumerate().rev() {
        running = running.min(p[i] * m / (rank as f64 + 1.0));
        q[i] = running;
    }
    q
}

/// The Mann-Kendall trend test of a series (in time order).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MannKendall {
    /// S = Σ_{i<j} sign(x_j − x_i).
    pub s: f64,
    /// Its variance under no trend, corrected for ties.
    pub var_s: f64,
    /// The continuity-corrected z-score; positive for an upward trend.
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// Mann-Kendall trend test (Mann 1945, Kendall 1975; the test ArcGIS's Emerging Hot Spot
/// Analysis applies to each location's Gi* z-scores). Ties are corrected for in the variance;
/// the z-score uses the usual continuity correction (S ∓ 1).
pub fn mann_kendall(x: &[f64]) -> MannKendall {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            s += (x[j] - x[i]).signum() * f64::from(u8::from(x[j] != x[i]));
        }
    }
    let mut sorted: Vec<f64> = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && sorted[j + 1] == sorted[i] {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        if t > 1.0 {
            ties += t * (t - 1.0) * (2.0 * t + 5.0);
        }
        i = j + 1;
    }
    let nf = n as f64;
    let var_s = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    let z = if var_s <= 0.0 || s == 0.0 {
        0.0
    } else if s > 0.0 {
        (s - 1.0) / var_s.sqrt()
    } else {
        (s + 1.0) / var_s.sqrt()
    };
    MannKendall {
        s,
        var_s,
        z,
        p: two_sided_p(z),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_tail_matches_known_quantiles() {
        for (z, p) in [
            (0.0, 0.5),
            (1.959_963_984_540_054, 0.025),
            (2.575_829_303_548_901, 0.005),
            (1.644_853_626_951_472_2, 0.05),
            (5.0, 2.866_515_718_791_939e-7),
            (-1.0, 0.841_344_746_068_542_9),
        ] {
            let got = normal_sf(z);
            assert!((got - p).abs() / p < 1e-12, "sf({z}) = {got}, want {p}");
        }
    }

    #[test]
    fn bh_adjusts_the_textbook_example() {
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.005]);
        // Sorted 0.005, 0.01, 0.03, 0.04 → 0.02, 0.02, 0.04, 0.04.
        let want = [0.02, 0.04, 0.04, 0.02];
        for (a, b) in q.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
    }

    #[test]
    fn mann_kendall_sees_a_rising_series_and_not_a_flat_one() {
        let up: Vec<f64> = (0..20)
            .map(|i| f64::from(i) + if i % 3 == 0 { 2.0 } else { 0.0 })
            .collect();
        let mk = mann_kendall(&up);
        assert!(mk.z > 3.0 && mk.p < 0.01, "{mk:?}");
        let flat = mann_kendall(&[1.0; 10]);
        assert_eq!(flat.z, 0.0);
        // n = 10, S = 45 for a strictly increasing series: var = 10·9·25/18 = 125.
        let strict = mann_kendall(&(0..10).map(f64::from).collect::<Vec<_>>());
        assert_eq!(strict.s, 45.0);
        assert!((strict.var_s - 125.0).abs() < 1e-12);
    }
}
