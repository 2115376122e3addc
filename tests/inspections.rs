//! 督查 through HTTP on either store, over the demo city (its 230 assessment points): a round
//! visits three points, each failed item becomes a dispatched case, a phone's resubmission finds
//! the same cases, the notice is frozen, the cases are handled and closed, re-inspection passes
//! one finding and reopens another, and the point turns 达标 only when every finding passed.

use crate::common;

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use wangge::domain::identity::Role;
use wangge::http::HttpSettings;

use common::{TestApp, spawn_city_without_history};

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> common::Answer {
    app.call(Method::POST, path, Some(token), Some(body)).await
}

/// Creates a user the admin's way; their token and id.
async fn user(app: &TestApp, username: &str, role: &str, scope: Value) -> (String, i64) {
    app.create_user(username, "测试用户", role, scope).await
}

/// The points of one type, first three by code.
async fn points_of(app: &TestApp, token: &str, point_type: &str) -> Vec<Value> {
    let all = app.get("/api/inspections/points", Some(token)).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    all.body
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["point_type"] == point_type)
        .take(3)
        .cloned()
        .collect()
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

/// Drives a dispatched case to 结案: its unit's handler accepts and feeds back, the grid's
/// inspector checks, the shift lead closes.
async fn close_case(app: &TestApp, id: i64) {
    let admin = app.login(Role::Admin).await;
    let case = app.get(&format!("/api/cases/{id}"), Some(&admin)).await;
    assert_eq!(case.body["status"], "dispatched", "{}", case.text);
    let unit = case.body["unit_code"].as_str().unwrap().to_owned();
    let grid = case.body["grid_code"].as_str().unwrap().to_owned();
    let (handler, _) = user(
        app,
        &format!("h{id}_{}", unit.replace('-', "_")),
        "handler",
        json!({"unit_code": unit}),
    )
    .await;
    let (checker, _) = user(
        app,
        &format!("i{id}_{grid}"),
        "inspector",
        json!({"grids": [grid]}),
    )
    .await;
    let lead = app.login(Role::ShiftLead).await;
    for (token, action) in [
        (&handler, json!({"action": "accept"})),
        (&handler, json!({"action": "feedback", "note": "已整改"})),
        (&checker, json!({"action": "check", "passed": true})),
        (&lead, json!({"action": "close"})),
    ] {
        let a = post(
            app,
            token,
            &format!("/api/cases/{id}/actions"),
            action.clone(),
        )
        .await;
        assert_eq!(
            a.status,
            StatusCode::OK,
            "{action} on case {id}: {}",
            a.text
        );
    }
}

fn status_of(points: &Value, code: &str) -> String {
    points
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == code)
        .map(|p| p["readiness"]["status"].as_str().unwrap().to_owned())
        .unwrap()
}

