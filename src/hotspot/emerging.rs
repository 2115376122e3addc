//! Emerging hot spots on a space-time cube, after ArcGIS's Emerging Hot Spot Analysis.
//!
//! 1. **Cube**: areas × time bins (weeks from a Monday, or calendar months; times in China
//!    Standard Time, UTC+8), each bin the weighted count of points.
//! 2. **Gi\* per bin** with space-time neighbours: the bin of area i at step t has as neighbours the
//!    bins of i and of i's spatial neighbours at steps t − k … t (k = `time_neighbours`, default 1,
//!    ArcGIS's "neighborhood time step"), binary weights with self, the global mean and variance
//!    taken over the whole cube (z as in [`super::gistar`], Binary).
//! 3. **Mann-Kendall** on each area's series of Gi* z-scores: the trend of clustering intensity.
//! 4. **Category** per area, with `hot[t]` = z > 0 and p < α (two-sided, α = 0.05 by default),
//!    `cold[t]` the mirror, T steps, the last step T − 1, "most" = at least 90 % of the steps:
//!    - *new*: hot at the last step and never before;
//!    - *consecutive*: hot at the last step in an uninterrupted run of ≥ 2 steps that is the
//!      only hot run, and hot in fewer than 90 % of the steps;
//!    - *intensifying*: hot in most steps including the last, Mann-Kendall trend up (p < α);
//!    - *persistent*: hot in most steps including the last, no significant trend;
//!    - *diminishing*: hot in most steps including the last, trend down (p < α);
//!    - *sporadic*: hot at the last step, hot in fewer than 90 % of steps in several runs (on and
//!      off), never cold;
//!    - *oscillating*: hot at the last step, hot in fewer than 90 %, cold at some earlier step;
//!    - *historical*: not hot at the last step, but hot in at least 90 % of the steps.
//!
//! Cold spot categories mirror these with hot and cold swapped. Areas that were hot at some step
//! but fit none of these (e.g. hot in the past, not now, in fewer than 90 % of steps) and areas
//! never hot nor cold are *no_pattern*, as in ArcGIS.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::stats::{MannKendall, mann_kendall, two_sided_p};
use super::weights::Weights;

/// Time bin length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Monday-to-Sunday weeks (UTC+8).
    Week,
    /// Calendar months (UTC+8).
    Month,
}

/// The bins of a time range: the bin index of each instant.
#[derive(Debug, Clone)]
pub struct Bins {
    /// Step.
    pub step: Step,
    /// Start (first day, UTC+8) of each bin.
    pub starts: Vec<NaiveDate>,
}

fn local_date(t: DateTime<Utc>) -> NaiveDate {
    (t + Duration::hours(8)).date_naive()
}

impl Bins {
    /// The bins covering [from, to].
    pub fn covering(step: Step, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        let (a, b) = (local_date(from), local_date(to));
        let first = match step {
            Step::Week => a - Duration::days(i64::from(a.weekday().num_days_from_monday())),
            Step::Month => a.with_day(1).unwrap_or(a),
        };
        let mut starts = vec![first];
        loop {
            let last = *starts.last().unwrap_or(&first);
            let next = match step {
                Step::Week => last + Duration::days(7),
                Step::Month => last
                    .checked_add_months(chrono::Months::new(1))
                    .unwrap_or(last),
            };
            if next > b || next == last {
                break;
            }
            starts.push(next);
        }
        Self { step, starts }
    }

    /// The bin of an instant, if inside.
    pub fn of(&self, t: DateTime<Utc>) -> Option<usize> {
        let d = local_date(t);
        let i = self.starts.partition_point(|s| *s <= d);
        if i == 0 {
            return None;
        }
        let i = i - 1;
        let end = match self.step {
            Step::Week => self.starts[i] + Duration::days(7),
            Step::Month => self.starts[i]
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(self.starts[i]),
        };
        (d < end).then_some(i)
    }

    /// Number of bins.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
}

/// An emerging hot spot category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Category {
    NoPattern,
    NewHotSpot,
    ConsecutiveHotSpot,
    IntensifyingHotSpot,
    PersistentHotSpot,
    DiminishingHotSpot,
    SporadicHotSpot,
    OscillatingHotSpot,
    HistoricalHotSpot,
    NewColdSpot,
    ConsecutiveColdSpot,
    IntensifyingColdSpot,
    PersistentColdSpot,
    DiminishingColdSpot,
    SporadicColdSpot,
    OscillatingColdSpot,
    HistoricalColdSpot,
}

