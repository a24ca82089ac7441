//! What the diagnosis reads of each event, once per diagnosis: the
//! application payloads (by each socket's dialect), the session each
//! WebSocket event belongs to, an index of the saved objects every
//! upstream message and successful response shows, by the text they hold,
//! and the indexes a WebSocket send's outcome is looked up in: upstream
//! messages by the texts they carry, by correlation id, error replies and
//! abnormal closes by session.
//!
//! Everything else looks values up here instead of parsing payloads again
//! or scanning the events after each send, which keeps the diagnosis
//! linear in the number of events however many messages a second the
//! capture holds.

use std::collections::HashMap;

use serde_json::Value;

use crate::dialects::Dialects;
use crate::event::text::normalize;
use crate::event::{Direction, Event, EventKind, Role, Side, WsClose, WsMessage};

/// A conversation between one client and the upstream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Session {
    /// One WebSocket connection.
    Conn(u64),
    /// One Engine.IO session, over long-polling and WebSocket.
    EngineIo(String),
}

/// An object with an id that an event showed the client.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Shown {
    /// The `seq` of the event that showed it.
    pub seq: u64,
    /// Its `id` (or `pk`).
    pub id: Value,
}

/// The events read once, by position.
pub(super) struct Reading {
    /// The application payload of every WebSocket message that may be a
    /// send or an answer, read by its dialect.
    pub payloads: Vec<Option<Value>>,
    /// The session each WebSocket event belongs to: its connection, or for
    /// Engine.IO its `sid`, which long-polling messages and the upgraded
    /// WebSocket share.
    pub sessions: Vec<Option<Session>>,
    /// Objects with an id shown to the client (in upstream messages and in
    /// successful responses), by each normalized string they hold directly,
    /// in event order.
    shown: HashMap<String, Vec<Shown>>,
    /// What may answer a WebSocket send.
    pub answers: Answers,
    /// The latest `t_us` of the events up to each position.
    latest: Vec<u64>,
}

/// The events that may answer a WebSocket send, by what a send's outcome
/// looks them up by (`attempt::ws_outcome`); positions, in order.
#[derive(Default)]
pub(super) struct Answers {
    /// Upstream WebSocket messages by each normalized string their payload
    /// holds, at any depth.
    carried: HashMap<String, Vec<usize>>,
    /// Upstream WebSocket messages by session and correlation id.
    correlated: HashMap<(Option<Session>, String), Vec<usize>>,
    /// Upstream WebSocket error replies by session.
    errors: HashMap<Option<Session>, Vec<usize>>,
    /// Closes the upstream started with an abnormal code, by session.
    closes: HashMap<Option<Session>, Vec<usize>>,
}

impl Answers {
    /// Takes the upstream message at position `i`, read as `payload`.
    fn message(
        &mut self,
        i: usize,
        session: &Option<Session>,
        m: &WsMessage,
        payload: Option<&Value>,
    ) {
        if let Some(value) = payload {
            index_carried(value, i, &mut self.carried);
        }
        if let Some(id) = &m.correlation {
            let key = (session.clone(), id.clone());
            self.correlated.entry(key).or_default().push(i);
        }
        if m.msg_role == Some(Role::Error) {
            self.errors.entry(session.clone()).or_default().push(i);
        }
    }

    /// Takes the close at position `i`.
    fn close(&mut self, i: usize, session: &Option<Session>, close: &WsClose) {
        if close.initiator == Side::Upstream && !close.is_normal() {
            self.closes.entry(session.clone()).or_default().push(i);
        }
    }

    /// Upstream messages whose payload holds `content` (normalized) as a
    /// string, at any depth.
    pub fn carrying(&self, content: &str) -> &[usize] {
        self.carried.get(content).map_or(&[], Vec::as_slice)
    }

