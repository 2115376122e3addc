//! Admin imports: jurisdiction layers (GeoJSON, any declared coordinate system), basemap lines,
//! responsible units (CSV) and OpenStreetMap PBF. A refused import answers 422 with the full
//! validation report and leaves the store exactly as it was.

use std::str::FromStr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::{AdminOnly, Auth};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery, RequestId};
use crate::domain::crs::CoordError;
use crate::domain::jurisdiction::{Layer, parse_as_of};
use crate::import::guard::{Refusal, RemovalGuard};
use crate::import::{self, ImportError, LayerImportOptions};

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        let e = match e {
            ImportError::Store(s) => return s.into(),
            // The part's error, with the part named: `grid.geojson: feature #3 …`.
            ImportError::InPackage { part, source } => {
                let mut inner = ApiError::from(*source);
                inner.message = format!("{part}: {}", inner.message);
                return inner;
            }
            other => other,
        };
        let unprocessable = |code, e: &ImportError| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string())
        };
        match &e {
            ImportError::MalformedGeoJson(_) => {
                ApiError::bad_request("malformed_geojson", e.to_string())
            }
            ImportError::NotAFeatureCollection => {
                ApiError::bad_request("not_a_feature_collection", e.to_string())
            }
            ImportError::BadFeature { .. } => unprocessable("invalid_feature", &e),
            ImportError::BadCsv { .. } => unprocessable("invalid_csv", &e),
            ImportError::BadCoordinate { source, .. } => match source {
                CoordError::LooksSwapped { .. } => unprocessable("swapped_coordinates", &e),
                CoordError::OutsideArea { .. } => unprocessable("outside_area", &e),
                _ => unprocessable("invalid_coordinate", &e),
            },
            ImportError::Crs(_) => unprocessable("unknown_crs", &e),
            ImportError::Osm(_) => ApiError::bad_request("malformed_osm", e.to_string()),
            ImportError::Text { .. } => ApiError::bad_request("invalid_text", e.to_string()),
            ImportError::Removal(Refusal::Empty) => unprocessable("empty_upload", &e),
            ImportError::Removal(Refusal::WouldRemove { .. }) => {
                ApiError::new(StatusCode::CONFLICT, "import_would_remove", e.to_string())
            }
            ImportError::TooManyVertices(_) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_many_vertices",
                format!("图形顶点过多。{e}"),
            ),
            ImportError::Cancelled(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "cancelled", e.to_string())
            }
            ImportError::Package(_) => unprocessable("invalid_package", &e),
            ImportError::Io { .. } | ImportError::Store(_) | ImportError::InPackage { .. } => {
                ApiError::bad_request("unreadable_input", e.to_string())
            }
        }
    }
}

/// The body as text; an empty one is always refused, whatever it would replace.
fn text(body: &Bytes) -> Result<String, ApiError> {
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::bad_request("not_utf8", "the body must be UTF-8 text"))?;
    if text.trim().trim_start_matches('\u{feff}').is_empty() {
        return Err(ImportError::Removal(Refusal::Empty).into());
    }
    Ok(text)
}

/// The admin's confirmation that an import may remove live features.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemovalQuery {
    /// The exact number of live features the import removes, when that is more than the allowed
    /// share (`WANGGE_IMPORT_MAX_REMOVAL_SHARE`, default 20 %); the refusal names it.
    pub confirm_removal: Option<u64>,
}

impl RemovalQuery {
    fn guard(&self, state: &AppState) -> RemovalGuard {
        RemovalGuard {
            max_share: state.settings().import_max_removal_share,
            confirmed: self.confirm_removal,
        }
    }
}

use super::params::crs as parse_crs;

/// Options of a layer import.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LayerImportQuery {
    /// wgs84 (default), cgcs2000, gcj02 or bd09.
    pub crs: Option<String>,
    /// Publish despite warnings (errors always refuse).
    #[serde(default)]
    pub accept_warnings: bool,
    /// Validate only.
    #[serde(default)]
    pub dry_run: bool,
    /// The new version is valid from this date (UTC+8) or instant; default now.
    pub valid_from: Option<String>,
    /// `json` (default) or `geojson`: the validation report as a FeatureCollection.
    pub report: Option<String>,
}

impl LayerImportQuery {
    /// The import options these parameters ask for.
    fn options(
        &self,
        state: &AppState,
        removal: &RemovalQuery,
        source: String,
    ) -> Result<LayerImportOptions, ApiError> {
        let valid_from = self
            .valid_from
            .as_deref()
            .map(parse_as_of)
            .transpose()
            .map_err(|e| ApiError::bad_request("invalid_date", e.to_string()))?;
        Ok(LayerImportOptions {
            crs: parse_crs(self.crs.as_deref())?,
            valid_from,
            accept_warnings: self.accept_warnings,
            dry_run: self.dry_run,
            source,
            removal: removal.guard(state),
            limits: state.settings().import_limits,
            ..LayerImportOptions::default()
        })
    }

