//! The HTTP conventions, identity and roles, through the router without a socket. Runs on SQLite,
//! and on PostgreSQL + PostGIS when `WANGGE_TEST_DATABASE_URL` is set (see `.ci/run`).

use crate::common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{spawn_app, spawn_app_with};
use serde_json::{Value, json};
use wangge::domain::identity::Role;
use wangge::http::HttpSettings;

const OWN_UNIT: &str = "dept-410103-cgzf";

/// Every protected endpoint, with the roles that may call it. An allowed role passes the role
/// check (no 401/403; the body may still be refused on its merits). The test below also checks this
/// table against the OpenAPI document, so a new endpoint cannot be forgotten here.
fn protected_endpoints() -> Vec<(Method, &'static str, Option<Value>, &'static [Role])> {
    use Role::*;
    let empty = json!({"type": "FeatureCollection", "features": []});
    let mut rows: Vec<(Method, &'static str, Option<Value>, &'static [Role])> = vec![
        (
            Method::POST,
            "/api/import/layers/zone?dry_run=true",
            Some(empty.clone()),
            &[Admin],
        ),
        (
            Method::POST,
            "/api/import/basemap/water",
            Some(empty),
            &[Admin],
        ),
        (
            Method::POST,
            "/api/import/units",
            Some(json!("code,name,kind,parent_code")),
            &[Admin],
        ),
        (Method::POST, "/api/import/osm", Some(json!("")), &[Admin]),
        (Method::POST, "/api/import/city", Some(json!({})), &[Admin]),
        (
            Method::POST,
            "/api/import/history",
            Some(json!("")),
            &[Admin],
        ),
        (
            Method::POST,
            "/api/cases",
            Some(
                json!({"idempotency_key": "k", "category": "9999", "description": "x", "lon": 113.6, "lat": 34.7, "crs": "wgs84"}),
            ),
            &[Inspector, IntakeClerk, Admin],
        ),
        (Method::GET, "/api/cases", None, &Role::STAFF),
        (
            Method::GET,
            "/api/cases/export?format=csv",
            None,
            &Role::STAFF,
        ),
        (
            Method::GET,
            "/tiles/cases/12/3339/1623.mvt",
            None,
            &Role::STAFF,
        ),
        (
            Method::POST,
            "/api/cases/hotline?crs=wgs84",
            Some(json!("ticket_no,reported_at,category,description,lon,lat")),
            &[IntakeClerk, ShiftLead, Admin],
        ),
        (
            Method::GET,
            "/api/categories/0101/versions",
            None,
            &Role::STAFF,
        ),
        (
            Method::PUT,
            "/api/calendar/years/2027",
            Some(
                json!({"region": "cn", "year": 2027, "source": "test", "holidays": [], "workdays": []}),
            ),
            &[Admin],
        ),
        (Method::GET, "/api/dispatch/rules", None, &Role::STAFF),
        (
            Method::PUT,
            "/api/dispatch/rules?dry_run=true",
            Some(json!({})),
            &[Admin],
        ),
        (
            Method::PUT,
            "/api/categories/0101",
            Some(json!({"code": "0101"})),
            &[Admin],
        ),
        (Method::GET, "/api/cases/999999", None, &Role::STAFF),
        (
            Method::POST,
            "/api/cases/999999/actions",
            Some(json!({"action": "close"})),
            &Role::STAFF,
        ),
        (
            Method::POST,
            "/api/cases/999999/photos?stage=before",
            Some(json!("not an image")),
            &[
                Inspector,
                IntakeClerk,
                ShiftLead,
                Dispatcher,
                Handler,
                Admin,
                Volunteer,
            ],
        ),
        // A malformed bbox: every role gets its 400, so the table test never waits on a stream.
        (
            Method::GET,
            "/api/cases/stream?bbox=1,2",
            None,
            &Role::STAFF,
        ),
        (Method::GET, "/api/auth/me", None, &Role::ALL),
        (Method::POST, "/api/auth/logout", None, &Role::ALL),
        (Method::GET, "/api/users", None, &[Admin]),
        (
            Method::POST,
            "/api/users",
            Some(
                json!({"username": "new_planner", "display_name": "新规划", "role": "planner", "password": "long-enough-pw"}),
            ),
            &[Admin],
        ),
        (
            Method::PUT,
            "/api/users/1/grids",
            Some(json!({"grids": ["410103001001001"]})),
            &[Admin],
        ),
        (Method::POST, "/api/users/1/revoke-tokens", None, &[Admin]),
        (Method::GET, "/api/units", None, &Role::STAFF),
        (
            Method::POST,
            "/api/units",
            Some(
                json!({"code": "shop-test-1", "name": "测试便利店", "kind": "shop", "parent_code": null}),
            ),
            &[Admin],
        ),
        (
            Method::GET,
            "/api/units/dept-410103-cgzf/users",
            None,
            &[Admin, Handler],
        ),
        (Method::GET, "/api/events", None, &[Admin]),
    ];
    // Hot spots: the stored data may be read by planners, administrators and dispatchers; an
    // uploaded point set may be analysed by planners and administrators.
    let points = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.60, 34.70]}, "properties": {}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.61, 34.71]}, "properties": {}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.62, 34.70]}, "properties": {}}]});
    for analysis in [
        "kde",
        "aggregate",
        "gistar",
        "emerging",
        "blindspots",
        "zones",
    ] {
        let get: &'static str = format!("/api/hotspots/{analysis}").leak();
        let post: &'static str = format!("/api/hotspots/{analysis}?crs=wgs84").leak();
        rows.push((Method::GET, get, None, &[Planner, Admin, Dispatcher]));
        rows.push((Method::POST, post, Some(points.clone()), &[Planner, Admin]));
    }
    rows.push((
        Method::GET,
        "/api/hotspots/frontages",
        None,
        &[Planner, Admin, Dispatcher],
    ));
    rows.extend([
        (
            Method::GET,
            "/api/assessment/rankings?level=streets",
            None,
            &[Planner, Admin][..],
        ),
        (
            Method::GET,
            "/api/assessment/workbook",
            None,
            &[Planner, Admin],
        ),
        (
            Method::GET,
            "/api/assessment/scorecards/streets/S1",
            None,
            &[Planner, Admin],
        ),
        (
            Method::GET,
            "/api/assessment/trend?level=streets&periods=2",
            None,
            &[Planner, Admin],
        ),
        (
            Method::POST,
            "/api/assessment/publish?period=2026-W01",
            None,
            &[Admin],
        ),
        (
            Method::GET,
            "/api/assessment/snapshots",
            None,
            &[Planner, Admin],
        ),
        (
            Method::GET,
            "/api/assessment/snapshots/999999",
            None,
            &[Planner, Admin],
        ),
        (
            Method::GET,
            "/api/assessment/scheme",
            None,
            &[Planner, Admin],
        ),
        (
            Method::PUT,
            "/api/assessment/scheme",
            Some(json!({})),
            &[Admin],
        ),
        (Method::GET, "/api/inspections/checklists", None, &Role::ALL),
        (
            Method::PUT,
            "/api/inspections/checklists",
            Some(json!({})),
            &[Admin],
        ),
        (Method::GET, "/api/inspections/points", None, &Role::STAFF),
        (
            Method::GET,
            "/api/inspections/readiness",
            None,
            &Role::STAFF,
        ),
        (Method::GET, "/api/inspections/rounds", None, &Role::ALL),
        (
            Method::POST,
            "/api/inspections/rounds",
            Some(json!({})),
            &[ShiftLead, Admin],
        ),
        (
            Method::GET,
            "/api/inspections/rounds/999999",
            None,
            &Role::ALL,
        ),
        (
            Method::POST,
            "/api/inspections/rounds/999999/visits",
            Some(json!({})),
            &[Inspector, Admin, Volunteer],
        ),
        (
            Method::POST,
            "/api/inspections/rounds/999999/notice",
            None,
            &[ShiftLead, Admin],
        ),
        (
            Method::GET,
            "/api/inspections/rounds/999999/notice",
            None,
            &Role::STAFF,
        ),
        (
            Method::GET,
            "/api/inspections/rounds/999999/notice.xlsx",
            None,
            &Role::STAFF,
        ),
        (
            Method::POST,
            "/api/inspections/findings/999999/recheck",
            Some(json!({})),
            &[Inspector, Admin],
        ),
        (Method::GET, "/api/shops/0101/scorecard", None, &Role::STAFF),
        (
            Method::GET,
            "/api/shops/ranking?street=1",
            None,
            &Role::STAFF,
        ),
        (Method::GET, "/api/volunteer/reports", None, &[Volunteer]),
        (
            Method::POST,
            "/api/open311/keys",
            Some(json!({"name": "role table"})),
            &[Admin],
        ),
        (Method::GET, "/api/open311/keys", None, &[Admin]),
        (
            Method::POST,
            "/api/open311/keys/999999/revoke",
            None,
            &[Admin],
        ),
        (
            Method::POST,
            "/api/volunteer/reports",
            Some(json!({})),
            &[Volunteer],
        ),
    ]);
    rows
}

