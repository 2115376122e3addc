//! Workflow actions through the state machine, automatic dispatch on 立案 by the rule table, the
//! step clock, and the 门前三包 escalation sweep.

use chrono::{DateTime, Utc};

use super::{CaseError, CaseService, invalid};
use crate::domain::case::{self, Action, Case, Status};
use crate::domain::catalogue::{Category, TimeLimit};
use crate::domain::crs::Crs;
use crate::domain::dispatch::{Decision, EscalationKind, Route, next_escalation};
use crate::domain::identity::Principal;
use crate::store::{Audit, CaseStep, StoreError};

impl CaseService {
    /// Deadline of the whole case: the category's limit plus one working day for the command
    /// centre's own steps.
    pub(super) fn overall_due(&self, from: DateTime<Utc>, limit: TimeLimit) -> DateTime<Utc> {
        let handling = self.calendar.load().deadline(from, limit);
        self.calendar
            .load()
            .deadline(handling, TimeLimit::WorkingDays(1))
    }

    /// Sets the step clock after a status change.
    pub(super) fn enter_step(&self, c: &mut Case, now: DateTime<Utc>) {
        c.step_started_at = Some(now);
        c.step_due_at = if c.status.in_handling() {
            c.deadline_at
        } else {
            case::step_limit(c.status).map(|l| self.calendar.load().deadline(now, l))
        };
    }

    /// Writes a dispatch decision into the case: to a unit (the clock starts), or into the
    /// triage queue.
    pub(super) fn apply_decision(
        &self,
        c: &mut Case,
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
    ) -> Result<Case, CaseError> {
        let before = self.get(id).await?;
        if let Some(n) = note
            && n.chars().count() > 2000
        {
            return Err(invalid(
                "invalid_field",
                "note must be at most 2000 characters",
            ));
        }
        match action {
            Action::Dispatch { unit_code } => {
                let Some(unit) = self.store.get_unit(unit_code).await? else {
                    return Err(invalid(
                        "invalid_reference",
                        format!("responsible unit {unit_code} does not exist"),
                    ));
                };
                let fits = crate::domain::dispatch::unit_fits_place(
                    &unit.code,
                    unit.parent_code.as_deref(),
                    before.district_code.as_deref(),
                    before.street_code.as_deref(),
                    before.community_code.as_deref(),
                    before.owner_chain.as_deref().unwrap_or_default(),
                );
                if !fits && note.is_none_or(|n| n.trim().is_empty()) {
                    let district = before
                        .owner_chain
                        .iter()
                        .flatten()
                        .find(|l| l.level == "district")
                        .map_or_else(
                            || before.district_code.clone().unwrap_or_default(),
                            |l| l.name.clone(),
                        );
                    return Err(invalid(
                        "reason_required",
                        format!(
                            "{}不在该案件所在地的归属链上(案件位于 {}):确需跨辖区派遣,请在办理意见中写明理由。\
                             {unit_code} is not in the owner chain of the case's place (district {}); \
                             give the reason in `note` to dispatch it there anyway.",
                            unit.name,
                            district,
                            before.district_code.as_deref().unwrap_or("-"),
                        ),
                    ));
                }
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
        let t = case::apply(&before.state(), actor, action)?;
        let now = self.clock.now();
        let category = self
            .live
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
            action: action.kind().as_str().to_owned(),
            note: note.map(str::to_owned),
            after: after.clone(),
            extra: serde_json::Value::Null,
        }];
        if matches!(action, Action::Register) {
            let index = self.live.current();
            let assignment = index.assign(after.lon, after.lat, Crs::Wgs84, Some(&category));
            let decision = self
                .rules()
                .table
                .decide(&assignment.place(), &category, |u| {
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
        Ok(self
            .store
            .update_case(&before, &steps, &audit.stamped(now))
            .await?)
    }

    /// Takes the next 门前三包 escalation step of every case whose shop let the window pass:
    /// reminder, then warning, then the case goes to 城管执法 as an enforcement case. Safe to
    /// run from several replicas: a case changed meanwhile is skipped (optimistic version).
    pub async fn sweep_escalations(&self, now: DateTime<Utc>) -> Result<usize, CaseError> {
        let audit = Audit {
            actor_id: None,
            actor_name: Some("system:escalation".into()),
            request_id: None,
            at: Some(now),
        };
        let mut done = 0;
        for before in self.store.escalations_due(now).await? {
            let Some(kind) = next_escalation(before.escalation) else {
                continue;
            };
            let category = self
                .live
                .category_version(&before.category, before.category_version)?;
            let step = self
                .rules()
                .table
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
                match service.sweep_escalations(service.clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(cases = n, "门前三包 escalation steps taken"),
                    Err(e) => tracing::warn!(error = %e, "escalation sweep failed; retrying later"),
                }
            }
        })
    }
}

pub(super) fn dispatch_event(
    before: &Case,
    after: &Case,
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
