//! Cases through the API over the demo city, on SQLite and PostgreSQL + PostGIS: the whole loop
//! with every role, automatic dispatch (department, 门前三包 shop with its escalation ladder,
//! railway land, triage), duplicates, the versioned catalogue, hotline import, deadlines and the
//! overdue list, filters and export, forbidden transitions, idempotent intake under racing
//! retries.

use crate::common;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use common::{TestApp, spawn_city_without_history};
use geo::InteriorPoint;
use serde_json::{Value, json};
use wangge::domain::crs::Crs;
use wangge::domain::identity::Role;
use wangge::domain::jurisdiction::Layer;
use wangge::http::HttpSettings;

/// A point inside the first grid the demo inspector patrols (WGS84).
async fn patrolled_point(app: &TestApp) -> (f64, f64, String) {
    let grids = app.db.store.features_at(Layer::Grid, None).await.unwrap();
    let g = &grids[0];
    let p = g.feature.geometry.interior_point().unwrap();
    (p.x(), p.y(), g.feature.code.clone())
}

async fn act(app: &TestApp, token: &str, id: i64, action: Value) -> common::Answer {
    app.call(
        Method::POST,
        &format!("/api/cases/{id}/actions"),
        Some(token),
        Some(action),
    )
    .await
}

#[tokio::test]
async fn a_citizen_report_travels_the_whole_loop_and_wrong_moves_are_refused() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat, grid) = patrolled_point(&app).await;
    // 私搭乱建 goes to the district's 城管执法 (not a 门前三包 problem).
    let report = json!({"idempotency_key": "citizen-1", "category": "0401", "description": "楼顶私搭乱建", "lon": lon, "lat": lat, "crs": "wgs84"});
    let r = app
        .call(Method::POST, "/api/public/reports", None, Some(report))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_i64().unwrap();
    let follow = r.body["follow_token"].as_str().unwrap().to_owned();

    let ti = app.login(Role::Inspector).await;
    let tc = app.login(Role::IntakeClerk).await;
    let td = app.login(Role::Dispatcher).await;
    let ts = app.login(Role::ShiftLead).await;
    let tp = app.login(Role::Planner).await;

    let c = app.get(&format!("/api/cases/{id}"), Some(&tp)).await;
    assert_eq!(c.body["status"], "verifying");
    assert_eq!(c.body["grid_code"], grid.as_str());
    assert_eq!(c.body["source"], "citizen");

    // Out of order, wrong role: refused, nothing changes.
    let a = act(&app, &ts, id, json!({"action": "close"})).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.body["code"], "invalid_transition");
    let a = act(
        &app,
        &tp,
        id,
        json!({"action": "verify", "confirmed": true}),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.body["code"], "forbidden_role");

    let steps: Vec<(&str, Value, &str)> = vec![(
        ti.as_str(),
        json!({"action": "verify", "confirmed": true, "note": "现场确认"}),
        "collected",
    )];
    for (token, action, want) in steps {
        let a = act(&app, token, id, action.clone()).await;
        assert_eq!(a.status, StatusCode::OK, "{action}: {}", a.text);
        assert_eq!(a.body["status"], want, "{action}");
    }
    // 立案 dispatches by the rule table: 私搭乱建 → the district's 住建 department, clock running.
    let a = act(&app, &tc, id, json!({"action": "register"})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["status"], "dispatched");
    assert_eq!(a.body["dispatch_rule"], "department");
    let district = a.body["district_code"].as_str().unwrap().to_owned();
    let unit = format!("dept-{district}-zj");
    assert_eq!(a.body["unit_code"], unit.as_str());
    assert!(a.body["deadline_at"].is_string());
    assert_eq!(a.body["light"], "green");
    let chain: Vec<&str> = a.body["owner_chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["level"].as_str().unwrap())
        .collect();
    assert!(
        chain.contains(&"grid") && chain.contains(&"department"),
        "{chain:?}"
    );
    // A dispatcher may not dispatch again what is dispatched.
    let again = act(
        &app,
        &td,
        id,
        json!({"action": "dispatch", "unit_code": unit}),
    )
    .await;
    assert_eq!(again.body["code"], "invalid_transition");
    let th = handler_of(&app, &unit).await;
    let steps: Vec<(&str, Value, &str)> = vec![
        (th.as_str(), json!({"action": "accept"}), "handling"),
        (
            th.as_str(),
            json!({"action": "feedback", "note": "已清理"}),
            "fed_back",
        ),
        (
            ti.as_str(),
            json!({"action": "check", "passed": false, "note": "仍有残留"}),
            "handling",
        ),
        (th.as_str(), json!({"action": "feedback"}), "fed_back"),
        (
            ti.as_str(),
            json!({"action": "check", "passed": true}),
            "checked",
        ),
        (ts.as_str(), json!({"action": "close"}), "closed"),
    ];
    for (token, action, want) in steps {
        let a = act(&app, token, id, action.clone()).await;
        assert_eq!(a.status, StatusCode::OK, "{action}: {}", a.text);
        assert_eq!(a.body["status"], want, "{action}");
    }
    let done = app.get(&format!("/api/cases/{id}"), Some(&tp)).await;
    assert_eq!(done.body["rework_count"], 1);
    assert!(done.body["closed_at"].is_string());
    let actions: Vec<&str> = done.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions[0], "case.created");
    assert_eq!(actions[3], "case.auto_dispatch");
    assert_eq!(done.body["timeline"][3]["detail"]["rule"], "department");
    assert_eq!(actions.len(), 10, "{actions:?}");
    assert_eq!(done.body["timeline"][1]["actor_name"], "demo_inspector");
    assert_eq!(
        done.body["timeline"][1]["actor_display_name"], "张网格(监督员)",
        "the page shows the person's name, not their login"
    );
    assert_eq!(done.body["timeline"][1]["detail"]["note"], "现场确认");

    // The citizen follows it up with the token, and only with it.
    let f = app
        .get(&format!("/api/public/reports/{id}?token={follow}"), None)
        .await;
    assert_eq!(f.body["status_zh"], "结案");
    assert_eq!(
        app.get(&format!("/api/public/reports/{id}?token=wrong"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// The `allowed_actions` and `allowed_requests` of a case view.
fn allowed(view: &Value) -> (Vec<&str>, Vec<&str>) {
    let names = |k: &str| -> Vec<&str> {
        view[k]
            .as_array()
            .unwrap_or_else(|| panic!("{k} missing: {view}"))
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect()
    };
    (names("allowed_actions"), names("allowed_requests"))
}

#[tokio::test]
async fn each_user_is_told_the_actions_they_may_take_now_in_the_case_the_list_and_the_export() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat, grid) = patrolled_point(&app).await;
    let report = json!({"idempotency_key": "allowed-1", "category": "0401", "description": "私搭乱建", "lon": lon, "lat": lat, "crs": "wgs84"});
    let r = app
        .call(Method::POST, "/api/public/reports", None, Some(report))
        .await;
    let id = r.body["id"].as_i64().unwrap();
    let ti = app.login(Role::Inspector).await;
    let tc = app.login(Role::IntakeClerk).await;
    let ts = app.login(Role::ShiftLead).await;
    let tp = app.login(Role::Planner).await;
    let grids = app.db.store.features_at(Layer::Grid, None).await.unwrap();
    let elsewhere = grids
        .iter()
        .map(|g| g.feature.code.clone())
        .find(|g| *g != grid)
        .unwrap();
    let other_inspector = inspector_of(&app, &elsewhere).await;
    let path = format!("/api/cases/{id}");
    for (token, actions, requests) in [
        (&ti, vec!["verify"], vec![]),
        (&other_inspector, vec![], vec![]),
        (&tc, vec!["request", "link"], vec!["void"]),
        (&ts, vec!["request", "link"], vec!["void"]),
        (&tp, vec![], vec![]),
    ] {
        let c = app.get(&path, Some(token)).await;
        assert_eq!(allowed(&c.body), (actions, requests), "{}", c.text);
    }
    // The list and the export say the same, for their reader.
    let list = app.get("/api/cases?limit=10", Some(&tc)).await;
    let item = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap();
    assert_eq!(allowed(item), (vec!["request", "link"], vec!["void"]));
    let export = app.get("/api/cases/export?format=geojson", Some(&ti)).await;
    let feature = export.body["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap();
    assert_eq!(allowed(&feature["properties"]), (vec!["verify"], vec![]));
    // An action's answer is for the one who acted; a pending request freezes the case for all
    // but its approvers.
    let a = act(
        &app,
        &ti,
        id,
        json!({"action": "verify", "confirmed": true}),
    )
    .await;
    assert_eq!(allowed(&a.body), (vec![], vec![]));
    let a = act(&app, &tc, id, json!({"action": "request", "kind": "void"})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(allowed(&a.body), (vec![], vec![]));
    let c = app.get(&path, Some(&ts)).await;
    assert_eq!(allowed(&c.body), (vec!["approve", "reject"], vec![]));
}

#[tokio::test]
async fn retried_submits_never_create_a_second_case_even_when_they_race() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat, _) = patrolled_point(&app).await;
    let token = app.login(Role::Inspector).await;
    let body = json!({"idempotency_key": "phone-42-7", "category": "0201", "description": "占道经营", "lon": lon, "lat": lat, "crs": "wgs84"});
    let tries =
        (0..8).map(|_| app.call(Method::POST, "/api/cases", Some(&token), Some(body.clone())));
    let answers = futures_util::future::join_all(tries).await;
    let created = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1);
    assert!(answers.iter().all(|a| a.status.is_success()));
    let ids: std::collections::BTreeSet<i64> = answers
        .iter()
        .map(|a| a.body["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 1);
    let list = app.get("/api/cases?limit=1000", Some(&token)).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(
        list.body[0]["status"], "collected",
        "an inspector's own report needs no verification"
    );

    // A report from a phone map in GCJ-02 lands in the same grid once declared.
    let (gx, gy) = wangge::domain::crs::Crs::Gcj02.from_wgs84(lon, lat);
    let g = json!({"idempotency_key": "phone-42-8", "category": "0201", "description": "占道经营", "lon": gx, "lat": gy, "crs": "gcj02"});
    let a = app
        .call(Method::POST, "/api/cases", Some(&token), Some(g))
        .await;
    assert_eq!(a.body["grid_code"], list.body[0]["grid_code"]);
    let bad = json!({"idempotency_key": "phone-42-9", "category": "0201", "description": "x", "lon": lat, "lat": lon, "crs": "wgs84"});
    assert_eq!(
        app.call(Method::POST, "/api/cases", Some(&token), Some(bad))
            .await
            .body["code"],
        "swapped_coordinates"
    );
    let no_crs = json!({"idempotency_key": "phone-42-10", "category": "0201", "description": "x", "lon": lon, "lat": lat});
    assert_eq!(
        app.call(Method::POST, "/api/cases", Some(&token), Some(no_crs))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

/// Creates a user (the admin's way) and logs in as them.
async fn user(app: &TestApp, username: &str, role: &str, scope: Value) -> String {
    app.create_user(username, "测试用户", role, scope).await.0
}

/// A handler acting for `unit`.
async fn handler_of(app: &TestApp, unit: &str) -> String {
    let name = format!("h_{}", unit.replace('-', "_"));
    user(app, &name, "handler", json!({"unit_code": unit})).await
}

/// An inspector who patrols `grid`.
async fn inspector_of(app: &TestApp, grid: &str) -> String {
    user(
        app,
        &format!("i_{grid}"),
        "inspector",
        json!({"grids": [grid]}),
    )
    .await
}

/// Finds a point of the demo city whose assignment satisfies `want`.
async fn find_point(
    app: &TestApp,
    layer: Layer,
    want: impl Fn(&wangge::assign::Assignment) -> bool,
) -> (f64, f64, wangge::assign::Assignment) {
    let index = app.state.live().current();
    let features = app.db.store.features_at(layer, None).await.unwrap();
    for f in &features {
        let mut candidates = Vec::new();
        match &f.feature.geometry {
            geo::Geometry::LineString(l) => {
                // Midpoints of segments (inside one strip) and vertices (where strips meet).
                for w in l.0.windows(2) {
                    candidates.push(((w[0].x + w[1].x) / 2.0, (w[0].y + w[1].y) / 2.0));
                }
                candidates.extend(l.0.iter().map(|c| (c.x, c.y)));
            }
            g => {
                if let Some(p) = g.interior_point() {
                    candidates.push((p.x(), p.y()));
                }
            }
        }
        for (x, y) in candidates {
            let a = index.assign(x, y, Crs::Wgs84, None);
            if want(&a) {
                return (x, y, a);
            }
        }
    }
    panic!("no point of {layer:?} fits");
}

/// Posts a report as the holder of `token`.
async fn submit(app: &TestApp, token: &str, body: Value) -> common::Answer {
    app.call(Method::POST, "/api/cases", Some(token), Some(body))
        .await
}

fn report(key: &str, category: &str, lon: f64, lat: f64) -> Value {
    json!({"idempotency_key": key, "category": category, "description": "现场发现问题", "lon": lon, "lat": lat, "crs": "wgs84", "register": true})
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_frontage_problem_goes_to_the_shop_and_climbs_the_ladder_to_enforcement() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat, a) = find_point(&app, Layer::Frontage, |a| {
        !a.ambiguous
            && a.frontages.first().is_some_and(|f| f.unit_code.is_some())
            && a.zones.railway_land.is_none()
            && a.grid.is_some()
    })
    .await;
    let shop = a.frontages[0].unit_code.clone().unwrap();
    let grid = a.grid.as_ref().unwrap().code.clone();
    let district = a.district.as_ref().unwrap().code.clone();
    let ti = inspector_of(&app, &grid).await;
    let r = submit(&app, &ti, report("shop-1", "0202", lon, lat)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["status"], "dispatched");
    assert_eq!(r.body["dispatch_rule"], "frontage_shop");
    assert_eq!(r.body["unit_code"], shop.as_str());
    assert_eq!(r.body["escalation"], 0);
    assert_eq!(r.body["owner_chain"][0]["level"], "frontage");
    let id = r.body["id"].as_i64().unwrap();
    let cases = app.state.cases();

    // Before the window ends nothing happens; then reminder, warning, enforcement.
    let due = time(&r.body["escalation_due_at"]);
    assert_eq!(
        cases
            .sweep_escalations(due - chrono::Duration::seconds(1))
            .await
            .unwrap(),
        0
    );
    let mut now = due;
    for (level, unit) in [(1, shop.as_str()), (2, shop.as_str())] {
        assert_eq!(cases.sweep_escalations(now).await.unwrap(), 1);
        let c = app.state.store().get_case(id).await.unwrap().unwrap();
        assert_eq!(c.escalation, level);
        assert_eq!(c.unit_code.as_deref(), Some(unit));
        now = c.escalation_due_at.unwrap();
    }
    assert_eq!(cases.sweep_escalations(now).await.unwrap(), 1);
    let c = app.state.store().get_case(id).await.unwrap().unwrap();
    assert_eq!(c.escalation, 3);
    assert_eq!(c.unit_code, Some(format!("dept-{district}-cgzf")));
    assert_eq!(c.status.as_str(), "dispatched");
    assert!(c.escalation_due_at.is_none());
    assert_eq!(
        cases
            .sweep_escalations(now + chrono::Duration::days(30))
            .await
            .unwrap(),
        0,
        "the ladder ends at enforcement"
    );
    let tl = app.get(&format!("/api/cases/{id}"), Some(&ti)).await;
    let kinds: Vec<&str> = tl.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "case.escalate")
        .map(|e| e["detail"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["reminder", "warning", "enforcement"]);
    assert_eq!(
        tl.body["timeline"][0]["actor_name"],
        format!("i_{grid}").as_str()
    );

    // A shop that fixes it in time: the inspector confirms on its behalf and the ladder stops.
    let r = submit(&app, &ti, report("shop-2", "0204", lon, lat)).await;
    let id2 = r.body["id"].as_i64().unwrap();
    assert_eq!(
        r.body["dispatch_rule"], "department",
        "0204 is not a 门前三包 category"
    );
    let r = submit(&app, &ti, report("shop-3", "0101", lon, lat)).await;
    assert_eq!(r.body["dispatch_rule"], "frontage_shop", "{}", r.text);
    // The grid's inspector is offered the shop's confirmation (the map page's own table of
    // actions left it out).
    assert_eq!(allowed(&r.body), (vec!["accept"], vec![]));
    let id3 = r.body["id"].as_i64().unwrap();
    for action in [
        json!({"action": "accept"}),
        json!({"action": "feedback", "note": "商户已自行清理"}),
    ] {
        let a = act(&app, &ti, id3, action).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    let c = app.state.store().get_case(id3).await.unwrap().unwrap();
    assert!(c.escalation_due_at.is_none());
    assert_eq!(
        cases
            .sweep_escalations(now + chrono::Duration::days(30))
            .await
            .unwrap(),
        0
    );
    // The grid's inspector may not accept a department's case.
    let a = act(&app, &ti, id2, json!({"action": "accept"})).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text);
}

#[tokio::test]
async fn railway_land_goes_to_the_railway_bureau_with_the_street_office_as_co_owner() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat, a) = find_point(&app, Layer::Zone, |a| {
        a.zones.railway_land.is_some() && a.grid.is_some()
    })
    .await;
    let street_unit = a.street.as_ref().unwrap().unit_code.clone().unwrap();
    let ti = inspector_of(&app, &a.grid.as_ref().unwrap().code).await;
    let r = submit(&app, &ti, report("rail-1", "0102", lon, lat)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["dispatch_rule"], "railway_land");
    assert_eq!(r.body["unit_code"], "dept-railway-zzj");
    assert_eq!(r.body["co_owner_unit"], street_unit.as_str());
    // The street office sees it among its cases.
    let list = app
        .get(&format!("/api/cases?unit={street_unit}"), Some(&ti))
        .await;
    assert!(
        list.body
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == r.body["id"])
    );
}

