//! The analyses as planners call them: a selection of a [`Dataset`] in, rows with codes, numbers
//! and WGS84 geometry out. Shared by the HTTP layer, the tests and the benchmark.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::areas::{self, AreaSpec, Areas};
use super::blindspots::{self, BlindSpotParams, Visit};
use super::dataset::Dataset;
use super::emerging::{self, Bins, Step};
use super::frame::Metres;
use super::gistar::{self, Transform};
use super::weights::Weights;
use super::zones::{self, ZoneInputs, ZoneRow};
use super::{HotspotError, kde};
use crate::assign::CityIndex;

/// The area of each selected point.
pub fn area_of(
    ds: &Dataset,
    sel: &[u32],
    u: &Areas,
    index: Option<&CityIndex>,
) -> Vec<Option<u32>> {
    match (u.spec, &ds.located, index) {
        (AreaSpec::Admin(level), Some(loc), Some(ix)) => sel
            .iter()
            .map(|&i| areas::lift(ix, loc.grid[i as usize], level))
            .collect(),
        (AreaSpec::Admin(_), _, _) => vec![None; sel.len()],
        (AreaSpec::Fishnet(_) | AreaSpec::H3(_), _, _) => {
            let lonlat: Vec<(f64, f64)> = sel
                .iter()
                .map(|&i| (ds.reports[i as usize].lon, ds.reports[i as usize].lat))
                .collect();
            let m: Vec<Metres> = sel.iter().map(|&i| ds.metres[i as usize]).collect();
            u.assign(None, &lonlat, &m)
        }
    }
}

/// One area's counts and rates.
#[derive(Debug, Clone, Serialize)]
pub struct AggregateRow {
    /// Area code.
    pub code: String,
    /// Area name.
    pub name: String,
    /// Weighted reports.
    pub count: f64,
    /// Area, km².
    pub area_km2: f64,
    /// Reports per km².
    pub per_km2: f64,
    /// Reports of 门前三包 categories.
    pub frontage_count: f64,
    /// 门前三包 frontage length in the area, km.
    pub frontage_km: f64,
    /// 门前三包 reports per km of frontage (null without frontage).
    pub per_frontage_km: Option<f64>,
}

/// Counts per area. `frontage_categories` are the 门前三包 category codes.
pub fn aggregate(
    ds: &Dataset,
    sel: &[u32],
    u: &Areas,
    index: Option<&CityIndex>,
    frontage_categories: &[String],
) -> (Vec<AggregateRow>, f64) {
    let of = area_of(ds, sel, u, index);
    let w: Vec<f64> = sel.iter().map(|&i| ds.reports[i as usize].weight).collect();
    let fc: Vec<bool> = sel
        .iter()
        .map(|&i| {
            ds.reports[i as usize]
                .category
                .as_ref()
                .is_some_and(|c| frontage_categories.contains(c))
        })
        .collect();
    let (all, front, outside) = areas::count(u.len(), &of, &w, &fc);
    let rows = (0..u.len())
        .map(|i| {
            let area_km2 = u.area_m2[i] / 1e6;
            let fkm = u.frontage_m[i] / 1e3;
            AggregateRow {
                code: u.codes[i].clone(),
                name: u.names[i].clone(),
                count: all[i],
                area_km2,
                per_km2: if area_km2 > 0.0 {
                    all[i] / area_km2
                } else {
                    0.0
                },
                frontage_count: front[i],
                frontage_km: fkm,
                per_frontage_km: (fkm > 0.0).then(|| front[i] / fkm),
            }
        })
        .collect();
    (rows, outside)
}

/// One area's Gi*.
#[derive(Debug, Clone, Serialize)]
pub struct GiRow {
    /// Area code.
    pub code: String,
    /// Area name.
    pub name: String,
    /// Weighted reports.
    pub count: f64,
    /// Neighbours (without itself).
    pub neighbours: usize,
    /// Gi* z-score.
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// Benjamini–Hochberg q-value.
    pub q: f64,
    /// ArcGIS bin −3…3 from p.
    pub bin: i8,
    /// ArcGIS bin −3…3 from q.
    pub bin_fdr: i8,
}

