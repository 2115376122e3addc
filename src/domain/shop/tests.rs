//! Every rule of both built-in schemes, computed by hand.

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::domain::assessment::CaseEvent;
use crate::domain::case::Case;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn v(duty: Duty, repeat: bool, escalation: i64, self_fixed: Option<bool>) -> Violation {
    Violation {
        case_id: 1,
        category: "0101".into(),
        duty,
        reported_at: t("2026-11-10T02:00:00Z"),
        status: Status::Dispatched,
        closed_at: None,
        repeat,
        to_shop: self_fixed.is_some(),
        self_fixed,
        escalation,
    }
}

fn rated(vs: &[Violation], scheme: &ShopScheme) -> (ShopFigures, Rating) {
    let refs: Vec<&Violation> = vs.iter().collect();
    let f = figures(&refs);
    let r = rate(&f, scheme);
    (f, r)
}

fn reason(r: &Rating, rule: &str) -> Option<(u32, Option<f64>)> {
    r.reasons
        .iter()
        .find(|x| x.rule == rule)
        .map(|x| (x.count, x.points))
}

#[test]
fn a_clean_shop_keeps_its_twelve_points_and_is_green() {
    let s = ShopScheme::default_scheme();
    let (f, r) = rated(&[], &s);
    assert_eq!(f.violations, 0);
    assert_eq!(f.self_fix_rate, None);
    assert_eq!((r.points, r.max_points), (Some(12.0), Some(12.0)));
    assert_eq!((r.level, r.label.as_str()), (Colour::Green, "绿码"));
    assert!(r.reasons.is_empty());
}

#[test]
fn each_duty_costs_its_own_deduction_in_the_twelve_point_scheme() {
    let s = ShopScheme::default_scheme();
    // 包卫生 2 + 包绿化 2 + 包秩序 3 = 7: 12 − 7 = 5, red (yellow starts at 6).
    let (f, r) = rated(
        &[
            v(Duty::Sanitation, false, 0, None),
            v(Duty::Greening, false, 0, None),
            v(Duty::Order, false, 0, None),
        ],
        &s,
    );
    assert_eq!(f.by_duty[&Duty::Sanitation], 1);
    assert_eq!(f.by_duty[&Duty::Greening], 1);
    assert_eq!(f.by_duty[&Duty::Order], 1);
    assert_eq!(reason(&r, "violation_sanitation"), Some((1, Some(2.0))));
    assert_eq!(reason(&r, "violation_greening"), Some((1, Some(2.0))));
    assert_eq!(reason(&r, "violation_order"), Some((1, Some(3.0))));
    assert_eq!(r.points, Some(5.0));
    assert_eq!(r.level, Colour::Red);
}

#[test]
fn the_twelve_point_bands_are_green_from_ten_yellow_from_six_and_red_below() {
    let s = ShopScheme::default_scheme();
    // One 卫生: 12 − 2 = 10 → green (the edge of the band).
    let (_, r) = rated(&[v(Duty::Sanitation, false, 0, None)], &s);
    assert_eq!((r.points, r.level), (Some(10.0), Colour::Green));
    // Two 卫生 + one … no: two 秩序: 12 − 6 = 6 → yellow (the edge).
    let (_, r) = rated(
        &[
            v(Duty::Order, false, 0, None),
            v(Duty::Order, false, 0, None),
        ],
        &s,
    );
    assert_eq!(
        (r.points, r.level, r.label.as_str()),
        (Some(6.0), Colour::Yellow, "黄码")
    );
    // Five 秩序: 12 − 15 < 0 → 0 points, red.
    let five: Vec<Violation> = (0..5).map(|_| v(Duty::Order, false, 0, None)).collect();
    let (_, r) = rated(&five, &s);
    assert_eq!(
        (r.points, r.level, r.label.as_str()),
        (Some(0.0), Colour::Red, "红码")
    );
}

#[test]
fn a_repeat_costs_one_point_more_in_the_twelve_point_scheme() {
    let s = ShopScheme::default_scheme();
    // 卫生 2 + 卫生 2 + repeat 1 = 5: 7 left, yellow.
    let (f, r) = rated(
        &[
            v(Duty::Sanitation, false, 0, None),
            v(Duty::Sanitation, true, 0, None),
        ],
        &s,
    );
    assert_eq!(f.repeats, 1);
    assert_eq!(reason(&r, "repeat"), Some((1, Some(1.0))));
    assert_eq!((r.points, r.level), (Some(7.0), Colour::Yellow));
}

