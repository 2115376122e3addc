//! A point set ready for analysis: the reports, their metres in one local frame, and (when a city
//! is known) where the assignment engine puts each of them. Built once per data revision and
//! shared; filters then select row numbers without copying.

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use super::Report;
use super::frame::{LocalFrame, Metres};
use super::zones;
use crate::assign::{AreaLevel, CityIndex, NONE};

/// Per point: the engine's answer, compacted.
#[derive(Debug, Clone, Default)]
pub struct Located {
    /// Unit grid index, or [`NONE`].
    pub grid: Vec<u32>,
    /// Zone mask ([`zones::mask`]).
    pub mask: Vec<u8>,
    /// Nearest frontage whose strip holds the point, or [`NONE`].
    pub frontage: Vec<u32>,
}

/// Reports with their projections.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The reports (WGS84).
    pub reports: Vec<Report>,
    /// The local frame.
    pub frame: LocalFrame,
    /// Each report in the frame, metres.
    pub metres: Vec<Metres>,
    /// Where the engine puts them, when built with a city index.
    pub located: Option<Located>,
}

impl crate::cache::Footprint for Dataset {
    fn footprint(&self) -> usize {
        use crate::cache::vec_bytes;
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
        std::mem::size_of::<Self>()
            + vec_bytes(&self.reports)
            + self
                .reports
                .iter()
                .map(|r| r.id.capacity() + text(&r.category) + text(&r.source))
                .sum::<usize>()
            + vec_bytes(&self.metres)
            + self.located.as_ref().map_or(0, |l| {
                vec_bytes(&l.grid) + vec_bytes(&l.mask) + vec_bytes(&l.frontage)
            })
    }
}

/// In-memory filter (the same fields as the store's `PointFilter`). Area filters compare the
/// codes of the grid the *current* jurisdiction data puts the point in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Category codes (any).
    pub categories: Vec<String>,
    /// Reported at or after.
    pub from: Option<DateTime<Utc>>,
    /// Reported before.
    pub to: Option<DateTime<Utc>>,
    /// Closed (true) or open (false) only.
    pub closed: Option<bool>,
    /// Source / channel.
    pub source: Option<String>,
    /// Street code.
    pub street: Option<String>,
    /// Community code.
    pub community: Option<String>,
    /// Unit grid code.
    pub grid: Option<String>,
}

impl Dataset {
    /// Projects (and locates, with an index) the reports. `frame` defaults to the points' mean.
    pub fn new(reports: Vec<Report>, frame: Option<LocalFrame>, index: Option<&CityIndex>) -> Self {
        let frame = frame
            .or_else(|| LocalFrame::around(reports.iter().map(|r| (r.lon, r.lat))))
            .unwrap_or_else(|| LocalFrame::at(0.0, 0.0));
        let metres = reports
            .par_iter()
            .map(|r| frame.forward(r.lon, r.lat))
            .collect();
        let located = index.map(|ix| {
            let hits: Vec<_> = reports
                .par_iter()
                .map(|r| ix.locate(r.lon, r.lat))
                .collect();
            Located {
                grid: hits.iter().map(|h| h.grid).collect(),
                mask: hits.iter().map(zones::mask).collect(),
                frontage: hits.iter().map(|h| h.frontage).collect(),
            }
        });
        Self {
            reports,
            frame,
            metres,
            located,
        }
    }

    /// Row numbers of the reports passing `f`. Area filters need the located data and the index
    /// it was located with; an unknown area code selects nothing.
    pub fn select(&self, f: &Filter, index: Option<&CityIndex>) -> Vec<u32> {
        let area = |level: AreaLevel, code: &Option<String>| -> Option<u32> {
            let code = code.as_deref()?;
            Some(
                index
                    .and_then(|ix| ix.areas(level).position(|a| a.code == code))
                    .map_or(NONE - 1, |i| i as u32),
            )
        };
        let want = [
            (AreaLevel::Grid, area(AreaLevel::Grid, &f.grid)),
            (
                AreaLevel::Community,
                area(AreaLevel::Community, &f.community),
            ),
            (AreaLevel::Street, area(AreaLevel::Street, &f.street)),
        ];
        let any_area = want.iter().any(|w| w.1.is_some());
        (0..self.reports.len() as u32)
            .into_par_iter()
            .filter(|&i| {
                let r = &self.reports[i as usize];
                if !f.categories.is_empty()
                    && !r
                        .category
                        .as_ref()
                        .is_some_and(|c| f.categories.contains(c))
                {
                    return false;
                }
                if let Some(from) = f.from
                    && r.reported_at.is_none_or(|t| t < from)
                {
                    return false;
                }
                if let Some(to) = f.to
                    && r.reported_at.is_none_or(|t| t >= to)
                {
                    return false;
                }
                if let Some(c) = f.closed
                    && r.closed_at.is_some() != c
                {
                    return false;
                }
                if let Some(s) = &f.source
                    && r.source.as_ref() != Some(s)
                {
                    return false;
                }
                if any_area {
                    let (Some(loc), Some(ix)) = (&self.located, index) else {
                        return false;
                    };
                    let mut g = loc.grid[i as usize];
                    for (level, w) in want {
                        if g == NONE {
                            return false;
                        }
                        if let Some(w) = w
                            && g != w
                        {
                            return false;
                        }
                        g = ix.parent(level, g);
                    }
                }
                true
            })
            .collect()
    }
}
