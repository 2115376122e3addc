//! The case (案卷) workflow as a pure state machine: the trade's seven steps
//! 采集 → 核实 → 立案 → 派遣 → 处置 → 反馈 → 核查 → 结案, the rework loop (返工) and the side
//! requests that need approval: 延时 (extend), 回退 (send back as wrongly dispatched), 挂账 (park)
//! and 作废 (void). Every action is allowed to the right role in the right scope only.

use serde::{Deserialize, Serialize};

use super::identity::{Principal, Role, ScopeError};

pub mod clock;
pub mod record;

pub use clock::{ClockReading, Deadlines, overdue, step_limit};
pub use record::{Case, case_no};

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// 核实: a citizen or hotline report waits for the grid's inspector to verify it on site.
    Verifying,
    /// 采集: a verified report (or an inspector's own) waits to be registered.
    Collected,
    /// 立案: registered, waits for dispatch.
    Registered,
    /// 派遣: dispatched to a responsible unit; the clock runs.
    Dispatched,
    /// 处置: the unit is handling it.
    Handling,
    /// 反馈: the unit reported back; waits for the inspector's check.
    FedBack,
    /// 核查通过: checked on site; waits to be closed.
    Checked,
    /// 结案.
    Closed,
    /// 挂账: parked, cannot be fixed now.
    Parked,
    /// 作废: void.
    Voided,
    /// 已合并: a duplicate report folded into an open case of the same problem.
    Merged,
}

impl Status {
    /// The Chinese name.
    pub fn label_zh(self) -> &'static str {
        match self {
            Status::Verifying => "核实",
            Status::Collected => "采集",
            Status::Registered => "立案",
            Status::Dispatched => "派遣",
            Status::Handling => "处置",
            Status::FedBack => "反馈",
            Status::Checked => "核查通过",
            Status::Closed => "结案",
            Status::Parked => "挂账",
            Status::Voided => "作废",
            Status::Merged => "已合并",
        }
    }

    /// Whether the case is finished.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Closed | Status::Voided | Status::Merged)
    }
}

/// A side request that needs approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// 延时: more time.
    Extend,
    /// 回退: wrongly dispatched, back to the dispatcher.
    SendBack,
    /// 挂账: park.
    Park,
    /// 作废: void.
    Void,
}

impl RequestKind {
    /// Who may ask.
    fn requesters(self) -> &'static [Role] {
        match self {
            RequestKind::Extend | RequestKind::SendBack => &[Role::Handler],
            RequestKind::Park => &[Role::Dispatcher, Role::ShiftLead],
            RequestKind::Void => &[Role::IntakeClerk, Role::Dispatcher, Role::ShiftLead],
        }
    }

    /// Who may approve or reject.
    fn approvers(self) -> &'static [Role] {
        match self {
            RequestKind::Extend => &[Role::Dispatcher, Role::ShiftLead],
            RequestKind::SendBack => &[Role::Dispatcher],
            RequestKind::Park | RequestKind::Void => &[Role::ShiftLead],
        }
    }

    /// In which statuses it may be asked.
    fn from(self) -> &'static [Status] {
        match self {
            RequestKind::Extend | RequestKind::SendBack => &[Status::Dispatched, Status::Handling],
            RequestKind::Park => &[Status::Registered, Status::Dispatched, Status::Handling],
            RequestKind::Void => &[Status::Verifying, Status::Collected, Status::Registered],
        }
    }
}

/// What someone does to a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// The inspector verified on site (核实): the problem exists or it does not (不属实).
    Verify {
        /// Whether the problem was found.
        confirmed: bool,
    },
    /// 立案.
    Register,
    /// 派遣 to a responsible unit.
    Dispatch {
        /// The unit.
        unit_code: String,
    },
    /// The unit takes the case on.
    Accept,
    /// The unit reports back (反馈).
    Feedback,
    /// The inspector's check on site (核查): passed, or back to the unit (返工).
    Check {
        /// Whether the problem is fixed.
        passed: bool,
    },
    /// 结案.
    Close,
    /// Ask for 延时, 回退, 挂账 or 作废.
    Request {
        /// Which.
        kind: RequestKind,
    },
    /// Approve the pending request.
    Approve,
    /// Reject the pending request.
    Reject,
    /// Take a parked case up again.
    Resume,
    /// Fold this report into an open case of the same problem (a duplicate).
    Link {
        /// The case it duplicates.
        into: i64,
    },
}

