//! Reports from staff and citizens: who enters which channel, what a citizen may not say, the
//! checks of a report, assignment of the place, duplicates, and an inspector's report
//! registered and dispatched at once.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::workflow::dispatch_event;
use super::{CaseError, CaseService, REPORTERS};
use crate::assign::geodesy::Tangent;
use crate::domain::case::{Case, Status, case_no};
use crate::domain::catalogue::Category;
use crate::domain::crs::{Crs, UnknownCrs};
use crate::domain::identity::{Principal, Role};
use crate::live::AssignError;
use crate::store::{Audit, NewCase, Open311Origin};

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
    /// A problem found by an inspection round (督查) at an assessment point: registered and
    /// dispatched at once, and never merged into another case, since the finding follows its
    /// own case until it is re-inspected.
    Inspection,
    /// A 市民找差团 volunteer's own report: starts in 核实 by the grid's inspector, like a
    /// citizen's; a volunteer never registers.
    Volunteer,
    /// A problem a volunteer found on a 市民找差团 round: starts in 核实 (a volunteer does not
    /// vouch for it as an inspector does), and like every finding is never merged into another
    /// case, since the finding follows its own case.
    VolunteerInspection,
}

impl Channel {
    /// The stored source name.
    pub fn source(self) -> &'static str {
        match self {
            Channel::Inspector | Channel::InspectorElsewhere => "inspector",
            Channel::Hotline => "hotline_12345",
            Channel::Citizen => "citizen",
            Channel::Inspection => "inspection",
            Channel::Volunteer => "volunteer",
            Channel::VolunteerInspection => "volunteer_inspection",
        }
    }

    /// A finding of an inspection round: never merged into another case.
    fn is_finding(self) -> bool {
        matches!(self, Channel::Inspection | Channel::VolunteerInspection)
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
    pub case: Case,
    /// False for a retry of an earlier submit.
    pub created: bool,
    /// Open cases this may duplicate, for the intake clerk to decide (link suggestions).
    pub duplicates: Vec<DuplicateHint>,
    /// A citizen's follow token: the same for the first answer and every retry.
    pub follow_token: Option<String>,
}

/// What a reporter says, as the API receives it; the service decides the channel, the key space
/// and who reported.
#[derive(Debug, Clone)]
pub struct Submission {
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
    /// The system the point is in, as parsed at the edge: an unknown one is refused in its
    /// place in the order of checks (after what a citizen may not say).
    pub crs: Result<Crs, UnknownCrs>,
    /// Register (立案) at once: an inspector's own report on their grids.
    pub register: bool,
    /// The hotline work-order number (an intake clerk's 12345 call).
    pub external_ref: Option<String>,
}

impl Submission {
    fn report(self, reported_by: Option<i64>) -> Result<Report, CaseError> {
        let crs = self
            .crs
            .map_err(|e| super::invalid("unknown_crs", e.to_string()))?;
        Ok(Report {
            idempotency_key: self.idempotency_key,
            category: self.category,
            description: self.description,
            lon: self.lon,
            lat: self.lat,
            crs,
            external_ref: self
                .external_ref
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty()),
            reported_at: None,
            register_now: self.register,
            reported_by,
            scope: reported_by.map_or(KeyScope::Public, KeyScope::User),
        })
    }
}

/// A staff member's intake: the intake and what it did differently from what was asked.
#[derive(Debug, Clone)]
pub struct StaffIntake {
    /// The intake.
    pub intake: Intake,
    /// E.g. `outside_patrol_grids`: an inspector's report outside their grids went to 核实.
    pub notice: Option<IntakeNotice>,
}

/// A note on an intake answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeNotice {
    /// Stable code, e.g. `outside_patrol_grids`.
    pub code: &'static str,
    /// What happened, Chinese then English.
    pub message: String,
}

