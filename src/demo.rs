//! First start: the demo city from `geodata/` and one demo user per role.
//!
//! The city goes through the same import path a city uses for its own data
//! ([`crate::import`]), so the demo proves the importer.

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};

use crate::domain::identity::Role;
use crate::domain::jurisdiction::Layer;
use crate::domain::unit::{ResponsibleUnit, UnitKind};
use crate::import::{self, ImportError, LayerImportOptions};
use crate::store::{Audit, NewUser, Store, StoreError};

/// The password of every demo user. `serve` refuses these logins on a non-loopback address
/// unless `--allow-demo-users` is given.
pub const DEMO_PASSWORD: &str = "wangge-demo";

/// The demo users: login name, display name, role.
pub const DEMO_USERS: [(&str, &str, Role); 8] = [
    ("demo_inspector", "张网格(监督员)", Role::Inspector),
    ("demo_clerk", "李受理(受理员)", Role::IntakeClerk),
    ("demo_shiftlead", "王值班(值班长)", Role::ShiftLead),
    ("demo_dispatcher", "赵派遣(派遣员)", Role::Dispatcher),
    ("demo_handler", "刘处置(城管执法)", Role::Handler),
    ("demo_planner", "陈分析(规划)", Role::Planner),
    ("demo_admin", "系统管理员", Role::Admin),
    ("demo_volunteer", "周热心(市民找差团)", Role::Volunteer),
];

/// The unit the demo handler acts for when the city has it: 二七区's 城管执法 department.
const PREFERRED_HANDLER_UNIT: &str = "dept-410103-cgzf";

