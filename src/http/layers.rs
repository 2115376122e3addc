//! Jurisdiction layers and the basemap as GeoJSON, at any date.

use std::str::FromStr;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery};
use crate::domain::jurisdiction::{Layer, LayerVersion};

/// Published layer versions, oldest first (public).
#[utoipa::path(get, path = "/api/layers", tag = "layers",
    responses((status = 200, description = "layer versions", body = Object)))]
pub async fn list_versions(
    State(state): State<AppState>,
) -> Result<Json<Vec<LayerVersion>>, ApiError> {
    Ok(Json(state.store().layer_versions(None).await?))
}

/// Query of a layer export.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// The moment to answer for: a date (start of day, UTC+8) or an RFC 3339 instant. Current
    /// version when absent.
    pub at: Option<String>,
    /// Only features meeting this box: `min_lon,min_lat,max_lon,max_lat` (WGS84 degrees).
    pub bbox: Option<String>,
}

fn geojson_response(fc: geojson::FeatureCollection) -> Response {
    (
        [(header::CONTENT_TYPE, "application/geo+json")],
        fc.to_string(),
    )
        .into_response()
}

fn feature(geometry: &geo::Geometry<f64>, props: Map<String, Value>) -> geojson::Feature {
    geojson::Feature {
        bbox: None,
        geometry: Some(geojson::Geometry::from(geometry)),
        id: None,
        properties: Some(props),
        foreign_members: None,
    }
}

/// One layer as a GeoJSON FeatureCollection (WGS84), as valid at `at` (public).
#[utoipa::path(get, path = "/api/layers/{layer}", tag = "layers", params(
        ("layer" = String, Path, description = "district, street, community, grid, frontage or zone"), ExportQuery),
    responses((status = 200, description = "GeoJSON FeatureCollection", content_type = "application/geo+json"),
        (status = 400, body = ErrorBody)))]
pub async fn export_layer(
    State(state): State<AppState>,
    ApiPath(layer): ApiPath<String>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let layer = Layer::from_str(&layer).map_err(|e| ApiError::not_found(e.to_string()))?;
    let at = super::params::optional_instant("at", q.at.as_deref())?;
    let bbox = q
        .bbox
        .as_deref()
        .map(super::params::bbox)
        .transpose()?
        .map(super::params::Bbox::to_array);
    let rows = state.store().features_in(layer, at, bbox).await?;
    let features = rows
        .into_iter()
        .map(|r| {
            let f = r.feature;
            let mut props = Map::new();
            props.insert("code".into(), f.code.into());
            props.insert("name".into(), f.name.into());
            props.insert("parent_code".into(), f.parent_code.into());
            props.insert("unit_code".into(), f.unit_code.into());
            props.insert("kind".into(), f.kind.into());
            props.insert("version".into(), r.version.into());
            props.insert("valid_from".into(), r.valid_from.to_rfc3339().into());
            props.insert("valid_to".into(), r.valid_to.map(|t| t.to_rfc3339()).into());
            props.extend(f.props);
            feature(&f.geometry, props)
        })
        .collect();
    Ok(geojson_response(geojson::FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    }))
}

/// Basemap features of one kind (road, railway, water) as GeoJSON (public).
#[utoipa::path(get, path = "/api/basemap/{kind}", tag = "layers",
    params(("kind" = String, Path, description = "road, railway, water or building")),
    responses((status = 200, description = "GeoJSON FeatureCollection", content_type = "application/geo+json")))]
pub async fn basemap(
    State(state): State<AppState>,
    ApiPath(kind): ApiPath<String>,
) -> Result<Response, ApiError> {
    if !matches!(kind.as_str(), "road" | "railway" | "water" | "building") {
        return Err(ApiError::not_found(format!(
            "basemap kind {kind:?} does not exist; expected road, railway, water or building"
        )));
    }
    let features = state
        .store()
        .basemap(&kind)
        .await?
        .into_iter()
        .map(|f| {
            let mut props = Map::new();
            props.insert("class".into(), f.class.into());
            props.insert("name".into(), f.name.into());
            props.extend(f.props);
            feature(&f.geometry, props)
        })
        .collect();
    Ok(geojson_response(geojson::FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    }))
}
