//! Deterministic generator of the demo city in `geodata/` (issue 3). Placeholder until the
//! generator lands: the CLI refuses to run it rather than pretend.

/// Options of `wangge generate`.
#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    /// Folder with the real inputs (copied from `../shared/data`).
    #[arg(long, default_value = "geodata/sources")]
    pub sources: std::path::PathBuf,
    /// Output folder.
    #[arg(long, default_value = "geodata")]
    pub out: std::path::PathBuf,
    /// Seed of the deterministic generator.
    #[arg(long, default_value_t = 20231)]
    pub seed: u64,
}

/// Runs the generator.
pub fn run(_args: &GenerateArgs) -> anyhow::Result<()> {
    anyhow::bail!("the demo city generator has not landed yet")
}