impl CaseService {
    /// A staff member reports: an intake clerk enters a 12345 call (to 核实; `register` is
    /// refused), an inspector their own sighting (registered and dispatched at once with
    /// `register`, on their own grids; elsewhere it goes to 核实 and the answer says so), an admin
    /// anywhere as an inspector.
    pub async fn report_as_staff(
        &self,
        who: &Principal,
        submission: Submission,
        audit: &Audit,
    ) -> Result<StaffIntake, CaseError> {
        who.require_role(REPORTERS)?;
        let register = submission.register;
        let report = submission.report(Some(who.user_id))?;
        let channel = self.staff_channel(who, &report)?;
        if register && channel == Channel::Hotline {
            return Err(super::invalid(
                "invalid_field",
                "only an inspector's own report can be registered at once; a hotline call is verified on site first",
            ));
        }
        let intake = self.intake(report, channel, audit).await?;
        let notice = (channel == Channel::InspectorElsewhere).then(|| IntakeNotice {
            code: "outside_patrol_grids",
            message: format!(
                "该点不在您巡查的网格内，已转所在网格监督员核实{}。The place is outside your patrol grids: the report goes to verification (核实) by that grid's inspector{}.",
                if register { "，未直接立案" } else { "" },
                if register {
                    "; register was ignored"
                } else {
                    ""
                },
            ),
        });
        Ok(StaffIntake { intake, notice })
    }

    /// A citizen reports (no account): the report goes to 核实 by the grid's inspector, and the
    /// answer carries the follow token. `register` and `external_ref` are for staff.
    pub async fn report_as_citizen(
        &self,
        submission: Submission,
        audit: &Audit,
    ) -> Result<Intake, CaseError> {
        self.citizen_intake(submission, None, audit).await
    }

    /// The citizen channel, with what an Open311 application sent beyond the case, if any.
    async fn citizen_intake(
        &self,
        submission: Submission,
        origin: Option<Open311Origin>,
        audit: &Audit,
    ) -> Result<Intake, CaseError> {
        if submission.register || submission.external_ref.is_some() {
            return Err(super::invalid(
                "invalid_field",
                "register and external_ref are for staff; leave them out",
            ));
        }
        self.intake_with(submission.report(None)?, Channel::Citizen, audit, origin)
            .await
    }

    /// A 市民找差团 volunteer reports: the report goes to 核实 by the grid's inspector, like a
    /// citizen's, under the volunteer's own key space and name, so it shows in their list
    /// (`reports_of`). `register` and `external_ref` are for staff.
    pub async fn report_as_volunteer(
        &self,
        who: &Principal,
        submission: Submission,
        audit: &Audit,
    ) -> Result<Intake, CaseError> {
        who.require_role(super::VOLUNTEERS)?;
        if submission.register || submission.external_ref.is_some() {
            return Err(super::invalid(
                "invalid_field",
                "志愿者上报须经核实，不能直接立案，也没有工单号 / a volunteer's report is verified on site first: leave out register and external_ref",
            ));
        }
        let report = submission.report(Some(who.user_id))?;
        self.intake(report, Channel::Volunteer, audit).await
    }

    /// A citizen's report sent by an application through Open311: the citizen intake (核实 by the
    /// grid's inspector, the follow token), in the application's key space (the caller scopes
    /// `idempotency_key`), with the reporter's private contact stored in the case's transaction.
    pub async fn report_through_open311(
        &self,
        submission: Submission,
        origin: Open311Origin,
        audit: &Audit,
    ) -> Result<Intake, CaseError> {
        self.citizen_intake(submission, Some(origin), audit).await
    }

    /// Takes a report in: checks it, assigns the place, links duplicates, and for an
    /// inspector's report registered at once, dispatches it, all in one transaction.
    pub(super) async fn intake(
        &self,
        report: Report,
        channel: Channel,
        audit: &Audit,
    ) -> Result<Intake, CaseError> {
        self.intake_with(report, channel, audit, None).await
    }

