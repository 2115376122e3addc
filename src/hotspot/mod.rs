//! Hot spot analytics for planners: where problems cluster, and where they keep coming back.
//!
//! Pure: no HTTP, no SQL. Inputs are WGS84 lon/lat points (with weights, categories and times);
//! every computation runs in metres in a local transverse Mercator frame ([`frame::LocalFrame`])
//! centred on the data; every output geometry is WGS84 lon/lat again.
//!
//! - [`kde`]: quartic-kernel density onto a raster, cases per km²;
//! - [`areas`]: analysis areas — unit grids, communities, streets (through the assignment
//!   engine's [`CityIndex`](crate::assign::CityIndex)), square fishnet or H3 cells — with counts,
//!   rates per km² and per km of 门前三包 frontage;
//! - [`weights`]: queen/rook contiguity, k-ring, distance band;
//! - [`gistar`]: Getis-Ord Gi* exactly as PySAL esda's `G_Local(star=True)`, p-values,
//!   Benjamini–Hochberg FDR, ArcGIS bins −3…+3;
//! - [`emerging`]: emerging hot spots on a weekly or monthly space-time cube (Mann-Kendall,
//!   ArcGIS's categories);
//! - [`blindspots`]: 卫生死角, recurring sanitation problems at one place;
//! - [`zones`]: the share of the load and of the hot spot area in urban villages, along the
//!   railway, on back alleys;
//! - [`input`]: uploaded CSV / GeoJSON point sets in a declared CRS;
//! - [`service`]: the analyses as the API asks for them, with the caches of areas and
//!   neighbours (the store reads and threads are `crate::hotspots`').

pub mod analysis;
pub mod areas;
pub mod blindspots;
pub mod dataset;
pub mod emerging;
pub mod frame;
pub mod gistar;
pub mod image;
pub mod input;
pub mod kde;
pub mod service;
pub mod stats;
pub mod weights;
pub mod zones;

use chrono::{DateTime, Utc};

/// One reported problem as the analytics see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Id in its source (`H…` history ids as stored, `C{id}` for live cases, row numbers for
    /// uploads).
    pub id: String,
    /// WGS84 longitude, degrees.
    pub lon: f64,
    /// WGS84 latitude, degrees.
    pub lat: f64,
    /// Weight (1 for a report; e.g. deaths at an address).
    pub weight: f64,
    /// Category code.
    pub category: Option<String>,
    /// When it was reported.
    pub reported_at: Option<DateTime<Utc>>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Channel / source.
    pub source: Option<String>,
}

/// What is wrong with an uploaded point set; each kind has the error code the same problem has
/// in every other upload (layer imports, batch assignment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadProblem {
    /// A CSV header or row cannot be read (422 `invalid_csv`).
    Csv,
    /// The GeoJSON does not parse (400 `malformed_geojson`).
    MalformedGeoJson,
    /// The GeoJSON is not a FeatureCollection (400 `not_a_feature_collection`).
    NotAFeatureCollection,
    /// A feature is not a usable point (422 `invalid_feature`).
    Feature,
    /// A coordinate is not a longitude, latitude pair (422 `invalid_coordinate`).
    Coordinate,
}

impl HotspotError {
    /// An upload problem of `kind`.
    pub fn upload(kind: UploadProblem, message: impl Into<String>) -> Self {
        Self::BadUpload {
            kind,
            message: message.into(),
        }
    }
}

/// Why an analysis could not run.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum HotspotError {
    /// No points passed the filter.
    #[error("no points to analyse: the filter or the upload selects none")]
    NoPoints,
    /// A parameter is out of range.
    #[error("{0}")]
    BadParameter(String),
    /// An uploaded point set cannot be read, or one of its rows or features is unusable.
    #[error("{message}")]
    BadUpload {
        /// What kind of problem, for the stable error code.
        kind: UploadProblem,
        /// What is wrong and where (row or feature).
        message: String,
    },
    /// An upload holds more points than allowed.
    #[error("the upload holds {0}")]
    UploadTooLarge(String),
    /// The analysis would need more cells, areas or rows than allowed.
    #[error("too large: {0}")]
    TooLarge(String),
}
