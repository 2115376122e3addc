//! `GET /api/search`: places by code or name (public: unit names and codes are public data).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiQuery;
use super::limits::Range;
use crate::domain::search::{self, Query};
use crate::search::SearchError;

/// Results of one search: 1–50, 10 when not given.
pub const SEARCH_LIMIT: Range = Range {
    name: "limit",
    min: 1,
    max: search::MAX_LIMIT as i64,
};

/// Query of a search.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// A code (`410102001002001`), a name or part of one (`碧沙岗`, `建设路`), or several words
    /// separated by spaces, each found in the name or a parent's name (`中原区 建设路`).
    /// 1–64 characters after trimming.
    #[param(min_length = 1, max_length = 64)]
    pub q: Option<String>,
    /// Most results, 1–50 (default 10).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<i64>,
}

/// A parent of a result.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ParentOut {
    /// `district`, `street` or `community`.
    pub kind: &'static str,
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
}

/// One place found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResult {
    /// `district`, `street`, `community`, `grid` or `road`.
    pub kind: &'static str,
    /// The kind in Chinese (区, 街道/镇, 社区/村, 单元网格, 道路).
    pub kind_zh: &'static str,
    /// The jurisdiction code; null for a road.
    pub code: Option<String>,
    /// Official name.
    pub name: String,
    /// Parents, outermost first; a road lists the districts then the streets it runs through.
    pub parents: Vec<ParentOut>,
    /// The parent chain in Chinese, `中原区 › 林山寨街道 › 碧沙岗社区居委会` (empty for a district;
    /// a road's `中原区 › 林山寨街道、建设路街道`).
    pub chain: String,
    /// `[min_lon, min_lat, max_lon, max_lat]`, WGS84 degrees: the box to show.
    pub bbox: [f64; 4],
    /// How it matched: `exact_code`, `exact_name`, `name_prefix`, `code_prefix`, `substring`.
    pub matched: &'static str,
}

fn kind_name(kind: search::PlaceKind) -> &'static str {
    match kind {
        search::PlaceKind::District => "district",
        search::PlaceKind::Street => "street",
        search::PlaceKind::Community => "community",
        search::PlaceKind::Grid => "grid",
        search::PlaceKind::Road => "road",
    }
}

fn rank_name(rank: search::Rank) -> &'static str {
    match rank {
        search::Rank::ExactCode => "exact_code",
        search::Rank::ExactName => "exact_name",
        search::Rank::NamePrefix => "name_prefix",
        search::Rank::CodePrefix => "code_prefix",
        search::Rank::Substring => "substring",
    }
}

/// The parent chain in Chinese. A road's parents are siblings, not a chain: its districts and
/// its streets are each listed with 、 (`中原区 › 林山寨街道、建设路街道`).
fn chain(p: &search::Place) -> String {
    if p.kind != search::PlaceKind::Road {
        let names: Vec<&str> = p.parents.iter().map(|r| r.name.as_str()).collect();
        return names.join(" › ");
    }
    let of = |kind| {
        let names: Vec<&str> = p
            .parents
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.name.as_str())
            .collect();
        names.join("、")
    };
    [
        of(search::PlaceKind::District),
        of(search::PlaceKind::Street),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(" › ")
}

/// Districts, streets, communities, unit grids and roads by code or name, best first (public).
///
/// Ranking: the exact code, then the exact name, then names beginning with `q`, codes beginning
/// with `q`, then names containing it; within each, the larger level first, then the shorter
/// name. Roads are found by name (one result per road name, its box the union of its segments).
#[utoipa::path(get, path = "/api/search", tag = "layers", params(SearchQuery),
    responses(
        (status = 200, description = "places, best first (possibly none)", body = Vec<SearchResult>),
        (status = 400, description = "`invalid_parameter`: q empty or longer than 64 characters, limit outside 1–50; `invalid_query`: limit not an integer", body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<Vec<SearchResult>>, ApiError> {
    let query = Query::parse(q.q.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request("invalid_parameter", e.to_string()))?;
    let limit = SEARCH_LIMIT.check(q.limit, search::DEFAULT_LIMIT as i64)?;
    let places = state.search().places().await.map_err(|e| match e {
        SearchError::Store(e) => ApiError::from(e),
        other => ApiError::internal(other),
    })?;
    let hits = places.search(
        &query,
        usize::try_from(limit).unwrap_or(search::DEFAULT_LIMIT),
    );
    Ok(Json(
        hits.into_iter()
            .map(|h| {
                let p = h.place;
                SearchResult {
                    kind: kind_name(p.kind),
                    kind_zh: p.kind.zh(),
                    code: p.code.clone(),
                    name: p.name.clone(),
                    chain: chain(p),
                    parents: p
                        .parents
                        .iter()
                        .map(|r| ParentOut {
                            kind: kind_name(r.kind),
                            code: r.code.clone(),
                            name: r.name.clone(),
                        })
                        .collect(),
                    bbox: p.bbox,
                    matched: rank_name(h.rank),
                }
            })
            .collect(),
    ))
}
