//! Dialects: the message protocols spoken on WebSockets, and the registry
//! that picks one per WebSocket.
//!
//! A WebSocket's dialect is chosen once: from its handshake (path, query,
//! subprotocol) when that names one, else from its first messages, and
//! `--dialect` overrides both. The [`Classifier`] then reads every message
//! of that WebSocket once, in the hub, and records what it read on the
//! event (`msg_type`, `msg_role`, `topic`, `correlation`, `note`); every
//! other module reads those fields instead of parsing payloads again.
//!
//! Adding a protocol: one file with a [`Dialect`], one line in [`new`],
//! and its recognition in [`from_handshake`] or [`sniff`].

pub mod actioncable;
pub mod api;
pub mod binary_json;
pub mod graphql_ws;
pub mod json;
mod json_keys;
pub mod jsonrpc;
pub mod mqtt;
pub mod phoenix;
pub mod signalr;
pub mod socketio;
pub mod sockjs;
pub mod stomp;
pub mod wamp;

use std::collections::HashMap;

use serde_json::Value;

pub use api::{AppMessage, Dialect, DialectId, Frame, Handshake, Role};
use binary_json::Encoding;

use crate::event::{Direction, Event, EventKind, Opcode, Payload, WsMessage};

/// A fresh dialect of kind `id`, for one WebSocket.
pub fn new(id: DialectId) -> Box<dyn Dialect> {
    match id {
        DialectId::Json => Box::new(json::Json),
        DialectId::Socketio => Box::<socketio::SocketIo>::default(),
        DialectId::Sockjs => Box::new(sockjs::Sockjs),
        DialectId::Stomp => Box::new(stomp::Stomp),
        DialectId::Actioncable => Box::new(actioncable::Actioncable),
        DialectId::Phoenix => Box::new(phoenix::Phoenix),
        DialectId::Signalr => Box::<signalr::Signalr>::default(),
        DialectId::GraphqlWs => Box::<graphql_ws::GraphqlWs>::default(),
        DialectId::Jsonrpc => Box::<jsonrpc::Jsonrpc>::default(),
        DialectId::Wamp => Box::<wamp::Wamp>::default(),
        DialectId::Mqtt => Box::<mqtt::Mqtt>::default(),
        DialectId::Msgpack => Box::new(binary_json::BinaryJson(Encoding::Msgpack)),
        DialectId::Cbor => Box::new(binary_json::BinaryJson(Encoding::Cbor)),
    }
}

/// The dialect a handshake names by its subprotocol or its URL, if any.
pub fn from_handshake(h: &Handshake<'_>) -> Option<DialectId> {
    const SUBPROTOCOLS: [(&str, DialectId); 12] = [
        ("v10.stomp", DialectId::Stomp),
        ("v11.stomp", DialectId::Stomp),
        ("v12.stomp", DialectId::Stomp),
        ("stomp", DialectId::Stomp),
        ("actioncable-v1-json", DialectId::Actioncable),
        ("actioncable-unsupported", DialectId::Actioncable),
        ("graphql-transport-ws", DialectId::GraphqlWs),
        ("graphql-ws", DialectId::GraphqlWs),
        ("mqtt", DialectId::Mqtt),
        ("mqttv3.1", DialectId::Mqtt),
        ("wamp.2.json", DialectId::Wamp),
        ("wamp.2.cbor", DialectId::Cbor),
    ];
    if let Some((_, id)) = SUBPROTOCOLS.iter().find(|(name, _)| h.speaks(name)) {
        return Some(*id);
    }
    let path = h.path();
    if path.contains("/socket.io/") || h.query("EIO").is_some() {
        return Some(DialectId::Socketio);
    }
    if path.ends_with("/websocket") && h.query("vsn").is_some() {
        return Some(DialectId::Phoenix);
    }
    if is_sockjs_session(path) {
        return Some(DialectId::Sockjs);
    }
    None
}

