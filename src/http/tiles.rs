//! `GET /tiles/{layer}/{z}/{x}/{y}.mvt`: Mapbox Vector Tiles of the big layers, cut from the
//! engine's in-memory [`TileSet`](crate::tiles::TileSet), with ETags that change with the data.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiPath;
use crate::tiles::{self, TileLayer};

/// Media type of an MVT tile.
pub const MVT: &str = "application/vnd.mapbox-vector-tile";
/// Short enough that a published edit shows within a minute; revalidation is a cheap 304.
const CACHE_CONTROL: &str = "public, max-age=60";

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_tile", message)
}

/// Parses `z`, `x` and `y.mvt` of an XYZ address.
fn parse_address(z: &str, x: &str, file: &str) -> Result<(u8, u32, u32), ApiError> {
    let y = file
        .strip_suffix(".mvt")
        .ok_or_else(|| invalid(format!("{file:?} must be a row number followed by .mvt")))?;
    let num = |s: &str| {
        // Only plain decimal digits: "+1" or " 1" would make several URLs of one tile.
        (!s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| invalid(format!("tile address part {s:?} is not a number")))
    };
    let (z, x, y) = (num(z)?, num(x)?, num(y)?);
    let z = u32::try_from(z).map_err(|_| invalid(format!("zoom {z} is out of range")))?;
    tiles::check_address(z, x, y).map_err(|e| invalid(e.to_string()))?;
    // check_address bounds z by 24 and x, y below 2^z, so these conversions cannot fail.
    Ok((z as u8, x as u32, y as u32))
}

/// A weak tag: the gzip and the identity form of a tile are the same tile (RFC 9110 §8.8.1), and
/// `If-None-Match` compares weakly anyway.
fn etag(version: i64, layer: TileLayer, z: u8, x: u32, y: u32) -> String {
    let digest = Sha256::digest(format!("{version}/{}/{z}/{x}/{y}", layer.as_str()));
    format!("W/\"{}\"", &hex::encode(digest)[..20])
}

/// Whether `Accept-Encoding` admits gzip (a `gzip` or `*` coding whose q is not 0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("").to_ascii_lowercase();
            let q_zero = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding == "gzip" || coding == "*") && !q_zero
        })
}

/// `If-None-Match` holds this tag (or `*`); weak tags compare equal too (RFC 9110 §13.1.2).
fn matches(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| {
            let weak = |s: &'_ str| s.strip_prefix("W/").unwrap_or(s).to_owned();
            t == "*" || weak(t) == weak(tag)
        })
}

/// One vector tile (public). Web Mercator XYZ scheme, extent 4096, buffer 64; layers `street`,
/// `community` (z10–18), `grid` (z12–18) and `frontage` (z14–18). Outside a layer's zoom range or
/// where it has no feature the answer is 204 No Content, as tile servers answer (MapLibre draws
/// nothing there). Tiles come from the tile cache, gzip-compressed to clients that accept gzip.
#[utoipa::path(get, path = "/tiles/{layer}/{z}/{x}/{y}.mvt", tag = "layers", params(
        ("layer" = String, Path, description = "street, community, grid or frontage"),
        ("z" = u32, Path, description = "zoom, 0–24 (features at 10–18)"),
        ("x" = u32, Path, description = "column, below 2^z"),
        ("y" = u32, Path, description = "row, below 2^z (north first)")),
    responses(
        (status = 200, description = "Mapbox Vector Tile (gzip-encoded when accepted)", content_type = "application/vnd.mapbox-vector-tile"),
        (status = 204, description = "no feature of the layer in this tile"),
        (status = 304, description = "unchanged since the ETag given in If-None-Match"),
        (status = 400, description = "invalid_tile", body = ErrorBody),
        (status = 404, description = "not_found: no such layer", body = ErrorBody)))]
