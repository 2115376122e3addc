//! `/api/hotspots/…`: kernel density, counts and rates, Gi*, emerging hot spots, 卫生死角, the
//! zone breakdown and the most-reported 门前三包 frontages, over the stored history and cases (GET,
//! with filters) or an uploaded point set (POST, GeoJSON or CSV in a declared CRS). Planners and
//! administrators may do both; dispatchers may read the stored data.
//!
//! Each analysis has one handler for both methods: [`HotspotRequest`] authenticates the caller
//! for the method, parses the query into typed parameters and, for a POST, takes the upload. The
//! handler calls the hot spot service ([`crate::hotspots`]) and renders its answer as JSON,
//! GeoJSON, CSV or PNG. Every answer states its CRS: geometry out is WGS84 lon/lat (EPSG:4326);
//! distances and areas were computed in metres in a local transverse Mercator frame.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::auth::{Auth, Policy};
use super::error::{ApiError, ErrorBody};
use crate::domain::identity::Role;
use crate::hotspot::HotspotError;
use crate::hotspot::analysis::EmergingParams;
use crate::hotspot::areas::{AreaKind, AreaSpec, NeighbourKind, WeightSpec};
use crate::hotspot::blindspots::BlindSpotParams;
use crate::hotspot::dataset::Filter;
use crate::hotspot::emerging::Step;
use crate::hotspot::gistar::Transform;
use crate::hotspot::image;
use crate::hotspot::input::UploadOptions;
use crate::hotspot::kde::{KdeMethod, KdeParams};
use crate::hotspot::service::{
    self, AreaTable, FrontageRow, GiParams, Include, MAX_KDE_CELLS, MAX_UPLOAD_POINTS, PlaceKind,
    Selection, UploadFormat, ZONE_SAMPLE_M,
};
use crate::hotspots::Source;

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

impl From<HotspotError> for ApiError {
    fn from(e: HotspotError) -> Self {
        match e {
            HotspotError::NoPoints => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "no_points", e.to_string())
            }
            HotspotError::BadParameter(m) => ApiError::bad_request("invalid_parameter", m),
            HotspotError::BadUpload { kind, message } => {
                use crate::hotspot::UploadProblem as P;
                let (status, code) = match kind {
                    P::Csv => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_csv"),
                    P::MalformedGeoJson => (StatusCode::BAD_REQUEST, "malformed_geojson"),
                    P::NotAFeatureCollection => {
                        (StatusCode::BAD_REQUEST, "not_a_feature_collection")
                    }
                    P::Feature => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_feature"),
                    P::Coordinate => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_coordinate"),
                };
                ApiError::new(status, code, message)
            }
            HotspotError::UploadTooLarge(m) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the upload holds {m}"),
            ),
            HotspotError::TooLarge(m) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", m)
            }
        }
    }
}

impl From<crate::hotspots::Error> for ApiError {
    fn from(e: crate::hotspots::Error) -> Self {
        match e {
            crate::hotspots::Error::Analysis(e) => e.into(),
            crate::hotspots::Error::Store(e) => e.into(),
            crate::hotspots::Error::Task(e) => ApiError::internal(e),
        }
    }
}

use super::params::invalid as bad;

/// The form of an answer (`format=`); each endpoint takes some of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// JSON (the default).
    #[default]
    Json,
    /// GeoJSON features with the areas' outlines or the spots' centres.
    Geojson,
    /// CSV, every row.
    Csv,
    /// The bare PNG heat image (kde).
    Png,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Geojson => "geojson",
            Format::Csv => "csv",
            Format::Png => "png",
        }
    }
}

/// The formats of an analysis over areas.
const TABLE_FORMATS: &[Format] = &[Format::Json, Format::Geojson, Format::Csv];

/// Open or closed reports (`status=`); empty or `all` is both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Both.
    #[default]
    #[serde(alias = "")]
    All,
    /// Not closed.
    Open,
    /// Closed.
    Closed,
}

