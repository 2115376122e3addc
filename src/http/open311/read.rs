//! The read side: discovery, services, service definitions, requests (with the geographic
//! extensions) and the mySociety `servicerequestupdates`. Public, no key: the spec asks an
//! `api_key` only of writes.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::errors::Open311Error;
use super::format::{Document, Format};
use super::{case_error, parse_w3c, w3c};
use crate::cases::{PublicArea, PublicCase, PublicQuery};
use crate::domain::case::Status;
use crate::domain::catalogue::Category;
use crate::http::AppState;

/// The default window of `GET requests` when no `start_date` is given (the spec's suggestion).
pub const DEFAULT_WINDOW_DAYS: i64 = 90;
/// The longest `start_date`…`end_date` window of `GET requests` and `servicerequestupdates`.
pub const MAX_WINDOW_DAYS: i64 = 366;
/// `page_size` range and default of `GET requests`.
pub const PAGE_SIZE: (i64, i64, i64) = (1, 200, 50);
/// Highest `page`.
pub const MAX_PAGE: i64 = 1000;
/// `radius` range (m) and default when `lat`/`long` are given.
pub const RADIUS_M: (f64, f64, f64) = (1.0, 5000.0, 500.0);
/// The widest `bbox` side, degrees (about 110 km north–south): wider boxes are a city-wide
/// export, which the staff API serves.
pub const MAX_BBOX_DEG: f64 = 1.0;
/// The most `service_request_id`s in one query.
pub const MAX_IDS: usize = 50;
/// `limit` range and default of `servicerequestupdates`.
pub const UPDATES_LIMIT: (i64, i64, i64) = (1, 1000, 200);
/// The default window of `servicerequestupdates` without a `start_date`.
const UPDATES_DEFAULT_HOURS: i64 = 24;

/// The 门前三包 shop types of the frontage layer (`shop_type`), with the names people use.
pub const SHOP_TYPES: &[(&str, &str)] = &[
    ("restaurant", "餐饮"),
    ("retail", "零售"),
    ("market_stall", "摊点"),
    ("auto_repair", "汽修"),
    ("hotel", "宾馆"),
    ("office", "办公"),
    ("school", "学校"),
    ("hospital", "医院"),
];

/// Query parameters: last value wins; unknown ones (`jurisdiction_id`, `api_key`) are ignored,
/// as clients send them everywhere.
pub(super) struct Params(HashMap<String, String>);

impl Params {
    pub(super) fn from_uri(uri: &Uri, format: Format) -> Result<Self, Open311Error> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri).map_err(|e| {
            Open311Error::bad_request(
                format,
                format!("查询参数无法解析 / the query string is not understood: {e}"),
            )
        })?;
        Ok(Self(pairs.into_iter().collect()))
    }

    pub(super) fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self(pairs.into_iter().collect())
    }

    /// A non-empty value.
    pub(super) fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    pub(super) fn float(&self, k: &str, f: Format) -> Result<Option<f64>, Open311Error> {
        self.get(k)
            .map(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| {
                        Open311Error::bad_request(
                            f,
                            format!("{k} 须为数字 / {k} must be a number, got {v:?}"),
                        )
                    })
            })
            .transpose()
    }

    fn int(
        &self,
        k: &str,
        (lo, hi, default): (i64, i64, i64),
        f: Format,
    ) -> Result<i64, Open311Error> {
        let Some(v) = self.get(k) else {
            return Ok(default);
        };
        v.parse::<i64>()
            .ok()
            .filter(|x| (lo..=hi).contains(x))
            .ok_or_else(|| {
                Open311Error::bad_request(
                    f,
                    format!(
                        "{k} 须为 {lo}–{hi} 的整数 / {k} must be an integer {lo}–{hi}, got {v:?}"
                    ),
                )
            })
    }

    fn date(&self, k: &str, f: Format) -> Result<Option<DateTime<Utc>>, Open311Error> {
        self.get(k)
            .map(|v| {
                parse_w3c(v).ok_or_else(|| {
                    Open311Error::bad_request(f, format!("{k} 须为 W3C 日期时间，如 2026-05-01T09:30:00+08:00 / {k} must be a W3C datetime such as 2026-05-01T09:30:00+08:00, got {v:?}"))
                })
            })
            .transpose()
    }

    /// `start_date`/`end_date` as a window: `end_date` defaults to now, `start_date` to
    /// `default_span` before it; at most [`MAX_WINDOW_DAYS`].
    fn window(
        &self,
        now: DateTime<Utc>,
        default_span: Duration,
        f: Format,
    ) -> Result<(DateTime<Utc>, DateTime<Utc>), Open311Error> {
        let end = self.date("end_date", f)?;
        let start = self.date("start_date", f)?;
        let (start, end) = match (start, end) {
            (Some(s), Some(e)) => (s, e),
            (Some(s), None) => (s, now.max(s)),
            (None, Some(e)) => (e - default_span, e),
            (None, None) => (now - default_span, now),
        };
        if end < start {
            return Err(Open311Error::bad_request(
                f,
                "end_date 早于 start_date / end_date lies before start_date",
            ));
        }
        if end - start > Duration::days(MAX_WINDOW_DAYS) {
            return Err(Open311Error::bad_request(
                f,
                format!(
                    "start_date 与 end_date 相隔不得超过 {MAX_WINDOW_DAYS} 天 / the window between start_date and end_date may be at most {MAX_WINDOW_DAYS} days"
                ),
            ));
        }
        Ok((start, end))
    }
}

