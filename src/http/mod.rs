//! The HTTP layer: the one place that knows axum. It owns the wire types, turns requests into
//! domain and store calls, and every failure into [`error::ApiError`].

pub mod admin;
pub mod assessment;
pub mod assign;
pub mod auth;
pub mod calendar;
pub mod cases;
pub mod conn;
pub mod dispatch;
pub mod error;
pub mod extract;
pub mod health;
pub mod hotspots;
pub mod import;
pub mod inspections;
pub mod layers;
pub mod limits;
pub mod open311;
pub mod openapi;
pub mod params;
pub mod photos;
pub mod search;
pub mod security;
pub mod shops;
pub mod stream;
pub mod throttle;
pub mod tiles;
pub mod volunteer;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::live::LiveCity;
use crate::store::Store;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Token lifetime.
    pub token_ttl: chrono::Duration,
    /// Accept demo users' logins (false when serving on a non-loopback address without the flag).
    pub allow_demo_logins: bool,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Request timeout.
    pub request_timeout: Duration,
    /// Folder of the map page, if served.
    pub web_dir: Option<PathBuf>,
    /// Most points in one assignment batch.
    pub assign_batch_max_points: usize,
    /// Largest assignment batch body, bytes.
    pub assign_batch_max_bytes: usize,
    /// The city's working calendar.
    pub calendar: crate::domain::calendar::WorkCalendar,
    /// The automatic dispatch rule table.
    pub dispatch_rules: crate::cases::rules::RulesInForce,
    /// Case photos: folder and limits.
    pub photos: crate::photos::PhotoConfig,
    /// The largest share of a live layer an import may remove without `confirm_removal`.
    pub import_max_removal_share: f64,
    /// Vertex limits of layer imports.
    pub import_limits: crate::import::validate::Limits,
    /// Byte budget of the hot spot unit and weight caches.
    pub hotspot_cache_bytes: usize,
    /// Byte budget of the vector tile cache.
    pub tile_cache_bytes: usize,
    /// Most case events the assessment holds in memory (413 `too_large` beyond).
    pub assessment_max_events: usize,
    /// Throttling of logins and the public channel.
    pub limits: throttle::LimitSettings,
    /// The 门前三包 shop rating scheme.
    pub shop_scheme: crate::domain::shop::ShopScheme,
    /// The address the public reaches this service at (QR codes point there), without a
    /// trailing slash.
    pub public_url: String,
    /// How often a live case stream re-checks its token besides on revocation events.
    pub stream_token_recheck: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            token_ttl: chrono::Duration::hours(12),
            allow_demo_logins: true,
            max_body_bytes: 64 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            web_dir: None,
            assign_batch_max_points: 2_000_000,
            assign_batch_max_bytes: 256 * 1024 * 1024,
            calendar: crate::domain::calendar::WorkCalendar::china_default(),
            dispatch_rules: crate::cases::rules::RulesInForce::built_in(),
            photos: crate::photos::PhotoConfig::default(),
            import_max_removal_share: crate::import::guard::DEFAULT_MAX_REMOVAL_SHARE,
            import_limits: crate::import::validate::Limits::default(),
            hotspot_cache_bytes: crate::hotspots::DEFAULT_CACHE_BYTES,
            tile_cache_bytes: crate::tile_cache::DEFAULT_BYTES,
            assessment_max_events: crate::assessment::timelines::DEFAULT_MAX_EVENTS,
            limits: throttle::LimitSettings::default(),
            shop_scheme: crate::domain::shop::ShopScheme::default_scheme(),
            public_url: DEFAULT_PUBLIC_URL.into(),
            stream_token_recheck: Duration::from_secs(5),
        }
    }
}

/// `--public-url` by default.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// Shared state of every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    settings: HttpSettings,
    live: Arc<LiveCity>,
    cases: crate::cases::CaseService,
    started: Instant,
    feed: tokio::sync::OnceCell<Arc<stream::Hub>>,
    shutdown: tokio::sync::watch::Sender<bool>,
    hotspots: Arc<crate::hotspots::HotspotService>,
    tiles: crate::tile_cache::TileCache,
    assessment: crate::assessment::AssessmentService,
    inspections: crate::inspections::InspectionService,
    shops: crate::shops::ShopService,
    search: crate::search::SearchService,
    limiter: throttle::Limiter,
    operators: security::OperatorTokens,
}

