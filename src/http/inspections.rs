//! `/api/inspections/…` (督查 and 测评点位): the checklists, the assessment points with their
//! readiness, the readiness dashboard, rounds with their follow-up, visits whose failed items
//! become cases, re-inspections (复查) and frozen notices (通报). Handlers parse, call the
//! inspection service ([`crate::inspections`]) and render its answer.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::{AdminOnly, Auth, Policy, Staff};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, RequestId};
use crate::domain::identity::Role;
use crate::domain::inspection::ItemMark;
use crate::inspections::{
    ChecklistsInForce, FindingView, InspectionError, InspectionService, PointView, Readiness,
    RoundReport, RoundRequest, VisitOutcome,
};
use crate::store::{StoredNotice, StoredRound};

/// Who organises rounds and publishes notices.
pub struct Organisers;
impl Policy for Organisers {
    const ROLES: &'static [Role] = crate::inspections::ORGANISERS;
}

/// Who submits visits: inspectors, admins, and volunteers on their 市民找差团 rounds.
pub struct Visitors;
impl Policy for Visitors {
    const ROLES: &'static [Role] = crate::inspections::VISITORS;
}

/// Who reads rounds and checklists: staff, and volunteers (their own rounds only).
pub struct RoundReaders;
impl Policy for RoundReaders {
    const ROLES: &'static [Role] = &Role::ALL;
}

/// Who re-inspects.
pub struct Inspectors;
impl Policy for Inspectors {
    const ROLES: &'static [Role] = crate::inspections::RECHECKERS;
}

impl From<InspectionError> for ApiError {
    fn from(e: InspectionError) -> Self {
        match e {
            InspectionError::Invalid { code, message } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
            InspectionError::Checklist(e) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_checklist",
                e.to_string(),
            ),
            InspectionError::NotFound(m) => ApiError::not_found(m),
            InspectionError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            InspectionError::Forbidden(e) => e.into(),
            InspectionError::Case(e) => e.into(),
            InspectionError::Store(e) => e.into(),
        }
    }
}

fn service(state: &AppState) -> &InspectionService {
    state.inspections()
}

/// Which checklists version.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChecklistsQuery {
    /// A stored version (from 1), or 0 for the built-in document, as a round's
    /// `checklist_version` names it; default the version in force.
    #[param(minimum = 0)]
    pub version: Option<i64>,
}

/// The checklists in force, or one version of them (any logged-in user; a volunteer needs them
/// on site): per point type the criteria,
/// each with the case category a failure becomes, its deduction and its rectification deadline
/// in hours. The phone asks for the version of the round it walks.
#[utoipa::path(get, path = "/api/inspections/checklists", tag = "inspections", security(("bearer" = [])),
    params(ChecklistsQuery),
    responses((status = 200, body = Object, description = "{version (0: built in), document: {source, assessment_date, types: {type: [{code, text, category, deduction, deadline_hours}]}}}"),
        (status = 400, body = ErrorBody, description = "`invalid_query`: a version that is not a whole number"),
        (status = 404, body = ErrorBody, description = "no such version: `not_found`"),
        (status = 422, body = ErrorBody, description = "`invalid_field`: a negative version")))]
pub async fn get_checklists(
    State(state): State<AppState>,
    _auth: Auth<RoundReaders>,
    ApiQuery(q): ApiQuery<ChecklistsQuery>,
) -> Result<Json<ChecklistsInForce>, ApiError> {
    match q.version {
        None => Ok(Json(service(&state).checklists().await?)),
        Some(v) if v < 0 => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "检查表版本须为 0(内置检查表)或已保存的版本号(从 1 起)。version: give 0 (the built-in checklists) or a stored version from 1",
        )),
        Some(v) => Ok(Json(service(&state).checklists_at(v).await?)),
    }
}

/// Stores a new version of the checklists (admin). Rounds keep the version they were created
/// with.
#[utoipa::path(put, path = "/api/inspections/checklists", tag = "inspections", security(("bearer" = [])),
    request_body(content = Object, description = "{source?, assessment_date? (YYYY-MM-DD), types: {point_type: [{code, text, category, deduction (0–100), deadline_hours (1–720)}]}}; see docs/inspections.md"),
    responses((status = 200, body = Object, description = "{version}"),
        (status = 422, body = ErrorBody, description = "`invalid_checklist`: the path of the bad value and what to give")))]
pub async fn put_checklists(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let audit = req_id.audit(&auth.principal);
    let version = service(&state)
        .put_checklists(&auth.principal, &body.to_string(), &audit)
        .await?;
    Ok(Json(json!({ "version": version })))
}

