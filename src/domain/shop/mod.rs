//! 门前三包 shop scorecards: per frontage (the strip a shop answers for, and where its QR placard
//! hangs) and period, the violations in its strip by duty, repeats, the self-fix rate, the
//! escalations, and a rating per the city's scheme; the monthly ranking of a street's shops with
//! its 红黑榜. Pure: read from the case timelines the assessment keeps (`domain::assessment`).
//!
//! **What counts.** A case whose frontage is the shop's, whose category the scheme maps to a duty,
//! which was registered (立案: verified), and which is not void or merged, as the case stands
//! now; it counts in the period of its report (Beijing time). A report voided later drops out.

pub mod scheme;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::domain::assessment::facts::{as_of, excluded};
use crate::domain::assessment::{CaseHistory, Period};
use crate::domain::case::Status;
pub use scheme::{Band, BoardSize, CardRule, Colour, Duty, RatingRule, ShopScheme};

/// One violation in a shop's strip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// The case.
    pub case_id: i64,
    /// Its category code.
    pub category: String,
    /// The duty it breaches.
    pub duty: Duty,
    /// When reported.
    pub reported_at: DateTime<Utc>,
    /// Its status now.
    pub status: Status,
    /// When closed, if it is.
    pub closed_at: Option<DateTime<Utc>>,
    /// The same category on the same frontage within the repeat window before it.
    pub repeat: bool,
    /// It went to the shop to fix itself (the 门前三包 route).
    pub to_shop: bool,
    /// The shop reported it fixed before any escalation (None: not the shop's to fix, or its
    /// window is still open).
    pub self_fixed: Option<bool>,
    /// Escalation steps reached: 0 none, 1 提醒, 2 警告, 3 执法.
    pub escalation: i64,
}

/// Escalations reached by the period's violations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Escalations {
    /// Violations that reached at least the reminder (提醒).
    pub reminders: u32,
    /// … at least the warning (警告).
    pub warnings: u32,
    /// … enforcement (执法).
    pub enforcements: u32,
}

/// One rule of the rating that applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// What: `violation_sanitation`, `repeat`, `warning`, `yellow_violations` …
    pub rule: String,
    /// How many times.
    pub count: u32,
    /// The points it cost (points schemes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<f64>,
}

/// A shop's rating.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rating {
    /// The scheme's id.
    pub scheme: String,
    /// The colour.
    pub level: Colour,
    /// Its name on the page (绿码, 黄牌 …).
    pub label: String,
    /// Points left (points schemes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<f64>,
    /// Of how many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_points: Option<f64>,
    /// The rules that applied.
    pub reasons: Vec<Reason>,
}

/// The figures of a shop in a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShopFigures {
    /// Violations in the period.
    pub violations: u32,
    /// By duty.
    pub by_duty: BTreeMap<Duty, u32>,
    /// Of them, repeats.
    pub repeats: u32,
    /// Violations the shop was asked to fix itself whose window is over.
    pub self_fix_due: u32,
    /// Of them, fixed by the shop before any escalation.
    pub self_fixed: u32,
    /// `self_fixed / self_fix_due`; None when nothing was due.
    pub self_fix_rate: Option<f64>,
    /// Escalations reached.
    pub escalations: Escalations,
}

/// A shop's scorecard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShopCard {
    /// The frontage code.
    pub code: String,
    /// The period label.
    pub period: String,
    /// Figures.
    pub figures: ShopFigures,
    /// Rating.
    pub rating: Rating,
    /// The violations of the period, newest first.
    pub violations: Vec<Violation>,
}

