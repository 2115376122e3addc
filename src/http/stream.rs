//! `GET /api/cases/stream`: case changes as server-sent events, so maps update live.
//!
//! One background task per process (started with the first subscriber) polls the append-only
//! `events` table every 500 ms (at once when PostgreSQL notifies it of new events, whoever wrote
//! them) for events after the last it saw, and broadcasts the case events
//! to every subscriber. Reading the database, not process memory, means a change made through
//! any replica (or the CLI) reaches the subscribers of every replica.
//!
//! Ordering and gaps: event ids come from one sequence. On PostgreSQL a transaction can commit
//! after a later one, so a reader may see id 11 before id 10 exists. The poller therefore emits
//! strictly in id order and, at a missing id, waits up to [`GAP_WAIT`] for it to appear before
//! taking it as a rolled-back id. Subscribers resume with `Last-Event-ID`: they get the events
//! after it replayed from the store up to the poller's watermark, then the live ones above it,
//! without gaps or duplicates. A subscriber too slow for the broadcast buffer gets the missed
//! stretch replayed from the store instead of losing it.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use super::auth::{HeaderOrQueryAuth, Staff};
use super::cases::{CaseView, with_reader};
use super::error::{ApiError, ErrorBody};
use super::extract::ApiQuery;
use super::{AppState, Inner};
use crate::cases::CaseError;
use crate::domain::case::{Allowed, CaseState, allowed};
use crate::domain::identity::Principal;
use crate::store::FeedEvent;

/// How often the poller reads the event log.
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// How long a missing event id may hold back later ones (an uncommitted transaction) before it
/// is taken as rolled back.
pub const GAP_WAIT: Duration = Duration::from_secs(3);
/// Interval of the heartbeat comment that keeps proxies from closing an idle stream.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
const BUFFER: usize = 1024;
const PAGE: i64 = 500;

/// The process's broadcaster of case events.
pub struct Hub {
    tx: broadcast::Sender<Arc<FeedItem>>,
    /// Every event with an id up to this has been broadcast (or was not a case event, or was
    /// given up as a rolled-back id). Stored before the broadcast of each item.
    watermark: AtomicI64,
    /// Rung by another process's notice of new events (PostgreSQL), so the poller reads at once
    /// instead of at its next tick.
    wake: tokio::sync::Notify,
}

/// One message, serialised once for every subscriber; each subscriber's allowed actions are
/// filled in when it is sent (`with_reader`).
#[derive(Debug)]
pub struct FeedItem {
    event_id: i64,
    lon: f64,
    lat: f64,
    unit_code: Option<String>,
    /// What the workflow rules look at, to tell each subscriber what they may do.
    rules: Option<CaseState>,
    data: String,
    /// A change of this user's tokens or account (logout, revocation, disabling): the
    /// subscribers of that user check their token again before anything later reaches them.
    user_change: Option<i64>,
}

/// The data of one `event: case` message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseEventMessage {
    /// The event's sequence number (also the SSE `id`).
    pub event_id: i64,
    /// The case.
    pub case_id: i64,
    /// What happened: `case.created`, `case.<action>` (e.g. `case.dispatch`), `case.photo_added`.
    pub action: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The case as it stands when the message is produced (its latest state), with what the
    /// subscriber may do to it.
    pub case: CaseView,
}