/// The parts of a case the rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseState {
    /// Status.
    pub status: Status,
    /// The unit grid of the case (inspectors act on their own grids only).
    pub grid_code: Option<String>,
    /// The unit it is dispatched to (handlers act for their own unit only).
    pub unit_code: Option<String>,
    /// A request waiting for approval.
    pub pending: Option<RequestKind>,
    /// The status a parked case returns to.
    pub parked_from: Option<Status>,
    /// Dispatched to a 门前三包 shop that fixes it itself: the grid's inspector confirms on the
    /// shop's behalf (shops have no accounts).
    pub shop_self_fix: bool,
}

/// What an allowed action does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The new status.
    pub to: Status,
    /// The unit after the action (None: unchanged; Some(None): cleared).
    pub unit: Option<Option<String>>,
    /// The pending request after the action (None: unchanged; Some(x): set to x).
    pub pending: Option<Option<RequestKind>>,
    /// A failed check: count one rework (返工).
    pub rework: bool,
    /// Sent back as wrongly dispatched: count against 准确派遣率.
    pub wrong_dispatch: bool,
    /// An approved extension: the deadline moves.
    pub extended: bool,
    /// The clock of the handling time limit starts.
    pub clock_starts: bool,
    /// When parking: the status to resume to later.
    pub parked_from: Option<Status>,
}

impl Transition {
    fn to(to: Status) -> Self {
        Self {
            to,
            unit: None,
            pending: None,
            rework: false,
            wrong_dispatch: false,
            extended: false,
            clock_starts: false,
            parked_from: None,
        }
    }
}

/// Why an action is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// The role or scope does not allow it (403).
    #[error(transparent)]
    Forbidden(#[from] ScopeError),
    /// Not possible in this status (409).
    #[error("{action} is not possible while the case is {status} ({zh})", zh = status.label_zh(), status = serde_json::to_string(status).unwrap_or_default().trim_matches('"'))]
    InvalidTransition {
        /// The action's name.
        action: &'static str,
        /// The status.
        status: Status,
    },
    /// Another request waits for approval (409).
    #[error("a {0:?} request is already waiting for approval")]
    RequestPending(RequestKind),
    /// Nothing to approve or reject (409).
    #[error("no request is waiting for approval")]
    NothingPending,
}

/// An action's name, without its parameters: what `allowed` lists and the audit log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// 核实.
    Verify,
    /// 立案.
    Register,
    /// 派遣.
    Dispatch,
    /// 接收.
    Accept,
    /// 反馈.
    Feedback,
    /// 核查.
    Check,
    /// 结案.
    Close,
    /// 申请 (延时, 回退, 挂账, 作废).
    Request,
    /// 批准.
    Approve,
    /// 驳回.
    Reject,
    /// 恢复.
    Resume,
    /// 关联 (merge a duplicate).
    Link,
}

impl ActionKind {
    /// Every action, in workflow order.
    pub const ALL: [ActionKind; 12] = [
        ActionKind::Verify,
        ActionKind::Register,
        ActionKind::Dispatch,
        ActionKind::Accept,
        ActionKind::Feedback,
        ActionKind::Check,
        ActionKind::Close,
        ActionKind::Request,
        ActionKind::Approve,
        ActionKind::Reject,
        ActionKind::Resume,
        ActionKind::Link,
    ];

