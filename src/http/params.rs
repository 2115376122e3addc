//! One parser per kind of query input, each with its one error code, so that the same mistake
//! gets the same answer on every endpoint:
//!
//! | input | form | refused with |
//! |---|---|---|
//! | box | `west,south,east,north`, WGS84 degrees, west ≤ east, south ≤ north | 400 `invalid_bbox` |
//! | polygon | a GeoJSON Polygon or MultiPolygon (or a Feature holding one), WGS84, valid | 400 `invalid_polygon` |
//! | date or instant | `YYYY-MM-DD` (its start, 00:00 UTC+8) or RFC 3339 | 400 `invalid_date` |
//! | coordinate system | `wgs84`, `cgcs2000`, `gcj02`, `bd09` (and their EPSG names) | 422 `unknown_crs` |
//! | any other value | an enum or a number out of its documented range | 400 `invalid_parameter` |
//!
//! A query string that cannot be read at all (a number that is not one, an unknown parameter) is
//! refused by the `ApiQuery` extractor with 400 `invalid_query`; paging limits are checked by
//! [`super::limits`].

use axum::http::StatusCode;
use chrono::{DateTime, Utc};

use super::error::ApiError;
use crate::domain::crs::Crs;

/// A box in WGS84 degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    /// Smallest longitude.
    pub west: f64,
    /// Smallest latitude.
    pub south: f64,
    /// Largest longitude.
    pub east: f64,
    /// Largest latitude.
    pub north: f64,
}

impl Bbox {
    /// `[west, south, east, north]`.
    pub fn to_array(self) -> [f64; 4] {
        [self.west, self.south, self.east, self.north]
    }

    /// Whether the point (lon, lat) lies in the box, edges included.
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        (self.west..=self.east).contains(&lon) && (self.south..=self.north).contains(&lat)
    }
}

/// Parses `west,south,east,north` (WGS84 degrees; a box of zero width or height is a line or a
/// point, and allowed).
pub fn bbox(text: &str) -> Result<Bbox, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_bbox",
            format!(
                "bbox {text:?} must be west,south,east,north in WGS84 degrees, west ≤ east and south ≤ north"
            ),
        )
    };
    let v: Vec<f64> = text
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let &[west, south, east, north] = v.as_slice() else {
        return Err(bad());
    };
    let lon_ok = |x: f64| (-180.0..=180.0).contains(&x);
    let lat_ok = |y: f64| (-90.0..=90.0).contains(&y);
    if lon_ok(west)
        && lon_ok(east)
        && lat_ok(south)
        && lat_ok(north)
        && west <= east
        && south <= north
    {
        Ok(Bbox {
            west,
            south,
            east,
            north,
        })
    } else {
        Err(bad())
    }
}

/// Parses a GeoJSON Polygon or MultiPolygon (or a Feature holding one) in WGS84 degrees into a
/// valid, non-empty area.
pub fn polygon(text: &str) -> Result<geo::MultiPolygon<f64>, ApiError> {
    let bad = |why: String| ApiError::bad_request("invalid_polygon", why);
    let g: geojson::Geometry = text
        .parse::<geojson::GeoJson>()
        .map_err(|e| bad(format!("polygon is not GeoJSON: {e}")))
        .and_then(|gj| match gj {
            geojson::GeoJson::Geometry(g) => Ok(g),
            geojson::GeoJson::Feature(f) => f
                .geometry
                .ok_or_else(|| bad("the polygon feature has no geometry".into())),
            _ => Err(bad(
                "polygon must be a Polygon or MultiPolygon geometry".into()
            )),
        })?;
    if !crate::import::geojson_layer::positions_complete(&g) {
        return Err(bad(
            "polygon: every position needs two numbers (longitude, latitude)".into(),
        ));
    }
    let geom: geo::Geometry<f64> = g.try_into().map_err(|e| bad(format!("polygon: {e}")))?;
    let area = match geom {
        geo::Geometry::Polygon(p) => geo::MultiPolygon(vec![p]),
        geo::Geometry::MultiPolygon(m) => m,
        _ => {
            return Err(bad(
                "polygon must be a Polygon or MultiPolygon geometry".into()
            ));
        }
    };
    // A ring of fewer than four positions, a self-intersection or a hole outside its shell would
    // select nothing, or not what was drawn: say so instead of answering [].
    use geo::{BoundingRect, Validation};
    if let Err(e) = area.check_validation() {
        return Err(bad(format!("polygon is not a valid area: {e}")));
    }
    if area.bounding_rect().is_none() {
        return Err(bad("the polygon is empty".into()));
    }
    Ok(area)
}

