//! GeoJSON FeatureCollection → jurisdiction features or basemap features.
//!
//! Coordinates are taken as WGS84 lon/lat degrees (RFC 7946). Properties: `code` and `name`
//! (required), `parent_code`, `unit_code`, and a sub-kind (`zone_kind`, `committee`, `shop_type`
//! or `kind`); everything else is kept as attributes.
//!
//! A missing `code` or `name` is not a parse error: the feature is kept with an empty one and the
//! validation reports every such feature at once (`missing_property`), so a clerk sees all of
//! them in one report instead of fixing one feature per import.

use serde_json::{Map, Value};

use super::ImportError;
use crate::domain::jurisdiction::{Jurisdiction, Layer};
use crate::store::BasemapFeature;

/// Property names that are columns, not free attributes.
const COLUMNS: [&str; 4] = ["code", "name", "parent_code", "unit_code"];

/// Which property carries the sub-kind of a feature in each layer.
fn kind_property(layer: Layer) -> &'static str {
    match layer {
        Layer::Zone => "zone_kind",
        Layer::Community => "committee",
        Layer::Frontage => "shop_type",
        _ => "kind",
    }
}

fn collection(text: &str) -> Result<geojson::FeatureCollection, ImportError> {
    let gj: geojson::GeoJson = text
        .parse()
        .map_err(|e: geojson::Error| ImportError::MalformedGeoJson(e.to_string()))?;
    match gj {
        geojson::GeoJson::FeatureCollection(fc) => Ok(fc),
        _ => Err(ImportError::NotAFeatureCollection),
    }
}

/// Whether every position has at least two numbers: the `geojson` crate's conversion indexes
/// `[0]` and `[1]` unchecked and panics on `[113.6]` (found by `tests/fuzz.rs`).
pub fn positions_complete(g: &geojson::Geometry) -> bool {
    use geojson::GeometryValue as V;
    let ok = |p: &geojson::Position| p.as_slice().len() >= 2;
    match &g.value {
        V::Point { coordinates } => ok(coordinates),
        V::MultiPoint { coordinates } | V::LineString { coordinates } => coordinates.iter().all(ok),
        V::MultiLineString { coordinates } | V::Polygon { coordinates } => {
            coordinates.iter().flatten().all(ok)
        }
        V::MultiPolygon { coordinates } => coordinates.iter().flatten().flatten().all(ok),
        V::GeometryCollection { geometries } => geometries.iter().all(positions_complete),
    }
}

fn geometry(index: usize, f: &geojson::Feature) -> Result<geo::Geometry<f64>, ImportError> {
    let g = f.geometry.as_ref().ok_or_else(|| ImportError::BadFeature {
        index,
        message: "has no geometry".into(),
    })?;
    if !positions_complete(g) {
        return Err(ImportError::BadFeature {
            index,
            message: "a position has fewer than two numbers (longitude, latitude)".into(),
        });
    }
    geo::Geometry::<f64>::try_from(g).map_err(|e| ImportError::BadFeature {
        index,
        message: format!("geometry does not convert: {e}"),
    })
}

fn text_prop(props: &Map<String, Value>, key: &str) -> Option<String> {
    match props.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The coordinate system named by a legacy GeoJSON `crs` member (GeoJSON 2008), e.g.
/// `urn:ogc:def:crs:EPSG::4490`. RFC 7946 dropped the member, but exports from older GIS tools
/// still carry it.
fn crs_member(fc: &geojson::FeatureCollection) -> Option<String> {
    let crs = fc.foreign_members.as_ref()?.get("crs")?;
    crs.pointer("/properties/name")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Parses a FeatureCollection into features of `layer`.
pub fn parse_layer(layer: Layer, text: &str) -> Result<Vec<Jurisdiction>, ImportError> {
    parse_layer_with_crs(layer, text).map(|(f, _)| f)
}

/// Parses a FeatureCollection into features of `layer`, with the name of the coordinate system its
/// legacy `crs` member declares, if any. Codes (even missing ones) are not checked here but by the
/// validation, so that every bad code is reported at once.
pub fn parse_layer_with_crs(
    layer: Layer,
    text: &str,
) -> Result<(Vec<Jurisdiction>, Option<String>), ImportError> {
    let fc = collection(text)?;
    let crs = crs_member(&fc);
    let kind_key = kind_property(layer);
    fc.features
        .iter()
        .enumerate()
        .map(|(index, f)| {
            let props = super::schema::canonical_properties(
                layer,
                f.properties.clone().unwrap_or_default(),
            );
            check_props(index, &props)?;
            let code = text_prop(&props, "code").unwrap_or_default();
            let name = text_prop(&props, "name").unwrap_or_default();
            let parent_code = text_prop(&props, "parent_code");
            let kind = text_prop(&props, kind_key).or_else(|| match props.get(kind_key) {
                Some(Value::Bool(b)) => Some(b.to_string()),
                _ => None,
            });
            let extra: Map<String, Value> = props
                .iter()
                .filter(|(k, _)| !COLUMNS.contains(&k.as_str()) && k.as_str() != kind_key)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Ok(Jurisdiction {
                layer,
                code,
                name,
                parent_code,
                unit_code: text_prop(&props, "unit_code"),
                kind,
                props: extra,
                geometry: geometry(index, f)?,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|features| (features, crs))
}

/// Refuses feature `index` when one of its properties holds a control character.
fn check_props(index: usize, props: &Map<String, Value>) -> Result<(), ImportError> {
    props.iter().try_for_each(|(k, v)| {
        crate::domain::text::check("a property name", k)
            .and_then(|()| crate::domain::text::check_json(&format!("property {k:?}"), v))
            .map_err(|source| ImportError::Text {
                place: format!("feature #{index}"),
                source,
            })
    })
}

/// Parses a FeatureCollection of basemap features of one `kind` (road, railway …). The `class`
/// and `name` properties are columns; the rest are kept.
pub fn parse_basemap(kind: &str, text: &str) -> Result<Vec<BasemapFeature>, ImportError> {
    let fc = collection(text)?;
    fc.features
        .iter()
        .enumerate()
        .map(|(index, f)| {
            let props = f.properties.clone().unwrap_or_default();
            check_props(index, &props)?;
            let extra: Map<String, Value> = props
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "class" | "name"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Ok(BasemapFeature {
                kind: kind.to_owned(),
                class: text_prop(&props, "class"),
                name: text_prop(&props, "name"),
                props: extra,
                geometry: geometry(index, f)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feature_without_a_code_is_kept_for_the_validation_to_report() {
        let text = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"name":"二七区"},"geometry":{"type":"Point","coordinates":[113.6,34.7]}}]}"#;
        let features = parse_layer(Layer::District, text).unwrap();
        assert_eq!(features[0].code, "");
        assert_eq!(features[0].name, "二七区");
    }

    #[test]
    fn a_legacy_crs_member_is_read() {
        let text = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3857"}},"features":[]}"#;
        let (_, crs) = parse_layer_with_crs(Layer::Grid, text).unwrap();
        assert_eq!(crs.as_deref(), Some("urn:ogc:def:crs:EPSG::3857"));
    }

    #[test]
    fn malformed_geojson_names_the_parser_error() {
        assert!(matches!(
            parse_layer(Layer::Grid, "{\"type\":"),
            Err(ImportError::MalformedGeoJson(_))
        ));
    }
}
