//! Cases (案卷): intake from inspectors, intake clerks (hotline) and citizens, every workflow
//! action through the pure state machine (`domain::case`), deadlines in working time with the
//! traffic light, and the timeline rebuilt from the append-only events.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::{AnyRole, Auth, Policy};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, RequestId};
use crate::domain::calendar::Light;
use crate::domain::case::{self, Action, CaseState, Status, WorkflowError};
use crate::domain::crs::Crs;
use crate::domain::identity::Role;
use crate::security;
use crate::store::{Audit, CaseFilter, CaseRecord, EventFilter, NewCase};

/// Inspectors report what they see; intake clerks enter hotline calls.
pub struct Reporters;
impl Policy for Reporters {
    const ROLES: &'static [Role] = &[Role::Inspector, Role::IntakeClerk, Role::Admin];
}

impl From<WorkflowError> for ApiError {
    fn from(e: WorkflowError) -> Self {
        match e {
            WorkflowError::Forbidden(s) => s.into(),
            WorkflowError::InvalidTransition { .. } => {
                ApiError::new(StatusCode::CONFLICT, "invalid_transition", e.to_string())
            }
            WorkflowError::RequestPending(_) => {
                ApiError::new(StatusCode::CONFLICT, "request_pending", e.to_string())
            }
            WorkflowError::NothingPending => {
                ApiError::new(StatusCode::CONFLICT, "nothing_pending", e.to_string())
            }
        }
    }
}

/// A report.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    /// The client's key: retries with the same key never create a second case.
    pub idempotency_key: String,
    /// Category code (e.g. 0101 暴露垃圾).
    pub category: String,
    /// What was seen.
    pub description: String,
    /// Longitude (first).
    pub lon: f64,
    /// Latitude.
    pub lat: f64,
    /// The coordinate system of lon/lat: wgs84, cgcs2000, gcj02 or bd09. Required: a phone map's
    /// GCJ-02 taken as WGS84 lands 500 m off.
    pub crs: String,
}

/// A case as sent to clients.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseView {
    /// The case.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub case: CaseRecord,
    /// Case number for people, e.g. AJ00000042.
    pub case_no: String,
    /// Status in Chinese.
    pub status_zh: &'static str,
    /// Deadline light (green/yellow/red) while the clock runs.
    #[schema(value_type = Option<String>)]
    pub light: Option<Light>,
}

pub(crate) fn view(state: &AppState, case: CaseRecord) -> CaseView {
    let light = match (
        case.dispatched_at,
        case.deadline_at,
        case.status.is_final() || case.status == Status::Parked,
    ) {
        (Some(start), Some(due), false) => Some(state.calendar().light(start, due, Utc::now())),
        _ => None,
    };
    CaseView {
        case_no: format!("AJ{:08}", case.id),
        status_zh: case.status.label_zh(),
        light,
        case,
    }
}

async fn intake(
    state: &AppState,
    body: NewReport,
    source: &str,
    status: Status,
    reported_by: Option<i64>,
    follow: Option<String>,
    audit: &Audit,
) -> Result<(CaseRecord, bool), ApiError> {
    let key = body.idempotency_key.trim();
    if key.is_empty() || key.len() > 128 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "idempotency_key must be 1–128 characters",
        ));
    }
    if body.description.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "description must not be empty",
        ));
    }
    let engine = state.engine();
    engine.category(&body.category)?;
    let crs: Crs = body
        .crs
        .parse()
        .map_err(|e: crate::domain::crs::UnknownCrs| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_crs",
                e.to_string(),
            )
        })?;
    let index = engine.current();
    let (lon, lat) = engine.to_wgs84(&index, body.lon, body.lat, crs)?;
    let hit = index.locate(lon, lat);
    let chain = index.chain_codes(&hit).map(|c| c.map(str::to_owned));
    let frontage_code = index.frontage(hit.frontage).map(|f| f.0.to_owned());
    let new = NewCase {
        idempotency_key: key.to_owned(),
        source: source.to_owned(),
        category: body.category,
        description: body.description.trim().to_owned(),
        lon,
        lat,
        input_crs: crs.as_str().to_owned(),
        chain,
        frontage_code,
        status,
        reported_by,
        follow_token_hash: follow.as_deref().map(security::token_hash),
    };
    Ok(state.store().create_case(&new, audit).await?)
}

