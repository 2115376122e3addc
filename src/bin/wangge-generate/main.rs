//! `wangge-generate`: rebuilds the demo city of `geodata/` byte for byte from the real inputs in
//! `geodata/sources/` (`cargo run --release --bin wangge-generate`), or, with `province`, writes a
//! synthetic province to measure wangge at scale (`wangge-generate province --seed 1 --out DIR`).
//!
//! A binary of its own, so the served `wangge` binary neither links the generator nor carries its
//! 4,000 lines; `tests/demo_city.rs` runs it twice and compares both runs with the committed data,
//! `tests/province.rs` generates a tiny province twice, imports it and assigns over it.

mod generate;
mod province;

use clap::{Parser, Subcommand};

/// Rebuilds geodata/ from geodata/sources/, or generates a synthetic province.
#[derive(Debug, Parser)]
#[command(
    name = "wangge-generate",
    version,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
    #[command(flatten)]
    args: generate::GenerateArgs,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// A synthetic province (17 cities, ~1,000,000 grids, 2,000,000 frontages, 20,000,000
    /// history reports at --scale 1), streamed into a city package, history CSVs and points.
    Province(province::ProvinceArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.mode {
        Some(Mode::Province(args)) => province::run(&args),
        None => generate::run(&cli.args),
    }
}
