//! Database outage on PostgreSQL: endpoints answer 503, `/healthz` says why, and the service
//! recovers by itself when the database returns. It stops and starts the test server, so it is
//! ignored in the plain `cargo test` and run alone by `.ci/run` with:
//! `WANGGE_TEST_DATABASE_URL`, `WANGGE_TEST_PG_STOP` and `WANGGE_TEST_PG_START` (shell commands).

use crate::common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use wangge::domain::identity::Role;

fn run(var: &str) {
    let cmd = std::env::var(var).unwrap_or_else(|_| panic!("{var} must name a shell command"));
    let status = std::process::Command::new("sh")
        .args(["-c", &cmd])
        .status()
        .unwrap();
    assert!(status.success(), "{var} ({cmd}) failed: {status}");
}

#[tokio::test]
#[ignore = "stops the PostgreSQL test server; run by .ci/run"]
async fn while_postgres_is_down_endpoints_answer_503_and_the_service_recovers_by_itself() {
    assert!(
        common::postgres_admin_url().is_some(),
        "WANGGE_TEST_DATABASE_URL must be set"
    );
    let app = common::spawn_app().await;
    let token = app.login(Role::Admin).await;
    assert_eq!(
        app.get("/api/users", Some(&token)).await.status,
        StatusCode::OK
    );

    run("WANGGE_TEST_PG_STOP");
    let users = app.get("/api/users", Some(&token)).await;
    let health = app.get("/healthz", None).await;
    run("WANGGE_TEST_PG_START");

    assert_eq!(
        users.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        users.text
    );
    assert_eq!(users.body["code"], "database_unavailable");
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health.body["database"]["reachable"], false);
    assert!(
        health.body["database"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if app.get("/healthz", None).await.status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery within 60 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let users = app.get("/api/users", Some(&token)).await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.text);
}
