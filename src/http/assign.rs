//! `GET /api/assign` (one point, the full chain with reasons) and `POST /api/assign/batch`
//! (CSV or GeoJSON in, CSV, GeoJSON or JSON out, streamed).

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiQuery;
use crate::assign::Assignment;
use crate::assign::batch::{self, BatchError, CsvPoints, Format, InputPoint};
use crate::domain::crs::{CoordError, Crs};
use crate::engine::AssignError;

impl From<CoordError> for ApiError {
    fn from(e: CoordError) -> Self {
        let code = match e {
            CoordError::LooksSwapped { .. } => "swapped_coordinates",
            CoordError::OutsideArea { .. } => "outside_area",
            _ => "invalid_coordinate",
        };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string())
    }
}

/// 409 `no_city_data` while no jurisdiction layer is published (a fresh `--no-demo` store): the
/// honest answer instead of `outside_area` around a city that does not exist yet.
fn require_city(index: &crate::assign::CityIndex) -> Result<(), ApiError> {
    if index.has_jurisdictions() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_city_data",
            "尚未发布任何辖区图层。No jurisdiction layers are published yet: import the district layer first \
             (POST /api/import/layers/district, see docs/import.md)",
        ))
    }
}

impl From<AssignError> for ApiError {
    fn from(e: AssignError) -> Self {
        match e {
            AssignError::Coordinate(c) => c.into(),
            AssignError::UnknownCategory(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_category",
                e.to_string(),
            ),
            AssignError::NothingValid(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_data_on_date",
                e.to_string(),
            ),
            AssignError::Store(s) => s.into(),
        }
    }
}

impl From<BatchError> for ApiError {
    fn from(e: BatchError) -> Self {
        match e {
            BatchError::TooLarge(_) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch_too_large",
                e.to_string(),
            ),
            BatchError::MissingColumns(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "missing_columns",
                e.to_string(),
            ),
            BatchError::BadLine { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_csv",
                e.to_string(),
            ),
            BatchError::BadGeoJson(_) => ApiError::bad_request("malformed_geojson", e.to_string()),
        }
    }
}

fn parse_crs(crs: Option<&str>) -> Result<Crs, ApiError> {
    super::params::crs(crs).map(Option::unwrap_or_default)
}

/// A point to assign.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PointQuery {
    /// Longitude (first), degrees.
    pub lon: f64,
    /// Latitude, degrees.
    pub lat: f64,
    /// wgs84 (default), cgcs2000, gcj02 (AMap/高德, Tencent) or bd09 (Baidu).
    pub crs: Option<String>,
    /// Answer from the jurisdictions valid on this date (UTC+8) or instant.
    pub as_of: Option<String>,
    /// Category code (e.g. 0101 暴露垃圾) to name the responsible department.
    pub category: Option<String>,
}

/// Who owns this point: district, street, community, grid, 门前三包 frontages, zones, the
/// department for the category, and the fallback owner, each with a reason (public).
#[utoipa::path(get, path = "/api/assign", tag = "assign", params(PointQuery),
    responses((status = 200, description = "the owner chain", body = Object), (status = 422, body = ErrorBody)))]
pub async fn assign_point(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PointQuery>,
) -> Result<Json<Assignment>, ApiError> {
    let engine = state.engine();
    let crs = parse_crs(q.crs.as_deref())?;
    let category = q
        .category
        .as_deref()
        .map(|c| engine.category(c).map(|(_, c)| c))
        .transpose()?;
    let index = match q.as_of.as_deref() {
        Some(text) => engine.at(super::params::instant("as_of", text)?).await?,
        None => engine.current(),
    };
    require_city(&index)?;
    let (lon, lat) = engine.to_wgs84(&index, q.lon, q.lat, crs)?;
    metrics::counter!("wangge_assign_points_total", "mode" => "single").increment(1);
    Ok(Json(index.assign(lon, lat, crs, category.as_ref())))
}

/// Options of a batch.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BatchQuery {
    /// Coordinate system of every point: wgs84 (default), cgcs2000, gcj02, bd09.
    pub crs: Option<String>,
    /// Output: csv (default for CSV input), geojson (default for GeoJSON input) or json.
    pub format: Option<String>,
}

