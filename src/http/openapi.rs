//! The OpenAPI document (`/api/openapi.json`) and a vendored Swagger UI (`/api/docs`), which works
//! with no internet.

use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{
    admin, assessment, assign, auth, calendar, cases, dispatch, error, health, hotspots, import,
    inspections, layers, open311, photos, search, shops, stream, tiles, volunteer,
};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "wangge 网格化城市管理 API", description = "Urban grid management: jurisdictions, assignment, cases, hotspots."),
    paths(
        health::healthz, health::metrics,
        auth::login, auth::logout, auth::me,
        admin::list_users, admin::create_user, admin::set_user_grids, admin::revoke_user_tokens,
        admin::list_units, admin::upsert_unit, admin::get_unit, admin::unit_users, admin::list_events,
        layers::list_versions, layers::export_layer, layers::basemap, search::search, tiles::tile, tiles::cases_tile,
        assign::assign_point, assign::assign_batch,
        cases::create_case, cases::public_report, cases::follow_report, cases::get_case, cases::act, cases::list_cases,
        cases::export_cases, cases::import_hotline, cases::list_categories, cases::category_versions, cases::put_category,
        calendar::get_calendar, calendar::put_year, dispatch::get_rules, dispatch::put_rules,
        photos::add_case_photo, photos::add_citizen_photo, photos::get_photo, stream::case_stream,
        import::import_layer, import::import_basemap, import::import_units, import::import_history, import::import_osm,
        import::import_city, import::import_schemas, import::import_schema,
        hotspots::kde, hotspots::kde_upload, hotspots::aggregate, hotspots::aggregate_upload,
        hotspots::gistar, hotspots::gistar_upload, hotspots::emerging, hotspots::emerging_upload,
        hotspots::blindspots, hotspots::blindspots_upload, hotspots::frontages, hotspots::zones, hotspots::zones_upload,
        assessment::rankings, assessment::workbook, assessment::scorecard, assessment::trend, assessment::publish, assessment::snapshots, assessment::snapshot,
        assessment::get_scheme, assessment::put_scheme, assessment::board,
        inspections::get_checklists, inspections::put_checklists, inspections::points, inspections::readiness,
        inspections::rounds, inspections::create_round, inspections::round, inspections::submit_visit,
        inspections::recheck, inspections::publish_notice, inspections::notice, inspections::notice_workbook,
        volunteer::report, volunteer::reports,
        shops::scorecard, shops::ranking, shops::public_shop, shops::qr_png, shops::qr_svg, shops::print,
        open311::keys::create_key, open311::keys::list_keys, open311::keys::revoke_key,
    ),
    // Types only named by query parameters are not collected by utoipa on their own.
    components(schemas(error::ErrorBody, assessment::RankingFormat)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

/// The document as served: the derived description, completed by [`complete`].
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serialises");
    complete(&mut doc);
    serde_json::from_value(doc).expect("the completed document deserialises")
}

/// Routes of the document and the UI.
pub fn swagger_ui<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    SwaggerUi::new("/api/docs")
        .url("/api/openapi.json", document())
        .into()
}

