//! `wsdiag replay`, `wsdiag diff` and `wsdiag mock`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use tokio::net::TcpListener;

use super::recording::{self, Show};
use super::{runtime, Outcome, StopSignal};
use crate::cli::{DiffArgs, IgnoreArgs, MockArgs, RecordingArgs, ReplayArgs};
use crate::proxy::{ProxyConfig, Upstream};
use crate::replay::compare::Rules;
use crate::replay::run::{self, Options, Overrides};
use crate::replay::script::Script;
use crate::replay::{diff as capture_diff, mock as mock_server, report, ActionResult};
use crate::sink::console::{note, say};

fn rules(args: &IgnoreArgs) -> anyhow::Result<Rules> {
    let mut all = args.ignore.clone();
    if let Some(path) = &args.rules {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the rules file {}", path.display()))?;
        all.extend(text.lines().map(str::to_owned));
    }
    Ok(Rules::with(&all))
}

fn overrides(args: &ReplayArgs) -> anyhow::Result<Overrides> {
    let cookies = args
        .cookie
        .iter()
        .map(|c| {
            c.split_once('=')
                .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| anyhow::anyhow!("--cookie {c:?} is not NAME=VALUE"))
        })
        .collect::<anyhow::Result<_>>()?;
    let headers = args
        .header
        .iter()
        .map(|h| {
            h.split_once(':')
                .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| anyhow::anyhow!("--header {h:?} is not `Name: value`"))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Overrides {
        cookies,
        headers,
        token: args.token.clone(),
    })
}

/// How many cookies, `Authorization` headers and query tokens of the
/// script's requests are redaction placeholders (`[REDACTED:…]`).
fn redacted_credentials(script: &Script) -> usize {
    let requests = script.steps.iter().filter_map(|timed| match &timed.step {
        crate::replay::script::Step::Rest { request, .. } => Some(request),
        _ => None,
    });
    let sockets = script.sockets.values().map(|s| &s.request);
    requests
        .chain(sockets)
        .map(|r| {
            let in_headers = r
                .headers
                .iter()
                .filter(|(n, v)| {
                    matches!(n.to_ascii_lowercase().as_str(), "cookie" | "authorization")
                        && v.contains("[REDACTED:")
                })
                .count();
            in_headers + r.uri.matches("REDACTED").count()
        })
        .sum()
}

/// Refuses a `--junit` file whose directory does not exist, before any
/// work is done.
fn check_junit(junit: Option<&std::path::Path>) -> anyhow::Result<()> {
    let Some(dir) = junit.and_then(std::path::Path::parent) else {
        return Ok(());
    };
    if !dir.as_os_str().is_empty() && !dir.is_dir() {
        anyhow::bail!(
            "--junit {}: the directory {} does not exist; create it first (mkdir -p), or write the report elsewhere",
            junit.map(|p| p.display().to_string()).unwrap_or_default(),
            dir.display()
        );
    }
    Ok(())
}

/// What `events` hold, in a few words: "3 events (2 conn_open, 1 error)".
fn holds(events: &[crate::event::Event]) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for event in events {
        *counts.entry(event.kind.type_name()).or_default() += 1;
    }
    let kinds: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    if kinds.is_empty() {
        "no events".to_owned()
    } else {
        format!("{} events ({})", events.len(), kinds.join(", "))
    }
}

/// Prints results (text or JSON), writes JUnit, and decides the exit code.
fn conclude(
    results: &[ActionResult],
    suite: &str,
    json: bool,
    junit: Option<&std::path::Path>,
    started: Instant,
) -> anyhow::Result<Outcome> {
    if json {
        say(&report::json(results));
    } else {
        say(&report::text(results, started.elapsed()));
    }
    if let Some(path) = junit {
        let xml = report::junit(suite, results).context("while writing JUnit XML")?;
        std::fs::write(path, xml).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if results.iter().all(ActionResult::passed) {
        Outcome::Clean
    } else {
        Outcome::Problem
    })
}

