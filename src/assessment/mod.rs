//! The assessment service (考评): reads the case event log and the scheme from the store, scores
//! with the pure `domain::assessment`, names the units, and publishes frozen snapshots. HTTP
//! handlers parse, call it and render what it answers.
//!
//! Publishing a period reads it as of its end (or now while it runs). The same numbers as the
//! latest snapshot of the period publish nothing new; different numbers publish the next version
//! with a diff naming the cases whose inputs changed and the units whose scores moved. Snapshots
//! are append-only in the database: last week's table is never rewritten.

pub mod export;
pub mod timelines;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use std::sync::Arc;

use crate::assign::{AreaLevel, AreaStats, CityIndex};
use crate::domain::assessment::scheme::GradeBand;
use crate::domain::assessment::{
    AreaSizes, Assessment, Level, Period, Ranking, Scheme, SchemeError, Scorecard, Trend, assess,
    rank, trend,
};
use crate::domain::jurisdiction::AreaSize;
use crate::live::LiveCity;
use crate::store::{Audit, NewSnapshot, SchemeVersion, Snapshot, Store, StoreError};
use timelines::{TimelineError, Timelines};

/// Why an assessment request fails.
#[derive(Debug, thiserror::Error)]
pub enum AssessmentError {
    /// The scheme document is refused (400).
    #[error(transparent)]
    Scheme(#[from] SchemeError),
    /// No such unit in the period, or no such snapshot (404).
    #[error("{0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// More case events than the service may hold (413 `too_large`).
    #[error("{0}")]
    TooLarge(String),
}

impl From<TimelineError> for AssessmentError {
    fn from(e: TimelineError) -> Self {
        match e {
            TimelineError::Store(e) => Self::Store(e),
            e @ TimelineError::TooLarge { .. } => Self::TooLarge(e.to_string()),
        }
    }
}

/// The scheme in force and its version (0: the built-in default).
#[derive(Debug, Clone, Serialize)]
pub struct SchemeInForce {
    /// Version (0: the default, never stored).
    pub version: i64,
    /// The scheme.
    pub scheme: Scheme,
}

/// The outcome of publishing.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    /// Whether a new version was written (false: the numbers equal the latest version's).
    pub created: bool,
    /// The snapshot (the new one, or the latest one that already says the same).
    pub snapshot: Snapshot,
}

/// One row of the public 红黑榜.
#[derive(Debug, Clone, Serialize)]
pub struct BoardRow {
    /// Rank.
    pub rank: usize,
    /// The unit's code (absent for people).
    pub key: Option<String>,
    /// Its name (absent for people).
    pub name: Option<String>,
    /// Score.
    pub score: f64,
    /// Grade.
    pub grade: String,
}

/// One level of the public 红黑榜.
#[derive(Debug, Clone, Serialize)]
pub struct BoardLevel {
    /// The level.
    pub level: Level,
    /// Its Chinese name.
    pub label: &'static str,
    /// The top N (红榜).
    pub red: Vec<BoardRow>,
    /// The bottom N, worst last (黑榜).
    pub black: Vec<BoardRow>,
    /// Areas (districts, streets, communities, grids) only: the grade of every unit of the level,
    /// by key, for the map of the public page (grades, not scores or ranks); empty for others.
    pub grades: Vec<BoardGrade>,
}

/// An area's grade on the public map.
#[derive(Debug, Clone, Serialize)]
pub struct BoardGrade {
    /// The area's code.
    pub key: String,
    /// Its grade.
    pub grade: String,
}

/// The public 红黑榜 from the latest published snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Board {
    /// The period.
    pub period: String,
    /// The snapshot's version.
    pub version: i64,
    /// When it was published.
    pub published_at: DateTime<Utc>,
    /// The scheme's grade bands, highest first (the map's legend).
    pub grade_bands: Vec<GradeBand>,
    /// The levels an administrator made public.
    pub levels: Vec<BoardLevel>,
}