impl Category {
    /// The wire name (`intensifying_hot_spot`).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// Per-area outcome.
#[derive(Debug, Clone)]
pub struct AreaTrend {
    /// Category.
    pub category: Category,
    /// Mann-Kendall test of the area's Gi* z-scores.
    pub trend: MannKendall,
    /// Steps significantly hot.
    pub hot_steps: usize,
    /// Steps significantly cold.
    pub cold_steps: usize,
    /// Gi* z-score per step.
    pub z: Vec<f64>,
}

/// Space-time Gi* z-scores of a cube `counts[area][step]`.
pub fn space_time_z(counts: &[Vec<f64>], w: &Weights, time_neighbours: usize) -> Vec<Vec<f64>> {
    let n_areas = counts.len();
    let steps = counts.first().map_or(0, Vec::len);
    let n = (n_areas * steps) as f64;
    let sum: f64 = counts.iter().flatten().sum();
    let mean = sum / n;
    let var = counts.iter().flatten().map(|v| v * v).sum::<f64>() / n - mean * mean;
    if n < 2.0 || var <= 0.0 {
        return vec![vec![0.0; steps]; n_areas];
    }
    let s = var.sqrt();
    use rayon::prelude::*;
    (0..n_areas)
        .into_par_iter()
        .map(|i| {
            (0..steps)
                .map(|t| {
                    let t0 = t.saturating_sub(time_neighbours);
                    let nb = w.of(i);
                    let local: f64 = std::iter::once(i as u32)
                        .chain(nb.iter().copied())
                        .map(|j| counts[j as usize][t0..=t].iter().sum::<f64>())
                        .sum();
                    let k = ((t - t0 + 1) * (nb.len() + 1)) as f64;
                    let den = s * ((n * k - k * k) / (n - 1.0)).sqrt();
                    if den > 0.0 {
                        (local - mean * k) / den
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect()
}

/// Classifies one area's z-series.
pub fn classify(z: &[f64], alpha: f64) -> AreaTrend {
    let hot: Vec<bool> = z
        .iter()
        .map(|&v| v > 0.0 && two_sided_p(v) < alpha)
        .collect();
    let cold: Vec<bool> = z
        .iter()
        .map(|&v| v < 0.0 && two_sided_p(v) < alpha)
        .collect();
    let trend = mann_kendall(z);
    let category = pattern(&hot, &cold, &trend, alpha, false)
        .or_else(|| pattern(&cold, &hot, &trend, alpha, true))
        .unwrap_or(Category::NoPattern);
    AreaTrend {
        category,
        trend,
        hot_steps: hot.iter().filter(|&&b| b).count(),
        cold_steps: cold.iter().filter(|&&b| b).count(),
        z: z.to_vec(),
    }
}

/// The category of a series of `sig` steps (hot, or cold when `mirror`), `other` the opposite.
fn pattern(
    sig: &[bool],
    other: &[bool],
    trend: &MannKendall,
    alpha: f64,
    mirror: bool,
) -> Option<Category> {
    use Category::*;
    let t = sig.len();
    let count = sig.iter().filter(|&&b| b).count();
    if t == 0 || count == 0 {
        return None;
    }
    let most = count as f64 >= 0.9 * t as f64;
    let last = sig[t - 1];
    let pick = |hot: Category, cold: Category| Some(if mirror { cold } else { hot });
    // A rising trend of z intensifies a hot spot and weakens a cold one.
    let up = trend.p < alpha && trend.z > 0.0;
    let down = trend.p < alpha && trend.z < 0.0;
    let (stronger, weaker) = if mirror { (down, up) } else { (up, down) };
    if !last {
        return if most {
            pick(HistoricalHotSpot, HistoricalColdSpot)
        } else {
            None
        };
    }
    if count == 1 {
        return pick(NewHotSpot, NewColdSpot);
    }
    if most {
        return if stronger {
            pick(IntensifyingHotSpot, IntensifyingColdSpot)
        } else if weaker {
            pick(DiminishingHotSpot, DiminishingColdSpot)
        } else {
            pick(PersistentHotSpot, PersistentColdSpot)
        };
    }
    let run = sig.iter().rev().take_while(|&&b| b).count();
    if run >= 2 && run == count {
        return pick(ConsecutiveHotSpot, ConsecutiveColdSpot);
    }
    if other.iter().any(|&b| b) {
        pick(OscillatingHotSpot, OscillatingColdSpot)
    } else {
        pick(SporadicHotSpot, SporadicColdSpot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn z(s: &str) -> Vec<f64> {
        // H = hot (z 3), C = cold (−3), . = nothing (0.1); the trend follows the given ramps.
        s.chars()
            .map(|c| match c {
                'H' => 3.0,
                'C' => -3.0,
                _ => 0.1,
            })
            .collect()
    }

    #[test]
    fn each_arcgis_hot_spot_category_is_recognised() {
        let c = |s: &str| classify(&z(s), 0.05).category;
        assert_eq!(c("........."), Category::NoPattern);
        assert_eq!(c("........H"), Category::NewHotSpot);
        assert_eq!(c("......HHH"), Category::ConsecutiveHotSpot);
        assert_eq!(c("HHHHHHHHHH"), Category::PersistentHotSpot);
        assert_eq!(c("H.H..H.HH"), Category::SporadicHotSpot);
        assert_eq!(c("C..H..H.H"), Category::OscillatingHotSpot);
        assert_eq!(c("HHHHHHHHHHHHHHHHHHHH."), Category::HistoricalHotSpot);
        assert_eq!(c("........C"), Category::NewColdSpot);
        let rising: Vec<f64> = (0..20).map(|i| 2.0 + f64::from(i) * 0.2).collect();
        assert_eq!(
            classify(&rising, 0.05).category,
            Category::IntensifyingHotSpot
        );
        let falling: Vec<f64> = rising.iter().rev().copied().collect();
        assert_eq!(
            classify(&falling, 0.05).category,
            Category::DiminishingHotSpot
        );
    }

    #[test]
    fn weekly_bins_start_on_mondays_in_china_time() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let b = Bins::covering(
            Step::Week,
            t("2024-11-01T00:00:00+08:00"),
            t("2024-11-30T23:00:00+08:00"),
        );
        assert_eq!(b.starts[0], NaiveDate::from_ymd_opt(2024, 10, 28).unwrap());
        // Sunday 23:30 in Beijing is still the first week, though it is Sunday 15:30 UTC.
        assert_eq!(b.of(t("2024-11-03T23:30:00+08:00")), Some(0));
        assert_eq!(b.of(t("2024-11-04T00:30:00+08:00")), Some(1));
        let m = Bins::covering(
            Step::Month,
            t("2024-11-01T00:00:00+08:00"),
            t("2025-02-01T00:00:00+08:00"),
        );
        assert_eq!(m.len(), 4);
    }
}
