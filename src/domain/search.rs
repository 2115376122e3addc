//! Place search (地名检索): finding a district, street, community, unit grid or road by its code
//! or by a part of its name, for the map page's search box and the inspector's 我的网格.
//!
//! Pure: the places are plain values built elsewhere (`crate::search` reads them from the live
//! city and the road basemap); this module parses the query and ranks the matches. Unit names and
//! codes are public data, so nothing here needs a caller.
//!
//! Matching: Chinese names have no word boundaries, so a name matches by substring; codes and
//! Latin letters match without regard to case. A query of several words separated by spaces
//! (`中原区 建设路`) matches a place when every word is found in its name, its code or the name
//! of one of its parents.

use serde::Serialize;

/// Longest query, in characters (after trimming).
pub const MAX_QUERY_CHARS: usize = 64;
/// Most results one search returns.
pub const MAX_LIMIT: usize = 50;
/// Results returned when the caller does not say.
pub const DEFAULT_LIMIT: usize = 10;

/// What kind of place a result is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PlaceKind {
    /// 区.
    District,
    /// 街道/镇.
    Street,
    /// 社区/村.
    Community,
    /// 单元网格.
    Grid,
    /// 道路 (from the road basemap; one place per road name).
    Road,
}

impl PlaceKind {
    /// The kind in Chinese, as the page shows it.
    pub fn zh(self) -> &'static str {
        match self {
            Self::District => "区",
            Self::Street => "街道/镇",
            Self::Community => "社区/村",
            Self::Grid => "单元网格",
            Self::Road => "道路",
        }
    }
}

/// A parent of a place: the district, street or community it lies in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParentRef {
    /// Level of the parent.
    pub kind: PlaceKind,
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
}

/// A place that can be found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Place {
    /// Level or kind.
    pub kind: PlaceKind,
    /// The jurisdiction code; `None` for a road (roads have no code, only a name).
    pub code: Option<String>,
    /// Official name.
    pub name: String,
    /// The parent chain, outermost first (district, street, community). A road lists the
    /// districts and streets it runs through.
    pub parents: Vec<ParentRef>,
    /// Bounding box `[min_lon, min_lat, max_lon, max_lat]`, WGS84 degrees.
    pub bbox: [f64; 4],
}

/// How well a place matched; lower is better, and results are sorted by it first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rank {
    /// The query is the place's code.
    ExactCode,
    /// The query is the place's whole name.
    ExactName,
    /// The name starts with the query.
    NamePrefix,
    /// The code starts with the query.
    CodePrefix,
    /// The query is found inside the name (or, for several words, in the name and parents).
    Substring,
}

/// Why a query is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// Nothing left after trimming.
    #[error("q 不能为空。q must not be empty: give a code, a name or a part of one")]
    Empty,
    /// Longer than [`MAX_QUERY_CHARS`].
    #[error(
        "q 最多 {MAX_QUERY_CHARS} 个字符,实际 {0} 个。q may have at most {MAX_QUERY_CHARS} characters; got {0}"
    )]
    TooLong(usize),
}

/// A checked search text: trimmed, 1–[`MAX_QUERY_CHARS`] characters, lower-cased for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    whole: String,
    words: Vec<String>,
}

impl Query {
    /// Trims `text` and checks its length.
    ///
    /// ```
    /// use wangge::domain::search::{Query, QueryError};
    /// assert!(Query::parse("  碧沙岗 ").is_ok());
    /// assert_eq!(Query::parse("   "), Err(QueryError::Empty));
    /// assert_eq!(Query::parse(&"路".repeat(65)), Err(QueryError::TooLong(65)));
    /// ```
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        let trimmed = text.trim();
        let n = trimmed.chars().count();
        if n == 0 {
            return Err(QueryError::Empty);
        }
        if n > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong(n));
        }
        let whole = trimmed.to_lowercase();
        let words = whole.split_whitespace().map(str::to_owned).collect();
        Ok(Self { whole, words })
    }
}

/// A ranked result.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    /// How it matched.
    pub rank: Rank,
    /// The place.
    pub place: &'a Place,
}

/// The searchable places of one data version.
#[derive(Debug, Clone, Default)]
pub struct PlaceIndex {
    places: Vec<Place>,
    /// Lower-cased name and code of each place, in the same order (matching does not allocate).
    keys: Vec<(String, String)>,
}

impl PlaceIndex {
    /// An index over `places`.
    pub fn new(places: Vec<Place>) -> Self {
        let keys = places
            .iter()
            .map(|p| {
                (
                    p.name.to_lowercase(),
                    p.code.as_deref().unwrap_or("").to_lowercase(),
                )
            })
            .collect();
        Self { places, keys }
    }

    /// Number of places.
    pub fn len(&self) -> usize {
        self.places.len()
    }

