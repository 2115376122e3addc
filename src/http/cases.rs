//! Cases (案卷): intake from inspectors, intake clerks (hotline) and citizens, every workflow
//! action through the pure state machine (`domain::case`), deadlines in working time with the
//! traffic light, and the timeline rebuilt from the append-only events.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::{AdminOnly, AnyRole, Auth, Policy};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, RequestId};
use super::limits;
use crate::cases::{CaseError, Channel, DuplicateHint, HotlineOutcome, KeyScope, Report, case_no};
use crate::domain::calendar::Light;
use crate::domain::case::{Action, Status, WorkflowError};
use crate::domain::catalogue::Category;
use crate::domain::crs::Crs;
use crate::domain::identity::Role;
use crate::security;
use crate::store::{Audit, CaseFilter, CaseRecord, CategoryVersion, EventFilter};

/// Inspectors report what they see; intake clerks enter hotline calls.
pub struct Reporters;
impl Policy for Reporters {
    const ROLES: &'static [Role] = &[Role::Inspector, Role::IntakeClerk, Role::Admin];
}

/// Intake clerks import hotline exports.
pub struct Intake;
impl Policy for Intake {
    const ROLES: &'static [Role] = &[Role::IntakeClerk, Role::ShiftLead, Role::Admin];
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

impl From<CaseError> for ApiError {
    fn from(e: CaseError) -> Self {
        match e {
            CaseError::Invalid { code, message } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
            CaseError::NotFound(m) => ApiError::not_found(m),
            CaseError::Text(m) => ApiError::bad_request("invalid_text", m),
            CaseError::Workflow(w) => w.into(),
            CaseError::Assign(a) => a.into(),
            CaseError::Store(s) => s.into(),
        }
    }
}

/// A report.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    /// The client's key: retries with the same key never create a second case.
    pub idempotency_key: String,
    /// Category code (e.g. 0101 暴露垃圾); see GET /api/categories.
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
    /// Inspectors only: register (立案) at once, so the case is dispatched automatically.
    #[serde(default)]
    pub register: bool,
    /// The hotline work-order number, when an intake clerk enters a 12345 call.
    #[serde(default)]
    pub external_ref: Option<String>,
}

/// A case as sent to clients.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseView {
    /// The case.
    #[serde(flatten)]
    pub case: CaseRecord,
    /// Case number for people, e.g. AJ00000042.
    pub case_no: String,
    /// Status in Chinese.
    pub status_zh: &'static str,
    /// Category name.
    pub category_name: Option<String>,
    /// Handling-deadline light (green/yellow/red) while the unit's clock runs.
    #[schema(value_type = Option<String>)]
    pub light: Option<Light>,
    /// Light of the current step's deadline.
    #[schema(value_type = Option<String>)]
    pub step_light: Option<Light>,
    /// Open and past a deadline (handling, step or overall).
    pub overdue: bool,
    /// A deadline of this case lies past the last day of the holiday table (`/api/calendar`
    /// `known_until`): it was counted with weekends only, without 元旦, 春节 or 调休.
    pub deadline_without_holidays: bool,
    /// Open cases this report may duplicate (intake answer only): link with action `link`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<DuplicateHint>,
    /// What the intake did differently from what was asked (intake answer only), e.g.
    /// `outside_patrol_grids`: an inspector's report outside their grids went to 核实.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<Notice>,
}

/// A note on an intake answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Notice {
    /// Stable code, e.g. `outside_patrol_grids`.
    pub code: &'static str,
    /// What happened, Chinese then English.
    pub message: String,
}

