//! Case photos through the API, on SQLite and PostgreSQL: bytes in and out unchanged, stored
//! once, every limit refused with its code and nothing left behind, path tricks, who may add
//! what, citizens with their follow token, and the closing feedback.

use crate::common;

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{Answer, TestApp, spawn_city_without_history};
use geo::InteriorPoint;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wangge::domain::identity::Role;
use wangge::domain::jurisdiction::Layer;
use wangge::http::HttpSettings;

/// A small "JPEG": the magic bytes, filler that differs by `seed`, the end marker.
fn jpeg(seed: u8, len: usize) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
    b.extend((0..len.saturating_sub(6)).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    b.extend([0xFF, 0xD9]);
    b
}

fn png() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend(b"\0\0\0\rIHDR-not-really-a-png");
    b
}

fn sha_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

async fn upload(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    bytes: Vec<u8>,
) -> Answer {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    app.request(req.body(Body::from(bytes)).unwrap()).await
}

/// A point inside the `n`th grid of the demo city (the inspector patrols the first 8), WGS84.
async fn grid_point(app: &TestApp, n: usize) -> (f64, f64) {
    let grids = app.db.store.features_at(Layer::Grid, None).await.unwrap();
    let p = grids[n].feature.geometry.interior_point().unwrap();
    (p.x(), p.y())
}

