//! The demo city's case lifecycles: the last weeks of `geodata/history.csv.gz` replayed through
//! the real case service — the same intake, state machine, rule-based dispatch on 立案, working
//! calendar and escalation sweep a city runs on — with the service on a manual clock
//! ([`crate::clock::Clock`]), so every event lands at its simulated instant.
//!
//! Who does what: one generated inspector per street (patrolling all of its grids), four 值班长
//! on six-hour shifts, two 派遣员, two intake clerks and one handler per responsible unit met
//! (created on first need), all demo accounts with the demo password. How long they take and
//! what goes wrong is drawn per report and per person from seeded draws
//! ([`crate::domain::replay`]), biased for the planted performers of
//! `geodata/planted_performers.json`. The replay writes the same cases every time.
//!
//! It runs once: a store that holds any case already is left alone (a city's own cases are never
//! mixed with simulated ones, and a second run does not replay twice), and so is a store whose
//! streets are not the demo city's.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Duration, FixedOffset, NaiveTime, Timelike, Utc};

use crate::cases::{CaseError, CaseService, Submission};
use crate::clock::Clock;
use crate::domain::case::{Action, Case, RequestKind, Status};
use crate::domain::crs::Crs;
use crate::domain::identity::{Principal, Role};
use crate::domain::jurisdiction::Layer;
use crate::domain::replay::{CasePlan, Draws, Planted, PlantedError, ReplayChannel, sampled};
use crate::store::{Audit, CaseFilter, NewUser, Store, StoreError};

/// The most weeks a replay may cover: each week of the history is about 2,000 reports, and
/// replayed whole about 12,000 case events.
pub const MAX_WEEKS: u32 = 8;
/// Weeks replayed on first start unless told otherwise.
pub const DEFAULT_WEEKS: u32 = 6;
/// The share of the window's reports replayed on first start unless told otherwise.
pub const DEFAULT_SHARE: f64 = 0.35;
/// The truth file of the planted performers, in the geodata folder.
pub const PLANTED_FILE: &str = "planted_performers.json";

/// How much history to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayOptions {
    weeks: u32,
    share: f64,
}

impl ReplayOptions {
    /// The last `weeks` weeks (1–[`MAX_WEEKS`]) of the history, `share` (above 0, at most 1) of
    /// their reports.
    pub fn new(weeks: u32, share: f64) -> Result<Self, ReplayError> {
        if !(1..=MAX_WEEKS).contains(&weeks) {
            return Err(ReplayError::Options(format!(
                "weeks must be 1–{MAX_WEEKS}, not {weeks}"
            )));
        }
        if !(share > 0.0 && share <= 1.0) {
            return Err(ReplayError::Options(format!(
                "the share of reports must be above 0 and at most 1, not {share}"
            )));
        }
        Ok(Self { weeks, share })
    }