/// Parses the parameter `name`: a date `YYYY-MM-DD` (its start, 00:00 in UTC+8, the city's day)
/// or an RFC 3339 instant.
pub fn instant(name: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    crate::domain::jurisdiction::parse_as_of(text).map_err(|_| {
        ApiError::bad_request(
            "invalid_date",
            format!(
                "{name} {text:?} is neither a date like 2026-11-28 nor an RFC 3339 time like 2026-11-28T08:00:00+08:00"
            ),
        )
    })
}

/// An optional [`instant`].
pub fn optional_instant(name: &str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    text.map(|t| instant(name, t)).transpose()
}

/// Parses a declared coordinate system, when one is given.
pub fn crs(text: Option<&str>) -> Result<Option<Crs>, ApiError> {
    text.map(str::parse::<Crs>).transpose().map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_crs",
            e.to_string(),
        )
    })
}

/// A parameter whose value is not one the endpoint takes (400 `invalid_parameter`).
pub fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_parameter", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: ApiError) -> &'static str {
        e.code
    }

    #[test]
    fn a_box_is_four_ordered_degrees_and_anything_else_is_invalid_bbox() {
        assert_eq!(
            bbox("113.6, 34.7,113.7,34.8").unwrap().to_array(),
            [113.6, 34.7, 113.7, 34.8]
        );
        assert!(bbox("113.6,34.7,113.6,34.7").is_ok(), "a point box");
        for bad in [
            "",
            "1,2,3",
            "1,2,3,4,5",
            "a,b,c,d",
            "113.7,34.7,113.6,34.8",
            "0,91,1,92",
            "181,0,182,1",
        ] {
            assert_eq!(code(bbox(bad).unwrap_err()), "invalid_bbox", "{bad:?}");
        }
    }

    #[test]
    fn a_date_is_the_start_of_the_citys_day_and_an_instant_is_itself() {
        assert_eq!(
            instant("from", "2026-11-28").unwrap().to_rfc3339(),
            "2026-11-27T16:00:00+00:00"
        );
        assert_eq!(
            instant("from", "2026-11-28T08:00:00+08:00")
                .unwrap()
                .to_rfc3339(),
            "2026-11-28T00:00:00+00:00"
        );
        let e = instant("to", "28.11.2026").unwrap_err();
        assert!(e.message.contains("to \"28.11.2026\""), "{}", e.message);
        assert_eq!(code(e), "invalid_date");
    }

    #[test]
    fn an_unknown_crs_is_unprocessable_and_none_is_none() {
        assert_eq!(crs(None).unwrap(), None);
        assert_eq!(crs(Some("gcj02")).unwrap(), Some(Crs::Gcj02));
        assert_eq!(code(crs(Some("EPSG:3857")).unwrap_err()), "unknown_crs");
    }

    #[test]
    fn a_polygon_must_be_a_valid_area() {
        let square = r#"{"type":"Polygon","coordinates":[[[113.6,34.7],[113.7,34.7],[113.7,34.8],[113.6,34.8],[113.6,34.7]]]}"#;
        assert_eq!(polygon(square).unwrap().0.len(), 1);
        let bowtie = r#"{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}"#;
        for bad in ["{", r#"{"type":"Point","coordinates":[1,2]}"#, bowtie] {
            assert_eq!(code(polygon(bad).unwrap_err()), "invalid_polygon", "{bad}");
        }
    }
}