#[tokio::test]
async fn a_round_files_a_dispatched_case_per_failed_item_and_a_point_passes_only_after_every_recheck()
 {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let admin = app.login(Role::Admin).await;
    let lead = app.login(Role::ShiftLead).await;
    let (inspector, inspector_id) = user(&app, "duchaa", "inspector", json!({"grids": []})).await;

    let checklists = app
        .get("/api/inspections/checklists", Some(&inspector))
        .await;
    assert_eq!(checklists.body["version"], 0, "the built-in checklists");
    let markets = points_of(&app, &admin, "market").await;
    assert_eq!(markets.len(), 3);
    for p in &markets {
        assert!(p["street_code"].is_string(), "{p}");
        assert_eq!(p["point_type_name"], "农贸市场/集贸市场");
        assert_eq!(p["readiness"]["status"], "not_inspected");
    }
    let codes: Vec<&str> = markets
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();

    let round = post(
        &app,
        &lead,
        "/api/inspections/rounds",
        json!({"title": "2026年第1期市级督查", "organiser": "city", "date": "2026-05-10",
               "points": codes, "inspectors": [inspector_id]}),
    )
    .await;
    assert_eq!(round.status, StatusCode::CREATED, "{}", round.text);
    let rid = round.body["id"].as_i64().unwrap();
    let visits = format!("/api/inspections/rounds/{rid}/visits");

    // Point 0 passes every item; point 1 fails two; point 2 fails one.
    let clean = post(
        &app,
        &inspector,
        &visits,
        json!({"point": codes[0], "marks": marks(&checklists.body, "market", &[])}),
    )
    .await;
    assert_eq!(clean.status, StatusCode::CREATED, "{}", clean.text);
    assert_eq!(clean.body["findings"], json!([]));
    let two =
        json!({"point": codes[1], "marks": marks(&checklists.body, "market", &["M01", "M02"])});
    let first = post(&app, &inspector, &visits, two.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let findings = first.body["findings"].as_array().unwrap().clone();
    assert_eq!(findings.len(), 2);
    let one = post(
        &app,
        &inspector,
        &visits,
        json!({"point": codes[2], "marks": marks(&checklists.body, "market", &["M03"])}),
    )
    .await;
    assert_eq!(one.status, StatusCode::CREATED, "{}", one.text);

    // Each failure is a case, registered and dispatched by the rule table, from the inspection.
    for f in &findings {
        let case = app
            .get(&format!("/api/cases/{}", f["case_id"]), Some(&admin))
            .await;
        assert_eq!(case.body["status"], "dispatched", "{}", case.text);
        assert_eq!(case.body["source"], "inspection");
        assert!(case.body["unit_code"].is_string());
        assert!(
            case.body["description"]
                .as_str()
                .unwrap()
                .contains("市督查"),
            "{}",
            case.body["description"]
        );
    }

    // 督查扣分: the street of the point loses each criterion's deduction in this week's 考评.
    let street = markets[1]["street_code"].as_str().unwrap();
    let card = app
        .get(
            &format!("/api/assessment/scorecards/streets/{street}"),
            Some(&admin),
        )
        .await;
    assert_eq!(card.status, StatusCode::OK, "{}", card.text);
    let charged: BTreeSet<(i64, String)> = card.body["deductions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["reason"] == "inspection")
        .map(|d| (d["case_id"].as_i64().unwrap(), d["points"].to_string()))
        .collect();
    let criteria = checklists.body["document"]["types"]["market"]
        .as_array()
        .unwrap();
    let expected: BTreeSet<(i64, String)> = findings
        .iter()
        .map(|f| {
            let c = criteria
                .iter()
                .find(|c| c["code"] == f["criterion"])
                .unwrap();
            let points = c["deduction"].as_f64().unwrap();
            (f["case_id"].as_i64().unwrap(), json!(points).to_string())
        })
        .collect();
    assert!(
        expected.is_subset(&charged),
        "{expected:?} not all in {charged:?}"
    );

    // The phone comes back online and sends the same visit again: the same findings and cases.
    let again = post(&app, &inspector, &visits, two.clone()).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["created"], false);
    assert_eq!(again.body["findings"], first.body["findings"]);
    // Other marks for a recorded visit are refused, and so is a point outside the round.
    let other = json!({"point": codes[1], "marks": marks(&checklists.body, "market", &["M01"])});
    let conflict = post(&app, &inspector, &visits, other).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(conflict.body["code"], "conflict");

    // The follow-up and the notice.
    let report = app
        .get(&format!("/api/inspections/rounds/{rid}"), Some(&admin))
        .await;
    assert_eq!(report.body["visited"], 3);
    assert_eq!(report.body["totals"]["found"], 3);
    assert_eq!(report.body["totals"]["open"], 3);
    let per_unit: usize = report.body["by_unit"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_array().unwrap().len())
        .sum();
    assert_eq!(per_unit, 3, "every finding under its responsible unit");
    let notice = post(
        &app,
        &lead,
        &format!("/api/inspections/rounds/{rid}/notice"),
        json!(null),
    )
    .await;
    assert_eq!(notice.status, StatusCode::CREATED, "{}", notice.text);
    assert_eq!(notice.body["version"], 1);
    let xlsx = app
        .get(
            &format!("/api/inspections/rounds/{rid}/notice.xlsx"),
            Some(&admin),
        )
        .await;
    assert_eq!(xlsx.status, StatusCode::OK);
    assert_eq!(&xlsx.bytes[..2], b"PK", "a zip (XLSX)");

    let points = app.get("/api/inspections/points", Some(&admin)).await.body;
    assert_eq!(status_of(&points, codes[0]), "passed");
    assert_eq!(status_of(&points, codes[1]), "rectifying");

    // Re-inspection waits for the case to close.
    let fa = findings[0]["id"].as_i64().unwrap();
    let fb = findings[1]["id"].as_i64().unwrap();
    let early = post(
        &app,
        &inspector,
        &format!("/api/inspections/findings/{fa}/recheck"),
        json!({"pass": true}),
    )
    .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);

    close_case(&app, findings[0]["case_id"].as_i64().unwrap()).await;
    close_case(&app, findings[1]["case_id"].as_i64().unwrap()).await;
    let passed = post(
        &app,
        &inspector,
        &format!("/api/inspections/findings/{fa}/recheck"),
        json!({"pass": true}),
    )
    .await;
    assert_eq!(passed.status, StatusCode::OK, "{}", passed.text);
    assert_eq!(passed.body["status"], "passed");
    // The phone lost the answer and sends it again: the recorded outcome, not a conflict.
    let retried = post(
        &app,
        &inspector,
        &format!("/api/inspections/findings/{fa}/recheck"),
        json!({"pass": true}),
    )
    .await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text);
    assert_eq!(retried.body, passed.body);
    let silent = post(
        &app,
        &inspector,
        &format!("/api/inspections/findings/{fb}/recheck"),
        json!({"pass": false}),
    )
    .await;
    assert_eq!(
        silent.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a failure needs a note"
    );
    let reopened = post(
        &app,
        &inspector,
        &format!("/api/inspections/findings/{fb}/recheck"),
        json!({"pass": false, "note": "摊位又回来了"}),
    )
    .await;
    assert_eq!(reopened.status, StatusCode::OK, "{}", reopened.text);
    assert_eq!(reopened.body["status"], "rectifying");
    assert_eq!(reopened.body["rechecks"], 1);
    let new_case = reopened.body["case_id"].as_i64().unwrap();
    assert_ne!(new_case, findings[1]["case_id"].as_i64().unwrap());
    let retried = post(
        &app,
        &inspector,
        &format!("/api/inspections/findings/{fb}/recheck"),
        json!({"pass": false, "note": "摊位又回来了"}),
    )
    .await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text);
    assert_eq!(retried.body, reopened.body, "the same case, one recheck");
    // Another outcome for a finding that has moved on is still a conflict.
    let other = post(
        &app,
        &inspector,
        &format!("/api/inspections/findings/{fb}/recheck"),
        json!({"pass": true}),
    )
    .await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{}", other.text);
    let points = app.get("/api/inspections/points", Some(&admin)).await.body;
    assert_eq!(
        status_of(&points, codes[1]),
        "rectifying",
        "one finding is open again"
    );

    close_case(&app, new_case).await;
    let done = post(
        &app,
        &inspector,
        &format!("/api/inspections/findings/{fb}/recheck"),
        json!({"pass": true}),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let points = app.get("/api/inspections/points", Some(&admin)).await.body;
    assert_eq!(
        status_of(&points, codes[1]),
        "passed",
        "every finding passed: 达标"
    );
    assert_eq!(status_of(&points, codes[2]), "rectifying");

    // The readiness dashboard counts them; the notice stays as published.
    let r = app.get("/api/inspections/readiness", Some(&admin)).await;
    assert_eq!(r.body["by_type"]["market"]["inspected"], 3);
    assert_eq!(r.body["by_type"]["market"]["passed"], 2);
    assert_eq!(r.body["findings"]["found"], 3);
    assert_eq!(r.body["findings"]["passed"], 2);
    let frozen = app
        .get(
            &format!("/api/inspections/rounds/{rid}/notice"),
            Some(&admin),
        )
        .await;
    assert_eq!(frozen.body["version"], 1);
    assert_eq!(
        frozen.body["document"]["totals"]["open"], 3,
        "the notice is frozen"
    );
    let now = app
        .get(&format!("/api/inspections/rounds/{rid}"), Some(&admin))
        .await;
    assert_eq!(now.body["totals"]["open"], 1, "the follow-up moves on");
}

