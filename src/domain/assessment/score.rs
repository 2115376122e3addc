//! The indicators per unit with the cases behind every number, the composite scores, the 捆绑
//! blend and the rankings.
//!
//! A case is reckoned with its unit once: when it is closed having been handled by its deadline
//! (in the period of the closing), or else when its deadline passes (in the period of the
//! deadline, closed or not). Every period is read as of its end, or now while it runs, so 应结案数
//! = the cases closed in the period + those open past their deadline, and a case dispatched in
//! one week and closed in the next counts once, in the week it falls due.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::facts::{CaseHistory, as_of, excluded};
use super::scheme::{Formula, Indicator, Scheme, ladder_score};
use super::{Level, Period};
use crate::domain::jurisdiction::AreaSize;

/// The sizes of the areas the assessment may meet (the live city's layers).
pub trait AreaSizes {
    /// The size of the area `key` of an area level, if the city has it.
    fn size(&self, level: Level, key: &str) -> Option<AreaSize>;
}

/// No sizes: the area indicators stay without their per-km² and per-km figures.
impl AreaSizes for () {
    fn size(&self, _: Level, _: &str) -> Option<AreaSize> {
        None
    }
}

impl AreaSizes for BTreeMap<(Level, String), AreaSize> {
    fn size(&self, level: Level, key: &str) -> Option<AreaSize> {
        self.get(&(level, key.to_owned())).copied()
    }
}

/// The area indicators of a district, street, community or grid: how many problems for its
/// size, and how many are open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AreaFigures {
    /// Problems registered (立案) in the area in the period (the count ladder's count).
    pub registered: usize,
    /// Area, km² (absent when the area is not in the live layers).
    pub km2: Option<f64>,
    /// 门前三包 frontage in the area, km.
    pub frontage_km: Option<f64>,
    /// Problems per km².
    pub per_km2: Option<f64>,
    /// Problems per km of frontage (absent without frontage).
    pub per_frontage_km: Option<f64>,
    /// The area class (区域类别) whose ladder scored a grid's count, if any.
    pub class: Option<u8>,
    /// Cases registered and still open at the instant read.
    pub open: Count,
}

/// One indicator's value and the cases behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    /// The value, 0..=1 (a rate; a ladder's score / 100). A rate with nothing to judge is 1.
    pub value: f64,
    /// The numerator (a ladder: the count).
    pub numerator: usize,
    /// The denominator (a ladder: the count).
    pub denominator: usize,
    /// The cases of the numerator (a ladder: the counted cases).
    pub cases: Vec<i64>,
    /// The cases of the denominator that are not in the numerator (按期结案率: the late ones).
    pub other_cases: Vec<i64>,
}

impl Measure {
    fn ratio(items: &[(i64, bool)]) -> Self {
        let cases: Vec<i64> = items.iter().filter(|i| i.1).map(|i| i.0).collect();
        let other_cases: Vec<i64> = items.iter().filter(|i| !i.1).map(|i| i.0).collect();
        let value = if items.is_empty() {
            1.0
        } else {
            cases.len() as f64 / items.len() as f64
        };
        Measure {
            value,
            numerator: cases.len(),
            denominator: items.len(),
            cases,
            other_cases,
        }
    }

    fn ladder(cases: &BTreeSet<i64>, score: f64) -> Self {
        Measure {
            value: score / 100.0,
            numerator: cases.len(),
            denominator: cases.len(),
            cases: cases.iter().copied().collect(),
            other_cases: Vec::new(),
        }
    }
}

/// A count and its cases.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Count {
    /// How many.
    pub n: usize,
    /// Which cases (a case may appear once per event).
    pub cases: Vec<i64>,
}

/// Points a component earned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Earned {
    /// The indicator.
    pub indicator: Indicator,
    /// Its points.
    pub points: f64,
    /// The points earned.
    pub earned: f64,
}

