//! Test harness: a fresh store per test on the backend under test, the router without a socket,
//! and small request helpers.
//!
//! The backend is SQLite (a temp file) unless `WANGGE_TEST_DATABASE_URL` names a PostgreSQL
//! server (any database on it, e.g. `postgres://postgres@127.0.0.1:5433/postgres`): then every
//! test gets a database of its own, created from scratch. `.ci/run` runs the same suites both ways.
#![allow(dead_code)]

pub mod second_city;
pub mod wire;

use std::path::{Path, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use wangge::domain::identity::Role;
use wangge::http::{AppState, HttpSettings};
use wangge::store::{Store, StoreOptions};

/// The password of the users tests create.
pub const TEST_PASSWORD: &str = "long-enough-pw";

/// A store for one test, and what keeps it alive.
pub struct TestStore {
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A PostgreSQL test database is dropped with its test: CI runs every suite on one throwaway
/// cluster, and the demo-city databases left behind once filled its disk.
impl Drop for TestStore {
    fn drop(&mut self) {
        let (Some(admin), Some((_, name))) = (postgres_admin_url(), self.url.rsplit_once('/'))
        else {
            return;
        };
        if !name.starts_with("wangge_t_") {
            return;
        }
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its own
        // with a runtime of its own does the dropping, and is waited for.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            rt.block_on(async {
                let admin_store = Store::connect(&admin, &StoreOptions::default()).await?;
                let pool = admin_store.postgres_pool().expect("a postgres URL");
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
                admin_store.close().await;
                Ok::<_, anyhow::Error>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop the test database {name}: {e:#}");
        }
    }
}

fn random_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    // Tests of one binary run in parallel threads of one process: the clock alone can give two
    // of them the same name (it did), so a per-process counter makes each name unique.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000_000
    )
}

/// The PostgreSQL server under test, if any.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("WANGGE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A fresh, migrated, empty store.
pub async fn fresh_store() -> TestStore {
    let (url, dir) = match postgres_admin_url() {
        Some(admin) => {
            let admin_store = Store::connect(&admin, &StoreOptions::default())
                .await
                .expect("connect to the PostgreSQL test server");
            let name = format!("wangge_t_{}", random_suffix());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(admin_store.postgres_pool().expect("a postgres URL"))
                .await
                .expect("create the test database");
            admin_store.close().await;
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            (format!("{base}/{name}"), None)
        }
        None => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("test.db").display());
            (url, Some(dir))
        }
    };
    open(url, dir).await
}

/// A seeded store made once per test process and copied for each test that asks for it: seeding
/// the whole demo city (tens of thousands of features, two years of history) took most of the
/// suites' time when every test did it again. A copy is the same data under a new database, so
/// tests stay independent.
///
/// SQLite: the closed template file is copied. PostgreSQL: `CREATE DATABASE … TEMPLATE`. A
/// template lives as long as its process; templates of processes that are gone are removed when
/// the next one is made, so a killed run leaves at most its own behind.
pub async fn seeded_store<F, Fut>(key: &str, seed: F) -> TestStore
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use std::collections::HashMap;
    use tokio::sync::Mutex;
    // key → the template's URL.
    static TEMPLATES: Mutex<Option<HashMap<String, String>>> = Mutex::const_new(None);
    // Held while a copy is made too: PostgreSQL refuses to copy a template another session is
    // copying or connected to.
    let mut templates = TEMPLATES.lock().await;
    let templates = templates.get_or_insert_with(HashMap::new);
    if !templates.contains_key(key) {
        remove_stale_templates().await;
        let name = format!("wangge_tpl_{}", random_suffix());
        let url = match postgres_admin_url() {
            Some(admin) => {
                admin_execute(&admin, &format!("CREATE DATABASE {name}")).await;
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                format!("{base}/{name}")
            }
            None => {
                let dir = std::env::temp_dir().join(&name);
                std::fs::create_dir_all(&dir).expect("the template's folder");
                format!("sqlite://{}", dir.join("test.db").display())
            }
        };
        let store = Store::connect(&url, &StoreOptions::default())
            .await
            .expect("connect to the template");
        store.migrate().await.expect("migrate the template");
        seed(store.clone()).await;
        store.close().await;
        templates.insert(key.to_owned(), url);
    }
    let template = &templates[key];
    let (url, dir) = match postgres_admin_url() {
        Some(admin) => {
            let from = template.rsplit_once('/').expect("a database URL").1;
            let name = format!("wangge_t_{}", random_suffix());
            admin_execute(&admin, &format!("CREATE DATABASE {name} TEMPLATE {from}")).await;
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            (format!("{base}/{name}"), None)
        }
        None => {
            let from = template.strip_prefix("sqlite://").expect("a SQLite URL");
            let dir = tempfile::tempdir().expect("temp dir");
            let to = dir.path().join("test.db");
            for suffix in ["", "-wal"] {
                let side = format!("{from}{suffix}");
                if Path::new(&side).exists() {
                    std::fs::copy(&side, format!("{}{suffix}", to.display()))
                        .expect("copy the template store");
                }
            }
            (format!("sqlite://{}", to.display()), Some(dir))
        }
    };
    open(url, dir).await
}

