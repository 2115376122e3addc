//! Import of jurisdiction layers, responsible units and basemap features: the code path a city
//! uses for its own data, and the one the demo city is loaded through at first start.

pub mod geojson_layer;
pub mod guard;
pub mod history_csv;
pub mod hotline_csv;
pub mod osm;
pub mod package;
pub mod schema;
pub mod service;
pub mod units_csv;
pub mod validate;

pub use geojson_layer::{parse_basemap, parse_layer};
pub use service::{LayerImportOptions, LayerImportOutcome, import_layer, import_osm, import_units};
pub use units_csv::parse_units_csv;

/// A CSV reader over `text` (a UTF-8 byte-order mark skipped, fields trimmed) and its header row.
/// `flexible`: rows may have fewer or more fields than the header (exports from other systems).
pub(crate) fn csv_reader(
    text: &str,
    flexible: bool,
) -> Result<(csv::Reader<&[u8]>, csv::StringRecord), ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(flexible)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ImportError::BadCsv {
            line: 1,
            message: e.to_string(),
        })?
        .clone();
    check_record(&headers, &headers).map_err(|source| ImportError::Text {
        place: "CSV line 1".into(),
        source,
    })?;
    Ok((reader, headers))
}

/// Refuses a CSV record holding a control character (NUL and the like: see
/// [`crate::domain::text`]), naming the column.
pub(crate) fn check_record(
    headers: &csv::StringRecord,
    record: &csv::StringRecord,
) -> Result<(), crate::domain::text::ControlChar> {
    for (i, field) in record.iter().enumerate() {
        let column = headers
            .get(i)
            .map_or_else(|| format!("column {}", i + 1), |h| format!("column {h:?}"));
        crate::domain::text::check(&column, field)?;
    }
    Ok(())
}

/// Why an import was refused. Nothing is stored when any of these is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The text is not GeoJSON.
    #[error("malformed GeoJSON: {0}")]
    MalformedGeoJson(String),
    /// GeoJSON, but not a FeatureCollection.
    #[error("expected a GeoJSON FeatureCollection")]
    NotAFeatureCollection,
    /// A feature lacks a required property or has it in the wrong type.
    #[error("feature #{index}: {message}")]
    BadFeature {
        /// Zero-based index of the feature in the collection.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// The CSV is malformed or misses a column.
    #[error("CSV line {line}: {message}")]
    BadCsv {
        /// One-based line number (header = 1).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A coordinate was refused (swapped, out of range, outside the plausible area).
    #[error("feature #{index}{}: {source}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    BadCoordinate {
        /// Zero-based index of the feature.
        index: usize,
        /// Its code, if it has one.
        code: Option<String>,
        /// What is wrong with the coordinate.
        source: crate::domain::crs::CoordError,
    },
    /// The file names a coordinate system wangge does not know, or one that contradicts the
    /// declared one.
    #[error("{0}")]
    Crs(String),
    /// The OpenStreetMap file could not be read.
    #[error("OpenStreetMap PBF: {0}")]
    Osm(String),
    /// A text holds a control character (NUL and the like).
    #[error("{place}: {source}")]
    Text {
        /// Where: "feature #3", "CSV line 7".
        place: String,
        /// The character and field.
        source: crate::domain::text::ControlChar,
    },
    /// The upload is empty, or would remove live data unconfirmed (see [`guard`]).
    #[error(transparent)]
    Removal(#[from] guard::Refusal),
    /// The upload has more vertices than the limits allow.
    #[error(transparent)]
    TooManyVertices(#[from] validate::TooManyVertices),
    /// The validation was cancelled (timeout, client gone, shutdown).
    #[error(transparent)]
    Cancelled(#[from] validate::Cancelled),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A city package is not one: an unknown layer or kind, a bad category or holiday year.
    #[error("{0}")]
    Package(String),
    /// A part of a city package was refused; `source` says why.
    #[error("{part}: {source}")]
    InPackage {
        /// The file or part: `grid.geojson`, `units.csv`.
        part: String,
        /// Why.
        source: Box<ImportError>,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        message: String,
    },
}

/// Reads a file, transparently gunzipping `*.gz`.
pub fn read_text(path: &std::path::Path) -> Result<String, ImportError> {
    use std::io::Read;
    let io = |e: std::io::Error| ImportError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let bytes = std::fs::read(path).map_err(io)?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .map_err(io)?;
        Ok(text)
    } else {
        String::from_utf8(bytes).map_err(|e| ImportError::Io {
            path: path.display().to_string(),
            message: format!("not UTF-8: {e}"),
        })
    }
}
