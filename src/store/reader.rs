//! The read replica for analytics: a second, small, read-only pool on a PostgreSQL streaming
//! standby (`--read-database-url`), which the heavy read-only queries use when the caller asks
//! for it by [`Store::analytics`]. Nothing is routed by guessing: a caller that may just have
//! written (a case list, a case's page) keeps using the primary store it holds.
//!
//! **Bounded lag.** A standby replays the primary's WAL behind it. Every [`PROBE_EVERY`] the
//! reader is probed: the primary's current WAL position is read first, then the standby's replay
//! position. A standby that has replayed up to that position is current (lag 0); one behind it
//! is as old as its last replayed commit (`now() - pg_last_xact_replay_timestamp()`, an upper
//! bound: the first commit it misses is younger). Above the bound (`--read-max-lag-secs`), or
//! unreachable, or not a standby of this primary, the analytics read the primary instead: a
//! request never fails because of the replica. The probe runs beside the requests (only the
//! very first waits for it), so what an analysis reads is at most the bound plus one probe
//! interval old. Each change of state is logged once.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::{Backend, Store, StoreError, StoreResult};

/// How often the reader's lag is measured.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long a probe may take before the reader counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Default of `--read-max-lag-secs`.
pub const DEFAULT_MAX_LAG: Duration = Duration::from_secs(10);
/// Connections of the reader pool: analyses are few and long, intake never waits on them.
const READER_CONNECTIONS: u32 = 4;
/// What the reader's sessions are called in `pg_stat_activity` on the standby.
pub const APPLICATION_NAME: &str = "wangge-analytics";

/// What the last probe of the reader found.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ReaderState {
    /// Not probed yet: the analytics read the primary.
    NotChecked,
    /// In use: its lag is within the bound.
    InUse {
        /// The lag measured (0 when it had replayed all the primary had written).
        lag: Duration,
    },
    /// Behind by more than the bound (or by an unknown time): the analytics read the primary.
    Lagging {
        /// The lag measured; `None` when the standby has replayed no commit since it started.
        lag: Option<Duration>,
    },
    /// The reader did not answer: the analytics read the primary.
    Unreachable {
        /// Why (the driver's error text).
        error: String,
    },
    /// The reader is no standby of this primary (another cluster, or promoted): never used.
    NotAReplica {
        /// What was found.
        reason: String,
    },
}

impl ReaderState {
    /// A stable name: `not_checked`, `in_use`, `lagging`, `unreachable`, `not_a_replica`.
    pub fn name(&self) -> &'static str {
        match self {
            ReaderState::NotChecked => "not_checked",
            ReaderState::InUse { .. } => "in_use",
            ReaderState::Lagging { .. } => "lagging",
            ReaderState::Unreachable { .. } => "unreachable",
            ReaderState::NotAReplica { .. } => "not_a_replica",
        }
    }

    /// The lag measured, when one was.
    pub fn lag(&self) -> Option<Duration> {
        match self {
            ReaderState::InUse { lag } => Some(*lag),
            ReaderState::Lagging { lag } => *lag,
            _ => None,
        }
    }
}

/// The reader as `/healthz` shows it.
#[derive(Debug, Clone)]
pub struct ReaderStatus {
    /// What the last probe found.
    pub state: ReaderState,
    /// The bound on its lag.
    pub max_lag: Duration,
    /// How long ago the last probe ended.
    pub checked_ago: Option<Duration>,
    /// Analytics reads sent to the reader since start.
    pub reads_on_replica: u64,
    /// Analytics reads sent to the primary because the reader was not usable.
    pub reads_on_primary: u64,
}

#[derive(Debug)]
pub(crate) struct Reader {
    pool: PgPool,
    max_lag: Duration,
    state: std::sync::Mutex<(ReaderState, Option<Instant>)>,
    /// Held by the one probe in flight.
    probing: tokio::sync::Mutex<()>,
    on_replica: AtomicU64,
    on_primary: AtomicU64,
}