/// A SockJS WebSocket URL: `…/<server>/<session>/websocket`, the server id
/// three digits (sockjs-protocol, "Session URLs").
fn is_sockjs_session(path: &str) -> bool {
    let mut segments = path.rsplit('/');
    let (Some("websocket"), Some(session), Some(server)) =
        (segments.next(), segments.next(), segments.next())
    else {
        return false;
    };
    !session.is_empty()
        && !session.contains('.')
        && !server.is_empty()
        && server.len() <= 3
        && server.bytes().all(|b| b.is_ascii_digit())
}

/// The dialect one message shows by its shape, if it shows one.
pub fn sniff(frame: Frame<'_>) -> Option<DialectId> {
    if frame.opcode == Opcode::Binary {
        if mqtt::is_connect(frame.data) {
            return Some(DialectId::Mqtt);
        }
        if Encoding::Msgpack.decode(frame.data).is_some() {
            return Some(DialectId::Msgpack);
        }
        return Encoding::Cbor
            .decode(frame.data)
            .is_some()
            .then_some(DialectId::Cbor);
    }
    let text = frame.text()?;
    if text.ends_with(signalr::RECORD_SEPARATOR) && text.contains("\"protocol\"") {
        return Some(DialectId::Signalr);
    }
    if stomp::looks_like(text) {
        return Some(DialectId::Stomp);
    }
    if text == "o" {
        return Some(DialectId::Sockjs);
    }
    if text.starts_with("0{\"sid\"") {
        return Some(DialectId::Socketio);
    }
    match serde_json::from_str::<Value>(text).ok()? {
        Value::Object(o) => Some(sniff_object(&o)),
        Value::Array(items) => sniff_array(&items),
        _ => None,
    }
}

fn sniff_object(o: &serde_json::Map<String, Value>) -> DialectId {
    let kind = o.get("type").and_then(Value::as_str);
    if jsonrpc::is_jsonrpc(o) {
        DialectId::Jsonrpc
    } else if (o.contains_key("command") && o.contains_key("identifier")) || kind == Some("welcome")
    {
        DialectId::Actioncable
    } else if kind == Some("connection_init") {
        DialectId::GraphqlWs
    } else if ["topic", "event", "payload", "ref"]
        .iter()
        .all(|k| o.contains_key(*k))
    {
        DialectId::Phoenix
    } else {
        DialectId::Json
    }
}

fn sniff_array(items: &[Value]) -> Option<DialectId> {
    if items.len() == 5 && items[2].is_string() && items[3].is_string() {
        return Some(DialectId::Phoenix);
    }
    // WAMP's first message from a client is HELLO: [1, realm, details].
    match items {
        [Value::Number(code), Value::String(_), Value::Object(_)] if code.as_u64() == Some(1) => {
            Some(DialectId::Wamp)
        }
        _ => None,
    }
}

/// How many unanswered requests a dialect remembers per WebSocket (ack
/// ids, operation ids, invocation ids); past that the oldest are dropped
/// all at once, so a peer that never answers cannot grow the hub's memory.
pub const MAX_PENDING: usize = 4096;

/// Remembers `value` under `key`, forgetting everything first when
/// [`MAX_PENDING`] entries are waiting already.
pub fn remember<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= MAX_PENDING {
        map.clear();
    }
    map.insert(key, value);
}

/// How many messages may pass without showing a dialect before the
/// classifier stops looking (plain-text chats show none).
const SNIFF_LIMIT: u32 = 8;

/// One WebSocket's dialect, once chosen.
struct Session {
    dialect: Option<Box<dyn Dialect>>,
    unrecognised: u32,
}

/// Reads every WebSocket message of a stream of events, in order: picks
/// each WebSocket's dialect and records what it reads on the events.
///
/// The hub runs one on the live stream; the capture reader runs one to
/// migrate version 1 files; `--dialect` runs one with a forced dialect.
#[derive(Default)]
pub struct Classifier {
    forced: Option<DialectId>,
    sessions: HashMap<u64, Session>,
    /// Engine.IO long-polling: open requests by exchange (the session id,
    /// once known, and whether it is Engine.IO v3), and each session's
    /// Socket.IO reader by `sid`.
    polling_requests: HashMap<u64, (Option<String>, bool)>,
    polling_sessions: HashMap<String, socketio::SocketIo>,
}

