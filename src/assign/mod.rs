//! The assignment engine: every reported point to its whole chain of owners (属地), with the reason
//! for every link and an explicit flag wherever the answer is uncertain.
//!
//! Pure: it is built from jurisdiction features (WGS84 lon/lat degrees) and answers from memory.
//!
//! How it is fast. The administrative layers form a partition (grid ⊂ community ⊂ street ⊂
//! district, each level tiling the one above — the importer enforces it), so finding the unit
//! grid answers every level above it. The grid is found through a lattice of ~25 m cells: most
//! cells lie wholly inside one grid and answer with one array read; the others list the two or
//! three grids whose boundary crosses them, and an exact point-in-polygon test decides.
//!
//! Boundaries. A point exactly on the boundary shared by several grids (an edge or a vertex) is
//! covered by all of them (PostGIS `ST_Covers` semantics). The engine then answers with the grid of
//! the **lowest code** and flags `on_boundary`, listing the others. Because codes nest, the chosen
//! grid's community, street and district are then also the lowest-coded ones covering the point.

mod area_stats;
pub mod batch;
pub mod buckets;
pub mod geodesy;
mod index;
mod result;

pub use area_stats::AreaStats;
pub use index::{
    AreaLevel, AreaView, CityIndex, CityLayers, EngineConfig, FrontageView, Hit, NONE,
};
pub use result::{AreaRef, Assignment, FrontageHit, Nearest, Owner, Status, ZoneHit, Zones};
