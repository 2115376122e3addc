//! `/api/hotspots/…`: kernel density, counts and rates, Gi*, emerging hot spots, 卫生死角 and the
//! zone breakdown, over the stored history and cases (GET, with filters) or an uploaded point
//! set (POST, GeoJSON or CSV in a declared CRS). Planners and administrators may do both;
//! dispatchers may read the stored data.
//!
//! Every answer states its CRS: geometry out is WGS84 lon/lat (EPSG:4326); distances and areas
//! were computed in metres in a local transverse Mercator frame. The stored points are read once
//! per data revision (the last audit event id: every import and case change appends one) and
//! kept in memory with the engine's answer for each, so a filtered request on the two-year
//! history only filters and computes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::auth::{Auth, Policy};
use super::error::{ApiError, ErrorBody};
use super::extract::ApiQuery;
use crate::assign::{AreaLevel, CityIndex};
use crate::cache::{ByteLru, Footprint};
use crate::domain::crs::Crs;
use crate::domain::identity::Role;
use crate::hotspot::analysis::{self, Places, ZoneSamples};
use crate::hotspot::areas::{AreaSpec, Areas, WeightSpec};
use crate::hotspot::blindspots::BlindSpotParams;
use crate::hotspot::dataset::{Dataset, Filter};
use crate::hotspot::emerging::Step;
use crate::hotspot::frame::LocalFrame;
use crate::hotspot::gistar::Transform;
use crate::hotspot::input::{self, UploadOptions};
use crate::hotspot::kde::{KdeMethod, KdeParams};
use crate::hotspot::weights::{Contiguity, Weights};
use crate::hotspot::{HotspotError, image};
use crate::store::PointFilter;

/// Readers of the stored data: planners, administrators, dispatchers.
pub struct Readers;
impl Policy for Readers {
    const ROLES: &'static [Role] = &[Role::Planner, Role::Admin, Role::Dispatcher];
}

/// Who may analyse an uploaded point set.
pub struct Analysts;
impl Policy for Analysts {
    const ROLES: &'static [Role] = &[Role::Planner, Role::Admin];
}

/// Most points in one upload.
const MAX_UPLOAD_POINTS: usize = 2_000_000;
/// Area-sample lattice of the zone breakdown, metres.
const ZONE_SAMPLE_M: f64 = 50.0;

/// The stored points and what was computed from them, per data revision and index version.
/// Areas and weights are kept in caches bounded by bytes (`--hotspot-cache-bytes`, half each);
/// the stored points and the zone samples are one entry each, replaced when the data changes.
pub struct Cache {
    stored: tokio::sync::Mutex<Option<(i64, i64, Arc<Stored>)>>,
    units: ByteLru<Areas>,
    weights: ByteLru<Weights>,
    zones: tokio::sync::Mutex<Option<(i64, Arc<ZoneSamples>)>>,
}

/// Default of `--hotspot-cache-bytes`.
pub const DEFAULT_CACHE_BYTES: usize = 128 * 1024 * 1024;

impl Default for Cache {
    fn default() -> Self {
        Self::new(DEFAULT_CACHE_BYTES)
    }
}

impl Cache {
    /// Caches whose units and weights together hold at most `budget` bytes.
    pub fn new(budget: usize) -> Self {
        Self {
            stored: tokio::sync::Mutex::new(None),
            units: ByteLru::new("hotspot_units", budget / 2),
            weights: ByteLru::new("hotspot_weights", budget / 2),
            zones: tokio::sync::Mutex::new(None),
        }
    }

    /// Bytes and entries of the unit and weight caches.
    pub fn usage(&self) -> [(&'static str, usize, usize); 2] {
        let (ub, ue) = self.units.usage();
        let (wb, we) = self.weights.usage();
        [("hotspot_units", ub, ue), ("hotspot_weights", wb, we)]
    }
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hotspots::Cache")
    }
}

/// The stored points: history rows first, then cases from `first_case` on.
struct Stored {
    data: Dataset,
    first_case: usize,
}

/// Reports the bytes of a single-entry cache (the stored points, the zone samples).
fn report_slot(name: &'static str, bytes: usize) {
    metrics::gauge!("wangge_cache_bytes", "cache" => name).set(bytes as f64);
    metrics::gauge!("wangge_cache_entries", "cache" => name).set(1.0);
}

impl From<HotspotError> for ApiError {
    fn from(e: HotspotError) -> Self {
        match e {
            HotspotError::NoPoints => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "no_points", e.to_string())
            }
            HotspotError::BadParameter(m) => ApiError::bad_request("invalid_parameter", m),
            HotspotError::BadInput(m) => ApiError::bad_request("invalid_upload", m),
            HotspotError::TooLarge(m) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", m)
            }
        }
    }
}

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_parameter", m)
}

