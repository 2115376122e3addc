//! Open311 GeoReport v2 (<https://wiki.open311.org/GeoReport_v2>) under `/open311/v2/`: the
//! category catalogue as services, cases as service requests, the mySociety
//! `servicerequestupdates` extension, and the geographic extensions (`lat`/`long`/`radius`,
//! `bbox`) that clients ask for. Every path carries its format as a suffix (`.json` / `.xml`);
//! the route takes the whole last segment and [`format::Format::split`] parses it, so any other
//! suffix is a clean 404 in the Open311 error shape. See docs/open311.md.
//!
//! Only public fields leave: never the reporter's contact, internal notes or staff names, and
//! never a voided (作废) case.

pub mod errors;
pub mod format;
pub mod keys;
pub mod openapi;
pub mod read;
pub mod write;

use axum::Router;
use axum::routing::get;
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};

use super::AppState;
use crate::cases::CaseError;
use errors::Open311Error;
use format::Format;

/// The Open311 routes (public; `POST requests` checks its `api_key` itself).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/open311/v2/{file}",
            get(read::top).post(write::post_request),
        )
        .route("/open311/v2/services/{file}", get(read::service_definition))
        .route("/open311/v2/requests/{file}", get(read::one_request))
        .route("/open311/v2/tokens/{file}", get(write::token))
}

/// Beijing time: the offset every date is written with (the spec wants W3C dates with an
/// offset; a city's clients read local time).
fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// A W3C datetime with the +08:00 offset, e.g. `2026-05-01T09:30:00+08:00`.
pub fn w3c(t: DateTime<Utc>) -> String {
    t.with_timezone(&beijing())
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Parses a W3C datetime (`2026-05-01T09:30:00+08:00`, `…Z`) or a date (`2026-05-01`, the start
/// of that day in Beijing time).
pub fn parse_w3c(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    d.and_hms_opt(0, 0, 0)?
        .and_local_timezone(beijing())
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// A case service error in the Open311 shape.
fn case_error(format: Format, e: CaseError) -> Open311Error {
    let api: super::error::ApiError = e.into();
    // The JSON API answers an unusable field with 422; the spec knows 400 for that.
    let status = if api.status == axum::http::StatusCode::UNPROCESSABLE_ENTITY {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        api.status
    };
    Open311Error::new(status, format, api.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_in_beijing_time_and_read_with_any_offset() {
        let t = parse_w3c("2026-05-01T01:30:00Z").unwrap();
        assert_eq!(w3c(t), "2026-05-01T09:30:00+08:00");
        assert_eq!(parse_w3c("2026-05-01T09:30:00+08:00"), Some(t));
        assert_eq!(
            w3c(parse_w3c("2026-05-01").unwrap()),
            "2026-05-01T00:00:00+08:00"
        );
        assert_eq!(parse_w3c("yesterday"), None);
        assert_eq!(parse_w3c("2026-13-01"), None);
    }
}
