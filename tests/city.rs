//! Issue 12: a real city starts on its own data — the first admin without demo users, data
//! rules that refuse what would be wrong, a calendar that cannot silently run out, and sensible
//! answers from an empty or partial city.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use axum::http::{Method, StatusCode};
use serde_json::json;
use wangge::http::HttpSettings;

/// Runs `wangge user create …` against a store with the password piped in.
fn user_create(url: &str, username: &str, password: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args([
            "user",
            "create",
            "--username",
            username,
            "--role",
            "admin",
            "--display-name",
            "城市管理员",
            "--password-stdin",
        ])
        .env("WANGGE_DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wangge user create");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write the password");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn login(app: &common::TestApp, username: &str, password: &str) -> common::Answer {
    app.call(
        Method::POST,
        "/api/auth/login",
        None,
        Some(json!({"username": username, "password": password})),
    )
    .await
}

#[tokio::test]
async fn the_first_admin_of_a_store_without_demo_users_is_created_on_the_command_line_and_logs_in_over_http()
 {
    let app = common::spawn_empty_app(HttpSettings::default()).await;
    assert_eq!(app.db.store.count_users().await.unwrap(), 0);
    let (ok, stderr) = user_create(&app.db.url, "city_admin", "Zhou-Kou 2026 river");
    assert!(ok, "{stderr}");

    let a = login(&app, "city_admin", "Zhou-Kou 2026 river").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let token = a.body["token"].as_str().unwrap().to_owned();
    let me = app.get("/api/auth/me", Some(&token)).await;
    assert_eq!(me.body["role"], "admin", "{}", me.text);
    // The admin API is usable: the audit log shows who created the account, and how.
    let events = app.get("/api/events", Some(&token)).await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.text);
    assert!(
        events.text.contains("user.created") && events.text.contains("cli:"),
        "{}",
        events.text
    );
    // Nothing else is usable: no default password.
    assert_eq!(
        login(&app, "city_admin", "wangge-demo").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn user_create_refuses_empty_and_weak_passwords_and_a_taken_name() {
    let app = common::spawn_empty_app(HttpSettings::default()).await;
    for weak in [
        "",
        "short",
        "aaaaaaaaaaaa",
        "wangge-demo",
        "my-city_admin-pw",
    ] {
        let (ok, stderr) = user_create(&app.db.url, "city_admin", weak);
        assert!(!ok, "{weak:?} was accepted");
        assert!(stderr.contains("password"), "{stderr}");
    }
    assert_eq!(app.db.store.count_users().await.unwrap(), 0);
    let (ok, stderr) = user_create(&app.db.url, "city_admin", "Zhou-Kou 2026 river");
    assert!(ok, "{stderr}");
    let (ok, stderr) = user_create(&app.db.url, "city_admin", "another-good-pw 42");
    assert!(!ok);
    assert!(stderr.contains("taken"), "{stderr}");
    // The first password still holds.
    assert_eq!(
        login(&app, "city_admin", "Zhou-Kou 2026 river")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(app.db.store.count_users().await.unwrap(), 1);
}