/// Filters, units, neighbours and method parameters shared by every hot spot endpoint; each
/// endpoint reads the ones it needs.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HotspotQuery {
    /// Category codes, comma-separated (default all; for blindspots the 市容环境 sanitation categories).
    pub category: Option<String>,
    /// Reported from (inclusive): `YYYY-MM-DD` (China time, UTC+8) or RFC 3339.
    pub from: Option<String>,
    /// Reported before (exclusive), same forms.
    pub to: Option<String>,
    /// `open` or `closed`.
    pub status: Option<String>,
    /// Channel: inspector, citizen, hotline_12345, video.
    pub source: Option<String>,
    /// Street code (of the grid the current jurisdiction data puts the point in).
    pub street: Option<String>,
    /// Community code.
    pub community: Option<String>,
    /// Unit grid code.
    pub grid: Option<String>,
    /// Stored data: `history`, `cases` or `both` (default).
    pub include: Option<String>,
    /// Upload: CRS of the coordinates (wgs84, cgcs2000, gcj02, bd09). Required for uploads.
    pub crs: Option<String>,
    /// Upload: the weight property or column (default `weight`; missing = 1).
    pub weight_field: Option<String>,
    /// Areas: grid (default), community, street, fishnet or h3.
    pub unit: Option<String>,
    /// Fishnet cell size, metres (default 100).
    pub size_m: Option<f64>,
    /// H3 resolution for `unit=h3`: 8, 9 (default) or 10.
    pub res: Option<u8>,
    /// Neighbours: queen (default), rook, ring (k-ring / contiguity order k), band (distance band).
    pub weights: Option<String>,
    /// k of a ring (default 1).
    pub k: Option<u32>,
    /// Distance band, metres (between unit centroids).
    pub band_m: Option<f64>,
    /// Gi* weights: binary (default, ArcGIS) or row (esda's default).
    pub transform: Option<String>,
    /// KDE bandwidth (search radius), metres (default: spatial-variant Silverman rule).
    pub bandwidth_m: Option<f64>,
    /// KDE cell size, metres (default: shorter side of the extent / 250).
    pub cell_m: Option<f64>,
    /// KDE method: auto (default), exact or binned.
    pub method: Option<String>,
    /// Emerging: week (default) or month.
    pub step: Option<String>,
    /// Emerging: previous time steps in the neighbourhood (default 1).
    pub time_neighbours: Option<usize>,
    /// Emerging: significance level (default 0.05).
    pub alpha: Option<f64>,
    /// Blind spots: reports needed in one window (k, default 4).
    pub min_reports: Option<usize>,
    /// Blind spots: window length in weeks (m, default 12).
    pub window_weeks: Option<u32>,
    /// Blind spots: reports in the window that came after an earlier close (default 3).
    pub min_after_close: Option<usize>,
    /// Blind spots: DBSCAN radius, metres (default 12).
    pub eps_m: Option<f64>,
    /// Blind spots: least density contrast with the surrounding 80 m ring (default 8).
    pub min_contrast: Option<f64>,
    /// Blind spots: places are `dbscan` (default), `grid` or `fishnet` cells.
    pub place: Option<String>,
    /// Output: json (default), geojson, csv; kde also png.
    pub format: Option<String>,
    /// Most rows, in the endpoint's ranking (default: all for CSV, 2,000 for JSON/GeoJSON;
    /// `meta` always counts all units).
    pub limit: Option<usize>,
}

fn date(s: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        bad(format!(
            "{s:?} is neither a date YYYY-MM-DD nor an RFC 3339 time"
        ))
    })?;
    let cst = chrono::FixedOffset::east_opt(8 * 3600).ok_or_else(|| bad("offset"))?;
    cst.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| bad(format!("{s:?} is not a valid date")))
}

/// The accepted range of every numeric parameter (README, Hotspots): outside it, 400
/// `invalid_parameter`, before any work.
fn check_ranges(q: &HotspotQuery) -> Result<(), ApiError> {
    fn float(name: &str, v: Option<f64>, lo: f64, lo_open: bool, hi: f64) -> Result<(), ApiError> {
        match v {
            Some(x) if !(x.is_finite() && (if lo_open { x > lo } else { x >= lo }) && x <= hi) => {
                Err(bad(format!(
                    "{name} must be a number {} {lo} and at most {hi}, got {x}",
                    if lo_open { "above" } else { "from" }
                )))
            }
            _ => Ok(()),
        }
    }
    fn int(name: &str, v: Option<u64>, lo: u64, hi: u64) -> Result<(), ApiError> {
        match v {
            Some(x) if !(lo..=hi).contains(&x) => {
                Err(bad(format!("{name} must be {lo}–{hi}, got {x}")))
            }
            _ => Ok(()),
        }
    }
    let u = |v: Option<usize>| v.map(|x| x as u64);
    float("size_m", q.size_m, 5.0, false, 5_000.0)?;
    int("res", q.res.map(u64::from), 8, 10)?;
    int("k", q.k.map(u64::from), 1, 10)?;
    float("band_m", q.band_m, 0.0, true, 10_000.0)?;
    float(
        "bandwidth_m",
        q.bandwidth_m,
        0.0,
        true,
        crate::hotspot::kde::MAX_BANDWIDTH_M,
    )?;
    let (clo, chi) = crate::hotspot::kde::CELL_M_RANGE;
    float("cell_m", q.cell_m, clo, false, chi)?;
    int("time_neighbours", u(q.time_neighbours), 0, 12)?;
    float("alpha", q.alpha, 0.0, true, 0.5)?;
    if q.alpha == Some(0.5) {
        return Err(bad("alpha must be below 0.5"));
    }
    int("min_reports", u(q.min_reports), 2, 1_000)?;
    int("window_weeks", q.window_weeks.map(u64::from), 1, 104)?;
    int("min_after_close", u(q.min_after_close), 0, 1_000)?;
    float("eps_m", q.eps_m, 0.0, true, 200.0)?;
    float("min_contrast", q.min_contrast, 0.0, true, 1_000.0)?;
    int("limit", u(q.limit), 1, MAX_ROWS as u64)?;
    Ok(())
}

/// Most rows one answer may ask for.
const MAX_ROWS: usize = 10_000_000;

