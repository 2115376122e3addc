//! A city package (城市数据包): a city's units, basemap, every jurisdiction layer, its categories
//! and its holiday years, checked as a whole and published in one transaction, or not at all.
//!
//! A city cannot otherwise be checked before it is live: a street layer's dry run needs the
//! district layer published. In a package each layer is validated against its parent layer from
//! the same package (or the store's, when the package leaves that layer out), every `unit_code`
//! against the package's units and the store's, and frontages against the package's roads. One
//! report covers every file, each finding with its layer, feature and a suggested fix.
//!
//! A package comes as a folder (`wangge import city <dir>`) or as one JSON upload
//! (`POST /api/import/city`); both become a [`CityPackage`] and go through [`import_city`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::service::{self, LayerImportOptions, Progress};
use super::validate::{self, Report};
use super::{ImportError, geojson_layer, units_csv};
use crate::domain::calendar::YearTable;
use crate::domain::catalogue::Category;
use crate::domain::crs::{Crs, PlausibleArea};
use crate::domain::dispatch::{RuleReport, RuleTable};
use crate::domain::jurisdiction::{Jurisdiction, Layer, LayerVersion};
use crate::domain::unit::ResponsibleUnit;
use crate::store::{Audit, BasemapFeature, CityPublished, CityWrite, Store};

use super::guard::{self, Replacement};

/// The basemap kinds a package may carry.
pub const BASEMAP_KINDS: [&str; 3] = ["road", "railway", "water"];

/// A city's data, read but not yet parsed: each part is checked by [`import_city`].
#[derive(Debug, Clone, Default)]
pub struct CityPackage {
    /// The units CSV (`units.csv`).
    pub units: Option<String>,
    /// Basemap GeoJSON per kind (`road.geojson` …).
    pub basemap: BTreeMap<String, String>,
    /// Layer GeoJSON per layer (`district.geojson` …).
    pub layers: BTreeMap<Layer, String>,
    /// The category catalogue (`categories.json`: an array), each written as a new version.
    pub categories: Vec<Category>,
    /// Years of the holiday table (`calendar/*.json`).
    pub calendar: Vec<YearTable>,
    /// The dispatch rule table (`dispatch_rules.json`), checked against the package's units,
    /// categories and districts and stored as the next version.
    pub dispatch_rules: Option<RuleTable>,
}

/// The JSON form of a package, for `POST /api/import/city`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageUpload {
    /// The units CSV, as text (English or Chinese headings).
    #[serde(default)]
    pub units: Option<String>,
    /// A GeoJSON FeatureCollection per layer: `district`, `street`, `community`, `grid`,
    /// `frontage`, `zone`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub layers: BTreeMap<String, Value>,
    /// A GeoJSON FeatureCollection per basemap kind: `road`, `railway`, `water`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub basemap: BTreeMap<String, Value>,
    /// Category definitions (as `PUT /api/categories/{code}` takes them).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub categories: Vec<Value>,
    /// Years of the holiday table (as `PUT /api/calendar/years/{year}` takes them).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub calendar: Vec<Value>,
    /// The dispatch rule table (as `PUT /api/dispatch/rules` takes it).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub dispatch_rules: Option<Value>,
}

fn package_error(message: String) -> ImportError {
    ImportError::Package(message)
}

fn in_part(part: impl Into<String>) -> impl FnOnce(ImportError) -> ImportError {
    let part = part.into();
    move |source| ImportError::InPackage {
        part,
        source: Box::new(source),
    }
}

fn parse_category(part: &str, v: Value) -> Result<Category, ImportError> {
    let c: Category = serde_json::from_value(v)
        .map_err(|e| package_error(format!("{part}: not a category definition: {e}")))?;
    c.check()
        .map_err(|e| package_error(format!("{part} ({}): {e}", c.code)))?;
    Ok(c)
}

fn parse_rules(part: &str, text: &str) -> Result<RuleTable, ImportError> {
    RuleTable::from_json(text).map_err(|e| package_error(format!("{part}: {e}")))
}

