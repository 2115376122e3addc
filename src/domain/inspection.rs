//! 督查 and 测评点位: the assessment points a 文明城市 inspection walks, the checklist of each point
//! type, inspection rounds, the problems (findings) they record and the status of each point
//! until it passes (点位达标).
//!
//! An assessment point is stored as a zone feature of kind `inspection_site` (so it is versioned,
//! validated, imported in a city package and read as of any date like every other layer) and read
//! here as an [`AssessmentPoint`] with its type, lead unit (主责) and supporting units (配合).
//!
//! The loop: a round (督查) visits points; each checklist item marked as failed becomes a finding
//! and a case through the normal intake; the case is handled and closed (整改); an inspector
//! re-inspects (复查) the closed finding: passing it closes the finding (销号), failing it reopens
//! it with a new case. A point is 达标 when it was inspected and has no open finding.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::jurisdiction::Jurisdiction;

/// The point types (测评点位类型), with the Chinese names of 《文明城市测评点位标准与创建文明城市工作手册》
/// (2018, 54 types) and the types newer city inspections add (城中村, 老旧小区, 交通场站, 铁路沿线,
/// 建筑工地). `docs/inspections.md` lists them with their sources.
pub const POINT_TYPES: [(&str, &str); 26] = [
    ("market", "农贸市场/集贸市场"),
    ("back_alley", "背街小巷"),
    ("urban_village", "城中村"),
    ("old_compound", "老旧小区"),
    ("residential", "小区"),
    ("public_toilet", "室外公共厕所"),
    ("station", "车站/交通场站"),
    ("bus_stop", "公交站台"),
    ("school", "校园周边"),
    ("hospital", "医院"),
    ("commercial_street", "商业大街"),
    ("main_road", "主次干道"),
    ("intersection", "交通路口"),
    ("construction_site", "建筑工地/建筑围挡"),
    ("park", "公园"),
    ("square", "公共广场"),
    ("scenic_area", "景区"),
    ("transfer_station", "环卫中转站"),
    ("railway", "铁路沿线"),
    ("government_hall", "政务大厅"),
    ("supermarket", "商场超市"),
    ("restaurant", "餐饮店"),
    ("service_hall", "供电/供水/邮政/银行营业厅"),
    ("community_office", "社区居委会"),
    ("culture_station", "街道综合文化站/新时代文明实践站"),
    ("commercial_complex", "商业综合体周边"),
];

/// The codes of [`POINT_TYPES`], in the same order.
pub const POINT_TYPE_CODES: [&str; POINT_TYPES.len()] = {
    let mut out = [""; POINT_TYPES.len()];
    let mut i = 0;
    while i < POINT_TYPES.len() {
        out[i] = POINT_TYPES[i].0;
        i += 1;
    }
    out
};

/// The Chinese name of a point type, if it is one.
pub fn point_type_name(code: &str) -> Option<&'static str> {
    POINT_TYPES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| *n)
}

/// Most criteria one point type may have.
pub const MAX_CRITERIA_PER_TYPE: usize = 60;
/// Longest criterion text, characters.
pub const MAX_CRITERION_TEXT: usize = 200;
/// Range of a criterion's rectification deadline, hours (up to 30 days).
pub const DEADLINE_HOURS: std::ops::RangeInclusive<u32> = 1..=720;
/// Range of a criterion's deduction, points.
pub const DEDUCTION: std::ops::RangeInclusive<f64> = 0.0..=100.0;

/// One item of a point type's checklist (测评内容).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// Unique within the type, e.g. `M01`.
    pub code: String,
    /// What the inspector checks, in Chinese.
    pub text: String,
    /// The case category (小类) a failure becomes.
    pub category: String,
    /// Points deducted from the responsible units' 考评 when it fails.
    pub deduction: f64,
    /// Hours the responsible unit has to rectify a failure.
    pub deadline_hours: u32,
}

/// The checklists of every point type: what a city edits and stores as versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checklists {
    /// Where the items come from (a city's 测评操作手册, say).
    #[serde(default)]
    pub source: Option<String>,
    /// The day of the national assessment's site visit (实地考察) the city prepares for, if
    /// known: the readiness dashboard counts down to it.
    #[serde(default)]
    pub assessment_date: Option<NaiveDate>,
    /// Point type → its criteria.
    pub types: BTreeMap<String, Vec<Criterion>>,
}

