//! `wangge serve` and `wangge migrate`: wiring of configuration, store, seeding and router.

use std::time::Duration;

use anyhow::Context;

use crate::config::{LogFormat, ServeConfig, StoreConfig};
use crate::http::{self, AppState, HttpSettings};
use crate::store::Store;

/// Installs the tracing subscriber (text or JSON lines), honouring `RUST_LOG`.
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // try_init: a second call (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Connects and migrates, retrying while the database is unavailable (e.g. PostgreSQL still
/// starting next to us), for up to two minutes.
pub async fn open_store(config: &StoreConfig) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database_url, &config.options()).await?;
    let mut delay = Duration::from_millis(250);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        match migrate_and_seed(&store).await {
            Ok(()) => return Ok(store),
            Err(e) if e.is_unavailable() && tokio::time::Instant::now() < deadline => {
                tracing::warn!("database not reachable yet; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e).context("migrating the database and seeding the catalogue"),
        }
    }
}

/// Migrations, then version 1 of every default category (so the store is the catalogue's truth),
/// under the first-start lock: replicas starting together on an empty database take turns.
async fn migrate_and_seed(store: &Store) -> Result<(), crate::store::StoreError> {
    let lock = store.start_lock().await?;
    store.migrate().await?;
    store
        .seed_categories(&crate::domain::catalogue::default_catalogue())
        .await?;
    lock.release().await;
    Ok(())
}

/// The import options `wangge import layer|city` asks for.
fn check_options(
    check: &crate::config::CheckArgs,
    source: String,
    removal: crate::import::guard::RemovalGuard,
) -> anyhow::Result<crate::import::LayerImportOptions> {
    use std::str::FromStr;
    Ok(crate::import::LayerImportOptions {
        crs: check
            .crs
            .as_deref()
            .map(crate::domain::crs::Crs::from_str)
            .transpose()?,
        valid_from: check
            .valid_from
            .as_deref()
            .map(crate::domain::jurisdiction::parse_as_of)
            .transpose()?,
        accept_warnings: check.accept_warnings,
        dry_run: check.dry_run,
        source,
        removal,
        limits: crate::import::validate::Limits {
            max_upload_vertices: check.max_upload_vertices,
            max_package_vertices: check.max_package_vertices,
            ..crate::import::validate::Limits::default()
        },
        ..crate::import::LayerImportOptions::default()
    })
}

/// Prints the first 50 findings and writes them all as GeoJSON where `--report` says.
fn report_findings<'a>(
    issues: impl Iterator<
        Item = (
            crate::domain::jurisdiction::Layer,
            &'a crate::import::validate::Issue,
        ),
    >,
    check: &crate::config::CheckArgs,
    geojson: impl FnOnce() -> geojson::FeatureCollection,
    progress: &dyn Fn(&str),
) -> anyhow::Result<()> {
    let mut total = 0;
    for (layer, issue) in issues {
        if total < 50 {
            eprintln!(
                "  {layer} {:?} {}: {}",
                issue.severity, issue.check, issue.message
            );
        }
        total += 1;
    }
    if total > 50 {
        eprintln!("  … and {} more", total - 50);
    }
    if let Some(path) = &check.report {
        std::fs::write(path, geojson().to_string())?;
        progress(&format!("validation report written to {}", path.display()));
    }
    Ok(())
}

/// `wangge migrate`.
pub async fn migrate(config: &StoreConfig) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    tracing::info!(backend = store.backend_name(), "migrations applied");
    store.close().await;
    Ok(())
}

/// `wangge init`: migrate and load the first-start data, then exit (for deployments and benches).
pub async fn init(config: ServeConfig) -> anyhow::Result<()> {
    let store = open_store(&config.store).await?;
    // Held until the replay is done: a second process loads nothing twice (see `serve`).
    let start_lock = store.start_lock().await?;
    crate::demo::first_start(&store, &config.geodata, !config.no_demo)
        .await
        .context("loading the demo city")?;
    if let Some(options) = demo_replay_options(&config)? {
        let (calendar, rules) = calendar_and_rules(&store, &config).await?;
        let live = crate::live::LiveCity::load(store.clone(), config.engine.config()).await?;
        let service = crate::cases::CaseService::new(
            store.clone(),
            live,
            calendar,
            rules,
            config.photo_config(),
        );
        crate::demo_cases::replay_on_first_start(&service, &store, &config.geodata, &options).await;
    }
    start_lock.release().await;
    tracing::info!(version = store.data_version().await?, "initialised");
    store.close().await;
    Ok(())
}

