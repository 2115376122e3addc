//! Configuration: command-line flags, each with a `WANGGE_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Settings shared by every subcommand that opens the store.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreConfig {
    /// Database URL: `sqlite://PATH` (embedded default) or `postgres://user:pw@host:port/db`.
    #[arg(
        long,
        env = "WANGGE_DATABASE_URL",
        default_value = "sqlite://data/wangge.db"
    )]
    pub database_url: String,
    /// Maximum database connections.
    #[arg(long, env = "WANGGE_DB_MAX_CONNECTIONS", default_value_t = 8)]
    pub db_max_connections: u32,
    /// Seconds a request waits for a database connection before answering 503.
    #[arg(long, env = "WANGGE_DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 3)]
    pub db_acquire_timeout_secs: u64,
}

/// `wangge demo cases`: replay the demo history's last weeks through the case workflow.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoCasesArgs {
    /// Store settings.
    #[command(flatten)]
    pub store: StoreConfig,
    /// The demo city's folder (history.csv.gz and planted_performers.json).
    #[arg(long, env = "WANGGE_GEODATA", default_value = "geodata")]
    pub geodata: PathBuf,
    /// Weeks replayed (1–8).
    #[arg(long, default_value_t = crate::demo_cases::DEFAULT_WEEKS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::demo_cases::MAX_WEEKS)))]
    pub weeks: u32,
    /// Share (above 0, at most 1) of the reports replayed.
    #[arg(long, default_value_t = crate::demo_cases::DEFAULT_SHARE)]
    pub share: f64,
}

/// `wangge demo`: the demo city's extras.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// What to do.
    #[command(subcommand)]
    pub what: DemoWhat,
}

/// The `wangge demo` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DemoWhat {
    /// Replay the last weeks of the demo history through the case workflow (once: a store with
    /// cases is left alone).
    Cases(Box<DemoCasesArgs>),
}

