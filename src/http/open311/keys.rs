//! The applications' api keys (admin): issue, list, revoke; and the per-key rate limit a POST
//! passes. A key is shown once, when issued; the store keeps its SHA-256.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::http::AppState;
use crate::http::auth::{AdminOnly, Auth};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, RequestId};
use crate::store::Open311Key;

/// A key as admins see it (never the key itself, except in the answer that issues it).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    /// Id.
    pub id: i64,
    /// The application's name.
    pub name: String,
    /// Requests it may POST per minute.
    pub per_minute: i64,
    /// When issued.
    pub created_at: DateTime<Utc>,
    /// When revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The key, shown only in the answer that issues it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

impl From<Open311Key> for KeyView {
    fn from(k: Open311Key) -> Self {
        Self {
            id: k.id,
            name: k.name,
            per_minute: k.per_minute,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
            api_key: None,
        }
    }
}

/// A key to issue.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// The application's name, 1–100 characters.
    pub name: String,
    /// Requests it may POST per minute, 1–10000 (default 60).
    pub per_minute: Option<i64>,
}

/// Issues an api key to an application (admin). The key is in this answer only.
#[utoipa::path(post, path = "/api/open311/keys", tag = "open311", security(("bearer" = [])), request_body = NewKey,
    responses((status = 201, body = KeyView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_key(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiJson(body): ApiJson<NewKey>,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    let (stored, key) = crate::open311::issue_key(
        state.store(),
        &body.name,
        body.per_minute,
        &req_id.audit(&auth.principal),
    )
    .await
    .map_err(|e| match e {
        crate::open311::KeyError::Invalid(m) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", m)
        }
        crate::open311::KeyError::Store(e) => e.into(),
    })?;
    let mut view = KeyView::from(stored);
    view.api_key = Some(key);
    Ok((StatusCode::CREATED, Json(view)))
}

/// Every api key, newest first (admin).
#[utoipa::path(get, path = "/api/open311/keys", tag = "open311", security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>, description = "[KeyView]"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_keys(
    State(state): State<AppState>,
    _auth: Auth<AdminOnly>,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    let keys = state.store().list_open311_keys().await?;
    Ok(Json(keys.into_iter().map(KeyView::from).collect()))
}

/// Revokes an api key (admin): its requests are refused with 403 from now on.
#[utoipa::path(post, path = "/api/open311/keys/{id}/revoke", tag = "open311", security(("bearer" = [])),
    params(("id" = i64, Path, description = "key id")),
    responses((status = 200, body = KeyView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_key(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<KeyView>, ApiError> {
    let key = state
        .store()
        .revoke_open311_key(id, &req_id.audit(&auth.principal))
        .await?;
    Ok(Json(key.into()))
}

/// Counts one POST of a key in the current minute; `Err(seconds to wait)` past its limit. A
/// fixed one-minute window per key, counted in the database (replicas share the quota).
pub async fn take(
    state: &AppState,
    key: &Open311Key,
    now: DateTime<Utc>,
) -> Result<Result<(), u64>, ApiError> {
    let minute = now.timestamp().div_euclid(60);
    if state
        .store()
        .take_open311_quota(key.id, minute, key.per_minute)
        .await?
    {
        Ok(Ok(()))
    } else {
        Ok(Err(60 - now.timestamp().rem_euclid(60) as u64))
    }
}
