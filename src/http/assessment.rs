//! `/api/assessment/…` (考评): rankings per level for a period, a unit's scorecard with the cases
//! behind every number, publishing a period as a frozen snapshot, reading snapshots, and the
//! scheme (read by leaders and administrators, written by administrators). `/api/public/board`
//! is the 红黑榜 without login, from the latest published snapshot. Handlers parse, call the
//! assessment service ([`crate::assessment`]) and render its answer.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AppState;
use super::auth::{AdminOnly, Auth, Policy};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, RequestId};
use crate::assessment::{
    AssessmentError, AssessmentService, Board, Published, SchemeInForce, export,
};
use crate::domain::assessment::{Level, Period, PeriodKind, Ranking, Scorecard, Trend};
use crate::domain::identity::Role;
use crate::store::{SchemeVersion, Snapshot};

/// Who reads the assessment: leaders (planners) and administrators.
pub struct Leaders;
impl Policy for Leaders {
    const ROLES: &'static [Role] = &[Role::Planner, Role::Admin];
}

impl From<AssessmentError> for ApiError {
    fn from(e: AssessmentError) -> Self {
        match e {
            AssessmentError::Scheme(e) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_scheme",
                e.to_string(),
            ),
            AssessmentError::NotFound(m) => ApiError::not_found(m),
            AssessmentError::TooLarge(m) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", m)
            }
            AssessmentError::Store(e) => e.into(),
        }
    }
}

fn service(state: &AppState) -> &AssessmentService {
    state.assessment()
}

fn period(p: Option<&str>) -> Result<Period, ApiError> {
    match p {
        None => Ok(Period::containing(PeriodKind::Week, Utc::now())),
        Some(p) => {
            Period::parse(p).map_err(|e| ApiError::bad_request("invalid_period", e.to_string()))
        }
    }
}

fn level(l: &str) -> Result<Level, ApiError> {
    Level::parse(l).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_level",
            format!(
                "level {:?} is not one of districts, streets, communities, grids, departments, inspectors, dispatchers",
                l.chars().take(40).collect::<String>()
            ),
        )
    })
}

/// The period of a request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// `2026-W48` (ISO week, Monday–Sunday, Beijing time), `2026-11`, `2026-Q4` or
    /// `2026-11-02..2026-11-15` (at most 366 days); default: the current week.
    pub period: Option<String>,
}

/// How a ranking is rendered.
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RankingFormat {
    /// JSON.
    #[default]
    Json,
    /// CSV with Chinese headers, as offices circulate it.
    Csv,
}

/// A ranking request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankingQuery {
    /// `districts`, `streets`, `communities`, `grids`, `departments`, `inspectors` or
    /// `dispatchers`.
    pub level: String,
    /// See [`PeriodQuery`]; default: the current week.
    pub period: Option<String>,
    /// `json` (default) or `csv`.
    #[serde(default)]
    pub format: RankingFormat,
}

/// A file download with a name in RFC 6266 / 5987 form (ASCII fallback and the UTF-8 name).
pub(super) fn attachment(
    content_type: &'static str,
    ascii: &str,
    utf8: &str,
    bytes: Vec<u8>,
) -> Response {
    let encoded: String = utf8
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

/// The ranking as CSV: one row per unit, best first, with Chinese headers.
fn ranking_csv(r: &Ranking) -> Result<Response, ApiError> {
    let bytes = export::ranking_csv(r).map_err(ApiError::internal)?;
    let period = r.period.replace("..", "_");
    Ok(attachment(
        "text/csv; charset=utf-8",
        &format!("ranking-{}-{period}.csv", r.level.as_str()),
        &format!("考评排名-{}-{period}.csv", r.level.label_zh()),
        bytes,
    ))
}

/// The ranking of one level for a period, read live from the case events: score, grade, rank,
/// the change from the period before, the units under the pass line (每日晚例会) and those under
/// it several periods in a row.
#[utoipa::path(get, path = "/api/assessment/rankings", tag = "assessment", security(("bearer" = [])),
    params(RankingQuery),
    responses((status = 200, description = "the ranking: level, period, pass_line, rows, evening_meetings, chronic; or CSV with `format=csv`",
            content((Object = "application/json"), (String = "text/csv"))),
        (status = 400, body = ErrorBody, description = "`invalid_period`, `invalid_level`"),
        (status = 413, body = ErrorBody, description = "more case events than `--assessment-max-events`: `too_large`")))]
pub async fn rankings(
    State(state): State<AppState>,
    _auth: Auth<Leaders>,
    ApiQuery(q): ApiQuery<RankingQuery>,
) -> Result<Response, ApiError> {
    let (level, period) = (level(&q.level)?, period(q.period.as_deref())?);
    let ranking = service(&state).ranking(&period, level, Utc::now()).await?;
    match q.format {
        RankingFormat::Json => Ok(Json(ranking).into_response()),
        RankingFormat::Csv => ranking_csv(&ranking),
    }
}