#[test]
fn a_reminder_is_free_a_warning_costs_one_and_enforcement_three_more() {
    let s = ShopScheme::default_scheme();
    // Reminded only: 卫生 2 → 10 (a reminder costs 0 in this scheme).
    let (f, r) = rated(&[v(Duty::Sanitation, false, 1, Some(false))], &s);
    assert_eq!(f.escalations.reminders, 1);
    assert_eq!(reason(&r, "reminder"), None);
    assert_eq!(r.points, Some(10.0));
    // Warned: 卫生 2 + warning 1 → 9, yellow.
    let (_, r) = rated(&[v(Duty::Sanitation, false, 2, Some(false))], &s);
    assert_eq!(reason(&r, "warning"), Some((1, Some(1.0))));
    assert_eq!((r.points, r.level), (Some(9.0), Colour::Yellow));
    // Enforced: 卫生 2 + warning 1 + enforcement 3 → 6, yellow.
    let (f, r) = rated(&[v(Duty::Sanitation, false, 3, Some(false))], &s);
    assert_eq!(
        (
            f.escalations.reminders,
            f.escalations.warnings,
            f.escalations.enforcements
        ),
        (1, 1, 1)
    );
    assert_eq!(reason(&r, "enforcement"), Some((1, Some(3.0))));
    assert_eq!((r.points, r.level), (Some(6.0), Colour::Yellow));
}

#[test]
fn the_self_fix_rate_counts_only_cases_whose_window_is_over() {
    let (f, _) = rated(
        &[
            v(Duty::Sanitation, false, 0, Some(true)),
            v(Duty::Sanitation, false, 0, Some(true)),
            v(Duty::Order, false, 1, Some(false)),
            // Still in its window, or a department's case: not in the rate.
            v(Duty::Order, false, 0, None),
        ],
        &ShopScheme::default_scheme(),
    );
    assert_eq!((f.self_fix_due, f.self_fixed), (3, 2));
    assert!((f.self_fix_rate.unwrap() - 2.0 / 3.0).abs() < 1e-12);
}

fn cards() -> ShopScheme {
    ShopScheme::built_in("baoshan-cards").unwrap()
}

#[test]
fn one_violation_shows_no_card_in_the_card_scheme() {
    let (_, r) = rated(&[v(Duty::Order, false, 0, None)], &cards());
    assert_eq!((r.level, r.label.as_str()), (Colour::Green, "无牌"));
    assert_eq!(r.points, None);
}

#[test]
fn two_violations_or_a_repeat_or_a_warning_show_a_yellow_card() {
    let s = cards();
    let (_, r) = rated(
        &[
            v(Duty::Order, false, 0, None),
            v(Duty::Sanitation, false, 0, None),
        ],
        &s,
    );
    assert_eq!((r.level, r.label.as_str()), (Colour::Yellow, "黄牌"));
    assert_eq!(reason(&r, "yellow_violations"), Some((2, None)));
    // A repeat: two violations (yellow by both rules).
    let (_, r) = rated(
        &[
            v(Duty::Order, false, 0, None),
            v(Duty::Order, true, 0, None),
        ],
        &s,
    );
    assert_eq!(r.level, Colour::Yellow);
    assert_eq!(reason(&r, "yellow_repeats"), Some((1, None)));
    // One violation that reached the warning.
    let (_, r) = rated(&[v(Duty::Order, false, 2, Some(false))], &s);
    assert_eq!(r.level, Colour::Yellow);
    assert_eq!(reason(&r, "yellow_warnings"), Some((1, None)));
}

