//! Batch assignment: points in (CSV or GeoJSON), owner chains out (CSV, GeoJSON or JSON), in
//! chunks, on every core. Shared by `POST /api/assign/batch` and `wangge assign`.
//!
//! Input is consumed chunk by chunk and output produced chunk by chunk, so a million points never
//! sit in memory twice. A row with a bad coordinate does not stop the batch: it comes back with
//! `status = error` and a stable error code.

use std::io::Write;

use rayon::prelude::*;

use crate::assign::{CityIndex, Hit, NONE};
use crate::domain::crs::{CoordError, Crs, PlausibleArea};

/// Points per chunk handed to the worker threads.
pub const CHUNK: usize = 16_384;

/// One input point, in its declared coordinate system.
#[derive(Debug, Clone, PartialEq)]
pub struct InputPoint {
    /// The caller's id (row number when none is given).
    pub id: String,
    /// First coordinate (longitude).
    pub x: f64,
    /// Second coordinate (latitude).
    pub y: f64,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header line.
    Csv,
    /// A GeoJSON FeatureCollection of points with the chain as properties.
    GeoJson,
    /// A JSON array of objects.
    Json,
}

impl Format {
    /// Parses `csv`, `geojson` or `json`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "csv" => Some(Self::Csv),
            "geojson" => Some(Self::GeoJson),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    /// The MIME type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::GeoJson => "application/geo+json",
            Self::Json => "application/json",
        }
    }
}

const COLUMNS: [&str; 20] = [
    "id",
    "lon",
    "lat",
    "status",
    "grid",
    "community",
    "street",
    "district",
    "on_boundary",
    "frontage",
    "frontage_unit",
    "frontage_m",
    "frontage_count",
    "ambiguous",
    "urban_village",
    "railway_land",
    "railway_m",
    "back_alley",
    "inspection_site",
    "error",
];

/// What goes before the first row.
pub fn header(format: Format) -> Vec<u8> {
    match format {
        Format::Csv => format!("{}\n", COLUMNS.join(",")).into_bytes(),
        Format::GeoJson => b"{\"type\":\"FeatureCollection\",\"features\":[\n".to_vec(),
        Format::Json => b"[\n".to_vec(),
    }
}

/// What goes after the last row.
pub fn footer(format: Format) -> Vec<u8> {
    match format {
        Format::Csv => Vec::new(),
        Format::GeoJson => b"\n]}\n".to_vec(),
        Format::Json => b"\n]\n".to_vec(),
    }
}

fn error_code(e: &CoordError) -> &'static str {
    match e {
        CoordError::LooksSwapped { .. } => "swapped_coordinates",
        CoordError::OutsideArea { .. } => "outside_area",
        _ => "invalid_coordinate",
    }
}

enum Row<'a> {
    Ok {
        lon: f64,
        lat: f64,
        hit: Hit,
        index: &'a CityIndex,
    },
    Err {
        code: &'static str,
    },
}