impl Classifier {
    /// A classifier that guesses, or uses `forced` for every WebSocket.
    pub fn new(forced: Option<DialectId>) -> Classifier {
        Classifier {
            forced,
            ..Classifier::default()
        }
    }

    /// Reads `event` and records the result on it: the dialect on an
    /// accepted `ws_handshake`, the classification on a `ws_message`.
    ///
    /// Returns the messages an Engine.IO long-polling body carried (the
    /// `http_request` of a polling `POST`, the `http_response` of a polling
    /// `GET`): new `ws_message` events with `polling` set, to be recorded
    /// right after `event` and passed to `observe` in their turn.
    pub fn observe(&mut self, event: &mut Event) -> Vec<Event> {
        let Some(conn) = event.conn else {
            return Vec::new();
        };
        match &mut event.kind {
            EventKind::HttpRequest(r) => {
                let Some(sid) = socketio::polling_request(&r.uri) else {
                    return Vec::new();
                };
                let eio3 = socketio::is_eio3(&r.uri);
                self.polling_requests
                    .insert(r.exchange, (sid.clone(), eio3));
                if let (Some(sid), "POST") = (sid, r.method.as_str()) {
                    let body = r.body.clone();
                    return polling_messages(event, &body, Direction::ClientToUpstream, sid, eio3);
                }
            }
            EventKind::HttpError(e) => {
                self.polling_requests.remove(&e.exchange);
            }
            EventKind::HttpResponse(r) => {
                let Some((sid, eio3)) = self.polling_requests.remove(&r.exchange) else {
                    return Vec::new();
                };
                let text = r.body.text().unwrap_or("");
                let sid = sid.or_else(|| socketio::open_sid_in_body(text, eio3));
                if let (Some(sid), true) = (sid, r.status == 200 && text != "ok") {
                    let body = r.body.clone();
                    return polling_messages(event, &body, Direction::UpstreamToClient, sid, eio3);
                }
            }
            EventKind::WsMessage(m) if m.polling.is_some() => {
                let sid = m.polling.clone().unwrap_or_default();
                let session = self.polling_sessions.entry(sid.clone()).or_default();
                apply(m, session.classify(frame_of(m)));
                // An Engine.IO close or upgrade ends the polling session.
                if matches!(m.msg_type.as_deref(), Some("close" | "upgrade")) {
                    self.polling_sessions.remove(&sid);
                }
            }
            EventKind::WsHandshake(h) if h.accepted => {
                let chosen = self.forced.or_else(|| {
                    from_handshake(&Handshake {
                        uri: &h.uri,
                        subprotocol: h.subprotocol.as_deref(),
                        offered: &h.subprotocols_offered,
                    })
                });
                h.dialect = chosen;
                self.sessions.insert(
                    conn,
                    Session {
                        dialect: chosen.map(new),
                        unrecognised: 0,
                    },
                );
            }
            EventKind::WsMessage(m) if matches!(m.opcode, Opcode::Text | Opcode::Binary) => {
                let forced = self.forced;
                let session = self.sessions.entry(conn).or_insert_with(|| Session {
                    dialect: forced.map(new),
                    unrecognised: 0,
                });
                session.classify(m);
            }
            EventKind::WsClose(_) | EventKind::ConnClose(_) => {
                self.sessions.remove(&conn);
            }
            _ => {}
        }
        Vec::new()
    }

    /// Classifies `events` again from scratch, with `forced` as every
    /// WebSocket's dialect when given (the `--dialect` of offline commands,
    /// and the migration of version 1 captures).
    pub fn reclassify(events: &mut [Event], forced: Option<DialectId>) {
        let mut classifier = Classifier::new(forced);
        for event in events {
            match &mut event.kind {
                EventKind::WsMessage(m) => clear(m),
                EventKind::WsHandshake(h) => h.dialect = None,
                _ => {}
            }
            // A capture of version 2 holds its polling messages already; a
            // version 1 capture or a HAR file gets none (see the docs).
            let _derived = classifier.observe(event);
        }
    }
}