fn parse_year(part: &str, text: &str) -> Result<YearTable, ImportError> {
    YearTable::parse(text).map_err(|e| package_error(format!("{part}: {e}")))
}

impl TryFrom<PackageUpload> for CityPackage {
    type Error = ImportError;

    fn try_from(up: PackageUpload) -> Result<Self, ImportError> {
        let layers = up
            .layers
            .into_iter()
            .map(|(name, fc)| {
                let layer = name
                    .parse::<Layer>()
                    .map_err(|e| package_error(format!("layers: {e}")))?;
                Ok((layer, fc.to_string()))
            })
            .collect::<Result<_, ImportError>>()?;
        let basemap = up
            .basemap
            .into_iter()
            .map(|(kind, fc)| {
                if !BASEMAP_KINDS.contains(&kind.as_str()) {
                    return Err(package_error(format!(
                        "basemap: unknown kind {kind:?}; expected road, railway or water"
                    )));
                }
                Ok((kind, fc.to_string()))
            })
            .collect::<Result<_, ImportError>>()?;
        let categories = up
            .categories
            .into_iter()
            .enumerate()
            .map(|(i, v)| parse_category(&format!("categories[{i}]"), v))
            .collect::<Result<_, _>>()?;
        let calendar = up
            .calendar
            .into_iter()
            .enumerate()
            .map(|(i, v)| parse_year(&format!("calendar[{i}]"), &v.to_string()))
            .collect::<Result<_, _>>()?;
        let dispatch_rules = up
            .dispatch_rules
            .map(|v| parse_rules("dispatch_rules", &v.to_string()))
            .transpose()?;
        Ok(CityPackage {
            units: up.units,
            basemap,
            layers,
            categories,
            calendar,
            dispatch_rules,
        })
    }
}

/// The file of `stem` in `dir`: `.geojson`, `.geojson.gz`, `.csv` or `.csv.gz`.
pub fn find_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    [".geojson", ".geojson.gz", ".csv", ".csv.gz"]
        .into_iter()
        .map(|ext| dir.join(format!("{stem}{ext}")))
        .find(|p| p.is_file())
}

impl CityPackage {
    /// Reads a package folder: `units.csv`, `road.geojson` / `railway.geojson` /
    /// `water.geojson`, `<layer>.geojson` for each layer (`.gz` allowed), `categories.json`,
    /// `calendar/*.json` and `dispatch_rules.json`. Absent files are left out; `history.csv` is not part of a package
    /// (it is imported once the city is published).
    pub fn read_dir(dir: &Path) -> Result<Self, ImportError> {
        if !dir.is_dir() {
            return Err(package_error(format!(
                "{} is not a folder; a city package is a folder of units.csv, <layer>.geojson … (see docs/import.md)",
                dir.display()
            )));
        }
        let mut package = CityPackage {
            units: find_file(dir, "units")
                .map(|p| super::read_text(&p))
                .transpose()?,
            ..CityPackage::default()
        };
        for kind in BASEMAP_KINDS {
            if let Some(p) = find_file(dir, kind) {
                package
                    .basemap
                    .insert(kind.to_owned(), super::read_text(&p)?);
            }
        }
        for layer in Layer::ALL {
            if let Some(p) = find_file(dir, layer.as_str()) {
                package.layers.insert(layer, super::read_text(&p)?);
            }
        }
        let categories = dir.join("categories.json");
        if categories.is_file() {
            let text = super::read_text(&categories)?;
            let values: Vec<Value> = serde_json::from_str(&text).map_err(|e| {
                package_error(format!("categories.json: not an array of categories: {e}"))
            })?;
            package.categories = values
                .into_iter()
                .enumerate()
                .map(|(i, v)| parse_category(&format!("categories.json[{i}]"), v))
                .collect::<Result<_, _>>()?;
        }
        let calendar = dir.join("calendar");
        if calendar.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&calendar)
                .map_err(|e| ImportError::Io {
                    path: calendar.display().to_string(),
                    message: e.to_string(),
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            for p in files {
                let part = format!("calendar/{}", p.file_name().unwrap_or_default().display());
                package
                    .calendar
                    .push(parse_year(&part, &super::read_text(&p)?)?);
            }
        }
        let rules = dir.join("dispatch_rules.json");
        if rules.is_file() {
            package.dispatch_rules = Some(parse_rules(
                "dispatch_rules.json",
                &super::read_text(&rules)?,
            )?);
        }
        if package.is_empty() {
            return Err(ImportError::Removal(guard::Refusal::Empty));
        }
        Ok(package)
    }