#[tokio::test]
async fn the_same_visit_sent_twice_at_once_files_each_case_once() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let lead = app.login(Role::ShiftLead).await;
    let (inspector, id) = user(&app, "duchab", "inspector", json!({"grids": []})).await;
    let checklists = app.get("/api/inspections/checklists", Some(&lead)).await;
    let schools = points_of(&app, &lead, "school").await;
    let code = schools[0]["code"].as_str().unwrap();
    let round = post(
        &app,
        &lead,
        "/api/inspections/rounds",
        json!({"title": "暗访", "organiser": "undercover", "date": "2026-05-11", "points": [code], "inspectors": [id]}),
    )
    .await;
    let path = format!("/api/inspections/rounds/{}/visits", round.body["id"]);
    let body = json!({"point": code, "marks": marks(&checklists.body, "school", &["S01", "S03"])});
    let (a, b) = tokio::join!(
        post(&app, &inspector, &path, body.clone()),
        post(&app, &inspector, &path, body.clone())
    );
    assert!(
        a.status.is_success() && b.status.is_success(),
        "{} / {}",
        a.text,
        b.text
    );
    let ids = |x: &common::Answer| -> BTreeSet<i64> {
        x.body["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["case_id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(&a), ids(&b));
    assert_eq!(ids(&a).len(), 2);
    let cases = app
        .get("/api/cases?source=inspection&limit=100", Some(&lead))
        .await;
    let n = cases.body.as_array().map_or(0, |c| c.len());
    assert_eq!(n, 2, "two cases, not four: {}", cases.text);
    // An admin (another key space) sending the same marks later gets the recorded findings,
    // and no case is filed again.
    let admin = app.login(Role::Admin).await;
    let c = post(&app, &admin, &path, body.clone()).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    assert_eq!(ids(&c), ids(&a));
    let cases = app
        .get("/api/cases?source=inspection&limit=100", Some(&lead))
        .await;
    assert_eq!(
        cases.body.as_array().map_or(0, |c| c.len()),
        2,
        "{}",
        cases.text
    );
}