/// The working calendar and the dispatch rule table in force at start: the files given (or the
/// national calendar and the built-in table), with the years and the table stored by admins.
async fn calendar_and_rules(
    store: &Store,
    config: &ServeConfig,
) -> anyhow::Result<(
    crate::domain::calendar::WorkCalendar,
    crate::cases::rules::RulesInForce,
)> {
    let calendar = match &config.calendar {
        Some(path) => crate::domain::calendar::WorkCalendar::from_json(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading the calendar {}", path.display()))?,
        )
        .with_context(|| format!("in {}", path.display()))?,
        None => crate::domain::calendar::WorkCalendar::china_default(),
    };
    let calendar = crate::calendar::with_stored_years(store, calendar).await?;
    crate::calendar::log_coverage(&calendar);
    let rules_file = match &config.dispatch_rules {
        Some(path) => Some(
            crate::domain::dispatch::RuleTable::from_json(
                &std::fs::read_to_string(path)
                    .with_context(|| format!("reading the dispatch rules {}", path.display()))?,
            )
            .with_context(|| format!("in {}", path.display()))?,
        ),
        None => None,
    };
    let dispatch_rules = crate::cases::rules::RulesInForce::at_start(
        store
            .dispatch_rules()
            .await
            .context("reading the stored dispatch rules")?,
        rules_file,
    );
    tracing::info!(
        origin = ?dispatch_rules.origin,
        version = ?dispatch_rules.version,
        rules = dispatch_rules.table.rules.len(),
        "dispatch rule table in force"
    );
    Ok((calendar, dispatch_rules))
}

/// The replay's settings from `--demo-weeks`/`--demo-share`; None for 0 weeks or `--no-demo`.
fn demo_replay_options(
    config: &ServeConfig,
) -> anyhow::Result<Option<crate::demo_cases::ReplayOptions>> {
    if config.no_demo || config.demo_weeks == 0 {
        return Ok(None);
    }
    Ok(Some(crate::demo_cases::ReplayOptions::new(
        config.demo_weeks,
        config.demo_share,
    )?))
}

/// `wangge demo cases`: the replay on its own, into a store with the demo city and no cases.
pub async fn demo(args: crate::config::DemoArgs) -> anyhow::Result<()> {
    let crate::config::DemoWhat::Cases(args) = args.what;
    let options = crate::demo_cases::ReplayOptions::new(args.weeks, args.share)?;
    let store = open_store(&args.store).await?;
    let calendar = crate::calendar::with_stored_years(
        &store,
        crate::domain::calendar::WorkCalendar::china_default(),
    )
    .await?;
    let rules = crate::cases::rules::RulesInForce::at_start(
        store
            .dispatch_rules()
            .await
            .context("reading the stored dispatch rules")?,
        None,
    );
    let live = crate::live::LiveCity::load(store.clone(), Default::default()).await?;
    let service = crate::cases::CaseService::new(
        store.clone(),
        live,
        calendar,
        rules,
        crate::photos::PhotoConfig::default(),
    );
    match crate::demo_cases::replay(&service, &store, &args.geodata, &options).await? {
        crate::demo_cases::Replayed::Done(o) => {
            println!("{}", serde_json::to_string_pretty(&o)?);
        }
        crate::demo_cases::Replayed::Skipped(why) => {
            store.close().await;
            anyhow::bail!("not replayed: {why}");
        }
    }
    store.close().await;
    Ok(())
}

/// The store with the read replica of `--read-database-url`, probed once so the log says at
/// start whether it is in use. Refused on a SQLite primary, which has no standby.
async fn with_read_replica(store: Store, config: &ServeConfig) -> anyhow::Result<Store> {
    let Some(url) = &config.read_database_url else {
        return Ok(store);
    };
    if store.backend_name() != "postgres" {
        anyhow::bail!(
            "--read-database-url needs a PostgreSQL primary: the database is {} ({}), which has \
             no standby; drop --read-database-url or move the database to PostgreSQL",
            store.backend_name(),
            config.store.database_url
        );
    }
    let store = store
        .with_reader(url, Duration::from_secs(config.read_max_lag_secs))
        .context("--read-database-url")?;
    if let Some(status) = store.probe_reader().await {
        tracing::info!(
            state = status.state.name(),
            lag = ?status.state.lag(),
            max_lag = ?status.max_lag,
            "read replica for analytics configured"
        );
    }
    Ok(store)
}

