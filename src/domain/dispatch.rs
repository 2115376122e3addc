//! Automatic dispatch (自动派遣): on 立案 a rule table routes a case by category × zone × owner
//! chain. The table is data (cities replace it with a JSON file); the first rule whose conditions
//! hold *and* whose route resolves to an existing unit fires. When nothing fires the case goes to
//! the triage queue of the 创文办 (civilisation office): 职责不清 problems are decided by a person,
//! never dropped and never silently guessed.
//!
//! Pure: the caller describes the place (from the assignment engine) and the category; the answer
//! names the rule, the unit(s) and the owner chain behind the decision.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::catalogue::{Category, TimeLimit};
use super::finding::Severity;

/// One link of the owner chain of a place: who answers for it at each level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
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

/// What the engine found at the point, reduced to what routing needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    /// The district the point lies in (or, outside every grid, the nearest grid's district).
    pub district_code: Option<String>,
    /// Inside a unit grid.
    pub inside_grid: bool,
    /// Grid → community → street → district, with their units.
    pub chain: Vec<ChainLink>,
    /// The frontage strip (门前三包) holding the point, if any and not ambiguous.
    pub frontage: Option<ChainLink>,
    /// Two frontage strips hold the point too close to call.
    pub frontage_ambiguous: bool,
    /// Railway land (铁路用地) holding the point.
    pub railway_land: Option<ChainLink>,
    /// Urban village (城中村).
    pub urban_village: Option<ChainLink>,
    /// Back alley (背街小巷).
    pub back_alley: Option<ChainLink>,
    /// The category's default department in this district, if that unit exists.
    pub department: Option<ChainLink>,
    /// The 属地兜底 owner: the first unit up the chain grid → community → street.
    pub territorial: Option<ChainLink>,
}

impl Place {
    /// Every link known, in the order a reader expects: zones and frontage first (the most
    /// specific owner), then the territorial chain, then the category's department.
    pub fn owner_chain(&self) -> Vec<ChainLink> {
        let mut out = Vec::new();
        out.extend(self.frontage.iter().cloned());
        out.extend(self.railway_land.iter().cloned());
        out.extend(self.urban_village.iter().cloned());
        out.extend(self.back_alley.iter().cloned());
        out.extend(self.chain.iter().cloned());
        out.extend(self.department.iter().cloned());
        out
    }

    fn street_unit(&self) -> Option<&str> {
        self.chain
            .iter()
            .find(|l| l.level == "street")
            .and_then(|l| l.unit_code.as_deref())
    }
}

/// Where a place must be for a rule to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceCondition {
    /// Outside every unit grid.
    Unassigned,
    /// On railway land.
    RailwayLand,
    /// In a frontage strip with one clear shop.
    Frontage,
    /// Between two frontage strips too close to call.
    FrontageAmbiguous,
    /// In an urban village.
    UrbanVillage,
    /// On a back alley.
    BackAlley,
}

/// The conditions of a rule; all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// Where.
    #[serde(default)]
    pub place: Option<PlaceCondition>,
    /// Only these category codes.
    #[serde(default)]
    pub categories: Option<Vec<String>>,
    /// Only 门前三包 categories (or only others, when false).
    #[serde(default)]
    pub frontage_category: Option<bool>,
}

/// A step of the 门前三包 escalation ladder: when the shop has not fixed the problem within the
/// window, the next step follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationKind {
    /// 提醒: the shop is reminded.
    Reminder,
    /// 警告: a formal warning.
    Warning,
    /// 执法: an enforcement case for 城管执法.
    Enforcement,
}

impl EscalationKind {
    /// The Chinese name.
    pub fn label_zh(self) -> &'static str {
        match self {
            EscalationKind::Reminder => "提醒",
            EscalationKind::Warning => "警告",
            EscalationKind::Enforcement => "移交执法",
        }
    }
}

/// How a rule routes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "to")]
pub enum Route {
    /// To the triage queue of the district's 创文办.
    Triage,
    /// To the unit of the railway land, with the street office as co-owner (the district is
    /// still tasked to fix it, as the speeches insist).
    RailwayBureau,
    /// To the frontage's shop, which gets `self_fix` to fix it itself; then each step of the
    /// ladder gives it `step` more, and the last step hands the case to 城管执法.
    Shop {
        /// The self-fix window.
        self_fix: TimeLimit,
        /// The window of each further step.
        step: TimeLimit,
        /// Department key of the enforcement unit (`cgzf`: 城管执法).
        enforcement: String,
    },
    /// To the category's default department in the district.
    Department,
    /// To the territorial owner (属地兜底): grid unit, community or street office.
    Territorial,
}