/// Settings of `wangge serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// Store settings.
    #[command(flatten)]
    pub store: StoreConfig,
    /// Address and port to listen on.
    #[arg(long, env = "WANGGE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Folder with the demo city, loaded into an empty database at first start.
    #[arg(long, env = "WANGGE_GEODATA", default_value = "geodata")]
    pub geodata: PathBuf,
    /// Folder with the map page.
    #[arg(long, env = "WANGGE_WEB_DIR", default_value = "web")]
    pub web_dir: PathBuf,
    /// Do not load the demo city and demo users into an empty database.
    #[arg(long, env = "WANGGE_NO_DEMO", default_value_t = false)]
    pub no_demo: bool,
    /// Weeks of the demo history (0–8) replayed through the case workflow at first start, into
    /// a store without cases (0: none).
    #[arg(long, env = "WANGGE_DEMO_WEEKS", default_value_t = crate::demo_cases::DEFAULT_WEEKS,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(crate::demo_cases::MAX_WEEKS)))]
    pub demo_weeks: u32,
    /// Share (above 0, at most 1) of those weeks' reports replayed.
    #[arg(long, env = "WANGGE_DEMO_SHARE", default_value_t = crate::demo_cases::DEFAULT_SHARE)]
    pub demo_share: f64,
    /// Accept the demo users' logins even on a non-loopback address (never in production).
    #[arg(long, env = "WANGGE_ALLOW_DEMO_USERS", default_value_t = false)]
    pub allow_demo_users: bool,
    /// Lifetime of a bearer token, in hours.
    #[arg(long, env = "WANGGE_TOKEN_TTL_HOURS", default_value_t = 12)]
    pub token_ttl_hours: u32,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "WANGGE_MAX_BODY_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Seconds before a request is answered 408.
    #[arg(long, env = "WANGGE_REQUEST_TIMEOUT_SECS", default_value_t = 60)]
    pub request_timeout_secs: u64,
    /// Seconds a graceful shutdown waits for requests in flight before it stops them (their
    /// blocking work is cancelled too).
    #[arg(long, env = "WANGGE_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
    /// Most vertices in one feature of a layer import (413 `too_many_vertices`).
    #[arg(long, env = "WANGGE_MAX_FEATURE_VERTICES", default_value_t = crate::import::validate::DEFAULT_MAX_FEATURE_VERTICES)]
    pub max_feature_vertices: usize,
    /// Most vertices in one layer import (413 `too_many_vertices`).
    #[arg(long, env = "WANGGE_MAX_UPLOAD_VERTICES", default_value_t = crate::import::validate::DEFAULT_MAX_UPLOAD_VERTICES)]
    pub max_upload_vertices: usize,
    /// Most vertices in one city package, every layer together (413 `too_many_vertices`).
    #[arg(long, env = "WANGGE_MAX_PACKAGE_VERTICES", default_value_t = crate::import::validate::DEFAULT_MAX_PACKAGE_VERTICES)]
    pub max_package_vertices: usize,
    /// Byte budget of the hot spot unit and weight caches (least recently used evicted first).
    #[arg(long, env = "WANGGE_HOTSPOT_CACHE_BYTES", default_value_t = crate::hotspots::DEFAULT_CACHE_BYTES)]
    pub hotspot_cache_bytes: usize,
    /// Do not load the hot spot points and the default Gi* areas in the background after start
    /// and after each index build (the first analysis then loads them: seconds for a province
    /// city).
    #[arg(long, env = "WANGGE_NO_HOTSPOT_WARM", default_value_t = false)]
    pub no_hotspot_warm: bool,
    /// Byte budget of the vector tile cache (gzip-compressed tiles of the current data version).
    #[arg(long, env = "WANGGE_TILE_CACHE_BYTES", default_value_t = crate::tile_cache::DEFAULT_BYTES)]
    pub tile_cache_bytes: usize,
    /// Most case events the assessment (考评) keeps in memory, about 7 KB each; rankings over
    /// a larger log answer 413 `too_large`. 1,000–50,000,000.
    #[arg(long, env = "WANGGE_ASSESSMENT_MAX_EVENTS", default_value_t = crate::assessment::timelines::DEFAULT_MAX_EVENTS,
        value_parser = parse_max_events)]
    pub assessment_max_events: usize,
    /// The address the public reaches this service at: the shops' QR codes point at
    /// `{public_url}/shops/{code}`. An `http` or `https` URL without a query.
    #[arg(long, env = "WANGGE_PUBLIC_URL", default_value = crate::http::DEFAULT_PUBLIC_URL,
        value_parser = parse_public_url)]
    pub public_url: String,
    /// The 门前三包 shop rating scheme: a built-in id (`wenzhou-12`, `baoshan-cards`) or a JSON
    /// file (see docs/shops.md).
    #[arg(long, env = "WANGGE_SHOP_SCHEME", default_value = "wenzhou-12")]
    pub shop_scheme: String,
    /// A PostgreSQL streaming-replication standby of the database (`postgres://user@host:port/db`)
    /// that the heavy read-only queries use: hot spot inputs, the assessment's rankings and
    /// scorecards, shop scorecards, case exports (docs/scaling.md). Needs a PostgreSQL
    /// `--database-url`. Unset: everything reads the primary.
    #[arg(long, env = "WANGGE_READ_DATABASE_URL", value_parser = parse_postgres_url)]
    pub read_database_url: Option<String>,
    /// Seconds the read replica may lag behind the primary (1–3600); beyond, and while it is
    /// unreachable, the analytics read the primary.
    #[arg(long, env = "WANGGE_READ_MAX_LAG_SECS", default_value_t = crate::store::DEFAULT_MAX_LAG.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub read_max_lag_secs: u64,
    /// Log format: `text` or `json`.
    #[arg(long, env = "WANGGE_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    /// Assignment engine settings.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Seconds between checks of the store's data version (other replicas, CLI imports).
    #[arg(long, env = "WANGGE_INDEX_POLL_SECS", default_value_t = 5)]
    pub index_poll_secs: u64,
    /// Most points in one `POST /api/assign/batch`.
    #[arg(
        long,
        env = "WANGGE_ASSIGN_BATCH_MAX_POINTS",
        default_value_t = 2_000_000
    )]
    pub assign_batch_max_points: usize,
    /// Largest `POST /api/assign/batch` body, bytes.
    #[arg(long, env = "WANGGE_ASSIGN_BATCH_MAX_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub assign_batch_max_bytes: usize,
    /// The city's working calendar (JSON: hours, weekend, holidays, 调休); default: China's
    /// national calendar with 08:30–12:00 and 14:00–17:30.
    #[arg(long, env = "WANGGE_CALENDAR")]
    pub calendar: Option<PathBuf>,
    /// The automatic dispatch rule table (JSON); default: the built-in table (README).
    #[arg(long, env = "WANGGE_DISPATCH_RULES")]
    pub dispatch_rules: Option<PathBuf>,
    /// The largest share (0–1) of a live layer or basemap kind an import may remove without
    /// `confirm_removal`.
    #[arg(long, env = "WANGGE_IMPORT_MAX_REMOVAL_SHARE", default_value_t = crate::import::guard::DEFAULT_MAX_REMOVAL_SHARE, value_parser = parse_share)]
    pub import_max_removal_share: f64,
    /// Seconds between two 门前三包 escalation sweeps.
    #[arg(long, env = "WANGGE_ESCALATION_SWEEP_SECS", default_value_t = 60)]
    pub escalation_sweep_secs: u64,
    /// Folder of case photos (content-addressed). Default: `photos/` next to the SQLite file, or
    /// `data/photos` with PostgreSQL.
    #[arg(long, env = "WANGGE_PHOTO_DIR")]
    pub photo_dir: Option<PathBuf>,
    /// Largest accepted photo, bytes.
    #[arg(long, env = "WANGGE_PHOTO_MAX_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub photo_max_bytes: usize,
    /// Most photos per case and stage (before / after).
    #[arg(long, env = "WANGGE_PHOTO_MAX_PER_STAGE", default_value_t = 6)]
    pub photo_max_per_stage: u32,
    /// Throttling of logins and public reports.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Throttling of logins and of the public channel (see `http::limits`).
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Failed logins of one account before it is locked.
    #[arg(long, env = "WANGGE_LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: u32,
    /// Failed logins from one client address before it is locked.
    #[arg(
        long,
        env = "WANGGE_LOGIN_MAX_FAILURES_PER_ADDRESS",
        default_value_t = 20
    )]
    pub login_max_failures_per_address: u32,
    /// Seconds after which failed logins (and past locks) are forgotten.
    #[arg(long, env = "WANGGE_LOGIN_WINDOW_SECS", default_value_t = 900)]
    pub login_window_secs: u64,
    /// Seconds of the first lock; every further lock within the window doubles it.
    #[arg(long, env = "WANGGE_LOGIN_LOCK_SECS", default_value_t = 60)]
    pub login_lock_secs: u64,
    /// Longest lock, seconds.
    #[arg(long, env = "WANGGE_LOGIN_LOCK_MAX_SECS", default_value_t = 3600)]
    pub login_lock_max_secs: u64,
    /// Public reports and citizen photos one client address may send at once.
    #[arg(long, env = "WANGGE_PUBLIC_BURST", default_value_t = 20)]
    pub public_burst: u32,
    /// Public reports and citizen photos per hour a client address regains.
    #[arg(long, env = "WANGGE_PUBLIC_PER_HOUR", default_value_t = 60)]
    pub public_per_hour: u32,
    /// Citizen photo uploads one follow token may send at once.
    #[arg(long, env = "WANGGE_FOLLOW_TOKEN_BURST", default_value_t = 10)]
    pub follow_token_burst: u32,
    /// Citizen photo uploads per hour a follow token regains.
    #[arg(long, env = "WANGGE_FOLLOW_TOKEN_PER_HOUR", default_value_t = 20)]
    pub follow_token_per_hour: u32,
    /// Most keys (accounts, addresses, tokens) each throttle table tracks.
    #[arg(long, env = "WANGGE_RATE_LIMIT_MAX_KEYS", default_value_t = 65_536)]
    pub rate_limit_max_keys: usize,
    /// Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For is
    /// believed for the client address.
    #[arg(long, env = "WANGGE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<crate::http::throttle::IpNet>,
}

