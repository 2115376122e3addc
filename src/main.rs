//! The `wangge` binary: everything lives in the library so that tests reach it.

fn main() -> std::process::ExitCode {
    wangge::cli::main()
}
