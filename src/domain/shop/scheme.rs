//! The 门前三包 rating scheme: which case categories are which duty, how long a repeat counts,
//! and how a shop is rated — a points scheme (温州双屿 "参考驾照12分扣分制") or a card scheme
//! (宝山吴淞 红黄牌). Versioned JSON that a city edits; the built-in ones are in this folder and
//! documented with their sources in `docs/shops.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The 温州 12-point scheme (the default).
pub const WENZHOU_12: &str = include_str!("wenzhou-12.json");
/// The 宝山 red/yellow card scheme.
pub const BAOSHAN_CARDS: &str = include_str!("baoshan-cards.json");

/// One of the three duties of the 门前三包 责任书.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Duty {
    /// 包卫生: clean daily, no garbage, waste water or stains (市容整洁).
    Sanitation,
    /// 包绿化: care for the trees and flower beds in front of the door.
    Greening,
    /// 包秩序: no 占道经营, 乱堆, 乱停, 乱贴; signs per the rules.
    Order,
}

impl Duty {
    /// Every duty, in the order of the 责任书.
    pub const ALL: [Duty; 3] = [Duty::Sanitation, Duty::Greening, Duty::Order];

    /// The Chinese name.
    pub fn label_zh(self) -> &'static str {
        match self {
            Duty::Sanitation => "包卫生",
            Duty::Greening => "包绿化",
            Duty::Order => "包秩序",
        }
    }

    /// What the shop must keep, as the 责任书 words it.
    pub fn keep_zh(self) -> &'static str {
        match self {
            Duty::Sanitation => "市容整洁：门前每日清扫，无暴露垃圾、污水、油污",
            Duty::Greening => "绿化：爱护门前树木、花坛、绿地，不践踏、不堆物",
            Duty::Order => {
                "秩序：不占道经营、不店外经营、不乱堆乱放、不乱停车、不乱贴乱画，招牌规范"
            }
        }
    }
}

/// A colour of the rating, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    /// 绿 / no card.
    Green,
    /// 黄 / 黄牌.
    Yellow,
    /// 红 / 红牌.
    Red,
}

/// A points band: a card with at least `min` points left gets `level`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// The colour.
    pub level: Colour,
    /// The least points of the band.
    pub min: f64,
    /// Its name on the page, e.g. 绿码.
    pub label: String,
}

/// Thresholds of a card: any one reached gives the card.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardRule {
    /// At least this many violations in the period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violations: Option<u32>,
    /// At least this many repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<u32>,
    /// At least this many violations that reached the warning (警告).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<u32>,
    /// At least this many violations handed to enforcement (执法).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcements: Option<u32>,
}

/// How a shop is rated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RatingRule {
    /// Points per period, deducted per verified violation (a driving licence's 12 points).
    Points {
        /// The points a shop starts each period with.
        points: f64,
        /// Deduction per violation of each duty.
        per_violation: BTreeMap<Duty, f64>,
        /// Extra deduction per repeat.
        #[serde(default)]
        repeat: f64,
        /// Extra deduction per violation that reached the reminder (提醒).
        #[serde(default)]
        reminder: f64,
        /// Extra deduction per violation that reached the warning (警告).
        #[serde(default)]
        warning: f64,
        /// Extra deduction per violation handed to enforcement (执法).
        #[serde(default)]
        enforcement: f64,
        /// Colour bands, highest `min` first; the last must have `min` 0.
        bands: Vec<Band>,
    },
    /// Red and yellow cards (no card: green).
    Cards {
        /// When a yellow card is shown.
        yellow: CardRule,
        /// When a red card is shown (it outranks yellow).
        red: CardRule,
        /// Names of green, yellow and red on the page.
        labels: BTreeMap<Colour, String>,
    },
}

/// How many of the best and worst shops of a street the 红黑榜 shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardSize {
    /// 红榜 (流动红旗): the best N with no violation.
    pub red: usize,
    /// 黑榜 (流动黑旗): the worst N with at least one violation.
    pub black: usize,
}

