//! The store: the one place that speaks SQL.
//!
//! Two real backends sit behind one type: SQLite (the embedded default, a file with WAL and
//! foreign keys on) and PostgreSQL + PostGIS (production). Most statements are written once: both
//! engines accept `$1`-style parameters, and the few places where they differ (geometry in and
//! out) go through [`Dialect`]. Geometry crosses the boundary as WKB in EPSG:4326.
//!
//! Every write that changes state also appends its audit event in the same transaction, so an
//! event exists exactly when its change does.

mod assessment;
mod calendar;
mod case_feed;
mod cases;
mod catalogue;
mod dispatch_rules;
mod geometry;
mod history;
mod hotspot;
mod inspections;
mod jurisdictions;
mod open311;
mod photos;
mod reader;
mod replicas;
mod units;
mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use assessment::{NewSnapshot, SchemeVersion, Snapshot};
pub use case_feed::FeedEvent;
pub use cases::{CaseFilter, CaseStep, NewCase};
pub use catalogue::CategoryVersion;
pub use dispatch_rules::StoredRules;
pub use geometry::{decode_wkb, encode_wkb};
pub use history::HistoryReport;
pub use hotspot::{PointFilter, PointRevisions};
pub use inspections::{
    ChecklistVersion, NewFinding, NewRecheck, NewRound, StoredFinding, StoredNotice, StoredRound,
    StoredVisit,
};
pub use jurisdictions::{BasemapFeature, CityPublished, CityWrite};
pub use open311::{Open311Key, Open311Origin, Open311Submission};
pub use photos::{AddPhotoOutcome, CasePhoto, NewCasePhoto};
pub use reader::{APPLICATION_NAME, DEFAULT_MAX_LAG, PROBE_EVERY, ReaderState, ReaderStatus};
pub use replicas::{Change, EVENTS_CHANNEL, REVISION_CHANNEL, StartLock};
pub use users::{NewUser, TokenLookup, UserRecord};

/// Errors of the store, sorted by what the caller can do about them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database cannot be reached (down, pool exhausted, network). Retry later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule was violated (the thing exists already).
    #[error("conflict: {0}")]
    Conflict(String),
    /// An idempotency key was used before for a different request.
    #[error("idempotency key reused: {0}")]
    KeyReused(String),
    /// A reference points at something that does not exist.
    #[error("invalid reference: {0}")]
    InvalidReference(String),
    /// The requested thing does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A database URL that names no supported backend.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// Stored data could not be decoded (a bug or a hand-edited database).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl StoreError {
    /// Whether the database could not be reached (down, starting, pool exhausted): worth
    /// retrying, unlike every other error. A migration that failed to connect counts too.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_)
                | StoreError::Migrate(sqlx::migrate::MigrateError::Execute(
                    sqlx::Error::PoolTimedOut | sqlx::Error::Io(_),
                ))
        )
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            sqlx::Error::RowNotFound => StoreError::NotFound("row".into()),
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation => StoreError::Conflict(db.message().to_owned()),
                ErrorKind::ForeignKeyViolation => {
                    StoreError::InvalidReference(db.message().to_owned())
                }
                _ if is_unavailable_code(db.code().as_deref()) => {
                    StoreError::Unavailable(db.message().to_owned())
                }
                _ => StoreError::Database(e),
            },
            _ => StoreError::Database(e),
        }
    }
}

/// SQLSTATE classes 08 (connection), 53 (insufficient resources) and 57P (operator intervention,
/// e.g. a shutdown in progress), and SQLite's BUSY/LOCKED, mean "try again later".
fn is_unavailable_code(code: Option<&str>) -> bool {
    match code {
        Some(c) => {
            c.starts_with("08")
                || c.starts_with("53")
                || c.starts_with("57P")
                || c == "5"
                || c == "6"
        }
        None => false,
    }
}

/// Result type of the store.
pub type StoreResult<T> = Result<T, StoreError>;

