//! Uploaded point sets: a GeoJSON FeatureCollection of Points, or CSV with `lon,lat` and optional
//! `weight`, `time` (RFC 3339), `closed` (RFC 3339), `category` and `id` columns, in a declared
//! coordinate system (converted to WGS84 here).

use chrono::{DateTime, Utc};

use super::{HotspotError, Report, UploadProblem};
use crate::domain::crs::Crs;

/// Which property / column holds the weight (default `weight`; missing = 1).
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Declared CRS of the coordinates.
    pub crs: Crs,
    /// Name of the weight property or column.
    pub weight_field: String,
    /// Most points accepted.
    pub max_points: usize,
}

/// `where_` names the row or feature; `kind` is the problem a bad time is in this format.
fn time(
    s: &str,
    what: &str,
    where_: &str,
    kind: UploadProblem,
) -> Result<DateTime<Utc>, HotspotError> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            HotspotError::upload(
                kind,
                format!(
                    "{where_}: {what} {s:?} is not an RFC 3339 time like 2025-03-01T08:00:00+08:00"
                ),
            )
        })
}

fn checked(lon: f64, lat: f64, where_: &str) -> Result<(), HotspotError> {
    if !(lon.is_finite()
        && lat.is_finite()
        && (-180.0..=180.0).contains(&lon)
        && (-90.0..=90.0).contains(&lat))
    {
        return Err(HotspotError::upload(
            UploadProblem::Coordinate,
            format!("{where_}: ({lon}, {lat}) is not a longitude, latitude pair"),
        ));
    }
    Ok(())
}

/// Parses CSV (a header line is required).
pub fn csv_points(bytes: &[u8], o: &UploadOptions) -> Result<Vec<Report>, HotspotError> {
    let mut r = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
    let headers = r
        .headers()
        .map_err(|e| {
            HotspotError::upload(UploadProblem::Csv, format!("unreadable CSV header: {e}"))
        })?
        .clone();
    let col = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
    };
    let (Some(x), Some(y)) = (
        col(&["lon", "lng", "longitude", "x"]),
        col(&["lat", "latitude", "y"]),
    ) else {
        return Err(HotspotError::upload(
            UploadProblem::Csv,
            "the CSV header needs lon and lat columns (optional: weight, time, closed, category, id)",
        ));
    };
    let (w, t, c, cat, id) = (
        col(&[o.weight_field.as_str()]),
        col(&["time", "reported_at"]),
        col(&["closed", "closed_at"]),
        col(&["category"]),
        col(&["id"]),
    );
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let row = i + 2;
        let rec =
            rec.map_err(|e| HotspotError::upload(UploadProblem::Csv, format!("row {row}: {e}")))?;
        let at = format!("row {row}");
        if out.len() >= o.max_points {
            return Err(HotspotError::UploadTooLarge(format!(
                "more than {} points",
                o.max_points
            )));
        }
        let num = |k: usize, what: &str| {
            rec.get(k).unwrap_or("").trim().parse::<f64>().map_err(|_| {
                HotspotError::upload(
                    UploadProblem::Csv,
                    format!(
                        "{at}: {what} {:?} is not a number",
                        rec.get(k).unwrap_or("")
                    ),
                )
            })
        };
        let (lon, lat) = o.crs.to_wgs84(num(x, "longitude")?, num(y, "latitude")?);
        checked(lon, lat, &at)?;
        let weight = match w.map(|k| rec.get(k).unwrap_or("").trim()) {
            None | Some("") => 1.0,
            Some(_) => num(w.unwrap_or(0), "weight")?,
        };
        let opt = |k: Option<usize>| {
            k.and_then(|k| rec.get(k))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        out.push(Report {
            id: opt(id).map_or_else(|| (row - 1).to_string(), str::to_owned),
            lon,
            lat,
            weight,
            category: opt(cat).map(str::to_owned),
            reported_at: opt(t)
                .map(|s| time(s, "time", &at, UploadProblem::Csv))
                .transpose()?,
            closed_at: opt(c)
                .map(|s| time(s, "closed", &at, UploadProblem::Csv))
                .transpose()?,
            source: None,
        });
    }
    Ok(out)
}

/// Parses a GeoJSON FeatureCollection of Points; properties `weight` (or the chosen field),
/// `time`/`reported_at`, `closed`/`closed_at`, `category`, `id`. Features of other geometry
/// types are refused, not skipped, so that nothing is silently lost.
pub fn geojson_points(bytes: &[u8], o: &UploadOptions) -> Result<Vec<Report>, HotspotError> {
    let gj: geojson::GeoJson = std::str::from_utf8(bytes)
        .map_err(|_| {
            HotspotError::upload(UploadProblem::MalformedGeoJson, "the GeoJSON is not UTF-8")
        })?
        .parse()
        .map_err(|e| {
            HotspotError::upload(
                UploadProblem::MalformedGeoJson,
                format!("malformed GeoJSON: {e}"),
            )
        })?;
    let geojson::GeoJson::FeatureCollection(fc) = gj else {
        return Err(HotspotError::upload(
            UploadProblem::NotAFeatureCollection,
            "expected a GeoJSON FeatureCollection of Points",
        ));
    };
    if fc.features.len() > o.max_points {
        return Err(HotspotError::UploadTooLarge(format!(
            "more than {} points",
            o.max_points
        )));
    }
    fc.features
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let Some(geojson::GeometryValue::Point { coordinates: c }) =
                f.geometry.as_ref().map(|g| &g.value)
            else {
                return Err(HotspotError::upload(
                    UploadProblem::Feature,
                    format!("feature #{i} is not a Point"),
                ));
            };
            let &[x, y, ..] = c.as_slice() else {
                return Err(HotspotError::upload(
                    UploadProblem::Feature,
                    format!("feature #{i}: a position needs two numbers (longitude, latitude)"),
                ));
            };
            let (lon, lat) = o.crs.to_wgs84(x, y);
            let at = format!("feature #{i}");
            checked(lon, lat, &at)?;
            let prop = |k: &str| {
                f.properties
                    .as_ref()
                    .and_then(|p| p.get(k))
                    .filter(|v| !v.is_null())
            };
            let text =
                |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            let weight = match prop(&o.weight_field) {
                None => 1.0,
                Some(v) => v.as_f64().ok_or_else(|| {
                    HotspotError::upload(
                        UploadProblem::Feature,
                        format!("{at}: {} is not a number", o.weight_field),
                    )
                })?,
            };
            let when = |keys: [&str; 2], what: &str| {
                keys.iter()
                    .find_map(|k| prop(k))
                    .map(|v| time(&text(v), what, &at, UploadProblem::Feature))
                    .transpose()
            };
            Ok(Report {
                id: f
                    .id
                    .as_ref()
                    .map(|id| match id {
                        geojson::feature::Id::String(s) => s.clone(),
                        geojson::feature::Id::Number(n) => n.to_string(),
                    })
                    .or_else(|| prop("id").map(text))
                    .unwrap_or_else(|| i.to_string()),
                lon,
                lat,
                weight,
                category: prop("category").map(text),
                reported_at: when(["time", "reported_at"], "time")?,
                closed_at: when(["closed", "closed_at"], "closed")?,
                source: None,
            })
        })
        .collect()
}