async fn build_items(
    state: &AppState,
    events: &[FeedEvent],
) -> Result<Vec<Arc<FeedItem>>, CaseError> {
    let mut cases = BTreeMap::new();
    for e in events.iter().filter(|e| e.entity_type == "case") {
        if let Ok(id) = e.entity_id.parse::<i64>()
            && !cases.contains_key(&id)
            && let Some(c) = state.cases().find(id).await?
        {
            cases.insert(id, c);
        }
    }
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        if e.entity_type == "user" {
            if let Ok(user_id) = e.entity_id.parse::<i64>() {
                out.push(Arc::new(FeedItem {
                    event_id: e.id,
                    lon: f64::NAN,
                    lat: f64::NAN,
                    unit_code: None,
                    rules: None,
                    data: String::new(),
                    user_change: Some(user_id),
                }));
            }
            continue;
        }
        let Some(case) = e
            .entity_id
            .parse::<i64>()
            .ok()
            .and_then(|id| cases.get(&id))
        else {
            continue;
        };
        let msg = CaseEventMessage {
            event_id: e.id,
            case_id: case.id,
            action: e.action.clone(),
            at: e.at,
            // Serialised for nobody: each subscriber's actions go in as it is sent.
            case: CaseView::new(state.cases().info(case.clone()), Allowed::default()),
        };
        let data = serde_json::to_string(&msg).map_err(|err| {
            CaseError::Store(crate::store::StoreError::Corrupt(format!(
                "serialising event {}: {err}",
                e.id
            )))
        })?;
        out.push(Arc::new(FeedItem {
            event_id: e.id,
            lon: case.lon,
            lat: case.lat,
            unit_code: case.unit_code.clone(),
            rules: Some(case.state()),
            data,
            user_change: None,
        }));
    }
    Ok(out)
}

impl AppState {
    /// The broadcaster, started on first use.
    async fn hub(&self) -> Result<Arc<Hub>, ApiError> {
        let hub = self
            .inner
            .feed
            .get_or_try_init(|| async {
                let start = self.cases().latest_event_id().await?;
                let (tx, _) = broadcast::channel(BUFFER);
                spawn_poller(Arc::downgrade(&self.inner));
                Ok::<_, ApiError>(Arc::new(Hub {
                    tx,
                    watermark: AtomicI64::new(start),
                    wake: tokio::sync::Notify::new(),
                }))
            })
            .await?;
        Ok(hub.clone())
    }
}

/// The poller holds the state weakly: it ends when the application is dropped (tests) or shuts
/// down.
fn spawn_poller(inner: Weak<Inner>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut gap = None;
        loop {
            let hub = inner.upgrade().and_then(|i| i.feed.get().cloned());
            match hub {
                Some(hub) => tokio::select! {
                    _ = tick.tick() => {}
                    () = hub.wake.notified() => {}
                },
                None => {
                    tick.tick().await;
                }
            }
            let Some(inner) = inner.upgrade() else { break };
            let state = AppState { inner };
            if *state.inner.shutdown.borrow() {
                break;
            }
            let Some(hub) = state.inner.feed.get().cloned() else {
                continue;
            };
            if let Err(e) = poll_once(&state, &hub, &mut gap).await {
                tracing::warn!(error = %e, "case stream: reading the event log failed; retrying");
            }
        }
    });
}

/// Wakes the poller on other processes' notices of new events; ends with the application.
pub(super) fn spawn_waker(
    inner: Weak<Inner>,
    mut changes: broadcast::Receiver<crate::store::Change>,
) {
    use crate::store::Change;
    tokio::spawn(async move {
        loop {
            let change = match changes.recv().await {
                Ok(c) => c,
                Err(broadcast::error::RecvError::Lagged(_)) => Change::Resync,
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if !change.concerns(Change::Events) {
                continue;
            }
            let Some(inner) = inner.upgrade() else { break };
            if let Some(hub) = inner.feed.get() {
                hub.wake.notify_one();
            }
        }
    });
}

/// Broadcasts the events after the watermark, in id order, stopping at a missing id until it
/// appears or [`GAP_WAIT`] has passed.
async fn poll_once(
    state: &AppState,
    hub: &Hub,
    gap: &mut Option<(i64, Instant)>,
) -> Result<(), CaseError> {
    loop {
        let from = hub.watermark.load(Ordering::SeqCst);
        let rows = state.cases().events_after(from, None, None, PAGE).await?;
        let mut next = from;
        let mut ready = Vec::new();
        for r in &rows {
            if r.id != next + 1 {
                let missing = next + 1;
                match *gap {
                    Some((id, since)) if id == missing && since.elapsed() >= GAP_WAIT => {
                        tracing::debug!(missing, "case stream: taking an event id as rolled back");
                        *gap = None;
                    }
                    Some((id, _)) if id == missing => break,
                    _ => {
                        *gap = Some((missing, Instant::now()));
                        break;
                    }
                }
            }
            next = r.id;
            // Logins change nothing for open streams; every other user event (logout, token
            // revocation, …) makes that user's streams check their token again.
            if r.entity_type == "case" || (r.entity_type == "user" && r.action != "auth.login") {
                ready.push(r.clone());
            }
        }
        for item in build_items(state, &ready).await? {
            hub.watermark.store(item.event_id, Ordering::SeqCst);
            // No subscriber is not an error: the watermark still advances.
            let _ = hub.tx.send(item);
        }
        hub.watermark.store(next, Ordering::SeqCst);
        if next == from || rows.len() < PAGE as usize {
            return Ok(());
        }
    }
}

/// Stream filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Only cases inside `w,s,e,n` (WGS84 degrees, longitude first).
    pub bbox: Option<String>,
    /// Only cases dispatched to this responsible unit.
    pub unit: Option<String>,
    /// Resume after this event id (as the `Last-Event-ID` header, which wins when both are sent).
    pub last_event_id: Option<i64>,
    /// The bearer token, for `EventSource` which cannot send headers. Prefer the header.
    pub access_token: Option<String>,
}