/// Where clients reach this service (`--public-url`, without a trailing slash), for the
/// discovery document and media URLs: never the request's `Host`, which a client chooses.
pub(super) fn origin(state: &AppState) -> String {
    state.settings().public_url.trim_end_matches('/').to_owned()
}

fn list(format: Format, root: &'static str, item: &'static str, value: Value) -> Response {
    Document {
        status: StatusCode::OK,
        format,
        root,
        item,
        value,
    }
    .into_response()
}

/// `GET /open311/v2/{discovery|services|requests|servicerequestupdates}.{json|xml}`.
pub async fn top(State(state): State<AppState>, Path(file): Path<String>, uri: Uri) -> Response {
    let Some((stem, format)) = Format::split(&file) else {
        return no_such_resource(Format::guess(&file)).into_response();
    };
    let answer = match stem {
        "discovery" => Ok(discovery(&state, format)),
        "services" => Ok(services(&state, format)),
        "requests" => requests(&state, format, &uri).await,
        "servicerequestupdates" => updates(&state, format, &uri).await,
        _ => Err(no_such_resource(format)),
    };
    answer.unwrap_or_else(IntoResponse::into_response)
}

pub(super) fn no_such_resource(format: Format) -> Open311Error {
    Open311Error::not_found(
        format,
        "没有这个 Open311 资源，见 /open311/v2/discovery.json / no such Open311 resource; see /open311/v2/discovery.json",
    )
}

/// The Service Discovery document.
fn discovery(state: &AppState, format: Format) -> Response {
    // The date this server's Open311 interface last changed in a way clients see.
    let changeset = "2026-12-02T00:00:00+08:00";
    let value = json!({
        "changeset": changeset,
        "contact": "网格化城市管理平台 / the city's grid management office",
        "key_service": "api_key 由城市管理员签发（POST /api/open311/keys）/ api keys are issued by the city's administrator",
        "endpoints": [{
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": format!("{}/open311/v2", origin(state)),
            "changeset": changeset,
            "type": "production",
            "formats": ["application/json", "text/xml"],
        }],
    });
    list(format, "discovery", "discovery", value)
}

fn service_json(c: &Category) -> Value {
    json!({
        "service_code": c.code,
        "service_name": c.name,
        "description": format!("{}（{}）立案条件：{}", c.name, match c.kind {
            crate::domain::catalogue::CategoryKind::Component => "部件",
            crate::domain::catalogue::CategoryKind::Event => "事件",
        }, c.register_condition),
        "metadata": has_attributes(c),
        "type": "realtime",
        "keywords": format!("{},{}", c.major_name, c.name),
        "group": c.major_name,
    })
}

/// Whether the category asks for attributes: a 门前三包 problem names the shop's type.
fn has_attributes(c: &Category) -> bool {
    c.frontage
}

fn services(state: &AppState, format: Format) -> Response {
    let catalogue = state.live().catalogue();
    let value: Vec<Value> = catalogue
        .list()
        .into_iter()
        .map(|(_, c)| service_json(c))
        .collect();
    list(format, "services", "service", Value::Array(value))
}

/// `GET /open311/v2/services/{service_code}.{json|xml}`: the service definition.
pub async fn service_definition(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Response {
    let Some((code, format)) = Format::split(&file) else {
        return no_such_resource(Format::guess(&file)).into_response();
    };
    let catalogue = state.live().catalogue();
    let Some((_, c)) = catalogue.current(code) else {
        return Open311Error::not_found(format, format!("没有服务代码 {code:?}，见 services.json / no service with code {code:?}; see services.json")).into_response();
    };
    let attributes: Vec<Value> = if has_attributes(c) {
        vec![json!({
            "variable": true,
            "code": "shop_type",
            "datatype": "singlevaluelist",
            "required": false,
            "datatype_description": "门前三包责任店铺的类型 / the type of the frontage shop responsible",
            "order": 1,
            "description": "店铺类型 / shop type",
            "values": SHOP_TYPES.iter().map(|(k, n)| json!({"key": k, "name": n})).collect::<Vec<_>>(),
        })]
    } else {
        Vec::new()
    };
    list(
        format,
        "service_definition",
        "service_definition",
        json!({ "service_code": c.code, "attributes": attributes }),
    )
}

/// Open or closed, as the spec knows only these two.
fn public_status(s: Status) -> &'static str {
    match s {
        Status::Closed => "closed",
        _ => "open",
    }
}

