//! Validation of a layer before anything is stored: the topology rules of the grid standards
//! (closed, valid polygons; siblings without gaps or overlaps; every child inside its parent),
//! code rules, plausible grid areas, and frontage segments lying along a road.
//!
//! Pure: geometry in, report out. Coordinates are WGS84 lon/lat degrees; areas are computed on
//! the sphere (Chamberlain–Duquette, m²) and distances in a local equirectangular projection (m),
//! accurate to well under 1 % across a city.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use geo::algorithm::validation::{
    CoordIndex, GeometryIndex, InvalidMultiPolygon, InvalidPolygon, RingRole,
};
use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::{
    BooleanOps, BoundingRect, Centroid, ChamberlainDuquetteArea, CoordsIter, Geometry, Intersects,
    Line, LineString, MultiPolygon, Point, Polygon, PreparedGeometry, Relate, Validation,
};
use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Line as RLine};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::jurisdiction::{Jurisdiction, Layer};

pub use crate::domain::finding::Severity;

/// One finding of the validation.
#[derive(Debug, Clone, Serialize)]
pub struct Issue {
    /// Error or warning.
    pub severity: Severity,
    /// Stable name of the check, e.g. `overlap`, `gap`, `outside_parent`.
    pub check: &'static str,
    /// Code of the feature concerned (the first of a pair), if any.
    pub feature: Option<String>,
    /// What is wrong and how much, in words a person can act on.
    pub message: String,
    /// Where, in WGS84: the overlap, the gap, the part outside the parent, or the feature.
    #[serde(skip)]
    pub location: Option<Geometry<f64>>,
    /// What to change in the data, in Chinese and English.
    pub fix: &'static str,
}

/// The suggested fix of each check, one place for all of them.
pub fn suggested_fix(check: &str) -> &'static str {
    match check {
        "malformed_code" => {
            "按标准改正编码位数和前缀（见 GET /api/import/schema/{layer}） / correct the code to the standard's format and its parent's prefix"
        }
        "duplicate_code" => "每个要素使用唯一编码 / give every feature its own code",
        "missing_property" => {
            "为每个要素填写 code（编码）和 name（名称），列名见 GET /api/import/schema/{layer} / give every feature its code and name (see the schema for accepted column names)"
        }
        "wrong_geometry_type" => {
            "导出为该图层要求的几何类型 / export the geometry type the layer needs (see the schema)"
        }
        "invalid_geometry" => {
            "在 GIS 中修复几何（如 QGIS「修复几何」或 ST_MakeValid）/ repair the geometry (QGIS Fix geometries, ST_MakeValid)"
        }
        "overlap" => {
            "调整边界使相邻要素不重叠 / move the shared boundary so the features do not overlap"
        }
        "gap" => "补齐缝隙，使子要素覆盖上级 / close the gap so the children cover their parent",
        "outside_parent" => {
            "把要素裁剪到上级范围内，或改正 parent_code / clip the feature to its parent or correct parent_code"
        }
        "missing_parent" => "填写 parent_code / fill in parent_code",
        "unknown_parent" => {
            "改正 parent_code，或在同一数据包中加入上级要素 / correct parent_code or add the parent to the package"
        }
        "parent_layer_missing" => {
            "先导入上级图层，或把它放进同一个城市数据包 / import the parent layer first, or put it in the same city package"
        }
        "missing_site_type" | "unknown_site_type" => {
            "给测评点位填写 site_type（见 docs/inspections.md 的点位类型表） / give the inspection site a site_type from the point types of docs/inspections.md"
        }
        "unknown_unit" => {
            "在 units.csv 中加入该单位，或改正 unit_code / add the unit to units.csv or correct unit_code"
        }
        "grid_without_owner" => {
            "为网格填写 unit_code（责任单位）/ give the grid its responsible unit in unit_code"
        }
        "frontage_without_owner" => {
            "填写责任商户的 unit_code，并在 units.csv 中登记该商户 / fill in the shop's unit_code and list the shop in units.csv"
        }
        "missing_depth" | "invalid_depth" => {
            "填写门前三包进深 depth_m，0–100 米，如 5 / give depth_m in metres (0–100), e.g. 5"
        }
        "missing_shop_type" => "填写 shop_type，如 餐饮、零售、单位 / fill in shop_type",
        "missing_zone_kind" | "unknown_zone_kind" => {
            "zone_kind 取 urban_village、railway_land、back_alley 或 inspection_site / use one of the four zone kinds"
        }
        "grid_area" | "grid_area_unusual" => {
            "检查网格划分和坐标系（面积约 1 万平方米为宜）/ check the grid's outline and the declared crs (about 10,000 m² each)"
        }
        "frontage_far_from_road" | "roads_missing" => {
            "检查坐标系，或先导入道路底图 / check the declared crs, or import the road basemap first"
        }
        _ => "见 docs/import.md / see docs/import.md",
    }
}

/// Thresholds of the checks.
#[derive(Debug, Clone)]
pub struct Tolerances {
    /// Overlaps, gaps and parts outside the parent smaller than this are ignored (m²).
    pub area_m2: f64,
    /// A grid smaller than this or larger than `grid_max_m2` is an error (m²).
    pub grid_min_m2: f64,
    /// See `grid_min_m2`.
    pub grid_max_m2: f64,
    /// Outside this range a grid is unusual: a warning (m²). The standard's 万米单元网格 is about
    /// 10,000 m² in built-up areas; rural village grids are larger.
    pub grid_usual_m2: (f64, f64),
    /// A frontage segment farther than this from every road is an error (m).
    pub frontage_road_m: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Self {
            area_m2: 1.0,
            grid_min_m2: 500.0,
            grid_max_m2: 2_000_000.0,
            grid_usual_m2: (2_000.0, 120_000.0),
            frontage_road_m: 30.0,
        }
    }
}

/// Size limits of an upload, checked right after parsing, before any geometry work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most vertices in one feature (all rings and parts together).
    pub max_feature_vertices: usize,
    /// Most vertices in one upload (one layer).
    pub max_upload_vertices: usize,
    /// Most vertices in one city package, every layer together.
    pub max_package_vertices: usize,
}

/// Default of [`Limits::max_feature_vertices`].
pub const DEFAULT_MAX_FEATURE_VERTICES: usize = 250_000;
/// Default of [`Limits::max_upload_vertices`].
pub const DEFAULT_MAX_UPLOAD_VERTICES: usize = 2_000_000;
/// Default of [`Limits::max_package_vertices`]: three full layers; a real city's six layers are
/// far below it (the demo city has about 200,000 vertices).
pub const DEFAULT_MAX_PACKAGE_VERTICES: usize = 6_000_000;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_feature_vertices: DEFAULT_MAX_FEATURE_VERTICES,
            max_upload_vertices: DEFAULT_MAX_UPLOAD_VERTICES,
            max_package_vertices: DEFAULT_MAX_PACKAGE_VERTICES,
        }
    }
}

/// An upload over [`Limits`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TooManyVertices {
    /// One feature has more vertices than allowed.
    #[error(
        "feature #{index} ({code}) has {count} vertices, more than the {limit} allowed per feature; simplify it (e.g. to 0.5 m) or split it"
    )]
    Feature {
        /// Zero-based index of the feature.
        index: usize,
        /// Its code.
        code: String,
        /// Vertices counted (up to the point the count stopped).
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The upload as a whole has more vertices than allowed.
    #[error(
        "the upload has more than {limit} vertices (counted {count} in the first {features} features); simplify the geometry or import fewer features at once"
    )]
    Upload {
        /// Vertices counted when the limit was passed.
        count: usize,
        /// Features counted so far.
        features: usize,
        /// The limit.
        limit: usize,
    },
    /// A city package's layers together have more vertices than allowed.
    #[error(
        "the city package has {count} vertices in its first {layers} layers, more than the {limit} allowed per package; simplify the geometry or import the layers in two packages"
    )]
    Package {
        /// Vertices counted when the limit was passed.
        count: usize,
        /// Layers counted so far.
        layers: usize,
        /// The limit.
        limit: usize,
    },
}

