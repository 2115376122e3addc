//! The case service: intake from every channel, duplicates, automatic dispatch on 立案, workflow
//! actions with per-step deadlines, and the 门前三包 escalation sweep. It joins the pure rules
//! (`domain::case`, `domain::dispatch`, `domain::calendar`) with the engine and the store; the
//! HTTP handlers and the hotline import are thin callers.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::assign::geodesy::Tangent;
use crate::domain::calendar::WorkCalendar;
use crate::domain::case::{self, Action, CaseState, Status, WorkflowError};
use crate::domain::catalogue::{Category, TimeLimit};
use crate::domain::crs::Crs;
use crate::domain::dispatch::{Decision, EscalationKind, Route, RuleTable, next_escalation};
use crate::domain::identity::Principal;
use crate::engine::{AssignError, Engine};
use crate::store::{Audit, CaseRecord, CaseStep, NewCase, Store, StoreError};

/// The channel a report came through; it decides where the case starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The grid's inspector (监督员): no on-site verification needed.
    Inspector,
    /// An inspector's report outside the grids they patrol (seen on the way home, say): it is
    /// taken, but goes to 核实 by that grid's inspector like a hotline report, and `register` is
    /// ignored — an inspector vouches only for their own grids.
    InspectorElsewhere,
    /// The 12345 hotline, entered by an intake clerk or imported: starts in 核实.
    Hotline,
    /// A citizen through the public API: starts in 核实.
    Citizen,
}

impl Channel {
    /// The stored source name.
    pub fn source(self) -> &'static str {
        match self {
            Channel::Inspector | Channel::InspectorElsewhere => "inspector",
            Channel::Hotline => "hotline_12345",
            Channel::Citizen => "citizen",
        }
    }
}

/// A report as it arrives.
#[derive(Debug, Clone)]
pub struct Report {
    /// The client's retry key.
    pub idempotency_key: String,
    /// Category code.
    pub category: String,
    /// What was seen.
    pub description: String,
    /// Longitude in `crs`.
    pub lon: f64,
    /// Latitude in `crs`.
    pub lat: f64,
    /// The system the point is in.
    pub crs: Crs,
    /// The channel's own number (12345 work order).
    pub external_ref: Option<String>,
    /// When it was reported, if earlier than now (hotline exports).
    pub reported_at: Option<DateTime<Utc>>,
    /// An inspector registers (立案) at once: the case is dispatched in the same transaction.
    pub register_now: bool,
    /// The reporting user.
    pub reported_by: Option<i64>,
    /// Whose key space `idempotency_key` lives in.
    pub scope: KeyScope,
}

/// Whose key space an idempotency key lives in: the same key from two callers is two reports,
/// never the other's case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScope {
    /// A logged-in user's reports.
    User(i64),
    /// Citizens' reports. A citizen has no account, and a phone that retries may come back from
    /// another address, so the key (a random UUID in any real client) and the request itself
    /// are what identify a retry; the key is compared with the whole request.
    Public,
    /// 12345 work orders, keyed by their number whichever clerk imports them.
    Hotline,
}

impl KeyScope {
    fn prefix(self) -> String {
        match self {
            KeyScope::User(id) => format!("u{id}"),
            KeyScope::Public => "public".into(),
            KeyScope::Hotline => "12345".into(),
        }
    }
}

