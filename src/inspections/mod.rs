//! The inspection service (督查): checklists, rounds, visits whose failed items become cases,
//! re-inspections (复查), the readiness of every assessment point (点位达标) and frozen notices
//! (通报). HTTP handlers parse, call it and render what it answers; the rules are in the pure
//! `domain::inspection`.
//!
//! A visit is offline-tolerant: a phone keeps its marks and submits them when it is back online,
//! perhaps several times. Each failed item's case is created under a key derived from the round,
//! point and criterion, in the submitting inspector's key space, so a resubmission finds the same
//! cases; the findings and the visit are then written in one transaction. A resubmission with
//! other marks than the recorded visit is refused (409 `conflict`).

pub mod export;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cases::{CaseError, CaseService, Submission};
use crate::domain::crs::Crs;
use crate::domain::identity::{Principal, Role, ScopeError};
use crate::domain::inspection::{
    AssessmentPoint, ChecklistError, Checklists, FindingState, FindingStatus, ItemMark,
    MAX_ROUND_INSPECTORS, MAX_ROUND_POINTS, Organiser, PointReadiness, PointStatus, check_visit,
    readiness,
};
use crate::domain::jurisdiction::Layer;
use crate::live::LiveCity;
use crate::store::{
    Audit, NewFinding, NewRecheck, NewRound, Store, StoreError, StoredFinding, StoredNotice,
    StoredRound, StoredVisit,
};

/// Who organises rounds and publishes notices: the 创文办 (administrators) and shift leads.
pub const ORGANISERS: &[Role] = &[Role::Admin, Role::ShiftLead];
/// Who re-inspects: inspectors and administrators.
pub const RECHECKERS: &[Role] = &[Role::Inspector, Role::Admin];
/// Who submits visits: inspectors and administrators, and volunteers on the 市民找差团 rounds
/// they are part of (their findings go to 核实 first).
pub const VISITORS: &[Role] = &[Role::Inspector, Role::Admin, Role::Volunteer];
/// Most rounds listed at once.
pub const MAX_ROUNDS_LISTED: i64 = 500;

