//! How big each administrative area is, for the 考评 area indicators (problems per km² and per
//! km of 门前三包 frontage) and the area class (区域类别) of each grid. Computed once per index
//! version, on first use: the index is immutable, so the numbers never go stale.

use std::collections::HashMap;

use geo::{ChamberlainDuquetteArea, Euclidean, Haversine, InterpolateLine, Length};

use super::index::{AreaLevel, CityIndex, NONE};
use crate::domain::jurisdiction::AreaSize;

/// Sizes of every area of every level, by level and code.
#[derive(Debug, Default)]
pub struct AreaStats {
    sizes: HashMap<(AreaLevel, Box<str>), AreaSize>,
}

const LEVELS: [AreaLevel; 4] = [
    AreaLevel::District,
    AreaLevel::Street,
    AreaLevel::Community,
    AreaLevel::Grid,
];

impl AreaStats {
    /// Measures every area of `index` and sums its frontages up the chain grid → community →
    /// street → district.
    pub fn compute(index: &CityIndex) -> Self {
        let mut per_level: Vec<Vec<AreaSize>> = LEVELS
            .iter()
            .map(|&level| {
                index
                    .areas(level)
                    .map(|a| AreaSize {
                        km2: a.polygon.chamberlain_duquette_unsigned_area() / 1e6,
                        frontage_km: 0.0,
                        class: a.class,
                    })
                    .collect()
            })
            .collect();
        for (_, _, line) in index.frontage_lines() {
            let Some(mid) = Euclidean.point_at_ratio_from_start(line, 0.5) else {
                continue;
            };
            let km = Haversine.length(line) / 1000.0;
            // Grid, then up: the parent of level k is at level k − 1.
            let mut i = index.locate(mid.x(), mid.y()).grid;
            for k in (0..LEVELS.len()).rev() {
                if i == NONE {
                    break;
                }
                if let Some(s) = per_level[k].get_mut(i as usize) {
                    s.frontage_km += km;
                }
                i = index.parent(LEVELS[k], i);
            }
        }
        let mut sizes = HashMap::new();
        for (k, &level) in LEVELS.iter().enumerate() {
            for (a, size) in index.areas(level).zip(&per_level[k]) {
                sizes.insert((level, a.code.into()), *size);
            }
        }
        Self { sizes }
    }

    /// The size of one area.
    pub fn get(&self, level: AreaLevel, code: &str) -> Option<AreaSize> {
        self.sizes.get(&(level, code.into())).copied()
    }

    /// Every area with its size.
    pub fn iter(&self) -> impl Iterator<Item = (AreaLevel, &str, AreaSize)> + '_ {
        self.sizes.iter().map(|((l, c), s)| (*l, &**c, *s))
    }
}