    /// Whether there is no place at all.
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// The best `limit` places for `q`: exact code first, then exact name, name prefix, code
    /// prefix, substring; within a rank the larger level first (district before grid, grid
    /// before road), then the shorter name, then the code.
    pub fn search(&self, q: &Query, limit: usize) -> Vec<Hit<'_>> {
        let mut hits: Vec<Hit<'_>> = self
            .places
            .iter()
            .zip(&self.keys)
            .filter_map(|(place, (name, code))| {
                rank(q, place, name, code).map(|rank| Hit { rank, place })
            })
            .collect();
        hits.sort_by(|a, b| {
            (a.rank, a.place.kind, a.place.name.chars().count())
                .cmp(&(b.rank, b.place.kind, b.place.name.chars().count()))
                .then_with(|| a.place.code.cmp(&b.place.code))
                .then_with(|| a.place.name.cmp(&b.place.name))
        });
        hits.truncate(limit);
        hits
    }
}

fn rank(q: &Query, place: &Place, name: &str, code: &str) -> Option<Rank> {
    let whole = q.whole.as_str();
    if !code.is_empty() && code == whole {
        return Some(Rank::ExactCode);
    }
    if name == whole {
        return Some(Rank::ExactName);
    }
    if name.starts_with(whole) {
        return Some(Rank::NamePrefix);
    }
    if !code.is_empty() && code.starts_with(whole) {
        return Some(Rank::CodePrefix);
    }
    if name.contains(whole) {
        return Some(Rank::Substring);
    }
    // Several words: each must be somewhere in the name, the code or a parent's name.
    if q.words.len() > 1
        && q.words.iter().all(|w| {
            name.contains(w.as_str())
                || code.starts_with(w.as_str())
                || place
                    .parents
                    .iter()
                    .any(|p| p.name.to_lowercase().contains(w.as_str()) || p.code == *w)
        })
    {
        return Some(Rank::Substring);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(kind: PlaceKind, code: Option<&str>, name: &str, parents: &[&str]) -> Place {
        Place {
            kind,
            code: code.map(str::to_owned),
            name: name.into(),
            parents: parents
                .iter()
                .map(|n| ParentRef {
                    kind: PlaceKind::District,
                    code: String::new(),
                    name: (*n).into(),
                })
                .collect(),
            bbox: [113.6, 34.7, 113.61, 34.71],
        }
    }

    fn index() -> PlaceIndex {
        PlaceIndex::new(vec![
            place(PlaceKind::District, Some("410102"), "中原区", &[]),
            place(
                PlaceKind::Street,
                Some("410102001"),
                "林山寨街道",
                &["中原区"],
            ),
            place(
                PlaceKind::Street,
                Some("410102002"),
                "建设路街道",
                &["中原区"],
            ),
            place(
                PlaceKind::Community,
                Some("410102001002"),
                "碧沙岗社区居委会",
                &["中原区", "林山寨街道"],
            ),
            place(
                PlaceKind::Grid,
                Some("410102001002001"),
                "碧沙岗社区第001网格",
                &["中原区", "林山寨街道", "碧沙岗社区居委会"],
            ),
            place(PlaceKind::Road, None, "建设路", &["中原区"]),
            place(PlaceKind::Road, None, "西建设路", &["二七区"]),
        ])
    }

    fn names(hits: &[Hit<'_>]) -> Vec<String> {
        hits.iter().map(|h| h.place.name.clone()).collect()
    }

    #[test]
    fn an_exact_code_comes_before_the_places_whose_code_it_begins() {
        let idx = index();
        let hits = idx.search(&Query::parse("410102001002").unwrap(), 10);
        assert_eq!(hits[0].rank, Rank::ExactCode);
        assert_eq!(hits[0].place.name, "碧沙岗社区居委会");
        assert_eq!(hits[1].rank, Rank::CodePrefix);
        assert_eq!(hits[1].place.kind, PlaceKind::Grid);
    }

    #[test]
    fn a_whole_name_comes_before_a_prefix_and_a_prefix_before_a_substring() {
        let idx = index();
        let hits = idx.search(&Query::parse("建设路").unwrap(), 10);
        assert_eq!(names(&hits), ["建设路", "建设路街道", "西建设路"]);
        assert_eq!(
            hits.iter().map(|h| h.rank).collect::<Vec<_>>(),
            [Rank::ExactName, Rank::NamePrefix, Rank::Substring]
        );
    }

    #[test]
    fn within_a_rank_the_larger_level_comes_first() {
        let idx = index();
        let hits = idx.search(&Query::parse("碧沙岗").unwrap(), 10);
        assert_eq!(names(&hits), ["碧沙岗社区居委会", "碧沙岗社区第001网格"]);
    }

    #[test]
    fn several_words_narrow_by_the_parents_names() {
        let idx = index();
        let hits = idx.search(&Query::parse("二七区 建设路").unwrap(), 10);
        assert_eq!(names(&hits), ["西建设路"]);
    }

    #[test]
    fn the_limit_cuts_the_ranked_list_and_no_match_is_an_empty_list() {
        let idx = index();
        assert_eq!(idx.search(&Query::parse("区").unwrap(), 1).len(), 1);
        assert!(
            idx.search(&Query::parse("不存在的地方").unwrap(), 10)
                .is_empty()
        );
    }

    #[test]
    fn a_query_is_trimmed_and_its_length_counted_in_characters() {
        assert_eq!(Query::parse(&"路".repeat(64)).map(|_| ()), Ok(()));
        assert_eq!(Query::parse(&"路".repeat(65)), Err(QueryError::TooLong(65)));
        assert_eq!(Query::parse(" \t "), Err(QueryError::Empty));
    }
}
