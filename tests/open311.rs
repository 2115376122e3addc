//! Open311 GeoReport v2 through the router, on SQLite and PostgreSQL + PostGIS: discovery,
//! services and definitions, POST with an application's key (the normal citizen intake, its
//! idempotency and `crs`), requests by id, token, filters, circle and bbox, updates; the errors
//! in both formats; and that nothing private ever leaves.

use crate::common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{Answer, TestApp, spawn_city_without_history, url_encode};
use geo::InteriorPoint;
use serde_json::{Value, json};
use wangge::domain::case::{Case, Status};
use wangge::domain::crs::Crs;
use wangge::domain::identity::Role;
use wangge::domain::jurisdiction::Layer;
use wangge::domain::photo::{PhotoHash, PhotoStage};
use wangge::http::HttpSettings;
use wangge::store::{
    Audit, CaseStep, NewCase, NewCasePhoto, Open311Origin, Open311Submission, Store, StoreOptions,
};

const JSON: &str = "application/json; charset=utf-8";
const XML: &str = "text/xml; charset=utf-8";

/// A point inside the first grid the demo inspector patrols (WGS84).
async fn patrolled_point(app: &TestApp) -> (f64, f64) {
    let grids = app.db.store.features_at(Layer::Grid, None).await.unwrap();
    let p = grids[0].feature.geometry.interior_point().unwrap();
    (p.x(), p.y())
}

async fn issue_key(app: &TestApp, name: &str, per_minute: i64) -> (i64, String) {
    let admin = app.login(Role::Admin).await;
    let k = app
        .call(
            Method::POST,
            "/api/open311/keys",
            Some(&admin),
            Some(json!({"name": name, "per_minute": per_minute})),
        )
        .await;
    assert_eq!(k.status, StatusCode::CREATED, "{}", k.text);
    (
        k.body["id"].as_i64().unwrap(),
        k.body["api_key"].as_str().unwrap().to_owned(),
    )
}

