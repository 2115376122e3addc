//! Command line: `serve` (default), `migrate`, `generate`, `import`.
use clap::{Parser, Subcommand};

/// wangge 网格化城市管理服务
#[derive(Debug, Parser)]
#[command(name = "wangge", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Rebuild `geodata/` (the demo city) from the real inputs and a seed.
    Generate(crate::generate::GenerateArgs),
}

/// Entry point of the binary.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Generate(args)) => crate::generate::run(&args),
        None => Ok(()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