#[tokio::test]
async fn ambiguous_and_unowned_cases_wait_in_the_triage_queue_until_a_dispatcher_decides() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat, a) = find_point(&app, Layer::Frontage, |a| {
        a.ambiguous && a.zones.railway_land.is_none() && a.grid.is_some()
    })
    .await;
    let district = a.district.as_ref().unwrap().code.clone();
    let ti = inspector_of(&app, &a.grid.as_ref().unwrap().code).await;
    let r = submit(&app, &ti, report("amb-1", "0101", lon, lat)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["status"], "registered");
    assert_eq!(r.body["queue"], "triage");
    assert_eq!(r.body["dispatch_rule"], "frontage_ambiguous");
    assert_eq!(
        r.body["triage_unit"],
        format!("dept-{district}-cwb").as_str()
    );
    assert!(r.body["unit_code"].is_null(), "never silently guessed");
    let id = r.body["id"].as_i64().unwrap();

    // Outside every grid (east of the covered area, within the plausible area): triage too.
    let extent = app.state.live().current().extent();
    let (ox, oy) = (extent.max().x + 0.01, extent.center().y);
    let admin = app.login(Role::Admin).await;
    let out = submit(&app, &admin, report("out-1", "0401", ox, oy)).await;
    assert_eq!(out.status, StatusCode::CREATED, "{}", out.text);
    assert_eq!(out.body["dispatch_rule"], "unassigned");
    assert_eq!(out.body["queue"], "triage");

    let td = app.login(Role::Dispatcher).await;
    let queue = app.get("/api/cases?queue=triage", Some(&td)).await;
    let ids: Vec<i64> = queue
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&id) && ids.contains(&out.body["id"].as_i64().unwrap()));
    let shop = a.frontages[0].unit_code.clone().unwrap();
    let d = act(
        &app,
        &td,
        id,
        json!({"action": "dispatch", "unit_code": shop, "note": "创文办研判：归前一家"}),
    )
    .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(d.body["status"], "dispatched");
    assert_eq!(d.body["dispatch_rule"], "manual");
    assert!(d.body["queue"].is_null());
    let queue = app.get("/api/cases?queue=triage", Some(&td)).await;
    assert!(!queue.body.as_array().unwrap().iter().any(|c| c["id"] == id));
}

