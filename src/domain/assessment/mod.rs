//! 考评: scores, grades and rankings of departments, streets, communities, inspectors and the
//! command centre's staff, per period, computed from the case event log alone (never from
//! counters kept on the side). Pure: the service reads the events and the scheme from the store.
//!
//! - `period`: ISO weeks, months, quarters and ranges in Beijing time.
//! - `scheme`: the versioned 考核办法 document (weights, ladders, deductions, grades, 捆绑 blend).
//! - `facts`: what one case's events say about it as of an instant (its effective deadline with
//!   挂账 time added, when and whether it was handled on time, its reworks, send-backs …).
//! - `score`: the indicators per unit with the cases behind every number, the composite scores,
//!   the 捆绑 blend, rankings and the 60-point line.

use serde::{Deserialize, Serialize};

pub mod facts;
pub mod period;
pub mod scheme;
pub mod score;

pub use facts::{CaseEvent, CaseHistory};
pub use period::{Period, PeriodError, PeriodKind};
pub use scheme::{Indicator, Scheme, SchemeError};
pub use score::{
    AreaFigures, AreaSizes, Assessment, Measure, Ranking, RankingRow, Scorecard, Trend, TrendUnit,
    assess, rank, trend,
};

/// The levels units are ranked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 区.
    Districts,
    /// 街道.
    Streets,
    /// 社区.
    Communities,
    /// 单元网格.
    Grids,
    /// 专业部门 (responsible units).
    Departments,
    /// 监督员.
    Inspectors,
    /// The command centre's staff (值班长, 派遣员).
    Dispatchers,
}

impl Level {
    /// Every level, in a stable order.
    pub const ALL: [Level; 7] = [
        Level::Districts,
        Level::Streets,
        Level::Communities,
        Level::Grids,
        Level::Departments,
        Level::Inspectors,
        Level::Dispatchers,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Districts => "districts",
            Level::Streets => "streets",
            Level::Communities => "communities",
            Level::Grids => "grids",
            Level::Departments => "departments",
            Level::Inspectors => "inspectors",
            Level::Dispatchers => "dispatchers",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The Chinese name.
    pub fn label_zh(self) -> &'static str {
        match self {
            Level::Districts => "区",
            Level::Streets => "街道",
            Level::Communities => "社区",
            Level::Grids => "单元网格",
            Level::Departments => "专业部门",
            Level::Inspectors => "监督员",
            Level::Dispatchers => "指挥中心",
        }
    }

    /// Whether units of this level are areas (districts, streets, communities, grids), which
    /// also carry the area indicators (per km², per km of frontage, open cases).
    pub fn is_area(self) -> bool {
        matches!(
            self,
            Level::Districts | Level::Streets | Level::Communities | Level::Grids
        )
    }

    /// Whether units of this level are people (never shown by name in public by default).
    pub fn is_people(self) -> bool {
        matches!(self, Level::Inspectors | Level::Dispatchers)
    }
}

#[cfg(test)]
mod tests;
