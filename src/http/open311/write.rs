//! The write side: `POST requests` (an application's api key, the normal citizen intake) and
//! `GET tokens/{token}`.
//!
//! Intake is synchronous: the answer carries the `service_request_id` at once. It also carries
//! the reporter's follow `token` (the same one `POST /api/public/reports` gives), which
//! `tokens/{token}` resolves, so a client written for asynchronous servers works unchanged.

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::Open311Error;
use super::format::{Document, Format};
use super::read::{Params, SHOP_TYPES, no_such_resource};
use super::{case_error, keys};
use crate::cases::Submission;
use crate::domain::crs::Crs;
use crate::http::AppState;
use crate::http::extract::RequestId;
use crate::store::{Audit, Open311Origin, Open311Submission};

/// The longest value of a contact or id field.
const MAX_FIELD_CHARS: usize = 200;

/// The body as (name, value) pairs: form-encoded as the spec says, or a flat JSON object.
async fn body_pairs(req: Request, f: Format) -> Result<Vec<(String, String)>, Open311Error> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        let axum::Json(v) = axum::Json::<serde_json::Map<String, Value>>::from_request(req, &())
            .await
            .map_err(|e| {
                Open311Error::bad_request(
                    f,
                    format!("请求体不是 JSON 对象 / the body is not a JSON object: {e}"),
                )
            })?;
        return Ok(v
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                Value::Number(n) => Some((k, n.to_string())),
                Value::Bool(b) => Some((k, b.to_string())),
                _ => None,
            })
            .collect());
    }
    let axum::Form(pairs) = axum::Form::<Vec<(String, String)>>::from_request(req, &())
        .await
        .map_err(|e| Open311Error::bad_request(f, format!("请求体须为 application/x-www-form-urlencoded / the body must be application/x-www-form-urlencoded: {e}")))?;
    Ok(pairs)
}

fn field(p: &Params, k: &str, f: Format) -> Result<Option<String>, Open311Error> {
    match p.get(k) {
        Some(v) if v.chars().count() > MAX_FIELD_CHARS || v.chars().any(char::is_control) => {
            Err(Open311Error::bad_request(
                f,
                format!(
                    "{k} 须为至多 {MAX_FIELD_CHARS} 个字符的文本 / {k} must be text of at most {MAX_FIELD_CHARS} characters"
                ),
            ))
        }
        v => Ok(v.map(str::to_owned)),
    }
}

