//! Case photos over HTTP: staff and citizens upload before/after photos as the raw request body
//! (no multipart), and anyone holding a photo's URL fetches it (`/photos/{sha256}`, a capability
//! URL: the 256-bit hash cannot be guessed).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::{Auth, Policy};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery, RequestId};
use crate::domain::identity::Role;
use crate::domain::photo::{
    self, CitizenPhotoError, ImageType, PhotoHash, PhotoStage, PhotoTarget,
};
use crate::security;
use crate::store::{AddPhotoOutcome, Audit, CasePhoto, CaseRecord, NewCasePhoto};

/// Everyone but planners adds photos (each within their scope, see `domain::photo::may_add`).
pub struct PhotoAdders;
impl Policy for PhotoAdders {
    const ROLES: &'static [Role] = &[
        Role::Inspector,
        Role::IntakeClerk,
        Role::ShiftLead,
        Role::Dispatcher,
        Role::Handler,
        Role::Admin,
    ];
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

/// The photos of a case, oldest first.
pub(crate) async fn photo_views(
    state: &AppState,
    case_id: i64,
) -> Result<Vec<PhotoView>, ApiError> {
    Ok(state
        .store()
        .case_photos(case_id)
        .await?
        .into_iter()
        .map(PhotoView::from)
        .collect())
}

fn parse_stage(stage: Option<&str>, default: Option<PhotoStage>) -> Result<PhotoStage, ApiError> {
    match stage {
        Some(s) => PhotoStage::parse(s),
        None => default,
    }
    .ok_or_else(|| {
        ApiError::bad_request(
            "invalid_stage",
            format!(
                "stage must be `before` or `after`, got {:?}",
                stage.unwrap_or("")
            ),
        )
    })
}

fn case_not_found(id: i64) -> ApiError {
    ApiError::not_found(format!("case {id} does not exist"))
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "photo_too_large",
        format!("a photo may be at most {max} bytes (WANGGE_PHOTO_MAX_BYTES); send a smaller JPEG"),
    )
}

fn unsupported(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("{detail}; send the raw image as image/jpeg, image/png or image/webp"),
    )
}

/// Checks, stores and attaches one photo. Every check of the request happens before the file is
/// written; when the store then refuses (racing uploads past the per-stage limit), the file this
/// upload wrote is removed again unless another case shows the same photo. A refused upload
/// leaves neither a file nor a row.
async fn upload(
    state: &AppState,
    case: &CaseRecord,
    stage: PhotoStage,
    headers: &HeaderMap,
    body: Body,
    added_by: Option<i64>,
    audit: &Audit,
) -> Result<(StatusCode, Json<PhotoAdded>), ApiError> {
    let limits = &state.settings().photos;
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unsupported("the Content-Type header is missing"))?;
    let declared = ImageType::from_mime(declared)
        .ok_or_else(|| unsupported(&format!("Content-Type {declared:?} is not accepted")))?;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limits.max_bytes as u64) {
        return Err(too_large(limits.max_bytes));
    }
    // Read with a running count: a chunked body without Content-Length is cut off at the limit
    // instead of being buffered whole.
    let mut bytes = Vec::with_capacity(announced.map_or(64 * 1024, |n| n as usize));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("body_read_failed", format!("reading the photo failed: {e}"))
        })?;
        if bytes.len() + chunk.len() > limits.max_bytes {
            return Err(too_large(limits.max_bytes));
        }
        bytes.extend_from_slice(&chunk);
    }
    let sniffed = ImageType::sniff(&bytes)
        .ok_or_else(|| unsupported("the body is not a JPEG, PNG or WebP image"))?;
    if sniffed != declared {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type_mismatch",
            format!(
                "the body is {} but Content-Type says {}",
                sniffed.mime(),
                declared.mime()
            ),
        ));
    }
    let hash = crate::photos::PhotoFiles::hash(&bytes);
    let existing = state.store().case_photos(case.id).await?;
    let attached = existing
        .iter()
        .any(|p| p.stage == stage && p.sha256 == hash.to_hex());
    let of_stage = existing.iter().filter(|p| p.stage == stage).count();
    if !attached && of_stage >= limits.max_per_stage as usize {
        return Err(too_many(limits.max_per_stage, stage));
    }
    let size = bytes.len();
    let files = state.photos().clone();
    // One upload of these bytes at a time in this process: a refused upload below removes the
    // file it wrote, which must not pull it from under a concurrent upload of the same photo.
    let _turn = files.turn(hash).await;
    let writer = files.clone();
    let (stored, bytes) =
        tokio::task::spawn_blocking(move || writer.put(&bytes).map(|s| (s, bytes)))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| ApiError::internal(format!("storing photo {hash}: {e}")))?;
    let outcome = state
        .store()
        .add_case_photo(
            &NewCasePhoto {
                case_id: case.id,
                hash: stored.hash,
                content_type: sniffed.mime().to_owned(),
                bytes: i64::try_from(size).unwrap_or(i64::MAX),
                stage,
                added_by,
                max_per_stage: limits.max_per_stage,
            },
            audit,
        )
        .await;
    let refused = !matches!(
        outcome,
        Ok(AddPhotoOutcome::Added(_) | AddPhotoOutcome::AlreadyThere(_))
    );
    if refused && stored.written {
        forget_unreferenced(state, &files, hash).await;
    } else if !refused && !stored.written {
        // The file was there already. Another replica sharing the folder may have removed it
        // since for a refused upload of its own; the row is committed now, so put it back.
        let writer = files.clone();
        tokio::task::spawn_blocking(move || writer.put(&bytes))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| ApiError::internal(format!("storing photo {hash}: {e}")))?;
    }
    let outcome = outcome?;
    let (status, photo) = match outcome {
        AddPhotoOutcome::Added(p) => (StatusCode::CREATED, p),
        AddPhotoOutcome::AlreadyThere(p) => (StatusCode::OK, p),
        AddPhotoOutcome::TooMany { max } => return Err(too_many(max, stage)),
    };
    Ok((
        status,
        Json(PhotoAdded {
            url: photo_url(&photo.sha256),
            sha256: photo.sha256,
            stage: photo.stage,
        }),
    ))
}