impl LimitArgs {
    /// The limiter settings.
    pub fn settings(&self) -> crate::http::throttle::LimitSettings {
        use std::time::Duration;
        crate::http::throttle::LimitSettings {
            login_failures_per_account: self.login_max_failures.max(1),
            login_failures_per_address: self.login_max_failures_per_address.max(1),
            login_window: Duration::from_secs(self.login_window_secs),
            login_lock: Duration::from_secs(self.login_lock_secs),
            login_lock_max: Duration::from_secs(self.login_lock_max_secs),
            public_burst: self.public_burst,
            public_per_hour: self.public_per_hour,
            token_burst: self.follow_token_burst,
            token_per_hour: self.follow_token_per_hour,
            max_keys: self.rate_limit_max_keys.max(1),
            trusted_proxies: self.trusted_proxies.clone(),
            clock: crate::http::throttle::Clock::default(),
        }
    }
}

impl ServeConfig {
    /// The photo settings, with the default folder resolved from the database URL.
    pub fn photo_config(&self) -> crate::photos::PhotoConfig {
        crate::photos::PhotoConfig {
            dir: self.photo_dir.clone().unwrap_or_else(|| {
                crate::photos::PhotoConfig::default_dir(&self.store.database_url)
            }),
            max_bytes: self.photo_max_bytes,
            max_per_stage: self.photo_max_per_stage,
        }
    }
}

