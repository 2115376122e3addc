//! The read replica for analytics (`--read-database-url`, docs/scaling.md): what can be checked
//! without a streaming standby. The routing (analytics on the reader's own read-only pool, case
//! lists on the primary) and the fallback (an unreachable reader: the analytics read the primary,
//! no request fails) run here on the store harness; a reader pointed at the primary itself stands
//! in for a standby that has replayed everything. The end-to-end check with a real standby made
//! by `pg_basebackup` is `.ci/standby.sh`. On SQLite only the refusals have something to check.

use crate::common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use clap::Parser;
use serde_json::json;
use wangge::http::HttpSettings;
use wangge::store::{APPLICATION_NAME, PointFilter};

/// A PostgreSQL address where nothing listens (port 1 is never a database).
const NOWHERE: &str = "postgres://postgres@127.0.0.1:1/wangge";

#[test]
fn a_read_database_url_that_is_not_postgresql_is_refused_with_a_message() {
    let err = wangge::cli::Cli::try_parse_from([
        "wangge",
        "serve",
        "--read-database-url",
        "sqlite://data/replica.db",
    ])
    .expect_err("a SQLite reader");
    assert!(err.to_string().contains("not a PostgreSQL URL"), "{err}");
    let err = wangge::cli::Cli::try_parse_from([
        "wangge",
        "serve",
        "--read-database-url",
        "postgres://postgres@127.0.0.1/wangge",
        "--read-max-lag-secs",
        "0",
    ])
    .expect_err("a lag bound of 0");
    assert!(err.to_string().contains("read-max-lag-secs"), "{err}");
    wangge::cli::Cli::try_parse_from([
        "wangge",
        "serve",
        "--read-database-url",
        "postgresql://postgres@127.0.0.1:5433/wangge",
        "--read-max-lag-secs",
        "30",
    ])
    .expect("a PostgreSQL reader with a bound");
}

#[tokio::test]
async fn a_read_replica_is_refused_on_a_sqlite_primary_and_for_a_url_that_is_not_postgresql() {
    let db = common::fresh_store().await;
    let err = db
        .store
        .clone()
        .with_reader("sqlite://elsewhere.db", Duration::from_secs(10))
        .expect_err("a SQLite reader");
    assert!(err.to_string().contains("PostgreSQL"), "{err}");
    if db.store.backend_name() == "sqlite" {
        let err = db
            .store
            .clone()
            .with_reader(NOWHERE, Duration::from_secs(10))
            .expect_err("a reader beside a SQLite primary");
        assert!(
            err.to_string().contains("needs a PostgreSQL primary"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_read_replica_sends_the_analytics_to_the_primary_and_fails_none() {
    let db = common::fresh_store().await;
    if db.store.backend_name() != "postgres" {
        return;
    }
    let store = db
        .store
        .clone()
        .with_reader(NOWHERE, Duration::from_secs(10))
        .expect("a reader");
    let status = store.probe_reader().await.expect("a reader status");
    assert_eq!(status.state.name(), "unreachable", "{status:?}");
    let analytics = store.analytics().await;
    // The primary: it accepts a write, which the reader's read-only sessions would refuse.
    sqlx::query("CREATE TEMPORARY TABLE written (n int)")
        .execute(analytics.postgres_pool().expect("postgres"))
        .await
        .expect("the analytics store is the primary");
    let points = analytics
        .hotspot_points(&PointFilter {
            history: true,
            cases: true,
            ..Default::default()
        })
        .await
        .expect("the analytics answer from the primary");
    assert!(points.is_empty());
    let status = store.reader_status().expect("a reader status");
    assert_eq!(status.reads_on_replica, 0);
    assert!(status.reads_on_primary >= 1, "{status:?}");
}

#[tokio::test]
async fn a_read_replica_serves_the_analytics_on_its_own_read_only_sessions() {
    let db = common::fresh_store().await;
    if db.store.backend_name() != "postgres" {
        return;
    }
    // The primary itself as the reader: a standby that has replayed everything, to the probe.
    let store = db
        .store
        .clone()
        .with_reader(&db.url, Duration::from_secs(10))
        .expect("a reader");
    let status = store.probe_reader().await.expect("a reader status");
    assert_eq!(status.state.name(), "in_use", "{status:?}");
    assert_eq!(status.state.lag(), Some(Duration::ZERO));
    let analytics = store.analytics().await;
    let pool = analytics.postgres_pool().expect("postgres");
    let (name, read_only): (String, String) =
        sqlx::query_as("SELECT current_setting('application_name'), current_setting('default_transaction_read_only')")
            .fetch_one(pool)
            .await
            .expect("the reader's settings");
    assert_eq!(
        (name.as_str(), read_only.as_str()),
        (APPLICATION_NAME, "on")
    );
    let refused = sqlx::query("CREATE TABLE written (n int)")
        .execute(pool)
        .await
        .expect_err("a write on the reader");
    assert!(refused.to_string().contains("read-only"), "{refused}");
    assert_eq!(analytics.points_revision().await.expect("a revision"), 0);
    // The store itself still writes on the primary.
    sqlx::query("CREATE TEMPORARY TABLE written (n int)")
        .execute(store.postgres_pool().expect("postgres"))
        .await
        .expect("the primary writes");
    let status = store.reader_status().expect("a reader status");
    assert!(status.reads_on_replica >= 1, "{status:?}");
    store.close().await;
}

#[tokio::test]
async fn with_the_read_replica_down_a_new_case_is_listed_at_once_and_the_analytics_still_answer() {
    let mut db = common::seeded_store("first start of the mini city", |store| async move {
        wangge::demo::first_start(&store, &common::mini_city(), true)
            .await
            .expect("seed the city");
    })
    .await;
    if db.store.backend_name() != "postgres" {
        return;
    }
    db.store = db
        .store
        .clone()
        .with_reader(NOWHERE, Duration::from_secs(10))
        .expect("a reader");
    let app = common::app_over(db, HttpSettings::default()).await;
    let token = app.login_demo("demo_admin").await;
    let created = app
        .call(
            Method::POST,
            "/api/cases",
            Some(&token),
            Some(
                json!({"idempotency_key": "read-replica-1", "category": "0101",
                   "description": "副本不可达时上报", "lon": 113.62, "lat": 34.72, "crs": "wgs84"}),
            ),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_i64().expect("an id");
    let list = app.get("/api/cases?limit=5", Some(&token)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert!(
        list.body
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["id"] == id)),
        "{}",
        list.text
    );
    let agg = app
        .get(
            "/api/hotspots/aggregate?include=cases&unit=street",
            Some(&token),
        )
        .await;
    assert_eq!(agg.status, StatusCode::OK, "{}", agg.text);
    let export = app
        .get("/api/cases/export?format=geojson", Some(&token))
        .await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text);
    assert!(
        export.body["features"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["id"] == id)),
        "{}",
        export.text
    );
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.text);
    assert_eq!(health.body["read_replica"]["state"], "unreachable");
    assert_eq!(health.body["read_replica"]["max_lag_ms"], 10_000);
    assert!(health.body["read_replica"]["reads_on_primary"].as_u64() >= Some(2));
}