/// Filters, areas, neighbours and method parameters shared by every hot spot endpoint; each
/// endpoint reads the ones it needs. A value outside a parameter's choices (`weights=hexagon`)
/// or range answers 400 `invalid_parameter`; a malformed query (`k=abc`, an unknown parameter)
/// 400 `invalid_query`.
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
    #[param(value_type = Option<String>)]
    pub status: Option<Status>,
    /// Channel: inspector, citizen, hotline_12345, video.
    pub source: Option<String>,
    /// Street code (of the grid the current jurisdiction data puts the point in).
    pub street: Option<String>,
    /// Community code.
    pub community: Option<String>,
    /// Unit grid code.
    pub grid: Option<String>,
    /// Stored data: `history`, `cases` or `both` (default).
    #[param(value_type = Option<String>)]
    pub include: Option<Include>,
    /// Upload: CRS of the coordinates (wgs84, cgcs2000, gcj02, bd09). Required for uploads.
    pub crs: Option<String>,
    /// Upload: the weight property or column (default `weight`; missing = 1).
    pub weight_field: Option<String>,
    /// Analysis areas: grid (default), community, street, fishnet or h3.
    #[param(value_type = Option<String>)]
    pub unit: Option<AreaKind>,
    /// Fishnet cell size, metres (default 100).
    pub size_m: Option<f64>,
    /// H3 resolution for `unit=h3`: 8, 9 (default) or 10.
    pub res: Option<u8>,
    /// Neighbours: queen (default), rook, ring (k-ring / contiguity order k), band (distance band).
    #[param(value_type = Option<String>)]
    pub weights: Option<NeighbourKind>,
    /// k of a ring (default 1).
    pub k: Option<u32>,
    /// Distance band, metres (between area centroids).
    pub band_m: Option<f64>,
    /// Gi* weights: binary (default, ArcGIS) or row (esda's default).
    #[param(value_type = Option<String>)]
    pub transform: Option<Transform>,
    /// KDE bandwidth (search radius), metres (default: spatial-variant Silverman rule).
    pub bandwidth_m: Option<f64>,
    /// KDE cell size, metres (default: shorter side of the extent / 250).
    pub cell_m: Option<f64>,
    /// KDE method: auto (default), exact or binned.
    #[param(value_type = Option<String>)]
    pub method: Option<KdeMethod>,
    /// Emerging: week (default) or month.
    #[param(value_type = Option<String>)]
    pub step: Option<Step>,
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
    #[param(value_type = Option<String>)]
    pub place: Option<PlaceKind>,
    /// Output: json (default), geojson, csv; kde also png.
    #[param(value_type = Option<String>)]
    pub format: Option<Format>,
    /// Most rows, in the endpoint's ranking (default: all for CSV, 2,000 for JSON/GeoJSON;
    /// `meta` always counts all areas).
    pub limit: Option<usize>,
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
/// Default rows of a JSON or GeoJSON area answer: a map needs the hottest areas, and 20,000
/// polygons would cost the browser more than the analysis.
const DEFAULT_ROWS: usize = 2_000;

impl HotspotQuery {
    /// The query of a request, its ranges checked.
    fn parse(uri: &axum::http::Uri) -> Result<Self, ApiError> {
        let Query(q) = Query::<Self>::try_from_uri(uri).map_err(ApiError::from)?;
        check_ranges(&q)?;
        Ok(q)
    }