/// The MIME type of an XLSX workbook.
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Every level's ranking for a period as one XLSX workbook, as offices circulate it: one sheet
/// per level (街道, 社区, 专业部门, 监督员, 指挥中心) with Chinese headers, the pass line and the
/// 每日晚例会 count above each table, and the rows under the pass line in red.
#[utoipa::path(get, path = "/api/assessment/workbook", tag = "assessment", security(("bearer" = [])),
    params(PeriodQuery),
    responses((status = 200, description = "the workbook",
            content((Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = ErrorBody, description = "`invalid_period`"),
        (status = 413, body = ErrorBody, description = "more case events than `--assessment-max-events`: `too_large`")))]
pub async fn workbook(
    State(state): State<AppState>,
    _auth: Auth<Leaders>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Response, ApiError> {
    let period = period(q.period.as_deref())?;
    let rankings = service(&state)
        .rankings(&period, &Level::ALL, Utc::now())
        .await?;
    let label = period.label();
    let bytes = export::workbook(&label, &rankings).map_err(ApiError::internal)?;
    let label = label.replace("..", "_");
    Ok(attachment(
        XLSX,
        &format!("assessment-{label}.xlsx"),
        &format!("考评排名-{label}.xlsx"),
        bytes,
    ))
}

/// One unit's scorecard for a period with its evidence: every indicator's numerator and
/// denominator with their case ids, the components, deductions and 捆绑 partners.
#[utoipa::path(get, path = "/api/assessment/scorecards/{level}/{key}", tag = "assessment", security(("bearer" = [])),
    params(("level" = String, Path, description = "districts, streets, communities, grids, departments, inspectors, dispatchers"),
        ("key" = String, Path, description = "the street, community or unit code; the user id of a person"),
        PeriodQuery),
    responses((status = 200, body = Object, description = "the scorecard"),
        (status = 400, body = ErrorBody, description = "`invalid_period`, `invalid_level`"),
        (status = 413, body = ErrorBody, description = "more case events than `--assessment-max-events`: `too_large`"),
        (status = 404, body = ErrorBody, description = "no case of the unit counts in the period: `not_found`")))]
pub async fn scorecard(
    State(state): State<AppState>,
    _auth: Auth<Leaders>,
    ApiPath((lvl, key)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Json<Scorecard>, ApiError> {
    let (level, period) = (level(&lvl)?, period(q.period.as_deref())?);
    Ok(Json(
        service(&state)
            .scorecard(&period, level, &key, Utc::now())
            .await?,
    ))
}

/// The most periods a trend reads (a year of weeks): each is one pass over the event log.
pub const MAX_TREND_PERIODS: u32 = 53;
/// Periods in a trend when the request does not say.
pub const DEFAULT_TREND_PERIODS: u32 = 12;

/// A trend request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrendQuery {
    /// `districts`, `streets`, `communities`, `grids`, `departments`, `inspectors` or `dispatchers`.
    pub level: String,
    /// One unit (a street, community or unit code, a user id); default: every unit of the level.
    pub key: Option<String>,
    /// The last period of the trend (see [`PeriodQuery`]); the others are the ones just before
    /// it, of the same kind and length. Default: the current week.
    pub period: Option<String>,
    /// How many periods, 1–53; default 12.
    #[param(minimum = 1, maximum = 53)]
    pub periods: Option<u32>,
}

/// The scores of a level's units over consecutive periods (oldest first), for the sparklines of
/// the ranking table: every unit scored in any of them, or one unit with `key`. Read from one pass
/// over the event log.
#[utoipa::path(get, path = "/api/assessment/trend", tag = "assessment", security(("bearer" = [])),
    params(TrendQuery),
    responses((status = 200, body = Object, description = "{level, periods, pass_line, units: [{key, name, scores}]}; a score is null in a period where no case of the unit counted"),
        (status = 400, body = ErrorBody, description = "`invalid_period`, `invalid_level`, `invalid_parameter` (periods outside 1–53)"),
        (status = 413, body = ErrorBody, description = "more case events than `--assessment-max-events`: `too_large`"),
        (status = 404, body = ErrorBody, description = "`key` was scored in none of the periods: `not_found`")))]
pub async fn trend(
    State(state): State<AppState>,
    _auth: Auth<Leaders>,
    ApiQuery(q): ApiQuery<TrendQuery>,
) -> Result<Json<Trend>, ApiError> {
    let (level, period) = (level(&q.level)?, period(q.period.as_deref())?);
    let n = q.periods.unwrap_or(DEFAULT_TREND_PERIODS);
    if !(1..=MAX_TREND_PERIODS).contains(&n) {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("periods must be within 1..={MAX_TREND_PERIODS}, not {n}"),
        ));
    }
    Ok(Json(
        service(&state)
            .trend(&period, level, n, q.key.as_deref(), Utc::now())
            .await?,
    ))
}

