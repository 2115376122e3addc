//! How a case is shown to clients: [`CaseView`], with explicit fields and its own OpenAPI schema,
//! built from what the case service answers (the domain case, its clocks read now, and what the
//! requesting user may do to it).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, SchemaType, Type};

use crate::cases::{CaseInfo, DuplicateHint};
use crate::domain::calendar::Light;
use crate::domain::case::{ActionKind, Allowed, RequestKind, Status};
use crate::domain::dispatch::ChainLink;

/// A case as sent to clients.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseView {
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
    /// The coordinate system the report was made in (the point is stored in WGS84).
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
    /// 门前三包 frontage strip.
    pub frontage_code: Option<String>,
    /// Status.
    #[schema(schema_with = status_schema)]
    pub status: Status,
    /// The unit it is dispatched to.
    pub unit_code: Option<String>,
    /// The dispatch rule that fired (`manual` for a dispatcher's decision, `sent_back`).
    pub dispatch_rule: Option<String>,
    /// The owner chain the dispatch decision was made on.
    pub owner_chain: Option<Vec<ChainLinkView>>,
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
    /// The request waiting for approval.
    #[schema(schema_with = pending_schema)]
    pub pending_request: Option<RequestKind>,
    /// The status a parked case resumes to.
    #[schema(schema_with = parked_from_schema)]
    pub parked_from: Option<Status>,
    /// Failed checks (返工).
    pub rework_count: i64,
    /// Sent back as wrongly dispatched.
    pub wrong_dispatches: i64,
    /// The reporting user (staff).
    pub reported_by: Option<i64>,
    /// When reported.
    pub reported_at: DateTime<Utc>,
    /// When (last) dispatched: the handling clock's start.
    pub dispatched_at: Option<DateTime<Utc>>,
    /// The handling deadline (处置时限).
    pub deadline_at: Option<DateTime<Utc>>,
    /// When the current step started.
    pub step_started_at: Option<DateTime<Utc>>,
    /// The current step's deadline.
    pub step_due_at: Option<DateTime<Utc>>,
    /// The whole case's deadline, report to close.
    pub due_at: Option<DateTime<Utc>>,
    /// When closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Case number for people, e.g. AJ00000042.
    pub case_no: String,
    /// Status in Chinese.
    pub status_zh: &'static str,
    /// Category name.
    pub category_name: Option<String>,
    /// Handling-deadline light while the unit's clock runs (派遣, 处置).
    #[schema(schema_with = light_schema)]
    pub light: Option<Light>,
    /// Light of the current step's deadline.
    #[schema(schema_with = light_schema)]
    pub step_light: Option<Light>,
    /// A deadline has passed while the stage it measures still runs: the handling deadline
    /// while 派遣/处置, the step and overall deadlines while the case is open and not parked. The
    /// same rule as `GET /api/cases?overdue=true`.
    pub overdue: bool,
    /// A deadline of this case lies past the last day of the holiday table (`/api/calendar`
    /// `known_until`): it was counted with weekends only, without 元旦, 春节 or 调休.
    pub deadline_without_holidays: bool,
    /// Open cases this report may duplicate (intake answer only): link with action `link`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<DuplicateHint>,
    /// What the intake did differently from what was asked (intake answer only), e.g.
    /// `outside_patrol_grids`: an inspector's report outside their grids went to 核实.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<Notice>,
    /// The actions the requesting user may take now (`POST /api/cases/{id}/actions`), decided
    /// by the workflow's state machine with the user's role and scope. A client offers these and
    /// no others.
    #[schema(schema_with = actions_schema)]
    pub allowed_actions: Vec<ActionKind>,
    /// The kinds of `request` the requesting user may make now.
    #[schema(schema_with = requests_schema)]
    pub allowed_requests: Vec<RequestKind>,
}

/// One link of an owner chain.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChainLinkView {
    /// grid, community, street, district, frontage, railway_land, urban_village, back_alley,
    /// department.
    pub level: String,
    /// Code of the area, frontage or zone.
    pub code: String,
    /// Its name.
    pub name: String,
    /// The responsible unit, when one is recorded.
    pub unit_code: Option<String>,
}

impl From<ChainLink> for ChainLinkView {
    fn from(l: ChainLink) -> Self {
        Self {
            level: l.level,
            code: l.code,
            name: l.name,
            unit_code: l.unit_code,
        }
    }
}

/// A note on an intake answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Notice {
    /// Stable code, e.g. `outside_patrol_grids`.
    pub code: &'static str,
    /// What happened, Chinese then English.
    pub message: String,
}

