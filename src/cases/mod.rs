//! The case service: the one path for cases. Intake from every channel (who enters which
//! channel, duplicates, an inspector's report dispatched at once), workflow actions through the
//! state machine with automatic dispatch on 立案 and the three clocks, reads (lists with their
//! spatial filters, one case with its timeline and photos, a citizen's follow-up), photos, the
//! hotline import and the 门前三包 escalation sweep. It joins the pure rules (`domain::case`,
//! `domain::dispatch`, `domain::calendar`, `domain::photo`) with the live city (assignment index, catalogue), the photo folder and
//! the store; HTTP handlers parse, call it and render what it answers.
//!
//! - `intake`: reports from staff and citizens, channels, duplicates.
//! - `hotline`: a 12345 export, row by row through the intake.
//! - `workflow`: actions, automatic dispatch, the step clock, the escalation sweep.
//! - `read`: one case, lists, the timeline, a citizen's follow-up, the event feed.
//! - `photos`: before/after photos, checked in the documented order.
//! - `catalogue`: the category catalogue as cases use it.

mod catalogue;
mod hotline;
mod intake;
mod photos;
mod public;
mod read;
pub mod rules;
mod workflow;

use std::sync::Arc;

use crate::domain::calendar::WorkCalendar;
use crate::domain::case::WorkflowError;
use crate::domain::identity::{Role, ScopeError};
use crate::live::{AssignError, LiveCity};
use crate::store::{Store, StoreError};

pub use hotline::HotlineOutcome;
pub use intake::{DuplicateHint, Intake, IntakeNotice, StaffIntake, Submission};
pub use photos::{PhotoAdded, PhotoAdder, PhotoError, PhotoUpload, parse_stage};
pub use public::{PUBLIC_MAX_SCAN, PublicArea, PublicCase, PublicQuery, PublicUpdate};
pub use read::{CaseDetail, CaseInfo, CasePage, Followup, OwnReport};

/// Who reports through `POST /api/cases`: inspectors (their own sightings), intake clerks (12345
/// calls) and admins.
pub const REPORTERS: &[Role] = &[Role::Inspector, Role::IntakeClerk, Role::Admin];

/// Who reports as a 市民找差团 volunteer (`POST /api/volunteer/reports`): their reports go to 核实.
pub const VOLUNTEERS: &[Role] = &[Role::Volunteer];

/// Who imports a 12345 export.
pub const HOTLINE_IMPORTERS: &[Role] = &[Role::IntakeClerk, Role::ShiftLead, Role::Admin];

/// Why the service refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaseError {
    /// A field is unusable (422), with a stable code.
    #[error("{message}")]
    Invalid {
        /// Stable code.
        code: &'static str,
        /// What to fix.
        message: String,
    },
    /// No such case (404).
    #[error("{0}")]
    NotFound(String),
    /// A text holds a control character (400 `invalid_text`).
    #[error("{0}")]
    Text(String),
    /// The workflow does not allow it (403/409).
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    /// The point or category is refused.
    #[error(transparent)]
    Assign(#[from] AssignError),
    /// The role or scope does not allow it (403).
    #[error(transparent)]
    Forbidden(#[from] ScopeError),
    /// A photo is refused.
    #[error(transparent)]
    Photo(#[from] PhotoError),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(code: &'static str, message: impl Into<String>) -> CaseError {
    CaseError::Invalid {
        code,
        message: message.into(),
    }
}

/// The case service; cheap to share.
#[derive(Clone)]
pub struct CaseService {
    store: Store,
    live: Arc<LiveCity>,
    calendar: Arc<arc_swap::ArcSwap<WorkCalendar>>,
    rules: Arc<arc_swap::ArcSwap<rules::RulesInForce>>,
    /// The installation's key for citizens' follow tokens, read from the store once.
    follow_secret: Arc<tokio::sync::OnceCell<String>>,
    /// The photo folder and its limits.
    photos: crate::photos::PhotoFiles,
    photo_limits: crate::photos::PhotoConfig,
    /// Where "now" comes from: the system clock, or a manual one for the demo replay. Every
    /// instant the service writes (event times, deadlines, step clocks) is read from it.
    clock: crate::clock::Clock,
}

impl std::fmt::Debug for CaseService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseService")
            .field("rules", &self.rules.load().table.rules.len())
            .finish()
    }
}