#[tokio::test]
async fn the_demo_users_close_a_case_the_rules_route_without_any_override() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    // The README's walk-through: a 私搭乱建 in demo_inspector's grid goes by the rules to the
    // district's 住建 department, and that unit has a demo handler.
    let (lon, lat, _) = patrolled_point(&app).await;
    let ti = app.login_demo("demo_inspector").await;
    let r = app
        .call(Method::POST, "/api/cases", Some(&ti), Some(json!({"idempotency_key": "walk-1", "category": "0401", "description": "屋顶加盖彩钢房", "lon": lon, "lat": lat, "crs": "wgs84"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_i64().unwrap();
    let registered = act(
        &app,
        &app.login_demo("demo_clerk").await,
        id,
        json!({"action": "register"}),
    )
    .await;
    assert_eq!(
        registered.body["status"], "dispatched",
        "{}",
        registered.text
    );
    let unit = registered.body["unit_code"].as_str().unwrap().to_owned();
    assert!(unit.ends_with("-zj"), "{unit}");
    let th = app.login_demo("demo_handler_zj").await;
    let me = app.get("/api/auth/me", Some(&th)).await;
    assert_eq!(
        me.body["unit_code"],
        unit.as_str(),
        "demo_handler_zj acts for the routed unit"
    );
    let ts = app.login_demo("demo_shiftlead").await;
    for (token, action, want) in [
        (&th, json!({"action": "accept"}), "handling"),
        (
            &th,
            json!({"action": "feedback", "note": "已拆除"}),
            "fed_back",
        ),
        (&ti, json!({"action": "check", "passed": true}), "checked"),
        (&ts, json!({"action": "close"}), "closed"),
    ] {
        let a = act(&app, token, id, action.clone()).await;
        assert_eq!(a.body["status"], want, "{action}: {}", a.text);
    }
    // The street office of the grid has its demo handler too (属地 cases).
    let street = app.login_demo("demo_handler_street").await;
    let me = app.get("/api/auth/me", Some(&street)).await;
    assert_eq!(
        me.body["unit_code"]
            .as_str()
            .map(|u| u.starts_with("street-")),
        Some(true),
        "{}",
        me.text
    );
}

#[tokio::test]
async fn dispatching_to_another_district_s_unit_needs_a_reason_and_the_reason_is_on_the_timeline() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat, a) = find_point(&app, Layer::Frontage, |a| {
        a.ambiguous && a.zones.railway_land.is_none() && a.grid.is_some()
    })
    .await;
    let district = a.district.as_ref().unwrap().code.clone();
    let other = if district == "410103" {
        "dept-410102-cgzf"
    } else {
        "dept-410103-cgzf"
    };
    let ti = inspector_of(&app, &a.grid.as_ref().unwrap().code).await;
    let r = submit(&app, &ti, report("far-1", "0101", lon, lat)).await;
    assert_eq!(r.body["queue"], "triage", "{}", r.text);
    let id = r.body["id"].as_i64().unwrap();
    let td = app.login(Role::Dispatcher).await;
    for note in [None, Some("   ")] {
        let mut body = json!({"action": "dispatch", "unit_code": other});
        if let Some(n) = note {
            body["note"] = json!(n);
        }
        let refused = act(&app, &td, id, body).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.text
        );
        assert_eq!(refused.body["code"], "reason_required");
        assert!(refused.body["message"].as_str().unwrap().contains("理由"));
    }
    let unchanged = app.get(&format!("/api/cases/{id}"), Some(&td)).await;
    assert_eq!(unchanged.body["status"], "registered", "nothing half-done");
    assert_eq!(unchanged.body["version"], r.body["version"]);
    // A unit of the case's own district needs no reason.
    let near = submit(&app, &ti, report("near-1", "0103", lon, lat)).await;
    assert_eq!(near.body["queue"], "triage", "{}", near.text);
    let own = format!("dept-{district}-cgzf");
    let d = act(
        &app,
        &td,
        near.body["id"].as_i64().unwrap(),
        json!({"action": "dispatch", "unit_code": own}),
    )
    .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    // With a reason, the far unit gets it, and the reason stays on the record.
    let d = act(
        &app,
        &td,
        id,
        json!({"action": "dispatch", "unit_code": other, "note": "跨区联合执法，由二七区牵头"}),
    )
    .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(d.body["unit_code"], other);
    let timeline = app.get(&format!("/api/cases/{id}"), Some(&td)).await;
    let noted = timeline.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| {
            e["action"] == "case.dispatch" && e["detail"]["note"] == "跨区联合执法，由二七区牵头"
        });
    assert!(noted, "{}", timeline.text);
}