    /// Weeks replayed.
    pub fn weeks(&self) -> u32 {
        self.weeks
    }
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            weeks: DEFAULT_WEEKS,
            share: DEFAULT_SHARE,
        }
    }
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// Weeks or share out of range.
    #[error("{0}")]
    Options(String),
    /// The planted performers file was refused.
    #[error(transparent)]
    Planted(#[from] PlantedError),
    /// A geodata file could not be read.
    #[error("{0}")]
    Read(String),
    /// The case service failed for a reason other than refusing one action.
    #[error(transparent)]
    Case(#[from] CaseError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The clock was moved backwards (a bug of the replay's queue).
    #[error(transparent)]
    Clock(#[from] crate::clock::ClockError),
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReplayOutcome {
    /// The first simulated instant.
    pub from: DateTime<Utc>,
    /// The end of the window: the history's last day; later steps are left undone.
    pub to: DateTime<Utc>,
    /// Reports taken in (cases created, merged ones included).
    pub reports: usize,
    /// Workflow actions taken (without the intakes).
    pub actions: usize,
    /// Actions the workflow refused (e.g. a link to a case closed meanwhile); the case goes on
    /// without them.
    pub refused: usize,
    /// Cases still open at the end.
    pub open: usize,
    /// Generated demo accounts.
    pub people: usize,
    /// Wall-clock time, milliseconds.
    pub elapsed_ms: u128,
}

/// Whether the replay ran.
#[derive(Debug, Clone, PartialEq)]
pub enum Replayed {
    /// It ran.
    Done(ReplayOutcome),
    /// Not run, and why.
    Skipped(&'static str),
}

/// One report of the history file.
#[derive(Debug, Clone)]
struct Row {
    id: String,
    reported_at: DateTime<Utc>,
    category: String,
    lon: f64,
    lat: f64,
    channel: String,
    closed: bool,
}

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

fn read_history(path: &Path) -> Result<Vec<Row>, ReplayError> {
    let text = crate::import::read_text(path)
        .map_err(|e| ReplayError::Read(format!("{}: {e}", path.display())))?;
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| ReplayError::Read(format!("{}: {e}", path.display())))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| ReplayError::Read(format!("{}: no column {name}", path.display())))
    };
    let (id, at, cat, lon, lat, ch, closed) = (
        col("id")?,
        col("reported_at")?,
        col("category")?,
        col("lon")?,
        col("lat")?,
        col("channel")?,
        col("closed_at")?,
    );
    let mut rows = Vec::new();
    for (n, rec) in rdr.records().enumerate() {
        let bad =
            |what: &str| ReplayError::Read(format!("{} row {}: {what}", path.display(), n + 2));
        let rec = rec.map_err(|e| bad(&e.to_string()))?;
        let field = |i: usize| rec.get(i).unwrap_or("");
        rows.push(Row {
            id: field(id).to_owned(),
            reported_at: DateTime::parse_from_rfc3339(field(at))
                .map_err(|e| bad(&format!("reported_at: {e}")))?
                .with_timezone(&Utc),
            category: field(cat).to_owned(),
            lon: field(lon).parse().map_err(|_| bad("lon"))?,
            lat: field(lat).parse().map_err(|_| bad("lat"))?,
            channel: field(ch).to_owned(),
            closed: !field(closed).is_empty(),
        });
    }
    Ok(rows)
}

/// The replay window: the last `weeks` weeks up to the midnight (Beijing) after the history's
/// last report.
fn window(rows: &[Row], weeks: u32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let last = rows.iter().map(|r| r.reported_at).max()?;
    let local = last.with_timezone(&beijing()).date_naive() + Duration::days(1);
    let end = local
        .and_time(NaiveTime::MIN)
        .and_local_timezone(beijing())
        .single()?
        .with_timezone(&Utc);
    Some((end - Duration::weeks(i64::from(weeks)), end))
}

/// Common Chinese surnames and given names, for the generated people.
const SURNAMES: [&str; 20] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗",
];
const GIVEN: [&str; 24] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "建华", "红梅",
];

fn person_name(n: usize) -> String {
    format!(
        "{}{}",
        SURNAMES[n % SURNAMES.len()],
        GIVEN[(n * 7 + n / SURNAMES.len()) % GIVEN.len()]
    )
}

/// A generated person: how they act and how quick they are.
#[derive(Debug, Clone)]
struct Person {
    principal: Principal,
    /// Their delays are this multiple of the usual ones.
    pace: f64,
}

impl Person {
    fn audit(&self) -> Audit {
        Audit {
            actor_id: Some(self.principal.user_id),
            actor_name: Some(self.principal.display_name.clone()),
            request_id: None,
            at: None,
        }
    }
}

/// The cast: the demo accounts the replay acts as.
struct Cast {
    store: Store,
    hash: String,
    seed: u64,
    inspectors: BTreeMap<String, Person>,
    leads: Vec<Person>,
    dispatchers: Vec<Person>,
    clerks: Vec<Person>,
    handlers: HashMap<String, Person>,
    created: usize,
}

impl Cast {
    async fn person(
        &mut self,
        username: String,
        display_name: String,
        role: Role,
        unit_code: Option<String>,
        grids: Vec<String>,
    ) -> Result<Person, ReplayError> {
        let user = self
            .store
            .create_user(
                &NewUser {
                    username: username.clone(),
                    display_name: display_name.clone(),
                    role,
                    unit_code: unit_code.clone(),
                    password_hash: self.hash.clone(),
                    is_demo: true,
                    grids: grids.clone(),
                },
                &Audit::system(),
            )
            .await?;
        self.created += 1;
        let mut draws = Draws::new(self.seed, &username);
        Ok(Person {
            principal: Principal {
                user_id: user.id,
                username,
                display_name,
                role,
                unit_code,
                grids: grids.into_iter().collect(),
            },
            pace: draws.between(0.5, 1.6),
        })
    }