/// A citizen report in the `n`th grid: (case id, follow token).
async fn citizen_case(app: &TestApp, n: usize, key: &str) -> (i64, String) {
    let (lon, lat) = grid_point(app, n).await;
    let r = app
        .call(
            Method::POST,
            "/api/public/reports",
            None,
            Some(json!({"idempotency_key": key, "category": "0101", "description": "暴露垃圾", "lon": lon, "lat": lat, "crs": "wgs84"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    (
        r.body["id"].as_i64().unwrap(),
        r.body["follow_token"].as_str().unwrap().to_owned(),
    )
}

/// Every file under `dir` (relative paths), including temp files.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

async fn photo_rows(app: &TestApp, case_id: i64) -> usize {
    app.db.store.case_photos(case_id).await.unwrap().len()
}

/// Moves a case forward with the admin (who may do every step) until it reaches `target`.
async fn drive(app: &TestApp, admin: &str, id: i64, unit: &str, target: &str, note: &str) {
    for _ in 0..10 {
        let c = app.get(&format!("/api/cases/{id}"), Some(admin)).await;
        let status = c.body["status"].as_str().unwrap().to_owned();
        if status == target {
            return;
        }
        let action = match status.as_str() {
            "verifying" => json!({"action": "verify", "confirmed": true}),
            "collected" => json!({"action": "register"}),
            "registered" => json!({"action": "dispatch", "unit_code": unit}),
            "dispatched" => json!({"action": "accept"}),
            "handling" => json!({"action": "feedback"}),
            "fed_back" => json!({"action": "check", "passed": true}),
            "checked" => json!({"action": "close", "note": note}),
            other => panic!("cannot drive a case from {other}"),
        };
        let a = app
            .call(
                Method::POST,
                &format!("/api/cases/{id}/actions"),
                Some(admin),
                Some(action),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    panic!("case {id} did not reach {target}");
}

#[tokio::test]
async fn a_photo_comes_back_byte_identical_is_stored_once_and_shows_in_the_timeline() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (a, _) = citizen_case(&app, 0, "p-1").await;
    let (b, _) = citizen_case(&app, 1, "p-2").await;
    let inspector = app.login(Role::Inspector).await;
    let clerk = app.login(Role::IntakeClerk).await;
    let photo = jpeg(7, 5000);
    let sha = sha_hex(&photo);

    let up = upload(
        &app,
        &format!("/api/cases/{a}/photos?stage=before"),
        Some(&inspector),
        "image/jpeg",
        photo.clone(),
    )
    .await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.text);
    assert_eq!(
        up.body,
        json!({"sha256": sha, "url": format!("/photos/{sha}"), "stage": "before"})
    );

    let got = app.get(&format!("/photos/{sha}"), None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.headers[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(
        got.headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(got.headers[header::ETAG], format!("\"{sha}\"").as_str());
    assert_eq!(got.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(
        got.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(got.headers.get(header::CONTENT_ENCODING).is_none());
    // Byte-identical: compare the raw body, not a lossy string.
    let raw = wangge::http::router(app.state.clone());
    let res = tower::ServiceExt::oneshot(
        raw,
        Request::builder()
            .uri(format!("/photos/{sha}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(body.as_ref(), photo.as_slice());

    let revalidate = app
        .request(
            Request::builder()
                .uri(format!("/photos/{sha}"))
                .header(header::IF_NONE_MATCH, format!("\"{sha}\""))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(revalidate.status, StatusCode::NOT_MODIFIED);

    // The same photo again on the same case and stage is a retry; on another case it is a new
    // attachment of the same file. Either way there is one file.
    let again = upload(
        &app,
        &format!("/api/cases/{a}/photos?stage=before"),
        Some(&clerk),
        "image/jpeg",
        photo.clone(),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    let other = upload(
        &app,
        &format!("/api/cases/{b}/photos?stage=before"),
        Some(&clerk),
        "image/jpeg",
        photo.clone(),
    )
    .await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.text);
    let hex = &sha;
    assert_eq!(
        files_under(&app.state.settings().photos.dir),
        vec![PathBuf::from(format!("{}/{}/{hex}", &hex[..2], &hex[2..4]))]
    );
    assert_eq!(photo_rows(&app, a).await, 1);

    let detail = app.get(&format!("/api/cases/{a}"), Some(&clerk)).await;
    assert_eq!(detail.body["photos"].as_array().unwrap().len(), 1);
    assert_eq!(detail.body["photos"][0]["sha256"], sha.as_str());
    assert_eq!(detail.body["photos"][0]["url"], format!("/photos/{sha}"));
    assert_eq!(detail.body["photos"][0]["stage"], "before");
    assert!(detail.body["photos"][0]["added_at"].is_string());
    let added: Vec<&Value> = detail.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "case.photo_added")
        .collect();
    assert_eq!(added.len(), 1, "a retry appends no second event");
    assert_eq!(added[0]["detail"]["sha256"], sha.as_str());
    assert_eq!(added[0]["detail"]["stage"], "before");
    assert_eq!(added[0]["actor_name"], "demo_inspector");
}

#[tokio::test]
async fn refused_uploads_say_why_and_leave_no_file_and_no_row() {
    let mut settings = HttpSettings::default();
    settings.photos.max_bytes = 4096;
    settings.photos.max_per_stage = 2;
    let app = spawn_city_without_history(settings).await;
    let (id, _) = citizen_case(&app, 0, "r-1").await;
    let clerk = app.login(Role::IntakeClerk).await;
    let path = format!("/api/cases/{id}/photos?stage=after");
    let refused: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "image/jpeg",
            b"<html><script>alert(1)</script>".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "image/jpeg",
            png(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type_mismatch",
        ),
        (
            "image/svg+xml",
            jpeg(1, 100),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "application/json",
            jpeg(1, 100),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "image/jpeg",
            Vec::new(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "image/jpeg",
            jpeg(1, 4097),
            StatusCode::PAYLOAD_TOO_LARGE,
            "photo_too_large",
        ),
    ];
    for (ct, bytes, status, code) in refused {
        let a = upload(&app, &path, Some(&clerk), ct, bytes).await;
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (status, Some(code)),
            "{ct}: {}",
            a.text
        );
    }
    // Announced too large: refused before reading.
    let announced = app
        .request(
            Request::builder()
                .method(Method::POST)
                .uri(&path)
                .header(header::AUTHORIZATION, format!("Bearer {clerk}"))
                .header(header::CONTENT_TYPE, "image/jpeg")
                .header(header::CONTENT_LENGTH, "999999")
                .body(Body::from(jpeg(1, 100)))
                .unwrap(),
        )
        .await;
    assert_eq!(announced.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(announced.body["code"], "photo_too_large");
    for bad in ["", "?stage=during", "?stage=BEFORE", "?stage=../x"] {
        let a = upload(
            &app,
            &format!("/api/cases/{id}/photos{bad}"),
            Some(&clerk),
            "image/jpeg",
            jpeg(1, 100),
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(a.body["code"], "invalid_stage", "{bad}");
    }
    assert_eq!(
        files_under(&app.state.settings().photos.dir),
        Vec::<PathBuf>::new()
    );
    assert_eq!(photo_rows(&app, id).await, 0);

    // The limit per case and stage: a third after-photo is refused, a before-photo is not.
    for seed in [1, 2] {
        let a = upload(&app, &path, Some(&clerk), "image/jpeg", jpeg(seed, 100)).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    }
    let third = upload(&app, &path, Some(&clerk), "image/jpeg", jpeg(3, 100)).await;
    assert_eq!(third.status, StatusCode::CONFLICT);
    assert_eq!(third.body["code"], "too_many_photos");
    let retry = upload(&app, &path, Some(&clerk), "image/jpeg", jpeg(2, 100)).await;
    assert_eq!(
        retry.status,
        StatusCode::OK,
        "a retry at the limit is still a retry"
    );
    let before = upload(
        &app,
        &format!("/api/cases/{id}/photos?stage=before"),
        Some(&clerk),
        "image/jpeg",
        jpeg(3, 100),
    )
    .await;
    assert_eq!(before.status, StatusCode::CREATED);
    let files = files_under(&app.state.settings().photos.dir);
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(
        files.iter().all(|f| !f.to_string_lossy().contains(".tmp")),
        "{files:?}"
    );
    assert_eq!(photo_rows(&app, id).await, 3);
    // Racing uploads cannot pass the limit together.
    let (raced, _) = citizen_case(&app, 1, "r-2").await;
    let race_path = format!("/api/cases/{raced}/photos?stage=before");
    let racers = (10..16).map(|seed| {
        upload(
            &app,
            &race_path,
            Some(&clerk),
            "image/jpeg",
            jpeg(seed, 100),
        )
    });
    let answers = futures_util::future::join_all(racers).await;
    let created = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .count();
    assert_eq!(
        created,
        2,
        "{:?}",
        answers.iter().map(|a| &a.text).collect::<Vec<_>>()
    );
    assert!(
        answers
            .iter()
            .all(|a| a.status == StatusCode::CREATED || a.body["code"] == "too_many_photos")
    );
    assert_eq!(photo_rows(&app, raced).await, 2);

    let missing = upload(
        &app,
        "/api/cases/999999/photos?stage=before",
        Some(&clerk),
        "image/jpeg",
        jpeg(9, 100),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Photo ids: only 64 lowercase hex digits ever reach the file system.
    let sha = sha_hex(&jpeg(1, 100));
    for (path, status, code) in [
        (
            "/photos/..%2F..%2Fetc%2Fpasswd".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_photo_id",
        ),
        (
            format!("/photos/{}", sha.to_uppercase()),
            StatusCode::BAD_REQUEST,
            "invalid_photo_id",
        ),
        (
            format!("/photos/{}", &sha[..63]),
            StatusCode::BAD_REQUEST,
            "invalid_photo_id",
        ),
        (
            format!("/photos/{sha}0"),
            StatusCode::BAD_REQUEST,
            "invalid_photo_id",
        ),
        (
            format!("/photos/{}z", &sha[..63]),
            StatusCode::BAD_REQUEST,
            "invalid_photo_id",
        ),
        (
            format!("/photos/{}%00", &sha[..63]),
            StatusCode::BAD_REQUEST,
            // A NUL never reaches the photo route: the edge refuses it for every path.
            "invalid_text",
        ),
        (
            "/photos/../../etc/passwd".to_owned(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            format!("/photos/{}", "0".repeat(64)),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ] {
        let a = app.get(&path, None).await;
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (status, Some(code)),
            "{path}"
        );
    }
    assert_eq!(
        app.get(&format!("/photos/{sha}"), None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn each_role_adds_photos_only_within_its_scope() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (own, _) = citizen_case(&app, 0, "s-1").await;
    let (foreign, _) = citizen_case(&app, 30, "s-2").await;
    let inspector = app.login(Role::Inspector).await;
    let handler = app.login(Role::Handler).await;
    let planner = app.login(Role::Planner).await;
    let dispatcher = app.login(Role::Dispatcher).await;
    let unit = app.get("/api/auth/me", Some(&handler)).await.body["unit_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = |id: i64, stage: &str, token: &str, seed: u8| {
        let path = format!("/api/cases/{id}/photos?stage={stage}");
        let token = token.to_owned();
        let app = &app;
        async move { upload(app, &path, Some(&token), "image/jpeg", jpeg(seed, 200)).await }
    };
    assert_eq!(
        post(own, "before", &inspector, 1).await.status,
        StatusCode::CREATED
    );
    let a = post(foreign, "before", &inspector, 2).await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("out_of_scope"))
    );
    let a = post(own, "before", &planner, 3).await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden_role"))
    );
    assert_eq!(
        post(foreign, "after", &dispatcher, 4).await.status,
        StatusCode::CREATED
    );
    // A handler: not before dispatch to their unit, never before-photos.
    let a = post(own, "after", &handler, 5).await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("out_of_scope"))
    );
    let before = app.db.store.get_case(own).await.unwrap().unwrap();
    let mut after = before.clone();
    after.status = wangge::domain::case::Status::Dispatched;
    after.unit_code = Some(unit.clone());
    app.db
        .store
        .update_case(
            &before,
            &[wangge::store::CaseStep {
                action: "dispatch".into(),
                note: None,
                after,
                extra: serde_json::Value::Null,
            }],
            &wangge::store::Audit::system(),
        )
        .await
        .unwrap();
    let a = post(own, "before", &handler, 6).await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("out_of_scope"))
    );
    assert_eq!(
        post(own, "after", &handler, 7).await.status,
        StatusCode::CREATED
    );
    assert_eq!(photo_rows(&app, own).await, 2);
    assert_eq!(files_under(&app.state.settings().photos.dir).len(), 3);
}

#[tokio::test]
async fn a_citizen_adds_before_photos_with_the_token_and_sees_the_closing_note_and_after_photos() {
    let app = spawn_city_without_history(HttpSettings::default()).await;
    let (id, token) = citizen_case(&app, 0, "c-1").await;
    let admin = app.login(Role::Admin).await;
    let unit = app
        .get("/api/auth/me", Some(&app.login(Role::Handler).await))
        .await
        .body["unit_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let up = |q: String, seed: u8| {
        let app = &app;
        async move {
            upload(
                app,
                &format!("/api/public/reports/{id}/photos?{q}"),
                None,
                "image/jpeg",
                jpeg(seed, 300),
            )
            .await
        }
    };
    let a = up(format!("token={token}&stage=before"), 1).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["stage"], "before");
    let a = up("token=wg_wrong&stage=before".into(), 2).await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let a = up("stage=before".into(), 2).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = up(format!("token={token}&stage=after"), 2).await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("out_of_scope"))
    );
    let timeline = app.get(&format!("/api/cases/{id}"), Some(&admin)).await;
    let citizen_event = timeline.body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "case.photo_added")
        .cloned()
        .unwrap();
    assert_eq!(citizen_event["actor_name"], "citizen");

    // Before the close the reporter sees no result yet.
    let f = app
        .get(&format!("/api/public/reports/{id}?token={token}"), None)
        .await;
    assert_eq!(f.body["closing_note"], Value::Null);
    assert_eq!(f.body["after_photos"], json!([]));

    drive(&app, &admin, id, &unit, "handling", "").await;
    let after = jpeg(9, 400);
    let a = upload(
        &app,
        &format!("/api/cases/{id}/photos?stage=after"),
        Some(&admin),
        "image/jpeg",
        after.clone(),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    drive(&app, &admin, id, &unit, "closed", "已清运，路面恢复整洁").await;

    let f = app
        .get(&format!("/api/public/reports/{id}?token={token}"), None)
        .await;
    assert_eq!(f.status, StatusCode::OK);
    assert_eq!(f.body["status"], "closed");
    assert_eq!(f.body["closing_note"], "已清运，路面恢复整洁");
    let photos = f.body["after_photos"].as_array().unwrap();
    assert_eq!(photos.len(), 1, "only after-photos: {photos:?}");
    assert_eq!(photos[0]["sha256"], sha_hex(&after).as_str());
    assert_eq!(photos[0]["url"], format!("/photos/{}", sha_hex(&after)));

    let a = up(format!("token={token}&stage=before"), 3).await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("case_closed"))
    );
    assert_eq!(photo_rows(&app, id).await, 2);
}

/// Not a check: prints sustained upload throughput with durability on (fsync of file and folder,
/// then the database commit). `cargo test --release --test suite photos:: -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "measurement"]
async fn measure_photo_upload_throughput() {
    let app = common::spawn_app().await;
    let clerk = app.login(Role::IntakeClerk).await;
    let d = app
        .db
        .store
        .features_at(Layer::District, None)
        .await
        .unwrap();
    let p = d[0].feature.geometry.interior_point().unwrap();
    for (size, count) in [(200 * 1024, 120), (2 * 1024 * 1024, 30)] {
        let mut ids = Vec::new();
        for i in 0..count / 6 {
            let r = app
                .call(
                    Method::POST,
                    "/api/cases",
                    Some(&clerk),
                    Some(json!({"idempotency_key": format!("m-{size}-{i}"), "category": "0101", "description": "x", "lon": p.x(), "lat": p.y(), "crs": "wgs84"})),
                )
                .await;
            ids.push(r.body["id"].as_i64().unwrap());
        }
        let start = std::time::Instant::now();
        for i in 0..count {
            let id = ids[i / 6];
            let a = upload(
                &app,
                &format!("/api/cases/{id}/photos?stage=before"),
                Some(&clerk),
                "image/jpeg",
                jpeg((i % 251) as u8, size + i),
            )
            .await;
            assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{}: {count} photos of {} KiB in {secs:.2} s = {:.1} photos/s, {:.1} MiB/s",
            app.db.store.backend_name(),
            size / 1024,
            count as f64 / secs,
            (count * size) as f64 / secs / 1048576.0
        );
    }
}

/// Photo files on disk (not temp files).
fn photo_files(app: &TestApp) -> Vec<PathBuf> {
    files_under(&app.state.settings().photos.dir)
        .into_iter()
        .filter(|f| !f.to_string_lossy().contains(".tmp"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uploads_past_the_limit_leave_no_file_without_a_row() {
    let mut settings = HttpSettings::default();
    settings.photos.max_per_stage = 2;
    let app = spawn_city_without_history(settings).await;
    let clerk = app.login(Role::IntakeClerk).await;
    let (id, _) = citizen_case(&app, 0, "race-1").await;
    let path = format!("/api/cases/{id}/photos?stage=before");
    for round in 0..3u8 {
        let racers = (0..8u8).map(|i| {
            let app = &app;
            let path = &path;
            let clerk = &clerk;
            async move {
                upload(
                    app,
                    path,
                    Some(clerk),
                    "image/jpeg",
                    jpeg(round * 16 + i, 3000),
                )
                .await
            }
        });
        let answers = futures_util::future::join_all(racers).await;
        assert!(
            answers
                .iter()
                .all(|a| a.status == StatusCode::CREATED || a.body["code"] == "too_many_photos"),
            "{:?}",
            answers.iter().map(|a| &a.text).collect::<Vec<_>>()
        );
    }
    let rows = app.db.store.case_photos(id).await.unwrap();
    assert_eq!(rows.len(), 2);
    let mut on_disk: Vec<String> = photo_files(&app)
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut in_rows: Vec<String> = rows.iter().map(|p| p.sha256.clone()).collect();
    in_rows.sort();
    assert_eq!(
        on_disk, in_rows,
        "every file has a row and every row a file"
    );
}

#[tokio::test]
async fn a_refused_upload_keeps_the_file_another_case_shows() {
    let mut settings = HttpSettings::default();
    settings.photos.max_per_stage = 1;
    let app = spawn_city_without_history(settings).await;
    let clerk = app.login(Role::IntakeClerk).await;
    let (a, _) = citizen_case(&app, 0, "dedup-a").await;
    let (b, _) = citizen_case(&app, 1, "dedup-b").await;
    let shared = jpeg(42, 500);
    let up = |id: i64, bytes: Vec<u8>| {
        let path = format!("/api/cases/{id}/photos?stage=before");
        let app = &app;
        let clerk = &clerk;
        async move { upload(app, &path, Some(clerk), "image/jpeg", bytes).await }
    };
    assert_eq!(up(a, shared.clone()).await.status, StatusCode::CREATED);
    assert_eq!(up(b, jpeg(43, 500)).await.status, StatusCode::CREATED);
    // Case b is full: the shared photo is refused there, and its file stays for case a.
    let refused = up(b, shared.clone()).await;
    assert_eq!(refused.body["code"], "too_many_photos", "{}", refused.text);
    assert_eq!(photo_files(&app).len(), 2);
    let got = app
        .get(&format!("/photos/{}", sha_hex(&shared)), None)
        .await;
    assert_eq!(got.status, StatusCode::OK);
}
