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

/// Ctrl-C and SIGTERM, listened for from the moment this is created, so a
/// signal that arrives right after a banner is printed is not lost (the
/// handlers are registered here, not on the first poll).
struct StopSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignal {
    /// Installs the handlers; call inside the runtime, before announcing.
    fn install() -> anyhow::Result<StopSignal> {
        use anyhow::Context as _;
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(StopSignal {
                interrupt: signal(SignalKind::interrupt()).context("while listening for Ctrl-C")?,
                terminate: signal(SignalKind::terminate())
                    .context("while listening for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(StopSignal {})
    }

    /// Resolves on Ctrl-C or SIGTERM.
    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
