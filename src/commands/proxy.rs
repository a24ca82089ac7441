//! `wsdiag proxy`: the recording proxy in front of one upstream.

use anyhow::Context as _;
use tokio::net::TcpListener;

use super::recording::{self, Show};
use super::{runtime, Outcome, StopSignal};
use crate::cli::ProxyArgs;
use crate::proxy::{self, ProxyConfig, Upstream};
use crate::sink::console::say;

/// Runs the proxy until Ctrl-C or SIGTERM.
pub fn run(args: ProxyArgs) -> anyhow::Result<Outcome> {
    let upstream = Upstream::parse(&args.upstream)?;
    let mut config = ProxyConfig::new(upstream);
    config.rewrite_host = args.rewrite_host;
    config.insecure = args.insecure;
    config.connect_timeout = args.connect_timeout;
    config.handshake_timeout = args.handshake_timeout;
    config.response_timeout = args.response_timeout;
    config.header_read_timeout = args.header_read_timeout;
    config.idle_timeout = (!args.idle_timeout.is_zero()).then_some(args.idle_timeout);
    config.shutdown_grace = args.shutdown_grace;
    let runtime = runtime()?;
    let listener = runtime.block_on(TcpListener::bind(args.listen)).with_context(|| {
        format!(
            "cannot listen on {}: is another program using that port? Try --listen 127.0.0.1:0 for any free port",
            args.listen
        )
    })?;
    let listen = listener
        .local_addr()
        .context("while reading the listening address")?;
    if config.upstream.is_address_of(listen) {
        anyhow::bail!(
            "--upstream {} is wsdiag's own address ({listen}): it would forward every request to itself; point --upstream at your backend, and --listen at another port",
            config.upstream.display
        );
    }
    // Every listener is bound before anything is recorded.
    let ui_listener = super::bind_ui(&runtime, &args.ui)?;
    if args.ui.ui && args.recording.no_capture {
        anyhow::bail!(
            "--ui shows what the capture file holds: drop --no-capture (or use --capture FILE)"
        );
    }
    let stop = {
        let _context = runtime.enter();
        StopSignal::install()?
    };
    let filter = if args.console.quiet {
        Show::Findings
    } else {
        Show::Events(args.console.filter.filter())
    };
    // The viewer shows the live findings as they come.
    let findings = args.ui.ui.then(crate::sink::finding_log::FindingLog::new);
    let (recorder, recording) = recording::start(
        &args.recording,
        "wsdiag",
        listen.to_string(),
        config.upstream.display.clone(),
        config.idle_timeout,
        filter,
        findings.as_ref(),
    )?;
    say(&format!(
        "wsdiag {}: proxy on http://{listen} → {}",
        env!("CARGO_PKG_VERSION"),
        config.upstream.display
    ));
    if let Some(path) = &recording.capture {
        say(&format!(
            "Recording to {} (Ctrl-C stops and prints a summary)",
            path.display()
        ));
    }
    if !listen.ip().is_loopback() {
        say("WARNING: listening on a non-loopback address: anyone who can reach it can use the proxy and see the traffic it records.");
    }
    if config.insecure {
        say("WARNING: --insecure: the upstream's TLS certificate is not verified.");
    }
    let ui = match (ui_listener, &recording.capture) {
        (Some(listener), Some(capture)) => {
            let source = crate::ui::Source {
                capture: capture.clone(),
                live: true,
                findings,
            };
            Some(super::start_ui(&runtime, listener, source)?)
        }
        _ => None,
    };
    if let Some(unreachable) = runtime.block_on(config.upstream.unreachable()) {
        say(&format!(
            "WARNING: {unreachable}; wsdiag keeps running and answers 502 until it does"
        ));
    }
    runtime.block_on(proxy::run(listener, config, recorder, stop.wait()));
    if let Some(ui) = ui {
        ui.cancel();
    }
    // Tasks still holding a recorder after the grace period are dropped
    // here, so the hub can finish.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    recording.finish();
    Ok(Outcome::Clean)
}
