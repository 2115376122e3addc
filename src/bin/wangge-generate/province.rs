//! `wangge-generate province`: a synthetic province (issue 17) to measure wangge at scale.
//!
//! 17 cities at the places of 河南's prefecture-level cities, each a built-up rectangle cut into
//! unit grids of about 100 m × 100 m on a jittered lattice, with the districts → streets →
//! communities → grids hierarchy kept (districts are column strips, streets row bands inside them,
//! communities blocks of about 10 × 10 grids). At `--scale 1`: about 1,000,000 grids, two
//! 门前三包 frontages per grid (2,000,000), 20,000,000 history reports (a third of them in planted
//! clusters, the rest falling off from each city's centre) and 1,000,000 points for the
//! assignment benchmark.
//!
//! Output, in the formats a city's own data comes in, so the province is loaded by the same code
//! paths (`wangge import city`, `wangge import history`, `wangge assign`):
//! `package/` (a city package: units.csv, road.geojson and the five layers), `history/<city>.csv`
//! (one 12345-style export per city), `points.csv`, and `province.json` (the counts).
//!
//! Everything is streamed city by city into buffered files: the generator never holds a layer,
//! let alone 20 million reports, in memory. Coordinates are integers of 1e-7° from the start, so
//! a vertex shared by neighbours is the same number in both, and no `cos` from a platform's libm
//! is called (a fixed polynomial instead): the same seed gives the same bytes everywhere.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate, NaiveDateTime};

use crate::generate::rng::Rng;

/// Options of `wangge-generate province`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProvinceArgs {
    /// Seed of the deterministic generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output folder (created; existing files in it are overwritten).
    #[arg(long)]
    pub out: PathBuf,
    /// Size relative to the full province (1.0: 1,000,000 grids, 20,000,000 reports); 0.0001–2.
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    pub scale: f64,
}

fn parse_scale(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0001..=2.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("--scale must lie between 0.0001 and 2, not {v}"))
    }
}

/// Unit grids of the full province.
const GRIDS: f64 = 1_000_000.0;
/// History reports of the full province.
const REPORTS: f64 = 20_000_000.0;
/// Points of the assignment benchmark in the full province.
const POINTS: f64 = 1_000_000.0;
/// Frontage segments per grid.
const FRONTAGES_PER_GRID: usize = 2;
/// Share of the reports in planted clusters.
const CLUSTERED: f64 = 0.35;
/// Fixed-point scale of the coordinates (1e-7°).
const Q: f64 = 1e7;
/// Metres per degree of latitude (mean).
const M_PER_DEG_LAT: f64 = 110_940.0;
/// Metres per degree of longitude at the equator.
const M_PER_DEG_LON_EQ: f64 = 111_320.0;

/// The prefecture-level cities of 河南: GB/T 2260 code (4 digits), name, centre, size weight.
const CITIES: [(&str, &str, f64, f64, f64); 17] = [
    ("4101", "郑州市", 113.625, 34.747, 2.4),
    ("4102", "开封市", 114.307, 34.797, 0.9),
    ("4103", "洛阳市", 112.454, 34.620, 1.6),
    ("4104", "平顶山市", 113.193, 33.766, 0.9),
    ("4105", "安阳市", 114.393, 36.098, 0.9),
    ("4106", "鹤壁市", 114.297, 35.748, 0.5),
    ("4107", "新乡市", 113.927, 35.303, 1.0),
    ("4108", "焦作市", 113.242, 35.216, 0.8),
    ("4109", "濮阳市", 115.029, 35.762, 0.7),
    ("4110", "许昌市", 113.852, 34.036, 0.9),
    ("4111", "漯河市", 114.017, 33.582, 0.6),
    ("4112", "三门峡市", 111.200, 34.773, 0.5),
    ("4113", "南阳市", 112.528, 32.991, 1.3),
    ("4114", "商丘市", 115.656, 34.414, 1.0),
    ("4115", "信阳市", 114.091, 32.147, 0.9),
    ("4116", "周口市", 114.697, 33.626, 0.9),
    ("4117", "驻马店市", 114.022, 33.011, 0.8),
];

