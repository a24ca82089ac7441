//! What the diagnosis reads of each event, once per diagnosis: the
//! application payloads (by each socket's dialect), the session each
//! WebSocket event belongs to, and an index of the saved objects every
//! upstream message and successful response shows, by the text they hold.
//!
//! Everything else looks values up here instead of parsing payloads again,
//! which keeps the diagnosis linear in the number of events.

use std::collections::HashMap;

use serde_json::Value;

use crate::dialects::Dialects;
use crate::event::text::normalize;
use crate::event::{Direction, Event, EventKind, Role};

/// A conversation between one client and the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl Reading {
    /// Reads `events` (a capture's, in order).
    pub fn of(events: &[Event]) -> Reading {
        let mut dialects = Dialects::default();
        let mut by_conn: HashMap<u64, Session> = HashMap::new();
        let mut payloads = Vec::with_capacity(events.len());
        let mut sessions = Vec::with_capacity(events.len());
        let mut shown = HashMap::new();
        for event in events {
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
                    (payload, session)
                }
                EventKind::HttpResponse(r) if r.status < 400 => {
                    let body = r.body.text().and_then(|t| serde_json::from_str(t).ok());
                    if let Some(value) = &body {
                        index_shown(value, event.seq, &mut shown);
                    }
                    (None, None)
                }
                EventKind::WsClose(_) => (None, conn_session(event.conn, &by_conn)),
                _ => (None, None),
            };
            payloads.push(payload);
            sessions.push(session);
        }
        Reading {
            payloads,
            sessions,
            shown,
        }
    }

    /// The objects with an id that hold `content` (normalized) as one of
    /// their own string values, in event order.
    pub fn shown_with(&self, content: &str) -> &[Shown] {
        self.shown.get(content).map_or(&[], Vec::as_slice)
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
