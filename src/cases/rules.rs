//! The dispatch rule table in force (派遣规则), and loading a new one at run time.
//!
//! At start the table is, in order of precedence: the newest version stored by an admin or a city
//! package, the city's `--dispatch-rules` file, the built-in table. A stored table wins over the
//! file so that an admin's change does not silently revert at the next restart; the start-up log
//! says which one is in force. A table is checked against the city (its units, categories and
//! districts) before it is stored, and cases routed from then on use it.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{CaseError, CaseService, invalid};
use crate::domain::dispatch::{RuleContext, RuleReport, RuleTable};
use crate::domain::jurisdiction::Layer;
use crate::store::{Audit, Store, StoreResult, StoredRules};

/// Where the table in force comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RulesOrigin {
    /// wangge's built-in table.
    BuiltIn,
    /// The `--dispatch-rules` file given at start.
    File,
    /// A version stored by an admin or a city package.
    Stored,
}

/// The rule table in force, with where it comes from.
#[derive(Debug, Clone, Serialize)]
pub struct RulesInForce {
    /// Where it comes from.
    pub origin: RulesOrigin,
    /// The stored version (origin `stored`).
    pub version: Option<i64>,
    /// When that version was loaded.
    pub loaded_at: Option<DateTime<Utc>>,
    /// Who loaded it.
    pub loaded_by: Option<String>,
    /// The table.
    pub table: RuleTable,
}

impl RulesInForce {
    /// The built-in table.
    pub fn built_in() -> Self {
        Self::unstored(RulesOrigin::BuiltIn, RuleTable::default())
    }

    fn unstored(origin: RulesOrigin, table: RuleTable) -> Self {
        Self {
            origin,
            version: None,
            loaded_at: None,
            loaded_by: None,
            table,
        }
    }

    /// The newest stored table if there is one, else the start-up file's, else the built-in one.
    pub fn at_start(stored: Option<StoredRules>, file: Option<RuleTable>) -> Self {
        match (stored, file) {
            (Some(s), file) => {
                if file.is_some() {
                    tracing::warn!(
                        version = s.version,
                        "a stored dispatch rule table is in force; the --dispatch-rules file is not used (load it with `wangge rules load` to make it the next version)"
                    );
                }
                Self::from(s)
            }
            (None, Some(t)) => Self::unstored(RulesOrigin::File, t),
            (None, None) => Self::built_in(),
        }
    }
}

impl From<StoredRules> for RulesInForce {
    fn from(s: StoredRules) -> Self {
        Self {
            origin: RulesOrigin::Stored,
            version: Some(s.version),
            loaded_at: Some(s.loaded_at),
            loaded_by: s.loaded_by,
            table: s.table,
        }
    }
}

/// What the city offers a rule table: its units, categories and current districts.
pub async fn rule_context(store: &Store) -> StoreResult<RuleContext> {
    let units = store.unit_codes().await?;
    let categories = store
        .category_versions()
        .await?
        .into_iter()
        .map(|v| v.category.code)
        .collect();
    let districts: BTreeSet<String> = store
        .features_at(Layer::District, None)
        .await?
        .into_iter()
        .map(|f| f.feature.code)
        .collect();
    Ok(RuleContext {
        units,
        categories,
        districts,
    })
}

/// What a load of a rule table did.
#[derive(Debug, Clone, Serialize)]
pub struct RulesLoad {
    /// Whether the check refused the table (then nothing was stored).
    pub refused: bool,
    /// Whether it was a dry run (then nothing was stored either).
    pub dry_run: bool,
    /// The check against the city.
    pub report: RuleReport,
    /// The table in force after the load.
    pub in_force: Arc<RulesInForce>,
}

impl CaseService {
    /// The dispatch rule table in force (a snapshot: an admin may load another).
    pub fn rules(&self) -> Arc<RulesInForce> {
        self.rules.load_full()
    }

    /// Puts the stored table in force when another process stored a newer version than the one
    /// in force here (a replica's admin load, `wangge rules load`). Returns whether it changed.
    pub async fn reload_stored_rules(&self) -> Result<bool, CaseError> {
        let Some(stored) = self.store.dispatch_rules().await? else {
            return Ok(false);
        };
        if self.rules.load().version == Some(stored.version) {
            return Ok(false);
        }
        self.install_rules(stored);
        Ok(true)
    }