impl HotspotQuery {
    fn filter(&self) -> Result<Filter, ApiError> {
        Ok(Filter {
            categories: self
                .category
                .as_deref()
                .map(|c| {
                    c.split(',')
                        .map(|x| x.trim().to_owned())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            from: self.from.as_deref().map(date).transpose()?,
            to: self.to.as_deref().map(date).transpose()?,
            closed: match self.status.as_deref() {
                None | Some("") | Some("all") => None,
                Some("open") => Some(false),
                Some("closed") => Some(true),
                Some(o) => return Err(bad(format!("status {o:?}: expected open or closed"))),
            },
            source: self.source.clone().filter(|s| !s.is_empty()),
            street: self.street.clone().filter(|s| !s.is_empty()),
            community: self.community.clone().filter(|s| !s.is_empty()),
            grid: self.grid.clone().filter(|s| !s.is_empty()),
        })
    }

    fn unit(&self) -> Result<AreaSpec, ApiError> {
        AreaSpec::parse(
            self.unit.as_deref().unwrap_or("grid"),
            self.size_m,
            self.res,
        )
        .map_err(bad)
    }

    fn weight_spec(&self) -> Result<WeightSpec, ApiError> {
        Ok(match self.weights.as_deref().unwrap_or("queen") {
            "queen" => WeightSpec::Contiguity(Contiguity::Queen),
            "rook" => WeightSpec::Contiguity(Contiguity::Rook),
            "ring" => {
                let k = self.k.unwrap_or(1);
                if !(1..=10).contains(&k) {
                    return Err(bad(format!("k must be 1–10, got {k}")));
                }
                WeightSpec::Ring(k)
            }
            "band" => {
                let d = self
                    .band_m
                    .ok_or_else(|| bad("weights=band needs band_m (metres)"))?;
                if !(d.is_finite() && d > 0.0 && d <= 10_000.0) {
                    return Err(bad(format!("band_m must be 0–10000 m, got {d}")));
                }
                WeightSpec::Band(d)
            }
            o => {
                return Err(bad(format!(
                    "weights {o:?}: expected queen, rook, ring or band"
                )));
            }
        })
    }

    fn transform(&self) -> Result<Transform, ApiError> {
        match self.transform.as_deref().unwrap_or("binary") {
            "binary" | "b" | "B" => Ok(Transform::Binary),
            "row" | "r" | "R" => Ok(Transform::Row),
            o => Err(bad(format!("transform {o:?}: expected binary or row"))),
        }
    }

    fn format(&self, allowed: &[&str]) -> Result<String, ApiError> {
        let f = self.format.clone().unwrap_or_else(|| "json".into());
        if allowed.contains(&f.as_str()) {
            Ok(f)
        } else {
            Err(bad(format!(
                "format {f:?}: expected one of {}",
                allowed.join(", ")
            )))
        }
    }
}

/// The data of one request: the points, the selection, the city.
struct Input {
    data: Arc<Stored>,
    sel: Vec<u32>,
    index: Arc<CityIndex>,
    stored: bool,
}

fn city_frame(ix: &CityIndex) -> LocalFrame {
    let c = ix.extent().center();
    LocalFrame::at(c.x, c.y)
}

async fn stored_data(state: &AppState, ix: &Arc<CityIndex>) -> Result<Arc<Stored>, ApiError> {
    let cache = state.hotspots();
    let revision = state.store().points_revision().await?;
    let mut slot = cache.stored.lock().await;
    if let Some((r, v, d)) = slot.as_ref()
        && *r == revision
        && *v == ix.version()
    {
        return Ok(d.clone());
    }
    let history = state
        .store()
        .hotspot_points(&PointFilter {
            history: true,
            ..Default::default()
        })
        .await?;
    let cases = state
        .store()
        .hotspot_points(&PointFilter {
            cases: true,
            ..Default::default()
        })
        .await?;
    let first_case = history.len();
    let mut all = history;
    all.extend(cases);
    let ix2 = ix.clone();
    let data =
        tokio::task::spawn_blocking(move || Dataset::new(all, Some(city_frame(&ix2)), Some(&ix2)))
            .await
            .map_err(ApiError::internal)?;
    report_slot("hotspot_points", data.footprint());
    let stored = Arc::new(Stored { data, first_case });
    *slot = Some((revision, ix.version(), stored.clone()));
    Ok(stored)
}

async fn input(
    state: &AppState,
    q: &HotspotQuery,
    upload: Option<(&HeaderMap, Bytes)>,
) -> Result<Input, ApiError> {
    check_ranges(q)?;
    let index = state.engine().current();
    let filter = q.filter()?;
    match upload {
        None => {
            let data = stored_data(state, &index).await?;
            let (h, c) = match q.include.as_deref().unwrap_or("both") {
                "both" => (true, true),
                "history" => (true, false),
                "cases" => (false, true),
                o => {
                    return Err(bad(format!(
                        "include {o:?}: expected history, cases or both"
                    )));
                }
            };
            let ix = index.clone();
            let d = data.clone();
            let sel = tokio::task::spawn_blocking(move || {
                let mut s = d.data.select(&filter, Some(&ix));
                if !(h && c) {
                    s.retain(|&i| ((i as usize) < d.first_case) == h);
                }
                s
            })
            .await
            .map_err(ApiError::internal)?;
            Ok(Input {
                data,
                sel,
                index,
                stored: true,
            })
        }
        Some((headers, body)) => {
            let crs = q
                .crs
                .as_deref()
                .ok_or_else(|| bad("an upload must declare its coordinate system: crs=wgs84, cgcs2000, gcj02 or bd09"))?
                .parse::<Crs>()
                .map_err(|e| bad(e.to_string()))?;
            let opts = UploadOptions {
                crs,
                weight_field: q.weight_field.clone().unwrap_or_else(|| "weight".into()),
                max_points: MAX_UPLOAD_POINTS,
            };
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let ix = index.clone();
            let is_csv = ct.starts_with("text/csv")
                || (!ct.contains("json") && !body.trim_ascii_start().starts_with(b"{"));
            let data = tokio::task::spawn_blocking(move || -> Result<Stored, HotspotError> {
                let reports = if is_csv {
                    input::csv_points(&body, &opts)?
                } else {
                    input::geojson_points(&body, &opts)?
                };
                // Points in the city share the city's frame (and its cached units).
                let inside = reports.first().is_some_and(|r| {
                    geo::Intersects::intersects(&ix.extent(), &geo::coord! {x: r.lon, y: r.lat})
                });
                let frame = inside.then(|| city_frame(&ix));
                let n = reports.len();
                Ok(Stored {
                    data: Dataset::new(reports, frame, Some(&ix)),
                    first_case: n,
                })
            })
            .await
            .map_err(ApiError::internal)??;
            let sel = data.data.select(&filter, Some(&index));
            Ok(Input {
                data: Arc::new(data),
                sel,
                index,
                stored: false,
            })
        }
    }
}

/// Areas and whether they are the cached ones (the stored data's, or an upload's administrative
/// units in the city's frame).
struct UnitsRef {
    units: Arc<Areas>,
    /// The cache key of cached units.
    key: Option<String>,
}

/// The extent (west, south, east, north; metres in the data's frame) fishnet and H3 units cover:
/// the city's for stored data, the selected points' for an upload.
fn unit_extent(inp: &Input) -> [f64; 4] {
    let ds = &inp.data.data;
    let frame = ds.frame;
    if inp.stored {
        let e = inp.index.extent();
        let (a, b) = (
            frame.forward(e.min().x, e.min().y),
            frame.forward(e.max().x, e.max().y),
        );
        [a.x, a.y, b.x, b.y]
    } else {
        let (mut w, mut s, mut e, mut n) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for &i in &inp.sel {
            let m = ds.metres[i as usize];
            (w, s, e, n) = (w.min(m.x), s.min(m.y), e.max(m.x), n.max(m.y));
        }
        [w, s, e, n]
    }
}

/// The units of a request; fishnet and H3 lattices over more than
/// [`crate::hotspot::areas::MAX_AREA_CELLS`] cells are refused (413 `too_large`) before they are
/// built.
fn units_for(state: &AppState, inp: &Input, spec: AreaSpec) -> Result<UnitsRef, ApiError> {
    let ds = &inp.data.data;
    let ix = inp.index.clone();
    let frame = ds.frame;
    let (ox, oy) = frame.origin();
    let extent = unit_extent(inp);
    crate::hotspot::areas::check_lattice(spec, extent)?;
    let build = move || match spec {
        AreaSpec::Admin(level) => Areas::admin(&ix, level, frame),
        AreaSpec::Fishnet(_) | AreaSpec::H3(_) => {
            let cells = |extent: [f64; 4], keep: &(dyn Fn(f64, f64) -> bool + Sync)| match spec {
                AreaSpec::H3(res) => Areas::h3(frame, extent, res, keep),
                AreaSpec::Fishnet(size) => Areas::fishnet(frame, extent, size, keep),
                AreaSpec::Admin(_) => unreachable!("administrative units are built above"),
            };
            let mut u = if inp.stored {
                let ix2 = ix.clone();
                cells(extent, &move |lon, lat| {
                    ix2.locate(lon, lat).grid != crate::assign::NONE
                })
            } else {
                cells(extent, &|_, _| true)
            };
            u.add_frontages(&ix);
            u
        }
    };
    let city = city_frame(&inp.index).origin();
    if inp.stored || (matches!(spec, AreaSpec::Admin(_)) && (ox, oy) == city) {
        let key = format!("{}/{spec:?}/{ox},{oy}", inp.index.version());
        Ok(UnitsRef {
            units: state
                .hotspots()
                .units
                .get_or_insert_with(key.clone(), build),
            key: Some(key),
        })
    } else {
        Ok(UnitsRef {
            units: Arc::new(build()),
            key: None,
        })
    }
}

/// Neighbours of units: cached under the units' own key (which names the index version, unit
/// kind and frame), computed afresh for uncached units.
fn weights_for(
    state: &AppState,
    units: &UnitsRef,
    spec: WeightSpec,
) -> Result<Arc<Weights>, ApiError> {
    units.units.check_weights(spec)?;
    let Some(key) = &units.key else {
        return Ok(Arc::new(units.units.weights(spec)));
    };
    let u = units.units.clone();
    Ok(state
        .hotspots()
        .weights
        .get_or_insert_with(format!("{key}/{spec:?}"), move || u.weights(spec)))
}

/// Rows returned: `limit`, else all for CSV and the first 2,000 for JSON and GeoJSON (a map needs
/// the hottest units, and 20,000 polygons would cost the browser more than the analysis).
fn row_limit(q: &HotspotQuery, format: &str) -> usize {
    q.limit.unwrap_or(if format == "csv" {
        usize::MAX
    } else {
        DEFAULT_ROWS
    })
}

/// Default rows of a JSON or GeoJSON unit answer.
const DEFAULT_ROWS: usize = 2_000;

fn polygon_coords(p: &geo::MultiPolygon<f64>) -> Value {
    let ring = |r: &geo::LineString<f64>| -> Value {
        r.0.iter()
            .map(|c| json!([round7(c.x), round7(c.y)]))
            .collect()
    };
    json!({
        "type": "MultiPolygon",
        "coordinates": p.0.iter().map(|poly| {
            std::iter::once(ring(poly.exterior())).chain(poly.interiors().iter().map(ring)).collect::<Vec<_>>()
        }).collect::<Vec<_>>()
    })
}

fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

fn csv_response(name: &str, header_line: &str, rows: Vec<String>) -> Response {
    let mut body = String::with_capacity(rows.len() * 64);
    body.push_str(header_line);
    body.push('\n');
    for r in rows {
        body.push_str(&r);
        body.push('\n');
    }
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

fn csv_text(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn geojson_response(features: Vec<Value>, meta: Value) -> Response {
    let mut res = Json(json!({
        "type": "FeatureCollection",
        "crs_note": "EPSG:4326 (WGS84 lon/lat); measures computed in metres in a local transverse Mercator frame",
        "meta": meta,
        "features": features,
    }))
    .into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    res
}

fn meta(inp: &Input, extra: Value) -> Value {
    let (lon, lat) = inp.data.data.frame.origin();
    let mut m = json!({
        "crs": "EPSG:4326",
        "metric_frame": {"projection": "transverse_mercator", "ellipsoid": "WGS84", "lon_0": lon, "lat_0": lat, "k_0": 1.0, "units": "m"},
        "points": inp.sel.len(),
        "source": if inp.stored { "store" } else { "upload" },
        "data_version": inp.index.version(),
    });
    if let (Value::Object(a), Value::Object(b)) = (&mut m, extra) {
        a.extend(b);
    }
    m
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

fn frontage_categories(state: &AppState) -> Vec<String> {
    state
        .engine()
        .catalogue()
        .list()
        .into_iter()
        .map(|(_, c)| c)
        .filter(|c| c.frontage)
        .map(|c| c.code.clone())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// KDE

async fn kde_impl(
    state: AppState,
    q: HotspotQuery,
    upload: Option<(&HeaderMap, Bytes)>,
) -> Result<Response, ApiError> {
    let format = q.format(&["json", "png"])?;
    let inp = input(&state, &q, upload).await?;
    let params = KdeParams {
        bandwidth_m: q.bandwidth_m,
        cell_m: q.cell_m,
        method: match q.method.as_deref().unwrap_or("auto") {
            "auto" => KdeMethod::Auto,
            "exact" => KdeMethod::Exact,
            "binned" => KdeMethod::Binned,
            o => return Err(bad(format!("method {o:?}: expected auto, exact or binned"))),
        },
        max_cells: Some(1_000_000),
        ..Default::default()
    };
    let data = inp.data.clone();
    let sel = inp.sel.clone();
    let raster = blocking(move || analysis::density(&data.data, &sel, &params)).await??;
    let png = image::heat_png(&raster, None);
    let corners = raster.corners_wgs84();
    if format == "png" {
        let mut res = png.into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
        if let Ok(v) = HeaderValue::from_str(&serde_json::to_string(&corners).unwrap_or_default()) {
            res.headers_mut().insert("x-image-corners-wgs84", v);
        }
        return Ok(res);
    }
    let (pc, pr, pv) = raster.peak().unwrap_or((0, 0, 0.0));
    let (plon, plat) = raster.centre_wgs84(pc, pr);
    Ok(Json(meta(&inp, json!({
        "units": "cases per km²",
        "kernel": "quartic",
        "bandwidth_m": raster.bandwidth_m,
        "bandwidth_rule": raster.bandwidth_rule,
        "method": raster.method,
        "cell_m": raster.cell_m,
        "width": raster.width,
        "height": raster.height,
        "corners": corners,
        "corners_note": "top-left, top-right, bottom-right, bottom-left (MapLibre image source order)",
        "max": pv,
        "peak": {"lon": plon, "lat": plat, "value": pv},
        "png_base64": image::base64(&png),
    })))
    .into_response())
}

/// Kernel density of the stored reports (quartic kernel, cases per km²) as a PNG for the map plus
/// its corners, bandwidth and peak.
#[utoipa::path(get, path = "/api/hotspots/kde", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    responses((status = 200, description = "JSON with a base64 PNG and its WGS84 corners, or image/png with format=png"),
        (status = 400, description = "invalid_parameter", body = ErrorBody), (status = 422, description = "no_points", body = ErrorBody)))]
pub async fn kde(
    State(state): State<AppState>,
    _: Auth<Readers>,
    ApiQuery(q): ApiQuery<HotspotQuery>,
) -> Result<Response, ApiError> {
    kde_impl(state, q, None).await
}

/// Kernel density of an uploaded point set (GeoJSON FeatureCollection of Points, or CSV).
#[utoipa::path(post, path = "/api/hotspots/kde", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    request_body(content = String, description = "GeoJSON FeatureCollection of Points or CSV lon,lat[,weight][,time]"),
    responses((status = 200, description = "as GET"), (status = 400, description = "invalid_upload", body = ErrorBody)))]
pub async fn kde_upload(
    State(state): State<AppState>,
    _: Auth<Analysts>,
    ApiQuery(q): ApiQuery<HotspotQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    kde_impl(state, q, Some((&headers, body))).await
}

// ---------------------------------------------------------------------------------------------
// Aggregation

async fn aggregate_impl(
    state: AppState,
    q: HotspotQuery,
    upload: Option<(&HeaderMap, Bytes)>,
) -> Result<Response, ApiError> {
    let format = q.format(&["json", "geojson", "csv"])?;
    let spec = q.unit()?;
    let inp = input(&state, &q, upload).await?;
    let units = units_for(&state, &inp, spec)?.units;
    let (data, sel, ix, u2, fc) = (
        inp.data.clone(),
        inp.sel.clone(),
        inp.index.clone(),
        units.clone(),
        frontage_categories(&state),
    );
    let (mut rows, outside) =
        blocking(move || analysis::aggregate(&data.data, &sel, &u2, Some(&ix), &fc)).await?;
    let idx: Vec<usize> = {
        let mut v: Vec<usize> = (0..rows.len()).collect();
        v.sort_by(|&a, &b| rows[b].count.total_cmp(&rows[a].count).then(a.cmp(&b)));
        v.truncate(row_limit(&q, &format));
        v
    };
    let m = meta(
        &inp,
        json!({"unit": spec.name(), "units": rows.len(), "outside_units": outside, "rates": {"per_km2": "reports per km²", "per_frontage_km": "门前三包 reports per km of frontage"}}),
    );
    match format.as_str() {
        "csv" => Ok(csv_response("hotspot_aggregate", "code,name,count,area_km2,per_km2,frontage_count,frontage_km,per_frontage_km",
            idx.iter().map(|&i| { let r = &rows[i]; format!("{},{},{},{:.6},{:.3},{},{:.4},{}", csv_text(&r.code), csv_text(&r.name), r.count, r.area_km2, r.per_km2, r.frontage_count, r.frontage_km, r.per_frontage_km.map(|v| format!("{v:.3}")).unwrap_or_default()) }).collect())),
        "geojson" => Ok(geojson_response(idx.iter().map(|&i| json!({"type": "Feature", "geometry": polygon_coords(&units.polygons[i]), "properties": rows[i]})).collect(), m)),
        _ => {
            let out: Vec<_> = idx.iter().map(|&i| std::mem::replace(&mut rows[i], rows_placeholder())).collect();
            Ok(Json(json!({"meta": m, "rows": out})).into_response())
        }
    }
}

fn rows_placeholder() -> analysis::AggregateRow {
    analysis::AggregateRow {
        code: String::new(),
        name: String::new(),
        count: 0.0,
        area_km2: 0.0,
        per_km2: 0.0,
        frontage_count: 0.0,
        frontage_km: 0.0,
        per_frontage_km: None,
    }
}

/// Counts per unit (grid, community, street or fishnet) with rates per km² and per km of
/// 门前三包 frontage, most first.
#[utoipa::path(get, path = "/api/hotspots/aggregate", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    responses((status = 200, description = "rows (JSON), GeoJSON polygons or CSV"), (status = 400, description = "invalid_parameter", body = ErrorBody)))]
pub async fn aggregate(
    State(state): State<AppState>,
    _: Auth<Readers>,
    ApiQuery(q): ApiQuery<HotspotQuery>,
) -> Result<Response, ApiError> {
    aggregate_impl(state, q, None).await
}

/// Counts per unit of an uploaded point set.
#[utoipa::path(post, path = "/api/hotspots/aggregate", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    request_body(content = String, description = "GeoJSON or CSV points"), responses((status = 200, description = "as GET")))]
pub async fn aggregate_upload(
    State(state): State<AppState>,
    _: Auth<Analysts>,
    ApiQuery(q): ApiQuery<HotspotQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    aggregate_impl(state, q, Some((&headers, body))).await
}

// ---------------------------------------------------------------------------------------------
// Gi*

async fn gistar_impl(
    state: AppState,
    q: HotspotQuery,
    upload: Option<(&HeaderMap, Bytes)>,
) -> Result<Response, ApiError> {
    let format = q.format(&["json", "geojson", "csv"])?;
    let (spec, wspec, transform) = (q.unit()?, q.weight_spec()?, q.transform()?);
    let inp = input(&state, &q, upload).await?;
    if inp.sel.is_empty() {
        return Err(HotspotError::NoPoints.into());
    }
    let uref = units_for(&state, &inp, spec)?;
    let w = weights_for(&state, &uref, wspec)?;
    let units = uref.units;
    let (data, sel, ix, u2, w2) = (
        inp.data.clone(),
        inp.sel.clone(),
        inp.index.clone(),
        units.clone(),
        w.clone(),
    );
    let rows =
        blocking(move || analysis::gi(&data.data, &sel, &u2, &w2, Some(&ix), transform)).await?;
    let mut idx: Vec<usize> = (0..rows.len()).collect();
    idx.sort_by(|&a, &b| rows[b].z.total_cmp(&rows[a].z).then(a.cmp(&b)));
    idx.truncate(row_limit(&q, &format));
    let count = |b: i8| rows.iter().filter(|r| r.bin_fdr == b).count();
    let m = meta(
        &inp,
        json!({
            "unit": spec.name(), "units": rows.len(), "weights": format!("{wspec:?}"), "transform": transform,
            "mean_neighbours": w.mean_neighbours(), "islands": w.islands(),
            "statistic": "Getis-Ord Gi* (esda G_Local star=True analytical z); p two-sided normal; q Benjamini-Hochberg",
            "hot_99_fdr": count(3), "cold_99_fdr": count(-3),
        }),
    );
    match format.as_str() {
        "csv" => Ok(csv_response("hotspot_gistar", "code,name,count,neighbours,z,p,q,bin,bin_fdr",
            idx.iter().map(|&i| { let r = &rows[i]; format!("{},{},{},{},{:.9},{:.6e},{:.6e},{},{}", csv_text(&r.code), csv_text(&r.name), r.count, r.neighbours, r.z, r.p, r.q, r.bin, r.bin_fdr) }).collect())),
        "geojson" => Ok(geojson_response(idx.iter().map(|&i| json!({"type": "Feature", "geometry": polygon_coords(&units.polygons[i]), "properties": rows[i]})).collect(), m)),
        _ => Ok(Json(json!({"meta": m, "rows": idx.iter().map(|&i| &rows[i]).collect::<Vec<_>>()})).into_response()),
    }
}

/// Getis-Ord Gi* per unit: z, p, FDR q and the ArcGIS bins −3…+3, hottest first.
#[utoipa::path(get, path = "/api/hotspots/gistar", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    responses((status = 200, description = "rows (JSON), GeoJSON polygons or CSV"), (status = 400, description = "invalid_parameter", body = ErrorBody), (status = 422, description = "no_points", body = ErrorBody)))]
pub async fn gistar(
    State(state): State<AppState>,
    _: Auth<Readers>,
    ApiQuery(q): ApiQuery<HotspotQuery>,
) -> Result<Response, ApiError> {
    gistar_impl(state, q, None).await
}

/// Gi* of an uploaded point set.
#[utoipa::path(post, path = "/api/hotspots/gistar", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    request_body(content = String, description = "GeoJSON or CSV points"), responses((status = 200, description = "as GET")))]
pub async fn gistar_upload(
    State(state): State<AppState>,
    _: Auth<Analysts>,
    ApiQuery(q): ApiQuery<HotspotQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    gistar_impl(state, q, Some((&headers, body))).await
}

// ---------------------------------------------------------------------------------------------
// Emerging hot spots

async fn emerging_impl(
    state: AppState,
    q: HotspotQuery,
    upload: Option<(&HeaderMap, Bytes)>,
) -> Result<Response, ApiError> {
    let format = q.format(&["json", "geojson", "csv"])?;
    let (spec, wspec) = (q.unit()?, q.weight_spec()?);
    let step = match q.step.as_deref().unwrap_or("week") {
        "week" => Step::Week,
        "month" => Step::Month,
        o => return Err(bad(format!("step {o:?}: expected week or month"))),
    };
    let tn = q.time_neighbours.unwrap_or(1);
    let alpha = q.alpha.unwrap_or(0.05);
    if tn > 12 || !(alpha > 0.0 && alpha < 0.5) {
        return Err(bad(
            "time_neighbours must be 0–12 and alpha between 0 and 0.5",
        ));
    }
    let inp = input(&state, &q, upload).await?;
    let uref = units_for(&state, &inp, spec)?;
    let w = weights_for(&state, &uref, wspec)?;
    let units = uref.units;
    let (data, sel, ix, u2, w2) = (
        inp.data.clone(),
        inp.sel.clone(),
        inp.index.clone(),
        units.clone(),
        w.clone(),
    );
    let (bins, rows) = blocking(move || {
        analysis::emerging_hot_spots(
            &data.data,
            &sel,
            &u2,
            &w2,
            Some(&ix),
            &analysis::EmergingParams {
                step,
                time_neighbours: tn,
                alpha,
            },
        )
    })
    .await??;
    let mut summary: std::collections::BTreeMap<String, usize> = Default::default();
    for r in &rows {
        *summary
            .entry(
                serde_json::to_value(r.category)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            )
            .or_default() += 1;
    }
    let mut idx: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].category != crate::hotspot::emerging::Category::NoPattern)
        .collect();
    idx.sort_by(|&a, &b| rows[b].count.total_cmp(&rows[a].count).then(a.cmp(&b)));
    idx.truncate(row_limit(&q, &format));
    let m = meta(
        &inp,
        json!({"unit": spec.name(), "step": step, "steps": bins.len(), "first_step": bins.starts.first(), "last_step": bins.starts.last(), "time_neighbours": tn, "alpha": alpha, "categories": summary}),
    );
    match format.as_str() {
        "csv" => Ok(csv_response("hotspot_emerging", "code,category,count,hot_steps,cold_steps,trend_z,trend_p",
            idx.iter().map(|&i| { let r = &rows[i]; format!("{},{},{},{},{},{:.6},{:.6e}", csv_text(&r.code), serde_json::to_value(r.category).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(), r.count, r.hot_steps, r.cold_steps, r.trend_z, r.trend_p) }).collect())),
        "geojson" => Ok(geojson_response(idx.iter().map(|&i| json!({"type": "Feature", "geometry": polygon_coords(&units.polygons[i]), "properties": rows[i]})).collect(), m)),
        _ => Ok(Json(json!({"meta": m, "rows": idx.iter().map(|&i| &rows[i]).collect::<Vec<_>>()})).into_response()),
    }
}

