//! The working calendar's holiday table: what it covers (`GET /api/calendar`, and the `calendar`
//! object of `/healthz`) and loading a year at run time (`PUT /api/calendar/years/{year}`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::AppState;
use super::auth::{AdminOnly, Auth};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, RequestId};
use crate::domain::calendar::{WorkCalendar, YearTable};

/// What the holiday table covers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CalendarCoverage {
    /// The last day with holiday data (`YYYY-MM-DD`); deadlines after it count weekends only and
    /// carry `deadline_without_holidays: true`. Null for a city calendar of its own.
    #[schema(value_type = Option<String>)]
    pub known_until: Option<chrono::NaiveDate>,
    /// The years of the national table, each with the notice it comes from.
    pub years: Vec<CalendarYear>,
    /// Set from 60 days before `known_until`: what runs out and how to load the next year.
    pub warning: Option<String>,
}

/// One year of the national table.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CalendarYear {
    /// Year.
    pub year: i32,
    /// The State Council notice the days come from.
    pub source: String,
}

/// The coverage of a calendar today (local date).
pub fn coverage(calendar: &WorkCalendar) -> CalendarCoverage {
    let today = chrono::Utc::now()
        .with_timezone(&calendar.zone)
        .date_naive();
    let c = calendar.coverage(today);
    CalendarCoverage {
        known_until: c.known_until,
        years: calendar
            .national_years()
            .map(|t| CalendarYear {
                year: t.year,
                source: t.source.clone(),
            })
            .collect(),
        warning: c.warning,
    }
}

/// What the holiday table covers (public).
#[utoipa::path(get, path = "/api/calendar", tag = "cases",
    responses((status = 200, body = CalendarCoverage)))]
pub async fn get_calendar(State(state): State<AppState>) -> Json<CalendarCoverage> {
    Json(coverage(&state.calendar()))
}

fn invalid_calendar(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_calendar",
        message,
    )
}

/// Loads one year of the national holiday table (admin): the body is a `calendar/cn-YYYY.json`
/// file. It replaces that year's built-in or stored table, is stored (and audited as
/// `calendar.year_loaded`), and counts for every deadline computed from now on.
#[utoipa::path(put, path = "/api/calendar/years/{year}", tag = "cases", security(("bearer" = [])),
    params(("year" = i32, Path, description = "the year, as in the body")),
    request_body(content = Object, description = "one year: {region, year, source, holidays, workdays}"),
    responses((status = 200, body = CalendarCoverage), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn put_year(
    State(state): State<AppState>,
    req_id: RequestId,
    auth: Auth<AdminOnly>,
    ApiPath(year): ApiPath<i32>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<CalendarCoverage>, ApiError> {
    let table = YearTable::parse(&body.to_string()).map_err(|e| invalid_calendar(e.0))?;
    if table.year != year {
        return Err(invalid_calendar(format!(
            "the body is the table of {}, the path names {year}",
            table.year
        )));
    }
    // Checked against the running calendar before anything is stored.
    state
        .calendar()
        .with_year(table.clone())
        .map_err(|e| invalid_calendar(e.0))?;
    state
        .store()
        .put_calendar_year(&table, &req_id.audit(&auth.principal))
        .await?;
    let calendar = state
        .cases()
        .load_calendar_year(&table)
        .map_err(|e| invalid_calendar(e.0))?;
    tracing::info!(year, source = %table.source, "holiday table loaded");
    Ok(Json(coverage(&calendar)))
}
