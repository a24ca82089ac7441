//! The dialect trait and what a dialect reads in one message.
//!
//! A dialect is a message protocol spoken on a WebSocket (Socket.IO, STOMP,
//! GraphQL over WebSocket, …): the field's "subprotocol" or "message
//! protocol". It reads facts, never formats text for people, and imports
//! only [`crate::event`].

use serde_json::Value;

pub use crate::event::{DialectId, Role};
use crate::event::{Direction, Opcode};

/// What a dialect reads in one WebSocket message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppMessage {
    /// The application's name for the message: the event, command,
    /// action, target, method or operation (`chat message`, `SEND`,
    /// `phx_join`). `None` when the message carries none.
    pub name: Option<String>,
    /// What the message is for; `None` when the dialect cannot tell.
    pub role: Option<Role>,
    /// The room, channel, destination, namespace or topic it is about.
    pub topic: Option<String>,
    /// The id that pairs a request with its reply (Socket.IO ack id,
    /// Phoenix `ref`, SignalR `invocationId`, STOMP `receipt`, GraphQL
    /// operation `id`, JSON-RPC `id`, MQTT packet id).
    pub correlation: Option<String>,
    /// Set when the message claims the dialect and breaks it: what is
    /// wrong, in a few words. The message is still forwarded and recorded.
    pub note: Option<String>,
}

impl AppMessage {
    /// A message with `name` and `role`, nothing else.
    pub fn named(name: impl Into<String>, role: Role) -> AppMessage {
        AppMessage {
            name: Some(name.into()),
            role: Some(role),
            ..AppMessage::default()
        }
    }

    /// A message the dialect could not read: `note` says why.
    pub fn broken(note: impl Into<String>) -> AppMessage {
        AppMessage {
            note: Some(note.into()),
            ..AppMessage::default()
        }
    }

    /// Sets the topic.
    pub fn topic(mut self, topic: Option<impl Into<String>>) -> AppMessage {
        self.topic = topic.map(Into::into);
        self
    }

    /// Sets the correlation id.
    pub fn correlation(mut self, id: Option<impl Into<String>>) -> AppMessage {
        self.correlation = id.map(Into::into);
        self
    }
}

/// One WebSocket message as a dialect sees it.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Which way it went.
    pub dir: Direction,
    /// Text or binary (control frames never reach a dialect).
    pub opcode: Opcode,
    /// The kept bytes of the message.
    pub data: &'a [u8],
    /// True when `data` is only the first bytes of a longer message: a
    /// dialect names what the prefix shows and does not call the cut a
    /// violation.
    pub truncated: bool,
}

impl<'a> Frame<'a> {
    /// The kept bytes of `payload` as a message going `dir`.
    pub fn of(dir: Direction, opcode: Opcode, payload: &'a crate::event::Payload) -> Frame<'a> {
        Frame {
            dir,
            opcode,
            data: &payload.bytes,
            truncated: payload.truncated(),
        }
    }

    /// A whole text message going `dir` (for tests and callers holding
    /// plain text).
    pub fn text_message(dir: Direction, text: &'a str) -> Frame<'a> {
        Frame {
            dir,
            opcode: Opcode::Text,
            data: text.as_bytes(),
            truncated: false,
        }
    }

    /// The message parsed as JSON, when it is text that parses.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(self.text()?).ok()
    }

    /// The message as a JSON object, when it is one.
    pub fn json_object(&self) -> Option<serde_json::Map<String, Value>> {
        match self.json()? {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The message as text, when it is a text message of valid UTF-8 (a
    /// truncated one may end inside a character: that character is dropped).
    pub fn text(&self) -> Option<&'a str> {
        if self.opcode != Opcode::Text {
            return None;
        }
        crate::event::kept_text(self.data, self.truncated)
    }

    /// The role of an application message by its direction: a client's is
    /// a send, the upstream's a push.
    pub fn app_role(&self) -> Role {
        match self.dir {
            Direction::ClientToUpstream => Role::Send,
            Direction::UpstreamToClient => Role::Push,
        }
    }
}

/// The value of query parameter `name` in `uri` (`""` for a bare `name`),
/// as sent (not percent-decoded).
pub fn query_param<'a>(uri: &'a str, name: &str) -> Option<&'a str> {
    let query = uri.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// What the upgrade request and answer say, for choosing a dialect.
#[derive(Debug, Clone, Copy)]
pub struct Handshake<'a> {
    /// Path and query of the upgrade request.
    pub uri: &'a str,
    /// The subprotocol the upstream chose.
    pub subprotocol: Option<&'a str>,
    /// The subprotocols the client offered.
    pub offered: &'a [String],
}

impl Handshake<'_> {
    /// The path without its query.
    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or(self.uri)
    }

    /// The value of query parameter `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        query_param(self.uri, name)
    }

    /// True when the upstream chose `name`, or chose none and the client
    /// offered it.
    pub fn speaks(&self, name: &str) -> bool {
        match self.subprotocol {
            Some(chosen) => chosen.eq_ignore_ascii_case(name),
            None => self.offered.iter().any(|o| o.eq_ignore_ascii_case(name)),
        }
    }
}

/// A message protocol: reads each message of one WebSocket, in order.
///
/// One value per WebSocket, so a dialect may keep what earlier messages
/// said (a Socket.IO binary event's attachments still to come, a GraphQL
/// operation's name by its id, a JSON-RPC method by its request id).
/// Implementations never panic and never fail: what they cannot read is an
/// [`AppMessage::broken`] or a message with no name.
pub trait Dialect: Send {
    /// Which dialect this is.
    fn id(&self) -> DialectId;

    /// Reads one text or binary message.
    fn classify(&mut self, frame: Frame<'_>) -> AppMessage;

    /// The application payload without the envelope: the Socket.IO
    /// event's arguments, the STOMP body, the Phoenix `payload`, the
    /// JSON-RPC `params`, the decoded MessagePack. `None` when the message
    /// carries none or it is not JSON. It depends on the message alone (and
    /// on nothing earlier messages said, except MQTT's protocol level, which
    /// a fresh dialect takes as 3.1.1), so any reader can call it on a new
    /// dialect value.
    fn payload(&self, frame: Frame<'_>) -> Option<Value>;

    /// What a client answers to this upstream heartbeat, when the protocol
    /// makes the client answer (Engine.IO v4's ping `2` gets pong `3`,
    /// graphql-transport-ws's `ping` gets `pong`). Only `replay`, which
    /// stands in for the client, sends it; the proxy never does.
    fn heartbeat_answer(&self, frame: Frame<'_>) -> Option<Vec<u8>> {
        let _ = frame;
        None
    }
}
