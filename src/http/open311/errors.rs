//! Errors as GeoReport v2 defines them: an array of `{code, description}` (in XML
//! `<errors><error><code>…`) with the HTTP status, in the format the client asked for. The spec's
//! own examples use the HTTP status as the code, so `code` is the status number here too; the
//! description says in Chinese and English what to change.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::format::{Document, Format};

/// One Open311 error answer.
#[derive(Debug)]
pub struct Open311Error {
    /// HTTP status (and the `code`).
    pub status: StatusCode,
    /// What went wrong and what to do.
    pub description: String,
    /// The format to answer in.
    pub format: Format,
}

impl Open311Error {
    /// An error with a status and a description.
    pub fn new(status: StatusCode, format: Format, description: impl Into<String>) -> Self {
        Self {
            status,
            description: description.into(),
            format,
        }
    }

    /// 400: a parameter the client must change.
    pub fn bad_request(format: Format, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, format, description)
    }

    /// 404: no such service, request, token or resource.
    pub fn not_found(format: Format, description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, format, description)
    }

    /// 403: the api_key is missing, unknown or revoked.
    pub fn forbidden(format: Format, description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, format, description)
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(description = %self.description, "open311 request failed");
        }
        let description = if self.status.is_server_error() {
            // Internals are logged above, never sent.
            "内部错误，已记录。An internal error occurred and was logged.".to_owned()
        } else {
            self.description
        };
        Document {
            status: self.status,
            format: self.format,
            root: "errors",
            item: "error",
            value: json!([{ "code": self.status.as_u16(), "description": description }]),
        }
        .into_response()
    }
}