#[test]
fn four_violations_or_two_repeats_or_an_enforcement_show_a_red_card() {
    let s = cards();
    let four: Vec<Violation> = (0..4)
        .map(|_| v(Duty::Sanitation, false, 0, None))
        .collect();
    let (_, r) = rated(&four, &s);
    assert_eq!((r.level, r.label.as_str()), (Colour::Red, "红牌"));
    assert_eq!(reason(&r, "red_violations"), Some((4, None)));
    let (_, r) = rated(
        &[
            v(Duty::Order, false, 0, None),
            v(Duty::Order, true, 0, None),
            v(Duty::Order, true, 0, None),
        ],
        &s,
    );
    assert_eq!(r.level, Colour::Red);
    assert_eq!(reason(&r, "red_repeats"), Some((2, None)));
    let (_, r) = rated(&[v(Duty::Order, false, 3, Some(false))], &s);
    assert_eq!(r.level, Colour::Red);
    assert_eq!(reason(&r, "red_enforcements"), Some((1, None)));
}

#[test]
fn a_scheme_with_a_category_in_two_duties_or_unordered_bands_is_refused() {
    let mut doc: serde_json::Value = serde_json::from_str(scheme::WENZHOU_12).unwrap();
    doc["duties"]["greening"] = serde_json::json!(["0101"]);
    assert!(ShopScheme::parse(&doc.to_string()).is_err());
    let mut doc: serde_json::Value = serde_json::from_str(scheme::WENZHOU_12).unwrap();
    doc["rating"]["bands"][0]["min"] = serde_json::json!(1);
    assert!(ShopScheme::parse(&doc.to_string()).is_err());
    let mut doc: serde_json::Value = serde_json::from_str(scheme::BAOSHAN_CARDS).unwrap();
    doc["rating"]["labels"] = serde_json::json!({"green": "无牌"});
    assert!(ShopScheme::parse(&doc.to_string()).is_err());
    assert!(ShopScheme::built_in("nowhere").is_none());
}

/// A case on frontage F1 whose events are written by hand.
struct Story {
    case: Case,
    events: Vec<CaseEvent>,
}

impl Story {
    fn new(id: i64, category: &str, at: DateTime<Utc>) -> Self {
        let mut case = Case::draft("inspector", category, 113.6, 34.7);
        case.id = id;
        case.reported_at = at;
        case.frontage_code = Some("F1".into());
        let mut s = Story {
            case,
            events: Vec::new(),
        };
        s.push(at, "created");
        s
    }

    fn push(&mut self, at: DateTime<Utc>, action: &str) {
        let before = self.events.last().map(|e| e.after.clone());
        self.events.push(CaseEvent {
            id: self.case.id * 100 + self.events.len() as i64,
            at,
            action: action.into(),
            actor_id: None,
            actor_name: None,
            before,
            after: self.case.clone(),
        });
    }

    /// Registered and sent to the shop with a window of 2 h.
    fn sent_to_shop(mut self, at: DateTime<Utc>) -> Self {
        self.case.status = Status::Registered;
        self.push(at, "register");
        self.case.status = Status::Dispatched;
        self.case.unit_code = Some("shop-1".into());
        self.case.enforcement_unit = Some("dept-cgzf".into());
        self.case.escalation_due_at = Some(at + Duration::hours(2));
        self.push(at, "auto_dispatch");
        self
    }

    fn escalate(mut self, at: DateTime<Utc>) -> Self {
        self.case.escalation += 1;
        self.push(at, "escalate");
        self
    }

    fn feedback(mut self, at: DateTime<Utc>) -> Self {
        self.case.status = Status::FedBack;
        self.case.escalation_due_at = None;
        self.push(at, "feedback");
        self
    }

    fn void(mut self, at: DateTime<Utc>) -> Self {
        self.case.status = Status::Voided;
        self.push(at, "void");
        self
    }

    fn merged(mut self, at: DateTime<Utc>) -> Self {
        self.case.status = Status::Merged;
        self.case.linked_to = Some(1);
        self.push(at, "link");
        self
    }

    fn done(self) -> CaseHistory {
        CaseHistory {
            case_id: self.case.id,
            events: self.events,
        }
    }
}