#[tokio::test]
async fn duplicates_are_merged_or_suggested_per_category_and_counted_on_the_case() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat, grid) = patrolled_point(&app).await;
    let ti = app.login(Role::Inspector).await;
    let tc = app.login(Role::IntakeClerk).await;
    let first = app
        .call(Method::POST, "/api/cases", Some(&ti), Some(json!({"idempotency_key": "d-1", "category": "0102", "description": "渣土", "lon": lon, "lat": lat, "crs": "wgs84"})))
        .await;
    let primary = first.body["id"].as_i64().unwrap();
    // 20 m north: the same pile, merged at once (litter categories merge).
    let near = lat + 20.0 / 111_000.0;
    let citizen = app
        .call(Method::POST, "/api/public/reports", None, Some(json!({"idempotency_key": "d-2", "category": "0102", "description": "路边渣土", "lon": lon, "lat": near, "crs": "wgs84"})))
        .await;
    assert_eq!(citizen.status, StatusCode::CREATED, "{}", citizen.text);
    let dup = citizen.body["id"].as_i64().unwrap();
    let token = citizen.body["follow_token"].as_str().unwrap();
    let c = app.get(&format!("/api/cases/{dup}"), Some(&ti)).await;
    assert_eq!(c.body["status"], "merged");
    assert_eq!(c.body["linked_to"], primary);
    let p = app.get(&format!("/api/cases/{primary}"), Some(&ti)).await;
    assert_eq!(p.body["linked_count"], 1);
    let f = app
        .get(&format!("/api/public/reports/{dup}?token={token}"), None)
        .await;
    assert_eq!(f.body["merged_into"], first.body["case_no"]);
    assert_eq!(
        f.body["status"], "collected",
        "the citizen sees the case it joined"
    );

    // 300 m away: a different place, no link.
    let far = app
        .call(Method::POST, "/api/cases", Some(&ti), Some(json!({"idempotency_key": "d-3", "category": "0102", "description": "渣土", "lon": lon, "lat": lat + 300.0 / 111_000.0, "crs": "wgs84"})))
        .await;
    assert_eq!(far.status, StatusCode::CREATED, "{}", far.text);
    assert_ne!(far.body["status"], "merged");
    assert!(far.body["linked_to"].is_null());

    // An illegal structure (私搭乱建) is only suggested: the clerk decides and links.
    let v1 = app
        .call(Method::POST, "/api/cases", Some(&ti), Some(json!({"idempotency_key": "v-1", "category": "0401", "description": "违建", "lon": lon, "lat": lat, "crs": "wgs84"})))
        .await;
    let v2 = app
        .call(Method::POST, "/api/cases", Some(&tc), Some(json!({"idempotency_key": "v-2", "category": "0401", "description": "12345: 楼顶违建", "lon": lon, "lat": near, "crs": "wgs84"})))
        .await;
    assert_eq!(v2.body["status"], "verifying");
    assert_eq!(v2.body["duplicates"][0]["id"], v1.body["id"]);
    let v2id = v2.body["id"].as_i64().unwrap();
    let wrong = act(&app, &tc, v2id, json!({"action": "link", "into": primary})).await;
    assert_eq!(wrong.body["code"], "invalid_reference", "other category");
    let linked = act(
        &app,
        &tc,
        v2id,
        json!({"action": "link", "into": v1.body["id"]}),
    )
    .await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text);
    assert_eq!(linked.body["status"], "merged");
    let v1now = app
        .get(&format!("/api/cases/{}", v1.body["id"]), Some(&ti))
        .await;
    assert_eq!(v1now.body["linked_count"], 1);
    let _ = grid;
}