/// A finding in a checklist document: the path to the bad value and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ChecklistError {
    /// E.g. `types.market[2].category`.
    pub path: String,
    /// What is wrong and what to give instead.
    pub message: String,
}

/// The built-in checklists: short lists per type modelled on the 测评 contents of the national
/// system (see `docs/inspections.md`); a city replaces them with its own handbook's.
pub const DEFAULT_CHECKLISTS: &str = include_str!("inspection/default-checklists.json");

impl Checklists {
    /// Parses and checks a document against the point types and the category codes of the
    /// catalogue.
    pub fn parse(json: &str, categories: &BTreeSet<String>) -> Result<Self, ChecklistError> {
        let doc: Checklists = serde_json::from_str(json).map_err(|e| ChecklistError {
            path: format!("line {} column {}", e.line(), e.column()),
            message: e.to_string(),
        })?;
        doc.check(categories)?;
        Ok(doc)
    }

    /// The built-in checklists.
    pub fn builtin() -> Self {
        serde_json::from_str(DEFAULT_CHECKLISTS).expect("the built-in checklists parse")
    }

    fn check(&self, categories: &BTreeSet<String>) -> Result<(), ChecklistError> {
        let err = |path: String, message: String| Err(ChecklistError { path, message });
        if self.types.is_empty() {
            return err("types".into(), "no point type has a checklist".into());
        }
        for (ty, items) in &self.types {
            if point_type_name(ty).is_none() {
                return err(
                    format!("types.{ty}"),
                    format!(
                        "unknown point type; use one of {}",
                        POINT_TYPES.map(|(c, _)| c).join(", ")
                    ),
                );
            }
            if items.is_empty() || items.len() > MAX_CRITERIA_PER_TYPE {
                return err(
                    format!("types.{ty}"),
                    format!(
                        "a checklist has 1–{MAX_CRITERIA_PER_TYPE} criteria, not {}",
                        items.len()
                    ),
                );
            }
            let mut codes = BTreeSet::new();
            for (i, c) in items.iter().enumerate() {
                let at = |field: &str| format!("types.{ty}[{i}].{field}");
                if c.code.is_empty()
                    || c.code.len() > 32
                    || !c
                        .code
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return err(at("code"), "1–32 letters, digits, _ or -".into());
                }
                if !codes.insert(c.code.as_str()) {
                    return err(at("code"), format!("{} occurs twice in {ty}", c.code));
                }
                let len = c.text.trim().chars().count();
                if len == 0 || len > MAX_CRITERION_TEXT {
                    return err(at("text"), format!("1–{MAX_CRITERION_TEXT} characters"));
                }
                if !categories.contains(&c.category) {
                    return err(
                        at("category"),
                        format!("{} is not a category of the catalogue", c.category),
                    );
                }
                if !c.deduction.is_finite() || !DEDUCTION.contains(&c.deduction) {
                    return err(at("deduction"), "0–100 points".into());
                }
                if !DEADLINE_HOURS.contains(&c.deadline_hours) {
                    return err(at("deadline_hours"), "1–720 hours".into());
                }
            }
        }
        Ok(())
    }

    /// One criterion of a type.
    pub fn criterion(&self, point_type: &str, code: &str) -> Option<&Criterion> {
        self.types.get(point_type)?.iter().find(|c| c.code == code)
    }
}

/// An assessment point (测评点位) as a round reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssessmentPoint {
    /// Code, unique among the zones.
    pub code: String,
    /// Name.
    pub name: String,
    /// Point type (see [`POINT_TYPES`]).
    pub point_type: String,
    /// Its Chinese name.
    pub point_type_name: String,
    /// The lead responsible unit (主责单位).
    pub lead_unit: Option<String>,
    /// Supporting units (配合单位).
    pub support_units: Vec<String>,
    /// Where a finding is placed: the point, or a point inside the polygon (WGS84 lon, lat).
    pub place: [f64; 2],
    /// The community the feature names as its parent, if it does.
    pub community_code: Option<String>,
}

/// The support units of a site feature: a list, or one string with commas (as a CSV export
/// carries them).
pub fn support_units(f: &Jurisdiction) -> Vec<String> {
    let mut out: Vec<String> = match f.props.get("support_units") {
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str())
            .map(|s| s.trim().to_owned())
            .collect(),
        Some(serde_json::Value::String(s)) => s
            .split([',', '，', ';', '；'])
            .map(|s| s.trim().to_owned())
            .collect(),
        _ => Vec::new(),
    };
    out.retain(|s| !s.is_empty());
    out.dedup();
    out
}