/// Why the service refused.
#[derive(Debug, thiserror::Error)]
pub enum InspectionError {
    /// A field is unusable (422), with a stable code.
    #[error("{message}")]
    Invalid {
        /// Stable code.
        code: &'static str,
        /// What to fix.
        message: String,
    },
    /// The checklists document is refused (422 `invalid_checklist`).
    #[error(transparent)]
    Checklist(#[from] ChecklistError),
    /// No such round, point or finding (404).
    #[error("{0}")]
    NotFound(String),
    /// The state does not allow it (409 `conflict`).
    #[error("{0}")]
    Conflict(String),
    /// The role or scope does not allow it (403).
    #[error(transparent)]
    Forbidden(#[from] ScopeError),
    /// The case intake refused a finding.
    #[error(transparent)]
    Case(#[from] CaseError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(code: &'static str, message: impl Into<String>) -> InspectionError {
    InspectionError::Invalid {
        code,
        message: message.into(),
    }
}

/// An assessment point with the areas it lies in (from the live index).
#[derive(Debug, Clone, Serialize)]
pub struct PointInfo {
    /// The point.
    #[serde(flatten)]
    pub point: AssessmentPoint,
    /// Its street (街道) code, by location.
    pub street_code: Option<String>,
    /// Its street's name.
    pub street_name: Option<String>,
    /// Its community's name, by location.
    pub community_name: Option<String>,
}

/// The assessment points of one index version.
struct PointSet {
    version: i64,
    points: BTreeMap<String, PointInfo>,
}

/// What the points' readiness is computed from, read once per revision of the store and kept:
/// the visits per point, each point's findings as the status needs them (with their deadlines,
/// so that "overdue" is decided at read time, by the clock, not when the inputs were read) and
/// the assessment date.
struct ReadinessInputs {
    /// The assignment index version and [`Store::readiness_revision`] they were read at.
    key: (i64, (i64, i64)),
    visits: BTreeMap<String, i64>,
    findings: BTreeMap<String, Vec<FindingState>>,
    assessment_date: Option<NaiveDate>,
}

/// The checklists in force and their version (0: built in).
#[derive(Debug, Clone, Serialize)]
pub struct ChecklistsInForce {
    /// Version (0: the built-in document).
    pub version: i64,
    /// The document.
    pub document: Checklists,
}

/// A round to create, as the API receives it.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundRequest {
    /// Title, 1–100 characters, e.g. 2026年第9期市级督查.
    pub title: String,
    /// `city` (市督查), `district` (区督查), `undercover` (明察暗访) or `volunteers` (市民找差团).
    pub organiser: String,
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// The points to visit (codes), 1–2,000, each once.
    pub points: Vec<String>,
    /// The inspectors' user ids (role inspector; on a `volunteers` round also volunteers), 1–200.
    pub inspectors: Vec<i64>,
}

/// A finding as a visit's answer names it.
#[derive(Debug, Clone, Serialize)]
pub struct FindingRef {
    /// Finding id.
    pub id: i64,
    /// Criterion.
    pub criterion: String,
    /// Its case.
    pub case_id: i64,
    /// Rectify by.
    pub deadline: DateTime<Utc>,
}

/// What a visit submission did.
#[derive(Debug, Clone, Serialize)]
pub struct VisitOutcome {
    /// False for a resubmission of the recorded visit.
    pub created: bool,
    /// Items marked.
    pub marked: usize,
    /// The findings (failed items) with their cases; photos go to each case.
    pub findings: Vec<FindingRef>,
}

/// A finding as the follow-up and the notice show it.
#[derive(Debug, Clone, Serialize)]
pub struct FindingView {
    /// Id.
    pub id: i64,
    /// Round.
    pub round_id: i64,
    /// Point.
    pub point_code: String,
    /// Criterion code.
    pub criterion: String,
    /// Criterion text (from the round's checklists).
    pub criterion_text: String,
    /// Case category.
    pub category: String,
    /// What was wrong.
    pub note: String,
    /// Deduction, points.
    pub deduction: f64,
    /// Rectify by.
    pub deadline: DateTime<Utc>,
    /// The current case.
    pub case_id: i64,
    /// Its status.
    pub case_status: String,
    /// The unit it is dispatched to (责任单位).
    pub unit_code: Option<String>,
    /// That unit's name.
    pub unit_name: Option<String>,
    /// Where the finding stands.
    pub status: FindingStatus,
    /// In Chinese.
    pub status_zh: &'static str,
    /// Open past its deadline.
    pub overdue: bool,
    /// Re-inspections so far.
    pub rechecks: i64,
}

/// A point with its readiness.
#[derive(Debug, Clone, Serialize)]
pub struct PointView {
    /// The point.
    #[serde(flatten)]
    pub info: PointInfo,
    /// Its numbers and status.
    pub readiness: PointReadiness,
    /// The status in Chinese.
    pub status_zh: &'static str,
    /// Rounds that visited it.
    pub visits: i64,
}

/// Shares of points passed, per group.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Share {
    /// Points.
    pub points: usize,
    /// Inspected.
    pub inspected: usize,
    /// 达标.
    pub passed: usize,
    /// 整改中.
    pub rectifying: usize,
    /// 未达标.
    pub failing: usize,
    /// 达标率 among inspected points (null before any inspection).
    pub pass_rate: Option<f64>,
}

impl Share {
    fn add(&mut self, r: &PointReadiness) {
        self.points += 1;
        match r.status {
            PointStatus::NotInspected => {}
            PointStatus::Passed => self.passed += 1,
            PointStatus::Rectifying => self.rectifying += 1,
            PointStatus::Failing => self.failing += 1,
        }
        if r.status != PointStatus::NotInspected {
            self.inspected += 1;
        }
        self.pass_rate = (self.inspected > 0).then(|| self.passed as f64 / self.inspected as f64);
    }
}

/// The 创文办's readiness dashboard.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    /// All points.
    pub total: Share,
    /// Per point type.
    pub by_type: BTreeMap<String, Share>,
    /// Per street code.
    pub by_street: BTreeMap<String, Share>,
    /// Points with an overdue finding, most overdue findings first.
    pub overdue_points: Vec<PointView>,
    /// Findings: found, open, rectified, passed.
    pub findings: FindingTotals,
    /// The date of the national assessment, if the checklists name it.
    pub assessment_date: Option<NaiveDate>,
    /// Days until then (negative after it).
    pub days_left: Option<i64>,
    /// The names of the overdue points' lead units (主责单位), by code.
    pub unit_names: BTreeMap<String, String>,
}

/// Totals over all findings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FindingTotals {
    /// Found.
    pub found: usize,
    /// Open.
    pub open: usize,
    /// Rectified at least once.
    pub rectified: usize,
    /// Re-inspected and passed.
    pub passed: usize,
    /// Open past the deadline.
    pub overdue: usize,
    /// 整改率.
    pub rectification_rate: Option<f64>,
}

/// A round with its follow-up: every point's findings as they stand now.
#[derive(Debug, Clone, Serialize)]
pub struct RoundReport {
    /// The round.
    pub round: StoredRound,
    /// The organiser in Chinese.
    pub organiser_zh: &'static str,
    /// Points visited so far.
    pub visited: usize,
    /// Per point (in the round's order): the point, visited or not, its findings in this round.
    pub points: Vec<RoundPoint>,
    /// Findings per street code.
    pub by_street: BTreeMap<String, Vec<i64>>,
    /// Findings per responsible unit (the unit each case is dispatched to).
    pub by_unit: BTreeMap<String, Vec<i64>>,
    /// Totals of the round's findings.
    pub totals: FindingTotals,
}