/// `wangge serve`.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    init_tracing(config.log_format);
    http::health::metrics_handle();
    let store = with_read_replica(open_store(&config.store).await?, &config).await?;
    // Replicas starting together on an empty database: the first loads the demo city (and
    // replays its cases) under this lock, the others wait and then find it there. An error
    // drops the guard, and with it the lock's connection, which releases it.
    let start_lock = store.start_lock().await?;
    crate::demo::first_start(&store, &config.geodata, !config.no_demo)
        .await
        .context("loading the demo city")?;
    crate::photos::check_shared_folder(&store, &config.photo_config()).await?;
    let loopback = config.bind.ip().is_loopback();
    let allow_demo_logins = loopback || config.allow_demo_users;
    if !allow_demo_logins {
        tracing::warn!(
            "listening on the non-loopback address {}: demo accounts are refused (pass --allow-demo-users to accept them)",
            config.bind
        );
    }
    let web_dir = config.web_dir.is_dir().then(|| config.web_dir.clone());
    let (calendar, dispatch_rules) = calendar_and_rules(&store, &config).await?;
    let live = crate::live::LiveCity::load(store.clone(), config.engine.config()).await?;
    let _poller = live.spawn_poller(Duration::from_secs(config.index_poll_secs.max(1)));
    // Other replicas' edits, at once (PostgreSQL); None on SQLite, where the poll does it.
    let changes = store.spawn_change_listener();
    let state = AppState::new(
        store.clone(),
        HttpSettings {
            token_ttl: chrono::Duration::hours(i64::from(config.token_ttl_hours)),
            allow_demo_logins,
            max_body_bytes: config.max_body_bytes,
            request_timeout: Duration::from_secs(config.request_timeout_secs),
            web_dir,
            assign_batch_max_points: config.assign_batch_max_points,
            assign_batch_max_bytes: config.assign_batch_max_bytes,
            calendar,
            dispatch_rules,
            photos: config.photo_config(),
            import_max_removal_share: config.import_max_removal_share,
            import_limits: crate::import::validate::Limits {
                max_feature_vertices: config.max_feature_vertices,
                max_upload_vertices: config.max_upload_vertices,
                max_package_vertices: config.max_package_vertices,
            },
            hotspot_cache_bytes: config.hotspot_cache_bytes,
            tile_cache_bytes: config.tile_cache_bytes,
            assessment_max_events: config.assessment_max_events,
            limits: config.limits.settings(),
            shop_scheme: config.shop_scheme()?,
            public_url: config.public_url.clone(),
            stream_token_recheck: Duration::from_secs(config.index_poll_secs.max(1)),
        },
        live,
    );
    if let Some(options) = demo_replay_options(&config)? {
        crate::demo_cases::replay_on_first_start(state.cases(), &store, &config.geodata, &options)
            .await;
    }
    start_lock.release().await;
    if let Some(changes) = &changes {
        state.follow_changes(changes);
    }
    if !config.no_hotspot_warm {
        state.warm_hotspots();
    }
    let _sweeper = state
        .cases()
        .spawn_sweeper(Duration::from_secs(config.escalation_sweep_secs.max(1)));
    let app = http::router(state.clone());
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("binding {}", config.bind))?;
    tracing::info!(
        "wangge serving on http://{} ({} store)",
        listener.local_addr()?,
        store.backend_name()
    );
    let (signalled_tx, mut signalled) = tokio::sync::watch::channel(false);
    let server = axum::serve(
        http::conn::JsonErrorsListener(listener),
        app.into_make_service_with_connect_info::<http::conn::Peer>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        signalled_tx.send_replace(true);
        // Live streams would otherwise hold the graceful shutdown open forever.
        state.begin_shutdown();
    });
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    // The graceful shutdown waits for requests in flight; one validating a huge layer or
    // computing a large analysis is not waited for beyond the grace period. Returning drops the
    // runtime (see `cli`), which drops those requests' futures: their guards cancel the blocking
    // work, and the runtime waits for blocking threads only a bounded time.
    let stopped_cleanly = tokio::select! {
        r = server => { r?; true }
        () = async {
            let _ = signalled.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => false,
    };
    if stopped_cleanly {
        store.close().await;
        tracing::info!("shut down cleanly");
    } else {
        tracing::warn!(
            "requests still in flight {grace:?} after the shutdown signal; stopping them"
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}

/// `wangge import …`: the same import service as the admin API, with progress on stderr.
pub async fn import(args: crate::config::ImportArgs) -> anyhow::Result<()> {
    use std::str::FromStr;

    use crate::config::ImportWhat;
    use crate::domain::crs::Crs;
    use crate::domain::jurisdiction::Layer;
    use crate::import;
    use crate::store::Audit;

    let store = open_store(&args.store).await?;
    let start = std::time::Instant::now();
    let progress = move |line: &str| eprintln!("[{:>6.1}s] {line}", start.elapsed().as_secs_f64());
    let audit = Audit::cli();
    let read = |path: &std::path::Path| -> anyhow::Result<String> {
        progress(&format!("reading {}", path.display()));
        Ok(import::read_text(path)?)
    };
    let crs = |c: &Option<String>| -> anyhow::Result<Option<Crs>> {
        Ok(c.as_deref().map(Crs::from_str).transpose()?)
    };
    match &args.what {
        ImportWhat::Layer { layer, file, check } => {
            let layer = Layer::from_str(layer)?;
            let options = check_options(check, file.display().to_string(), args.removal())?;
            let outcome =
                import::import_layer(&store, layer, read(file)?, &options, &audit, &progress)
                    .await?;
            let issues = outcome.report.issues.iter().map(|i| (layer, i));
            report_findings(issues, check, || outcome.report.to_geojson(), &progress)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "crs": outcome.crs, "errors": outcome.report.errors, "warnings": outcome.report.warnings,
                    "refused": outcome.refused, "published": outcome.published,
                }))?
            );
            if outcome.refused {
                anyhow::bail!("the import was refused; nothing was stored");
            }
        }
        ImportWhat::City { dir, check } => {
            let options = check_options(check, dir.display().to_string(), args.removal())?;
            progress(&format!("reading the city package {}", dir.display()));
            let package = import::package::CityPackage::read_dir(dir)?;
            let outcome =
                import::package::import_city(&store, package, &options, &audit, &progress).await?;
            let issues = outcome
                .reports
                .iter()
                .flat_map(|r| r.issues.iter().map(move |i| (r.layer, i)));
            report_findings(issues, check, || outcome.to_geojson(), &progress)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "errors": outcome.errors, "warnings": outcome.warnings, "refused": outcome.refused,
                    "units": outcome.units, "basemap": outcome.basemap, "published": outcome.published,
                }))?
            );
            if outcome.refused {
                anyhow::bail!("the city package was refused; nothing was stored");
            }
        }
        ImportWhat::Basemap { kind, file, crs: c } => {
            let n = import::service::import_basemap(
                &store,
                kind,
                &read(file)?,
                crs(c)?,
                args.removal(),
                &audit,
            )
            .await?;
            progress(&format!("{n} {kind} features imported"));
        }
        ImportWhat::Units { file } => {
            let n = import::import_units(&store, &read(file)?, &audit).await?;
            progress(&format!("{n} units imported"));
        }
        ImportWhat::History { file, crs: c } => {
            let layers = crate::live::load_layers(&store, None).await?;
            let index = tokio::task::spawn_blocking(move || {
                crate::assign::CityIndex::build(&layers, Default::default())
            })
            .await?;
            progress("assignment index built");
            let n = import::service::import_history(
                &store,
                std::sync::Arc::new(index),
                read(file)?,
                crs(c)?,
                &file.display().to_string(),
                &audit,
            )
            .await?;
            progress(&format!("{n} historical reports imported and assigned"));
        }
        ImportWhat::Osm { file } => {
            progress(&format!("reading {}", file.display()));
            let outcome = import::import_osm(
                &store,
                std::fs::read(file)?,
                args.removal(),
                &audit,
                &progress,
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&outcome)?);
        }
    }
    store.close().await;
    Ok(())
}

