//! The Open311 applications' api keys, issued the same way by the admin API
//! (`/api/open311/keys`) and by the command line (`wangge open311-key`): the rules for a key's
//! name and rate, a fresh key shown once, its SHA-256 stored (as bearer tokens are kept).

use crate::config::StoreConfig;
use crate::store::{Audit, Open311Key, Store};

/// `per_minute` range and default.
pub const PER_MINUTE: (i64, i64, i64) = (1, 10_000, 60);
/// The longest application name, characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Why a key was not issued.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A field breaks a rule (the message says which and how to fix it).
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Issues a key to an application: the stored key (without the key) and the key itself, which
/// is never shown again.
pub async fn issue_key(
    store: &Store,
    name: &str,
    per_minute: Option<i64>,
    audit: &Audit,
) -> Result<(Open311Key, String), KeyError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(KeyError::Invalid(format!(
            "应用名称须为 1–{MAX_NAME_CHARS} 个字符 / name must be 1–{MAX_NAME_CHARS} characters"
        )));
    }
    let (lo, hi, default) = PER_MINUTE;
    let per_minute = per_minute.unwrap_or(default);
    if !(lo..=hi).contains(&per_minute) {
        return Err(KeyError::Invalid(format!(
            "per_minute 须为 {lo}–{hi} / per_minute must be {lo}–{hi}"
        )));
    }
    let key = crate::security::new_token();
    let stored = store
        .create_open311_key(name, &crate::security::token_hash(&key), per_minute, audit)
        .await?;
    Ok((stored, key))
}

/// `wangge open311-key`: issue, list and revoke the applications' keys without the admin API
/// (the first key of a new installation, scripts).
#[derive(Debug, Clone, clap::Args)]
pub struct KeyArgs {
    /// Store settings.
    #[command(flatten)]
    pub store: StoreConfig,
    /// What to do.
    #[command(subcommand)]
    pub what: KeyWhat,
}

/// The key subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeyWhat {
    /// Issue a key; it is printed once, on standard output, and never again.
    Issue {
        /// The application's name, 1–100 characters.
        #[arg(long)]
        name: String,
        /// Requests it may POST per minute, 1–10000 (default 60).
        #[arg(long)]
        per_minute: Option<i64>,
    },
    /// List every key (never the keys themselves), newest first, as JSON.
    List,
    /// Revoke a key: its requests are refused with 403 from now on.
    Revoke {
        /// The key's id (from `list`).
        #[arg(long)]
        id: i64,
    },
}

/// Runs `wangge open311-key`.
pub async fn run(args: KeyArgs) -> anyhow::Result<()> {
    let store = crate::server::open_store(&args.store).await?;
    let audit = Audit::cli();
    let result = async {
        match args.what {
            KeyWhat::Issue { name, per_minute } => {
                let (stored, key) = issue_key(&store, &name, per_minute, &audit).await?;
                eprintln!(
                    "issued key {} to {:?} ({} requests a minute); it is shown only now:",
                    stored.id, stored.name, stored.per_minute
                );
                println!("{key}");
            }
            KeyWhat::List => {
                let keys = store.list_open311_keys().await?;
                println!("{}", serde_json::to_string_pretty(&keys)?);
            }
            KeyWhat::Revoke { id } => {
                let key = store.revoke_open311_key(id, &audit).await?;
                println!("{}", serde_json::to_string_pretty(&key)?);
            }
        }
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    result
}