/// One point of a round.
#[derive(Debug, Clone, Serialize)]
pub struct RoundPoint {
    /// The point (null when it no longer exists in the current layer).
    pub point: Option<PointInfo>,
    /// Its code.
    pub code: String,
    /// Visited in this round.
    pub visited: bool,
    /// The findings of this round at this point.
    pub findings: Vec<FindingView>,
}

/// The inspection service; cheap to share.
#[derive(Clone)]
pub struct InspectionService {
    store: Store,
    live: Arc<LiveCity>,
    cases: CaseService,
    points: Arc<Mutex<Option<Arc<PointSet>>>>,
    /// One entry: the readiness inputs of the newest revision seen (`None` when switched off).
    readiness_inputs: Option<Arc<Mutex<Option<Arc<ReadinessInputs>>>>>,
}

fn digest(marks: &[ItemMark]) -> String {
    let mut sorted: Vec<&ItemMark> = marks.iter().collect();
    sorted.sort_by(|a, b| a.criterion.cmp(&b.criterion));
    let canonical = serde_json::to_string(&sorted).expect("marks serialise");
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

impl InspectionService {
    /// A service over the store, the live city and the case service (for the findings' cases).
    pub fn new(store: Store, live: Arc<LiveCity>, cases: CaseService) -> Self {
        Self {
            store,
            live,
            cases,
            points: Arc::default(),
            readiness_inputs: Some(Arc::default()),
        }
    }

    /// The same service reading the readiness inputs afresh on every request, as it did before
    /// they were kept: for the tests that compare both and the benchmark.
    #[must_use]
    pub fn without_readiness_cache(mut self) -> Self {
        self.readiness_inputs = None;
        self
    }

    /// The readiness inputs at the store's current revision: the kept ones when nothing was
    /// written since they were read (two small queries), else read again. The revision is read
    /// before the data, so a write in between only makes the next request read again.
    async fn readiness_inputs(
        &self,
        version: i64,
    ) -> Result<Arc<ReadinessInputs>, InspectionError> {
        let key = (version, self.store.readiness_revision().await?);
        if let Some(kept) = &self.readiness_inputs
            && let Some(inputs) = kept.lock().expect("not poisoned").as_ref()
            && inputs.key == key
        {
            return Ok(inputs.clone());
        }
        let visits: BTreeMap<String, i64> =
            self.store.visited_points().await?.into_iter().collect();
        let mut findings: BTreeMap<String, Vec<FindingState>> = BTreeMap::new();
        for f in self.store.findings(None, None).await? {
            findings
                .entry(f.point_code.clone())
                .or_default()
                .push(state_of(&f));
        }
        let inputs = Arc::new(ReadinessInputs {
            key,
            visits,
            findings,
            assessment_date: self.checklists().await?.document.assessment_date,
        });
        if let Some(kept) = &self.readiness_inputs {
            *kept.lock().expect("not poisoned") = Some(inputs.clone());
        }
        Ok(inputs)
    }

    /// The checklists in force: the newest stored version, else the built-in document.
    pub async fn checklists(&self) -> Result<ChecklistsInForce, InspectionError> {
        match self.store.latest_checklists().await? {
            Some(v) => Ok(ChecklistsInForce {
                version: v.version,
                document: self.parse_stored(v.version, &v.document)?,
            }),
            None => Ok(ChecklistsInForce {
                version: 0,
                document: Checklists::builtin(),
            }),
        }
    }

    /// One version of the checklists (0: the built-in document), as a round keeps it: the
    /// phone marks a round's points against the version the round was created with, not the
    /// one in force now.
    pub async fn checklists_at(&self, version: i64) -> Result<ChecklistsInForce, InspectionError> {
        if version != 0 && self.store.checklists_version(version).await?.is_none() {
            return Err(InspectionError::NotFound(format!(
                "没有第 {version} 版检查表。no checklists version {version}; versions count from 1 (0 is the built-in document)"
            )));
        }
        Ok(ChecklistsInForce {
            version,
            document: self.checklists_version(version).await?,
        })
    }

    async fn checklists_version(&self, version: i64) -> Result<Checklists, InspectionError> {
        if version == 0 {
            return Ok(Checklists::builtin());
        }
        let v = self
            .store
            .checklists_version(version)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("checklists v{version} missing")))?;
        self.parse_stored(version, &v.document)
    }

    fn parse_stored(&self, version: i64, doc: &str) -> Result<Checklists, InspectionError> {
        // Stored documents were checked when stored; a category removed since is no reason to
        // lose the round's checklist, so they are read without the catalogue check.
        serde_json::from_str(doc)
            .map_err(|e| StoreError::Corrupt(format!("checklists v{version}: {e}")).into())
    }

    fn category_codes(&self) -> BTreeSet<String> {
        self.live
            .catalogue()
            .list()
            .into_iter()
            .map(|(_, c)| c.code.clone())
            .collect()
    }

    /// Stores a new version of the checklists (admin), checked against the point types and the
    /// catalogue in force.
    pub async fn put_checklists(
        &self,
        who: &Principal,
        json: &str,
        audit: &Audit,
    ) -> Result<i64, InspectionError> {
        who.require_role(&[Role::Admin])?;
        let doc = Checklists::parse(json, &self.category_codes())?;
        let canonical = serde_json::to_string(&doc).expect("checklists serialise");
        Ok(self.store.put_checklists(&canonical, audit).await?)
    }

    /// The assessment points of the current layer, with their street and community.
    pub async fn points(&self) -> Result<Arc<BTreeMap<String, PointInfo>>, InspectionError> {
        Ok(Arc::new(self.point_set().await?.points.clone()))
    }

    async fn point_set(&self) -> Result<Arc<PointSet>, InspectionError> {
        let index = self.live.current();
        let version = index.version();
        if let Some(set) = self.points.lock().expect("not poisoned").as_ref()
            && set.version == version
        {
            return Ok(set.clone());
        }
        let zones = self.store.features_at(Layer::Zone, None).await?;
        let mut points = BTreeMap::new();
        for z in &zones {
            let Some(point) = AssessmentPoint::from_feature(&z.feature) else {
                continue;
            };
            let a = index.assign(point.place[0], point.place[1], Crs::Wgs84, None);
            points.insert(
                point.code.clone(),
                PointInfo {
                    street_code: a.street.as_ref().map(|s| s.code.clone()),
                    street_name: a.street.as_ref().map(|s| s.name.clone()),
                    community_name: a.community.as_ref().map(|s| s.name.clone()),
                    point,
                },
            );
        }
        let set = Arc::new(PointSet { version, points });
        *self.points.lock().expect("not poisoned") = Some(set.clone());
        Ok(set)
    }

    /// Creates a round (organisers): its points must exist and have a checklist for their type,
    /// its inspectors must be active inspectors, or for a 市民找差团 round (organiser
    /// `volunteers`) inspectors or volunteers.
    pub async fn create_round(
        &self,
        who: &Principal,
        req: RoundRequest,
        audit: &Audit,
    ) -> Result<StoredRound, InspectionError> {
        who.require_role(ORGANISERS)?;
        let title = req.title.trim();
        if title.is_empty() || title.chars().count() > 100 {
            return Err(invalid("invalid_field", "title must be 1–100 characters"));
        }
        let organiser = Organiser::parse(&req.organiser).ok_or_else(|| {
            invalid(
                "invalid_field",
                format!(
                    "organiser {:?} is not city, district, undercover or volunteers",
                    req.organiser
                ),
            )
        })?;
        let date = NaiveDate::parse_from_str(&req.date, "%Y-%m-%d")
            .map_err(|_| invalid("invalid_field", "date must be YYYY-MM-DD"))?;
        if req.points.is_empty() || req.points.len() > MAX_ROUND_POINTS {
            return Err(invalid(
                "invalid_field",
                format!("a round visits 1–{MAX_ROUND_POINTS} points"),
            ));
        }
        if req.inspectors.is_empty() || req.inspectors.len() > MAX_ROUND_INSPECTORS {
            return Err(invalid(
                "invalid_field",
                format!("a round has 1–{MAX_ROUND_INSPECTORS} inspectors"),
            ));
        }
        let checklists = self.checklists().await?;
        let set = self.point_set().await?;
        let mut seen = BTreeSet::new();
        for code in &req.points {
            if !seen.insert(code.as_str()) {
                return Err(invalid(
                    "invalid_field",
                    format!("point {code} is listed twice"),
                ));
            }
            let p = set.points.get(code).ok_or_else(|| {
                invalid(
                    "invalid_reference",
                    format!("{code} is not an assessment point (a zone of kind inspection_site)"),
                )
            })?;
            if !checklists.document.types.contains_key(&p.point.point_type) {
                return Err(invalid(
                    "invalid_reference",
                    format!(
                        "point {code} has type {:?}, which has no checklist; add one to the checklists first",
                        p.point.point_type
                    ),
                ));
            }
        }
        let users = self.store.list_users().await?;
        let mut inspectors = req.inspectors.clone();
        inspectors.sort_unstable();
        inspectors.dedup();
        for id in &inspectors {
            match users.iter().find(|u| u.id == *id) {
                Some(u) if u.role == Role::Inspector && !u.disabled => {}
                Some(u) if u.role == Role::Volunteer && organiser != Organiser::Volunteers => {
                    return Err(invalid(
                        "invalid_reference",
                        format!(
                            "用户 {id}（{}）是志愿者，只能参加市民找差团组织的督查 / user {id} ({}) is a volunteer: volunteers take part only in rounds organised by 市民找差团 (organiser volunteers)",
                            u.username, u.username
                        ),
                    ));
                }
                Some(u) if u.role == Role::Volunteer && !u.disabled => {}
                Some(u) => {
                    return Err(invalid(
                        "invalid_reference",
                        format!("user {id} ({}) is not an active inspector", u.username),
                    ));
                }
                None => {
                    return Err(invalid(
                        "invalid_reference",
                        format!("user {id} does not exist"),
                    ));
                }
            }
        }
        Ok(self
            .store
            .create_round(
                &NewRound {
                    title: title.to_owned(),
                    organiser: organiser.as_str().to_owned(),
                    round_date: date.to_string(),
                    checklist_version: checklists.version,
                    points: req.points,
                    inspectors,
                },
                audit,
            )
            .await?)
    }

    /// The newest rounds `who` may read: every one for staff, a volunteer's own 市民找差团
    /// rounds for a volunteer.
    pub async fn rounds(&self, who: &Principal) -> Result<Vec<StoredRound>, InspectionError> {
        let mut rounds = self.store.rounds(MAX_ROUNDS_LISTED).await?;
        if who.role == Role::Volunteer {
            rounds.retain(|r| r.inspectors.contains(&who.user_id));
        }
        Ok(rounds)
    }

    /// A round's follow-up for `who`: staff read every round, a volunteer only the rounds they
    /// walk (their points and what the team found), nothing else.
    pub async fn round_report_for(
        &self,
        who: &Principal,
        round_id: i64,
        now: DateTime<Utc>,
    ) -> Result<RoundReport, InspectionError> {
        if who.role == Role::Volunteer
            && !self
                .round(round_id)
                .await?
                .inspectors
                .contains(&who.user_id)
        {
            return Err(ScopeError::OutOfScope(format!(
                "round {round_id} is not one of your 市民找差团 rounds / 这不是您参加的找差团轮次"
            ))
            .into());
        }
        self.round_report(round_id, now).await
    }

    async fn round(&self, id: i64) -> Result<StoredRound, InspectionError> {
        self.store
            .round(id)
            .await?
            .ok_or_else(|| InspectionError::NotFound(format!("no inspection round {id}")))
    }

    /// Submits the marks of one point in a round (its inspectors, or an admin). Each failed
    /// item becomes a case, registered and dispatched at once; a volunteer's goes to 核实 first
    /// (see `CaseService::report_inspection_finding`). See the module notes on resubmission.
    pub async fn submit_visit(
        &self,
        who: &Principal,
        round_id: i64,
        point_code: &str,
        marks: Vec<ItemMark>,
        audit: &Audit,
    ) -> Result<VisitOutcome, InspectionError> {
        who.require_role(VISITORS)?;
        let round = self.round(round_id).await?;
        if who.role != Role::Admin && !round.inspectors.contains(&who.user_id) {
            return Err(ScopeError::OutOfScope(format!(
                "you are not an inspector of round {round_id}"
            ))
            .into());
        }
        if !round.points.iter().any(|p| p == point_code) {
            return Err(InspectionError::NotFound(format!(
                "point {point_code} is not in round {round_id}"
            )));
        }
        let set = self.point_set().await?;
        let point = set.points.get(point_code).ok_or_else(|| {
            InspectionError::NotFound(format!(
                "point {point_code} is no longer in the current layer"
            ))
        })?;
        let checklists = self.checklists_version(round.checklist_version).await?;
        let checked = check_visit(&checklists, &point.point.point_type, &marks)
            .map_err(|e| invalid("invalid_field", e.to_string()))?;
        let digest = digest(&marks);
        if let Some(v) = self.store.visit(round_id, point_code).await? {
            if v.digest != digest {
                return Err(InspectionError::Conflict(format!(
                    "point {point_code} of round {round_id} was submitted with other marks at {}; a visit is recorded once",
                    v.visited_at
                )));
            }
            // Recorded already: answer with its findings. Filing again would be safe for the
            // same inspector (the same keys find the same cases), but another inspector of the
            // round sending the same marks has keys of their own and would file every case twice.
            return Ok(VisitOutcome {
                created: false,
                marked: checked.marked,
                findings: self.finding_refs(round_id, point_code).await?,
            });
        }
        let now = self.cases.clock().now();
        let mut findings = Vec::with_capacity(checked.failures.len());
        for (criterion, note) in &checked.failures {
            let intake = self
                .cases
                .report_inspection_finding(
                    who,
                    Submission {
                        idempotency_key: format!(
                            "inspection:{round_id}:{point_code}:{}",
                            criterion.code
                        ),
                        category: criterion.category.clone(),
                        description: format!(
                            "【{}】{} · {}（{}）：{}",
                            Organiser::parse(&round.organiser).map_or("督查", |o| o.label_zh()),
                            point.point.name,
                            criterion.text,
                            criterion.code,
                            note
                        ),
                        lon: point.point.place[0],
                        lat: point.point.place[1],
                        crs: Ok(Crs::Wgs84),
                        register: true,
                        external_ref: None,
                    },
                    audit,
                )
                .await?;
            findings.push(NewFinding {
                criterion: criterion.code.clone(),
                category: criterion.category.clone(),
                note: note.clone(),
                deduction: criterion.deduction,
                deadline: intake.case.reported_at
                    + Duration::hours(i64::from(criterion.deadline_hours)),
                case_id: intake.case.id,
            });
        }
        let visit = StoredVisit {
            round_id,
            point_code: point_code.to_owned(),
            inspector_id: Some(who.user_id),
            visited_at: now,
            digest,
            marks: serde_json::to_string(&marks).expect("marks serialise"),
        };
        let created = self.store.record_visit(&visit, &findings, audit).await?;
        Ok(VisitOutcome {
            created,
            marked: checked.marked,
            findings: self.finding_refs(round_id, point_code).await?,
        })
    }

    async fn finding_refs(
        &self,
        round_id: i64,
        point_code: &str,
    ) -> Result<Vec<FindingRef>, InspectionError> {
        let stored = self
            .store
            .findings(Some(round_id), Some(point_code))
            .await?;
        Ok(stored
            .iter()
            .map(|f| FindingRef {
                id: f.id,
                criterion: f.criterion.clone(),
                case_id: f.case_id,
                deadline: f.deadline,
            })
            .collect())
    }

    /// Re-inspects (复查) a finding whose case is closed: passing it closes the finding (销号);
    /// failing it reopens the finding with a new case and deadline. Repeating the same answer
    /// for the same case is a retry and changes nothing.
    pub async fn recheck(
        &self,
        who: &Principal,
        finding_id: i64,
        pass: bool,
        note: Option<String>,
        audit: &Audit,
    ) -> Result<FindingView, InspectionError> {
        who.require_role(RECHECKERS)?;
        let f = self.finding(finding_id).await?;
        let status = FindingStatus::of(
            f.passed_at.is_some(),
            f.case_status == "closed",
            f.case_status == "voided",
        );
        let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.chars().count() > 500) {
            return Err(invalid(
                "invalid_field",
                "note must be at most 500 characters",
            ));
        }
        if status != FindingStatus::AwaitingRecheck {
            // A phone that lost the answer sends the same re-inspection again: the finding has
            // moved on because of it, so the answer is the recorded outcome, not a conflict.
            let repeated = self.store.last_recheck(finding_id).await?.is_some_and(
                |(was_pass, was_note, new_case)| {
                    was_pass == pass
                        && was_note == note
                        && if pass {
                            f.passed_at.is_some()
                        } else {
                            new_case == Some(f.case_id)
                        }
                },
            );
            if repeated {
                return self.finding_view(&f, self.cases.clock().now()).await;
            }
            return Err(InspectionError::Conflict(format!(
                "finding {finding_id} is {} ({}); only a finding whose case is closed (待复查) can be re-inspected",
                status.label_zh(),
                f.case_status
            )));
        }
        let now = self.cases.clock().now();
        let reopened = if pass {
            None
        } else {
            let Some(note) = &note else {
                return Err(invalid(
                    "invalid_field",
                    "a failed re-inspection needs a note saying what is still wrong",
                ));
            };
            let round = self.round(f.round_id).await?;
            let set = self.point_set().await?;
            let point = set.points.get(&f.point_code).ok_or_else(|| {
                InspectionError::NotFound(format!(
                    "point {} is no longer in the current layer",
                    f.point_code
                ))
            })?;
            let checklists = self.checklists_version(round.checklist_version).await?;
            let hours = checklists
                .criterion(&point.point.point_type, &f.criterion)
                .map_or(24, |c| c.deadline_hours);
            let intake = self
                .cases
                .report_inspection_finding(
                    who,
                    Submission {
                        idempotency_key: format!("inspection-recheck:{finding_id}:{}", f.case_id),
                        category: f.category.clone(),
                        description: format!(
                            "【复查未通过】{} · {}：{}（原案卷 {}）",
                            point.point.name, f.criterion, note, f.case_id
                        ),
                        lon: point.point.place[0],
                        lat: point.point.place[1],
                        crs: Ok(Crs::Wgs84),
                        register: true,
                        external_ref: None,
                    },
                    audit,
                )
                .await?;
            Some((intake.case.id, now + Duration::hours(i64::from(hours))))
        };
        self.store
            .record_recheck(
                &NewRecheck {
                    finding_id,
                    pass,
                    note,
                    case_id: f.case_id,
                    reopened,
                    inspector_id: Some(who.user_id),
                    at: now,
                },
                audit,
            )
            .await?;
        let f = self.finding(finding_id).await?;
        self.finding_view(&f, now).await
    }

    async fn finding_view(
        &self,
        f: &StoredFinding,
        now: DateTime<Utc>,
    ) -> Result<FindingView, InspectionError> {
        let round = self.round(f.round_id).await?;
        let checklists = self.checklists_version(round.checklist_version).await?;
        let set = self.point_set().await?;
        let names = self.unit_names([f]).await?;
        Ok(self.view(f, &checklists, &set, &names, now))
    }

    async fn unit_names<'a>(
        &self,
        findings: impl IntoIterator<Item = &'a StoredFinding>,
    ) -> Result<HashMap<String, String>, InspectionError> {
        let codes: BTreeSet<String> = findings
            .into_iter()
            .filter_map(|f| f.case_unit.clone())
            .collect();
        Ok(self.store.unit_names(&codes).await?)
    }

    async fn finding(&self, id: i64) -> Result<StoredFinding, InspectionError> {
        self.store
            .finding(id)
            .await?
            .ok_or_else(|| InspectionError::NotFound(format!("no finding {id}")))
    }

    fn view(
        &self,
        f: &StoredFinding,
        checklists: &Checklists,
        set: &PointSet,
        names: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> FindingView {
        let state = state_of(f);
        let text = set
            .points
            .get(&f.point_code)
            .and_then(|p| checklists.criterion(&p.point.point_type, &f.criterion))
            .map_or_else(String::new, |c| c.text.clone());
        FindingView {
            id: f.id,
            round_id: f.round_id,
            point_code: f.point_code.clone(),
            criterion: f.criterion.clone(),
            criterion_text: text,
            category: f.category.clone(),
            note: f.note.clone(),
            deduction: f.deduction,
            deadline: f.deadline,
            case_id: f.case_id,
            case_status: f.case_status.clone(),
            unit_code: f.case_unit.clone(),
            unit_name: f.case_unit.as_ref().and_then(|u| names.get(u).cloned()),
            status: state.status,
            status_zh: state.status.label_zh(),
            overdue: state.overdue(now),
            rechecks: f.rechecks,
        }
    }

    /// Every assessment point with its readiness.
    pub async fn point_views(&self, now: DateTime<Utc>) -> Result<Vec<PointView>, InspectionError> {
        let set = self.point_set().await?;
        let inputs = self.readiness_inputs(set.version).await?;
        Ok(Self::views_of(&set, &inputs, now))
    }

    fn views_of(set: &PointSet, inputs: &ReadinessInputs, now: DateTime<Utc>) -> Vec<PointView> {
        let (visits, by_point) = (&inputs.visits, &inputs.findings);
        set.points
            .values()
            .map(|p| {
                let n = visits.get(&p.point.code).copied().unwrap_or(0);
                let r = readiness(
                    n > 0,
                    by_point.get(&p.point.code).map_or(&[][..], Vec::as_slice),
                    now,
                );
                PointView {
                    info: p.clone(),
                    status_zh: r.status.label_zh(),
                    readiness: r,
                    visits: n,
                }
            })
            .collect()
    }

    /// The readiness dashboard.
    pub async fn readiness(&self, now: DateTime<Utc>) -> Result<Readiness, InspectionError> {
        let set = self.point_set().await?;
        let inputs = self.readiness_inputs(set.version).await?;
        let views = Self::views_of(&set, &inputs, now);
        let mut total = Share::default();
        let mut by_type: BTreeMap<String, Share> = BTreeMap::new();
        let mut by_street: BTreeMap<String, Share> = BTreeMap::new();
        let mut findings = FindingTotals::default();
        for v in &views {
            total.add(&v.readiness);
            by_type
                .entry(v.info.point.point_type.clone())
                .or_default()
                .add(&v.readiness);
            by_street
                .entry(v.info.street_code.clone().unwrap_or_default())
                .or_default()
                .add(&v.readiness);
            findings.found += v.readiness.found;
            findings.open += v.readiness.open;
            findings.rectified += v.readiness.rectified;
            findings.passed += v.readiness.passed;
            findings.overdue += v.readiness.overdue;
        }
        findings.rectification_rate =
            (findings.found > 0).then(|| findings.rectified as f64 / findings.found as f64);
        let mut overdue_points: Vec<PointView> = views
            .into_iter()
            .filter(|v| v.readiness.overdue > 0)
            .collect();
        overdue_points.sort_by(|a, b| {
            b.readiness
                .overdue
                .cmp(&a.readiness.overdue)
                .then_with(|| a.info.point.code.cmp(&b.info.point.code))
        });
        let assessment_date = inputs.assessment_date;
        let leads: BTreeSet<String> = overdue_points
            .iter()
            .filter_map(|v| v.info.point.lead_unit.clone())
            .collect();
        let unit_names = self.store.unit_names(&leads).await?.into_iter().collect();
        Ok(Readiness {
            total,
            by_type,
            by_street,
            overdue_points,
            findings,
            assessment_date,
            // The assessment date is a day in Beijing; counted from today there, not in UTC.
            days_left: assessment_date.map(|d| (d - beijing_day(now)).num_days()),
            unit_names,
        })
    }

    /// A round with the follow-up of its findings as they stand now.
    pub async fn round_report(
        &self,
        round_id: i64,
        now: DateTime<Utc>,
    ) -> Result<RoundReport, InspectionError> {
        let round = self.round(round_id).await?;
        let checklists = self.checklists_version(round.checklist_version).await?;
        let set = self.point_set().await?;
        let visited: BTreeSet<String> = self
            .store
            .round_visits(round_id)
            .await?
            .into_iter()
            .map(|v| v.point_code)
            .collect();
        let mut per_point: BTreeMap<String, Vec<FindingView>> = BTreeMap::new();
        let mut totals = FindingTotals::default();
        let mut by_street: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut by_unit: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let stored = self.store.findings(Some(round_id), None).await?;
        let names = self.unit_names(&stored).await?;
        for f in stored {
            let v = self.view(&f, &checklists, &set, &names, now);
            let state = state_of(&f);
            if !state.status.is_confirmed() {
                // 不属实: listed with its point, counted nowhere.
                per_point.entry(f.point_code.clone()).or_default().push(v);
                continue;
            }
            totals.found += 1;
            totals.open += usize::from(state.status.is_open());
            totals.rectified += usize::from(state.rectified);
            totals.passed += usize::from(state.status == FindingStatus::Passed);
            totals.overdue += usize::from(v.overdue);
            let street = set
                .points
                .get(&f.point_code)
                .and_then(|p| p.street_code.clone())
                .unwrap_or_default();
            by_street.entry(street).or_default().push(f.id);
            by_unit
                .entry(f.case_unit.clone().unwrap_or_default())
                .or_default()
                .push(f.id);
            per_point.entry(f.point_code.clone()).or_default().push(v);
        }
        totals.rectification_rate =
            (totals.found > 0).then(|| totals.rectified as f64 / totals.found as f64);
        let points = round
            .points
            .iter()
            .map(|code| RoundPoint {
                point: set.points.get(code).cloned(),
                code: code.clone(),
                visited: visited.contains(code),
                findings: per_point.remove(code).unwrap_or_default(),
            })
            .collect();
        Ok(RoundReport {
            organiser_zh: Organiser::parse(&round.organiser).map_or("督查", |o| o.label_zh()),
            visited: visited.len(),
            round,
            points,
            by_street,
            by_unit,
            totals,
        })
    }

    /// Publishes the round's notice (通报): its report as it stands now, frozen as the next
    /// version. Later progress shows in the follow-up ([`Self::round_report`]), never by
    /// rewriting a notice.
    pub async fn publish_notice(
        &self,
        who: &Principal,
        round_id: i64,
        audit: &Audit,
    ) -> Result<StoredNotice, InspectionError> {
        who.require_role(ORGANISERS)?;
        let now = self.cases.clock().now();
        let report = self.round_report(round_id, now).await?;
        if report.visited == 0 {
            return Err(InspectionError::Conflict(format!(
                "round {round_id} has no visited point yet; a notice reports what a round found"
            )));
        }
        let document = serde_json::to_string(&report).expect("report serialises");
        Ok(self
            .store
            .publish_notice(round_id, &document, &audit.stamped(now))
            .await?)
    }

    /// A round's notice: one version, or the latest.
    pub async fn notice(
        &self,
        round_id: i64,
        version: Option<i64>,
    ) -> Result<StoredNotice, InspectionError> {
        self.round(round_id).await?;
        self.store.notice(round_id, version).await?.ok_or_else(|| {
            InspectionError::NotFound(match version {
                Some(v) => format!("round {round_id} has no notice version {v}"),
                None => format!("round {round_id} has no published notice yet"),
            })
        })
    }
}

fn beijing_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset"))
        .date_naive()
}

fn state_of(f: &StoredFinding) -> FindingState {
    FindingState {
        status: FindingStatus::of(
            f.passed_at.is_some(),
            f.case_status == "closed",
            f.case_status == "voided",
        ),
        deadline: f.deadline,
        rectified: f.rechecks > 0 || f.case_status == "closed" || f.passed_at.is_some(),
    }
}