/// A request as the spec lists it; the service decided what is public.
pub(super) fn request_json(c: &PublicCase, origin: &str) -> Value {
    let notice = match &c.merged_into {
        Some(p) => format!(
            "案卷号 {}，已并入案卷 {p} / case {}, merged into {p}",
            c.case_no, c.case_no
        ),
        None => format!(
            "案卷号 {}，当前环节：{} / case {}, step: {}",
            c.case_no,
            c.status.label_zh(),
            c.case_no,
            c.status.as_str()
        ),
    };
    json!({
        "service_request_id": c.id.to_string(),
        "status": public_status(c.status),
        "status_notes": c.closing_note,
        "service_name": c.category_name,
        "service_code": c.category,
        "description": c.description,
        "agency_responsible": c.unit_name,
        "service_notice": notice,
        "requested_datetime": w3c(c.reported_at),
        "updated_datetime": w3c(c.updated_at),
        "expected_datetime": c.expected_at.map(w3c),
        "address": c.address,
        "address_id": Value::Null,
        "zipcode": Value::Null,
        "lat": c.lat,
        "long": c.lon,
        "media_url": c.photo.as_ref().map(|h| format!("{origin}/photos/{h}")),
    })
}

fn requests_list(f: Format, cases: &[PublicCase], origin: &str) -> Response {
    let out = cases.iter().map(|c| request_json(c, origin)).collect();
    list(f, "service_requests", "request", Value::Array(out))
}

/// The spatial part of a `GET requests` query: a circle (`lat`/`long`/`radius`) or a `bbox`.
fn parse_area(p: &Params, f: Format) -> Result<Option<PublicArea>, Open311Error> {
    let lat = p.float("lat", f)?;
    let lon = p.float("long", f)?;
    let radius = p.float("radius", f)?;
    if let Some(bbox) = p.get("bbox") {
        if lat.is_some() || lon.is_some() || radius.is_some() {
            return Err(Open311Error::bad_request(
                f,
                "bbox 与 lat/long/radius 只能二选一 / give either bbox or lat/long/radius, not both",
            ));
        }
        let bad = || {
            Open311Error::bad_request(
                f,
                format!(
                    "bbox 须为 WGS84 的 最小经度,最小纬度,最大经度,最大纬度，每边不超过 {MAX_BBOX_DEG}° / bbox must be minlon,minlat,maxlon,maxlat in WGS84 degrees, each side at most {MAX_BBOX_DEG}°, got {bbox:?}"
                ),
            )
        };
        let v: Vec<f64> = bbox
            .split(',')
            .map(|s| s.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
            .collect::<Option<_>>()
            .ok_or_else(bad)?;
        let [w, s, e, n] = v.as_slice() else {
            return Err(bad());
        };
        let ok = (-180.0..=180.0).contains(w)
            && (-180.0..=180.0).contains(e)
            && (-90.0..=90.0).contains(s)
            && (-90.0..=90.0).contains(n)
            && w < e
            && s < n
            && e - w <= MAX_BBOX_DEG
            && n - s <= MAX_BBOX_DEG;
        if !ok {
            return Err(bad());
        }
        return Ok(Some(PublicArea::Box([*w, *s, *e, *n])));
    }
    match (lat, lon) {
        (None, None) if radius.is_some() => Err(Open311Error::bad_request(
            f,
            "radius 须与 lat、long 一起给出 / radius needs lat and long",
        )),
        (None, None) => Ok(None),
        (Some(lat), Some(lon)) => {
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(Open311Error::bad_request(
                    f,
                    "lat 须在 −90–90，long 须在 −180–180 / lat must be −90–90 and long −180–180",
                ));
            }
            let (lo, hi, default) = RADIUS_M;
            let r = radius.unwrap_or(default);
            if !(lo..=hi).contains(&r) {
                return Err(Open311Error::bad_request(
                    f,
                    format!("radius 须为 {lo}–{hi} 米 / radius must be {lo}–{hi} metres"),
                ));
            }
            Ok(Some(PublicArea::Circle { lon, lat, r }))
        }
        _ => Err(Open311Error::bad_request(
            f,
            "lat 与 long 须同时给出 / lat and long go together",
        )),
    }
}

