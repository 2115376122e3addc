//! Land use of the demo city: how urban a place is, from one rule.
//!
//! Zhengzhou grew outwards from 二七广场 and the railway station; the old core is in the north-east
//! of the two districts, the south-west (侯寨, 马寨) is hilly village land. We model that with an
//! anisotropic distance from the core, `urban_score`: 0 at the core, 1 at the edge of the built-up
//! area (≈ 11 km west, 12 km north, 7.5 km south of the core), larger outside. Illustrative only.

use super::projection::to_metres;

/// Core of the old city (between 二七广场 and 碧沙岗), WGS84 lon/lat.
pub const CORE: [f64; 2] = [113.640, 34.750];

/// Urban score of a point in local metres: < 1 built-up, 1–1.5 fringe, ≥ 1.5 rural.
pub fn urban_score(p: [f64; 2]) -> f64 {
    let c = to_metres(CORE[0], CORE[1]);
    let dx = (p[0] - c[0]) / 11_000.0;
    let dy = p[1] - c[1];
    let dy = if dy > 0.0 {
        dy / 12_000.0
    } else {
        dy / 7_500.0
    };
    (dx * dx + dy * dy).sqrt()
}

/// Relative density of people and activity (1 at the core), falling off with the urban score.
/// A community holds about the same weight wherever it is, so rural ones come out ~15× larger.
pub fn density(p: [f64; 2]) -> f64 {
    let s = urban_score(p) / 0.35;
    1.0 / (1.0 + s * s)
}

/// Land class of a lattice cell by the urban score of its centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Land {
    /// Urban core (score < 0.35): dense old city, management level 1.
    Core,
    /// Built-up (score < 1): unit grids are single ~100 m cells.
    BuiltUp,
    /// Fringe (1 ≤ score < 1.5): unit grids are blocks of 2 × 2 cells (~200 m).
    Fringe,
    /// Rural (score ≥ 1.5): unit grids are blocks of 3 × 3 cells (~300 m).
    Rural,
}

/// Land class of a point in local metres.
pub fn land(p: [f64; 2]) -> Land {
    let s = urban_score(p);
    if s < 0.35 {
        Land::Core
    } else if s < 1.0 {
        Land::BuiltUp
    } else if s < 1.5 {
        Land::Fringe
    } else {
        Land::Rural
    }
}

impl Land {
    /// Side of a unit grid, in lattice cells.
    pub fn block(self) -> usize {
        match self {
            Land::Core | Land::BuiltUp => 1,
            Land::Fringe => 2,
            Land::Rural => 3,
        }
    }

    /// Built-up (core or built-up class).
    pub fn built_up(self) -> bool {
        matches!(self, Land::Core | Land::BuiltUp)
    }
}
