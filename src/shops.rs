//! The 门前三包 shop service: a shop's scorecard, a street's monthly ranking, the public shop
//! page and its QR code, the printed placards. It reads the case timelines the assessment keeps
//! in memory (no SQL of its own), the frontages from the live city, and rates with the pure
//! `domain::shop`.
//!
//! **Caches.** The shop directory (every frontage with its street) is built once per city data
//! version; the cases by frontage once per timelines generation. Both are replaced, never grown:
//! their size is the city's frontages and the cases the assessment already holds (bounded by
//! `--assessment-max-events`).

pub mod qr;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::assessment::{AssessmentError, AssessmentService};
use crate::assign::{AreaLevel, CityIndex, NONE};
use crate::domain::assessment::{CaseHistory, Period};
use crate::domain::shop::{
    Duty, Rating, ShopCard, ShopFigures, ShopRanking, ShopScheme, Violation, card, rank_shops,
    violations,
};
use crate::live::LiveCity;

/// Most violations a public page lists.
pub const PUBLIC_RECENT: usize = 10;
/// How old the cases by frontage may be for the public page: a QR scan does not ask the event log
/// again within this time (one read of the log costs a round trip and, on PostgreSQL, tens of
/// milliseconds; staff requests always read it).
pub const PUBLIC_FRESH: std::time::Duration = std::time::Duration::from_secs(2);
/// Most placards on one printed sheet.
pub const MAX_PLACARDS: usize = 2_000;

/// Why a shop request fails.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    /// No such shop or street (404).
    #[error("{0}")]
    NotFound(String),
    /// Too many shops for one sheet (413).
    #[error("{0}")]
    TooLarge(String),
    /// The timelines could not be read.
    #[error(transparent)]
    Assessment(#[from] AssessmentError),
}

/// One shop (frontage) of the city.
#[derive(Debug, Clone, Serialize)]
pub struct Shop {
    /// The frontage code (the placard's and the page's key).
    pub code: String,
    /// The shop's name, as on its sign.
    pub name: String,
    /// Shop type, if known.
    pub shop_type: Option<String>,
    /// Strip depth from the facade towards the kerb, metres.
    pub depth_m: f64,
    /// The facade line, WGS84 [lon, lat] degrees.
    pub line: Vec<[f64; 2]>,
    /// The street (街道) it lies in.
    pub street_code: Option<String>,
    /// Its name.
    pub street_name: Option<String>,
    /// The unit grid it lies in.
    pub grid_code: Option<String>,
}

#[derive(Debug, Default)]
struct Directory {
    version: i64,
    shops: Vec<Shop>,
    by_code: HashMap<String, usize>,
    by_street: BTreeMap<String, Vec<usize>>,
}

impl Directory {
    fn build(index: &CityIndex) -> Self {
        let mut d = Directory {
            version: index.version(),
            ..Default::default()
        };
        for f in index.frontages() {
            // The street of the first point of the facade inside a grid (the line's middle
            // first: a facade's end may touch the road between two grids).
            let mid = f.line.0.get(f.line.0.len() / 2).into_iter();
            let hit = mid
                .chain(f.line.0.iter())
                .map(|c| index.locate(c.x, c.y))
                .find(|h| h.grid != NONE);
            let [grid, _, street, _] = hit.map_or([None; 4], |h| index.chain_codes(&h));
            let i = d.shops.len();
            d.shops.push(Shop {
                code: f.code.to_owned(),
                name: f.name.to_owned(),
                shop_type: f.kind.map(str::to_owned),
                depth_m: f.depth_m,
                line: f.line.0.iter().map(|c| [c.x, c.y]).collect(),
                street_code: street.map(str::to_owned),
                street_name: street
                    .and_then(|s| index.area_name(AreaLevel::Street, s))
                    .map(str::to_owned),
                grid_code: grid.map(str::to_owned),
            });
            d.by_code.insert(f.code.to_owned(), i);
            if let Some(s) = street {
                d.by_street.entry(s.to_owned()).or_default().push(i);
            }
        }
        d
    }
}

