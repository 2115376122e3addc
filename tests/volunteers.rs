//! 市民找差团 volunteers (role `volunteer`) through HTTP on either store, over the demo city: their
//! reports go to 核实 and are verified by the grid's inspector; they list their own reports with
//! the outcome and nothing of anyone else's; a 市民找差团 round takes them as inspectors and files
//! their failed items as findings whose cases start in 核实; every staff endpoint refuses them.

use crate::common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use geo::InteriorPoint;
use serde_json::{Value, json};
use wangge::domain::identity::Role;
use wangge::domain::jurisdiction::Layer;
use wangge::http::HttpSettings;

use common::{TestApp, spawn_city_without_history};

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> common::Answer {
    app.call(Method::POST, path, Some(token), Some(body)).await
}

/// A point inside the `n`th grid of the demo city (the demo inspector patrols the first 8),
/// WGS84, and that grid's code.
async fn grid_point(app: &TestApp, n: usize) -> (f64, f64, String) {
    let grids = app.db.store.features_at(Layer::Grid, None).await.unwrap();
    let p = grids[n].feature.geometry.interior_point().unwrap();
    (p.x(), p.y(), grids[n].feature.code.clone())
}

/// Creates a user the admin's way (`POST /api/users`); their token and id.
async fn user(app: &TestApp, username: &str, role: &str, scope: Value) -> (String, i64) {
    let admin = app.login(Role::Admin).await;
    let mut body = json!({"username": username, "display_name": "测试用户", "role": role, "password": "long-enough-pw"});
    body.as_object_mut()
        .unwrap()
        .extend(scope.as_object().unwrap().clone());
    let created = post(app, &admin, "/api/users", body).await;
    assert!(created.status.is_success(), "{}", created.text);
    let a = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": username, "password": "long-enough-pw"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let token = a.body["token"].as_str().unwrap().to_owned();
    let me = app.get("/api/auth/me", Some(&token)).await;
    assert_eq!(me.body["role"], role, "{}", me.text);
    (token, me.body["id"].as_i64().expect("id"))
}

fn report(key: &str, description: &str, (lon, lat): (f64, f64)) -> Value {
    json!({"idempotency_key": key, "category": "0101", "description": description,
           "lon": lon, "lat": lat, "crs": "wgs84"})
}

async fn my_reports(app: &TestApp, token: &str) -> Vec<Value> {
    let list = app.get("/api/volunteer/reports", Some(token)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    list.body.as_array().unwrap().clone()
}

fn find(list: &[Value], id: i64) -> Value {
    list.iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("report {id} is not in the list {list:?}"))
}

/// A small "JPEG": the magic bytes, some filler, the end marker.
fn jpeg(seed: u8) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
    b.extend((0..500u32).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    b.extend([0xFF, 0xD9]);
    b
}

async fn upload(app: &TestApp, token: &str, path: &str) -> common::Answer {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "image/jpeg")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(jpeg(3)))
        .unwrap();
    app.request(req).await
}

