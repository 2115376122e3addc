//! The holiday table at run time: years loaded by an admin are kept in the store and replace the
//! built-in ones at start; `wangge calendar load FILE` stores one from the command line.

use anyhow::Context;

use crate::config::StoreConfig;
use crate::domain::calendar::{WorkCalendar, YearTable};
use crate::store::{Audit, Store};

/// The base calendar (built in, or the city's `--calendar` file) with every year stored by an
/// admin applied over it.
pub async fn with_stored_years(store: &Store, base: WorkCalendar) -> anyhow::Result<WorkCalendar> {
    let mut calendar = base;
    for table in store
        .calendar_years()
        .await
        .context("reading the stored holiday tables")?
    {
        let year = table.year;
        calendar = calendar
            .with_year(table)
            .with_context(|| format!("the stored holiday table of {year}"))?;
    }
    Ok(calendar)
}

/// Logs what the holiday table covers, and a warning from 60 days before it runs out.
pub fn log_coverage(calendar: &WorkCalendar) {
    let today = chrono::Utc::now()
        .with_timezone(&calendar.zone)
        .date_naive();
    let coverage = calendar.coverage(today);
    match (&coverage.warning, coverage.known_until) {
        (Some(w), _) => tracing::warn!(years = ?coverage.years, "{w}"),
        (None, Some(k)) => {
            tracing::info!(years = ?coverage.years, "holiday table known until {k}")
        }
        (None, None) => {
            tracing::info!("the city's own calendar declares no national holiday table")
        }
    }
}

/// Settings of `wangge calendar`.
#[derive(Debug, Clone, clap::Args)]
pub struct CalendarArgs {
    /// Store settings.
    #[command(flatten)]
    pub store: StoreConfig,
    /// What to do.
    #[command(subcommand)]
    pub what: CalendarWhat,
}

/// The calendar subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CalendarWhat {
    /// Store one year of the national holiday table (`calendar/cn-YYYY.json` format), replacing
    /// that year's built-in or stored table; running replicas on PostgreSQL apply it on the store's
    /// change notice, on SQLite at their next start.
    Load {
        /// The year's JSON file.
        file: std::path::PathBuf,
    },
}

/// `wangge calendar …`.
pub async fn run(args: CalendarArgs) -> anyhow::Result<()> {
    match &args.what {
        CalendarWhat::Load { file } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let table =
                YearTable::parse(&text).with_context(|| format!("in {}", file.display()))?;
            let store = crate::server::open_store(&args.store).await?;
            let audit = Audit::cli();
            let result = store.put_calendar_year(&table, &audit).await;
            store.close().await;
            result?;
            let calendar = WorkCalendar::china_default().with_year(table.clone())?;
            eprintln!(
                "stored the holiday table of {} ({}); with the built-in years it is known until {}",
                table.year,
                table.source,
                calendar
                    .known_until()
                    .map_or_else(|| "-".to_owned(), |d| d.to_string())
            );
            Ok(())
        }
    }
}