/// The view of a case at `now`.
pub(crate) fn view(state: &AppState, case: CaseRecord) -> CaseView {
    let now = Utc::now();
    let cal = state.calendar();
    let open = !case.status.is_final() && case.status != Status::Parked;
    let light = match (case.dispatched_at, case.deadline_at, open) {
        (Some(start), Some(due), true)
            if matches!(case.status, Status::Dispatched | Status::Handling) =>
        {
            Some(cal.light(start, due, now))
        }
        _ => None,
    };
    let step_light = match (case.step_started_at, case.step_due_at, open) {
        (Some(start), Some(due), true) => Some(cal.light(start, due, now)),
        _ => None,
    };
    let past = |t: Option<DateTime<Utc>>| t.is_some_and(|t| t < now);
    let overdue = open
        && (past(case.step_due_at)
            || past(case.due_at)
            || (matches!(case.status, Status::Dispatched | Status::Handling)
                && past(case.deadline_at)));
    let deadline_without_holidays = [
        case.deadline_at,
        case.step_due_at,
        case.due_at,
        case.escalation_due_at,
    ]
    .into_iter()
    .flatten()
    .any(|t| cal.beyond_holiday_data(t));
    CaseView {
        deadline_without_holidays,
        case_no: case_no(case.id),
        status_zh: case.status.label_zh(),
        category_name: state
            .engine()
            .category_version(&case.category, case.category_version)
            .ok()
            .map(|c| c.name),
        light,
        step_light,
        overdue,
        duplicates: Vec::new(),
        notice: None,
        case,
    }
}

fn parse_crs(text: &str) -> Result<Crs, ApiError> {
    text.parse().map_err(|e: crate::domain::crs::UnknownCrs| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_crs",
            e.to_string(),
        )
    })
}

fn report_of(body: NewReport, reported_by: Option<i64>) -> Result<Report, ApiError> {
    Ok(Report {
        idempotency_key: body.idempotency_key,
        category: body.category,
        description: body.description,
        lon: body.lon,
        lat: body.lat,
        crs: parse_crs(&body.crs)?,
        external_ref: body
            .external_ref
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty()),
        reported_at: None,
        register_now: body.register,
        reported_by,
        scope: reported_by.map_or(KeyScope::Public, KeyScope::User),
    })
}

fn created_or_ok(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// Reports a problem as an inspector (registered at once with `register: true`, and then
/// dispatched automatically) or enters a hotline call as an intake clerk (goes to 核实 by the
/// grid's inspector). A report near an open case of the same category is merged into it or
/// answered with `duplicates`, per the category's rule.
#[utoipa::path(post, path = "/api/cases", tag = "cases", security(("bearer" = [])), request_body = NewReport,
    responses((status = 201, body = CaseView), (status = 200, description = "a retry of an earlier submit", body = CaseView), (status = 422, body = ErrorBody)))]
pub async fn create_case(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<Reporters>,
    ApiJson(body): ApiJson<NewReport>,
) -> Result<(StatusCode, Json<CaseView>), ApiError> {
    let register = body.register;
    let report = report_of(body, Some(auth.principal.user_id))?;
    let channel = state.cases().staff_channel(&auth.principal, &report)?;
    if register && channel == Channel::Hotline {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "only an inspector's own report can be registered at once; a hotline call is verified on site first",
        ));
    }
    let intake = state
        .cases()
        .intake(report, channel, &req_id.audit(&auth.principal))
        .await?;
    let mut v = view(&state, intake.case);
    v.duplicates = intake.duplicates;
    if channel == Channel::InspectorElsewhere {
        v.notice = Some(Notice {
            code: "outside_patrol_grids",
            message: format!(
                "该点不在您巡查的网格内，已转所在网格监督员核实{}。The place is outside your patrol grids: the report goes to verification (核实) by that grid's inspector{}.",
                if register { "，未直接立案" } else { "" },
                if register {
                    "; register was ignored"
                } else {
                    ""
                },
            ),
        });
    }
    Ok((created_or_ok(intake.created), Json(v)))
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
    responses((status = 201, body = Receipt), (status = 200, description = "a retry", body = Receipt), (status = 422, body = ErrorBody),
        (status = 429, description = "too_many_reports (with Retry-After, seconds)", body = ErrorBody)))]
pub async fn public_report(
    State(state): State<AppState>,
    req_id: RequestId,
    ApiJson(body): ApiJson<NewReport>,
) -> Result<(StatusCode, Json<Receipt>), ApiError> {
    if body.register || body.external_ref.is_some() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "register and external_ref are for staff; leave them out",
        ));
    }
    let audit = Audit {
        actor_id: None,
        actor_name: Some("citizen".into()),
        request_id: req_id.0,
    };
    let report = report_of(body, None)?;
    let intake = state
        .cases()
        .intake(report, Channel::Citizen, &audit)
        .await?;
    Ok((
        created_or_ok(intake.created),
        Json(Receipt {
            case_no: case_no(intake.case.id),
            id: intake.case.id,
            follow_token: intake.follow_token,
        }),
    ))
}