    fn filter(&self) -> Result<Filter, ApiError> {
        let text = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
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
            from: super::params::optional_instant("from", self.from.as_deref())?,
            to: super::params::optional_instant("to", self.to.as_deref())?,
            closed: match self.status.unwrap_or_default() {
                Status::All => None,
                Status::Open => Some(false),
                Status::Closed => Some(true),
            },
            source: text(&self.source),
            street: text(&self.street),
            community: text(&self.community),
            grid: text(&self.grid),
        })
    }

    fn areas(&self) -> Result<AreaSpec, ApiError> {
        AreaSpec::new(self.unit.unwrap_or_default(), self.size_m, self.res).map_err(bad)
    }

    fn gi(&self) -> Result<GiParams, ApiError> {
        Ok(GiParams {
            areas: self.areas()?,
            weights: self.weights()?,
            transform: self.transform.unwrap_or_default(),
        })
    }

    fn weights(&self) -> Result<WeightSpec, ApiError> {
        WeightSpec::new(self.weights.unwrap_or_default(), self.k, self.band_m).map_err(bad)
    }

    fn format(&self, allowed: &[Format]) -> Result<Format, ApiError> {
        let f = self.format.unwrap_or_default();
        if allowed.contains(&f) {
            Ok(f)
        } else {
            let names: Vec<&str> = allowed.iter().map(|f| f.name()).collect();
            Err(bad(format!(
                "format {:?}: expected one of {}",
                f.name(),
                names.join(", ")
            )))
        }
    }

    /// Rows returned: `limit`, else all for CSV and the first [`DEFAULT_ROWS`] otherwise.
    fn row_limit(&self, format: Format) -> usize {
        self.limit.unwrap_or(if format == Format::Csv {
            usize::MAX
        } else {
            DEFAULT_ROWS
        })
    }

    /// An upload in the CRS it declares: CSV when the content type says so, or when it names
    /// no JSON and the body does not start like a JSON object.
    fn upload(&self, content_type: &str, body: Bytes) -> Result<Source, ApiError> {
        let crs = super::params::crs(self.crs.as_deref())?.ok_or_else(|| {
            bad("an upload must declare its coordinate system: crs=wgs84, cgcs2000, gcj02 or bd09")
        })?;
        let csv = content_type.starts_with("text/csv")
            || (!content_type.contains("json") && !body.trim_ascii_start().starts_with(b"{"));
        Ok(Source::Upload {
            body: Vec::from(body),
            format: if csv {
                UploadFormat::Csv
            } else {
                UploadFormat::GeoJson
            },
            options: UploadOptions {
                crs,
                weight_field: self.weight_field.clone().unwrap_or_else(|| "weight".into()),
                max_points: MAX_UPLOAD_POINTS,
            },
        })
    }
}

/// One hot spot request, for GET and POST alike: the caller may read the stored data (GET,
/// [`Readers`]) or analyse an upload (POST, [`Analysts`]); then the query is parsed and checked;
/// then a POST's body is taken as the points.
pub struct HotspotRequest {
    /// The parameters.
    pub query: HotspotQuery,
    /// The points: the store's, or the upload.
    pub source: Source,
}