/// Gi* of the counts per area.
pub fn gi(
    ds: &Dataset,
    sel: &[u32],
    u: &Areas,
    w: &Weights,
    index: Option<&CityIndex>,
    transform: Transform,
) -> Vec<GiRow> {
    let of = area_of(ds, sel, u, index);
    let wt: Vec<f64> = sel.iter().map(|&i| ds.reports[i as usize].weight).collect();
    let (y, _, _) = areas::count(u.len(), &of, &wt, &vec![false; sel.len()]);
    let g = gistar::gi_star(&y, w, transform);
    (0..u.len())
        .map(|i| GiRow {
            code: u.codes[i].clone(),
            name: u.names[i].clone(),
            count: y[i],
            neighbours: w.of(i).len(),
            z: g.z[i],
            p: g.p[i],
            q: g.q[i],
            bin: g.bin[i],
            bin_fdr: g.bin_fdr[i],
        })
        .collect()
}

/// One area's emerging hot spot trend.
#[derive(Debug, Clone, Serialize)]
pub struct EmergingRow {
    /// Area code.
    pub code: String,
    /// ArcGIS category (snake_case, e.g. `intensifying_hot_spot`).
    pub category: emerging::Category,
    /// Reports over the whole cube.
    pub count: f64,
    /// Steps significantly hot.
    pub hot_steps: usize,
    /// Steps significantly cold.
    pub cold_steps: usize,
    /// Mann-Kendall z of the Gi* z-series.
    pub trend_z: f64,
    /// Its two-sided p-value.
    pub trend_p: f64,
}

/// Parameters of an emerging hot spot analysis.
#[derive(Debug, Clone, Copy)]
pub struct EmergingParams {
    /// Bin length.
    pub step: Step,
    /// Previous steps in the space-time neighbourhood.
    pub time_neighbours: usize,
    /// Significance level of the hot/cold bins and of the trend.
    pub alpha: f64,
}

/// Most time steps of an emerging hot spot analysis (20 years of weeks).
pub const MAX_TIME_STEPS: usize = 1_040;
/// Most area × step cells of its space-time cube.
pub const MAX_CUBE_CELLS: usize = 20_000_000;

/// Emerging hot spots of the selected, timed points.
pub fn emerging_hot_spots(
    ds: &Dataset,
    sel: &[u32],
    u: &Areas,
    w: &Weights,
    index: Option<&CityIndex>,
    p: &EmergingParams,
) -> Result<(Bins, Vec<EmergingRow>), HotspotError> {
    let EmergingParams {
        step,
        time_neighbours,
        alpha,
    } = *p;
    let times: Vec<DateTime<Utc>> = sel
        .iter()
        .filter_map(|&i| ds.reports[i as usize].reported_at)
        .collect();
    let (Some(from), Some(to)) = (times.iter().min(), times.iter().max()) else {
        return Err(HotspotError::BadParameter(
            "emerging hot spots need report times; none of the selected points has one".into(),
        ));
    };
    // Sizes before allocating: the steps between the first and last time, and the cube.
    let days = (*to - *from).num_days().max(0) as f64;
    let steps = match step {
        emerging::Step::Week => days / 7.0 + 2.0,
        emerging::Step::Month => days / 28.0 + 2.0,
    };
    if steps > MAX_TIME_STEPS as f64 || steps * u.len() as f64 > MAX_CUBE_CELLS as f64 {
        return Err(HotspotError::TooLarge(format!(
            "the selection spans about {steps:.0} time steps over {} units; at most {MAX_TIME_STEPS} steps and {MAX_CUBE_CELLS} unit-steps are analysed: narrow from/to, use step=month or larger units",
            u.len()
        )));
    }
    let bins = Bins::covering(step, *from, *to);
    if bins.len() < 4 {
        return Err(HotspotError::BadParameter(format!(
            "the selection spans {} time step(s); emerging hot spots need at least 4 (ArcGIS asks for 10)",
            bins.len()
        )));
    }
    let of = area_of(ds, sel, u, index);
    let mut cube = vec![vec![0.0; bins.len()]; u.len()];
    for (k, &i) in sel.iter().enumerate() {
        let r = &ds.reports[i as usize];
        if let (Some(unit), Some(t)) = (of[k], r.reported_at)
            && let Some(b) = bins.of(t)
        {
            cube[unit as usize][b] += r.weight;
        }
    }
    let z = emerging::space_time_z(&cube, w, time_neighbours);
    let rows = (0..u.len())
        .map(|i| {
            let t = emerging::classify(&z[i], alpha);
            EmergingRow {
                code: u.codes[i].clone(),
                category: t.category,
                count: cube[i].iter().sum(),
                hot_steps: t.hot_steps,
                cold_steps: t.cold_steps,
                trend_z: t.trend.z,
                trend_p: t.trend.p,
            }
        })
        .collect();
    Ok((bins, rows))
}