impl AppState {
    /// Follows other processes' change notices (see [`Store::spawn_change_listener`]): the live
    /// city reloads, the case service re-reads the dispatch rules and the holiday table, the case
    /// stream reads new events at once. Tasks end with the application or the listener.
    pub fn follow_changes(&self, changes: &tokio::sync::broadcast::Sender<crate::store::Change>) {
        // Dropping a JoinHandle detaches its task, which runs on.
        drop(self.inner.live.spawn_follower(changes.subscribe()));
        drop(self.inner.cases.spawn_follower(changes.subscribe()));
        stream::spawn_waker(Arc::downgrade(&self.inner), changes.subscribe());
    }

    /// Loads the hot spot points and default areas now and after every index build, in the
    /// background (see [`crate::hotspots::spawn_warmer`]). The task ends with the application.
    pub fn warm_hotspots(&self) {
        drop(crate::hotspots::spawn_warmer(
            Arc::downgrade(&self.inner.hotspots),
            self.inner.live.versions(),
        ));
    }

    /// State over a store and the live city built from it.
    pub fn new(store: Store, settings: HttpSettings, live: Arc<LiveCity>) -> Self {
        let cases = crate::cases::CaseService::new(
            store.clone(),
            live.clone(),
            settings.calendar.clone(),
            settings.dispatch_rules.clone(),
            settings.photos.clone(),
        );
        let hotspots = Arc::new(crate::hotspots::HotspotService::new(
            store.clone(),
            live.clone(),
            settings.hotspot_cache_bytes,
        ));
        let settings_tile_bytes = settings.tile_cache_bytes;
        let assessment = crate::assessment::AssessmentService::new(
            store.clone(),
            live.clone(),
            settings.assessment_max_events,
        );
        let inspections =
            crate::inspections::InspectionService::new(store.clone(), live.clone(), cases.clone());
        let shops = crate::shops::ShopService::new(
            live.clone(),
            assessment.clone(),
            settings.shop_scheme.clone(),
            &settings.public_url,
        );
        let search = crate::search::SearchService::new(store.clone(), live.clone());
        Self {
            inner: Arc::new(Inner {
                shops,
                search,
                limiter: throttle::Limiter::new(settings.limits.clone()),
                operators: security::OperatorTokens::default(),
                store,
                settings,
                live,
                cases,
                started: Instant::now(),
                feed: tokio::sync::OnceCell::new(),
                shutdown: tokio::sync::watch::Sender::new(false),
                hotspots,
                tiles: crate::tile_cache::TileCache::new(settings_tile_bytes),
                assessment,
                inspections,
            }),
        }
    }
    /// The working calendar deadlines are counted in.
    pub fn calendar(&self) -> Arc<crate::domain::calendar::WorkCalendar> {
        self.inner.cases.calendar()
    }
    /// The vector tile cache.
    pub fn tile_cache(&self) -> &crate::tile_cache::TileCache {
        &self.inner.tiles
    }
    /// The assessment (考评) service, with its in-memory case timelines.
    pub fn assessment(&self) -> &crate::assessment::AssessmentService {
        &self.inner.assessment
    }
    /// The inspection (督查) service.
    pub fn inspections(&self) -> &crate::inspections::InspectionService {
        &self.inner.inspections
    }
    /// The 门前三包 shop service.
    pub fn shops(&self) -> &crate::shops::ShopService {
        &self.inner.shops
    }
    /// The place search.
    pub fn search(&self) -> &crate::search::SearchService {
        &self.inner.search
    }
    /// The case service.
    pub fn cases(&self) -> &crate::cases::CaseService {
        &self.inner.cases
    }
    /// The live city: assignment index, tiles and catalogue in force.
    pub fn live(&self) -> &Arc<LiveCity> {
        &self.inner.live
    }
    /// The hot spot service (with its caches of stored points, areas and neighbours).
    pub fn hotspots(&self) -> &crate::hotspots::HotspotService {
        &self.inner.hotspots
    }
    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }
    /// The settings.
    pub fn settings(&self) -> &HttpSettings {
        &self.inner.settings
    }
    /// The jurisdiction data version the live city currently answers from.
    pub fn data_version(&self) -> i64 {
        self.inner.live.current().version()
    }
    /// The login and public-channel throttles.
    pub fn limiter(&self) -> &throttle::Limiter {
        &self.inner.limiter
    }
    /// Admin tokens seen valid recently (for `/healthz` details during an outage).
    pub fn operators(&self) -> &security::OperatorTokens {
        &self.inner.operators
    }
    /// Tells long-lived responses (the case stream) to end, so a graceful shutdown is not held
    /// open by them.
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }
    /// Seconds since start.
    pub fn uptime_secs(&self) -> u64 {
        self.inner.started.elapsed().as_secs()
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the whole application router. Tests call it directly, without a socket.
pub fn router(state: AppState) -> Router {
    let settings = state.settings().clone();
    health::metrics_handle();
    let api = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(auth::me))
        .route("/users", get(admin::list_users).post(admin::create_user))
        .route("/users/{id}/grids", put(admin::set_user_grids))
        .route("/users/{id}/revoke-tokens", post(admin::revoke_user_tokens))
        .route("/units", get(admin::list_units).post(admin::upsert_unit))
        .route("/units/{code}", get(admin::get_unit))
        .route("/units/{code}/users", get(admin::unit_users))
        .route("/events", get(admin::list_events))
        .route("/layers", get(layers::list_versions))
        .route("/layers/{layer}", get(layers::export_layer))
        .route("/basemap/{kind}", get(layers::basemap))
        .route("/search", get(search::search))
        .route("/cases", get(cases::list_cases).post(cases::create_case))
        .route("/cases/export", get(cases::export_cases))
        .route("/cases/hotline", post(cases::import_hotline))
        .route("/calendar", get(calendar::get_calendar))
        .route("/calendar/years/{year}", put(calendar::put_year))
        .route(
            "/dispatch/rules",
            get(dispatch::get_rules).put(dispatch::put_rules),
        )
        .route("/categories", get(cases::list_categories))
        .route("/categories/{code}", put(cases::put_category))
        .route("/categories/{code}/versions", get(cases::category_versions))
        .route("/cases/stream", get(stream::case_stream))
        .route("/cases/{id}", get(cases::get_case))
        // The photo handlers count the raw body themselves (413 `photo_too_large`); the route
        // limit keeps any body extractor on these routes at the photo maximum, not the global one.
        .route(
            "/cases/{id}/photos",
            post(photos::add_case_photo).layer(DefaultBodyLimit::max(settings.photos.max_bytes)),
        )
        .route("/cases/{id}/actions", post(cases::act))
        .route(
            "/volunteer/reports",
            get(volunteer::reports).post(volunteer::report),
        )
        .route(
            "/public/reports",
            post(cases::public_report).layer(middleware::from_fn_with_state(
                state.clone(),
                throttle::public_writes,
            )),
        )
        .route("/public/reports/{id}", get(cases::follow_report))
        .route(
            "/public/reports/{id}/photos",
            post(photos::add_citizen_photo)
                .layer(DefaultBodyLimit::max(settings.photos.max_bytes))
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    throttle::public_writes,
                )),
        )
        .route(
            "/open311/keys",
            get(open311::keys::list_keys).post(open311::keys::create_key),
        )
        .route("/open311/keys/{id}/revoke", post(open311::keys::revoke_key))
        .route("/public/board", get(assessment::board))
        .route("/shops/ranking", get(shops::ranking))
        .route("/shops/{code}/scorecard", get(shops::scorecard))
        .route("/public/shops/print", get(shops::print))
        .route("/public/shops/{code}", get(shops::public_shop))
        .route("/public/shops/{code}/qr.png", get(shops::qr_png))
        .route("/public/shops/{code}/qr.svg", get(shops::qr_svg))
        .route("/assessment/rankings", get(assessment::rankings))
        .route("/assessment/workbook", get(assessment::workbook))
        .route(
            "/assessment/scorecards/{level}/{key}",
            get(assessment::scorecard),
        )
        .route("/assessment/trend", get(assessment::trend))
        .route(
            "/inspections/checklists",
            get(inspections::get_checklists).put(inspections::put_checklists),
        )
        .route("/inspections/points", get(inspections::points))
        .route("/inspections/readiness", get(inspections::readiness))
        .route(
            "/inspections/rounds",
            get(inspections::rounds).post(inspections::create_round),
        )
        .route("/inspections/rounds/{id}", get(inspections::round))
        .route(
            "/inspections/rounds/{id}/visits",
            post(inspections::submit_visit),
        )
        .route(
            "/inspections/rounds/{id}/notice",
            get(inspections::notice).post(inspections::publish_notice),
        )
        .route(
            "/inspections/rounds/{id}/notice.xlsx",
            get(inspections::notice_workbook),
        )
        .route(
            "/inspections/findings/{id}/recheck",
            post(inspections::recheck),
        )
        .route("/assessment/publish", post(assessment::publish))
        .route("/assessment/snapshots", get(assessment::snapshots))
        .route("/assessment/snapshots/{id}", get(assessment::snapshot))
        .route(
            "/assessment/scheme",
            get(assessment::get_scheme).put(assessment::put_scheme),
        )
        .route("/assign", get(assign::assign_point))
        .route("/assign/batch", post(assign::assign_batch))
        .route("/import/layers/{layer}", post(import::import_layer))
        .route("/import/basemap/{kind}", post(import::import_basemap))
        .route("/import/units", post(import::import_units))
        .route("/import/history", post(import::import_history))
        .route("/import/osm", post(import::import_osm))
        .route("/import/city", post(import::import_city))
        .route("/import/schema", get(import::import_schemas))
        .route("/import/schema/{name}", get(import::import_schema))
        .route("/hotspots/kde", get(hotspots::kde).post(hotspots::kde))
        .route(
            "/hotspots/aggregate",
            get(hotspots::aggregate).post(hotspots::aggregate),
        )
        .route(
            "/hotspots/gistar",
            get(hotspots::gistar).post(hotspots::gistar),
        )
        .route(
            "/hotspots/emerging",
            get(hotspots::emerging).post(hotspots::emerging),
        )
        .route(
            "/hotspots/blindspots",
            get(hotspots::blindspots).post(hotspots::blindspots),
        )
        .route(
            "/hotspots/zones",
            get(hotspots::zones).post(hotspots::zones),
        )
        .route("/hotspots/frontages", get(hotspots::frontages))
        .fallback(|| async { error::ApiError::not_found("no such API resource; see /api/docs") });

    let mut app = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/tiles/cases/{z}/{x}/{y}", get(tiles::cases_tile))
        .route("/tiles/{layer}/{z}/{x}/{y}", get(tiles::tile))
        .route("/photos/{sha256}", get(photos::get_photo))
        .route("/shops/print", get(shops::print))
        .merge(open311::routes())
        .nest("/api", api)
        .merge(openapi::swagger_ui());
    if let Some(dir) = &settings.web_dir {
        // The public 红黑榜 page (no login) at a short address; its scripts and styles are the
        // web folder's like the map page's.
        app = app.route_service("/board", ServeFile::new(dir.join("board.html")));
        // A shop's public page (the QR code's address): one static page for every shop, which
        // reads the code from its address.
        app = app.route_service("/shops/{code}", ServeFile::new(dir.join("shop.html")));
        app = app.fallback_service(
            ServeDir::new(dir).not_found_service(ServeFile::new(dir.join("404.html"))),
        );
    } else {
        app = app.fallback(|| async {
            error::ApiError::not_found("no such resource; see /api/docs for the API")
        });
    }
    app.method_not_allowed_fallback(|| async {
        error::ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this resource does not accept that method",
        )
    })
    .layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("http", method = %req.method(), uri = %auth::redact_access_token(req.uri()), request_id = %id)
            }))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(middleware::from_fn(security::headers))
            .layer(middleware::map_response(error::json_errors))
            .layer(CatchPanicLayer::new())
            .layer(middleware::from_fn(limits::head_limits))
            .layer(middleware::from_fn(track_metrics))
            .layer(middleware::from_fn(extract::refuse_control_characters))
            .layer(CompressionLayer::new())
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                settings.request_timeout,
            ))
            .layer(DefaultBodyLimit::max(settings.max_body_bytes)),
    )
    .with_state(state)
}

/// Counts requests and their latency per route template (never per raw path, which would let
/// clients blow up the metric cardinality).
async fn track_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = req.method().to_string();
    let start = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("wangge_http_requests_total", &labels).increment(1);
    metrics::histogram!("wangge_http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    res
}