#[tokio::test]
async fn a_volunteers_report_goes_to_verification_by_the_grids_inspector_and_they_see_its_outcome()
{
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let volunteer = app.login(Role::Volunteer).await;
    let inspector = app.login(Role::Inspector).await;
    let admin = app.login(Role::Admin).await;
    let (lon, lat, grid) = grid_point(&app, 0).await;

    let first = post(
        &app,
        &volunteer,
        "/api/volunteer/reports",
        report("v-1", "垃圾桶满溢", (lon, lat)),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.body["status"], "verifying");
    assert_eq!(first.body["status_zh"], "核实");
    assert_eq!(first.body["source"], "volunteer");
    assert_eq!(first.body["outcome"], "open");
    let id = first.body["id"].as_i64().unwrap();
    // A phone's retry with the same key is the same report.
    let again = post(
        &app,
        &volunteer,
        "/api/volunteer/reports",
        report("v-1", "垃圾桶满溢", (lon, lat)),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["id"], id);
    // A volunteer never registers at once.
    let mut registered = report("v-reg", "垃圾桶满溢", (lon, lat));
    registered["register"] = json!(true);
    let refused = post(&app, &volunteer, "/api/volunteer/reports", registered).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["code"], "invalid_field");
    // Staff see the case in 核实 in the grid, reported by the volunteer.
    let staff_view = app.get(&format!("/api/cases/{id}"), Some(&admin)).await;
    assert_eq!(staff_view.body["status"], "verifying");
    assert_eq!(staff_view.body["grid_code"], grid.as_str());
    // The volunteer adds a before-photo to their open report, but no after-photo.
    let photo = upload(
        &app,
        &volunteer,
        &format!("/api/cases/{id}/photos?stage=before"),
    )
    .await;
    assert_eq!(photo.status, StatusCode::CREATED, "{}", photo.text);
    let after = upload(
        &app,
        &volunteer,
        &format!("/api/cases/{id}/photos?stage=after"),
    )
    .await;
    assert_eq!(after.status, StatusCode::FORBIDDEN, "{}", after.text);

    // The grid's inspector confirms it; the volunteer sees it go on.
    let verified = post(
        &app,
        &inspector,
        &format!("/api/cases/{id}/actions"),
        json!({"action": "verify", "confirmed": true, "note": "内部备注：已到现场"}),
    )
    .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text);
    let mine = find(&my_reports(&app, &volunteer).await, id);
    assert_eq!(mine["status"], "collected");
    assert_eq!(mine["outcome"], "open");

    // Driven to 结案, the outcome is 已解决 with the closing note.
    for action in [
        json!({"action": "register"}),
        json!({"action": "dispatch", "unit_code": "dept-410103-cgzf"}),
        json!({"action": "accept"}),
        json!({"action": "feedback"}),
        json!({"action": "check", "passed": true}),
        json!({"action": "close", "note": "已清运，感谢反映"}),
    ] {
        let c = app.get(&format!("/api/cases/{id}"), Some(&admin)).await;
        if action["action"] == "dispatch" && c.body["status"] != "registered" {
            continue;
        }
        let a = post(
            &app,
            &admin,
            &format!("/api/cases/{id}/actions"),
            action.clone(),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{action}: {}", a.text);
    }
    let mine = find(&my_reports(&app, &volunteer).await, id);
    assert_eq!(mine["status"], "closed", "{mine}");
    assert_eq!(mine["outcome"], "resolved");
    assert_eq!(mine["outcome_zh"], "已解决");
    assert_eq!(mine["closing_note"], "已清运，感谢反映");

    // A second report found untrue (不属实) on verification shows that outcome.
    let second = post(
        &app,
        &volunteer,
        "/api/volunteer/reports",
        report("v-2", "路灯不亮", (lon + 0.0001, lat)),
    )
    .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    let id2 = second.body["id"].as_i64().unwrap();
    let voided = post(
        &app,
        &inspector,
        &format!("/api/cases/{id2}/actions"),
        json!({"action": "verify", "confirmed": false}),
    )
    .await;
    assert_eq!(voided.status, StatusCode::OK, "{}", voided.text);
    let list = my_reports(&app, &volunteer).await;
    let mine = find(&list, id2);
    assert_eq!(mine["status"], "voided");
    assert_eq!(mine["outcome"], "not_confirmed");
    assert_eq!(mine["outcome_zh"], "不属实/作废");
    // Newest first; nothing internal: no people, units, or notes of the workflow.
    assert_eq!(list[0]["id"], id2);
    let text = serde_json::to_string(&list).unwrap();
    for secret in [
        "reported_by",
        "unit_code",
        "owner_chain",
        "内部备注",
        "张网格",
        "dept-410103-cgzf",
    ] {
        assert!(!text.contains(secret), "{secret} leaks into {text}");
    }
    // Paging: a page of one carries the next id.
    let page = app
        .get("/api/volunteer/reports?limit=1", Some(&volunteer))
        .await;
    assert_eq!(page.body.as_array().unwrap().len(), 1);
    assert_eq!(page.headers["x-next-before-id"], id2.to_string().as_str());
    let bad = app
        .get("/api/volunteer/reports?limit=201", Some(&volunteer))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["code"], "invalid_parameter");
}