/// The digest a retry must repeat: everything the report says, normalised as stored.
fn request_digest(r: &Report, description: &str) -> String {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::json!([
        r.category,
        description,
        r.lon,
        r.lat,
        r.crs.as_str(),
        r.external_ref,
        r.reported_at.map(|t| t.to_rfc3339()),
        r.register_now,
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// An open case near a new report of the same category.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DuplicateHint {
    /// Its id.
    pub id: i64,
    /// Its number.
    pub case_no: String,
    /// Distance from the new report, metres.
    pub distance_m: f64,
    /// Its status.
    pub status: String,
}

/// The outcome of an intake.
#[derive(Debug, Clone)]
pub struct Intake {
    /// The case (for a retry: the first one).
    pub case: CaseRecord,
    /// False for a retry of an earlier submit.
    pub created: bool,
    /// Open cases this may duplicate, for the intake clerk to decide (link suggestions).
    pub duplicates: Vec<DuplicateHint>,
    /// A citizen's follow token: the same for the first answer and every retry.
    pub follow_token: Option<String>,
}

/// Why the service refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaseError {
    /// A field is unusable (422), with a stable code.
    #[error("{message}")]
    Invalid {
        /// Stable code.
        code: &'static str,
        /// What to fix.
        message: String,
    },
    /// No such case (404).
    #[error("{0}")]
    NotFound(String),
    /// A text holds a control character (400 `invalid_text`).
    #[error("{0}")]
    Text(String),
    /// The workflow does not allow it (403/409).
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    /// The point or category is refused.
    #[error(transparent)]
    Assign(#[from] AssignError),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(code: &'static str, message: impl Into<String>) -> CaseError {
    CaseError::Invalid {
        code,
        message: message.into(),
    }
}

/// Case number for people.
pub fn case_no(id: i64) -> String {
    format!("AJ{id:08}")
}

/// The case service; cheap to share.
#[derive(Clone)]
pub struct CaseService {
    store: Store,
    engine: Arc<Engine>,
    calendar: Arc<arc_swap::ArcSwap<WorkCalendar>>,
    rules: Arc<RuleTable>,
    /// The installation's key for citizens' follow tokens, read from the store once.
    follow_secret: Arc<tokio::sync::OnceCell<String>>,
}

impl std::fmt::Debug for CaseService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseService")
            .field("rules", &self.rules.rules.len())
            .finish()
    }
}

impl CaseService {
    /// A service over a store and engine with a city's calendar and rule table.
    pub fn new(
        store: Store,
        engine: Arc<Engine>,
        calendar: WorkCalendar,
        rules: RuleTable,
    ) -> Self {
        Self {
            store,
            engine,
            calendar: Arc::new(arc_swap::ArcSwap::from_pointee(calendar)),
            rules: Arc::new(rules),
            follow_secret: Arc::default(),
        }
    }

    /// The working calendar deadlines are counted in (a snapshot: an admin may load a year).
    pub fn calendar(&self) -> Arc<WorkCalendar> {
        self.calendar.load_full()
    }

    /// Loads one year of the holiday table into the working calendar (an admin's run-time load);
    /// deadlines computed from now on use it. Concurrent loads of different years both land.
    pub fn load_calendar_year(
        &self,
        table: &crate::domain::calendar::YearTable,
    ) -> Result<Arc<WorkCalendar>, crate::domain::calendar::CalendarError> {
        let mut failed = None;
        self.calendar
            .rcu(|current| match current.with_year(table.clone()) {
                Ok(next) => Arc::new(next),
                Err(e) => {
                    failed = Some(e);
                    Arc::clone(current)
                }
            });
        match failed {
            Some(e) => Err(e),
            None => Ok(self.calendar.load_full()),
        }
    }

    /// The dispatch rule table.
    pub fn rules(&self) -> &RuleTable {
        &self.rules
    }

    /// Deadline of the whole case: the category's limit plus one working day for the command
    /// centre's own steps.
    fn overall_due(&self, from: DateTime<Utc>, limit: TimeLimit) -> DateTime<Utc> {
        let handling = self.calendar.load().deadline(from, limit);
        self.calendar
            .load()
            .deadline(handling, TimeLimit::WorkingDays(1))
    }

    /// Sets the step clock after a status change.
    fn enter_step(&self, c: &mut CaseRecord, now: DateTime<Utc>) {
        c.step_started_at = Some(now);
        c.step_due_at = match c.status {
            Status::Dispatched | Status::Handling => c.deadline_at,
            s => case::step_limit(s).map(|l| self.calendar.load().deadline(now, l)),
        };
    }