/// Follow-up query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
    /// The case the report was merged into, when it duplicated one (its status is shown).
    pub merged_into: Option<String>,
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
    // A merged report follows the case it was folded into.
    let (shown, merged_into) = match case.linked_to {
        Some(primary) => match state.store().get_case(primary).await? {
            Some(p) => (p, Some(case_no(primary))),
            None => (case, None),
        },
        None => (case, None),
    };
    let (closing_note, after_photos) = super::photos::closing_feedback(&state, &shown).await?;
    Ok(Json(Followup {
        case_no: case_no(id),
        status: shown.status.as_str().into(),
        status_zh: shown.status.label_zh(),
        reported_at: shown.reported_at,
        closed_at: shown.closed_at,
        merged_into,
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
    /// {passed}, close, request {kind: extend|send_back|park|void}, approve, reject, resume,
    /// link {into}.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub action: Action,
    /// A note for the timeline.
    pub note: Option<String>,
}

/// Performs a workflow action; 403 for the wrong role or scope, 409 when not possible now.
/// `register` dispatches automatically by the rule table (or into the triage queue).
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
    let case = state
        .cases()
        .act(
            id,
            &auth.principal,
            &body.action,
            body.note.as_deref(),
            &req_id.audit(&auth.principal),
        )
        .await?;
    Ok(Json(view(&state, case)))
}

/// Case list filters (all optional, combined with AND).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// Status (verifying, collected, registered, dispatched, handling, fed_back, checked, closed, parked, voided, merged).
    pub status: Option<String>,
    /// Unit grid code.
    pub grid: Option<String>,
    /// Community code.
    pub community: Option<String>,
    /// Street code.
    pub street: Option<String>,
    /// Responsible unit (dispatched to, or co-owner).
    pub unit: Option<String>,
    /// Category code.
    pub category: Option<String>,
    /// Source channel: inspector, citizen, hotline_12345.
    pub source: Option<String>,
    /// `triage`: the 创文办 triage queue.
    pub queue: Option<String>,
    /// WGS84 box `west,south,east,north`.
    pub bbox: Option<String>,
    /// A drawn area: a GeoJSON Polygon or MultiPolygon geometry in WGS84.
    pub polygon: Option<String>,
    /// Reported at or after (RFC 3339).
    pub from: Option<String>,
    /// Reported before (RFC 3339).
    pub to: Option<String>,
    /// `true`: only open cases past a deadline.
    pub overdue: Option<bool>,
    /// Only cases with an id below this (paging; the `x-next-before-id` header of a full page);
    /// at least 1.
    #[param(value_type = Option<i64>, minimum = 1)]
    pub before_id: Option<String>,
    /// Page size: 1–1000 (default 100); for the export 1–10000 (default 10000).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 10000)]
    pub limit: Option<String>,
}

/// A parsed list query.
struct ListQuery {
    filter: CaseFilter,
    polygon: Option<geo::MultiPolygon<f64>>,
}

/// An optional RFC 3339 query parameter.
pub(crate) fn parse_time(
    name: &str,
    text: Option<&str>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    text.map(|t| {
        DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("{name} {t:?} is not an RFC 3339 time like 2026-11-28T08:00:00+08:00"),
                )
            })
    })
    .transpose()
}

/// An optional status query parameter.
pub(crate) fn parse_status(text: Option<&str>) -> Result<Option<Status>, ApiError> {
    text.map(|s| {
        Status::parse(s)
            .ok_or_else(|| ApiError::bad_request("invalid_query", format!("unknown status {s:?}")))
    })
    .transpose()
}