    /// The stable wire name (the `action` of a request, `case.<name>` in the audit log).
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Verify => "verify",
            ActionKind::Register => "register",
            ActionKind::Dispatch => "dispatch",
            ActionKind::Accept => "accept",
            ActionKind::Feedback => "feedback",
            ActionKind::Check => "check",
            ActionKind::Close => "close",
            ActionKind::Request => "request",
            ActionKind::Approve => "approve",
            ActionKind::Reject => "reject",
            ActionKind::Resume => "resume",
            ActionKind::Link => "link",
        }
    }
}

impl Action {
    /// The action's name.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Verify { .. } => ActionKind::Verify,
            Action::Register => ActionKind::Register,
            Action::Dispatch { .. } => ActionKind::Dispatch,
            Action::Accept => ActionKind::Accept,
            Action::Feedback => ActionKind::Feedback,
            Action::Check { .. } => ActionKind::Check,
            Action::Close => ActionKind::Close,
            Action::Request { .. } => ActionKind::Request,
            Action::Approve => ActionKind::Approve,
            Action::Reject => ActionKind::Reject,
            Action::Resume => ActionKind::Resume,
            Action::Link { .. } => ActionKind::Link,
        }
    }
}

/// What a user may do to a case now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowed {
    /// The actions [`apply`] would accept, in workflow order.
    pub actions: Vec<ActionKind>,
    /// The requests (`request {kind}`) [`apply`] would accept.
    pub requests: Vec<RequestKind>,
}

/// The actions `actor` may take on `case` now, asked of [`apply`] itself, so that a client
/// offers exactly what the state machine accepts. Parameters that [`apply`] does not look at
/// (the unit of a dispatch, the case a duplicate is linked into, the outcome of a verification
/// or check) are left out: the service checks those when the action comes.
pub fn allowed(case: &CaseState, actor: &Principal) -> Allowed {
    let accepts = |action: Action| apply(case, actor, &action).is_ok();
    let requests: Vec<RequestKind> = RequestKind::ALL
        .into_iter()
        .filter(|&kind| accepts(Action::Request { kind }))
        .collect();
    let actions = ActionKind::ALL
        .into_iter()
        .filter(|kind| match kind {
            ActionKind::Verify => accepts(Action::Verify { confirmed: true }),
            ActionKind::Register => accepts(Action::Register),
            ActionKind::Dispatch => accepts(Action::Dispatch {
                unit_code: String::new(),
            }),
            ActionKind::Accept => accepts(Action::Accept),
            ActionKind::Feedback => accepts(Action::Feedback),
            ActionKind::Check => accepts(Action::Check { passed: true }),
            ActionKind::Close => accepts(Action::Close),
            ActionKind::Request => !requests.is_empty(),
            ActionKind::Approve => accepts(Action::Approve),
            ActionKind::Reject => accepts(Action::Reject),
            ActionKind::Resume => accepts(Action::Resume),
            ActionKind::Link => accepts(Action::Link { into: 0 }),
        })
        .collect();
    Allowed { actions, requests }
}

fn grid_scope(actor: &Principal, case: &CaseState) -> Result<(), ScopeError> {
    match &case.grid_code {
        Some(g) => actor.require_grid(g),
        None if actor.role == Role::Admin => Ok(()),
        None => Err(ScopeError::OutOfScope(
            "the case has no grid; only an admin may act".into(),
        )),
    }
}

fn unit_scope(actor: &Principal, case: &CaseState) -> Result<(), ScopeError> {
    match &case.unit_code {
        Some(u) => actor.require_unit(u),
        None => Err(ScopeError::OutOfScope(
            "the case is not dispatched to any unit".into(),
        )),
    }
}

