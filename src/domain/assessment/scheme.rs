//! The scheme (考核办法): which indicators count for how many points, the count ladders, the
//! deductions, the pass line, the grade bands, the 捆绑 blend and what the public 红黑榜 shows.
//! A city replaces it as a JSON document; every version is kept. [`Scheme::parse`] refuses a
//! document that could not score (unknown fields, weights that do not add up, bands out of order).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Level;

/// The default scheme: the standard's weights (CJ/T 292 as reproduced by implementations, see
/// `docs/assessment.md`).
pub const DEFAULT_SCHEME: &str = include_str!("default-scheme.json");

/// An indicator a formula can use. Every value is in 0..=1 (a rate, or a ladder's score / 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    /// 立案数分值: the case-count ladder (fewer problems score higher).
    CaseCountScore,
    /// 结案率 = 结案数 / 应结案数.
    ClosureRate,
    /// 按期结案率 (按期处置率) = 按期结案数 / 应结案数.
    OnTimeRate,
    /// 1 − 返工率 (返工率 = cases with a failed 核查 / 应结案数).
    ReworkFree,
    /// 有效上报率 = reports that became cases / reports.
    ValidReportRate,
    /// 1 − 漏报率 (漏报率 = confirmed public reports / (those + own valid reports)).
    MissFree,
    /// 按时核实率.
    OnTimeVerifyRate,
    /// 按时核查率.
    OnTimeCheckRate,
    /// 按时立案率.
    OnTimeRegisterRate,
    /// 按时派遣率.
    OnTimeDispatchRate,
    /// 准确派遣率 = dispatches never sent back / dispatches.
    AccurateDispatchRate,
    /// 派遣数分值: the dispatch-volume ladder (more work scores higher).
    DispatchCountScore,
}

impl Indicator {
    /// The Chinese name.
    pub fn label_zh(self) -> &'static str {
        match self {
            Indicator::CaseCountScore => "立案数分值",
            Indicator::ClosureRate => "结案率",
            Indicator::OnTimeRate => "按期结案率",
            Indicator::ReworkFree => "返工率分值",
            Indicator::ValidReportRate => "有效上报率",
            Indicator::MissFree => "漏报率分值",
            Indicator::OnTimeVerifyRate => "按时核实率",
            Indicator::OnTimeCheckRate => "按时核查率",
            Indicator::OnTimeRegisterRate => "按时立案率",
            Indicator::OnTimeDispatchRate => "按时派遣率",
            Indicator::AccurateDispatchRate => "准确派遣率",
            Indicator::DispatchCountScore => "派遣数分值",
        }
    }

    /// The indicators of a handling unit or an area.
    pub const UNIT: [Indicator; 4] = [
        Indicator::CaseCountScore,
        Indicator::ClosureRate,
        Indicator::OnTimeRate,
        Indicator::ReworkFree,
    ];
    /// The indicators of an inspector (监督员).
    pub const INSPECTOR: [Indicator; 4] = [
        Indicator::ValidReportRate,
        Indicator::MissFree,
        Indicator::OnTimeVerifyRate,
        Indicator::OnTimeCheckRate,
    ];
    /// The indicators of the command centre's staff (立案, 派遣).
    pub const DISPATCHER: [Indicator; 4] = [
        Indicator::DispatchCountScore,
        Indicator::OnTimeRegisterRate,
        Indicator::OnTimeDispatchRate,
        Indicator::AccurateDispatchRate,
    ];
}

/// One part of a formula.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// The indicator.
    pub indicator: Indicator,
    /// The points it is worth.
    pub points: f64,
    /// Full points at or above this value (e.g. 0.7 for "按期结案率 ≥ 70 % full marks"); absent:
    /// points × value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_at: Option<f64>,
    /// With `full_at`: points taken per percentage point below it (e.g. 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minus_per_point: Option<f64>,
}

impl Component {
    /// The points earned at `value` (0..=1).
    pub fn earned(&self, value: f64) -> f64 {
        match (self.full_at, self.minus_per_point) {
            (Some(full), Some(per)) if value < full => {
                (self.points - per * (full - value) * 100.0).max(0.0)
            }
            (Some(_), _) => self.points,
            _ => self.points * value.clamp(0.0, 1.0),
        }
    }
}