type ByFrontage = HashMap<String, Vec<Arc<CaseHistory>>>;
/// The cases by frontage and the timelines generation they were indexed from.
type ByFrontageCache = Option<(u64, std::time::Instant, Arc<ByFrontage>)>;

/// The service (one per process).
#[derive(Debug, Clone)]
pub struct ShopService {
    live: Arc<LiveCity>,
    assessment: AssessmentService,
    scheme: Arc<ShopScheme>,
    public_url: Arc<str>,
    directory: Arc<Mutex<Option<Arc<Directory>>>>,
    by_frontage: Arc<Mutex<ByFrontageCache>>,
}

/// A shop's card with the shop.
#[derive(Debug, Clone, Serialize)]
pub struct Scorecard {
    /// The shop.
    pub shop: Shop,
    /// The scheme's id and name.
    pub scheme: SchemeRef,
    /// The card.
    #[serde(flatten)]
    pub card: ShopCard,
}

/// Which scheme rated.
#[derive(Debug, Clone, Serialize)]
pub struct SchemeRef {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: u32,
}

/// A street's ranking.
#[derive(Debug, Clone, Serialize)]
pub struct StreetRanking {
    /// The street.
    pub street_code: String,
    /// Its name.
    pub street_name: Option<String>,
    /// The scheme.
    pub scheme: SchemeRef,
    /// The ranking.
    #[serde(flatten)]
    pub ranking: ShopRanking,
}

/// One duty on the public page.
#[derive(Debug, Clone, Serialize)]
pub struct PublicDuty {
    /// `sanitation`, `greening`, `order`.
    pub duty: Duty,
    /// 包卫生 …
    pub label: &'static str,
    /// What the shop must keep.
    pub keep: &'static str,
}

/// One past problem on the public page: what and when, and how it ended — nothing about who
/// reported or handled it.
#[derive(Debug, Clone, Serialize)]
pub struct PublicProblem {
    /// The case number (AJ…).
    pub case_no: String,
    /// The category's name.
    pub category: String,
    /// The duty.
    pub duty: &'static str,
    /// The Beijing day it was reported.
    pub reported_on: String,
    /// Its status in Chinese.
    pub status: &'static str,
    /// How it ended (or stands), in Chinese.
    pub outcome: &'static str,
    /// The Beijing day it was closed.
    pub closed_on: Option<String>,
}

/// The public shop page's data: only what is on the placard anyway, the rating and the
/// outcomes. No names of people, no phone numbers, no notes, no reporter, no unit codes.
#[derive(Debug, Clone, Serialize)]
pub struct PublicShop {
    /// The frontage code.
    pub code: String,
    /// The shop's name, as on its sign.
    pub name: String,
    /// Shop type.
    pub shop_type: Option<String>,
    /// The street's name.
    pub street_name: Option<String>,
    /// The strip: the facade line (WGS84 [lon, lat]) and its depth (m).
    pub strip: PublicStrip,
    /// The three duties.
    pub duties: Vec<PublicDuty>,
    /// The period rated (the current month).
    pub period: String,
    /// The scheme.
    pub scheme: SchemeRef,
    /// The rating.
    pub rating: Rating,
    /// The figures.
    pub figures: ShopFigures,
    /// The latest problems, newest first (at most [`PUBLIC_RECENT`]).
    pub recent: Vec<PublicProblem>,
    /// This page's address (what the QR code holds).
    pub url: String,
}

/// The strip on the public page.
#[derive(Debug, Clone, Serialize)]
pub struct PublicStrip {
    /// The facade line, WGS84 [lon, lat] degrees.
    pub line: Vec<[f64; 2]>,
    /// Depth, metres.
    pub depth_m: f64,
}

fn beijing_day(t: DateTime<Utc>) -> String {
    let bj = chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8");
    t.with_timezone(&bj).format("%Y-%m-%d").to_string()
}