fn template(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    path.replace("/1/", "/{id}/")
        .replace(&format!("/{OWN_UNIT}"), "/{code}")
        .replace("/layers/zone", "/layers/{layer}")
        .replace("/basemap/water", "/basemap/{kind}")
        .replace("/999999", "/{id}")
        .replace("/0101", "/{code}")
        .replace("/years/2027", "/years/{year}")
        .replace("/streets/S1", "/{level}/{key}")
        .replace("/12/3339/1623.mvt", "/{z}/{x}/{y}.mvt")
}

#[tokio::test]
async fn every_role_is_allowed_exactly_the_protected_endpoints_of_its_table_row() {
    let app = spawn_app().await;
    for (method, path, body, allowed) in protected_endpoints() {
        let anonymous = app.call(method.clone(), path, None, body.clone()).await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a token"
        );
        assert_eq!(anonymous.body["code"], "missing_token");
        for role in Role::ALL {
            // A fresh token per call: the logout row revokes the one it is given.
            let token = app.login(role).await;
            let a = app
                .call(method.clone(), path, Some(&token), body.clone())
                .await;
            if allowed.contains(&role) {
                assert!(
                    !matches!(a.status.as_u16(), 401 | 403) && !a.status.is_server_error(),
                    "{role} on {method} {path} should pass, got {}: {}",
                    a.status,
                    a.text
                );
            } else {
                assert_eq!(
                    a.status,
                    StatusCode::FORBIDDEN,
                    "{role} on {method} {path}: {}",
                    a.text
                );
                assert_eq!(
                    a.body["code"], "forbidden_role",
                    "{role} on {method} {path}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_role_table_covers_every_secured_operation_of_the_openapi_document() {
    let app = spawn_app().await;
    let doc = app.get("/api/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK);
    let mut secured = BTreeSet::new();
    for (path, ops) in doc.body["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            if op.get("security").is_some() {
                secured.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let table: BTreeSet<_> = protected_endpoints()
        .into_iter()
        .map(|(m, p, _, _)| (m.to_string(), template(p)))
        .collect();
    assert_eq!(table, secured);
}

#[tokio::test]
async fn a_handler_sees_the_people_of_their_own_unit_only() {
    let app = spawn_app().await;
    let token = app.login(Role::Handler).await;
    let own = app
        .get(&format!("/api/units/{OWN_UNIT}/users"), Some(&token))
        .await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.body[0]["username"], "demo_handler");
    let other = app
        .get("/api/units/dept-410103-hw/users", Some(&token))
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_eq!(other.body["code"], "out_of_scope");
}

#[tokio::test]
async fn an_unknown_route_gets_a_json_404() {
    let app = spawn_app().await;
    let a = app.get("/api/nothing-here", None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.body["code"], "not_found");
}

#[tokio::test]
async fn with_the_map_page_served_an_unknown_api_route_is_still_a_json_404() {
    let app = spawn_app_with(HttpSettings {
        web_dir: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/web").into()),
        ..HttpSettings::default()
    })
    .await;
    let a = app.get("/api/nothing-here", None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.body["code"], "not_found");
    let page = app.get("/no-such-page.html", None).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.text.contains("页面不存在"));
    let index = app.get("/", None).await;
    assert_eq!(index.status, StatusCode::OK);
    // The public 红黑榜 page at its short address, without a login.
    let board = app.get("/board", None).await;
    assert_eq!(board.status, StatusCode::OK);
    assert!(board.text.contains("考评红黑榜"), "{}", board.text);
}

#[tokio::test]
async fn a_unit_s_name_is_public_but_the_list_of_units_and_their_people_are_not() {
    let app = spawn_app().await;
    // The map page names a place's owners to every visitor (the name on the unit's door).
    let unit = app.get("/api/units/dept-410103-cgzf", None).await;
    assert_eq!(unit.status, StatusCode::OK, "{}", unit.text);
    assert_eq!(unit.body["code"], "dept-410103-cgzf");
    assert_eq!(unit.body["name"], "二七区城市管理执法局");
    let unknown = app.get("/api/units/no-such-unit", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["code"], "not_found");
    for path in ["/api/units", "/api/units/dept-410103-cgzf/users"] {
        let a = app.get(path, None).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn a_wrong_method_gets_a_json_405() {
    let app = spawn_app().await;
    let a = app
        .call(Method::DELETE, "/api/auth/login", None, None)
        .await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.body["code"], "method_not_allowed");
}

#[tokio::test]
async fn malformed_json_gets_a_400_with_a_code_and_creates_nothing() {
    let app = spawn_app().await;
    let token = app.login(Role::Admin).await;
    let before = app.db.store.list_users().await.unwrap().len();
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/users")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"username\": \"x\", "))
        .unwrap();
    let a = app.request(req).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body["code"], "malformed_json");
    assert_eq!(app.db.store.list_users().await.unwrap().len(), before);
}

#[tokio::test]
async fn a_body_without_json_content_type_gets_415() {
    let app = spawn_app().await;
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/auth/login")
        .body(Body::from("{}"))
        .unwrap();
    let a = app.request(req).await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(a.body["code"], "unsupported_media_type");
}

#[tokio::test]
async fn an_oversized_body_gets_a_json_413() {
    let app = spawn_app_with(HttpSettings {
        max_body_bytes: 1024,
        ..HttpSettings::default()
    })
    .await;
    let big = json!({ "username": "x".repeat(4096), "password": "y" });
    let a = app
        .call(Method::POST, "/api/auth/login", None, Some(big))
        .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(a.body["code"], "payload_too_large");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_401() {
    let app = spawn_app().await;
    for username in ["demo_admin", "nobody"] {
        let a = app
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"username": username, "password": "wrong-password"})),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(a.body["code"], "invalid_credentials");
        assert!(a.headers.contains_key(header::WWW_AUTHENTICATE));
    }
}