impl FromRequest<AppState> for HotspotRequest {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let upload = parts.method == Method::POST;
        let authorised = if upload {
            Auth::<Analysts>::from_request_parts(&mut parts, state)
                .await
                .map(drop)
        } else {
            Auth::<Readers>::from_request_parts(&mut parts, state)
                .await
                .map(drop)
        };
        authorised.map_err(IntoResponse::into_response)?;
        let query = HotspotQuery::parse(&parts.uri).map_err(IntoResponse::into_response)?;
        if !upload {
            let source = Source::Store(query.include.unwrap_or_default());
            return Ok(Self { query, source });
        }
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let source = query
            .upload(&content_type, body)
            .map_err(IntoResponse::into_response)?;
        Ok(Self { query, source })
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering

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

/// A CSV attachment `name.csv`: the header (comma-separated names), then the rows.
fn csv_response(
    name: &str,
    header_row: &str,
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Result<Response, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header_row.split(','))
        .map_err(ApiError::internal)?;
    for r in rows {
        w.write_record(&r).map_err(ApiError::internal)?;
    }
    let body = w.into_inner().map_err(ApiError::internal)?;
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
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

/// An area analysis as JSON rows, GeoJSON polygons or CSV (`csv_row` gives a row's fields in the
/// order of `header_row`).
fn area_table<R: Serialize>(
    format: Format,
    name: &str,
    header_row: &str,
    table: &AreaTable<R>,
    meta: Value,
    csv_row: impl Fn(&R) -> Vec<String>,
) -> Result<Response, ApiError> {
    match format {
        Format::Csv => csv_response(name, header_row, table.rows.iter().map(|(_, r)| csv_row(r))),
        Format::Geojson => Ok(geojson_response(
            table
                .rows
                .iter()
                .map(|(i, r)| {
                    json!({"type": "Feature", "geometry": polygon_coords(&table.areas.polygons[*i]), "properties": r})
                })
                .collect(),
            meta,
        )),
        _ => {
            let rows: Vec<&R> = table.rows.iter().map(|(_, r)| r).collect();
            Ok(Json(json!({"meta": meta, "rows": rows})).into_response())
        }
    }
}

/// What every answer says of its points: the CRS, the metric frame, how many, from where.
fn meta(s: &Selection, extra: Value) -> Value {
    let (lon, lat) = s.frame().origin();
    let mut m = json!({
        "crs": "EPSG:4326",
        "metric_frame": {"projection": "transverse_mercator", "ellipsoid": "WGS84", "lon_0": lon, "lat_0": lat, "k_0": 1.0, "units": "m"},
        "points": s.rows.len(),
        "source": if s.stored() { "store" } else { "upload" },
        "data_version": s.index.version(),
    });
    if let (Value::Object(a), Value::Object(b)) = (&mut m, extra) {
        a.extend(b);
    }
    m
}

/// Text of an owner code, empty when there is none.
fn or_empty(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The analyses. Each handler serves GET (the stored data) and POST (an upload); the POST
// operation is documented on a body-less declaration beside it, named as before.

/// Kernel density of the stored reports (quartic kernel, cases per km²) as a PNG for the map plus
/// its corners, bandwidth and peak.
#[utoipa::path(get, path = "/api/hotspots/kde", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    responses((status = 200, description = "JSON with a base64 PNG and its WGS84 corners, or image/png with format=png"),
        (status = 400, description = "invalid_parameter", body = ErrorBody), (status = 422, description = "no_points", body = ErrorBody)))]
pub async fn kde(
    State(state): State<AppState>,
    HotspotRequest { query: q, source }: HotspotRequest,
) -> Result<Response, ApiError> {
    let format = q.format(&[Format::Json, Format::Png])?;
    let params = KdeParams {
        bandwidth_m: q.bandwidth_m,
        cell_m: q.cell_m,
        method: q.method.unwrap_or_default(),
        max_cells: Some(MAX_KDE_CELLS),
        ..Default::default()
    };
    let hotspots = state.hotspots();
    let s = hotspots.select(source, q.filter()?).await?;
    let (raster, png) = hotspots
        .run(&s, move |a, s| {
            let raster = a.density(s, &params)?;
            let png = image::heat_png(&raster, None);
            Ok((raster, png))
        })
        .await?;
    let corners = raster.corners_wgs84();
    if format == Format::Png {
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
    Ok(Json(meta(&s, json!({
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
        "png_base64": base64::engine::general_purpose::STANDARD.encode(&png),
    })))
    .into_response())
}

// POST /api/hotspots/kde is served by `kde`.
/// Kernel density of an uploaded point set (GeoJSON FeatureCollection of Points, or CSV).
#[utoipa::path(post, path = "/api/hotspots/kde", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    request_body(content = String, description = "GeoJSON FeatureCollection of Points or CSV lon,lat[,weight][,time]"),
    responses((status = 200, description = "as GET"), (status = 400, description = "malformed_geojson, not_a_feature_collection, invalid_parameter", body = ErrorBody), (status = 422, description = "invalid_csv, invalid_feature, invalid_coordinate, unknown_crs", body = ErrorBody), (status = 413, description = "payload_too_large", body = ErrorBody)))]
pub fn kde_upload() {}