    /// Takes a report in: checks it, assigns the place, links duplicates, and for an
    /// inspector's report registered at once, dispatches it, all in one transaction.
    pub async fn intake(
        &self,
        report: Report,
        channel: Channel,
        audit: &Audit,
    ) -> Result<Intake, CaseError> {
        let key = report.idempotency_key.trim();
        if key.is_empty() || key.len() > 128 {
            return Err(invalid(
                "invalid_field",
                "idempotency_key must be 1–128 characters",
            ));
        }
        let description = report.description.trim();
        if description.is_empty() || description.chars().count() > 2000 {
            return Err(invalid(
                "invalid_field",
                "description must be 1–2000 characters",
            ));
        }
        let scoped_key = format!("{}:{key}", report.scope.prefix());
        let digest = request_digest(&report, description);
        let follow_token = match channel {
            Channel::Citizen => {
                let secret = self
                    .follow_secret
                    .get_or_try_init(|| self.store.service_secret("follow_token"))
                    .await?;
                Some(crate::security::follow_token(secret, &scoped_key))
            }
            _ => None,
        };
        let now = Utc::now();
        let reported_at = report.reported_at.unwrap_or(now);
        if reported_at > now + Duration::minutes(5) {
            return Err(invalid(
                "invalid_field",
                format!("reported_at {reported_at} lies in the future"),
            ));
        }
        let (version, category) = self.engine.category(&report.category)?;
        let index = self.engine.current();
        let (lon, lat) = self
            .engine
            .to_wgs84(&index, report.lon, report.lat, report.crs)
            .map_err(AssignError::from)?;
        let assignment = index.assign(lon, lat, report.crs, Some(&category));
        let code = |a: &Option<crate::assign::AreaRef>| a.as_ref().map(|a| a.code.clone());

        let mut case = CaseRecord {
            category_version: version,
            description: description.to_owned(),
            input_crs: report.crs.as_str().into(),
            external_ref: report.external_ref.clone(),
            grid_code: code(&assignment.grid),
            community_code: code(&assignment.community),
            street_code: code(&assignment.street),
            district_code: code(&assignment.district),
            frontage_code: assignment.frontages.first().map(|f| f.code.clone()),
            status: match channel {
                Channel::Inspector if report.register_now => Status::Registered,
                Channel::Inspector => Status::Collected,
                Channel::Hotline | Channel::Citizen | Channel::InspectorElsewhere => {
                    Status::Verifying
                }
            },
            reported_by: report.reported_by,
            reported_at,
            due_at: Some(self.overall_due(reported_at, category.time_limit)),
            follow_token_hash: follow_token.as_deref().map(crate::security::token_hash),
            ..CaseRecord::draft(channel.source(), &category.code, lon, lat)
        };

        let mut follow_up = Vec::new();
        let mut duplicates = self.duplicates_of(&case, &category, now).await?;
        if category.duplicate_merge
            && let Some(first) = duplicates.first()
        {
            case.status = Status::Merged;
            case.linked_to = Some(first.id);
            follow_up.push((
                "merged".to_owned(),
                serde_json::json!({
                    "into": first.id, "distance_m": first.distance_m,
                    "note": format!("与 {} 相距 {:.0} 米，同类问题自动合并。Merged into {} ({:.0} m away).",
                        first.case_no, first.distance_m, first.case_no, first.distance_m),
                }),
            ));
            duplicates.clear();
        } else if case.status == Status::Registered {
            follow_up.push((
                "register".to_owned(),
                serde_json::json!({ "from": "collected", "to": "registered",
                    "note": "监督员上报即立案 registered on report by the grid's inspector" }),
            ));
            let decision = self.rules.decide(&assignment.place(), &category, |u| {
                self.unit_known(&index, u)
            });
            let before = case.clone();
            self.apply_decision(&mut case, &decision, &category, now);
            follow_up.push(dispatch_event(&before, &case, &decision));
        }
        if case.status != Status::Merged && case.step_started_at.is_none() {
            self.enter_step(&mut case, now);
        }
        let (case, created) = self
            .store
            .create_case(
                &NewCase {
                    idempotency_key: scoped_key,
                    request_digest: digest,
                    case,
                    follow_up,
                },
                audit,
            )
            .await?;
        Ok(Intake {
            case,
            created,
            duplicates: if created { duplicates } else { Vec::new() },
            follow_token,
        })
    }

