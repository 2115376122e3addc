//! Extractors that answer in the standard JSON error shape.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::store::Audit;

/// A JSON body whose rejections are [`ApiError`]s: 415 without a JSON content type, 413 over
/// the body limit, 400 `malformed_json`, 400 `invalid_text` for a control character in any
/// string (NUL and the like, see [`crate::domain::text`]), 422 `invalid_body` for fields of the
/// wrong shape, named by their path.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

fn is_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        if !is_json_content_type(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    super::error::payload_too_large()
                } else {
                    ApiError::bad_request("body_read_failed", e.body_text())
                }
            })?;
        // Through a Value first, so every string is checked once, whatever the target type.
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
        })?;
        crate::domain::text::check_json("the body", &value)
            .map_err(|e| ApiError::bad_request("invalid_text", e.to_string()))?;
        serde_path_to_error::deserialize(value)
            .map(ApiJson)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let at = if path == "." {
                    String::new()
                } else {
                    format!(" at {path}")
                };
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_body",
                    format!("the JSON does not have the expected fields{at}: {inner}"),
                )
            })
    }
}

/// Decodes `%XX` escapes (and `+` as a space in a query) for the control-character check; a
/// malformed escape stays as it is.
fn percent_decoded(raw: &str, plus_is_space: bool) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|&x| hex(x)),
                bytes.get(i + 2).and_then(|&x| hex(x)),
            )
        {
            // Two hex digits: at most 0xFF.
            out.push(u8::try_from(h * 16 + l).unwrap_or(u8::MAX));
            i += 3;
            continue;
        }
        out.push(if plus_is_space && b == b'+' { b' ' } else { b });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Refuses a request whose path or query, once decoded, holds a control character (`%00` …):
/// 400 `invalid_text`, before any handler or store sees it. One check for every endpoint, so
/// both stores answer alike (PostgreSQL would otherwise fail on NUL with a 500).
pub async fn refuse_control_characters(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let uri = req.uri();
    let checks = [
        ("the URL path", percent_decoded(uri.path(), false)),
        (
            "the query string",
            percent_decoded(uri.query().unwrap_or(""), true),
        ),
    ];
    for (what, text) in &checks {
        if let Err(e) = crate::domain::text::check(what, text) {
            return ApiError::bad_request("invalid_text", e.to_string()).into_response();
        }
    }
    next.run(req).await
}

/// `axum::extract::Query` with [`ApiError`] rejections.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `axum::extract::Path` with [`ApiError`] rejections.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// The request id set by the request-id layer, for the audit log.
#[derive(Debug, Clone)]
pub struct RequestId(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestId(
            parts
                .extensions
                .get::<tower_http::request_id::RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .map(str::to_owned),
        ))
    }
}

impl RequestId {
    /// The audit record of a change made by `principal` in this request.
    pub fn audit(&self, principal: &crate::domain::identity::Principal) -> Audit {
        Audit {
            actor_id: Some(principal.user_id),
            actor_name: Some(principal.username.clone()),
            request_id: self.0.clone(),
            at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::percent_decoded;

    #[test]
    fn escapes_are_decoded_and_malformed_ones_kept() {
        assert_eq!(percent_decoded("a%00b", false), "a\u{0}b");
        assert_eq!(percent_decoded("q=a+b%2Bc", true), "q=a b+c");
        assert_eq!(percent_decoded("%E4%BA%8C%", false), "二%");
        assert_eq!(percent_decoded("%zz%4", false), "%zz%4");
    }
}