/// Counts per unit (grid, community, street or fishnet) with rates per km² and per km of
/// 门前三包 frontage, most first.
#[utoipa::path(get, path = "/api/hotspots/aggregate", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    responses((status = 200, description = "rows (JSON), GeoJSON polygons or CSV"), (status = 400, description = "invalid_parameter", body = ErrorBody)))]
pub async fn aggregate(
    State(state): State<AppState>,
    HotspotRequest { query: q, source }: HotspotRequest,
) -> Result<Response, ApiError> {
    let format = q.format(TABLE_FORMATS)?;
    let spec = q.areas()?;
    let hotspots = state.hotspots();
    let s = hotspots.select(source, q.filter()?).await?;
    let a = hotspots.aggregate(&s, spec, q.row_limit(format)).await?;
    let m = meta(
        &s,
        json!({"unit": spec.name(), "units": a.table.total, "outside_units": a.outside, "rates": {"per_km2": "reports per km²", "per_frontage_km": "门前三包 reports per km of frontage"}}),
    );
    area_table(
        format,
        "hotspot_aggregate",
        "code,name,count,area_km2,per_km2,frontage_count,frontage_km,per_frontage_km",
        &a.table,
        m,
        |r| {
            vec![
                r.code.clone(),
                r.name.clone(),
                r.count.to_string(),
                format!("{:.6}", r.area_km2),
                format!("{:.3}", r.per_km2),
                r.frontage_count.to_string(),
                format!("{:.4}", r.frontage_km),
                r.per_frontage_km
                    .map(|v| format!("{v:.3}"))
                    .unwrap_or_default(),
            ]
        },
    )
}

// POST /api/hotspots/aggregate is served by `aggregate`.
/// Counts per unit of an uploaded point set.
#[utoipa::path(post, path = "/api/hotspots/aggregate", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    request_body(content = String, description = "GeoJSON or CSV points"), responses((status = 200, description = "as GET"), (status = 400, description = "malformed_geojson, not_a_feature_collection, invalid_parameter", body = ErrorBody), (status = 422, description = "invalid_csv, invalid_feature, invalid_coordinate, unknown_crs, no_points", body = ErrorBody), (status = 413, description = "payload_too_large, too_large", body = ErrorBody)))]
pub fn aggregate_upload() {}

/// Getis-Ord Gi* per unit: z, p, FDR q and the ArcGIS bins −3…+3, hottest first.
#[utoipa::path(get, path = "/api/hotspots/gistar", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    responses((status = 200, description = "rows (JSON), GeoJSON polygons or CSV"), (status = 400, description = "invalid_parameter", body = ErrorBody), (status = 422, description = "no_points", body = ErrorBody)))]
pub async fn gistar(
    State(state): State<AppState>,
    HotspotRequest { query: q, source }: HotspotRequest,
) -> Result<Response, ApiError> {
    let format = q.format(TABLE_FORMATS)?;
    let p = q.gi()?;
    let hotspots = state.hotspots();
    let s = hotspots.select(source, q.filter()?).await?;
    let limit = q.row_limit(format);
    let g = hotspots.run(&s, move |a, s| a.gi_star(s, p, limit)).await?;
    let m = meta(
        &s,
        json!({
            "unit": p.areas.name(), "units": g.table.total, "weights": format!("{:?}", p.weights), "transform": p.transform,
            "mean_neighbours": g.mean_neighbours, "islands": g.islands,
            "statistic": "Getis-Ord Gi* (esda G_Local star=True analytical z); p two-sided normal; q Benjamini-Hochberg",
            "hot_99_fdr": g.hot_99_fdr, "cold_99_fdr": g.cold_99_fdr,
        }),
    );
    area_table(
        format,
        "hotspot_gistar",
        "code,name,count,neighbours,z,p,q,bin,bin_fdr",
        &g.table,
        m,
        |r| {
            vec![
                r.code.clone(),
                r.name.clone(),
                r.count.to_string(),
                r.neighbours.to_string(),
                format!("{:.9}", r.z),
                format!("{:.6e}", r.p),
                format!("{:.6e}", r.q),
                r.bin.to_string(),
                r.bin_fdr.to_string(),
            ]
        },
    )
}