fn csv_field(out: &mut Vec<u8>, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

fn write_row(out: &mut Vec<u8>, format: Format, p: &InputPoint, row: &Row<'_>) {
    // The fields, as text (empty = none), in COLUMNS order after id, lon, lat.
    let mut f: [String; 17] = Default::default();
    let (lon, lat) = match row {
        Row::Ok {
            lon,
            lat,
            hit,
            index,
        } => {
            let [g, c, s, d] = index.chain_codes(hit);
            f[0] = if hit.grid == NONE {
                "unassigned"
            } else {
                "assigned"
            }
            .into();
            f[1] = g.unwrap_or_default().into();
            f[2] = c.unwrap_or_default().into();
            f[3] = s.unwrap_or_default().into();
            f[4] = d.unwrap_or_default().into();
            f[5] = hit.on_boundary.to_string();
            if let Some((code, _, unit)) = index.frontage(hit.frontage) {
                f[6] = code.into();
                f[7] = unit.unwrap_or_default().into();
                f[8] = format!("{:.2}", hit.frontage_m);
            }
            f[9] = hit.frontage_count.to_string();
            f[10] = index.is_ambiguous(hit).to_string();
            let [v, rl, al, si] = index.zone_codes(hit);
            f[11] = v.unwrap_or_default().into();
            f[12] = rl.unwrap_or_default().into();
            if hit.railway_m.is_finite() {
                f[13] = format!("{:.1}", hit.railway_m);
            }
            f[14] = al.unwrap_or_default().into();
            f[15] = si.unwrap_or_default().into();
            (*lon, *lat)
        }
        Row::Err { code } => {
            f[0] = "error".into();
            f[16] = (*code).into();
            (p.x, p.y)
        }
    };
    match format {
        Format::Csv => {
            csv_field(out, &p.id);
            let _ = write!(out, ",{lon},{lat}");
            for v in &f {
                out.push(b',');
                csv_field(out, v);
            }
            out.push(b'\n');
        }
        Format::GeoJson | Format::Json => {
            let mut props = serde_json::Map::new();
            props.insert("id".into(), p.id.clone().into());
            for (name, v) in COLUMNS[3..].iter().zip(&f) {
                let value = match *name {
                    "on_boundary" | "ambiguous" => serde_json::Value::Bool(v == "true"),
                    "frontage_m" | "railway_m" | "frontage_count" if !v.is_empty() => v
                        .parse::<f64>()
                        .map(serde_json::Value::from)
                        .unwrap_or(serde_json::Value::Null),
                    _ if v.is_empty() => serde_json::Value::Null,
                    _ => v.clone().into(),
                };
                props.insert((*name).into(), value);
            }
            let value = if format == Format::GeoJson {
                serde_json::json!({
                    "type": "Feature",
                    "geometry": { "type": "Point", "coordinates": [lon, lat] },
                    "properties": props,
                })
            } else {
                props.insert("lon".into(), lon.into());
                props.insert("lat".into(), lat.into());
                serde_json::Value::Object(props)
            };
            let _ = serde_json::to_writer(&mut *out, &value);
        }
    }
}

/// Assigns a chunk of points on all cores and appends the formatted rows to `out`. `first` says
/// whether a row was already written before (JSON needs the separating comma).
pub fn process_chunk(
    index: &CityIndex,
    area: &PlausibleArea,
    crs: Crs,
    points: &[InputPoint],
    format: Format,
    first: bool,
    out: &mut Vec<u8>,
) {
    let parts: Vec<Vec<u8>> = points
        .par_chunks(1024)
        .map(|chunk| {
            let mut buf = Vec::with_capacity(chunk.len() * 120);
            for p in chunk {
                let row = match area.check(p.x, p.y) {
                    Ok(()) => {
                        let (lon, lat) = crs.to_wgs84(p.x, p.y);
                        Row::Ok {
                            lon,
                            lat,
                            hit: index.locate(lon, lat),
                            index,
                        }
                    }
                    Err(e) => Row::Err {
                        code: error_code(&e),
                    },
                };
                if format != Format::Csv {
                    buf.extend_from_slice(b",\n");
                }
                write_row(&mut buf, format, p, &row);
            }
            buf
        })
        .collect();
    for (k, part) in parts.into_iter().enumerate() {
        // JSON rows were written with a leading separator; the very first row of the output must
        // not have one.
        if format != Format::Csv && first && k == 0 {
            out.extend_from_slice(&part[2.min(part.len())..]);
        } else {
            out.extend_from_slice(&part);
        }
    }
}

/// Why a batch input was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The CSV header lacks coordinate columns.
    #[error(
        "the CSV header must name the coordinate columns lon and lat (or lng/longitude and latitude, or x and y); found {0:?}"
    )]
    MissingColumns(String),
    /// A CSV line could not be read.
    #[error("CSV line {line}: {message}")]
    BadLine {
        /// One-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The GeoJSON is malformed or not a collection of points.
    #[error("{0}")]
    BadGeoJson(String),
    /// More points than allowed.
    #[error("the batch has more than {0} points; split it into smaller batches")]
    TooLarge(usize),
}

/// An incremental CSV reader: feed it bytes as they arrive, take complete points out.
#[derive(Debug, Default)]
pub struct CsvPoints {
    pending: Vec<u8>,
    columns: Option<(Option<usize>, usize, usize)>,
    line: u64,
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

impl CsvPoints {
    /// Whether the header line has been read.
    pub fn has_header(&self) -> bool {
        self.columns.is_some()
    }

    /// Feeds bytes; returns the points of the complete lines among them.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<InputPoint>, BatchError> {
        self.pending.extend_from_slice(bytes);
        let Some(last_nl) = self.pending.iter().rposition(|&b| b == b'\n') else {
            return Ok(Vec::new());
        };
        let complete: Vec<u8> = self.pending.drain(..=last_nl).collect();
        self.lines(&complete)
    }

    /// Ends the input; returns the points of a last line without a newline.
    pub fn finish(&mut self) -> Result<Vec<InputPoint>, BatchError> {
        let rest = std::mem::take(&mut self.pending);
        if self.columns.is_none() && rest.iter().all(u8::is_ascii_whitespace) {
            return Err(BatchError::MissingColumns(String::new()));
        }
        self.lines(&rest)
    }

