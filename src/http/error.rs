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

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
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

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", r.body_text())
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