/// Removes the file a refused upload wrote, unless a row refers to its hash (the same photo on
/// another case: files are shared by content). When the store cannot tell, the file stays: an
/// orphan file is harmless, a missing one is a lost photo.
async fn forget_unreferenced(state: &AppState, files: &crate::photos::PhotoFiles, hash: PhotoHash) {
    match state.store().photo_content_type(hash).await {
        Ok(None) => {
            let files = files.clone();
            let removed = tokio::task::spawn_blocking(move || files.remove(hash)).await;
            if !matches!(removed, Ok(Ok(()))) {
                tracing::warn!(%hash, "could not remove the file of a refused photo upload");
            }
        }
        Ok(Some(_)) => {}
        Err(e) => {
            tracing::warn!(%hash, error = %e, "refused photo upload: its file is kept, the store could not say whether it is used");
        }
    }
}

fn too_many(max: u32, stage: PhotoStage) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "too_many_photos",
        format!(
            "this case has {max} {} photos already, the most allowed",
            stage.as_str()
        ),
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
    let case = state
        .store()
        .get_case(id)
        .await?
        .ok_or_else(|| case_not_found(id))?;
    let stage = parse_stage(q.stage.as_deref(), None)?;
    photo::may_add(
        &auth.principal,
        &PhotoTarget {
            grid_code: case.grid_code.as_deref(),
            unit_code: case.unit_code.as_deref(),
            status: case.status,
            reported_by: case.reported_by,
        },
        stage,
    )?;
    upload(
        &state,
        &case,
        stage,
        &headers,
        body,
        Some(auth.principal.user_id),
        &req_id.audit(&auth.principal),
    )
    .await
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
    let not_found = || ApiError::not_found("no report with this number and token");
    let case = state.store().get_case(id).await?.ok_or_else(not_found)?;
    if case.follow_token_hash.as_deref() != Some(security::token_hash(&q.token).as_str()) {
        return Err(not_found());
    }
    let stage = parse_stage(q.stage.as_deref(), Some(PhotoStage::Before))?;
    photo::citizen_may_add(case.status, stage).map_err(|e| match e {
        CitizenPhotoError::StageNotAllowed => {
            ApiError::new(StatusCode::FORBIDDEN, "out_of_scope", e.to_string())
        }
        _ => ApiError::new(StatusCode::CONFLICT, "case_closed", e.to_string()),
    })?;
    let audit = Audit {
        actor_id: None,
        actor_name: Some("citizen".into()),
        request_id: req_id.0,
    };
    upload(&state, &case, stage, &headers, body, None, &audit).await
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
        .store()
        .photo_content_type(hash)
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
    let files = state.photos().clone();
    let bytes = tokio::task::spawn_blocking(move || files.read(hash))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::internal(format!("reading photo {hash}: {e}")))?
        .ok_or_else(|| {
            ApiError::internal(format!(
                "photo {hash} is in the database but not in the photo folder"
            ))
        })?;
    let ct = HeaderValue::from_str(&content_type).map_err(ApiError::internal)?;
    let mut res = (StatusCode::OK, [(header::CONTENT_TYPE, ct)], bytes).into_response();
    common(&mut res);
    Ok(res)
}

/// What the reporter is shown once the case is closed (反馈给反映人): the note of the closing
/// step and the after-photos. Nothing before the close: an after-photo of a handling that then
/// fails its check (返工) is not the result.
pub(crate) async fn closing_feedback(
    state: &AppState,
    case: &CaseRecord,
) -> Result<(Option<String>, Vec<PhotoView>), ApiError> {
    if case.status != crate::domain::case::Status::Closed {
        return Ok((None, Vec::new()));
    }
    let events = state
        .store()
        .list_events(&crate::store::EventFilter {
            entity_type: Some("case".into()),
            entity_id: Some(case.id.to_string()),
            before_id: None,
            limit: 1000,
        })
        .await?;
    let note = events
        .iter()
        .find(|e| e.action == "case.close")
        .and_then(|e| e.detail.get("note"))
        .and_then(|n| n.as_str())
        .map(str::to_owned);
    let photos = photo_views(state, case.id)
        .await?
        .into_iter()
        .filter(|p| p.stage == PhotoStage::After)
        .collect();
    Ok((note, photos))
}