/// What the derive macros cannot say: the schemas of domain types (which carry no OpenAPI
/// derives, so the domain stays free of the HTTP layer), the published list of error codes, and
/// the error answers every operation can give besides its own.
fn complete(doc: &mut Value) {
    if let (Some(paths), Value::Object(extra)) =
        (doc["paths"].as_object_mut(), open311::openapi::paths())
    {
        paths.extend(extra);
    }
    let schemas = &mut doc["components"]["schemas"];
    schemas["ErrorCode"] = json!({
        "type": "string",
        "description": error::ERROR_CODES.iter()
            .map(|(c, s, d)| format!("`{c}` ({s}): {d}"))
            .collect::<Vec<_>>()
            .join("\n\n"),
        "enum": error::ERROR_CODES.iter().map(|(c, _, _)| *c).collect::<Vec<_>>(),
    });
    schemas["ErrorBody"]["properties"]["code"] = json!({
        "$ref": "#/components/schemas/ErrorCode"
    });
    schemas["LayerVersion"] = json!({
        "type": "object",
        "description": "A published version of one layer.",
        "required": ["layer", "version", "valid_from", "published_at", "source", "feature_count"],
        "properties": {
            "layer": {"type": "string", "enum": ["district", "street", "community", "grid", "frontage", "zone"]},
            "version": {"type": "integer", "format": "int64", "description": "1 for the first publication of the layer"},
            "valid_from": {"type": "string", "format": "date-time", "description": "valid from this instant on"},
            "published_at": {"type": "string", "format": "date-time"},
            "source": {"type": "string", "description": "where the data came from"},
            "feature_count": {"type": "integer", "format": "int64"}
        }
    });
    let action = |name: &str, description: &str, fields: Value, required: &[&str]| {
        let mut props = json!({
            "action": {"type": "string", "enum": [name]},
            "note": {"type": ["string", "null"], "description": "a note for the timeline (at most 2000 characters)"}
        });
        for (k, v) in fields.as_object().into_iter().flatten() {
            props[k] = v.clone();
        }
        let mut req = vec!["action"];
        req.extend_from_slice(required);
        json!({"type": "object", "title": name, "description": description, "required": req, "properties": props})
    };
    schemas["ActionRequest"] = json!({
        "description": "A workflow action on a case, with an optional note. Who may do which action when: see the README's workflow table.",
        "oneOf": [
            action("verify", "核实: the problem was found on site, or not (不属实).", json!({"confirmed": {"type": "boolean"}}), &["confirmed"]),
            action("register", "立案 (dispatches automatically by the rule table).", json!({}), &[]),
            action("dispatch", "派遣 to a responsible unit.", json!({"unit_code": {"type": "string"}}), &["unit_code"]),
            action("accept", "The unit takes the case on.", json!({}), &[]),
            action("feedback", "The unit reports back (反馈).", json!({}), &[]),
            action("check", "核查 on site: fixed, or back to the unit (返工).", json!({"passed": {"type": "boolean"}}), &["passed"]),
            action("close", "结案.", json!({}), &[]),
            action("request", "Ask for 延时 (extend), 回退 (send_back), 挂账 (park) or 作废 (void).",
                json!({"kind": {"type": "string", "enum": ["extend", "send_back", "park", "void"]}}), &["kind"]),
            action("approve", "Approve the pending request.", json!({}), &[]),
            action("reject", "Reject the pending request.", json!({}), &[]),
            action("resume", "Take a parked case up again.", json!({}), &[]),
            action("link", "Fold this report into an open case of the same problem.",
                json!({"into": {"type": "integer", "format": "int64", "minimum": 1}}), &["into"]),
        ],
        "discriminator": {"propertyName": "action"}
    });
    if let Some(op) = doc.pointer_mut("/paths/~1api~1layers/get/responses/200") {
        op["content"] = json!({"application/json": {"schema": {
            "type": "array", "items": {"$ref": "#/components/schemas/LayerVersion"}}}});
    }
    add_error_answers(doc);
}

/// Adds, to every operation, the error answers it can give that its own attribute does not
/// list: what the router, the extractors, the authentication and the store answer anywhere.
fn add_error_answers(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if !matches!(method.as_str(), "get" | "post" | "put" | "delete" | "patch") {
                continue;
            }
            let has_params = op["parameters"].as_array().is_some_and(|p| !p.is_empty());
            let has_body = op.get("requestBody").is_some();
            let json_body = op
                .pointer("/requestBody/content/application~1json")
                .is_some();
            let secured = op.get("security").is_some();
            let mut answers: Vec<(&str, &str)> = Vec::new();
            if has_params || has_body {
                answers.push(("400", "A parameter or the body cannot be read: `invalid_query`, `invalid_parameter`, `invalid_path`, `malformed_json`, `malformed_request` …"));
            }
            if secured {
                answers.push(("401", "No valid token: `missing_token`, `invalid_token`, `token_expired`, `token_revoked`, `account_disabled`."));
                answers.push(("403", "The caller's role or scope does not allow this: `forbidden_role`, `out_of_scope`."));
            }
            if path.contains('{') {
                answers.push(("404", "No such resource: `not_found`."));
            }
            answers.push(("408", "The request took too long: `request_timeout`."));
            if has_body {
                answers.push((
                    "413",
                    "The body is larger than the server accepts: `payload_too_large`.",
                ));
                answers.push((
                    "415",
                    "The body's Content-Type is not accepted here: `unsupported_media_type`.",
                ));
            }
            if json_body {
                answers.push((
                    "422",
                    "The JSON lacks a field or has a wrong type: `invalid_body`, `invalid_field`.",
                ));
            }
            if path == "/api/auth/login"
                || path.starts_with("/api/public/reports") && method == "post"
            {
                answers.push((
                    "429",
                    "Throttled: `too_many_login_attempts`, `too_many_reports`; wait `Retry-After` seconds.",
                ));
            }
            if path.starts_with("/api/import/") {
                answers.push((
                    "409",
                    "The import would remove more live features than allowed: `import_would_remove`; repeat with `confirm_removal`.",
                ));
            }
            if path == "/api/cases" || path == "/api/public/reports" {
                answers.push((
                    "409",
                    "The idempotency key was used before for a different request: `idempotency_key_reused`.",
                ));
            }
            answers.push(("414", "The request URI is too long: `uri_too_long`."));
            answers.push((
                "431",
                "The request headers are too large: `headers_too_large`.",
            ));
            answers.push(("500", "An internal error, logged: `internal_error`."));
            answers.push((
                "503",
                "The database is unavailable: `database_unavailable`; retry.",
            ));
            let responses = &mut op["responses"];
            for (status, description) in answers {
                if responses.get(status).is_none() {
                    responses[status] = json!({
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
                    });
                }
            }
        }
    }
}