fn parse_query(q: CaseQuery, limit: (limits::Range, i64)) -> Result<ListQuery, ApiError> {
    let status = parse_status(q.status.as_deref())?;
    let bbox = q
        .bbox
        .as_deref()
        .map(|b| {
            let v: Vec<f64> = b.split(',').filter_map(|x| x.trim().parse().ok()).collect();
            match v[..] {
                [w, s, e, n]
                    if w < e
                        && s < n
                        && (-180.0..=180.0).contains(&w)
                        && (-90.0..=90.0).contains(&s)
                        && e <= 180.0
                        && n <= 90.0 =>
                {
                    Ok([w, s, e, n])
                }
                _ => Err(ApiError::bad_request(
                    "invalid_bbox",
                    format!("bbox {b:?} must be west,south,east,north in WGS84 degrees"),
                )),
            }
        })
        .transpose()?;
    let polygon = q
        .polygon
        .as_deref()
        .map(|text| {
            let bad = |why: String| ApiError::bad_request("invalid_polygon", why);
            let g: geojson::Geometry = text
                .parse::<geojson::GeoJson>()
                .map_err(|e| bad(format!("polygon is not GeoJSON: {e}")))
                .and_then(|gj| match gj {
                    geojson::GeoJson::Geometry(g) => Ok(g),
                    geojson::GeoJson::Feature(f) => f
                        .geometry
                        .ok_or_else(|| bad("the polygon feature has no geometry".into())),
                    _ => Err(bad(
                        "polygon must be a Polygon or MultiPolygon geometry".into()
                    )),
                })?;
            if !crate::import::geojson_layer::positions_complete(&g) {
                return Err(bad(
                    "polygon: every position needs two numbers (longitude, latitude)".into(),
                ));
            }
            let geom: geo::Geometry<f64> =
                g.try_into().map_err(|e| bad(format!("polygon: {e}")))?;
            let area = match geom {
                geo::Geometry::Polygon(p) => geo::MultiPolygon(vec![p]),
                geo::Geometry::MultiPolygon(m) => m,
                _ => {
                    return Err(bad(
                        "polygon must be a Polygon or MultiPolygon geometry".into()
                    ));
                }
            };
            // A ring of fewer than four positions, a self-intersection or a hole outside its
            // shell would select nothing, or not what was drawn: say so instead of answering [].
            use geo::Validation;
            if let Err(e) = area.check_validation() {
                return Err(bad(format!("polygon is not a valid area: {e}")));
            }
            Ok(area)
        })
        .transpose()?;
    let bbox = match (&polygon, bbox) {
        (Some(p), b) => {
            use geo::BoundingRect;
            let r = p
                .bounding_rect()
                .ok_or_else(|| ApiError::bad_request("invalid_polygon", "the polygon is empty"))?;
            let pb = [r.min().x, r.min().y, r.max().x, r.max().y];
            Some(match b {
                Some(b) => [
                    pb[0].max(b[0]),
                    pb[1].max(b[1]),
                    pb[2].min(b[2]),
                    pb[3].min(b[3]),
                ],
                None => pb,
            })
        }
        (None, b) => b,
    };
    Ok(ListQuery {
        filter: CaseFilter {
            status,
            grid_code: q.grid,
            community_code: q.community,
            street_code: q.street,
            unit_code: q.unit,
            category: q.category,
            source: q.source,
            queue: q.queue,
            bbox,
            from: parse_time("from", q.from.as_deref())?,
            to: parse_time("to", q.to.as_deref())?,
            overdue_at: q.overdue.unwrap_or(false).then(Utc::now),
            before_id: q
                .before_id
                .as_deref()
                .map(|t| limits::BEFORE_ID.parse(Some(t), 0))
                .transpose()?,
            limit: limit.0.parse(q.limit.as_deref(), limit.1)?,
        },
        polygon,
    })
}

/// Runs a list query; with a polygon, pages through the bbox candidates until the page is full.
async fn run_query(
    state: &AppState,
    q: ListQuery,
) -> Result<(Vec<CaseRecord>, Option<i64>), ApiError> {
    let limit = q.filter.limit;
    let Some(poly) = q.polygon else {
        let cases = state.store().list_cases(&q.filter).await?;
        let next = (cases.len() as i64 == limit)
            .then(|| cases.last().map(|c| c.id))
            .flatten();
        return Ok((cases, next));
    };
    use geo::Intersects;
    let mut out = Vec::new();
    let mut filter = q.filter;
    filter.limit = 1000;
    loop {
        let page = state.store().list_cases(&filter).await?;
        let full = page.len() as i64 == filter.limit;
        filter.before_id = page.last().map(|c| c.id);
        for c in page {
            if poly.intersects(&geo::Point::new(c.lon, c.lat)) {
                out.push(c);
                if out.len() as i64 == limit {
                    let next = out.last().map(|c| c.id);
                    return Ok((out, next));
                }
            }
        }
        if !full {
            return Ok((out, None));
        }
    }
}

