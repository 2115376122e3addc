//! Administration: users, responsible units, and the audit log.

use std::collections::BTreeSet;
use std::str::FromStr;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::{AdminOnly, AdminOrHandler, Auth, Staff};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, RequestId};
use super::limits;
use crate::domain::codes::{AdminCode, CodeLevel};
use crate::domain::identity::Role;
use crate::domain::unit::{ResponsibleUnit, UnitKind};
use crate::security;
use crate::store::{EventFilter, EventRecord, NewUser, UserRecord};

/// A user as listed to admins.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserSummary {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: String,
    /// Responsible unit (handlers).
    pub unit_code: Option<String>,
    /// Seeded demo account.
    pub is_demo: bool,
    /// Disabled.
    pub disabled: bool,
}

impl From<UserRecord> for UserSummary {
    fn from(u: UserRecord) -> Self {
        Self {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            role: u.role.to_string(),
            unit_code: u.unit_code,
            is_demo: u.is_demo,
            disabled: u.disabled,
        }
    }
}

/// Lists all users (admin).
#[utoipa::path(get, path = "/api/users", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [UserSummary]), (status = 403, body = ErrorBody)))]
pub async fn list_users(
    State(state): State<AppState>,
    _auth: Auth<AdminOnly>,
) -> Result<Json<Vec<UserSummary>>, ApiError> {
    let users = state.store().list_users().await?;
    Ok(Json(users.into_iter().map(UserSummary::from).collect()))
}

/// A user to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Login name: 3–64 characters of a–z, 0–9, `_`, `.`, `-`.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role: inspector, intake_clerk, shift_lead, dispatcher, handler, planner, admin.
    pub role: String,
    /// Password: 10–256 characters, at least 5 different ones, not containing the username.
    pub password: String,
    /// Responsible unit; required for handlers.
    pub unit_code: Option<String>,
    /// Patrolled unit grids (15-digit codes); inspectors only.
    #[serde(default)]
    pub grids: Vec<String>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
}

fn parse_grids(grids: &[String]) -> Result<BTreeSet<String>, ApiError> {
    grids
        .iter()
        .map(|g| {
            AdminCode::parse(g, CodeLevel::Grid)
                .map(|c| c.to_string())
                .map_err(|e| invalid(e.to_string()))
        })
        .collect()
}

/// Creates a user (admin).
#[utoipa::path(post, path = "/api/users", tag = "admin", security(("bearer" = [])), request_body = CreateUser,
    responses((status = 201, body = UserSummary), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_user(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<UserSummary>), ApiError> {
    let username = crate::domain::identity::parse_username(&body.username).map_err(invalid)?;
    if body.display_name.trim().is_empty() {
        return Err(invalid("display_name must not be empty"));
    }
    let role = Role::from_str(&body.role).map_err(|e| invalid(e.to_string()))?;
    crate::domain::identity::check_password(&body.password, &username, crate::demo::DEMO_PASSWORD)
        .map_err(invalid)?;
    match (role, &body.unit_code) {
        (Role::Handler, None) => {
            return Err(invalid(
                "a handler must name the responsible unit (unit_code) they act for",
            ));
        }
        (Role::Handler, Some(_)) | (_, None) => {}
        (_, Some(_)) => return Err(invalid("only handlers act for a responsible unit")),
    }
    if role != Role::Inspector && !body.grids.is_empty() {
        return Err(invalid("only inspectors patrol grids"));
    }
    let grids = parse_grids(&body.grids)?;
    let password = body.password;
    let password_hash = tokio::task::spawn_blocking(move || security::hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let user = state
        .store()
        .create_user(
            &NewUser {
                username,
                display_name: body.display_name.trim().to_owned(),
                role,
                unit_code: body.unit_code,
                password_hash,
                is_demo: false,
                grids: grids.into_iter().collect(),
            },
            &req_id.audit(&auth.principal),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// The grids an inspector patrols.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetGrids {
    /// Grid codes.
    pub grids: Vec<String>,
}

/// Replaces the grids an inspector patrols (admin).
#[utoipa::path(put, path = "/api/users/{id}/grids", tag = "admin", security(("bearer" = [])), request_body = SetGrids,
    params(("id" = i64, Path, description = "user id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_user_grids(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SetGrids>,
) -> Result<StatusCode, ApiError> {
    let grids = parse_grids(&body.grids)?;
    state
        .store()
        .set_user_grids(id, &grids, &req_id.audit(&auth.principal))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many tokens were revoked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Revoked {
    /// Number of live tokens revoked.
    pub revoked: u64,
}

/// Revokes every live token of a user, e.g. a lost phone (admin).
#[utoipa::path(post, path = "/api/users/{id}/revoke-tokens", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path, description = "user id")),
    responses((status = 200, body = Revoked), (status = 404, body = ErrorBody)))]
pub async fn revoke_user_tokens(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Revoked>, ApiError> {
    let revoked = state
        .store()
        .revoke_user_tokens(id, &req_id.audit(&auth.principal))
        .await?;
    Ok(Json(Revoked { revoked }))
}

/// A responsible unit on the wire.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitView {
    /// Stable code.
    pub code: String,
    /// Name.
    pub name: String,
    /// department, street_office, community_committee, shop, organisation.
    pub kind: String,
    /// Parent unit.
    pub parent_code: Option<String>,
}

impl From<ResponsibleUnit> for UnitView {
    fn from(u: ResponsibleUnit) -> Self {
        Self {
            code: u.code,
            name: u.name,
            kind: u.kind.as_str().to_owned(),
            parent_code: u.parent_code,
        }
    }
}

/// Paging and filter of the unit list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnitQuery {
    /// Only this kind.
    pub kind: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// Rows to skip, 0–1000000 (default 0).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 1000000)]
    pub offset: Option<String>,
}

/// Lists responsible units (any authenticated user).
#[utoipa::path(get, path = "/api/units", tag = "units", security(("bearer" = [])), params(UnitQuery),
    responses((status = 200, body = [UnitView])))]
