//! The event: the one vocabulary shared by every module.
//!
//! The proxy produces events, the hub numbers them, the capture writer
//! serializes them, and every offline command (show, diagnose, replay,
//! export) reads them back. Their JSON form is the capture format, documented
//! field by field in `docs/capture-format.md`; a change here is a change to
//! that contract.

mod app;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod flow;
pub mod jwt;
mod payload;
pub mod text;

use serde::{Deserialize, Serialize};

pub use app::{DialectId, Role};
pub use flow::{ExchangeFlow, Flows, SocketFlow};
pub use payload::{kept_text, Encoded, Payload};

/// Which way a WebSocket message (or close) travelled through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Sent by the client, forwarded to the upstream ("sent", shown as →).
    ClientToUpstream,
    /// Sent by the upstream, forwarded to the client ("received", shown as ←).
    UpstreamToClient,
}

impl Direction {
    /// The direction's name as in the capture: `client_to_upstream` or
    /// `upstream_to_client`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ClientToUpstream => "client_to_upstream",
            Direction::UpstreamToClient => "upstream_to_client",
        }
    }

    /// The arrow the console shows for this direction.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::ClientToUpstream => "→",
            Direction::UpstreamToClient => "←",
        }
    }

    /// The side that sent a message travelling this way.
    pub fn sender(self) -> Side {
        match self {
            Direction::ClientToUpstream => Side::Client,
            Direction::UpstreamToClient => Side::Upstream,
        }
    }
}

/// The party responsible for something: who closed, who failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The frontend side of the connection.
    Client,
    /// The backend wsdiag forwards to.
    Upstream,
    /// wsdiag itself.
    Proxy,
}

impl Side {
    /// The other end of a connection through the proxy: the client's peer
    /// is the upstream, and the proxy's or upstream's peer is the client.
    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Upstream,
            Side::Upstream | Side::Proxy => Side::Client,
        }
    }

    /// The side's name as in the capture: `client`, `upstream`, `proxy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Upstream => "upstream",
            Side::Proxy => "proxy",
        }
    }
}

/// A WebSocket message's opcode (RFC 6455 section 5.2), by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Opcode {
    /// A UTF-8 text message (opcode 1).
    Text,
    /// A binary message (opcode 2).
    Binary,
    /// A close frame (opcode 8); its payload is the code and reason.
    Close,
    /// A ping (opcode 9).
    Ping,
    /// A pong (opcode 10).
    Pong,
}

impl Opcode {
    /// The opcode's name as in the capture: `text`, `binary`, `close`,
    /// `ping`, `pong`.
    pub fn as_str(self) -> &'static str {
        match self {
            Opcode::Text => "text",
            Opcode::Binary => "binary",
            Opcode::Close => "close",
            Opcode::Ping => "ping",
            Opcode::Pong => "pong",
        }
    }
}

/// Header fields in the order they came, duplicates kept (`Set-Cookie`).
///
/// JSON: a list of `[name, value]` pairs, names lower-case as HTTP/1.1
/// parsers deliver them. Values that are not valid UTF-8 are decoded lossily.
pub type Headers = Vec<(String, String)>;

/// Converts an `http::HeaderMap` into the capture's header list.
pub fn headers_from(map: &http::HeaderMap) -> Headers {
    map.iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The first value of header `name` (case-insensitive) in a header list.
pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// One record of the capture, in the order it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the capture, from 1, with no gaps.
    pub seq: u64,
    /// Microseconds since the capture header's `started_at`, taken when the
    /// proxy observed the event.
    pub t_us: u64,
    /// The connection the event belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conn: Option<u64>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What an event records; the JSON `type` tag names the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A client connected to the proxy.
    ConnOpen(ConnOpen),
    /// An HTTP request arrived (recorded once its body was read).
    HttpRequest(HttpRequest),
    /// The upstream's response to an exchange was forwarded completely.
    HttpResponse(HttpResponse),
    /// An exchange failed before its response was forwarded completely.
    HttpError(HttpError),
    /// The outcome of a WebSocket upgrade request.
    WsHandshake(WsHandshake),
    /// One WebSocket message forwarded (or attempted).
    WsMessage(WsMessage),
    /// A WebSocket ended: who closed it first, how, and whether cleanly.
    WsClose(WsClose),
    /// A client connection ended.
    ConnClose(ConnClose),
    /// A failure that belongs to no single exchange.
    Error(ErrorEvent),
    /// The last record of a complete capture: counts.
    Trailer(Trailer),
}

impl EventKind {
    /// The JSON `type` tag of this kind (`ws_message`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::ConnOpen(_) => "conn_open",
            EventKind::HttpRequest(_) => "http_request",
            EventKind::HttpResponse(_) => "http_response",
            EventKind::HttpError(_) => "http_error",
            EventKind::WsHandshake(_) => "ws_handshake",
            EventKind::WsMessage(_) => "ws_message",
            EventKind::WsClose(_) => "ws_close",
            EventKind::ConnClose(_) => "conn_close",
            EventKind::Error(_) => "error",
            EventKind::Trailer(_) => "trailer",
        }
    }
}

