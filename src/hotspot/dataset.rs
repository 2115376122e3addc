//! A point set ready for analysis: the reports, their metres in one local frame, and (when a city
//! is known) where the assignment engine puts each of them. Built once per data revision and
//! shared; filters then select row numbers without copying. The columns of a set can share their
//! first rows with another set's: the stored history, located once, stays shared while only the
//! live cases after it are read and located again on each case change.

use std::ops::Index;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use super::Report;
use super::frame::{LocalFrame, Metres};
use super::zones;
use crate::assign::{AreaLevel, CityIndex, NONE};

/// One column of a point set: rows shared with other sets (`head`), then rows of this set alone.
#[derive(Debug)]
pub struct Column<T> {
    head: Arc<Vec<T>>,
    tail: Vec<T>,
}

impl<T> Column<T> {
    /// Rows.
    pub fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.head.iter().chain(self.tail.iter())
    }

    /// These rows followed by `more`: the rows already shared stay shared. A column with rows of
    /// its own is copied into a new shared head first (a set is extended once, from a set built
    /// whole, so that does not happen in the service).
    fn then(&self, more: Vec<T>) -> Self
    where
        T: Clone,
    {
        let head = if self.tail.is_empty() {
            self.head.clone()
        } else {
            Arc::new(self.iter().cloned().collect())
        };
        Self { head, tail: more }
    }

    /// Bytes of the row buffers, shared ones included.
    pub fn bytes(&self) -> usize {
        crate::cache::vec_bytes(&self.head) + crate::cache::vec_bytes(&self.tail)
    }
}

impl<T> From<Vec<T>> for Column<T> {
    fn from(rows: Vec<T>) -> Self {
        Self {
            head: Arc::new(rows),
            tail: Vec::new(),
        }
    }
}

impl<T> Index<usize> for Column<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        match i.checked_sub(self.head.len()) {
            None => &self.head[i],
            Some(j) => &self.tail[j],
        }
    }
}

impl<'a, T> IntoIterator for &'a Column<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Chain<std::slice::Iter<'a, T>, std::slice::Iter<'a, T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.head.iter().chain(self.tail.iter())
    }
}

/// Per point: the engine's answer, compacted.
#[derive(Debug)]
pub struct Located {
    /// Unit grid index, or [`NONE`].
    pub grid: Column<u32>,
    /// Zone mask ([`zones::mask`]).
    pub mask: Column<u8>,
    /// Nearest frontage whose strip holds the point, or [`NONE`].
    pub frontage: Column<u32>,
}

/// Where the engine puts each report, in the columns' order.
fn locate(reports: &[Report], ix: &CityIndex) -> (Vec<u32>, Vec<u8>, Vec<u32>) {
    let hits: Vec<_> = reports
        .par_iter()
        .map(|r| ix.locate(r.lon, r.lat))
        .collect();
    (
        hits.iter().map(|h| h.grid).collect(),
        hits.iter().map(zones::mask).collect(),
        hits.iter().map(|h| h.frontage).collect(),
    )
}

/// Reports with their projections.
#[derive(Debug)]
pub struct Dataset {
    /// The reports (WGS84).
    pub reports: Column<Report>,
    /// The local frame.
    pub frame: LocalFrame,
    /// Each report in the frame, metres.
    pub metres: Column<Metres>,
    /// Where the engine puts them, when built with a city index.
    pub located: Option<Located>,
}

impl crate::cache::Footprint for Dataset {
    fn footprint(&self) -> usize {
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
        std::mem::size_of::<Self>()
            + self.reports.bytes()
            + self
                .reports
                .iter()
                .map(|r| r.id.capacity() + text(&r.category) + text(&r.source))
                .sum::<usize>()
            + self.metres.bytes()
            + self
                .located
                .as_ref()
                .map_or(0, |l| l.grid.bytes() + l.mask.bytes() + l.frontage.bytes())
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
        let metres: Vec<Metres> = reports
            .par_iter()
            .map(|r| frame.forward(r.lon, r.lat))
            .collect();
        let located = index.map(|ix| {
            let (grid, mask, frontage) = locate(&reports, ix);
            Located {
                grid: grid.into(),
                mask: mask.into(),
                frontage: frontage.into(),
            }
        });
        Self {
            reports: reports.into(),
            frame,
            metres: metres.into(),
            located,
        }
    }

    /// These reports followed by `more`, projected in the same frame and, when these are
    /// located, located with `index` (the one these were located with). The rows already here
    /// are shared, not copied: extending the located history with the live cases costs the cases
    /// alone.
    ///
    /// # Panics
    /// When these reports are located and no index is given.
    pub fn then(&self, more: Vec<Report>, index: Option<&CityIndex>) -> Self {
        let metres: Vec<Metres> = more
            .par_iter()
            .map(|r| self.frame.forward(r.lon, r.lat))
            .collect();
        let located = self.located.as_ref().map(|l| {
            let ix = index.expect("located reports are extended with their index");
            let (grid, mask, frontage) = locate(&more, ix);
            Located {
                grid: l.grid.then(grid),
                mask: l.mask.then(mask),
                frontage: l.frontage.then(frontage),
            }
        });
        Self {
            reports: self.reports.then(more),
            frame: self.frame,
            metres: self.metres.then(metres),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn report(i: usize) -> Report {
        Report {
            id: format!("H{i}"),
            lon: 113.6 + i as f64 * 1e-4,
            lat: 34.7 + i as f64 * 1e-4,
            weight: 1.0,
            category: Some("0101".into()),
            reported_at: None,
            closed_at: None,
            source: None,
        }
    }

    #[test]
    fn a_set_extended_with_more_reports_equals_the_set_built_whole_and_shares_its_rows() {
        let all: Vec<Report> = (0..10).map(report).collect();
        let frame = LocalFrame::at(113.6, 34.7);
        let whole = Dataset::new(all.clone(), Some(frame), None);
        let head = Dataset::new(all[..6].to_vec(), Some(frame), None);
        let extended = head.then(all[6..].to_vec(), None);
        assert_eq!(extended.reports.len(), 10);
        for i in 0..10 {
            assert_eq!(extended.reports[i].id, whole.reports[i].id);
            assert_eq!(extended.metres[i], whole.metres[i]);
        }
        let ids: Vec<&str> = extended.reports.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, (0..10).map(|i| format!("H{i}")).collect::<Vec<_>>());
        assert!(Arc::ptr_eq(&head.reports.head, &extended.reports.head));
        // Extending an extended set copies its rows into one shared head, once.
        let twice = extended.then(vec![report(10)], None);
        assert_eq!(twice.reports.len(), 11);
        assert_eq!(twice.reports[10].id, "H10");
        assert_eq!(twice.reports[7].id, "H7");
        assert!(!Arc::ptr_eq(&head.reports.head, &twice.reports.head));
        let filter = Filter {
            categories: vec!["0101".into()],
            ..Filter::default()
        };
        assert_eq!(twice.select(&filter, None).len(), 11);
    }
}