/// Name parts (never random text: names are picked from these lists).
const DISTRICT_NAMES: [&str; 9] = [
    "城东区",
    "城西区",
    "城南区",
    "城北区",
    "新城区",
    "高新区",
    "经开区",
    "滨河区",
    "老城区",
];
const PLACE_WORDS: [&str; 24] = [
    "建设", "人民", "解放", "文化", "和平", "友谊", "幸福", "光明", "胜利", "团结", "东风", "朝阳",
    "青年", "红旗", "振兴", "工农", "育才", "花园", "金水", "丰收", "长青", "桐柏", "嵩山", "黄河",
];
const SURNAMES: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙",
];
/// (shop_type, name suffix).
const SHOPS: [(&str, &str); 8] = [
    ("retail", "便利店"),
    ("restaurant", "家常菜馆"),
    ("auto_repair", "汽修店"),
    ("market_stall", "水果摊"),
    ("office", "商贸公司"),
    ("hotel", "快捷酒店"),
    ("retail", "五金店"),
    ("restaurant", "面馆"),
];
/// The departments of each district, (key, name suffix); codes `dept-<district>-<key>`, as in
/// the demo city, so the dispatch rules' conventions hold.
const DEPARTMENTS: [(&str, &str); 3] = [
    ("cgzf", "城市管理局(综合行政执法局)"),
    ("hw", "环境卫生服务中心"),
    ("scjg", "市场监督管理局"),
];
/// (category code, background weight, minimum and maximum hours to close): the demo city's.
const CATEGORIES: [(&str, f64, f64, f64); 16] = [
    ("0101", 18.0, 2.0, 24.0),
    ("0102", 5.0, 4.0, 72.0),
    ("0103", 10.0, 2.0, 24.0),
    ("0104", 5.0, 4.0, 48.0),
    ("0105", 2.0, 8.0, 72.0),
    ("0106", 6.0, 1.0, 12.0),
    ("0201", 14.0, 1.0, 12.0),
    ("0202", 10.0, 1.0, 24.0),
    ("0203", 5.0, 1.0, 8.0),
    ("0301", 10.0, 1.0, 8.0),
    ("0302", 5.0, 1.0, 8.0),
    ("0401", 3.0, 120.0, 480.0),
    ("0501", 4.0, 4.0, 48.0),
    ("0502", 2.0, 8.0, 72.0),
    ("0601", 1.0, 2.0, 48.0),
    ("0602", 2.0, 24.0, 120.0),
];
const CHANNELS: [(&str, f64); 4] = [
    ("inspector", 0.45),
    ("citizen", 0.15),
    ("hotline_12345", 0.25),
    ("video", 0.15),
];
/// The reports' window: 730 days from 2024-11-01T00:00+08:00.
const SPAN_S: i64 = 730 * 86_400;

/// cos(φ) for φ in degrees within China, by its Taylor series to x¹⁰ (error below 1e-9 up to
/// 55°): basic IEEE arithmetic only, so every platform gives the same bits.
fn cos_deg(deg: f64) -> f64 {
    let x = deg * 0.017_453_292_519_943_295;
    let x2 = x * x;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..=5 {
        term *= -x2 / f64::from((2 * k - 1) * (2 * k));
        sum += term;
    }
    sum
}

/// `v` (1e-7°) as a decimal with 7 places.
fn fmt7(out: &mut String, v: i64) {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    let _ = write!(out, "{sign}{}.{:07}", a / 10_000_000, a % 10_000_000);
}

/// Splits `n` into parts of about `target` (±30 %), at least one part, summing to `n`.
fn split(rng: &mut Rng, n: usize, target: usize) -> Vec<usize> {
    let parts = (n as f64 / target.max(1) as f64).round().max(1.0) as usize;
    let parts = parts.min(n.max(1));
    let weights: Vec<f64> = (0..parts).map(|_| rng.range(0.7, 1.3)).collect();
    let total: f64 = weights.iter().sum();
    let mut sizes = Vec::with_capacity(parts);
    let mut used = 0usize;
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        let end = if i + 1 == parts {
            n
        } else {
            ((acc / total) * n as f64).round() as usize
        };
        let end = end.clamp(used + 1, n - (parts - i - 1));
        sizes.push(end - used);
        used = end;
    }
    sizes
}

/// One city: its lattice in fixed-point degrees and its hierarchy as index ranges.
struct City {
    code: &'static str,
    /// Column lines west → east and row lines south → north, 1e-7°.
    xs: Vec<i64>,
    ys: Vec<i64>,
    /// Metres per 1e-7° of longitude / latitude.
    mx: f64,
    my: f64,
    /// Districts: column range; streets: row ranges inside a district; communities: column and
    /// row ranges inside a street.
    districts: Vec<District>,
}