/// One row of the rule table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id, recorded on every case it routes.
    pub id: String,
    /// What it means, for people.
    pub name: String,
    /// Conditions.
    #[serde(default)]
    pub when: When,
    /// Route.
    pub then: Route,
}

/// The rule table, tried in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTable {
    /// Rules.
    pub rules: Vec<Rule>,
    /// Department key of the triage office (`cwb`: 创文办).
    pub triage_department: String,
    /// Where the table comes from: the city's 派遣规则 document, its number and date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What a rule table refers to in a city: the names a check resolves against.
#[derive(Debug, Clone, Default)]
pub struct RuleContext {
    /// Codes of the responsible units (`dept-{district}-{key}` for departments).
    pub units: BTreeSet<String>,
    /// Codes of the categories of the catalogue.
    pub categories: BTreeSet<String>,
    /// Codes of the districts (区).
    pub districts: BTreeSet<String>,
}

/// One finding of [`RuleTable::check_against`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleFinding {
    /// Error (refused) or warning.
    pub severity: Severity,
    /// Stable name of the check: `unknown_category`, `missing_department_unit`,
    /// `unreachable_rule`.
    pub check: &'static str,
    /// The rule concerned (None: the table as a whole, e.g. its triage department).
    pub rule: Option<String>,
    /// What is wrong, in words a person can act on.
    pub message: String,
    /// What to change, in Chinese and English.
    pub fix: &'static str,
}

/// The findings of a rule table's check against a city.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RuleReport {
    /// Error count.
    pub errors: usize,
    /// Warning count.
    pub warnings: usize,
    /// Every finding, in table order.
    pub findings: Vec<RuleFinding>,
}

impl RuleReport {
    /// Whether a load with this report is refused.
    pub fn refuses(&self, accept_warnings: bool) -> bool {
        self.errors > 0 || (self.warnings > 0 && !accept_warnings)
    }

    fn push(
        &mut self,
        severity: Severity,
        check: &'static str,
        rule: Option<&str>,
        message: String,
    ) {
        match severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
        let fix = match check {
            "unknown_category" => {
                "改正类别编码，或先在类别目录中加入该类别 / correct the category code or add the category to the catalogue"
            }
            "missing_department_unit" => {
                "在 units.csv 中为每个区登记该部门（编码 dept-区代码-部门键）/ list the department in units.csv for every district (code dept-<district>-<key>)"
            }
            _ => {
                "删除该规则，或把它移到总会命中的规则之前 / remove the rule or move it above the rule that always fires"
            }
        };
        self.findings.push(RuleFinding {
            severity,
            check,
            rule: rule.map(str::to_owned),
            message,
            fix,
        });
    }
}

/// A rule table that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid dispatch rule table: {0}")]
pub struct RuleTableError(pub String);

/// The shop's self-fix window and the ladder after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfFix {
    /// First window.
    pub window: TimeLimit,
    /// Each further step.
    pub step: TimeLimit,
    /// The enforcement unit the last step hands over to.
    pub enforcement_unit: String,
}

/// What dispatch decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The rule that fired.
    pub rule: String,
    /// Send to this unit, or `None`: into the triage queue.
    pub unit_code: Option<String>,
    /// A second unit answering with it (railway land: the street office).
    pub co_owner: Option<String>,
    /// The triage office whose queue holds the case (when `unit_code` is `None`).
    pub triage_unit: Option<String>,
    /// Set for 门前三包: the shop fixes it itself first.
    pub self_fix: Option<SelfFix>,
    /// Why, in Chinese and English.
    pub reason: String,
    /// The owner chain the decision was made on.
    pub owner_chain: Vec<ChainLink>,
}