#[tokio::test]
async fn an_edited_category_applies_to_new_cases_while_old_ones_keep_their_version() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat, _) = patrolled_point(&app).await;
    let ti = app.login(Role::Inspector).await;
    let admin = app.login(Role::Admin).await;
    let old = app
        .call(Method::POST, "/api/cases", Some(&ti), Some(json!({"idempotency_key": "c-1", "category": "0102", "description": "渣土", "lon": lon, "lat": lat, "crs": "wgs84"})))
        .await;
    assert_eq!(old.body["category_version"], 1);
    let cats = app.get("/api/categories", None).await;
    let mut def = cats
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "0102")
        .unwrap()
        .clone();
    let obj = def.as_object_mut().unwrap();
    obj.remove("version");
    obj.insert("duplicate_radius_m".into(), json!(0.0));
    obj.insert(
        "time_limit".into(),
        json!({"unit": "working_days", "value": 3}),
    );
    let put = app
        .call(
            Method::PUT,
            "/api/categories/0102",
            Some(&admin),
            Some(def.clone()),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!(put.body["version"], 2);
    // Radius 0: the same spot is no longer merged, and the new case records version 2.
    let new = app
        .call(Method::POST, "/api/cases", Some(&ti), Some(json!({"idempotency_key": "c-2", "category": "0102", "description": "渣土", "lon": lon, "lat": lat, "crs": "wgs84"})))
        .await;
    assert_eq!(new.body["status"], "collected");
    assert_eq!(new.body["category_version"], 2);
    let versions = app.get("/api/categories/0102/versions", Some(&ti)).await;
    assert_eq!(versions.body.as_array().unwrap().len(), 2);
    // The old case's deadline follows version 1 (1 working day), the new one's version 2 (3).
    let tc = app.login(Role::IntakeClerk).await;
    let o = act(
        &app,
        &tc,
        old.body["id"].as_i64().unwrap(),
        json!({"action": "register"}),
    )
    .await;
    let n = act(
        &app,
        &tc,
        new.body["id"].as_i64().unwrap(),
        json!({"action": "register"}),
    )
    .await;
    let span = |v: &Value| time(&v["deadline_at"]) - time(&v["dispatched_at"]);
    assert!(span(&n.body) > span(&o.body), "{} vs {}", n.text, o.text);
    // Nonsense is refused with a reason.
    obj_bad(&app, &admin, def).await;
}

