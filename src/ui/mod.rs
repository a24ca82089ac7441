//! The live web viewer: `wsdiag proxy --ui` and `wsdiag show CAPTURE --ui`.
//!
//! A small HTTP server on loopback serves an embedded page (plain
//! JavaScript, no build step) and its data, all read from the capture file:
//! the event feed tails the file ([`feed`]), the diagnosis, an exchange's
//! parsed error and the exports read it whole. Nothing is kept in memory
//! for the page but the last diagnosis's answer, and a slow or closed
//! browser tab only slows its own feed: forwarding and recording never
//! wait for it. While a proxy records, the diagnosis is made again as the
//! capture grows, under the live diagnosis's cost budget
//! ([`crate::diagnose::live::COST_FACTOR`]): at most about 5 % of a core
//! however large the capture, and the page gets only what its panel shows
//! ([`panel`]). Between two such diagnoses the page shows
//! the live diagnosis's findings, which the feed carries within a flush
//! of their events ([`crate::sink::finding_log`]): the panel follows a
//! running proxy incrementally, whatever the capture's size.
//!
//! Every request but the static assets needs the access token from the URL
//! wsdiag prints, so other local users cannot read the traffic.

mod feed;
pub mod panel;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::capture::{self, Capture};
use crate::diagnose::{self, ErrorBody};
use crate::event::{EventKind, Flows};
use crate::export::ExportFormat;
use crate::export::{self, redact, Selection};
use crate::proxy::BoxError;

/// The body of every UI response.
type UiBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// What the viewer shows.
#[derive(Debug, Clone)]
pub struct Source {
    /// The capture file.
    pub capture: PathBuf,
    /// True while a proxy is still recording into it: the feed follows
    /// the file until its trailer.
    pub live: bool,
    /// The live diagnosis's findings, when the proxy recording the capture
    /// runs in this process: the feed sends them as they come.
    pub findings: Option<crate::sink::finding_log::FindingLog>,
}

/// A random access token for the viewer's URL.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    // Without the OS's randomness, fall back to the process's keyed hasher:
    // the token only has to be unguessable by other local users.
    if getrandom::fill(&mut bytes).is_err() {
        use std::hash::{BuildHasher, Hasher};
        for chunk in bytes.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(std::process::id().into());
            chunk.copy_from_slice(&h.finish().to_le_bytes()[..chunk.len()]);
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The URL to open.
pub fn url(listener: &TcpListener, token: &str) -> std::io::Result<String> {
    Ok(format!("http://{}/?token={token}", listener.local_addr()?))
}

/// Serves the viewer on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    source: Source,
    token: String,
    shutdown: CancellationToken,
) {
    let state = Arc::new(State {
        source,
        token,
        shutdown: shutdown.clone(),
        diagnosis: tokio::sync::Mutex::new(None),
    });
    let handle = move |req| {
        let state = state.clone();
        async move { route(req, &state).await }
    };
    crate::http_server::serve(listener, shutdown, TaskTracker::new(), "web viewer", handle).await;
}

struct State {
    source: Source,
    token: String,
    shutdown: CancellationToken,
    /// The last diagnosis: the page asks every few seconds, and a large
    /// capture takes a while.
    diagnosis: tokio::sync::Mutex<Option<Diagnosed>>,
}

/// A diagnosis's answer, the capture's length it was made from, and when
/// the next may start.
struct Diagnosed {
    len: u64,
    json: Bytes,
    not_before: tokio::time::Instant,
}

async fn route(req: Request<Incoming>, state: &State) -> Response<UiBody> {
    let path = req.uri().path().to_owned();
    if req.method() != Method::GET {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "the viewer only answers GET\n",
        );
    }
    match path.as_str() {
        "/app.js" => asset(APP_JS, "text/javascript; charset=utf-8"),
        "/app.css" => asset(APP_CSS, "text/css; charset=utf-8"),
        _ if !authorized(&req, &state.token) => text(
            StatusCode::FORBIDDEN,
            "wsdiag viewer: open the URL wsdiag printed, with its ?token=...\n",
        ),
        "/" => {
            let mut page = asset(INDEX_HTML, "text/html; charset=utf-8");
            page.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
                ),
            );
            page
        }
        "/api/events" => feed::response(&state.source, state.shutdown.clone()),
        "/api/diagnosis" => cached_diagnosis(state).await,
        "/api/export/har" => export_response(&state.source.capture, ExportFormat::Har).await,
        "/api/export/markdown" => {
            export_response(&state.source.capture, ExportFormat::Markdown).await
        }
        "/api/export/jsonl" => export_response(&state.source.capture, ExportFormat::Jsonl).await,
        _ => {
            let id = |prefix: &str| {
                path.strip_prefix(prefix)
                    .and_then(|n| n.parse::<u64>().ok())
            };
            match (id("/api/exchange/"), id("/api/message/")) {
                (Some(n), _) => with_capture(&state.source.capture, move |c| exchange(c, n)).await,
                (_, Some(seq)) => {
                    with_capture(&state.source.capture, move |c| message(c, seq)).await
                }
                _ => text(StatusCode::NOT_FOUND, "no such page\n"),
            }
        }
    }
}

/// True when the query carries the session's token.
fn authorized<B>(req: &Request<B>, token: &str) -> bool {
    let query = req.uri().query().unwrap_or_default();
    form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "token" && v == token)
}

/// Reads the capture (on a blocking thread: it can be large) and answers
/// with `f`'s JSON.
async fn with_capture(
    path: &Path,
    f: impl FnOnce(&Capture) -> Value + Send + 'static,
) -> Response<UiBody> {
    match read_with(path, f).await {
        Ok(value) => json_response(&value),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n")),
    }
}

