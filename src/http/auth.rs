//! Login, logout, and the one extractor that checks identity and role on every protected
//! endpoint: [`Auth<P>`], where the policy `P` names the roles allowed.

use std::marker::PhantomData;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, RequestId};
use crate::domain::identity::{Principal, Role};
use crate::security;
use crate::store::Audit;

/// A set of roles allowed to call an endpoint.
pub trait Policy: Send + Sync + 'static {
    /// The allowed roles.
    const ROLES: &'static [Role];
}

/// Every authenticated user, volunteers included: only for what concerns the caller's own
/// account (who am I, log out). Anything that shows the city's data takes [`Staff`] or a
/// narrower policy.
pub struct AnyRole;
impl Policy for AnyRole {
    const ROLES: &'static [Role] = &Role::ALL;
}

/// Every staff role ([`Role::STAFF`]): all but volunteers, who see their own reports through
/// `/api/volunteer/…` and nothing else.
pub struct Staff;
impl Policy for Staff {
    const ROLES: &'static [Role] = &Role::STAFF;
}

/// Administrators only.
pub struct AdminOnly;
impl Policy for AdminOnly {
    const ROLES: &'static [Role] = &[Role::Admin];
}

/// Administrators and handlers (a handler then only within their unit).
pub struct AdminOrHandler;
impl Policy for AdminOrHandler {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Handler];
}

/// An authenticated principal whose role is allowed by `P`. Rejects with 401 (no, bad, expired,
/// revoked token; disabled or refused demo account) or 403 (role not in `P`).
pub struct Auth<P: Policy> {
    /// Who is calling.
    pub principal: Principal,
    /// The hash of the bearer token used (for logout).
    pub token_hash: String,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
    _policy: PhantomData<P>,
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing_token",
                "请先登录。Log in and send Authorization: Bearer <token>.",
            )
        })?
        .to_str()
        .map_err(|_| {
            ApiError::unauthorized("invalid_token", "the Authorization header is not text")
        })?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::unauthorized(
            "invalid_token",
            "the Authorization header must be `Bearer <token>`",
        )),
    }
}

impl<P: Policy> FromRequestParts<AppState> for Auth<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(state, bearer(parts)?).await
    }
}

/// Like [`Auth<P>`], but also accepts the token as `?access_token=` when no Authorization header
/// is sent. Only for the event stream: a browser's `EventSource` cannot set headers. Every other
/// endpoint keeps [`Auth<P>`], so a token in a URL (which ends up in histories and proxy logs)
/// opens nothing else; the request log redacts it (see [`redact_access_token`]).
pub struct HeaderOrQueryAuth<P: Policy>(pub Auth<P>);

impl<P: Policy> FromRequestParts<AppState> for HeaderOrQueryAuth<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if parts.headers.contains_key(AUTHORIZATION) {
            return Ok(Self(authenticate(state, bearer(parts)?).await?));
        }
        let token = parts.uri.query().and_then(|q| {
            q.split('&').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                (k == "access_token" && !v.is_empty()).then_some(v)
            })
        });
        match token {
            // Tokens are `wg_` + hex: URL-safe, so no percent-decoding is needed; anything else
            // simply is not a known token.
            Some(t) => Ok(Self(authenticate(state, t).await?)),
            None => Err(ApiError::unauthorized(
                "missing_token",
                "请先登录。Send Authorization: Bearer <token>, or ?access_token=<token> for EventSource.",
            )),
        }
    }
}

/// The URI as logged: the value of an `access_token` query parameter replaced by `REDACTED`.
pub fn redact_access_token(uri: &axum::http::Uri) -> std::borrow::Cow<'_, str> {
    let Some(q) = uri.query().filter(|q| q.contains("access_token=")) else {
        return std::borrow::Cow::Owned(uri.to_string());
    };
    let redacted: Vec<String> = q
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("access_token", _)) => "access_token=REDACTED".to_owned(),
            _ => pair.to_owned(),
        })
        .collect();
    std::borrow::Cow::Owned(format!("{}?{}", uri.path(), redacted.join("&")))
}

async fn authenticate<P: Policy>(state: &AppState, token: &str) -> Result<Auth<P>, ApiError> {
    let token_hash = security::token_hash(token);
    let lookup = check_token(state, &token_hash).await?;
    if lookup.principal.role == Role::Admin {
        state.operators().remember(&token_hash, lookup.expires_at);
    }
    lookup.principal.require_role(P::ROLES)?;
    Ok(Auth {
        principal: lookup.principal,
        token_hash,
        expires_at: lookup.expires_at,
        _policy: PhantomData,
    })
}