/// Every assessment point (测评点位) with its type, responsible units, street, community and
/// readiness: 未检查 / 达标 / 整改中 / 未达标, findings, 整改率 (any staff).
#[utoipa::path(get, path = "/api/inspections/points", tag = "inspections", security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>, description = "[{code, name, point_type, point_type_name, lead_unit, support_units, place: [lon, lat], community_code, street_code, street_name, community_name, readiness: {status, found, open, rectified, passed, overdue, rectification_rate}, status_zh, visits}]")))]
pub async fn points(
    State(state): State<AppState>,
    _auth: Auth<Staff>,
) -> Result<Json<Vec<PointView>>, ApiError> {
    Ok(Json(
        service(&state)
            .point_views(state.cases().clock().now())
            .await?,
    ))
}

/// The readiness dashboard of the 创文办 (any staff): share of points 达标 by type and by
/// street, points with overdue findings, finding totals and the countdown to the assessment
/// date the checklists name.
#[utoipa::path(get, path = "/api/inspections/readiness", tag = "inspections", security(("bearer" = [])),
    responses((status = 200, body = Object, description = "{total, by_type, by_street, overdue_points, findings, assessment_date, days_left, unit_names}")))]
pub async fn readiness(
    State(state): State<AppState>,
    _auth: Auth<Staff>,
) -> Result<Json<Readiness>, ApiError> {
    Ok(Json(
        service(&state)
            .readiness(state.cases().clock().now())
            .await?,
    ))
}

/// The newest inspection rounds, at most 500 (any staff; a volunteer gets the 市民找差团 rounds
/// they walk).
#[utoipa::path(get, path = "/api/inspections/rounds", tag = "inspections", security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>, description = "[{id, title, organiser, round_date, checklist_version, points, inspectors, created_at, created_by}]")))]
pub async fn rounds(
    State(state): State<AppState>,
    auth: Auth<RoundReaders>,
) -> Result<Json<Vec<StoredRound>>, ApiError> {
    Ok(Json(service(&state).rounds(&auth.principal).await?))
}

/// Creates an inspection round (admin or shift lead): its points (assessment points whose type
/// has a checklist) and its inspectors (users of role inspector; for a 市民找差团 round, organiser
/// `volunteers`, also volunteers).
#[utoipa::path(post, path = "/api/inspections/rounds", tag = "inspections", security(("bearer" = [])),
    request_body = RoundRequest,
    responses((status = 201, body = Object, description = "the round"),
        (status = 422, body = ErrorBody, description = "`invalid_field` (title, organiser, date, counts), `invalid_reference` (an unknown point or inspector, a type without checklist, a volunteer in a round not organised by 市民找差团)")))]
pub async fn create_round(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<Organisers>,
    ApiJson(body): ApiJson<RoundRequest>,
) -> Result<(StatusCode, Json<StoredRound>), ApiError> {
    let audit = req_id.audit(&auth.principal);
    let round = service(&state)
        .create_round(&auth.principal, body, &audit)
        .await?;
    Ok((StatusCode::CREATED, Json(round)))
}

/// A round with its follow-up (any staff, and a volunteer for a round they walk): every point, visited or not, with this round's
/// findings as they stand now, and the findings per street and per responsible unit.
#[utoipa::path(get, path = "/api/inspections/rounds/{id}", tag = "inspections", security(("bearer" = [])),
    params(("id" = i64, Path, description = "round id")),
    responses((status = 200, body = Object, description = "{round, organiser_zh, visited, points: [{code, point, visited, findings}], by_street, by_unit, totals}"),
        (status = 403, body = ErrorBody, description = "a volunteer's request for a round they do not walk: `out_of_scope`"),
        (status = 404, body = ErrorBody, description = "no such round: `not_found`")))]
pub async fn round(
    State(state): State<AppState>,
    auth: Auth<RoundReaders>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RoundReport>, ApiError> {
    Ok(Json(
        service(&state)
            .round_report_for(&auth.principal, id, state.cases().clock().now())
            .await?,
    ))
}

/// A visit of one point, as the phone submits it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitRequest {
    /// The point's code.
    pub point: String,
    /// Every item of the point type's checklist, marked once: `{criterion, pass, note}`; a
    /// failed item needs a note (1–500 characters).
    #[schema(value_type = Vec<Object>)]
    pub marks: Vec<ItemMark>,
}

/// Submits the marks of one point (the round's inspectors, or an admin). Each failed item
/// becomes a case, registered and dispatched by the rule table at once (a volunteer's, on a
/// 市民找差团 round, goes to 核实 by the grid's inspector first); attach its photo with
/// `POST /api/cases/{case_id}/photos`. Submitting the same marks again (a phone back online) is
/// a retry: 200 with the same findings and cases.
#[utoipa::path(post, path = "/api/inspections/rounds/{id}/visits", tag = "inspections", security(("bearer" = [])),
    params(("id" = i64, Path, description = "round id")),
    request_body = VisitRequest,
    responses((status = 201, body = Object, description = "{created: true, marked, findings: [{id, criterion, case_id, deadline}]}"),
        (status = 200, body = Object, description = "a resubmission of the recorded visit: {created: false, …}"),
        (status = 403, body = ErrorBody, description = "not an inspector of this round: `out_of_scope`; `forbidden_role`"),
        (status = 404, body = ErrorBody, description = "no such round, or the point is not in it: `not_found`"),
        (status = 409, body = ErrorBody, description = "the point was recorded with other marks: `conflict`"),
        (status = 422, body = ErrorBody, description = "`invalid_field`: an item unmarked, marked twice or unknown, a failure without note; `outside_area` and the other intake refusals")))]
