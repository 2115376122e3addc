//! Several processes on one PostgreSQL (docs/scaling.md): first starts that race take turns under
//! an advisory lock, and an edit through one replica reaches the others by LISTEN/NOTIFY, without
//! waiting for the revision poll. Each "replica" here is a store of its own (its own pool) over
//! the same database; the end-to-end check with real processes behind HAProxy is
//! `.ci/replicas.sh`. On SQLite (one process per file) these tests have nothing to check.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use wangge::config::StoreConfig;
use wangge::domain::jurisdiction::Layer;
use wangge::live::LiveCity;
use wangge::store::{Audit, Store, StoreOptions};

/// A store of its own (one replica's pool) over the database of `url`.
async fn replica(url: &str) -> Store {
    Store::connect(url, &StoreOptions::default())
        .await
        .expect("connect a replica")
}

/// Polls `check` until it holds, for at most `limit`; returns how long it took.
async fn within<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// An empty database (not even migrated) on the PostgreSQL server under test; None on SQLite.
async fn empty_postgres_database() -> Option<String> {
    let admin = common::postgres_admin_url()?;
    let admin_store = replica(&admin).await;
    let name = format!(
        "wangge_race_{}_{}",
        std::process::id(),
        Instant::now().elapsed().subsec_nanos()
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin_store.postgres_pool().expect("a postgres URL"))
        .await
        .expect("create the database");
    admin_store.close().await;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some(format!("{base}/{name}"))
}

/// What `wangge serve` does before it serves: migrate and seed, then the demo city under the
/// first-start lock.
async fn first_start(url: String) -> Store {
    let store = wangge::server::open_store(&StoreConfig {
        database_url: url,
        db_max_connections: 4,
        db_acquire_timeout_secs: 10,
    })
    .await
    .expect("migrate and seed");
    let lock = store.start_lock().await.expect("the first-start lock");
    wangge::demo::first_start(&store, &common::mini_city(), true)
        .await
        .expect("the first start");
    lock.release().await;
    store
}

#[tokio::test]
async fn replicas_starting_together_on_an_empty_database_both_come_up_with_one_city() {
    let Some(url) = empty_postgres_database().await else {
        return;
    };
    let (a, b) = tokio::join!(first_start(url.clone()), first_start(url.clone()));
    // The mini city has districts only; nothing is published twice.
    let versions = a.layer_versions(None).await.expect("versions");
    assert_eq!(versions.len(), 1, "one layer, published once: {versions:?}");
    assert_eq!(versions[0].layer, Layer::District);
    assert_eq!(
        b.count_users().await.expect("users"),
        wangge::demo::DEMO_USERS.len() as i64
    );
    let categories = b.category_versions().await.expect("categories");
    assert!(categories.iter().all(|c| c.version == 1));
    assert_eq!(
        categories.len(),
        wangge::domain::catalogue::default_catalogue().len()
    );
}

#[tokio::test]
async fn a_category_added_through_one_replica_reloads_the_other_within_two_seconds_by_notice() {
    let Some((_db, one, two)) = two_replicas_of_the_mini_city().await else {
        return;
    };
    let live_two = LiveCity::load(two.clone(), Default::default())
        .await
        .expect("replica two's index");
    // No poller: only the notice can make replica two reload.
    let changes = two
        .spawn_change_listener()
        .expect("a listener on PostgreSQL");
    let _follower = live_two.spawn_follower(changes.subscribe());
    // The listener is connected when a notice of our own comes back.
    let mut probe = changes.subscribe();
    let mut category = wangge::domain::catalogue::default_catalogue()[0].clone();
    let mut seen = Vec::new();
    for i in 0..5 {
        category.code = format!("99{i:02}");
        let before = live_two.current().version();
        one.seed_categories(std::slice::from_ref(&category))
            .await
            .expect("add a category through replica one");
        if i == 0 {
            tokio::time::timeout(Duration::from_secs(5), probe.recv())
                .await
                .expect("a notice within 5 s")
                .expect("the listener runs");
        }
        let code = category.code.clone();
        let live = Arc::clone(&live_two);
        let took = within(Duration::from_secs(2), || {
            let live = Arc::clone(&live);
            let code = code.clone();
            async move { live.current().version() > before && live.category(&code).is_ok() }
        })
        .await
        .unwrap_or_else(|| panic!("replica two did not see category {code} within 2 s"));
        seen.push(took);
    }
    eprintln!("category edit → other replica reloaded: {seen:?}");
}

#[tokio::test]
async fn a_dispatch_rule_table_stored_by_one_replica_is_in_force_on_the_other_by_notice() {
    let Some((_db, one, two)) = two_replicas_of_the_mini_city().await else {
        return;
    };
    let (cases_two, _changes) = following_case_service(&one, &two).await;
    let version = one
        .put_dispatch_rules(
            &cases_two.rules().table,
            &Audit {
                actor_name: Some("replica one".into()),
                ..Audit::system()
            },
        )
        .await
        .expect("store a rule table through replica one");
    let cases = cases_two.clone();
    within(Duration::from_secs(2), || {
        let cases = cases.clone();
        async move { cases.rules().version == Some(version) }
    })
    .await
    .expect("replica two puts the stored table in force within 2 s");
}