/// Refuses an upload whose features have more vertices than `limits` allow. Linear in the
/// vertices counted, and it stops at the first limit passed.
pub fn check_limits(features: &[Jurisdiction], limits: Limits) -> Result<usize, TooManyVertices> {
    let mut total = 0usize;
    for (index, j) in features.iter().enumerate() {
        let count = j.geometry.coords_count();
        if count > limits.max_feature_vertices {
            return Err(TooManyVertices::Feature {
                index,
                code: j.code.clone(),
                count,
                limit: limits.max_feature_vertices,
            });
        }
        total = total.saturating_add(count);
        if total > limits.max_upload_vertices {
            return Err(TooManyVertices::Upload {
                count: total,
                features: index + 1,
                limit: limits.max_upload_vertices,
            });
        }
    }
    Ok(total)
}

/// Cooperative cancellation of a validation: the loops of [`validate`] look at the flag every
/// few thousand steps and give up with [`Cancelled`] once it is set. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A fresh, unset flag.
    pub fn new() -> Self {
        Self::default()
    }
    /// Asks every holder of a clone to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    /// A guard that cancels when dropped: held by the future waiting for the blocking work, so
    /// that a timed-out request, a client gone away or a runtime shutting down stops the work.
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }
}

/// See [`Cancel::on_drop`].
#[derive(Debug)]
pub struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// The validation was cancelled before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the validation was cancelled (the request timed out, the client went away or the server is shutting down)"
)]
pub struct Cancelled;

/// Counts the elementary steps of a validation (candidate pairs of segments or features) and
/// stops it when cancelled.
struct Work<'a> {
    cancel: &'a Cancel,
    steps: u64,
}

impl Work<'_> {
    fn step(&mut self) -> Result<(), Cancelled> {
        self.steps += 1;
        if self.steps.is_multiple_of(1024) {
            self.check()
        } else {
            Ok(())
        }
    }
    fn check(&self) -> Result<(), Cancelled> {
        if self.cancel.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }
}

/// What the validation knows besides the features themselves.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The current features of the parent layer (None: the parent layer is not loaded).
    pub parents: Option<Vec<Jurisdiction>>,
    /// Road centre lines, WGS84, for the frontage check.
    pub roads: Vec<LineString<f64>>,
    /// Thresholds.
    pub tolerances: Tolerances,
    /// Set to stop the validation early.
    pub cancel: Cancel,
    /// The codes of the responsible units a `unit_code` may name (None: not checked).
    pub units: Option<BTreeSet<String>>,
}

/// The largest accepted 门前三包 responsibility depth, metres.
pub const MAX_FRONTAGE_DEPTH_M: f64 = 100.0;

/// The outcome of a validation.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The layer validated.
    pub layer: Layer,
    /// Features validated.
    pub feature_count: usize,
    /// Error count.
    pub errors: usize,
    /// Warning count.
    pub warnings: usize,
    /// The area tolerance used (m²).
    pub area_tolerance_m2: f64,
    /// Every finding, errors first.
    pub issues: Vec<Issue>,
    /// Elementary steps taken (candidate segment and feature pairs examined): a measure of the
    /// work, which grows about linearly with the vertices of ordinary geometry.
    #[serde(skip)]
    pub steps: u64,
}

impl Report {
    /// Whether an import with this report is refused.
    pub fn refuses(&self, accept_warnings: bool) -> bool {
        self.errors > 0 || (self.warnings > 0 && !accept_warnings)
    }

    /// The findings as a GeoJSON FeatureCollection, to be seen on a map.
    pub fn to_geojson(&self) -> geojson::FeatureCollection {
        let features = self
            .issues
            .iter()
            .map(|i| {
                let mut props = Map::new();
                props.insert(
                    "severity".into(),
                    serde_json::to_value(i.severity).unwrap_or(Value::Null),
                );
                props.insert("check".into(), i.check.into());
                props.insert("feature".into(), i.feature.clone().into());
                props.insert("message".into(), i.message.clone().into());
                props.insert("fix".into(), i.fix.into());
                geojson::Feature {
                    bbox: None,
                    geometry: i.location.as_ref().map(geojson::Geometry::from),
                    id: None,
                    properties: Some(props),
                    foreign_members: None,
                }
            })
            .collect();
        geojson::FeatureCollection {
            bbox: None,
            features,
            foreign_members: None,
        }
    }
}

/// A frontage names the unit grid it lies in: the grid must exist (when the grid layer is
/// known) and the segment's centroid lie in it or within 30 m of it (frontages run along the
/// street edge, which is often the grid's own boundary).
fn check_frontage_grids(features: &[Jurisdiction], ctx: &Context, f: &mut Findings) {
    use geo::{Contains, Distance, Haversine};
    let grids: Option<BTreeMap<&str, &Geometry<f64>>> = ctx
        .parents
        .as_ref()
        .map(|p| p.iter().map(|g| (g.code.as_str(), &g.geometry)).collect());
    if grids.is_none() && !features.is_empty() {
        f.push(
            Severity::Warning,
            "parent_layer_missing",
            None,
            "the grid layer is not loaded, so the frontages' grids were not checked; import it first or put it in the same city package".into(),
            None,
        );
    }
    for j in features {
        let Some(code) = j.parent_code.as_deref() else {
            f.push(
                Severity::Error,
                "missing_parent",
                Some(&j.code),
                format!(
                    "frontage {} must name its unit grid in parent_code / 缺少所在网格编码",
                    j.code
                ),
                Some(j.geometry.clone()),
            );
            continue;
        };
        let Some(grids) = &grids else { continue };
        let Some(grid) = grids.get(code) else {
            f.push(
                Severity::Error,
                "unknown_parent",
                Some(&j.code),
                format!(
                    "frontage {} names the grid {code}, which is not in the grid layer",
                    j.code
                ),
                Some(j.geometry.clone()),
            );
            continue;
        };
        // The centroid of a frontage line lies on it or, for a bent one, close beside it.
        let mid = j.geometry.centroid();
        let Some(mid) = mid else { continue };
        let near = match grid {
            Geometry::Polygon(p) => {
                p.contains(&mid)
                    || p.exterior()
                        .lines()
                        .any(|seg| Haversine.distance(mid, closest_on_segment(mid, seg)) <= 30.0)
            }
            Geometry::MultiPolygon(m) => m.0.iter().any(|p| {
                p.contains(&mid)
                    || p.exterior()
                        .lines()
                        .any(|seg| Haversine.distance(mid, closest_on_segment(mid, seg)) <= 30.0)
            }),
            _ => true,
        };
        if !near {
            f.push(
                Severity::Error,
                "outside_parent",
                Some(&j.code),
                format!(
                    "frontage {} lies more than 30 m from its grid {code}",
                    j.code
                ),
                Some(j.geometry.clone()),
            );
        }
    }
}

