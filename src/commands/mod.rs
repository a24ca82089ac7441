//! The commands: the edge between the command line and the library.
//!
//! Each command builds its runtime, wires the library's parts together,
//! prints its banner and summary, and returns an [`Outcome`] that `main`
//! maps to an exit code. Errors carry `anyhow` context saying what to try.

mod demo;
mod diagnose;
mod export;
mod probe;
mod proxy;
mod recording;
mod replay;
mod show;

use crate::cli::{Cli, Command};

/// How a command that ran went: exit code 0 or 1. Errors are exit code 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing wrong found.
    Clean,
    /// The command worked and found a problem (a finding, a mismatch).
    Problem,
}

/// Runs the command `cli` names.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Proxy(args) => proxy::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Show(args) => show::run(args),
        Command::Diagnose(args) => diagnose::run(args),
        Command::Probe(args) => probe::run(args),
        Command::Export(args) => export::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Diff(args) => replay::diff(args),
        Command::Mock(args) => replay::mock(args),
    }
}

/// A multi-threaded tokio runtime for a command.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("while starting the async runtime")
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