    fn lines(&mut self, bytes: &[u8]) -> Result<Vec<InputPoint>, BatchError> {
        let text = std::str::from_utf8(bytes).map_err(|_| BatchError::BadLine {
            line: self.line + 1,
            message: "not UTF-8".into(),
        })?;
        let mut out = Vec::new();
        for raw in text.split('\n') {
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            self.line += 1;
            let fields = split_csv(line);
            let Some((id, x, y)) = self.columns else {
                let names: Vec<String> = fields
                    .iter()
                    .map(|f| f.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
                    .collect();
                let find = |cands: &[&str]| names.iter().position(|n| cands.contains(&n.as_str()));
                let (Some(x), Some(y)) = (
                    find(&["lon", "lng", "longitude", "x"]),
                    find(&["lat", "latitude", "y"]),
                ) else {
                    return Err(BatchError::MissingColumns(line.to_owned()));
                };
                self.columns = Some((find(&["id"]), x, y));
                continue;
            };
            let get = |i: usize| fields.get(i).map(|s| s.trim()).unwrap_or("");
            let num = |i: usize, what: &str| {
                get(i).parse::<f64>().map_err(|_| BatchError::BadLine {
                    line: self.line,
                    message: format!("{what} {:?} is not a number", get(i)),
                })
            };
            out.push(InputPoint {
                id: id.map_or_else(|| (self.line - 1).to_string(), |i| get(i).to_owned()),
                x: num(x, "longitude")?,
                y: num(y, "latitude")?,
            });
        }
        Ok(out)
    }
}

/// Reads the points of a GeoJSON FeatureCollection (Point geometries; the id comes from the
/// feature's `id` or its `id` property, else its position).
pub fn geojson_points(bytes: &[u8], max: usize) -> Result<Vec<InputPoint>, BatchError> {
    #[derive(serde::Deserialize)]
    struct Fc {
        features: Vec<Feature>,
    }
    #[derive(serde::Deserialize)]
    struct Feature {
        id: Option<serde_json::Value>,
        geometry: Option<Geometry>,
        #[serde(default)]
        properties: Option<serde_json::Map<String, serde_json::Value>>,
    }
    #[derive(serde::Deserialize)]
    struct Geometry {
        #[serde(rename = "type")]
        kind: String,
        coordinates: serde_json::Value,
    }
    let fc: Fc = serde_json::from_slice(bytes)
        .map_err(|e| BatchError::BadGeoJson(format!("malformed GeoJSON FeatureCollection: {e}")))?;
    if fc.features.len() > max {
        return Err(BatchError::TooLarge(max));
    }
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    fc.features
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let g = f
                .geometry
                .ok_or_else(|| BatchError::BadGeoJson(format!("feature #{i} has no geometry")))?;
            let c = g
                .coordinates
                .as_array()
                .filter(|_| g.kind == "Point")
                .ok_or_else(|| {
                    BatchError::BadGeoJson(format!("feature #{i} is a {}, not a Point", g.kind))
                })?;
            let n = |k: usize| {
                c.get(k).and_then(serde_json::Value::as_f64).ok_or_else(|| {
                    BatchError::BadGeoJson(format!("feature #{i} has no numeric coordinates"))
                })
            };
            let id =
                f.id.as_ref()
                    .map(text)
                    .or_else(|| f.properties.as_ref().and_then(|p| p.get("id")).map(text))
                    .unwrap_or_else(|| i.to_string());
            Ok(InputPoint {
                id,
                x: n(0)?,
                y: n(1)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_points_arrive_across_chunk_boundaries() {
        let mut r = CsvPoints::default();
        assert!(r.feed(b"id,lat,lon\nA,34.74,113.6").unwrap().is_empty());
        let got = r.feed(b"5\n\"B,1\",34.75,113.66\nC,34").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            InputPoint {
                id: "A".into(),
                x: 113.65,
                y: 34.74
            }
        );
        assert_eq!(got[1].id, "B,1");
        let rest = r.feed(b".7,113.7").and_then(|_| r.finish()).unwrap();
        assert_eq!(rest[0].id, "C");
    }

    #[test]
    fn a_csv_without_coordinate_columns_is_refused() {
        let mut r = CsvPoints::default();
        assert!(matches!(
            r.feed(b"a,b\n1,2\n"),
            Err(BatchError::MissingColumns(_))
        ));
    }

    #[test]
    fn a_non_numeric_coordinate_names_its_line() {
        let mut r = CsvPoints::default();
        let err = r.feed(b"lon,lat\n113.6,abc\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "CSV line 2: latitude \"abc\" is not a number"
        );
    }

    #[test]
    fn geojson_batches_are_limited_in_size() {
        let fc = br#"{"type":"FeatureCollection","features":[
            {"type":"Feature","id":7,"geometry":{"type":"Point","coordinates":[113.6,34.7]},"properties":{}},
            {"type":"Feature","geometry":{"type":"Point","coordinates":[113.61,34.71]},"properties":{"id":"b"}}]}"#;
        let pts = geojson_points(fc, 10).unwrap();
        assert_eq!((pts[0].id.as_str(), pts[1].id.as_str()), ("7", "b"));
        assert_eq!(geojson_points(fc, 1), Err(BatchError::TooLarge(1)));
    }
}
