//! The live case stream (server-sent events), on SQLite and PostgreSQL: order and payload,
//! resume with Last-Event-ID without gaps or duplicates, filters, and its two ways to log in.

use crate::common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{TestApp, spawn_app};
use geo::InteriorPoint;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use wangge::domain::identity::Role;
use wangge::domain::jurisdiction::Layer;

/// One parsed SSE message.
#[derive(Debug, Clone)]
struct Message {
    event: String,
    id: i64,
    data: Value,
}

/// Reads SSE messages off a streaming response body.
struct Reader {
    body: Body,
    buf: String,
}

impl Reader {
    /// The next message, skipping comments (heartbeats); None when nothing arrives in `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                // `end` (the token failed) is the one message without an id.
                if id.is_some() || event == "end" {
                    return Some(Message {
                        event,
                        id: id.unwrap_or(0),
                        data: serde_json::from_str(&data).expect("JSON data"),
                    });
                }
                continue;
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .ok()??;
            if let Ok(data) = frame.expect("a body frame").into_data() {
                self.buf.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }

    /// Reads for `wait` and says whether the stream is still open at its end (no message may
    /// arrive meanwhile): how a test watches a stream survive a stretch of time, instead of
    /// sleeping through it.
    async fn stays_open_and_quiet(&mut self, wait: Duration) -> bool {
        match tokio::time::timeout(wait, self.body.frame()).await {
            Err(_) => true,
            Ok(None) => false,
            Ok(Some(frame)) => {
                let data = frame.expect("a body frame").into_data().unwrap_or_default();
                panic!("expected quiet, got {:?}", String::from_utf8_lossy(&data))
            }
        }
    }

    /// Every message until none arrives for `quiet`.
    async fn drain(&mut self, quiet: Duration) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(m) = self.next(quiet).await {
            out.push(m);
        }
        out
    }
}

async fn open(
    app: &TestApp,
    uri: &str,
    headers: &[(&str, String)],
) -> (StatusCode, axum::http::HeaderMap, Reader) {
    let mut req = Request::builder().uri(uri);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let res = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    (
        status,
        headers,
        Reader {
            body: res.into_body(),
            buf: String::new(),
        },
    )
}

fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

/// A WGS84 point inside the first district of the fixture city.
async fn city_point(app: &TestApp) -> (f64, f64) {
    let d = app
        .db
        .store
        .features_at(Layer::District, None)
        .await
        .unwrap();
    let p = d[0].feature.geometry.interior_point().unwrap();
    (p.x(), p.y())
}

