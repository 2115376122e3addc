//! Batch assignment: points in (CSV or GeoJSON), owner chains out (CSV, GeoJSON or JSON), in
//! chunks, on every core. Shared by `POST /api/assign/batch` and `wangge assign`.
//!
//! Input is consumed chunk by chunk and output produced chunk by chunk, so a million points never
//! sit in memory twice. A row with a bad coordinate does not stop the batch: it comes back with
//! `status = error` and a stable error code.

use rayon::prelude::*;

use super::{CityIndex, Hit, NONE};
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
            let (lon, lat) = (lon.to_string(), lat.to_string());
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(&mut *out);
            let row = [p.id.as_str(), &lon, &lat]
                .into_iter()
                .chain(f.iter().map(String::as_str));
            // Writing into a Vec cannot fail.
            let _ = w.write_record(row).and_then(|()| Ok(w.flush()?));
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

/// An incremental CSV reader: feed it bytes as they arrive, take complete points out. Built on
/// `csv-core`'s push parser, so a quoted field may hold commas and line breaks and a record may be
/// split anywhere between two chunks.
#[derive(Debug)]
pub struct CsvPoints {
    reader: csv_core::Reader,
    /// The current record's field bytes and field ends, filled across calls.
    fields: Vec<u8>,
    fields_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    columns: Option<(Option<usize>, usize, usize)>,
    /// Non-empty records read, the header being record 1.
    line: u64,
}

impl Default for CsvPoints {
    fn default() -> Self {
        Self {
            reader: csv_core::Reader::new(),
            fields: vec![0; 1024],
            fields_len: 0,
            ends: vec![0; 32],
            ends_len: 0,
            columns: None,
            line: 0,
        }
    }
}

/// The longest record accepted, bytes: far above any real row, and a bound on the buffer a
/// never-closed quote would otherwise grow.
const MAX_RECORD_BYTES: usize = 64 * 1024;

impl CsvPoints {
    /// Whether the header line has been read.
    pub fn has_header(&self) -> bool {
        self.columns.is_some()
    }

    /// Feeds bytes; returns the points of the records completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<InputPoint>, BatchError> {
        let mut out = Vec::new();
        self.parse(bytes, &mut out)?;
        Ok(out)
    }

    /// Ends the input; returns the points of a last record without a newline.
    pub fn finish(&mut self) -> Result<Vec<InputPoint>, BatchError> {
        let mut out = Vec::new();
        // An empty input tells csv-core the data has ended: it completes the last record.
        self.parse(&[], &mut out)?;
        if self.columns.is_none() {
            return Err(BatchError::MissingColumns(String::new()));
        }
        Ok(out)
    }

    fn parse(&mut self, mut input: &[u8], out: &mut Vec<InputPoint>) -> Result<(), BatchError> {
        use csv_core::ReadRecordResult as R;
        loop {
            let (result, nin, nout, nends) = self.reader.read_record(
                input,
                &mut self.fields[self.fields_len..],
                &mut self.ends[self.ends_len..],
            );
            input = &input[nin..];
            self.fields_len += nout;
            self.ends_len += nends;
            match result {
                R::InputEmpty => return Ok(()),
                R::End => return Ok(()),
                R::OutputFull if self.fields.len() >= MAX_RECORD_BYTES => {
                    return Err(BatchError::BadLine {
                        line: self.line + 1,
                        message: format!(
                            "a record is longer than {MAX_RECORD_BYTES} bytes (an unclosed quote?)"
                        ),
                    });
                }
                R::OutputFull => self.fields.resize(self.fields.len() * 2, 0),
                R::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                R::Record => {
                    let record = self.take_record()?;
                    if let Some(p) = self.record(&record)? {
                        out.push(p);
                    }
                }
            }
        }
    }

    /// The completed record's fields, as text.
    fn take_record(&mut self) -> Result<Vec<String>, BatchError> {
        let mut start = 0;
        let mut fields = Vec::with_capacity(self.ends_len);
        for &end in &self.ends[..self.ends_len] {
            let bytes = &self.fields[start..end];
            let text = std::str::from_utf8(bytes).map_err(|_| BatchError::BadLine {
                line: self.line + 1,
                message: "not UTF-8".into(),
            })?;
            fields.push(text.to_owned());
            start = end;
        }
        self.fields_len = 0;
        self.ends_len = 0;
        Ok(fields)
    }

    /// The header (then None) or one point.
    fn record(&mut self, fields: &[String]) -> Result<Option<InputPoint>, BatchError> {
        if fields.iter().all(|f| f.trim().is_empty()) {
            return Ok(None);
        }
        self.line += 1;
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
                return Err(BatchError::MissingColumns(fields.join(",")));
            };
            self.columns = Some((find(&["id"]), x, y));
            return Ok(None);
        };
        let get = |i: usize| fields.get(i).map(|s| s.trim()).unwrap_or("");
        let num = |i: usize, what: &str| {
            get(i).parse::<f64>().map_err(|_| BatchError::BadLine {
                line: self.line,
                message: format!("{what} {:?} is not a number", get(i)),
            })
        };
        Ok(Some(InputPoint {
            id: id.map_or_else(|| (self.line - 1).to_string(), |i| get(i).to_owned()),
            x: num(x, "longitude")?,
            y: num(y, "latitude")?,
        }))
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
    fn a_quoted_field_may_hold_commas_and_line_breaks_even_across_chunks() {
        let mut r = CsvPoints::default();
        let mut got = r
            .feed(b"id,lon,lat\n\"A, \"\"north\"\"\nside\",113.6")
            .unwrap();
        assert!(got.is_empty());
        got.extend(r.feed(b",34.74\r\nB,113.7,34.75\n").unwrap());
        got.extend(r.finish().unwrap());
        let ids: Vec<&str> = got.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["A, \"north\"\nside", "B"]);
        assert_eq!((got[0].x, got[0].y), (113.6, 34.74));
    }

    #[test]
    fn a_csv_answer_quotes_what_needs_quoting() {
        let p = InputPoint {
            id: "A, \"north\"".into(),
            x: 113.6,
            y: 34.74,
        };
        let mut out = Vec::new();
        write_row(
            &mut out,
            Format::Csv,
            &p,
            &Row::Err {
                code: "outside_area",
            },
        );
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("\"A, \"\"north\"\"\",113.6,34.74,error,"),
            "{text}"
        );
        assert!(text.ends_with(",outside_area\n"), "{text}");
        let mut r = CsvPoints::default();
        r.feed(b"id,lon,lat\n").unwrap();
        let back = r.feed(text.as_bytes()).unwrap();
        assert_eq!(back[0].id, p.id);
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
