//! The case timelines the assessment reads, kept in memory and brought up to date from the event
//! log on every read: only the events appended since the last read are fetched and parsed, so a
//! ranking costs the scoring, not a re-read of the whole log.
//!
//! **Completeness.** Event ids come from one sequence, but in PostgreSQL a transaction that took
//! id 100 may commit after one that took 101. A reader that only asked for ids above the largest
//! it had seen would miss 100 forever. So every id at or below the watermark that was not seen is
//! kept as a *gap* and asked for again on each read, until it turns up (a late commit) or
//! [`GAP_GRACE`] has passed (a rolled-back insert, which never will: event inserts commit within
//! milliseconds, and the statement timeout is far below the grace). Non-case events are read too
//! (their ids only, never their detail) so that they are not mistaken for gaps.
//!
//! **Bound.** At most `max_events` case events are held (`--assessment-max-events`); a log that
//! grows beyond answers 413 `too_large` instead of exhausting memory.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::domain::assessment::{CaseEvent, CaseHistory};
use crate::store::{Store, StoreError};

/// How long an unseen id below the watermark is asked for again.
pub const GAP_GRACE: Duration = Duration::from_secs(600);
/// At most this many gaps are remembered (the oldest are dropped first).
pub const MAX_GAPS: usize = 10_000;
/// Default for `--assessment-max-events`. Each event held takes about 7 KB (measured in
/// docs/scaling.md), so about 15 GB at this bound.
pub const DEFAULT_MAX_EVENTS: usize = 2_000_000;

/// Every case's timeline by case id; shared, never mutated once handed out.
pub type Histories = Arc<BTreeMap<i64, Arc<CaseHistory>>>;

/// Why the timelines could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// More case events than the bound.
    #[error(
        "the event log holds more than {max} case events, the bound of --assessment-max-events; raise it (about 7 KB of memory each)"
    )]
    TooLarge {
        /// The bound.
        max: usize,
    },
}

#[derive(Debug, Default)]
struct State {
    cases: Histories,
    /// Bumped whenever an event is added: what was computed from an older generation is stale.
    generation: u64,
    events: usize,
    /// Every id at or below it was seen, or is in `gaps`.
    watermark: i64,
    /// Unseen ids at or below the watermark, with when they were first missed.
    gaps: BTreeMap<i64, Instant>,
}

/// The in-memory timelines (one per process).
#[derive(Debug)]
pub struct Timelines {
    state: tokio::sync::Mutex<State>,
    max_events: usize,
}

impl Timelines {
    /// Empty; the first read loads the whole log.
    pub fn new(max_events: usize) -> Self {
        Self {
            state: Default::default(),
            max_events,
        }
    }

    /// The timelines as of now, with their generation: the events appended since the last read
    /// are added first.
    pub async fn current(&self, store: &Store) -> Result<(u64, Histories), TimelineError> {
        let mut st = self.state.lock().await;
        st.gaps.retain(|_, t| t.elapsed() < GAP_GRACE);
        let gaps: Vec<i64> = st.gaps.keys().copied().collect();
        let rows = store.log_since(st.watermark, &gaps).await?;
        if rows.is_empty() {
            return Ok((st.generation, st.cases.clone()));
        }
        let new_events = rows.iter().filter(|r| r.1.is_some()).count();
        if st.events + new_events > self.max_events {
            return Err(TimelineError::TooLarge {
                max: self.max_events,
            });
        }
        let now = Instant::now();
        let old_watermark = st.watermark;
        let mut expected = old_watermark + 1;
        let mut added = 0;
        let mut grouped: BTreeMap<i64, Vec<CaseEvent>> = BTreeMap::new();
        for (id, event) in rows {
            if id > old_watermark {
                // Ids skipped between the last one and this: not committed yet, or never.
                for missing in expected..id {
                    st.gaps.insert(missing, now);
                }
                expected = id + 1;
            } else {
                st.gaps.remove(&id);
            }
            if let Some(e) = event {
                grouped.entry(e.after.id).or_default().push(e);
                added += 1;
            }
        }
        st.watermark = st.watermark.max(expected - 1);
        while st.gaps.len() > MAX_GAPS {
            st.gaps.pop_first();
        }
        let cases = Arc::make_mut(&mut st.cases);
        for (case_id, events) in grouped {
            let h = cases.entry(case_id).or_insert_with(|| {
                Arc::new(CaseHistory {
                    case_id,
                    events: Vec::new(),
                })
            });
            let h = Arc::make_mut(h);
            for e in events {
                // Late commits land in id order, not at the end.
                let at = h.events.partition_point(|x| x.id < e.id);
                if h.events.get(at).is_none_or(|x| x.id != e.id) {
                    h.events.insert(at, e);
                }
            }
        }
        st.events += added;
        if added > 0 {
            st.generation += 1;
        }
        Ok((st.generation, st.cases.clone()))
    }
}
