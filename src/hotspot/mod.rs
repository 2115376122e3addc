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
    /// An uploaded point set is malformed.
    #[error("{0}")]
    BadInput(String),
    /// Too much input.
    #[error("too large: {0}")]
    TooLarge(String),
}
