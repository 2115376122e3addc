//! 门前三包 shops through HTTP over the demo city, on SQLite and PostgreSQL: cases reported on a
//! shop's frontage through the real case service (its escalation sweep included) show on the
//! shop's scorecard and in its street's ranking; the public page, its QR codes and the printed
//! placards show nothing private.

use crate::common;

use axum::http::{Method, StatusCode, header};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use wangge::domain::identity::Role;
use wangge::domain::jurisdiction::Layer;
use wangge::http::HttpSettings;

use common::{TestApp, spawn_city_without_history};

/// A frontage point of the demo city with one clear shop: (lon, lat, frontage code, grid, street).
async fn shop_point(app: &TestApp) -> (f64, f64, String, String, String) {
    let index = app.state.live().current();
    let features = app
        .db
        .store
        .features_at(Layer::Frontage, None)
        .await
        .unwrap();
    for f in &features {
        let geo::Geometry::LineString(l) = &f.feature.geometry else {
            continue;
        };
        for w in l.0.windows(2) {
            let (x, y) = ((w[0].x + w[1].x) / 2.0, (w[0].y + w[1].y) / 2.0);
            let a = index.assign(x, y, wangge::domain::crs::Crs::Wgs84, None);
            if let (false, None, Some(grid), Some(street), Some(shop)) = (
                a.ambiguous,
                &a.zones.railway_land,
                &a.grid,
                &a.street,
                a.frontages.first().filter(|s| s.unit_code.is_some()),
            ) {
                // The shop directory must put the shop in the same street.
                let dir = app.state.shops().shop(&shop.code).unwrap();
                if dir.street_code.as_deref() != Some(street.code.as_str()) {
                    continue;
                }
                return (
                    x,
                    y,
                    shop.code.clone(),
                    grid.code.clone(),
                    street.code.clone(),
                );
            }
        }
    }
    panic!("no frontage point with one clear shop");
}

/// A user of `role` named `display_name`, logged in.
async fn person(
    app: &TestApp,
    username: &str,
    display_name: &str,
    role: &str,
    scope: Value,
) -> String {
    app.create_user(username, display_name, role, scope).await.0
}