/// Emerging hot spots on a weekly or monthly space-time cube (ArcGIS categories; units with no
/// pattern are counted in `meta.categories` but not listed).
#[utoipa::path(get, path = "/api/hotspots/emerging", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    responses((status = 200, description = "rows (JSON), GeoJSON polygons or CSV"), (status = 400, description = "invalid_parameter", body = ErrorBody)))]
pub async fn emerging(
    State(state): State<AppState>,
    _: Auth<Readers>,
    ApiQuery(q): ApiQuery<HotspotQuery>,
) -> Result<Response, ApiError> {
    emerging_impl(state, q, None).await
}

/// Emerging hot spots of an uploaded point set (needs a time per point).
#[utoipa::path(post, path = "/api/hotspots/emerging", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    request_body(content = String, description = "GeoJSON or CSV points with times"), responses((status = 200, description = "as GET")))]
pub async fn emerging_upload(
    State(state): State<AppState>,
    _: Auth<Analysts>,
    ApiQuery(q): ApiQuery<HotspotQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    emerging_impl(state, q, Some((&headers, body))).await
}

// ---------------------------------------------------------------------------------------------
// Blind spots

async fn blindspots_impl(
    state: AppState,
    mut q: HotspotQuery,
    upload: Option<(&HeaderMap, Bytes)>,
) -> Result<Response, ApiError> {
    let format = q.format(&["json", "geojson", "csv"])?;
    if q.category.is_none() && upload.is_none() {
        let s: Vec<String> = state
            .engine()
            .catalogue()
            .list()
            .into_iter()
            .map(|(_, c)| c)
            .filter(|c| c.sanitation)
            .map(|c| c.code.clone())
            .collect();
        q.category = Some(s.join(","));
    }
    let d = BlindSpotParams::default();
    let p = BlindSpotParams {
        min_reports: q.min_reports.unwrap_or(d.min_reports),
        window_weeks: q.window_weeks.unwrap_or(d.window_weeks),
        min_after_close: q.min_after_close.unwrap_or(d.min_after_close),
        eps_m: q.eps_m.unwrap_or(d.eps_m),
        min_contrast: q.min_contrast.unwrap_or(d.min_contrast),
        ..d
    };
    let valid = (2..=1000).contains(&p.min_reports)
        && (1..=104).contains(&p.window_weeks)
        && p.eps_m > 0.0
        && p.eps_m <= 200.0
        && !p.min_contrast.is_nan();
    if !valid {
        return Err(bad(
            "min_reports must be 2–1000, window_weeks 1–104, eps_m 0–200",
        ));
    }
    let place = q.place.clone().unwrap_or_else(|| "dbscan".into());
    let inp = input(&state, &q, upload).await?;
    let units = match place.as_str() {
        "dbscan" => None,
        "grid" => Some(units_for(&state, &inp, AreaSpec::Admin(AreaLevel::Grid))?.units),
        "fishnet" => {
            Some(units_for(&state, &inp, AreaSpec::Fishnet(q.size_m.unwrap_or(50.0)))?.units)
        }
        o => {
            return Err(bad(format!(
                "place {o:?}: expected dbscan, grid or fishnet"
            )));
        }
    };
    let (data, sel, ix) = (inp.data.clone(), inp.sel.clone(), inp.index.clone());
    let mut rows = blocking(move || {
        let places = units.as_deref().map_or(Places::Dbscan, Places::Areas);
        analysis::blind_spots(&data.data, &sel, places, Some(&ix), &p)
    })
    .await?;
    rows.truncate(q.limit.unwrap_or(200));
    let m = meta(
        &inp,
        json!({"place": place, "min_reports": p.min_reports, "window_weeks": p.window_weeks, "min_after_close": p.min_after_close, "eps_m": p.eps_m, "min_contrast": p.min_contrast, "max_radius_m": p.max_radius_m, "ring_m": p.ring_m}),
    );
    match format.as_str() {
        "csv" => Ok(csv_response("blindspots", "rank,lon,lat,radius_m,reports,window_reports,window_start,after_close,grid,community,street,shops,report_ids",
            rows.iter().map(|r| format!("{},{:.7},{:.7},{:.1},{},{},{},{},{},{},{},{},{}", r.rank, r.lon, r.lat, r.radius_m, r.reports, r.window_reports, r.window_start.to_rfc3339(), r.after_close,
                r.owners[0].as_deref().unwrap_or(""), r.owners[1].as_deref().unwrap_or(""), r.owners[2].as_deref().unwrap_or(""),
                csv_text(&r.shops.iter().map(|s| format!("{} {}", s.code, s.shop)).collect::<Vec<_>>().join("; ")),
                csv_text(&r.evidence.iter().map(|e| e.id.clone()).collect::<Vec<_>>().join(" ")))).collect())),
        "geojson" => Ok(geojson_response(rows.iter().map(|r| json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round7(r.lon), round7(r.lat)]}, "properties": r})).collect(), m)),
        _ => Ok(Json(json!({"meta": m, "rows": rows})).into_response()),
    }
}