/// Every violation found in the strip of `code` as of `now` (the events up to it), oldest first,
/// with repeats marked (a repeat may follow a violation of the period before).
pub fn violations<'a>(
    code: &str,
    histories: impl IntoIterator<Item = &'a CaseHistory>,
    now: DateTime<Utc>,
    scheme: &ShopScheme,
) -> Vec<Violation> {
    let mut out: Vec<Violation> = Vec::new();
    for h in histories {
        // Events up to `now`, the instant itself included.
        let t = now
            .checked_add_signed(Duration::nanoseconds(1))
            .unwrap_or(now);
        let Some(f) = as_of(h, t) else {
            continue;
        };
        let c = f.state;
        if c.frontage_code.as_deref() != Some(code) || excluded(c.status) {
            continue;
        }
        let Some(duty) = scheme.duty_of(&c.category) else {
            continue;
        };
        if f.registered_at.is_none() {
            continue;
        }
        let routed = f
            .events
            .iter()
            .find(|e| e.after.enforcement_unit.is_some() && e.after.escalation_due_at.is_some());
        let to_shop = routed.is_some();
        let fixed_in_window = f.events.iter().any(|e| {
            e.is_feedback()
                && e.before
                    .as_ref()
                    .is_some_and(|b| b.escalation == 0 && b.enforcement_unit.is_some())
        });
        let escalation = f
            .events
            .iter()
            .map(|e| e.after.escalation)
            .max()
            .unwrap_or(0);
        let self_fixed = match (to_shop, fixed_in_window, escalation) {
            (false, _, _) => None,
            (true, true, _) => Some(true),
            (true, false, e) if e > 0 => Some(false),
            // Still in its window, or taken off the ladder by a person.
            _ => None,
        };
        out.push(Violation {
            case_id: c.id,
            category: c.category.clone(),
            duty,
            reported_at: c.reported_at,
            status: c.status,
            closed_at: c.closed_at,
            repeat: false,
            to_shop,
            self_fixed,
            escalation,
        });
    }
    out.sort_by_key(|v| (v.reported_at, v.case_id));
    let window = Duration::days(i64::from(scheme.repeat_window_days));
    for i in 0..out.len() {
        let (before, rest) = out.split_at_mut(i);
        let v = &mut rest[0];
        v.repeat = before
            .iter()
            .any(|p| p.category == v.category && v.reported_at - p.reported_at <= window);
    }
    out
}

/// The figures of the violations of one period.
pub fn figures(period_violations: &[&Violation]) -> ShopFigures {
    let mut f = ShopFigures {
        violations: 0,
        by_duty: Duty::ALL.iter().map(|d| (*d, 0)).collect(),
        repeats: 0,
        self_fix_due: 0,
        self_fixed: 0,
        self_fix_rate: None,
        escalations: Escalations::default(),
    };
    for v in period_violations {
        f.violations += 1;
        *f.by_duty.entry(v.duty).or_default() += 1;
        f.repeats += u32::from(v.repeat);
        if let Some(fixed) = v.self_fixed {
            f.self_fix_due += 1;
            f.self_fixed += u32::from(fixed);
        }
        f.escalations.reminders += u32::from(v.escalation >= 1);
        f.escalations.warnings += u32::from(v.escalation >= 2);
        f.escalations.enforcements += u32::from(v.escalation >= 3);
    }
    if f.self_fix_due > 0 {
        f.self_fix_rate = Some(f64::from(f.self_fixed) / f64::from(f.self_fix_due));
    }
    f
}

/// Rates a shop's figures per the scheme.
pub fn rate(f: &ShopFigures, scheme: &ShopScheme) -> Rating {
    let mut reasons = Vec::new();
    match &scheme.rating {
        RatingRule::Points {
            points,
            per_violation,
            repeat,
            reminder,
            warning,
            enforcement,
            bands,
        } => {
            let mut lost = 0.0;
            let mut add = |rule: String, count: u32, each: f64| {
                if count > 0 && each > 0.0 {
                    let p = each * f64::from(count);
                    lost += p;
                    reasons.push(Reason {
                        rule,
                        count,
                        points: Some(p),
                    });
                }
            };
            for d in Duty::ALL {
                let each = per_violation.get(&d).copied().unwrap_or(0.0);
                let n = f.by_duty.get(&d).copied().unwrap_or(0);
                add(format!("violation_{}", duty_key(d)), n, each);
            }
            add("repeat".into(), f.repeats, *repeat);
            add("reminder".into(), f.escalations.reminders, *reminder);
            add("warning".into(), f.escalations.warnings, *warning);
            add(
                "enforcement".into(),
                f.escalations.enforcements,
                *enforcement,
            );
            let left = (points - lost).max(0.0);
            let band = bands
                .iter()
                .find(|b| left >= b.min)
                .or(bands.last())
                .expect("a checked scheme has bands");
            Rating {
                scheme: scheme.id.clone(),
                level: band.level,
                label: band.label.clone(),
                points: Some(left),
                max_points: Some(*points),
                reasons,
            }
        }
        RatingRule::Cards {
            yellow,
            red,
            labels,
        } => {
            let mut hits = |card: &str, r: &CardRule| -> bool {
                let mut hit = false;
                let checks = [
                    ("violations", r.violations, f.violations),
                    ("repeats", r.repeats, f.repeats),
                    ("warnings", r.warnings, f.escalations.warnings),
                    ("enforcements", r.enforcements, f.escalations.enforcements),
                ];
                for (name, min, n) in checks {
                    if min.is_some_and(|m| n >= m) {
                        hit = true;
                        reasons.push(Reason {
                            rule: format!("{card}_{name}"),
                            count: n,
                            points: None,
                        });
                    }
                }
                hit
            };
            let is_red = hits("red", red);
            let level = if is_red {
                Colour::Red
            } else if hits("yellow", yellow) {
                Colour::Yellow
            } else {
                Colour::Green
            };
            Rating {
                scheme: scheme.id.clone(),
                level,
                label: labels.get(&level).cloned().unwrap_or_default(),
                points: None,
                max_points: None,
                reasons,
            }
        }
    }
}