/// Reports a problem as an inspector (registered at once, no on-site verification needed) or
/// enters a hotline call as an intake clerk (goes to 核实 by the grid's inspector).
#[utoipa::path(post, path = "/api/cases", tag = "cases", security(("bearer" = [])), request_body = NewReport,
    responses((status = 201, body = CaseView), (status = 200, description = "a retry of an earlier submit", body = CaseView), (status = 422, body = ErrorBody)))]
pub async fn create_case(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<Reporters>,
    ApiJson(body): ApiJson<NewReport>,
) -> Result<(StatusCode, Json<CaseView>), ApiError> {
    let (source, status) = match auth.principal.role {
        Role::IntakeClerk => ("hotline_12345", Status::Verifying),
        _ => ("inspector", Status::Collected),
    };
    let (case, created) = intake(
        &state,
        body,
        source,
        status,
        Some(auth.principal.user_id),
        None,
        &req_id.audit(&auth.principal),
    )
    .await?;
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(view(&state, case)),
    ))
}

/// A citizen's report receipt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    /// Case number.
    pub case_no: String,
    /// Case id.
    pub id: i64,
    /// Keep this token to follow the case (反馈给反映人); shown only here.
    pub follow_token: Option<String>,
}

/// A citizen reports a problem (public). It goes to 核实 by the inspector of that grid.
#[utoipa::path(post, path = "/api/public/reports", tag = "cases", request_body = NewReport,
    responses((status = 201, body = Receipt), (status = 200, description = "a retry", body = Receipt), (status = 422, body = ErrorBody)))]
pub async fn public_report(
    State(state): State<AppState>,
    req_id: RequestId,
    ApiJson(body): ApiJson<NewReport>,
) -> Result<(StatusCode, Json<Receipt>), ApiError> {
    let token = security::new_token();
    let audit = Audit {
        actor_id: None,
        actor_name: Some("citizen".into()),
        request_id: req_id.0,
    };
    let (case, created) = intake(
        &state,
        body,
        "citizen",
        Status::Verifying,
        None,
        Some(token.clone()),
        &audit,
    )
    .await?;
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(Receipt {
            case_no: format!("AJ{:08}", case.id),
            id: case.id,
            follow_token: created.then_some(token),
        }),
    ))
}

/// Follow-up query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FollowQuery {
    /// The follow token from the receipt.
    pub token: String,
}

/// What a citizen sees of their report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Followup {
    /// Case number.
    pub case_no: String,
    /// Status.
    pub status: String,
    /// Status in Chinese.
    pub status_zh: &'static str,
    /// When reported.
    pub reported_at: chrono::DateTime<Utc>,
    /// When closed.
    pub closed_at: Option<chrono::DateTime<Utc>>,
    /// The note of the closing (结案) step, once closed (反馈给反映人).
    pub closing_note: Option<String>,
    /// The after-photos (处置后), once closed.
    pub after_photos: Vec<super::photos::PhotoView>,
}

/// A citizen follows their report with the token from the receipt (public).
#[utoipa::path(get, path = "/api/public/reports/{id}", tag = "cases", params(("id" = i64, Path, description = "case id"), FollowQuery),
    responses((status = 200, body = Followup), (status = 404, body = ErrorBody)))]
pub async fn follow_report(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<FollowQuery>,
) -> Result<Json<Followup>, ApiError> {
    let not_found = || ApiError::not_found("no report with this number and token");
    let case = state.store().get_case(id).await?.ok_or_else(not_found)?;
    if case.follow_token_hash.as_deref() != Some(security::token_hash(&q.token).as_str()) {
        return Err(not_found());
    }
    let (closing_note, after_photos) = super::photos::closing_feedback(&state, &case).await?;
    Ok(Json(Followup {
        case_no: format!("AJ{:08}", case.id),
        status: case.status.as_str().into(),
        status_zh: case.status.label_zh(),
        reported_at: case.reported_at,
        closed_at: case.closed_at,
        closing_note,
        after_photos,
    }))
}

/// A case with its timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseDetail {
    /// The case.
    #[serde(flatten)]
    pub case: CaseView,
    /// Before/after photos, oldest first.
    pub photos: Vec<super::photos::PhotoView>,
    /// Every change, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub timeline: Vec<crate::store::EventRecord>,
}

/// One case with its timeline (any staff role).
#[utoipa::path(get, path = "/api/cases/{id}", tag = "cases", security(("bearer" = [])), params(("id" = i64, Path, description = "case id")),
    responses((status = 200, body = CaseDetail), (status = 404, body = ErrorBody)))]