    /// The answer to an import: 422 when refused, 201 when published, 200 for a passed dry run;
    /// the outcome as JSON (with `code` and `message` when refused) or, with `report=geojson`,
    /// the findings as a FeatureCollection.
    fn answer(
        &self,
        outcome: &impl serde::Serialize,
        findings: impl FnOnce() -> geojson::FeatureCollection,
        refused: bool,
        published: bool,
        (errors, warnings): (usize, usize),
        what: &str,
    ) -> Result<Response, ApiError> {
        let status = if refused {
            StatusCode::UNPROCESSABLE_ENTITY
        } else if published {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        if self.report.as_deref() == Some("geojson") {
            return Ok((
                status,
                [(header::CONTENT_TYPE, "application/geo+json")],
                findings().to_string(),
            )
                .into_response());
        }
        let mut body = serde_json::to_value(outcome).map_err(ApiError::internal)?;
        if refused {
            body["code"] = json!("import_refused");
            body["message"] = json!(format!(
                "{what}: {errors} errors, {warnings} warnings{}; nothing was stored",
                if errors == 0 {
                    " (pass accept_warnings=true to accept warnings)"
                } else {
                    ""
                }
            ));
        }
        Ok((status, Json(body)).into_response())
    }
}

/// Imports a whole layer from a GeoJSON FeatureCollection and publishes it as a new version (admin).
#[utoipa::path(post, path = "/api/import/layers/{layer}", tag = "import", security(("bearer" = [])),
    params(("layer" = String, Path, description = "district, street, community, grid, frontage or zone"), LayerImportQuery, RemovalQuery),
    request_body(content = String, content_type = "application/geo+json"),
    responses((status = 201, description = "published"), (status = 200, description = "dry run passed"),
        (status = 422, description = "refused, with the validation report"), (status = 400, body = ErrorBody),
        (status = 413, description = "too_many_vertices: a feature or the upload is over the vertex limits", body = ErrorBody)))]
pub async fn import_layer(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiPath(layer): ApiPath<String>,
    ApiQuery(q): ApiQuery<LayerImportQuery>,
    ApiQuery(removal): ApiQuery<RemovalQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let layer = Layer::from_str(&layer).map_err(|e| ApiError::not_found(e.to_string()))?;
    let options = q.options(
        &state,
        &removal,
        format!("API import by {}", auth.principal.username),
    )?;
    let log = |line: &str| tracing::info!("{line}");
    let outcome = import::import_layer(
        state.store(),
        layer,
        text(&body)?,
        &options,
        &req_id.audit(&auth.principal),
        &log,
    )
    .await?;
    if outcome.published.is_some() {
        state.engine().reload_if_changed().await?;
    }
    q.answer(
        &outcome,
        || outcome.report.to_geojson(),
        outcome.refused,
        outcome.published.is_some(),
        (outcome.report.errors, outcome.report.warnings),
        "导入被拒绝。The import was refused",
    )
}

/// Options of a basemap import.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CrsQuery {
    /// wgs84 (default), cgcs2000, gcj02 or bd09.
    pub crs: Option<String>,
}

/// Replaces the basemap lines of one kind (road, railway, water) from GeoJSON (admin).
#[utoipa::path(post, path = "/api/import/basemap/{kind}", tag = "import", security(("bearer" = [])),
    params(("kind" = String, Path, description = "road, railway or water"), CrsQuery, RemovalQuery),
    request_body(content = String, content_type = "application/geo+json"),
    responses((status = 201, description = "imported"), (status = 422, body = ErrorBody)))]
pub async fn import_basemap(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiPath(kind): ApiPath<String>,
    ApiQuery(q): ApiQuery<CrsQuery>,
    ApiQuery(removal): ApiQuery<RemovalQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    if !matches!(kind.as_str(), "road" | "railway" | "water") {
        return Err(ApiError::not_found(format!(
            "basemap kind {kind:?} does not exist; expected road, railway or water"
        )));
    }
    let crs = parse_crs(q.crs.as_deref())?;
    let n = import::service::import_basemap(
        state.store(),
        &kind,
        &text(&body)?,
        crs,
        removal.guard(&state),
        &req_id.audit(&auth.principal),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "kind": kind, "imported": n })),
    ))
}

/// Creates or updates responsible units from CSV `code,name,kind,parent_code` (admin).
#[utoipa::path(post, path = "/api/import/units", tag = "import", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 201, description = "imported"), (status = 422, body = ErrorBody)))]
pub async fn import_units(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let n =
        import::import_units(state.store(), &text(&body)?, &req_id.audit(&auth.principal)).await?;
    Ok((StatusCode::CREATED, Json(json!({ "imported": n }))))
}

/// Imports historical reports from CSV `id,reported_at,category,lon,lat[,channel][,closed_at]`,
/// each assigned to its owners by the current index (admin).
#[utoipa::path(post, path = "/api/import/history", tag = "import", security(("bearer" = [])), params(CrsQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 201, description = "imported"), (status = 422, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn import_history(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiQuery(q): ApiQuery<CrsQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let crs = parse_crs(q.crs.as_deref())?;
    let source = format!("API import by {}", auth.principal.username);
    let n = import::service::import_history(
        state.store(),
        state.engine().current(),
        text(&body)?,
        crs,
        &source,
        &req_id.audit(&auth.principal),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "imported": n }))))
}