/// 卫生死角: places where sanitation problems come back after being cleaned, ranked, with the
/// reports, owners and frontage shops as evidence.
#[utoipa::path(get, path = "/api/hotspots/blindspots", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    responses((status = 200, description = "ranked rows (JSON), GeoJSON points or CSV"), (status = 400, description = "invalid_parameter", body = ErrorBody)))]
pub async fn blindspots(
    State(state): State<AppState>,
    _: Auth<Readers>,
    ApiQuery(q): ApiQuery<HotspotQuery>,
) -> Result<Response, ApiError> {
    blindspots_impl(state, q, None).await
}

/// Blind spots of an uploaded point set (needs times; closes where known).
#[utoipa::path(post, path = "/api/hotspots/blindspots", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    request_body(content = String, description = "GeoJSON or CSV points with time and closed"), responses((status = 200, description = "as GET")))]
pub async fn blindspots_upload(
    State(state): State<AppState>,
    _: Auth<Analysts>,
    ApiQuery(q): ApiQuery<HotspotQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    blindspots_impl(state, q, Some((&headers, body))).await
}

// ---------------------------------------------------------------------------------------------
// Zones

async fn zone_samples(state: &AppState, ix: &Arc<CityIndex>) -> Result<Arc<ZoneSamples>, ApiError> {
    let mut slot = state.hotspots().zones.lock().await;
    if let Some((v, s)) = slot.as_ref()
        && *v == ix.version()
    {
        return Ok(s.clone());
    }
    let roads: Vec<geo::LineString<f64>> = state
        .store()
        .basemap("road")
        .await?
        .into_iter()
        .flat_map(|f| match f.geometry {
            geo::Geometry::LineString(l) => vec![l],
            geo::Geometry::MultiLineString(m) => m.0,
            _ => vec![],
        })
        .collect();
    let ix2 = ix.clone();
    let s = blocking(move || {
        let frame = city_frame(&ix2);
        let e = ix2.extent();
        let (a, b) = (
            frame.forward(e.min().x, e.min().y),
            frame.forward(e.max().x, e.max().y),
        );
        let ix3 = ix2.clone();
        let net = Areas::fishnet(
            frame,
            [a.x, a.y, b.x, b.y],
            ZONE_SAMPLE_M,
            move |lon, lat| ix3.locate(lon, lat).grid != crate::assign::NONE,
        );
        ZoneSamples::build(&ix2, &net, &roads, ZONE_SAMPLE_M)
    })
    .await?;
    report_slot("hotspot_zones", s.area.capacity() + s.street.capacity());
    let s = Arc::new(s);
    *slot = Some((ix.version(), s.clone()));
    Ok(s)
}

