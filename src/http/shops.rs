//! 门前三包 shops: a shop's scorecard and a street's monthly ranking with its 红黑榜 (staff), the
//! public shop page's data, its QR code as PNG and SVG, and the printed placards of a street (no
//! login: they show only what hangs on the shop front anyway). Handlers parse, call the shop
//! service ([`crate::shops`]) and render its answer.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;

use super::AppState;
use super::auth::{Auth, Staff};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery};
use crate::domain::assessment::{Period, PeriodKind};
use crate::shops::{PublicShop, Scorecard, ShopError, StreetRanking, qr};

impl From<ShopError> for ApiError {
    fn from(e: ShopError) -> Self {
        match e {
            ShopError::NotFound(m) => ApiError::not_found(m),
            ShopError::TooLarge(m) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", m),
            ShopError::Assessment(e) => e.into(),
        }
    }
}

fn period(p: Option<&str>) -> Result<Period, ApiError> {
    match p {
        None => Ok(Period::containing(PeriodKind::Month, Utc::now())),
        Some(p) => {
            Period::parse(p).map_err(|e| ApiError::bad_request("invalid_period", e.to_string()))
        }
    }
}

/// The period of a shop request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShopPeriodQuery {
    /// `2026-11` (month, Beijing time), `2026-W48`, `2026-Q4` or `2026-11-02..2026-11-15` (at
    /// most 366 days); default: the current month.
    pub period: Option<String>,
}

/// A street's ranking request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankingQuery {
    /// The street (街道) code, 9 digits.
    pub street: String,
    /// See [`ShopPeriodQuery`]; default: the current month.
    pub period: Option<String>,
}

/// A street's placards.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PrintQuery {
    /// The street (街道) code, 9 digits.
    pub street: String,
}

/// A shop's 门前三包 scorecard for a period: violations in its strip by duty, repeats, the
/// self-fix rate, escalations, the rating with the rules that applied, and the violations.
#[utoipa::path(get, path = "/api/shops/{code}/scorecard", tag = "shops", security(("bearer" = [])),
    params(("code" = String, Path, description = "the frontage code"), ShopPeriodQuery),
    responses((status = 200, body = Object, description = "{shop, scheme, code, period, figures, rating, violations}"),
        (status = 400, body = ErrorBody, description = "`invalid_period`"),
        (status = 404, body = ErrorBody, description = "no such frontage: `not_found`"),
        (status = 413, body = ErrorBody, description = "more case events than `--assessment-max-events`: `too_large`")))]
pub async fn scorecard(
    State(state): State<AppState>,
    _auth: Auth<Staff>,
    ApiPath(code): ApiPath<String>,
    ApiQuery(q): ApiQuery<ShopPeriodQuery>,
) -> Result<Json<Scorecard>, ApiError> {
    let period = period(q.period.as_deref())?;
    Ok(Json(state.shops().scorecard(&code, &period).await?))
}

/// The ranking of a street's shops for a period (default: this month), best first, with the
/// 红黑榜: the best N without a violation and the worst N with one (N per the scheme).
#[utoipa::path(get, path = "/api/shops/ranking", tag = "shops", security(("bearer" = [])),
    params(RankingQuery),
    responses((status = 200, body = Object, description = "{street_code, street_name, scheme, period, rows: [{rank, code, name, figures, rating}], red, black}"),
        (status = 400, body = ErrorBody, description = "`invalid_period`; no street: `invalid_query`"),
        (status = 404, body = ErrorBody, description = "no shop in that street: `not_found`"),
        (status = 413, body = ErrorBody, description = "more case events than `--assessment-max-events`: `too_large`")))]
pub async fn ranking(
    State(state): State<AppState>,
    _auth: Auth<Staff>,
    ApiQuery(q): ApiQuery<RankingQuery>,
) -> Result<Json<StreetRanking>, ApiError> {
    let period = period(q.period.as_deref())?;
    Ok(Json(state.shops().ranking(&q.street, &period).await?))
}

/// A shop's public page (no login): its duty and strip, this month's rating, its latest problems
/// and how they ended. No names of people, no phone numbers, no notes, no reporters.
#[utoipa::path(get, path = "/api/public/shops/{code}", tag = "shops",
    params(("code" = String, Path, description = "the frontage code")),
    responses((status = 200, body = Object, description = "{code, name, shop_type, street_name, strip, duties, period, scheme, rating, figures, recent, url}"),
        (status = 404, body = ErrorBody, description = "no such frontage: `not_found`"),
        (status = 413, body = ErrorBody, description = "more case events than `--assessment-max-events`: `too_large`")))]