impl AssessmentPoint {
    /// Reads a zone feature of kind `inspection_site`; `None` for other features or a site
    /// without a usable geometry.
    pub fn from_feature(f: &Jurisdiction) -> Option<Self> {
        use geo::InteriorPoint;
        if f.kind.as_deref() != Some("inspection_site") {
            return None;
        }
        let point_type = f
            .props
            .get("site_type")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned();
        let place = match &f.geometry {
            geo::Geometry::Point(p) => Some(*p),
            g => g.interior_point(),
        }?;
        Some(AssessmentPoint {
            code: f.code.clone(),
            name: f.name.clone(),
            point_type_name: point_type_name(&point_type).unwrap_or("").to_owned(),
            point_type,
            lead_unit: f.unit_code.clone(),
            support_units: support_units(f),
            place: [place.x(), place.y()],
            community_code: f.parent_code.clone(),
        })
    }

    /// Every unit responsible for the point: the lead first.
    pub fn units(&self) -> impl Iterator<Item = &str> {
        self.lead_unit
            .iter()
            .chain(self.support_units.iter())
            .map(String::as_str)
    }
}

/// Who organised a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Organiser {
    /// 市督查: the city's inspection.
    City,
    /// 区督查: a district's inspection.
    District,
    /// 明察暗访: unannounced visits.
    Undercover,
    /// 市民找差团: citizen volunteers.
    Volunteers,
}

impl Organiser {
    /// Every organiser.
    pub const ALL: [Organiser; 4] = [
        Organiser::City,
        Organiser::District,
        Organiser::Undercover,
        Organiser::Volunteers,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Organiser::City => "city",
            Organiser::District => "district",
            Organiser::Undercover => "undercover",
            Organiser::Volunteers => "volunteers",
        }
    }

    /// The Chinese name.
    pub fn label_zh(self) -> &'static str {
        match self {
            Organiser::City => "市督查",
            Organiser::District => "区督查",
            Organiser::Undercover => "明察暗访",
            Organiser::Volunteers => "市民找差团",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// Most points in one round.
pub const MAX_ROUND_POINTS: usize = 2_000;
/// Most inspectors in one round.
pub const MAX_ROUND_INSPECTORS: usize = 200;

/// One checklist item as the inspector marks it on site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemMark {
    /// The criterion's code.
    pub criterion: String,
    /// Passed.
    pub pass: bool,
    /// What is wrong (required for a failure).
    #[serde(default)]
    pub note: Option<String>,
}

/// Longest note of a failed item, characters.
pub const MAX_NOTE: usize = 500;

/// A visit's marks checked against the point's checklist: the failures, each with its criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedVisit<'a> {
    /// The failed items with their criteria and notes.
    pub failures: Vec<(&'a Criterion, String)>,
    /// How many items were marked.
    pub marked: usize,
}

/// Why a visit's marks are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VisitError {
    /// The point's type has no checklist.
    #[error("point type {0:?} has no checklist")]
    NoChecklist(String),
    /// An item names no criterion of the type.
    #[error("criterion {0:?} is not on the checklist of this point's type")]
    UnknownCriterion(String),
    /// An item is marked twice.
    #[error("criterion {0:?} is marked twice")]
    Twice(String),
    /// Not every item of the checklist is marked.
    #[error("every item of the checklist must be marked; missing: {0}")]
    Unmarked(String),
    /// A failure without a note, or a note too long.
    #[error("failed item {0:?} needs a note of 1–500 characters saying what is wrong")]
    Note(String),
}