/// The point of `seg` closest to `p`, in degrees (planar: segments are short).
fn closest_on_segment(p: geo::Point<f64>, seg: geo::Line<f64>) -> geo::Point<f64> {
    let (d, q) = (seg.delta(), p.0 - seg.start);
    let len2 = d.x * d.x + d.y * d.y;
    let t = if len2 > 0.0 {
        ((q.x * d.x + q.y * d.y) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    geo::Point::new(seg.start.x + t * d.x, seg.start.y + t * d.y)
}

/// The kinds of 专题区域 and the geometry each must have.
pub const ZONE_KINDS: [(&str, &str); 4] = [
    ("urban_village", "Polygon"),
    ("railway_land", "Polygon"),
    ("back_alley", "LineString"),
    ("inspection_site", "Point or Polygon"),
];

/// A zone needs a known `zone_kind` and the geometry of that kind: the engine looks urban
/// villages and railway land up as areas, back alleys as lines and inspection sites (测评点位) as
/// points or areas (a market, a park).
fn check_zone_kinds(features: &[Jurisdiction], f: &mut Findings) {
    for j in features {
        let Some(kind) = j.kind.as_deref() else {
            f.push(
                Severity::Error,
                "missing_zone_kind",
                Some(&j.code),
                format!(
                    "zone {} has no zone_kind: give urban_village, railway_land, back_alley or inspection_site / 缺少区域类型",
                    j.code
                ),
                Some(j.geometry.clone()),
            );
            continue;
        };
        let Some((_, shape)) = ZONE_KINDS.iter().find(|(k, _)| *k == kind) else {
            f.push(
                Severity::Error,
                "unknown_zone_kind",
                Some(&j.code),
                format!(
                    "zone {} has zone_kind {kind:?}; expected urban_village, railway_land, back_alley or inspection_site",
                    j.code
                ),
                Some(j.geometry.clone()),
            );
            continue;
        };
        let fits = match *shape {
            "Polygon" => matches!(j.geometry, Geometry::Polygon(_) | Geometry::MultiPolygon(_)),
            "LineString" => matches!(
                j.geometry,
                Geometry::LineString(_) | Geometry::MultiLineString(_)
            ),
            "Point" => matches!(j.geometry, Geometry::Point(_) | Geometry::MultiPoint(_)),
            _ => matches!(
                j.geometry,
                Geometry::Point(_) | Geometry::Polygon(_) | Geometry::MultiPolygon(_)
            ),
        };
        if !fits {
            f.push(
                Severity::Error,
                "wrong_geometry_type",
                Some(&j.code),
                format!("a zone of kind {kind} must be a {shape}"),
                Some(j.geometry.clone()),
            );
        }
    }
}

/// An inspection site (测评点位) needs a known point type, or no round can visit it, and its
/// supporting units (配合) must exist like its lead unit.
fn check_sites(features: &[Jurisdiction], ctx: &Context, f: &mut Findings) {
    use crate::domain::inspection::{point_type_name, support_units};
    for j in features
        .iter()
        .filter(|j| j.kind.as_deref() == Some("inspection_site"))
    {
        match j.props.get("site_type").and_then(|v| v.as_str()) {
            None => f.push(
                Severity::Warning,
                "missing_site_type",
                Some(&j.code),
                format!(
                    "inspection site {} has no site_type: no inspection round can visit it / 缺少测评点位类型",
                    j.code
                ),
                Some(j.geometry.clone()),
            ),
            Some(t) if point_type_name(t).is_none() => f.push(
                Severity::Error,
                "unknown_site_type",
                Some(&j.code),
                format!(
                    "inspection site {} has site_type {t:?}, which is not a point type (see GET /api/import/schema/zone)",
                    j.code
                ),
                Some(j.geometry.clone()),
            ),
            Some(_) => {}
        }
        if let Some(units) = &ctx.units {
            for u in support_units(j).iter().filter(|u| !units.contains(*u)) {
                f.push(
                    Severity::Error,
                    "unknown_unit",
                    Some(&j.code),
                    format!(
                        "inspection site {} names the supporting unit {u:?}, which does not exist / 配合单位不存在",
                        j.code
                    ),
                    Some(j.geometry.clone()),
                );
            }
        }
    }
}

/// The owners and attributes a feature needs: an existing responsible unit (the real import would
/// otherwise fail on the database's foreign key), a grid's owner, a frontage's depth and shop type.
fn check_owners(layer: Layer, features: &[Jurisdiction], ctx: &Context, f: &mut Findings) {
    for j in features {
        match (&j.unit_code, &ctx.units) {
            (Some(unit), Some(units)) if !units.contains(unit) => f.push(
                Severity::Error,
                "unknown_unit",
                Some(&j.code),
                format!(
                    "{layer} {} names the responsible unit {unit:?}, which does not exist: import it first \
                     (POST /api/import/units) or correct unit_code / 责任单位不存在",
                    j.code
                ),
                Some(j.geometry.clone()),
            ),
            (None, _) if layer == Layer::Frontage => f.push(
                Severity::Error,
                "frontage_without_owner",
                Some(&j.code),
                format!(
                    "frontage {} has no unit_code: a 门前三包 segment needs the shop or organisation responsible for it \
                     / 缺少责任商户编码",
                    j.code
                ),
                Some(j.geometry.clone()),
            ),
            (None, _) if layer == Layer::Grid => f.push(
                Severity::Warning,
                "grid_without_owner",
                Some(&j.code),
                format!(
                    "grid {} has no unit_code: points in it get no owner (owner: null) / 网格没有责任单位",
                    j.code
                ),
                Some(j.geometry.clone()),
            ),
            _ => {}
        }
        if layer != Layer::Frontage {
            continue;
        }
        match j.props.get("depth_m") {
            None | Some(Value::Null) => f.push(
                Severity::Error,
                "missing_depth",
                Some(&j.code),
                format!(
                    "frontage {} has no depth_m: without it the segment owns no point; give the responsibility \
                     depth in metres (e.g. 5) / 缺少门前三包进深 depth_m",
                    j.code
                ),
                Some(j.geometry.clone()),
            ),
            Some(v) => {
                let depth = v.as_f64().filter(|d| d.is_finite());
                if !depth.is_some_and(|d| d > 0.0 && d <= MAX_FRONTAGE_DEPTH_M) {
                    f.push(
                        Severity::Error,
                        "invalid_depth",
                        Some(&j.code),
                        format!(
                            "frontage {} has depth_m {v}: it must be a number of metres above 0 and at most {MAX_FRONTAGE_DEPTH_M}",
                            j.code
                        ),
                        Some(j.geometry.clone()),
                    );
                }
            }
        }
        if j.kind.is_none() {
            f.push(
                Severity::Warning,
                "missing_shop_type",
                Some(&j.code),
                format!(
                    "frontage {} has no shop_type (e.g. 餐饮, 零售, 单位) / 缺少商户类型",
                    j.code
                ),
                Some(j.geometry.clone()),
            );
        }
    }
}

fn polygonal(g: &Geometry<f64>) -> Option<MultiPolygon<f64>> {
    match g {
        Geometry::Polygon(p) => Some(MultiPolygon(vec![p.clone()])),
        Geometry::MultiPolygon(m) => Some(m.clone()),
        _ => None,
    }
}

fn area_m2(m: &MultiPolygon<f64>) -> f64 {
    m.chamberlain_duquette_unsigned_area()
}

fn expects_polygons(layer: Layer) -> bool {
    matches!(
        layer,
        Layer::District | Layer::Street | Layer::Community | Layer::Grid
    )
}

struct Findings {
    issues: Vec<Issue>,
}

impl Findings {
    fn push(
        &mut self,
        severity: Severity,
        check: &'static str,
        feature: Option<&str>,
        message: String,
        location: Option<Geometry<f64>>,
    ) {
        self.issues.push(Issue {
            severity,
            check,
            feature: feature.map(str::to_owned),
            message,
            location,
            fix: suggested_fix(check),
        });
    }
}

/// Validates a whole layer as it would be published, or stops with [`Cancelled`] once
/// `ctx.cancel` is set.
pub fn validate(
    layer: Layer,
    features: &[Jurisdiction],
    ctx: &Context,
) -> Result<Report, Cancelled> {
    let tol = &ctx.tolerances;
    let mut f = Findings { issues: Vec::new() };
    let mut work = Work {
        cancel: &ctx.cancel,
        steps: 0,
    };

    // Required properties, then codes: format, parent prefix, uniqueness. A feature without a code
    // is named by its position in the file (`#3`), which the parser keeps.
    let mut seen = BTreeSet::new();
    for (index, j) in features.iter().enumerate() {
        let missing: Vec<&str> = [("code", &j.code), ("name", &j.name)]
            .into_iter()
            .filter(|(_, v)| v.trim().is_empty())
            .map(|(k, _)| k)
            .collect();
        if !missing.is_empty() {
            let label = if j.code.trim().is_empty() {
                format!("#{index}")
            } else {
                j.code.clone()
            };
            f.push(
                Severity::Error,
                "missing_property",
                Some(&label),
                format!(
                    "feature #{index} ({label}) has no {}",
                    missing
                        .iter()
                        .map(|k| format!("{k:?}"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
                Some(j.geometry.clone()),
            );
            if j.code.trim().is_empty() {
                continue;
            }
        }
        if let Err(e) = layer.check_code(&j.code, j.parent_code.as_deref()) {
            f.push(
                Severity::Error,
                "malformed_code",
                Some(&j.code),
                e.to_string(),
                Some(j.geometry.clone()),
            );
        }
        if !seen.insert(j.code.as_str()) {
            f.push(
                Severity::Error,
                "duplicate_code",
                Some(&j.code),
                format!("code {} occurs more than once", j.code),
                Some(j.geometry.clone()),
            );
        }
    }

    // Geometry types and validity.
    let mut polys: Vec<Option<MultiPolygon<f64>>> = Vec::with_capacity(features.len());
    for j in features {
        let poly = polygonal(&j.geometry);
        if expects_polygons(layer) && poly.is_none() {
            f.push(
                Severity::Error,
                "wrong_geometry_type",
                Some(&j.code),
                format!("a {layer} must be a Polygon or MultiPolygon"),
                Some(j.geometry.clone()),
            );
        }
        if layer == Layer::Frontage
            && !matches!(
                j.geometry,
                Geometry::LineString(_) | Geometry::MultiLineString(_)
            )
        {
            f.push(
                Severity::Error,
                "wrong_geometry_type",
                Some(&j.code),
                "a frontage segment must be a LineString".into(),
                Some(j.geometry.clone()),
            );
        }
        work.check()?;
        let invalid: Vec<String> = match &j.geometry {
            Geometry::Polygon(p) => polygon_errors(p, &mut work)?
                .iter()
                .map(ToString::to_string)
                .collect(),
            Geometry::MultiPolygon(m) => multi_polygon_errors(m, &mut work)?
                .iter()
                .map(ToString::to_string)
                .collect(),
            // Linear: too few points and non-finite coordinates only.
            Geometry::LineString(l) => l
                .validation_errors()
                .iter()
                .map(ToString::to_string)
                .collect(),
            _ => Vec::new(),
        };
        if !invalid.is_empty() {
            f.push(
                Severity::Error,
                "invalid_geometry",
                Some(&j.code),
                format!("invalid geometry: {}", invalid.join("; ")),
                Some(j.geometry.clone()),
            );
        }
        // Overlap and containment checks need valid polygons; invalid ones are reported above.
        polys.push(poly.filter(|_| invalid.is_empty()));
    }

    if expects_polygons(layer) {
        let overlaps = check_overlaps(features, &polys, tol, &mut f, &mut work)?;
        check_parents(layer, features, &polys, ctx, &overlaps, &mut f, &mut work)?;
    }
    if layer == Layer::Grid {
        check_grid_areas(features, &polys, tol, &mut f);
    }
    if layer == Layer::Frontage {
        check_frontage_roads(features, &ctx.roads, tol, &mut f);
        check_frontage_grids(features, ctx, &mut f);
    }
    check_owners(layer, features, ctx, &mut f);
    if layer == Layer::Zone {
        check_zone_kinds(features, &mut f);
        check_sites(features, ctx, &mut f);
    }

    let mut issues = f.issues;
    issues.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.feature.cmp(&b.feature))
    });
    Ok(Report {
        layer,
        feature_count: features.len(),
        errors: issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .count(),
        warnings: issues
            .iter()
            .filter(|i| i.severity == Severity::Warning)
            .count(),
        area_tolerance_m2: tol.area_m2,
        issues,
        steps: work.steps,
    })
}

type Boxed = GeomWithData<rstar::primitives::Rectangle<[f64; 2]>, usize>;

fn bbox_tree(polys: &[Option<MultiPolygon<f64>>]) -> RTree<Boxed> {
    RTree::bulk_load(
        polys
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let r = p.as_ref()?.bounding_rect()?;
                Some(GeomWithData::new(
                    rstar::primitives::Rectangle::from_corners(
                        [r.min().x, r.min().y],
                        [r.max().x, r.max().y],
                    ),
                    i,
                ))
            })
            .collect(),
    )
}

