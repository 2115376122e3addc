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

mod view;

use super::AppState;
use super::auth::{AdminOnly, Auth, Policy, Staff};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, RequestId};
use super::limits;
use crate::cases::{CaseError, CaseInfo, CasePage, HotlineOutcome, PhotoError, Submission};
use crate::domain::case::{Action, Status, WorkflowError};
use crate::domain::catalogue::Category;
use crate::domain::identity::{Principal, Role};
use crate::store::{Audit, CaseFilter, CategoryVersion};

pub use view::{CaseView, ChainLinkView, Notice, with_reader};

/// Inspectors report what they see; intake clerks enter hotline calls (the service decides the
/// channel).
pub struct Reporters;
impl Policy for Reporters {
    const ROLES: &'static [Role] = crate::cases::REPORTERS;
}

/// Intake clerks import hotline exports.
pub struct Intake;
impl Policy for Intake {
    const ROLES: &'static [Role] = crate::cases::HOTLINE_IMPORTERS;
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
            CaseError::Forbidden(s) => s.into(),
            CaseError::Photo(p) => p.into(),
            CaseError::Store(s) => s.into(),
        }
    }
}

impl From<PhotoError> for ApiError {
    fn from(e: PhotoError) -> Self {
        let (status, code) = match &e {
            PhotoError::BadStage(_) => (StatusCode::BAD_REQUEST, "invalid_stage"),
            PhotoError::Unsupported(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            PhotoError::Mismatch { .. } => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "content_type_mismatch")
            }
            PhotoError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "photo_too_large"),
            PhotoError::BodyRead(_) => (StatusCode::BAD_REQUEST, "body_read_failed"),
            PhotoError::TooMany { .. } => (StatusCode::CONFLICT, "too_many_photos"),
            PhotoError::CaseClosed(_) => (StatusCode::CONFLICT, "case_closed"),
            PhotoError::Storage(_) => return ApiError::internal(e),
        };
        ApiError::new(status, code, e.to_string())
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

/// The view of a case for `reader`.
pub(crate) fn render(info: CaseInfo, reader: &Principal) -> CaseView {
    let allowed = info.allowed_for(reader);
    CaseView::new(info, allowed)
}