/// A deduction for one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deducted {
    /// The case.
    pub case_id: i64,
    /// `late`, `rework` or `inspection` (a 督查 finding).
    pub reason: String,
    /// Points taken (doubled for the scheme's sources).
    pub points: f64,
}

/// A partner in the 捆绑 blend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partner {
    /// Its level.
    pub level: Level,
    /// Its key.
    pub key: String,
    /// Cases in common reckoned in the period.
    pub cases: usize,
    /// Its own score.
    pub score: f64,
}

/// A unit's scorecard for a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    /// The level.
    pub level: Level,
    /// The unit: a street, community or unit code, a user id.
    pub key: String,
    /// Its name when known.
    pub name: Option<String>,
    /// The score after the 捆绑 blend (the ranked one), 0..=100.
    pub score: f64,
    /// Its own score (formula − deductions), 0..=100.
    pub own_score: f64,
    /// The grade of `score`.
    pub grade: String,
    /// Under the pass line.
    pub below_pass: bool,
    /// Every indicator with its cases.
    pub measures: BTreeMap<Indicator, Measure>,
    /// The formula's components.
    pub components: Vec<Earned>,
    /// Counts shown beside the score: `due` (应结案数), `closed`, `overdue_open`, `extensions`,
    /// `send_backs`, `reworks`.
    pub counts: BTreeMap<String, Count>,
    /// Deductions.
    pub deductions: Vec<Deducted>,
    /// The 捆绑 partners.
    pub partners: Vec<Partner>,
    /// The area indicators (areas only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<AreaFigures>,
}

/// Every scorecard of a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// The period's label.
    pub period: String,
    /// Its first instant.
    pub start: DateTime<Utc>,
    /// The instant after it.
    pub end: DateTime<Utc>,
    /// The instant it was read at: its end, or now while it runs.
    pub as_of: DateTime<Utc>,
    /// Scorecards per level, by key.
    pub levels: BTreeMap<Level, Vec<Scorecard>>,
    /// The inputs: every case that counted anywhere, with its last event up to `as_of`.
    pub inputs: BTreeMap<i64, i64>,
    /// SHA-256 of the inputs.
    pub digest: String,
}

#[derive(Default)]
struct Acc {
    name: Option<String>,
    // Departments and areas.
    due: Vec<(i64, bool)>,
    on_time: Vec<(i64, bool)>,
    rework_free: Vec<(i64, bool)>,
    counted: BTreeSet<i64>,
    overdue_open: Vec<i64>,
    // Areas: registered and still open at the instant read.
    open: Vec<i64>,
    extensions: Vec<i64>,
    send_backs: Vec<i64>,
    deductions: Vec<Deducted>,
    partners: BTreeMap<(Level, String), usize>,
    // Inspectors.
    reports: Vec<(i64, bool)>,
    missed: Vec<(i64, bool)>,
    verifies: Vec<(i64, bool)>,
    checks: Vec<(i64, bool)>,
    // Dispatchers.
    registers: Vec<(i64, bool)>,
    dispatches: Vec<(i64, bool)>,
    accurate: Vec<(i64, bool)>,
}

type Accs = BTreeMap<(Level, String), Acc>;

fn acc<'a>(accs: &'a mut Accs, level: Level, key: &str) -> &'a mut Acc {
    accs.entry((level, key.to_owned())).or_default()
}

