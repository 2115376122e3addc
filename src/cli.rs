//! Command line: `serve` (the default), `init`, `migrate`, `import`, `user`, `calendar`, `rules`, `assign`, `demo` (the demo city's generator is the separate binary `wangge-generate`).

use clap::{Parser, Subcommand};

use crate::config::{ServeConfig, StoreConfig};

/// wangge 网格化城市管理服务 — urban grid management.
#[derive(Debug, Parser)]
#[command(name = "wangge", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Settings of `serve`, also accepted without the subcommand.
    #[command(flatten)]
    serve: ServeConfig,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service (the default).
    Serve(Box<ServeConfig>),
    /// Apply the migrations, load the demo city and demo users into an empty store, and exit.
    Init(Box<ServeConfig>),
    /// Apply the database migrations and exit.
    Migrate(StoreConfig),
    /// Assign a file of points to their owners (CSV or GeoJSON in, CSV/GeoJSON/JSON out).
    Assign(Box<crate::config::AssignArgs>),
    /// Import jurisdiction layers, basemap, units or OpenStreetMap data, as the admin API does.
    Import(crate::config::ImportArgs),
    /// Load a year of the national holiday table into the store.
    Calendar(crate::calendar::CalendarArgs),
    /// Create an account, e.g. the first admin of a store started with `--no-demo`.
    User(crate::bootstrap::UserArgs),
    /// Check and store the dispatch rule table (派遣规则), or show the one in force.
    Rules(crate::cases::rules::RulesArgs),
    /// The demo city's case lifecycles: `wangge demo cases --weeks N`.
    Demo(crate::config::DemoArgs),
    /// Issue, list or revoke the Open311 applications' api keys.
    #[command(name = "open311-key")]
    Open311Key(crate::open311::KeyArgs),
}

/// Entry point of the binary.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Init(config)) => runtime().and_then(|rt| {
            crate::server::init_tracing(config.log_format);
            rt.block_on(crate::server::init(*config))
        }),
        Some(Command::Migrate(config)) => runtime().and_then(|rt| {
            crate::server::init_tracing(crate::config::LogFormat::Text);
            rt.block_on(crate::server::migrate(&config))
        }),
        Some(Command::Assign(args)) => {
            runtime().and_then(|rt| rt.block_on(crate::server::assign(*args)))
        }
        Some(Command::Import(args)) => runtime().and_then(|rt| {
            crate::server::init_tracing(crate::config::LogFormat::Text);
            rt.block_on(crate::server::import(args))
        }),
        Some(Command::Calendar(args)) => runtime().and_then(|rt| {
            crate::server::init_tracing(crate::config::LogFormat::Text);
            rt.block_on(crate::calendar::run(args))
        }),
        Some(Command::User(args)) => runtime().and_then(|rt| {
            crate::server::init_tracing(crate::config::LogFormat::Text);
            rt.block_on(crate::bootstrap::run(args))
        }),
        Some(Command::Rules(args)) => runtime().and_then(|rt| {
            crate::server::init_tracing(crate::config::LogFormat::Text);
            rt.block_on(crate::cases::rules::run(args))
        }),
        Some(Command::Demo(args)) => runtime().and_then(|rt| {
            crate::server::init_tracing(crate::config::LogFormat::Text);
            rt.block_on(crate::server::demo(args))
        }),
        Some(Command::Open311Key(args)) => runtime().and_then(|rt| {
            crate::server::init_tracing(crate::config::LogFormat::Text);
            rt.block_on(crate::open311::run(args))
        }),
        Some(Command::Serve(config)) => runtime().and_then(|rt| serve(rt, *config)),
        None => runtime().and_then(|rt| serve(rt, cli.serve)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Serves, then shuts the runtime down without waiting more than a few seconds for blocking
/// threads: a blocking task that does not observe cancellation must not keep the process alive
/// after SIGTERM.
fn serve(rt: tokio::runtime::Runtime, config: crate::config::ServeConfig) -> anyhow::Result<()> {
    let result = rt.block_on(crate::server::serve(config));
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    result
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