/// One report in a blind spot's evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// Report / case id.
    pub id: String,
    /// Category.
    pub category: Option<String>,
    /// Reported.
    pub reported_at: Option<DateTime<Utc>>,
    /// Closed.
    pub closed_at: Option<DateTime<Utc>>,
}

/// A frontage shop involved.
#[derive(Debug, Clone, Serialize)]
pub struct ShopRef {
    /// Frontage code.
    pub code: String,
    /// Shop name.
    pub shop: String,
    /// Responsible unit code.
    pub unit_code: Option<String>,
    /// Reports at its frontage.
    pub reports: usize,
}

/// A ranked blind spot with its evidence.
#[derive(Debug, Clone, Serialize)]
pub struct BlindSpotRow {
    /// Rank, 1 = worst.
    pub rank: usize,
    /// Centre, WGS84 longitude.
    pub lon: f64,
    /// Centre, WGS84 latitude.
    pub lat: f64,
    /// Farthest report from the centre, metres.
    pub radius_m: f64,
    /// All reports at the place.
    pub reports: usize,
    /// Reports in the busiest qualifying window.
    pub window_reports: usize,
    /// Start of that window.
    pub window_start: DateTime<Utc>,
    /// Reports that came after an earlier case there was closed.
    pub after_close: usize,
    /// Report density within the spot over the density in the ring around it (null when the
    /// ring is empty).
    pub contrast: Option<f64>,
    /// Owner chain at the centre: grid, community, street, district codes.
    pub owners: [Option<String>; 4],
    /// Frontage shops whose 门前三包 strip holds some of the reports.
    pub shops: Vec<ShopRef>,
    /// The reports, in time order.
    pub evidence: Vec<Evidence>,
}

/// How places are formed for blind spots.
#[derive(Debug, Clone, Copy)]
pub enum Places<'a> {
    /// DBSCAN in metres with the parameters' ε.
    Dbscan,
    /// Areas (grids, fishnet cells).
    Areas(&'a Areas),
}

