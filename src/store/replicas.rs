//! What several processes on one PostgreSQL need from the store: a lock that serialises first-start
//! work (migrations, seeding), and the change notices other replicas' edits send (LISTEN/NOTIFY,
//! sent by the triggers of migration 0013 inside the writing transaction).
//!
//! SQLite needs neither: one file is served by one process (the file lock refuses a second writer
//! for long, and nothing tells another process's memory that the file changed), so on SQLite the
//! lock is a no-op and there are no notices; the revision poll covers the CLI writing beside a
//! running service.

use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnection, PgListener};
use tokio::sync::broadcast;

use super::{Backend, Store, StoreResult};

/// The key of the first-start advisory lock: "wangge" in ASCII, so no other application on a
/// shared cluster picks it by chance.
const START_LOCK_KEY: i64 = 0x7761_6e67_6765;

/// The channel of data, dispatch rule and calendar changes (payload: which).
pub const REVISION_CHANNEL: &str = "wangge_revision";
/// The channel of new audit events (the case stream's wake-up).
pub const EVENTS_CHANNEL: &str = "wangge_events";

/// What another process changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// The data revision: layers, a city import, categories, units.
    Data,
    /// A new dispatch rule table version.
    DispatchRules,
    /// A stored year of the holiday table.
    Calendar,
    /// New audit events (case changes among them).
    Events,
    /// The listener reconnected: notices may have been lost, so everything is to be re-read.
    Resync,
}

impl Change {
    /// Whether a follower of `what` must act on this notice.
    pub fn concerns(self, what: Change) -> bool {
        self == what || self == Change::Resync
    }
}

/// Held while a process does its first-start work; other processes' [`Store::start_lock`] wait.
/// The lock lives on a connection of its own, outside the pool: if the process dies or the guard
/// is dropped without [`StartLock::release`], closing that connection releases the lock.
#[derive(Debug)]
pub struct StartLock {
    conn: Option<PgConnection>,
}

impl StartLock {
    /// Releases the lock (at once, rather than when the connection is closed).
    pub async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(START_LOCK_KEY)
                .execute(&mut conn)
                .await;
            if let Err(e) = unlocked {
                tracing::warn!(error = %e, "releasing the first-start lock failed; closing its connection releases it");
            }
            let _ = conn.close().await;
        }
    }
}

impl Store {
    /// Waits for and takes the first-start lock (PostgreSQL `pg_advisory_lock`), so replicas that
    /// start at the same moment on an empty database migrate and seed one after the other: the
    /// second finds the work done. A no-op on SQLite.
    pub async fn start_lock(&self) -> StoreResult<StartLock> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(StartLock { conn: None }),
            Backend::Postgres(pool) => {
                let mut conn = PgConnection::connect_with(&pool.connect_options()).await?;
                let started = std::time::Instant::now();
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(START_LOCK_KEY)
                    .execute(&mut conn)
                    .await?;
                if started.elapsed() > Duration::from_millis(100) {
                    tracing::info!(
                        "waited {:.1?} for another process's first start",
                        started.elapsed()
                    );
                }
                Ok(StartLock { conn: Some(conn) })
            }
        }
    }

    /// Starts listening for other processes' changes; `None` on SQLite. The task reconnects with
    /// backoff when the connection is lost, sends [`Change::Resync`] after each reconnection
    /// (notices sent meanwhile are lost), and ends when the pool is closed or nobody holds the
    /// returned sender or a receiver any more.
    pub fn spawn_change_listener(&self) -> Option<broadcast::Sender<Change>> {
        let Backend::Postgres(pool) = &self.backend else {
            return None;
        };
        let (tx, _) = broadcast::channel(256);
        let weak = tx.downgrade();
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(250);
            let mut connected_before = false;
            loop {
                if pool.is_closed() {
                    break;
                }
                match listen(&pool).await {
                    Ok(mut listener) => {
                        delay = Duration::from_millis(250);
                        let Some(tx) = weak.upgrade() else { break };
                        if connected_before {
                            tracing::info!("change listener reconnected; re-reading everything");
                            let _ = tx.send(Change::Resync);
                        }
                        connected_before = true;
                        drop(tx);
                        match follow(&mut listener, &weak).await {
                            Ended::Dropped => break,
                            Ended::Lost(why) => {
                                tracing::warn!(
                                    "change listener lost its connection ({why}); reconnecting in {delay:?}"
                                );
                            }
                        }
                    }
                    Err(e) => {
                        if matches!(e, sqlx::Error::PoolClosed) {
                            break;
                        }
                        tracing::warn!(error = %e, "change listener cannot connect; retrying in {delay:?} (the revision poll still runs)");
                    }
                }
                if weak.strong_count() == 0 {
                    break;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        });
        Some(tx)
    }
}

async fn listen(pool: &sqlx::PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // Reconnections are ours to make, so each is followed by a resync.
    listener.eager_reconnect(false);
    listener
        .listen_all([REVISION_CHANNEL, EVENTS_CHANNEL])
        .await?;
    Ok(listener)
}

enum Ended {
    Dropped,
    Lost(String),
}

async fn follow(listener: &mut PgListener, weak: &broadcast::WeakSender<Change>) -> Ended {
    loop {
        let notice = match listener.try_recv().await {
            Ok(Some(n)) => n,
            Ok(None) => return Ended::Lost("connection closed".into()),
            Err(sqlx::Error::PoolClosed) => return Ended::Dropped,
            Err(e) => return Ended::Lost(e.to_string()),
        };
        let change = match (notice.channel(), notice.payload()) {
            (EVENTS_CHANNEL, _) => Change::Events,
            (_, "dispatch_rules") => Change::DispatchRules,
            (_, "calendar") => Change::Calendar,
            _ => Change::Data,
        };
        let Some(tx) = weak.upgrade() else {
            return Ended::Dropped;
        };
        // No receiver yet is fine: the followers subscribe when they start.
        let _ = tx.send(change);
    }
}