/// A rating scheme.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopScheme {
    /// Stable id, e.g. `wenzhou-12`.
    pub id: String,
    /// Name on the page.
    pub name: String,
    /// Version of the document.
    pub version: u32,
    /// Where the rule comes from, and which numbers are guesses.
    pub source: String,
    /// Which category codes are which duty; other categories in the strip do not count.
    pub duties: BTreeMap<Duty, Vec<String>>,
    /// A violation of the same category on the same frontage within this many days after
    /// another is a repeat.
    pub repeat_window_days: u32,
    /// The rating.
    pub rating: RatingRule,
    /// The 红黑榜 of the street ranking.
    pub board: BoardSize,
}

/// Why a scheme document is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid shop scheme: {0}")]
pub struct ShopSchemeError(pub String);

impl ShopScheme {
    /// Parses and checks a document: a category in at most one duty, a repeat window of 1–365
    /// days, non-negative deductions, bands from the highest down to a last band at 0, board
    /// sizes of at most 100.
    pub fn parse(json: &str) -> Result<Self, ShopSchemeError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let s: ShopScheme = serde_path_to_error::deserialize(de)
            .map_err(|e| ShopSchemeError(format!("{}: {}", e.path(), e.inner())))?;
        s.check()?;
        Ok(s)
    }

    /// The built-in scheme `id` (`wenzhou-12` or `baoshan-cards`).
    pub fn built_in(id: &str) -> Option<Self> {
        let doc = match id {
            "wenzhou-12" => WENZHOU_12,
            "baoshan-cards" => BAOSHAN_CARDS,
            _ => return None,
        };
        Some(Self::parse(doc).expect("the built-in shop schemes are valid"))
    }

    /// The default: `wenzhou-12`.
    pub fn default_scheme() -> Self {
        Self::built_in("wenzhou-12").expect("the default shop scheme is built in")
    }

    fn check(&self) -> Result<(), ShopSchemeError> {
        let bad = |m: String| Err(ShopSchemeError(m));
        if self.id.trim().is_empty() || self.name.trim().is_empty() {
            return bad("id and name must not be empty".into());
        }
        let mut seen = BTreeMap::new();
        for (duty, codes) in &self.duties {
            for c in codes {
                if let Some(other) = seen.insert(c.as_str(), *duty) {
                    return bad(format!("category {c} is in both {other:?} and {duty:?}"));
                }
            }
        }
        if !(1..=365).contains(&self.repeat_window_days) {
            return bad("repeat_window_days must be 1–365".into());
        }
        if self.board.red > 100 || self.board.black > 100 {
            return bad("board sizes must be at most 100".into());
        }
        match &self.rating {
            RatingRule::Points {
                points,
                per_violation,
                repeat,
                reminder,
                warning,
                enforcement,
                bands,
            } => {
                let all =
                    per_violation
                        .values()
                        .chain([points, repeat, reminder, warning, enforcement]);
                if all.clone().any(|v| !v.is_finite() || *v < 0.0) {
                    return bad("points and deductions must be finite and not negative".into());
                }
                if bands.is_empty() || bands.windows(2).any(|w| w[0].min <= w[1].min) {
                    return bad("bands must be listed from the highest min down".into());
                }
                if bands.last().is_some_and(|b| b.min != 0.0) {
                    return bad("the last band must have min 0".into());
                }
            }
            RatingRule::Cards { labels, .. } => {
                if Colour::ALL.iter().any(|c| !labels.contains_key(c)) {
                    return bad("labels must name green, yellow and red".into());
                }
            }
        }
        Ok(())
    }

    /// The duty of a category, if it is a 门前三包 one.
    pub fn duty_of(&self, category: &str) -> Option<Duty> {
        self.duties
            .iter()
            .find(|(_, codes)| codes.iter().any(|c| c == category))
            .map(|(d, _)| *d)
    }
}

impl Colour {
    /// Every colour, best first.
    pub const ALL: [Colour; 3] = [Colour::Green, Colour::Yellow, Colour::Red];
}
