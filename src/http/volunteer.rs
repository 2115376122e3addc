//! `/api/volunteer/…`: what a 市民找差团 volunteer (role `volunteer`) reaches besides their own
//! visits of a round (`POST /api/inspections/rounds/{id}/visits`) and the before-photos of their
//! own open reports (`POST /api/cases/{id}/photos`). They report a problem, which goes to 核实 by
//! the grid's inspector, and list their own reports with the outcome. The view is the one a
//! citizen gets when following a report: their words, place, status, and once closed the
//! closing note and after-photos; never who handles it, their people or internal notes. Every
//! other endpoint that shows the city's cases refuses a volunteer (403 `forbidden_role`), since
//! those take the `Staff` policy.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::{Auth, Policy};
use super::cases::NewReport;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiQuery, RequestId};
use super::limits;
use crate::cases::{OwnReport, Submission};
use crate::domain::case::Status;
use crate::domain::identity::Role;

/// Volunteers only: staff report through `POST /api/cases` and read `GET /api/cases`.
pub struct Volunteers;
impl Policy for Volunteers {
    const ROLES: &'static [Role] = crate::cases::VOLUNTEERS;
}

/// Page sizes of a volunteer's list.
const REPORTS_LIMIT: limits::Range = limits::Range {
    name: "limit",
    min: 1,
    max: 200,
};

/// A volunteer's report as they see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VolunteerReport {
    /// Case id (for `POST /api/cases/{id}/photos`, before-photos while it is open).
    pub id: i64,
    /// Case number, e.g. AJ00000042.
    pub case_no: String,
    /// `volunteer` (their own report) or `volunteer_inspection` (a finding of their visit on a
    /// 市民找差团 round).
    pub source: String,
    /// Category code.
    pub category: String,
    /// Category name.
    pub category_name: Option<String>,
    /// What they wrote.
    pub description: String,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// When reported.
    pub reported_at: DateTime<Utc>,
    /// Where it stands (of the case it was merged into, when it was): verifying … closed,
    /// voided, merged.
    pub status: String,
    /// The status in Chinese.
    pub status_zh: &'static str,
    /// The outcome: `open` (处理中), `resolved` (已解决: closed), `not_confirmed` (不属实/作废:
    /// voided, e.g. found untrue on verification).
    pub outcome: &'static str,
    /// The outcome in Chinese.
    pub outcome_zh: &'static str,
    /// When closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// The case the report was merged into, when it duplicated one (its status is shown).
    pub merged_into: Option<String>,
    /// The note of the closing (结案) step, once closed (反馈给反映人).
    pub closing_note: Option<String>,
    /// The after-photos (处置后), once closed.
    pub after_photos: Vec<super::photos::PhotoView>,
}

/// The outcome of a case's status, for the reporter.
fn outcome(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Closed => ("resolved", "已解决"),
        Status::Voided => ("not_confirmed", "不属实/作废"),
        _ => ("open", "处理中"),
    }
}

impl From<OwnReport> for VolunteerReport {
    fn from(r: OwnReport) -> Self {
        let (outcome, outcome_zh) = outcome(r.shown.status);
        Self {
            id: r.case.id,
            case_no: r.case.case_no(),
            source: r.case.source,
            category: r.case.category,
            category_name: r.category_name,
            description: r.case.description,
            lon: r.case.lon,
            lat: r.case.lat,
            reported_at: r.case.reported_at,
            status: r.shown.status.as_str().into(),
            status_zh: r.shown.status.label_zh(),
            outcome,
            outcome_zh,
            closed_at: r.shown.closed_at,
            merged_into: r.merged_into,
            closing_note: r.closing_note,
            after_photos: r.after_photos.into_iter().map(Into::into).collect(),
        }
    }
}

/// A volunteer (市民找差团) reports a problem: the case goes to 核实 by the grid's inspector, as a
/// citizen's report does, and shows in their list. The body is the staff report's without
/// `register` and `external_ref` (refused: 422 `invalid_field`); a retry with the same
/// `idempotency_key` answers 200 with the same report. Attach photos with
/// `POST /api/cases/{id}/photos?stage=before`.
#[utoipa::path(post, path = "/api/volunteer/reports", tag = "cases", security(("bearer" = [])), request_body = NewReport,
    responses((status = 201, body = VolunteerReport), (status = 200, description = "a retry of an earlier submit", body = VolunteerReport),
        (status = 403, description = "not a volunteer: `forbidden_role` (staff report through POST /api/cases)", body = ErrorBody),
        (status = 422, description = "`invalid_field`, `unknown_crs`, `outside_area`, `unknown_category` and the other intake refusals", body = ErrorBody)))]
pub async fn report(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<Volunteers>,
    ApiJson(body): ApiJson<NewReport>,
) -> Result<(StatusCode, Json<VolunteerReport>), ApiError> {
    let submission = Submission {
        crs: body.crs.parse(),
        idempotency_key: body.idempotency_key,
        category: body.category,
        description: body.description,
        lon: body.lon,
        lat: body.lat,
        register: body.register,
        external_ref: body.external_ref,
    };
    let cases = state.cases();
    let intake = cases
        .report_as_volunteer(&auth.principal, submission, &req_id.audit(&auth.principal))
        .await?;
    let own = cases.own_report(intake.case).await?;
    let status = if intake.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(own.into())))
}

/// Paging of a volunteer's list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportsQuery {
    /// Only reports with an id below this (the `x-next-before-id` header of a full page); at
    /// least 1.
    #[param(value_type = Option<i64>, minimum = 1)]
    pub before_id: Option<String>,
    /// Page size: 1–200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
}

/// The caller's own reports and the findings of their visits, newest first, with status and
/// outcome (volunteers). A full page carries `x-next-before-id`.
#[utoipa::path(get, path = "/api/volunteer/reports", tag = "cases", security(("bearer" = [])), params(ReportsQuery),
    responses((status = 200, body = Vec<VolunteerReport>),
        (status = 400, description = "`invalid_parameter`: limit or before_id out of range", body = ErrorBody),
        (status = 403, description = "not a volunteer: `forbidden_role`", body = ErrorBody)))]
pub async fn reports(
    State(state): State<AppState>,
    auth: Auth<Volunteers>,
    ApiQuery(q): ApiQuery<ReportsQuery>,
) -> Result<Response, ApiError> {
    let limit = REPORTS_LIMIT.parse(q.limit.as_deref(), 50)?;
    let before_id = q
        .before_id
        .as_deref()
        .map(|t| limits::BEFORE_ID.parse(Some(t), 0))
        .transpose()?;
    let own = state
        .cases()
        .reports_of(&auth.principal, before_id, limit)
        .await?;
    let next = (own.len() as i64 == limit)
        .then(|| own.last().map(|r| r.case.id))
        .flatten()
        .and_then(|id| HeaderValue::from_str(&id.to_string()).ok());
    let views: Vec<VolunteerReport> = own.into_iter().map(Into::into).collect();
    let mut res = Json(views).into_response();
    if let Some(n) = next {
        res.headers_mut().insert("x-next-before-id", n);
    }
    Ok(res)
}