#[tokio::test]
async fn a_visit_is_refused_from_outside_the_round_or_with_items_unmarked() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let lead = app.login(Role::ShiftLead).await;
    let (inspector, id) = user(&app, "duchac", "inspector", json!({"grids": []})).await;
    let (stranger, _) = user(&app, "duchad", "inspector", json!({"grids": []})).await;
    let checklists = app.get("/api/inspections/checklists", Some(&lead)).await;
    let p = points_of(&app, &lead, "hospital").await;
    let (code, other) = (
        p[0]["code"].as_str().unwrap(),
        p[1]["code"].as_str().unwrap(),
    );
    let round = post(
        &app,
        &lead,
        "/api/inspections/rounds",
        json!({"title": "区督查", "organiser": "district", "date": "2026-05-12", "points": [code], "inspectors": [id]}),
    )
    .await;
    let path = format!("/api/inspections/rounds/{}/visits", round.body["id"]);
    let full = marks(&checklists.body, "hospital", &[]);
    let a = post(
        &app,
        &stranger,
        &path,
        json!({"point": code, "marks": full}),
    )
    .await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("out_of_scope"))
    );
    let a = post(
        &app,
        &inspector,
        &path,
        json!({"point": other, "marks": full}),
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text);
    let partial = json!([full[0]]);
    let a = post(
        &app,
        &inspector,
        &path,
        json!({"point": code, "marks": partial}),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.body["message"].as_str().unwrap().contains("missing"),
        "{}",
        a.text
    );
    // A round needs real points and real inspectors; nothing is written for a refused one.
    for (body, code) in [
        (
            json!({"title": "x", "organiser": "city", "date": "2026-05-12", "points": ["NOPE"], "inspectors": [id]}),
            "invalid_reference",
        ),
        (
            json!({"title": "x", "organiser": "city", "date": "2026-05-12", "points": [code], "inspectors": [999_999]}),
            "invalid_reference",
        ),
        (
            json!({"title": "x", "organiser": "moon", "date": "2026-05-12", "points": [code], "inspectors": [id]}),
            "invalid_field",
        ),
        (
            json!({"title": "x", "organiser": "city", "date": "12.5.2026", "points": [code], "inspectors": [id]}),
            "invalid_field",
        ),
        (
            json!({"title": "x", "organiser": "city", "date": "2026-05-12", "points": [], "inspectors": [id]}),
            "invalid_field",
        ),
    ] {
        let a = post(&app, &lead, "/api/inspections/rounds", body.clone()).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(a.body["code"], code, "{body}: {}", a.text);
    }
    let rounds = app.get("/api/inspections/rounds", Some(&lead)).await;
    assert_eq!(rounds.body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn checklists_are_checked_before_they_are_stored_and_a_round_keeps_its_version() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let admin = app.login(Role::Admin).await;
    let bad = json!({"types": {"market": [{"code": "M1", "text": "无垃圾", "category": "9999", "deduction": 1, "deadline_hours": 24}]}});
    let a = app
        .call(
            Method::PUT,
            "/api/inspections/checklists",
            Some(&admin),
            Some(bad),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["code"], "invalid_checklist");
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .starts_with("types.market[0].category"),
        "{}",
        a.text
    );
    let planner = app.login(Role::Planner).await;
    let a = app.get("/api/inspections/checklists", Some(&planner)).await;
    assert_eq!(a.body["version"], 0, "nothing stored");

    let (_, id) = user(&app, "duchae", "inspector", json!({"grids": []})).await;
    let code = points_of(&app, &admin, "market").await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let old = post(&app, &admin, "/api/inspections/rounds", json!({"title": "旧", "organiser": "city", "date": "2026-05-01", "points": [code], "inspectors": [id]})).await;
    assert_eq!(old.body["checklist_version"], 0);
    let good = json!({"assessment_date": "2026-12-15", "types": {"market": [{"code": "N1", "text": "地面整洁", "category": "0101", "deduction": 1, "deadline_hours": 12}]}});
    let a = app
        .call(
            Method::PUT,
            "/api/inspections/checklists",
            Some(&admin),
            Some(good),
        )
        .await;
    assert_eq!(
        (a.status, a.body["version"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{}",
        a.text
    );
    let new = post(&app, &admin, "/api/inspections/rounds", json!({"title": "新", "organiser": "city", "date": "2026-05-02", "points": [code], "inspectors": [id]})).await;
    assert_eq!(new.body["checklist_version"], 1);
    // The phone reads the checklists of the round it walks: the old round's built-in list, the
    // new round's stored one, and nothing for a version never stored.
    let v0 = app
        .get("/api/inspections/checklists?version=0", Some(&planner))
        .await;
    assert_eq!(v0.status, StatusCode::OK, "{}", v0.text);
    assert_eq!(v0.body["version"], 0);
    assert!(
        v0.body["document"]["types"]["school"].is_array(),
        "built in"
    );
    let v1 = app
        .get("/api/inspections/checklists?version=1", Some(&planner))
        .await;
    assert_eq!(v1.body["version"], 1);
    assert_eq!(v1.body["document"]["types"]["market"][0]["code"], "N1");
    let v9 = app
        .get("/api/inspections/checklists?version=9", Some(&planner))
        .await;
    assert_eq!(
        (v9.status, v9.body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let neg = app
        .get("/api/inspections/checklists?version=-1", Some(&planner))
        .await;
    assert_eq!(
        (neg.status, neg.body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field"))
    );
    // A school has no checklist now: a round with one is refused.
    let school = points_of(&app, &admin, "school").await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = post(&app, &admin, "/api/inspections/rounds", json!({"title": "校", "organiser": "city", "date": "2026-05-02", "points": [school], "inspectors": [id]})).await;
    assert_eq!(a.body["code"], "invalid_reference", "{}", a.text);
    let r = app.get("/api/inspections/readiness", Some(&admin)).await;
    assert_eq!(r.body["assessment_date"], "2026-12-15");
    assert!(r.body["days_left"].is_i64());
}

#[tokio::test]
async fn an_inspection_site_needs_a_known_type_and_known_supporting_units_and_may_be_an_area() {
    let app = common::spawn_app().await;
    let admin = app.login(Role::Admin).await;
    let site = |code: &str, props: Value, geometry: Value| {
        let mut p = json!({"code": code, "name": "测评点位", "zone_kind": "inspection_site",
                           "unit_code": "dept-410102-cgzf"});
        p.as_object_mut()
            .unwrap()
            .extend(props.as_object().unwrap().clone());
        json!({"type": "Feature", "properties": p, "geometry": geometry})
    };
    let point = json!({"type": "Point", "coordinates": [113.62, 34.75]});
    let area = json!({"type": "Polygon", "coordinates": [[[113.60, 34.74], [113.601, 34.74],
        [113.601, 34.741], [113.60, 34.741], [113.60, 34.74]]]});
    let fc = json!({"type": "FeatureCollection", "features": [
        site("P-AREA", json!({"site_type": "market", "support_units": "dept-410102-hw"}), area),
        site("P-MOON", json!({"site_type": "moon_base"}), point.clone()),
        site("P-NONE", json!({}), point.clone()),
        site("P-GHOST", json!({"site_type": "school", "support_units": ["dept-410102-hw", "ghost"]}), point),
    ]});
    let a = app
        .call(
            Method::POST,
            "/api/import/layers/zone?dry_run=true",
            Some(&admin),
            Some(fc),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    let issues: Vec<(String, String)> = a.body["report"]["issues"]
        .as_array()
        .unwrap_or_else(|| panic!("a report: {}", a.text))
        .iter()
        .map(|i| {
            (
                i["feature"].as_str().unwrap_or("").to_owned(),
                i["check"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let has = |f: &str, c: &str| issues.contains(&(f.to_owned(), c.to_owned()));
    assert!(has("P-MOON", "unknown_site_type"), "{issues:?}");
    assert!(has("P-NONE", "missing_site_type"), "{issues:?}");
    assert!(has("P-GHOST", "unknown_unit"), "{issues:?}");
    assert!(
        !issues.iter().any(|(f, _)| f == "P-AREA"),
        "a market drawn as an area with known units passes: {issues:?}"
    );
}

/// The readiness dashboard and the points as the running service answers them (its kept inputs)
/// and as a fresh reading of the store gives them, at the same instant: they must be equal.
async fn kept_equals_fresh(app: &TestApp, now: chrono::DateTime<chrono::Utc>) -> Value {
    let kept = app.state.inspections();
    let fresh = kept.clone().without_readiness_cache();
    let a = serde_json::to_value(kept.readiness(now).await.unwrap()).unwrap();
    let b = serde_json::to_value(fresh.readiness(now).await.unwrap()).unwrap();
    assert_eq!(a, b, "kept readiness differs from a fresh reading");
    let a = serde_json::to_value(kept.point_views(now).await.unwrap()).unwrap();
    let b = serde_json::to_value(fresh.point_views(now).await.unwrap()).unwrap();
    assert_eq!(a, b, "kept points differ from a fresh reading");
    // Asked twice without a write in between, the kept answer stays the same.
    let again = serde_json::to_value(kept.readiness(now).await.unwrap()).unwrap();
    let fresh = serde_json::to_value(fresh_readiness(app, now).await).unwrap();
    assert_eq!(again, fresh);
    again
}

async fn fresh_readiness(
    app: &TestApp,
    now: chrono::DateTime<chrono::Utc>,
) -> wangge::inspections::Readiness {
    app.state
        .inspections()
        .clone()
        .without_readiness_cache()
        .readiness(now)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_kept_readiness_answers_as_a_fresh_reading_after_visits_case_steps_and_rechecks() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let admin = app.login(Role::Admin).await;
    let lead = app.login(Role::ShiftLead).await;
    let (inspector, inspector_id) = user(&app, "duchak", "inspector", json!({"grids": []})).await;
    let checklists = app
        .get("/api/inspections/checklists", Some(&inspector))
        .await;
    let markets = points_of(&app, &admin, "market").await;
    let codes: Vec<&str> = markets
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    let now = chrono::Utc::now();
    let before = kept_equals_fresh(&app, now).await;
    assert_eq!(before["findings"]["found"], 0);

    let round = post(
        &app,
        &lead,
        "/api/inspections/rounds",
        json!({"title": "缓存核对督查", "organiser": "district", "date": "2026-05-10",
               "points": codes, "inspectors": [inspector_id]}),
    )
    .await;
    let visits = format!("/api/inspections/rounds/{}/visits", round.body["id"]);
    let failed = post(
        &app,
        &inspector,
        &visits,
        json!({"point": codes[0], "marks": marks(&checklists.body, "market", &["M01", "M02"])}),
    )
    .await;
    assert_eq!(failed.status, StatusCode::CREATED, "{}", failed.text);
    let r = kept_equals_fresh(&app, now).await;
    assert_eq!(r["findings"]["found"], 2, "a visit shows at once");
    assert_eq!(r["by_type"]["market"]["rectifying"], 1);

    let clean = post(
        &app,
        &inspector,
        &visits,
        json!({"point": codes[1], "marks": marks(&checklists.body, "market", &[])}),
    )
    .await;
    assert_eq!(clean.status, StatusCode::CREATED, "{}", clean.text);
    let r = kept_equals_fresh(&app, now).await;
    assert_eq!(
        r["by_type"]["market"]["passed"], 1,
        "a visit without findings shows too"
    );

    // A case step (结案) changes the finding without touching the inspection tables.
    let fa = &failed.body["findings"][0];
    let fb = &failed.body["findings"][1];
    close_case(&app, fa["case_id"].as_i64().unwrap()).await;
    let r = kept_equals_fresh(&app, now).await;
    assert_eq!(r["findings"]["rectified"], 1);
    assert_eq!(
        r["findings"]["open"], 2,
        "waiting for 复查 still counts as open"
    );

    // Re-inspections: one passes, the other (after its case closes) fails and reopens.
    let pass = post(
        &app,
        &inspector,
        &format!("/api/inspections/findings/{}/recheck", fa["id"]),
        json!({"pass": true}),
    )
    .await;
    assert_eq!(pass.status, StatusCode::OK, "{}", pass.text);
    let r = kept_equals_fresh(&app, now).await;
    assert_eq!(r["findings"]["passed"], 1);
    close_case(&app, fb["case_id"].as_i64().unwrap()).await;
    kept_equals_fresh(&app, now).await;
    let fail = post(
        &app,
        &inspector,
        &format!("/api/inspections/findings/{}/recheck", fb["id"]),
        json!({"pass": false, "note": "仍有占道"}),
    )
    .await;
    assert_eq!(fail.status, StatusCode::OK, "{}", fail.text);
    let r = kept_equals_fresh(&app, now).await;
    assert_eq!(
        r["findings"]["open"], 1,
        "the reopened finding is open again"
    );
    assert_eq!(r["by_type"]["market"]["rectifying"], 1);

    // New checklists with an assessment date: the countdown follows.
    let mut doc = checklists.body["document"].clone();
    doc["assessment_date"] = json!("2030-01-01");
    let put = app
        .call(
            Method::PUT,
            "/api/inspections/checklists",
            Some(&admin),
            Some(doc),
        )
        .await;
    assert!(put.status.is_success(), "{}", put.text);
    let r = kept_equals_fresh(&app, now).await;
    assert_eq!(r["assessment_date"], "2030-01-01");
}

#[tokio::test]
async fn a_finding_turns_overdue_at_its_deadline_without_any_write() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let admin = app.login(Role::Admin).await;
    let lead = app.login(Role::ShiftLead).await;
    let (inspector, inspector_id) = user(&app, "duchao", "inspector", json!({"grids": []})).await;
    let checklists = app
        .get("/api/inspections/checklists", Some(&inspector))
        .await;
    let markets = points_of(&app, &admin, "market").await;
    let code = markets[0]["code"].as_str().unwrap();
    let round = post(
        &app,
        &lead,
        "/api/inspections/rounds",
        json!({"title": "超期核对督查", "organiser": "city", "date": "2026-05-10",
               "points": [code], "inspectors": [inspector_id]}),
    )
    .await;
    let visit = post(
        &app,
        &inspector,
        &format!("/api/inspections/rounds/{}/visits", round.body["id"]),
        json!({"point": code, "marks": marks(&checklists.body, "market", &["M01"])}),
    )
    .await;
    assert_eq!(visit.status, StatusCode::CREATED, "{}", visit.text);
    let deadline: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(visit.body["findings"][0]["deadline"].clone()).unwrap();

    let service = app.state.inspections();
    let before = service
        .readiness(deadline - chrono::Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(before.findings.overdue, 0);
    assert!(before.overdue_points.is_empty());
    assert_eq!(before.by_type["market"].rectifying, 1);

    // Nothing is written; only the clock passes the deadline.
    let revision = app.state.store().readiness_revision().await.unwrap();
    let after = service
        .readiness(deadline + chrono::Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(
        app.state.store().readiness_revision().await.unwrap(),
        revision
    );
    assert_eq!(after.findings.overdue, 1);
    assert_eq!(after.by_type["market"].failing, 1);
    assert_eq!(after.overdue_points.len(), 1);
    assert_eq!(after.overdue_points[0].info.point.code, code);
    assert_eq!(after.overdue_points[0].status_zh, "未达标");
    let lead_unit = after.overdue_points[0]
        .info
        .point
        .lead_unit
        .clone()
        .unwrap();
    assert!(
        after.unit_names.contains_key(&lead_unit),
        "the lead unit is named: {:?}",
        after.unit_names
    );
    let points = service
        .point_views(deadline + chrono::Duration::minutes(1))
        .await
        .unwrap();
    let p = points.iter().find(|p| p.info.point.code == code).unwrap();
    assert_eq!(p.readiness.overdue, 1);
    let fresh = fresh_readiness(&app, deadline + chrono::Duration::minutes(1)).await;
    assert_eq!(
        serde_json::to_value(&after).unwrap(),
        serde_json::to_value(&fresh).unwrap()
    );
}