/// Whether a token (by its hash) is still good: known, not revoked, not expired, its account
/// enabled (and a demo account accepted). Long-lived responses (the case stream) call it again.
pub(crate) async fn check_token(
    state: &AppState,
    token_hash: &str,
) -> Result<crate::store::TokenLookup, ApiError> {
    let lookup = state
        .store()
        .lookup_token(token_hash)
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized("invalid_token", "this token is not known; log in again")
        })?;
    if lookup.revoked_at.is_some() {
        return Err(ApiError::unauthorized(
            "token_revoked",
            "this token was revoked; log in again",
        ));
    }
    if lookup.expires_at <= Utc::now() {
        return Err(ApiError::unauthorized(
            "token_expired",
            "this token has expired; log in again",
        ));
    }
    if lookup.disabled {
        return Err(ApiError::unauthorized(
            "account_disabled",
            "this account is disabled",
        ));
    }
    if lookup.is_demo && !state.settings().allow_demo_logins {
        return Err(demo_refused());
    }
    Ok(lookup)
}

fn demo_refused() -> ApiError {
    ApiError::unauthorized(
        "demo_credentials_refused",
        "demo accounts are refused on a non-loopback address; start with --allow-demo-users to accept them",
    )
}

/// Login request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A user as seen by itself and by admins.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role: inspector, intake_clerk, shift_lead, dispatcher, handler, planner, admin.
    #[schema(value_type = String)]
    pub role: Role,
    /// Role in Chinese.
    pub role_zh: String,
    /// Responsible unit (handlers).
    pub unit_code: Option<String>,
    /// Patrolled grids (inspectors).
    pub grids: Vec<String>,
}

impl From<&Principal> for UserView {
    fn from(p: &Principal) -> Self {
        Self {
            id: p.user_id,
            username: p.username.clone(),
            display_name: p.display_name.clone(),
            role: p.role,
            role_zh: p.role.label_zh().to_owned(),
            unit_code: p.unit_code.clone(),
            grids: p.grids.iter().cloned().collect(),
        }
    }
}

/// Login answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// The bearer token; shown only here.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// Who logged in.
    pub user: UserView,
}

/// Logs in with name and password; answers a bearer token. Throttled: after
/// `WANGGE_LOGIN_MAX_FAILURES` failures of an account (or `WANGGE_LOGIN_MAX_FAILURES_PER_ADDRESS`
/// from one address) within the window, every attempt — even with the right password — gets 429
/// `too_many_login_attempts` with `Retry-After` until the lock passes; each further lock doubles.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody),
        (status = 429, description = "too_many_login_attempts (with Retry-After, seconds)", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    client: super::throttle::ClientAddr,
    req_id: RequestId,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, Response> {
    let attempt = state
        .limiter()
        .login_begin(&body.username, client.0)
        .map_err(IntoResponse::into_response)?;
    let found = state
        .store()
        .find_login(&body.username)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let phc = found
        .as_ref()
        .map_or_else(|| security::dummy_hash().to_owned(), |(_, h)| h.clone());
    let password = body.password;
    // argon2 costs tens of milliseconds of CPU: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || security::verify_password(&password, &phc))
        .await
        .map_err(|e| ApiError::internal(e).into_response())?;
    let (user, _) = match found {
        Some(f) if ok => f,
        _ => {
            return Err(ApiError::unauthorized(
                "invalid_credentials",
                "用户名或密码错误。Wrong username or password.",
            )
            .into_response());
        }
    };
    state.limiter().login_succeeded(attempt);
    issue_token(&state, req_id, user)
        .await
        .map_err(IntoResponse::into_response)
}

async fn issue_token(
    state: &AppState,
    req_id: RequestId,
    user: crate::store::UserRecord,
) -> Result<Json<LoginResponse>, ApiError> {
    if user.disabled {
        return Err(ApiError::unauthorized(
            "account_disabled",
            "this account is disabled",
        ));
    }
    if user.is_demo && !state.settings().allow_demo_logins {
        return Err(demo_refused());
    }
    let token = security::new_token();
    let expires_at = Utc::now() + state.settings().token_ttl;
    let audit = Audit {
        actor_id: Some(user.id),
        actor_name: Some(user.username.clone()),
        request_id: req_id.0,
        at: None,
    };
    state
        .store()
        .insert_token(user.id, &security::token_hash(&token), expires_at, &audit)
        .await?;
    let lookup = state
        .store()
        .lookup_token(&security::token_hash(&token))
        .await?
        .ok_or_else(|| ApiError::internal("token vanished right after insert"))?;
    if user.role == Role::Admin {
        state
            .operators()
            .remember(&security::token_hash(&token), expires_at);
    }
    Ok(Json(LoginResponse {
        token,
        token_type: "Bearer",
        expires_at,
        user: UserView::from(&lookup.principal),
    }))
}

/// Revokes the token used for this request.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AnyRole>,
) -> Result<StatusCode, ApiError> {
    state.operators().forget(&auth.token_hash);
    state
        .store()
        .revoke_token(&auth.token_hash, &req_id.audit(&auth.principal))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who am I: the caller's identity, role and scope.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
pub async fn me(auth: Auth<AnyRole>) -> Json<UserView> {
    Json(UserView::from(&auth.principal))
}