struct District {
    code: String,
    name: String,
    cols: (usize, usize),
    streets: Vec<Street>,
}

struct Street {
    code: String,
    name: String,
    rows: (usize, usize),
    communities: Vec<Community>,
}

struct Community {
    code: String,
    name: String,
    cols: (usize, usize),
    rows: (usize, usize),
}

impl City {
    fn build(seed: u64, index: usize, grids: usize) -> City {
        let (code, name, lon, lat, _) = CITIES[index];
        let mut rng = Rng::derive(seed, &format!("province/city/{code}"));
        let aspect = rng.range(0.75, 1.33);
        let nx = ((grids as f64 * aspect).sqrt().round() as usize).max(2);
        // Rounded up, so the province never falls short of its advertised grid count.
        let ny = (grids as f64 / nx as f64).ceil().max(2.0) as usize;
        let mx = M_PER_DEG_LON_EQ * cos_deg(lat) / Q;
        let my = M_PER_DEG_LAT / Q;
        let widths: Vec<f64> = (0..nx).map(|_| rng.range(85.0, 115.0)).collect();
        let heights: Vec<f64> = (0..ny).map(|_| rng.range(85.0, 115.0)).collect();
        let lattice = |sizes: &[f64], centre: f64, per: f64| -> Vec<i64> {
            let total: f64 = sizes.iter().sum();
            let mut at = (centre * Q).round() - (total / 2.0 / per).round();
            let mut out = vec![at as i64];
            for s in sizes {
                at += (s / per).round();
                out.push(at as i64);
            }
            out
        };
        let xs = lattice(&widths, lon, mx);
        let ys = lattice(&heights, lat, my);
        let mut districts = Vec::new();
        let mut c0 = 0;
        for (d, w) in split(&mut rng, nx, 50).into_iter().enumerate() {
            let dcode = format!("{code}{:02}", d + 1);
            let mut streets = Vec::new();
            let mut r0 = 0;
            for (s, h) in split(&mut rng, ny, 40).into_iter().enumerate() {
                let scode = format!("{dcode}{:03}", s + 1);
                let mut communities = Vec::new();
                let mut cc = c0;
                let col_parts = split(&mut rng, w, 10);
                let row_parts = split(&mut rng, h, 10);
                for cw in &col_parts {
                    let mut rr = r0;
                    for rh in &row_parts {
                        let n = communities.len() + 1;
                        communities.push(Community {
                            code: format!("{scode}{n:03}"),
                            name: format!("{}{}社区", rng.pick(&PLACE_WORDS), n),
                            cols: (cc, cc + cw),
                            rows: (rr, rr + rh),
                        });
                        rr += rh;
                    }
                    cc += cw;
                }
                streets.push(Street {
                    code: scode,
                    name: format!("{}{}街道", rng.pick(&PLACE_WORDS), s + 1),
                    rows: (r0, r0 + h),
                    communities,
                });
                r0 += h;
            }
            districts.push(District {
                name: format!(
                    "{}{}",
                    name.trim_end_matches('市'),
                    DISTRICT_NAMES[d % DISTRICT_NAMES.len()]
                ),
                code: dcode,
                cols: (c0, c0 + w),
                streets,
            });
            c0 += w;
        }
        City {
            code,
            xs,
            ys,
            mx,
            my,
            districts,
        }
    }

    fn nx(&self) -> usize {
        self.xs.len() - 1
    }

    fn ny(&self) -> usize {
        self.ys.len() - 1
    }

    /// The rectangle of columns c0..c1 and rows r0..r1 as a GeoJSON Polygon.
    fn rect(&self, out: &mut String, cols: (usize, usize), rows: (usize, usize)) {
        let (w, e, s, n) = (
            self.xs[cols.0],
            self.xs[cols.1],
            self.ys[rows.0],
            self.ys[rows.1],
        );
        out.push_str("{\"type\":\"Polygon\",\"coordinates\":[[");
        for (i, (x, y)) in [(w, s), (e, s), (e, n), (w, n), (w, s)]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            fmt7(out, x);
            out.push(',');
            fmt7(out, y);
            out.push(']');
        }
        out.push_str("]]}");
    }
}

/// A FeatureCollection written feature by feature.
struct Collection {
    out: BufWriter<File>,
    count: usize,
}