pub async fn get_case(
    State(state): State<AppState>,
    _auth: Auth<AnyRole>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<CaseDetail>, ApiError> {
    let case = state
        .store()
        .get_case(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("case {id} does not exist")))?;
    let mut timeline = state
        .store()
        .list_events(&EventFilter {
            entity_type: Some("case".into()),
            entity_id: Some(id.to_string()),
            before_id: None,
            limit: 1000,
        })
        .await?;
    timeline.reverse();
    Ok(Json(CaseDetail {
        photos: super::photos::photo_views(&state, id).await?,
        case: view(&state, case),
        timeline,
    }))
}

/// An action with an optional note.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ActionRequest {
    /// The action: verify {confirmed}, register, dispatch {unit_code}, accept, feedback, check
    /// {passed}, close, request {kind: extend|send_back|park|void}, approve, reject, resume.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub action: Action,
    /// A note for the timeline.
    pub note: Option<String>,
}

/// Performs a workflow action; 403 for the wrong role or scope, 409 when not possible now.
#[utoipa::path(post, path = "/api/cases/{id}/actions", tag = "cases", security(("bearer" = [])), params(("id" = i64, Path, description = "case id")),
    request_body = ActionRequest,
    responses((status = 200, body = CaseView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn act(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AnyRole>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ActionRequest>,
) -> Result<Json<CaseView>, ApiError> {
    let before = state
        .store()
        .get_case(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("case {id} does not exist")))?;
    if let Action::Dispatch { unit_code } = &body.action
        && state.store().get_unit(unit_code).await?.is_none()
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_reference",
            format!("responsible unit {unit_code} does not exist"),
        ));
    }
    let current = CaseState {
        status: before.status,
        grid_code: before.grid_code.clone(),
        unit_code: before.unit_code.clone(),
        pending: before.pending_request,
        parked_from: before.parked_from,
    };
    let t = case::apply(&current, &auth.principal, &body.action)?;
    let now = Utc::now();
    let mut after = before.clone();
    after.status = t.to;
    if let Some(unit) = t.unit {
        after.unit_code = unit;
    }
    if let Some(p) = t.pending {
        after.pending_request = p;
    }
    if t.parked_from.is_some() {
        after.parked_from = t.parked_from;
    }
    after.rework_count += i64::from(t.rework);
    after.wrong_dispatches += i64::from(t.wrong_dispatch);
    let limit = state.engine().category(&before.category)?.time_limit;
    if t.clock_starts {
        after.dispatched_at = Some(now);
        after.deadline_at = Some(state.calendar().deadline(now, limit));
    }
    if t.extended
        && let Some(due) = after.deadline_at
    {
        after.deadline_at = Some(state.calendar().deadline(due.max(now), limit));
    }
    if t.to == Status::Closed {
        after.closed_at = Some(now);
    }
    let name = serde_json::to_value(&body.action)
        .ok()
        .and_then(|v| v.get("action").and_then(|a| a.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let case = state
        .store()
        .update_case(
            &before,
            &after,
            &name,
            body.note.as_deref(),
            &req_id.audit(&auth.principal),
        )
        .await?;
    Ok(Json(view(&state, case)))
}

/// Case list filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CaseQuery {
    /// Status (verifying, collected, registered, dispatched, handling, fed_back, checked, closed, parked, voided).
    pub status: Option<String>,
    /// Unit grid code.
    pub grid: Option<String>,
    /// Responsible unit.
    pub unit: Option<String>,
    /// Category code.
    pub category: Option<String>,
    /// Only cases with an id below this (paging).
    pub before_id: Option<i64>,
    /// Page size (1–1000, default 100).
    pub limit: Option<i64>,
}

/// Lists cases, newest first (any staff role).
#[utoipa::path(get, path = "/api/cases", tag = "cases", security(("bearer" = [])), params(CaseQuery),
    responses((status = 200, body = [CaseView])))]
pub async fn list_cases(
    State(state): State<AppState>,
    _auth: Auth<AnyRole>,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> Result<Json<Vec<CaseView>>, ApiError> {
    let status = q
        .status
        .as_deref()
        .map(|s| {
            Status::parse(s).ok_or_else(|| {
                ApiError::bad_request("invalid_query", format!("unknown status {s:?}"))
            })
        })
        .transpose()?;
    let cases = state
        .store()
        .list_cases(&CaseFilter {
            status,
            grid_code: q.grid,
            unit_code: q.unit,
            category: q.category,
            before_id: q.before_id,
            limit: q.limit.unwrap_or(100),
        })
        .await?;
    Ok(Json(cases.into_iter().map(|c| view(&state, c)).collect()))
}
