//! Place search (`GET /api/search`) over the demo city, on SQLite and PostgreSQL: codes first,
//! names with their parent chain in Chinese, roads by name with a box inside the city, and every
//! parameter's range refused with `invalid_parameter`.

use crate::common;

use axum::http::StatusCode;
use serde_json::Value;
use wangge::assign::AreaLevel;
use wangge::http::HttpSettings;

use common::{TestApp, spawn_city_without_history, url_encode};

async fn search(app: &TestApp, q: &str, limit: Option<u32>) -> Vec<Value> {
    let mut path = format!("/api/search?q={}", url_encode(q));
    if let Some(l) = limit {
        path.push_str(&format!("&limit={l}"));
    }
    // Public: no token.
    let a = app.get(&path, None).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
    a.body.as_array().expect("a list").clone()
}

fn bbox(v: &Value) -> [f64; 4] {
    let b: Vec<f64> = v["bbox"]
        .as_array()
        .expect("bbox")
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    [b[0], b[1], b[2], b[3]]
}

#[tokio::test]
async fn an_exact_grid_code_comes_first_before_the_grids_whose_code_it_begins() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let index = app.state.live().current();
    let grid = index.areas(AreaLevel::Grid).nth(10).expect("grids");
    let code = grid.code.to_owned();
    let found = search(&app, &code, Some(50)).await;
    assert_eq!(found[0]["code"], code.as_str());
    assert_eq!(found[0]["kind"], "grid");
    assert_eq!(found[0]["kind_zh"], "单元网格");
    assert_eq!(found[0]["name"], grid.name);
    assert_eq!(found[0]["matched"], "exact_code");
    assert_eq!(found[0]["parents"].as_array().unwrap().len(), 3);
    let [w, s, e, n] = bbox(&found[0]);
    assert!(
        w < e && s < n,
        "a grid's box has an area: {:?}",
        found[0]["bbox"]
    );

    // A community's code finds the community first, then its grids (whose codes begin with it).
    let community = &code[..12];
    let found = search(&app, community, Some(5)).await;
    assert_eq!(found[0]["kind"], "community");
    assert_eq!(found[0]["matched"], "exact_code");
    assert!(
        found[1..]
            .iter()
            .all(|r| r["kind"] == "grid" && r["matched"] == "code_prefix")
    );
}

#[tokio::test]
async fn a_community_name_finds_the_community_with_its_street_and_district_chain() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let index = app.state.live().current();
    let (ci, community) = index
        .areas(AreaLevel::Community)
        .enumerate()
        .find(|(_, c)| c.name == "碧沙岗社区居委会")
        .expect("碧沙岗 is in the demo city");
    let si = index.parent(AreaLevel::Community, u32::try_from(ci).unwrap());
    let street = index.areas(AreaLevel::Street).nth(si as usize).unwrap();
    let district = index
        .areas(AreaLevel::District)
        .nth(index.parent(AreaLevel::Street, si) as usize)
        .unwrap();

    let found = search(&app, "碧沙岗", None).await;
    assert!(found.len() <= 10, "the default limit is 10");
    let first = &found[0];
    assert_eq!(first["kind"], "community");
    assert_eq!(first["code"], community.code);
    assert_eq!(first["matched"], "name_prefix");
    assert_eq!(first["parents"][0]["kind"], "district");
    assert_eq!(first["parents"][0]["name"], district.name);
    assert_eq!(first["parents"][1]["kind"], "street");
    assert_eq!(first["parents"][1]["name"], street.name);
    assert_eq!(
        first["chain"],
        format!("{} › {}", district.name, street.name).as_str()
    );
    // Its grids follow, each with the community as the last link of its chain.
    assert!(found[1..].iter().all(|r| r["kind"] == "grid"));
    assert!(
        found[1..]
            .iter()
            .all(|r| r["parents"][2]["code"] == community.code)
    );
    // The street's and the district's names find them too, district first.
    let found = search(&app, district.name, Some(1)).await;
    assert_eq!(found[0]["kind"], "district");
    assert_eq!(found[0]["matched"], "exact_name");
    let found = search(&app, street.name, Some(1)).await;
    assert_eq!(found[0]["kind"], "street");
    assert_eq!(found[0]["chain"], district.name);
}

#[tokio::test]
async fn a_road_name_finds_the_road_with_a_box_around_all_its_segments_inside_the_city() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let roads = app.db.store.basemap("road").await.unwrap();
    // A road of several segments: the box must hold them all.
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for r in &roads {
        if let Some(n) = &r.name {
            *counts.entry(n.clone()).or_default() += 1;
        }
    }
    let (name, _) = counts
        .iter()
        .filter(|(n, _)| n.ends_with('路'))
        .max_by_key(|(_, c)| **c)
        .expect("named roads");
    let found = search(&app, name, None).await;
    let road = found
        .iter()
        .find(|r| r["kind"] == "road")
        .expect("the road is found");
    assert_eq!(road["name"], name.as_str());
    assert_eq!(road["kind_zh"], "道路");
    assert_eq!(road["code"], Value::Null);
    assert_eq!(road["matched"], "exact_name");
    assert!(
        found
            .iter()
            .filter(|r| r["name"] == name.as_str() && r["kind"] == "road")
            .count()
            == 1,
        "one result per road name"
    );
    let [w, s, e, n] = bbox(road);
    let city = app.state.live().current().extent();
    assert!(
        city.min().x <= w && e <= city.max().x && city.min().y <= s && n <= city.max().y,
        "the road's box {:?} is inside the city {city:?}",
        road["bbox"]
    );
    for r in roads.iter().filter(|r| r.name.as_deref() == Some(name)) {
        let geo::Geometry::LineString(l) = &r.geometry else {
            continue;
        };
        for c in &l.0 {
            assert!(w <= c.x && c.x <= e && s <= c.y && c.y <= n);
        }
    }
    // Its district is named in its chain.
    assert_eq!(road["parents"][0]["kind"], "district");
    assert!(road["chain"].as_str().unwrap().contains('区'));
}

#[tokio::test]
async fn an_empty_or_too_long_query_and_a_limit_outside_one_to_fifty_are_refused_with_a_code() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let long = url_encode(&"路".repeat(65));
    for path in [
        "/api/search".to_owned(),
        "/api/search?q=".to_owned(),
        "/api/search?q=%20%20%20".to_owned(),
        format!("/api/search?q={long}"),
        "/api/search?q=%E8%B7%AF&limit=0".to_owned(),
        "/api/search?q=%E8%B7%AF&limit=51".to_owned(),
        "/api/search?q=%E8%B7%AF&limit=-1".to_owned(),
    ] {
        let a = app.get(&path, None).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}: {}", a.text);
        assert_eq!(a.body["code"], "invalid_parameter", "{path}");
        let message = a.body["message"].as_str().unwrap();
        assert!(
            message
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{path}: the message speaks Chinese too: {message}"
        );
    }
    let a = app.get("/api/search?q=x&limit=many", None).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    // The edges are accepted: 64 characters, limits 1 and 50.
    assert!(search(&app, &"路".repeat(64), Some(1)).await.is_empty());
    assert_eq!(search(&app, "区", Some(50)).await.len(), 50);
    assert_eq!(search(&app, "区", Some(1)).await.len(), 1);
}