    /// Upstream messages of `session` with correlation id `id`.
    pub fn correlated(&self, session: &Option<Session>, id: &str) -> &[usize] {
        self.correlated
            .get(&(session.clone(), id.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    /// Upstream error replies of `session`.
    pub fn errors(&self, session: &Option<Session>) -> &[usize] {
        self.errors.get(session).map_or(&[], Vec::as_slice)
    }

    /// Abnormal closes the upstream started on `session`.
    pub fn closes(&self, session: &Option<Session>) -> &[usize] {
        self.closes.get(session).map_or(&[], Vec::as_slice)
    }
}

/// The positions of `list` (ascending) after `after` and before `before`.
pub(super) fn between(list: &[usize], after: usize, before: usize) -> &[usize] {
    let start = list.partition_point(|&j| j <= after);
    let end = list.partition_point(|&j| j < before);
    &list[start..end.max(start)]
}

impl Reading {
    /// Reads `events` (a capture's, in order).
    pub fn of(events: &[Event]) -> Reading {
        let mut dialects = Dialects::default();
        let mut by_conn: HashMap<u64, Session> = HashMap::new();
        let mut payloads = Vec::with_capacity(events.len());
        let mut sessions = Vec::with_capacity(events.len());
        let mut shown = HashMap::new();
        let mut answers = Answers::default();
        let mut latest = Vec::with_capacity(events.len());
        for (i, event) in events.iter().enumerate() {
            latest.push(latest.last().copied().unwrap_or(0).max(event.t_us));
            dialects.observe(event);
            let conn_session = |conn: Option<u64>, by_conn: &HashMap<u64, Session>| {
                let conn = conn?;
                Some(by_conn.get(&conn).cloned().unwrap_or(Session::Conn(conn)))
            };
            let (payload, session) = match &event.kind {
                EventKind::WsHandshake(h) => {
                    let sid = crate::dialects::socketio::upgrade_sid(&h.uri);
                    if let (Some(conn), Some(sid)) = (event.conn, sid) {
                        by_conn.insert(conn, Session::EngineIo(sid.to_owned()));
                    }
                    (None, None)
                }
                EventKind::WsMessage(m) => {
                    let upstream = m.dir == Direction::UpstreamToClient;
                    let worth_reading = upstream
                        || matches!(
                            m.msg_role,
                            Some(Role::Send | Role::Push | Role::Reply | Role::Error)
                        );
                    let payload = worth_reading
                        .then(|| dialects.payload(event.conn, m))
                        .flatten();
                    if let (true, Some(value)) = (upstream, &payload) {
                        index_shown(value, event.seq, &mut shown);
                    }
                    let session = match &m.polling {
                        Some(sid) => Some(Session::EngineIo(sid.clone())),
                        None => conn_session(event.conn, &by_conn),
                    };
                    if upstream {
                        answers.message(i, &session, m, payload.as_ref());
                    }
                    (payload, session)
                }
                EventKind::HttpResponse(r) if r.status < 400 => {
                    let body = r.body.text().and_then(|t| serde_json::from_str(t).ok());
                    if let Some(value) = &body {
                        index_shown(value, event.seq, &mut shown);
                    }
                    (None, None)
                }
                EventKind::WsClose(c) => {
                    let session = conn_session(event.conn, &by_conn);
                    answers.close(i, &session, c);
                    (None, session)
                }
                _ => (None, None),
            };
            payloads.push(payload);
            sessions.push(session);
        }
        Reading {
            payloads,
            sessions,
            shown,
            answers,
            latest,
        }
    }

    /// The position of the first event after `i` (in `events`, the events
    /// read) whose `t_us` is past `deadline` (`events.len()` for none):
    /// where a scan from `i` for what happened until `deadline` stops.
    /// Found by bisection on the latest `t_us` so far, unless an event up
    /// to `i` is already past the deadline (a clock that went back); then
    /// by a scan.
    pub fn window_end(&self, events: &[Event], i: usize, deadline: u64) -> usize {
        if self.latest[i] <= deadline {
            return self.latest.partition_point(|&t| t <= deadline);
        }
        events
            .iter()
            .enumerate()
            .skip(i + 1)
            .find(|(_, e)| e.t_us > deadline)
            .map_or(events.len(), |(j, _)| j)
    }

    /// The objects with an id that hold `content` (normalized) as one of
    /// their own string values, in event order.
    pub fn shown_with(&self, content: &str) -> &[Shown] {
        self.shown.get(content).map_or(&[], Vec::as_slice)
    }
}

/// Adds position `i` under each normalized string `value` holds, at any
/// depth.
fn index_carried(value: &Value, i: usize, out: &mut HashMap<String, Vec<usize>>) {
    match value {
        Value::String(s) => {
            let entries = out.entry(normalize(s)).or_default();
            if entries.last() != Some(&i) {
                entries.push(i);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| index_carried(v, i, out)),
        Value::Object(o) => o.values().for_each(|v| index_carried(v, i, out)),
        _ => {}
    }
}

/// Adds every object of `value` that has an `id` (or `pk`) under each
/// normalized string it holds directly.
fn index_shown(value: &Value, seq: u64, out: &mut HashMap<String, Vec<Shown>>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| index_shown(v, seq, out)),
        Value::Object(o) => {
            if let Some(id) = o.get("id").or_else(|| o.get("pk")) {
                for text in o.values().filter_map(Value::as_str) {
                    let entries = out.entry(normalize(text)).or_default();
                    let shown = Shown {
                        seq,
                        id: id.clone(),
                    };
                    if entries.last() != Some(&shown) {
                        entries.push(shown);
                    }
                }
            }
            o.values().for_each(|v| index_shown(v, seq, out));
        }
        _ => {}
    }
}
