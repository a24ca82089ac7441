//! `wsdiag mock CAPTURE`: the upstream side of a capture, served, so a
//! frontend's tests run without its backend.
//!
//! REST requests match a recorded exchange by method, path and normalized
//! body (the replay's ignore rules), and get the recorded response;
//! repeated requests get the recorded answers in order.
//!
//! WebSockets are accepted on the recorded paths. A live socket stands for
//! the next recorded connection on its path. Every recorded upstream
//! message has a trigger: the client action that last preceded it (a socket
//! opening, a client message, a REST request). When that action happens
//! live, the messages it caused go to the live sockets standing for their
//! connections: messages on connect arrive on connect, and an observer gets
//! the sender's broadcast when the sender sends.
//!
//! What matches nothing gets a clear 404 (REST) or no answer (WebSocket),
//! and a note saying what was expected instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::compare::{comparable_message, Comparable, Rules};
use crate::capture::Capture;
use crate::event::{Direction, EventKind, Headers, Opcode, Payload, Role};

/// Where a note from the mock goes (the command prints it).
pub type Notes = Arc<dyn Fn(String) + Send + Sync>;

/// A client action that caused upstream messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Trigger {
    /// A socket opened (recorded connection).
    Open(u64),
    /// A client message (its recorded `seq`).
    Message(u64),
    /// A REST request (recorded exchange).
    Rest(u64),
}

struct RecordedExchange {
    exchange: u64,
    method: String,
    uri: String,
    body: Comparable,
    status: u16,
    headers: Headers,
    response: Payload,
}

struct RecordedSocket {
    conn: u64,
    path: String,
    subprotocol: Option<String>,
    /// The message protocol the capture read it with.
    dialect: Option<crate::dialects::DialectId>,
    /// Client messages: `seq` and what they look like.
    sent: Vec<(u64, Comparable)>,
}

/// What the mock serves, and what has been served.
struct Mock {
    rules: Rules,
    exchanges: Vec<RecordedExchange>,
    served: HashMap<usize, usize>,
    sockets: Vec<RecordedSocket>,
    caused: HashMap<Trigger, Vec<(u64, Message)>>,
    /// Live sockets by the recorded connection they stand for.
    live: HashMap<u64, mpsc::UnboundedSender<Message>>,
    /// Recorded connections already taken by a live socket.
    taken: Vec<u64>,
    /// Client messages already matched.
    consumed: Vec<u64>,
    notes: Notes,
}

fn path(uri: &str) -> &str {
    uri.split('?').next().unwrap_or(uri)
}

fn message(opcode: Opcode, payload: &Payload) -> Message {
    match (opcode, payload.text()) {
        (Opcode::Text, Some(t)) => Message::Text(t.to_owned().into()),
        _ => Message::Binary(payload.bytes.clone()),
    }
}