impl CaseView {
    /// The view of a case as the service read it, with what the requesting user may do.
    pub fn new(info: CaseInfo, allowed: Allowed) -> Self {
        let CaseInfo {
            case: c,
            category_name,
            clocks,
        } = info;
        CaseView {
            case_no: c.case_no(),
            status_zh: c.status.label_zh(),
            category_name,
            light: clocks.light,
            step_light: clocks.step_light,
            overdue: clocks.overdue,
            deadline_without_holidays: clocks.deadline_without_holidays,
            duplicates: Vec::new(),
            notice: None,
            allowed_actions: allowed.actions,
            allowed_requests: allowed.requests,
            id: c.id,
            source: c.source,
            category: c.category,
            category_version: c.category_version,
            description: c.description,
            lon: c.lon,
            lat: c.lat,
            input_crs: c.input_crs,
            external_ref: c.external_ref,
            grid_code: c.grid_code,
            community_code: c.community_code,
            street_code: c.street_code,
            district_code: c.district_code,
            frontage_code: c.frontage_code,
            status: c.status,
            unit_code: c.unit_code,
            dispatch_rule: c.dispatch_rule,
            owner_chain: c
                .owner_chain
                .map(|chain| chain.into_iter().map(ChainLinkView::from).collect()),
            co_owner_unit: c.co_owner_unit,
            queue: c.queue,
            triage_unit: c.triage_unit,
            escalation: c.escalation,
            escalation_due_at: c.escalation_due_at,
            enforcement_unit: c.enforcement_unit,
            linked_to: c.linked_to,
            linked_count: c.linked_count,
            pending_request: c.pending_request,
            parked_from: c.parked_from,
            rework_count: c.rework_count,
            wrong_dispatches: c.wrong_dispatches,
            reported_by: c.reported_by,
            reported_at: c.reported_at,
            dispatched_at: c.dispatched_at,
            deadline_at: c.deadline_at,
            step_started_at: c.step_started_at,
            step_due_at: c.step_due_at,
            due_at: c.due_at,
            closed_at: c.closed_at,
            version: c.version,
        }
    }
}

/// The end of a serialised view whose reader has not been asked yet: see [`with_reader`].
const NO_READER: &str = r#""allowed_actions":[],"allowed_requests":[]}"#;

/// Puts one reader's allowed actions into JSON that ends with a view serialised for nobody (its
/// lists empty; the view is the last value of every object it closes). The live stream
/// serialises each message once and fills in each subscriber's actions here.
pub fn with_reader(serialised: &str, allowed: &Allowed) -> String {
    let trimmed = serialised.trim_end_matches('}');
    let closing = serialised.len() - trimmed.len();
    let Some(head) = serialised
        .strip_suffix(&"}".repeat(closing - 1))
        .and_then(|s| s.strip_suffix(NO_READER))
    else {
        debug_assert!(false, "not a view serialised for nobody: {serialised}");
        return serialised.to_owned();
    };
    let list = |v: Vec<&str>| serde_json::to_string(&v).unwrap_or_else(|_| "[]".into());
    format!(
        r#"{head}"allowed_actions":{},"allowed_requests":{}}}{}"#,
        list(allowed.actions.iter().map(|a| a.as_str()).collect()),
        list(allowed.requests.iter().map(|r| r.as_str()).collect()),
        "}".repeat(closing - 1)
    )
}

fn string_enum(values: impl IntoIterator<Item = &'static str>, nullable: bool) -> ObjectBuilder {
    let mut values: Vec<serde_json::Value> = values.into_iter().map(Into::into).collect();
    let ty = if nullable {
        values.push(serde_json::Value::Null);
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(ty)
        .enum_values(Some(values))
}

fn status_schema() -> Object {
    string_enum(Status::ALL.map(Status::as_str), false)
        .description(Some("verifying 核实, collected 采集, registered 立案, dispatched 派遣, handling 处置, fed_back 反馈, checked 核查通过, closed 结案, parked 挂账, voided 作废, merged 已合并"))
        .build()
}

fn parked_from_schema() -> Object {
    string_enum(Status::ALL.map(Status::as_str), true).build()
}

fn pending_schema() -> Object {
    string_enum(RequestKind::ALL.map(RequestKind::as_str), true)
        .description(Some("extend 延时, send_back 回退, park 挂账, void 作废"))
        .build()
}

fn light_schema() -> Object {
    string_enum(["green", "yellow", "red"], true)
        .description(Some(
            "green under 80 % of the time used, yellow 80–100 %, red when overdue",
        ))
        .build()
}

fn actions_schema() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .items(string_enum(ActionKind::ALL.map(ActionKind::as_str), false).build())
        .build()
}

fn requests_schema() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .items(string_enum(RequestKind::ALL.map(RequestKind::as_str), false).build())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::case::{Case, ClockReading};

    fn view(allowed: Allowed) -> CaseView {
        let info = CaseInfo {
            case: Case {
                id: 42,
                reported_at: DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
                ..Case::draft("citizen", "0101", 113.6, 34.7)
            },
            category_name: Some("暴露垃圾".into()),
            clocks: ClockReading {
                light: None,
                step_light: None,
                overdue: false,
                deadline_without_holidays: false,
            },
        };
        CaseView::new(info, allowed)
    }

    #[test]
    fn a_view_serialised_once_takes_each_readers_actions_as_if_serialised_for_them() {
        let allowed = Allowed {
            actions: vec![ActionKind::Accept, ActionKind::Request],
            requests: vec![RequestKind::Extend, RequestKind::SendBack],
        };
        #[derive(Serialize)]
        struct Message {
            event_id: i64,
            case: CaseView,
        }
        let message =
            |case: CaseView| serde_json::to_string(&Message { event_id: 7, case }).unwrap();
        let once = message(view(Allowed::default()));
        assert_eq!(with_reader(&once, &allowed), message(view(allowed.clone())));
        let bare = serde_json::to_string(&view(Allowed::default())).unwrap();
        assert_eq!(
            with_reader(&bare, &allowed),
            serde_json::to_string(&view(allowed)).unwrap()
        );
    }

    #[test]
    fn the_view_names_every_field_of_the_case_and_no_secret() {
        let v = serde_json::to_value(view(Allowed::default())).unwrap();
        let c = serde_json::to_value(Case::draft("citizen", "0101", 113.6, 34.7)).unwrap();
        for key in c.as_object().unwrap().keys() {
            assert!(v.get(key).is_some(), "{key} is missing from the view");
        }
        assert!(v.get("follow_token_hash").is_none());
    }
}
