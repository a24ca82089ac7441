//! Acting a script out against a target, and comparing the answers.
//!
//! Steps run in recorded order. A REST step waits for its answer; a
//! WebSocket message is sent once the upstream messages that preceded it on
//! its connection in the recording have arrived (or the timeout passed).
//! Every socket is read by a task of its own, so connections run
//! concurrently as they did: an observer sees the sender's broadcast. At the
//! end, each socket's messages are compared with the recording, in any
//! order.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderName, HeaderValue, Request};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use super::compare::{comparable_message, diff_payloads, match_unordered, Difference, Rules};
use super::correlate::Correlation;
use super::polling;
use super::script::{Expected, Script, Socket, Step};
use super::{ActionResult, Kind};
use crate::diagnose::error_body::ErrorBody;
use crate::event::{header, Headers, HttpRequest, Opcode, Payload};
use crate::proxy::upstream::{self, Connector, Upstream};

/// How fast to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pace {
    /// As fast as the answers come.
    Fast,
    /// Keep the recorded gaps between the client's actions.
    Recorded,
}

/// Values the user overrides for the whole replay.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `name=value` cookies that replace (or join) the recorded ones.
    pub cookies: Vec<(String, String)>,
    /// Headers that replace the recorded ones.
    pub headers: Vec<(String, String)>,
    /// A token for `?token=` and `Authorization: Token|Bearer`.
    pub token: Option<String>,
}

/// Everything a replay needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to replay.
    pub target: Upstream,
    /// What to ignore when comparing.
    pub rules: Rules,
    /// How long to wait for an expected answer.
    pub timeout: Duration,
    /// Fast or as recorded.
    pub pace: Pace,
    /// The user's overrides.
    pub overrides: Overrides,
}

/// A replayed socket's sending half, shared with its reader, which
/// answers the upstream's heartbeats.
type Sender =
    Arc<tokio::sync::Mutex<SplitSink<WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>, Message>>>;

/// A replayed socket: its sending half and what its reader collected.
struct Live {
    sender: Option<Sender>,
    received: Arc<Mutex<Vec<(Opcode, Payload)>>>,
    count: watch::Receiver<usize>,
    status: u16,
    error: Option<String>,
    /// How many messages it had when the replay began closing sockets.
    closing_mark: Option<usize>,
    /// The recorded Engine.IO session it upgrades, whose long polls count
    /// as its messages too.
    session: Option<String>,
}

/// Everything that changes while a replay runs.
struct Replay<'a> {
    options: &'a Options,
    client: Client<Connector, Full<Bytes>>,
    connector: upstream::Dialer,
    correlation: Correlation,
    live: BTreeMap<u64, Live>,
    polls: polling::Polls,
    results: Vec<ActionResult>,
    stop: CancellationToken,
}

/// Replays `script`; `progress` is called after each step.
pub async fn run(
    script: &Script,
    options: &Options,
    progress: &(dyn Fn() + Sync),
) -> Vec<ActionResult> {
    let connector = upstream::connector(false, options.timeout);
    let mut replay = Replay {
        options,
        client: Client::builder(TokioExecutor::new()).build(connector.clone()),
        connector: upstream::Dialer::new(connector, options.timeout),
        correlation: Correlation::default(),
        live: BTreeMap::new(),
        polls: polling::Polls::default(),
        results: Vec::new(),
        stop: CancellationToken::new(),
    };
    let mut last_t = script.steps.first().map_or(0, |s| s.t_us);
    for timed in &script.steps {
        if options.pace == Pace::Recorded {
            tokio::time::sleep(Duration::from_micros(timed.t_us.saturating_sub(last_t))).await;
        }
        last_t = timed.t_us;
        replay.caught_up(&timed.waits, &timed.polled).await;
        match &timed.step {
            Step::Rest { request, expected } => {
                replay.rest(timed.seq, request, expected.as_ref()).await
            }
            Step::Open { conn } => {
                if let Some(socket) = script.sockets.get(conn) {
                    replay.open(*conn, socket).await;
                }
            }
            Step::Send {
                conn,
                opcode,
                payload,
                after,
            } => {
                // Engine.IO's probe starts the upgrade (a poll refused from
                // then on is the upgrade at work); its upgrade packet ends
                // it (no poll is sent after it).
                let uri = script.sockets.get(conn).map(|s| s.request.uri.as_str());
                if let Some(sid) = uri.and_then(super::script::session_of) {
                    match payload.text() {
                        Some("2probe") => replay.polls.upgrading(sid),
                        Some("5") => replay.polls.upgrade(sid),
                        _ => {}
                    }
                }
                replay.send(*conn, *opcode, payload, *after).await;
            }
            Step::Close { conn, code, reason } => {
                let expected = script
                    .sockets
                    .get(conn)
                    .map_or(0, |s| script.session_received(s).len());
                replay.close(*conn, *code, reason, expected).await;
            }
        }
        progress();
    }
    replay.finish(script).await
}

