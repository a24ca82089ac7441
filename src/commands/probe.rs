//! `wsdiag probe`: the same message both ways through a recording proxy,
//! then the diagnosis of that capture.

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::net::TcpListener;

use super::recording::{self, Show};
use super::{runtime, Outcome};
use crate::cli::ProbeArgs;
use crate::diagnose::{self, report};
use crate::probe::{self, Plan};
use crate::proxy::{ProxyConfig, Upstream};
use crate::sink::console::say;
use crate::sink::filter::Filter;

/// Probes both send paths and prints the diagnosis.
pub fn run(args: ProbeArgs) -> anyhow::Result<Outcome> {
    let upstream = Upstream::parse(&args.upstream)?;
    let scheme = if upstream.tls { "https" } else { "http" };
    let authority = upstream.authority.to_string();
    let plan = Plan {
        ws_path: args.ws_path.clone(),
        rest_path: args.rest_path.clone(),
        ws_payload: probe::fill(&args.ws_template, &args.message, "--ws-template")?,
        rest_body: probe::fill(&args.rest_template, &args.message, "--rest-template")?,
        message: args.message.clone(),
        headers: probe::headers(
            &args.cookie,
            &args.header,
            &authority,
            &format!("{scheme}://{authority}"),
        )?,
        window: args.window,
    };
    let runtime = runtime()?;
    if let Some(unreachable) = runtime.block_on(upstream.unreachable()) {
        anyhow::bail!("{unreachable}: the probe needs the backend running");
    }
    let listener = runtime
        .block_on(TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))))
        .context("while opening the probe's proxy on a loopback port")?;
    let addr = listener.local_addr()?;
    let console = if args.quiet {
        Show::Nothing
    } else {
        Show::Events(Filter::default())
    };
    let (recorder, recording) = recording::start(
        &args.recording,
        "wsdiag-probe",
        addr.to_string(),
        upstream.display.clone(),
        None,
        console,
        None,
    )?;
    say(&format!(
        "wsdiag probe: {:?} over ws://…{} and over POST {}, through a proxy on {addr}\n",
        args.message, plan.ws_path, plan.rest_path
    ));
    let seen = runtime.block_on(recording::proxy_while(
        listener,
        ProxyConfig::new(upstream),
        recorder,
        probe::send_both_ways(addr, &plan),
    ));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    let path = recording.capture.clone();
    recording.finish();
    if seen.ws_status.is_none() && seen.rest_status.is_none() {
        anyhow::bail!(
            "neither path reached the upstream {}: is it running?",
            args.upstream
        );
    }
    let Some(path) = path else {
        say("(--no-capture: nothing to diagnose)");
        return Ok(Outcome::Clean);
    };
    let options = diagnose::Options {
        delivery_window: args.window,
        ..diagnose::Options::default()
    };
    let diagnosis = super::diagnose::diagnose_file(&path, &options)?;
    say("");
    say(&report::render(&diagnosis, args.format));
    Ok(if diagnosis.found_failures() {
        Outcome::Problem
    } else {
        Outcome::Clean
    })
}