/// Replays a capture against `--target`.
pub fn run(args: ReplayArgs) -> anyhow::Result<Outcome> {
    check_junit(args.junit.as_deref())?;
    let capture = super::read_capture(&args.capture, args.dialect)?;
    let script = Script::of(&capture);
    if script.steps.is_empty() {
        anyhow::bail!(
            "nothing to replay: {} holds {}, and no HTTP request or WebSocket of a client; record the traffic to replay through `wsdiag proxy` (a CI job should not pass on an empty recording)",
            args.capture.display(),
            holds(&capture.events)
        );
    }
    let target = Upstream::parse_as(&args.target, "--target")?;
    let placeholders = redacted_credentials(&script);
    if placeholders > 0 && args.cookie.is_empty() && args.header.is_empty() && args.token.is_none()
    {
        note(&format!(
            "Note: {} is a redacted export: {placeholders} of the credentials it would send are [REDACTED:…] placeholders, which the upstream will refuse (401, 403); pass real ones with --cookie NAME=VALUE, --token TOKEN or --header 'Name: value'.",
            args.capture.display()
        ));
    }
    let mut options = Options {
        target: target.clone(),
        rules: rules(&args.ignore)?,
        timeout: args.timeout,
        pace: args.pace,
        overrides: overrides(&args)?,
    };
    let runtime = runtime()?;
    let started = Instant::now();
    let bar = indicatif::ProgressBar::new(script.steps.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let tick = || bar.inc(1);
    let results = match &args.capture_to {
        None => runtime.block_on(run::run(&script, &options, &tick)),
        Some(path) => {
            let listener =
                runtime.block_on(TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))))?;
            let addr = listener.local_addr()?;
            let recording_args = RecordingArgs {
                capture: Some(path.clone()),
                no_capture: false,
                overwrite: true,
                body_limit: capture.header.body_limit.min(256 << 10),
                dialect: args.dialect,
            };
            let (recorder, recording) = recording::start(
                &recording_args,
                "wsdiag-replay",
                addr.to_string(),
                target.display.clone(),
                None,
                Show::Nothing,
                None,
            )?;
            options.target = Upstream::parse(&format!("http://{addr}"))?;
            let results = runtime.block_on(recording::proxy_while(
                listener,
                ProxyConfig::new(target),
                recorder,
                run::run(&script, &options, &tick),
            ));
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            recording.finish();
            results
        }
    };
    bar.finish_and_clear();
    if !results.is_empty() && results.iter().all(unreachable) {
        anyhow::bail!(
            "nothing reached the target {}: is it running? (every request failed to connect)",
            args.target
        );
    }
    conclude(
        &results,
        &format!("wsdiag replay {}", args.capture.display()),
        args.json,
        args.junit.as_deref(),
        started,
    )
}

/// True when an action failed because the target could not be reached.
fn unreachable(r: &ActionResult) -> bool {
    r.differences.iter().any(|d| {
        (d.at == "response" && d.actual.starts_with("no response"))
            || (d.at == "handshake status" && d.actual != "101" && d.actual.parse::<u16>().is_err())
    })
}

/// Compares two captures.
pub fn diff(args: DiffArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    check_junit(args.junit.as_deref())?;
    let old = super::read_capture(&args.old, Default::default())?;
    let new = super::read_capture(&args.new, Default::default())?;
    let results = capture_diff::diff(&old, &new, &rules(&args.ignore)?);
    conclude(
        &results,
        &format!("wsdiag diff {} {}", args.old.display(), args.new.display()),
        args.json,
        args.junit.as_deref(),
        started,
    )
}

/// Serves the upstream side of a capture until Ctrl-C.
pub fn mock(args: MockArgs) -> anyhow::Result<Outcome> {
    let capture = super::read_capture(&args.capture, args.dialect)?;
    let rules = rules(&args.ignore)?;
    let runtime = runtime()?;
    let listener = runtime
        .block_on(TcpListener::bind(args.listen))
        .with_context(|| format!("cannot listen on {}: try --listen 127.0.0.1:0", args.listen))?;
    let addr = listener.local_addr()?;
    let signal = {
        let _context = runtime.enter();
        StopSignal::install()?
    };
    say(&format!(
        "wsdiag mock: serving the upstream side of {} on http://{addr} (Ctrl-C stops)",
        args.capture.display()
    ));
    let notes: mock_server::Notes = Arc::new(|line: String| note(&line));
    let stop = tokio_util::sync::CancellationToken::new();
    runtime.block_on(async {
        let server = tokio::spawn({
            let stop = stop.clone();
            async move { mock_server::serve(listener, &capture, rules, notes, stop).await }
        });
        signal.wait().await;
        stop.cancel();
        let _ = server.await;
    });
    Ok(Outcome::Clean)
}