    /// The channel of a staff member's report: an intake clerk enters hotline calls; an inspector
    /// reports on their own grids, or elsewhere (to 核实, see [`Channel::InspectorElsewhere`]);
    /// an admin reports anywhere as an inspector.
    pub fn staff_channel(&self, who: &Principal, report: &Report) -> Result<Channel, CaseError> {
        if who.role == crate::domain::identity::Role::IntakeClerk {
            return Ok(Channel::Hotline);
        }
        let index = self.engine.current();
        let (lon, lat) = self
            .engine
            .to_wgs84(&index, report.lon, report.lat, report.crs)
            .map_err(AssignError::from)?;
        let grid = index.assign(lon, lat, report.crs, None).grid;
        Ok(if who.patrols(grid.as_ref().map(|g| g.code.as_str())) {
            Channel::Inspector
        } else {
            Channel::InspectorElsewhere
        })
    }

    /// Whether a unit exists: departments are in the index; shops and offices in the store.
    fn unit_known(&self, index: &crate::assign::CityIndex, unit: &str) -> bool {
        // Every unit code a rule can produce comes from the loaded layers (frontage, zone and
        // area units) or from the department table; the index knows the departments, and the
        // layers' units were checked against the unit table at import.
        !unit.starts_with("dept-") || index.has_department(unit)
    }