impl Default for RuleTable {
    fn default() -> Self {
        use PlaceCondition as P;
        let rule = |id: &str, name: &str, when: When, then: Route| Rule {
            id: id.into(),
            name: name.into(),
            when,
            then,
        };
        let at = |p| When {
            place: Some(p),
            ..When::default()
        };
        RuleTable {
            triage_department: "cwb".into(),
            source: Some("wangge 默认派遣规则 / wangge's default dispatch rules".into()),
            rules: vec![
                rule(
                    "unassigned",
                    "不在任何单元网格内：交创文办研判",
                    at(P::Unassigned),
                    Route::Triage,
                ),
                rule(
                    "railway_land",
                    "铁路用地：派铁路部门，所在街道共同负责",
                    at(P::RailwayLand),
                    Route::RailwayBureau,
                ),
                rule(
                    "frontage_ambiguous",
                    "门前三包责任商户不明：交创文办研判",
                    When {
                        place: Some(P::FrontageAmbiguous),
                        frontage_category: Some(true),
                        ..When::default()
                    },
                    Route::Triage,
                ),
                rule(
                    "frontage_shop",
                    "门前三包：先由责任商户限期自行整改，逾期提醒→警告→移交城管执法",
                    When {
                        place: Some(P::Frontage),
                        frontage_category: Some(true),
                        ..When::default()
                    },
                    Route::Shop {
                        self_fix: TimeLimit::WorkingHours(4),
                        step: TimeLimit::WorkingHours(4),
                        enforcement: "cgzf".into(),
                    },
                ),
                rule(
                    "department",
                    "按类别派至区职能部门",
                    When::default(),
                    Route::Department,
                ),
                rule(
                    "territorial",
                    "属地兜底：派至网格/社区/街道责任单位",
                    When::default(),
                    Route::Territorial,
                ),
            ],
        }
    }
}

impl When {
    fn holds(&self, place: &Place, category: &Category) -> bool {
        let place_ok = match self.place {
            None => true,
            Some(PlaceCondition::Unassigned) => !place.inside_grid,
            Some(PlaceCondition::RailwayLand) => place.railway_land.is_some(),
            Some(PlaceCondition::Frontage) => place.frontage.is_some() && !place.frontage_ambiguous,
            Some(PlaceCondition::FrontageAmbiguous) => place.frontage_ambiguous,
            Some(PlaceCondition::UrbanVillage) => place.urban_village.is_some(),
            Some(PlaceCondition::BackAlley) => place.back_alley.is_some(),
        };
        place_ok
            && self
                .categories
                .as_ref()
                .is_none_or(|c| c.contains(&category.code))
            && self
                .frontage_category
                .is_none_or(|f| f == category.frontage)
    }
}

impl RuleTable {
    /// Parses and checks a table (a city's JSON file).
    pub fn from_json(text: &str) -> Result<Self, RuleTableError> {
        let table: RuleTable = serde_json::from_str(text)
            .map_err(|e| RuleTableError(format!("not a rule table: {e}")))?;
        table.check()?;
        Ok(table)
    }

