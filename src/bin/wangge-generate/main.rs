//! `wangge-generate`: rebuilds the demo city of `geodata/` byte for byte from the real inputs in
//! `geodata/sources/` (`cargo run --release --bin wangge-generate`).
//!
//! A binary of its own, so the served `wangge` binary neither links the generator nor carries its
//! 4,000 lines; `tests/demo_city.rs` runs it twice and compares both runs with the committed data.

mod generate;

use clap::Parser;

/// Rebuilds geodata/ from geodata/sources/.
#[derive(Debug, Parser)]
#[command(name = "wangge-generate", version)]
struct Cli {
    #[command(flatten)]
    args: generate::GenerateArgs,
}

fn main() -> anyhow::Result<()> {
    generate::run(&Cli::parse().args)
}
