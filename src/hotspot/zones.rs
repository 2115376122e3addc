//! Where the problems concentrate: the share of the load and of the significant hot spot area in
//! urban villages (城中村), within 50/100/200 m of the railway, on back alleys, and in the rest of
//! the city, per km² and per km of street, with a sentence a planner can quote.
//!
//! The zones overlap (a back alley may lie in an urban village near the railway), so shares of
//! different zones do not add up to 100 %; *rest* is everything in none of them. A place is in a
//! zone by the assignment engine's answer for it: inside the village polygon, within the railway
//! distance of the nearest track, within the engine's back-alley distance (10 m by default) of an
//! alley's centre line. Zone areas and street lengths are measured by sampling: areas on a square
//! lattice of `sample_m` cells (by the cell centre), streets every `sample_m / 4` metres along the
//! road centre lines.
//!
//! A zone's share of the hot spots is counted by the reports, not by the hot units' centres: the
//! weight of the reports that lie in 99 % (90 %) hot units *and* in the zone, over the weight of
//! all reports in such units. A 10 m alley buffer almost never holds a unit's centre, so counting
//! centres called back alleys — the densest zone of the demo city — free of hot spots.

use crate::assign::{CityIndex, Hit, NONE};

/// The zones, in output order.
pub const ZONES: [(&str, &str, &str); 6] = [
    ("urban_village", "城中村", "in urban villages"),
    (
        "railway_50m",
        "铁路50米范围内",
        "within 50 m of the railway",
    ),
    (
        "railway_100m",
        "铁路100米范围内",
        "within 100 m of the railway",
    ),
    (
        "railway_200m",
        "铁路200米范围内",
        "within 200 m of the railway",
    ),
    ("back_alley", "背街小巷", "on back alleys"),
    ("rest", "其他区域", "in the rest of the city"),
];

/// The zones of a located point as a bit mask over [`ZONES`] (bit i = zone i).
pub fn mask(hit: &Hit) -> u8 {
    let mut m = 0u8;
    if hit.village != NONE {
        m |= 1;
    }
    if hit.railway_m <= 50.0 {
        m |= 2;
    }
    if hit.railway_m <= 100.0 {
        m |= 4;
    }
    if hit.railway_m <= 200.0 {
        m |= 8;
    }
    if hit.alley != NONE {
        m |= 16;
    }
    if m == 0 {
        m = 32;
    }
    m
}

/// The zone mask of a WGS84 point.
pub fn mask_at(index: &CityIndex, lon: f64, lat: f64) -> u8 {
    mask(&index.locate(lon, lat))
}

/// One zone's row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ZoneRow {
    /// Zone code (urban_village, railway_50m, railway_100m, railway_200m, back_alley, rest).
    pub zone: String,
    /// Chinese name.
    pub name: String,
    /// Weighted reports in the zone.
    pub reports: f64,
    /// Share of all reports (0–1).
    pub load_share: f64,
    /// Zone area, km² (sampled).
    pub area_km2: f64,
    /// Reports per km².
    pub per_km2: f64,
    /// Street length in the zone, km (sampled).
    pub street_km: f64,
    /// Reports per km of street.
    pub per_street_km: f64,
    /// Share of the reports in 99 % hot spot units that lie in the zone (0–1).
    pub hotspot99_share: f64,
    /// Share of the reports in 90 %+ hot spot units that lie in the zone (0–1).
    pub hotspot90_share: f64,
}

/// Inputs of a breakdown, all as zone masks from [`mask`].
#[derive(Debug, Default)]
pub struct ZoneInputs {
    /// (mask, weight, Gi* bin of the report's unit; 0 outside every unit) of every report.
    pub reports: Vec<(u8, f64, i8)>,
    /// Mask of every area sample; each stands for `sample_area_m2`.
    pub area_samples: Vec<u8>,
    /// Area of one sample, m².
    pub sample_area_m2: f64,
    /// Mask of every street sample; each stands for `street_step_m` of street.
    pub street_samples: Vec<u8>,
    /// Street length per sample, metres.
    pub street_step_m: f64,
}