#[tokio::test]
async fn a_volunteer_sees_only_their_own_reports_and_every_staff_endpoint_refuses_them() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let volunteer = app.login(Role::Volunteer).await;
    let (other, _) = user(&app, "zhaocha2", "volunteer", json!({})).await;
    let inspector = app.login(Role::Inspector).await;
    let (lon, lat, _) = grid_point(&app, 1).await;

    let own = post(
        &app,
        &volunteer,
        "/api/volunteer/reports",
        report("a-1", "井盖缺失", (lon, lat)),
    )
    .await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.text);
    let own_id = own.body["id"].as_i64().unwrap();
    // The other volunteer's key space is their own: the same key is another report.
    let theirs = post(
        &app,
        &other,
        "/api/volunteer/reports",
        report("a-1", "广告乱贴", (lon + 0.0002, lat)),
    )
    .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.text);
    let their_id = theirs.body["id"].as_i64().unwrap();
    assert_ne!(their_id, own_id);
    let mut staff_report = report("s-1", "暴露垃圾", (lon, lat + 0.0002));
    staff_report["register"] = json!(true);
    let staff = post(&app, &inspector, "/api/cases", staff_report).await;
    assert_eq!(staff.status, StatusCode::CREATED, "{}", staff.text);
    let staff_id = staff.body["id"].as_i64().unwrap();

    let ids: Vec<i64> = my_reports(&app, &volunteer)
        .await
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![own_id]);
    let ids: Vec<i64> = my_reports(&app, &other)
        .await
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![their_id]);

    // Reading a case by id, its photos or acting on it: refused, their own included (they
    // follow it in their list).
    for id in [own_id, their_id, staff_id] {
        let a = app.get(&format!("/api/cases/{id}"), Some(&volunteer)).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "case {id}: {}", a.text);
        assert_eq!(a.body["code"], "forbidden_role");
    }
    let photo = upload(
        &app,
        &volunteer,
        &format!("/api/cases/{their_id}/photos?stage=before"),
    )
    .await;
    assert_eq!(photo.status, StatusCode::FORBIDDEN, "{}", photo.text);

    // Every staff endpoint refuses a volunteer.
    let staff_endpoints: [(Method, &str, Option<Value>); 23] = [
        (Method::GET, "/api/cases", None),
        (Method::GET, "/api/cases?source=volunteer", None),
        (Method::GET, "/api/cases/export?format=csv", None),
        (Method::GET, "/api/cases/stream", None),
        (Method::GET, "/tiles/cases/12/3339/1623.mvt", None),
        (
            Method::POST,
            "/api/cases",
            Some(report("x-1", "x", (lon, lat))),
        ),
        (
            Method::POST,
            format!("/api/cases/{own_id}/actions").leak(),
            Some(json!({"action": "verify", "confirmed": true})),
        ),
        (Method::GET, "/api/users", None),
        (Method::GET, "/api/units", None),
        (Method::GET, "/api/events", None),
        (Method::GET, "/api/dispatch/rules", None),
        (Method::GET, "/api/categories/0101/versions", None),
        (Method::GET, "/api/assessment/rankings?level=streets", None),
        (Method::GET, "/api/assessment/snapshots", None),
        (Method::GET, "/api/hotspots/kde", None),
        (Method::GET, "/api/inspections/points", None),
        (Method::GET, "/api/inspections/readiness", None),
        (Method::GET, "/api/shops/ranking?street=1", None),
        (Method::POST, "/api/import/units", Some(json!([]))),
        (Method::POST, "/api/inspections/rounds", Some(json!({}))),
        (
            Method::POST,
            "/api/inspections/findings/1/recheck",
            Some(json!({"pass": true})),
        ),
        (Method::PUT, "/api/categories/0101", Some(json!({}))),
        (Method::POST, "/api/cases/hotline", Some(json!(""))),
    ];
    for (method, path, body) in staff_endpoints {
        let a = app.call(method.clone(), path, Some(&volunteer), body).await;
        assert_eq!(
            a.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            a.text
        );
        assert_eq!(a.body["code"], "forbidden_role", "{method} {path}");
    }
    // Their own account and the public map stay open to them.
    let me = app.get("/api/auth/me", Some(&volunteer)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["role"], "volunteer");
    for public in ["/api/layers", "/api/categories"] {
        let a = app.get(public, Some(&volunteer)).await;
        assert_eq!(a.status, StatusCode::OK, "{public}: {}", a.text);
    }
    // Staff do not use the volunteer's channel.
    let staff_list = app.get("/api/volunteer/reports", Some(&inspector)).await;
    assert_eq!(staff_list.status, StatusCode::FORBIDDEN);
}