/// Ranked blind spots among the selected reports that carry times.
pub fn blind_spots(
    ds: &Dataset,
    sel: &[u32],
    places: Places<'_>,
    index: Option<&CityIndex>,
    p: &BlindSpotParams,
) -> Vec<BlindSpotRow> {
    let timed: Vec<u32> = sel
        .iter()
        .copied()
        .filter(|&i| ds.reports[i as usize].reported_at.is_some())
        .collect();
    let visits: Vec<Visit> = timed
        .iter()
        .filter_map(|&i| {
            let r = &ds.reports[i as usize];
            Some(Visit {
                at: ds.metres[i as usize],
                reported: r.reported_at?,
                closed: r.closed_at,
            })
        })
        .collect();
    let place = match places {
        Places::Dbscan => {
            let pts: Vec<Metres> = visits.iter().map(|v| v.at).collect();
            blindspots::dbscan(&pts, p.eps_m, p.min_reports)
        }
        Places::Areas(u) => area_of(ds, &timed, u, index),
    };
    let spots = blindspots::detect(&visits, &place, p);
    spots
        .into_iter()
        .enumerate()
        .map(|(rank, s)| {
            let (lon, lat) = ds.frame.inverse(s.centre);
            let owners = index.map_or([None, None, None, None], |ix| {
                let h = ix.locate(lon, lat);
                ix.chain_codes(&h).map(|c| c.map(str::to_owned))
            });
            let mut shops: Vec<ShopRef> = Vec::new();
            if let (Some(loc), Some(ix)) = (&ds.located, index) {
                for &m in &s.members {
                    let f = loc.frontage[timed[m] as usize];
                    if let Some((code, shop, unit)) = ix.frontage(f) {
                        match shops.iter_mut().find(|x| x.code == code) {
                            Some(x) => x.reports += 1,
                            None => shops.push(ShopRef {
                                code: code.to_owned(),
                                shop: shop.to_owned(),
                                unit_code: unit.map(str::to_owned),
                                reports: 1,
                            }),
                        }
                    }
                }
            }
            shops.sort_by(|a, b| b.reports.cmp(&a.reports).then(a.code.cmp(&b.code)));
            BlindSpotRow {
                rank: rank + 1,
                lon,
                lat,
                radius_m: s.radius_m,
                reports: s.members.len(),
                window_reports: s.window_reports,
                window_start: s.window_start,
                after_close: s.after_close,
                contrast: s.contrast.is_finite().then_some(s.contrast),
                owners,
                shops,
                evidence: s
                    .members
                    .iter()
                    .map(|&m| {
                        let r = &ds.reports[timed[m] as usize];
                        Evidence {
                            id: r.id.clone(),
                            category: r.category.clone(),
                            reported_at: r.reported_at,
                            closed_at: r.closed_at,
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The sampled zone geometry of a city (areas and street lengths), computed once per index.
#[derive(Debug, Clone, Default)]
pub struct ZoneSamples {
    /// Masks of area samples.
    pub area: Vec<u8>,
    /// Area per sample, m².
    pub area_m2: f64,
    /// Masks of street samples.
    pub street: Vec<u8>,
    /// Street length per sample, m.
    pub street_m: f64,
}

impl ZoneSamples {
    /// Samples the city on a `sample_m` lattice (cells whose centre lies in a grid) and the
    /// streets (WGS84 lines) every `sample_m / 4` metres.
    pub fn build(
        ix: &CityIndex,
        fishnet: &Areas,
        streets: &[geo::LineString<f64>],
        sample_m: f64,
    ) -> Self {
        use rayon::prelude::*;
        let area = fishnet
            .centroids
            .par_iter()
            .map(|&m| {
                let (lon, lat) = fishnet.frame.inverse(m);
                zones::mask_at(ix, lon, lat)
            })
            .collect();
        let step = sample_m / 4.0;
        let frame = fishnet.frame;
        let street = streets
            .par_iter()
            .flat_map_iter(|l| {
                let pts: Vec<Metres> = l.0.iter().map(|c| frame.forward(c.x, c.y)).collect();
                let mut out = Vec::new();
                for w in pts.windows(2) {
                    let len = (w[1].x - w[0].x).hypot(w[1].y - w[0].y);
                    let n = (len / step).round().max(1.0) as usize;
                    for k in 0..n {
                        let t = (k as f64 + 0.5) / n as f64;
                        let m = Metres {
                            x: w[0].x + t * (w[1].x - w[0].x),
                            y: w[0].y + t * (w[1].y - w[0].y),
                        };
                        let (lon, lat) = frame.inverse(m);
                        // Each sample carries len / n metres; `street_m` is the mean.
                        out.push((zones::mask_at(ix, lon, lat), len / n as f64));
                    }
                }
                out
            })
            .collect::<Vec<_>>();
        let total: f64 = street.iter().map(|s| s.1).sum();
        let n = street.len().max(1) as f64;
        Self {
            area,
            area_m2: sample_m * sample_m,
            street: street.iter().map(|s| s.0).collect(),
            street_m: total / n,
        }
    }
}

/// The zone breakdown of a selection, with the Gi* rows of `areas` giving the hot spot area.
pub fn zone_breakdown(
    ds: &Dataset,
    sel: &[u32],
    u: &Areas,
    gi_rows: &[GiRow],
    ix: &CityIndex,
    samples: &ZoneSamples,
) -> (Vec<ZoneRow>, Vec<String>, Vec<String>) {
    // The Gi* bin of each report's unit: the hot spot share is counted by reports.
    let bins: Vec<i8> = area_of(ds, sel, u, Some(ix))
        .iter()
        .map(|a| a.and_then(|a| gi_rows.get(a as usize)).map_or(0, |g| g.bin))
        .collect();
    let reports = sel
        .iter()
        .zip(&bins)
        .map(|(&i, &bin)| {
            let r = &ds.reports[i as usize];
            let mask = match &ds.located {
                Some(loc) => loc.mask[i as usize],
                None => zones::mask_at(ix, r.lon, r.lat),
            };
            (mask, r.weight, bin)
        })
        .collect();
    zones::breakdown(&ZoneInputs {
        reports,
        area_samples: samples.area.clone(),
        sample_area_m2: samples.area_m2,
        street_samples: samples.street.clone(),
        street_step_m: samples.street_m,
    })
}

/// KDE of a selection.
pub fn density(
    ds: &Dataset,
    sel: &[u32],
    params: &kde::KdeParams,
) -> Result<kde::Raster, HotspotError> {
    let pts: Vec<(Metres, f64)> = sel
        .iter()
        .map(|&i| (ds.metres[i as usize], ds.reports[i as usize].weight))
        .collect();
    kde::kde(ds.frame, &pts, params)
}