/// Assigns many points: a CSV with `id,lon,lat` columns (streamed) or a GeoJSON FeatureCollection
/// of Points. Rows with bad coordinates come back with `status=error` and an error code (public).
#[utoipa::path(post, path = "/api/assign/batch", tag = "assign", params(BatchQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, description = "one row per point"), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn assign_batch(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<BatchQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let crs = parse_crs(q.crs.as_deref())?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_csv = content_type.starts_with("text/csv") || content_type.starts_with("text/plain");
    let format = match q.format.as_deref() {
        Some(f) => Format::parse(f).ok_or_else(|| {
            super::params::invalid(format!("format {f:?} must be csv, geojson or json"))
        })?,
        None if is_csv => Format::Csv,
        None => Format::GeoJson,
    };
    let settings = state.settings();
    let (max_points, max_bytes) = (
        settings.assign_batch_max_points,
        settings.assign_batch_max_bytes,
    );
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max_bytes) {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "the batch body is larger than {max_bytes} bytes; split it into smaller batches"
            ),
        ));
    }
    let engine = state.engine().clone();
    let index = engine.current();
    require_city(&index)?;
    let area = engine.plausible_area(&index);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);

    if is_csv {
        // Read until the header is understood, so a wrong file gets a 4xx rather than a broken
        // stream; then stream the rest.
        let mut stream = body.into_data_stream();
        let mut reader = CsvPoints::default();
        let mut first_points: Vec<InputPoint> = Vec::new();
        let mut seen = 0usize;
        let mut ended = false;
        while !reader.has_header() {
            match stream.next().await {
                Some(Ok(bytes)) => {
                    seen += bytes.len();
                    first_points.extend(reader.feed(&bytes)?);
                }
                Some(Err(e)) => {
                    return Err(ApiError::bad_request("unreadable_body", e.to_string()));
                }
                None => {
                    first_points.extend(reader.finish()?);
                    ended = true;
                    break;
                }
            }
        }
        tokio::spawn(async move {
            let fail = |msg: String| std::io::Error::other(msg);
            let mut count = 0usize;
            let mut wrote_any = false;
            let mut pending = first_points;
            if tx
                .send(Ok(Bytes::from(batch::header(format))))
                .await
                .is_err()
            {
                return;
            }
            loop {
                let done = ended;
                if !done && pending.len() < batch::CHUNK {
                    match stream.next().await {
                        Some(Ok(bytes)) => {
                            seen += bytes.len();
                            if seen > max_bytes {
                                let _ = tx
                                    .send(Err(fail(format!(
                                        "batch_too_large: more than {max_bytes} bytes"
                                    ))))
                                    .await;
                                return;
                            }
                            match reader.feed(&bytes) {
                                Ok(p) => pending.extend(p),
                                Err(e) => {
                                    let _ = tx.send(Err(fail(e.to_string()))).await;
                                    return;
                                }
                            }
                            continue;
                        }
                        Some(Err(e)) => {
                            let _ = tx.send(Err(fail(e.to_string()))).await;
                            return;
                        }
                        None => {
                            ended = true;
                            match reader.finish() {
                                Ok(p) => pending.extend(p),
                                Err(e) => {
                                    let _ = tx.send(Err(fail(e.to_string()))).await;
                                    return;
                                }
                            }
                        }
                    }
                }
                let take = pending.len().min(batch::CHUNK);
                let chunk: Vec<InputPoint> = pending.drain(..take).collect();
                count += chunk.len();
                if count > max_points {
                    let _ = tx
                        .send(Err(fail(format!(
                            "batch_too_large: more than {max_points} points"
                        ))))
                        .await;
                    return;
                }
                if !chunk.is_empty() {
                    let (index, area) = (index.clone(), area.clone());
                    let first = !wrote_any;
                    wrote_any = true;
                    let out = tokio::task::spawn_blocking(move || {
                        let mut out = Vec::new();
                        batch::process_chunk(&index, &area, crs, &chunk, format, first, &mut out);
                        out
                    })
                    .await;
                    let Ok(out) = out else { return };
                    metrics::counter!("wangge_assign_points_total", "mode" => "batch")
                        .increment(take as u64);
                    if tx.send(Ok(Bytes::from(out))).await.is_err() {
                        return;
                    }
                }
                if ended && pending.is_empty() {
                    let _ = tx.send(Ok(Bytes::from(batch::footer(format)))).await;
                    return;
                }
            }
        });
    } else {
        let bytes = axum::body::to_bytes(body, max_bytes).await.map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch_too_large",
                format!("the batch body is larger than {max_bytes} bytes"),
            )
        })?;
        let points = tokio::task::spawn_blocking(move || batch::geojson_points(&bytes, max_points))
            .await
            .map_err(ApiError::internal)??;
        tokio::spawn(async move {
            if tx
                .send(Ok(Bytes::from(batch::header(format))))
                .await
                .is_err()
            {
                return;
            }
            let points = std::sync::Arc::new(points);
            let mut start = 0;
            while start < points.len() {
                let end = (start + batch::CHUNK).min(points.len());
                let (index, area, pts) = (index.clone(), area.clone(), points.clone());
                let out = tokio::task::spawn_blocking(move || {
                    let mut out = Vec::new();
                    batch::process_chunk(
                        &index,
                        &area,
                        crs,
                        &pts[start..end],
                        format,
                        start == 0,
                        &mut out,
                    );
                    out
                })
                .await;
                let Ok(out) = out else { return };
                metrics::counter!("wangge_assign_points_total", "mode" => "batch")
                    .increment((end - start) as u64);
                if tx.send(Ok(Bytes::from(out))).await.is_err() {
                    return;
                }
                start = end;
            }
            let _ = tx.send(Ok(Bytes::from(batch::footer(format)))).await;
        });
    }
    // Fused: the compression layer polls a body once more after its end, and a bare `unfold`
    // panics when polled after it returned `None` (that cut gzip answers off mid-stream).
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .fuse();
    Ok((
        [(header::CONTENT_TYPE, format.content_type())],
        Body::from_stream(stream),
    )
        .into_response())
}
