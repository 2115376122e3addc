//! `wangge user create`: the first admin of a fresh store (and any later account) from the
//! command line, with no default password and nothing left behind that a stranger could use.
//!
//! The password is read from standard input: typed at a prompt without echo when stdin is a
//! terminal, or one line piped in with `--password-stdin` (scripts, containers). It obeys the same
//! rule as `POST /api/users` ([`crate::domain::identity::check_password`]).

use std::io::{BufRead, IsTerminal, Write};
use std::str::FromStr;

use anyhow::Context;

use crate::config::StoreConfig;
use crate::domain::identity::{self, Role};
use crate::store::{Audit, NewUser, Store, UserRecord};

/// Settings of `wangge user`.
#[derive(Debug, Clone, clap::Args)]
pub struct UserArgs {
    /// Store settings.
    #[command(flatten)]
    pub store: StoreConfig,
    /// What to do.
    #[command(subcommand)]
    pub what: UserWhat,
}

/// The user subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum UserWhat {
    /// Create an account (e.g. the first admin): the password is read from standard input.
    Create(CreateUserArgs),
}

/// An account to create.
#[derive(Debug, Clone, clap::Args)]
pub struct CreateUserArgs {
    /// Login name: 3–64 characters of a–z, 0–9, `_`, `.`, `-`.
    #[arg(long)]
    pub username: String,
    /// Role: admin, inspector, intake_clerk, shift_lead, dispatcher, handler, planner, volunteer.
    #[arg(long)]
    pub role: String,
    /// Display name (default: the login name).
    #[arg(long)]
    pub display_name: Option<String>,
    /// Responsible unit (handlers only).
    #[arg(long)]
    pub unit_code: Option<String>,
    /// Read the password as one line from standard input without a prompt (for scripts). Without
    /// it, stdin must be a terminal: the password is asked for twice, not echoed.
    #[arg(long)]
    pub password_stdin: bool,
}

/// Why an account was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// A field breaks a rule (the message says which and how to fix it).
    #[error("{0}")]
    Invalid(String),
    /// The store refused (a taken name, an unknown unit) or failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Creates an account through the store's user creation (one `user.created` audit event, with
/// the CLI user as actor). Validation is that of `POST /api/users`.
pub async fn create_user(
    store: &Store,
    args: &CreateUserArgs,
    password: &str,
    audit: &Audit,
) -> Result<UserRecord, CreateUserError> {
    let username = identity::parse_username(&args.username).map_err(CreateUserError::Invalid)?;
    let role = Role::from_str(&args.role).map_err(|e| CreateUserError::Invalid(e.to_string()))?;
    identity::check_password(password, &username, crate::demo::DEMO_PASSWORD)
        .map_err(CreateUserError::Invalid)?;
    match (role, &args.unit_code) {
        (Role::Handler, None) => {
            return Err(CreateUserError::Invalid(
                "a handler must name the responsible unit (--unit-code) they act for".into(),
            ));
        }
        (Role::Handler, Some(_)) | (_, None) => {}
        (_, Some(_)) => {
            return Err(CreateUserError::Invalid(
                "only handlers act for a responsible unit".into(),
            ));
        }
    }
    let display_name = args
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(&username)
        .to_owned();
    let password = password.to_owned();
    let password_hash =
        tokio::task::spawn_blocking(move || crate::security::hash_password(&password))
            .await
            .map_err(|e| CreateUserError::Invalid(format!("hashing failed: {e}")))?
            .map_err(|e| CreateUserError::Invalid(format!("hashing failed: {e}")))?;
    Ok(store
        .create_user(
            &NewUser {
                username,
                display_name,
                role,
                unit_code: args.unit_code.clone(),
                password_hash,
                is_demo: false,
                grids: Vec::new(),
            },
            audit,
        )
        .await?)
}

/// Reads the password: one line from stdin with `--password-stdin`, else twice at a terminal
/// prompt with echo switched off.
fn read_password(args: &CreateUserArgs) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if args.password_stdin {
        let mut line = String::new();
        // Bounded: a password is at most MAX_PASSWORD_CHARS characters of up to 4 bytes.
        let limit = (identity::MAX_PASSWORD_CHARS * 4 + 2) as u64;
        std::io::Read::take(stdin.lock(), limit)
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    if !stdin.is_terminal() {
        anyhow::bail!(
            "standard input is not a terminal: pipe the password in with --password-stdin"
        );
    }
    let first = prompt("密码 / password: ")?;
    let second = prompt("再输一次 / repeat: ")?;
    if first != second {
        anyhow::bail!("the two passwords differ; nothing was created");
    }
    Ok(first)
}

fn prompt(label: &str) -> anyhow::Result<String> {
    eprint!("{label}");
    std::io::stderr().flush()?;
    let echo_off = set_echo(false);
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if echo_off {
        set_echo(true);
    }
    eprintln!();
    read.context("reading the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Switches the terminal's echo with `stty` (no extra dependency); false when that failed.
fn set_echo(on: bool) -> bool {
    std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success())
}

/// `wangge user …`.
pub async fn run(args: UserArgs) -> anyhow::Result<()> {
    match &args.what {
        UserWhat::Create(create) => {
            let password = read_password(create)?;
            let store = crate::server::open_store(&args.store).await?;
            let audit = Audit::cli();
            let result = create_user(&store, create, &password, &audit).await;
            store.close().await;
            let user = result?;
            println!("{}", serde_json::to_string_pretty(&user)?);
            eprintln!(
                "created {} ({}); log in with POST /api/auth/login",
                user.username, user.role
            );
            Ok(())
        }
    }
}