/// Settings of the assignment engine.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineArgs {
    /// Railway corridor widths in metres; every answer says which it lies within.
    #[arg(
        long,
        env = "WANGGE_RAILWAY_M",
        value_delimiter = ',',
        default_value = "50,100,200"
    )]
    pub railway_m: Vec<f64>,
    /// A point this close (m) to a back alley's centre line is on the alley.
    #[arg(long, env = "WANGGE_BACK_ALLEY_M", default_value_t = 10.0)]
    pub back_alley_m: f64,
    /// A point this close (m) to an inspection site (测评点位) is near it.
    #[arg(long, env = "WANGGE_INSPECTION_SITE_M", default_value_t = 100.0)]
    pub inspection_site_m: f64,
    /// Frontage strips whose distances differ by less than this (m) make the owner ambiguous.
    #[arg(long, env = "WANGGE_FRONTAGE_AMBIGUITY_M", default_value_t = 1.0)]
    pub frontage_ambiguity_m: f64,
}

impl EngineArgs {
    /// The engine configuration.
    pub fn config(&self) -> crate::assign::EngineConfig {
        let mut railway_m = self.railway_m.clone();
        railway_m.sort_by(f64::total_cmp);
        crate::assign::EngineConfig {
            railway_m,
            back_alley_m: self.back_alley_m,
            inspection_site_m: self.inspection_site_m,
            frontage_ambiguity_m: self.frontage_ambiguity_m,
            ..crate::assign::EngineConfig::default()
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl StoreConfig {
    /// Pool options from these settings.
    pub fn options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            max_connections: self.db_max_connections,
            acquire_timeout: std::time::Duration::from_secs(self.db_acquire_timeout_secs),
        }
    }
}

/// Settings of `wangge import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// Store settings.
    #[command(flatten)]
    pub store: StoreConfig,
    /// Confirms that the import removes exactly this many live features, when that is more than
    /// the allowed share (the refusal names the number).
    #[arg(long, global = true)]
    pub confirm_removal: Option<u64>,
    /// The largest share (0–1) of a live layer or basemap kind an import may remove unconfirmed.
    #[arg(long, global = true, env = "WANGGE_IMPORT_MAX_REMOVAL_SHARE", default_value_t = crate::import::guard::DEFAULT_MAX_REMOVAL_SHARE, value_parser = parse_share)]
    pub max_removal_share: f64,
    /// What to import.
    #[command(subcommand)]
    pub what: ImportWhat,
}

/// How a layer or a city package is checked and published.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Coordinate system of the files: wgs84 (default), cgcs2000, gcj02, bd09.
    #[arg(long)]
    pub crs: Option<String>,
    /// Publish despite warnings (errors always refuse).
    #[arg(long)]
    pub accept_warnings: bool,
    /// Validate only.
    #[arg(long)]
    pub dry_run: bool,
    /// The versions are valid from this date (UTC+8) or RFC 3339 instant; default now.
    #[arg(long)]
    pub valid_from: Option<String>,
    /// Write the validation findings as GeoJSON here, to look at on a map.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Most vertices in one layer file (as `serve --max-upload-vertices`; a province's grid layer
    /// has about 5,000,000).
    #[arg(long, env = "WANGGE_MAX_UPLOAD_VERTICES", default_value_t = crate::import::validate::DEFAULT_MAX_UPLOAD_VERTICES)]
    pub max_upload_vertices: usize,
    /// Most vertices in a city package, every layer together (as `serve --max-package-vertices`).
    #[arg(long, env = "WANGGE_MAX_PACKAGE_VERTICES", default_value_t = crate::import::validate::DEFAULT_MAX_PACKAGE_VERTICES)]
    pub max_package_vertices: usize,
}