async fn obj_bad(app: &TestApp, admin: &str, mut def: Value) {
    def["time_limit"] = json!({"unit": "working_hours", "value": 0});
    let bad = app
        .call(
            Method::PUT,
            "/api/categories/0102",
            Some(admin),
            Some(def.clone()),
        )
        .await;
    assert_eq!(bad.body["code"], "invalid_category", "{}", bad.text);
    let other = app
        .call(Method::PUT, "/api/categories/0103", Some(admin), Some(def))
        .await;
    assert_eq!(other.body["code"], "invalid_field");
}

#[tokio::test]
async fn a_hotline_export_is_imported_once_with_bad_rows_named_and_old_calls_overdue() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat, grid) = patrolled_point(&app).await;
    let (gx, gy) = Crs::Gcj02.from_wgs84(lon, lat);
    let tc = app.login(Role::IntakeClerk).await;
    let csv = format!(
        "工单编号,受理时间,问题类别,问题描述,经度,纬度,坐标系\n\
         ZZ-0001,2026-01-05 09:30,占道经营,菜市场门口占道,{gx},{gy},gcj02\n\
         ZZ-0002,2026-01-05 10:00,不存在的类别,x,{lon},{lat},wgs84\n\
         ZZ-0003,2026-01-05 11:00,0401,违建,{lat},{lon},wgs84\n"
    );
    let send = |csv: String| {
        let req = axum::http::Request::builder()
            .method(Method::POST)
            .uri("/api/cases/hotline")
            .header("authorization", format!("Bearer {tc}"))
            .header("content-type", "text/csv")
            .body(axum::body::Body::from(csv))
            .unwrap();
        app.request(req)
    };
    let r = send(csv.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let outcomes: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["created", "error", "error"], "{}", r.text);
    assert!(
        r.body[2]["error"]
            .as_str()
            .unwrap()
            .contains("latitude, longitude"),
        "{}",
        r.text
    );
    let id = r.body[0]["case_id"].as_i64().unwrap();
    let c = app.get(&format!("/api/cases/{id}"), Some(&tc)).await;
    assert_eq!(c.body["status"], "verifying");
    assert_eq!(c.body["source"], "hotline_12345");
    assert_eq!(c.body["external_ref"], "ZZ-0001");
    assert_eq!(c.body["grid_code"], grid.as_str(), "GCJ-02 converted");
    // Called in January: long past its deadlines, on the overdue list.
    assert_eq!(c.body["overdue"], true);
    let overdue = app.get("/api/cases?overdue=true", Some(&tc)).await;
    assert!(
        overdue
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id)
    );
    // The same export again creates nothing.
    let again = send(csv).await;
    assert_eq!(again.body[0]["outcome"], "already_imported");
    assert_eq!(again.body[0]["case_id"], id);
    // A fresh report is not overdue.
    let ti = app.login(Role::Inspector).await;
    let fresh = app
        .call(Method::POST, "/api/cases", Some(&ti), Some(json!({"idempotency_key": "f-1", "category": "0401", "description": "违建", "lon": lon, "lat": lat, "crs": "wgs84"})))
        .await;
    assert_eq!(fresh.body["overdue"], false);
    assert!(fresh.body["step_due_at"].is_string() && fresh.body["due_at"].is_string());
}