/// Publishes a period as a frozen snapshot (admin). The same numbers as the period's latest
/// snapshot publish nothing (`created: false`, that snapshot); different numbers publish the next
/// version with a `diff` naming the cases and units that changed.
#[utoipa::path(post, path = "/api/assessment/publish", tag = "assessment", security(("bearer" = [])),
    params(PeriodQuery),
    responses((status = 200, body = Object, description = "{created, snapshot}"),
        (status = 400, body = ErrorBody, description = "`invalid_period`"),
        (status = 413, body = ErrorBody, description = "more case events than `--assessment-max-events`: `too_large`"),
        (status = 409, body = ErrorBody, description = "the same version was published meanwhile: `conflict`; publish again")))]
pub async fn publish(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Json<Published>, ApiError> {
    let period = period(q.period.as_deref())?;
    let audit = req_id.audit(&auth.principal);
    Ok(Json(
        service(&state).publish(&period, Utc::now(), &audit).await?,
    ))
}

/// A snapshot without its numbers.
#[derive(Debug, Serialize)]
pub struct SnapshotSummary {
    id: i64,
    period: String,
    version: i64,
    scheme_version: i64,
    digest: String,
    as_of: chrono::DateTime<Utc>,
    published_at: chrono::DateTime<Utc>,
    published_by: Option<String>,
    diff: Option<Value>,
}

/// The published snapshots of a period, oldest version first, without their numbers.
#[utoipa::path(get, path = "/api/assessment/snapshots", tag = "assessment", security(("bearer" = [])),
    params(PeriodQuery),
    responses((status = 200, body = Vec<Object>, description = "[{id, period, version, scheme_version, digest, as_of, published_at, published_by, diff}]"),
        (status = 400, body = ErrorBody, description = "`invalid_period`")))]
pub async fn snapshots(
    State(state): State<AppState>,
    _auth: Auth<Leaders>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Json<Vec<SnapshotSummary>>, ApiError> {
    let period = period(q.period.as_deref())?;
    let list = service(&state).snapshots(&period).await?;
    Ok(Json(
        list.into_iter()
            .map(|s| SnapshotSummary {
                id: s.id,
                period: s.period,
                version: s.version,
                scheme_version: s.scheme_version,
                digest: s.digest,
                as_of: s.as_of,
                published_at: s.published_at,
                published_by: s.published_by,
                diff: s.diff,
            })
            .collect(),
    ))
}

/// One published snapshot with its numbers (scorecards per level) and inputs.
#[utoipa::path(get, path = "/api/assessment/snapshots/{id}", tag = "assessment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "the snapshot's id")),
    responses((status = 200, body = Object, description = "the snapshot")))]
pub async fn snapshot(
    State(state): State<AppState>,
    _auth: Auth<Leaders>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Snapshot>, ApiError> {
    Ok(Json(service(&state).snapshot(id).await?))
}

/// The scheme in force (version 0: the built-in default).
#[utoipa::path(get, path = "/api/assessment/scheme", tag = "assessment", security(("bearer" = [])),
    responses((status = 200, body = Object, description = "{version, scheme}")))]
pub async fn get_scheme(
    State(state): State<AppState>,
    _auth: Auth<Leaders>,
) -> Result<Json<SchemeInForce>, ApiError> {
    Ok(Json(service(&state).scheme().await?))
}

/// Writes a new version of the scheme (admin); a document that could not score is refused with
/// `invalid_scheme`.
#[utoipa::path(put, path = "/api/assessment/scheme", tag = "assessment", security(("bearer" = [])),
    request_body(content = Object, description = "the scheme document (see docs/assessment.md)"),
    responses((status = 200, body = Object, description = "{version, document, created_at, created_by}"),
        (status = 422, body = ErrorBody, description = "`invalid_scheme`")))]
pub async fn put_scheme(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<SchemeVersion>, ApiError> {
    let audit = req_id.audit(&auth.principal);
    Ok(Json(service(&state).put_scheme(&body, &audit).await?))
}

/// The public 红黑榜 (no login): the top and bottom N of the levels an administrator made public,
/// from the latest published snapshot; people never by name.
#[utoipa::path(get, path = "/api/public/board", tag = "assessment",
    responses((status = 200, body = Object, description = "{period, version, published_at, grade_bands: [{grade, min}], levels: [{level, label, red, black, grades}]}; `grades` (area levels only: districts, streets, communities, grids): every area's grade by key, for the map"),
        (status = 404, body = ErrorBody, description = "nothing published yet: `not_found`")))]
pub async fn board(State(state): State<AppState>) -> Result<Json<Arc<Board>>, ApiError> {
    service(&state)
        .board()
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no ranking has been published yet"))
}