    /// Whether the package holds nothing at all.
    pub fn is_empty(&self) -> bool {
        self.units.is_none()
            && self.basemap.is_empty()
            && self.layers.is_empty()
            && self.categories.is_empty()
            && self.calendar.is_empty()
            && self.dispatch_rules.is_none()
    }
}

/// What a package import did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PackageOutcome {
    /// Whether the validation refused the package (then nothing was stored).
    pub refused: bool,
    /// Errors over every layer.
    pub errors: usize,
    /// Warnings over every layer.
    pub warnings: usize,
    /// Responsible units in the package.
    pub units: usize,
    /// Basemap features per kind.
    pub basemap: BTreeMap<String, usize>,
    /// Categories in the package.
    pub categories: usize,
    /// Years of the holiday table in the package.
    pub calendar_years: Vec<i32>,
    /// The check of the package's dispatch rule table against its units, categories and
    /// districts (and the store's), when it brings one.
    #[schema(value_type = Option<Object>)]
    pub dispatch_rules: Option<RuleReport>,
    /// The version the dispatch rule table was stored as (null when refused, a dry run, or no
    /// table).
    pub dispatch_rules_version: Option<i64>,
    /// The coordinate system each layer was read in.
    #[schema(value_type = Object)]
    pub crs: BTreeMap<Layer, Crs>,
    /// The validation report of each layer, parents first.
    #[schema(value_type = Vec<Object>)]
    pub reports: Vec<Report>,
    /// The published versions (empty when refused or a dry run).
    #[schema(value_type = Vec<Object>)]
    pub published: Vec<LayerVersion>,
}

impl PackageOutcome {
    /// Every finding of every layer as one FeatureCollection, each with its `layer`.
    pub fn to_geojson(&self) -> geojson::FeatureCollection {
        let features = self
            .reports
            .iter()
            .flat_map(|r| {
                r.to_geojson().features.into_iter().map(move |mut f| {
                    if let Some(p) = f.properties.as_mut() {
                        p.insert("layer".into(), r.layer.as_str().into());
                    }
                    f
                })
            })
            .collect();
        geojson::FeatureCollection {
            bbox: None,
            features,
            foreign_members: None,
        }
    }
}

/// The extent of `features` (WGS84), named after them.
fn area_of(features: &[Jurisdiction]) -> Option<PlausibleArea> {
    use geo::BoundingRect;
    let extent = features
        .iter()
        .filter_map(|d| d.geometry.bounding_rect())
        .reduce(|a, b| {
            geo::Rect::new(
                geo::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                geo::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
            )
        })?;
    let names: Vec<&str> = features.iter().map(|d| d.name.as_str()).collect();
    Some(PlausibleArea::around(
        &format!("the city of the package ({})", names.join("、")),
        extent,
        20_000.0,
    ))
}

fn roads_of(features: &[BasemapFeature]) -> Vec<geo::LineString<f64>> {
    features
        .iter()
        .flat_map(|r| match &r.geometry {
            geo::Geometry::LineString(l) => vec![l.clone()],
            geo::Geometry::MultiLineString(m) => m.0.clone(),
            _ => Vec::new(),
        })
        .collect()
}

