//! The import service: parse → check coordinates and convert to WGS84 → validate → publish. Used
//! by the admin API, by `wangge import`, and by the first start for the demo city.
//!
//! Nothing is written unless every step before publishing succeeded, and publishing itself is one
//! transaction: a refused import leaves the store exactly as it was.

use std::time::Instant;

use chrono::{DateTime, Utc};
use geo::{BoundingRect, CoordsIter, LineString};

use super::guard::{self, RemovalGuard, Replacement};

use super::validate::{self, Context, Limits, Report, Tolerances};
use super::{ImportError, geojson_layer, osm, units_csv};
use crate::domain::crs::{Crs, PlausibleArea};
use crate::domain::jurisdiction::{Jurisdiction, Layer, LayerVersion};
use crate::store::{Audit, Store};

/// How to import a layer.
#[derive(Debug, Clone)]
pub struct LayerImportOptions {
    /// The declared coordinate system of the input (`None`: the file's legacy `crs` member, else
    /// WGS84).
    pub crs: Option<Crs>,
    /// The new version is valid from this instant (default: now).
    pub valid_from: Option<DateTime<Utc>>,
    /// Publish despite warnings (errors always refuse).
    pub accept_warnings: bool,
    /// Validate only; never publish.
    pub dry_run: bool,
    /// Where the data came from, kept with the version.
    pub source: String,
    /// Thresholds of the validation.
    pub tolerances: Tolerances,
    /// How much of the live layer the import may remove unconfirmed.
    pub removal: RemovalGuard,
    /// Vertex limits, checked before the coordinates are converted or validated.
    pub limits: Limits,
}