impl Reader {
    pub(super) async fn close(&self) {
        self.pool.close().await;
    }

    fn usable(&self) -> bool {
        matches!(self.lock().0, ReaderState::InUse { .. })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (ReaderState, Option<Instant>)> {
        // A panic while holding it leaves a plain value behind: keep using it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn stale(&self) -> bool {
        self.lock().1.is_none_or(|t| t.elapsed() >= PROBE_EVERY)
    }

    /// Probes unless another probe is in flight; records the state and logs a change once.
    async fn probe(&self, primary: &PgPool) {
        let Ok(_turn) = self.probing.try_lock() else {
            return;
        };
        if !self.stale() {
            return;
        }
        let state = match tokio::time::timeout(PROBE_TIMEOUT, measure(primary, &self.pool)).await {
            Ok(Ok(found)) => found.judge(self.max_lag),
            Ok(Err(Probe::Primary(e))) => {
                // The primary itself is down: the requests fail on it anyway, and the reader's
                // state is unknown. Keep the last one.
                tracing::debug!(error = %e, "read replica probe: the primary did not answer");
                self.lock().1 = Some(Instant::now());
                return;
            }
            Ok(Err(Probe::Reader(e))) => ReaderState::Unreachable {
                error: e.to_string(),
            },
            Err(_) => ReaderState::Unreachable {
                error: format!("no answer within {PROBE_TIMEOUT:?}"),
            },
        };
        if let Some(lag) = state.lag() {
            metrics::gauge!("wangge_read_replica_lag_seconds").set(lag.as_secs_f64());
        }
        let mut slot = self.lock();
        let before = slot.0.name();
        if before != state.name() {
            let max_lag = self.max_lag;
            match &state {
                ReaderState::InUse { lag } => {
                    tracing::info!(?lag, ?max_lag, "read replica in use for analytics");
                }
                ReaderState::Lagging { lag } => tracing::warn!(
                    ?lag,
                    ?max_lag,
                    "read replica lags beyond the bound; analytics read the primary until it catches up"
                ),
                ReaderState::Unreachable { error } => tracing::warn!(
                    %error,
                    "read replica unreachable; analytics read the primary until it answers"
                ),
                ReaderState::NotAReplica { reason } => tracing::error!(
                    %reason,
                    "--read-database-url is not a standby of the primary; analytics read the primary"
                ),
                ReaderState::NotChecked => {}
            }
        }
        *slot = (state, Some(Instant::now()));
    }
}

enum Probe {
    Primary(sqlx::Error),
    Reader(sqlx::Error),
}

/// One probe's readings.
struct Found {
    same_cluster: bool,
    same_server: bool,
    in_recovery: bool,
    /// Replay position minus the primary's position read just before, in bytes.
    behind_bytes: Option<f64>,
    /// Seconds since the last commit the standby replayed.
    replay_age: Option<f64>,
    primary_id: String,
    reader_id: String,
}

impl Found {
    fn judge(self, max_lag: Duration) -> ReaderState {
        if !self.same_cluster {
            return ReaderState::NotAReplica {
                reason: format!(
                    "another cluster: system identifier {} (the primary's is {})",
                    self.reader_id, self.primary_id
                ),
            };
        }
        if !self.in_recovery {
            // Not replaying: it is the primary itself (a second, read-only pool on one server),
            // or a promoted standby that no longer follows the primary.
            return if self.same_server {
                ReaderState::InUse {
                    lag: Duration::ZERO,
                }
            } else {
                ReaderState::NotAReplica {
                    reason: "not in recovery: a promoted standby or another server, which the \
                             primary's writes no longer reach"
                        .into(),
                }
            };
        }
        if self.behind_bytes.is_some_and(|b| b >= 0.0) {
            return ReaderState::InUse {
                lag: Duration::ZERO,
            };
        }
        match self.replay_age {
            Some(age) => {
                let lag = Duration::from_secs_f64(age.max(0.0));
                if lag <= max_lag {
                    ReaderState::InUse { lag }
                } else {
                    ReaderState::Lagging { lag: Some(lag) }
                }
            }
            None => ReaderState::Lagging { lag: None },
        }
    }
}

/// Reads the primary's WAL position, then the reader's replay position and identity.
async fn measure(primary: &PgPool, reader: &PgPool) -> Result<Found, Probe> {
    let (lsn, primary_id, primary_start): (String, String, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as(
            "SELECT pg_current_wal_lsn()::text, \
                    (SELECT system_identifier::text FROM pg_control_system()), \
                    pg_postmaster_start_time()",
        )
        .fetch_one(primary)
        .await
        .map_err(Probe::Primary)?;
    type Row = (
        String,
        chrono::DateTime<chrono::Utc>,
        bool,
        Option<f64>,
        Option<f64>,
    );
    let (reader_id, reader_start, in_recovery, behind_bytes, replay_age): Row = sqlx::query_as(
        "SELECT (SELECT system_identifier::text FROM pg_control_system()), \
                pg_postmaster_start_time(), pg_is_in_recovery(), \
                pg_wal_lsn_diff(pg_last_wal_replay_lsn(), $1::pg_lsn)::float8, \
                EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8",
    )
    .bind(&lsn)
    .fetch_one(reader)
    .await
    .map_err(Probe::Reader)?;
    Ok(Found {
        same_cluster: reader_id == primary_id,
        same_server: reader_id == primary_id && reader_start == primary_start,
        in_recovery,
        behind_bytes,
        replay_age,
        primary_id,
        reader_id,
    })
}

impl Store {
    /// The same store with a read replica for analytics at `url` (a PostgreSQL standby of this
    /// store's database), used while its lag stays within `max_lag`. The pool is opened lazily:
    /// an unreachable replica does not stop the start, the analytics read the primary meanwhile.
    pub fn with_reader(mut self, url: &str, max_lag: Duration) -> StoreResult<Self> {
        if !matches!(self.backend, Backend::Postgres(_)) {
            return Err(StoreError::UnsupportedUrl(format!(
                "{url}: a read replica needs a PostgreSQL primary (--database-url postgres://…)"
            )));
        }
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::UnsupportedUrl(format!(
                "{url}: the read replica must be a PostgreSQL URL (postgres://user@host:port/db)"
            )));
        }
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::UnsupportedUrl(format!("{url}: {e}")))?
            .application_name(APPLICATION_NAME)
            // Even a reader pointed at the primary by mistake cannot write.
            .options([("default_transaction_read_only", "on")]);
        let pool = PgPoolOptions::new()
            .max_connections(READER_CONNECTIONS)
            .acquire_timeout(PROBE_TIMEOUT)
            .connect_lazy_with(opts);
        self.reader = Some(Arc::new(Reader {
            pool,
            max_lag,
            state: std::sync::Mutex::new((ReaderState::NotChecked, None)),
            probing: tokio::sync::Mutex::new(()),
            on_replica: AtomicU64::new(0),
            on_primary: AtomicU64::new(0),
        }));
        Ok(self)
    }

    /// The store the heavy read-only queries use (hot spot inputs, the assessment's event log,
    /// exports): the read replica while it is usable, else this store. Callers pick it
    /// explicitly, and read everything that must agree (a revision and the rows it keys) from the
    /// one store it returns. Never for what a caller may just have written.
    pub async fn analytics(&self) -> Store {
        let Some(reader) = &self.reader else {
            return self.clone();
        };
        let Backend::Postgres(primary) = &self.backend else {
            return self.clone();
        };
        if reader.stale() {
            let first = matches!(reader.lock().0, ReaderState::NotChecked);
            if first {
                reader.probe(primary).await;
            } else {
                let (reader, primary) = (reader.clone(), primary.clone());
                tokio::spawn(async move { reader.probe(&primary).await });
            }
        }
        if reader.usable() {
            reader.on_replica.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("wangge_analytics_reads_total", "on" => "replica").increment(1);
            Store {
                backend: Backend::Postgres(reader.pool.clone()),
                writer: self.writer.clone(),
                reader: None,
            }
        } else {
            reader.on_primary.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("wangge_analytics_reads_total", "on" => "primary").increment(1);
            self.clone()
        }
    }

    /// Whether `used` — a store [`Store::analytics`] handed out — is the read replica and failed
    /// with `e` because it is unreachable. Then the replica is marked unreachable (logged once;
    /// the next probe, a second later, may find it back) and the caller reads the primary again:
    /// a replica that died since its last probe fails no request.
    pub fn reader_failed(&self, used: &Store, e: &StoreError) -> bool {
        let (Some(reader), None) = (&self.reader, &used.reader) else {
            return false;
        };
        if !e.is_unavailable() {
            return false;
        }
        let mut slot = reader.lock();
        if slot.0.name() != "unreachable" {
            tracing::warn!(error = %e, "read replica failed a read; analytics read the primary until it answers");
        }
        *slot = (
            ReaderState::Unreachable {
                error: e.to_string(),
            },
            Some(Instant::now()),
        );
        drop(slot);
        reader.on_primary.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("wangge_analytics_reads_total", "on" => "primary").increment(1);
        true
    }

    /// Probes the read replica now (at start, to log what it is); `None` without one.
    pub async fn probe_reader(&self) -> Option<ReaderStatus> {
        let reader = self.reader.as_ref()?;
        if let Backend::Postgres(primary) = &self.backend {
            reader.probe(primary).await;
        }
        self.reader_status()
    }

    /// The read replica's state; `None` without one.
    pub fn reader_status(&self) -> Option<ReaderStatus> {
        let reader = self.reader.as_ref()?;
        let (state, checked) = reader.lock().clone();
        Some(ReaderStatus {
            state,
            max_lag: reader.max_lag,
            checked_ago: checked.map(|t| t.elapsed()),
            reads_on_replica: reader.on_replica.load(Ordering::Relaxed),
            reads_on_primary: reader.on_primary.load(Ordering::Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found() -> Found {
        Found {
            same_cluster: true,
            same_server: false,
            in_recovery: true,
            behind_bytes: Some(0.0),
            replay_age: Some(3600.0),
            primary_id: "1".into(),
            reader_id: "1".into(),
        }
    }

    const BOUND: Duration = Duration::from_secs(10);

    #[test]
    fn a_standby_that_replayed_all_the_primary_wrote_has_no_lag_however_old_its_last_commit() {
        assert_eq!(
            found().judge(BOUND),
            ReaderState::InUse {
                lag: Duration::ZERO
            }
        );
    }

    #[test]
    fn a_standby_behind_the_primary_is_as_old_as_its_last_replayed_commit() {
        let f = Found {
            behind_bytes: Some(-512.0),
            replay_age: Some(2.5),
            ..found()
        };
        assert_eq!(
            f.judge(BOUND),
            ReaderState::InUse {
                lag: Duration::from_millis(2500)
            }
        );
        let f = Found {
            behind_bytes: Some(-512.0),
            replay_age: Some(11.0),
            ..found()
        };
        assert_eq!(f.judge(BOUND).name(), "lagging");
        let f = Found {
            behind_bytes: Some(-512.0),
            replay_age: None,
            ..found()
        };
        assert_eq!(f.judge(BOUND), ReaderState::Lagging { lag: None });
    }

    #[test]
    fn a_reader_of_another_cluster_or_a_promoted_standby_is_never_used() {
        let other = Found {
            reader_id: "2".into(),
            same_cluster: false,
            ..found()
        };
        assert_eq!(other.judge(BOUND).name(), "not_a_replica");
        let promoted = Found {
            in_recovery: false,
            behind_bytes: None,
            ..found()
        };
        assert_eq!(promoted.judge(BOUND).name(), "not_a_replica");
        let itself = Found {
            in_recovery: false,
            same_server: true,
            behind_bytes: None,
            ..found()
        };
        assert_eq!(itself.judge(BOUND).name(), "in_use");
    }
}