async fn zones_impl(
    state: AppState,
    q: HotspotQuery,
    upload: Option<(&HeaderMap, Bytes)>,
) -> Result<Response, ApiError> {
    let format = q.format(&["json", "csv"])?;
    let (spec, wspec, transform) = (q.unit()?, q.weight_spec()?, q.transform()?);
    let inp = input(&state, &q, upload).await?;
    if inp.sel.is_empty() {
        return Err(HotspotError::NoPoints.into());
    }
    let uref = units_for(&state, &inp, spec)?;
    let w = weights_for(&state, &uref, wspec)?;
    let units = uref.units;
    let samples = zone_samples(&state, &inp.index).await?;
    let (data, sel, ix, u2, w2) = (
        inp.data.clone(),
        inp.sel.clone(),
        inp.index.clone(),
        units.clone(),
        w.clone(),
    );
    let (rows, zh, en) = blocking(move || {
        let gi = analysis::gi(&data.data, &sel, &u2, &w2, Some(&ix), transform);
        analysis::zone_breakdown(&data.data, &sel, &u2, &gi, &ix, &samples)
    })
    .await?;
    let m = meta(
        &inp,
        json!({"unit": spec.name(), "weights": format!("{wspec:?}"), "hotspot_rule": "Gi* bin ≥ 3 (99 %) after FDR correction, by unit centre", "sample_m": ZONE_SAMPLE_M}),
    );
    match format.as_str() {
        "csv" => Ok(csv_response(
            "hotspot_zones",
            "zone,name,reports,load_share,area_km2,per_km2,street_km,per_street_km,hotspot99_share,hotspot90_share",
            rows.iter()
                .map(|r| {
                    format!(
                        "{},{},{},{:.4},{:.4},{:.2},{:.3},{:.3},{:.4},{:.4}",
                        r.zone,
                        r.name,
                        r.reports,
                        r.load_share,
                        r.area_km2,
                        r.per_km2,
                        r.street_km,
                        r.per_street_km,
                        r.hotspot99_share,
                        r.hotspot90_share
                    )
                })
                .collect(),
        )),
        _ => Ok(
            Json(json!({"meta": m, "rows": rows, "sentences_zh": zh, "sentences_en": en}))
                .into_response(),
        ),
    }
}