impl Default for LayerImportOptions {
    fn default() -> Self {
        Self {
            crs: None,
            valid_from: None,
            accept_warnings: false,
            dry_run: false,
            source: "import".into(),
            tolerances: Tolerances::default(),
            removal: RemovalGuard::default(),
            limits: Limits::default(),
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerImportOutcome {
    /// The coordinate system the input was read in.
    pub crs: Crs,
    /// The validation report.
    pub report: Report,
    /// The published version, unless refused or a dry run.
    pub published: Option<LayerVersion>,
    /// Whether the validation refused the import.
    pub refused: bool,
}

/// A step of a long import, for progress output.
pub type Progress<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// The area where input coordinates are plausible: the city's extent plus 20 km once districts
/// are loaded; before that China for GCJ-02/BD-09 input (they exist nowhere else) and the world
/// otherwise.
pub async fn plausible_area(store: &Store, crs: Crs) -> Result<PlausibleArea, ImportError> {
    let districts = store.features_at(Layer::District, None).await?;
    let extent = districts
        .iter()
        .filter_map(|d| d.feature.geometry.bounding_rect())
        .reduce(|a, b| {
            geo::Rect::new(
                geo::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                geo::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
            )
        });
    Ok(match extent {
        Some(r) => {
            let names: Vec<&str> = districts.iter().map(|d| d.feature.name.as_str()).collect();
            PlausibleArea::around(&format!("the city ({})", names.join("、")), r, 20_000.0)
        }
        None if matches!(crs, Crs::Gcj02 | Crs::Bd09) => PlausibleArea::china(),
        None => PlausibleArea::world(),
    })
}

pub(crate) fn resolve_crs(
    declared: Option<Crs>,
    member: Option<String>,
) -> Result<Crs, ImportError> {
    let from_file = member
        .map(|name| {
            name.parse::<Crs>().map_err(|_| {
                ImportError::Crs(format!(
                    "the file declares the coordinate system {name:?}, which wangge does not convert; \
                     reproject it to EPSG:4326 (WGS84) or EPSG:4490 (CGCS2000) first"
                ))
            })
        })
        .transpose()?;
    match (declared, from_file) {
        (Some(d), Some(f))
            if !(d == f
                || matches!(
                    (d, f),
                    (Crs::Wgs84 | Crs::Cgcs2000, Crs::Wgs84 | Crs::Cgcs2000)
                )) =>
        {
            Err(ImportError::Crs(format!(
                "the request declares {d} but the file's crs member says {f}; remove one of them"
            )))
        }
        (Some(d), _) => Ok(d),
        (None, Some(f)) => Ok(f),
        (None, None) => Ok(Crs::Wgs84),
    }
}

/// Checks every coordinate of feature `index` (in its declared system) against the area.
fn check_coords(
    area: &PlausibleArea,
    index: usize,
    code: Option<&str>,
    geometry: &geo::Geometry<f64>,
) -> Result<(), ImportError> {
    for c in geometry.coords_iter() {
        area.check(c.x, c.y)
            .map_err(|source| ImportError::BadCoordinate {
                index,
                code: code.map(str::to_owned),
                source,
            })?;
    }
    Ok(())
}

/// Checks every coordinate in its declared system, then converts the features to WGS84.
pub fn to_wgs84(
    features: &mut [Jurisdiction],
    crs: Crs,
    area: &PlausibleArea,
) -> Result<(), ImportError> {
    for (index, f) in features.iter_mut().enumerate() {
        check_coords(area, index, Some(&f.code), &f.geometry)?;
        f.geometry = crs.geometry_to_wgs84(&f.geometry);
    }
    Ok(())
}

pub(crate) async fn context(
    store: &Store,
    layer: Layer,
    tolerances: Tolerances,
) -> Result<Context, ImportError> {
    let parents = match layer.parent() {
        Some(parent) => {
            let rows = store.features_at(parent, None).await?;
            (!rows.is_empty()).then(|| rows.into_iter().map(|r| r.feature).collect())
        }
        None => None,
    };
    let roads = if layer == Layer::Frontage {
        store
            .basemap("road")
            .await?
            .into_iter()
            .filter_map(|r| match r.geometry {
                geo::Geometry::LineString(l) => Some(vec![l]),
                geo::Geometry::MultiLineString(m) => Some(m.0),
                _ => None,
            })
            .flatten()
            .collect::<Vec<LineString<f64>>>()
    } else {
        Vec::new()
    };
    let units = store.unit_codes().await?;
    Ok(Context {
        parents,
        roads,
        tolerances,
        cancel: validate::Cancel::new(),
        units: Some(units),
    })
}

/// Imports one layer from GeoJSON text.
pub async fn import_layer(
    store: &Store,
    layer: Layer,
    text: String,
    options: &LayerImportOptions,
    audit: &Audit,
    progress: Progress<'_>,
) -> Result<LayerImportOutcome, ImportError> {
    let start = Instant::now();
    let (mut features, member) =
        tokio::task::spawn_blocking(move || geojson_layer::parse_layer_with_crs(layer, &text))
            .await
            .map_err(|e| ImportError::Io {
                path: "input".into(),
                message: e.to_string(),
            })??;
    progress(&format!(
        "{layer}: parsed {} features in {:.1?}",
        features.len(),
        start.elapsed()
    ));
    // Linear in the vertices, and before anything costlier: an oversized upload is refused
    // before its coordinates are converted or validated.
    validate::check_limits(&features, options.limits)?;
    let crs = resolve_crs(options.crs, member)?;
    let area = plausible_area(store, crs).await?;
    to_wgs84(&mut features, crs, &area)?;
    if crs != Crs::Wgs84 && crs != Crs::Cgcs2000 {
        progress(&format!("{layer}: converted from {crs} to WGS84"));
    }
    let ctx = context(store, layer, options.tolerances.clone()).await?;
    // When this future is dropped (the request timed out, the client went away, the runtime is
    // shutting down), the guard cancels the blocking validation, which stops within a few
    // thousand steps instead of running on unobserved.
    let _cancel_on_drop = ctx.cancel.on_drop();
    let (report, features) = tokio::task::spawn_blocking(move || {
        let report = validate::validate(layer, &features, &ctx);
        report.map(|r| (r, features))
    })
    .await
    .map_err(|e| ImportError::Io {
        path: "validation".into(),
        message: e.to_string(),
    })??;
    progress(&format!(
        "{layer}: validated in {:.1?}: {} errors, {} warnings",
        start.elapsed(),
        report.errors,
        report.warnings
    ));
    let refused = report.refuses(options.accept_warnings);
    if !refused {
        // After the validation, so a broken file is reported for what is wrong with it first.
        guard::check(
            &[Replacement {
                name: layer.to_string(),
                current: store.current_feature_count(layer).await?,
                incoming: features.len() as u64,
            }],
            options.removal,
        )?;
    }
    let published = if refused || options.dry_run {
        None
    } else {
        let valid_from = options.valid_from.unwrap_or_else(Utc::now);
        let v = store
            .publish_layer(layer, &features, valid_from, &options.source, audit)
            .await?;
        progress(&format!(
            "{layer}: published version {} ({} features) in {:.1?}",
            v.version,
            v.feature_count,
            start.elapsed()
        ));
        Some(v)
    };
    Ok(LayerImportOutcome {
        crs,
        report,
        published,
        refused,
    })
}

/// Imports responsible units from CSV (`code,name,kind,parent_code`); returns how many.
pub async fn import_units(store: &Store, text: &str, audit: &Audit) -> Result<usize, ImportError> {
    let units = units_csv::parse_units_csv(text)?;
    store.upsert_units(&units, audit).await?;
    Ok(units.len())
}

/// Imports basemap lines of one kind (`road`, `railway`, `water`) from GeoJSON, replacing the
/// previous ones of that kind.
pub async fn import_basemap(
    store: &Store,
    kind: &str,
    text: &str,
    crs: Option<Crs>,
    removal: RemovalGuard,
    audit: &Audit,
) -> Result<usize, ImportError> {
    let mut features = geojson_layer::parse_basemap(kind, text)?;
    let crs = crs.unwrap_or_default();
    let area = plausible_area(store, crs).await?;
    basemap_to_wgs84(&mut features, crs, &area)?;
    guard::check(
        &[Replacement {
            name: format!("basemap {kind}"),
            current: store.basemap_count(kind).await?,
            incoming: features.len() as u64,
        }],
        removal,
    )?;
    store.replace_basemap(&[(kind, &features)], audit).await?;
    Ok(features.len())
}

/// Checks every basemap coordinate in its declared system, then converts to WGS84.
pub fn basemap_to_wgs84(
    features: &mut [crate::store::BasemapFeature],
    crs: Crs,
    area: &PlausibleArea,
) -> Result<(), ImportError> {
    for (index, f) in features.iter_mut().enumerate() {
        check_coords(area, index, f.name.as_deref(), &f.geometry)?;
        f.geometry = crs.geometry_to_wgs84(&f.geometry);
    }
    Ok(())
}

/// Imports historical reports from CSV, each assigned by `index`; returns how many.
pub async fn import_history(
    store: &Store,
    index: std::sync::Arc<crate::assign::CityIndex>,
    text: String,
    crs: Option<Crs>,
    source: &str,
    audit: &Audit,
) -> Result<usize, ImportError> {
    let catalogue = crate::domain::catalogue::default_catalogue();
    let crs = crs.unwrap_or_default();
    let rows = tokio::task::spawn_blocking(move || {
        super::history_csv::parse_history_csv(&text, crs, &index, &catalogue)
    })
    .await
    .map_err(|e| ImportError::Io {
        path: "history".into(),
        message: e.to_string(),
    })??;
    store.insert_history(&rows, source, audit).await?;
    Ok(rows.len())
}

/// What an OpenStreetMap import loaded, per basemap kind.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct OsmOutcome {
    /// Road lines.
    pub roads: usize,
    /// Railway lines (rail, tram, subway, light rail).
    pub railways: usize,
    /// Building outlines.
    pub buildings: usize,
}

/// Imports roads, railways and buildings from an OpenStreetMap PBF file into the basemap. OSM is
/// WGS84 by definition; coordinates are still checked against the plausible area.
pub async fn import_osm(
    store: &Store,
    pbf: Vec<u8>,
    removal: RemovalGuard,
    audit: &Audit,
    progress: Progress<'_>,
) -> Result<OsmOutcome, ImportError> {
    if pbf.is_empty() {
        return Err(guard::Refusal::Empty.into());
    }
    let start = Instant::now();
    let extract = tokio::task::spawn_blocking(move || osm::read_pbf(&pbf))
        .await
        .map_err(|e| ImportError::Osm(e.to_string()))??;
    progress(&format!(
        "osm: read {} roads, {} railways, {} buildings in {:.1?}",
        extract.roads.len(),
        extract.railways.len(),
        extract.buildings.len(),
        start.elapsed()
    ));
    let area = plausible_area(store, Crs::Wgs84).await?;
    for (index, f) in extract
        .roads
        .iter()
        .chain(&extract.railways)
        .chain(&extract.buildings)
        .enumerate()
    {
        check_coords(&area, index, f.name.as_deref(), &f.geometry)?;
    }
    let mut sets = Vec::new();
    for (kind, incoming) in [
        ("road", &extract.roads),
        ("railway", &extract.railways),
        ("building", &extract.buildings),
    ] {
        sets.push(Replacement {
            name: format!("basemap {kind}"),
            current: store.basemap_count(kind).await?,
            incoming: incoming.len() as u64,
        });
    }
    guard::check(&sets, removal)?;
    store
        .replace_basemap(
            &[
                ("road", &extract.roads),
                ("railway", &extract.railways),
                ("building", &extract.buildings),
            ],
            audit,
        )
        .await?;
    progress(&format!("osm: stored in {:.1?}", start.elapsed()));
    Ok(OsmOutcome {
        roads: extract.roads.len(),
        railways: extract.railways.len(),
        buildings: extract.buildings.len(),
    })
}
