//! What one case's events say about it as of an instant. Every event of a case carries the case
//! after it (and before it), so the state at any instant is the `after` of the last event up to
//! it: nothing is read from the case row, and a past period reads the same however the case
//! moved on since.

use chrono::{DateTime, Duration, Utc};

use crate::domain::case::{Case, Deadlines, RequestKind, Status, overdue};

/// One event of a case's timeline (`case.<action>`).
#[derive(Debug, Clone, PartialEq)]
pub struct CaseEvent {
    /// The event's sequence number.
    pub id: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The action without its `case.` prefix: `created`, `register`, `auto_dispatch`, …
    pub action: String,
    /// Who acted (None: the system).
    pub actor_id: Option<i64>,
    /// Their name as logged.
    pub actor_name: Option<String>,
    /// The case before (absent on `created`).
    pub before: Option<Case>,
    /// The case after.
    pub after: Case,
}

impl CaseEvent {
    fn before_status(&self) -> Option<Status> {
        self.before.as_ref().map(|b| b.status)
    }

    fn approved(&self, kind: RequestKind) -> bool {
        self.action == "approve"
            && self
                .before
                .as_ref()
                .is_some_and(|b| b.pending_request == Some(kind))
    }

    /// An approved 延时 (extension): the deadline moved.
    pub fn is_extension(&self) -> bool {
        self.approved(RequestKind::Extend)
    }

    /// An approved 回退: the unit sent the case back as wrongly dispatched.
    pub fn is_send_back(&self) -> bool {
        self.approved(RequestKind::SendBack)
    }

    /// The case went to a unit from the command centre (立案 with automatic dispatch, or 派遣):
    /// not a rework, a resume or an escalation, which stay with the unit.
    pub fn is_dispatch(&self) -> bool {
        self.after.status == Status::Dispatched
            && self.after.unit_code.is_some()
            && self.before_status().is_none_or(|s| {
                matches!(
                    s,
                    Status::Verifying | Status::Collected | Status::Registered
                )
            })
    }

    /// A 核查 that failed: back to the unit (返工).
    pub fn is_failed_check(&self) -> bool {
        self.action == "check"
            && self.before_status() == Some(Status::FedBack)
            && self.after.status != Status::Checked
    }

    /// The unit reported back (反馈).
    pub fn is_feedback(&self) -> bool {
        self.after.status == Status::FedBack && self.before_status() != Some(Status::FedBack)
    }

    /// Done by the step's deadline (the step clock of the case before it).
    pub fn on_time(&self) -> bool {
        self.before
            .as_ref()
            .and_then(|b| b.step_due_at)
            .is_none_or(|due| self.at <= due)
    }
}

/// A case's timeline, events in log order.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseHistory {
    /// The case.
    pub case_id: i64,
    /// Its events.
    pub events: Vec<CaseEvent>,
}

/// When and how a case is reckoned with its unit: on time when the unit's work ended by the
/// deadline (then at its closing), late otherwise (then at the deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reckoning {
    /// The instant that decides the period the case counts in.
    pub at: DateTime<Utc>,
    /// Closed by then.
    pub closed: bool,
    /// Handled by the deadline.
    pub on_time: bool,
}

/// One case as of an instant.
#[derive(Debug, Clone)]
pub struct CaseFacts<'a> {
    /// The events up to the instant.
    pub events: &'a [CaseEvent],
    /// The case as it stood.
    pub state: &'a Case,
    /// The effective handling deadline: the last one set (extensions included) plus the time
    /// spent 挂账 since the dispatch.
    pub deadline: Option<DateTime<Utc>>,
    /// Whether and when it is reckoned (see [`Reckoning`]); None while it is not yet due, parked,
    /// without a unit, merged or void.
    pub reckoning: Option<Reckoning>,
    /// Open past its handling deadline at the instant (the one overdue rule, `case::overdue`, on
    /// the handling clock).
    pub overdue_open: bool,
    /// When it was first registered (立案), if it was.
    pub registered_at: Option<DateTime<Utc>>,
    /// Failed checks up to the instant.
    pub reworks: usize,
}

/// Whether the case is one the assessment leaves out: merged into another or void.
pub fn excluded(status: Status) -> bool {
    matches!(status, Status::Merged | Status::Voided)
}

fn registered(status: Status) -> bool {
    !matches!(
        status,
        Status::Verifying | Status::Collected | Status::Voided | Status::Merged
    )
}

/// The case as of `t` (events strictly before it); None if it did not exist yet.
pub fn as_of(history: &CaseHistory, t: DateTime<Utc>) -> Option<CaseFacts<'_>> {
    let n = history.events.partition_point(|e| e.at < t);
    let events = &history.events[..n];
    let state = &events.last()?.after;
    let dispatched = state.dispatched_at;
    // 挂账 stops the handling clock: the time parked after the dispatch moves the deadline.
    let mut parked = Duration::zero();
    let mut since: Option<DateTime<Utc>> = None;
    for e in events {
        let is_parked = e.after.status == Status::Parked;
        match (since, is_parked) {
            (None, true) => since = Some(e.at),
            (Some(s), false) => {
                if dispatched.is_some_and(|d| s >= d) {
                    parked += e.at - s;
                }
                since = None;
            }
            _ => {}
        }
    }
    if let Some(s) = since
        && dispatched.is_some_and(|d| s >= d)
    {
        parked += t - s;
    }
    let deadline = state.deadline_at.map(|d| d + parked);
    let handling_clock = Deadlines {
        handling: deadline,
        ..Deadlines::default()
    };
    let overdue_open = state.unit_code.is_some() && overdue(state.status, handling_clock, t);
    let handled_at = events
        .iter()
        .rev()
        .find(|e| e.is_feedback() && dispatched.is_none_or(|d| e.at >= d))
        .map(|e| e.at);
    let reckoning = match (deadline, &state.unit_code) {
        _ if excluded(state.status) || state.status == Status::Parked => None,
        (Some(due), Some(_)) => match state.status {
            Status::Closed => {
                let closed_at = state.closed_at.unwrap_or(t);
                let on_time = handled_at.unwrap_or(closed_at) <= due;
                Some(Reckoning {
                    at: if on_time { closed_at } else { due },
                    closed: true,
                    on_time,
                })
            }
            _ if overdue_open => Some(Reckoning {
                at: due,
                closed: false,
                on_time: false,
            }),
            Status::FedBack | Status::Checked if handled_at.is_some_and(|h| h > due) => {
                Some(Reckoning {
                    at: due,
                    closed: false,
                    on_time: false,
                })
            }
            _ => None,
        },
        _ => None,
    };
    Some(CaseFacts {
        events,
        state,
        deadline,
        reckoning,
        overdue_open,
        registered_at: events
            .iter()
            .find(|e| registered(e.after.status))
            .map(|e| e.at),
        reworks: events.iter().filter(|e| e.is_failed_check()).count(),
    })
}