fn outcome(v: &Violation) -> &'static str {
    use crate::domain::case::Status::*;
    match v.status {
        Closed if v.self_fixed == Some(true) => "商户自行整改，已结案",
        Closed if v.escalation >= 3 => "移交城管执法，已结案",
        Closed => "已整改结案",
        FedBack | Checked => "已整改，待核查",
        _ if v.escalation >= 3 => "逾期未改，已移交城管执法",
        _ if v.escalation == 2 => "逾期未改，已警告",
        _ if v.escalation == 1 => "逾期未改，已提醒",
        Parked => "暂缓处理",
        _ => "整改中",
    }
}

impl ShopService {
    /// Over the live city and the assessment's timelines, rating with `scheme`; the public page
    /// of a shop is `{public_url}/shops/{code}`.
    pub fn new(
        live: Arc<LiveCity>,
        assessment: AssessmentService,
        scheme: ShopScheme,
        public_url: &str,
    ) -> Self {
        Self {
            live,
            assessment,
            scheme: Arc::new(scheme),
            public_url: public_url.trim_end_matches('/').into(),
            directory: Default::default(),
            by_frontage: Default::default(),
        }
    }

    /// The scheme in force.
    pub fn scheme(&self) -> &ShopScheme {
        &self.scheme
    }

    fn scheme_ref(&self) -> SchemeRef {
        SchemeRef {
            id: self.scheme.id.clone(),
            name: self.scheme.name.clone(),
            version: self.scheme.version,
        }
    }

    /// The address of a shop's public page (what its QR code holds).
    pub fn public_page_url(&self, code: &str) -> String {
        let encoded: String = code
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        format!("{}/shops/{encoded}", self.public_url)
    }

    fn directory(&self) -> Arc<Directory> {
        let index = self.live.current();
        let mut d = self.directory.lock().expect("shop directory lock");
        match d.as_ref() {
            Some(dir) if dir.version == index.version() => dir.clone(),
            _ => {
                let dir = Arc::new(Directory::build(&index));
                *d = Some(dir.clone());
                dir
            }
        }
    }

    /// The cases by frontage; `max_age`: a cached index younger than this is used without asking
    /// the log for new events.
    async fn by_frontage(
        &self,
        max_age: Option<std::time::Duration>,
    ) -> Result<Arc<ByFrontage>, ShopError> {
        if let Some(max_age) = max_age {
            let cached = self.by_frontage.lock().expect("shop case cache lock");
            if let Some((_, at, m)) = cached.as_ref()
                && at.elapsed() < max_age
            {
                return Ok(m.clone());
            }
        }
        let (generation, histories) = self.assessment.timelines().await?;
        let mut cached = self.by_frontage.lock().expect("shop case cache lock");
        let now = std::time::Instant::now();
        if let Some((g, at, m)) = cached.as_mut()
            && *g == generation
        {
            *at = now;
            return Ok(m.clone());
        }
        let mut m: ByFrontage = HashMap::new();
        for h in histories.values() {
            if let Some(code) = h
                .events
                .iter()
                .rev()
                .find_map(|e| e.after.frontage_code.as_deref())
            {
                m.entry(code.to_owned()).or_default().push(h.clone());
            }
        }
        let m = Arc::new(m);
        *cached = Some((generation, now, m.clone()));
        Ok(m)
    }

    /// A shop of the current city.
    pub fn shop(&self, code: &str) -> Result<Shop, ShopError> {
        let d = self.directory();
        d.by_code
            .get(code)
            .map(|i| d.shops[*i].clone())
            .ok_or_else(|| ShopError::NotFound(format!("no shop (frontage) {code:?}")))
    }

    /// Every violation of a shop, each case as its last event leaves it. The log holds no event
    /// later than now, except one written on a manual clock (a replay, a test), which counts.
    fn all_violations(&self, code: &str, cases: &ByFrontage) -> Vec<Violation> {
        let hs = cases.get(code).map(Vec::as_slice).unwrap_or_default();
        violations(
            code,
            hs.iter().map(|h| &**h),
            DateTime::<Utc>::MAX_UTC,
            &self.scheme,
        )
    }