/// Lists cases, newest first (any staff role). A full page carries `x-next-before-id`.
#[utoipa::path(get, path = "/api/cases", tag = "cases", security(("bearer" = [])), params(CaseQuery),
    responses((status = 200, body = [CaseView]), (status = 400, body = ErrorBody)))]
pub async fn list_cases(
    State(state): State<AppState>,
    _auth: Auth<AnyRole>,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> Result<Response, ApiError> {
    let (cases, next) = run_query(&state, parse_query(q, (limits::LIMIT, 100))?).await?;
    let views: Vec<CaseView> = cases.into_iter().map(|c| view(&state, c)).collect();
    let mut res = Json(views).into_response();
    if let Some(n) = next.and_then(|n| HeaderValue::from_str(&n.to_string()).ok()) {
        res.headers_mut().insert("x-next-before-id", n);
    }
    Ok(res)
}

/// Export format.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// geojson (default) or csv.
    pub format: Option<String>,
}

const CSV_COLUMNS: [&str; 22] = [
    "case_no",
    "id",
    "status",
    "status_zh",
    "category",
    "category_name",
    "source",
    "external_ref",
    "lon",
    "lat",
    "grid_code",
    "community_code",
    "street_code",
    "district_code",
    "frontage_code",
    "unit_code",
    "dispatch_rule",
    "queue",
    "reported_at",
    "deadline_at",
    "closed_at",
    "overdue",
];

/// Exports the filtered cases (same filters as the list; up to 10,000 per call) as GeoJSON
/// points or CSV (UTF-8 with BOM, so spreadsheet software reads the Chinese right).
#[utoipa::path(get, path = "/api/cases/export", tag = "cases", security(("bearer" = [])), params(CaseQuery, ExportQuery),
    responses((status = 200, description = "GeoJSON FeatureCollection or CSV"), (status = 400, body = ErrorBody)))]
pub async fn export_cases(
    State(state): State<AppState>,
    _auth: Auth<AnyRole>,
    ApiQuery(q): ApiQuery<CaseQuery>,
    ApiQuery(e): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let (cases, next) = run_query(&state, parse_query(q, (limits::EXPORT_LIMIT, 10_000))?).await?;
    let views: Vec<CaseView> = cases.into_iter().map(|c| view(&state, c)).collect();
    let mut res = match e.format.as_deref().unwrap_or("geojson") {
        "geojson" => {
            let features: Vec<serde_json::Value> = views
                .iter()
                .map(|v| {
                    serde_json::json!({
                        "type": "Feature", "id": v.case.id,
                        "geometry": { "type": "Point", "coordinates": [v.case.lon, v.case.lat] },
                        "properties": v,
                    })
                })
                .collect();
            (
                [(header::CONTENT_TYPE, "application/geo+json")],
                Json(serde_json::json!({ "type": "FeatureCollection", "features": features })),
            )
                .into_response()
        }
        "csv" => {
            let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
            w.write_record(CSV_COLUMNS).map_err(ApiError::internal)?;
            let t = |x: Option<DateTime<Utc>>| x.map(|t| t.to_rfc3339()).unwrap_or_default();
            for v in &views {
                let c = &v.case;
                let o = |x: &Option<String>| x.clone().unwrap_or_default();
                w.write_record([
                    v.case_no.clone(),
                    c.id.to_string(),
                    c.status.as_str().into(),
                    v.status_zh.into(),
                    c.category.clone(),
                    v.category_name.clone().unwrap_or_default(),
                    c.source.clone(),
                    o(&c.external_ref),
                    c.lon.to_string(),
                    c.lat.to_string(),
                    o(&c.grid_code),
                    o(&c.community_code),
                    o(&c.street_code),
                    o(&c.district_code),
                    o(&c.frontage_code),
                    o(&c.unit_code),
                    o(&c.dispatch_rule),
                    o(&c.queue),
                    t(Some(c.reported_at)),
                    t(c.deadline_at),
                    t(c.closed_at),
                    v.overdue.to_string(),
                ])
                .map_err(ApiError::internal)?;
            }
            let bytes = w.into_inner().map_err(ApiError::internal)?;
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"cases.csv\"",
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        other => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("format {other:?} must be geojson or csv"),
            ));
        }
    };
    if let Some(n) = next.and_then(|n| HeaderValue::from_str(&n.to_string()).ok()) {
        res.headers_mut().insert("x-next-before-id", n);
    }
    Ok(res)
}