impl Session {
    fn classify(&mut self, m: &mut WsMessage) {
        let frame = frame_of(m);
        let mut chosen = None;
        if self.dialect.is_none() && self.unrecognised < SNIFF_LIMIT {
            match sniff(frame) {
                Some(id) => {
                    chosen = Some(id);
                    self.dialect = Some(new(id));
                }
                None => self.unrecognised += 1,
            }
        }
        let Some(dialect) = self.dialect.as_mut() else {
            return;
        };
        let app = dialect.classify(frame);
        m.dialect = chosen;
        apply(m, app);
    }
}

/// Records what a dialect read on the message.
fn apply(m: &mut WsMessage, app: AppMessage) {
    m.msg_type = app.name;
    m.msg_role = app.role;
    m.topic = app.topic;
    m.correlation = app.correlation;
    m.note = app.note;
}

/// The Engine.IO packets of a polling body as messages of session `sid`,
/// at the time and on the connection of `carrier`. A body cut by the
/// body limit cuts its last packet, which is marked truncated.
fn polling_messages(
    carrier: &Event,
    body: &Payload,
    dir: Direction,
    sid: String,
    eio3: bool,
) -> Vec<Event> {
    let Some(text) = body.text() else {
        return Vec::new();
    };
    let packets = socketio::polling_packets(text, eio3);
    let missing = body.len.saturating_sub(body.bytes.len() as u64);
    let last = packets.len().saturating_sub(1);
    packets
        .into_iter()
        .enumerate()
        .map(|(i, (binary, bytes))| {
            let opcode = if binary { Opcode::Binary } else { Opcode::Text };
            let len = bytes.len() as u64 + if i == last { missing } else { 0 };
            let mut m = WsMessage::new(dir, opcode, Payload { bytes, len }, true);
            m.polling = Some(sid.clone());
            Event {
                seq: 0,
                t_us: carrier.t_us,
                conn: carrier.conn,
                kind: EventKind::WsMessage(m),
            }
        })
        .collect()
}

/// For a message of its protocol's heartbeats, read on its own by
/// `dialect` (or the dialect its shape shows): `Some` with what a client
/// answers to it, if anything. `None` for any other message.
pub fn heartbeat(dialect: Option<DialectId>, frame: Frame<'_>) -> Option<Option<Vec<u8>>> {
    let mut reader = new(dialect.or_else(|| sniff(frame))?);
    (reader.classify(frame).role == Some(Role::Heartbeat)).then(|| reader.heartbeat_answer(frame))
}

/// A message as a dialect sees it.
pub fn frame_of(m: &WsMessage) -> Frame<'_> {
    Frame::of(m.dir, m.opcode, &m.payload)
}

fn clear(m: &mut WsMessage) {
    m.msg_type = None;
    m.msg_role = None;
    m.topic = None;
    m.correlation = None;
    m.dialect = None;
    m.note = None;
}

/// Each WebSocket's dialect as a capture recorded it (on the handshake,
/// or on the message that chose it), for readers that need a message's
/// application payload.
#[derive(Debug, Default, Clone)]
pub struct Dialects {
    by_conn: HashMap<u64, DialectId>,
}

impl Dialects {
    /// Every WebSocket's dialect in `events`.
    pub fn of(events: &[Event]) -> Dialects {
        let mut d = Dialects::default();
        for event in events {
            d.observe(event);
        }
        d
    }

    /// Notes the dialect `event` records, if it records one.
    pub fn observe(&mut self, event: &Event) {
        let Some(conn) = event.conn else {
            return;
        };
        let chosen = match &event.kind {
            EventKind::WsHandshake(h) => h.dialect,
            EventKind::WsMessage(m) => m.dialect,
            _ => None,
        };
        if let Some(id) = chosen {
            self.by_conn.insert(conn, id);
        }
    }