/// `POST /open311/v2/requests.{json|xml}`.
pub async fn post_request(
    State(state): State<AppState>,
    Path(file): Path<String>,
    req_id: RequestId,
    req: Request,
) -> Response {
    let format = match Format::split(&file) {
        Some(("requests", f)) => f,
        Some((_, f)) => return no_such_resource(f).into_response(),
        None => return no_such_resource(Format::guess(&file)).into_response(),
    };
    match submit(&state, format, &req_id, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn submit(
    state: &AppState,
    f: Format,
    req_id: &RequestId,
    req: Request,
) -> Result<Response, Open311Error> {
    let p = Params::from_pairs(body_pairs(req, f).await?);
    let forbidden = || {
        Open311Error::forbidden(
            f,
            "api_key 缺失、无效或已吊销 / the api_key is missing, unknown or revoked",
        )
    };
    let hash = crate::security::token_hash(p.get("api_key").ok_or_else(forbidden)?);
    let key = state
        .store()
        .open311_key_by_hash(&hash)
        .await
        .map_err(|e| case_error(f, e.into()))?
        .filter(|k| k.revoked_at.is_none())
        .ok_or_else(forbidden)?;
    if let Err(wait) = keys::take(state, &key, chrono::Utc::now())
        .await
        .map_err(|e| Open311Error::new(e.status, f, e.message))?
    {
        let mut res = Open311Error::new(StatusCode::TOO_MANY_REQUESTS, f, format!("此 api_key 每分钟至多提交 {} 次，请 {wait} 秒后再试 / this api_key may post {} requests a minute; retry in {wait} s", key.per_minute, key.per_minute)).into_response();
        res.headers_mut().insert(header::RETRY_AFTER, wait.into());
        return Ok(res);
    }

    let code = p.get("service_code").ok_or_else(|| {
        Open311Error::bad_request(
            f,
            "缺少 service_code，见 services.json / service_code is required; see services.json",
        )
    })?;
    let catalogue = state.live().catalogue();
    let Some((_, category)) = catalogue.current(code) else {
        return Err(Open311Error::bad_request(
            f,
            format!(
                "没有服务代码 {code:?}，见 services.json / no service with code {code:?}; see services.json"
            ),
        ));
    };
    let crs = p.get("crs").unwrap_or("wgs84").parse::<Crs>();
    let (lon, lat, crs) = match (p.float("long", f)?, p.float("lat", f)?) {
        (Some(lon), Some(lat)) => (lon, lat, crs),
        (None, None) => match p.get("address_string") {
            Some(address) => {
                let (lon, lat) = resolve_address(state, address, f).await?;
                // The place search answers in WGS84 whatever `crs` says.
                (lon, lat, Ok(Crs::Wgs84))
            }
            None => {
                return Err(Open311Error::bad_request(
                    f,
                    "缺少位置：请给出 lat 与 long，或 address_string / a location is required: lat and long, or address_string",
                ));
            }
        },
        _ => {
            return Err(Open311Error::bad_request(
                f,
                "lat 与 long 须同时给出 / lat and long go together",
            ));
        }
    };

    let mut description = p.get("description").unwrap_or(&category.name).to_owned();
    if let Some(shop) = p.get("attribute[shop_type]") {
        let Some((_, name)) = SHOP_TYPES.iter().find(|(k, _)| *k == shop) else {
            return Err(Open311Error::bad_request(
                f,
                format!(
                    "attribute[shop_type] {shop:?} 不在 services/{code}.json 的取值中 / attribute[shop_type] {shop:?} is not one of the values in services/{code}.json"
                ),
            ));
        };
        description.push_str(&format!("（店铺类型：{name}）"));
    }
    let device_id = field(&p, "device_id", f)?;
    // A retry is the same application, device and client key: the normal intake's idempotency.
    // Without a client key every POST is a new report.
    let client_key = field(&p, "attribute[client_key]", f)?.or(field(&p, "idempotency_key", f)?);
    let idempotency_key = match client_key {
        Some(k) => format!(
            "open311:{}:{}:{k}",
            key.id,
            device_id.as_deref().unwrap_or("")
        ),
        None => format!("open311:{}:{}", key.id, crate::security::new_token()),
    };
    let submission = Open311Submission {
        email: field(&p, "email", f)?,
        phone: field(&p, "phone", f)?,
        first_name: field(&p, "first_name", f)?,
        last_name: field(&p, "last_name", f)?,
        account_id: field(&p, "account_id", f)?,
        device_id,
        media_url: field(&p, "media_url", f)?,
    };
    let audit = Audit {
        actor_id: None,
        actor_name: Some(format!("open311:{}", key.name)),
        request_id: req_id.0.clone(),
        at: None,
    };
    let account_id = submission.account_id.clone();
    let intake = state
        .cases()
        .report_through_open311(
            Submission {
                idempotency_key,
                category: code.to_owned(),
                description,
                lon,
                lat,
                crs,
                register: false,
                external_ref: None,
            },
            Open311Origin {
                key_id: key.id,
                submission,
            },
            &audit,
        )
        .await
        .map_err(|e| case_error(f, e))?;
    let case = &intake.case;
    let notice = if case.linked_to.is_some() {
        format!(
            "已收到，与附近同类问题合并，案卷号 {} / received and merged with a nearby report of the same problem, case {}",
            case.case_no(),
            case.case_no()
        )
    } else {
        format!(
            "已收到，待网格监督员核实，案卷号 {} / received; the grid's inspector will verify it on site, case {}",
            case.case_no(),
            case.case_no()
        )
    };
    Ok(Document {
        status: if intake.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        format: f,
        root: "service_requests",
        item: "request",
        value: json!([{
            "service_request_id": case.id.to_string(),
            "token": intake.follow_token,
            "service_notice": notice,
            "account_id": account_id,
        }]),
    }
    .into_response())
}

/// The WGS84 point of an `address_string`: the centre of the best-matching place of the place
/// search (a road, grid, community, street or district name or code).
async fn resolve_address(
    state: &AppState,
    address: &str,
    f: Format,
) -> Result<(f64, f64), Open311Error> {
    let unresolved = || {
        Open311Error::bad_request(
            f,
            format!(
                "找不到地址 {address:?}，请给出 lat 与 long / the address {address:?} was not found; give lat and long"
            ),
        )
    };
    let query = crate::domain::search::Query::parse(address).map_err(|_| unresolved())?;
    let places = state
        .search()
        .places()
        .await
        .map_err(|e| Open311Error::new(StatusCode::INTERNAL_SERVER_ERROR, f, e.to_string()))?;
    let hits = places.search(&query, 1);
    let hit = hits.first().ok_or_else(unresolved)?;
    let [w, s, e, n] = hit.place.bbox;
    Ok(((w + e) / 2.0, (s + n) / 2.0))
}

/// `GET /open311/v2/tokens/{token}.{json|xml}`: the request a follow token belongs to.
pub async fn token(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some((token, format)) = Format::split(&file) else {
        return no_such_resource(Format::guess(&file)).into_response();
    };
    let id = match state
        .store()
        .case_id_by_follow_token(&crate::security::token_hash(token))
        .await
    {
        Ok(Some(id)) => id,
        Ok(None) => {
            return Open311Error::not_found(format, "没有这个 token / no such token")
                .into_response();
        }
        Err(e) => return case_error(format, e.into()).into_response(),
    };
    Document {
        status: StatusCode::OK,
        format,
        root: "service_requests",
        item: "request",
        value: json!([{ "service_request_id": id.to_string(), "token": token }]),
    }
    .into_response()
}
