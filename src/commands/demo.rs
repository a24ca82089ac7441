//! `wsdiag demo`: the sample chat backend, the proxy in front of it, and the
//! scripted client, all in one process; or `--backend-only`.

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::recording::{self, Show};
use super::{runtime, Outcome, StopSignal};
use crate::cli::DemoArgs;
use crate::demo::{self, chat};
use crate::diagnose::{self, report};
use crate::proxy::{ProxyConfig, Upstream};
use crate::sink::console::say;
use crate::sink::filter::Filter;

/// Runs the demo scenario (or just the backend).
pub fn run(args: DemoArgs) -> anyhow::Result<Outcome> {
    let runtime = runtime()?;
    if args.backend_only {
        let addr = args
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8000)));
        return runtime.block_on(backend_only(addr));
    }
    let backend = runtime.block_on(bind(SocketAddr::from(([127, 0, 0, 1], 0))))?;
    let backend_addr = backend.local_addr()?;
    let proxy_listener = runtime.block_on(bind(
        args.listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
    ))?;
    let proxy_addr = proxy_listener.local_addr()?;
    let upstream = Upstream::parse(&format!("http://{backend_addr}"))?;
    let console = if args.quiet {
        Show::Nothing
    } else {
        Show::Events(Filter::default())
    };
    let (recorder, recording) = recording::start(
        &args.recording,
        "wsdiag-demo",
        proxy_addr.to_string(),
        upstream.display.clone(),
        None,
        console,
        None,
    )?;
    say(&format!(
        "wsdiag demo: sample chat backend on http://{backend_addr}, proxy on http://{proxy_addr}"
    ));
    say("The scripted client sends \"cc\" over the WebSocket, then over REST:\n");

    let signal = if args.keep_running {
        let _context = runtime.enter();
        Some(StopSignal::install()?)
    } else {
        None
    };
    let stop = CancellationToken::new();
    let outcome = runtime.block_on(async {
        let backend_task = tokio::spawn(demo::serve(backend, stop.clone()));
        let config = ProxyConfig::new(upstream);
        let outcome = recording::proxy_while(proxy_listener, config, recorder, async {
            let outcome = demo::client::run(proxy_addr).await;
            if let (Some(signal), true) = (signal, outcome.is_ok()) {
                say(&keep_running_help(backend_addr, proxy_addr));
                signal.wait().await;
            }
            outcome
        })
        .await;
        stop.cancel();
        let _ = backend_task.await;
        outcome
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    say("");
    let capture = recording.capture.clone();
    recording.finish();
    let outcome = outcome.context("the demo's scripted client failed")?;
    say(&format!(
        "\nWebSocket send: {}. REST send: HTTP {}. Messages saved: {}.",
        if outcome.ws_delivered {
            "saved and broadcast to alice and bob"
        } else {
            "NOT delivered"
        },
        outcome.rest_status,
        outcome.listed
    ));
    if let Some(path) = capture {
        let capture = crate::capture::read_path(&path)?;
        let diagnosis = diagnose::run(
            &capture.events,
            &diagnose::Options::for_capture(&capture.header),
        );
        say(&format!(
            "\nDiagnosis (wsdiag diagnose {}):\n",
            path.display()
        ));
        say(&report::render(&diagnosis, report::Format::Text));
    }
    Ok(Outcome::Clean)
}

async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot listen on {addr}: is another program using that port? Try --listen 127.0.0.1:0"
        )
    })
}

async fn backend_only(addr: SocketAddr) -> anyhow::Result<Outcome> {
    let signal = StopSignal::install()?;
    let listener = bind(addr).await?;
    let addr = listener.local_addr()?;
    say(&format!(
        "Sample chat backend on http://{addr} (Ctrl-C stops it)."
    ));
    say(&format!(
        "Try it through the proxy:  wsdiag proxy --upstream http://{addr}"
    ));
    say(&try_it(addr));
    let stop = CancellationToken::new();
    let server = tokio::spawn(demo::serve(listener, stop.clone()));
    signal.wait().await;
    stop.cancel();
    let _ = server.await;
    Ok(Outcome::Clean)
}

fn keep_running_help(backend: SocketAddr, proxy: SocketAddr) -> String {
    format!(
        "\nStill running (Ctrl-C stops): backend http://{backend}, proxy http://{proxy}.\n{}",
        try_it(proxy)
    )
}

/// How to talk to the sample chat at `addr` by hand.
fn try_it(addr: SocketAddr) -> String {
    let [alice, _] = chat::USERS;
    format!(
        "  WebSocket: ws://{addr}/ws/chat/{c}/?token={t}  then send {{\"type\":\"chat_message\",\"message\":\"cc\"}}\n  REST:      curl -i -X POST -H 'Content-Type: application/json' -H 'Cookie: sessionid={s}' -d '{{\"message\":\"cc\"}}' http://{addr}/api/conversations/{c}/messages/",
        c = chat::CONVERSATION,
        t = alice.token,
        s = alice.session,
    )
}