    async fn build(store: &Store, seed: u64) -> Result<Self, ReplayError> {
        let hash = tokio::task::spawn_blocking(|| {
            crate::security::hash_password(crate::demo::DEMO_PASSWORD)
        })
        .await
        .map_err(|e| ReplayError::Read(format!("password hashing: {e}")))?
        .map_err(|e| ReplayError::Read(format!("password hashing: {e}")))?;
        let mut cast = Cast {
            store: store.clone(),
            hash,
            seed,
            inspectors: BTreeMap::new(),
            leads: Vec::new(),
            dispatchers: Vec::new(),
            clerks: Vec::new(),
            handlers: HashMap::new(),
            created: 0,
        };
        let streets = store.features_at(Layer::Street, None).await?;
        let community_street: HashMap<String, String> = store
            .features_at(Layer::Community, None)
            .await?
            .into_iter()
            .filter_map(|c| Some((c.feature.code, c.feature.parent_code?)))
            .collect();
        let mut grids: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for g in store.features_at(Layer::Grid, None).await? {
            if let Some(street) = g
                .feature
                .parent_code
                .as_ref()
                .and_then(|c| community_street.get(c))
            {
                grids
                    .entry(street.clone())
                    .or_default()
                    .push(g.feature.code);
            }
        }
        let mut n = 0;
        for s in streets {
            let code = s.feature.code;
            let p = cast
                .person(
                    format!("demo_insp_{code}"),
                    format!("{}(监督员·{})", person_name(n), s.feature.name),
                    Role::Inspector,
                    None,
                    grids.remove(&code).unwrap_or_default(),
                )
                .await?;
            cast.inspectors.insert(code, p);
            n += 1;
        }
        for i in 1..=4 {
            let p = cast
                .person(
                    format!("demo_lead_{i}"),
                    format!("{}(值班长)", person_name(n)),
                    Role::ShiftLead,
                    None,
                    Vec::new(),
                )
                .await?;
            cast.leads.push(p);
            n += 1;
        }
        for i in 1..=2 {
            let p = cast
                .person(
                    format!("demo_disp_{i}"),
                    format!("{}(派遣员)", person_name(n)),
                    Role::Dispatcher,
                    None,
                    Vec::new(),
                )
                .await?;
            cast.dispatchers.push(p);
            n += 1;
            let p = cast
                .person(
                    format!("demo_intake_{i}"),
                    format!("{}(受理员)", person_name(n)),
                    Role::IntakeClerk,
                    None,
                    Vec::new(),
                )
                .await?;
            cast.clerks.push(p);
            n += 1;
        }
        Ok(cast)
    }

    /// Whose shift it is: 值班长 in four six-hour shifts, 派遣员 and clerks in two of twelve.
    fn on_duty(people: &[Person], at: DateTime<Utc>) -> &Person {
        let hour = at.with_timezone(&beijing()).hour() as usize;
        &people[hour * people.len() / 24]
    }

    fn lead(&self, at: DateTime<Utc>) -> &Person {
        Self::on_duty(&self.leads, at)
    }

    fn dispatcher(&self, at: DateTime<Utc>) -> &Person {
        Self::on_duty(&self.dispatchers, at)
    }

    fn clerk(&self, at: DateTime<Utc>) -> &Person {
        Self::on_duty(&self.clerks, at)
    }

    /// The handler acting for `unit`, created on first need.
    async fn handler(&mut self, unit: &str) -> Result<Person, ReplayError> {
        if let Some(p) = self.handlers.get(unit) {
            return Ok(p.clone());
        }
        let name = self
            .store
            .get_unit(unit)
            .await?
            .map_or_else(|| unit.to_owned(), |u| u.name);
        let n = 1000 + self.handlers.len();
        let p = self
            .person(
                format!("demo_h_{unit}"),
                format!("{}(处置·{name})", person_name(n)),
                Role::Handler,
                Some(unit.to_owned()),
                Vec::new(),
            )
            .await?;
        self.handlers.insert(unit.to_owned(), p.clone());
        Ok(p)
    }
}