/// Features of a layer must not overlap by more than the tolerance. Returns the overlapping area
/// per parent code, which the gap check needs (an overlap hides a gap of the same size in the
/// children's area total).
fn check_overlaps<'a>(
    features: &'a [Jurisdiction],
    polys: &[Option<MultiPolygon<f64>>],
    tol: &Tolerances,
    f: &mut Findings,
    work: &mut Work<'_>,
) -> Result<BTreeMap<&'a str, f64>, Cancelled> {
    let mut per_parent: BTreeMap<&str, f64> = BTreeMap::new();
    let tree = bbox_tree(polys);
    for (i, p) in polys.iter().enumerate() {
        work.check()?;
        let Some(p) = p else { continue };
        let Some(r) = p.bounding_rect() else { continue };
        let env = AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
        for cand in tree.locate_in_envelope_intersecting(&env) {
            let k = cand.data;
            if k <= i {
                continue;
            }
            let Some(q) = &polys[k] else { continue };
            work.step()?;
            let overlap = p.intersection(q);
            let a = area_m2(&overlap);
            for parent in [&features[i].parent_code, &features[k].parent_code]
                .into_iter()
                .flatten()
            {
                *per_parent.entry(parent.as_str()).or_default() += a;
            }
            if a > tol.area_m2 {
                f.push(
                    Severity::Error,
                    "overlap",
                    Some(&features[i].code),
                    format!(
                        "{} and {} overlap by {a:.1} m² (tolerance {} m²)",
                        features[i].code, features[k].code, tol.area_m2
                    ),
                    Some(Geometry::MultiPolygon(overlap)),
                );
            }
        }
    }
    Ok(per_parent)
}

