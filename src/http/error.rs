//! The one error type of the HTTP layer: JSON `{ "code", "message" }` with a stable code.
//!
//! 4xx answers say what to fix. 5xx answers are logged once, here, and never carry internals.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::identity::ScopeError;
use crate::store::StoreError;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `token_expired`.
    pub code: &'static str,
    /// A sentence a person can act on.
    pub message: String,
}

/// The JSON body of every error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// Every error code the service answers with: (code, HTTP status, meaning). Published in the
/// OpenAPI document as the `ErrorCode` enum and in the README; a code not listed here trips a
/// debug assertion, so the list cannot fall behind the code.
pub const ERROR_CODES: &[(&str, u16, &str)] = &[
    ("bad_request", 400, "the request was not understood"),
    (
        "malformed_request",
        400,
        "the request line or a header is not valid HTTP/1.1 (answered before routing)",
    ),
    (
        "invalid_query",
        400,
        "a query parameter has the wrong type or an unknown value",
    ),
    (
        "invalid_parameter",
        400,
        "a numeric parameter is out of its documented range",
    ),
    ("invalid_path", 400, "a path segment has the wrong type"),
    (
        "invalid_bbox",
        400,
        "bbox is not west,south,east,north in WGS84 degrees",
    ),
    (
        "invalid_polygon",
        400,
        "polygon is not a GeoJSON Polygon or MultiPolygon",
    ),
    ("invalid_date", 400, "a date or instant could not be read"),
    ("invalid_tile", 400, "z/x/y is not a tile"),
    (
        "invalid_period",
        400,
        "period is not an ISO week, a month, a quarter or a range of days",
    ),
    (
        "invalid_level",
        400,
        "level is not streets, communities, departments, inspectors or dispatchers",
    ),
    ("invalid_stage", 400, "stage is not before or after"),
    (
        "invalid_photo_id",
        400,
        "a photo id is not 64 lowercase hex digits",
    ),
    (
        "invalid_last_event_id",
        400,
        "Last-Event-ID is not an event id",
    ),
    (
        "invalid_text",
        400,
        "text contains NUL or another control character",
    ),
    ("malformed_json", 400, "the body is not JSON"),
    ("malformed_body", 400, "the body could not be read as JSON"),
    ("malformed_geojson", 400, "the body is not GeoJSON"),
    (
        "not_a_feature_collection",
        400,
        "the GeoJSON is not a FeatureCollection",
    ),
    (
        "malformed_osm",
        400,
        "the body is not an OpenStreetMap PBF file",
    ),
    ("not_utf8", 400, "the body is not UTF-8 text"),
    ("unreadable_input", 400, "the upload could not be read"),
    ("unreadable_body", 400, "the body could not be read"),
    (
        "body_read_failed",
        400,
        "the body broke off while it was read",
    ),
    ("missing_token", 401, "no bearer token"),
    ("invalid_token", 401, "the token is not known"),
    ("token_expired", 401, "the token has expired"),
    (
        "token_revoked",
        401,
        "the token was revoked (logout, lost device)",
    ),
    ("invalid_credentials", 401, "wrong name or password"),
    ("account_disabled", 401, "the account is disabled"),
    (
        "demo_credentials_refused",
        401,
        "demo accounts are refused on this address",
    ),
    ("forbidden_role", 403, "the role may not do this"),
    (
        "out_of_scope",
        403,
        "the case, grid or unit lies outside the caller's scope",
    ),
    ("not_found", 404, "no such resource"),
    (
        "method_not_allowed",
        405,
        "the resource does not accept that method",
    ),
    ("request_timeout", 408, "the request took too long"),
    (
        "conflict",
        409,
        "the change conflicts with the stored state",
    ),
    (
        "invalid_transition",
        409,
        "the workflow does not allow this action now",
    ),
    (
        "request_pending",
        409,
        "a request already waits for approval",
    ),
    ("nothing_pending", 409, "no request waits for approval"),
    (
        "too_many_photos",
        409,
        "the stage already has the most photos allowed",
    ),
    ("case_closed", 409, "the case is closed"),
    (
        "idempotency_key_reused",
        409,
        "the idempotency key was used for a different body",
    ),
    (
        "payload_too_large",
        413,
        "the body is larger than the server accepts",
    ),
    (
        "photo_too_large",
        413,
        "the photo is larger than the server accepts",
    ),
    (
        "batch_too_large",
        413,
        "the batch has more points or bytes than the server accepts",
    ),
    (
        "too_large",
        413,
        "the analysis would need more cells, units or rows than allowed",
    ),
    ("uri_too_long", 414, "the request URI is too long"),
    (
        "unsupported_media_type",
        415,
        "the Content-Type is not accepted here",
    ),
    (
        "content_type_mismatch",
        415,
        "the image bytes are not of the declared type",
    ),
    (
        "invalid_body",
        422,
        "the JSON lacks a field or has a wrong type",
    ),
    ("invalid_field", 422, "a field's value is not accepted"),
    (
        "reason_required",
        422,
        "dispatching outside the owner chain of the case's place needs a reason in `note`",
    ),
    (
        "invalid_reference",
        422,
        "a referenced unit, user, grid or case does not exist",
    ),
    (
        "invalid_category",
        422,
        "the category definition is not valid",
    ),
    ("unknown_category", 422, "no such category"),
    (
        "unknown_crs",
        422,
        "the coordinate system is not wgs84, cgcs2000, gcj02 or bd09",
    ),
    (
        "swapped_coordinates",
        422,
        "latitude and longitude look swapped",
    ),
    ("outside_area", 422, "the point lies outside the city"),
    (
        "invalid_coordinate",
        422,
        "the coordinate is not a finite longitude/latitude",
    ),
    (
        "no_data_on_date",
        422,
        "no jurisdiction data was valid on that date",
    ),
    (
        "invalid_feature",
        422,
        "a GeoJSON feature is not valid for the layer",
    ),
    ("invalid_csv", 422, "a CSV row cannot be read"),
    ("missing_columns", 422, "the CSV lacks required columns"),
    (
        "import_refused",
        422,
        "the import failed validation (the report lists why)",
    ),
    (
        "empty_upload",
        422,
        "the upload is empty: an import never empties live data",
    ),
    (
        "invalid_package",
        422,
        "the city package has an unknown part, category or holiday year",
    ),
    (
        "no_city_data",
        409,
        "no jurisdiction layer is published yet; import the city first",
    ),
    (
        "invalid_calendar",
        422,
        "the calendar year file is not valid",
    ),
    (
        "invalid_checklist",
        422,
        "the inspection checklists document is refused (the path of the bad value is named)",
    ),
    (
        "invalid_scheme",
        422,
        "the assessment scheme document could not score",
    ),
    (
        "invalid_dispatch_rules",
        422,
        "the dispatch rule table is not valid (unknown field, duplicate rule id, department key)",
    ),
    (
        "dispatch_rules_refused",
        422,
        "the dispatch rule table does not fit the city (the report lists why); nothing was stored",
    ),
    (
        "too_many_login_attempts",
        429,
        "too many failed logins for this account or address; wait Retry-After seconds",
    ),
    (
        "too_many_reports",
        429,
        "too many public reports or photos from this address or follow token; wait Retry-After seconds",
    ),
    (
        "import_would_remove",
        409,
        "the import would remove more live features than allowed; repeat with confirm_removal=N",
    ),
    (
        "too_many_vertices",
        413,
        "a feature or the upload has more vertices than the import limits",
    ),
    (
        "cancelled",
        503,
        "the work was stopped (shutdown or the client left); retry",
    ),
    (
        "no_points",
        422,
        "the uploaded point set has no usable point",
    ),
    (
        "headers_too_large",
        431,
        "the request headers are too large",
    ),
    ("internal_error", 500, "an internal error (logged)"),
    (
        "database_unavailable",
        503,
        "the database is unavailable; retry",
    ),
];

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(
            ERROR_CODES.iter().any(|(c, _, _)| *c == code),
            "error code {code:?} is not in ERROR_CODES (src/http/error.rs): add it there and to the README"
        );
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// 401.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 500: the detail is logged, never sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "内部错误，已记录。An internal error occurred and was logged.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            Json(ErrorBody {
                code: self.code.to_owned(),
                message: self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"wangge\""),
            );
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "数据库暂不可用，请稍后重试。The database is unavailable; retry shortly.",
                )
            }
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            StoreError::KeyReused(m) => ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_reused",
                format!(
                    "这个 idempotency_key 已用于另一份不同的上报。{m}; a retry must repeat the first request exactly, a new report needs a new key"
                ),
            ),
            StoreError::InvalidReference(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_reference", m)
            }
            StoreError::NotFound(m) => ApiError::not_found(format!("{m} does not exist")),
            other => ApiError::internal(other),
        }
    }
}