/// Where the problems concentrate: urban villages, railway 50/100/200 m, back alleys, the rest;
/// load and hot spot area shares, per km² and per km of street, with quotable sentences.
#[utoipa::path(get, path = "/api/hotspots/zones", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    responses((status = 200, description = "rows and sentences (JSON) or CSV"), (status = 400, description = "invalid_parameter", body = ErrorBody), (status = 422, description = "no_points", body = ErrorBody)))]
pub async fn zones(
    State(state): State<AppState>,
    _: Auth<Readers>,
    ApiQuery(q): ApiQuery<HotspotQuery>,
) -> Result<Response, ApiError> {
    zones_impl(state, q, None).await
}

/// Zone breakdown of an uploaded point set (in the city).
#[utoipa::path(post, path = "/api/hotspots/zones", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    request_body(content = String, description = "GeoJSON or CSV points"), responses((status = 200, description = "as GET")))]
pub async fn zones_upload(
    State(state): State<AppState>,
    _: Auth<Analysts>,
    ApiQuery(q): ApiQuery<HotspotQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    zones_impl(state, q, Some((&headers, body))).await
}

// ---------------------------------------------------------------------------------------------
// Most-reported 门前三包 frontages

/// One frontage with its reports.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FrontageRow {
    /// Frontage code.
    pub code: String,
    /// The shop or organisation answering for it.
    pub name: String,
    /// Its responsible unit.
    pub unit_code: Option<String>,
    /// Reports in its strip.
    pub count: u32,
    /// Length of the frontage, metres.
    pub length_m: f64,
    /// Reports per 100 m of frontage (so a long façade does not win by size alone).
    pub per_100m: f64,
}