#[tokio::test]
async fn a_garbage_token_gets_401_invalid_token() {
    let app = spawn_app().await;
    let a = app.get("/api/auth/me", Some("wg_0000")).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.body["code"], "invalid_token");
    let req = Request::builder()
        .uri("/api/auth/me")
        .header(header::AUTHORIZATION, "Basic Zm9vOmJhcg==")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.request(req).await.body["code"], "invalid_token");
}

#[tokio::test]
async fn a_logged_out_token_is_refused_as_revoked() {
    let app = spawn_app().await;
    let token = app.login(Role::Planner).await;
    assert_eq!(
        app.get("/api/auth/me", Some(&token)).await.status,
        StatusCode::OK
    );
    let out = app
        .call(Method::POST, "/api/auth/logout", Some(&token), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let a = app.get("/api/auth/me", Some(&token)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.body["code"], "token_revoked");
}

#[tokio::test]
async fn an_admin_can_revoke_every_token_of_a_user() {
    let app = spawn_app().await;
    let admin = app.login(Role::Admin).await;
    let inspector = app.login(Role::Inspector).await;
    let me = app.get("/api/auth/me", Some(&inspector)).await;
    let id = me.body["id"].as_i64().unwrap();
    let a = app
        .call(
            Method::POST,
            &format!("/api/users/{id}/revoke-tokens"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["revoked"], 1);
    assert_eq!(
        app.get("/api/auth/me", Some(&inspector)).await.body["code"],
        "token_revoked"
    );
    let missing = app
        .call(
            Method::POST,
            "/api/users/999999/revoke-tokens",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_expired_token_is_refused_as_expired() {
    let app = spawn_app_with(HttpSettings {
        token_ttl: chrono::Duration::seconds(-1),
        ..HttpSettings::default()
    })
    .await;
    let token = app.login(Role::Dispatcher).await;
    let a = app.get("/api/auth/me", Some(&token)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.body["code"], "token_expired");
}

#[tokio::test]
async fn demo_credentials_are_refused_when_the_service_does_not_allow_them() {
    let app = spawn_app_with(HttpSettings {
        allow_demo_logins: false,
        ..HttpSettings::default()
    })
    .await;
    let a = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "demo_admin", "password": wangge::demo::DEMO_PASSWORD})),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.body["code"], "demo_credentials_refused");
}