/// Replaces the basemap roads, railways and buildings from an OpenStreetMap PBF file (admin).
#[utoipa::path(post, path = "/api/import/osm", tag = "import", security(("bearer" = [])), params(RemovalQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "imported"), (status = 400, body = ErrorBody),
        (status = 422, description = "empty_upload: the file holds no roads, railways or buildings", body = ErrorBody)))]
pub async fn import_osm(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiQuery(removal): ApiQuery<RemovalQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<import::service::OsmOutcome>), ApiError> {
    let log = |line: &str| tracing::info!("{line}");
    let outcome = import::import_osm(
        state.store(),
        body.to_vec(),
        removal.guard(&state),
        &req_id.audit(&auth.principal),
        &log,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(outcome)))
}

/// Checks a whole city package (units, basemap, every layer, categories, holiday years) in one
/// dry run, parents resolved inside the package, and publishes it in one transaction (admin).
#[utoipa::path(post, path = "/api/import/city", tag = "import", security(("bearer" = [])),
    params(LayerImportQuery, RemovalQuery),
    request_body(content = crate::import::package::PackageUpload, content_type = "application/json"),
    responses((status = 201, description = "published, every layer in one transaction", body = crate::import::package::PackageOutcome),
        (status = 200, description = "dry run passed", body = crate::import::package::PackageOutcome),
        (status = 422, description = "refused (import_refused, with every layer's report), or a part cannot be read (the part is named)", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 409, description = "import_would_remove", body = ErrorBody),
        (status = 413, description = "too_many_vertices", body = ErrorBody)))]
pub async fn import_city(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiQuery(q): ApiQuery<LayerImportQuery>,
    ApiQuery(removal): ApiQuery<RemovalQuery>,
    super::extract::ApiJson(upload): super::extract::ApiJson<crate::import::package::PackageUpload>,
) -> Result<Response, ApiError> {
    let package = crate::import::package::CityPackage::try_from(upload)?;
    if package.is_empty() {
        return Err(ImportError::Removal(Refusal::Empty).into());
    }
    // Holiday years are checked against the running calendar before anything is stored.
    let calendar = package.calendar.clone();
    for table in &calendar {
        state
            .calendar()
            .with_year(table.clone())
            .map_err(|e| ImportError::Package(format!("calendar {}: {}", table.year, e.0)))?;
    }
    let options = q.options(
        &state,
        &removal,
        format!("API city package by {}", auth.principal.username),
    )?;
    let log = |line: &str| tracing::info!("{line}");
    let outcome = crate::import::package::import_city(
        state.store(),
        package,
        &options,
        &req_id.audit(&auth.principal),
        &log,
    )
    .await?;
    let published = !outcome.refused && !q.dry_run;
    if published {
        state.engine().reload_if_changed().await?;
        for table in &calendar {
            state
                .cases()
                .load_calendar_year(table)
                .map_err(|e| ImportError::Package(format!("calendar {}: {}", table.year, e.0)))?;
        }
        if outcome.dispatch_rules_version.is_some()
            && let Some(stored) = state.store().dispatch_rules().await?
        {
            state.cases().install_rules(stored);
        }
    }
    q.answer(
        &outcome,
        || outcome.to_geojson(),
        outcome.refused,
        published,
        (outcome.errors, outcome.warnings),
        "城市数据包被拒绝。The city package was refused",
    )
}

/// The names of the import schemas: the six layers, then the CSV files.
#[utoipa::path(get, path = "/api/import/schema", tag = "import",
    responses((status = 200, description = "the schema names with their addresses")))]
pub async fn import_schemas() -> Json<serde_json::Value> {
    let names = crate::import::schema::schema_names();
    Json(json!({
        "schemas": names.iter().map(|n| json!({ "name": n, "href": format!("/api/import/schema/{n}") })).collect::<Vec<_>>(),
        "docs": "docs/import.md",
    }))
}

/// The JSON Schema of one layer's features (`district` … `zone`) or of one CSV's rows (`units`,
/// `history`), with the accepted Chinese headings (`x-aliases`).
#[utoipa::path(get, path = "/api/import/schema/{name}", tag = "import",
    params(("name" = String, Path, description = "district, street, community, grid, frontage, zone, units or history")),
    responses((status = 200, description = "a JSON Schema (draft 2020-12)", content_type = "application/schema+json"),
        (status = 404, body = ErrorBody)))]
pub async fn import_schema(ApiPath(name): ApiPath<String>) -> Result<Response, ApiError> {
    let schema = crate::import::schema::schema(&name).ok_or_else(|| {
        ApiError::not_found(format!(
            "no import schema {name:?}; there are: {}",
            crate::import::schema::schema_names().join(", ")
        ))
    })?;
    Ok((
        [(header::CONTENT_TYPE, "application/schema+json")],
        schema.to_string(),
    )
        .into_response())
}