/// Every child lies inside its parent; the children of a parent cover it without gaps.
fn check_parents(
    layer: Layer,
    features: &[Jurisdiction],
    polys: &[Option<MultiPolygon<f64>>],
    ctx: &Context,
    overlaps: &BTreeMap<&str, f64>,
    f: &mut Findings,
    work: &mut Work<'_>,
) -> Result<(), Cancelled> {
    let tol = &ctx.tolerances;
    let Some(parent_layer) = layer.parent() else {
        return Ok(());
    };
    let Some(parents) = &ctx.parents else {
        f.push(
            Severity::Warning,
            "parent_layer_missing",
            None,
            format!("the {parent_layer} layer is not loaded, so containment and gaps were not checked; import it first"),
            None,
        );
        return Ok(());
    };
    let parent_polys: BTreeMap<&str, MultiPolygon<f64>> = parents
        .iter()
        .filter_map(|p| Some((p.code.as_str(), polygonal(&p.geometry)?)))
        .collect();
    let mut children_area: BTreeMap<&str, f64> = BTreeMap::new();
    let mut children_of: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, j) in features.iter().enumerate() {
        work.step()?;
        let Some(code) = j.parent_code.as_deref() else {
            f.push(
                Severity::Error,
                "missing_parent",
                Some(&j.code),
                format!("a {layer} must name its {parent_layer} in parent_code"),
                Some(j.geometry.clone()),
            );
            continue;
        };
        let Some(parent) = parent_polys.get(code) else {
            f.push(Severity::Error, "unknown_parent", Some(&j.code), format!("parent {parent_layer} {code} does not exist in the current {parent_layer} layer"), Some(j.geometry.clone()));
            continue;
        };
        let Some(p) = &polys[i] else { continue };
        let outside = p.difference(parent);
        let a = area_m2(&outside);
        if a > tol.area_m2 {
            f.push(
                Severity::Error,
                "outside_parent",
                Some(&j.code),
                format!(
                    "{} extends {a:.1} m² outside its {parent_layer} {code} (tolerance {} m²)",
                    j.code, tol.area_m2
                ),
                Some(Geometry::MultiPolygon(outside)),
            );
        }
        *children_area.entry(code).or_default() += area_m2(p);
        children_of.entry(code).or_default().push(i);
    }
    for (code, parent) in &parent_polys {
        work.check()?;
        let covered = children_area.get(code).copied().unwrap_or(0.0);
        let whole = area_m2(parent);
        // The children's total falls short of the parent by the gaps minus the overlaps; only
        // when that leaves room for a gap is the (costlier) union computed.
        let overlap = overlaps.get(code).copied().unwrap_or(0.0);
        if whole - covered + overlap > tol.area_m2 {
            let gap = children_of.get(code).map_or_else(
                || parent.clone(),
                |kids| {
                    // One sweep over all children, not one union per child (quadratic).
                    let union = geo::unary_union(kids.iter().filter_map(|&i| polys[i].as_ref()));
                    parent.difference(&union)
                },
            );
            let gap_area = area_m2(&gap);
            if gap_area > tol.area_m2 {
                f.push(
                    Severity::Error,
                    "gap",
                    Some(code),
                    format!("{gap_area:.1} m² of {parent_layer} {code} is covered by no {layer} (tolerance {} m²)", tol.area_m2),
                    Some(Geometry::MultiPolygon(gap)),
                );
            }
        }
    }
    Ok(())
}

fn check_grid_areas(
    features: &[Jurisdiction],
    polys: &[Option<MultiPolygon<f64>>],
    tol: &Tolerances,
    f: &mut Findings,
) {
    for (j, p) in features.iter().zip(polys) {
        let Some(p) = p else { continue };
        let a = area_m2(p);
        let location = p.centroid().map(Geometry::Point);
        if a < tol.grid_min_m2 || a > tol.grid_max_m2 {
            f.push(
                Severity::Error,
                "grid_area",
                Some(&j.code),
                format!(
                    "grid {} covers {a:.0} m², outside the accepted {:.0}–{:.0} m²",
                    j.code, tol.grid_min_m2, tol.grid_max_m2
                ),
                location,
            );
        } else if a < tol.grid_usual_m2.0 || a > tol.grid_usual_m2.1 {
            f.push(
                Severity::Warning,
                "grid_area_unusual",
                Some(&j.code),
                format!(
                    "grid {} covers {a:.0} m²; unit grids usually cover {:.0}–{:.0} m² (about 10,000 m² in built-up areas)",
                    j.code, tol.grid_usual_m2.0, tol.grid_usual_m2.1
                ),
                location,
            );
        }
    }
}

// Validity of polygons: the rules and messages of `geo`'s `Validation`, whose ring check compares
// every segment with every other (quadratic: 57 s for a 100,000-vertex ring). Here candidate
// pairs come from an R-tree of segment envelopes, and pairs of rings or parts from one of ring
// envelopes, so ordinary geometry costs O(n log n).

fn envelope(a: geo::Coord<f64>, b: geo::Coord<f64>) -> rstar::primitives::Rectangle<[f64; 2]> {
    rstar::primitives::Rectangle::from_corners([a.x, a.y], [b.x, b.y])
}

/// Whether two segments of `ring` that are not neighbours intersect (`geo`'s rule: a pair counts
/// unless one ends where the other starts).
fn ring_self_intersects(ring: &LineString<f64>, work: &mut Work<'_>) -> Result<bool, Cancelled> {
    let lines: Vec<Line<f64>> = ring.lines().collect();
    if lines.len() < 2 {
        return Ok(false);
    }
    let tree = RTree::bulk_load(
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| GeomWithData::new(envelope(l.start, l.end), i))
            .collect(),
    );
    for (i, a) in lines.iter().enumerate() {
        let env = AABB::from_corners([a.start.x, a.start.y], [a.end.x, a.end.y]);
        for cand in tree.locate_in_envelope_intersecting(&env) {
            let j = cand.data;
            if j == i {
                continue;
            }
            work.step()?;
            let b = &lines[j];
            if a.start != b.end && a.end != b.start && a.intersects(b) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn ring_errors(
    ring: &LineString<f64>,
    role: RingRole,
    work: &mut Work<'_>,
    out: &mut Vec<InvalidPolygon>,
) -> Result<(), Cancelled> {
    if ring.0.is_empty() {
        return Ok(());
    }
    let distinct = 1 + ring.0.windows(2).filter(|w| w[0] != w[1]).count();
    if distinct < 4 {
        out.push(InvalidPolygon::TooFewPointsInRing(role));
    }
    let non_finite: Vec<InvalidPolygon> = ring
        .0
        .iter()
        .enumerate()
        .filter(|(_, c)| !(c.x.is_finite() && c.y.is_finite()))
        .map(|(i, _)| InvalidPolygon::NonFiniteCoord(role, CoordIndex(i)))
        .collect();
    // Envelopes of non-finite segments would poison the R-tree; such a ring is invalid anyway.
    if non_finite.is_empty() && ring_self_intersects(ring, work)? {
        out.push(InvalidPolygon::SelfIntersection(role));
    }
    out.extend(non_finite);
    Ok(())
}

fn rect_envelope(r: geo::Rect<f64>) -> AABB<[f64; 2]> {
    AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y])
}

/// Pairs `(i, k)`, `i < k`, of geometries whose envelopes intersect.
fn envelope_pairs(
    envelopes: &[Option<geo::Rect<f64>>],
    work: &mut Work<'_>,
) -> Result<Vec<(usize, usize)>, Cancelled> {
    let tree = RTree::bulk_load(
        envelopes
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.map(|r| GeomWithData::new(envelope(r.min(), r.max()), i)))
            .collect(),
    );
    let mut pairs = Vec::new();
    for (i, r) in envelopes.iter().enumerate() {
        let Some(r) = r else { continue };
        for cand in tree.locate_in_envelope_intersecting(&rect_envelope(*r)) {
            if cand.data > i {
                work.step()?;
                pairs.push((i, cand.data));
            }
        }
    }
    pairs.sort_unstable();
    Ok(pairs)
}