/// Number of grids the demo inspector patrols.
const DEMO_PATROL_GRIDS: usize = 8;

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    /// A geodata file was refused.
    #[error("{file}: {source}")]
    Import {
        /// The file.
        file: String,
        /// The refusal.
        source: ImportError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A geodata file failed validation.
    #[error("{file} was refused by validation: {errors} errors, the first: {first}")]
    Refused {
        /// The file.
        file: String,
        /// Number of errors.
        errors: usize,
        /// The first error message.
        first: String,
    },
    /// A background task failed.
    #[error("a background task failed: {0}")]
    Task(String),
    /// Password hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// The instant the demo city's jurisdictions are valid from: 2024-01-01 00:00 Beijing time, so the
/// two-year history is covered.
pub fn demo_valid_from() -> DateTime<Utc> {
    chrono::FixedOffset::east_opt(8 * 3600)
        .and_then(|tz| tz.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// What was loaded.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct LoadReport {
    /// Responsible units.
    pub units: usize,
    /// Features per layer.
    pub layers: Vec<(Layer, usize)>,
    /// Basemap features per kind.
    pub basemap: Vec<(String, usize)>,
}

use crate::import::package::find_file as find;

fn read(path: &Path) -> Result<String, SeedError> {
    import::read_text(path).map_err(|source| SeedError::Import {
        file: path.display().to_string(),
        source,
    })
}

/// Loads the city in `dir` as a city package, exactly as a city's own data would go: units,
/// basemap and every layer checked as a whole (parents resolved inside the package) and
/// published in one transaction as version 1 of each layer. Files that are absent are skipped;
/// warnings are accepted, errors are not.
pub async fn load_city(store: &Store, dir: &Path, audit: &Audit) -> Result<LoadReport, SeedError> {
    let err = |source| SeedError::Import {
        file: dir.display().to_string(),
        source,
    };
    let package = import::package::CityPackage::read_dir(dir).map_err(err)?;
    let options = LayerImportOptions {
        valid_from: Some(demo_valid_from()),
        accept_warnings: true,
        source: format!("geodata/ ({})", dir.display()),
        ..LayerImportOptions::default()
    };
    let quiet = |_: &str| {};
    let outcome = import::package::import_city(store, package, &options, audit, &quiet)
        .await
        .map_err(err)?;
    if outcome.refused {
        let (layer, first) = outcome
            .reports
            .iter()
            .filter(|r| r.errors > 0)
            .find_map(|r| r.issues.first().map(|i| (r.layer, i.message.clone())))
            .unwrap_or((Layer::District, String::new()));
        return Err(SeedError::Refused {
            file: format!("{}/{layer}.geojson", dir.display()),
            errors: outcome.errors,
            first,
        });
    }
    Ok(LoadReport {
        units: outcome.units,
        layers: outcome
            .published
            .iter()
            .map(|v| (v.layer, v.feature_count as usize))
            .collect(),
        basemap: outcome.basemap.into_iter().collect(),
    })
}

/// Loads `history.csv(.gz)` of `dir`, each report assigned by an index built from the store.
pub async fn load_history(store: &Store, dir: &Path, audit: &Audit) -> Result<usize, SeedError> {
    let Some(path) = find(dir, "history") else {
        return Ok(0);
    };
    let layers = crate::live::load_layers(store, None).await?;
    let index = tokio::task::spawn_blocking(move || {
        crate::assign::CityIndex::build(&layers, Default::default())
    })
    .await
    .map_err(|e| SeedError::Task(e.to_string()))?;
    let source = format!(
        "geodata/{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("")
    );
    import::service::import_history(
        store,
        std::sync::Arc::new(index),
        read(&path)?,
        None,
        &source,
        audit,
    )
    .await
    .map_err(|source| SeedError::Import {
        file: path.display().to_string(),
        source,
    })
}

/// Creates one demo user per role. The handler acts for the 城管执法 department if the city has
/// one; the inspector patrols the first grids of the city, and the units their reports are routed
/// to get a demo handler each (see `local_handlers`).
pub async fn seed_demo_users(store: &Store, audit: &Audit) -> Result<(), SeedError> {
    let departments = store
        .list_units(Some(UnitKind::Department), 10_000, 0)
        .await?;
    let handler_unit = match departments
        .iter()
        .find(|u| u.code == PREFERRED_HANDLER_UNIT)
        .or_else(|| departments.iter().find(|u| u.code.contains("cgzf")))
        .or_else(|| departments.first())
    {
        Some(u) => u.code.clone(),
        None => {
            let unit = ResponsibleUnit {
                code: "dept-demo-cgzf".into(),
                name: "城市管理执法局(演示)".into(),
                kind: UnitKind::Department,
                parent_code: None,
            };
            store
                .upsert_units(std::slice::from_ref(&unit), audit)
                .await?;
            unit.code
        }
    };
    let patrolled: Vec<_> = store
        .features_at(Layer::Grid, None)
        .await?
        .into_iter()
        .take(DEMO_PATROL_GRIDS)
        .map(|g| g.feature)
        .collect();
    let grids: Vec<String> = patrolled.iter().map(|g| g.code.clone()).collect();
    let hash = tokio::task::spawn_blocking(|| crate::security::hash_password(DEMO_PASSWORD))
        .await
        .map_err(|e| SeedError::Hash(e.to_string()))?
        .map_err(|e| SeedError::Hash(e.to_string()))?;
    for (username, display_name, role) in DEMO_USERS {
        store
            .create_user(
                &NewUser {
                    username: username.into(),
                    display_name: display_name.into(),
                    role,
                    unit_code: (role == Role::Handler).then(|| handler_unit.clone()),
                    password_hash: hash.clone(),
                    is_demo: true,
                    grids: if role == Role::Inspector {
                        grids.clone()
                    } else {
                        Vec::new()
                    },
                },
                audit,
            )
            .await?;
    }
    let handlers = local_handlers(store, patrolled.first(), &departments).await?;
    for (username, display_name, unit) in handlers {
        store
            .create_user(
                &NewUser {
                    username,
                    display_name,
                    role: Role::Handler,
                    unit_code: Some(unit),
                    password_hash: hash.clone(),
                    is_demo: true,
                    grids: Vec::new(),
                },
                audit,
            )
            .await?;
    }
    Ok(())
}

/// The handlers of the units the demo inspector's reports reach, so a case the rules route can
/// be followed to its end with demo logins: one per department of the district of the first
/// patrolled grid (`demo_handler_<suffix of the unit code>`, e.g. `demo_handler_zj` for
/// `dept-410102-zj`) and one for the grid's street office (`demo_handler_street`). Login name,
/// display name, unit. A city without such units gets none.
async fn local_handlers(
    store: &Store,
    grid: Option<&crate::domain::jurisdiction::Jurisdiction>,
    departments: &[ResponsibleUnit],
) -> Result<Vec<(String, String, String)>, SeedError> {
    let parent = |layer: Layer, code: Option<String>| async move {
        let Some(code) = code else {
            return Ok::<_, SeedError>(None);
        };
        Ok(store
            .features_at(layer, None)
            .await?
            .into_iter()
            .find(|f| f.feature.code == code)
            .map(|f| f.feature))
    };
    let community = parent(Layer::Community, grid.and_then(|g| g.parent_code.clone())).await?;
    let street = parent(Layer::Street, community.and_then(|c| c.parent_code)).await?;
    let Some(street) = street else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    if let Some(district) = &street.parent_code {
        for d in departments
            .iter()
            .filter(|d| d.parent_code.as_ref() == Some(district))
        {
            let suffix = d.code.rsplit('-').next().unwrap_or_default();
            if !suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_alphanumeric()) {
                out.push((
                    format!("demo_handler_{suffix}"),
                    format!("处置员({})", d.name),
                    d.code.clone(),
                ));
            }
        }
    }
    if let Some(unit) = street.unit_code {
        out.push((
            "demo_handler_street".into(),
            format!("处置员({})", street.name),
            unit,
        ));
    }
    Ok(out)
}

/// First start: loads the city into an empty store and seeds the demo users into a store without
/// users. Does nothing on a store that has data.
pub async fn first_start(store: &Store, geodata: &Path, with_demo: bool) -> Result<(), SeedError> {
    if !with_demo {
        if store.count_users().await? == 0 {
            tracing::warn!(
                "no accounts yet: create the first admin with `wangge user create --username NAME --role admin` (docs/import.md)"
            );
        }
        return Ok(());
    }
    let audit = Audit::system();
    if store.layer_versions(None).await?.is_empty() && geodata.is_dir() {
        let report = load_city(store, geodata, &audit).await?;
        tracing::info!(?report, "loaded the demo city from {}", geodata.display());
        let n = load_history(store, geodata, &audit).await?;
        tracing::info!("loaded {n} historical reports");
    }
    if store.count_users().await? == 0 {
        seed_demo_users(store, &audit).await?;
        tracing::info!(
            "seeded {} demo users (password {DEMO_PASSWORD:?})",
            DEMO_USERS.len()
        );
    }
    Ok(())
}
