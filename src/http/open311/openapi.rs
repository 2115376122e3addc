//! The Open311 paths of the OpenAPI document, written as JSON: each answers in JSON or XML by
//! its suffix, which the derive macros cannot express (two media types, one path parameter
//! inside a segment).

use serde_json::{Value, json};

use super::read::{
    MAX_BBOX_DEG, MAX_IDS, MAX_PAGE, MAX_WINDOW_DAYS, PAGE_SIZE, RADIUS_M, UPDATES_LIMIT,
};
use crate::open311::PER_MINUTE;

fn content(description: &str) -> Value {
    json!({
        "description": description,
        "content": {
            "application/json": {"schema": {"type": ["array", "object"]}},
            "text/xml": {"schema": {"type": "string"}},
        }
    })
}

fn errors(extra: &[(&str, &str)]) -> Value {
    let mut r = json!({
        "404": content("no such resource, or a suffix other than .json/.xml: [{code, description}]"),
    });
    for (status, d) in extra {
        r[*status] = content(d);
    }
    r
}

fn format_param() -> Value {
    json!({"name": "format", "in": "path", "required": true, "schema": {"type": "string", "enum": ["json", "xml"]}, "description": "json or xml"})
}

fn q(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn get(summary: &str, params: Vec<Value>, ok: &str, extra: &[(&str, &str)]) -> Value {
    let mut responses = errors(extra);
    responses["200"] = content(ok);
    json!({"get": {"tags": ["open311"], "summary": summary, "parameters": params, "responses": responses}})
}

/// The `/open311/v2/…` paths, for `paths` of the document.
pub fn paths() -> Value {
    let (ps_lo, ps_hi, ps_default) = PAGE_SIZE;
    let (r_lo, r_hi, r_default) = RADIUS_M;
    let (u_lo, u_hi, u_default) = UPDATES_LIMIT;
    let (k_lo, k_hi, _) = PER_MINUTE;
    let date = |name: &str| {
        q(
            name,
            &format!(
                "W3C datetime (e.g. 2026-05-01T09:30:00+08:00) or date; a window is at most {MAX_WINDOW_DAYS} days"
            ),
            json!({"type": "string"}),
        )
    };
    let bad = [("400", "a parameter is unusable: [{code, description}]")];
    let mut post = json!({
        "tags": ["open311"],
        "summary": "Submits a service request (api_key required; the normal citizen intake)",
        "parameters": [format_param()],
        "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object",
            "required": ["api_key", "service_code"],
            "properties": {
                "api_key": {"type": "string", "description": format!("issued by an admin (POST /api/open311/keys); {k_lo}–{k_hi} posts a minute per key")},
                "service_code": {"type": "string"},
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "long": {"type": "number", "minimum": -180, "maximum": 180},
                "crs": {"type": "string", "enum": ["wgs84", "gcj02", "bd09"], "description": "extension: the system of lat/long (default wgs84)"},
                "address_string": {"type": "string", "description": "when no lat/long: a place name resolved by the place search"},
                "description": {"type": "string", "maxLength": 2000},
                "media_url": {"type": "string"},
                "email": {"type": "string"}, "phone": {"type": "string"},
                "first_name": {"type": "string"}, "last_name": {"type": "string"},
                "account_id": {"type": "string"}, "device_id": {"type": "string"},
                "attribute[shop_type]": {"type": "string"},
                "attribute[client_key]": {"type": "string", "description": "with device_id: the retry key (also `idempotency_key`)"}
            }
        }}}},
        "responses": errors(&[
            ("400", "a field is unusable or the location is missing: [{code, description}]"),
            ("403", "the api_key is missing, unknown or revoked"),
            ("409", "the retry key was used for a different request"),
            ("429", "the key's per-minute limit (Retry-After, seconds)"),
        ]),
    });
    post["responses"]["201"] = content("[{service_request_id, token, service_notice, account_id}]");
    post["responses"]["200"] = content("a retry: the first answer again");
    let mut requests = get(
        "Service requests, newest first",
        vec![
            format_param(),
            q(
                "service_request_id",
                &format!("comma list, at most {MAX_IDS}; other parameters are then ignored"),
                json!({"type": "string"}),
            ),
            q("service_code", "comma list", json!({"type": "string"})),
            date("start_date"),
            date("end_date"),
            q(
                "status",
                "open, closed or both (comma list)",
                json!({"type": "string"}),
            ),
            q(
                "page",
                "1-based",
                json!({"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}),
            ),
            q(
                "page_size",
                "",
                json!({"type": "integer", "minimum": ps_lo, "maximum": ps_hi, "default": ps_default}),
            ),
            q(
                "lat",
                "extension: circle centre, WGS84",
                json!({"type": "number", "minimum": -90, "maximum": 90}),
            ),
            q(
                "long",
                "extension: circle centre, WGS84",
                json!({"type": "number", "minimum": -180, "maximum": 180}),
            ),
            q(
                "radius",
                &format!("extension: metres, with lat/long (default {r_default})"),
                json!({"type": "number", "minimum": r_lo, "maximum": r_hi}),
            ),
            q(
                "bbox",
                &format!(
                    "extension: minlon,minlat,maxlon,maxlat in WGS84, each side at most {MAX_BBOX_DEG}°"
                ),
                json!({"type": "string"}),
            ),
        ],
        "[service request]",
        &bad,
    );
    requests["post"] = post;
    json!({
        "/open311/v2/discovery.{format}": get("Service discovery", vec![format_param()], "the discovery document", &[]),
        "/open311/v2/services.{format}": get("The category catalogue as services", vec![format_param()], "[service]", &[]),
        "/open311/v2/services/{service_code}.{format}": get("A service definition with its attributes",
            vec![json!({"name": "service_code", "in": "path", "required": true, "schema": {"type": "string"}}), format_param()],
            "the service definition", &[]),
        "/open311/v2/requests.{format}": requests,
        "/open311/v2/requests/{service_request_id}.{format}": get("One service request (an array of one)",
            vec![json!({"name": "service_request_id", "in": "path", "required": true, "schema": {"type": "string"}}), format_param()],
            "[service request]", &[]),
        "/open311/v2/tokens/{token}.{format}": get("The service request of a token",
            vec![json!({"name": "token", "in": "path", "required": true, "schema": {"type": "string"}}), format_param()],
            "[{service_request_id, token}]", &[]),
        "/open311/v2/servicerequestupdates.{format}": get("Public status changes in a window (mySociety extension)",
            vec![format_param(), date("start_date"), date("end_date"),
                q("after_update_id", "continue after this update", json!({"type": "integer", "minimum": 0})),
                q("limit", "", json!({"type": "integer", "minimum": u_lo, "maximum": u_hi, "default": u_default}))],
            "[update]", &bad),
    })
}