    /// Ids must be unique and non-empty, and the department keys plain.
    pub fn check(&self) -> Result<(), RuleTableError> {
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.rules {
            if r.id.trim().is_empty() {
                return Err(RuleTableError("a rule has an empty id".into()));
            }
            if !seen.insert(r.id.as_str()) {
                return Err(RuleTableError(format!("rule id {:?} is used twice", r.id)));
            }
        }
        let plain = |k: &str| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric());
        if !plain(&self.triage_department) {
            return Err(RuleTableError(format!(
                "triage_department {:?} must be a plain department key like \"cwb\"",
                self.triage_department
            )));
        }
        for r in &self.rules {
            if let Route::Shop { enforcement, .. } = &r.then
                && !plain(enforcement)
            {
                return Err(RuleTableError(format!(
                    "rule {:?}: enforcement {enforcement:?} must be a plain department key like \"cgzf\"",
                    r.id
                )));
            }
        }
        Ok(())
    }

    /// The department keys the table routes to by itself (triage office, enforcement units).
    fn department_keys(&self) -> Vec<(Option<&str>, &str)> {
        let mut keys = vec![(None, self.triage_department.as_str())];
        keys.extend(self.rules.iter().filter_map(|r| match &r.then {
            Route::Shop { enforcement, .. } => Some((Some(r.id.as_str()), enforcement.as_str())),
            _ => None,
        }));
        keys
    }

    /// Checks the table against a city before it is loaded: every category it names must be in
    /// the catalogue (an error: the rule could never fire as meant); every department it routes
    /// to should have a unit in every district (a warning: there the rule falls through, or the
    /// triage queue has no office); a rule after one that always fires is never reached (a
    /// warning).
    pub fn check_against(&self, city: &RuleContext) -> RuleReport {
        let mut report = RuleReport::default();
        for r in &self.rules {
            for c in r.when.categories.iter().flatten() {
                if !city.categories.contains(c) {
                    report.push(
                        Severity::Error,
                        "unknown_category",
                        Some(&r.id),
                        format!(
                            "rule {:?} names category {c:?}, which the catalogue does not have",
                            r.id
                        ),
                    );
                }
            }
        }
        for (rule, key) in self.department_keys() {
            let missing: Vec<&str> = city
                .districts
                .iter()
                .filter(|d| !city.units.contains(&format!("dept-{d}-{key}")))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                let what = match rule {
                    None => "the triage office".to_owned(),
                    Some(id) => format!("rule {id:?}'s enforcement unit"),
                };
                report.push(
                    Severity::Warning,
                    "missing_department_unit",
                    rule,
                    format!(
                        "{what} {key:?} has no unit in district(s) {}: expected dept-{}-{key}",
                        missing.join(", "),
                        missing[0]
                    ),
                );
            }
        }
        if let Some(i) = self
            .rules
            .iter()
            .position(|r| r.when == When::default() && r.then == Route::Triage)
        {
            for r in &self.rules[i + 1..] {
                report.push(
                    Severity::Warning,
                    "unreachable_rule",
                    Some(&r.id),
                    format!(
                        "rule {:?} comes after {:?}, which sends every case to triage, so it never fires",
                        r.id, self.rules[i].id
                    ),
                );
            }
        }
        report
    }

    /// Decides where a case goes. `unit_exists` tells whether a unit code is known, so a rule
    /// whose unit is missing does not fire and the next one is tried.
    pub fn decide(
        &self,
        place: &Place,
        category: &Category,
        unit_exists: impl Fn(&str) -> bool,
    ) -> Decision {
        let owner_chain = place.owner_chain();
        let district_unit = |key: &str| {
            place
                .district_code
                .as_deref()
                .map(|d| format!("dept-{d}-{key}"))
                .filter(|u| unit_exists(u))
        };
        let triage_unit = district_unit(&self.triage_department);
        let triage = |rule: &str, why: String| Decision {
            rule: rule.into(),
            unit_code: None,
            co_owner: None,
            triage_unit: triage_unit.clone(),
            self_fix: None,
            reason: why,
            owner_chain: owner_chain.clone(),
        };
        for rule in &self.rules {
            if !rule.when.holds(place, category) {
                continue;
            }
            let send = |unit: String, co_owner: Option<String>, why: String| Decision {
                rule: rule.id.clone(),
                unit_code: Some(unit),
                co_owner,
                triage_unit: None,
                self_fix: None,
                reason: why,
                owner_chain: owner_chain.clone(),
            };
            let decided = match &rule.then {
                Route::Triage => Some(triage(
                    &rule.id,
                    format!("{}。Rule {}: to the triage queue.", rule.name, rule.id),
                )),
                Route::RailwayBureau => place
                    .railway_land
                    .as_ref()
                    .and_then(|z| z.unit_code.clone())
                    .filter(|u| unit_exists(u))
                    .map(|u| {
                        send(
                            u.clone(),
                            place.street_unit().map(str::to_owned),
                            format!(
                                "{}（{}）。Railway land: to {u}, the street office co-owns.",
                                rule.name,
                                place.railway_land.as_ref().map_or("", |z| z.name.as_str())
                            ),
                        )
                    }),
                Route::Shop {
                    self_fix,
                    step,
                    enforcement,
                } => match (
                    place
                        .frontage
                        .as_ref()
                        .and_then(|f| f.unit_code.clone())
                        .filter(|u| unit_exists(u)),
                    district_unit(enforcement),
                ) {
                    (Some(shop), Some(enforcement_unit)) => {
                        let name = place.frontage.as_ref().map_or("", |f| f.name.as_str());
                        let mut d = send(
                            shop.clone(),
                            None,
                            format!(
                                "{}（责任商户「{name}」）。Frontage shop {shop} fixes it first; then reminder, warning, enforcement by {enforcement_unit}.",
                                rule.name
                            ),
                        );
                        d.self_fix = Some(SelfFix {
                            window: *self_fix,
                            step: *step,
                            enforcement_unit,
                        });
                        Some(d)
                    }
                    _ => None,
                },
                Route::Department => place
                    .department
                    .as_ref()
                    .and_then(|d| d.unit_code.clone())
                    .filter(|u| unit_exists(u))
                    .map(|u| {
                        send(
                            u.clone(),
                            None,
                            format!(
                                "{}：「{}」由 {} 处置。Category {} goes to {u}.",
                                rule.name,
                                category.name,
                                place.department.as_ref().map_or("", |d| d.name.as_str()),
                                category.code
                            ),
                        )
                    }),
                Route::Territorial => place
                    .territorial
                    .as_ref()
                    .and_then(|t| t.unit_code.clone())
                    .filter(|u| unit_exists(u))
                    .map(|u| {
                        send(
                            u.clone(),
                            None,
                            format!("{}：{u}。Territorial owner {u}.", rule.name),
                        )
                    }),
            };
            if let Some(d) = decided {
                return d;
            }
        }
        triage(
            "no_owner",
            "没有规则能确定责任单位：交创文办研判。No rule found an owner: to the triage queue."
                .into(),
        )
    }
}

