//! `wsdiag diagnose CAPTURE`: the REST-against-WebSocket diagnosis of a
//! capture, optionally with the upstream's description of the endpoint (DRF
//! `OPTIONS`, or OpenAPI).

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{runtime, Outcome};
use crate::capture::{self, Capture};
use crate::cli::DiagnoseArgs;
use crate::diagnose::{self, report, Introspection, Outcome as AttemptOutcome, SendPath};
use crate::event::{EventKind, Flows, HttpRequest};
use crate::export::{self, redact};
use crate::proxy::Upstream;
use crate::sink::console::say;
use crate::stacks::{self, drf, openapi, SchemaSource, StackId};

/// Diagnoses a capture and prints the report.
pub fn run(args: DiagnoseArgs) -> anyhow::Result<Outcome> {
    let capture = super::read_capture(&args.capture, args.dialect)?;
    let mut options = diagnose::Options {
        delivery_window: args.window,
        ..diagnose::Options::for_capture(&capture.header)
    };
    if args.introspect {
        let upstream = args
            .upstream
            .clone()
            .unwrap_or_else(|| capture.header.upstream.clone());
        options.introspection = runtime()?.block_on(introspect(&capture, &upstream))?;
        if options.introspection.is_none() {
            say("(--introspect: the upstream describes no body for the failing endpoint: no DRF OPTIONS answer, no OpenAPI document where its framework publishes one)");
        }
    }
    // The Markdown and JSON reports are for sharing: they are made from
    // the redacted events, as `wsdiag export` makes its files.
    let shared = matches!(args.format, report::Format::Markdown | report::Format::Json);
    let rules = (shared && !args.no_redact).then(|| redact::Rules::new(Vec::new(), Vec::new()));
    let diagnosis = {
        let what = format!("diagnosing {} events", capture.events.len());
        let _progress = super::progress::Progress::working(&what, capture.events.len());
        let selection = export::Selection::default();
        let events = export::prepare(&capture, &selection, rules.as_ref()).events;
        diagnose::run(&events, &options)
    };
    let rendered = report::render(&diagnosis, args.format);
    match (args.format, shared && args.no_redact) {
        (report::Format::Json, redacted_not) => {
            let mut value: serde_json::Value =
                serde_json::from_str(&rendered).context("while writing the JSON report")?;
            value["redacted"] = serde_json::Value::Bool(!redacted_not);
            say(&serde_json::to_string_pretty(&value)?);
        }
        (report::Format::Markdown, true) => say(&format!(
            "> **Not redacted** (`--no-redact`): this report contains cookies, tokens and passwords as they were sent.\n\n{rendered}"
        )),
        _ => say(&rendered),
    }
    if let (Some(why), report::Format::Text | report::Format::Markdown) =
        (capture.partial(), args.format)
    {
        let what = if diagnosis.found_failures() {
            "what it holds"
        } else {
            "no send path failed in what it holds, which is not the whole session"
        };
        say(&format!(
            "\nThe capture is partial: {why}. The diagnosis covers {what}."
        ));
    }
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
    let options = diagnose::Options {
        started_at: Some(capture.header.started_at),
        ..options.clone()
    };
    Ok(diagnose::run(&capture.events, &options))
}

/// Asks the upstream to describe the first failing REST endpoint, where
/// its stack publishes such a description (`stacks::schema_sources`): DRF's
/// `OPTIONS` on the endpoint, or an OpenAPI document; the first that
/// describes the endpoint's body wins. Sent with the failing request's
/// credentials (DRF only describes the fields to users who may write).
async fn introspect(capture: &Capture, upstream: &str) -> anyhow::Result<Option<Introspection>> {
    let diagnosis = diagnose::run(&capture.events, &diagnose::Options::default());
    let Some(failed) = diagnosis
        .attempts
        .iter()
        .find(|a| a.path == SendPath::Rest && matches!(a.outcome, AttemptOutcome::Failed { .. }))
    else {
        say("(--introspect: no REST write failed in this capture, so there is no endpoint to ask about)");
        return Ok(None);
    };
    let flows = Flows::of(&capture.events);
    let request = flows.at_seq(failed.seq).and_then(|e| match &e.kind {
        EventKind::HttpRequest(r) => Some(r),
        _ => None,
    });
    let stack = request.map_or(StackId::Generic, |r| {
        match diagnosis.errors.get(&r.exchange).map(|e| e.stack()) {
            Some(stack) if stack != StackId::Generic => stack,
            _ => flows
                .response(r.exchange)
                .map_or(StackId::Generic, |(_, resp)| stacks::detect(&resp.headers)),
        }
    });
    let upstream = Upstream::parse(upstream)?;
    let connector = crate::proxy::upstream::connector(false, std::time::Duration::from_secs(10));
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let method = failed.method.as_deref().unwrap_or("POST");
    let sources = stacks::schema_sources(stack);
    if sources.is_empty() {
        say(&format!(
            "(--introspect: {stack:?} publishes no description of its endpoints that wsdiag can read)"
        ));
        return Ok(None);
    }
    let mut reached = false;
    for source in sources {
        let (verb, path) = match source {
            SchemaSource::Options => (http::Method::OPTIONS, failed.endpoint.as_str()),
            SchemaSource::OpenApi(path) => (http::Method::GET, *path),
        };
        let uri = upstream.uri(path)?;
        let mut builder = http::Request::builder().method(verb).uri(uri);
        for (name, value) in request.map(credentials).unwrap_or_default() {
            builder = builder.header(name, value);
        }
        let Ok(response) = client.request(builder.body(Empty::new())?).await else {
            continue;
        };
        reached = true;
        if !response.status().is_success() {
            continue;
        }
        let body = response.into_body().collect().await?.to_bytes();
        let Ok(text) = std::str::from_utf8(&body) else {
            continue;
        };
        let found = match source {
            SchemaSource::Options => drf::options_schema(text),
            SchemaSource::OpenApi(path) => {
                openapi::write_schema(text, path, method, &failed.endpoint)
            }
        };
        if found.is_some() {
            return Ok(found);
        }
    }
    if !reached {
        anyhow::bail!(
            "--introspect: nothing answers at {}; is the upstream running? (--upstream URL names another)",
            upstream.display
        );
    }
    Ok(None)
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