#[test]
fn violations_are_read_from_the_timelines_with_repeats_self_fixes_and_escalations() {
    let s = ShopScheme::default_scheme();
    let oct = t("2026-10-20T02:00:00Z");
    let nov = |d: i64| t("2026-11-01T02:00:00Z") + Duration::days(d);
    let hs = vec![
        // October, fixed by the shop in its window.
        Story::new(1, "0101", oct)
            .sent_to_shop(oct)
            .feedback(oct + Duration::hours(1))
            .done(),
        // November 3: the same category 14 days later → a repeat; reminded, then fixed.
        Story::new(2, "0101", nov(2))
            .sent_to_shop(nov(2))
            .escalate(nov(2) + Duration::hours(2))
            .feedback(nov(2) + Duration::hours(3))
            .done(),
        // November 5: 店外经营, escalated to enforcement.
        Story::new(3, "0202", nov(4))
            .sent_to_shop(nov(4))
            .escalate(nov(4) + Duration::hours(2))
            .escalate(nov(4) + Duration::hours(4))
            .escalate(nov(4) + Duration::hours(6))
            .done(),
        // Void: never counts.
        Story::new(4, "0101", nov(6))
            .sent_to_shop(nov(6))
            .void(nov(6))
            .done(),
        // Merged into another report: never counts either.
        Story::new(8, "0101", nov(6)).merged(nov(6)).done(),
        // Not registered yet: not verified.
        Story::new(5, "0202", nov(7)).done(),
        // Not a 门前三包 category.
        Story::new(6, "0601", nov(8)).sent_to_shop(nov(8)).done(),
        // Still in its window.
        Story::new(7, "0501", nov(9)).sent_to_shop(nov(9)).done(),
    ];
    let now = nov(20);
    let all = violations("F1", &hs, now, &s);
    let ids: Vec<i64> = all.iter().map(|v| v.case_id).collect();
    assert_eq!(ids, [1, 2, 3, 7]);
    assert_eq!(all[0].self_fixed, Some(true));
    assert!(all[1].repeat && !all[0].repeat && !all[2].repeat);
    assert_eq!((all[1].escalation, all[1].self_fixed), (1, Some(false)));
    assert_eq!((all[2].escalation, all[2].self_fixed), (3, Some(false)));
    assert_eq!(all[3].self_fixed, None);
    assert!(violations("F2", &hs, now, &s).is_empty());

    let c = card("F1", &all, &Period::parse("2026-11").unwrap(), &s);
    // November: 2 (卫生, repeat, reminded), 3 (秩序, enforced), 7 (秩序).
    assert_eq!(c.figures.violations, 3);
    assert_eq!(c.figures.repeats, 1);
    assert_eq!((c.figures.self_fix_due, c.figures.self_fixed), (2, 0));
    assert_eq!(c.figures.escalations.enforcements, 1);
    // 12 − (卫生 2 + 秩序 3 × 2 + repeat 1 + warning 1 + enforcement 3) = 12 − 13 → 0.
    assert_eq!(c.rating.points, Some(0.0));
    assert_eq!(c.violations[0].case_id, 7, "newest first");
    let oct_card = card("F1", &all, &Period::parse("2026-10").unwrap(), &s);
    assert_eq!(oct_card.figures.self_fix_rate, Some(1.0));
    assert_eq!(oct_card.rating.points, Some(10.0));
}

#[test]
fn the_ranking_puts_clean_shops_first_and_fills_the_red_and_black_lists() {
    let s = ShopScheme::default_scheme();
    let p = Period::parse("2026-11").unwrap();
    let mk = |code: &str, vs: Vec<Violation>| {
        let c = card(code, &[], &p, &s);
        let refs: Vec<&Violation> = vs.iter().collect();
        let f = figures(&refs);
        let rating = rate(&f, &s);
        (
            code.to_owned(),
            ShopCard {
                figures: f,
                rating,
                ..c
            },
        )
    };
    let r = rank_shops(
        &p,
        &s,
        [
            mk("C", vec![v(Duty::Order, false, 3, Some(false))]),
            mk("A", vec![]),
            mk("B", vec![v(Duty::Sanitation, false, 0, None)]),
            mk("D", vec![]),
        ],
    );
    let order: Vec<(&str, usize)> = r.rows.iter().map(|x| (x.code.as_str(), x.rank)).collect();
    assert_eq!(order, [("A", 1), ("D", 1), ("B", 3), ("C", 4)]);
    assert_eq!(r.red, ["A", "D"]);
    assert_eq!(r.black, ["C", "B"]);
}