impl NewReport {
    fn submission(self) -> Submission {
        Submission {
            crs: self.crs.parse(),
            idempotency_key: self.idempotency_key,
            category: self.category,
            description: self.description,
            lon: self.lon,
            lat: self.lat,
            register: self.register,
            external_ref: self.external_ref,
        }
    }
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
    let staff = state
        .cases()
        .report_as_staff(
            &auth.principal,
            body.submission(),
            &req_id.audit(&auth.principal),
        )
        .await?;
    let intake = staff.intake;
    let mut v = render(state.cases().info(intake.case), &auth.principal);
    v.duplicates = intake.duplicates;
    v.notice = staff.notice.map(|n| Notice {
        code: n.code,
        message: n.message,
    });
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
    let intake = state
        .cases()
        .report_as_citizen(body.submission(), &citizen_audit(&req_id))
        .await?;
    Ok((
        created_or_ok(intake.created),
        Json(Receipt {
            case_no: intake.case.case_no(),
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
    let f = state.cases().follow(id, &q.token).await?;
    Ok(Json(Followup {
        case_no: f.case_no,
        status: f.shown.status.as_str().into(),
        status_zh: f.shown.status.label_zh(),
        reported_at: f.shown.reported_at,
        closed_at: f.shown.closed_at,
        merged_into: f.merged_into,
        closing_note: f.closing_note,
        after_photos: f.after_photos.into_iter().map(Into::into).collect(),
    }))
}

/// The audit identity of a citizen's request.
pub(crate) fn citizen_audit(req_id: &RequestId) -> Audit {
    Audit {
        actor_id: None,
        actor_name: Some("citizen".into()),
        request_id: req_id.0.clone(),
        at: None,
    }
}

/// A case with its timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseDetail {
    /// The case.
    #[serde(flatten)]
    pub case: CaseView,
    /// Before/after photos, oldest first.
    pub photos: Vec<super::photos::PhotoView>,
    /// Every change, oldest first: the audit event with `actor_display_name`, the acting
    /// person's name as the page shows it (`actor_name` is their login).
    #[schema(value_type = Vec<Object>)]
    pub timeline: Vec<TimelineEvent>,
}

/// One event of a case's timeline.
#[derive(Debug, Serialize)]
pub struct TimelineEvent {
    /// The audit event.
    #[serde(flatten)]
    pub event: crate::store::EventRecord,
    /// The acting user's display name, when they have one.
    pub actor_display_name: Option<String>,
}

/// One case with its timeline (any staff role).
#[utoipa::path(get, path = "/api/cases/{id}", tag = "cases", security(("bearer" = [])), params(("id" = i64, Path, description = "case id")),
    responses((status = 200, body = CaseDetail), (status = 404, body = ErrorBody)))]
pub async fn get_case(
    State(state): State<AppState>,
    auth: Auth<Staff>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<CaseDetail>, ApiError> {
    let d = state.cases().detail(id).await?;
    Ok(Json(CaseDetail {
        case: render(d.case, &auth.principal),
        photos: d.photos.into_iter().map(Into::into).collect(),
        timeline: d
            .timeline
            .into_iter()
            .map(|event| TimelineEvent {
                actor_display_name: event.actor_id.and_then(|a| d.actors.get(&a).cloned()),
                event,
            })
            .collect(),
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
    responses((status = 200, body = CaseView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, description = "`invalid_reference` (no such unit or case), `invalid_field` (note over 2,000 characters), `reason_required` (a dispatch outside the owner chain of the case's place without a `note`)", body = ErrorBody)))]
pub async fn act(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<Staff>,
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
    Ok(Json(render(state.cases().info(case), &auth.principal)))
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
    /// Source channel: inspector, citizen, hotline_12345, inspection (督查 findings).
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

/// An optional status query parameter.
pub(crate) fn parse_status(text: Option<&str>) -> Result<Option<Status>, ApiError> {
    text.map(|s| {
        Status::parse(s).ok_or_else(|| super::params::invalid(format!("unknown status {s:?}")))
    })
    .transpose()
}

fn parse_query(q: CaseQuery, limit: (limits::Range, i64)) -> Result<CaseFilter, ApiError> {
    let status = parse_status(q.status.as_deref())?;
    let bbox = super::params::optional_bbox(q.bbox.as_deref())?;
    let polygon = q
        .polygon
        .as_deref()
        .map(super::params::polygon)
        .transpose()?;
    Ok(CaseFilter {
        status,
        grid_code: q.grid,
        community_code: q.community,
        street_code: q.street,
        unit_code: q.unit,
        category: q.category,
        source: q.source,
        queue: q.queue,
        reported_by: None,
        bbox,
        polygon,
        from: super::params::optional_instant("from", q.from.as_deref())?,
        to: super::params::optional_instant("to", q.to.as_deref())?,
        overdue_at: q.overdue.unwrap_or(false).then(Utc::now),
        before_id: q
            .before_id
            .as_deref()
            .map(|t| limits::BEFORE_ID.parse(Some(t), 0))
            .transpose()?,
        limit: limit.0.parse(q.limit.as_deref(), limit.1)?,
    })
}

/// One page of views for `reader`, and the header that points to the next page.
fn page_views(page: CasePage, reader: &Principal) -> (Vec<CaseView>, Option<HeaderValue>) {
    let next = page
        .next_before_id
        .and_then(|n| HeaderValue::from_str(&n.to_string()).ok());
    let views = page.cases.into_iter().map(|c| render(c, reader)).collect();
    (views, next)
}

/// Lists cases, newest first (any staff role). A full page carries `x-next-before-id`.
#[utoipa::path(get, path = "/api/cases", tag = "cases", security(("bearer" = [])), params(CaseQuery),
    responses((status = 200, body = [CaseView]), (status = 400, body = ErrorBody)))]
pub async fn list_cases(
    State(state): State<AppState>,
    auth: Auth<Staff>,
    ApiQuery(q): ApiQuery<CaseQuery>,
) -> Result<Response, ApiError> {
    let page = state
        .cases()
        .list(&parse_query(q, (limits::LIMIT, 100))?)
        .await?;
    let (views, next) = page_views(page, &auth.principal);
    let mut res = Json(views).into_response();
    if let Some(n) = next {
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
    auth: Auth<Staff>,
    ApiQuery(q): ApiQuery<CaseQuery>,
    ApiQuery(e): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let page = state
        .cases()
        .export(&parse_query(q, (limits::EXPORT_LIMIT, 10_000))?)
        .await?;
    let (views, next) = page_views(page, &auth.principal);
    let mut res = match e.format.as_deref().unwrap_or("geojson") {
        "geojson" => {
            let features: Vec<serde_json::Value> = views
                .iter()
                .map(|v| {
                    serde_json::json!({
                        "type": "Feature", "id": v.id,
                        "geometry": { "type": "Point", "coordinates": [v.lon, v.lat] },
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
                let c = v;
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
            return Err(super::params::invalid(format!(
                "format {other:?} must be geojson or csv"
            )));
        }
    };
    if let Some(n) = next {
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
    let crs = super::params::crs(q.crs.as_deref())?;
    let out = state
        .cases()
        .import_hotline(&auth.principal, text, crs, &req_id.audit(&auth.principal))
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
    let catalogue = state.cases().catalogue();
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
    _auth: Auth<Staff>,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<Vec<CategoryVersion>>, ApiError> {
    Ok(Json(state.cases().category_versions(&code).await?))
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
    let saved = state
        .cases()
        .put_category(&code, &category, &req_id.audit(&auth.principal))
        .await?;
    Ok(Json(saved))
}