fn finite_rect(l: &LineString<f64>) -> Option<geo::Rect<f64>> {
    l.0.iter()
        .all(|c| c.x.is_finite() && c.y.is_finite())
        .then(|| l.bounding_rect())
        .flatten()
}

/// `geo`'s polygon validation with near-linear ring checks and envelope-filtered ring pairs.
fn polygon_errors(p: &Polygon<f64>, work: &mut Work<'_>) -> Result<Vec<InvalidPolygon>, Cancelled> {
    let mut out = Vec::new();
    if p.exterior().0.is_empty() {
        return Ok(out);
    }
    for (k, ring) in std::iter::once(p.exterior())
        .chain(p.interiors())
        .enumerate()
    {
        let role = if k == 0 {
            RingRole::Exterior
        } else {
            RingRole::Interior(k - 1)
        };
        ring_errors(ring, role, work, &mut out)?;
    }
    if !p.interiors().iter().any(|r| !r.0.is_empty()) {
        return Ok(out);
    }
    let exterior = Polygon::new(p.exterior().clone(), vec![]);
    let prepared_exterior = PreparedGeometry::from(&exterior);
    let holes: Vec<Polygon<f64>> = p
        .interiors()
        .iter()
        .map(|r| Polygon::new(r.clone(), vec![]))
        .collect();
    for (k, hole) in holes.iter().enumerate() {
        if hole.exterior().0.is_empty() {
            continue;
        }
        work.step()?;
        let role = RingRole::Interior(k);
        let m = prepared_exterior.relate(hole);
        if !m.is_contains() {
            out.push(InvalidPolygon::InteriorRingNotContainedInExteriorRing(role));
        }
        if m.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
            out.push(InvalidPolygon::IntersectingRingsOnALine(
                RingRole::Exterior,
                role,
            ));
        }
    }
    // Holes whose envelopes are disjoint cannot touch.
    let envelopes: Vec<Option<geo::Rect<f64>>> = p.interiors().iter().map(finite_rect).collect();
    for (a, b) in envelope_pairs(&envelopes, work)? {
        let m = holes[a].relate(&holes[b]);
        if m.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
            out.push(InvalidPolygon::IntersectingRingsOnAnArea(
                RingRole::Interior(a),
                RingRole::Interior(b),
            ));
        }
        if m.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
            out.push(InvalidPolygon::IntersectingRingsOnALine(
                RingRole::Interior(a),
                RingRole::Interior(b),
            ));
        }
    }
    Ok(out)
}

/// `geo`'s multipolygon validation over [`polygon_errors`], with envelope-filtered part pairs.
fn multi_polygon_errors(
    m: &MultiPolygon<f64>,
    work: &mut Work<'_>,
) -> Result<Vec<InvalidMultiPolygon>, Cancelled> {
    let mut out = Vec::new();
    for (i, p) in m.0.iter().enumerate() {
        for e in polygon_errors(p, work)? {
            out.push(InvalidMultiPolygon::InvalidPolygon(GeometryIndex(i), e));
        }
    }
    let envelopes: Vec<Option<geo::Rect<f64>>> =
        m.0.iter().map(|p| finite_rect(p.exterior())).collect();
    for (a, b) in envelope_pairs(&envelopes, work)? {
        let im = m.0[a].relate(&m.0[b]);
        if im.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
            out.push(InvalidMultiPolygon::ElementsOverlaps(
                GeometryIndex(a),
                GeometryIndex(b),
            ));
        }
        if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
            out.push(InvalidMultiPolygon::ElementsTouchOnALine(
                GeometryIndex(a),
                GeometryIndex(b),
            ));
        }
    }
    Ok(out)
}

/// A local equirectangular projection to metres around a reference latitude.
#[derive(Debug, Clone, Copy)]
struct LocalMetres {
    lon0: f64,
    lat0: f64,
    kx: f64,
}

const M_PER_DEG_LAT: f64 = 110_946.0;

impl LocalMetres {
    fn new(lon0: f64, lat0: f64) -> Self {
        Self {
            lon0,
            lat0,
            kx: 111_320.0 * lat0.to_radians().cos(),
        }
    }
    fn xy(&self, lon: f64, lat: f64) -> [f64; 2] {
        [
            (lon - self.lon0) * self.kx,
            (lat - self.lat0) * M_PER_DEG_LAT,
        ]
    }
}

fn check_frontage_roads(
    features: &[Jurisdiction],
    roads: &[LineString<f64>],
    tol: &Tolerances,
    f: &mut Findings,
) {
    if roads.is_empty() {
        f.push(Severity::Warning, "roads_missing", None, "no roads are loaded, so frontage segments were not checked against them; import roads first".into(), None);
        return;
    }
    let Some(center) = roads.iter().flat_map(|l| l.0.first()).next() else {
        return;
    };
    let proj = LocalMetres::new(center.x, center.y);
    let segments: Vec<GeomWithData<RLine<[f64; 2]>, ()>> = roads
        .iter()
        .flat_map(|l| l.lines())
        .map(|s| {
            GeomWithData::new(
                RLine::new(proj.xy(s.start.x, s.start.y), proj.xy(s.end.x, s.end.y)),
                (),
            )
        })
        .collect();
    let tree = RTree::bulk_load(segments);
    for j in features {
        let Some(mid) = midpoint(&j.geometry) else {
            continue;
        };
        let p = proj.xy(mid.x(), mid.y());
        let d = tree
            .nearest_neighbor(&p)
            .map(|s| rstar::PointDistance::distance_2(s.geom(), &p).sqrt())
            .unwrap_or(f64::INFINITY);
        if d > tol.frontage_road_m {
            f.push(
                Severity::Error,
                "frontage_far_from_road",
                Some(&j.code),
                format!(
                    "frontage {} lies {d:.0} m from the nearest road (at most {} m allowed)",
                    j.code, tol.frontage_road_m
                ),
                Some(j.geometry.clone()),
            );
        }
    }
}