/// Scores every unit of every level for `period` as of `min(end, now)`.
///
/// `inspected` maps each case an inspection round (督查) filed to its checklist criterion's
/// deduction: the case costs its unit and its areas those points (× the scheme's
/// `inspection_factor`) in the period it was reported, unless it turned out void.
pub fn assess<'a>(
    histories: impl IntoIterator<Item = &'a CaseHistory>,
    period: &Period,
    now: DateTime<Utc>,
    scheme: &Scheme,
    sizes: &dyn AreaSizes,
    inspected: &BTreeMap<i64, f64>,
) -> Assessment {
    let (start, end) = (period.start(), period.end());
    let t = end.min(now);
    let within = |at: DateTime<Utc>| at >= start && at < t;
    let mut accs = Accs::new();
    let mut inputs = BTreeMap::new();
    for h in histories {
        let Some(f) = as_of(h, t) else { continue };
        let id = h.case_id;
        let c = f.state;
        let mut touched = false;
        let areas = [
            (Level::Districts, c.district_code.as_deref()),
            (Level::Streets, c.street_code.as_deref()),
            (Level::Communities, c.community_code.as_deref()),
            (Level::Grids, c.grid_code.as_deref()),
        ];
        let double = if scheme.deductions.double_for_sources.contains(&c.source) {
            2.0
        } else {
            1.0
        };
        // Departments and areas: the cases reckoned in the period.
        if let (Some(r), Some(unit)) = (f.reckoning, c.unit_code.as_deref())
            && within(r.at)
        {
            touched = true;
            let reworked = f.reworks > 0;
            let mut deductions = Vec::new();
            if !r.on_time {
                let d = &scheme.deductions.late_by_category;
                let p = d
                    .get(&c.category)
                    .or_else(|| d.get("*"))
                    .copied()
                    .unwrap_or(0.0);
                if p > 0.0 {
                    deductions.push(Deducted {
                        case_id: id,
                        reason: "late".into(),
                        points: p * double,
                    });
                }
            }
            if reworked && scheme.deductions.per_rework > 0.0 {
                deductions.push(Deducted {
                    case_id: id,
                    reason: "rework".into(),
                    points: scheme.deductions.per_rework * f.reworks as f64 * double,
                });
            }
            let mut keys = vec![(Level::Departments, unit)];
            keys.extend(areas.iter().filter_map(|(l, k)| k.map(|k| (*l, k))));
            for (level, key) in &keys {
                let a = acc(&mut accs, *level, key);
                a.due.push((id, r.closed));
                a.on_time.push((id, r.on_time));
                a.rework_free.push((id, !reworked));
                a.deductions.extend(deductions.iter().cloned());
            }
            for (level, key) in &keys {
                for (other, partner) in &keys {
                    // A department pairs with the streets it served; a street or a community
                    // with the departments on its cases.
                    let pair = match level {
                        Level::Departments => *other == Level::Streets,
                        _ => *other == Level::Departments,
                    };
                    if pair {
                        *acc(&mut accs, *level, key)
                            .partners
                            .entry((*other, (*partner).to_owned()))
                            .or_default() += 1;
                    }
                }
            }
        }
        if f.overdue_open
            && let Some(unit) = c.unit_code.as_deref()
        {
            touched = true;
            acc(&mut accs, Level::Departments, unit)
                .overdue_open
                .push(id);
        }
        // Open cases of the areas at the instant read, wherever they were registered.
        if !c.status.is_final() && f.registered_at.is_some() {
            for (level, key) in areas {
                if let Some(key) = key {
                    touched = true;
                    acc(&mut accs, level, key).open.push(id);
                }
            }
        }
        // 立案数 of the areas: registered in the period.
        if !excluded(c.status)
            && let Some(at) = f.registered_at
            && within(at)
        {
            touched = true;
            for (level, key) in areas {
                if let Some(key) = key {
                    acc(&mut accs, level, key).counted.insert(id);
                }
            }
        }
        // 督查扣分: a problem an inspection round found, charged where it was found and to the
        // unit that must rectify it, in the period it was found. A finding a volunteer reported
        // that 核实 found untrue (voided) costs nothing.
        let first = &f.events[0];
        if let Some(points) = inspected.get(&id)
            && within(first.at)
            && !matches!(
                c.status,
                crate::domain::case::Status::Voided | crate::domain::case::Status::Merged
            )
        {
            let points = points * scheme.deductions.inspection_factor;
            if points > 0.0 {
                touched = true;
                let deducted = Deducted {
                    case_id: id,
                    reason: "inspection".into(),
                    points,
                };
                let unit = c.unit_code.as_deref().map(|u| (Level::Departments, u));
                for (level, key) in areas
                    .iter()
                    .filter_map(|(l, k)| k.map(|k| (*l, k)))
                    .chain(unit)
                {
                    acc(&mut accs, level, key).deductions.push(deducted.clone());
                }
            }
        }
        // Inspectors' own reports made in the period (a merged duplicate is not judged).
        if c.source == "inspector"
            && c.status != crate::domain::case::Status::Merged
            && within(first.at)
            && let Some(by) = c.reported_by
        {
            touched = true;
            let a = acc(&mut accs, Level::Inspectors, &by.to_string());
            a.reports.push((id, f.registered_at.is_some()));
            if f.registered_at.is_some() {
                a.missed.push((id, true));
            }
            if first.actor_id == Some(by) {
                a.name = a.name.take().or(first.actor_name.clone());
            }
        }
        let merged = c.status == crate::domain::case::Status::Merged;
        for (i, e) in f.events.iter().enumerate() {
            if !within(e.at) {
                continue;
            }
            let before_unit = e.before.as_ref().and_then(|b| b.unit_code.as_deref());
            if e.is_extension()
                && let Some(u) = before_unit
            {
                touched = true;
                acc(&mut accs, Level::Departments, u).extensions.push(id);
            }
            if e.is_send_back()
                && let Some(u) = before_unit
            {
                touched = true;
                acc(&mut accs, Level::Departments, u).send_backs.push(id);
            }
            if merged {
                continue;
            }
            if e.is_dispatch()
                && let Some(u) = e.after.unit_code.as_deref()
            {
                acc(&mut accs, Level::Departments, u).counted.insert(id);
            }
            let Some(actor) = e.actor_id else { continue };
            let key = actor.to_string();
            fn person<'a>(
                accs: &'a mut Accs,
                level: Level,
                key: &str,
                name: &Option<String>,
            ) -> &'a mut Acc {
                let a = acc(accs, level, key);
                if a.name.is_none() {
                    a.name.clone_from(name);
                }
                a
            }
            match e.action.as_str() {
                "verify" => {
                    touched = true;
                    let a = person(&mut accs, Level::Inspectors, &key, &e.actor_name);
                    a.verifies.push((id, e.on_time()));
                    // A public report the inspector had to be sent to, and found true: missed.
                    if c.source != "inspector"
                        && e.after.status != crate::domain::case::Status::Voided
                    {
                        a.missed.push((id, false));
                    }
                }
                "check" => {
                    touched = true;
                    person(&mut accs, Level::Inspectors, &key, &e.actor_name)
                        .checks
                        .push((id, e.on_time()));
                }
                "register" => {
                    touched = true;
                    person(&mut accs, Level::Dispatchers, &key, &e.actor_name)
                        .registers
                        .push((id, e.on_time()));
                }
                _ => {}
            }
            // An inspector's report dispatched on intake (`created`) was the rule table's doing,
            // no dispatcher's.
            if e.is_dispatch() && e.action != "created" {
                touched = true;
                // Sent back before the next dispatch (up to the instant read): not accurate.
                let sent_back = f.events[i + 1..]
                    .iter()
                    .take_while(|n| !n.is_dispatch())
                    .any(|n| n.is_send_back());
                // An automatic dispatch on 立案 is the registering person's.
                let a = person(&mut accs, Level::Dispatchers, &key, &e.actor_name);
                a.dispatches.push((id, e.on_time()));
                a.accurate.push((id, !sent_back));
            }
        }
        if touched {
            inputs.insert(id, f.events.last().map_or(0, |e| e.id));
        }
    }
    let mut levels: BTreeMap<Level, Vec<Scorecard>> = BTreeMap::new();
    for ((level, key), a) in &accs {
        levels
            .entry(*level)
            .or_default()
            .push(own_card(*level, key, a, scheme, sizes));
    }
    blend(&mut levels, &accs, scheme);
    let mut hasher = Sha256::new();
    for (id, last) in &inputs {
        hasher.update(format!("{id}:{last};"));
    }
    let digest = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Assessment {
        period: period.label(),
        start,
        end,
        as_of: t,
        levels,
        inputs,
        digest,
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn formula_of(level: Level, scheme: &Scheme) -> &Formula {
    match level {
        Level::Inspectors => &scheme.inspector,
        Level::Dispatchers => &scheme.dispatcher,
        _ => &scheme.unit,
    }
}

fn own_card(level: Level, key: &str, a: &Acc, scheme: &Scheme, sizes: &dyn AreaSizes) -> Scorecard {
    let mut measures = BTreeMap::new();
    let count_of = |v: &[i64]| Count {
        n: v.len(),
        cases: v.to_vec(),
    };
    let mut counts = BTreeMap::new();
    let mut area = None;
    match level {
        Level::Inspectors => {
            measures.insert(Indicator::ValidReportRate, Measure::ratio(&a.reports));
            measures.insert(Indicator::MissFree, Measure::ratio(&a.missed));
            measures.insert(Indicator::OnTimeVerifyRate, Measure::ratio(&a.verifies));
            measures.insert(Indicator::OnTimeCheckRate, Measure::ratio(&a.checks));
        }
        Level::Dispatchers => {
            let n = a.dispatches.len() as u64;
            let cases: BTreeSet<i64> = a.dispatches.iter().map(|d| d.0).collect();
            let mut m = Measure::ladder(&cases, ladder_score(&scheme.ladders.dispatch_count, n));
            m.numerator = a.dispatches.len();
            m.denominator = a.dispatches.len();
            measures.insert(Indicator::DispatchCountScore, m);
            measures.insert(Indicator::OnTimeRegisterRate, Measure::ratio(&a.registers));
            measures.insert(Indicator::OnTimeDispatchRate, Measure::ratio(&a.dispatches));
            measures.insert(Indicator::AccurateDispatchRate, Measure::ratio(&a.accurate));
        }
        _ => {
            let n = a.counted.len() as u64;
            let size = level.is_area().then(|| sizes.size(level, key)).flatten();
            // A grid of a class the scheme has a ladder for is counted on it (一类/二类区域).
            let class = size.and_then(|s| s.class).filter(|c| {
                level == Level::Grids && scheme.ladders.area_classes.contains_key(&c.to_string())
            });
            let ladder = class.map_or(&scheme.ladders.case_count, |c| {
                &scheme.ladders.area_classes[&c.to_string()]
            });
            measures.insert(
                Indicator::CaseCountScore,
                Measure::ladder(&a.counted, ladder_score(ladder, n)),
            );
            if level.is_area() {
                let per = |d: f64| (d > 0.0).then(|| round2(a.counted.len() as f64 / d));
                area = Some(AreaFigures {
                    registered: a.counted.len(),
                    km2: size.map(|s| round4(s.km2)),
                    frontage_km: size.map(|s| round4(s.frontage_km)),
                    per_km2: size.and_then(|s| per(s.km2)),
                    per_frontage_km: size.and_then(|s| per(s.frontage_km)),
                    class,
                    open: count_of(&a.open),
                });
            }
            measures.insert(Indicator::ClosureRate, Measure::ratio(&a.due));
            measures.insert(Indicator::OnTimeRate, Measure::ratio(&a.on_time));
            measures.insert(Indicator::ReworkFree, Measure::ratio(&a.rework_free));
            let due: Vec<i64> = a.due.iter().map(|d| d.0).collect();
            let closed: Vec<i64> = a.due.iter().filter(|d| d.1).map(|d| d.0).collect();
            let reworked: Vec<i64> = a.rework_free.iter().filter(|d| !d.1).map(|d| d.0).collect();
            counts.insert("due".to_owned(), count_of(&due));
            counts.insert("closed".to_owned(), count_of(&closed));
            counts.insert("reworks".to_owned(), count_of(&reworked));
            if level == Level::Departments {
                counts.insert("overdue_open".to_owned(), count_of(&a.overdue_open));
                counts.insert("extensions".to_owned(), count_of(&a.extensions));
                counts.insert("send_backs".to_owned(), count_of(&a.send_backs));
            }
        }
    }
    let formula = formula_of(level, scheme);
    let components: Vec<Earned> = formula
        .components
        .iter()
        .map(|c| Earned {
            indicator: c.indicator,
            points: c.points,
            earned: round2(c.earned(measures.get(&c.indicator).map_or(1.0, |m| m.value))),
        })
        .collect();
    let total: f64 = formula.components.iter().map(|c| c.points).sum();
    let earned: f64 = formula
        .components
        .iter()
        .map(|c| c.earned(measures.get(&c.indicator).map_or(1.0, |m| m.value)))
        .sum();
    let deducted: f64 = a.deductions.iter().map(|d| d.points).sum();
    let own = round2((earned * 100.0 / total - deducted).clamp(0.0, 100.0));
    Scorecard {
        level,
        key: key.to_owned(),
        name: a.name.clone(),
        score: own,
        own_score: own,
        grade: scheme.grade(own).to_owned(),
        below_pass: own < scheme.pass_line,
        measures,
        components,
        counts,
        deductions: a.deductions.clone(),
        partners: Vec::new(),
        area,
    }
}

/// 捆绑考评: score = own × `bundle.own` + the partners' own scores, weighted by the cases in
/// common, × `bundle.partners` (a unit without partners keeps its own score).
fn blend(levels: &mut BTreeMap<Level, Vec<Scorecard>>, accs: &Accs, scheme: &Scheme) {
    let own: BTreeMap<(Level, String), f64> = levels
        .values()
        .flatten()
        .map(|c| ((c.level, c.key.clone()), c.own_score))
        .collect();
    for card in levels.values_mut().flatten() {
        let Some(a) = accs.get(&(card.level, card.key.clone())) else {
            continue;
        };
        card.partners = a
            .partners
            .iter()
            .filter_map(|((level, key), n)| {
                Some(Partner {
                    level: *level,
                    key: key.clone(),
                    cases: *n,
                    score: *own.get(&(*level, key.clone()))?,
                })
            })
            .collect();
        let n: usize = card.partners.iter().map(|p| p.cases).sum();
        if n == 0 {
            continue;
        }
        let partners: f64 = card
            .partners
            .iter()
            .map(|p| p.score * p.cases as f64)
            .sum::<f64>()
            / n as f64;
        card.score = round2(card.own_score * scheme.bundle.own + partners * scheme.bundle.partners);
        card.grade = scheme.grade(card.score).to_owned();
        card.below_pass = card.score < scheme.pass_line;
    }
}

/// One row of a ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankingRow {
    /// Rank (ties share a rank: 1, 1, 3).
    pub rank: usize,
    /// The unit.
    pub key: String,
    /// Its name.
    pub name: Option<String>,
    /// Score (after the 捆绑 blend).
    pub score: f64,
    /// Own score.
    pub own_score: f64,
    /// Grade.
    pub grade: String,
    /// The score of the previous period, if the unit was scored then.
    pub previous_score: Option<f64>,
    /// score − previous score.
    pub change: Option<f64>,
    /// The previous rank.
    pub previous_rank: Option<usize>,
    /// Under the pass line this period.
    pub below_pass: bool,
    /// Periods in a row under the pass line, this one included.
    pub below_streak: usize,
}