pub async fn tile(
    State(state): State<AppState>,
    ApiPath((layer, z, x, file)): ApiPath<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let layer = TileLayer::parse(&layer).ok_or_else(|| {
        ApiError::not_found(format!(
            "tile layer {layer:?} does not exist; expected street, community, grid or frontage"
        ))
    })?;
    let (z, x, y) = parse_address(&z, &x, &file)?;
    // One tile set for the whole request: its version names the ETag and cuts the tile.
    let set = state.live().tiles();
    let tag = etag(set.version(), layer, z, x, y);
    let tag_value = HeaderValue::from_str(&tag).map_err(ApiError::internal)?;
    let cache = HeaderValue::from_static(CACHE_CONTROL);
    if matches(&headers, &tag) {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, tag_value), (header::CACHE_CONTROL, cache)],
        )
            .into_response());
    }
    let tile = state.tile_cache().tile(set, layer, z, x, y).await;
    let vary = HeaderValue::from_static("accept-encoding");
    if tile.is_empty() {
        return Ok((
            StatusCode::NO_CONTENT,
            [
                (header::ETAG, tag_value),
                (header::CACHE_CONTROL, cache),
                (header::VARY, vary),
            ],
        )
            .into_response());
    }
    let common = [
        (header::CONTENT_TYPE, HeaderValue::from_static(MVT)),
        (header::ETAG, tag_value),
        (header::CACHE_CONTROL, cache),
        (header::VARY, vary),
    ];
    if accepts_gzip(&headers) {
        // Already compressed: the compression layer passes a response with a Content-Encoding
        // through untouched.
        Ok((
            common,
            [(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))],
            Body::from(tile.gzip.clone()),
        )
            .into_response())
    } else {
        Ok((common, Body::from(tile.raw())).into_response())
    }
}

/// Filters of the case tiles.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseTileQuery {
    /// Category code.
    pub category: Option<String>,
    /// One status; default: every open status.
    pub status: Option<String>,
    /// Reported at or after (RFC 3339).
    pub from: Option<String>,
    /// Reported before (RFC 3339).
    pub to: Option<String>,
}

/// Zoom from which every case is its own pin.
const CASE_PINS_FROM_ZOOM: u8 = 15;
/// Cluster cell below that zoom, pixels of a 256 px tile.
const CASE_CLUSTER_PX: u32 = 48;
/// Most cases read for one tile; beyond it the newest are shown (clusters count them).
const CASE_TILE_LIMIT: i64 = 10_000;

/// Live cases as a vector tile (any staff role; layer `cases`): below z15 clustered on the
/// server (`cluster`, `point_count`, the worst `light`, the `overdue` count), from z15 one pin per
/// case (`id`, `status`, `light`, `category`). Not cached by proxies: cases change by the minute.
#[utoipa::path(get, path = "/tiles/cases/{z}/{x}/{y}.mvt", tag = "cases", security(("bearer" = [])), params(
        ("z" = u32, Path, description = "zoom"),
        ("x" = u32, Path, description = "column"),
        ("y" = u32, Path, description = "row, north first"),
        CaseTileQuery),
    responses(
        (status = 200, description = "Mapbox Vector Tile (possibly empty)", content_type = "application/vnd.mapbox-vector-tile"),
        (status = 400, description = "invalid_tile", body = ErrorBody)))]
pub async fn cases_tile(
    State(state): State<AppState>,
    _auth: super::auth::Auth<super::auth::Staff>,
    ApiPath((z, x, file)): ApiPath<(String, String, String)>,
    super::extract::ApiQuery(q): super::extract::ApiQuery<CaseTileQuery>,
) -> Result<Response, ApiError> {
    let (z, x, y) = parse_address(&z, &x, &file)?;
    let status = super::cases::parse_status(q.status.as_deref())?;
    let [w, s, e, n] = tiles::tile_bounds(z, x, y);
    let page = state
        .cases()
        .list(&crate::store::CaseFilter {
            status,
            category: q.category,
            bbox: Some([w, s, e, n]),
            from: super::params::optional_instant("from", q.from.as_deref())?,
            to: super::params::optional_instant("to", q.to.as_deref())?,
            limit: CASE_TILE_LIMIT,
            ..Default::default()
        })
        .await?;
    let points: Vec<tiles::points::CasePoint> = page
        .cases
        .into_iter()
        .filter(|c| status.is_some() || !c.case.status.is_final())
        .map(|v| tiles::points::CasePoint {
            id: v.case.id,
            lon: v.case.lon,
            lat: v.case.lat,
            status: v.case.status.as_str().into(),
            light: v
                .clocks
                .light
                .or(v.clocks.step_light)
                .map(|l| {
                    serde_json::to_value(l)
                        .ok()
                        .and_then(|j| j.as_str().map(str::to_owned))
                        .unwrap_or_default()
                })
                .unwrap_or_default(),
            category: v.case.category,
            overdue: v.clocks.overdue,
        })
        .collect();
    let body = tiles::points::cases_tile(&points, z, x, y, CASE_PINS_FROM_ZOOM, CASE_CLUSTER_PX);
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(MVT)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-cache"),
            ),
        ],
        Body::from(body),
    )
        .into_response())
}