fn midpoint(g: &Geometry<f64>) -> Option<Point<f64>> {
    use geo::{Euclidean, InterpolatableLine};
    match g {
        Geometry::LineString(l) => l.point_at_ratio_from_start(&Euclidean, 0.5),
        other => other.centroid(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(layer: Layer, features: &[Jurisdiction], ctx: &Context) -> Report {
        validate(layer, features, ctx).expect("not cancelled")
    }

    /// A square of `d` degrees at (x, y), WGS84.
    fn sq(layer: Layer, code: &str, parent: &str, x: f64, y: f64, d: f64) -> Jurisdiction {
        Jurisdiction {
            layer,
            code: code.into(),
            name: code.into(),
            parent_code: Some(parent.into()),
            unit_code: None,
            kind: None,
            props: Map::new(),
            geometry: geo::Polygon::new(
                LineString::from(vec![(x, y), (x + d, y), (x + d, y + d), (x, y + d), (x, y)]),
                vec![],
            )
            .into(),
        }
    }

    fn community() -> Vec<Jurisdiction> {
        vec![sq(
            Layer::Community,
            "410103001001",
            "410103001",
            113.650,
            34.740,
            0.002,
        )]
    }

    fn ctx() -> Context {
        Context {
            parents: Some(community()),
            ..Context::default()
        }
    }

    fn four_grids() -> Vec<Jurisdiction> {
        let d = 0.001;
        let grids = vec![
            sq(
                Layer::Grid,
                "410103001001001",
                "410103001001",
                113.650,
                34.741,
                d,
            ),
            sq(
                Layer::Grid,
                "410103001001002",
                "410103001001",
                113.651,
                34.741,
                d,
            ),
            sq(
                Layer::Grid,
                "410103001001003",
                "410103001001",
                113.650,
                34.740,
                d,
            ),
            sq(
                Layer::Grid,
                "410103001001004",
                "410103001001",
                113.651,
                34.740,
                d,
            ),
        ];
        grids
            .into_iter()
            .map(|mut g| {
                g.unit_code = Some("grid-unit".into());
                g
            })
            .collect()
    }

    fn checks(r: &Report) -> Vec<&'static str> {
        r.issues.iter().map(|i| i.check).collect()
    }

    #[test]
    fn four_grids_that_tile_their_community_pass_clean() {
        let r = run(Layer::Grid, &four_grids(), &ctx());
        assert!(r.issues.is_empty(), "{:?}", r.issues);
        assert!(!r.refuses(false));
    }

    #[test]
    fn an_overlap_and_the_gap_it_leaves_are_both_reported_with_their_areas() {
        let mut g = four_grids();
        // Shift the last grid 20 % of its width west: it overlaps its neighbour and leaves a gap.
        g[3] = sq(
            Layer::Grid,
            "410103001001004",
            "410103001001",
            113.6508,
            34.740,
            0.001,
        );
        let r = run(Layer::Grid, &g, &ctx());
        let c = checks(&r);
        assert!(c.contains(&"overlap"), "{c:?}");
        assert!(c.contains(&"gap"), "{c:?}");
        let overlap = r.issues.iter().find(|i| i.check == "overlap").unwrap();
        // 0.0002° × 0.001° at 34.74°N ≈ 18.3 m × 111 m ≈ 2,030 m².
        assert!(
            overlap.message.contains("overlap by 20"),
            "{}",
            overlap.message
        );
        assert!(r.refuses(true));
    }

    #[test]
    fn a_grid_outside_its_community_is_refused() {
        let mut g = four_grids();
        g.push(sq(
            Layer::Grid,
            "410103001001005",
            "410103001001",
            113.660,
            34.740,
            0.001,
        ));
        let r = run(Layer::Grid, &g, &ctx());
        assert!(checks(&r).contains(&"outside_parent"));
    }

    #[test]
    fn a_self_intersecting_ring_is_invalid() {
        let mut g = four_grids();
        g[0].geometry = geo::Polygon::new(
            LineString::from(vec![
                (113.650, 34.741),
                (113.651, 34.742),
                (113.651, 34.741),
                (113.650, 34.742),
                (113.650, 34.741),
            ]),
            vec![],
        )
        .into();
        let r = run(Layer::Grid, &g, &ctx());
        assert!(checks(&r).contains(&"invalid_geometry"), "{:?}", checks(&r));
    }

    #[test]
    fn duplicate_and_malformed_codes_and_unknown_parents_are_reported() {
        let mut g = four_grids();
        g[1].code = g[0].code.clone();
        g[2].code = "41010300100100X".into();
        g[3].parent_code = Some("410103001009".into());
        g[3].code = "410103001009004".into();
        let c = checks(&run(Layer::Grid, &g, &ctx()));
        for want in ["duplicate_code", "malformed_code", "unknown_parent"] {
            assert!(c.contains(&want), "{want} in {c:?}");
        }
    }

    #[test]
    fn a_tiny_grid_is_an_error_and_a_large_one_a_warning() {
        let tiny = vec![sq(
            Layer::Grid,
            "410103001001001",
            "410103001001",
            113.650,
            34.740,
            0.0001,
        )];
        let c = checks(&run(Layer::Grid, &tiny, &Context::default()));
        assert!(c.contains(&"grid_area"));
        let large = vec![sq(
            Layer::Grid,
            "410103001001001",
            "410103001001",
            113.650,
            34.740,
            0.004,
        )];
        let r = run(Layer::Grid, &large, &Context::default());
        assert!(checks(&r).contains(&"grid_area_unusual"));
        assert!(checks(&r).contains(&"parent_layer_missing"));
        assert!(r.refuses(false) && !r.refuses(true));
    }

    #[test]
    fn a_frontage_far_from_every_road_is_refused() {
        let road = LineString::from(vec![(113.650, 34.740), (113.660, 34.740)]);
        let near = Jurisdiction {
            layer: Layer::Frontage,
            code: "F1".into(),
            name: "小卖部".into(),
            parent_code: None,
            unit_code: None,
            kind: None,
            props: Map::new(),
            // ~11 m north of the road.
            geometry: LineString::from(vec![(113.6520, 34.7401), (113.6522, 34.7401)]).into(),
        };
        let mut far = near.clone();
        far.code = "F2".into();
        // ~111 m north.
        far.geometry = LineString::from(vec![(113.6520, 34.7410), (113.6522, 34.7410)]).into();
        let ctx = Context {
            roads: vec![road],
            ..Context::default()
        };
        let r = run(Layer::Frontage, &[near, far], &ctx);
        let flagged: Vec<_> = r
            .issues
            .iter()
            .filter(|i| i.check == "frontage_far_from_road")
            .map(|i| i.feature.clone())
            .collect();
        assert_eq!(flagged, [Some("F2".to_owned())]);
    }

    /// A valid grid-sized polygon with `n` vertices: a circle of radius ~55 m.
    fn circle(n: usize, code: &str) -> Jurisdiction {
        let ring: Vec<(f64, f64)> = (0..=n)
            .map(|i| {
                let a = std::f64::consts::TAU * (i % n) as f64 / n as f64;
                (113.65 + 0.0006 * a.cos(), 34.74 + 0.0005 * a.sin())
            })
            .collect();
        sq(Layer::Grid, code, "410103001001", 0.0, 0.0, 1.0)
            .with_geometry(geo::Polygon::new(LineString::from(ring), vec![]).into())
    }

    trait WithGeometry {
        fn with_geometry(self, g: Geometry<f64>) -> Self;
    }
    impl WithGeometry for Jurisdiction {
        fn with_geometry(mut self, g: Geometry<f64>) -> Self {
            self.geometry = g;
            self
        }
    }

    #[test]
    fn the_ring_check_examines_a_number_of_segment_pairs_linear_in_the_vertices() {
        // geo's own check compares every segment with every other: n² = 4×10¹⁰ pairs here.
        let mut steps = Vec::new();
        for n in [25_000, 200_000] {
            let r = run(
                Layer::Grid,
                &[circle(n, "410103001001001")],
                &Context::default(),
            );
            assert!(
                !r.issues.iter().any(|i| i.check == "invalid_geometry"),
                "{:?}",
                r.issues
            );
            steps.push(r.steps);
            assert!(
                r.steps < 8 * n as u64,
                "{n} vertices took {} steps",
                r.steps
            );
        }
        // Eight times the vertices, about eight times the work (not 64 times).
        assert!(steps[1] < 10 * steps[0], "{steps:?}");
    }

    #[test]
    fn the_fast_ring_check_agrees_with_geo_on_small_rings() {
        let cases = [
            vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)],
            // A bow tie.
            vec![(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)],
            // A spike back along an edge.
            vec![(0.0, 0.0), (2.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)],
            // A self-touching ring (an inverted hole).
            vec![
                (0.0, 0.0),
                (4.0, 0.0),
                (4.0, 4.0),
                (2.0, 4.0),
                (3.0, 2.0),
                (1.0, 2.0),
                (2.0, 4.0),
                (0.0, 4.0),
                (0.0, 0.0),
            ],
            vec![(0.0, 0.0), (1.0, 0.0), (0.0, 0.0)],
        ];
        let cancel = Cancel::new();
        for ring in cases {
            let p = geo::Polygon::new(LineString::from(ring.clone()), vec![]);
            let ours: Vec<String> = polygon_errors(
                &p,
                &mut Work {
                    cancel: &cancel,
                    steps: 0,
                },
            )
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
            let theirs: Vec<String> = p
                .validation_errors()
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(ours, theirs, "{ring:?}");
        }
        let holes = geo::Polygon::new(
            LineString::from(vec![
                (0.0, 0.0),
                (9.0, 0.0),
                (9.0, 9.0),
                (0.0, 9.0),
                (0.0, 0.0),
            ]),
            vec![
                LineString::from(vec![
                    (1.0, 1.0),
                    (3.0, 1.0),
                    (3.0, 3.0),
                    (1.0, 3.0),
                    (1.0, 1.0),
                ]),
                LineString::from(vec![
                    (2.0, 2.0),
                    (4.0, 2.0),
                    (4.0, 4.0),
                    (2.0, 4.0),
                    (2.0, 2.0),
                ]),
                LineString::from(vec![
                    (8.0, 8.0),
                    (12.0, 8.0),
                    (12.0, 12.0),
                    (8.0, 12.0),
                    (8.0, 8.0),
                ]),
            ],
        );
        let multi = MultiPolygon(vec![holes.clone(), holes.clone()]);
        let mut w = Work {
            cancel: &cancel,
            steps: 0,
        };
        let mut ours: Vec<String> = multi_polygon_errors(&multi, &mut w)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut theirs: Vec<String> = multi
            .validation_errors()
            .iter()
            .map(ToString::to_string)
            .collect();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn a_cancelled_validation_stops_with_cancelled() {
        let ctx = Context::default();
        ctx.cancel.cancel();
        let r = validate(Layer::Grid, &[circle(50_000, "410103001001001")], &ctx);
        assert_eq!(r.unwrap_err(), Cancelled);
        // The guard of a dropped request cancels too.
        let cancel = Cancel::new();
        drop(cancel.on_drop());
        assert!(cancel.is_cancelled());
    }

    #[test]
    fn vertex_limits_name_the_feature_or_the_upload() {
        let features = [circle(1_000, "A"), circle(1_000, "B")];
        let limits = |f, u| Limits {
            max_feature_vertices: f,
            max_upload_vertices: u,
            ..Limits::default()
        };
        assert_eq!(check_limits(&features, limits(2_000, 4_000)), Ok(2_002));
        assert!(matches!(
            check_limits(&features, limits(500, 4_000)),
            Err(TooManyVertices::Feature { index: 0, .. })
        ));
        assert!(matches!(
            check_limits(&features, limits(2_000, 1_500)),
            Err(TooManyVertices::Upload { features: 2, .. })
        ));
    }

    #[test]
    fn a_frontage_without_depth_or_owner_is_an_error_and_one_without_shop_type_a_warning() {
        let mut with_depth = Map::new();
        with_depth.insert("depth_m".into(), 5.0.into());
        let f = |code: &str, props: Map<String, Value>, kind: Option<&str>| Jurisdiction {
            layer: Layer::Frontage,
            code: code.into(),
            name: "小卖部".into(),
            parent_code: Some("410103001001001".into()),
            unit_code: (code != "F5").then(|| "shop-1".into()),
            kind: kind.map(str::to_owned),
            props,
            geometry: LineString::from(vec![(113.6520, 34.7401), (113.6522, 34.7401)]).into(),
        };
        let mut zero = Map::new();
        zero.insert("depth_m".into(), 0.0.into());
        let r = run(
            Layer::Frontage,
            &[
                f("F1", with_depth.clone(), Some("餐饮")),
                f("F2", Map::new(), Some("餐饮")),
                f("F3", zero, Some("餐饮")),
                f("F4", with_depth.clone(), None),
                f("F5", with_depth, Some("餐饮")),
            ],
            &Context::default(),
        );
        let of = |code: &str| -> Vec<&str> {
            r.issues
                .iter()
                .filter(|i| i.feature.as_deref() == Some(code))
                .map(|i| i.check)
                .collect()
        };
        assert!(of("F1").is_empty(), "{:?}", of("F1"));
        assert_eq!(of("F2"), ["missing_depth"]);
        assert_eq!(of("F3"), ["invalid_depth"]);
        assert_eq!(of("F4"), ["missing_shop_type"]);
        assert_eq!(of("F5"), ["frontage_without_owner"]);
        assert!(
            r.refuses(true),
            "a missing depth refuses even with accept_warnings"
        );
    }

    #[test]
    fn an_unknown_unit_is_an_error_naming_feature_and_unit_and_a_grid_without_owner_a_warning() {
        let mut grids = four_grids();
        grids[0].unit_code = Some("no-such-unit".into());
        grids[1].unit_code = None;
        let ctx = Context {
            units: Some(BTreeSet::from(["grid-unit".to_owned()])),
            ..ctx()
        };
        let r = run(Layer::Grid, &grids, &ctx);
        let unknown: Vec<_> = r
            .issues
            .iter()
            .filter(|i| i.check == "unknown_unit")
            .collect();
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].feature.as_deref(), Some(grids[0].code.as_str()));
        assert!(unknown[0].message.contains("no-such-unit"));
        assert_eq!(unknown[0].severity, Severity::Error);
        let owner: Vec<_> = r
            .issues
            .iter()
            .filter(|i| i.check == "grid_without_owner")
            .collect();
        assert_eq!(owner.len(), 1);
        assert_eq!(owner[0].severity, Severity::Warning);
    }

    #[test]
    fn a_fourteen_digit_grid_code_is_refused() {
        let mut grids = four_grids();
        grids[0].code = "41010300100101".into();
        let r = run(Layer::Grid, &grids, &ctx());
        assert!(
            r.issues
                .iter()
                .any(|i| i.check == "malformed_code"
                    && i.feature.as_deref() == Some("41010300100101")),
            "{:?}",
            r.issues
        );
    }

    #[test]
    fn every_feature_without_a_code_or_name_is_reported_by_its_position() {
        let mut grids = four_grids();
        grids[1].code = String::new();
        grids[2].name = " ".into();
        let r = run(Layer::Grid, &grids, &ctx());
        let missing: Vec<(&str, &str)> = r
            .issues
            .iter()
            .filter(|i| i.check == "missing_property")
            .map(|i| (i.feature.as_deref().unwrap_or(""), i.message.as_str()))
            .collect();
        assert_eq!(missing.len(), 2, "{:?}", r.issues);
        assert_eq!(missing[0].0, "#1");
        assert!(missing[0].1.contains("\"code\""), "{}", missing[0].1);
        assert_eq!(missing[1].0, grids[2].code);
        assert!(missing[1].1.contains("\"name\""), "{}", missing[1].1);
        assert!(r.refuses(true));
        assert!(
            !r.issues
                .iter()
                .any(|i| i.check == "malformed_code" && i.feature.as_deref() == Some("")),
            "an empty code is reported once, as missing"
        );
    }
}