/// Connects to a test database, migrates it and checks the backend CI asked for.
async fn open(url: String, dir: Option<tempfile::TempDir>) -> TestStore {
    let store = Store::connect(&url, &StoreOptions::default())
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    store.migrate().await.expect("migrate");
    if std::env::var("WANGGE_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        assert_eq!(store.backend_name(), "postgres", "PostgreSQL was required");
    }
    TestStore {
        store,
        url,
        _dir: dir,
    }
}

async fn admin_execute(admin: &str, sql: &str) {
    let admin_store = Store::connect(admin, &StoreOptions::default())
        .await
        .expect("connect to the PostgreSQL test server");
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(admin_store.postgres_pool().expect("a postgres URL"))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    admin_store.close().await;
}

/// Whether a template name's process (the first part of its suffix) is gone.
fn stale(name: &str) -> bool {
    let pid = name["wangge_tpl_".len()..].split('_').next().unwrap_or("");
    !pid.is_empty() && !Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes the templates of test processes that are no longer running.
async fn remove_stale_templates() {
    let Some(admin) = postgres_admin_url() else {
        for entry in std::fs::read_dir(std::env::temp_dir())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("wangge_tpl_") && stale(&name) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        return;
    };
    let admin_store = Store::connect(&admin, &StoreOptions::default())
        .await
        .expect("connect to the PostgreSQL test server");
    let pool = admin_store.postgres_pool().expect("a postgres URL");
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'wangge_tpl_%'")
            .fetch_all(pool)
            .await
            .expect("list the templates");
    for (name,) in names.into_iter().filter(|(n,)| stale(n)) {
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await;
    }
    admin_store.close().await;
}

/// The small real fixture: the real outlines of 中原区 and 二七区 and their departments.
pub fn mini_city() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mini")
}

/// A running application (router + store) with the mini city and the demo users.
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub db: TestStore,
    /// The app's photo folder (its `photos/` subfolder is `settings.photos.dir`).
    pub photos: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(HttpSettings::default()).await
}

/// The whole demo city of `geodata/`.
pub fn demo_city() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata")
}

/// An app over the whole demo city (slower to start: tens of thousands of features).
pub async fn spawn_demo_app(settings: HttpSettings) -> TestApp {
    spawn_city_app(&demo_city(), settings).await
}

/// The demo city without its two-year history: seconds instead of a minute, for tests of
/// live cases.
pub async fn spawn_city_without_history(settings: HttpSettings) -> TestApp {
    let db = seeded_store("demo city without history", |store| async move {
        let audit = wangge::store::Audit::system();
        wangge::demo::load_city(&store, &demo_city(), &audit)
            .await
            .expect("load the demo city");
        wangge::demo::seed_demo_users(&store, &audit)
            .await
            .expect("seed the demo users");
        store
            .seed_categories(&wangge::domain::catalogue::default_catalogue())
            .await
            .expect("seed the catalogue");
    })
    .await;
    app_over(db, settings).await
}

pub async fn spawn_app_with(settings: HttpSettings) -> TestApp {
    spawn_city_app(&mini_city(), settings).await
}

pub async fn spawn_city_app(city: &Path, settings: HttpSettings) -> TestApp {
    let key = format!("first start of {}", city.display());
    let city = city.to_owned();
    let db = seeded_store(&key, |store| async move {
        wangge::demo::first_start(&store, &city, true)
            .await
            .expect("seed the city");
    })
    .await;
    app_over(db, settings).await
}

/// A fresh store as `--no-demo` leaves it: migrated, the category catalogue seeded, no city and
/// no users.
pub async fn spawn_empty_app(settings: HttpSettings) -> TestApp {
    let db = fresh_store().await;
    wangge::demo::first_start(&db.store, &mini_city(), false)
        .await
        .expect("first start without the demo");
    db.store
        .seed_categories(&wangge::domain::catalogue::default_catalogue())
        .await
        .expect("seed the catalogue");
    app_over(db, settings).await
}

