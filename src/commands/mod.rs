//! The commands: the edge between the command line and the library.
//!
//! Each command builds its runtime, wires the library's parts together,
//! prints its banner and summary, and returns an [`Outcome`] that `main`
//! maps to an exit code. Errors carry `anyhow` context saying what to try.

mod demo;
mod diagnose;
mod export;
mod probe;
mod progress;
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

/// Reads the capture at `path` (a large one with its progress on a
/// terminal); with a `--dialect`, its WebSockets are read again as that
/// dialect.
fn read_capture(
    path: &std::path::Path,
    dialect: crate::cli::DialectArgs,
) -> Result<crate::capture::Capture, crate::capture::ReadError> {
    let file = crate::capture::reader::open(path)?;
    let progress = progress::Progress::reading(file.metadata().map_or(0, |m| m.len()));
    let input = std::io::BufReader::with_capacity(1 << 16, progress.wrap(file));
    let mut capture = crate::capture::reader::read(input, path)?;
    drop(progress);
    for warning in &capture.warnings {
        crate::sink::console::note(&format!("Note: {}: {warning}.", path.display()));
    }
    if let Some(why) = capture.partial() {
        crate::sink::console::note(&format!("Note: {} is partial: {why}.", path.display()));
    }
    if let Some(forced) = dialect.dialect {
        crate::dialects::Classifier::reclassify(&mut capture.events, Some(forced));
    }
    Ok(capture)
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

/// Binds the web viewer's listener when `--ui` asks for it: before
/// anything is recorded, so a busy port fails first.
fn bind_ui(
    runtime: &tokio::runtime::Runtime,
    args: &crate::cli::UiArgs,
) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    use anyhow::Context as _;
    if !args.ui {
        return Ok(None);
    }
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(args.ui_listen))
        .with_context(|| {
            format!(
                "cannot listen on {} for the web viewer: is another program using that port? Try --ui-listen 127.0.0.1:0",
                args.ui_listen
            )
        })?;
    Ok(Some(listener))
}

/// Serves the web viewer of `source` on `listener` (from [`bind_ui`]) and
/// prints its URL; returns what stops it.
fn start_ui(
    runtime: &tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    source: crate::ui::Source,
) -> anyhow::Result<tokio_util::sync::CancellationToken> {
    use anyhow::Context as _;
    let token = crate::ui::new_token();
    let url = crate::ui::url(&listener, &token).context("while reading the viewer's address")?;
    crate::sink::console::say(&format!("Web viewer: {url}"));
    if !listener.local_addr().is_ok_and(|a| a.ip().is_loopback()) {
        crate::sink::console::say(
            "WARNING: the web viewer listens on a non-loopback address: anyone with its URL can read the traffic.",
        );
    }
    let stop = tokio_util::sync::CancellationToken::new();
    runtime.spawn(crate::ui::serve(listener, source, token, stop.clone()));
    Ok(stop)
}