/// Hotline import options.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HotlineQuery {
    /// The coordinate system of rows without a crs column: wgs84, cgcs2000, gcj02, bd09.
    pub crs: Option<String>,
}

/// Imports a 12345 hotline export (CSV body): each good row becomes a case in 核实, keyed by
/// its work-order number, so a re-sent export creates nothing twice; bad rows come back with
/// their line and reason (intake clerk, shift lead, admin).
#[utoipa::path(post, path = "/api/cases/hotline", tag = "cases", security(("bearer" = [])), params(HotlineQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = [HotlineOutcome]), (status = 422, body = ErrorBody)))]
pub async fn import_hotline(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<Intake>,
    ApiQuery(q): ApiQuery<HotlineQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Vec<HotlineOutcome>>, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("text/csv") && !ct.starts_with("text/plain") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the export as text/csv (UTF-8)",
        ));
    }
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_csv",
            "the file is not UTF-8; save the export as UTF-8 CSV",
        )
    })?;
    if text.trim().trim_start_matches('\u{feff}').is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_upload",
            "the export is empty; send the CSV with its header row and at least one ticket",
        ));
    }
    let crs = q.crs.as_deref().map(parse_crs).transpose()?;
    let out = state
        .cases()
        .import_hotline(
            text,
            crs,
            Some(auth.principal.user_id),
            &req_id.audit(&auth.principal),
        )
        .await?;
    Ok(Json(out))
}

/// A category with its current version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CategoryView {
    /// The definition.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub category: Category,
    /// Its current version.
    pub version: i64,
}

/// The category catalogue, current versions (public: citizens pick a category too).
#[utoipa::path(get, path = "/api/categories", tag = "cases",
    responses((status = 200, body = [CategoryView])))]
pub async fn list_categories(State(state): State<AppState>) -> Json<Vec<CategoryView>> {
    let catalogue = state.engine().catalogue();
    Json(
        catalogue
            .list()
            .into_iter()
            .map(|(version, c)| CategoryView {
                category: c.clone(),
                version,
            })
            .collect(),
    )
}

/// Every version of one category (any staff role).
#[utoipa::path(get, path = "/api/categories/{code}/versions", tag = "cases", security(("bearer" = [])), params(("code" = String, Path, description = "category code")),
    responses((status = 200, body = [Object]), (status = 404, body = ErrorBody)))]
pub async fn category_versions(
    State(state): State<AppState>,
    _auth: Auth<AnyRole>,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<Vec<CategoryVersion>>, ApiError> {
    let versions: Vec<CategoryVersion> = state
        .store()
        .category_versions()
        .await?
        .into_iter()
        .filter(|v| v.category.code == code)
        .collect();
    if versions.is_empty() {
        return Err(ApiError::not_found(format!(
            "category {code} does not exist"
        )));
    }
    Ok(Json(versions))
}

/// Writes a new version of a category (admin). Open cases keep the version they were opened
/// under; new cases use this one.
#[utoipa::path(put, path = "/api/categories/{code}", tag = "cases", security(("bearer" = [])), params(("code" = String, Path, description = "category code")),
    request_body = Object,
    responses((status = 200, body = Object), (status = 422, body = ErrorBody)))]
pub async fn put_category(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiPath(code): ApiPath<String>,
    ApiJson(category): ApiJson<Category>,
) -> Result<Json<CategoryVersion>, ApiError> {
    if category.code != code {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!(
                "the body's code {:?} differs from the path's {code:?}",
                category.code
            ),
        ));
    }
    category.check().map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_category",
            e.to_string(),
        )
    })?;
    let saved = state
        .store()
        .put_category(&category, &req_id.audit(&auth.principal))
        .await?;
    // Answer from the new version at once, without waiting for the poller.
    state.engine().reload_if_changed().await?;
    Ok(Json(saved))
}