/// Every item of the type's checklist passed, except `fail` (criterion codes) with a note each.
fn marks(checklists: &Value, point_type: &str, fail: &[&str]) -> Value {
    let items = checklists["document"]["types"][point_type]
        .as_array()
        .expect("a checklist for the type");
    Value::Array(
        items
            .iter()
            .map(|c| {
                let code = c["code"].as_str().unwrap();
                if fail.contains(&code) {
                    json!({"criterion": code, "pass": false, "note": format!("{code} 不合格")})
                } else {
                    json!({"criterion": code, "pass": true})
                }
            })
            .collect(),
    )
}

#[tokio::test]
async fn a_volunteer_round_files_findings_in_verification_and_other_rounds_refuse_volunteers() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let admin = app.login(Role::Admin).await;
    let lead = app.login(Role::ShiftLead).await;
    let volunteer = app.login(Role::Volunteer).await;
    let volunteer_id = app.get("/api/auth/me", Some(&volunteer)).await.body["id"]
        .as_i64()
        .unwrap();
    let (outsider, _) = user(&app, "zhaocha3", "volunteer", json!({})).await;
    let checklists = app.get("/api/inspections/checklists", Some(&admin)).await;
    let points = app.get("/api/inspections/points", Some(&admin)).await;
    let codes: Vec<String> = points
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["point_type"] == "market")
        .take(2)
        .map(|p| p["code"].as_str().unwrap().to_owned())
        .collect();

    // A city round refuses a volunteer as inspector, and says why.
    let city = post(
        &app,
        &lead,
        "/api/inspections/rounds",
        json!({"title": "市级督查", "organiser": "city", "date": "2026-05-10",
               "points": codes, "inspectors": [volunteer_id]}),
    )
    .await;
    assert_eq!(
        city.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        city.text
    );
    assert_eq!(city.body["code"], "invalid_reference");
    let message = city.body["message"].as_str().unwrap();
    assert!(
        message.contains("市民找差团") && message.contains("volunteer"),
        "{message}"
    );

    let round = post(
        &app,
        &lead,
        "/api/inspections/rounds",
        json!({"title": "市民找差团第1期", "organiser": "volunteers", "date": "2026-05-10",
               "points": codes, "inspectors": [volunteer_id]}),
    )
    .await;
    assert_eq!(round.status, StatusCode::CREATED, "{}", round.text);
    let visits = format!(
        "/api/inspections/rounds/{}/visits",
        round.body["id"].as_i64().unwrap()
    );
    let visit =
        json!({"point": codes[0], "marks": marks(&checklists.body, "market", &["M01", "M02"])});

    // The volunteer reads the rounds they walk, with the points and checklists, and no other.
    let rid = round.body["id"].as_i64().unwrap();
    let listed = app.get("/api/inspections/rounds", Some(&volunteer)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let ids: Vec<i64> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [rid]);
    let walked = app
        .get(&format!("/api/inspections/rounds/{rid}"), Some(&volunteer))
        .await;
    assert_eq!(walked.status, StatusCode::OK, "{}", walked.text);
    assert_eq!(walked.body["points"].as_array().unwrap().len(), codes.len());
    let lists = app
        .get("/api/inspections/checklists", Some(&volunteer))
        .await;
    assert_eq!(lists.status, StatusCode::OK, "{}", lists.text);
    let elsewhere = app
        .get(&format!("/api/inspections/rounds/{rid}"), Some(&outsider))
        .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::FORBIDDEN,
        "{}",
        elsewhere.text
    );
    let none = app.get("/api/inspections/rounds", Some(&outsider)).await;
    assert_eq!(none.body, json!([]), "{}", none.text);

    // Not part of the round: refused.
    let refused = post(&app, &outsider, &visits, visit.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);

    let first = post(&app, &volunteer, &visits, visit.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let findings = first.body["findings"].as_array().unwrap().clone();
    assert_eq!(findings.len(), 2);
    let again = post(&app, &volunteer, &visits, visit).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["findings"], first.body["findings"]);

    let mine = my_reports(&app, &volunteer).await;
    assert_eq!(mine.len(), 2, "{mine:?}");
    for f in &findings {
        let case_id = f["case_id"].as_i64().unwrap();
        let case = app
            .get(&format!("/api/cases/{case_id}"), Some(&admin))
            .await;
        assert_eq!(case.body["status"], "verifying", "{}", case.text);
        assert_eq!(case.body["source"], "volunteer_inspection");
        assert!(case.body["unit_code"].is_null(), "not dispatched");
        let listed = find(&mine, case_id);
        assert_eq!(listed["status"], "verifying");
        assert!(
            listed["description"]
                .as_str()
                .unwrap()
                .starts_with("【市民找差团】")
        );
    }
    // The grid's inspector verifies a finding like any report; it then follows its case.
    let case_id = findings[0]["case_id"].as_i64().unwrap();
    let verified = post(
        &app,
        &admin,
        &format!("/api/cases/{case_id}/actions"),
        json!({"action": "verify", "confirmed": true}),
    )
    .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text);
    assert_eq!(
        find(&my_reports(&app, &volunteer).await, case_id)["status"],
        "collected"
    );
    // A volunteer does not re-inspect.
    let recheck = post(
        &app,
        &volunteer,
        &format!(
            "/api/inspections/findings/{}/recheck",
            findings[0]["id"].as_i64().unwrap()
        ),
        json!({"pass": true}),
    )
    .await;
    assert_eq!(recheck.status, StatusCode::FORBIDDEN, "{}", recheck.text);

    // The other finding is found untrue (不属实): it stays on record and counts nowhere, so the
    // point is 整改中 for the confirmed one only.
    let untrue = findings[1]["case_id"].as_i64().unwrap();
    let voided = post(
        &app,
        &admin,
        &format!("/api/cases/{untrue}/actions"),
        json!({"action": "verify", "confirmed": false}),
    )
    .await;
    assert_eq!(voided.status, StatusCode::OK, "{}", voided.text);
    let report = app
        .get(
            &format!("/api/inspections/rounds/{}", round.body["id"]),
            Some(&admin),
        )
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text);
    assert_eq!(
        report.body["totals"]["found"], 1,
        "{}",
        report.body["totals"]
    );
    let listed: Vec<&Value> = report.body["points"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["findings"].as_array().unwrap())
        .collect();
    assert!(
        listed
            .iter()
            .any(|f| f["case_id"] == untrue && f["status"] == "not_confirmed"),
        "{listed:?}"
    );
    let points = app.get("/api/inspections/points", Some(&admin)).await;
    let point = points
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == codes[0])
        .unwrap();
    assert_eq!(point["readiness"]["found"], 1, "{point}");
    assert_eq!(point["readiness"]["status"], "rectifying");
}

#[tokio::test]
async fn wangge_user_create_makes_a_volunteer_who_logs_in() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let args = wangge::bootstrap::CreateUserArgs {
        username: "zhaocha9".into(),
        role: "volunteer".into(),
        display_name: Some("找差团成员".into()),
        unit_code: None,
        password_stdin: true,
    };
    let audit = wangge::store::Audit::system();
    let created = wangge::bootstrap::create_user(&app.db.store, &args, "long-enough-pw", &audit)
        .await
        .expect("a volunteer account");
    assert_eq!(created.role, Role::Volunteer);
    let a = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "zhaocha9", "password": "long-enough-pw"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}