impl Collection {
    fn create(path: &Path) -> Result<Self> {
        let mut out = BufWriter::with_capacity(
            1 << 20,
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        out.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[\n")?;
        Ok(Self { out, count: 0 })
    }

    /// Writes one feature; `props` is the inside of the properties object, `geometry` a geometry.
    fn push(&mut self, props: &str, geometry: &str) -> Result<()> {
        if self.count > 0 {
            self.out.write_all(b",\n")?;
        }
        write!(
            self.out,
            "{{\"type\":\"Feature\",\"properties\":{{{props}}},\"geometry\":{geometry}}}"
        )?;
        self.count += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<usize> {
        self.out.write_all(b"\n]}\n")?;
        self.out.flush()?;
        Ok(self.count)
    }
}

/// What was generated, written to `province.json`.
#[derive(Debug, Default, serde::Serialize)]
struct Counts {
    seed: u64,
    scale: f64,
    cities: usize,
    districts: usize,
    streets: usize,
    communities: usize,
    grids: usize,
    frontages: usize,
    units: usize,
    roads: usize,
    reports: usize,
    points: usize,
    /// WGS84 extent of the province's cities: west, south, east, north.
    bbox: [f64; 4],
}

/// Generates the province into `args.out`.
pub fn run(args: &ProvinceArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let out = &args.out;
    let package = out.join("package");
    let history = out.join("history");
    for dir in [&package, &history] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let weights: f64 = CITIES.iter().map(|c| c.4).sum();
    let cities: Vec<City> = (0..CITIES.len())
        .map(|i| {
            let grids = (GRIDS * args.scale * CITIES[i].4 / weights).ceil() as usize;
            City::build(args.seed, i, grids.max(4))
        })
        .collect();
    let mut counts = Counts {
        seed: args.seed,
        scale: args.scale,
        cities: cities.len(),
        bbox: [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        ..Counts::default()
    };
    for c in &cities {
        let q = |v: i64| v as f64 / Q;
        counts.bbox[0] = counts.bbox[0].min(q(c.xs[0]));
        counts.bbox[1] = counts.bbox[1].min(q(c.ys[0]));
        counts.bbox[2] = counts.bbox[2].max(q(c.xs[c.nx()]));
        counts.bbox[3] = counts.bbox[3].max(q(c.ys[c.ny()]));
    }
    write_package(&package, &cities, args.seed, &mut counts)?;
    eprintln!(
        "package: {} grids, {} frontages, {} units in {:.1} s",
        counts.grids,
        counts.frontages,
        counts.units,
        started.elapsed().as_secs_f64()
    );
    let total_reports = (REPORTS * args.scale).round() as usize;
    let grids_total: usize = cities.iter().map(|c| c.nx() * c.ny()).sum();
    // Each city's reports in proportion to its grids; the last city takes the rounding.
    let mut first_id = 1usize;
    for (i, c) in cities.iter().enumerate() {
        let n = if i + 1 == cities.len() {
            total_reports - (first_id - 1)
        } else {
            total_reports * c.nx() * c.ny() / grids_total
        };
        write_history(
            &history.join(format!("{}.csv", c.code)),
            c,
            args.seed,
            first_id,
            n,
        )?;
        first_id += n;
    }
    counts.reports = first_id - 1;
    eprintln!(
        "history: {} reports in {:.1} s",
        counts.reports,
        started.elapsed().as_secs_f64()
    );
    counts.points = write_points(&out.join("points.csv"), &cities, args.seed, args.scale)?;
    let json = serde_json::to_string_pretty(&counts)?;
    std::fs::write(out.join("province.json"), json + "\n")?;
    eprintln!(
        "generated the province into {} in {:.1} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The city package: units.csv, road.geojson and the five layers.
fn write_package(dir: &Path, cities: &[City], seed: u64, counts: &mut Counts) -> Result<()> {
    let mut units = csv::Writer::from_writer(BufWriter::with_capacity(
        1 << 20,
        File::create(dir.join("units.csv"))?,
    ));
    units.write_record(["code", "name", "kind", "parent_code"])?;
    let mut road = Collection::create(&dir.join("road.geojson"))?;
    let mut district = Collection::create(&dir.join("district.geojson"))?;
    let mut street = Collection::create(&dir.join("street.geojson"))?;
    let mut community = Collection::create(&dir.join("community.geojson"))?;
    let mut grid = Collection::create(&dir.join("grid.geojson"))?;
    let mut frontage = Collection::create(&dir.join("frontage.geojson"))?;
    let mut shop = 0usize;
    let mut geom = String::with_capacity(256);
    let mut props = String::with_capacity(512);
    for c in cities {
        let mut rng = Rng::derive(seed, &format!("province/package/{}", c.code));
        // Roads: every row line (the frontages face them) and every community column line.
        let line = |geom: &mut String, a: (i64, i64), b: (i64, i64)| {
            geom.clear();
            geom.push_str("{\"type\":\"LineString\",\"coordinates\":[[");
            fmt7(geom, a.0);
            geom.push(',');
            fmt7(geom, a.1);
            geom.push_str("],[");
            fmt7(geom, b.0);
            geom.push(',');
            fmt7(geom, b.1);
            geom.push_str("]]}");
        };
        let (w, e) = (c.xs[0], c.xs[c.nx()]);
        for (j, &y) in c.ys.iter().enumerate() {
            line(&mut geom, (w, y), (e, y));
            props.clear();
            let _ = write!(
                props,
                "\"name\":\"{}{}路\",\"class\":\"secondary\"",
                PLACE_WORDS[j % PLACE_WORDS.len()],
                j + 1
            );
            road.push(&props, &geom)?;
        }
        let mut col_lines: Vec<usize> = c
            .districts
            .iter()
            .flat_map(|d| d.streets[0].communities.iter().map(|m| m.cols.0))
            .collect();
        col_lines.push(c.nx());
        col_lines.dedup();
        let (s, n) = (c.ys[0], c.ys[c.ny()]);
        for (k, &i) in col_lines.iter().enumerate() {
            line(&mut geom, (c.xs[i], s), (c.xs[i], n));
            props.clear();
            let _ = write!(
                props,
                "\"name\":\"{}{}街\",\"class\":\"primary\"",
                PLACE_WORDS[(k + 7) % PLACE_WORDS.len()],
                k + 1
            );
            road.push(&props, &geom)?;
        }
        for d in &c.districts {
            props.clear();
            let _ = write!(
                props,
                "\"code\":\"{}\",\"name\":\"{}\",\"parent_code\":\"{}00\",\"unit_code\":\"dept-{}-cgzf\",\"synthetic\":true",
                d.code, d.name, c.code, d.code
            );
            geom.clear();
            c.rect(&mut geom, d.cols, (0, c.ny()));
            district.push(&props, &geom)?;
            for (key, suffix) in DEPARTMENTS {
                units.write_record([
                    format!("dept-{}-{key}", d.code).as_str(),
                    &format!("{}{suffix}", d.name),
                    "department",
                    &d.code,
                ])?;
            }
            for st in &d.streets {
                props.clear();
                let _ = write!(
                    props,
                    "\"code\":\"{}\",\"name\":\"{}\",\"parent_code\":\"{}\",\"unit_code\":\"street-{}\",\"synthetic\":true",
                    st.code, st.name, d.code, st.code
                );
                geom.clear();
                c.rect(&mut geom, d.cols, st.rows);
                street.push(&props, &geom)?;
                units.write_record([
                    format!("street-{}", st.code).as_str(),
                    &format!("{}{}办事处", d.name, st.name),
                    "street_office",
                    &d.code,
                ])?;
                for m in &st.communities {
                    props.clear();
                    let _ = write!(
                        props,
                        "\"code\":\"{}\",\"name\":\"{}居委会\",\"parent_code\":\"{}\",\"unit_code\":\"comm-{}\",\"committee\":\"residents\",\"synthetic\":true",
                        m.code, m.name, st.code, m.code
                    );
                    geom.clear();
                    c.rect(&mut geom, m.cols, m.rows);
                    community.push(&props, &geom)?;
                    units.write_record([
                        format!("comm-{}", m.code).as_str(),
                        &format!("{}居委会", m.name),
                        "community_committee",
                        &st.code,
                    ])?;
                    // Grids numbered row by row from the north-west, as a clerk would.
                    let mut seq = 0usize;
                    for r in (m.rows.0..m.rows.1).rev() {
                        for col in m.cols.0..m.cols.1 {
                            seq += 1;
                            let gcode = format!("{}{seq:03}", m.code);
                            let area = (c.xs[col + 1] - c.xs[col]) as f64
                                * c.mx
                                * (c.ys[r + 1] - c.ys[r]) as f64
                                * c.my;
                            props.clear();
                            let _ = write!(
                                props,
                                "\"code\":\"{gcode}\",\"name\":\"{}第{seq:03}网格\",\"parent_code\":\"{}\",\"unit_code\":\"comm-{}\",\"area_m2\":{area:.1},\"management_level\":{},\"synthetic\":true",
                                m.name.trim_end_matches("社区"),
                                m.code,
                                m.code,
                                1 + rng.below(2)
                            );
                            geom.clear();
                            c.rect(&mut geom, (col, col + 1), (r, r + 1));
                            grid.push(&props, &geom)?;
                            write_frontages(
                                &mut rng,
                                c,
                                (col, r),
                                &gcode,
                                &mut shop,
                                &mut frontage,
                                &mut units,
                                &mut props,
                                &mut geom,
                            )?;
                        }
                    }
                    anyhow::ensure!(seq <= 999, "community {} has {seq} grids", m.code);
                    counts.communities += 1;
                }
                counts.streets += 1;
            }
            counts.districts += 1;
        }
    }
    counts.roads = road.finish()?;
    district.finish()?;
    street.finish()?;
    community.finish()?;
    counts.grids = grid.finish()?;
    counts.frontages = frontage.finish()?;
    units.flush()?;
    counts.units =
        counts.districts * DEPARTMENTS.len() + counts.streets + counts.communities + shop;
    Ok(())
}

/// Two frontages along the grid's south edge (the road), 3 m inside the grid, each a shop.
#[allow(clippy::too_many_arguments)]
fn write_frontages(
    rng: &mut Rng,
    c: &City,
    (col, row): (usize, usize),
    gcode: &str,
    shop: &mut usize,
    frontage: &mut Collection,
    units: &mut csv::Writer<BufWriter<File>>,
    props: &mut String,
    geom: &mut String,
) -> Result<()> {
    let (w, e) = (c.xs[col], c.xs[col + 1]);
    let y = c.ys[row] + (3.0 / c.my).round() as i64;
    let inset = (5.0 / c.mx).round() as i64;
    let mid = (w + e) / 2;
    let gap = (3.0 / c.mx).round() as i64;
    for (k, (a, b)) in [(w + inset, mid - gap), (mid + gap, e - inset)]
        .into_iter()
        .enumerate()
        .take(FRONTAGES_PER_GRID)
    {
        *shop += 1;
        let (kind, suffix) = *rng.pick(&SHOPS);
        let name = format!("{}氏{suffix}", rng.pick(&SURNAMES));
        let unit = format!("shop-{:07}", *shop);
        props.clear();
        let _ = write!(
            props,
            "\"code\":\"{gcode}M{:03}\",\"name\":\"{name}\",\"shop_type\":\"{kind}\",\"depth_m\":{},\"road_name\":\"{}{}路\",\"parent_code\":\"{gcode}\",\"unit_code\":\"{unit}\",\"synthetic\":true",
            k + 1,
            rng.int(5, 12),
            PLACE_WORDS[row % PLACE_WORDS.len()],
            row + 1
        );
        geom.clear();
        geom.push_str("{\"type\":\"LineString\",\"coordinates\":[[");
        fmt7(geom, a);
        geom.push(',');
        fmt7(geom, y);
        geom.push_str("],[");
        fmt7(geom, b);
        geom.push(',');
        fmt7(geom, y);
        geom.push_str("]]}");
        frontage.push(props, geom)?;
        units.write_record([unit.as_str(), &name, "shop", gcode])?;
    }
    Ok(())
}

/// A point of the city, 1e-7°, drawn around (`x`, `y`) metres from its south-west corner with
/// spread `sigma` metres, clamped into the city.
fn point_near(rng: &mut Rng, c: &City, x: f64, y: f64, sigma: f64) -> (i64, i64) {
    let (w, s) = (c.xs[0], c.ys[0]);
    let (e, n) = (c.xs[c.nx()], c.ys[c.ny()]);
    let px = w + ((x + rng.normalish() * sigma) / c.mx).round() as i64;
    let py = s + ((y + rng.normalish() * sigma) / c.my).round() as i64;
    (px.clamp(w + 1, e - 1), py.clamp(s + 1, n - 1))
}

/// One city's history export: `id,reported_at,category,lon,lat,channel,closed_at`.
fn write_history(path: &Path, c: &City, seed: u64, first_id: usize, n: usize) -> Result<()> {
    let mut rng = Rng::derive(seed, &format!("province/history/{}", c.code));
    let width = (c.xs[c.nx()] - c.xs[0]) as f64 * c.mx;
    let height = (c.ys[c.ny()] - c.ys[0]) as f64 * c.my;
    // Planted clusters: about one per 1,500 grids, 60–250 m across, of unequal weight.
    let k = (c.nx() * c.ny() / 1500).max(3);
    let clusters: Vec<(f64, f64, f64, f64)> = (0..k)
        .map(|_| {
            (
                rng.range(0.0, width),
                rng.range(0.0, height),
                rng.range(60.0, 250.0),
                rng.range(0.2, 1.0),
            )
        })
        .collect();
    let cluster_weights: Vec<f64> = clusters.iter().map(|c| c.3).collect();
    let cat_weights: Vec<f64> = CATEGORIES.iter().map(|c| c.1).collect();
    let ch_weights: Vec<f64> = CHANNELS.iter().map(|c| c.1).collect();
    let epoch: NaiveDateTime = NaiveDate::from_ymd_opt(2024, 11, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .context("epoch")?;
    let mut out = BufWriter::with_capacity(
        1 << 20,
        File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    out.write_all(b"id,reported_at,category,lon,lat,channel,closed_at\n")?;
    let mut line = String::with_capacity(160);
    for i in 0..n {
        let (x, y) = if rng.chance(CLUSTERED) {
            let (cx, cy, sigma, _) = clusters[rng.weighted(&cluster_weights)];
            point_near(&mut rng, c, cx, cy, sigma)
        } else {
            // Background: denser towards the centre, thinning out to the edge.
            point_near(
                &mut rng,
                c,
                width / 2.0,
                height / 2.0,
                width.max(height) / 3.5,
            )
        };
        let cat = rng.weighted(&cat_weights);
        let ch = rng.weighted(&ch_weights);
        let at = rng.int(0, SPAN_S - 1);
        let (_, _, lo, hi) = CATEGORIES[cat];
        let close = at + (rng.range(lo, hi) * 3600.0) as i64;
        line.clear();
        let _ = write!(
            line,
            "P{:09},{}+08:00,{},",
            first_id + i,
            (epoch + Duration::seconds(at)).format("%Y-%m-%dT%H:%M:%S"),
            CATEGORIES[cat].0
        );
        fmt7(&mut line, x);
        line.push(',');
        fmt7(&mut line, y);
        let _ = write!(line, ",{},", CHANNELS[ch].0);
        // Cases that would close after the window's end are still open.
        if close < SPAN_S {
            let _ = write!(
                line,
                "{}+08:00",
                (epoch + Duration::seconds(close)).format("%Y-%m-%dT%H:%M:%S")
            );
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// Points for the assignment benchmark, uniform over the cities' built-up areas: `id,lon,lat`.
fn write_points(path: &Path, cities: &[City], seed: u64, scale: f64) -> Result<usize> {
    let mut rng = Rng::derive(seed, "province/points");
    let n = ((POINTS * scale).round() as usize).max(1000);
    let areas: Vec<f64> = cities.iter().map(|c| (c.nx() * c.ny()) as f64).collect();
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    out.write_all(b"id,lon,lat\n")?;
    let mut line = String::with_capacity(64);
    for i in 0..n {
        let c = &cities[rng.weighted(&areas)];
        let x = rng.int(c.xs[0] + 1, c.xs[c.nx()] - 1);
        let y = rng.int(c.ys[0] + 1, c.ys[c.ny()] - 1);
        line.clear();
        let _ = write!(line, "{},", i + 1);
        fmt7(&mut line, x);
        line.push(',');
        fmt7(&mut line, y);
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_cosine_matches_the_platform_one_within_china() {
        for d in [18.0, 31.4, 34.7, 36.4, 53.5] {
            assert!((cos_deg(d) - d.to_radians().cos()).abs() < 1e-8, "{d}");
        }
    }

    #[test]
    fn split_parts_sum_to_the_whole_and_are_never_empty() {
        let mut rng = Rng::derive(1, "t");
        for n in [1, 2, 7, 40, 243, 1000] {
            let parts = split(&mut rng, n, 10);
            assert_eq!(parts.iter().sum::<usize>(), n);
            assert!(parts.iter().all(|&p| p > 0));
        }
    }
}