    /// Open cases of the same category within the category's radius and time window.
    async fn duplicates_of(
        &self,
        case: &CaseRecord,
        category: &Category,
        now: DateTime<Utc>,
    ) -> Result<Vec<DuplicateHint>, CaseError> {
        let r = category.duplicate_radius_m;
        if r <= 0.0 || category.duplicate_window_h <= 0.0 {
            return Ok(Vec::new());
        }
        let t = Tangent::at(case.lon, case.lat);
        let (kx, ky) = t.scale();
        let (dx, dy) = (r / kx, r / ky);
        let since = now - Duration::seconds((category.duplicate_window_h * 3600.0) as i64);
        let mut hints: Vec<DuplicateHint> = self
            .store
            .open_cases_near(
                &case.category,
                [case.lon - dx, case.lat - dy, case.lon + dx, case.lat + dy],
                since,
            )
            .await?
            .into_iter()
            .filter(|c| c.linked_to.is_none())
            .map(|c| DuplicateHint {
                id: c.id,
                case_no: case_no(c.id),
                distance_m: (t.to_point(geo::Coord { x: c.lon, y: c.lat }) * 10.0).round() / 10.0,
                status: c.status.as_str().into(),
            })
            .filter(|h| h.distance_m <= r)
            .collect();
        hints.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m).then(a.id.cmp(&b.id)));
        Ok(hints)
    }

    /// Writes a dispatch decision into the case: to a unit (the clock starts), or into the
    /// triage queue.
    fn apply_decision(
        &self,
        c: &mut CaseRecord,
        d: &Decision,
        category: &Category,
        now: DateTime<Utc>,
    ) {
        c.dispatch_rule = Some(d.rule.clone());
        c.owner_chain = Some(d.owner_chain.clone());
        c.co_owner_unit = d.co_owner.clone();
        match &d.unit_code {
            Some(unit) => {
                c.status = Status::Dispatched;
                c.unit_code = Some(unit.clone());
                c.queue = None;
                c.triage_unit = None;
                c.dispatched_at = Some(now);
                c.deadline_at = Some(self.calendar.load().deadline(now, category.time_limit));
                if let Some(fix) = &d.self_fix {
                    c.escalation = 0;
                    c.escalation_due_at = Some(self.calendar.load().deadline(now, fix.window));
                    c.enforcement_unit = Some(fix.enforcement_unit.clone());
                }
            }
            None => {
                c.status = Status::Registered;
                c.unit_code = None;
                c.queue = Some("triage".into());
                c.triage_unit = d.triage_unit.clone();
            }
        }
        self.enter_step(c, now);
    }

    /// Performs a workflow action for `actor`; 立案 dispatches automatically in the same
    /// transaction.
    pub async fn act(
        &self,
        id: i64,
        actor: &Principal,
        action: &Action,
        note: Option<&str>,
        audit: &Audit,
    ) -> Result<CaseRecord, CaseError> {
        let before = self
            .store
            .get_case(id)
            .await?
            .ok_or_else(|| CaseError::NotFound(format!("case {id} does not exist")))?;
        if let Some(n) = note
            && n.chars().count() > 2000
        {
            return Err(invalid(
                "invalid_field",
                "note must be at most 2000 characters",
            ));
        }
        match action {
            Action::Dispatch { unit_code } if self.store.get_unit(unit_code).await?.is_none() => {
                return Err(invalid(
                    "invalid_reference",
                    format!("responsible unit {unit_code} does not exist"),
                ));
            }
            Action::Link { into } => {
                let target = self.store.get_case(*into).await?.filter(|t| t.id != id);
                match target {
                    Some(t) if !t.status.is_final() && t.category == before.category => {}
                    Some(t) if t.category != before.category => {
                        return Err(invalid(
                            "invalid_reference",
                            format!(
                                "case {into} is of category {}, this report of {}; only the same problem can be linked",
                                t.category, before.category
                            ),
                        ));
                    }
                    _ => {
                        return Err(invalid(
                            "invalid_reference",
                            format!("case {into} is not another open case to link to"),
                        ));
                    }
                }
            }
            _ => {}
        }
        let state = CaseState {
            status: before.status,
            grid_code: before.grid_code.clone(),
            unit_code: before.unit_code.clone(),
            pending: before.pending_request,
            parked_from: before.parked_from,
            shop_self_fix: before.enforcement_unit.is_some() && before.escalation < 3,
        };
        let t = case::apply(&state, actor, action)?;
        let now = Utc::now();
        let category = self
            .engine
            .category_version(&before.category, before.category_version)?;
        let mut after = before.clone();
        after.status = t.to;
        if let Some(unit) = t.unit {
            after.unit_code = unit;
            // A person decided: the automatic route and its ladder no longer apply.
            after.queue = None;
            after.triage_unit = None;
            after.co_owner_unit = None;
            after.escalation_due_at = None;
            after.enforcement_unit = None;
            after.dispatch_rule = Some(match action {
                Action::Dispatch { .. } => "manual".into(),
                _ => "sent_back".into(),
            });
        }
        if let Some(p) = t.pending {
            after.pending_request = p;
        }
        if t.parked_from.is_some() {
            after.parked_from = t.parked_from;
        }
        if let Action::Link { into } = action {
            after.linked_to = Some(*into);
        }
        after.rework_count += i64::from(t.rework);
        after.wrong_dispatches += i64::from(t.wrong_dispatch);
        if t.clock_starts {
            after.dispatched_at = Some(now);
            after.deadline_at = Some(self.calendar.load().deadline(now, category.time_limit));
        }
        if t.extended
            && let Some(due) = after.deadline_at
        {
            after.deadline_at = Some(
                self.calendar
                    .load()
                    .deadline(due.max(now), category.time_limit),
            );
            after.step_due_at = after.deadline_at;
        }
        if t.to == Status::FedBack {
            // Fixed: the shop's ladder stops.
            after.escalation_due_at = None;
        }
        if t.to == Status::Closed {
            after.closed_at = Some(now);
        }
        if t.to != before.status {
            self.enter_step(&mut after, now);
        }
        let mut steps = vec![CaseStep {
            action: action_name(action),
            note: note.map(str::to_owned),
            after: after.clone(),
            extra: serde_json::Value::Null,
        }];
        if matches!(action, Action::Register) {
            let index = self.engine.current();
            let assignment = index.assign(after.lon, after.lat, Crs::Wgs84, Some(&category));
            let decision = self.rules.decide(&assignment.place(), &category, |u| {
                self.unit_known(&index, u)
            });
            let mut dispatched = after.clone();
            self.apply_decision(&mut dispatched, &decision, &category, now);
            let (_, detail) = dispatch_event(&after, &dispatched, &decision);
            steps.push(CaseStep {
                action: "auto_dispatch".into(),
                note: Some(decision.reason.clone()),
                after: dispatched,
                extra: detail,
            });
        }
        Ok(self.store.update_case(&before, &steps, audit).await?)
    }

    /// Takes the next 门前三包 escalation step of every case whose shop let the window pass:
    /// reminder, then warning, then the case goes to 城管执法 as an enforcement case. Safe to
    /// run from several replicas: a case changed meanwhile is skipped (optimistic version).
    pub async fn sweep_escalations(&self, now: DateTime<Utc>) -> Result<usize, CaseError> {
        let audit = Audit {
            actor_id: None,
            actor_name: Some("system:escalation".into()),
            request_id: None,
        };
        let mut done = 0;
        for before in self.store.escalations_due(now).await? {
            let Some(kind) = next_escalation(before.escalation) else {
                continue;
            };
            let category = self
                .engine
                .category_version(&before.category, before.category_version)?;
            let step = self
                .rules
                .rules
                .iter()
                .find(|r| Some(&r.id) == before.dispatch_rule.as_ref())
                .and_then(|r| match &r.then {
                    Route::Shop { step, .. } => Some(*step),
                    _ => None,
                })
                .unwrap_or(TimeLimit::WorkingHours(4));
            let mut after = before.clone();
            after.escalation += 1;
            let note = match kind {
                EscalationKind::Reminder | EscalationKind::Warning => {
                    after.escalation_due_at = Some(self.calendar.load().deadline(now, step));
                    format!(
                        "责任商户逾期未自行整改：{}（第 {} 次）。The shop did not fix it in time: {:?}.",
                        kind.label_zh(),
                        after.escalation,
                        kind
                    )
                }
                EscalationKind::Enforcement => {
                    after.escalation_due_at = None;
                    after.status = Status::Dispatched;
                    after.unit_code = after.enforcement_unit.clone();
                    after.dispatched_at = Some(now);
                    after.deadline_at =
                        Some(self.calendar.load().deadline(now, category.time_limit));
                    self.enter_step(&mut after, now);
                    format!(
                        "提醒、警告后仍未整改，移交城管执法 {}。Handed to enforcement.",
                        after.unit_code.as_deref().unwrap_or("-")
                    )
                }
            };
            let steps = [CaseStep {
                action: "escalate".into(),
                note: Some(note),
                after,
                extra: serde_json::json!({ "level": before.escalation + 1, "kind": kind, "kind_zh": kind.label_zh() }),
            }];
            match self.store.update_case(&before, &steps, &audit).await {
                Ok(_) => done += 1,
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(done)
    }

    /// Runs the escalation sweep every `every` until the process ends; errors are logged.
    pub fn spawn_sweeper(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match service.sweep_escalations(Utc::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(cases = n, "门前三包 escalation steps taken"),
                    Err(e) => tracing::warn!(error = %e, "escalation sweep failed; retrying later"),
                }
            }
        })
    }
}