/// The service over a seeded store, with a photo folder of its own, removed with it.
pub async fn app_over(db: TestStore, mut settings: HttpSettings) -> TestApp {
    let photos = tempfile::tempdir().expect("photo dir");
    settings.photos.dir = photos.path().join("photos");
    let engine = wangge::live::LiveCity::load(db.store.clone(), Default::default())
        .await
        .expect("build the assignment engine");
    let state = AppState::new(db.store.clone(), settings, engine);
    TestApp {
        router: wangge::http::router(state.clone()),
        state,
        db,
        photos,
    }
}

/// A response, with its body parsed as JSON when it is JSON.
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    pub text: String,
    /// The body as sent (a workbook, an image).
    pub bytes: Vec<u8>,
}

impl TestApp {
    pub async fn request(&self, req: Request<Body>) -> Answer {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
            bytes: bytes.to_vec(),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        self.request(req).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.call(Method::GET, path, token, None).await
    }

    /// As admin, re-imports a demo-city layer with "(新)" appended to every name, publishing a
    /// new version; `query` is appended to the import URL (e.g. `?accept_warnings=true`).
    pub async fn republish_renamed(&self, file: &str, layer: &str, query: &str) -> Answer {
        let token = self.login(Role::Admin).await;
        let mut fc: geojson::FeatureCollection = wangge::import::read_text(&demo_city().join(file))
            .expect("read the layer")
            .parse()
            .expect("parse the layer");
        for f in &mut fc.features {
            let name = f
                .property("name")
                .and_then(|n| n.as_str())
                .unwrap_or_default()
                .to_owned();
            f.set_property("name", format!("{name}(新)"));
        }
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("/api/import/layers/{layer}{query}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/geo+json")
            .body(Body::from(fc.to_string()))
            .expect("request");
        self.request(req).await
    }

    /// Creates a user the admin's way (`scope`: `{"grids": […]}`, `{"unit_code": …}` or `{}`)
    /// and logs them in: their token and id.
    pub async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        role: &str,
        scope: Value,
    ) -> (String, i64) {
        let admin = self.login(Role::Admin).await;
        let mut body = serde_json::json!({"username": username, "display_name": display_name,
            "role": role, "password": TEST_PASSWORD});
        body.as_object_mut()
            .expect("an object")
            .extend(scope.as_object().expect("scope is an object").clone());
        let created = self
            .call(Method::POST, "/api/users", Some(&admin), Some(body))
            .await;
        assert!(created.status.is_success(), "{}", created.text);
        let a = self
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(serde_json::json!({"username": username, "password": TEST_PASSWORD})),
            )
            .await;
        let token = a.body["token"].as_str().expect("a token").to_owned();
        let me = self.get("/api/auth/me", Some(&token)).await;
        (token, me.body["id"].as_i64().expect("an id"))
    }

    /// Logs in as the demo user of `role` and returns the token.
    /// Stores a case as the intake would (a new idempotency key `key`), without the workflow:
    /// the case as stored.
    pub async fn store_case(
        &self,
        key: &str,
        case: wangge::domain::case::Case,
    ) -> wangge::domain::case::Case {
        let (case, created) = self
            .db
            .store
            .create_case(
                &wangge::store::NewCase {
                    idempotency_key: key.into(),
                    request_digest: key.into(),
                    case,
                    follow_up: Vec::new(),
                    open311: None,
                },
                &wangge::store::Audit::system(),
            )
            .await
            .expect("store the case");
        assert!(created, "the key {key} was new");
        case
    }

    pub async fn login(&self, role: Role) -> String {
        let (username, _, _) = wangge::demo::DEMO_USERS
            .iter()
            .find(|(_, _, r)| *r == role)
            .expect("a demo user per role");
        self.login_demo(username).await
    }

    /// Logs in as demo user `username` (password `DEMO_PASSWORD`) and returns the token.
    pub async fn login_demo(&self, username: &str) -> String {
        let a = self
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(serde_json::json!({ "username": username, "password": wangge::demo::DEMO_PASSWORD })),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "login as {username}: {}", a.text);
        a.body["token"].as_str().expect("token").to_owned()
    }
}

/// A small deterministic generator (SplitMix64, as `benches/points.py`), so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    /// The next value in [0, 1).
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs the `wangge` command line against the store at `url`, quietly, and waits for it.
pub fn wangge_cli<I, S>(args: I, url: &str) -> std::process::Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    std::process::Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(args)
        .env("WANGGE_DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run wangge")
}

/// Runs `wangge user create …` against a store with the password piped in.
pub fn user_create(url: &str, username: &str, password: &str) -> (bool, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wangge"))
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
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start wangge user create");
    let mut stdin = child.stdin.take().expect("stdin");
    std::io::Write::write_all(&mut stdin, format!("{password}\n").as_bytes())
        .expect("write the password");
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Percent-encodes a query value: everything but unreserved ASCII.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
