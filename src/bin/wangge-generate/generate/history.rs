//! Two years of deterministic historical problem reports, with planted clusters.
//!
//! 200,000 reports from 2024-11-01 to 2026-10-31 (+08:00). About 30 % belong to planted clusters
//! recorded in `planted_truth.json`: one per urban village (within 150–300 m of its centre), along
//! the railways (within 80 m of the track), along back alleys (within 8 m of the alley) and
//! recurring sanitation spots (卫生死角: within 20 m, each report after the previous case there was
//! closed). The rest is background spread over all grids by `land::density` (so it falls off to
//! the rural south-west). Cases close after a category-specific time; cases that would close after
//! the window's end, and 0.2 % parked (挂账) cases, stay open.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use super::City;
use super::geojson_out::gzip;
use super::land::density;
use super::planar::point_in_ring;
use super::projection::{Fixed, fmt7};
use super::rng::Rng;
use super::roads::Network;
use super::zones::Zone;

/// Total number of reports.
pub const TOTAL: usize = 200_000;
/// Length of the window in seconds (730 days from 2024-11-01T00:00+08:00).
pub const SPAN_S: i64 = 730 * 86_400;

/// Event categories, CJ/T 214 style (大类 2 digits + 小类 2 digits):
/// (code, name, background weight, minimum and maximum hours to close).
pub const CATEGORIES: [(&str, &str, f64, f64, f64); 16] = [
    ("0101", "暴露垃圾", 18.0, 2.0, 24.0),
    ("0102", "积存渣土", 5.0, 4.0, 72.0),
    ("0103", "道路不洁", 10.0, 2.0, 24.0),
    ("0104", "绿地脏乱", 5.0, 4.0, 48.0),
    ("0105", "河道不洁", 2.0, 8.0, 72.0),
    ("0106", "垃圾满溢", 6.0, 1.0, 12.0),
    ("0201", "占道经营", 14.0, 1.0, 12.0),
    ("0202", "店外经营", 10.0, 1.0, 24.0),
    ("0203", "流动摊贩", 5.0, 1.0, 8.0),
    ("0301", "乱停乱放(机动车)", 10.0, 1.0, 8.0),
    ("0302", "非机动车乱停放", 5.0, 1.0, 8.0),
    ("0401", "私搭乱建", 3.0, 120.0, 480.0),
    ("0501", "小广告", 4.0, 4.0, 48.0),
    ("0502", "乱涂乱画", 2.0, 8.0, 72.0),
    ("0601", "井盖缺失", 1.0, 2.0, 48.0),
    ("0602", "路灯不亮", 2.0, 24.0, 120.0),
];

const CHANNELS: [(&str, f64); 4] = [
    ("inspector", 0.45),
    ("citizen", 0.15),
    ("hotline_12345", 0.25),
    ("video", 0.15),
];

/// One report; times in seconds from 2024-11-01T00:00:00+08:00; position local metres.
#[derive(Debug, Clone)]
pub struct Report {
    /// Reported at (s).
    pub t: i64,
    /// Category index into `CATEGORIES`.
    pub cat: usize,
    /// Position, fixed WGS84.
    pub p: Fixed,
    /// Channel index.
    pub channel: usize,
    /// Closed at (s), None while open.
    pub closed: Option<i64>,
    /// Cluster index.
    pub cluster: Option<usize>,
}

/// A planted cluster, as written to `planted_truth.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    /// Id, e.g. `uv-001`.
    pub id: String,
    /// urban_village / railway / back_alley / recurring_spot.
    pub kind: &'static str,
    /// Centre, WGS84 [lon, lat].
    pub center: [f64; 2],
    /// Radius (m) holding all its reports.
    pub radius_m: f64,
    /// Category codes.
    pub categories: Vec<&'static str>,
    /// Number of reports.
    pub count: usize,
    /// First report date (YYYY-MM-DD, +08:00).
    pub first: String,
    /// Last report date.
    pub last: String,
    /// Recurring spots: (reported, closed) intervals, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intervals: Option<Vec<[String; 2]>>,
    /// Zone or community the cluster was planted in.
    pub zone_code: String,
}

/// Reports and clusters.
#[derive(Debug)]
pub struct History {
    /// Reports sorted by time.
    pub reports: Vec<Report>,
    /// Clusters.
    pub clusters: Vec<Cluster>,
}