#[tokio::test]
async fn the_inspector_and_the_handler_carry_their_scope_in_me() {
    let app = spawn_app().await;
    let h = app
        .get("/api/auth/me", Some(&app.login(Role::Handler).await))
        .await;
    assert_eq!(h.body["role"], "handler");
    assert_eq!(h.body["role_zh"], "处置人员");
    assert_eq!(h.body["unit_code"], OWN_UNIT);
}

#[tokio::test]
async fn creating_a_user_is_validated_and_a_duplicate_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.login(Role::Admin).await;
    let handler_without_unit = json!({"username": "handler2", "display_name": "处置二", "role": "handler", "password": "long-enough-pw"});
    let a = app
        .call(
            Method::POST,
            "/api/users",
            Some(&admin),
            Some(handler_without_unit),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["code"], "invalid_field");

    let bad_grid = json!({"username": "inspector2", "display_name": "网格员二", "role": "inspector", "password": "long-enough-pw", "grids": ["4101"]});
    let a = app
        .call(Method::POST, "/api/users", Some(&admin), Some(bad_grid))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);

    let unknown_unit = json!({"username": "handler3", "display_name": "处置三", "role": "handler", "password": "long-enough-pw", "unit_code": "no-such-unit"});
    let a = app
        .call(Method::POST, "/api/users", Some(&admin), Some(unknown_unit))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["code"], "invalid_reference");

    let events_before = app
        .get("/api/events?limit=1000", Some(&admin))
        .await
        .body
        .as_array()
        .unwrap()
        .len();
    let users_before = app.db.store.list_users().await.unwrap().len();
    let dup = json!({"username": "demo_admin", "display_name": "重复", "role": "planner", "password": "long-enough-pw"});
    let a = app
        .call(Method::POST, "/api/users", Some(&admin), Some(dup))
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.body["code"], "conflict");
    assert_eq!(app.db.store.list_users().await.unwrap().len(), users_before);
    let events_after = app
        .get("/api/events?limit=1000", Some(&admin))
        .await
        .body
        .as_array()
        .unwrap()
        .len();
    assert_eq!(events_after, events_before);
}