    /// Puts a stored version in force in this service (after a city package stored it).
    pub fn install_rules(&self, stored: StoredRules) -> Arc<RulesInForce> {
        tracing::info!(version = stored.version, "dispatch rule table in force");
        let next = Arc::new(RulesInForce::from(stored));
        self.rules.store(Arc::clone(&next));
        next
    }

    /// Checks `table` against the city and, unless refused or a dry run, stores it as the next
    /// version and puts it in force: cases routed from now on use it.
    pub async fn load_rules(
        &self,
        table: RuleTable,
        dry_run: bool,
        accept_warnings: bool,
        audit: &Audit,
    ) -> Result<RulesLoad, CaseError> {
        let (report, stored) =
            check_and_store(&self.store, &table, dry_run, accept_warnings, audit).await?;
        Ok(RulesLoad {
            refused: report.refuses(accept_warnings),
            dry_run,
            report,
            in_force: match stored {
                Some(s) => self.install_rules(s),
                None => self.rules(),
            },
        })
    }
}

/// Checks `table` against the city in `store` and, unless refused or a dry run, stores it as the
/// next version, which it returns. Shared by the HTTP load and `wangge rules load`.
pub async fn check_and_store(
    store: &Store,
    table: &RuleTable,
    dry_run: bool,
    accept_warnings: bool,
    audit: &Audit,
) -> Result<(RuleReport, Option<StoredRules>), CaseError> {
    table
        .check()
        .map_err(|e| invalid("invalid_dispatch_rules", e.0))?;
    let report = table.check_against(&rule_context(store).await?);
    if report.refuses(accept_warnings) || dry_run {
        return Ok((report, None));
    }
    let version = store.put_dispatch_rules(table, audit).await?;
    let stored = store
        .dispatch_rules()
        .await?
        .filter(|s| s.version >= version)
        .ok_or_else(|| CaseError::NotFound(format!("stored dispatch rules v{version} vanished")))?;
    Ok((report, Some(stored)))
}

/// Settings of `wangge rules`.
#[derive(Debug, Clone, clap::Args)]
pub struct RulesArgs {
    /// Store settings.
    #[command(flatten)]
    pub store: crate::config::StoreConfig,
    /// What to do.
    #[command(subcommand)]
    pub what: RulesWhat,
}

/// The `wangge rules` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum RulesWhat {
    /// Check a dispatch rule table against the city in the store and store it as the next
    /// version; running replicas on PostgreSQL put it in force on the store's change notice, on
    /// SQLite at their next start (`PUT /api/dispatch/rules` does so at once).
    Load {
        /// The table's JSON file (`{"triage_department": …, "rules": […]}`).
        file: std::path::PathBuf,
        /// Check only; store nothing.
        #[arg(long)]
        dry_run: bool,
        /// Store the table even when the check has warnings.
        #[arg(long)]
        accept_warnings: bool,
    },
    /// Print the table in force (stored, or the built-in one) as JSON.
    Show,
}

/// `wangge rules …`. Prints the check report as JSON on stdout.
pub async fn run(args: RulesArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let store = crate::server::open_store(&args.store).await?;
    let result = async {
        match &args.what {
            RulesWhat::Load {
                file,
                dry_run,
                accept_warnings,
            } => {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let table =
                    RuleTable::from_json(&text).with_context(|| format!("in {}", file.display()))?;
                let (report, stored) =
                    check_and_store(&store, &table, *dry_run, *accept_warnings, &Audit::cli())
                        .await?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                match stored {
                    Some(s) => {
                        eprintln!("stored the dispatch rule table as version {}", s.version);
                        Ok(())
                    }
                    None if *dry_run && !report.refuses(*accept_warnings) => {
                        eprintln!("dry run: the table passes; nothing stored");
                        Ok(())
                    }
                    None => anyhow::bail!(
                        "the table was refused: {} errors, {} warnings (--accept-warnings stores it despite warnings)",
                        report.errors,
                        report.warnings
                    ),
                }
            }
            RulesWhat::Show => {
                let in_force = RulesInForce::at_start(store.dispatch_rules().await?, None);
                println!("{}", serde_json::to_string_pretty(&in_force)?);
                Ok(())
            }
        }
    }
    .await;
    store.close().await;
    result
}