/// RFC 3339 with +08:00 for seconds since the window start.
pub fn rfc3339(t: i64) -> String {
    let base = NaiveDate::from_ymd_opt(2024, 11, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    (base + Duration::seconds(t))
        .format("%Y-%m-%dT%H:%M:%S+08:00")
        .to_string()
}

fn cat_index(code: &str) -> usize {
    CATEGORIES.iter().position(|c| c.0 == code).unwrap_or(0)
}

fn hour_of_day(rng: &mut Rng, channel: usize) -> i64 {
    match channel {
        0 => rng.int(8 * 3600, 18 * 3600),
        3 => rng.int(0, 86_399),
        _ => {
            // Citizens report mostly in the day and the evening.
            if rng.chance(0.85) {
                rng.int(7 * 3600, 22 * 3600)
            } else {
                rng.int(0, 86_399)
            }
        }
    }
}

fn close(rng: &mut Rng, t: i64, cat: usize) -> Option<i64> {
    let (lo, hi) = (CATEGORIES[cat].3, CATEGORIES[cat].4);
    let u = rng.f64();
    let dur = ((lo + (hi - lo) * u * u) * 3600.0) as i64;
    let c = t + dur.max(600);
    (c < SPAN_S && !rng.chance(0.002)).then_some(c)
}

fn channel(rng: &mut Rng) -> usize {
    let w: Vec<f64> = CHANNELS.iter().map(|c| c.1).collect();
    rng.weighted(&w)
}

fn date(t: i64) -> String {
    rfc3339(t)[..10].to_string()
}

/// Generates the history.
pub fn build(city: &City, net: &Network, zones: &[Zone]) -> History {
    let _ = net;
    let mut rng = Rng::derive(city.seed, "history");
    let mut reports: Vec<Report> = Vec::new();
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut plant = |rng: &mut Rng,
                     kind: &'static str,
                     prefix: &str,
                     zone: &Zone,
                     centre: [f64; 2],
                     radius: f64,
                     cats: &[(&'static str, f64)],
                     n: usize,
                     sample: &dyn Fn(&mut Rng) -> [f64; 2],
                     reports: &mut Vec<Report>| {
        let id = clusters.len();
        let w: Vec<f64> = cats.iter().map(|c| c.1).collect();
        let (t_lo, t_hi) = if rng.chance(0.3) {
            (rng.int(0, SPAN_S / 2), SPAN_S)
        } else {
            (0, SPAN_S)
        };
        let mut ts = Vec::new();
        for _ in 0..n {
            let cat = cat_index(cats[rng.weighted(&w)].0);
            let ch = channel(rng);
            let day = rng.int(t_lo / 86_400, t_hi / 86_400 - 1);
            let t = day * 86_400 + hour_of_day(rng, ch);
            ts.push(t);
            reports.push(Report {
                t,
                cat,
                p: Fixed::from_metres(sample(rng)),
                channel: ch,
                closed: close(rng, t, cat),
                cluster: Some(id),
            });
        }
        let (first, last) = (
            ts.iter().min().copied().unwrap_or(0),
            ts.iter().max().copied().unwrap_or(0),
        );
        let count = clusters.iter().filter(|c| c.kind == kind).count();
        clusters.push(Cluster {
            id: format!("{prefix}-{:03}", count + 1),
            kind,
            center: Fixed::from_metres(centre).deg(),
            radius_m: radius,
            categories: cats.iter().map(|c| c.0).collect(),
            count: n,
            first: date(first),
            last: date(last),
            intervals: None,
            zone_code: zone.code.clone(),
        });
    };
    // An urban village's problems, around its centre and within its patch (80 % of its radius).
    let village_cats = [
        ("0101", 4.0),
        ("0102", 2.0),
        ("0201", 2.0),
        ("0301", 1.5),
        ("0401", 1.5),
        ("0501", 1.0),
    ];
    let village_sample = |c: [f64; 2], r: f64| {
        move |rng: &mut Rng| loop {
            let p = [
                c[0] + rng.normalish() * r / 2.5,
                c[1] + rng.normalish() * r / 2.5,
            ];
            if (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) <= r * r {
                return p;
            }
        }
    };
    // Both kinds of village (committee cores and those inside urban streets) plant alike; a macro,
    // since `plant` is borrowed mutably by every call and a closure around it could not be.
    macro_rules! plant_village {
        ($rng:expr, $z:expr, $r:expr, $n:expr) => {
            plant(
                $rng,
                "urban_village",
                "uv",
                $z,
                $z.centre,
                ($r * 10.0).round() / 10.0,
                &village_cats,
                $n,
                &village_sample($z.centre, $r),
                &mut reports,
            )
        };
    }
    for z in zones
        .iter()
        .filter(|z| z.kind == "urban_village" && !z.inner)
    {
        let r = rng.range(150.0, 300.0).min(z.radius_m * 0.8);
        let n = rng.int(380, 680) as usize;
        plant_village!(&mut rng, z, r, n);
    }
    let rails: Vec<&Zone> = zones.iter().filter(|z| z.kind == "railway_land").collect();
    for z in rails.iter().step_by(2) {
        let (a, b) = (z.line[0], z.line[z.line.len() - 1]);
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let len = (dx * dx + dy * dy).sqrt();
        let (u, nv) = ([dx / len, dy / len], [-dy / len, dx / len]);
        let mid = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
        let half = 150.0f64.min(len / 2.0);
        let n = rng.int(450, 800) as usize;
        let cats = [("0101", 4.0), ("0102", 3.0), ("0103", 1.0), ("0401", 1.5)];
        let sample = move |rng: &mut Rng| {
            let s = rng.range(-half, half);
            let o = rng.normalish() * 25.0;
            [mid[0] + u[0] * s + nv[0] * o, mid[1] + u[1] * s + nv[1] * o]
        };
        let radius = ((half * half + 87.0 * 87.0).sqrt() * 10.0).ceil() / 10.0;
        plant(
            &mut rng,
            "railway",
            "rw",
            z,
            mid,
            radius,
            &cats,
            n,
            &sample,
            &mut reports,
        );
    }
    let alleys: Vec<&Zone> = zones.iter().filter(|z| z.kind == "back_alley").collect();
    for z in alleys.iter().step_by(2).take(60) {
        let pts = z.line.clone();
        let (a, b) = (pts[0], pts[pts.len() - 1]);
        let mid = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
        let radius = pts
            .iter()
            .map(|p| ((p[0] - mid[0]).powi(2) + (p[1] - mid[1]).powi(2)).sqrt())
            .fold(0.0, f64::max)
            + 10.0;
        let n = rng.int(160, 360) as usize;
        let cats = [
            ("0101", 3.0),
            ("0103", 2.0),
            ("0202", 2.0),
            ("0301", 1.0),
            ("0501", 1.5),
        ];
        let sample = move |rng: &mut Rng| {
            let k = rng.below(pts.len() - 1);
            let (p, q) = (pts[k], pts[k + 1]);
            let s = rng.f64();
            let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
            let l = (dx * dx + dy * dy).sqrt().max(1e-9);
            let o = rng.range(-8.0, 8.0);
            [p[0] + dx * s - dy / l * o, p[1] + dy * s + dx / l * o]
        };
        plant(
            &mut rng,
            "back_alley",
            "ba",
            z,
            mid,
            (radius * 10.0).ceil() / 10.0,
            &cats,
            n,
            &sample,
            &mut reports,
        );
    }
    // The villages inside urban streets: their own random stream, so every other planted
    // cluster stays as it was.
    let mut inner = Rng::derive(city.seed, "inner urban villages");
    for z in zones
        .iter()
        .filter(|z| z.kind == "urban_village" && z.inner)
    {
        let r = inner.range(120.0, z.radius_m * 0.8);
        let n = inner.int(300, 520) as usize;
        plant_village!(&mut inner, z, r, n);
    }
    // Recurring sanitation spots, at random built-up grids.
    let built: Vec<usize> = (0..city.grids.len())
        .filter(|&g| city.grids[g].land.built_up())
        .collect();
    for k in 0..300 {
        let g = built[rng.below(built.len())];
        let c = city.pieces.list[city.grids[g].pieces[0] as usize].centre;
        let cats = [("0101", 3.0), ("0103", 1.0), ("0106", 2.0)];
        let w: Vec<f64> = cats.iter().map(|x| x.1).collect();
        let target = rng.int(14, 34);
        let mut t = rng.int(0, 200) * 86_400 + rng.int(7 * 3600, 20 * 3600);
        let mut intervals = Vec::new();
        let mut n = 0usize;
        let (mut first, mut last) = (t, t);
        while n < target as usize && t < SPAN_S {
            let cat = cat_index(cats[rng.weighted(&w)].0);
            let ch = channel(&mut rng);
            let p = [c[0] + rng.range(-14.0, 14.0), c[1] + rng.range(-14.0, 14.0)];
            let closed = close(&mut rng, t, cat);
            reports.push(Report {
                t,
                cat,
                p: Fixed::from_metres(p),
                channel: ch,
                closed,
                cluster: Some(clusters.len()),
            });
            last = t;
            n += 1;
            let Some(cl) = closed else {
                intervals.push([rfc3339(t), String::new()]);
                break;
            };
            intervals.push([rfc3339(t), rfc3339(cl)]);
            t = cl + rng.int(2 * 86_400, 40 * 86_400);
        }
        first = first.min(last);
        clusters.push(Cluster {
            id: format!("rs-{:03}", k + 1),
            kind: "recurring_spot",
            center: Fixed::from_metres(c).deg(),
            radius_m: 20.0,
            categories: cats.iter().map(|x| x.0).collect(),
            count: n,
            first: date(first),
            last: date(last),
            intervals: Some(intervals),
            zone_code: city.grids[g].code.clone(),
        });
    }
    // Background over all grids by density.
    let weights: Vec<f64> = city
        .grids
        .iter()
        .map(|g| {
            g.area * {
                let d = density(city.pieces.list[g.pieces[0] as usize].centre);
                d * d.sqrt()
            }
        })
        .collect();
    let mut cum = Vec::with_capacity(weights.len());
    let mut s = 0.0;
    for w in &weights {
        s += w;
        cum.push(s);
    }
    let bw: Vec<f64> = CATEGORIES.iter().map(|c| c.2).collect();
    while reports.len() < TOTAL {
        let x = rng.f64() * s;
        let g = cum.partition_point(|&c| c <= x).min(cum.len() - 1);
        let rings = city.metres(&city.grids[g].polys);
        let outer = &rings[0][0];
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for p in outer {
            x0 = x0.min(p[0]);
            x1 = x1.max(p[0]);
            y0 = y0.min(p[1]);
            y1 = y1.max(p[1]);
        }
        let mut p = [0.0, 0.0];
        for _ in 0..50 {
            p = [rng.range(x0, x1), rng.range(y0, y1)];
            if point_in_ring(p, outer) && rings[0][1..].iter().all(|h| !point_in_ring(p, h)) {
                break;
            }
        }
        let cat = rng.weighted(&bw);
        let ch = channel(&mut rng);
        let t = rng.int(0, 729) * 86_400 + hour_of_day(&mut rng, ch);
        let closed = close(&mut rng, t, cat);
        reports.push(Report {
            t,
            cat,
            p: Fixed::from_metres(p),
            channel: ch,
            closed,
            cluster: None,
        });
    }
    reports.sort_by(|a, b| {
        a.t.cmp(&b.t)
            .then(a.p.cmp(&b.p))
            .then(a.cat.cmp(&b.cat))
            .then(a.cluster.cmp(&b.cluster))
    });
    History { reports, clusters }
}

/// Writes `history.csv.gz` and `planted_truth.json`.
pub fn write(h: &History, files: &mut BTreeMap<String, Vec<u8>>) {
    let mut s = String::with_capacity(h.reports.len() * 110);
    s.push_str("id,reported_at,category,lon,lat,channel,closed_at,cluster_id\n");
    for (k, r) in h.reports.iter().enumerate() {
        s.push_str(&format!(
            "R{:07},{},{},{},{},{},{},{}\n",
            k + 1,
            rfc3339(r.t),
            CATEGORIES[r.cat].0,
            fmt7(r.p.lon),
            fmt7(r.p.lat),
            CHANNELS[r.channel].0,
            r.closed.map(rfc3339).unwrap_or_default(),
            r.cluster
                .map(|c| h.clusters[c].id.clone())
                .unwrap_or_default()
        ));
    }
    files.insert("history.csv.gz".into(), gzip(s.as_bytes()));
    let mut json = serde_json::to_string_pretty(&h.clusters).expect("clusters serialize");
    json.push('\n');
    files.insert("planted_truth.json".into(), json.into_bytes());
}