/// `conn_open`: a client connected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnOpen {
    /// The client's address.
    pub peer: String,
}

/// `http_request`: the client's request as it arrived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// The exchange, numbered from 1 per capture.
    pub exchange: u64,
    /// Method as sent.
    pub method: String,
    /// Path and query as sent (origin form).
    pub uri: String,
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    /// Request headers as the client sent them.
    pub headers: Headers,
    /// The `Host` the upstream got, when wsdiag changed it
    /// (`--rewrite-host`, or no `Host` from the client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_host: Option<String>,
    /// The body (kept up to the capture's body limit).
    pub body: Payload,
}

/// `http_response`: the response forwarded to the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// The exchange this answers.
    pub exchange: u64,
    /// Status code.
    pub status: u16,
    /// Response headers as the upstream sent them.
    pub headers: Headers,
    /// The body (kept up to the capture's body limit).
    pub body: Payload,
    /// From the request's arrival to the response's last byte.
    pub duration_us: u64,
}

/// `http_error`: an exchange that failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpError {
    /// The exchange that failed.
    pub exchange: u64,
    /// Who failed.
    pub side: Side,
    /// What kind of failure, from a closed list.
    pub kind: ErrorKind,
    /// The cause in words, for people.
    pub message: String,
    /// The status the proxy answered the client with, if it could answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// From the request's arrival to the failure.
    pub duration_us: u64,
}

/// The kinds of failure wsdiag tells apart. Runtime strings are context, not
/// kinds: a diagnosis decides on these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The upstream refused or could not be reached (DNS, TCP, routing).
    Connect,
    /// Connecting or handshaking with the upstream took too long.
    Timeout,
    /// TLS with the upstream failed (certificate, protocol).
    Tls,
    /// The peer broke the HTTP or WebSocket protocol.
    Protocol,
    /// A body or message stream failed part-way.
    Body,
    /// The connection was closed without a clean close.
    Reset,
    /// The proxy refused the request itself.
    Refused,
    /// A local I/O failure (for example the capture file).
    Io,
}

/// `ws_handshake`: how a WebSocket upgrade went. The request's headers are
/// in the `http_request` event of the same exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WsHandshake {
    /// The exchange of the upgrade request.
    pub exchange: u64,
    /// Request path and query of the upgrade.
    pub uri: String,
    /// The upstream's status: 101 when accepted.
    pub status: u16,
    /// True when both sides now speak WebSocket through the proxy.
    pub accepted: bool,
    /// Subprotocols the client offered (`Sec-WebSocket-Protocol`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subprotocols_offered: Vec<String>,
    /// The subprotocol the upstream chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subprotocol: Option<String>,
    /// Extensions the upstream's 101 accepted (`Sec-WebSocket-Extensions`,
    /// e.g. `permessage-deflate; client_max_window_bits=15`), forwarded
    /// to the client as they came; the frames then carry them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
    /// Extensions the client offered that a wsdiag before 0.2 dropped
    /// before forwarding; read from old captures, never written now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions_dropped: Vec<String>,
    /// The message protocol the handshake names (its path, query or
    /// subprotocol); absent when only the first messages can tell, and
    /// then recorded on the message that told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<DialectId>,
}

impl WsHandshake {
    /// True for an accepted handshake whose subprotocol a client refuses:
    /// none chosen although the client offered some (browsers fail it), or
    /// one the client did not offer (RFC 6455 section 4.1).
    pub fn subprotocol_refused(&self) -> bool {
        self.accepted
            && match &self.subprotocol {
                None => !self.subprotocols_offered.is_empty(),
                Some(chosen) => !self.subprotocols_offered.contains(chosen),
            }
    }
}

