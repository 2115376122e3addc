//! Case photos over HTTP: staff and citizens upload before/after photos as the raw request body
//! (no multipart), and anyone holding a photo's URL fetches it (`/photos/{sha256}`, a capability
//! URL: the 256-bit hash cannot be guessed).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::{Auth, Policy};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery, RequestId};
use crate::cases::{PhotoAdded as Added, PhotoAdder, PhotoUpload, parse_stage};
use crate::domain::identity::Role;
use crate::domain::photo::{PhotoHash, PhotoStage};
use crate::store::CasePhoto;

/// Everyone but planners adds photos (each within their scope, see `domain::photo::may_add`).
pub struct PhotoAdders;
impl Policy for PhotoAdders {
    const ROLES: &'static [Role] = crate::domain::photo::ADDERS;
}

/// The stage of an upload.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StageQuery {
    /// `before` (处置前) or `after` (处置后).
    pub stage: Option<String>,
}

/// A citizen's upload.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CitizenPhotoQuery {
    /// The follow token from the report's receipt.
    pub token: String,
    /// `before` only (the default).
    pub stage: Option<String>,
}

/// An added photo.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhotoAdded {
    /// SHA-256 of the bytes, 64 lowercase hex digits: the photo's id.
    pub sha256: String,
    /// Where to fetch it: `/photos/{sha256}`.
    pub url: String,
    /// `before` or `after`.
    #[schema(value_type = String)]
    pub stage: PhotoStage,
}

/// A photo of a case, as listed with the case.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PhotoView {
    /// SHA-256 of the bytes (the photo's id).
    pub sha256: String,
    /// Where to fetch it.
    pub url: String,
    /// `before` or `after`.
    #[schema(value_type = String)]
    pub stage: PhotoStage,
    /// When it was added to the case.
    pub added_at: DateTime<Utc>,
}

impl From<CasePhoto> for PhotoView {
    fn from(p: CasePhoto) -> Self {
        Self {
            url: photo_url(&p.sha256),
            sha256: p.sha256,
            stage: p.stage,
            added_at: p.added_at,
        }
    }
}

fn photo_url(sha256: &str) -> String {
    format!("/photos/{sha256}")
}

/// The parts of an upload's request the service checks, in its order.
fn upload<'a>(
    headers: &'a HeaderMap,
    body: Body,
) -> PhotoUpload<'a, impl futures_util::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin>
{
    PhotoUpload {
        declared: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        announced: headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok()),
        body: body.into_data_stream(),
    }
}

fn answer(added: Added) -> (StatusCode, Json<PhotoAdded>) {
    let status = if added.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let p = added.photo;
    (
        status,
        Json(PhotoAdded {
            url: photo_url(&p.sha256),
            sha256: p.sha256,
            stage: p.stage,
        }),
    )
}

/// Adds a photo to a case: the raw image is the body (`Content-Type: image/jpeg|png|webp`,
/// checked against its magic bytes). Inspectors on their grids; handlers after-photos of their
/// unit's cases; intake clerks, dispatchers, shift leads and admins on any case. The same photo
/// again is a retry (200), stored once.
#[utoipa::path(post, path = "/api/cases/{id}/photos", tag = "cases", security(("bearer" = [])),
    params(("id" = i64, Path, description = "case id"), StageQuery),
    request_body(content = Vec<u8>, description = "the image bytes", content_type = "image/jpeg"),
    responses((status = 201, body = PhotoAdded), (status = 200, description = "already attached (a retry)", body = PhotoAdded),
        (status = 400, description = "invalid_stage", body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "too_many_photos", body = ErrorBody), (status = 413, description = "photo_too_large", body = ErrorBody),
        (status = 415, description = "unsupported_media_type, content_type_mismatch", body = ErrorBody)))]
pub async fn add_case_photo(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<PhotoAdders>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<StageQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<PhotoAdded>), ApiError> {
    let added = state
        .cases()
        .add_photo(
            id,
            PhotoAdder::Staff(&auth.principal),
            parse_stage(q.stage.as_deref(), None),
            upload(&headers, body),
            &req_id.audit(&auth.principal),
        )
        .await?;
    Ok(answer(added))
}

/// A citizen adds a before-photo to their own report with the follow token (public), while the
/// case is open.
#[utoipa::path(post, path = "/api/public/reports/{id}/photos", tag = "cases",
    params(("id" = i64, Path, description = "case id"), CitizenPhotoQuery),
    request_body(content = Vec<u8>, description = "the image bytes", content_type = "image/jpeg"),
    responses((status = 201, body = PhotoAdded), (status = 404, description = "no such report with this token", body = ErrorBody),
        (status = 409, description = "case_closed, too_many_photos", body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 429, description = "too_many_reports (with Retry-After, seconds)", body = ErrorBody)))]
pub async fn add_citizen_photo(
    State(state): State<AppState>,
    req_id: RequestId,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<CitizenPhotoQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<PhotoAdded>), ApiError> {
    let added = state
        .cases()
        .add_photo(
            id,
            PhotoAdder::Citizen { token: &q.token },
            parse_stage(q.stage.as_deref(), Some(PhotoStage::Before)),
            upload(&headers, body),
            &super::cases::citizen_audit(&req_id),
        )
        .await?;
    Ok(answer(added))
}

/// One photo's bytes (public: the URL is the capability). Immutable, so cached for a year; served
/// with `nosniff` and a sandboxing CSP so that no upload can ever run as a page of this origin.
#[utoipa::path(get, path = "/photos/{sha256}", tag = "cases",
    params(("sha256" = String, Path, description = "the photo's SHA-256, 64 lowercase hex digits")),
    responses((status = 200, description = "the image", content_type = "image/jpeg"), (status = 304, description = "not modified"),
        (status = 400, description = "invalid_photo_id", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_photo(
    State(state): State<AppState>,
    ApiPath(raw): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let hash = PhotoHash::parse(&raw)
        .map_err(|e| ApiError::bad_request("invalid_photo_id", e.to_string()))?;
    let not_found = || ApiError::not_found(format!("no photo {hash}"));
    let content_type = state
        .cases()
        .photo_type(hash)
        .await?
        .ok_or_else(not_found)?;
    let etag = format!("\"{hash}\"");
    let common = |res: &mut Response| {
        let h = res.headers_mut();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; img-src 'self'; sandbox"),
        );
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        let mut res = StatusCode::NOT_MODIFIED.into_response();
        common(&mut res);
        return Ok(res);
    }
    let bytes = state.cases().photo_bytes(hash).await?;
    let ct = HeaderValue::from_str(&content_type).map_err(ApiError::internal)?;
    let mut res = (StatusCode::OK, [(header::CONTENT_TYPE, ct)], bytes).into_response();
    common(&mut res);
    Ok(res)
}