/// The kinds of import.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ImportWhat {
    /// A whole jurisdiction layer from GeoJSON, validated and published as a new version.
    Layer {
        /// district, street, community, grid, frontage or zone.
        layer: String,
        /// GeoJSON FeatureCollection (`.gz` is gunzipped).
        file: PathBuf,
        /// How to check and publish.
        #[command(flatten)]
        check: CheckArgs,
    },
    /// A whole city package (a folder of units.csv, road.geojson, <layer>.geojson,
    /// categories.json, calendar/*.json), checked as a whole and published in one transaction.
    City {
        /// The package folder.
        dir: PathBuf,
        /// How to check and publish.
        #[command(flatten)]
        check: CheckArgs,
    },
    /// Basemap lines of one kind (road, railway, water) from GeoJSON.
    Basemap {
        /// road, railway or water.
        kind: String,
        /// GeoJSON FeatureCollection.
        file: PathBuf,
        /// Coordinate system of the file.
        #[arg(long)]
        crs: Option<String>,
    },
    /// Responsible units from CSV `code,name,kind,parent_code`.
    Units {
        /// CSV file.
        file: PathBuf,
    },
    /// Historical problem reports from CSV `id,reported_at,category,lon,lat[,channel][,closed_at]`.
    History {
        /// CSV file (`.gz` is gunzipped).
        file: PathBuf,
        /// Coordinate system of the file.
        #[arg(long)]
        crs: Option<String>,
    },
    /// Roads, railways and buildings from an OpenStreetMap PBF file.
    Osm {
        /// `.osm.pbf` file.
        file: PathBuf,
    },
}

/// Settings of `wangge assign`.
#[derive(Debug, Clone, clap::Args)]
pub struct AssignArgs {
    /// Store settings.
    #[command(flatten)]
    pub store: StoreConfig,
    /// Engine settings.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Input: CSV with lon,lat (and optional id) columns, or a GeoJSON FeatureCollection of
    /// Points (`.geojson`/`.json`); `-` reads CSV from standard input.
    pub input: PathBuf,
    /// Output file (default: standard output).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Coordinate system of the input: wgs84 (default), cgcs2000, gcj02, bd09.
    #[arg(long, default_value = "wgs84")]
    pub crs: String,
    /// Output format: csv, geojson or json (default: csv for CSV input, geojson otherwise).
    #[arg(long)]
    pub format: Option<String>,
    /// Answer from the jurisdictions valid on this date (UTC+8) or instant.
    #[arg(long)]
    pub as_of: Option<String>,
}

/// A share between 0 and 1.
fn parse_postgres_url(text: &str) -> Result<String, String> {
    let t = text.trim();
    if !(t.starts_with("postgres://") || t.starts_with("postgresql://")) {
        return Err(format!(
            "{text:?} is not a PostgreSQL URL: the read replica is a PostgreSQL standby, \
             postgres://user@host:port/db"
        ));
    }
    Ok(t.to_owned())
}

fn parse_public_url(text: &str) -> Result<String, String> {
    let t = text.trim().trim_end_matches('/');
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .ok_or_else(|| format!("{text:?} is not an http:// or https:// URL"))?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(format!(
            "{text:?} needs a host and no query, fragment or space"
        ));
    }
    Ok(t.to_owned())
}

impl ServeConfig {
    /// The shop rating scheme: built in, or read from a file.
    pub fn shop_scheme(&self) -> anyhow::Result<crate::domain::shop::ShopScheme> {
        use anyhow::Context as _;
        if let Some(s) = crate::domain::shop::ShopScheme::built_in(&self.shop_scheme) {
            return Ok(s);
        }
        let text = std::fs::read_to_string(&self.shop_scheme).with_context(|| {
            format!(
                "--shop-scheme {}: not a built-in id nor a readable file",
                self.shop_scheme
            )
        })?;
        Ok(crate::domain::shop::ShopScheme::parse(&text)?)
    }
}

fn parse_max_events(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1_000..=50_000_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "{text:?} is not a whole number of events from 1,000 to 50,000,000"
        )),
    }
}

fn parse_share(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} must lie between 0 and 1"))
    }
}

impl ImportArgs {
    /// The removal guard of this import.
    pub fn removal(&self) -> crate::import::guard::RemovalGuard {
        crate::import::guard::RemovalGuard {
            max_share: self.max_removal_share,
            confirmed: self.confirm_removal,
        }
    }
}