impl From<ScopeError> for ApiError {
    fn from(e: ScopeError) -> Self {
        let code = match e {
            ScopeError::Role { .. } => "forbidden_role",
            _ => "out_of_scope",
        };
        ApiError::new(StatusCode::FORBIDDEN, code, e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ),
            JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
                "malformed_json",
                format!("the body is not valid JSON: {}", e.body_text()),
            ),
            JsonRejection::JsonDataError(e) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!(
                    "the JSON does not have the expected fields: {}",
                    e.body_text()
                ),
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
            other => ApiError::bad_request("malformed_body", other.body_text()),
        }
    }
}

/// A query string that cannot be read is `invalid_query`, except a value outside an enum's
/// choices (`status=lost`, `weights=hexagon`): that is a parameter's value the endpoint does not
/// take, answered `invalid_parameter` like a number out of its range or a status parsed by hand.
/// serde reports it as an "unknown variant" (`serde::de::Error::unknown_variant`), the one error
/// of the query deserializer that names a value rather than the query's shape.
impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        let text = r.body_text();
        if text.contains("unknown variant") {
            ApiError::bad_request("invalid_parameter", text)
        } else {
            ApiError::bad_request("invalid_query", text)
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request("invalid_path", r.body_text())
    }
}

/// 413.
pub fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is larger than this server accepts (see WANGGE_MAX_BODY_BYTES)",
    )
}

/// Turns any error answer that is not already JSON (axum's own 404/405, the body limit, the
/// timeout, a caught panic) into the standard JSON error, so clients parse one shape only.
pub async fn json_errors<B>(res: Response<B>) -> Response
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let res = res.map(axum::body::Body::new);
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    // Bodies that already have a shape of their own (JSON errors, the HTML 404 page of the map)
    // stay; empty and plain-text ones are what axum and tower-http produce.
    let keep = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.starts_with("text/plain"));
    if keep {
        return res;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such resource; see /api/docs for the API"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this resource does not accept that method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            return payload_too_large().into_response();
        }
        StatusCode::REQUEST_TIMEOUT => (
            "request_timeout",
            "the request took too long and was stopped",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "unsupported content type")
        }
        s if s.is_server_error() => (
            "internal_error",
            "内部错误，已记录。An internal error occurred and was logged.",
        ),
        _ => ("bad_request", "the request was not understood"),
    };
    let allow = res.headers().get(header::ALLOW).cloned();
    let mut out = ApiError::new(status, code, message).into_response();
    if let Some(allow) = allow {
        out.headers_mut().insert(header::ALLOW, allow);
    }
    out
}