async fn new_case(app: &TestApp, token: &str, key: &str) -> i64 {
    let (lon, lat) = city_point(app).await;
    let a = app
        .call(
            Method::POST,
            "/api/cases",
            Some(token),
            // 私搭乱建: near reports are only suggested as duplicates, so each call is a case of its own.
            Some(json!({"idempotency_key": key, "category": "0401", "description": "私搭乱建", "lon": lon, "lat": lat, "crs": "wgs84"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    a.body["id"].as_i64().unwrap()
}

async fn act(app: &TestApp, token: &str, id: i64, action: Value) {
    let a = app
        .call(
            Method::POST,
            &format!("/api/cases/{id}/actions"),
            Some(token),
            Some(action),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}

const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(1500);

#[tokio::test]
async fn a_subscriber_sees_a_case_created_and_acted_on_in_order_with_the_case_in_each_message() {
    let app = spawn_app().await;
    let planner = app.login(Role::Planner).await;
    let admin = app.login(Role::Admin).await;
    let (status, headers, mut stream) = open(&app, "/api/cases/stream", &[bearer(&planner)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/event-stream");
    assert!(headers.get(header::CONTENT_ENCODING).is_none());

    let id = new_case(&app, &admin, "s-1").await;
    let first = stream.next(WAIT).await.expect("the creation arrives");
    assert_eq!(first.event, "case");
    assert_eq!(first.data["event_id"], first.id);
    assert_eq!(first.data["case_id"], id);
    assert_eq!(first.data["action"], "case.created");
    assert!(first.data["at"].is_string());
    assert_eq!(first.data["case"]["id"], id);
    assert_eq!(first.data["case"]["case_no"], format!("AJ{id:08}"));
    assert_eq!(first.data["case"]["status"], "collected");
    assert_eq!(first.data["case"]["status_zh"], "采集");

    act(&app, &admin, id, json!({"action": "register"})).await;
    act(
        &app,
        &admin,
        id,
        json!({"action": "request", "kind": "void"}),
    )
    .await;
    let rest = stream.drain(QUIET).await;
    let actions: Vec<&str> = rest
        .iter()
        .map(|m| m.data["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["case.register", "case.auto_dispatch", "case.request"],
        "{rest:?}"
    );
    let ids: Vec<i64> = std::iter::once(first.id)
        .chain(rest.iter().map(|m| m.id))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(rest[2].data["case"]["pending_request"], "void");

    // The ids are those of the audit log.
    let log = app.get("/api/events?limit=1000", Some(&admin)).await;
    let logged: Vec<i64> = log
        .body
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .filter(|e| e["entity_type"] == "case")
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(logged, ids);
}

#[tokio::test]
async fn each_subscriber_is_told_what_they_may_do_to_the_case_in_each_message() {
    let app = spawn_app().await;
    let admin = app.login(Role::Admin).await;
    let clerk = app.login(Role::IntakeClerk).await;
    let lead = app.login(Role::ShiftLead).await;
    let planner = app.login(Role::Planner).await;
    let mut streams = Vec::new();
    for token in [&clerk, &lead, &planner] {
        streams.push(open(&app, "/api/cases/stream", &[bearer(token)]).await.2);
    }
    let names = |m: &Message, k: &str| -> Vec<String> {
        m.data["case"][k]
            .as_array()
            .unwrap_or_else(|| panic!("{k} missing: {}", m.data))
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    };
    // (created: actions, requests), (void requested: actions)
    let expected: [(&[&str], &[&str], &[&str]); 3] = [
        (&["register", "request", "link"], &["void"], &[]),
        (
            &["register", "request", "link"],
            &["void"],
            &["approve", "reject"],
        ),
        (&[], &[], &[]),
    ];
    // Each message carries the case as it stands when produced: one change at a time.
    let id = new_case(&app, &admin, "allowed-1").await;
    for (stream, (created, requests, _)) in streams.iter_mut().zip(expected) {
        let m = stream.next(WAIT).await.expect("the creation arrives");
        assert_eq!(m.data["case"]["id"], id);
        assert_eq!(names(&m, "allowed_actions"), created);
        assert_eq!(names(&m, "allowed_requests"), requests);
    }
    act(
        &app,
        &admin,
        id,
        json!({"action": "request", "kind": "void"}),
    )
    .await;
    for (stream, (_, _, pending)) in streams.iter_mut().zip(expected) {
        let m = stream.next(WAIT).await.expect("the request arrives");
        assert_eq!(m.data["action"], "case.request");
        assert_eq!(names(&m, "allowed_actions"), pending);
    }
}

#[tokio::test]
async fn resuming_with_last_event_id_delivers_exactly_the_missed_events_then_live_ones() {
    let app = spawn_app().await;
    let admin = app.login(Role::Admin).await;
    let (_, _, mut stream) = open(&app, "/api/cases/stream", &[bearer(&admin)]).await;
    let a = new_case(&app, &admin, "r-1").await;
    let seen = stream.next(WAIT).await.expect("the first case");
    drop(stream);

    // Missed while disconnected: a second case and two actions on the first.
    let b = new_case(&app, &admin, "r-2").await;
    act(&app, &admin, a, json!({"action": "register"})).await;
    act(
        &app,
        &admin,
        a,
        json!({"action": "request", "kind": "void"}),
    )
    .await;

    let (status, _, mut resumed) = open(
        &app,
        "/api/cases/stream",
        &[bearer(&admin), ("last-event-id", seen.id.to_string())],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let missed = resumed.drain(QUIET).await;
    let got: Vec<(i64, &str)> = missed
        .iter()
        .map(|m| {
            (
                m.data["case_id"].as_i64().unwrap(),
                m.data["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (b, "case.created"),
            (a, "case.register"),
            (a, "case.auto_dispatch"),
            (a, "case.request")
        ],
        "{missed:?}"
    );
    assert!(missed.iter().all(|m| m.id > seen.id));

    // Then live, with no gap after the replay and no duplicate of it.
    let c = new_case(&app, &admin, "r-3").await;
    let live = resumed.drain(QUIET).await;
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].data["case_id"], c);
    assert!(live[0].id > missed.last().unwrap().id);

    // The query parameter resumes too (a first EventSource connection cannot send the header).
    let (_, _, mut by_query) = open(
        &app,
        &format!("/api/cases/stream?last_event_id={}", seen.id),
        &[bearer(&admin)],
    )
    .await;
    assert_eq!(by_query.drain(QUIET).await.len(), 5);
}

#[tokio::test]
async fn a_stream_needs_a_token_which_may_come_as_access_token_for_this_endpoint_only() {
    let app = spawn_app().await;
    let (status, _, _) = open(&app, "/api/cases/stream", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let anonymous = app.get("/api/cases/stream", None).await;
    assert_eq!(anonymous.body["code"], "missing_token");
    let wrong = app
        .get("/api/cases/stream?access_token=wg_nope", None)
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body["code"], "invalid_token");

    let token = app.login(Role::Dispatcher).await;
    let admin = app.login(Role::Admin).await;
    let (status, headers, mut stream) = open(
        &app,
        &format!("/api/cases/stream?access_token={token}"),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/event-stream");
    // No other endpoint takes a token from the URL.
    let elsewhere = app
        .get(&format!("/api/cases?access_token={token}"), None)
        .await;
    assert_eq!(elsewhere.status, StatusCode::UNAUTHORIZED);
    // The request log never shows it.
    let uri: axum::http::Uri = format!("/api/cases/stream?unit=x&access_token={token}")
        .parse()
        .unwrap();
    let logged = wangge::http::auth::redact_access_token(&uri);
    assert!(
        !logged.contains(&token) && logged.contains("unit=x"),
        "{logged}"
    );

    // Filters: a box around the city passes the case, a box elsewhere does not.
    let (lon, lat) = city_point(&app).await;
    let near = format!(
        "{},{},{},{}",
        lon - 0.01,
        lat - 0.01,
        lon + 0.01,
        lat + 0.01
    );
    let (_, _, mut inside) = open(
        &app,
        &format!("/api/cases/stream?bbox={near}"),
        &[bearer(&token)],
    )
    .await;
    let (_, _, mut outside) = open(
        &app,
        "/api/cases/stream?bbox=100,20,100.1,20.1",
        &[bearer(&token)],
    )
    .await;
    let (_, _, mut other_unit) = open(
        &app,
        "/api/cases/stream?unit=dept-nobody",
        &[bearer(&token)],
    )
    .await;
    let id = new_case(&app, &admin, "a-1").await;
    assert_eq!(stream.next(WAIT).await.unwrap().data["case_id"], id);
    assert_eq!(inside.next(WAIT).await.unwrap().data["case_id"], id);
    assert!(outside.next(QUIET).await.is_none());
    assert!(other_unit.next(QUIET).await.is_none());
    let bad = app.get("/api/cases/stream?bbox=1,2,3", Some(&token)).await;
    assert_eq!(
        (bad.status, bad.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_bbox")),
        "the same code as every other bbox"
    );
}

#[tokio::test]
async fn a_subscriber_too_slow_for_the_buffer_gets_the_missed_events_from_the_store() {
    let app = spawn_app().await;
    let admin = app.login(Role::Admin).await;
    let (_, _, mut stream) = open(&app, "/api/cases/stream", &[bearer(&admin)]).await;
    // A second subscriber reads as it goes: once it has the last event, the poller has
    // broadcast every one of them past the first.
    let (_, _, mut watcher) = open(&app, "/api/cases/stream", &[bearer(&admin)]).await;
    let (lon, lat) = city_point(&app).await;
    // More than the broadcast buffer (1024), written while the subscriber reads nothing.
    let n = 1500;
    for i in 0..n {
        let new = wangge::store::NewCase {
            idempotency_key: format!("lag-{i}"),
            request_digest: format!("lag-{i}"),
            case: wangge::domain::case::Case {
                description: "暴露垃圾".into(),
                ..wangge::domain::case::Case::draft("inspector", "0101", lon, lat)
            },
            follow_up: Vec::new(),
            open311: None,
        };
        app.db
            .store
            .create_case(&new, &wangge::store::Audit::system())
            .await
            .unwrap();
    }
    let mut seen = 0;
    while seen < n {
        watcher
            .next(WAIT)
            .await
            .expect("the watching subscriber gets every event");
        seen += 1;
    }
    let got = stream.drain(QUIET).await;
    let ids: Vec<i64> = got.iter().map(|m| m.id).collect();
    assert_eq!(ids.len(), n, "every event arrives once");
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicates"
    );
    let cases: std::collections::BTreeSet<i64> = got
        .iter()
        .map(|m| m.data["case_id"].as_i64().unwrap())
        .collect();
    assert_eq!(cases.len(), n);
}

/// Not a check: prints the delay from a committed change to its message on an open stream.
/// `cargo test --release --test suite stream:: -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "measurement"]
async fn measure_stream_latency() {
    let app = spawn_app().await;
    let admin = app.login(Role::Admin).await;
    let (_, _, mut stream) = open(&app, "/api/cases/stream", &[bearer(&admin)]).await;
    let mut delays = Vec::new();
    for i in 0..20 {
        let id = new_case(&app, &admin, &format!("lat-{i}")).await;
        let t = std::time::Instant::now();
        let m = stream.next(WAIT).await.unwrap();
        assert_eq!(m.data["case_id"], id);
        delays.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(137)).await;
    }
    delays.sort_by(f64::total_cmp);
    println!(
        "{}: change → message median {:.0} ms, max {:.0} ms (poll every 500 ms)",
        app.db.store.backend_name(),
        delays[delays.len() / 2],
        delays[delays.len() - 1]
    );
}

#[tokio::test]
async fn the_stream_outlives_the_request_timeout_is_not_compressed_and_ends_on_shutdown() {
    let app = common::spawn_app_with(wangge::http::HttpSettings {
        request_timeout: Duration::from_millis(500),
        ..Default::default()
    })
    .await;
    let admin = app.login(Role::Admin).await;
    let (status, headers, mut stream) = open(
        &app,
        "/api/cases/stream",
        &[bearer(&admin), ("accept-encoding", "gzip".into())],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(header::CONTENT_ENCODING).is_none());
    assert!(
        stream
            .stays_open_and_quiet(Duration::from_millis(1200))
            .await,
        "the stream outlives twice the request timeout"
    );
    let id = new_case(&app, &admin, "t-1").await;
    let m = stream
        .next(WAIT)
        .await
        .expect("still open after the timeout");
    assert_eq!(m.data["case_id"], id);

    app.state.begin_shutdown();
    let ended = tokio::time::timeout(WAIT, async {
        while let Some(frame) = stream.body.frame().await {
            frame.expect("a frame");
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream ends on shutdown");
}

/// Everything until the stream ends (panics if it is still open after `wait`).
async fn read_to_end(reader: &mut Reader, wait: Duration) -> Vec<Message> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(!left.is_zero(), "the stream is still open; got {out:?}");
        match reader.next(left).await {
            Some(m) => out.push(m),
            // None before the deadline is the end of the body.
            None if tokio::time::Instant::now() < deadline => return out,
            None => panic!("the stream is still open; got {out:?}"),
        }
    }
}

#[tokio::test]
async fn a_stream_ends_when_its_token_is_revoked_and_delivers_nothing_made_after() {
    for how in ["logout", "admin revokes the user's tokens"] {
        // The periodic re-check is an hour away: the revocation event alone must end the stream.
        let app = common::spawn_app_with(wangge::http::HttpSettings {
            stream_token_recheck: Duration::from_secs(3600),
            ..wangge::http::HttpSettings::default()
        })
        .await;
        let admin = app.login(Role::Admin).await;
        let watcher = app.login(Role::Dispatcher).await;
        let (status, _, mut reader) = open(&app, "/api/cases/stream", &[bearer(&watcher)]).await;
        assert_eq!(status, StatusCode::OK);
        let before = new_case(&app, &admin, &format!("{how}-before")).await;
        let first = reader
            .next(Duration::from_secs(10))
            .await
            .expect("a live message");
        assert_eq!(first.data["case_id"], before);

        if how == "logout" {
            let a = app
                .call(Method::POST, "/api/auth/logout", Some(&watcher), None)
                .await;
            assert_eq!(a.status, StatusCode::NO_CONTENT);
        } else {
            let me = app.get("/api/auth/me", Some(&watcher)).await;
            let id = me.body["id"].as_i64().unwrap();
            let a = app
                .call(
                    Method::POST,
                    &format!("/api/users/{id}/revoke-tokens"),
                    Some(&admin),
                    None,
                )
                .await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        }
        let after = new_case(&app, &admin, &format!("{how}-after")).await;

        let rest = read_to_end(&mut reader, Duration::from_secs(20)).await;
        let end = rest.last().expect("an end message");
        assert_eq!(end.event, "end", "{how}: {rest:?}");
        assert_eq!(end.data["code"], "token_revoked", "{how}");
        assert_eq!(rest.len(), 1, "{how}: only the end message, not {rest:?}");
        assert!(
            !rest.iter().any(|m| m.data["case_id"] == after),
            "{how}: an event made after the revocation was delivered: {rest:?}"
        );
    }
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires() {
    let app = common::spawn_app_with(wangge::http::HttpSettings {
        token_ttl: chrono::Duration::seconds(2),
        stream_token_recheck: Duration::from_secs(3600),
        ..wangge::http::HttpSettings::default()
    })
    .await;
    let watcher = app.login(Role::Dispatcher).await;
    let (status, _, mut reader) = open(&app, "/api/cases/stream", &[bearer(&watcher)]).await;
    assert_eq!(status, StatusCode::OK);
    let rest = read_to_end(&mut reader, Duration::from_secs(20)).await;
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert_eq!(rest[0].event, "end");
    assert_eq!(rest[0].data["code"], "token_expired");
}