async fn report(
    app: &TestApp,
    token: &str,
    key: &str,
    category: &str,
    description: &str,
    (lon, lat): (f64, f64),
) -> Value {
    let r = app
        .call(
            Method::POST,
            "/api/cases",
            Some(token),
            Some(json!({"idempotency_key": key, "category": category, "description": description, "lon": lon, "lat": lat, "crs": "wgs84", "register": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["dispatch_rule"], "frontage_shop", "{}", r.text);
    r.body
}

async fn act(app: &TestApp, token: &str, id: i64, action: Value) {
    let a = app
        .call(
            Method::POST,
            &format!("/api/cases/{id}/actions"),
            Some(token),
            Some(action.clone()),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{action}: {}", a.text);
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// Reports three 门前三包 problems on one shop's frontage: A (店外经营) climbs the ladder to
/// enforcement, B (暴露垃圾) is fixed by the shop in its window and closed, C (暴露垃圾 again) is
/// a repeat still in its window. Returns the frontage code, street and the three case ids.
async fn three_problems(app: &TestApp, inspector_name: &str) -> (String, String, [i64; 3]) {
    let (lon, lat, code, grid, street) = shop_point(app).await;
    let ti = person(
        app,
        &format!("i_{grid}"),
        inspector_name,
        "inspector",
        json!({"grids": [grid]}),
    )
    .await;
    let a = report(
        app,
        &ti,
        "shop-a",
        "0202",
        "店外经营，联系人张三 13812345678",
        (lon, lat),
    )
    .await;
    let b = report(app, &ti, "shop-b", "0101", "门前暴露垃圾", (lon, lat)).await;
    let (ida, idb) = (a["id"].as_i64().unwrap(), b["id"].as_i64().unwrap());
    act(app, &ti, idb, json!({"action": "accept"})).await;
    act(
        app,
        &ti,
        idb,
        json!({"action": "feedback", "note": "内部备注：店主李四（电话 13900001111）已自行清理"}),
    )
    .await;
    // The ladder: reminder, warning, enforcement.
    let cases = app.state.cases();
    let mut now = time(&a["escalation_due_at"]);
    for _ in 0..3 {
        assert_eq!(cases.sweep_escalations(now).await.unwrap(), 1);
        let c = app.state.store().get_case(ida).await.unwrap().unwrap();
        now = c.escalation_due_at.unwrap_or(now);
    }
    // B is checked and closed; then the same pile again: a repeat, not a duplicate of an open case.
    act(app, &ti, idb, json!({"action": "check", "passed": true})).await;
    let ts = app.login(Role::ShiftLead).await;
    act(app, &ts, idb, json!({"action": "close"})).await;
    let c = report(app, &ti, "shop-c", "0101", "门前又有暴露垃圾", (lon, lat)).await;
    (code, street, [ida, idb, c["id"].as_i64().unwrap()])
}

#[tokio::test]
async fn violations_on_a_frontage_show_on_its_scorecard_with_repeats_self_fixes_and_escalations() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (code, _, [a, b, c]) = three_problems(&app, "王小明").await;
    let tp = app.login(Role::Planner).await;
    let s = app
        .get(&format!("/api/shops/{code}/scorecard"), Some(&tp))
        .await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    let f = &s.body["figures"];
    assert_eq!(f["violations"], 3, "{}", s.text);
    assert_eq!(f["by_duty"]["sanitation"], 2);
    assert_eq!(f["by_duty"]["order"], 1);
    assert_eq!(f["by_duty"]["greening"], 0);
    assert_eq!(f["repeats"], 1);
    // A let its window pass, B was fixed in it; C's window is still open.
    assert_eq!(
        (f["self_fix_due"].as_u64(), f["self_fixed"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(f["self_fix_rate"], 0.5);
    assert_eq!(
        f["escalations"],
        json!({"reminders": 1, "warnings": 1, "enforcements": 1})
    );
    // 12 − (秩序 3 + 卫生 2 × 2 + repeat 1 + warning 1 + enforcement 3) = 12 − 12 = 0: 红码.
    let r = &s.body["rating"];
    assert_eq!(
        (r["scheme"].as_str(), r["points"].as_f64()),
        (Some("wenzhou-12"), Some(0.0))
    );
    assert_eq!(
        (r["level"].as_str(), r["label"].as_str()),
        (Some("red"), Some("红码"))
    );
    let ids: Vec<i64> = s.body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["case_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [c, b, a], "newest first");
    assert_eq!(s.body["violations"][0]["repeat"], true);
    assert_eq!(s.body["violations"][2]["escalation"], 3);
    // Another month holds none of them.
    let s = app
        .get(
            &format!("/api/shops/{code}/scorecard?period=2020-01"),
            Some(&tp),
        )
        .await;
    assert_eq!(s.body["figures"]["violations"], 0);
    assert_eq!(s.body["rating"]["points"], 12.0);
}

#[tokio::test]
async fn the_street_ranking_puts_the_shop_last_on_the_black_list() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (code, street, _) = three_problems(&app, "王小明").await;
    let tp = app.login(Role::Planner).await;
    let r = app
        .get(&format!("/api/shops/ranking?street={street}"), Some(&tp))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rows = r.body["rows"].as_array().unwrap();
    assert!(rows.len() > 10, "a street has many shops: {}", rows.len());
    let last = rows.last().unwrap();
    assert_eq!(last["code"], code.as_str());
    assert_eq!(last["rank"], rows.len());
    assert_eq!(rows[0]["rank"], 1);
    assert_eq!(rows[0]["rating"]["points"], 12.0);
    assert_eq!(r.body["black"], json!([code]));
    assert_eq!(r.body["red"].as_array().unwrap().len(), 10);
    assert!(!r.body["red"].as_array().unwrap().contains(&json!(code)));
    assert_eq!(r.body["street_code"], street.as_str());
}

#[tokio::test]
async fn the_card_scheme_shows_a_red_card_for_an_enforcement() {
    let settings = HttpSettings {
        shop_scheme: wangge::domain::shop::ShopScheme::built_in("baoshan-cards").unwrap(),
        ..HttpSettings::default()
    };
    let app = spawn_city_without_history(settings).await;
    let (code, _, _) = three_problems(&app, "王小明").await;
    let tp = app.login(Role::Planner).await;
    let s = app
        .get(&format!("/api/shops/{code}/scorecard"), Some(&tp))
        .await;
    let r = &s.body["rating"];
    assert_eq!(
        (r["level"].as_str(), r["label"].as_str()),
        (Some("red"), Some("红牌"))
    );
    assert!(r["points"].is_null());
    let rules: Vec<&str> = r["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        ["red_enforcements"],
        "3 violations, 1 repeat: below the red lines"
    );
}

fn web_settings() -> HttpSettings {
    HttpSettings {
        web_dir: Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web")),
        public_url: "https://wangge.example.cn".into(),
        ..HttpSettings::default()
    }
}

#[tokio::test]
async fn the_public_shop_page_leaks_nothing_private() {
    let app = spawn_city_without_history(web_settings()).await;
    let (code, street, [a, _, _]) = three_problems(&app, "王小明").await;
    let private = [
        "王小明",
        "张三",
        "李四",
        "13812345678",
        "13900001111",
        "内部备注",
        "联系人",
        "现场",
        "i_",
        "shop-0",
        "actor",
        "note",
        "description",
        "reported_by",
    ];
    let page = app.get(&format!("/api/public/shops/{code}"), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    // It does show the problems and their outcome …
    let recent = page.body["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 3);
    assert_eq!(recent[0]["outcome"], "整改中");
    assert_eq!(recent[1]["outcome"], "商户自行整改，已结案");
    assert_eq!(recent[2]["outcome"], "逾期未改，已移交城管执法");
    assert_eq!(page.body["rating"]["label"], "红码");
    assert_eq!(page.body["duties"].as_array().unwrap().len(), 3);
    assert_eq!(
        page.body["url"],
        format!("https://wangge.example.cn/shops/{code}").as_str()
    );
    // … and nothing about people.
    let html = app.get(&format!("/shops/{code}"), None).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.text.contains("门前三包"), "{}", html.text);
    let sheet = app
        .get(&format!("/shops/print?street={street}"), None)
        .await;
    assert_eq!(sheet.status, StatusCode::OK);
    let svg = app
        .get(&format!("/api/public/shops/{code}/qr.svg"), None)
        .await;
    for (what, text) in [
        ("public JSON", &page.text),
        ("public HTML", &html.text),
        ("printed sheet", &sheet.text),
        ("QR SVG", &svg.text),
    ] {
        for p in private {
            assert!(!text.contains(p), "{what} shows {p:?}");
        }
    }
    // The staff scorecard does carry what the public page leaves out (the test is not vacuous).
    let tp = app.login(Role::Planner).await;
    let tl = app.get(&format!("/api/cases/{a}"), Some(&tp)).await;
    assert!(tl.text.contains("13812345678"), "{}", tl.text);
}

#[tokio::test]
async fn the_qr_codes_hold_the_public_page_address_as_png_and_svg() {
    let app = spawn_city_without_history(web_settings()).await;
    let (_, _, code, _, _) = shop_point(&app).await;
    let url = app.state.shops().public_page_url(&code);
    assert_eq!(url, format!("https://wangge.example.cn/shops/{code}"));
    let m = wangge::shops::qr::matrix(&url).unwrap();
    let png = app
        .get(&format!("/api/public/shops/{code}/qr.png"), None)
        .await;
    assert_eq!(png.status, StatusCode::OK);
    assert_eq!(png.headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(&png.bytes[..8], b"\x89PNG\r\n\x1a\n");
    let side = ((m.width + 2 * wangge::shops::qr::QUIET) * wangge::shops::qr::PNG_SCALE) as u32;
    assert_eq!(
        u32::from_be_bytes(png.bytes[16..20].try_into().unwrap()),
        side
    );
    assert_eq!(
        u32::from_be_bytes(png.bytes[20..24].try_into().unwrap()),
        side
    );
    assert_eq!(png.bytes, m.png());
    let svg = app
        .get(&format!("/api/public/shops/{code}/qr.svg"), None)
        .await;
    assert_eq!(svg.headers[header::CONTENT_TYPE], "image/svg+xml");
    assert_eq!(svg.text, m.svg());
    assert_eq!(
        svg.text.matches("h1v1h-1z").count(),
        m.dark.iter().filter(|d| **d).count()
    );
    // The matrix is the qrcode crate's own for that address.
    let direct =
        qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M).unwrap();
    assert_eq!(m.width, direct.width());
    assert_eq!(
        m.dark,
        direct
            .to_colors()
            .into_iter()
            .map(|c| c == qrcode::Color::Dark)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_streets_placards_print_on_one_a4_page_with_a_qr_code_each() {
    let app = spawn_city_without_history(web_settings()).await;
    let (_, _, code, _, street) = shop_point(&app).await;
    let shops = app.state.shops().street_shops(&street).unwrap();
    let a = app
        .get(&format!("/api/public/shops/print?street={street}"), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(
        a.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(a.text.contains("size:A4"));
    assert_eq!(a.text.matches("<svg").count(), shops.len());
    assert_eq!(a.text.matches("门前三包责任牌</h2>").count(), shops.len());
    assert!(a.text.contains(&code));
    let b = app
        .get(&format!("/shops/print?street={street}"), None)
        .await;
    assert_eq!(b.text, a.text);
}

#[tokio::test]
async fn unknown_shops_streets_and_bad_periods_are_refused() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let tp = app.login(Role::Planner).await;
    for (path, token, status, code) in [
        (
            "/api/shops/NOPE/scorecard",
            Some(tp.as_str()),
            404,
            "not_found",
        ),
        ("/api/public/shops/NOPE", None, 404, "not_found"),
        ("/api/public/shops/NOPE/qr.png", None, 404, "not_found"),
        ("/api/public/shops/NOPE/qr.svg", None, 404, "not_found"),
        (
            "/api/public/shops/print?street=999999999",
            None,
            404,
            "not_found",
        ),
        ("/api/public/shops/print", None, 400, "invalid_query"),
        (
            "/api/shops/ranking?street=999999999",
            Some(tp.as_str()),
            404,
            "not_found",
        ),
        (
            "/api/shops/ranking",
            Some(tp.as_str()),
            400,
            "invalid_query",
        ),
        (
            "/api/shops/X/scorecard?period=2026-13",
            Some(tp.as_str()),
            400,
            "invalid_period",
        ),
        (
            "/api/shops/ranking?street=1&period=2026-W60",
            Some(tp.as_str()),
            400,
            "invalid_period",
        ),
        ("/api/shops/X/scorecard", None, 401, "missing_token"),
        ("/api/shops/ranking?street=1", None, 401, "missing_token"),
    ] {
        let a = app.get(path, token).await;
        assert_eq!(a.status.as_u16(), status, "{path}: {}", a.text);
        assert_eq!(a.body["code"], code, "{path}");
    }
}

/// Writes `cases` 门前三包 cases (created and dispatched to the shop, then fed back) straight into
/// the event log, spread over `shops` frontages, in one transaction per backend.
async fn plant_cases(app: &TestApp, shops: &[String], cases: usize) {
    use wangge::domain::case::{Case, Status};
    let start = Utc::now() - chrono::Duration::days(20);
    let mut rows = Vec::with_capacity(cases * 3);
    for i in 0..cases {
        let id = 1_000_000 + i as i64;
        let at = start + chrono::Duration::minutes(i as i64);
        let mut c = Case::draft("inspector", ["0101", "0202", "0501"][i % 3], 113.6, 34.7);
        c.id = id;
        c.reported_at = at;
        c.frontage_code = Some(shops[i % shops.len()].clone());
        c.description = "张三 13812345678".into();
        rows.push((at, "created", json!({ "after": &c })));
        let before = c.clone();
        c.status = Status::Dispatched;
        c.unit_code = Some("shop-x".into());
        c.enforcement_unit = Some("dept-cgzf".into());
        c.escalation_due_at = Some(at + chrono::Duration::hours(2));
        rows.push((at, "register", json!({ "before": before, "after": &c })));
        if i % 2 == 0 {
            let before = c.clone();
            c.status = Status::FedBack;
            c.escalation_due_at = None;
            let t = at + chrono::Duration::hours(1);
            rows.push((t, "feedback", json!({ "before": before, "after": &c })));
        }
    }
    let sql = "INSERT INTO events (at, actor_id, actor_name, action, entity_type, entity_id, detail) \
               VALUES ($1, NULL, NULL, $2, 'case', $3, $4)";
    macro_rules! run {
        ($pool:expr) => {{
            let mut tx = $pool.begin().await.unwrap();
            for (at, action, detail) in &rows {
                let id = detail["after"]["id"].as_i64().unwrap().to_string();
                sqlx::query(sql)
                    .bind(at)
                    .bind(format!("case.{action}"))
                    .bind(id)
                    .bind(sqlx::types::Json(detail))
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
        }};
    }
    match (app.db.store.sqlite_pool(), app.db.store.postgres_pool()) {
        (Some(pool), _) => run!(pool),
        (_, Some(pool)) => run!(pool),
        _ => unreachable!("a store is SQLite or PostgreSQL"),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The issue asks for a shop page p99 under 20 ms. Measured over the router (no socket) on the
/// whole demo city's 40,681 frontages with 20,000 planted cases on 2,000 of them; the bound
/// asserted here is loose (a debug build on a shared machine), the numbers are printed.
#[tokio::test]
async fn a_shop_page_answers_quickly_over_twenty_thousand_cases() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let index = app.state.live().current();
    let shops: Vec<String> = index
        .frontages()
        .step_by(20)
        .take(2_000)
        .map(|f| f.code.to_owned())
        .collect();
    plant_cases(&app, &shops, 20_000).await;
    let t = std::time::Instant::now();
    app.state.shops().shop(&shops[0]).unwrap();
    let directory = t.elapsed().as_secs_f64() * 1000.0;
    let t = std::time::Instant::now();
    let first = app
        .get(&format!("/api/public/shops/{}", shops[0]), None)
        .await;
    let cold = t.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    // Ten cases each (the rating is this month's; the list of problems is not bound to it).
    assert_eq!(
        first.body["recent"].as_array().unwrap().len(),
        10,
        "{}",
        first.text
    );
    assert!(!first.text.contains("13812345678"));
    let mut ms = Vec::new();
    for i in 0..500 {
        let code = &shops[(i * 7) % shops.len()];
        let t = std::time::Instant::now();
        let a = app.get(&format!("/api/public/shops/{code}"), None).await;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(a.status, StatusCode::OK);
    }
    ms.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&ms, 0.5), percentile(&ms, 0.99));
    let street = app
        .state
        .shops()
        .shop(&shops[0])
        .unwrap()
        .street_code
        .unwrap();
    let tp = app.login(Role::Planner).await;
    let t = std::time::Instant::now();
    let r = app
        .get(&format!("/api/shops/ranking?street={street}"), Some(&tp))
        .await;
    let ranking = t.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(r.status, StatusCode::OK);
    println!(
        "shop page over 20,000 cases: shop directory of the city {directory:.1} ms; first page {cold:.1} ms (reads the event log, indexes the cases by frontage); then p50 {p50:.2} ms, p99 {p99:.2} ms; ranking of street {street} ({} shops) {ranking:.1} ms",
        r.body["rows"].as_array().unwrap().len()
    );
    assert!(p99 < 200.0, "p99 {p99:.1} ms");
}