    /// Forgets connection `conn` (a reader of a live stream calls it when
    /// the connection closes, so its memory does not grow).
    pub fn forget(&mut self, conn: u64) {
        self.by_conn.remove(&conn);
    }

    /// The dialect of connection `conn`'s WebSocket.
    pub fn get(&self, conn: Option<u64>) -> Option<DialectId> {
        self.by_conn.get(&conn?).copied()
    }

    /// The dialect message `m` on connection `conn` was read with: its
    /// WebSocket's, or Socket.IO for a long-polling message.
    pub fn of_message(&self, conn: Option<u64>, m: &WsMessage) -> Option<DialectId> {
        match m.polling {
            Some(_) => Some(DialectId::Socketio),
            None => self.get(conn),
        }
    }

    /// The application payload of message `m` on connection `conn`
    /// (without the envelope), when its dialect finds one. A message whose
    /// WebSocket's dialect is not known here (its handshake is outside a
    /// window of events) is read by the dialect its shape shows.
    pub fn payload(&self, conn: Option<u64>, m: &WsMessage) -> Option<Value> {
        if !matches!(m.opcode, Opcode::Text | Opcode::Binary) {
            return None;
        }
        let frame = frame_of(m);
        let id = self.of_message(conn, m).or_else(|| sniff(frame))?;
        new(id).payload(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake<'a>(uri: &'a str, sub: Option<&'a str>) -> Handshake<'a> {
        Handshake {
            uri,
            subprotocol: sub,
            offered: &[],
        }
    }

    #[test]
    fn handshakes_name_their_dialects() {
        let cases = [
            (
                "/socket.io/?EIO=4&transport=websocket",
                None,
                Some(DialectId::Socketio),
            ),
            (
                "/chat/?EIO=3&transport=websocket",
                None,
                Some(DialectId::Socketio),
            ),
            (
                "/socket/websocket?vsn=2.0.0",
                None,
                Some(DialectId::Phoenix),
            ),
            (
                "/echo/123/abcdefgh/websocket",
                None,
                Some(DialectId::Sockjs),
            ),
            ("/stomp", Some("v12.stomp"), Some(DialectId::Stomp)),
            (
                "/cable",
                Some("actioncable-v1-json"),
                Some(DialectId::Actioncable),
            ),
            (
                "/graphql",
                Some("graphql-transport-ws"),
                Some(DialectId::GraphqlWs),
            ),
            ("/mqtt", Some("mqtt"), Some(DialectId::Mqtt)),
            ("/ws/chat/3/", None, None),
        ];
        for (uri, sub, want) in cases {
            assert_eq!(from_handshake(&handshake(uri, sub)), want, "{uri}");
        }
    }

    #[test]
    fn first_messages_show_their_dialects() {
        let text = |s: &'static str| Frame {
            dir: crate::event::Direction::ClientToUpstream,
            opcode: Opcode::Text,
            data: s.as_bytes(),
            truncated: false,
        };
        let cases = [
            (
                "{\"protocol\":\"json\",\"version\":1}\u{1e}",
                Some(DialectId::Signalr),
            ),
            ("CONNECT\naccept-version:1.2\n\n\0", Some(DialectId::Stomp)),
            (
                r#"{"jsonrpc":"2.0","method":"a","id":1}"#,
                Some(DialectId::Jsonrpc),
            ),
            (r#"{"type":"connection_init"}"#, Some(DialectId::GraphqlWs)),
            (r#"{"type":"welcome"}"#, Some(DialectId::Actioncable)),
            (
                r#"[null,"1","room:1","phx_join",{}]"#,
                Some(DialectId::Phoenix),
            ),
            (r#"[1,"realm1",{"roles":{}}]"#, Some(DialectId::Wamp)),
            (r#"{"type":"chat_message"}"#, Some(DialectId::Json)),
            ("hello", None),
        ];
        for (s, want) in cases {
            assert_eq!(sniff(text(s)), want, "{s:?}");
        }
    }
}