/// The process's resident memory (Linux `VmRSS`), MB; `None` elsewhere.
fn resident_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// `wangge assign`: the batch assignment of `POST /api/assign/batch` over files, with a progress
/// line on stderr.
pub async fn assign(args: crate::config::AssignArgs) -> anyhow::Result<()> {
    use std::io::{BufRead, Read, Write};
    use std::str::FromStr;

    use crate::assign::batch::{self, CsvPoints, Format};
    use crate::domain::crs::Crs;

    let crs = Crs::from_str(&args.crs)?;
    let store = open_store(&args.store).await?;
    let at = args
        .as_of
        .as_deref()
        .map(crate::domain::jurisdiction::parse_as_of)
        .transpose()?;
    let start = std::time::Instant::now();
    let layers = crate::live::load_layers(&store, at).await?;
    let read = start.elapsed();
    let rss_read = resident_mb();
    let config = args.engine.config();
    let (index, built, rss_built) = tokio::task::spawn_blocking(move || {
        let start = std::time::Instant::now();
        let index = crate::assign::CityIndex::build(&layers, config);
        // Measured while the layers are still held: the growth is the index's own.
        (index, start.elapsed(), resident_mb())
    })
    .await?;
    store.close().await;
    let (grids, frontages, zones) = index.counts();
    // Read and build apart: a province's read from PostgreSQL dwarfs the build, and the layers as
    // read (every property of every feature) weigh more than the index (docs/scaling.md).
    let rss = match (rss_read, rss_built) {
        (Some(a), Some(b)) => format!(
            "; resident {a:.0} MB with the layers read, {b:.0} MB with the index built beside them"
        ),
        _ => String::new(),
    };
    eprintln!(
        "index of data version {}: layers read in {read:.2?}, built in {built:.2?} \
         ({grids} grids, {frontages} frontages, {zones} zones; lookup tables {:.1} MB{rss})",
        index.version(),
        index.table_bytes() as f64 / 1e6
    );
    let area = crate::domain::crs::PlausibleArea::around("the city", index.extent(), 20_000.0);
    let is_geojson = args
        .input
        .extension()
        .is_some_and(|e| e == "geojson" || e == "json");
    let format = match args.format.as_deref() {
        Some(f) => Format::parse(f)
            .ok_or_else(|| anyhow::anyhow!("--format must be csv, geojson or json"))?,
        None if is_geojson => Format::GeoJson,
        None => Format::Csv,
    };
    let input = args.input.clone();
    let output = args.output.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut out: Box<dyn Write> = match &output {
            Some(p) => Box::new(std::io::BufWriter::with_capacity(
                1 << 20,
                std::fs::File::create(p)?,
            )),
            None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
        };
        out.write_all(&batch::header(format))?;
        let started = std::time::Instant::now();
        let mut done = 0usize;
        let mut buf = Vec::with_capacity(8 << 20);
        let mut emit = |points: &[batch::InputPoint],
                        out: &mut Box<dyn Write>,
                        done: &mut usize|
         -> anyhow::Result<()> {
            buf.clear();
            batch::process_chunk(&index, &area, crs, points, format, *done == 0, &mut buf);
            out.write_all(&buf)?;
            *done += points.len();
            let rate = *done as f64 / started.elapsed().as_secs_f64().max(1e-9);
            eprint!("\rassigned {done:>10} points  {rate:>12.0} points/s");
            Ok(())
        };
        if is_geojson {
            let mut bytes = Vec::new();
            std::fs::File::open(&input)?.read_to_end(&mut bytes)?;
            let points = batch::geojson_points(&bytes, usize::MAX)?;
            drop(bytes);
            for chunk in points.chunks(batch::CHUNK * 8) {
                emit(chunk, &mut out, &mut done)?;
            }
        } else {
            let reader: Box<dyn BufRead> = if input.as_os_str() == "-" {
                Box::new(std::io::BufReader::new(std::io::stdin().lock()))
            } else {
                Box::new(std::io::BufReader::with_capacity(
                    1 << 20,
                    std::fs::File::open(&input)?,
                ))
            };
            let mut csv = CsvPoints::default();
            let mut pending = Vec::new();
            let mut reader = reader;
            loop {
                let chunk = reader.fill_buf()?;
                if chunk.is_empty() {
                    pending.extend(csv.finish()?);
                    break;
                }
                let n = chunk.len();
                pending.extend(csv.feed(chunk)?);
                reader.consume(n);
                if pending.len() >= batch::CHUNK * 8 {
                    emit(&pending, &mut out, &mut done)?;
                    pending.clear();
                }
            }
            if !pending.is_empty() {
                emit(&pending, &mut out, &mut done)?;
            }
        }
        out.write_all(&batch::footer(format))?;
        out.flush()?;
        eprintln!(
            "\rassigned {done} points in {:.2?} ({:.0} points/s)",
            started.elapsed(),
            done as f64 / started.elapsed().as_secs_f64().max(1e-9)
        );
        Ok(())
    })
    .await??;
    Ok(())
}