/// A formula: its components' earned points over their total, as 0..=100.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Formula {
    /// The components.
    pub components: Vec<Component>,
}

/// One step of a ladder: counts up to `up_to` (inclusive; absent on the last step) score `score`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rung {
    /// The highest count of this step; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to: Option<u64>,
    /// The score, 0..=100.
    pub score: f64,
}

/// The ladders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ladders {
    /// 立案数分值 of a unit or an area per period.
    pub case_count: Vec<Rung>,
    /// 派遣数分值 of a dispatcher per period.
    pub dispatch_count: Vec<Rung>,
    /// 立案数分值 of a unit grid by its area class (`"1"`: 一类区域, `"2"`: 二类区域), per
    /// period; a grid of a class not listed here is counted on `case_count`.
    #[serde(default)]
    pub area_classes: BTreeMap<String, Vec<Rung>>,
}

/// The score of `n` on a ladder.
pub fn ladder_score(ladder: &[Rung], n: u64) -> f64 {
    ladder
        .iter()
        .find(|r| r.up_to.is_none_or(|m| n <= m))
        .map_or(0.0, |r| r.score)
}

/// Point deductions of handling units and areas, per case reckoned in the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deductions {
    /// Points per late case (closed late or open past its deadline), by category code; `*`
    /// for every other category.
    #[serde(default)]
    pub late_by_category: BTreeMap<String, f64>,
    /// Points per failed 核查 (返工).
    #[serde(default)]
    pub per_rework: f64,
    /// Case sources whose deductions count twice (领导交办, 媒体曝光: "加倍扣分").
    #[serde(default)]
    pub double_for_sources: Vec<String>,
    /// 督查扣分: each case an inspection round files costs its unit and areas the checklist
    /// criterion's deduction times this factor, in the period it was found. 0 leaves the rounds
    /// out of the 考评; 0..=10.
    #[serde(default = "one")]
    pub inspection_factor: f64,
}

fn one() -> f64 {
    1.0
}

impl Default for Deductions {
    fn default() -> Self {
        Self {
            late_by_category: BTreeMap::new(),
            per_rework: 0.0,
            double_for_sources: Vec::new(),
            inspection_factor: one(),
        }
    }
}

/// 捆绑考评: a street's score blended with the departments on its cases, a department's with the
/// streets it served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Weight of the unit's own score.
    pub own: f64,
    /// Weight of its partners' scores (weighted by their cases in common).
    pub partners: f64,
}

/// A grade band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeBand {
    /// The grade, e.g. `A`.
    pub grade: String,
    /// The lowest score of the band.
    pub min: f64,
}

/// What the public 红黑榜 shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Public {
    /// The levels shown without login.
    pub levels: Vec<Level>,
    /// How many at the top (红榜) and at the bottom (黑榜).
    pub top_n: usize,
}

/// A scheme document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scheme {
    /// Its name, e.g. the 考核办法's title.
    pub name: String,
    /// Where its rules come from.
    #[serde(default)]
    pub source: Option<String>,
    /// The pass line (60: units below hold a meeting every evening, 每日晚例会).
    pub pass_line: f64,
    /// How many periods in a row under the pass line make a unit chronic.
    pub streak: u32,
    /// Grade bands, highest first; the last has min 0.
    pub grades: Vec<GradeBand>,
    /// Departments (专业部门), streets and communities.
    pub unit: Formula,
    /// Inspectors (监督员).
    pub inspector: Formula,
    /// The command centre's staff (立案, 派遣).
    pub dispatcher: Formula,
    /// The ladders.
    pub ladders: Ladders,
    /// Deductions.
    #[serde(default)]
    pub deductions: Deductions,
    /// The 捆绑 blend.
    pub bundle: Bundle,
    /// The public 红黑榜.
    pub public: Public,
}

/// Why a scheme is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid assessment scheme: {0}")]
pub struct SchemeError(pub String);