    /// [`Self::intake`], with what an Open311 application sent beyond the case.
    async fn intake_with(
        &self,
        report: Report,
        channel: Channel,
        audit: &Audit,
        open311: Option<Open311Origin>,
    ) -> Result<Intake, CaseError> {
        let key = report.idempotency_key.trim();
        if key.is_empty() || key.len() > 128 {
            return Err(super::invalid(
                "invalid_field",
                "idempotency_key must be 1–128 characters",
            ));
        }
        let description = report.description.trim();
        if description.is_empty() || description.chars().count() > 2000 {
            return Err(super::invalid(
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
        let now = self.clock.now();
        let reported_at = report.reported_at.unwrap_or(now);
        if reported_at > now + Duration::minutes(5) {
            return Err(super::invalid(
                "invalid_field",
                format!("reported_at {reported_at} lies in the future"),
            ));
        }
        let (version, category) = self.live.category(&report.category)?;
        let index = self.live.current();
        let (lon, lat) = self
            .live
            .to_wgs84(&index, report.lon, report.lat, report.crs)
            .map_err(AssignError::from)?;
        let assignment = index.assign(lon, lat, report.crs, Some(&category));
        let code = |a: &Option<crate::assign::AreaRef>| a.as_ref().map(|a| a.code.clone());

        let mut case = Case {
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
                Channel::Inspection => Status::Registered,
                Channel::Inspector => Status::Collected,
                Channel::Hotline
                | Channel::Citizen
                | Channel::InspectorElsewhere
                | Channel::Volunteer
                | Channel::VolunteerInspection => Status::Verifying,
            },
            reported_by: report.reported_by,
            reported_at,
            due_at: Some(self.overall_due(reported_at, category.time_limit)),
            follow_token_hash: follow_token.as_deref().map(crate::security::token_hash),
            ..Case::draft(channel.source(), &category.code, lon, lat)
        };

        let mut follow_up = Vec::new();
        let mut duplicates = self.duplicates_of(&case, &category, now).await?;
        if category.duplicate_merge
            && !channel.is_finding()
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
                    "note": if channel == Channel::Inspection {
                        "督查发现即立案 registered on finding by an inspection round"
                    } else {
                        "监督员上报即立案 registered on report by the grid's inspector"
                    } }),
            ));
            let decision = self
                .rules()
                .table
                .decide(&assignment.place(), &category, |u| {
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
                    open311,
                },
                &audit.stamped(now),
            )
            .await?;
        Ok(Intake {
            case,
            created,
            duplicates: if created { duplicates } else { Vec::new() },
            follow_token,
        })
    }

    /// An inspection round's finding at an assessment point (督查): registered and dispatched
    /// by the rule table at once; a volunteer's (市民找差团) goes to 核实 first instead. The
    /// caller (the inspection service) checks who may submit it; the key lives in the submitting
    /// user's key space, so a phone resubmitting a visit gets the same case back.
    pub async fn report_inspection_finding(
        &self,
        who: &Principal,
        submission: Submission,
        audit: &Audit,
    ) -> Result<Intake, CaseError> {
        let mut report = submission.report(Some(who.user_id))?;
        let channel = if who.role == Role::Volunteer {
            report.register_now = false;
            Channel::VolunteerInspection
        } else {
            report.register_now = true;
            Channel::Inspection
        };
        self.intake(report, channel, audit).await
    }

    /// The channel of a staff member's report: an intake clerk enters hotline calls; an inspector
    /// reports on their own grids, or elsewhere (to 核实, see [`Channel::InspectorElsewhere`]);
    /// an admin reports anywhere as an inspector.
    fn staff_channel(&self, who: &Principal, report: &Report) -> Result<Channel, CaseError> {
        if who.role == Role::IntakeClerk {
            return Ok(Channel::Hotline);
        }
        let index = self.live.current();
        let (lon, lat) = self
            .live
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
    pub(super) fn unit_known(&self, index: &crate::assign::CityIndex, unit: &str) -> bool {
        // Every unit code a rule can produce comes from the loaded layers (frontage, zone and
        // area units) or from the department table; the index knows the departments, and the
        // layers' units were checked against the unit table at import.
        !unit.starts_with("dept-") || index.has_department(unit)
    }

    /// Open cases of the same category within the category's radius and time window.
    async fn duplicates_of(
        &self,
        case: &Case,
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
}