// POST /api/hotspots/gistar is served by `gistar`.
/// Gi* of an uploaded point set.
#[utoipa::path(post, path = "/api/hotspots/gistar", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    request_body(content = String, description = "GeoJSON or CSV points"), responses((status = 200, description = "as GET"), (status = 400, description = "malformed_geojson, not_a_feature_collection, invalid_parameter", body = ErrorBody), (status = 422, description = "invalid_csv, invalid_feature, invalid_coordinate, unknown_crs, no_points", body = ErrorBody), (status = 413, description = "payload_too_large, too_large", body = ErrorBody)))]
pub fn gistar_upload() {}

/// Emerging hot spots on a weekly or monthly space-time cube (ArcGIS categories; units with no
/// pattern are counted in `meta.categories` but not listed).
#[utoipa::path(get, path = "/api/hotspots/emerging", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    responses((status = 200, description = "rows (JSON), GeoJSON polygons or CSV"), (status = 400, description = "invalid_parameter", body = ErrorBody)))]
pub async fn emerging(
    State(state): State<AppState>,
    HotspotRequest { query: q, source }: HotspotRequest,
) -> Result<Response, ApiError> {
    let format = q.format(TABLE_FORMATS)?;
    let (spec, weights) = (q.areas()?, q.weights()?);
    let p = EmergingParams {
        step: q.step.unwrap_or(Step::Week),
        time_neighbours: q.time_neighbours.unwrap_or(1),
        alpha: q.alpha.unwrap_or(0.05),
    };
    let hotspots = state.hotspots();
    let s = hotspots.select(source, q.filter()?).await?;
    let limit = q.row_limit(format);
    let e = hotspots
        .run(&s, move |a, s| a.emerging(s, spec, weights, &p, limit))
        .await?;
    let m = meta(
        &s,
        json!({"unit": spec.name(), "step": p.step, "steps": e.bins.len(), "first_step": e.bins.starts.first(), "last_step": e.bins.starts.last(), "time_neighbours": p.time_neighbours, "alpha": p.alpha, "categories": e.categories}),
    );
    area_table(
        format,
        "hotspot_emerging",
        "code,category,count,hot_steps,cold_steps,trend_z,trend_p",
        &e.table,
        m,
        |r| {
            vec![
                r.code.clone(),
                r.category.name(),
                r.count.to_string(),
                r.hot_steps.to_string(),
                r.cold_steps.to_string(),
                format!("{:.6}", r.trend_z),
                format!("{:.6e}", r.trend_p),
            ]
        },
    )
}

// POST /api/hotspots/emerging is served by `emerging`.
/// Emerging hot spots of an uploaded point set (needs a time per point).
#[utoipa::path(post, path = "/api/hotspots/emerging", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    request_body(content = String, description = "GeoJSON or CSV points with times"), responses((status = 200, description = "as GET"), (status = 400, description = "malformed_geojson, not_a_feature_collection, invalid_parameter", body = ErrorBody), (status = 422, description = "invalid_csv, invalid_feature, invalid_coordinate, unknown_crs, no_points", body = ErrorBody), (status = 413, description = "payload_too_large, too_large", body = ErrorBody)))]
pub fn emerging_upload() {}

