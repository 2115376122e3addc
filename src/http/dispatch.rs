//! The dispatch rule table (派遣规则) over HTTP: what is in force and how it fares against the
//! city (`GET /api/dispatch/rules`), and loading a new version (`PUT /api/dispatch/rules`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::{AdminOnly, Auth, Staff};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiQuery, RequestId};
use crate::domain::dispatch::RuleTable;

/// Options of a load.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RulesQuery {
    /// Check only; store nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Store the table despite warnings (errors always refuse).
    #[serde(default)]
    pub accept_warnings: bool,
}

/// The table in force (`origin`: built_in, file or stored; `version` when stored), and its check
/// against the city as it is now (`report`): a unit removed since it was loaded shows here.
#[utoipa::path(get, path = "/api/dispatch/rules", tag = "cases", security(("bearer" = [])),
    responses((status = 200, description = "{origin, version, loaded_at, loaded_by, table, report}"),
        (status = 401, body = ErrorBody)))]
pub async fn get_rules(
    State(state): State<AppState>,
    _auth: Auth<Staff>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let in_force = state.cases().rules();
    let city = crate::cases::rules::rule_context(state.store()).await?;
    let report = in_force.table.check_against(&city);
    let mut body = serde_json::to_value(&*in_force).map_err(ApiError::internal)?;
    body["report"] = serde_json::to_value(&report).map_err(ApiError::internal)?;
    Ok(Json(body))
}

/// Loads a dispatch rule table (admin): checked against the city's units, categories and
/// districts, stored as the next version (audited as `dispatch.rules_loaded`) and in force for
/// every case routed from now on. A table with errors, or with warnings unless
/// `accept_warnings=true`, is refused with its report and nothing changes.
#[utoipa::path(put, path = "/api/dispatch/rules", tag = "cases", security(("bearer" = [])),
    params(RulesQuery),
    request_body(content = Object, description = "{triage_department, source?, rules: [{id, name, when?, then}]} (see docs/dispatch.md)"),
    responses((status = 200, description = "stored and in force, or a dry run that passed: {refused, dry_run, report, in_force}"),
        (status = 422, description = "invalid_dispatch_rules (the table is malformed) or dispatch_rules_refused (with the report)", body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn put_rules(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiQuery(q): ApiQuery<RulesQuery>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    let table = RuleTable::from_json(&body.to_string()).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_dispatch_rules",
            e.0,
        )
    })?;
    let load = state
        .cases()
        .load_rules(
            table,
            q.dry_run,
            q.accept_warnings,
            &req_id.audit(&auth.principal),
        )
        .await?;
    let mut body = serde_json::to_value(&load).map_err(ApiError::internal)?;
    if load.refused {
        body["code"] = json!("dispatch_rules_refused");
        body["message"] = json!(format!(
            "派遣规则被拒绝。The dispatch rules were refused: {} errors, {} warnings{}; nothing was stored",
            load.report.errors,
            load.report.warnings,
            if load.report.errors == 0 {
                " (pass accept_warnings=true to accept warnings)"
            } else {
                ""
            }
        ));
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
    }
    if !load.dry_run {
        tracing::info!(version = ?load.in_force.version, "dispatch rule table loaded");
    }
    Ok(Json(body).into_response())
}
