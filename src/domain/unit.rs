//! Responsible units (责任单位): departments, street offices, community committees, shops and
//! organisations. Every jurisdiction feature names the unit that answers for it.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The kind of a responsible unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// A professional department (城管执法, 环卫, 市场监管 …, the railway bureau, the 创文办).
    Department,
    /// A street office (街道办事处) or town government.
    StreetOffice,
    /// A residents' or village committee (居委会/村委会).
    CommunityCommittee,
    /// A shop responsible for its 门前三包 frontage.
    Shop,
    /// Any other organisation with a frontage (school, hospital, office …).
    Organisation,
}

impl UnitKind {
    /// Every kind.
    pub const ALL: [UnitKind; 5] = [
        UnitKind::Department,
        UnitKind::StreetOffice,
        UnitKind::CommunityCommittee,
        UnitKind::Shop,
        UnitKind::Organisation,
    ];

    /// The stable wire and storage name.
    pub const fn as_str(self) -> &'static str {
        match self {
            UnitKind::Department => "department",
            UnitKind::StreetOffice => "street_office",
            UnitKind::CommunityCommittee => "community_committee",
            UnitKind::Shop => "shop",
            UnitKind::Organisation => "organisation",
        }
    }
}

/// A unit kind name that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown unit kind {0:?}; expected department, street_office, community_committee, shop or organisation"
)]
pub struct UnknownUnitKind(pub String);

impl FromStr for UnitKind {
    type Err = UnknownUnitKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UnitKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownUnitKind(s.to_owned()))
    }
}

/// A responsible unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponsibleUnit {
    /// Stable short code, e.g. `dept-410103-cgzf`.
    pub code: String,
    /// Name in Chinese, e.g. 二七区城市管理执法局.
    pub name: String,
    /// Kind of unit.
    pub kind: UnitKind,
    /// The unit it belongs to, if any (a street office under its district, a shop under nobody).
    pub parent_code: Option<String>,
}