/// Who made a change and from which request; written into the audit log with it.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    /// The acting user, if any (None for the system, e.g. first-start seeding).
    pub actor_id: Option<i64>,
    /// The acting user's name, kept even if the user is later removed.
    pub actor_name: Option<String>,
    /// The request id (`x-request-id`) the change came from.
    pub request_id: Option<String>,
    /// When the change happened, if the caller's clock says so (the case service on a manual
    /// clock: the demo replay); None: now by the system clock.
    pub at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Audit {
    /// The system itself (seeding, migrations).
    pub fn system() -> Self {
        Self {
            actor_id: None,
            actor_name: Some("system".into()),
            request_id: None,
            at: None,
        }
    }

    /// The same actor and request, with the change stamped at `at` (the caller's clock).
    pub fn stamped(&self, at: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            at: Some(at),
            ..self.clone()
        }
    }

    /// A person at the command line, named by their login (`cli:$USER`).
    pub fn cli() -> Self {
        Self {
            actor_id: None,
            actor_name: Some(format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            )),
            request_id: None,
            at: None,
        }
    }
}

/// One entry of the append-only audit log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EventRecord {
    /// Sequence number.
    pub id: i64,
    /// When it happened.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Acting user id.
    pub actor_id: Option<i64>,
    /// Acting user name.
    pub actor_name: Option<String>,
    /// What happened, e.g. `user.created`.
    pub action: String,
    /// Kind of the changed thing, e.g. `user`.
    pub entity_type: String,
    /// Id of the changed thing.
    pub entity_id: String,
    /// Request id.
    pub request_id: Option<String>,
    /// Before/after and other details.
    pub detail: Value,
}

/// An audit event from a row of `SELECT id, at, actor_id, actor_name, action, entity_type,
/// entity_id, request_id, detail FROM events`, on either backend.
pub(crate) fn event_from_row<R: sqlx::Row>(r: &R) -> Result<EventRecord, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    chrono::DateTime<chrono::Utc>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    sqlx::types::Json<Value>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(EventRecord {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        actor_id: r.try_get("actor_id")?,
        actor_name: r.try_get("actor_name")?,
        action: r.try_get("action")?,
        entity_type: r.try_get("entity_type")?,
        entity_id: r.try_get("entity_id")?,
        request_id: r.try_get("request_id")?,
        detail: r.try_get::<sqlx::types::Json<Value>, _>("detail")?.0,
    })
}

/// Filter of the audit log listing.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only this entity type.
    pub entity_type: Option<String>,
    /// Only this entity id.
    pub entity_id: Option<String>,
    /// Only events with an id below this (for paging backwards).
    pub before_id: Option<i64>,
    /// At most this many (capped at 1000).
    pub limit: i64,
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Maximum connections in the pool.
    pub max_connections: u32,
    /// How long a request waits for a connection before the store reports `Unavailable`.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// How the two SQL dialects differ where it matters to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// SQL that reads a geometry column as WKB.
    pub(crate) fn geom_column(self, col: &str) -> String {
        match self {
            Dialect::Sqlite => col.to_owned(),
            Dialect::Postgres => format!("ST_AsBinary({col})"),
        }
    }
}