impl Replay<'_> {
    /// The recorded headers, correlated, overridden, for the target.
    fn headers(&self, recorded: &Headers) -> Vec<(String, String)> {
        let recorded_host = header(recorded, "host").map(str::to_owned);
        let target = self.options.target.authority.as_str();
        let skip = [
            "host",
            "content-length",
            "sec-websocket-key",
            "sec-websocket-extensions",
            "sec-websocket-version",
            "connection",
            "upgrade",
            "transfer-encoding",
            "keep-alive",
        ];
        let mut out: Vec<(String, String)> = self
            .correlation
            .apply_headers(recorded)
            .into_iter()
            .filter(|(n, _)| !skip.contains(&n.as_str()))
            .map(|(n, v)| {
                // Origin and Referer named the recorded host; a fresh backend
                // compares them with the Host it gets (CSRF checks).
                let v = match (&recorded_host, n.as_str()) {
                    (Some(h), "origin" | "referer") => v.replace(h.as_str(), target),
                    _ => v,
                };
                (n, v)
            })
            .collect();
        out.push(("host".to_owned(), target.to_owned()));
        let o = &self.options.overrides;
        if !o.cookies.is_empty() {
            out = with_cookies(out, &o.cookies);
        }
        for (name, value) in &o.headers {
            out.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            out.push((name.to_ascii_lowercase(), value.clone()));
        }
        if let Some(token) = &o.token {
            for (n, v) in out.iter_mut().filter(|(n, _)| n == "authorization") {
                if let Some((scheme, _)) = v.split_once(' ') {
                    *v = format!("{scheme} {token}");
                }
                let _ = n;
            }
        }
        out
    }

    /// The recorded path and query, correlated and overridden.
    fn uri(&self, recorded: &str) -> String {
        let uri = self.correlation.apply(recorded);
        match (&self.options.overrides.token, uri.split_once('?')) {
            (Some(token), Some((path, query))) => {
                let query: Vec<String> = query
                    .split('&')
                    .map(|p| {
                        if p.starts_with("token=") {
                            format!("token={token}")
                        } else {
                            p.to_owned()
                        }
                    })
                    .collect();
                format!("{path}?{}", query.join("&"))
            }
            _ => uri,
        }
    }

    async fn rest(&mut self, seq: u64, request: &HttpRequest, expected: Option<&Expected>) {
        if let Some(sid) = polling::long_poll(request) {
            return self.long_poll(sid, request);
        }
        self.polls.posting(request);
        let started = Instant::now();
        let name = format!(
            "REST {} {}",
            request.method,
            request.uri.split('?').next().unwrap_or("")
        );
        let live = self.call(request).await;
        let mut differences = Vec::new();
        match (expected, &live) {
            (
                Some(Expected::Response {
                    status,
                    headers,
                    body,
                }),
                Ok((live_status, live_headers, live_body)),
            ) => {
                self.correlation
                    .learn(headers, body.text(), live_headers, live_body.text());
                if polling::is_polling(request) && request.method == "GET" {
                    self.polls.opened(&request.uri, body, live_body);
                }
                differences = if polling::is_polling(request) {
                    compare_polling(
                        &self.options.rules,
                        &request.uri,
                        (*status, body),
                        (*live_status, live_body),
                    )
                } else {
                    compare_response(
                        &self.options.rules,
                        (*status, headers, body),
                        (*live_status, live_headers, live_body),
                    )
                };
            }
            (Some(Expected::Response { status, .. }), Err(e)) => {
                differences.push(Difference {
                    at: "response".into(),
                    expected: format!("status {status}"),
                    actual: format!("no response: {e}"),
                });
            }
            (Some(Expected::Failed(why)), Ok((live_status, ..))) => {
                differences.push(Difference {
                    at: "response".into(),
                    expected: format!("a failure ({why})"),
                    actual: format!("status {live_status}"),
                });
            }
            _ => {}
        }
        self.results.push(ActionResult {
            kind: Kind::Rest,
            name,
            seq,
            differences,
            duration: started.elapsed(),
            ..Default::default()
        });
    }

    async fn call(&self, request: &HttpRequest) -> Result<(u16, Headers, Payload), String> {
        let request = self.request_for(request)?;
        fetch(self.client.clone(), self.options.timeout, request).await
    }

    /// The recorded request, correlated and overridden, for the target.
    fn request_for(&self, request: &HttpRequest) -> Result<Request<Full<Bytes>>, String> {
        let uri = self
            .options
            .target
            .uri(&self.uri(&request.uri))
            .map_err(|e| e.to_string())?;
        let mut builder = Request::builder().method(request.method.as_str()).uri(uri);
        for (name, value) in self.headers(&request.headers) {
            builder = builder.header(name, value);
        }
        let body = request
            .body
            .text()
            .map(|t| Bytes::from(self.correlation.apply(t)))
            .unwrap_or_else(|| request.body.bytes.clone());
        builder.body(Full::new(body)).map_err(|e| e.to_string())
    }

    /// Starts a long poll beside the script (see [`polling`]).
    fn long_poll(&mut self, sid: String, request: &HttpRequest) {
        match self.request_for(request) {
            Ok(live) => {
                let poll = fetch(self.client.clone(), self.options.timeout, live);
                self.polls.spawn(sid, request.uri.clone(), async move {
                    poll.await.map(|(status, _, body)| (status, body))
                });
            }
            Err(e) => tracing::debug!(error = %e, "a long poll could not be built"),
        }
    }

    async fn open(&mut self, conn: u64, socket: &Socket) {
        let started = Instant::now();
        let name = format!(
            "WebSocket #{conn} {}",
            socket.request.uri.split('?').next().unwrap_or("")
        );
        let (live, error) = match self.connect(socket).await {
            Ok(live) => (live, None),
            Err(e) => (
                Live {
                    sender: None,
                    received: Arc::default(),
                    count: watch::channel(0).1,
                    status: 0,
                    error: Some(e.clone()),
                    closing_mark: None,
                    session: None,
                },
                Some(e),
            ),
        };
        // A refused handshake is the whole story of its socket; an accepted
        // one is judged by its messages at the end.
        if live.status != socket.status || socket.status != 101 {
            let mut differences = Vec::new();
            if live.status != socket.status {
                let actual = error.unwrap_or_else(|| live.status.to_string());
                differences.push(Difference {
                    at: "handshake status".into(),
                    expected: socket.status.to_string(),
                    actual,
                });
            }
            self.results.push(ActionResult {
                kind: Kind::Ws,
                name,
                seq: 0,
                differences,
                duration: started.elapsed(),
                ..Default::default()
            });
        }
        let mut live = live;
        live.session = super::script::session_of(&socket.request.uri);
        self.live.insert(conn, live);
    }

    async fn connect(&self, socket: &Socket) -> Result<Live, String> {
        let path = self.uri(&socket.request.uri);
        let target = self.options.target.uri(&path).map_err(|e| e.to_string())?;
        let mut request = Request::new(Empty::<Bytes>::new());
        *request.uri_mut() = path
            .parse()
            .map_err(|e: http::uri::InvalidUri| e.to_string())?;
        let headers = request.headers_mut();
        for (name, value) in self.headers(&socket.request.headers) {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.append(n, v);
            }
        }
        headers.insert(
            http::header::CONNECTION,
            HeaderValue::from_static("Upgrade"),
        );
        headers.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            http::header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        let key = tokio_tungstenite::tungstenite::handshake::client::generate_key();
        headers.insert(
            http::header::SEC_WEBSOCKET_KEY,
            HeaderValue::from_str(&key).map_err(|e| e.to_string())?,
        );
        let answer = tokio::time::timeout(
            self.options.timeout,
            upstream::send_on_own_connection(&self.connector, &target, request, self.stop.clone()),
        )
        .await
        .map_err(|_| "no answer to the upgrade".to_owned())?
        .map_err(|e| crate::proxy::error_chain(e.as_ref()))?
        .0;
        let status = answer.status().as_u16();
        if status != 101 {
            return Ok(Live {
                sender: None,
                received: Arc::default(),
                count: watch::channel(0).1,
                status,
                error: None,
                closing_mark: None,
                session: None,
            });
        }
        let upgraded = hyper::upgrade::on(answer)
            .await
            .map_err(|e| e.to_string())?;
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, None).await;
        let (sender, mut stream) = ws.split();
        let sender: Sender = Arc::new(tokio::sync::Mutex::new(sender));
        let received: Arc<Mutex<Vec<(Opcode, Payload)>>> = Arc::default();
        let (tx, count) = watch::channel(0);
        let store = received.clone();
        let answers = sender.clone();
        let dialect = socket.dialect;
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let item = match message {
                    Message::Text(t) => (Opcode::Text, Payload::capture(t.as_ref(), usize::MAX)),
                    Message::Binary(b) => (Opcode::Binary, Payload::capture(&b, usize::MAX)),
                    _ => continue,
                };
                if let Some(answer) = heartbeat(dialect, &item) {
                    // Not compared (the recording's heartbeats are left out
                    // too); answered when the protocol asks the client to.
                    if let Some(bytes) = answer {
                        let text = String::from_utf8_lossy(&bytes).into_owned();
                        let _ = answers.lock().await.send(Message::Text(text.into())).await;
                    }
                    continue;
                }
                let n = match store.lock() {
                    Ok(mut list) => {
                        list.push(item);
                        list.len()
                    }
                    Err(_) => break,
                };
                let _ = tx.send(n);
            }
        });
        Ok(Live {
            sender: Some(sender),
            received,
            count,
            status,
            error: None,
            closing_mark: None,
            session: None,
        })
    }

    /// Waits until every socket received what it had at this point of the
    /// recording, or the timeout (one deadline for all of them).
    async fn caught_up(&mut self, waits: &BTreeMap<u64, usize>, polled: &BTreeMap<String, usize>) {
        let deadline = tokio::time::Instant::now() + self.options.timeout;
        for (conn, n) in waits {
            self.wait_for(*conn, *n, deadline).await;
        }
        for (sid, n) in polled {
            let mut arrivals = self.polls.arrivals();
            let _ = tokio::time::timeout_at(deadline, async {
                while self.polls.count(sid) < *n {
                    if arrivals.changed().await.is_err() {
                        return;
                    }
                }
            })
            .await;
        }
    }

    /// Waits until socket `conn` received `n` messages, or the timeout.
    async fn received(&mut self, conn: u64, n: usize) {
        let deadline = tokio::time::Instant::now() + self.options.timeout;
        self.wait_for(conn, n, deadline).await;
    }

    /// Waits until socket `conn` received `n` messages (counting what its
    /// Engine.IO session's long polls brought), or `deadline`.
    async fn wait_for(&self, conn: u64, n: usize, deadline: tokio::time::Instant) {
        let Some(live) = self.live.get(&conn) else {
            return;
        };
        let mut count = live.count.clone();
        let mut arrivals = self.polls.arrivals();
        let session = live.session.as_deref();
        let (mut socket_open, mut polls_open) = (true, true);
        let _ = tokio::time::timeout_at(deadline, async {
            loop {
                let polled = session.map_or(0, |sid| self.polls.count(sid));
                if *count.borrow_and_update() + polled >= n || !(socket_open || polls_open) {
                    return;
                }
                tokio::select! {
                    changed = count.changed(), if socket_open => socket_open = changed.is_ok(),
                    changed = arrivals.changed(), if polls_open => polls_open = changed.is_ok(),
                }
            }
        })
        .await;
    }

    async fn send(&mut self, conn: u64, opcode: Opcode, payload: &Payload, after: usize) {
        self.received(conn, after).await;
        let message = match (opcode, payload.text()) {
            (Opcode::Text, Some(text)) => Message::Text(self.correlation.apply(text).into()),
            _ => Message::Binary(payload.bytes.clone()),
        };
        if let Some(sender) = self.live.get(&conn).and_then(|l| l.sender.clone()) {
            if let Err(e) = sender.lock().await.send(message).await {
                if let Some(live) = self.live.get_mut(&conn) {
                    live.error.get_or_insert(format!("sending failed: {e}"));
                }
            }
        }
    }

    /// Notes, once, how many messages every socket had when closing began.
    fn mark_closing(&mut self) {
        for live in self.live.values_mut() {
            if live.closing_mark.is_none() {
                live.closing_mark = Some(*live.count.borrow());
            }
        }
    }

    async fn close(&mut self, conn: u64, code: Option<u16>, reason: &str, expected: usize) {
        self.received(conn, expected).await;
        self.mark_closing();
        let Some(live) = self.live.get_mut(&conn) else {
            return;
        };
        let Some(sender) = live.sender.take() else {
            return;
        };
        let mut sender = sender.lock().await;
        if let Some(code) = code {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: reason.to_owned().into(),
            };
            let _ = sender.send(Message::Close(Some(frame))).await;
        }
    }

    /// Waits for what is still expected, closes what is open, and compares
    /// every socket's messages with the recording.
    async fn finish(mut self, script: &Script) -> Vec<ActionResult> {
        for (conn, socket) in &script.sockets {
            let expected = script.session_received(socket).len();
            self.received(*conn, expected).await;
            self.mark_closing();
            if let Some(sender) = self.live.get_mut(conn).and_then(|l| l.sender.take()) {
                let _ = sender.lock().await.send(Message::Close(None)).await;
            }
        }
        let polling::Polled {
            received: mut polled,
            mut failures,
        } = std::mem::take(&mut self.polls)
            .finish(self.options.timeout)
            .await;
        // A long poll the upstream refused is a difference of its session.
        let failed_polls = |sid: &str, failures: &mut BTreeMap<String, Vec<String>>| {
            failures
                .remove(sid)
                .unwrap_or_default()
                .into_iter()
                .map(|actual| Difference {
                    at: "long poll".into(),
                    expected: "200 with the session's packets".into(),
                    actual,
                })
                .collect::<Vec<_>>()
        };
        let mut sessions = script.polling.clone();
        self.stop.cancel();
        for (conn, socket) in &script.sockets {
            let Some(live) = self.live.get(conn) else {
                continue;
            };
            if socket.status != 101 || live.status != 101 {
                continue;
            }
            let mut got = live.received.lock().map(|l| l.clone()).unwrap_or_default();
            // An upgraded Engine.IO session: what came by long-polling and
            // what came on the WebSocket are one conversation, split by
            // timing.
            let mut socket = socket.clone();
            let mut polled_first = 0;
            if let Some(sid) = &live.session {
                socket.received = script.session_received(&socket);
                sessions.remove(sid);
                let live_polled = polled.remove(sid).unwrap_or_default();
                polled_first = live_polled.len();
                got.splice(0..0, live_polled);
            }
            let mut result = compare_socket(
                *conn,
                &socket,
                &got,
                live.error.clone(),
                &self.options.rules,
            );
            if let Some(sid) = &live.session {
                result.differences.extend(failed_polls(sid, &mut failures));
            }
            if let Some(mark) = live.closing_mark {
                // Unrecorded messages that arrived after closing began race
                // the close (another socket's leave, say): in the recording
                // this socket was gone first. Shown, not failed.
                let (late, extra): (Vec<_>, Vec<_>) = result
                    .extra_at
                    .iter()
                    .zip(&result.extra)
                    .partition(|(i, _)| **i >= mark + polled_first);
                result.late = late.into_iter().map(|(_, m)| m.clone()).collect();
                result.extra = extra.into_iter().map(|(_, m)| m.clone()).collect();
            }
            self.results.push(result);
        }
        for (sid, recorded) in sessions {
            let got = polled.remove(&sid).unwrap_or_default();
            let name = format!("Engine.IO session {sid} (long-polling)");
            let socketio = Some(crate::dialects::DialectId::Socketio);
            let mut result = compare_messages(name, socketio, &recorded, &got, &self.options.rules);
            result.differences.extend(failed_polls(&sid, &mut failures));
            self.results.push(result);
        }
        self.results
    }
}