/// Decides whether `actor` may do `action` to `case`, and what it does.
pub fn apply(
    case: &CaseState,
    actor: &Principal,
    action: &Action,
) -> Result<Transition, WorkflowError> {
    use Status::*;
    let invalid = || WorkflowError::InvalidTransition {
        action: action.kind().as_str(),
        status: case.status,
    };
    let roles = |allowed: &[Role]| -> Result<(), WorkflowError> {
        if actor.role == Role::Admin {
            return Ok(());
        }
        actor.require_role(allowed).map_err(WorkflowError::from)
    };
    if case.pending.is_some() && !matches!(action, Action::Approve | Action::Reject) {
        // A waiting request freezes the case until it is decided.
        if let Some(kind) = case.pending {
            return Err(WorkflowError::RequestPending(kind));
        }
    }
    match action {
        Action::Verify { confirmed } => {
            roles(&[Role::Inspector])?;
            grid_scope(actor, case)?;
            if case.status != Verifying {
                return Err(invalid());
            }
            Ok(Transition::to(if *confirmed { Collected } else { Voided }))
        }
        Action::Register => {
            roles(&[Role::IntakeClerk, Role::ShiftLead])?;
            if case.status != Collected {
                return Err(invalid());
            }
            Ok(Transition::to(Registered))
        }
        Action::Dispatch { unit_code } => {
            roles(&[Role::Dispatcher])?;
            if case.status != Registered {
                return Err(invalid());
            }
            Ok(Transition {
                unit: Some(Some(unit_code.clone())),
                clock_starts: true,
                ..Transition::to(Dispatched)
            })
        }
        Action::Accept => {
            handler_or_shop_inspector(actor, case)?;
            if case.status != Dispatched {
                return Err(invalid());
            }
            Ok(Transition::to(Handling))
        }
        Action::Feedback => {
            handler_or_shop_inspector(actor, case)?;
            if case.status != Handling {
                return Err(invalid());
            }
            Ok(Transition::to(FedBack))
        }
        Action::Check { passed } => {
            roles(&[Role::Inspector])?;
            grid_scope(actor, case)?;
            if case.status != FedBack {
                return Err(invalid());
            }
            Ok(if *passed {
                Transition::to(Checked)
            } else {
                Transition {
                    rework: true,
                    ..Transition::to(Handling)
                }
            })
        }
        Action::Close => {
            roles(&[Role::ShiftLead])?;
            if case.status != Checked {
                return Err(invalid());
            }
            Ok(Transition::to(Closed))
        }
        Action::Request { kind } => {
            roles(kind.requesters())?;
            if actor.role == Role::Handler {
                unit_scope(actor, case)?;
            }
            if !kind.from().contains(&case.status) {
                return Err(invalid());
            }
            Ok(Transition {
                pending: Some(Some(*kind)),
                ..Transition::to(case.status)
            })
        }
        Action::Approve | Action::Reject => {
            let kind = case.pending.ok_or(WorkflowError::NothingPending)?;
            roles(kind.approvers())?;
            let cleared = Transition {
                pending: Some(None),
                ..Transition::to(case.status)
            };
            if matches!(action, Action::Reject) {
                return Ok(cleared);
            }
            Ok(match kind {
                RequestKind::Extend => Transition {
                    extended: true,
                    ..cleared
                },
                RequestKind::SendBack => Transition {
                    to: Registered,
                    unit: Some(None),
                    wrong_dispatch: true,
                    ..cleared
                },
                RequestKind::Park => Transition {
                    to: Parked,
                    parked_from: Some(case.status),
                    ..cleared
                },
                RequestKind::Void => Transition {
                    to: Voided,
                    ..cleared
                },
            })
        }
        Action::Resume => {
            roles(&[Role::ShiftLead])?;
            if case.status != Parked {
                return Err(invalid());
            }
            Ok(Transition::to(case.parked_from.unwrap_or(Registered)))
        }
        Action::Link { .. } => {
            roles(&[Role::IntakeClerk, Role::ShiftLead, Role::Dispatcher])?;
            if !matches!(case.status, Verifying | Collected | Registered) {
                return Err(invalid());
            }
            Ok(Transition::to(Merged))
        }
    }
}

