//! Jurisdiction layers (属地): district → street → community → unit grid, plus 门前三包 frontage
//! segments and zones (城中村, railway land, back alleys, inspection sites).
//!
//! A feature is valid for a half-open time interval `[valid_from, valid_to)`. A change never
//! overwrites: it closes the current row and publishes a new version beside it, so the owner of a
//! place can be asked for any date.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::codes::{AdminCode, CodeError, CodeLevel};

/// One layer of the jurisdiction tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// 区: district.
    District,
    /// 街道/镇: street office area or town.
    Street,
    /// 社区/村: community or village.
    Community,
    /// 单元网格: unit grid of about 10,000 m².
    Grid,
    /// 门前三包 frontage segment: the line in front of a shop or organisation.
    Frontage,
    /// Zone: urban village, railway land, back alley, inspection site.
    Zone,
}

impl Layer {
    /// Every layer, parents before children.
    pub const ALL: [Layer; 6] = [
        Layer::District,
        Layer::Street,
        Layer::Community,
        Layer::Grid,
        Layer::Frontage,
        Layer::Zone,
    ];

    /// The stable wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::District => "district",
            Layer::Street => "street",
            Layer::Community => "community",
            Layer::Grid => "grid",
            Layer::Frontage => "frontage",
            Layer::Zone => "zone",
        }
    }

    /// The Chinese name.
    pub fn label_zh(self) -> &'static str {
        match self {
            Layer::District => "区",
            Layer::Street => "街道/镇",
            Layer::Community => "社区/村",
            Layer::Grid => "单元网格",
            Layer::Frontage => "门前三包责任段",
            Layer::Zone => "专题区域",
        }
    }

    /// The parent layer in the administrative hierarchy, if any.
    pub fn parent(self) -> Option<Layer> {
        match self {
            Layer::District | Layer::Zone => None,
            Layer::Street => Some(Layer::District),
            Layer::Community => Some(Layer::Street),
            Layer::Grid => Some(Layer::Community),
            Layer::Frontage => Some(Layer::Grid),
        }
    }

    /// The code level of this layer, for the layers with numeric codes.
    fn code_level(self) -> Option<CodeLevel> {
        match self {
            Layer::District => Some(CodeLevel::District),
            Layer::Street => Some(CodeLevel::Street),
            Layer::Community => Some(CodeLevel::Community),
            Layer::Grid => Some(CodeLevel::Grid),
            Layer::Frontage | Layer::Zone => None,
        }
    }

    /// Checks a feature code for this layer. Numeric layers must follow the statistical code
    /// scheme and sit under their parent; frontage and zone codes are free text of at most 64
    /// printable ASCII characters.
    pub fn check_code(self, code: &str, parent_code: Option<&str>) -> Result<(), CodeError> {
        match self.code_level() {
            Some(level) => {
                let parsed = AdminCode::parse(code, level)?;
                match (self.parent(), parent_code) {
                    (Some(_), Some(parent)) => parsed.ensure_under(parent),
                    _ => Ok(()),
                }
            }
            None if !code.is_empty()
                && code.len() <= 64
                && code.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Ok(())
            }
            None => Err(CodeError::NotDigits(code.to_owned())),
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A layer name that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown layer {0:?}; expected district, street, community, grid, frontage or zone")]
pub struct UnknownLayer(pub String);

impl FromStr for Layer {
    type Err = UnknownLayer;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Layer::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| UnknownLayer(s.to_owned()))
    }
}

/// The feature properties [`IndexedProps::of`] reads; the store's read for the index parses these
/// and skips the rest of each feature's properties without building them.
pub const INDEXED_PROPS: [&str; 5] = [
    "area_class",
    "management_level",
    "depth_m",
    "site_type",
    "shop_type",
];

/// A jurisdiction feature as it enters or leaves the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Jurisdiction {
    /// The layer it belongs to.
    pub layer: Layer,
    /// Its code, unique within the layer at any moment.
    pub code: String,
    /// Name in Chinese.
    pub name: String,
    /// Code of the parent feature (district of a street, grid of a frontage …).
    pub parent_code: Option<String>,
    /// Code of the responsible unit (责任单位).
    pub unit_code: Option<String>,
    /// Sub-kind: zone kind, committee kind, shop type.
    pub kind: Option<String>,
    /// Further attributes (area, depth in metres, management level …).
    pub props: serde_json::Map<String, serde_json::Value>,
    /// Geometry in WGS84 (EPSG:4326), longitude then latitude, in degrees.
    pub geometry: geo::Geometry<f64>,
}

/// The size of an administrative area, for the 考评 area indicators.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct AreaSize {
    /// Area, km².
    pub km2: f64,
    /// Total length of the 门前三包 frontages in the area, km.
    pub frontage_km: f64,
    /// The area class (区域类别), 1 or 2, if the feature says (see [`Jurisdiction::area_class`]).
    pub class: Option<u8>,
}

impl Jurisdiction {
    /// The area class (区域类别) of a unit grid for 考评: 1 (一类区域, the stricter filing
    /// standard of the core, urban villages, main roads) or 2 (二类区域). Read from the property
    /// `area_class` (1 or 2), else from `management_level` (1 → 1, 2 or more → 2); `None` when
    /// the feature has neither.
    pub fn area_class(&self) -> Option<u8> {
        IndexedProps::area_class_of(&self.props)
    }
}