pub async fn list_units(
    State(state): State<AppState>,
    _auth: Auth<Staff>,
    ApiQuery(q): ApiQuery<UnitQuery>,
) -> Result<Json<Vec<UnitView>>, ApiError> {
    let kind = q
        .kind
        .as_deref()
        .map(UnitKind::from_str)
        .transpose()
        .map_err(|e| super::params::invalid(e.to_string()))?;
    let units = state
        .store()
        .list_units(
            kind,
            limits::LIMIT.parse(q.limit.as_deref(), 100)?,
            limits::OFFSET.parse(q.offset.as_deref(), 0)?,
        )
        .await?;
    Ok(Json(units.into_iter().map(UnitView::from).collect()))
}

/// Creates or updates a responsible unit (admin).
#[utoipa::path(post, path = "/api/units", tag = "units", security(("bearer" = [])), request_body = UnitView,
    responses((status = 200, body = UnitView), (status = 422, body = ErrorBody)))]
pub async fn upsert_unit(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiJson(body): ApiJson<UnitView>,
) -> Result<Json<UnitView>, ApiError> {
    let code = body.code.trim();
    if code.is_empty() || code.len() > 64 || !code.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "code must be 1–64 printable ASCII characters without spaces",
        ));
    }
    if body.name.trim().is_empty() {
        return Err(invalid("name must not be empty"));
    }
    let unit = ResponsibleUnit {
        code: code.to_owned(),
        name: body.name.trim().to_owned(),
        kind: UnitKind::from_str(&body.kind).map_err(|e| invalid(e.to_string()))?,
        parent_code: body.parent_code.filter(|p| !p.is_empty()),
    };
    if let Some(parent) = &unit.parent_code
        && state.store().get_unit(parent).await?.is_none()
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_reference",
            format!("上级单位不存在。The parent unit {parent:?} does not exist; create it first."),
        ));
    }
    state
        .store()
        .upsert_units(std::slice::from_ref(&unit), &req_id.audit(&auth.principal))
        .await?;
    Ok(Json(unit.into()))
}

/// One responsible unit, public: the name of a department, street office, committee or shop is
/// the name on its door and on the public shop page, and the map page shows it to every visitor
/// instead of a bare code. The list of units and their people stay staff-only.
#[utoipa::path(get, path = "/api/units/{code}", tag = "units",
    params(("code" = String, Path, description = "unit code")),
    responses((status = 200, body = UnitView), (status = 404, body = ErrorBody)))]
pub async fn get_unit(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<UnitView>, ApiError> {
    state
        .store()
        .get_unit(&code)
        .await?
        .map(|u| Json(u.into()))
        .ok_or_else(|| ApiError::not_found(format!("responsible unit {code} does not exist")))
}

/// The people acting for a unit: admins see every unit, a handler only their own.
#[utoipa::path(get, path = "/api/units/{code}/users", tag = "units", security(("bearer" = [])),
    params(("code" = String, Path, description = "unit code")),
    responses((status = 200, body = [UserSummary]), (status = 403, body = ErrorBody)))]
pub async fn unit_users(
    State(state): State<AppState>,
    auth: Auth<AdminOrHandler>,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<Vec<UserSummary>>, ApiError> {
    auth.principal.require_unit(&code)?;
    let users = state.store().users_of_unit(&code).await?;
    Ok(Json(users.into_iter().map(UserSummary::from).collect()))
}

/// Filter of the audit log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Entity type, e.g. `user`, `layer`.
    pub entity_type: Option<String>,
    /// Entity id.
    pub entity_id: Option<String>,
    /// Only events older than this id (paging), at least 1.
    #[param(value_type = Option<i64>, minimum = 1)]
    pub before_id: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

/// An audit event on the wire.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    /// Sequence number.
    pub id: i64,
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Acting user id.
    pub actor_id: Option<i64>,
    /// Acting user name.
    pub actor_name: Option<String>,
    /// What happened.
    pub action: String,
    /// Kind of thing.
    pub entity_type: String,
    /// Which thing.
    pub entity_id: String,
    /// Request id.
    pub request_id: Option<String>,
    /// Details (before/after).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<EventRecord> for EventView {
    fn from(e: EventRecord) -> Self {
        Self {
            id: e.id,
            at: e.at,
            actor_id: e.actor_id,
            actor_name: e.actor_name,
            action: e.action,
            entity_type: e.entity_type,
            entity_id: e.entity_id,
            request_id: e.request_id,
            detail: e.detail,
        }
    }
}

/// The append-only audit log, newest first (admin).
#[utoipa::path(get, path = "/api/events", tag = "admin", security(("bearer" = [])), params(EventQuery),
    responses((status = 200, body = [EventView])))]
pub async fn list_events(
    State(state): State<AppState>,
    _auth: Auth<AdminOnly>,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Json<Vec<EventView>>, ApiError> {
    let events = state
        .store()
        .list_events(&EventFilter {
            entity_type: q.entity_type,
            entity_id: q.entity_id,
            before_id: q
                .before_id
                .as_deref()
                .map(|t| limits::BEFORE_ID.parse(Some(t), 0))
                .transpose()?,
            limit: limits::LIMIT.parse(q.limit.as_deref(), 100)?,
        })
        .await?;
    Ok(Json(events.into_iter().map(EventView::from).collect()))
}