#[tokio::test]
async fn cases_are_found_by_area_drawn_polygon_time_and_page_and_exported() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let ti = app.login(Role::Inspector).await;
    let grids = app.db.store.features_at(Layer::Grid, None).await.unwrap();
    let mut made = Vec::new();
    for (k, g) in grids.iter().take(5).enumerate() {
        let p = g.feature.geometry.interior_point().unwrap();
        let r = app
            .call(Method::POST, "/api/cases", Some(&ti), Some(json!({"idempotency_key": format!("q-{k}"), "category": "0401", "description": "违建", "lon": p.x(), "lat": p.y(), "crs": "wgs84"})))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        made.push((r.body["id"].as_i64().unwrap(), g.feature.code.clone(), p));
    }
    let (id0, grid0, p0) = &made[0];
    let bbox = format!(
        "{},{},{},{}",
        p0.x() - 1e-4,
        p0.y() - 1e-4,
        p0.x() + 1e-4,
        p0.y() + 1e-4
    );
    let hit = app.get(&format!("/api/cases?bbox={bbox}"), Some(&ti)).await;
    let ids: Vec<i64> = hit
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [*id0]);
    // The first grid drawn as a polygon.
    let shape = grids[0].feature.geometry.clone();
    let gj = geojson::Geometry::from(&shape).to_string();
    let enc: String = common::url_encode(&gj);
    let poly = app
        .get(&format!("/api/cases?polygon={enc}"), Some(&ti))
        .await;
    assert_eq!(poly.status, StatusCode::OK, "{}", poly.text);
    let ids: Vec<i64> = poly
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [*id0]);
    assert_eq!(
        app.get(
            "/api/cases?polygon=%7B%22type%22%3A%22Point%22%7D",
            Some(&ti)
        )
        .await
        .body["code"],
        "invalid_polygon"
    );
    assert_eq!(
        app.get("/api/cases?bbox=1,2,3", Some(&ti)).await.body["code"],
        "invalid_bbox"
    );
    let by_grid = app
        .get(&format!("/api/cases?grid={grid0}"), Some(&ti))
        .await;
    assert_eq!(by_grid.body.as_array().unwrap().len(), 1);
    let community = grids[0].feature.parent_code.clone().unwrap();
    let by_comm = app
        .get(&format!("/api/cases?community={community}"), Some(&ti))
        .await;
    assert!(
        by_comm
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["community_code"] == community.as_str())
    );
    let future = app
        .get("/api/cases?from=2100-01-01T00:00:00Z", Some(&ti))
        .await;
    assert!(future.body.as_array().unwrap().is_empty());

    // Pages of two, following the header.
    let mut seen = Vec::new();
    let mut path = "/api/cases?limit=2".to_owned();
    loop {
        let page = app.get(&path, Some(&ti)).await;
        seen.extend(
            page.body
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_i64().unwrap()),
        );
        match page.headers.get("x-next-before-id") {
            Some(n) => path = format!("/api/cases?limit=2&before_id={}", n.to_str().unwrap()),
            None => break,
        }
    }
    let mut all: Vec<i64> = made.iter().map(|m| m.0).collect();
    all.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, all);

    let gj = app.get("/api/cases/export?format=geojson", Some(&ti)).await;
    assert_eq!(gj.body["features"].as_array().unwrap().len(), 5);
    assert_eq!(gj.body["features"][0]["geometry"]["type"], "Point");
    assert_eq!(gj.body["features"][0]["properties"]["status"], "collected");
    let csv = app
        .get(
            &format!("/api/cases/export?format=csv&grid={grid0}"),
            Some(&ti),
        )
        .await;
    assert!(csv.text.starts_with('\u{feff}'));
    assert_eq!(csv.text.lines().count(), 2, "{}", csv.text);
    assert!(csv.text.contains("私搭乱建"));
}