/// The service.
#[derive(Debug, Clone)]
pub struct AssessmentService {
    store: Store,
    /// The live city: area names, sizes and classes.
    live: Arc<LiveCity>,
    /// The case timelines, kept up to date from the event log.
    timelines: Arc<Timelines>,
    /// The public board of the latest snapshot under the latest scheme, keyed by both: the
    /// public page reads it without parsing the snapshot's numbers again.
    board: Arc<std::sync::Mutex<Option<CachedBoard>>>,
    /// Assessments of periods that have ended (read as of their end, so they change only with
    /// the log or the scheme), newest last, at most [`PAST_CACHE`]: a ranking's previous periods
    /// and a year of weekly rankings are scored once each.
    past: Arc<std::sync::Mutex<std::collections::VecDeque<(PastKey, Assessment)>>>,
    /// How many of them (0: none kept).
    past_capacity: usize,
}

/// How many assessments of ended periods are kept (a few MB each on the demo city).
pub const PAST_CACHE: usize = 64;

/// What an ended period's assessment was computed from: the period, the scheme version, the
/// timelines' generation and the live city's version.
type PastKey = (String, i64, u64, i64);

/// A built board and what it was built from: (latest snapshot id, scheme version).
type CachedBoard = ((i64, i64), Arc<Board>);

/// The live city's area sizes as the pure assessment asks for them.
struct CitySizes<'a>(&'a AreaStats);

fn area_level(level: Level) -> Option<AreaLevel> {
    Some(match level {
        Level::Districts => AreaLevel::District,
        Level::Streets => AreaLevel::Street,
        Level::Communities => AreaLevel::Community,
        Level::Grids => AreaLevel::Grid,
        _ => return None,
    })
}

impl AreaSizes for CitySizes<'_> {
    fn size(&self, level: Level, key: &str) -> Option<AreaSize> {
        self.0.get(area_level(level)?, key)
    }
}

