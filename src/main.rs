//! The `wsdiag` binary: arguments in, exit code out.
//!
//! Exit codes: 0 ok; 1 the command worked and found a problem; 2 usage or
//! runtime error (clap uses 2 for usage errors too).

use std::process::ExitCode;

use clap::Parser;
use wsdiag::{cli::Cli, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match wsdiag::run(cli) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Problem) => ExitCode::from(1),
        Err(e) => {
            #[allow(clippy::print_stderr)] // the binary's edge reports errors
            {
                eprintln!("wsdiag: {e:#}");
            }
            ExitCode::from(2)
        }
    }
}
