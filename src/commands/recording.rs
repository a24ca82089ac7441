//! Starting and finishing a recording: the capture file, the console, the
//! hub between them, and the summary at the end. Shared by `proxy` and
//! `demo`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;

use crate::capture::{CaptureWriter, Header};
use crate::cli::RecordingArgs;
use crate::sink::console::{self, Console, ConsoleSink};
use crate::sink::filter::Filter;
use crate::sink::finding_log::FindingLog;
use crate::sink::format::{Formatter, Palette};
use crate::sink::{self, HubHandle, Recorder, Sink};

/// What the console prints while recording.
pub enum Show {
    /// The event lines that pass the filter, and every live finding.
    Events(Filter),
    /// Live findings only (`proxy --quiet`).
    Findings,
    /// Nothing: the command prints its own report (`demo --quiet`, `probe
    /// --quiet`, `replay`).
    Nothing,
}

/// A recording in progress.
pub struct Recording {
    hub: HubHandle,
    /// The capture file, unless `--no-capture`.
    pub capture: Option<PathBuf>,
}

/// Starts recording: opens the capture file (mode 0600) and the console,
/// which shows what `show` says; with `viewer`, the live findings are kept
/// there too, for the web viewer.
pub fn start(
    args: &RecordingArgs,
    prefix: &str,
    listen: String,
    upstream: String,
    idle_timeout: Option<std::time::Duration>,
    show: Show,
    viewer: Option<&FindingLog>,
) -> anyhow::Result<(Recorder, Recording)> {
    let mut header = Header::new(listen, upstream, args.body_limit);
    header.idle_timeout_ms = idle_timeout.map(|d| d.as_millis() as u64);
    let start = Instant::now();
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    // First, so that a finding is in the log before the capture file's
    // flush that carries its event: the feed holds a finding back until it
    // has sent the event it belongs under, and so sends it at once.
    if let Some(log) = viewer {
        sinks.push(Box::new(log.sink()));
    }
    let capture = match (&args.capture, args.no_capture) {
        (_, true) => None,
        (Some(path), false) => Some(path.clone()),
        (None, false) => Some(default_path(prefix)),
    };
    if let Some(path) = &capture {
        if path.exists() && !args.overwrite {
            anyhow::bail!(
                "the capture file {} exists: wsdiag will not overwrite it; choose another name with --capture FILE, or replace it with --overwrite",
                path.display()
            );
        }
        let writer = CaptureWriter::create(path, &header).with_context(|| {
            format!(
                "cannot create the capture file {}: choose another place with --capture FILE",
                path.display()
            )
        })?;
        sinks.push(Box::new(writer));
    }
    let filter = match show {
        Show::Events(filter) => Some(Some(filter)),
        Show::Findings => Some(None),
        Show::Nothing => None,
    };
    if let Some(filter) = filter {
        let formatter = Formatter::new(header.started_at, Palette::detect());
        let console = ConsoleSink::start(Console::new(formatter, filter))
            .context("while starting the console")?;
        sinks.push(Box::new(console));
    }
    let (recorder, hub) = sink::spawn(sinks, args.body_limit, start, args.dialect.dialect);
    Ok((recorder, Recording { hub, capture }))
}

impl Recording {
    /// Waits for the last events (every recorder must be dropped), then
    /// prints the summary. Returns the summary's counts.
    pub fn finish(self) -> crate::event::Trailer {
        let report = self.hub.join();
        console::say(&format!("Summary: {}", console::summary(&report.trailer)));
        for (sink, missed) in &report.lost {
            console::say(&format!(
                "WARNING: {sink} stopped recording; {missed} events were not written there"
            ));
        }
        if report.findings > 0 {
            let again = self.capture.as_ref().map_or(String::new(), |p| {
                format!(": `wsdiag diagnose {}` gives the whole report", p.display())
            });
            console::say(&format!(
                "Findings: {} explained live{again}",
                report.findings
            ));
        }
        if let Some(path) = &self.capture {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            console::say(&format!("Capture: {} ({size} bytes)", path.display()));
        }
        report.trailer
    }
}

/// Runs the proxy on `listener` while `client` runs, then stops it the way
/// Ctrl-C does (WebSockets closed with 1001, everything recorded).
pub async fn proxy_while<T>(
    listener: tokio::net::TcpListener,
    config: crate::proxy::ProxyConfig,
    recorder: Recorder,
    client: impl std::future::Future<Output = T>,
) -> T {
    let stop = tokio_util::sync::CancellationToken::new();
    let stopped = stop.clone();
    let proxy = tokio::spawn(crate::proxy::run(listener, config, recorder, async move {
        stopped.cancelled().await
    }));
    let out = client.await;
    stop.cancel();
    let _ = proxy.await;
    out
}

/// `PREFIX-YYYYMMDD-HHMMSS.jsonl` in the current directory, numbered if
/// that name is taken.
fn default_path(prefix: &str) -> PathBuf {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let base = format!("{prefix}-{stamp}");
    let mut path = PathBuf::from(format!("{base}.jsonl"));
    let mut n = 1;
    while Path::new(&path).exists() {
        n += 1;
        path = PathBuf::from(format!("{base}-{n}.jsonl"));
    }
    path
}