impl Mock {
    fn new(capture: &Capture, rules: Rules, notes: Notes) -> Mock {
        let mut mock = Mock {
            rules,
            exchanges: Vec::new(),
            served: HashMap::new(),
            sockets: Vec::new(),
            caused: HashMap::new(),
            live: HashMap::new(),
            taken: Vec::new(),
            consumed: Vec::new(),
            notes,
        };
        let mut requests = HashMap::new();
        let mut upgrades = Vec::new();
        let mut last = None;
        for event in &capture.events {
            let conn = event.conn.unwrap_or_default();
            match &event.kind {
                EventKind::HttpRequest(r) => {
                    // Only a write can cause messages (a broadcast of what
                    // it saved); a concurrent GET must not claim them.
                    if matches!(r.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
                        last = Some(Trigger::Rest(r.exchange));
                    }
                    requests.insert(r.exchange, r.clone());
                }
                EventKind::WsHandshake(h) if h.accepted => {
                    upgrades.push(h.exchange);
                    let socket = RecordedSocket {
                        conn,
                        path: path(&h.uri).to_owned(),
                        subprotocol: h.subprotocol.clone(),
                        dialect: h.dialect,
                        sent: Vec::new(),
                    };
                    mock.sockets.push(socket);
                    last = Some(Trigger::Open(conn));
                }
                EventKind::HttpResponse(r) if !upgrades.contains(&r.exchange) => {
                    if let Some(request) = requests.remove(&r.exchange) {
                        mock.exchanges.push(RecordedExchange {
                            exchange: r.exchange,
                            body: mock.rules.comparable(request.body.text().unwrap_or("")),
                            method: request.method,
                            uri: request.uri,
                            status: r.status,
                            headers: r.headers.clone(),
                            response: r.body.clone(),
                        });
                    }
                }
                EventKind::WsMessage(m) if matches!(m.opcode, Opcode::Text | Opcode::Binary) => {
                    match m.dir {
                        // Heartbeats come on the client's own schedule.
                        Direction::ClientToUpstream if m.msg_role == Some(Role::Heartbeat) => {}
                        Direction::ClientToUpstream => {
                            if let Some(s) = mock.sockets.iter_mut().find(|s| s.conn == conn) {
                                s.dialect = s.dialect.or(m.dialect);
                                let seen = comparable_message(
                                    &mock.rules,
                                    s.dialect,
                                    m.opcode,
                                    &m.payload,
                                );
                                s.sent.push((event.seq, seen));
                            }
                            last = Some(Trigger::Message(event.seq));
                        }
                        Direction::UpstreamToClient => {
                            if let Some(trigger) = last {
                                mock.caused
                                    .entry(trigger)
                                    .or_default()
                                    .push((conn, message(m.opcode, &m.payload)));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        mock
    }

    /// Delivers what `trigger` caused in the recording to the live sockets.
    fn fire(&self, trigger: Trigger) {
        for (conn, message) in self.caused.get(&trigger).into_iter().flatten() {
            if let Some(tx) = self.live.get(conn) {
                let _ = tx.send(message.clone());
            }
        }
    }

    /// The recorded exchange for a request, if any.
    fn answer(
        &mut self,
        method: &str,
        uri: &str,
        body: &str,
    ) -> Option<(u16, Headers, Payload, u64)> {
        let seen = self.rules.comparable(body);
        let candidates: Vec<usize> = (0..self.exchanges.len())
            .filter(|&i| {
                let e = &self.exchanges[i];
                e.method == method && (e.uri == uri || path(&e.uri) == path(uri)) && e.body == seen
            })
            .collect();
        let exact: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| self.exchanges[i].uri == uri)
            .collect();
        let pool = if exact.is_empty() { candidates } else { exact };
        let pick = pool
            .iter()
            .copied()
            .find(|i| !self.served.contains_key(i))
            .or(pool.last().copied())?;
        *self.served.entry(pick).or_default() += 1;
        let e = &self.exchanges[pick];
        Some((e.status, e.headers.clone(), e.response.clone(), e.exchange))
    }

    fn expected_requests(&self) -> String {
        let mut list: Vec<String> = self
            .exchanges
            .iter()
            .map(|e| format!("{} {}", e.method, e.uri))
            .collect();
        list.dedup();
        list.join(", ")
    }
}

/// Serves the upstream side of `capture` on `listener` until `stop`.
pub async fn serve(
    listener: TcpListener,
    capture: &Capture,
    rules: Rules,
    notes: Notes,
    stop: CancellationToken,
) {
    let mock = Arc::new(Mutex::new(Mock::new(capture, rules, notes)));
    let handle = {
        let stop = stop.clone();
        move |req| handle(req, mock.clone(), stop.clone())
    };
    crate::http_server::serve(listener, stop, TaskTracker::new(), "mock", handle).await;
}

fn respond(status: u16, headers: &Headers, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    // Recorded framing headers do not fit the body hyper frames now; a 101
    // needs its Connection: Upgrade.
    let skip: &[&str] = if status == 101 {
        &["content-length", "transfer-encoding", "date"]
    } else {
        &[
            "content-length",
            "transfer-encoding",
            "connection",
            "keep-alive",
            "date",
        ]
    };
    for (name, value) in headers.iter().filter(|(n, _)| !skip.contains(&n.as_str())) {
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    response
}

async fn handle(
    req: Request<Incoming>,
    mock: Arc<Mutex<Mock>>,
    stop: CancellationToken,
) -> Response<Full<Bytes>> {
    if crate::proxy::headers::is_websocket_upgrade(req.headers()) {
        return accept(req, mock, stop);
    }
    let method = req.method().to_string();
    let uri = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let body = crate::http_server::read_body(req.into_body()).await;
    let text = String::from_utf8_lossy(&body);
    let Ok(mut m) = mock.lock() else {
        return respond(
            500,
            &Vec::new(),
            Bytes::from_static(b"wsdiag mock: internal state poisoned"),
        );
    };
    match m.answer(&method, &uri, &text) {
        Some((status, headers, payload, exchange)) => {
            m.fire(Trigger::Rest(exchange));
            respond(status, &headers, payload.bytes)
        }
        None => {
            let expected = m.expected_requests();
            (m.notes)(format!(
                "mock: no recorded exchange matches {method} {uri} (body {}); recorded: {expected}",
                crate::event::text::shorten(&text, 80)
            ));
            let body = serde_json::json!({"error": format!("wsdiag mock: no recorded exchange for {method} {uri}"), "recorded": expected});
            let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
            respond(404, &headers, Bytes::from(body.to_string()))
        }
    }
}

/// Accepts a WebSocket on a recorded path; 404 on any other.
fn accept(
    mut req: Request<Incoming>,
    mock: Arc<Mutex<Mock>>,
    stop: CancellationToken,
) -> Response<Full<Bytes>> {
    let path = path(req.uri().path_and_query().map_or("/", |p| p.as_str())).to_owned();
    let chosen = {
        let Ok(mut m) = mock.lock() else {
            return respond(500, &Vec::new(), Bytes::new());
        };
        let taken = m.taken.clone();
        let recorded: Vec<(u64, Option<String>)> = m
            .sockets
            .iter()
            .filter(|s| s.path == path)
            .map(|s| (s.conn, s.subprotocol.clone()))
            .collect();
        let pick = recorded
            .iter()
            .find(|(c, _)| !taken.contains(c))
            .or(recorded.last())
            .cloned();
        if let Some((conn, _)) = &pick {
            m.taken.push(*conn);
        } else {
            let paths: Vec<String> = m.sockets.iter().map(|s| s.path.clone()).collect();
            (m.notes)(format!(
                "mock: no recorded WebSocket on {path}; recorded: {}",
                paths.join(", ")
            ));
        }
        pick
    };
    let accepted = chosen.and_then(|(conn, subprotocol)| {
        crate::http_server::accept_websocket(&mut req, subprotocol.as_deref(), move |ws| {
            session(ws, conn, mock, stop)
        })
    });
    match accepted {
        Some((response, task)) => {
            tokio::spawn(task);
            response
        }
        None => respond(
            404,
            &Vec::new(),
            Bytes::from(format!("wsdiag mock: no recorded WebSocket on {path}\n")),
        ),
    }
}

/// One live socket standing for recorded connection `conn`.
async fn session(
    ws: crate::http_server::ServerSocket,
    conn: u64,
    mock: Arc<Mutex<Mock>>,
    stop: CancellationToken,
) {
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel();
    if let Ok(mut m) = mock.lock() {
        m.live.insert(conn, tx);
        m.fire(Trigger::Open(conn));
    }
    loop {
        tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(t))) => {
                    on_message(&mock, conn, Opcode::Text, &Payload::capture(t.as_ref(), usize::MAX))
                }
                Some(Ok(Message::Binary(b))) => {
                    on_message(&mock, conn, Opcode::Binary, &Payload::capture(&b, usize::MAX))
                }
                Some(Ok(Message::Ping(_))) | Some(Ok(Message::Pong(_))) | Some(Ok(Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            },
            Some(out) = rx.recv() => {
                if sink.send(out).await.is_err() {
                    break;
                }
            }
            () = stop.cancelled() => break,
        }
    }
    if let Ok(mut m) = mock.lock() {
        m.live.remove(&conn);
    }
    let _ = sink.close().await;
}

fn on_message(mock: &Arc<Mutex<Mock>>, conn: u64, opcode: Opcode, payload: &Payload) {
    let Ok(mut m) = mock.lock() else { return };
    let socket = m.sockets.iter().find(|s| s.conn == conn);
    let dialect = socket.and_then(|s| s.dialect);
    // Heartbeats come on the client's own schedule: neither matched nor
    // complained about.
    let frame = crate::dialects::Frame::of(Direction::ClientToUpstream, opcode, payload);
    if crate::dialects::heartbeat(dialect, frame).is_some() {
        return;
    }
    let seen = comparable_message(&m.rules, dialect, opcode, payload);
    let consumed = m.consumed.clone();
    let recorded = socket.map(|s| s.sent.clone()).unwrap_or_default();
    match recorded
        .iter()
        .find(|(seq, c)| !consumed.contains(seq) && *c == seen)
    {
        Some((seq, _)) => {
            m.consumed.push(*seq);
            m.fire(Trigger::Message(*seq));
        }
        None => {
            let expected: Vec<String> = recorded
                .iter()
                .filter(|(s, _)| !consumed.contains(s))
                .map(|(_, c)| match c {
                    Comparable::Json(v) => v.to_string(),
                    Comparable::Text(t) => t.clone(),
                })
                .collect();
            let got = match &seen {
                Comparable::Json(v) => v.to_string(),
                Comparable::Text(t) => t.clone(),
            };
            let expected = if expected.is_empty() {
                "nothing more (every recorded message was answered)".to_owned()
            } else {
                format!("one of: {}", expected.join(" | "))
            };
            (m.notes)(format!(
                "mock: no recorded message on connection #{conn} matches {}; expected {expected}",
                crate::event::text::shorten(&got, 160),
            ));
        }
    }
}