/// Checks a whole package and, unless refused or a dry run, publishes it in one transaction.
///
/// A file that cannot be read at all (malformed GeoJSON, a bad CSV line, a coordinate outside
/// the city) stops the import with an error naming the file; everything the validation finds is
/// collected in the reports. `options.crs` is the declared system of every file (a file's own
/// legacy `crs` member may name it instead); the removal guard weighs every layer and basemap
/// kind the package replaces.
pub async fn import_city(
    store: &Store,
    package: CityPackage,
    options: &LayerImportOptions,
    audit: &Audit,
    progress: Progress<'_>,
) -> Result<PackageOutcome, ImportError> {
    let start = Instant::now();
    let units: Vec<ResponsibleUnit> = match &package.units {
        Some(text) => units_csv::parse_units_csv(text).map_err(in_part("units.csv"))?,
        None => Vec::new(),
    };

    // Parse every layer and check its size, and the package's, before anything costlier.
    let mut parsed: Vec<(Layer, Vec<Jurisdiction>, Crs)> = Vec::new();
    let mut package_vertices = 0usize;
    for (layer, text) in package.layers {
        let part = format!("{layer}.geojson");
        let (features, member) =
            tokio::task::spawn_blocking(move || geojson_layer::parse_layer_with_crs(layer, &text))
                .await
                .map_err(|e| ImportError::Io {
                    path: part.clone(),
                    message: e.to_string(),
                })?
                .map_err(in_part(part.clone()))?;
        let vertices = validate::check_limits(&features, options.limits)
            .map_err(|e| in_part(part.clone())(e.into()))?;
        package_vertices = package_vertices.saturating_add(vertices);
        if package_vertices > options.limits.max_package_vertices {
            return Err(validate::TooManyVertices::Package {
                count: package_vertices,
                layers: parsed.len() + 1,
                limit: options.limits.max_package_vertices,
            }
            .into());
        }
        let crs = service::resolve_crs(options.crs, member).map_err(in_part(part))?;
        parsed.push((layer, features, crs));
    }
    parsed.sort_by_key(|(layer, _, _)| Layer::ALL.iter().position(|l| l == layer));
    progress(&format!(
        "package: parsed {} layers in {:.1?}",
        parsed.len(),
        start.elapsed()
    ));

    // Coordinates: the districts against the store's city (or China / the world), everything
    // else against the package's own districts once they are known.
    let mut area: Option<PlausibleArea> = None;
    let mut crs_of = BTreeMap::new();
    for (layer, features, crs) in &mut parsed {
        let a = match &area {
            Some(a) => a.clone(),
            None => service::plausible_area(store, *crs).await?,
        };
        service::to_wgs84(features, *crs, &a).map_err(in_part(format!("{layer}.geojson")))?;
        crs_of.insert(*layer, *crs);
        if *layer == Layer::District {
            area = area_of(features);
        }
    }
    let basemap_crs = options.crs.unwrap_or_default();
    let basemap_area = match &area {
        Some(a) => a.clone(),
        None => service::plausible_area(store, basemap_crs).await?,
    };
    let mut basemap: Vec<(String, Vec<BasemapFeature>)> = Vec::new();
    for (kind, text) in package.basemap {
        let part = format!("{kind}.geojson");
        let mut features =
            geojson_layer::parse_basemap(&kind, &text).map_err(in_part(part.clone()))?;
        service::basemap_to_wgs84(&mut features, basemap_crs, &basemap_area)
            .map_err(in_part(part))?;
        basemap.push((kind, features));
    }

    // Validate each layer against the package's parent layer, units and roads.
    let mut unit_codes = store
        .list_units(None, i64::MAX, 0)
        .await?
        .into_iter()
        .map(|u| u.code)
        .collect::<std::collections::BTreeSet<_>>();
    unit_codes.extend(units.iter().map(|u| u.code.clone()));
    let package_roads = basemap
        .iter()
        .find(|(k, _)| k == "road")
        .map(|(_, f)| roads_of(f));
    let mut reports = Vec::with_capacity(parsed.len());
    for i in 0..parsed.len() {
        let layer = parsed[i].0;
        let mut ctx = service::context(store, layer, options.tolerances.clone()).await?;
        if let Some(parent) = layer.parent()
            && let Some((_, features, _)) = parsed.iter().find(|(l, _, _)| *l == parent)
        {
            ctx.parents = Some(features.clone());
        }
        if layer == Layer::Frontage
            && let Some(roads) = &package_roads
        {
            ctx.roads = roads.clone();
        }
        ctx.units = Some(unit_codes.clone());
        let _cancel_on_drop = ctx.cancel.on_drop();
        let features = std::mem::take(&mut parsed[i].1);
        let (report, features) = tokio::task::spawn_blocking(move || {
            validate::validate(layer, &features, &ctx).map(|r| (r, features))
        })
        .await
        .map_err(|e| ImportError::Io {
            path: format!("validation of {layer}"),
            message: e.to_string(),
        })??;
        parsed[i].1 = features;
        progress(&format!(
            "package: {layer} validated: {} errors, {} warnings",
            report.errors, report.warnings
        ));
        reports.push(report);
    }

    // The rule table against the package's units, categories and districts, and the store's.
    let rules_report = match &package.dispatch_rules {
        Some(table) => {
            let mut city = crate::cases::rules::rule_context(store).await?;
            city.units.extend(units.iter().map(|u| u.code.clone()));
            city.categories
                .extend(package.categories.iter().map(|c| c.code.clone()));
            if let Some((_, districts, _)) = parsed.iter().find(|(l, _, _)| *l == Layer::District) {
                city.districts = districts.iter().map(|d| d.code.clone()).collect();
            }
            let report = table.check_against(&city);
            progress(&format!(
                "package: dispatch rules checked: {} errors, {} warnings",
                report.errors, report.warnings
            ));
            Some(report)
        }
        None => None,
    };

    let errors = reports.iter().map(|r| r.errors).sum::<usize>()
        + rules_report.as_ref().map_or(0, |r| r.errors);
    let warnings = reports.iter().map(|r| r.warnings).sum::<usize>()
        + rules_report.as_ref().map_or(0, |r| r.warnings);
    let refused = reports.iter().any(|r| r.refuses(options.accept_warnings))
        || rules_report
            .as_ref()
            .is_some_and(|r| r.refuses(options.accept_warnings));
    if !refused {
        let mut replacements = Vec::new();
        for (layer, features, _) in &parsed {
            replacements.push(Replacement {
                name: layer.to_string(),
                current: store.current_feature_count(*layer).await?,
                incoming: features.len() as u64,
            });
        }
        for (kind, features) in &basemap {
            replacements.push(Replacement {
                name: format!("basemap {kind}"),
                current: store.basemap_count(kind).await?,
                incoming: features.len() as u64,
            });
        }
        guard::check(&replacements, options.removal)?;
    }
    let published = if refused || options.dry_run {
        CityPublished {
            layers: Vec::new(),
            dispatch_rules: None,
        }
    } else {
        let layers: Vec<(Layer, Vec<Jurisdiction>)> =
            parsed.iter().map(|(l, f, _)| (*l, f.clone())).collect();
        let sets: Vec<(&str, &[BasemapFeature])> = basemap
            .iter()
            .map(|(k, f)| (k.as_str(), f.as_slice()))
            .collect();
        let versions = store
            .publish_city(
                &CityWrite {
                    units: &units,
                    basemap: &sets,
                    layers: &layers,
                    valid_from: options.valid_from.unwrap_or_else(chrono::Utc::now),
                    source: &options.source,
                    categories: &package.categories,
                    calendar: &package.calendar,
                    dispatch_rules: package.dispatch_rules.as_ref(),
                },
                audit,
            )
            .await?;
        progress(&format!(
            "package: published {} layers in one transaction in {:.1?}",
            versions.layers.len(),
            start.elapsed()
        ));
        versions
    };
    Ok(PackageOutcome {
        refused,
        errors,
        warnings,
        units: units.len(),
        basemap: basemap.iter().map(|(k, f)| (k.clone(), f.len())).collect(),
        categories: package.categories.len(),
        calendar_years: package.calendar.iter().map(|t| t.year).collect(),
        dispatch_rules: rules_report,
        dispatch_rules_version: published.dispatch_rules,
        crs: crs_of,
        reports,
        published: published.layers,
    })
}