/// Accept and feedback belong to the handler of the unit, or, while a 门前三包 shop fixes the
/// problem itself, to the grid's inspector who sees it done.
fn handler_or_shop_inspector(actor: &Principal, case: &CaseState) -> Result<(), WorkflowError> {
    if actor.role == Role::Inspector && case.shop_self_fix {
        return Ok(grid_scope(actor, case)?);
    }
    if actor.role != Role::Admin {
        actor.require_role(&[Role::Handler])?;
    }
    Ok(unit_scope(actor, case)?)
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 11] = [
        Status::Verifying,
        Status::Collected,
        Status::Registered,
        Status::Dispatched,
        Status::Handling,
        Status::FedBack,
        Status::Checked,
        Status::Closed,
        Status::Parked,
        Status::Voided,
        Status::Merged,
    ];

    /// The stable wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Verifying => "verifying",
            Status::Collected => "collected",
            Status::Registered => "registered",
            Status::Dispatched => "dispatched",
            Status::Handling => "handling",
            Status::FedBack => "fed_back",
            Status::Checked => "checked",
            Status::Closed => "closed",
            Status::Parked => "parked",
            Status::Voided => "voided",
            Status::Merged => "merged",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl RequestKind {
    /// Every kind.
    pub const ALL: [RequestKind; 4] = [
        RequestKind::Extend,
        RequestKind::SendBack,
        RequestKind::Park,
        RequestKind::Void,
    ];

    /// The stable wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Extend => "extend",
            RequestKind::SendBack => "send_back",
            RequestKind::Park => "park",
            RequestKind::Void => "void",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<RequestKind> {
        RequestKind::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRID: &str = "410103001001001";
    const UNIT: &str = "dept-410103-hw";

    fn who(role: Role) -> Principal {
        Principal {
            user_id: 1,
            username: role.as_str().into(),
            display_name: role.label_zh().into(),
            role,
            unit_code: (role == Role::Handler).then(|| UNIT.to_owned()),
            grids: [GRID.to_owned()].into(),
        }
    }

    fn case(status: Status) -> CaseState {
        CaseState {
            status,
            grid_code: Some(GRID.into()),
            unit_code: matches!(
                status,
                Status::Dispatched | Status::Handling | Status::FedBack | Status::Checked
            )
            .then(|| UNIT.to_owned()),
            pending: None,
            parked_from: None,
            shop_self_fix: false,
        }
    }

    fn run(mut c: CaseState, steps: &[(Role, Action)]) -> CaseState {
        for (role, action) in steps {
            let t = apply(&c, &who(*role), action)
                .unwrap_or_else(|e| panic!("{role} {action:?} on {:?}: {e}", c.status));
            c.status = t.to;
            if let Some(u) = t.unit {
                c.unit_code = u;
            }
            if let Some(p) = t.pending {
                c.pending = p;
            }
        }
        c
    }

    #[test]
    fn a_citizen_report_travels_the_whole_loop_with_one_rework() {
        use Action::*;
        let c = run(
            case(Status::Verifying),
            &[
                (Role::Inspector, Verify { confirmed: true }),
                (Role::IntakeClerk, Register),
                (
                    Role::Dispatcher,
                    Dispatch {
                        unit_code: UNIT.into(),
                    },
                ),
                (Role::Handler, Accept),
                (Role::Handler, Feedback),
                (Role::Inspector, Check { passed: false }),
                (Role::Handler, Feedback),
                (Role::Inspector, Check { passed: true }),
                (Role::ShiftLead, Close),
            ],
        );
        assert_eq!(c.status, Status::Closed);
    }

    #[test]
    fn a_failed_check_counts_a_rework_and_returns_the_case_to_the_unit() {
        let t = apply(
            &case(Status::FedBack),
            &who(Role::Inspector),
            &Action::Check { passed: false },
        )
        .unwrap();
        assert_eq!(t.to, Status::Handling);
        assert!(t.rework);
    }

    #[test]
    fn dispatch_starts_the_clock() {
        let t = apply(
            &case(Status::Registered),
            &who(Role::Dispatcher),
            &Action::Dispatch {
                unit_code: UNIT.into(),
            },
        )
        .unwrap();
        assert!(t.clock_starts);
        assert_eq!(t.unit, Some(Some(UNIT.into())));
    }

    #[test]
    fn an_unconfirmed_report_is_void() {
        let t = apply(
            &case(Status::Verifying),
            &who(Role::Inspector),
            &Action::Verify { confirmed: false },
        )
        .unwrap();
        assert_eq!(t.to, Status::Voided);
    }

    #[test]
    fn each_step_is_refused_to_every_other_role() {
        use Action::*;
        let steps: [(Status, Action, &[Role]); 7] = [
            (
                Status::Verifying,
                Verify { confirmed: true },
                &[Role::Inspector, Role::Admin],
            ),
            (
                Status::Collected,
                Register,
                &[Role::IntakeClerk, Role::ShiftLead, Role::Admin],
            ),
            (
                Status::Registered,
                Dispatch {
                    unit_code: UNIT.into(),
                },
                &[Role::Dispatcher, Role::Admin],
            ),
            (Status::Dispatched, Accept, &[Role::Handler, Role::Admin]),
            (Status::Handling, Feedback, &[Role::Handler, Role::Admin]),
            (
                Status::FedBack,
                Check { passed: true },
                &[Role::Inspector, Role::Admin],
            ),
            (Status::Checked, Close, &[Role::ShiftLead, Role::Admin]),
        ];
        for (status, action, allowed) in steps {
            for role in Role::ALL {
                let r = apply(&case(status), &who(role), &action);
                assert_eq!(
                    r.is_ok(),
                    allowed.contains(&role),
                    "{role} {action:?} on {status:?}: {r:?}"
                );
                if let Err(e) = r {
                    assert!(matches!(e, WorkflowError::Forbidden(_)), "{e}");
                }
            }
        }
    }

    #[test]
    fn an_inspector_outside_the_grid_and_a_handler_of_another_unit_are_out_of_scope() {
        let mut other = case(Status::FedBack);
        other.grid_code = Some("410103001001002".into());
        let e = apply(
            &other,
            &who(Role::Inspector),
            &Action::Check { passed: true },
        )
        .unwrap_err();
        assert!(matches!(
            e,
            WorkflowError::Forbidden(ScopeError::OutOfScope(_))
        ));
        let mut elsewhere = case(Status::Dispatched);
        elsewhere.unit_code = Some("dept-410103-yl".into());
        let e = apply(&elsewhere, &who(Role::Handler), &Action::Accept).unwrap_err();
        assert!(matches!(
            e,
            WorkflowError::Forbidden(ScopeError::OutOfScope(_))
        ));
    }

    #[test]
    fn steps_out_of_order_are_invalid_transitions() {
        let e = apply(
            &case(Status::Registered),
            &who(Role::ShiftLead),
            &Action::Close,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            WorkflowError::InvalidTransition {
                action: "close",
                status: Status::Registered
            }
        ));
        assert!(e.to_string().contains("立案"));
        let e = apply(
            &case(Status::Closed),
            &who(Role::Dispatcher),
            &Action::Dispatch {
                unit_code: UNIT.into(),
            },
        )
        .unwrap_err();
        assert!(matches!(e, WorkflowError::InvalidTransition { .. }));
    }

    #[test]
    fn a_send_back_needs_the_dispatcher_and_counts_a_wrong_dispatch() {
        let mut c = case(Status::Handling);
        let t = apply(
            &c,
            &who(Role::Handler),
            &Action::Request {
                kind: RequestKind::SendBack,
            },
        )
        .unwrap();
        c.pending = t.pending.flatten();
        // While it waits, the case is frozen.
        assert_eq!(
            apply(&c, &who(Role::Handler), &Action::Feedback),
            Err(WorkflowError::RequestPending(RequestKind::SendBack))
        );
        assert!(apply(&c, &who(Role::ShiftLead), &Action::Approve).is_err());
        let t = apply(&c, &who(Role::Dispatcher), &Action::Approve).unwrap();
        assert_eq!(t.to, Status::Registered);
        assert!(t.wrong_dispatch);
        assert_eq!(t.unit, Some(None));
        assert_eq!(t.pending, Some(None));
    }

    #[test]
    fn extension_park_void_and_their_approvers() {
        let mut c = case(Status::Handling);
        c.pending = Some(RequestKind::Extend);
        assert!(
            apply(&c, &who(Role::Dispatcher), &Action::Approve)
                .unwrap()
                .extended
        );
        c.pending = Some(RequestKind::Park);
        assert!(apply(&c, &who(Role::Dispatcher), &Action::Approve).is_err());
        let parked = apply(&c, &who(Role::ShiftLead), &Action::Approve).unwrap();
        assert_eq!(
            (parked.to, parked.parked_from),
            (Status::Parked, Some(Status::Handling))
        );
        let mut v = case(Status::Collected);
        let t = apply(
            &v,
            &who(Role::IntakeClerk),
            &Action::Request {
                kind: RequestKind::Void,
            },
        )
        .unwrap();
        v.pending = t.pending.flatten();
        assert_eq!(
            apply(&v, &who(Role::ShiftLead), &Action::Reject)
                .unwrap()
                .pending,
            Some(None)
        );
        assert_eq!(
            apply(&v, &who(Role::ShiftLead), &Action::Approve)
                .unwrap()
                .to,
            Status::Voided
        );
        // Voiding a case already at work is not a request anyone can make.
        assert!(
            apply(
                &case(Status::Handling),
                &who(Role::ShiftLead),
                &Action::Request {
                    kind: RequestKind::Void
                }
            )
            .is_err()
        );
        assert_eq!(
            apply(
                &case(Status::Handling),
                &who(Role::Dispatcher),
                &Action::Approve
            ),
            Err(WorkflowError::NothingPending)
        );
    }

    #[test]
    fn a_parked_case_resumes_where_it_stood() {
        let mut c = case(Status::Parked);
        c.parked_from = Some(Status::Dispatched);
        assert_eq!(
            apply(&c, &who(Role::ShiftLead), &Action::Resume)
                .unwrap()
                .to,
            Status::Dispatched
        );
        assert!(apply(&c, &who(Role::Dispatcher), &Action::Resume).is_err());
    }

    #[test]
    fn a_duplicate_report_is_linked_by_intake_staff_before_dispatch_only() {
        let link = Action::Link { into: 7 };
        for status in [Status::Verifying, Status::Collected, Status::Registered] {
            let t = apply(&case(status), &who(Role::IntakeClerk), &link).unwrap();
            assert_eq!(t.to, Status::Merged);
        }
        assert!(matches!(
            apply(&case(Status::Dispatched), &who(Role::ShiftLead), &link),
            Err(WorkflowError::InvalidTransition { .. })
        ));
        assert!(matches!(
            apply(&case(Status::Collected), &who(Role::Handler), &link),
            Err(WorkflowError::Forbidden(_))
        ));
        assert!(Status::Merged.is_final());
    }

    #[test]
    fn the_grids_inspector_confirms_a_shops_own_fix_but_not_a_departments() {
        let mut c = case(Status::Dispatched);
        c.unit_code = Some("shop-1".into());
        let inspector = who(Role::Inspector);
        assert!(matches!(
            apply(&c, &inspector, &Action::Accept),
            Err(WorkflowError::Forbidden(_))
        ));
        c.shop_self_fix = true;
        assert_eq!(
            apply(&c, &inspector, &Action::Accept).unwrap().to,
            Status::Handling
        );
        c.status = Status::Handling;
        assert_eq!(
            apply(&c, &inspector, &Action::Feedback).unwrap().to,
            Status::FedBack
        );
        c.grid_code = Some("410103001001999".into());
        assert!(matches!(
            apply(&c, &inspector, &Action::Feedback),
            Err(WorkflowError::Forbidden(_))
        ));
    }
    /// Button names as the map page shows them: `verify`/`check` are two buttons each, a request
    /// one per kind.
    fn offered(c: &CaseState, role: Role) -> Vec<String> {
        let a = allowed(c, &who(role));
        let mut out = Vec::new();
        for kind in &a.actions {
            match kind {
                ActionKind::Verify => out.extend(["verify_yes".into(), "verify_no".into()]),
                ActionKind::Check => out.extend(["check_pass".into(), "check_fail".into()]),
                ActionKind::Request => {
                    out.extend(a.requests.iter().map(|k| format!("request_{}", k.as_str())))
                }
                k => out.push(k.as_str().to_owned()),
            }
        }
        out
    }

    #[test]
    fn each_role_is_offered_exactly_the_actions_of_the_state_machine_in_each_status() {
        use Role::*;
        let asks = ["request_extend", "request_send_back"];
        type ByRole<'a> = &'a [(Role, &'a [&'a str])];
        let expected: &[(Status, ByRole)] = &[
            (
                Status::Verifying,
                &[
                    (Inspector, &["verify_yes", "verify_no"]),
                    (IntakeClerk, &["request_void", "link"]),
                    (Dispatcher, &["request_void", "link"]),
                    (ShiftLead, &["request_void", "link"]),
                ],
            ),
            (
                Status::Collected,
                &[
                    (IntakeClerk, &["register", "request_void", "link"]),
                    (ShiftLead, &["register", "request_void", "link"]),
                    (Dispatcher, &["request_void", "link"]),
                ],
            ),
            (
                Status::Registered,
                &[
                    (
                        Dispatcher,
                        &["dispatch", "request_park", "request_void", "link"],
                    ),
                    (ShiftLead, &["request_park", "request_void", "link"]),
                    (IntakeClerk, &["request_void", "link"]),
                ],
            ),
            (
                Status::Dispatched,
                &[
                    (Handler, &["accept", asks[0], asks[1]]),
                    (Dispatcher, &["request_park"]),
                    (ShiftLead, &["request_park"]),
                ],
            ),
            (
                Status::Handling,
                &[
                    (Handler, &["feedback", asks[0], asks[1]]),
                    (Dispatcher, &["request_park"]),
                    (ShiftLead, &["request_park"]),
                ],
            ),
            (
                Status::FedBack,
                &[(Inspector, &["check_pass", "check_fail"])],
            ),
            (Status::Checked, &[(ShiftLead, &["close"])]),
            (Status::Parked, &[(ShiftLead, &["resume"])]),
            (Status::Closed, &[]),
            (Status::Voided, &[]),
            (Status::Merged, &[]),
        ];
        for (status, by_role) in expected {
            let mut c = case(*status);
            c.unit_code = Some(UNIT.into());
            for role in Role::ALL.into_iter().filter(|r| *r != Admin) {
                let want: Vec<String> = by_role
                    .iter()
                    .find(|(r, _)| *r == role)
                    .map(|(_, a)| a.iter().map(|s| (*s).to_owned()).collect())
                    .unwrap_or_default();
                assert_eq!(offered(&c, role), want, "{role} on {status:?}");
            }
        }
    }

    #[test]
    fn a_pending_request_is_decided_by_its_approvers_only_and_freezes_the_rest() {
        for kind in RequestKind::ALL {
            for status in Status::ALL {
                let mut c = case(status);
                c.unit_code = Some(UNIT.into());
                c.pending = Some(kind);
                for role in Role::ALL {
                    let want: &[&str] = if role == Role::Admin || kind.approvers().contains(&role) {
                        &["approve", "reject"]
                    } else {
                        &[]
                    };
                    assert_eq!(
                        offered(&c, role),
                        want,
                        "{role} on {status:?} with {kind:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn nothing_is_offered_outside_the_grid_or_unit_but_the_shops_fix_to_the_grids_inspector() {
        let mut c = case(Status::Verifying);
        c.grid_code = Some("410103009001010".into());
        assert!(allowed(&c, &who(Role::Inspector)).actions.is_empty());
        let mut c = case(Status::Dispatched);
        c.unit_code = Some("dept-410102-hw".into());
        assert!(allowed(&c, &who(Role::Handler)).actions.is_empty());
        c.shop_self_fix = true;
        assert_eq!(
            allowed(&c, &who(Role::Inspector)).actions,
            [ActionKind::Accept]
        );
    }
}
