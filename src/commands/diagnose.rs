//! `wsdiag diagnose CAPTURE`: the REST-against-WebSocket diagnosis of a
//! capture, optionally with the upstream's serializer description.

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{runtime, Outcome};
use crate::capture::{self, Capture};
use crate::cli::DiagnoseArgs;
use crate::diagnose::{self, report, Introspection, Outcome as AttemptOutcome, SendPath};
use crate::event::{EventKind, HttpRequest};
use crate::proxy::Upstream;
use crate::sink::console::say;

/// Diagnoses a capture and prints the report.
pub fn run(args: DiagnoseArgs) -> anyhow::Result<Outcome> {
    let capture = super::read_capture(&args.capture, args.dialect)?;
    let mut options = diagnose::Options {
        delivery_window: args.window,
        ..diagnose::Options::default()
    };
    if args.introspect {
        let upstream = args
            .upstream
            .clone()
            .unwrap_or_else(|| capture.header.upstream.clone());
        options.introspection = runtime()?.block_on(introspect(&capture, &upstream))?;
        if options.introspection.is_none() {
            say("(--introspect: the upstream's OPTIONS answer describes no serializer fields)");
        }
    }
    let diagnosis = diagnose::run(&capture.events, &options);
    say(&report::render(&diagnosis, args.format));
    Ok(if diagnosis.found_failures() {
        Outcome::Problem
    } else {
        Outcome::Clean
    })
}

/// Reads the capture at `path` and diagnoses it.
pub(super) fn diagnose_file(
    path: &std::path::Path,
    options: &diagnose::Options,
) -> anyhow::Result<diagnose::Diagnosis> {
    let capture = capture::read_path(path)?;
    Ok(diagnose::run(&capture.events, options))
}

/// Asks the upstream `OPTIONS` on the first failing REST endpoint, with that
/// request's credentials (DRF only describes the fields to users who may
/// write).
async fn introspect(capture: &Capture, upstream: &str) -> anyhow::Result<Option<Introspection>> {
    let diagnosis = diagnose::run(&capture.events, &diagnose::Options::default());
    let Some(failed) = diagnosis
        .attempts
        .iter()
        .find(|a| a.path == SendPath::Rest && matches!(a.outcome, AttemptOutcome::Failed { .. }))
    else {
        return Ok(None);
    };
    let request = capture.events.iter().find_map(|e| match &e.kind {
        EventKind::HttpRequest(r) if e.seq == failed.seq => Some(r),
        _ => None,
    });
    let upstream = Upstream::parse(upstream)?;
    let uri = upstream.uri(&failed.endpoint)?;
    let mut builder = http::Request::builder()
        .method(http::Method::OPTIONS)
        .uri(uri.clone());
    for (name, value) in request.map(credentials).unwrap_or_default() {
        builder = builder.header(name, value);
    }
    let connector = crate::proxy::upstream::connector(false, std::time::Duration::from_secs(10));
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let response = client
        .request(builder.body(Empty::new())?)
        .await
        .with_context(|| format!("--introspect: OPTIONS {uri} failed; is the upstream running? (--upstream URL names another)"))?;
    let body = response.into_body().collect().await?.to_bytes();
    Ok(std::str::from_utf8(&body)
        .ok()
        .and_then(Introspection::parse))
}

/// The headers that authenticate a request.
fn credentials(request: &HttpRequest) -> Vec<(String, String)> {
    request
        .headers
        .iter()
        .filter(|(n, _)| matches!(n.as_str(), "cookie" | "authorization" | "host" | "origin"))
        .cloned()
        .collect()
}