/// The few properties of a feature the assignment index and the vector tiles use, read once
/// from its properties (all of them optional).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexedProps {
    /// The area class (区域类别), see [`Jurisdiction::area_class`].
    pub area_class: Option<u8>,
    /// A frontage's strip depth from the facade towards the kerb, metres (`depth_m`).
    pub depth_m: Option<f64>,
    /// An inspection site's type (`site_type`).
    pub site_type: Option<String>,
    /// A frontage's shop type (`shop_type`).
    pub shop_type: Option<String>,
}

impl IndexedProps {
    /// Reads them from a feature's properties; the keys are [`INDEXED_PROPS`].
    pub fn of(props: &serde_json::Map<String, serde_json::Value>) -> Self {
        let text = |k: &str| props.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        Self {
            area_class: Self::area_class_of(props),
            depth_m: props.get("depth_m").and_then(serde_json::Value::as_f64),
            site_type: text("site_type"),
            shop_type: text("shop_type"),
        }
    }

    fn area_class_of(props: &serde_json::Map<String, serde_json::Value>) -> Option<u8> {
        let int = |k: &str| props.get(k).and_then(serde_json::Value::as_u64);
        match (int("area_class"), int("management_level")) {
            (Some(c @ (1 | 2)), _) => Some(c as u8),
            (_, Some(1)) => Some(1),
            (_, Some(l)) if l >= 2 => Some(2),
            _ => None,
        }
    }
}

/// A jurisdiction feature as the assignment index and the tile set are built from it: no
/// property but the [`IndexedProps`]. Lean on purpose: a province holds three million of them
/// while its index is built, and a map of properties costs a 0.6 KB tree node each.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedFeature {
    /// Its code.
    pub code: String,
    /// Name in Chinese.
    pub name: String,
    /// Code of the parent feature.
    pub parent_code: Option<String>,
    /// Code of the responsible unit (责任单位).
    pub unit_code: Option<String>,
    /// Sub-kind: zone kind, committee kind, shop type.
    pub kind: Option<String>,
    /// The properties the index and the tiles use.
    pub props: IndexedProps,
    /// Geometry in WGS84 (EPSG:4326), longitude then latitude, in degrees.
    pub geometry: geo::Geometry<f64>,
}

impl From<Jurisdiction> for IndexedFeature {
    fn from(j: Jurisdiction) -> Self {
        Self {
            props: IndexedProps::of(&j.props),
            code: j.code,
            name: j.name,
            parent_code: j.parent_code,
            unit_code: j.unit_code,
            kind: j.kind,
            geometry: j.geometry,
        }
    }
}

/// A stored jurisdiction feature with its version and validity interval.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionedJurisdiction {
    /// The feature.
    pub feature: Jurisdiction,
    /// The layer version that published it.
    pub version: i64,
    /// Valid from this instant (inclusive).
    pub valid_from: DateTime<Utc>,
    /// Valid until this instant (exclusive); `None` while current.
    pub valid_to: Option<DateTime<Utc>>,
}

/// A published version of one layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerVersion {
    /// The layer.
    pub layer: Layer,
    /// Version number, 1 for the first publication of the layer.
    pub version: i64,
    /// The version is valid from this instant on.
    pub valid_from: DateTime<Utc>,
    /// When it was published.
    pub published_at: DateTime<Utc>,
    /// Where the data came from (file name, "demo city", API import …).
    pub source: String,
    /// Number of features in the version.
    pub feature_count: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_indexed_props_are_read_from_the_listed_keys_alone() {
        let full = serde_json::json!({
            "area_class": 3, "management_level": 1, "depth_m": 4.5, "site_type": "market",
            "shop_type": "餐饮", "area_m2": 9300.5, "remark": {"a": [1, 2]},
        });
        let full = full.as_object().unwrap();
        let mut listed = full.clone();
        listed.retain(|k, _| INDEXED_PROPS.contains(&k.as_str()));
        assert_eq!(IndexedProps::of(full), IndexedProps::of(&listed));
        assert_eq!(
            IndexedProps::of(full),
            IndexedProps {
                area_class: Some(1),
                depth_m: Some(4.5),
                site_type: Some("market".into()),
                shop_type: Some("餐饮".into()),
            },
            "an area class out of range falls back to the management level"
        );
    }

    #[test]
    fn a_grid_code_must_sit_under_its_community() {
        assert!(
            Layer::Grid
                .check_code("410103001001001", Some("410103001001"))
                .is_ok()
        );
        assert!(
            Layer::Grid
                .check_code("410103001002001", Some("410103001001"))
                .is_err()
        );
    }

    #[test]
    fn frontage_codes_are_free_text_without_spaces() {
        assert!(
            Layer::Frontage
                .check_code("410103001001001M001", None)
                .is_ok()
        );
        assert!(Layer::Frontage.check_code("a b", None).is_err());
        assert!(Layer::Frontage.check_code("", None).is_err());
    }
}

/// A date or instant that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is neither a date (2025-06-01) nor an RFC 3339 instant (2025-06-01T08:00:00+08:00)")]
pub struct BadInstant(pub String);

/// Parses an "as of" moment. A bare date means the start of that day in China Standard Time
/// (UTC+8), the time zone every Chinese grid office works in; an RFC 3339 instant is taken as is.
///
/// ```
/// use wangge::domain::jurisdiction::parse_as_of;
/// let t = parse_as_of("2025-06-01").unwrap();
/// assert_eq!(t.to_rfc3339(), "2025-05-31T16:00:00+00:00");
/// ```
pub fn parse_as_of(text: &str) -> Result<DateTime<Utc>, BadInstant> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| BadInstant(text.to_owned()))?;
    let cst = chrono::FixedOffset::east_opt(8 * 3600).ok_or_else(|| BadInstant(text.to_owned()))?;
    date.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(cst).single())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| BadInstant(text.to_owned()))
}