/// Whether a person may dispatch a case to a unit without giving a reason: the unit answers for
/// the case's place. That is a city-wide unit (no parent), a unit of the case's district, street
/// or community (its parent is one of them), or a unit named in the recorded owner chain (a
/// frontage's shop, the railway bureau, an inspection site's unit). A case with no district
/// (reported outside every area) fits any unit: there is nothing to contradict.
///
/// A dispatch that does not fit is allowed, since a dispatcher may know better than the map,
/// but it must say why (the reason goes to the timeline and the audit log).
pub fn unit_fits_place(
    unit_code: &str,
    unit_parent: Option<&str>,
    district: Option<&str>,
    street: Option<&str>,
    community: Option<&str>,
    chain: &[ChainLink],
) -> bool {
    let Some(district) = district else {
        return true;
    };
    let Some(parent) = unit_parent else {
        return true;
    };
    parent == district
        || Some(parent) == street
        || Some(parent) == community
        || chain
            .iter()
            .any(|l| l.unit_code.as_deref() == Some(unit_code))
}

/// The escalation step that follows `level` steps already taken (0: none yet): 1 reminder,
/// 2 warning, 3 enforcement; `None` after enforcement.
pub fn next_escalation(level: i64) -> Option<EscalationKind> {
    match level {
        0 => Some(EscalationKind::Reminder),
        1 => Some(EscalationKind::Warning),
        2 => Some(EscalationKind::Enforcement),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::{default_catalogue, find};

    fn link(level: &str, code: &str, unit: Option<&str>) -> ChainLink {
        ChainLink {
            level: level.into(),
            code: code.into(),
            name: format!("{level} {code}"),
            unit_code: unit.map(str::to_owned),
        }
    }

    #[test]
    fn a_unit_of_the_case_s_district_street_or_chain_fits_and_another_district_s_does_not() {
        let chain = [
            link("community", "410102001002", Some("comm-410102001002")),
            link("frontage", "410102001002001M001", Some("shop-1")),
        ];
        let fits = |unit: &str, parent: Option<&str>| {
            unit_fits_place(
                unit,
                parent,
                Some("410102"),
                Some("410102001"),
                Some("410102001002"),
                &chain,
            )
        };
        assert!(
            fits("dept-410102-zj", Some("410102")),
            "a department of the district"
        );
        assert!(
            fits("street-410102001", Some("410102")),
            "its street office"
        );
        assert!(
            fits("comm-410102001002", Some("410102001")),
            "its community"
        );
        assert!(
            fits("shop-1", Some("410102009")),
            "named in the owner chain"
        );
        assert!(fits("dept-city-tl", None), "a city-wide unit");
        assert!(
            !fits("dept-410103-cgzf", Some("410103")),
            "another district's department"
        );
        assert!(
            !fits("comm-410102009001", Some("410102009")),
            "another street's community"
        );
        assert!(
            unit_fits_place("dept-410103-cgzf", Some("410103"), None, None, None, &[]),
            "a case outside every area fits any unit"
        );
    }

    fn place() -> Place {
        Place {
            district_code: Some("410103".into()),
            inside_grid: true,
            chain: vec![
                link("grid", "410103001001001", None),
                link("community", "410103001001", Some("comm-410103001001")),
                link("street", "410103001", Some("street-410103001")),
                link("district", "410103", None),
            ],
            department: Some(link("department", "dept-410103-hw", Some("dept-410103-hw"))),
            territorial: Some(link("community", "410103001001", Some("comm-410103001001"))),
            ..Place::default()
        }
    }

    fn exists(u: &str) -> bool {
        !u.contains("missing")
    }

    fn garbage() -> Category {
        find(&default_catalogue(), "0101").cloned().unwrap()
    }

    fn building() -> Category {
        default_catalogue()
            .into_iter()
            .find(|c| !c.frontage)
            .unwrap()
    }

    #[test]
    fn a_frontage_problem_goes_to_the_shop_with_a_self_fix_window_and_the_ladder() {
        let mut p = place();
        p.frontage = Some(link("frontage", "F1", Some("shop-1")));
        let d = RuleTable::default().decide(&p, &garbage(), exists);
        assert_eq!(d.rule, "frontage_shop");
        assert_eq!(d.unit_code.as_deref(), Some("shop-1"));
        let fix = d.self_fix.unwrap();
        assert_eq!(fix.enforcement_unit, "dept-410103-cgzf");
        assert_eq!(fix.window, TimeLimit::WorkingHours(4));
        assert_eq!(d.owner_chain[0].level, "frontage");
    }

    #[test]
    fn a_non_frontage_category_in_a_frontage_strip_goes_to_the_department() {
        let mut p = place();
        p.frontage = Some(link("frontage", "F1", Some("shop-1")));
        let cat = building();
        p.department = Some(link(
            "department",
            &cat.department_unit("410103"),
            Some(&cat.department_unit("410103")),
        ));
        let d = RuleTable::default().decide(&p, &cat, exists);
        assert_eq!(d.rule, "department");
        assert_eq!(d.unit_code, Some(cat.department_unit("410103")));
        assert!(d.self_fix.is_none());
    }

    #[test]
    fn railway_land_goes_to_the_railway_bureau_with_the_street_as_co_owner() {
        let mut p = place();
        p.railway_land = Some(link("railway_land", "ZRL-001", Some("dept-railway-zzj")));
        p.frontage = Some(link("frontage", "F1", Some("shop-1")));
        let d = RuleTable::default().decide(&p, &garbage(), exists);
        assert_eq!(d.rule, "railway_land");
        assert_eq!(d.unit_code.as_deref(), Some("dept-railway-zzj"));
        assert_eq!(d.co_owner.as_deref(), Some("street-410103001"));
    }

    #[test]
    fn an_ambiguous_frontage_goes_to_triage_of_the_districts_civilisation_office() {
        let mut p = place();
        p.frontage_ambiguous = true;
        let d = RuleTable::default().decide(&p, &garbage(), exists);
        assert_eq!(d.rule, "frontage_ambiguous");
        assert_eq!(d.unit_code, None);
        assert_eq!(d.triage_unit.as_deref(), Some("dept-410103-cwb"));
    }

    #[test]
    fn a_point_outside_every_grid_goes_to_triage() {
        let p = Place {
            district_code: Some("410102".into()),
            ..Place::default()
        };
        let d = RuleTable::default().decide(&p, &garbage(), exists);
        assert_eq!(d.rule, "unassigned");
        assert_eq!(d.triage_unit.as_deref(), Some("dept-410102-cwb"));
    }

    #[test]
    fn a_rule_whose_unit_is_missing_falls_through_to_the_next() {
        let mut p = place();
        p.railway_land = Some(link("railway_land", "ZRL-9", Some("missing-bureau")));
        p.department = Some(link("department", "dept-missing", Some("dept-missing")));
        let d = RuleTable::default().decide(&p, &building(), exists);
        assert_eq!(d.rule, "territorial");
        assert_eq!(d.unit_code.as_deref(), Some("comm-410103001001"));
    }

    #[test]
    fn with_no_owner_at_all_the_case_is_never_dropped_but_triaged() {
        let mut p = place();
        p.department = None;
        p.territorial = None;
        let d = RuleTable::default().decide(&p, &building(), exists);
        assert_eq!(d.rule, "no_owner");
        assert_eq!(d.unit_code, None);
        assert_eq!(d.triage_unit.as_deref(), Some("dept-410103-cwb"));
    }

    #[test]
    fn a_shop_without_a_unit_is_not_guessed() {
        let mut p = place();
        p.frontage = Some(link("frontage", "F1", None));
        let d = RuleTable::default().decide(&p, &garbage(), exists);
        assert_eq!(d.rule, "department");
    }

    #[test]
    fn the_ladder_is_reminder_then_warning_then_enforcement_then_nothing() {
        assert_eq!(next_escalation(0), Some(EscalationKind::Reminder));
        assert_eq!(next_escalation(1), Some(EscalationKind::Warning));
        assert_eq!(next_escalation(2), Some(EscalationKind::Enforcement));
        assert_eq!(next_escalation(3), None);
    }

    #[test]
    fn a_city_table_parses_from_json_and_duplicate_ids_are_refused() {
        let json = serde_json::to_string(&RuleTable::default()).unwrap();
        assert_eq!(RuleTable::from_json(&json).unwrap(), RuleTable::default());
        let twice = r#"{"triage_department":"cwb","rules":[
            {"id":"a","name":"x","then":{"to":"triage"}},
            {"id":"a","name":"y","then":{"to":"department"}}]}"#;
        assert!(
            RuleTable::from_json(twice)
                .unwrap_err()
                .0
                .contains("used twice")
        );
        let restricted = r#"{"triage_department":"cwb","rules":[
            {"id":"vending","name":"占道经营 in villages","when":{"place":"urban_village","categories":["0201"]},"then":{"to":"territorial"}}]}"#;
        let t = RuleTable::from_json(restricted).unwrap();
        let mut p = place();
        p.urban_village = Some(link("urban_village", "ZUV-1", Some("comm-1")));
        let cat = find(&default_catalogue(), "0201").cloned().unwrap();
        assert_eq!(t.decide(&p, &cat, exists).rule, "vending");
        assert_eq!(t.decide(&p, &garbage(), exists).rule, "no_owner");
    }

    fn city() -> RuleContext {
        RuleContext {
            units: ["dept-410103-cwb", "dept-410103-cgzf", "dept-410105-cwb"]
                .into_iter()
                .map(String::from)
                .collect(),
            categories: default_catalogue().into_iter().map(|c| c.code).collect(),
            districts: ["410103", "410105"].into_iter().map(String::from).collect(),
        }
    }

    #[test]
    fn the_default_table_is_checked_against_a_city_and_names_each_missing_department() {
        let r = RuleTable::default().check_against(&city());
        assert_eq!((r.errors, r.warnings), (0, 1), "{r:?}");
        let f = &r.findings[0];
        assert_eq!(f.check, "missing_department_unit");
        assert_eq!(f.rule.as_deref(), Some("frontage_shop"));
        assert!(
            f.message.contains("410105") && f.message.contains("dept-410105-cgzf"),
            "{}",
            f.message
        );
        assert!(r.refuses(false) && !r.refuses(true));
    }

    #[test]
    fn an_unknown_category_is_an_error_and_a_rule_after_an_unconditional_triage_is_unreachable() {
        let t = RuleTable::from_json(
            r#"{"triage_department":"cwb","rules":[
            {"id":"v","name":"x","when":{"categories":["0201","9999"]},"then":{"to":"territorial"}},
            {"id":"all","name":"y","then":{"to":"triage"}},
            {"id":"late","name":"z","then":{"to":"department"}}]}"#,
        )
        .unwrap();
        let r = t.check_against(&city());
        let checks: Vec<(&str, Option<&str>)> = r
            .findings
            .iter()
            .map(|f| (f.check, f.rule.as_deref()))
            .collect();
        assert_eq!(
            checks,
            vec![
                ("unknown_category", Some("v")),
                ("unreachable_rule", Some("late")),
            ]
        );
        assert_eq!((r.errors, r.warnings), (1, 1));
        assert!(r.findings[0].message.contains("9999"));
    }

    #[test]
    fn an_enforcement_key_that_is_not_plain_is_refused() {
        let t = r#"{"triage_department":"cwb","rules":[
            {"id":"s","name":"x","then":{"to":"shop","self_fix":{"unit":"working_hours","value":4},"step":{"unit":"working_hours","value":4},"enforcement":"dept-410103-cgzf"}}]}"#;
        assert!(
            RuleTable::from_json(t)
                .unwrap_err()
                .0
                .contains("enforcement")
        );
    }
}