/// A level's ranking for a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranking {
    /// The level.
    pub level: Level,
    /// The period.
    pub period: String,
    /// The pass line.
    pub pass_line: f64,
    /// Rows, best first.
    pub rows: Vec<RankingRow>,
    /// The units under the pass line: the 每日晚例会 list.
    pub evening_meetings: Vec<String>,
    /// The units under it `streak` periods in a row or more.
    pub chronic: Vec<String>,
}

fn ranked(cards: &[Scorecard]) -> Vec<(usize, &Scorecard)> {
    let mut sorted: Vec<&Scorecard> = cards.iter().collect();
    sorted.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.key.cmp(&b.key)));
    let mut out: Vec<(usize, &Scorecard)> = Vec::with_capacity(sorted.len());
    for (i, c) in sorted.into_iter().enumerate() {
        let rank = match out.last() {
            Some((r, prev)) if prev.score == c.score => *r,
            _ => i + 1,
        };
        out.push((rank, c));
    }
    out
}

/// The ranking of `level` in `current`, compared with the periods before it (`previous[0]` the
/// one just before).
pub fn rank(
    level: Level,
    current: &Assessment,
    previous: &[Assessment],
    scheme: &Scheme,
) -> Ranking {
    let empty = Vec::new();
    let cards = |a: &Assessment| a.levels.get(&level).unwrap_or(&empty).clone();
    let current_cards = cards(current);
    let before: Vec<Vec<Scorecard>> = previous.iter().map(cards).collect();
    let prev_ranked: BTreeMap<String, (usize, f64)> = before
        .first()
        .map(|p| {
            ranked(p)
                .into_iter()
                .map(|(r, c)| (c.key.clone(), (r, c.score)))
                .collect()
        })
        .unwrap_or_default();
    let rows: Vec<RankingRow> = ranked(&current_cards)
        .into_iter()
        .map(|(rank, c)| {
            let prev = prev_ranked.get(&c.key);
            let mut below_streak = usize::from(c.below_pass);
            if c.below_pass {
                for p in &before {
                    match p.iter().find(|o| o.key == c.key) {
                        Some(o) if o.below_pass => below_streak += 1,
                        _ => break,
                    }
                }
            }
            RankingRow {
                rank,
                key: c.key.clone(),
                name: c.name.clone(),
                score: c.score,
                own_score: c.own_score,
                grade: c.grade.clone(),
                previous_score: prev.map(|p| p.1),
                change: prev.map(|p| round2(c.score - p.1)),
                previous_rank: prev.map(|p| p.0),
                below_pass: c.below_pass,
                below_streak,
            }
        })
        .collect();
    Ranking {
        level,
        period: current.period.clone(),
        pass_line: scheme.pass_line,
        evening_meetings: rows
            .iter()
            .filter(|r| r.below_pass)
            .map(|r| r.key.clone())
            .collect(),
        chronic: rows
            .iter()
            .filter(|r| r.below_streak >= scheme.streak as usize)
            .map(|r| r.key.clone())
            .collect(),
        rows,
    }
}