async fn post_form(app: &TestApp, path: &str, fields: &[(&str, String)]) -> Answer {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    app.request(
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

fn content_type(a: &Answer) -> &str {
    a.headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Asserts an Open311 error: the status, `[{code, description}]` in JSON or `<errors>` in XML.
fn assert_error(a: &Answer, status: StatusCode, xml: bool) {
    assert_eq!(a.status, status, "{}", a.text);
    if xml {
        assert_eq!(content_type(a), XML);
        assert!(
            a.text.contains(&format!(
                "<errors><error><code>{}</code><description>",
                status.as_u16()
            )),
            "{}",
            a.text
        );
    } else {
        assert_eq!(content_type(a), JSON);
        assert_eq!(a.body[0]["code"], status.as_u16(), "{}", a.text);
        assert!(a.body[0]["description"].as_str().unwrap().len() > 10);
    }
}

fn report(key: &str, lon: f64, lat: f64) -> Vec<(&'static str, String)> {
    vec![
        ("api_key", key.to_owned()),
        ("service_code", "0401".to_owned()),
        ("lat", lat.to_string()),
        ("long", lon.to_string()),
        ("description", "楼顶私搭乱建 <b>&</b>".to_owned()),
        ("email", "reporter-secret@example.org".to_owned()),
        ("phone", "13912345678".to_owned()),
        ("first_name", "秘密名".to_owned()),
        ("last_name", "Secretsurname".to_owned()),
        ("account_id", "acct-77".to_owned()),
        ("device_id", "device-1".to_owned()),
        ("attribute[client_key]", "k-1".to_owned()),
    ]
}

#[tokio::test]
async fn discovery_services_and_definitions_answer_in_both_formats_with_the_exact_content_types() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let d = app.get("/open311/v2/discovery.json", None).await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(content_type(&d), JSON);
    assert!(
        d.body["endpoints"][0]["url"]
            .as_str()
            .unwrap()
            .ends_with("/open311/v2")
    );
    assert_eq!(d.body["endpoints"][0]["formats"][1], "text/xml");
    let d = app.get("/open311/v2/discovery.xml", None).await;
    assert_eq!(content_type(&d), XML);
    assert!(d.text.contains("<discovery>") && d.text.contains("<format>text/xml</format>"));

    let s = app.get("/open311/v2/services.json", None).await;
    assert_eq!(content_type(&s), JSON);
    let services = s.body.as_array().unwrap();
    let litter = services
        .iter()
        .find(|s| s["service_code"] == "0101")
        .unwrap();
    assert_eq!(litter["service_name"], "暴露垃圾");
    assert_eq!(litter["group"], "市容环境");
    assert_eq!(litter["type"], "realtime");
    assert_eq!(
        litter["metadata"], true,
        "a 门前三包 category names the shop type"
    );
    let building = services
        .iter()
        .find(|s| s["service_code"] == "0401")
        .unwrap();
    assert_eq!(building["metadata"], false);
    let s = app.get("/open311/v2/services.xml", None).await;
    assert_eq!(content_type(&s), XML);
    assert!(
        s.text.contains("<services><service>")
            && s.text.contains("<service_code>0101</service_code>")
    );

    let def = app.get("/open311/v2/services/0101.json", None).await;
    assert_eq!(def.status, StatusCode::OK);
    assert_eq!(def.body["service_code"], "0101");
    assert_eq!(def.body["attributes"][0]["code"], "shop_type");
    assert_eq!(def.body["attributes"][0]["datatype"], "singlevaluelist");
    assert_eq!(def.body["attributes"][0]["values"][0]["key"], "restaurant");
    let def = app.get("/open311/v2/services/0101.xml", None).await;
    assert!(
        def.text.contains("<attributes><attribute>")
            && def.text.contains("<values><value><key>restaurant</key>")
    );
}

#[tokio::test]
async fn unknown_services_suffixes_and_malformed_queries_are_open311_errors_in_the_format_asked() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    for (path, status) in [
        ("/open311/v2/services/9999.json", StatusCode::NOT_FOUND),
        ("/open311/v2/requests/123456789.json", StatusCode::NOT_FOUND),
        ("/open311/v2/requests/abc.json", StatusCode::NOT_FOUND),
        ("/open311/v2/tokens/nope.json", StatusCode::NOT_FOUND),
        ("/open311/v2/nothing.json", StatusCode::NOT_FOUND),
        ("/open311/v2/services.html", StatusCode::NOT_FOUND),
        ("/open311/v2/services", StatusCode::NOT_FOUND),
        (
            "/open311/v2/requests.json?start_date=yesterday",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/open311/v2/requests.json?start_date=2026-05-02&end_date=2026-05-01",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/open311/v2/requests.json?start_date=2020-01-01&end_date=2026-01-01",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/open311/v2/requests.json?radius=100",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/open311/v2/requests.json?lat=34.7",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/open311/v2/requests.json?lat=34.7&long=113.6&radius=99999",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/open311/v2/requests.json?bbox=1,2,3",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/open311/v2/requests.json?bbox=113.7,34.7,113.6,34.8",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/open311/v2/requests.json?bbox=a,b,c,d",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/open311/v2/requests.json?bbox=100,30,110,40",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/open311/v2/requests.json?status=pending",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/open311/v2/requests.json?page_size=0",
            StatusCode::BAD_REQUEST,
        ),
        ("/open311/v2/requests.json?page=x", StatusCode::BAD_REQUEST),
        (
            "/open311/v2/servicerequestupdates.json?start_date=nope",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/open311/v2/servicerequestupdates.json?limit=0",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let a = app.get(path, None).await;
        assert_error(&a, status, false);
        let xml_path = path.replace(".json", ".xml");
        if xml_path != path {
            let a = app.get(&xml_path, None).await;
            assert_error(&a, status, true);
        }
    }
}

#[tokio::test]
async fn a_post_needs_a_live_key_a_known_service_and_a_location() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat) = patrolled_point(&app).await;
    let (id, key) = issue_key(&app, "测试应用", 60).await;
    let mut no_key = report("", lon, lat);
    no_key.retain(|(k, _)| *k != "api_key");
    assert_error(
        &post_form(&app, "/open311/v2/requests.json", &no_key).await,
        StatusCode::FORBIDDEN,
        false,
    );
    assert_error(
        &post_form(&app, "/open311/v2/requests.xml", &report("wrong", lon, lat)).await,
        StatusCode::FORBIDDEN,
        true,
    );

    let mut unknown = report(&key, lon, lat);
    unknown[1].1 = "9999".into();
    assert_error(
        &post_form(&app, "/open311/v2/requests.json", &unknown).await,
        StatusCode::BAD_REQUEST,
        false,
    );
    let mut nowhere = report(&key, lon, lat);
    nowhere.retain(|(k, _)| *k != "lat" && *k != "long");
    assert_error(
        &post_form(&app, "/open311/v2/requests.xml", &nowhere).await,
        StatusCode::BAD_REQUEST,
        true,
    );
    let mut unfound = nowhere.clone();
    unfound.push(("address_string", "不存在的地方xyz".into()));
    assert_error(
        &post_form(&app, "/open311/v2/requests.json", &unfound).await,
        StatusCode::BAD_REQUEST,
        false,
    );
    let mut bad_shop = report(&key, lon, lat);
    bad_shop.push(("attribute[shop_type]", "castle".into()));
    assert_error(
        &post_form(&app, "/open311/v2/requests.json", &bad_shop).await,
        StatusCode::BAD_REQUEST,
        false,
    );

    let admin = app.login(Role::Admin).await;
    let revoked = app
        .call(
            Method::POST,
            &format!("/api/open311/keys/{id}/revoke"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert!(revoked.body["revoked_at"].is_string());
    assert!(revoked.body.get("api_key").is_none());
    assert_error(
        &post_form(&app, "/open311/v2/requests.json", &report(&key, lon, lat)).await,
        StatusCode::FORBIDDEN,
        false,
    );
    let listed = app.get("/api/open311/keys", Some(&admin)).await;
    assert_eq!(listed.body[0]["name"], "测试应用");
    assert!(!listed.text.contains(&key), "the key is shown once only");
}

#[tokio::test]
async fn a_key_past_its_rate_limit_is_told_when_to_retry() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat) = patrolled_point(&app).await;
    let (_, key) = issue_key(&app, "slow app", 1).await;
    let first = post_form(&app, "/open311/v2/requests.json", &report(&key, lon, lat)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let second = post_form(&app, "/open311/v2/requests.json", &report(&key, lon, lat)).await;
    // Unless the minute turned between the two posts.
    if second.status != StatusCode::OK {
        assert_error(&second, StatusCode::TOO_MANY_REQUESTS, false);
        assert!(second.headers.contains_key(header::RETRY_AFTER));
    }
}

#[tokio::test]
async fn a_posted_request_is_followed_by_id_token_filters_area_and_updates_and_nothing_private_leaves()
 {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat) = patrolled_point(&app).await;
    let (_, key) = issue_key(&app, "follow app", 100).await;
    let r = post_form(&app, "/open311/v2/requests.json", &report(&key, lon, lat)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(content_type(&r), JSON);
    let id = r.body[0]["service_request_id"].as_str().unwrap().to_owned();
    let token = r.body[0]["token"].as_str().unwrap().to_owned();
    assert_eq!(r.body[0]["account_id"], "acct-77");
    assert!(r.body[0]["service_notice"].as_str().unwrap().contains("AJ"));

    // A retry with the same device and client key is the same request.
    let again = post_form(&app, "/open311/v2/requests.xml", &report(&key, lon, lat)).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(content_type(&again), XML);
    assert!(
        again
            .text
            .contains(&format!("<service_request_id>{id}</service_request_id>"))
    );

    let t = app
        .get(&format!("/open311/v2/tokens/{token}.json"), None)
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    assert_eq!(t.body[0]["service_request_id"], id.as_str());
    let t = app
        .get(&format!("/open311/v2/tokens/{token}.xml"), None)
        .await;
    assert!(
        t.text
            .contains(&format!("<service_request_id>{id}</service_request_id>"))
    );

    let one = app
        .get(&format!("/open311/v2/requests/{id}.json"), None)
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    let req = &one.body.as_array().unwrap()[0];
    assert_eq!(one.body.as_array().unwrap().len(), 1);
    assert_eq!(req["service_request_id"], id.as_str());
    assert_eq!(req["status"], "open");
    assert_eq!(req["service_code"], "0401");
    assert_eq!(req["description"], "楼顶私搭乱建 <b>&</b>");
    assert!(
        req["requested_datetime"]
            .as_str()
            .unwrap()
            .ends_with("+08:00")
    );
    assert!(
        req["expected_datetime"]
            .as_str()
            .unwrap()
            .ends_with("+08:00")
    );
    assert!((req["lat"].as_f64().unwrap() - lat).abs() < 1e-9);
    assert!(req["address"].as_str().is_some());
    let xml = app
        .get(&format!("/open311/v2/requests/{id}.xml"), None)
        .await;
    assert_eq!(content_type(&xml), XML);
    assert!(
        xml.text
            .contains("<description>楼顶私搭乱建 &lt;b&gt;&amp;&lt;/b&gt;</description>")
    );

    let by_ids = app
        .get(
            &format!("/open311/v2/requests.json?service_request_id={id},999999"),
            None,
        )
        .await;
    assert_eq!(by_ids.body.as_array().unwrap().len(), 1);
    let listed = |q: String| {
        let app = &app;
        async move {
            let a = app
                .get(&format!("/open311/v2/requests.json?{q}"), None)
                .await;
            assert_eq!(a.status, StatusCode::OK, "{q}: {}", a.text);
            a.body
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["service_request_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert!(listed(String::new()).await.contains(&id));
    assert!(
        listed("service_code=0401&status=open".into())
            .await
            .contains(&id)
    );
    assert!(!listed("status=closed".into()).await.contains(&id));
    assert!(!listed("service_code=0101".into()).await.contains(&id));
    assert!(
        listed(format!("lat={lat}&long={lon}&radius=10"))
            .await
            .contains(&id)
    );
    assert!(
        !listed(format!("lat={}&long={lon}&radius=10", lat + 0.001))
            .await
            .contains(&id)
    );
    let bbox = format!(
        "bbox={},{},{},{}",
        lon - 0.001,
        lat - 0.001,
        lon + 0.001,
        lat + 0.001
    );
    assert!(listed(bbox).await.contains(&id));
    let far = format!(
        "bbox={},{},{},{}",
        lon + 0.01,
        lat + 0.01,
        lon + 0.02,
        lat + 0.02
    );
    assert!(!listed(far).await.contains(&id));
    assert!(
        !listed("start_date=2020-01-01&end_date=2020-02-01".into())
            .await
            .contains(&id)
    );
    let page = app
        .get("/open311/v2/requests.json?page_size=1&page=1", None)
        .await;
    assert_eq!(page.body.as_array().unwrap().len(), 1);

    let u = app
        .get("/open311/v2/servicerequestupdates.json", None)
        .await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    let mine: Vec<&Value> = u
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["service_request_id"] == id.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "{}", u.text);
    assert_eq!(mine[0]["status"], "open");
    assert!(mine[0]["update_id"].is_string());
    let u = app.get("/open311/v2/servicerequestupdates.xml", None).await;
    assert!(
        u.text.contains("<service_request_updates><request_update>"),
        "{}",
        u.text
    );

    // The reporter's contact and names never leave, nor any staff name.
    for path in [
        format!("/open311/v2/requests/{id}.json"),
        format!("/open311/v2/requests/{id}.xml"),
        "/open311/v2/requests.json".into(),
        "/open311/v2/requests.xml".into(),
        "/open311/v2/servicerequestupdates.json".into(),
        "/open311/v2/servicerequestupdates.xml".into(),
        format!("/open311/v2/tokens/{token}.json"),
    ] {
        let a = app.get(&path, None).await;
        for secret in [
            "reporter-secret",
            "13912345678",
            "秘密名",
            "Secretsurname",
            "demo_",
            "open311:",
        ] {
            assert!(
                !a.text.contains(secret),
                "{path} leaks {secret}: {}",
                a.text
            );
        }
    }
}

#[tokio::test]
async fn a_report_found_false_in_verification_is_never_shown_and_gcj02_points_are_converted() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat) = patrolled_point(&app).await;
    let (_, key) = issue_key(&app, "amap app", 100).await;
    let (glon, glat) = Crs::Gcj02.from_wgs84(lon, lat);
    let mut fields = report(&key, glon, glat);
    fields.push(("crs", "gcj02".into()));
    fields[11].1 = "k-gcj".into();
    let r = post_form(&app, "/open311/v2/requests.json", &fields).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body[0]["service_request_id"].as_str().unwrap().to_owned();
    let one = app
        .get(&format!("/open311/v2/requests/{id}.json"), None)
        .await;
    let (rlon, rlat) = (
        one.body[0]["long"].as_f64().unwrap(),
        one.body[0]["lat"].as_f64().unwrap(),
    );
    assert!(
        (rlon - lon).abs() < 1e-5 && (rlat - lat).abs() < 1e-5,
        "stored in WGS84: {rlon},{rlat}"
    );

    let inspector = app.login(Role::Inspector).await;
    let v = app
        .call(
            Method::POST,
            &format!("/api/cases/{id}/actions"),
            Some(&inspector),
            Some(json!({"action": "verify", "confirmed": false, "note": "内部备注不外传"})),
        )
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    assert_error(
        &app.get(&format!("/open311/v2/requests/{id}.json"), None)
            .await,
        StatusCode::NOT_FOUND,
        false,
    );
    let all = app.get("/open311/v2/requests.json", None).await;
    assert!(!all.text.contains(&format!("\"{id}\"")));
    let u = app
        .get("/open311/v2/servicerequestupdates.json", None)
        .await;
    assert!(
        !u.text.contains(&format!("\"service_request_id\":\"{id}\"")),
        "{}",
        u.text
    );
    assert!(!u.text.contains("内部备注"));
}

#[tokio::test]
async fn a_json_body_is_accepted_too_and_an_address_is_resolved_by_the_place_search() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (_, key) = issue_key(&app, "json app", 100).await;
    let street = app.db.store.features_at(Layer::Street, None).await.unwrap()[0]
        .feature
        .name
        .clone();
    let r = app
        .call(
            Method::POST,
            "/open311/v2/requests.json",
            None,
            Some(
                json!({"api_key": key, "service_code": "0101", "address_string": street,
                "description": "路边垃圾", "attribute[shop_type]": "restaurant"}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body[0]["service_request_id"].as_str().unwrap();
    let one = app
        .get(&format!("/open311/v2/requests/{id}.json"), None)
        .await;
    assert_eq!(one.body[0]["description"], "路边垃圾（店铺类型：餐饮）");
}

/// A case stored as the intake would, at a point, in `status`.
async fn stored_case(app: &TestApp, key: &str, lon: f64, lat: f64, status: Status) -> Case {
    let mut case = Case::draft("citizen", "0101", lon, lat);
    case.description = "暴露垃圾".into();
    case.status = status;
    app.store_case(key, case).await
}

#[tokio::test]
async fn a_closed_case_shows_its_closing_note_and_after_photo_and_its_merged_duplicate_shows_the_same()
 {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat) = patrolled_point(&app).await;
    let store = &app.db.store;
    let primary = stored_case(&app, "o311-primary", lon, lat, Status::Handling).await;
    let mut dup = Case::draft("citizen", "0101", lon, lat);
    dup.description = "又见暴露垃圾".into();
    dup.status = Status::Merged;
    dup.linked_to = Some(primary.id);
    let dup = app.store_case("o311-dup", dup).await;
    let hash = PhotoHash::from_digest([7; 32]);
    store
        .add_case_photo(
            &NewCasePhoto {
                case_id: primary.id,
                hash,
                content_type: "image/jpeg".into(),
                bytes: 1234,
                stage: PhotoStage::After,
                added_by: None,
                max_per_stage: 3,
            },
            &Audit::system(),
        )
        .await
        .unwrap();
    let primary = store.get_case(primary.id).await.unwrap().unwrap();
    let mut closed = primary.clone();
    closed.status = Status::Closed;
    closed.closed_at = Some(chrono::Utc::now());
    store
        .update_case(
            &primary,
            &[CaseStep {
                action: "close".into(),
                note: Some("已清运，感谢反映".into()),
                after: closed,
                extra: json!({}),
            }],
            &Audit::system(),
        )
        .await
        .unwrap();

    let a = app
        .get(
            &format!(
                "/open311/v2/requests.json?service_request_id={},{}",
                dup.id, primary.id
            ),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let list = a.body.as_array().unwrap();
    assert_eq!(list.len(), 2, "{}", a.text);
    assert_eq!(
        list[0]["service_request_id"],
        dup.id.to_string(),
        "in the order asked"
    );
    let photo = format!("/photos/{}", hash.to_hex());
    for r in list {
        assert_eq!(r["status"], "closed", "{r}");
        assert_eq!(r["status_notes"], "已清运，感谢反映", "{r}");
        assert!(r["media_url"].as_str().unwrap().ends_with(&photo), "{r}");
    }
    assert!(
        list[0]["service_notice"]
            .as_str()
            .unwrap()
            .contains(&primary.case_no()),
        "the duplicate names the case it was merged into"
    );

    let u = app
        .get("/open311/v2/servicerequestupdates.json", None)
        .await;
    let close: Vec<&Value> = u
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| {
            x["service_request_id"].as_str() == Some(primary.id.to_string().as_str())
                && x["status"] == "closed"
        })
        .collect();
    assert_eq!(close.len(), 1, "{}", u.text);
    assert_eq!(close[0]["description"], "已清运，感谢反映");
    assert!(
        close[0]["media_url"].as_str().unwrap().ends_with(&photo),
        "the update that closed it carries the after-photo: {}",
        u.text
    );
}

#[tokio::test]
async fn a_request_whose_private_contact_cannot_be_stored_leaves_no_case_behind() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat) = patrolled_point(&app).await;
    let mut case = Case::draft("citizen", "0101", lon, lat);
    case.description = "暴露垃圾".into();
    case.status = Status::Verifying;
    let new = |open311: Option<Open311Origin>| NewCase {
        idempotency_key: "o311-orphan".into(),
        request_digest: "o311-orphan".into(),
        case: case.clone(),
        follow_up: Vec::new(),
        open311,
    };
    let origin = Open311Origin {
        // No such key: the contact's row is refused, and the case with it.
        key_id: 987_654,
        submission: Open311Submission {
            phone: Some("13912345678".into()),
            ..Open311Submission::default()
        },
    };
    let store = &app.db.store;
    let r = store
        .create_case(&new(Some(origin)), &Audit::system())
        .await;
    assert!(r.is_err(), "{r:?}");
    // Nothing of it stayed: the same key makes a new case, not the half-written first.
    let (_, created) = store
        .create_case(&new(None), &Audit::system())
        .await
        .unwrap();
    assert!(created, "the case was rolled back with its contact");
}