fn sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl AssessmentService {
    /// Over a store and the live city, holding at most `max_events` case events in memory
    /// (`--assessment-max-events`).
    pub fn new(store: Store, live: Arc<LiveCity>, max_events: usize) -> Self {
        Self {
            store,
            live,
            timelines: Arc::new(Timelines::new(max_events)),
            board: Default::default(),
            past: Default::default(),
            past_capacity: PAST_CACHE,
        }
    }

    /// The same service keeping no assessment of ended periods: every period is scored afresh
    /// (what the benchmark measures as the cost of scoring).
    pub fn without_past_cache(mut self) -> Self {
        self.past_capacity = 0;
        self
    }

    /// The case timelines as of now, with their generation (the 门前三包 shop scorecards read
    /// them too).
    pub async fn timelines(&self) -> Result<(u64, timelines::Histories), AssessmentError> {
        let log = self.store.analytics().await;
        Ok(match self.timelines.current(&log).await {
            Err(TimelineError::Store(e)) if self.store.reader_failed(&log, &e) => {
                self.timelines.current(&self.store).await?
            }
            r => r?,
        })
    }

    /// [`Self::assess_back`] on the read replica when usable, on the primary when it fails
    /// meanwhile.
    async fn assess_back_analytics(
        &self,
        period: &Period,
        back: u32,
        now: DateTime<Utc>,
    ) -> Result<(SchemeInForce, Vec<Assessment>), AssessmentError> {
        let log = self.store.analytics().await;
        match self.assess_back(&log, period, back, now).await {
            Err(AssessmentError::Store(e)) if self.store.reader_failed(&log, &e) => {
                self.assess_back(&self.store, period, back, now).await
            }
            r => r,
        }
    }

    /// The scheme in force: the latest stored version, or the default.
    pub async fn scheme(&self) -> Result<SchemeInForce, AssessmentError> {
        Ok(match self.store.assessment_scheme().await? {
            Some(v) => SchemeInForce {
                version: v.version,
                scheme: Scheme::parse(&v.document.to_string()).map_err(|e| {
                    StoreError::Corrupt(format!("assessment scheme {}: {e}", v.version))
                })?,
            },
            None => SchemeInForce {
                version: 0,
                scheme: Scheme::default_scheme(),
            },
        })
    }

    /// Checks a scheme document and stores it as the next version.
    pub async fn put_scheme(
        &self,
        document: &Value,
        audit: &Audit,
    ) -> Result<SchemeVersion, AssessmentError> {
        let scheme = Scheme::parse(&document.to_string())?;
        let canonical = serde_json::to_value(&scheme).map_err(|e| SchemeError(e.to_string()))?;
        Ok(self.store.put_assessment_scheme(&canonical, audit).await?)
    }

    /// Names the scorecards that have none (people are named from their events): areas from the
    /// live city, departments with one query for the codes present (not every unit: a city's
    /// shops are units too, tens of thousands of them).
    async fn name(&self, city: &CityIndex, all: &mut [Assessment]) -> Result<(), AssessmentError> {
        let codes: BTreeSet<String> = all
            .iter()
            .flat_map(|a| a.levels.get(&Level::Departments).into_iter().flatten())
            .map(|c| c.key.clone())
            .collect();
        let units = self.store.unit_names(&codes).await?;
        for card in all.iter_mut().flat_map(|a| a.levels.values_mut().flatten()) {
            if card.name.is_some() {
                continue;
            }
            card.name = match area_level(card.level) {
                Some(area) => city.area_name(area, &card.key).map(str::to_owned),
                None if card.level == Level::Departments => units.get(&card.key).cloned(),
                None => None,
            };
        }
        Ok(())
    }

    /// `period` and the `back` periods before it, newest first, with names, and the scheme.
    ///
    /// The event log and the findings are read from `log` (the read replica for rankings and
    /// scorecards, the primary for a publication), both from the same one; the scheme and the
    /// unit names from the primary, where an admin's edit is seen at once.
    async fn assess_back(
        &self,
        log: &Store,
        period: &Period,
        back: u32,
        now: DateTime<Utc>,
    ) -> Result<(SchemeInForce, Vec<Assessment>), AssessmentError> {
        let scheme = self.scheme().await?;
        let (generation, histories) = self.timelines.current(log).await?;
        // Read after the timelines: a finding's case is written before the finding, so every
        // finding read here either has its case in `histories` or is looked up for nothing.
        let inspected = log.inspection_deductions().await?;
        let city = self.live.current();
        let sizes = CitySizes(city.area_stats());
        let key = |p: &Period| (p.label(), scheme.version, generation, city.version());
        let cached = |p: &Period| -> Option<Assessment> {
            let past = self.past.lock().expect("assessment cache lock");
            let k = key(p);
            past.iter().find(|(pk, _)| *pk == k).map(|(_, a)| a.clone())
        };
        let mut out = Vec::new();
        let mut fresh = Vec::new();
        let mut p = *period;
        for i in 0..=back {
            match cached(&p).filter(|_| p.end() <= now) {
                Some(a) => out.push(a),
                None => {
                    fresh.push(i as usize);
                    out.push(assess(
                        histories.values().map(|h| &**h),
                        &p,
                        now,
                        &scheme.scheme,
                        &sizes,
                        &inspected,
                    ));
                }
            }
            p = p.previous();
        }
        self.name(&city, &mut out).await?;
        let mut past = self.past.lock().expect("assessment cache lock");
        let mut p = *period;
        for (i, a) in out.iter().enumerate() {
            if fresh.contains(&i) && p.end() <= now {
                past.push_back((key(&p), a.clone()));
                if past.len() > self.past_capacity {
                    past.pop_front();
                }
            }
            p = p.previous();
        }
        drop(past);
        Ok((scheme, out))
    }

    /// Every scorecard of a period.
    pub async fn assessment(
        &self,
        period: &Period,
        now: DateTime<Utc>,
    ) -> Result<(SchemeInForce, Assessment), AssessmentError> {
        let (scheme, mut all) = self.assess_back_analytics(period, 0, now).await?;
        Ok((scheme, all.remove(0)))
    }

    /// The ranking of a level, with the change from the period before and the streaks under the
    /// pass line.
    pub async fn ranking(
        &self,
        period: &Period,
        level: Level,
        now: DateTime<Utc>,
    ) -> Result<Ranking, AssessmentError> {
        let mut all = self.rankings(period, &[level], now).await?;
        Ok(all.remove(0))
    }

    /// The rankings of several levels for a period from one read of the event log, in the order
    /// asked (the workbook's sheets).
    pub async fn rankings(
        &self,
        period: &Period,
        levels: &[Level],
        now: DateTime<Utc>,
    ) -> Result<Vec<Ranking>, AssessmentError> {
        let back = self.scheme().await?.scheme.streak.max(1);
        let (scheme, all) = self.assess_back_analytics(period, back, now).await?;
        Ok(levels
            .iter()
            .map(|&level| rank(level, &all[0], &all[1..], &scheme.scheme))
            .collect())
    }

    /// The scores of a level's units over `periods` consecutive periods ending with `period`
    /// (oldest first), from one read of the event log; with `key`, that unit alone (not found
    /// when it was scored in none of them).
    pub async fn trend(
        &self,
        period: &Period,
        level: Level,
        periods: u32,
        key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Trend, AssessmentError> {
        let (scheme, mut all) = self
            .assess_back_analytics(period, periods.saturating_sub(1), now)
            .await?;
        all.reverse();
        let mut t = trend(level, &all, &scheme.scheme);
        if let Some(key) = key {
            t.units.retain(|u| u.key == key);
            if t.units.is_empty() {
                return Err(AssessmentError::NotFound(format!(
                    "{} {key:?} has no score in the {periods} periods up to {}",
                    level.as_str(),
                    period.label()
                )));
            }
        }
        Ok(t)
    }

    /// One unit's scorecard with its evidence.
    pub async fn scorecard(
        &self,
        period: &Period,
        level: Level,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Scorecard, AssessmentError> {
        let (_, a) = self.assessment(period, now).await?;
        a.levels
            .get(&level)
            .and_then(|cards| cards.iter().find(|c| c.key == key))
            .cloned()
            .ok_or_else(|| {
                AssessmentError::NotFound(format!(
                    "{} {key:?} has no scorecard in {}: no case of it counts in the period",
                    level.as_str(),
                    a.period
                ))
            })
    }

    /// Publishes a period (see the module's documentation).
    pub async fn publish(
        &self,
        period: &Period,
        now: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Published, AssessmentError> {
        // From the primary: a snapshot of record holds every event committed before it, which a
        // lagging replica might not have yet.
        let (scheme, mut all) = self.assess_back(&self.store, period, 0, now).await?;
        let a = all.remove(0);
        let numbers_text =
            serde_json::to_string(&a.levels).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let numbers_digest = sha256(&numbers_text);
        let previous = self.store.snapshots_of(&a.period).await?.pop();
        if let Some(last) = &previous
            && last.numbers_digest == numbers_digest
            && last.scheme_version == scheme.version
        {
            return Ok(Published {
                created: false,
                snapshot: last.clone(),
            });
        }
        let inputs =
            serde_json::to_value(&a.inputs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let diff = previous.as_ref().map(|last| diff(last, &a, scheme.version));
        let numbers: Value =
            serde_json::from_str(&numbers_text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let snapshot = self
            .store
            .insert_snapshot(
                &NewSnapshot {
                    period: a.period.clone(),
                    version: previous.as_ref().map_or(1, |p| p.version + 1),
                    scheme_version: scheme.version,
                    digest: a.digest.clone(),
                    numbers_digest,
                    as_of: a.as_of,
                    numbers,
                    inputs,
                    diff,
                },
                audit,
            )
            .await?;
        Ok(Published {
            created: true,
            snapshot,
        })
    }

    /// The snapshots of a period, oldest first.
    pub async fn snapshots(&self, period: &Period) -> Result<Vec<Snapshot>, AssessmentError> {
        Ok(self.store.snapshots_of(&period.label()).await?)
    }

    /// One snapshot.
    pub async fn snapshot(&self, id: i64) -> Result<Snapshot, AssessmentError> {
        self.store
            .snapshot(id)
            .await?
            .ok_or_else(|| AssessmentError::NotFound(format!("no snapshot {id}")))
    }

    /// The public 红黑榜: the top and bottom N of the public levels in the latest snapshot; people
    /// (inspectors, dispatchers) without their names or ids.
    pub async fn board(&self) -> Result<Option<Arc<Board>>, AssessmentError> {
        let (Some(snapshot), scheme_version) = self.store.board_key().await? else {
            return Ok(None);
        };
        let key = (snapshot, scheme_version);
        if let Some((k, board)) = &*self.board.lock().expect("board cache lock")
            && *k == key
        {
            return Ok(Some(board.clone()));
        }
        let Some(board) = self.build_board().await? else {
            return Ok(None);
        };
        let board = Arc::new(board);
        // Built from what is newest now, which may be newer than `key`: keyed by `key`, the
        // next read checks again and at worst builds once more.
        *self.board.lock().expect("board cache lock") = Some((key, board.clone()));
        Ok(Some(board))
    }

    async fn build_board(&self) -> Result<Option<Board>, AssessmentError> {
        let Some(snap) = self.store.latest_snapshot().await? else {
            return Ok(None);
        };
        let scheme = self.scheme().await?.scheme;
        let levels: BTreeMap<Level, Vec<Scorecard>> = serde_json::from_value(snap.numbers.clone())
            .map_err(|e| StoreError::Corrupt(format!("snapshot {}: {e}", snap.id)))?;
        let n = scheme.public.top_n;
        let board_levels = scheme
            .public
            .levels
            .iter()
            .map(|level| {
                let mut cards: Vec<&Scorecard> = levels.get(level).into_iter().flatten().collect();
                cards.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.key.cmp(&b.key)));
                let row = |(i, c): (usize, &&Scorecard)| BoardRow {
                    rank: i + 1,
                    key: (!level.is_people()).then(|| c.key.clone()),
                    name: if level.is_people() {
                        None
                    } else {
                        c.name.clone()
                    },
                    score: c.score,
                    grade: c.grade.clone(),
                };
                let red: Vec<BoardRow> = cards.iter().enumerate().take(n).map(row).collect();
                // The black list never repeats a unit of the red one.
                let start = cards.len().saturating_sub(n).max(red.len());
                let black: Vec<BoardRow> = cards.iter().enumerate().skip(start).map(row).collect();
                let mut grades: Vec<BoardGrade> = if level.is_area() {
                    cards
                        .iter()
                        .map(|c| BoardGrade {
                            key: c.key.clone(),
                            grade: c.grade.clone(),
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                grades.sort_by(|a, b| a.key.cmp(&b.key));
                BoardLevel {
                    level: *level,
                    label: level.label_zh(),
                    red,
                    black,
                    grades,
                }
            })
            .collect();
        Ok(Some(Board {
            period: snap.period,
            version: snap.version,
            published_at: snap.published_at,
            grade_bands: scheme.grades.clone(),
            levels: board_levels,
        }))
    }
}

/// What changed against the version before: the cases whose inputs changed (a new event, or in or
/// out of the period) and the units whose scores moved.
fn diff(last: &Snapshot, now: &Assessment, scheme_version: i64) -> Value {
    let before: BTreeMap<i64, i64> =
        serde_json::from_value(last.inputs.clone()).unwrap_or_default();
    let ids: BTreeSet<i64> = before.keys().chain(now.inputs.keys()).copied().collect();
    let cases: Vec<i64> = ids
        .into_iter()
        .filter(|id| before.get(id) != now.inputs.get(id))
        .collect();
    let old: BTreeMap<Level, Vec<Scorecard>> =
        serde_json::from_value(last.numbers.clone()).unwrap_or_default();
    let score_of = |levels: &BTreeMap<Level, Vec<Scorecard>>, level: Level, key: &str| {
        levels
            .get(&level)
            .and_then(|v| v.iter().find(|c| c.key == key))
            .map(|c| c.score)
    };
    let mut units = Vec::new();
    for level in Level::ALL {
        let keys: BTreeSet<&str> = old
            .get(&level)
            .into_iter()
            .chain(now.levels.get(&level))
            .flatten()
            .map(|c| c.key.as_str())
            .collect();
        for key in keys {
            let (a, b) = (
                score_of(&old, level, key),
                score_of(&now.levels, level, key),
            );
            if a != b {
                units.push(
                    serde_json::json!({ "level": level, "key": key, "before": a, "after": b }),
                );
            }
        }
    }
    serde_json::json!({
        "from_version": last.version,
        "scheme_version": { "before": last.scheme_version, "after": scheme_version },
        "cases": cases,
        "units": units,
    })
}