/// One unit's scores over consecutive periods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendUnit {
    /// The unit.
    pub key: String,
    /// Its name, as of the latest period that names it.
    pub name: Option<String>,
    /// Its score in each period, oldest first (null: no case of it counted in that period).
    pub scores: Vec<Option<f64>>,
}

/// The scores of a level's units over consecutive periods (a sparkline per unit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// The level.
    pub level: Level,
    /// The periods, oldest first.
    pub periods: Vec<String>,
    /// The pass line.
    pub pass_line: f64,
    /// Every unit scored in at least one of the periods, by key.
    pub units: Vec<TrendUnit>,
}

/// The trend of `level` over `periods` (oldest first), every unit scored in any of them.
pub fn trend(level: Level, periods: &[Assessment], scheme: &Scheme) -> Trend {
    let mut units: BTreeMap<&str, TrendUnit> = BTreeMap::new();
    for (i, a) in periods.iter().enumerate() {
        for card in a.levels.get(&level).into_iter().flatten() {
            let u = units.entry(&card.key).or_insert_with(|| TrendUnit {
                key: card.key.clone(),
                name: None,
                scores: vec![None; periods.len()],
            });
            u.scores[i] = Some(card.score);
            if card.name.is_some() {
                u.name.clone_from(&card.name);
            }
        }
    }
    Trend {
        level,
        periods: periods.iter().map(|a| a.period.clone()).collect(),
        pass_line: scheme.pass_line,
        units: units.into_values().collect(),
    }
}