    /// A shop's scorecard for a period.
    pub async fn scorecard(&self, code: &str, period: &Period) -> Result<Scorecard, ShopError> {
        let shop = self.shop(code)?;
        let cases = self.by_frontage(None).await?;
        let all = self.all_violations(code, &cases);
        Ok(Scorecard {
            shop,
            scheme: self.scheme_ref(),
            card: card(code, &all, period, &self.scheme),
        })
    }

    /// The shops of a street, by code.
    pub fn street_shops(&self, street: &str) -> Result<Vec<Shop>, ShopError> {
        let d = self.directory();
        let idx = d
            .by_street
            .get(street)
            .ok_or_else(|| ShopError::NotFound(format!("no shop in street {street:?}")))?;
        let mut shops: Vec<Shop> = idx.iter().map(|i| d.shops[*i].clone()).collect();
        shops.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(shops)
    }

    /// The ranking of a street's shops for a period, with the 红黑榜.
    pub async fn ranking(&self, street: &str, period: &Period) -> Result<StreetRanking, ShopError> {
        let shops = self.street_shops(street)?;
        let cases = self.by_frontage(None).await?;
        let cards = shops.iter().map(|s| {
            let all = self.all_violations(&s.code, &cases);
            (s.name.clone(), card(&s.code, &all, period, &self.scheme))
        });
        let ranking = rank_shops(period, &self.scheme, cards);
        Ok(StreetRanking {
            street_code: street.to_owned(),
            street_name: shops.first().and_then(|s| s.street_name.clone()),
            scheme: self.scheme_ref(),
            ranking,
        })
    }

    /// The public page's data: the current month's rating and the latest problems.
    pub async fn public(&self, code: &str, now: DateTime<Utc>) -> Result<PublicShop, ShopError> {
        let shop = self.shop(code)?;
        let cases = self.by_frontage(Some(PUBLIC_FRESH)).await?;
        let all = self.all_violations(code, &cases);
        let period = Period::containing(crate::domain::assessment::PeriodKind::Month, now);
        let c = card(code, &all, &period, &self.scheme);
        let catalogue = self.live.catalogue();
        let recent = all
            .iter()
            .rev()
            .take(PUBLIC_RECENT)
            .map(|v| PublicProblem {
                case_no: crate::domain::case::case_no(v.case_id),
                category: catalogue
                    .current(&v.category)
                    .map_or_else(|| v.category.clone(), |(_, c)| c.name.clone()),
                duty: v.duty.label_zh(),
                reported_on: beijing_day(v.reported_at),
                status: v.status.label_zh(),
                outcome: outcome(v),
                closed_on: v.closed_at.map(beijing_day),
            })
            .collect();
        Ok(PublicShop {
            url: self.public_page_url(code),
            code: shop.code,
            name: shop.name,
            shop_type: shop.shop_type,
            street_name: shop.street_name,
            strip: PublicStrip {
                line: shop.line,
                depth_m: shop.depth_m,
            },
            duties: Duty::ALL
                .iter()
                .map(|d| PublicDuty {
                    duty: *d,
                    label: d.label_zh(),
                    keep: d.keep_zh(),
                })
                .collect(),
            period: c.period,
            scheme: self.scheme_ref(),
            rating: c.rating,
            figures: c.figures,
            recent,
        })
    }

    /// The placards of a street's shops (at most [`MAX_PLACARDS`]).
    pub fn placards(&self, street: &str) -> Result<Vec<Shop>, ShopError> {
        let shops = self.street_shops(street)?;
        if shops.len() > MAX_PLACARDS {
            return Err(ShopError::TooLarge(format!(
                "street {street} has {} shops, more than the {MAX_PLACARDS} one sheet prints",
                shops.len()
            )));
        }
        Ok(shops)
    }
}