/// Sends `request` on `client`; the answer's status, headers and whole body.
async fn fetch(
    client: Client<Connector, Full<Bytes>>,
    timeout: Duration,
    request: Request<Full<Bytes>>,
) -> Result<(u16, Headers, Payload), String> {
    let response = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
        .map_err(|e| crate::proxy::error_chain(&e))?;
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((
        parts.status.as_u16(),
        crate::event::headers_from(&parts.headers),
        Payload::capture(&bytes, usize::MAX),
    ))
}

/// For a heartbeat of the socket's protocol: `Some` with what the client
/// answers to it, if anything. `None` for any other message.
fn heartbeat(
    dialect: Option<crate::dialects::DialectId>,
    (opcode, payload): &(Opcode, Payload),
) -> Option<Option<Vec<u8>>> {
    let frame =
        crate::dialects::Frame::of(crate::event::Direction::UpstreamToClient, *opcode, payload);
    crate::dialects::heartbeat(dialect, frame)
}

/// `headers` with the cookies in `overrides` set (replaced or added).
fn with_cookies(
    mut headers: Vec<(String, String)>,
    overrides: &[(String, String)],
) -> Vec<(String, String)> {
    let existing = headers.iter().position(|(n, _)| n == "cookie");
    let mut pairs: Vec<(String, String)> = existing
        .map(|i| {
            headers[i]
                .1
                .split(';')
                .filter_map(|p| p.trim().split_once('='))
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    for (name, value) in overrides {
        pairs.retain(|(n, _)| n != name);
        pairs.push((name.clone(), value.clone()));
    }
    let value = pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    match existing {
        Some(i) => headers[i].1 = value,
        None => headers.push(("cookie".to_owned(), value)),
    }
    headers
}

/// The differences between a recorded response and a live one: status,
/// media type, and body (JSON by pointer; error pages by the error they
/// name, since their text holds times and paths).
pub fn compare_response(
    rules: &Rules,
    expected: (u16, &Headers, &Payload),
    actual: (u16, &Headers, &Payload),
) -> Vec<Difference> {
    let mut out = status_difference(expected.0, actual.0);
    let media = |h: &Headers| {
        header(h, "content-type").map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
    };
    if media(expected.1) != media(actual.1) {
        out.push(Difference {
            at: "content-type".into(),
            expected: media(expected.1).unwrap_or_default(),
            actual: media(actual.1).unwrap_or_default(),
        });
    }
    let errors = (
        ErrorBody::parse(expected.0, expected.2),
        ErrorBody::parse(actual.0, actual.2),
    );
    match errors {
        (Some(e), Some(a)) if !matches!(e, ErrorBody::Drf(_)) => {
            if e.summary() != a.summary() {
                out.push(Difference {
                    at: "error".into(),
                    expected: e.summary(),
                    actual: a.summary(),
                });
            }
        }
        _ => {
            let (e, a) = (
                rules.comparable(expected.2.text().unwrap_or("")),
                rules.comparable(actual.2.text().unwrap_or("")),
            );
            if matches!(e, super::compare::Comparable::Json(_)) || out.is_empty() {
                out.extend(diff_payloads(&e, &a));
            }
        }
    }
    out
}

/// The status as a difference, when it differs.
fn status_difference(expected: u16, actual: u16) -> Vec<Difference> {
    if expected == actual {
        return Vec::new();
    }
    vec![Difference {
        at: "status".into(),
        expected: expected.to_string(),
        actual: actual.to_string(),
    }]
}

/// The differences between a recorded Engine.IO polling response and a live
/// one: the status, and the packets read as Socket.IO (so a new `sid` is
/// not a difference).
fn compare_polling(
    rules: &Rules,
    uri: &str,
    expected: (u16, &Payload),
    actual: (u16, &Payload),
) -> Vec<Difference> {
    let mut out = status_difference(expected.0, actual.0);
    let socketio = Some(crate::dialects::DialectId::Socketio);
    let read = |body: &Payload| {
        let packets = polling::packets(uri, body);
        let items = packets
            .iter()
            .map(
                |(opcode, p)| match comparable_message(rules, socketio, *opcode, p) {
                    super::compare::Comparable::Json(v) => v,
                    super::compare::Comparable::Text(t) => serde_json::Value::String(t),
                },
            )
            .collect();
        super::compare::Comparable::Json(serde_json::Value::Array(items))
    };
    out.extend(diff_payloads(&read(expected.1), &read(actual.1)));
    out
}

/// Compares a socket's recorded messages with the live ones, in any order.
pub fn compare_socket(
    conn: u64,
    socket: &Socket,
    got: &[(Opcode, Payload)],
    error: Option<String>,
    rules: &Rules,
) -> ActionResult {
    let name = format!(
        "WebSocket #{conn} {}",
        socket.request.uri.split('?').next().unwrap_or("")
    );
    let mut result = compare_messages(name, socket.dialect, &socket.received, got, rules);
    if let Some(e) = error {
        result.differences.push(Difference {
            at: "connection".into(),
            expected: "open".into(),
            actual: e,
        });
    }
    result
}

/// Compares recorded messages with live ones, in any order, each read by
/// `dialect`: what is missing, what is extra, and for a missing message
/// and an extra one of the same name, which fields differ.
pub fn compare_messages(
    name: String,
    dialect: Option<crate::dialects::DialectId>,
    recorded: &[(Opcode, Payload)],
    got: &[(Opcode, Payload)],
    rules: &Rules,
) -> ActionResult {
    let comparable = |list: &[(Opcode, Payload)]| -> Vec<_> {
        list.iter()
            .map(|(opcode, p)| comparable_message(rules, dialect, *opcode, p))
            .collect()
    };
    let (expected, actual) = (comparable(recorded), comparable(got));
    let matching = match_unordered(&expected, &actual);
    let text = |(opcode, p): &(Opcode, Payload)| {
        let shown = match (opcode, p.text()) {
            (Opcode::Text, Some(text)) => text.to_owned(),
            _ => match crate::dialects::binary_json::decode_any(&p.bytes) {
                Some(decoded) => format!("binary {decoded}"),
                None => format!("binary, {} bytes", p.len),
            },
        };
        crate::event::text::shorten(&shown, 160)
    };
    let missing: Vec<String> = matching
        .missing
        .iter()
        .map(|&i| text(&recorded[i]))
        .collect();
    let extra: Vec<String> = matching.extra.iter().map(|&i| text(&got[i])).collect();
    let extra_at = matching.extra.clone();
    // Pair each missing message with an extra one of the same name (read
    // by the socket's dialect, once each), to show which fields differ.
    let name_of = |(opcode, payload): &(Opcode, Payload)| {
        let frame =
            crate::dialects::Frame::of(crate::event::Direction::UpstreamToClient, *opcode, payload);
        let id = dialect.or_else(|| crate::dialects::sniff(frame))?;
        crate::dialects::new(id).classify(frame).name
    };
    let extra_names: Vec<(usize, Option<String>)> = matching
        .extra
        .iter()
        .map(|&j| (j, name_of(&got[j])))
        .collect();
    let mut differences = Vec::new();
    for &i in &matching.missing {
        let t = name_of(&recorded[i]);
        if let Some((j, _)) = extra_names.iter().find(|(_, n)| *n == t) {
            differences.extend(diff_payloads(&expected[i], &actual[*j]));
        }
    }
    ActionResult {
        kind: Kind::Ws,
        name,
        seq: 0,
        differences,
        missing,
        extra,
        extra_at,
        late: Vec::new(),
        duration: Duration::ZERO,
    }
}