async fn tile_bytes(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder().uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let res = app
        .router
        .clone()
        .oneshot(req.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    (
        status,
        res.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

#[tokio::test]
async fn live_cases_come_as_vector_tiles_clustered_at_city_zoom_and_pinned_at_street_zoom() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat, _) = patrolled_point(&app).await;
    let ti = app.login(Role::Inspector).await;
    let mut ids = Vec::new();
    for k in 0..3 {
        // Illegal structures 10 m apart: separate cases (only suggested as duplicates).
        let body = json!({"idempotency_key": format!("t-{k}"), "category": "0401", "description": "违建", "lon": lon + f64::from(k) * 1e-4, "lat": lat, "crs": "wgs84", "register": true});
        let r = app
            .call(Method::POST, "/api/cases", Some(&ti), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.body["id"].as_i64().unwrap() as u64);
    }
    // The tiles holding the three points (they may straddle a tile edge).
    let tiles_at = |z: u8| {
        let n = f64::from(1u32 << z);
        let mut t: Vec<String> = (0..3)
            .map(|k| {
                let [wx, wy] = wangge::tiles::world(lon + f64::from(k) * 1e-4, lat);
                format!(
                    "/tiles/cases/{z}/{}/{}.mvt",
                    (wx * n) as u32,
                    (wy * n) as u32
                )
            })
            .collect();
        t.dedup();
        t
    };
    let tile = |z: u8| tiles_at(z)[0].clone();
    let (status, _) = tile_bytes(&app, &tile(12), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "cases are not public");
    let mut clusters = Vec::new();
    for t in tiles_at(12) {
        let (status, bytes) = tile_bytes(&app, &t, Some(&ti)).await;
        assert_eq!(status, StatusCode::OK);
        clusters.extend(wangge::tiles::decode(&bytes).unwrap().remove(0).1);
    }
    if clusters.len() == 1 {
        assert_eq!(clusters[0].props["point_count"], "3");
        assert_eq!(clusters[0].props["light"], "green");
    }
    let counted: usize = clusters
        .iter()
        .map(|f| f.props.get("point_count").map_or(1, |c| c.parse().unwrap()))
        .sum();
    assert_eq!(counted, 3, "every case counted once at z12");
    let mut got = Vec::new();
    for t in tiles_at(17) {
        let (_, bytes) = tile_bytes(&app, &t, Some(&ti)).await;
        got.extend(
            wangge::tiles::decode(&bytes).unwrap()[0]
                .1
                .iter()
                .map(|f| f.id),
        );
    }
    got.sort_unstable();
    assert_eq!(got, ids, "one pin per case at z17");
    let (_, bytes) = tile_bytes(&app, &format!("{}?status=closed", tile(17)), Some(&ti)).await;
    assert!(bytes.is_empty(), "no closed case there");
    let (status, _) = tile_bytes(&app, "/tiles/cases/99/0/0.mvt", Some(&ti)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_inspector_s_report_outside_their_grids_goes_to_that_grid_s_verification_and_is_not_registered()
 {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let grids = app.db.store.features_at(Layer::Grid, None).await.unwrap();
    let (own, elsewhere) = (&grids[0].feature, &grids[100].feature);
    let p = elsewhere.geometry.interior_point().unwrap();
    let ti = inspector_of(&app, &own.code).await;
    let r = submit(&app, &ti, report("away-1", "0401", p.x(), p.y())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["status"], "verifying", "not registered: {}", r.text);
    assert_eq!(r.body["source"], "inspector");
    assert_eq!(r.body["grid_code"], elsewhere.code.as_str());
    assert!(r.body["unit_code"].is_null(), "not dispatched: {}", r.text);
    assert_eq!(r.body["notice"]["code"], "outside_patrol_grids");
    assert!(
        r.body["notice"]["message"]
            .as_str()
            .unwrap()
            .contains("register was ignored")
    );
    let id = r.body["id"].as_i64().unwrap();
    // The reporter cannot verify it; that grid's inspector does.
    let verify = json!({"action": "verify", "confirmed": true});
    assert_eq!(
        act(&app, &ti, id, verify.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    let there = inspector_of(&app, &elsewhere.code).await;
    let v = act(&app, &there, id, verify).await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    assert_eq!(v.body["status"], "collected");

    // On the own grid the same report is registered and dispatched at once, with no notice.
    let q = own.geometry.interior_point().unwrap();
    let home = submit(&app, &ti, report("home-1", "0401", q.x(), q.y())).await;
    assert_eq!(home.status, StatusCode::CREATED, "{}", home.text);
    assert_eq!(home.body["status"], "dispatched", "{}", home.text);
    assert!(home.body.get("notice").is_none());
    // An admin reports and registers anywhere.
    let admin = app.login(Role::Admin).await;
    let a = submit(&app, &admin, report("admin-1", "0401", p.x() + 1e-5, p.y())).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["status"], "dispatched", "{}", a.text);
}