pub async fn public_shop(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<PublicShop>, ApiError> {
    Ok(Json(state.shops().public(&code, Utc::now()).await?))
}

fn qr_of(state: &AppState, code: &str) -> Result<qr::Matrix, ApiError> {
    state.shops().shop(code)?;
    let url = state.shops().public_page_url(code);
    qr::matrix(&url).map_err(|e| ApiError::bad_request("bad_request", e.to_string()))
}

fn cached(content_type: &'static str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

/// The QR code of a shop's public page as PNG (8 px per module, 4 modules of quiet zone).
#[utoipa::path(get, path = "/api/public/shops/{code}/qr.png", tag = "shops",
    params(("code" = String, Path, description = "the frontage code")),
    responses((status = 200, description = "the PNG", content((Vec<u8> = "image/png"))),
        (status = 400, body = ErrorBody, description = "the address is too long for a QR code: `bad_request`"),
        (status = 404, body = ErrorBody, description = "no such frontage: `not_found`")))]
pub async fn qr_png(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<Response, ApiError> {
    Ok(cached("image/png", qr_of(&state, &code)?.png()))
}

/// The QR code of a shop's public page as SVG (scales to any print size).
#[utoipa::path(get, path = "/api/public/shops/{code}/qr.svg", tag = "shops",
    params(("code" = String, Path, description = "the frontage code")),
    responses((status = 200, description = "the SVG", content((String = "image/svg+xml"))),
        (status = 400, body = ErrorBody, description = "the address is too long for a QR code: `bad_request`"),
        (status = 404, body = ErrorBody, description = "no such frontage: `not_found`")))]
pub async fn qr_svg(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<Response, ApiError> {
    Ok(cached("image/svg+xml", qr_of(&state, &code)?.svg()))
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The placards of a street's shops on A4 sheets, four to a page: QR code, shop name, street,
/// the three duties (no login: printed for the shop fronts). Also at `/shops/print?street=`.
#[utoipa::path(get, path = "/api/public/shops/print", tag = "shops",
    params(PrintQuery),
    responses((status = 200, description = "a printable HTML page", content((String = "text/html"))),
        (status = 400, body = ErrorBody, description = "no street: `invalid_query`"),
        (status = 404, body = ErrorBody, description = "no shop in that street: `not_found`"),
        (status = 413, body = ErrorBody, description = "more shops than one sheet prints (2000): `too_large`")))]
pub async fn print(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PrintQuery>,
) -> Result<Response, ApiError> {
    let shops = state.shops().placards(&q.street)?;
    let street = shops
        .first()
        .and_then(|s| s.street_name.clone())
        .unwrap_or_else(|| q.street.clone());
    let duties: String = crate::domain::shop::Duty::ALL
        .iter()
        .map(|d| format!("<li><b>{}</b> {}</li>", d.label_zh(), esc(d.keep_zh())))
        .collect();
    let mut html = String::with_capacity(shops.len() * 6_000);
    html.push_str(&format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>门前三包责任牌 · {street}</title><style>\
@page{{size:A4;margin:10mm}}body{{font-family:\"Noto Sans CJK SC\",\"Source Han Sans SC\",\"PingFang SC\",\"Microsoft YaHei\",sans-serif;margin:0}}\
.sheet{{display:grid;grid-template-columns:1fr 1fr;gap:6mm}}\
.card{{border:2px solid #b00;border-radius:3mm;padding:5mm;height:128mm;box-sizing:border-box;break-inside:avoid;page-break-inside:avoid;display:flex;flex-direction:column}}\
.card h2{{margin:0 0 2mm;font-size:18pt;color:#b00;text-align:center}}.card h3{{margin:0 0 2mm;font-size:14pt;text-align:center}}\
.qr{{width:48mm;height:48mm;margin:0 auto}}.qr svg{{width:100%;height:100%}}\
.card ul{{margin:2mm 0 0;padding-left:5mm;font-size:9.5pt;line-height:1.4}}.code{{font-size:8pt;color:#555;text-align:center}}\
.card:nth-child(4n){{break-after:page;page-break-after:always}}\
@media screen{{body{{margin:10mm;background:#eee}}.card{{background:#fff}}}}\
</style></head><body><p class=\"noprint\" style=\"font-size:10pt\">{} 共 {} 家商户 · 打印：Ctrl+P（A4）</p><div class=\"sheet\">",
        esc(&street),
        shops.len(),
        street = esc(&street),
    ));
    for s in &shops {
        let svg = qr_of(&state, &s.code)?.svg();
        html.push_str(&format!(
            "<section class=\"card\"><h2>门前三包责任牌</h2><h3>{}</h3><div class=\"qr\">{svg}</div><p class=\"code\">扫码查看本店门前三包评价 · {}</p><ul>{duties}</ul></section>",
            esc(&s.name),
            esc(&s.code),
        ));
    }
    html.push_str(
        "</div><style>@media print{.noprint{display:none}body{background:none}}</style></body></html>",
    );
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}