#[derive(Debug, Clone)]
struct Filter {
    bbox: Option<super::params::Bbox>,
    unit: Option<String>,
}

impl Filter {
    fn accepts(&self, item: &FeedItem) -> bool {
        self.bbox.is_none_or(|b| b.contains(item.lon, item.lat))
            && self
                .unit
                .as_deref()
                .is_none_or(|u| item.unit_code.as_deref() == Some(u))
    }
}

struct Subscriber {
    state: AppState,
    hub: Arc<Hub>,
    rx: broadcast::Receiver<Arc<FeedItem>>,
    shutdown: watch::Receiver<bool>,
    /// The highest event id handled (sent or filtered out).
    cursor: i64,
    /// Replay from the store up to this id before taking live messages.
    replay_upto: Option<i64>,
    pending: VecDeque<Arc<FeedItem>>,
    filter: Filter,
    /// The token the stream was opened with, checked again on every change of its user, every
    /// `stream_token_recheck` and at its expiry.
    token: StreamToken,
    /// Set once the token failed: the stream sends its last message and ends.
    ended: bool,
}

struct StreamToken {
    hash: String,
    /// Who the stream is for, as of the last check of the token (their grids or unit may
    /// change): what they may do to each case is sent with it.
    principal: Principal,
    user_id: i64,
    expires_at: DateTime<Utc>,
    next_check: tokio::time::Instant,
}