#[tokio::test]
async fn a_change_is_logged_with_its_actor_and_request_id() {
    let app = spawn_app().await;
    let admin = app.login(Role::Admin).await;
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/users")
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-request-id", "req-test-42")
        .body(Body::from(
            json!({"username": "wang_wu", "display_name": "王五", "role": "inspector", "password": "long-enough-pw", "grids": ["410103001001001"]}).to_string(),
        ))
        .unwrap();
    let a = app.request(req).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.headers["x-request-id"], "req-test-42");
    let id = a.body["id"].as_i64().unwrap();
    let events = app
        .get(
            &format!("/api/events?entity_type=user&entity_id={id}"),
            Some(&admin),
        )
        .await;
    let e = &events.body[0];
    assert_eq!(e["action"], "user.created");
    assert_eq!(e["actor_name"], "demo_admin");
    assert_eq!(e["request_id"], "req-test-42");
    assert_eq!(e["detail"]["grids"][0], "410103001001001");
}

#[tokio::test]
async fn healthz_reports_the_database_the_index_version_and_the_build() {
    let app = spawn_app().await;
    let a = app.get("/healthz", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["status"], "ok");
    assert_eq!(a.body["database"]["reachable"], true);
    assert_eq!(a.body["database"]["backend"], app.db.store.backend_name());
    if app.db.store.backend_name() == "postgres" {
        assert!(
            a.body["database"]["postgis"]
                .as_str()
                .unwrap()
                .starts_with('3')
        );
    }
    assert!(a.body["index_version"].as_i64().unwrap() >= 1);
    assert_eq!(a.body["build"]["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn metrics_are_served_as_prometheus_text_with_request_counts() {
    let app = spawn_app().await;
    app.get("/healthz", None).await;
    let a = app.get("/metrics", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.text.contains("wangge_http_requests_total"), "{}", a.text);
    assert!(a.text.contains("route=\"/healthz\""));
}

#[tokio::test]
async fn the_openapi_document_and_a_vendored_swagger_ui_are_served() {
    let app = spawn_app().await;
    let doc = app.get("/api/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["paths"]["/api/auth/login"].is_object());
    let ui = app.get("/api/docs/", None).await;
    assert_eq!(ui.status, StatusCode::OK);
    assert!(ui.text.contains("swagger"), "{}", ui.text);
    // The UI's script is served by us, not by a CDN.
    let js = app.get("/api/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(
        !ui.text.contains("https://"),
        "the UI page must not load anything remote"
    );
}

#[tokio::test]
async fn responses_are_gzipped_when_the_client_accepts_it() {
    let app = spawn_app().await;
    let req = Request::builder()
        .uri("/api/layers/district")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let res = app.request(req).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.headers[header::CONTENT_ENCODING], "gzip");
}

#[tokio::test]
async fn the_first_start_loads_the_real_district_outlines_as_geojson() {
    let app = spawn_app().await;
    let a = app.get("/api/layers/district", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/geo+json");
    let names: Vec<&str> = a.body["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["中原区", "二七区"]);
    let versions = app.get("/api/layers", None).await;
    assert_eq!(versions.body[0]["layer"], "district");
    assert_eq!(versions.body[0]["version"], 1);
}

#[tokio::test]
async fn a_layer_export_with_a_bad_date_gets_400() {
    let app = spawn_app().await;
    let a = app.get("/api/layers/district?at=yesterday", None).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body["code"], "invalid_date");
    let unknown = app.get("/api/layers/province", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_layer_export_can_be_limited_to_a_bounding_box() {
    let app = spawn_app().await;
    // A box in the south of 二七区, below 中原区.
    let a = app
        .get("/api/layers/district?bbox=113.60,34.61,113.61,34.62", None)
        .await;
    let names: Vec<&str> = a.body["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["二七区"]);
    let none = app
        .get("/api/layers/district?bbox=24.9,60.1,25.0,60.2", None)
        .await;
    assert_eq!(none.body["features"].as_array().unwrap().len(), 0);
    let bad = app.get("/api/layers/district?bbox=1,2,3", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["code"], "invalid_bbox");
}

/// A `$ref` to a schema the document does not define leaves that part untested by every client
/// generator and by schemathesis (found by its "unresolvable reference" warning).
#[tokio::test]
async fn every_reference_in_the_openapi_document_resolves() {
    fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                    out.push(r);
                }
                m.values().for_each(|v| refs(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let app = spawn_app().await;
    let doc = app.get("/api/openapi.json", None).await.body;
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 20, "{} references", found.len());
    let missing: Vec<&str> = found
        .into_iter()
        .filter(|r| {
            let pointer = r.strip_prefix('#').unwrap_or(r);
            doc.pointer(pointer).is_none()
        })
        .collect();
    assert!(missing.is_empty(), "unresolved: {missing:?}");
}

#[tokio::test]
async fn the_openapi_document_puts_query_parameters_in_the_query_and_documents_every_error_answer()
{
    let app = spawn_app().await;
    let doc = app.get("/api/openapi.json", None).await.body;
    let mut operations = 0;
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            operations += 1;
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap();
                if p["in"] == "path" {
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: {name} is declared in the path but is not in it"
                    );
                }
            }
            let responses = op["responses"].as_object().expect("responses");
            let mut needed = vec!["408", "414", "431", "500", "503"];
            if op.get("security").is_some() {
                needed.extend(["401", "403"]);
            }
            if op.get("requestBody").is_some() {
                needed.extend(["400", "413", "415"]);
            }
            if path.contains('{') {
                needed.push("404");
            }
            for status in needed {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} does not document {status}"
                );
            }
        }
    }
    assert!(operations > 50);
    assert_eq!(
        doc["paths"]["/api/layers"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["type"],
        "array"
    );
    let schemas = &doc["components"]["schemas"];
    let published: Vec<&str> = schemas["ErrorCode"]["enum"]
        .as_array()
        .expect("the error codes")
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let known: Vec<&str> = wangge::http::error::ERROR_CODES
        .iter()
        .map(|(c, _, _)| *c)
        .collect();
    assert_eq!(published, known);
    assert_eq!(
        schemas["ErrorBody"]["properties"]["code"]["$ref"],
        "#/components/schemas/ErrorCode"
    );
    assert!(
        schemas["ActionRequest"]["oneOf"]
            .as_array()
            .is_some_and(|v| v.len() == 12),
        "the action request names its twelve actions"
    );
    let view = &schemas["CaseView"];
    assert!(
        view["properties"]["status"]["enum"]
            .as_array()
            .is_some_and(|v| v.len() == 11),
        "the case view is a typed schema with the eleven statuses"
    );
    assert_eq!(
        view["properties"]["allowed_actions"]["items"]["enum"]
            .as_array()
            .map(Vec::len),
        Some(12),
        "allowed_actions names the twelve actions"
    );
    assert!(
        schemas.get("CaseRecord").is_none(),
        "no store row in the API"
    );
}

#[tokio::test]
async fn paging_parameters_out_of_range_are_refused_with_their_range_not_clamped() {
    let app = spawn_app().await;
    let token = app.login(Role::Admin).await;
    for path in [
        "/api/units?limit=-1",
        "/api/units?limit=99999999999",
        "/api/units?limit=0",
        "/api/units?offset=-1",
        "/api/events?limit=1001",
        "/api/events?before_id=0",
        "/api/cases?limit=1001",
        "/api/cases?limit=abc",
        "/api/cases/export?limit=10001",
    ] {
        let a = app.get(path, Some(&token)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}: {}", a.text);
        assert_eq!(a.body["code"], "invalid_parameter", "{path}");
        let message = a.body["message"].as_str().unwrap();
        assert!(
            message.contains("from 1 to") || message.contains("from 0 to"),
            "{path}: the message names the range: {message}"
        );
    }
    for path in [
        "/api/units?limit=1000&offset=0",
        "/api/events?limit=1",
        "/api/cases?limit=1000",
        "/api/cases/export?limit=10000",
    ] {
        let a = app.get(path, Some(&token)).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
    }
}

// --- throttling (issue 11, item 7) ---------------------------------------------------------------

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use wangge::http::throttle::{Clock, LimitSettings};

/// A JSON request as if sent from `peer` over a socket (the router alone has no ConnectInfo).
fn from_peer(peer: &str, method: Method, uri: &str, body: Value) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let addr: SocketAddr = peer.parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}