/// A seeded mini city and two replicas' stores over it; None on SQLite (one process per file).
async fn two_replicas_of_the_mini_city() -> Option<(common::TestStore, Store, Store)> {
    let db = common::fresh_store().await;
    if db.store.backend_name() != "postgres" {
        return None;
    }
    wangge::demo::first_start(&db.store, &common::mini_city(), true)
        .await
        .expect("seed");
    let (one, two) = (replica(&db.url).await, replica(&db.url).await);
    Some((db, one, two))
}

/// Replica two's case service, following the change notices of its own listener; the listener
/// has heard one notice (so it is connected) when this returns.
async fn following_case_service(
    one: &Store,
    two: &Store,
) -> (
    wangge::cases::CaseService,
    tokio::sync::broadcast::Sender<wangge::store::Change>,
) {
    let live_two = LiveCity::load(two.clone(), Default::default())
        .await
        .expect("replica two's index");
    let cases_two = wangge::cases::CaseService::new(
        two.clone(),
        live_two,
        wangge::domain::calendar::WorkCalendar::china_default(),
        wangge::cases::rules::RulesInForce::built_in(),
        wangge::photos::PhotoConfig::default(),
    );
    let changes = two
        .spawn_change_listener()
        .expect("a listener on PostgreSQL");
    let _follower = cases_two.spawn_follower(changes.subscribe());
    let mut probe = changes.subscribe();
    one.seed_categories(&[{
        let mut c = wangge::domain::catalogue::default_catalogue()[0].clone();
        c.code = "9902".into();
        c
    }])
    .await
    .expect("a category");
    tokio::time::timeout(Duration::from_secs(5), probe.recv())
        .await
        .expect("a notice within 5 s")
        .expect("the listener runs");
    (cases_two, changes)
}

#[tokio::test]
async fn a_holiday_year_stored_by_one_replica_is_in_force_on_the_other_by_notice() {
    let Some((_db, one, two)) = two_replicas_of_the_mini_city().await else {
        return;
    };
    let (cases_two, _changes) = following_case_service(&one, &two).await;
    assert!(
        !cases_two
            .calendar()
            .national_years()
            .any(|y| y.year == 2031)
    );
    let year = wangge::domain::calendar::YearTable::parse(
        r#"{"region": "cn", "year": 2031, "source": "测试用的 2031 年安排",
            "holidays": ["2031-10-01", "2031-10-02"], "workdays": ["2031-09-28"]}"#,
    )
    .expect("a year");
    one.put_calendar_year(&year, &Audit::system())
        .await
        .expect("store the year through replica one");
    let cases = cases_two.clone();
    within(Duration::from_secs(2), || {
        let cases = cases.clone();
        async move { cases.calendar().national_years().any(|y| y.year == 2031) }
    })
    .await
    .expect("replica two computes deadlines with 2031 within 2 s");
    let day = chrono::NaiveDate::from_ymd_opt(2031, 10, 1).unwrap();
    assert!(!cases_two.calendar().is_working_day(day));
}

#[tokio::test]
async fn the_change_listener_reconnects_after_losing_its_connection_and_asks_for_a_full_reread() {
    let Some((_db, one, two)) = two_replicas_of_the_mini_city().await else {
        return;
    };
    let (_cases_two, changes) = following_case_service(&one, &two).await;
    let mut probe = changes.subscribe();
    // The database drops the listener's connection (a restart, a failover, an idle timeout).
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    .fetch_one(one.postgres_pool().expect("postgres"))
    .await
    .expect("terminate the listener's backend");
    assert!(killed >= 1, "the listener's connection was found");
    let resync = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match probe.recv().await {
                Ok(wangge::store::Change::Resync) => return true,
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
    })
    .await
    .expect("a resync within 10 s of the lost connection");
    assert!(
        resync,
        "the listener came back and asked for a full re-read"
    );
    // And it hears new notices again.
    one.seed_categories(&[{
        let mut c = wangge::domain::catalogue::default_catalogue()[0].clone();
        c.code = "9903".into();
        c
    }])
    .await
    .expect("a category");
    let heard = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(wangge::store::Change::Data) = probe.recv().await {
                return;
            }
        }
    })
    .await;
    assert!(heard.is_ok(), "a notice after the reconnection");
}

#[tokio::test]
async fn a_replica_whose_photo_folder_lacks_the_shared_mark_refuses_to_start() {
    let db = common::fresh_store().await;
    if db.store.backend_name() != "postgres" {
        return;
    }
    let folder = |dir: &std::path::Path| wangge::photos::PhotoConfig {
        dir: dir.to_path_buf(),
        ..Default::default()
    };
    let (shared, local, other) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    wangge::photos::check_shared_folder(&db.store, &folder(shared.path()))
        .await
        .expect("the first replica marks the shared folder");
    wangge::photos::check_shared_folder(&db.store, &folder(shared.path()))
        .await
        .expect("a second replica on the shared folder starts");
    let e = wangge::photos::check_shared_folder(&db.store, &folder(local.path()))
        .await
        .expect_err("a replica on a local folder is refused");
    assert!(
        e.to_string().contains("not the one the other replicas"),
        "{e}"
    );
    std::fs::write(
        other.path().join(wangge::photos::FOLDER_MARK),
        "0123456789abcdef\n",
    )
    .unwrap();
    let e = wangge::photos::check_shared_folder(&db.store, &folder(other.path()))
        .await
        .expect_err("a folder of another database is refused");
    assert!(e.to_string().contains("belongs to another database"), "{e}");
}