impl Subscriber {
    /// Checks the token again; `Some(message)` ends the stream with it. A store failure counts as
    /// a failed check when `strict` (a change of this very user), else it waits for the next
    /// check.
    async fn token_ended(&mut self, strict: bool) -> Option<Event> {
        let every = self.state.settings().stream_token_recheck;
        let now = tokio::time::Instant::now();
        let to_expiry = (self.token.expires_at - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        self.token.next_check = now + every.min(to_expiry + Duration::from_millis(10));
        let ended = match super::auth::check_token(&self.state, &self.token.hash).await {
            Ok(lookup) => {
                self.token.principal = lookup.principal;
                return None;
            }
            Err(e) if e.status.is_client_error() => e,
            Err(e) if strict => e,
            Err(_) => return None,
        };
        self.ended = true;
        let body = serde_json::json!({ "code": ended.code, "message": ended.message });
        Some(Event::default().event("end").data(body.to_string()))
    }
}

impl Subscriber {
    async fn next(&mut self) -> Option<Event> {
        loop {
            if *self.shutdown.borrow() || self.ended {
                return None;
            }
            if tokio::time::Instant::now() >= self.token.next_check
                && let Some(end) = self.token_ended(false).await
            {
                return Some(end);
            }
            if let Some(item) = self.pending.pop_front() {
                if let Some(user_id) = item.user_change {
                    if user_id == self.token.user_id
                        && let Some(end) = self.token_ended(true).await
                    {
                        return Some(end);
                    }
                    continue;
                }
                if self.filter.accepts(&item) {
                    let may = item
                        .rules
                        .as_ref()
                        .map(|r| allowed(r, &self.token.principal))
                        .unwrap_or_default();
                    return Some(
                        Event::default()
                            .event("case")
                            .id(item.event_id.to_string())
                            .data(with_reader(&item.data, &may)),
                    );
                }
                continue;
            }
            if let Some(upto) = self.replay_upto {
                if self.cursor >= upto {
                    self.replay_upto = None;
                    continue;
                }
                let page = self
                    .state
                    .cases()
                    .events_after(self.cursor, Some(upto), Some("case"), PAGE)
                    .await;
                let built = match page {
                    Ok(rows) if rows.is_empty() => {
                        self.cursor = upto;
                        continue;
                    }
                    Ok(rows) => {
                        let last = rows.last().map_or(upto, |r| r.id);
                        build_items(&self.state, &rows).await.map(|b| (b, last))
                    }
                    Err(e) => Err(e),
                };
                match built {
                    Ok((items, last)) => {
                        self.pending.extend(items);
                        self.cursor = last;
                        continue;
                    }
                    Err(e) => {
                        // Ending the stream makes the EventSource reconnect with Last-Event-ID.
                        tracing::warn!(error = %e, "case stream: replay failed; closing the stream");
                        return None;
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep_until(self.token.next_check) => {}
                changed = self.shutdown.changed() => {
                    if changed.is_err() || *self.shutdown.borrow() {
                        return None;
                    }
                }
                got = self.rx.recv() => match got {
                    Ok(item) => {
                        if item.event_id > self.cursor {
                            self.cursor = item.event_id;
                            self.pending.push_back(item);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "case stream: slow subscriber; replaying from the store");
                        self.replay_upto = Some(self.hub.watermark.load(Ordering::SeqCst));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }
}

/// Live case changes as server-sent events (any staff role). Each message is `event: case`,
/// `id: <event id>`, `data: {event_id, case_id, action, at, case}`; a heartbeat comment every
/// 15 s. Reconnecting with `Last-Event-ID` (EventSource does it by itself) replays exactly the
/// missed events. Auth: `Authorization: Bearer` or `?access_token=`.
#[utoipa::path(get, path = "/api/cases/stream", tag = "cases", security(("bearer" = [])), params(StreamQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "resume after this event id")),
    responses((status = 200, description = "text/event-stream of `case` events", body = CaseEventMessage, content_type = "text/event-stream"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn case_stream(
    State(state): State<AppState>,
    HeaderOrQueryAuth(auth): HeaderOrQueryAuth<Staff>,
    ApiQuery(q): ApiQuery<StreamQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let filter = Filter {
        bbox: q.bbox.as_deref().map(super::params::bbox).transpose()?,
        unit: q.unit.filter(|u| !u.is_empty()),
    };
    let resume = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_last_event_id",
                        "Last-Event-ID must be an event id",
                    )
                })?,
        ),
        None => q.last_event_id,
    };
    let hub = state.hub().await?;
    // Subscribe before reading the watermark: everything above it then arrives live.
    let rx = hub.tx.subscribe();
    let watermark = hub.watermark.load(Ordering::SeqCst);
    let (cursor, replay_upto) = match resume {
        Some(after) if after < watermark => (after.max(0), Some(watermark)),
        Some(after) => (after, None),
        None => (watermark, None),
    };
    let to_expiry = (auth.expires_at - Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    let token = StreamToken {
        hash: auth.token_hash,
        user_id: auth.principal.user_id,
        principal: auth.principal,
        expires_at: auth.expires_at,
        next_check: tokio::time::Instant::now()
            + state
                .settings()
                .stream_token_recheck
                .min(to_expiry + Duration::from_millis(10)),
    };
    let sub = Subscriber {
        token,
        ended: false,
        shutdown: state.inner.shutdown.subscribe(),
        state,
        hub,
        rx,
        cursor,
        replay_upto,
        pending: VecDeque::new(),
        filter,
    };
    // Fused, like the batch body: a bare `unfold` panics when polled after its end.
    let events =
        futures_util::StreamExt::fuse(futures_util::stream::unfold(sub, |mut sub| async move {
            sub.next().await.map(|e| (Ok::<_, Infallible>(e), sub))
        }));
    let mut res = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"))
        .into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Reverse proxies (nginx) must pass events through as they come.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(res)
}