fn duty_key(d: Duty) -> &'static str {
    match d {
        Duty::Sanitation => "sanitation",
        Duty::Greening => "greening",
        Duty::Order => "order",
    }
}

/// The card of a shop for a period, from all its violations (see [`violations`]).
pub fn card(code: &str, all: &[Violation], period: &Period, scheme: &ShopScheme) -> ShopCard {
    let (start, end) = (period.start(), period.end());
    let mut in_period: Vec<&Violation> = all
        .iter()
        .filter(|v| v.reported_at >= start && v.reported_at < end)
        .collect();
    let figures = figures(&in_period);
    let rating = rate(&figures, scheme);
    in_period.reverse();
    ShopCard {
        code: code.to_owned(),
        period: period.label(),
        figures,
        rating,
        violations: in_period.into_iter().cloned().collect(),
    }
}

/// One row of a street's ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShopRankingRow {
    /// 1 = best; equal cards share a rank.
    pub rank: usize,
    /// The frontage code.
    pub code: String,
    /// The shop's name.
    pub name: String,
    /// Its figures.
    pub figures: ShopFigures,
    /// Its rating.
    pub rating: Rating,
}

/// A street's shops ranked, with the 红黑榜.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShopRanking {
    /// The period label.
    pub period: String,
    /// The scheme id.
    pub scheme: String,
    /// Every shop, best first.
    pub rows: Vec<ShopRankingRow>,
    /// 红榜: the best N with no violation (codes).
    pub red: Vec<String>,
    /// 黑榜: the worst N with at least one violation, worst first (codes).
    pub black: Vec<String>,
}

fn order_key(r: &ShopRankingRow) -> (Colour, i64, u32, u32, u32) {
    (
        r.rating.level,
        // Points left, higher first (cards: 0 for all).
        -(r.rating.points.unwrap_or(0.0) * 1000.0).round() as i64,
        r.figures.escalations.enforcements,
        r.figures.violations,
        r.figures.repeats,
    )
}

/// Ranks the cards of a street's shops: by colour, points left (higher first), enforcements,
/// violations, repeats (fewer first); ties share a rank and are listed by code.
pub fn rank_shops(
    period: &Period,
    scheme: &ShopScheme,
    cards: impl IntoIterator<Item = (String, ShopCard)>,
) -> ShopRanking {
    let mut rows: Vec<ShopRankingRow> = cards
        .into_iter()
        .map(|(name, c)| ShopRankingRow {
            rank: 0,
            code: c.code,
            name,
            figures: c.figures,
            rating: c.rating,
        })
        .collect();
    rows.sort_by(|a, b| order_key(a).cmp(&order_key(b)).then(a.code.cmp(&b.code)));
    for i in 0..rows.len() {
        rows[i].rank = if i > 0 && order_key(&rows[i]) == order_key(&rows[i - 1]) {
            rows[i - 1].rank
        } else {
            i + 1
        };
    }
    let red = rows
        .iter()
        .filter(|r| r.figures.violations == 0)
        .take(scheme.board.red)
        .map(|r| r.code.clone())
        .collect();
    let black = rows
        .iter()
        .rev()
        .filter(|r| r.figures.violations > 0)
        .take(scheme.board.black)
        .map(|r| r.code.clone())
        .collect();
    ShopRanking {
        period: period.label(),
        scheme: scheme.id.clone(),
        rows,
        red,
        black,
    }
}