impl Scheme {
    /// The default scheme.
    pub fn default_scheme() -> Self {
        Self::parse(DEFAULT_SCHEME).expect("the default scheme is valid")
    }

    /// Parses and checks a scheme document.
    pub fn parse(json: &str) -> Result<Self, SchemeError> {
        let s: Scheme = serde_json::from_str(json).map_err(|e| SchemeError(e.to_string()))?;
        s.check()?;
        Ok(s)
    }

    fn check(&self) -> Result<(), SchemeError> {
        let err = |m: String| Err(SchemeError(m));
        let finite = |x: f64| x.is_finite();
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            return err("name must be 1 to 200 characters".into());
        }
        if !(0.0..=100.0).contains(&self.pass_line) {
            return err("pass_line must be within 0..=100".into());
        }
        if !(1..=52).contains(&self.streak) {
            return err("streak must be within 1..=52".into());
        }
        for (what, f, allowed) in [
            ("unit", &self.unit, &Indicator::UNIT[..]),
            ("inspector", &self.inspector, &Indicator::INSPECTOR[..]),
            ("dispatcher", &self.dispatcher, &Indicator::DISPATCHER[..]),
        ] {
            if f.components.is_empty() {
                return err(format!("{what}: a formula needs at least one component"));
            }
            for c in &f.components {
                if !allowed.contains(&c.indicator) {
                    return err(format!(
                        "{what}: {:?} is not an indicator of this level",
                        c.indicator
                    ));
                }
                if !finite(c.points) || c.points <= 0.0 || c.points > 1000.0 {
                    return err(format!("{what}: points must be within (0, 1000]"));
                }
                match (c.full_at, c.minus_per_point) {
                    (None, None) => {}
                    (Some(f), Some(m)) if (0.0..=1.0).contains(&f) && finite(m) && m >= 0.0 => {}
                    _ => {
                        return err(format!(
                            "{what}: full_at (0..=1) and minus_per_point (>= 0) go together"
                        ));
                    }
                }
            }
            let mut seen: Vec<Indicator> = f.components.iter().map(|c| c.indicator).collect();
            seen.sort();
            seen.dedup();
            if seen.len() != f.components.len() {
                return err(format!("{what}: an indicator appears twice"));
            }
        }
        for class in self.ladders.area_classes.keys() {
            if class != "1" && class != "2" {
                return err(format!(
                    "ladder area_classes: area class {class:?} is not \"1\" (一类区域) or \"2\" (二类区域)"
                ));
            }
        }
        let classes = self.ladders.area_classes.iter().map(|(c, l)| {
            (
                if c == "1" {
                    "area_classes.1"
                } else {
                    "area_classes.2"
                },
                l,
            )
        });
        for (what, l) in [
            ("case_count", &self.ladders.case_count),
            ("dispatch_count", &self.ladders.dispatch_count),
        ]
        .into_iter()
        .chain(classes)
        {
            let ok = !l.is_empty()
                && l.iter().all(|r| (0.0..=100.0).contains(&r.score))
                && l[..l.len() - 1].iter().all(|r| r.up_to.is_some())
                && l[l.len() - 1].up_to.is_none()
                && l.windows(2).all(|w| match (w[0].up_to, w[1].up_to) {
                    (Some(a), Some(b)) => a < b,
                    _ => true,
                });
            if !ok {
                return err(format!(
                    "ladder {what}: rungs ascending by up_to, the last without it, scores within 0..=100"
                ));
            }
        }
        let d = &self.deductions;
        if !finite(d.per_rework)
            || d.per_rework < 0.0
            || d.late_by_category.values().any(|v| !finite(*v) || *v < 0.0)
        {
            return err("deductions must be finite and >= 0".into());
        }
        if !(0.0..=10.0).contains(&d.inspection_factor) {
            return err("deductions.inspection_factor must be within 0..=10".into());
        }
        let b = &self.bundle;
        if b.own < 0.0 || b.partners < 0.0 || ((b.own + b.partners) - 1.0).abs() > 1e-9 {
            return err("bundle: own and partners are >= 0 and add up to 1".into());
        }
        let ok = !self.grades.is_empty()
            && self.grades.windows(2).all(|w| w[0].min > w[1].min)
            && self.grades.last().is_some_and(|g| g.min == 0.0)
            && self.grades.iter().all(|g| {
                (0.0..=100.0).contains(&g.min) && !g.grade.is_empty() && g.grade.len() <= 16
            });
        if !ok {
            return err(
                "grades: highest first, distinct mins within 0..=100, the last at 0".into(),
            );
        }
        if self.public.top_n > 100 {
            return err("public.top_n must be within 0..=100".into());
        }
        Ok(())
    }

    /// The grade of a score.
    pub fn grade(&self, score: f64) -> &str {
        self.grades
            .iter()
            .find(|g| score >= g.min)
            .map_or("", |g| g.grade.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_scheme_is_the_standards_and_grades_at_90_75_60_40() {
        let s = Scheme::default_scheme();
        assert_eq!(s.pass_line, 60.0);
        let grades: Vec<_> = [95.0, 90.0, 89.99, 75.0, 60.0, 59.9, 40.0, 39.9, 0.0]
            .iter()
            .map(|x| s.grade(*x).to_owned())
            .collect();
        assert_eq!(grades, ["A", "A", "B", "B", "C", "D", "D", "E", "E"]);
        let points: Vec<f64> = s.unit.components.iter().map(|c| c.points).collect();
        assert_eq!(points, [10.0, 30.0, 30.0, 30.0]);
    }

    #[test]
    fn the_count_ladder_gives_fewer_problems_more_points() {
        let s = Scheme::default_scheme();
        let l = &s.ladders.case_count;
        let scores: Vec<f64> = [0, 50, 51, 100, 101, 200, 201, 500, 501, 1000, 1001]
            .iter()
            .map(|n| ladder_score(l, *n))
            .collect();
        assert_eq!(
            scores,
            [
                100.0, 100.0, 90.0, 90.0, 75.0, 75.0, 60.0, 60.0, 40.0, 40.0, 0.0
            ]
        );
    }

    #[test]
    fn a_target_component_is_full_at_the_target_and_loses_points_per_point_below() {
        // 金华: 按期结案率 50 points, full at >= 70 %, -1 per percentage point below.
        let c = Component {
            indicator: Indicator::OnTimeRate,
            points: 50.0,
            full_at: Some(0.7),
            minus_per_point: Some(1.0),
        };
        assert_eq!(c.earned(0.8), 50.0);
        assert!((c.earned(0.65) - 45.0).abs() < 1e-9);
        assert_eq!(c.earned(0.0), 0.0);
    }

    #[test]
    fn the_example_schemes_in_docs_parse() {
        for doc in [
            include_str!("../../../docs/schemes/jinhua.json"),
            include_str!("../../../docs/schemes/district-60.json"),
        ] {
            let s = Scheme::parse(doc).unwrap();
            assert_eq!(s.unit.components[0].indicator, Indicator::OnTimeRate);
        }
    }

    #[test]
    fn a_scheme_that_could_not_score_is_refused() {
        let good: serde_json::Value = serde_json::from_str(DEFAULT_SCHEME).unwrap();
        type Change = Box<dyn Fn(&mut serde_json::Value)>;
        let variants: Vec<(&str, Change)> = vec![
            ("unknown field", Box::new(|v| v["extra"] = 1.into())),
            ("bundle", Box::new(|v| v["bundle"]["own"] = 0.9.into())),
            ("grades", Box::new(|v| v["grades"][0]["min"] = 10.into())),
            (
                "ladder",
                Box::new(|v| v["ladders"]["case_count"][1]["up_to"] = 10.into()),
            ),
            (
                "wrong level",
                Box::new(|v| v["inspector"]["components"][0]["indicator"] = "closure_rate".into()),
            ),
            (
                "no points",
                Box::new(|v| v["unit"]["components"][0]["points"] = 0.into()),
            ),
            ("pass line", Box::new(|v| v["pass_line"] = 101.into())),
        ];
        for (what, change) in variants {
            let mut v = good.clone();
            change(&mut v);
            assert!(Scheme::parse(&v.to_string()).is_err(), "{what}");
        }
    }
}