/// Checks a visit's marks: every item of the point type's checklist marked once, each failure
/// with its note.
pub fn check_visit<'a>(
    checklists: &'a Checklists,
    point_type: &str,
    marks: &[ItemMark],
) -> Result<CheckedVisit<'a>, VisitError> {
    let items = checklists
        .types
        .get(point_type)
        .ok_or_else(|| VisitError::NoChecklist(point_type.to_owned()))?;
    let mut seen = BTreeSet::new();
    let mut failures = Vec::new();
    for m in marks {
        let c = items
            .iter()
            .find(|c| c.code == m.criterion)
            .ok_or_else(|| VisitError::UnknownCriterion(m.criterion.clone()))?;
        if !seen.insert(c.code.as_str()) {
            return Err(VisitError::Twice(c.code.clone()));
        }
        if !m.pass {
            let note = m.note.as_deref().unwrap_or("").trim();
            if note.is_empty() || note.chars().count() > MAX_NOTE {
                return Err(VisitError::Note(c.code.clone()));
            }
            failures.push((c, note.to_owned()));
        }
    }
    let missing: Vec<&str> = items
        .iter()
        .map(|c| c.code.as_str())
        .filter(|c| !seen.contains(c))
        .collect();
    if !missing.is_empty() {
        return Err(VisitError::Unmarked(missing.join(", ")));
    }
    Ok(CheckedVisit {
        failures,
        marked: marks.len(),
    })
}

/// Where a finding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    /// 整改中: its case is open.
    Rectifying,
    /// 待复查: its case is closed, waiting for re-inspection.
    AwaitingRecheck,
    /// 已销号: re-inspected and passed.
    Passed,
    /// 不属实: a volunteer's finding that the grid's inspector did not confirm on site (its case
    /// was voided at 核实). It stays on record but counts neither as found nor against the point.
    NotConfirmed,
}

impl FindingStatus {
    /// The Chinese name.
    pub fn label_zh(self) -> &'static str {
        match self {
            FindingStatus::Rectifying => "整改中",
            FindingStatus::AwaitingRecheck => "待复查",
            FindingStatus::Passed => "已销号",
            FindingStatus::NotConfirmed => "不属实",
        }
    }

    /// Derives the status: passed once a re-inspection passed it, else from its current case
    /// (closed: waiting for 复查; voided at 核实: not confirmed).
    pub fn of(passed: bool, case_closed: bool, case_voided: bool) -> Self {
        match (passed, case_closed, case_voided) {
            (true, _, _) => FindingStatus::Passed,
            (false, _, true) => FindingStatus::NotConfirmed,
            (false, true, false) => FindingStatus::AwaitingRecheck,
            (false, false, false) => FindingStatus::Rectifying,
        }
    }

    /// Still counts against the point.
    pub fn is_open(self) -> bool {
        !matches!(self, FindingStatus::Passed | FindingStatus::NotConfirmed)
    }

    /// A problem that was confirmed: counted among the point's findings.
    pub fn is_confirmed(self) -> bool {
        self != FindingStatus::NotConfirmed
    }
}

/// A finding as the point status needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FindingState {
    /// Where it stands.
    pub status: FindingStatus,
    /// When it must be rectified by.
    pub deadline: DateTime<Utc>,
    /// Its case was closed (rectified) at least once.
    pub rectified: bool,
}

impl FindingState {
    /// Not rectified by its deadline.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.status == FindingStatus::Rectifying && now > self.deadline
    }
}

/// The readiness of one point (点位状态).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PointStatus {
    /// 未检查: no round has visited it.
    NotInspected,
    /// 达标: inspected, no open finding.
    Passed,
    /// 整改中: open findings, none overdue.
    Rectifying,
    /// 未达标: a finding is past its deadline unrectified.
    Failing,
}

impl PointStatus {
    /// The Chinese name.
    pub fn label_zh(self) -> &'static str {
        match self {
            PointStatus::NotInspected => "未检查",
            PointStatus::Passed => "达标",
            PointStatus::Rectifying => "整改中",
            PointStatus::Failing => "未达标",
        }
    }
}

/// A point's numbers: what the readiness page and the 通报 follow-up show.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PointReadiness {
    /// Status.
    pub status: PointStatus,
    /// Findings ever recorded.
    pub found: usize,
    /// Open findings (整改中 or 待复查).
    pub open: usize,
    /// Findings whose case was closed at least once (整改).
    pub rectified: usize,
    /// Findings re-inspected and passed (销号).
    pub passed: usize,
    /// Open findings past their deadline.
    pub overdue: usize,
    /// 整改率: rectified / found (1 when nothing was found).
    pub rectification_rate: f64,
}