/// `ws_message`: one message, in one direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WsMessage {
    /// Which way it went.
    pub dir: Direction,
    /// Text, binary, ping, pong or close.
    pub opcode: Opcode,
    /// The message content (flattened: `len`, `text` or `base64`,
    /// `truncated`).
    #[serde(flatten)]
    pub payload: Payload,
    /// The application's name for the message, read by its dialect: a
    /// JSON `type`, a Socket.IO event, a STOMP command, a GraphQL
    /// operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_type: Option<String>,
    /// What the message is for: `send`, `push`, `reply`, `error`,
    /// `heartbeat`, `control`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_role: Option<Role>,
    /// The room, channel, destination, namespace or topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// The id that pairs a request with its reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<String>,
    /// Set on the one message whose content chose the WebSocket's dialect
    /// (when the handshake did not name it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<DialectId>,
    /// What is wrong with a message that claims its dialect and breaks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Set on a message read from an Engine.IO long-polling HTTP body
    /// rather than a WebSocket: the Engine.IO session id (`sid`). wsdiag
    /// derives such messages from the `http_request` or `http_response`
    /// just before them; the bytes were forwarded as that HTTP body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polling: Option<String>,
    /// Present and false when the message could not be delivered to the
    /// other side (which had gone).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub forwarded: bool,
    /// `proxy` for a frame of wsdiag's own: its keepalive ping
    /// (`--idle-timeout`) and the pong that answers it, its close on
    /// shutdown. Absent for the endpoints' messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Side>,
    /// True when the message travelled compressed (permessage-deflate,
    /// RFC 7692): the payload recorded is the inflated one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub compressed: bool,
    /// The payload's size on the wire in bytes, all frames together, when
    /// it differs from `len` (a compressed message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire_len: Option<u64>,
    /// How many frames carried the message, when more than one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<u32>,
    /// What wsdiag could not read of the message (a compressed message
    /// that will not inflate: the payload then holds what inflated before
    /// the error). The message was forwarded all the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl WsMessage {
    /// A message as forwarded, before any dialect has read it.
    pub fn new(dir: Direction, opcode: Opcode, payload: Payload, forwarded: bool) -> WsMessage {
        WsMessage {
            dir,
            opcode,
            payload,
            msg_type: None,
            msg_role: None,
            topic: None,
            correlation: None,
            dialect: None,
            note: None,
            polling: None,
            forwarded,
            origin: None,
            compressed: false,
            wire_len: None,
            frames: None,
            error: None,
        }
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// `ws_close`: the end of a WebSocket, one per accepted upgrade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WsClose {
    /// Who ended the WebSocket first.
    pub initiator: Side,
    /// The close code of the first close frame; absent when there was none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// The reason of the first close frame.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// True when a close frame was sent and answered; false when a side
    /// dropped the connection (what a browser reports as 1006).
    pub clean: bool,
    /// For an abrupt end: what happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The side that was sent a close frame (the other side's, or wsdiag's
    /// on shutdown) and never sent one back: the close handshake did not
    /// complete (`clean` is false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unanswered: Option<Side>,
    /// The side whose frames first broke the WebSocket protocol, when one
    /// did. wsdiag forwarded them all the same: the endpoint that got them
    /// answered as it would without wsdiag (`code` is its answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violator: Option<Side>,
    /// What the violator did, in words (e.g. [`RESERVED_BITS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation: Option<String>,
    /// Messages forwarded client → upstream during the WebSocket's life.
    pub messages_sent: u64,
    /// Messages forwarded upstream → client.
    pub messages_received: u64,
}

impl WsClose {
    /// True for a normal end: a completed close handshake with 1000 (normal
    /// closure), 1001 (going away), 1005 or no code (RFC 6455 section
    /// 7.4.1). A drop without a close frame, or any other code, is not.
    pub fn is_normal(&self) -> bool {
        self.clean && matches!(self.code, Some(1000 | 1001 | 1005) | None)
    }
}

/// The violation wsdiag records when a side sends a frame with a
/// reserved bit set though no extension was negotiated: RSV1 is
/// permessage-deflate's "compressed" bit (RFC 7692 section 6), so this is
/// a side that compresses without having agreed to.
pub const RESERVED_BITS: &str =
    "a frame with a reserved bit set (RSV1: compressed) though no extension was negotiated";

/// `conn_close`: a client connection ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnClose {
    /// How long the connection lived.
    pub duration_us: u64,
    /// Exchanges served on it.
    pub exchanges: u64,
}

/// `error`: a failure outside any exchange (a malformed request, a TLS or
/// protocol error on the client connection).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    /// Who failed.
    pub side: Side,
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The cause in words.
    pub message: String,
}

/// `trailer`: counts over the whole capture; absent if the proxy was killed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Trailer {
    /// Client connections accepted.
    pub connections: u64,
    /// HTTP exchanges started (WebSocket upgrades included).
    pub exchanges: u64,
    /// Exchanges by status class: `2xx`, `3xx`, `4xx`, `5xx`, `error`.
    pub exchanges_by_status: std::collections::BTreeMap<String, u64>,
    /// WebSocket messages client → upstream.
    pub messages_sent: u64,
    /// WebSocket messages upstream → client.
    pub messages_received: u64,
    /// Upgrade requests the upstream did not accept.
    pub failed_handshakes: u64,
    /// `http_error` and `error` events.
    pub errors: u64,
}

impl Trailer {
    /// Adds `event` to the counts (Socket.IO long-polling messages are
    /// not WebSocket messages and are not counted as such).
    pub fn count(&mut self, event: &Event) {
        let class = |status: u16| format!("{}xx", status / 100);
        match &event.kind {
            EventKind::ConnOpen(_) => self.connections += 1,
            EventKind::HttpRequest(_) => self.exchanges += 1,
            EventKind::HttpResponse(r) => {
                *self.exchanges_by_status.entry(class(r.status)).or_default() += 1
            }
            EventKind::HttpError(_) => {
                self.errors += 1;
                *self
                    .exchanges_by_status
                    .entry("error".to_owned())
                    .or_default() += 1
            }
            EventKind::Error(_) => self.errors += 1,
            EventKind::WsHandshake(h) if !h.accepted => self.failed_handshakes += 1,
            EventKind::WsMessage(m) if m.polling.is_some() || m.origin.is_some() => {}
            EventKind::WsMessage(m) => match m.dir {
                Direction::ClientToUpstream => self.messages_sent += 1,
                Direction::UpstreamToClient => self.messages_received += 1,
            },
            _ => {}
        }
    }
}