/// 卫生死角: places where sanitation problems come back after being cleaned, ranked, with the
/// reports, owners and frontage shops as evidence.
#[utoipa::path(get, path = "/api/hotspots/blindspots", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    responses((status = 200, description = "ranked rows (JSON), GeoJSON points or CSV"), (status = 400, description = "invalid_parameter", body = ErrorBody)))]
pub async fn blindspots(
    State(state): State<AppState>,
    HotspotRequest { query: q, source }: HotspotRequest,
) -> Result<Response, ApiError> {
    let format = q.format(TABLE_FORMATS)?;
    let hotspots = state.hotspots();
    let mut filter = q.filter()?;
    if q.category.is_none() && source.is_store() {
        filter.categories = hotspots.sanitation_categories();
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
    let place = q.place.unwrap_or_default();
    let places = place.areas(q.size_m);
    let limit = q.limit.unwrap_or(200);
    let s = hotspots.select(source, filter).await?;
    let rows = hotspots
        .run(&s, move |a, s| a.blind_spots(s, places, &p, limit))
        .await?;
    let m = meta(
        &s,
        json!({"place": place, "min_reports": p.min_reports, "window_weeks": p.window_weeks, "min_after_close": p.min_after_close, "eps_m": p.eps_m, "min_contrast": p.min_contrast, "max_radius_m": p.max_radius_m, "ring_m": p.ring_m}),
    );
    match format {
        Format::Csv => csv_response(
            "blindspots",
            "rank,lon,lat,radius_m,reports,window_reports,window_start,after_close,grid,community,street,shops,report_ids",
            rows.iter().map(|r| {
                let shops: Vec<String> =
                    r.shops.iter().map(|s| format!("{} {}", s.code, s.shop)).collect();
                let ids: Vec<&str> = r.evidence.iter().map(|e| e.id.as_str()).collect();
                vec![
                    r.rank.to_string(),
                    format!("{:.7}", r.lon),
                    format!("{:.7}", r.lat),
                    format!("{:.1}", r.radius_m),
                    r.reports.to_string(),
                    r.window_reports.to_string(),
                    r.window_start.to_rfc3339(),
                    r.after_close.to_string(),
                    or_empty(&r.owners[0]),
                    or_empty(&r.owners[1]),
                    or_empty(&r.owners[2]),
                    shops.join("; "),
                    ids.join(" "),
                ]
            }),
        ),
        Format::Geojson => Ok(geojson_response(
            rows.iter()
                .map(|r| json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round7(r.lon), round7(r.lat)]}, "properties": r}))
                .collect(),
            m,
        )),
        _ => Ok(Json(json!({"meta": m, "rows": rows})).into_response()),
    }
}

// POST /api/hotspots/blindspots is served by `blindspots`.
/// Blind spots of an uploaded point set (needs times; closes where known).
#[utoipa::path(post, path = "/api/hotspots/blindspots", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    request_body(content = String, description = "GeoJSON or CSV points with time and closed"), responses((status = 200, description = "as GET"), (status = 400, description = "malformed_geojson, not_a_feature_collection, invalid_parameter", body = ErrorBody), (status = 422, description = "invalid_csv, invalid_feature, invalid_coordinate, unknown_crs, no_points", body = ErrorBody), (status = 413, description = "payload_too_large, too_large", body = ErrorBody)))]
pub fn blindspots_upload() {}