impl CaseService {
    /// A service over a store and the live city with a city's calendar, rule table and photo folder.
    pub fn new(
        store: Store,
        live: Arc<LiveCity>,
        calendar: WorkCalendar,
        rules: rules::RulesInForce,
        photos: crate::photos::PhotoConfig,
    ) -> Self {
        Self {
            store,
            live,
            calendar: Arc::new(arc_swap::ArcSwap::from_pointee(calendar)),
            rules: Arc::new(arc_swap::ArcSwap::from_pointee(rules)),
            follow_secret: Arc::default(),
            photos: crate::photos::PhotoFiles::new(photos.dir.clone()),
            photo_limits: photos,
            clock: crate::clock::Clock::system(),
        }
    }

    /// The same service on another clock (a manual one replays history at its own instants).
    pub fn with_clock(&self, clock: crate::clock::Clock) -> Self {
        Self {
            clock,
            ..self.clone()
        }
    }

    /// The clock the service reads "now" from.
    pub fn clock(&self) -> &crate::clock::Clock {
        &self.clock
    }

    /// The working calendar deadlines are counted in (a snapshot: an admin may load a year).
    pub fn calendar(&self) -> Arc<WorkCalendar> {
        self.calendar.load_full()
    }

    /// Applies every stored year of the holiday table over the working calendar (another process
    /// stored one). Years stored are only ever added or replaced, so re-applying them all is
    /// exact.
    pub async fn reload_stored_calendar(&self) -> Result<(), CaseError> {
        for table in self.store.calendar_years().await? {
            let year = table.year;
            self.load_calendar_year(&table).map_err(|e| {
                StoreError::Corrupt(format!("the stored holiday table of {year}: {e}"))
            })?;
        }
        Ok(())
    }

    /// Follows other processes' change notices for the dispatch rule table and the holiday
    /// table, which this service otherwise reads only at start and on its own loads.
    pub fn spawn_follower(
        &self,
        mut changes: tokio::sync::broadcast::Receiver<crate::store::Change>,
    ) -> tokio::task::JoinHandle<()> {
        use crate::store::Change;
        use tokio::sync::broadcast::error::RecvError;
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                let change = match changes.recv().await {
                    Ok(c) => c,
                    Err(RecvError::Lagged(_)) => Change::Resync,
                    Err(RecvError::Closed) => break,
                };
                if change.concerns(Change::DispatchRules) {
                    match service.reload_stored_rules().await {
                        Ok(true) => tracing::info!(
                            "dispatch rule table reloaded after another process stored one"
                        ),
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "reloading the dispatch rule table failed")
                        }
                    }
                }
                if change.concerns(Change::Calendar)
                    && let Err(e) = service.reload_stored_calendar().await
                {
                    tracing::warn!(error = %e, "reloading the holiday table failed");
                }
            }
        })
    }

    /// Loads one year of the holiday table into the working calendar (an admin's run-time load);
    /// deadlines computed from now on use it. Concurrent loads of different years both land.
    pub fn load_calendar_year(
        &self,
        table: &crate::domain::calendar::YearTable,
    ) -> Result<Arc<WorkCalendar>, crate::domain::calendar::CalendarError> {
        let mut failed = None;
        self.calendar
            .rcu(|current| match current.with_year(table.clone()) {
                Ok(next) => Arc::new(next),
                Err(e) => {
                    failed = Some(e);
                    Arc::clone(current)
                }
            });
        match failed {
            Some(e) => Err(e),
            None => Ok(self.calendar.load_full()),
        }
    }
}