/// What became of one row of a hotline import.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HotlineOutcome {
    /// Line in the file.
    pub line: u64,
    /// The work-order number.
    pub ticket_no: Option<String>,
    /// created, already_imported, merged or error.
    pub outcome: &'static str,
    /// The case.
    pub case_id: Option<i64>,
    /// Open cases it may duplicate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<DuplicateHint>,
    /// What was wrong.
    pub error: Option<String>,
}

impl CaseService {
    /// Imports a 12345 export: every good row becomes a case in 核实 (keyed by its work-order
    /// number, so importing the same export twice creates nothing new); bad rows are listed.
    pub async fn import_hotline(
        &self,
        text: &str,
        default_crs: Option<Crs>,
        reported_by: Option<i64>,
        audit: &Audit,
    ) -> Result<Vec<HotlineOutcome>, CaseError> {
        let catalogue = self.engine.catalogue();
        let (rows, errors) =
            crate::import::hotline_csv::parse_hotline_csv(text, default_crs, &catalogue).map_err(
                |e| match e {
                    crate::import::ImportError::Text { .. } => CaseError::Text(e.to_string()),
                    e => invalid("invalid_csv", e.to_string()),
                },
            )?;
        let mut out: Vec<HotlineOutcome> = errors
            .into_iter()
            .map(|e| HotlineOutcome {
                line: e.line,
                ticket_no: e.ticket_no,
                outcome: "error",
                case_id: None,
                duplicates: Vec::new(),
                error: Some(e.message),
            })
            .collect();
        for row in rows {
            let report = Report {
                idempotency_key: row.ticket_no.clone(),
                category: row.category,
                description: row.description,
                lon: row.lon,
                lat: row.lat,
                crs: row.crs,
                external_ref: Some(row.ticket_no.clone()),
                reported_at: Some(row.reported_at),
                register_now: false,
                reported_by,
                scope: KeyScope::Hotline,
            };
            let o = match self.intake(report, Channel::Hotline, audit).await {
                Ok(i) => HotlineOutcome {
                    line: row.line,
                    ticket_no: Some(row.ticket_no),
                    outcome: match (i.created, i.case.status) {
                        (false, _) => "already_imported",
                        (true, Status::Merged) => "merged",
                        (true, _) => "created",
                    },
                    case_id: Some(i.case.id),
                    duplicates: i.duplicates,
                    error: None,
                },
                Err(CaseError::Store(StoreError::KeyReused(m))) => HotlineOutcome {
                    line: row.line,
                    ticket_no: Some(row.ticket_no),
                    outcome: "error",
                    case_id: None,
                    duplicates: Vec::new(),
                    error: Some(format!(
                        "work order imported before with other content ({m}); it was not changed"
                    )),
                },
                Err(CaseError::Store(e)) => return Err(CaseError::Store(e)),
                Err(e) => HotlineOutcome {
                    line: row.line,
                    ticket_no: Some(row.ticket_no),
                    outcome: "error",
                    case_id: None,
                    duplicates: Vec::new(),
                    error: Some(e.to_string()),
                },
            };
            out.push(o);
        }
        out.sort_by_key(|o| o.line);
        Ok(out)
    }
}

fn action_name(a: &Action) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.get("action").and_then(|a| a.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "action".into())
}

fn dispatch_event(
    before: &CaseRecord,
    after: &CaseRecord,
    d: &Decision,
) -> (String, serde_json::Value) {
    (
        "auto_dispatch".into(),
        serde_json::json!({
            "from": before.status.as_str(), "to": after.status.as_str(),
            "rule": d.rule, "unit_code": d.unit_code, "co_owner": d.co_owner,
            "triage_unit": d.triage_unit, "self_fix": d.self_fix, "reason": d.reason,
            "owner_chain": d.owner_chain, "note": d.reason,
        }),
    )
}