/// Runs `$body` with `$pool` bound to the concrete pool and `$d` to its [`Dialect`]. The body is
/// compiled once per backend, so it may use everything sqlx offers both.
macro_rules! on_pool {
    ($store:expr, |$pool:ident, $d:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite($pool) => {
                #[allow(unused_variables)]
                let $d = $crate::store::Dialect::Sqlite;
                $body
            }
            $crate::store::Backend::Postgres($pool) => {
                #[allow(unused_variables)]
                let $d = $crate::store::Dialect::Postgres;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

/// `ids` as the body of an SQL `IN (…)` list. Integers only, so formatting them is safe; a batch
/// read of a page of cases stays one statement on both databases.
pub(crate) fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// The most ids one `IN (…)` list carries: batch reads go in chunks of this.
pub(crate) const ID_CHUNK: usize = 1000;

/// Appends an audit event through `$exec` (a transaction), so it commits with the change.
macro_rules! append_event {
    ($exec:expr, $audit:expr, $action:expr, $entity_type:expr, $entity_id:expr, $detail:expr) => {
        sqlx::query(
            "INSERT INTO events (at, actor_id, actor_name, action, entity_type, entity_id, request_id, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind($audit.at.unwrap_or_else(chrono::Utc::now))
        .bind($audit.actor_id)
        .bind($audit.actor_name.as_deref())
        .bind($action)
        .bind($entity_type)
        .bind($entity_id)
        .bind($audit.request_id.as_deref())
        .bind(sqlx::types::Json($detail))
        .execute($exec)
        .await
    };
}
pub(crate) use append_event;

/// Increments the data revision in the same transaction as the change.
macro_rules! bump_revision {
    ($exec:expr) => {
        sqlx::query("UPDATE data_revision SET n = n + 1 WHERE id = 1")
            .execute($exec)
            .await
    };
}
pub(crate) use bump_revision;

/// The store handle; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
    /// SQLite allows one writer at a time; writers that collide wait in SQLite's busy handler,
    /// which sleeps in growing steps (up to 100 ms). Taking turns here instead keeps the hot
    /// write paths' latency flat under concurrency. Unused with PostgreSQL.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The read replica for analytics (`--read-database-url`), see [`Store::analytics`].
    reader: Option<std::sync::Arc<reader::Reader>>,
}

impl Store {
    /// Connects to `url`: `sqlite://path/to/file.db` (the file and its folder are created) or
    /// `postgres://user@host:port/db`.
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::UnsupportedUrl(format!("{url}: {e}")))?;
            if let Some(dir) = Path::new(opts.get_filename()).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            // FULL synchronous: an acknowledged write survives a power cut, not only a crash.
            let opts = opts
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(opts)
                .await?;
            Ok(Self {
                backend: Backend::Sqlite(pool),
                writer: Default::default(),
                reader: None,
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::UnsupportedUrl(format!("{url}: {e}")))?;
            // connect_lazy: the service starts (and reports 503) while the database is still down.
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_lazy_with(opts);
            Ok(Self {
                backend: Backend::Postgres(pool),
                writer: Default::default(),
                reader: None,
            })
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    /// This process's turn to write, for SQLite (see `writer`); `None` with PostgreSQL, whose
    /// row locks let writers proceed side by side.
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite(_) => Some(self.writer.lock().await),
            Backend::Postgres(_) => None,
        }
    }

    /// Applies the migrations of this backend (idempotent).
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.backend {
            Backend::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Backend::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Checks that the database answers. On PostgreSQL it also returns the PostGIS version.
    pub async fn ping(&self) -> StoreResult<Option<String>> {
        match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
                Ok(None)
            }
            Backend::Postgres(pool) => {
                let v: String = sqlx::query_scalar("SELECT postgis_lib_version()")
                    .fetch_one(pool)
                    .await?;
                Ok(Some(v))
            }
        }
    }

    /// The PostgreSQL pool, for tooling and tests that check PostGIS itself (SRIDs, `ST_IsValid`).
    /// `None` on SQLite.
    pub fn postgres_pool(&self) -> Option<&PgPool> {
        match &self.backend {
            Backend::Postgres(pool) => Some(pool),
            Backend::Sqlite(_) => None,
        }
    }

    /// The SQLite pool, for tooling and tests. `None` on PostgreSQL.
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.backend {
            Backend::Sqlite(pool) => Some(pool),
            Backend::Postgres(_) => None,
        }
    }

    /// Closes the pool (graceful shutdown).
    pub async fn close(&self) {
        if let Some(reader) = &self.reader {
            reader.close().await;
        }
        on_pool!(self, |pool, d| pool.close().await)
    }

    /// Lists audit events, newest first (read by [`event_from_row`]).
    pub async fn list_events(&self, filter: &EventFilter) -> StoreResult<Vec<EventRecord>> {
        let limit = filter.limit.clamp(1, 1000);
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(
                "SELECT id, at, actor_id, actor_name, action, entity_type, entity_id, request_id, detail \
                 FROM events \
                 WHERE ($1 IS NULL OR entity_type = $1) AND ($2 IS NULL OR entity_id = $2) \
                   AND ($3 IS NULL OR id < $3) \
                 ORDER BY id DESC LIMIT $4",
            )
            .bind(filter.entity_type.as_deref())
            .bind(filter.entity_id.as_deref())
            .bind(filter.before_id)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(event_from_row)
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }
}