/// The breakdown and its quotable sentences (zh-CN, English).
pub fn breakdown(inp: &ZoneInputs) -> (Vec<ZoneRow>, Vec<String>, Vec<String>) {
    let total: f64 = inp.reports.iter().map(|r| r.1).sum();
    let hot_load = |min_bin: i8| {
        inp.reports
            .iter()
            .filter(|r| r.2 >= min_bin)
            .map(|r| r.1)
            .sum::<f64>()
    };
    let (hot99, hot90) = (hot_load(3), hot_load(1));
    let rows: Vec<ZoneRow> = ZONES
        .iter()
        .enumerate()
        .map(|(i, (code, zh, _))| {
            let bit = 1u8 << i;
            let reports: f64 = inp
                .reports
                .iter()
                .filter(|r| r.0 & bit != 0)
                .map(|r| r.1)
                .sum();
            let area_km2 = inp.area_samples.iter().filter(|m| **m & bit != 0).count() as f64
                * inp.sample_area_m2
                / 1e6;
            let street_km = inp.street_samples.iter().filter(|m| **m & bit != 0).count() as f64
                * inp.street_step_m
                / 1e3;
            let share = |min_bin: i8, all: f64| {
                let a: f64 = inp
                    .reports
                    .iter()
                    .filter(|r| r.2 >= min_bin && r.0 & bit != 0)
                    .map(|r| r.1)
                    .sum();
                if all > 0.0 { a / all } else { 0.0 }
            };
            let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
            ZoneRow {
                zone: (*code).to_owned(),
                name: (*zh).to_owned(),
                reports,
                load_share: ratio(reports, total),
                area_km2,
                per_km2: ratio(reports, area_km2),
                street_km,
                per_street_km: ratio(reports, street_km),
                hotspot99_share: share(3, hot99),
                hotspot90_share: share(1, hot90),
            }
        })
        .collect();
    // Whole percent, but one decimal below 10 % so that a thin zone does not read as 0 %.
    let pct = |x: f64| {
        let p = x * 100.0;
        if p < 10.0 {
            format!("{:.1}", p)
        } else {
            format!("{:.0}", p)
        }
    };
    let mut zh = Vec::new();
    let mut en = Vec::new();
    // The sentence planners quote: the special zone holding the largest share of 99 % hot spots.
    if let Some((i, r)) = rows
        .iter()
        .enumerate()
        .take(5)
        .rev()
        .max_by(|a, b| a.1.hotspot99_share.total_cmp(&b.1.hotspot99_share))
        && hot99 > 0.0
    {
        zh.push(format!(
            "99%置信度热点单元内的问题有{}%位于{}。",
            pct(r.hotspot99_share),
            ZONES[i].1
        ));
        en.push(format!(
            "{}% of the reports in 99% hotspot units lie {}.",
            pct(r.hotspot99_share),
            ZONES[i].2
        ));
    }
    for (i, r) in rows.iter().enumerate() {
        if r.load_share > 0.0 && i < 5 {
            let area_share = ratio_of(
                r.area_km2,
                rows.iter()
                    .map(|x| x.area_km2)
                    .fold(0.0, f64::max)
                    .max(inp.area_samples.len() as f64 * inp.sample_area_m2 / 1e6),
            );
            zh.push(format!(
                "{}：占问题总量的{}%（面积占{}%），每平方公里{:.0}件，每公里街道{:.1}件。",
                ZONES[i].1,
                pct(r.load_share),
                pct(area_share),
                r.per_km2,
                r.per_street_km
            ));
            en.push(format!(
                "{}: {}% of the reports on {}% of the area; {:.0} per km², {:.1} per km of street.",
                capitalise(ZONES[i].2),
                pct(r.load_share),
                pct(area_share),
                r.per_km2,
                r.per_street_km
            ));
        }
    }
    (rows, zh, en)
}

fn ratio_of(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sentence_names_the_zone_holding_most_of_the_hot_spot_reports() {
        // Four reports in 99 % hot units: two near the railway (100 m), one also within 50 m,
        // one in the rest; one report in a cold unit near the railway. 2 of 3 hot weights (the
        // railway ones weigh 1 each, the rest 1) → 67 %.
        let inp = ZoneInputs {
            reports: vec![
                (2 | 4 | 8, 1.0, 3),
                (4 | 8, 1.0, 3),
                (32, 1.0, 3),
                (4 | 8, 1.0, 0),
            ],
            area_samples: vec![4 | 8, 32, 32, 32],
            sample_area_m2: 1e6,
            street_samples: vec![4 | 8, 32],
            street_step_m: 1000.0,
        };
        let (rows, zh, en) = breakdown(&inp);
        assert_eq!(rows[2].zone, "railway_100m");
        assert!((rows[2].load_share - 0.75).abs() < 1e-12);
        assert!((rows[2].hotspot99_share - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            en[0],
            "67% of the reports in 99% hotspot units lie within 100 m of the railway."
        );
        assert!(zh[0].contains("67%") && zh[0].contains("铁路100米"));
    }

    #[test]
    fn a_thin_zone_planted_as_the_hottest_holds_the_largest_share_of_hot_spot_reports() {
        // A synthetic city: a 10 m back alley through hot units whose centres all lie off the
        // alley. 80 of the 100 reports in hot units lie on the alley; 10 hot reports lie in an
        // urban village; the alley is 0.2 % of the area. Counting units by their centres gave
        // the alley 0 %; counting reports gives it 80 % and the sentence.
        let mut reports = vec![(16u8, 1.0, 3i8); 80];
        reports.extend(vec![(1u8, 1.0, 3i8); 10]);
        reports.extend(vec![(32u8, 1.0, 3i8); 10]);
        reports.extend(vec![(32u8, 1.0, 0i8); 200]);
        let mut area_samples = vec![32u8; 998];
        area_samples.extend([16, 1]);
        let inp = ZoneInputs {
            reports,
            area_samples,
            sample_area_m2: 2500.0,
            street_samples: vec![16, 32, 32, 32],
            street_step_m: 12.5,
        };
        let (rows, zh, en) = breakdown(&inp);
        let alley = rows.iter().find(|r| r.zone == "back_alley").unwrap();
        assert!((alley.hotspot99_share - 0.8).abs() < 1e-12, "{alley:?}");
        assert!((alley.hotspot90_share - 0.8).abs() < 1e-12);
        let village = rows.iter().find(|r| r.zone == "urban_village").unwrap();
        assert!((village.hotspot99_share - 0.1).abs() < 1e-12);
        assert!(alley.per_km2 > village.per_km2 / 10.0);
        assert_eq!(
            en[0],
            "80% of the reports in 99% hotspot units lie on back alleys."
        );
        assert!(zh[0].contains("背街小巷"), "{zh:?}");
    }
}