/// Where the problems concentrate: urban villages, railway 50/100/200 m, back alleys, the rest;
/// load and hot spot area shares, per km² and per km of street, with quotable sentences.
#[utoipa::path(get, path = "/api/hotspots/zones", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    responses((status = 200, description = "rows and sentences (JSON) or CSV"), (status = 400, description = "invalid_parameter", body = ErrorBody), (status = 422, description = "no_points", body = ErrorBody)))]
pub async fn zones(
    State(state): State<AppState>,
    HotspotRequest { query: q, source }: HotspotRequest,
) -> Result<Response, ApiError> {
    let format = q.format(&[Format::Json, Format::Csv])?;
    let p = q.gi()?;
    let hotspots = state.hotspots();
    let s = hotspots.select(source, q.filter()?).await?;
    let z = hotspots.zones(&s, p).await?;
    let m = meta(
        &s,
        json!({"unit": p.areas.name(), "weights": format!("{:?}", p.weights), "hotspot_rule": "Gi* bin ≥ 3 (99 %) after FDR correction; a zone's share is the weight of the reports in such units that lie in the zone over the weight of all reports in them (by report, not by unit centre)", "sample_m": ZONE_SAMPLE_M}),
    );
    match format {
        Format::Csv => csv_response(
            "hotspot_zones",
            "zone,name,reports,load_share,area_km2,per_km2,street_km,per_street_km,hotspot99_share,hotspot90_share",
            z.rows.iter().map(|r| {
                vec![
                    r.zone.clone(),
                    r.name.clone(),
                    r.reports.to_string(),
                    format!("{:.4}", r.load_share),
                    format!("{:.4}", r.area_km2),
                    format!("{:.2}", r.per_km2),
                    format!("{:.3}", r.street_km),
                    format!("{:.3}", r.per_street_km),
                    format!("{:.4}", r.hotspot99_share),
                    format!("{:.4}", r.hotspot90_share),
                ]
            }),
        ),
        _ => Ok(Json(json!({"meta": m, "rows": z.rows, "sentences_zh": z.sentences_zh, "sentences_en": z.sentences_en})).into_response()),
    }
}

// POST /api/hotspots/zones is served by `zones`.
/// Zone breakdown of an uploaded point set (in the city).
#[utoipa::path(post, path = "/api/hotspots/zones", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    request_body(content = String, description = "GeoJSON or CSV points"), responses((status = 200, description = "as GET"), (status = 400, description = "malformed_geojson, not_a_feature_collection, invalid_parameter", body = ErrorBody), (status = 422, description = "invalid_csv, invalid_feature, invalid_coordinate, unknown_crs, no_points", body = ErrorBody), (status = 413, description = "payload_too_large, too_large", body = ErrorBody)))]
pub fn zones_upload() {}

/// Most rows of the frontage ranking.
const MAX_FRONTAGES: usize = 1_000;

/// The 门前三包 frontages with the most reports in their strips (stored reports, same filters),
/// most first; `limit` rows (default 20).
#[utoipa::path(get, path = "/api/hotspots/frontages", tag = "hotspots", security(("bearer" = [])), params(HotspotQuery),
    responses((status = 200, body = [FrontageRow]), (status = 400, description = "invalid_parameter", body = ErrorBody)))]
pub async fn frontages(
    State(state): State<AppState>,
    HotspotRequest { query: q, source }: HotspotRequest,
) -> Result<Json<Vec<FrontageRow>>, ApiError> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=MAX_FRONTAGES).contains(&limit) {
        return Err(bad(format!("limit must be 1–{MAX_FRONTAGES}, got {limit}")));
    }
    let hotspots = state.hotspots();
    let s = hotspots.select(source, q.filter()?).await?;
    let rows = hotspots
        .run(&s, move |_, s| Ok(service::frontages(s, limit)))
        .await?;
    Ok(Json(rows))
}

/// The OpenAPI schema of a frontage row: the row is the hot spot service's, which carries no
/// OpenAPI derive (the domain stays free of the HTTP layer).
impl utoipa::PartialSchema for FrontageRow {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let schema = json!({
            "type": "object",
            "description": "One frontage with its reports.",
            "required": ["code", "name", "count", "length_m", "per_100m"],
            "properties": {
                "code": {"type": "string", "description": "Frontage code."},
                "name": {"type": "string", "description": "The shop or organisation answering for it."},
                "unit_code": {"type": ["string", "null"], "description": "Its responsible unit."},
                "count": {"type": "integer", "format": "int32", "minimum": 0, "description": "Reports in its strip."},
                "length_m": {"type": "number", "format": "double", "description": "Length of the frontage, metres."},
                "per_100m": {"type": "number", "format": "double", "description": "Reports per 100 m of frontage (so a long façade does not win by size alone)."}
            }
        });
        utoipa::openapi::RefOr::T(serde_json::from_value(schema).unwrap_or_default())
    }
}

impl utoipa::ToSchema for FrontageRow {}