#[tokio::test]
async fn replicas_on_one_database_share_a_key_s_quota() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (id, _) = issue_key(&app, "two replicas", 2).await;
    // A second process on the same database, as a replica behind the load balancer would be.
    let other = Store::connect(&app.db.url, &StoreOptions::default())
        .await
        .unwrap();
    let minute = 29_000_000;
    assert!(
        app.db
            .store
            .take_open311_quota(id, minute, 2)
            .await
            .unwrap()
    );
    assert!(other.take_open311_quota(id, minute, 2).await.unwrap());
    assert!(
        !other.take_open311_quota(id, minute, 2).await.unwrap(),
        "the quota of 2 a minute is spent across both"
    );
    assert!(
        !app.db
            .store
            .take_open311_quota(id, minute, 2)
            .await
            .unwrap()
    );
    assert!(
        app.db
            .store
            .take_open311_quota(id, minute + 1, 2)
            .await
            .unwrap(),
        "the next minute starts afresh"
    );
    other.close().await;
}

#[tokio::test]
async fn keys_are_issued_listed_and_revoked_from_the_command_line_too() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (lon, lat) = patrolled_point(&app).await;
    let url = app.db.url.clone();
    let bad = common::wangge_cli(
        [
            "open311-key",
            "issue",
            "--name",
            "热线",
            "--per-minute",
            "0",
        ],
        &url,
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("per_minute must be 1–10000"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let out = common::wangge_cli(
        [
            "open311-key",
            "issue",
            "--name",
            "12345热线",
            "--per-minute",
            "30",
        ],
        &url,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(key.len() >= 32, "the key alone on stdout: {key:?}");
    let r = post_form(&app, "/open311/v2/requests.json", &report(&key, lon, lat)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let out = common::wangge_cli(["open311-key", "list"], &url);
    let keys: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed = &keys[0];
    assert_eq!(listed["name"], "12345热线");
    assert_eq!(listed["per_minute"], 30);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&key));
    let id = listed["id"].as_i64().unwrap().to_string();
    let out = common::wangge_cli(["open311-key", "revoke", "--id", &id], &url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = post_form(&app, "/open311/v2/requests.json", &report(&key, lon, lat)).await;
    assert_error(&r, StatusCode::FORBIDDEN, false);
}
