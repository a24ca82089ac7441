//! The replay script: what the client did, in recorded order, and what the
//! upstream answered. Built from a capture; used by `replay` (to act it
//! out), `diff` (to pair two recordings) and `mock` (to answer like the
//! recorded upstream).

use std::collections::BTreeMap;

use crate::capture::Capture;
use crate::dialects::DialectId;
use crate::event::{
    Direction, EventKind, Flows, HttpRequest, Opcode, Payload, Role, Side, WsMessage,
};

/// What a REST exchange got in the recording.
#[derive(Debug, Clone)]
pub enum Expected {
    /// A response.
    Response {
        /// Status code.
        status: u16,
        /// Headers as recorded.
        headers: crate::event::Headers,
        /// Body as recorded.
        body: Payload,
    },
    /// No response: the exchange failed (the cause).
    Failed(String),
}

/// One thing the client did.
#[derive(Debug, Clone)]
pub enum Step {
    /// An HTTP exchange.
    Rest {
        /// The request as recorded.
        request: HttpRequest,
        /// What came back, if anything was recorded.
        expected: Option<Expected>,
    },
    /// Open the WebSocket of connection `conn`.
    Open {
        /// The recorded connection.
        conn: u64,
    },
    /// Send a message on connection `conn`, once `after` upstream messages
    /// have arrived on it (as many as had in the recording).
    Send {
        /// The recorded connection.
        conn: u64,
        /// Text or binary.
        opcode: Opcode,
        /// The message.
        payload: Payload,
        /// Upstream messages received on `conn` before it was sent.
        after: usize,
    },
    /// The client closes connection `conn` (with the recorded code), or
    /// drops it when `code` is `None` and the recorded close was abrupt.
    Close {
        /// The recorded connection.
        conn: u64,
        /// The close code the client sent.
        code: Option<u16>,
        /// The close reason.
        reason: String,
    },
}

/// A recorded WebSocket and what the upstream sent on it.
#[derive(Debug, Clone)]
pub struct Socket {
    /// The upgrade request.
    pub request: HttpRequest,
    /// The upstream's answer to it (101 when accepted).
    pub status: u16,
    /// Text and binary messages the upstream sent, in order.
    pub received: Vec<(Opcode, Payload)>,
    /// Recorded close code from the upstream, when it closed first.
    pub closed_by_upstream: Option<Option<u16>>,
    /// The message protocol the capture read it with.
    pub dialect: Option<DialectId>,
}

/// A step with its place in the recording.
#[derive(Debug, Clone)]
pub struct Timed {
    /// The `seq` of the event that started it.
    pub seq: u64,
    /// When it happened (`t_us`).
    pub t_us: u64,
    /// How many upstream messages each open socket had received when it
    /// happened: the replay waits for as many (or the timeout) first, so
    /// every action sees what it saw in the recording.
    pub waits: BTreeMap<u64, usize>,
    /// The same for each Engine.IO session that never upgraded (by its
    /// recorded `sid`): the packets its long polls had brought, so the
    /// script does not run ahead of them (and close the session first).
    pub polled: BTreeMap<String, usize>,
    /// What the client did.
    pub step: Step,
}

/// A capture as a script.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// The client's actions, in recorded order.
    pub steps: Vec<Timed>,
    /// The recorded WebSockets by connection.
    pub sockets: BTreeMap<u64, Socket>,
    /// What the upstream sent each Engine.IO long-polling session (by its
    /// recorded `sid`), heartbeats aside: the packets of its polling `GET`
    /// responses. A replay compares them whole, since which packets share
    /// a response depends on timing.
    pub polling: BTreeMap<String, Vec<(Opcode, Payload)>>,
}