/// A case in the replay: its plan and what of it is done.
#[derive(Debug, Clone)]
struct Run {
    plan: CasePlan,
    draws: Draws,
    /// Never fixed in the history (no `closed_at`): left open.
    never_fixed: bool,
    /// An open duplicate the intake suggested.
    duplicate_of: Option<i64>,
    void_asked: bool,
    send_back_asked: bool,
    extend_asked: bool,
    park_asked: bool,
    checks: usize,
    /// Units that sent it back, not to be dispatched to again.
    sent_back_by: Vec<String>,
    /// When the unit will report back.
    feedback_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Job {
    Report(usize),
    Step(i64),
}

/// Replays the last weeks of the demo history through `service` (its clock is replaced by a
/// manual one for the replay; the caller's service keeps the system clock). Skipped when the
/// store holds a case already or the geodata folder has no history or no planted performers.
pub async fn replay(
    service: &CaseService,
    store: &Store,
    geodata: &Path,
    options: &ReplayOptions,
) -> Result<Replayed, ReplayError> {
    let started = Instant::now();
    let any = store
        .list_cases(&CaseFilter {
            limit: 1,
            ..CaseFilter::default()
        })
        .await?;
    if !any.is_empty() {
        return Ok(Replayed::Skipped(
            "the store holds cases already: the demo replay runs only into a store without any",
        ));
    }
    let planted_path = geodata.join(PLANTED_FILE);
    let Some(history_path) = crate::import::package::find_file(geodata, "history") else {
        return Ok(Replayed::Skipped("no history file in the geodata folder"));
    };
    if !planted_path.is_file() {
        return Ok(Replayed::Skipped(
            "no planted_performers.json in the geodata folder",
        ));
    }
    let planted = Planted::from_json(
        &std::fs::read_to_string(&planted_path)
            .map_err(|e| ReplayError::Read(format!("{}: {e}", planted_path.display())))?,
    )?;
    // Only into the demo city: a city of its own started next to a `geodata/` folder gets none
    // of its simulated cases.
    let streets: std::collections::HashSet<String> = store
        .features_at(Layer::Street, None)
        .await?
        .into_iter()
        .map(|s| s.feature.code)
        .collect();
    if ![
        &planted.failing_street.street,
        &planted.excellent_street.street,
        &planted.missing_inspector.street,
    ]
    .iter()
    .all(|s| streets.contains(*s))
    {
        return Ok(Replayed::Skipped(
            "the store's city is not the demo city: the planted streets are not in it",
        ));
    }
    let all = tokio::task::spawn_blocking(move || read_history(&history_path))
        .await
        .map_err(|e| ReplayError::Read(e.to_string()))??;
    let Some((from, to)) = window(&all, options.weeks) else {
        return Ok(Replayed::Skipped("the history file is empty"));
    };
    let mut rows: Vec<Row> = all
        .into_iter()
        .filter(|r| r.reported_at >= from && r.reported_at < to)
        .filter(|r| sampled(planted.seed, &r.id, options.share))
        .collect();
    rows.sort_by(|a, b| a.reported_at.cmp(&b.reported_at).then(a.id.cmp(&b.id)));
    let names: HashMap<String, (String, String)> = crate::domain::catalogue::default_catalogue()
        .into_iter()
        .map(|c| (c.code.clone(), (c.name.clone(), c.department.clone())))
        .collect();

    let cast = Cast::build(store, planted.seed).await?;
    let clock = Clock::manual(from);
    let mut sim = Sim {
        service: service.with_clock(clock.clone()),
        clock,
        planted,
        cast,
        names,
        runs: HashMap::new(),
        queue: BinaryHeap::new(),
        seq: 0,
        actions: 0,
        refused: 0,
    };
    for (i, r) in rows.iter().enumerate() {
        sim.push(r.reported_at, Job::Report(i));
    }
    let mut next_sweep = from + Duration::hours(1);
    while let Some(Reverse((at, _, job))) = sim.queue.pop() {
        if at >= to {
            break;
        }
        // The escalation sweep a city runs every minute, here every simulated hour.
        while next_sweep <= at {
            sim.clock.advance_to(next_sweep)?;
            sim.service.sweep_escalations(next_sweep).await?;
            next_sweep += Duration::hours(1);
        }
        sim.clock.advance_to(at)?;
        match job {
            Job::Report(i) => sim.intake(&rows[i]).await?,
            Job::Step(id) => sim.step(id).await?,
        }
    }
    let open = sim.runs.keys().copied().collect::<Vec<_>>();
    let mut still_open = 0;
    for id in open {
        if !sim.service.get(id).await?.status.is_final() {
            still_open += 1;
        }
    }
    Ok(Replayed::Done(ReplayOutcome {
        from,
        to,
        reports: rows.len(),
        actions: sim.actions,
        refused: sim.refused,
        open: still_open,
        people: sim.cast.created,
        elapsed_ms: started.elapsed().as_millis(),
    }))
}

struct Sim {
    service: CaseService,
    clock: Clock,
    planted: Planted,
    cast: Cast,
    /// Category code → (name, department key).
    names: HashMap<String, (String, String)>,
    runs: HashMap<i64, Run>,
    queue: BinaryHeap<Reverse<(DateTime<Utc>, u64, Job)>>,
    seq: u64,
    actions: usize,
    refused: usize,
}

fn minutes(draws: &mut Draws, lo: f64, hi: f64, pace: f64) -> Duration {
    Duration::seconds((draws.between(lo, hi) * pace * 60.0) as i64)
}

impl Sim {
    fn push(&mut self, at: DateTime<Utc>, job: Job) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, job)));
    }

    async fn intake(&mut self, row: &Row) -> Result<(), ReplayError> {
        let now = self.clock.now();
        let (grid, street) = self.service.locate(row.lon, row.lat);
        let mut draws = Draws::new(self.planted.seed, &row.id);
        let plan = CasePlan::draw(&self.planted, &mut draws, &row.channel, street.as_deref());
        let name = self
            .names
            .get(&row.category)
            .map_or(row.category.as_str(), |(n, _)| n.as_str());
        let submission = |register: bool, external_ref: Option<String>| Submission {
            idempotency_key: format!("demo-{}", row.id),
            category: row.category.clone(),
            description: format!("{name}（演示回放，历史记录 {}）", row.id),
            lon: row.lon,
            lat: row.lat,
            crs: Ok(Crs::Wgs84),
            register,
            external_ref,
        };
        let inspector = street
            .as_ref()
            .and_then(|s| self.cast.inspectors.get(s))
            .filter(|p| p.principal.patrols(grid.as_deref()));
        let intake = match (plan.channel, inspector) {
            (ReplayChannel::Inspector { register }, Some(p)) => self
                .service
                .report_as_staff(&p.principal, submission(register, None), &p.audit())
                .await
                .map(|s| s.intake),
            (ReplayChannel::Clerk, _) => {
                let clerk = self.cast.clerk(now).clone();
                let external_ref =
                    (row.channel == "hotline_12345").then(|| format!("12345-{}", row.id));
                self.service
                    .report_as_staff(
                        &clerk.principal,
                        submission(false, external_ref),
                        &clerk.audit(),
                    )
                    .await
                    .map(|s| s.intake)
            }
            _ => {
                let audit = Audit {
                    actor_id: None,
                    actor_name: Some("citizen".into()),
                    request_id: None,
                    at: None,
                };
                self.service
                    .report_as_citizen(submission(false, None), &audit)
                    .await
            }
        };
        let intake = match intake {
            Ok(i) => i,
            Err(e @ (CaseError::Store(_) | CaseError::Photo(_))) => return Err(e.into()),
            Err(e) => {
                tracing::debug!(report = %row.id, error = %e, "demo report refused");
                self.refused += 1;
                return Ok(());
            }
        };
        let case = intake.case;
        let run = Run {
            plan,
            draws,
            never_fixed: !row.closed,
            duplicate_of: intake.duplicates.first().map(|d| d.id),
            void_asked: false,
            send_back_asked: false,
            extend_asked: false,
            park_asked: false,
            checks: 0,
            sent_back_by: Vec::new(),
            feedback_at: None,
        };
        self.runs.insert(case.id, run);
        self.schedule(&case);
        Ok(())
    }

    /// Queues the next step of a case from its state, if there is one.
    fn schedule(&mut self, case: &Case) {
        let now = self.clock.now();
        let lead_pace = self.cast.lead(now).pace;
        let disp_pace = self.cast.dispatcher(now).pace;
        let insp_pace = case
            .street_code
            .as_ref()
            .and_then(|s| self.cast.inspectors.get(s))
            .map_or(1.0, |p| p.pace);
        let speed = self.planted.speed(case.street_code.as_deref());
        let Some(run) = self.runs.get_mut(&case.id) else {
            return;
        };
        let d = &mut run.draws;
        let after = if case.pending_request.is_some() {
            Some(minutes(d, 10.0, 60.0, disp_pace))
        } else if run.duplicate_of.is_some()
            && run.plan.link_duplicate
            && matches!(case.status, Status::Verifying | Status::Collected)
        {
            Some(minutes(d, 5.0, 30.0, lead_pace))
        } else {
            match case.status {
                Status::Verifying => Some(minutes(d, 20.0, 100.0, insp_pace)),
                Status::Collected => Some(minutes(d, 5.0, 50.0, lead_pace)),
                Status::Registered => Some(minutes(d, 10.0, 70.0, disp_pace)),
                Status::Dispatched if run.plan.send_back && !run.send_back_asked => {
                    Some(minutes(d, 30.0, 180.0, 1.0))
                }
                Status::Dispatched => Some(minutes(d, 10.0, 90.0, speed)),
                Status::Handling
                    if (run.plan.extend && !run.extend_asked && !case.shop_self_fix())
                        || (run.plan.park && !run.park_asked) =>
                {
                    Some(minutes(d, 30.0, 120.0, 1.0))
                }
                Status::Handling if run.never_fixed => None,
                Status::Handling => {
                    let at = run
                        .feedback_at
                        .unwrap_or(now + Duration::hours(2))
                        .max(now + Duration::minutes(5));
                    Some(at - now)
                }
                Status::FedBack => Some(minutes(d, 30.0, 200.0, insp_pace)),
                Status::Checked => Some(minutes(d, 5.0, 40.0, lead_pace)),
                Status::Parked => Some(Duration::minutes((d.between(1.0, 3.0) * 1440.0) as i64)),
                _ => None,
            }
        };
        if let Some(after) = after {
            self.push(now + after, Job::Step(case.id));
        }
    }

    /// When the unit now handling `case` reports back: within or beyond its allowed time, as the
    /// plan and the planted performers say.
    fn plan_feedback(&mut self, case: &Case) {
        let now = self.clock.now();
        let Some(run) = self.runs.get_mut(&case.id) else {
            return;
        };
        let street = case.street_code.as_deref();
        let (start, due) = match (case.dispatched_at, case.deadline_at) {
            (Some(s), Some(d)) if d > s => (s, d),
            _ => (now, now + Duration::hours(4)),
        };
        let allowed = (due - start).num_seconds() as f64;
        let at = if run.checks > 0 {
            // Reworking a failed fix takes a fraction of the allowed time again.
            now + Duration::seconds((allowed * run.draws.between(0.1, 0.4)) as i64)
        } else {
            let late = run
                .plan
                .late(&self.planted, case.unit_code.as_deref(), street);
            let share = run.plan.handling_share(late, self.planted.speed(street));
            start + Duration::seconds((allowed * share) as i64)
        };
        run.feedback_at = Some(at);
    }

    /// The next unit for a case in 已立案 without one (triage, or sent back): the category's
    /// department in its district, unless that one sent it back; then 城管执法, then 环卫.
    fn next_unit(&self, case: &Case, run: &Run) -> Option<String> {
        let district = case.district_code.as_deref()?;
        let dept = self
            .names
            .get(&case.category)
            .map_or("cgzf", |(_, d)| d.as_str());
        [dept, "cgzf", "hw"]
            .into_iter()
            .map(|k| format!("dept-{district}-{k}"))
            .find(|u| !run.sent_back_by.contains(u))
    }

    async fn step(&mut self, id: i64) -> Result<(), ReplayError> {
        let now = self.clock.now();
        let case = self.service.get(id).await?;
        let Some(mut run) = self.runs.get(&id).cloned() else {
            return Ok(());
        };
        let street = case.street_code.clone();
        let inspector = street
            .as_ref()
            .and_then(|s| self.cast.inspectors.get(s))
            .cloned();
        let shop = case.shop_self_fix();
        let lead = self.cast.lead(now).clone();
        let dispatcher = self.cast.dispatcher(now).clone();
        let handler = match (&case.unit_code, shop) {
            (Some(u), false) => Some(self.cast.handler(u).await?),
            (Some(_), true) => inspector.clone(),
            _ => None,
        };
        let mut failed_check = false;
        let chosen: Option<(Person, Action)> = if let Some(kind) = case.pending_request {
            let who = match kind {
                RequestKind::Extend | RequestKind::SendBack => dispatcher,
                _ => lead,
            };
            Some((who, Action::Approve))
        } else if let (Some(into), true, Status::Verifying | Status::Collected) =
            (run.duplicate_of, run.plan.link_duplicate, case.status)
        {
            run.duplicate_of = None;
            Some((lead, Action::Link { into }))
        } else {
            match case.status {
                Status::Verifying => inspector.map(|p| {
                    (
                        p,
                        Action::Verify {
                            confirmed: run.plan.verify_true,
                        },
                    )
                }),
                Status::Collected if run.plan.void && !run.void_asked => {
                    run.void_asked = true;
                    Some((
                        self.cast.clerk(now).clone(),
                        Action::Request {
                            kind: RequestKind::Void,
                        },
                    ))
                }
                Status::Collected => Some((lead, Action::Register)),
                Status::Registered => self
                    .next_unit(&case, &run)
                    .map(|unit_code| (dispatcher, Action::Dispatch { unit_code })),
                Status::Dispatched if run.plan.send_back && !run.send_back_asked && !shop => {
                    run.send_back_asked = true;
                    if let Some(u) = &case.unit_code {
                        run.sent_back_by.push(u.clone());
                    }
                    handler.map(|h| {
                        (
                            h,
                            Action::Request {
                                kind: RequestKind::SendBack,
                            },
                        )
                    })
                }
                Status::Dispatched => handler.map(|h| (h, Action::Accept)),
                Status::Handling if run.plan.extend && !run.extend_asked && !shop => {
                    run.extend_asked = true;
                    handler.map(|h| {
                        (
                            h,
                            Action::Request {
                                kind: RequestKind::Extend,
                            },
                        )
                    })
                }
                Status::Handling if run.plan.park && !run.park_asked => {
                    run.park_asked = true;
                    Some((
                        lead,
                        Action::Request {
                            kind: RequestKind::Park,
                        },
                    ))
                }
                Status::Handling if run.never_fixed => None,
                Status::Handling => handler.map(|h| (h, Action::Feedback)),
                Status::FedBack => inspector.map(|p| {
                    let fails = run
                        .plan
                        .check_fails(run.checks, self.planted.check_fail_share(street.as_deref()));
                    run.checks += 1;
                    failed_check = fails;
                    (p, Action::Check { passed: !fails })
                }),
                Status::Checked => Some((lead, Action::Close)),
                Status::Parked => Some((lead, Action::Resume)),
                _ => None,
            }
        };
        self.runs.insert(id, run);
        let Some((who, action)) = chosen else {
            return Ok(());
        };
        let after = match self
            .service
            .act(id, &who.principal, &action, None, &who.audit())
            .await
        {
            Ok(after) => after,
            Err(e @ CaseError::Store(_)) => return Err(e.into()),
            Err(e) => {
                tracing::debug!(case = id, ?action, error = %e, "demo action refused");
                self.refused += 1;
                // The case goes on without it, from its unchanged state.
                self.schedule(&case);
                return Ok(());
            }
        };
        self.actions += 1;
        // Entering handling (accepted, reworked, resumed, extended): when it will be done.
        let extended =
            matches!(action, Action::Approve) && case.pending_request == Some(RequestKind::Extend);
        if after.status == Status::Handling
            && (case.status != Status::Handling || extended || failed_check)
        {
            self.plan_feedback(&after);
        }
        self.schedule(&after);
        Ok(())
    }
}

/// First start of `serve`/`init` with the demo: replays unless the store has cases already.
/// Logs what it did; a failure is logged, not fatal (the demo city is usable without cases).
pub async fn replay_on_first_start(
    service: &CaseService,
    store: &Store,
    geodata: &Path,
    options: &ReplayOptions,
) {
    match replay(service, store, geodata, options).await {
        Ok(Replayed::Done(o)) => tracing::info!(
            reports = o.reports,
            actions = o.actions,
            open = o.open,
            people = o.people,
            seconds = o.elapsed_ms / 1000,
            "replayed the demo city's last {} weeks of cases through the workflow",
            options.weeks()
        ),
        Ok(Replayed::Skipped(why)) => tracing::debug!("demo case replay skipped: {why}"),
        Err(e) => {
            tracing::warn!(error = %e, "demo case replay failed; the demo city has no case lifecycles")
        }
    }
}