pub async fn submit_visit(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<Visitors>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<VisitRequest>,
) -> Result<(StatusCode, Json<VisitOutcome>), ApiError> {
    let audit = req_id.audit(&auth.principal);
    let outcome = service(&state)
        .submit_visit(&auth.principal, id, &body.point, body.marks, &audit)
        .await?;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome)))
}

/// A re-inspection (复查) of a rectified finding.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecheckRequest {
    /// The problem is gone.
    pub pass: bool,
    /// What is still wrong (required when `pass` is false), at most 500 characters.
    pub note: Option<String>,
}

/// Re-inspects a finding whose case is closed (inspectors, admins): passing closes the finding
/// (销号); failing reopens it with a new case and deadline.
#[utoipa::path(post, path = "/api/inspections/findings/{id}/recheck", tag = "inspections", security(("bearer" = [])),
    params(("id" = i64, Path, description = "finding id")),
    request_body = RecheckRequest,
    responses((status = 200, body = Object, description = "the finding as it stands now"),
        (status = 404, body = ErrorBody, description = "no such finding: `not_found`"),
        (status = 409, body = ErrorBody, description = "its case is not closed, or it passed already: `conflict`"),
        (status = 422, body = ErrorBody, description = "`invalid_field`: a failure without note, a note too long")))]
pub async fn recheck(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<Inspectors>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RecheckRequest>,
) -> Result<Json<FindingView>, ApiError> {
    let audit = req_id.audit(&auth.principal);
    Ok(Json(
        service(&state)
            .recheck(&auth.principal, id, body.pass, body.note, &audit)
            .await?,
    ))
}

/// Publishes the round's notice (通报) as it stands now, frozen as the next version (admin or
/// shift lead).
#[utoipa::path(post, path = "/api/inspections/rounds/{id}/notice", tag = "inspections", security(("bearer" = [])),
    params(("id" = i64, Path, description = "round id")),
    responses((status = 201, body = Object, description = "{id, round_id, version, document, published_at, published_by}"),
        (status = 404, body = ErrorBody, description = "no such round: `not_found`"),
        (status = 409, body = ErrorBody, description = "no point visited yet: `conflict`")))]
pub async fn publish_notice(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<Organisers>,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<StoredNotice>), ApiError> {
    let audit = req_id.audit(&auth.principal);
    let notice = service(&state)
        .publish_notice(&auth.principal, id, &audit)
        .await?;
    Ok((StatusCode::CREATED, Json(notice)))
}

/// Which notice version.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoticeQuery {
    /// The version, from 1; default the latest.
    #[param(minimum = 1)]
    pub version: Option<i64>,
}

/// A round's published notice as an XLSX workbook (any staff): every problem on `总表`, then a
/// sheet per street, read from the frozen document.
#[utoipa::path(get, path = "/api/inspections/rounds/{id}/notice.xlsx", tag = "inspections", security(("bearer" = [])),
    params(("id" = i64, Path, description = "round id"), NoticeQuery),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>, description = "the workbook"),
        (status = 404, body = ErrorBody, description = "no such round or notice: `not_found`")))]
pub async fn notice_workbook(
    State(state): State<AppState>,
    _auth: Auth<Staff>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<NoticeQuery>,
) -> Result<axum::response::Response, ApiError> {
    let notice = service(&state).notice(id, q.version).await?;
    let title = notice.document["round"]["title"]
        .as_str()
        .unwrap_or("督查")
        .to_owned();
    let bytes = crate::inspections::export::workbook(&title, notice.version, &notice.document)
        .map_err(ApiError::internal)?;
    Ok(super::assessment::attachment(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &format!("notice-{id}-v{}.xlsx", notice.version),
        &format!("督查通报-{title}-第{}版.xlsx", notice.version),
        bytes,
    ))
}

/// A round's published notice (any staff): the frozen document of one version, or the latest.
#[utoipa::path(get, path = "/api/inspections/rounds/{id}/notice", tag = "inspections", security(("bearer" = [])),
    params(("id" = i64, Path, description = "round id"), NoticeQuery),
    responses((status = 200, body = Object, description = "{id, round_id, version, document, published_at, published_by}"),
        (status = 404, body = ErrorBody, description = "no such round or notice: `not_found`")))]
pub async fn notice(
    State(state): State<AppState>,
    _auth: Auth<Staff>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<NoticeQuery>,
) -> Result<Json<StoredNotice>, ApiError> {
    Ok(Json(service(&state).notice(id, q.version).await?))
}
