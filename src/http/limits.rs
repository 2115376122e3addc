//! Limits of requests: the ranges of paging parameters, and the size of request heads.
//!
//! A value out of range is refused with 400 `invalid_parameter` naming the range: it is never
//! clamped silently, so a client learns at once that it asked for something else than it gets.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// Most bytes of all request header names and values together; more get 431
/// `headers_too_large`. (hyper itself refuses more than 100 header fields, a head larger than
/// its buffer, and a URI longer than [`MAX_URI_BYTES`]; those answers are JSON too, see
/// `http::conn`.)
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Longest request URI (hyper's own bound); longer ones get 414 `uri_too_long`.
pub const MAX_URI_BYTES: usize = 65_534;

/// An inclusive range of an integer query parameter, with its default.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    /// The parameter's name, for the message.
    pub name: &'static str,
    /// Smallest accepted value.
    pub min: i64,
    /// Largest accepted value.
    pub max: i64,
}

impl Range {
    /// `value` when it is in range (or `default` when absent), else 400 `invalid_parameter`.
    pub fn check(self, value: Option<i64>, default: i64) -> Result<i64, ApiError> {
        match value {
            None => Ok(default),
            Some(v) if (self.min..=self.max).contains(&v) => Ok(v),
            Some(v) => Err(self.refuse(&v.to_string())),
        }
    }

    /// The refusal of `got`.
    pub fn refuse(self, got: &str) -> ApiError {
        ApiError::bad_request(
            "invalid_parameter",
            format!(
                "{name} 必须是 {min}–{max} 之间的整数。{name} must be an integer from {min} to {max}; got {got:?}.",
                name = self.name,
                min = self.min,
                max = self.max,
            ),
        )
    }
}

/// Page sizes of lists (`/api/units`, `/api/events`, `/api/cases`).
pub const LIMIT: Range = Range {
    name: "limit",
    min: 1,
    max: 1000,
};

/// Rows of a case export.
pub const EXPORT_LIMIT: Range = Range {
    name: "limit",
    min: 1,
    max: 10_000,
};

/// Offsets of offset-paged lists (`/api/units`).
pub const OFFSET: Range = Range {
    name: "offset",
    min: 0,
    max: 1_000_000,
};

/// Keyset paging: only rows with an id below this.
pub const BEFORE_ID: Range = Range {
    name: "before_id",
    min: 1,
    max: i64::MAX,
};

impl Range {
    /// Parses an optional text parameter and checks its range. Paging parameters are taken as
    /// text, so that a value too large for an integer, or no number at all, gets the same 400
    /// `invalid_parameter` with the range as one out of range.
    pub fn parse(self, text: Option<&str>, default: i64) -> Result<i64, ApiError> {
        match text {
            None => Ok(default),
            Some(t) => {
                let v = t.trim().parse::<i64>().map_err(|_| self.refuse(t))?;
                self.check(Some(v), default)
            }
        }
    }
}

/// Refuses request heads larger than [`MAX_HEADER_BYTES`] with JSON 431, and URIs longer than
/// [`MAX_URI_BYTES`] with JSON 414 (reached when a request comes by another way than hyper's
/// HTTP/1 parser, e.g. HTTP/2, or in tests without a socket).
pub async fn head_limits(req: Request, next: Next) -> Response {
    let uri_len = req.uri().to_string().len();
    if uri_len > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!(
                "请求地址过长。The request URI has {uri_len} bytes; at most {MAX_URI_BYTES} are accepted. Send large filters in a body."
            ),
        )
        .into_response();
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "请求头过大。The request headers have {header_bytes} bytes; at most {MAX_HEADER_BYTES} are accepted."
            ),
        )
        .into_response();
    }
    next.run(req).await
}