/// The 门前三包 frontages with the most reports in their strips (stored reports, same filters),
/// most first; `limit` rows (default 20).
#[utoipa::path(get, path = "/api/hotspots/frontages", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    responses((status = 200, body = [FrontageRow]), (status = 400, description = "invalid_parameter", body = ErrorBody)))]
pub async fn frontages(
    State(state): State<AppState>,
    _: Auth<Readers>,
    ApiQuery(q): ApiQuery<HotspotQuery>,
) -> Result<Json<Vec<FrontageRow>>, ApiError> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=1000).contains(&limit) {
        return Err(bad(format!("limit must be 1–1000, got {limit}")));
    }
    let inp = input(&state, &q, None).await?;
    let rows = tokio::task::spawn_blocking(move || {
        let Some(located) = inp.data.data.located.as_ref() else {
            return Vec::new();
        };
        let mut counts: HashMap<u32, u32> = HashMap::new();
        for &i in &inp.sel {
            let f = located.frontage[i as usize];
            if f != crate::assign::NONE {
                *counts.entry(f).or_default() += 1;
            }
        }
        let mut top: Vec<(u32, u32)> = counts.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let lines: Vec<_> = inp.index.frontage_lines().collect();
        top.into_iter()
            .take(limit)
            .filter_map(|(f, count)| {
                let (code, name, unit) = inp.index.frontage(f)?;
                let line = lines.get(f as usize)?.2;
                let length_m: f64 = line
                    .0
                    .windows(2)
                    .map(|w| crate::assign::geodesy::Tangent::at(w[0].x, w[0].y).to_point(w[1]))
                    .sum();
                Some(FrontageRow {
                    code: code.to_owned(),
                    name: name.to_owned(),
                    unit_code: unit.map(str::to_owned),
                    count,
                    length_m: (length_m * 10.0).round() / 10.0,
                    per_100m: if length_m > 0.0 {
                        (f64::from(count) * 100.0 / length_m * 100.0).round() / 100.0
                    } else {
                        0.0
                    },
                })
            })
            .collect()
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(Json(rows))
}