/// `GET requests`: by ids, or by filters newest first, one page.
async fn requests(state: &AppState, f: Format, uri: &Uri) -> Result<Response, Open311Error> {
    let p = Params::from_uri(uri, f)?;
    let origin = origin(state);
    // The spec: with service_request_id, every other parameter is ignored.
    if let Some(ids) = p.get("service_request_id") {
        let ids: Vec<&str> = ids
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if ids.len() > MAX_IDS {
            return Err(Open311Error::bad_request(
                f,
                format!(
                    "service_request_id 最多 {MAX_IDS} 个 / at most {MAX_IDS} service_request_ids"
                ),
            ));
        }
        let ids: Vec<i64> = ids.iter().filter_map(|id| id.parse().ok()).collect();
        let cases = state
            .cases()
            .public_cases_by_id(&ids)
            .await
            .map_err(|e| case_error(f, e))?;
        return Ok(requests_list(f, &cases, &origin));
    }
    let now = Utc::now();
    let (start, end) = p.window(now, Duration::days(DEFAULT_WINDOW_DAYS), f)?;
    let closed = match p.get("status") {
        None => None,
        Some(s) => {
            let wanted: Vec<&str> = s.split(',').map(str::trim).collect();
            if !wanted.iter().all(|w| *w == "open" || *w == "closed") {
                return Err(Open311Error::bad_request(
                    f,
                    format!(
                        "status 须为 open 或 closed / status must be open or closed, got {s:?}"
                    ),
                ));
            }
            let (open, closed) = (wanted.contains(&"open"), wanted.contains(&"closed"));
            (open != closed).then_some(closed)
        }
    };
    let (page_size, page) = (
        p.int("page_size", PAGE_SIZE, f)?,
        p.int("page", (1, MAX_PAGE, 1), f)?,
    );
    let query = PublicQuery {
        from: start,
        to: end + Duration::seconds(1),
        closed,
        categories: p
            .get("service_code")
            .map(|s| s.split(',').map(|c| c.trim().to_owned()).collect()),
        area: parse_area(&p, f)?,
        // In range by `int`: 1–MAX_PAGE and 1–PAGE_SIZE.1.
        page: page as usize,
        page_size: page_size as usize,
    };
    let cases = state
        .cases()
        .public_search(&query)
        .await
        .map_err(|e| case_error(f, e))?;
    Ok(requests_list(f, &cases, &origin))
}

/// `GET /open311/v2/requests/{id}.{json|xml}`: an array of one, as the spec shows it.
pub async fn one_request(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some((id, format)) = Format::split(&file) else {
        return no_such_resource(Format::guess(&file)).into_response();
    };
    let not_found = || {
        Open311Error::not_found(
            format,
            format!("没有服务请求 {id:?} / no service request {id:?}"),
        )
    };
    let Ok(id) = id.parse::<i64>() else {
        return not_found().into_response();
    };
    match state.cases().public_cases_by_id(&[id]).await {
        Ok(cases) if cases.is_empty() => not_found().into_response(),
        Ok(cases) => requests_list(format, &cases, &origin(&state)),
        Err(e) => case_error(format, e).into_response(),
    }
}

/// `GET servicerequestupdates` (mySociety's extension): each public status change of a case in
/// the window, oldest first, `after_update_id` to continue. `description` is a fixed sentence
/// per status, or the closing note (the note the reporter is shown); never any other note.
async fn updates(state: &AppState, f: Format, uri: &Uri) -> Result<Response, Open311Error> {
    let p = Params::from_uri(uri, f)?;
    let (start, end) = p.window(Utc::now(), Duration::hours(UPDATES_DEFAULT_HOURS), f)?;
    let limit = p.int("limit", UPDATES_LIMIT, f)?;
    let after = p.int("after_update_id", (0, i64::MAX, 0), f)?;
    let origin = origin(state);
    let updates = state
        .cases()
        .public_updates(start, end + Duration::seconds(1), after, limit)
        .await
        .map_err(|e| case_error(f, e))?;
    let out: Vec<Value> = updates
        .iter()
        .map(|u| {
            let description = u.note.clone().unwrap_or_else(|| {
                format!(
                    "案卷进入「{}」环节 / the case is now {}",
                    u.status.label_zh(),
                    u.status.as_str()
                )
            });
            json!({
                "update_id": u.id.to_string(),
                "service_request_id": u.case_id.to_string(),
                "status": public_status(u.status),
                "updated_datetime": w3c(u.at),
                "description": description,
                "media_url": u.photo.as_ref().map(|h| format!("{origin}/photos/{h}")),
            })
        })
        .collect();
    Ok(list(
        f,
        "service_request_updates",
        "request_update",
        Value::Array(out),
    ))
}