impl Script {
    /// Reads the script out of a capture.
    pub fn of(capture: &Capture) -> Script {
        let mut script = Script::default();
        let mut steps: Vec<(u64, u64, Step)> = Vec::new();
        let flows = Flows::of(&capture.events);
        // The request of an exchange that is not a WebSocket upgrade.
        let rest_request = |exchange: u64| {
            flows
                .exchange(exchange)
                .filter(|x| x.handshake.is_none())
                .and_then(|x| flows.request(x.id))
        };
        for event in &capture.events {
            let conn = event.conn.unwrap_or_default();
            match &event.kind {
                EventKind::WsHandshake(h) => {
                    if let Some((asked, request)) = flows.request(h.exchange) {
                        steps.push((asked.seq, asked.t_us, Step::Open { conn }));
                        let socket = Socket {
                            request: request.clone(),
                            status: h.status,
                            received: Vec::new(),
                            closed_by_upstream: None,
                            dialect: h.dialect,
                        };
                        script.sockets.insert(conn, socket);
                    }
                }
                EventKind::HttpResponse(r) => {
                    if let Some((asked, request)) = rest_request(r.exchange) {
                        let (seq, t, request) = (asked.seq, asked.t_us, request.clone());
                        let expected = Expected::Response {
                            status: r.status,
                            headers: r.headers.clone(),
                            body: r.body.clone(),
                        };
                        steps.push((
                            seq,
                            t,
                            Step::Rest {
                                request,
                                expected: Some(expected),
                            },
                        ));
                    }
                }
                EventKind::HttpError(e) => {
                    if let Some((asked, request)) = rest_request(e.exchange) {
                        let (seq, t, request) = (asked.seq, asked.t_us, request.clone());
                        steps.push((
                            seq,
                            t,
                            Step::Rest {
                                request,
                                expected: Some(Expected::Failed(e.message.clone())),
                            },
                        ));
                    }
                }
                EventKind::WsMessage(m) if m.polling.is_some() => {
                    let sid = m.polling.clone().unwrap_or_default();
                    if m.dir == Direction::UpstreamToClient && replayed(m) {
                        let packets = script.polling.entry(sid).or_default();
                        packets.push((m.opcode, m.payload.clone()));
                    }
                }
                EventKind::WsMessage(m) if replayed(m) && m.dir == Direction::ClientToUpstream => {
                    let Some(socket) = script.sockets.get_mut(&conn) else {
                        continue;
                    };
                    socket.dialect = socket.dialect.or(m.dialect);
                    let socket = &script.sockets[&conn];
                    let step = Step::Send {
                        conn,
                        opcode: m.opcode,
                        payload: m.payload.clone(),
                        after: socket.received.len() + script.polled_before(socket),
                    };
                    steps.push((event.seq, event.t_us, step));
                }
                EventKind::WsMessage(m) if replayed(m) => {
                    let Some(socket) = script.sockets.get_mut(&conn) else {
                        continue;
                    };
                    socket.dialect = socket.dialect.or(m.dialect);
                    socket.received.push((m.opcode, m.payload.clone()));
                }
                EventKind::WsClose(c) => {
                    let Some(socket) = script.sockets.get_mut(&conn) else {
                        continue;
                    };
                    match c.initiator {
                        Side::Upstream => socket.closed_by_upstream = Some(c.code),
                        Side::Client | Side::Proxy => {
                            let code = if c.clean {
                                Some(c.code.unwrap_or(1000))
                            } else {
                                None
                            };
                            steps.push((
                                event.seq,
                                event.t_us,
                                Step::Close {
                                    conn,
                                    code,
                                    reason: c.reason.clone(),
                                },
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        // Requests whose answer was never recorded are still replayed.
        let unanswered = flows
            .exchanges()
            .iter()
            .filter(|x| x.response.is_none() && x.error.is_none() && x.handshake.is_none());
        for (asked, request) in unanswered.filter_map(|x| flows.request(x.id)) {
            steps.push((
                asked.seq,
                asked.t_us,
                Step::Rest {
                    request: request.clone(),
                    expected: None,
                },
            ));
        }
        steps.sort_by_key(|(seq, _, _)| *seq);
        script.steps = with_waits(steps, capture, &script.sockets);
        script
    }

    /// How many packets the Engine.IO session `socket` upgraded had
    /// received by long-polling so far, while the script is being read.
    fn polled_before(&self, socket: &Socket) -> usize {
        session_of(&socket.request.uri)
            .and_then(|sid| self.polling.get(&sid))
            .map_or(0, Vec::len)
    }

    /// Everything the upstream sent on `socket`'s session: what came by
    /// long-polling (for an upgraded Engine.IO session), then what came on
    /// the WebSocket.
    pub fn session_received(&self, socket: &Socket) -> Vec<(Opcode, Payload)> {
        let mut all = session_of(&socket.request.uri)
            .and_then(|sid| self.polling.get(&sid).cloned())
            .unwrap_or_default();
        all.extend(socket.received.iter().cloned());
        all
    }
}

/// The Engine.IO session a WebSocket upgrade continues (`?sid=` of an
/// upgrade from long-polling).
pub fn session_of(uri: &str) -> Option<String> {
    crate::dialects::socketio::upgrade_sid(uri).map(str::to_owned)
}

/// True for the messages a replay sends and expects: text and binary ones,
/// but not the protocol's heartbeats, which come on the live server's own
/// schedule and which the replay answers as they come.
fn replayed(m: &WsMessage) -> bool {
    matches!(m.opcode, Opcode::Text | Opcode::Binary) && m.msg_role != Some(Role::Heartbeat)
}

/// Adds to each step how many upstream messages each accepted socket had
/// received before it, in the recording: for an upgraded Engine.IO
/// session, by long-polling too.
fn with_waits(
    steps: Vec<(u64, u64, Step)>,
    capture: &Capture,
    sockets: &BTreeMap<u64, Socket>,
) -> Vec<Timed> {
    let by_session: BTreeMap<String, u64> = sockets
        .iter()
        .filter_map(|(conn, s)| Some((session_of(&s.request.uri)?, *conn)))
        .collect();
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    let mut polled: BTreeMap<String, usize> = BTreeMap::new();
    let mut events = capture.events.iter().peekable();
    steps
        .into_iter()
        .map(|(seq, t_us, step)| {
            while let Some(event) = events.next_if(|e| e.seq < seq) {
                let conn = event.conn.unwrap_or_default();
                let EventKind::WsMessage(m) = &event.kind else {
                    continue;
                };
                if !(replayed(m) && m.dir == Direction::UpstreamToClient) {
                    continue;
                }
                match &m.polling {
                    Some(sid) => match by_session.get(sid) {
                        Some(conn) => *counts.entry(*conn).or_default() += 1,
                        None => *polled.entry(sid.clone()).or_default() += 1,
                    },
                    None if sockets.contains_key(&conn) => *counts.entry(conn).or_default() += 1,
                    None => {}
                }
            }
            Timed {
                seq,
                t_us,
                waits: counts.clone(),
                polled: polled.clone(),
                step,
            }
        })
        .collect()
}
