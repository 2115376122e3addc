//! The answer of the engine, as sent to clients.

use serde::Serialize;

/// Whether the point has an owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Inside the covered area: the chain is complete.
    Assigned,
    /// Outside every unit grid: see `nearest`.
    Unassigned,
}

/// A jurisdiction unit in the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaRef {
    /// Code (6/9/12/15 digits).
    pub code: String,
    /// Name.
    pub name: String,
    /// Responsible unit.
    pub unit_code: Option<String>,
}

/// A 门前三包 frontage whose strip holds the point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrontageHit {
    /// 1 = nearest.
    pub rank: u32,
    /// Frontage code.
    pub code: String,
    /// The shop or organisation.
    pub name: String,
    /// Its kind (restaurant, retail …).
    pub shop_type: Option<String>,
    /// The responsible shop's unit code.
    pub unit_code: Option<String>,
    /// Distance from the frontage line, metres (geodesic, WGS84 ellipsoid).
    pub distance_m: f64,
    /// Depth of its responsibility strip, metres.
    pub depth_m: f64,
}

/// A zone the point is in or near.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneHit {
    /// Zone code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Responsible unit.
    pub unit_code: Option<String>,
    /// Distance, metres (0 inside a polygon zone).
    pub distance_m: f64,
    /// Sub-type (inspection sites: market, school …).
    pub kind: Option<String>,
}

/// Zone tags.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Zones {
    /// Inside an urban village (城中村).
    pub urban_village: Option<ZoneHit>,
    /// Inside railway land (the railway bureau's right of way).
    pub railway_land: Option<ZoneHit>,
    /// Distance to the nearest railway line, metres, when within the largest corridor width.
    pub railway_distance_m: Option<f64>,
    /// The corridor widths (m) the point lies within, e.g. [100, 200].
    pub railway_within_m: Vec<f64>,
    /// On a back alley (背街小巷): within the alley reach of its centre line.
    pub back_alley: Option<ZoneHit>,
    /// Near an inspection site (测评点位).
    pub inspection_site: Option<ZoneHit>,
}

/// The owner by the 属地兜底 rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Owner {
    /// `frontage`, `grid`, `community` or `street`.
    pub level: &'static str,
    /// The unit.
    pub unit_code: String,
    /// Why this one.
    pub reason: String,
}

/// For unassigned points: the nearest unit grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Nearest {
    /// Grid code.
    pub grid: String,
    /// Its district.
    pub district: Option<String>,
    /// Distance to it, metres.
    pub distance_m: f64,
}

/// The full responsibility chain of a point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    /// Assigned or unassigned.
    pub status: Status,
    /// The point in WGS84 (lon, lat).
    pub point: [f64; 2],
    /// The coordinate system the point was given in.
    pub input_crs: crate::domain::crs::Crs,
    /// The jurisdiction data version answered from.
    pub version: i64,
    /// The point lies on a boundary shared by several grids; the lowest code was chosen.
    pub on_boundary: bool,
    /// The frontage owner is uncertain: two strips hold the point at almost the same distance.
    pub ambiguous: bool,
    /// 区.
    pub district: Option<AreaRef>,
    /// 街道/镇.
    pub street: Option<AreaRef>,
    /// 社区/村.
    pub community: Option<AreaRef>,
    /// 单元网格.
    pub grid: Option<AreaRef>,
    /// Every grid covering the point when it lies on a boundary, lowest code first.
    pub boundary_grids: Vec<String>,
    /// Frontages whose strip holds the point, nearest first.
    pub frontages: Vec<FrontageHit>,
    /// Zone tags.
    pub zones: Zones,
    /// The responsible department for the category, when one was given.
    pub department: Option<AreaRef>,
    /// The owner by 属地兜底 (frontage shop → grid → community → street).
    pub owner: Option<Owner>,
    /// For unassigned points, the nearest grid.
    pub nearest: Option<Nearest>,
    /// One short reason per link of the chain.
    pub reasons: Vec<String>,
    /// Jurisdiction layers not published yet (a partial city): the answer stops above them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_layers: Vec<&'static str>,
}

impl Assignment {
    /// What the dispatch rules need to know of this place.
    pub fn place(&self) -> crate::domain::dispatch::Place {
        use crate::domain::dispatch::{ChainLink, Place};
        let area = |level: &str, a: &AreaRef| ChainLink {
            level: level.into(),
            code: a.code.clone(),
            name: a.name.clone(),
            unit_code: a.unit_code.clone(),
        };
        let zone = |level: &str, z: &ZoneHit| ChainLink {
            level: level.into(),
            code: z.code.clone(),
            name: z.name.clone(),
            unit_code: z.unit_code.clone(),
        };
        let chain: Vec<ChainLink> = [
            ("grid", &self.grid),
            ("community", &self.community),
            ("street", &self.street),
            ("district", &self.district),
        ]
        .into_iter()
        .filter_map(|(level, a)| a.as_ref().map(|a| area(level, a)))
        .collect();
        let territorial = chain
            .iter()
            .filter(|l| l.level != "district")
            .find(|l| l.unit_code.is_some())
            .cloned();
        Place {
            district_code: self
                .district
                .as_ref()
                .map(|d| d.code.clone())
                .or_else(|| self.nearest.as_ref().and_then(|n| n.district.clone())),
            inside_grid: self.grid.is_some(),
            chain,
            frontage: self
                .frontages
                .first()
                .filter(|_| !self.ambiguous)
                .map(|f| ChainLink {
                    level: "frontage".into(),
                    code: f.code.clone(),
                    name: f.name.clone(),
                    unit_code: f.unit_code.clone(),
                }),
            frontage_ambiguous: self.ambiguous,
            railway_land: self
                .zones
                .railway_land
                .as_ref()
                .map(|z| zone("railway_land", z)),
            urban_village: self
                .zones
                .urban_village
                .as_ref()
                .map(|z| zone("urban_village", z)),
            back_alley: self
                .zones
                .back_alley
                .as_ref()
                .map(|z| zone("back_alley", z)),
            department: self.department.as_ref().map(|d| area("department", d)),
            territorial,
        }
    }
}