/// The readiness of a point from its findings.
pub fn readiness(visited: bool, findings: &[FindingState], now: DateTime<Utc>) -> PointReadiness {
    let findings: Vec<FindingState> = findings
        .iter()
        .filter(|f| f.status.is_confirmed())
        .copied()
        .collect();
    let found = findings.len();
    let open = findings.iter().filter(|f| f.status.is_open()).count();
    let rectified = findings.iter().filter(|f| f.rectified).count();
    let passed = findings
        .iter()
        .filter(|f| f.status == FindingStatus::Passed)
        .count();
    let overdue = findings.iter().filter(|f| f.overdue(now)).count();
    let status = if !visited {
        PointStatus::NotInspected
    } else if overdue > 0 {
        PointStatus::Failing
    } else if open > 0 {
        PointStatus::Rectifying
    } else {
        PointStatus::Passed
    };
    PointReadiness {
        status,
        found,
        open,
        rectified,
        passed,
        overdue,
        rectification_rate: if found == 0 {
            1.0
        } else {
            rectified as f64 / found as f64
        },
    }
}

/// A round's date as given: a calendar day.
pub type RoundDate = NaiveDate;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn cats() -> BTreeSet<String> {
        ["0101", "0201", "0501"].map(String::from).into()
    }

    fn doc(items: &str) -> String {
        format!(r#"{{"types": {{"market": [{items}]}}}}"#)
    }

    const ITEM: &str = r#"{"code": "M01", "text": "无暴露垃圾", "category": "0101", "deduction": 2, "deadline_hours": 24}"#;

    #[test]
    fn a_checklist_names_known_types_and_categories_with_bounded_deadlines() {
        let ok = Checklists::parse(&doc(ITEM), &cats()).unwrap();
        assert_eq!(ok.criterion("market", "M01").unwrap().deadline_hours, 24);
        let bad = |s: &str| Checklists::parse(s, &cats()).unwrap_err().path;
        assert_eq!(
            bad(&doc(&ITEM.replace("0101", "9999"))),
            "types.market[0].category"
        );
        assert_eq!(
            bad(&doc(&ITEM.replace("24", "0"))),
            "types.market[0].deadline_hours"
        );
        assert_eq!(
            bad(&doc(&ITEM.replace("24", "721"))),
            "types.market[0].deadline_hours"
        );
        assert_eq!(
            bad(&doc(&ITEM.replace(": 2,", ": -1,"))),
            "types.market[0].deduction"
        );
        assert_eq!(
            bad(&doc(&format!("{ITEM}, {ITEM}"))),
            "types.market[1].code"
        );
        assert_eq!(
            bad(&doc(&ITEM.replace("无暴露垃圾", " "))),
            "types.market[0].text"
        );
        assert_eq!(bad(&doc("")), "types.market");
        assert_eq!(
            bad(&doc(ITEM).replace("market", "moon_base")),
            "types.moon_base"
        );
        assert!(bad(&doc(ITEM).replace("}]", ", \"colour\": 1}]")).starts_with("line 1"));
    }

    #[test]
    fn the_builtin_checklists_check_against_the_builtin_catalogue() {
        let codes: BTreeSet<String> = crate::domain::catalogue::default_catalogue()
            .into_iter()
            .map(|c| c.code)
            .collect();
        let parsed = Checklists::parse(DEFAULT_CHECKLISTS, &codes).unwrap();
        for ty in [
            "market",
            "back_alley",
            "school",
            "hospital",
            "old_compound",
            "main_road",
        ] {
            assert!(parsed.types.contains_key(ty), "{ty} has a checklist");
        }
    }

    #[test]
    fn a_visit_marks_every_item_once_and_notes_each_failure() {
        let c = Checklists::parse(
            &doc(&format!(
                "{ITEM}, {}",
                ITEM.replace("M01", "M02").replace("0101", "0201")
            )),
            &cats(),
        )
        .unwrap();
        let mark = |criterion: &str, pass: bool, note: Option<&str>| ItemMark {
            criterion: criterion.into(),
            pass,
            note: note.map(Into::into),
        };
        let v = check_visit(
            &c,
            "market",
            &[
                mark("M01", true, None),
                mark("M02", false, Some(" 占道经营 ")),
            ],
        )
        .unwrap();
        assert_eq!(v.failures.len(), 1);
        assert_eq!(v.failures[0].0.category, "0201");
        assert_eq!(v.failures[0].1, "占道经营");
        assert_eq!(
            check_visit(&c, "market", &[mark("M01", true, None)]),
            Err(VisitError::Unmarked("M02".into()))
        );
        assert_eq!(
            check_visit(
                &c,
                "market",
                &[mark("M01", true, None), mark("M01", true, None)]
            ),
            Err(VisitError::Twice("M01".into()))
        );
        assert_eq!(
            check_visit(
                &c,
                "market",
                &[mark("M01", true, None), mark("M02", false, None)]
            ),
            Err(VisitError::Note("M02".into()))
        );
        assert_eq!(
            check_visit(&c, "market", &[mark("X", true, None)]),
            Err(VisitError::UnknownCriterion("X".into()))
        );
        assert_eq!(
            check_visit(&c, "school", &[]),
            Err(VisitError::NoChecklist("school".into()))
        );
    }

    #[test]
    fn a_point_passes_when_inspected_with_every_finding_passed_and_fails_when_one_is_overdue() {
        let now = Utc.with_ymd_and_hms(2026, 5, 10, 12, 0, 0).unwrap();
        let f = |status, hours: i64, rectified| FindingState {
            status,
            deadline: now + chrono::Duration::hours(hours),
            rectified,
        };
        assert_eq!(readiness(false, &[], now).status, PointStatus::NotInspected);
        let clean = readiness(true, &[], now);
        assert_eq!(
            (clean.status, clean.rectification_rate),
            (PointStatus::Passed, 1.0)
        );
        let r = readiness(
            true,
            &[
                f(FindingStatus::Rectifying, 2, false),
                f(FindingStatus::AwaitingRecheck, -5, true),
                f(FindingStatus::Passed, -50, true),
            ],
            now,
        );
        assert_eq!(r.status, PointStatus::Rectifying);
        assert_eq!(
            (r.found, r.open, r.rectified, r.passed, r.overdue),
            (3, 2, 2, 1, 0)
        );
        assert!((r.rectification_rate - 2.0 / 3.0).abs() < 1e-12);
        let late = readiness(true, &[f(FindingStatus::Rectifying, -1, false)], now);
        assert_eq!((late.status, late.overdue), (PointStatus::Failing, 1));
        let done = readiness(true, &[f(FindingStatus::Passed, -1, true)], now);
        assert_eq!(done.status, PointStatus::Passed);
    }

    #[test]
    fn a_finding_not_confirmed_at_verification_neither_counts_nor_keeps_its_point_open() {
        assert_eq!(
            FindingStatus::of(false, false, true),
            FindingStatus::NotConfirmed
        );
        assert_eq!(FindingStatus::of(true, false, true), FindingStatus::Passed);
        let now = Utc::now();
        let state = |status, hours: i64| FindingState {
            status,
            deadline: now + chrono::Duration::hours(hours),
            rectified: false,
        };
        // One untrue report, past its deadline: the point passes and nothing was found.
        let r = readiness(true, &[state(FindingStatus::NotConfirmed, -5)], now);
        assert_eq!(r.status, PointStatus::Passed);
        assert_eq!((r.found, r.open, r.overdue), (0, 0, 0));
        // Beside a real open problem it changes nothing.
        let r = readiness(
            true,
            &[
                state(FindingStatus::NotConfirmed, -5),
                state(FindingStatus::Rectifying, 5),
            ],
            now,
        );
        assert_eq!(r.status, PointStatus::Rectifying);
        assert_eq!((r.found, r.open), (1, 1));
    }

    #[test]
    fn support_units_are_read_from_a_list_or_a_comma_separated_string() {
        let mut f = Jurisdiction {
            layer: super::super::jurisdiction::Layer::Zone,
            code: "S1".into(),
            name: "市场".into(),
            parent_code: None,
            unit_code: Some("lead".into()),
            kind: Some("inspection_site".into()),
            props: serde_json::Map::new(),
            geometry: geo::Geometry::Point(geo::Point::new(113.6, 34.7)),
        };
        f.props.insert("site_type".into(), "market".into());
        f.props.insert("support_units".into(), "a，b; c,".into());
        let p = AssessmentPoint::from_feature(&f).unwrap();
        assert_eq!(p.units().collect::<Vec<_>>(), ["lead", "a", "b", "c"]);
        assert_eq!(p.point_type_name, "农贸市场/集贸市场");
        f.props
            .insert("support_units".into(), serde_json::json!(["x", " y "]));
        assert_eq!(support_units(&f), ["x", "y"]);
    }
}
