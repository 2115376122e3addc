//! The case as the domain knows it: every fact the workflow, the clocks and the dispatch rules
//! read or write. The store maps it to a row; the HTTP layer renders it as its own view.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Allowed, CaseState, RequestKind, Status};
use crate::domain::dispatch::ChainLink;
use crate::domain::identity::Principal;

/// The number of a case for people, e.g. AJ00000042.
pub fn case_no(id: i64) -> String {
    format!("AJ{id:08}")
}

/// A case (案卷). Serialised as is into the audit log's `before`/`after`, so the timeline keeps
/// every state it went through; read back from there by the assessment (`domain::assessment`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Id.
    pub id: i64,
    /// Source channel: inspector, citizen, hotline_12345.
    pub source: String,
    /// Category code.
    pub category: String,
    /// The catalogue version the case was opened under (its rules and time limit).
    pub category_version: i64,
    /// Description.
    pub description: String,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// Input CRS.
    pub input_crs: String,
    /// The number of the case in the channel it came from (a 12345 work-order number).
    pub external_ref: Option<String>,
    /// Unit grid.
    pub grid_code: Option<String>,
    /// Community.
    pub community_code: Option<String>,
    /// Street.
    pub street_code: Option<String>,
    /// District.
    pub district_code: Option<String>,
    /// Frontage.
    pub frontage_code: Option<String>,
    /// Status.
    pub status: Status,
    /// The unit it is dispatched to.
    pub unit_code: Option<String>,
    /// The dispatch rule that fired.
    pub dispatch_rule: Option<String>,
    /// The owner chain the dispatch decision was made on.
    pub owner_chain: Option<Vec<ChainLink>>,
    /// A unit answering with the main one (railway land: the street office).
    pub co_owner_unit: Option<String>,
    /// `triage`: waiting in the 创文办 triage queue.
    pub queue: Option<String>,
    /// The triage office of the queue.
    pub triage_unit: Option<String>,
    /// 门前三包 escalation steps taken: 0 none, 1 reminder, 2 warning, 3 enforcement.
    pub escalation: i64,
    /// When the next escalation step is due (while the shop has not fixed it).
    pub escalation_due_at: Option<DateTime<Utc>>,
    /// The enforcement unit the ladder ends at.
    pub enforcement_unit: Option<String>,
    /// Merged into this case as a duplicate.
    pub linked_to: Option<i64>,
    /// Reports merged into this case.
    pub linked_count: i64,
    /// Request waiting for approval.
    pub pending_request: Option<RequestKind>,
    /// Status to resume to when parked.
    pub parked_from: Option<Status>,
    /// Failed checks (返工).
    pub rework_count: i64,
    /// Sent back as wrongly dispatched.
    pub wrong_dispatches: i64,
    /// Reporting user.
    pub reported_by: Option<i64>,
    /// When reported.
    pub reported_at: DateTime<Utc>,
    /// When (last) dispatched: the handling clock's start.
    pub dispatched_at: Option<DateTime<Utc>>,
    /// The handling clock's deadline (处置时限).
    pub deadline_at: Option<DateTime<Utc>>,
    /// When the current step started: the step clock's start.
    pub step_started_at: Option<DateTime<Utc>>,
    /// The step clock's deadline.
    pub step_due_at: Option<DateTime<Utc>>,
    /// The overall clock's deadline: report to close.
    pub due_at: Option<DateTime<Utc>>,
    /// When closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Hash of the citizen's follow-up token.
    #[serde(skip)]
    pub follow_token_hash: Option<String>,
}

impl Case {
    /// A new report at a WGS84 point, before the store gives it an id: collected, no owner yet,
    /// reported now. Callers set what they know with struct update syntax.
    pub fn draft(source: &str, category: &str, lon: f64, lat: f64) -> Self {
        Case {
            id: 0,
            source: source.into(),
            category: category.into(),
            category_version: 1,
            description: String::new(),
            lon,
            lat,
            input_crs: "wgs84".into(),
            external_ref: None,
            grid_code: None,
            community_code: None,
            street_code: None,
            district_code: None,
            frontage_code: None,
            status: Status::Collected,
            unit_code: None,
            dispatch_rule: None,
            owner_chain: None,
            co_owner_unit: None,
            queue: None,
            triage_unit: None,
            escalation: 0,
            escalation_due_at: None,
            enforcement_unit: None,
            linked_to: None,
            linked_count: 0,
            pending_request: None,
            parked_from: None,
            rework_count: 0,
            wrong_dispatches: 0,
            reported_by: None,
            reported_at: Utc::now(),
            dispatched_at: None,
            deadline_at: None,
            step_started_at: None,
            step_due_at: None,
            due_at: None,
            closed_at: None,
            version: 0,
            follow_token_hash: None,
        }
    }

    /// The number for people, e.g. AJ00000042.
    pub fn case_no(&self) -> String {
        case_no(self.id)
    }

    /// Whether the 门前三包 shop is still fixing it itself: dispatched to the shop and not yet
    /// handed to enforcement (the third escalation step).
    pub fn shop_self_fix(&self) -> bool {
        self.enforcement_unit.is_some() && self.escalation < 3
    }

    /// The parts the workflow rules look at.
    pub fn state(&self) -> CaseState {
        CaseState {
            status: self.status,
            grid_code: self.grid_code.clone(),
            unit_code: self.unit_code.clone(),
            pending: self.pending_request,
            parked_from: self.parked_from,
            shop_self_fix: self.shop_self_fix(),
        }
    }

    /// What `actor` may do to the case now (see [`super::allowed`]).
    pub fn allowed_for(&self, actor: &Principal) -> Allowed {
        super::allowed(&self.state(), actor)
    }
}