/// `f` of the capture at `path`, read on a blocking thread.
async fn read_with<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce(&Capture) -> T + Send + 'static,
) -> Result<T, String> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || capture::read_path(&path).map(|c| f(&c)))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// The diagnosis, made again only when the capture has grown, and not
/// before the last one's cost budget has run out: after a diagnosis that
/// took `d`, the next waits until [`COST_FACTOR`] × `d` has passed (the
/// request is held, then answered with the capture as it is by then), so a
/// viewer open on a proxy that records for hours costs at most about 5 %
/// of a core (100,000 events: 0.36 s, then at most one every 7 s). One at
/// a time: a second request waits for the first and gets its answer.
///
/// [`COST_FACTOR`]: crate::diagnose::live::COST_FACTOR
async fn cached_diagnosis(state: &State) -> Response<UiBody> {
    let mut cached = state.diagnosis.lock().await;
    let capture_len = || async {
        tokio::fs::metadata(&state.source.capture)
            .await
            .map(|m| m.len())
            .unwrap_or(0)
    };
    let mut len = capture_len().await;
    if let Some(last) = cached.as_ref() {
        if last.len == len {
            return respond(StatusCode::OK, "application/json", last.json.clone());
        }
        tokio::select! {
            () = tokio::time::sleep_until(last.not_before) => {}
            () = state.shutdown.cancelled() => {}
        }
        len = capture_len().await;
    }
    let started = tokio::time::Instant::now();
    match read_with(&state.source.capture, diagnosis).await {
        Ok(json) => {
            let json = Bytes::from(json);
            let not_before = started + started.elapsed() * (1 + crate::diagnose::live::COST_FACTOR);
            *cached = Some(Diagnosed {
                len,
                json: json.clone(),
                not_before,
            });
            respond(StatusCode::OK, "application/json", json)
        }
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n")),
    }
}

/// The diagnosis panel's answer ([`panel`]): the whole capture's
/// diagnosis (what `wsdiag diagnose --format json --no-redact` finds; the
/// viewer, behind its token, shows the capture as recorded), cut to what
/// the page shows, serialized straight to bytes.
fn diagnosis(capture: &Capture) -> Vec<u8> {
    let diagnosis = crate::diagnose::run(
        &capture.events,
        &crate::diagnose::Options::for_capture(&capture.header),
    );
    let covers = capture.events.last().map_or(0, |e| e.seq);
    serde_json::to_vec(&panel::Panel::of(&diagnosis, covers)).unwrap_or_else(|_| b"null".to_vec())
}

/// A WebSocket message as its dialect reads it: the dialect and the
/// application payload without the envelope (`null` when it has none).
fn message(capture: &Capture, seq: u64) -> Value {
    let mut dialects = crate::dialects::Dialects::default();
    for event in &capture.events {
        dialects.observe(event);
        if event.seq != seq {
            continue;
        }
        let EventKind::WsMessage(m) = &event.kind else {
            break;
        };
        return json!({
            "seq": seq,
            "dialect": dialects.of_message(event.conn, m),
            "payload": dialects.payload(event.conn, m),
        });
    }
    json!({ "seq": seq, "dialect": null, "payload": null })
}

/// The parsed error of an exchange's response, if it failed.
fn exchange(capture: &Capture, id: u64) -> Value {
    let parsed = Flows::of(&capture.events)
        .response(id)
        .and_then(|(_, r)| ErrorBody::parse(r.status, &r.body));
    let error = parsed.map(|body| {
        let (kind, exception) = match &body {
            ErrorBody::Django(d) => ("django", Some(d.exception_type.as_str())),
            ErrorBody::Generic500 => ("generic_500", None),
            ErrorBody::CsrfPage(_) => ("csrf", None),
            ErrorBody::Drf(_) => ("drf", None),
            ErrorBody::Report(r) => ("report", r.exception.as_deref()),
            ErrorBody::Other(_) => ("other", None),
        };
        json!({
            "summary": body.summary(),
            "kind": kind,
            "stack": body.stack(),
            "exception_type": exception,
            "exception_value": body.message(),
            "frame": body.location(),
        })
    });
    json!({ "exchange": id, "error": error })
}

/// An export of the whole capture, always redacted, as a download.
async fn export_response(path: &Path, format: ExportFormat) -> Response<UiBody> {
    let name = path.display().to_string();
    let rendered = read_with(path, move |capture| {
        let rules = redact::Rules::new(Vec::new(), Vec::new());
        let selected = export::prepare(capture, &Selection::default(), Some(&rules));
        let diagnosis = diagnose::run(
            &selected.events,
            &diagnose::Options::for_capture(&capture.header),
        );
        export::render(
            &capture.header,
            &selected,
            &diagnosis,
            format,
            "wsdiag viewer",
            &name,
        )
    })
    .await;
    let export = match rendered {
        Ok(Ok(export)) => export,
        Ok(Err(e)) => return text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n")),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n")),
    };
    let (name, content_type) = match format {
        ExportFormat::Har => ("wsdiag.har", "application/json"),
        ExportFormat::Markdown => ("wsdiag-report.md", "text/markdown; charset=utf-8"),
        ExportFormat::Jsonl => ("wsdiag-redacted.jsonl", "application/x-ndjson"),
    };
    let mut response = respond(StatusCode::OK, content_type, export.bytes);
    let disposition = format!("attachment; filename=\"{name}\"");
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

fn asset(body: &'static str, content_type: &'static str) -> Response<UiBody> {
    respond(StatusCode::OK, content_type, body)
}

fn json_response(value: &Value) -> Response<UiBody> {
    respond(StatusCode::OK, "application/json", value.to_string())
}

fn text(status: StatusCode, body: &str) -> Response<UiBody> {
    respond(status, "text/plain; charset=utf-8", body.to_owned())
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<UiBody> {
    let mut response = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}