fn login_body(username: &str, password: &str) -> Value {
    json!({"username": username, "password": password})
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_until_the_lock_passes_even_for_the_right_password() {
    let clock = Clock::manual();
    let app = spawn_app_with(HttpSettings {
        limits: LimitSettings {
            login_failures_per_account: 3,
            clock: clock.clone(),
            ..LimitSettings::default()
        },
        ..HttpSettings::default()
    })
    .await;
    let peer = "198.51.100.7:4000";
    for _ in 0..3 {
        let a = app
            .request(from_peer(
                peer,
                Method::POST,
                "/api/auth/login",
                login_body("demo_admin", "guess"),
            ))
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
        assert_eq!(a.body["code"], "invalid_credentials");
    }
    let right = || {
        from_peer(
            peer,
            Method::POST,
            "/api/auth/login",
            login_body("demo_admin", wangge::demo::DEMO_PASSWORD),
        )
    };
    let locked = app.request(right()).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        locked.text
    );
    assert_eq!(locked.body["code"], "too_many_login_attempts");
    assert!(locked.body["message"].as_str().unwrap().contains("60"));
    assert_eq!(locked.headers[header::RETRY_AFTER], "60");
    // The account name is matched without case: another spelling is the same account.
    let a = app
        .request(from_peer(
            peer,
            Method::POST,
            "/api/auth/login",
            login_body("DEMO_ADMIN", "x"),
        ))
        .await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    // Another account from the same address is not locked.
    let other = app
        .request(from_peer(
            peer,
            Method::POST,
            "/api/auth/login",
            login_body("demo_planner", wangge::demo::DEMO_PASSWORD),
        ))
        .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text);

    clock.advance(Duration::from_secs(59));
    assert_eq!(app.request(right()).await.headers[header::RETRY_AFTER], "1");
    clock.advance(Duration::from_secs(1));
    let a = app.request(right()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    // The success started the account afresh: three more failures before the next lock.
    for _ in 0..3 {
        let a = app
            .request(from_peer(
                peer,
                Method::POST,
                "/api/auth/login",
                login_body("demo_admin", "guess"),
            ))
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        app.request(right()).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_second_lock_within_the_window_lasts_twice_as_long() {
    let clock = Clock::manual();
    let app = spawn_app_with(HttpSettings {
        limits: LimitSettings {
            login_failures_per_account: 2,
            clock: clock.clone(),
            ..LimitSettings::default()
        },
        ..HttpSettings::default()
    })
    .await;
    let wrong = || {
        from_peer(
            "198.51.100.8:1",
            Method::POST,
            "/api/auth/login",
            login_body("demo_clerk", "guess"),
        )
    };
    for round in [60, 120, 240] {
        for _ in 0..2 {
            assert_eq!(app.request(wrong()).await.status, StatusCode::UNAUTHORIZED);
        }
        let a = app.request(wrong()).await;
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(a.headers[header::RETRY_AFTER], round.to_string().as_str());
        clock.advance(Duration::from_secs(round));
    }
}

#[tokio::test]
async fn failed_logins_from_one_address_lock_that_address_and_no_other() {
    let clock = Clock::manual();
    let app = spawn_app_with(HttpSettings {
        limits: LimitSettings {
            login_failures_per_address: 4,
            clock,
            ..LimitSettings::default()
        },
        ..HttpSettings::default()
    })
    .await;
    // One guess each at many accounts: no account reaches its limit, the address does.
    for name in ["a1", "a2", "a3", "a4"] {
        let a = app
            .request(from_peer(
                "203.0.113.5:1",
                Method::POST,
                "/api/auth/login",
                login_body(name, "x"),
            ))
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let good = |peer: &str| {
        from_peer(
            peer,
            Method::POST,
            "/api/auth/login",
            login_body("demo_admin", wangge::demo::DEMO_PASSWORD),
        )
    };
    let a = app.request(good("203.0.113.5:2")).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.text);
    assert!(a.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(
        app.request(good("203.0.113.6:1")).await.status,
        StatusCode::OK
    );
}

/// A citizen's report at the centre of the fixture city's first district.
async fn citizen_report(app: &common::TestApp, key: &str) -> Value {
    use geo::InteriorPoint;
    let d = app
        .db
        .store
        .features_at(wangge::domain::jurisdiction::Layer::District, None)
        .await
        .unwrap();
    let p = d[0].feature.geometry.interior_point().unwrap();
    json!({"idempotency_key": key, "category": "0401", "description": "私搭乱建", "lon": p.x(), "lat": p.y(), "crs": "wgs84"})
}

#[tokio::test]
async fn public_reports_are_throttled_per_address_and_another_address_is_not_affected() {
    let clock = Clock::manual();
    let app = spawn_app_with(HttpSettings {
        limits: LimitSettings {
            public_burst: 3,
            public_per_hour: 60,
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            clock: clock.clone(),
            ..LimitSettings::default()
        },
        ..HttpSettings::default()
    })
    .await;
    let report =
        |peer: &str, body: Value| from_peer(peer, Method::POST, "/api/public/reports", body);
    for i in 0..3 {
        let key = format!("r-{i}");
        let a = app
            .request(report("192.0.2.1:9", citizen_report(&app, &key).await))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    }
    let refused = app
        .request(report("192.0.2.1:10", citizen_report(&app, "r-3").await))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text
    );
    assert_eq!(refused.body["code"], "too_many_reports");
    assert_eq!(refused.headers[header::RETRY_AFTER], "60");
    assert!(
        app.db
            .store
            .list_cases(&wangge::store::CaseFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .len()
            == 3,
        "the refused report stored nothing"
    );
    // Another address still reports; a forged X-Forwarded-For from an untrusted peer changes
    // nothing, from a trusted proxy it names the client.
    let a = app
        .request(report("192.0.2.2:9", citizen_report(&app, "r-4").await))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let mut forged = report("192.0.2.1:11", citizen_report(&app, "r-5").await);
    forged
        .headers_mut()
        .insert("x-forwarded-for", "192.0.2.99".parse().unwrap());
    assert_eq!(
        app.request(forged).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let mut proxied = report("10.1.2.3:80", citizen_report(&app, "r-6").await);
    proxied
        .headers_mut()
        .insert("x-forwarded-for", "192.0.2.99".parse().unwrap());
    assert_eq!(app.request(proxied).await.status, StatusCode::CREATED);
    let mut proxied = report("10.1.2.3:80", citizen_report(&app, "r-7").await);
    proxied
        .headers_mut()
        .insert("x-forwarded-for", "192.0.2.1".parse().unwrap());
    assert_eq!(
        app.request(proxied).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The bucket refills: one report a minute.
    clock.advance(Duration::from_secs(60));
    let a = app
        .request(report("192.0.2.1:12", citizen_report(&app, "r-8").await))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
}

#[tokio::test]
async fn requests_without_a_socket_share_one_fixed_key() {
    let app = spawn_app_with(HttpSettings {
        limits: LimitSettings {
            public_burst: 1,
            clock: Clock::manual(),
            ..LimitSettings::default()
        },
        ..HttpSettings::default()
    })
    .await;
    let first = app
        .call(
            Method::POST,
            "/api/public/reports",
            None,
            Some(citizen_report(&app, "s-1").await),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let second = app
        .call(
            Method::POST,
            "/api/public/reports",
            None,
            Some(citizen_report(&app, "s-2").await),
        )
        .await;
    assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
}

// --- security headers and health details (issue 11, item 12) -------------------------------------

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_authenticated_ones_are_not_stored() {
    let app = spawn_app_with(HttpSettings {
        web_dir: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/web").into()),
        ..HttpSettings::default()
    })
    .await;
    let token = app.login(Role::Admin).await;
    let page = app.get("/", None).await;
    let me = app.get("/api/auth/me", Some(&token)).await;
    let missing = app.get("/api/nothing-here", None).await;
    let docs = app.get("/api/docs/", None).await;
    for (what, a) in [
        ("page", &page),
        ("me", &me),
        ("404", &missing),
        ("docs", &docs),
    ] {
        let h = &a.headers;
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"),
            "{what}: {csp}"
        );
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{what}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{what}");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer", "{what}");
    }
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(docs.status, StatusCode::OK);
    assert_eq!(me.headers[header::CACHE_CONTROL], "no-store");
    let refused = app.get("/api/users", Some("wg_not-a-token")).await;
    assert_eq!(refused.headers[header::CACHE_CONTROL], "no-store");
    assert!(
        page.headers
            .get(header::CACHE_CONTROL)
            .is_none_or(|v| v != "no-store"),
        "the public page may be cached"
    );
}

#[tokio::test]
async fn healthz_tells_the_public_a_code_and_an_operator_the_store_s_own_error() {
    let app = spawn_app().await;
    let admin = app.login(Role::Admin).await;
    let planner = app.login(Role::Planner).await;
    app.db.store.close().await;
    let detail = app.db.store.ping().await.unwrap_err().to_string();
    assert!(!detail.is_empty());

    let public = app.get("/healthz", None).await;
    assert_eq!(public.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(public.body["database"]["reachable"], false);
    assert_eq!(
        public.body["database"]["error_code"],
        "database_unavailable"
    );
    let said = public.body["database"]["error"].as_str().unwrap();
    assert!(!said.is_empty() && !said.contains(&detail), "{said}");
    let not_admin = app.get("/healthz", Some(&planner)).await;
    assert!(!not_admin.text.contains(&detail), "{}", not_admin.text);

    let operator = app.get("/healthz", Some(&admin)).await;
    assert_eq!(operator.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(operator.body["database"]["error"], detail.as_str());
    assert_eq!(
        operator.body["database"]["error_code"],
        "database_unavailable"
    );
}

#[test]
fn the_readme_lists_every_error_code_with_its_status() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    for (code, status, _) in wangge::http::error::ERROR_CODES {
        assert!(
            readme.contains(&format!("| `{code}` | {status} |")),
            "README's error table lacks `{code}` ({status})"
        );
    }
}
