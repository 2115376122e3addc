//! `/healthz` and `/metrics`.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Serialize;

use super::AppState;

/// The process-wide Prometheus recorder, installed on first use (several routers in one test
/// process share it).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder is installed already; then ours just stays unused.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Health of the service.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// Database state.
    pub database: DatabaseHealth,
    /// The jurisdiction data version the service answers from.
    pub index_version: i64,
    /// Build information.
    pub build: BuildInfo,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// What the holiday table covers, with a warning from 60 days before it runs out.
    pub calendar: super::calendar::CalendarCoverage,
    /// The read replica for analytics (`--read-database-url`); absent without one. Its state
    /// never makes the service unhealthy: the analytics read the primary meanwhile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_replica: Option<ReadReplicaHealth>,
}

/// The read replica for analytics, as its last probe (every second while analytics are asked
/// for) found it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReadReplicaHealth {
    /// `in_use` (the analytics read it), `lagging` (beyond `max_lag_ms`), `unreachable`,
    /// `not_a_replica` (another cluster, or a promoted standby) or `not_checked` (no analytics
    /// asked for yet). In every state but `in_use` the analytics read the primary.
    pub state: &'static str,
    /// Its lag behind the primary when measured, milliseconds (0: it had replayed everything).
    pub lag_ms: Option<u64>,
    /// The bound on the lag (`--read-max-lag-secs`), milliseconds.
    pub max_lag_ms: u64,
    /// Milliseconds since the last probe.
    pub checked_ms_ago: Option<u64>,
    /// Analytics reads sent to the replica since start.
    pub reads_on_replica: u64,
    /// Analytics reads sent to the primary because the replica was not usable.
    pub reads_on_primary: u64,
}

fn read_replica(store: &crate::store::Store) -> Option<ReadReplicaHealth> {
    let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    store.reader_status().map(|s| ReadReplicaHealth {
        state: s.state.name(),
        lag_ms: s.state.lag().map(ms),
        max_lag_ms: ms(s.max_lag),
        checked_ms_ago: s.checked_ago.map(ms),
        reads_on_replica: s.reads_on_replica,
        reads_on_primary: s.reads_on_primary,
    })
}

/// Database state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DatabaseHealth {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Whether it answered.
    pub reachable: bool,
    /// PostGIS version (PostgreSQL only).
    pub postgis: Option<String>,
    /// Why it is unreachable: a stable code (`database_unavailable`).
    pub error_code: Option<&'static str>,
    /// Why it is unreachable: the store's own error text for an operator (a request with an
    /// admin's bearer token), a general sentence for everyone else (the text can name hosts,
    /// users and paths). The full text is always logged.
    pub error: Option<String>,
}

/// Build information.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BuildInfo {
    /// Crate version.
    pub version: &'static str,
    /// Target profile the binary was built with.
    pub profile: &'static str,
}

/// Health: 200 when the database answers, 503 with a code when it does not (and the store's own
/// error text for a request with an admin's bearer token).
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn healthz(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> (StatusCode, Json<Health>) {
    let store = state.store();
    let (status, database) = match store.ping().await {
        Ok(postgis) => (
            StatusCode::OK,
            DatabaseHealth {
                backend: store.backend_name(),
                reachable: true,
                postgis,
                error_code: None,
                error: None,
            },
        ),
        Err(e) => {
            tracing::warn!(error = %e, "healthz: the database is unreachable");
            // The store is down, so the token cannot be looked up there: an admin token seen
            // valid recently is trusted for the detail.
            let operator = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .is_some_and(|(_, t)| {
                    state
                        .operators()
                        .is_operator(&crate::security::token_hash(t.trim()))
                });
            let error = if operator {
                e.to_string()
            } else {
                "数据库不可达，详情见服务日志。The database is unreachable; the reason is in the service log (or send an admin token).".to_owned()
            };
            (
                StatusCode::SERVICE_UNAVAILABLE,
                DatabaseHealth {
                    backend: store.backend_name(),
                    reachable: false,
                    postgis: None,
                    error_code: Some("database_unavailable"),
                    error: Some(error),
                },
            )
        }
    };
    (
        status,
        Json(Health {
            status: if status == StatusCode::OK {
                "ok"
            } else {
                "unavailable"
            },
            database,
            index_version: state.data_version(),
            build: BuildInfo {
                version: env!("CARGO_PKG_VERSION"),
                profile: if cfg!(debug_assertions) {
                    "debug"
                } else {
                    "release"
                },
            },
            uptime_secs: state.uptime_secs(),
            calendar: super::calendar::coverage(&state.calendar()),
            read_replica: read_replica(store),
        }),
    )
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    metrics::gauge!("wangge_index_version").set(state.data_version() as f64);
    metrics::gauge!("wangge_uptime_seconds").set(state.uptime_secs() as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics_handle().render(),
    )
        .into_response()
}
