//! What the dialect layer records on events: which message protocol a
//! WebSocket speaks and what each message is for. The types live here, at
//! the bottom of the ladder, so that events can hold them; the dialects
//! themselves live in `crate::dialects`.

use serde::{Deserialize, Serialize};

/// The message protocols wsdiag reads, by their capture and `--dialect`
/// names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialectId {
    /// JSON objects whose name sits in `type`, `event`, `action`, `op`,
    /// `cmd`, `method` or `kind`.
    Json,
    /// Socket.IO v4 over Engine.IO v3/v4 (socket.io-protocol, engine.io-protocol).
    Socketio,
    /// SockJS framing (`o`, `h`, `a[…]`, `c[…]`) around an inner dialect.
    Sockjs,
    /// STOMP 1.0–1.2 frames.
    Stomp,
    /// Rails ActionCable (`actioncable-v1-json`).
    Actioncable,
    /// Phoenix Channels, serializer 1.0.0 (objects) and 2.0.0 (arrays).
    Phoenix,
    /// ASP.NET Core SignalR, JSON hub protocol.
    Signalr,
    /// GraphQL over WebSocket: `graphql-transport-ws` and the legacy
    /// `graphql-ws` (subscriptions-transport-ws).
    GraphqlWs,
    /// JSON-RPC 2.0.
    Jsonrpc,
    /// WAMP v2, JSON serialization (`wamp.2.json`).
    Wamp,
    /// MQTT 3.1.1 and 5 over WebSocket (binary frames).
    Mqtt,
    /// MessagePack binary frames, read as their decoded JSON.
    Msgpack,
    /// CBOR binary frames (RFC 8949), read as their decoded JSON.
    Cbor,
}

impl DialectId {
    /// Every dialect, in the order `--dialect` lists them.
    pub const ALL: [DialectId; 13] = [
        DialectId::Json,
        DialectId::Socketio,
        DialectId::Sockjs,
        DialectId::Stomp,
        DialectId::Actioncable,
        DialectId::Phoenix,
        DialectId::Signalr,
        DialectId::GraphqlWs,
        DialectId::Jsonrpc,
        DialectId::Wamp,
        DialectId::Mqtt,
        DialectId::Msgpack,
        DialectId::Cbor,
    ];

    /// The name used in captures and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            DialectId::Json => "json",
            DialectId::Socketio => "socketio",
            DialectId::Sockjs => "sockjs",
            DialectId::Stomp => "stomp",
            DialectId::Actioncable => "actioncable",
            DialectId::Phoenix => "phoenix",
            DialectId::Signalr => "signalr",
            DialectId::GraphqlWs => "graphql_ws",
            DialectId::Jsonrpc => "jsonrpc",
            DialectId::Wamp => "wamp",
            DialectId::Mqtt => "mqtt",
            DialectId::Msgpack => "msgpack",
            DialectId::Cbor => "cbor",
        }
    }

    /// The dialect named `name` (as [`DialectId::as_str`] gives it).
    pub fn parse(name: &str) -> Option<DialectId> {
        DialectId::ALL.into_iter().find(|d| d.as_str() == name)
    }
}

impl std::fmt::Display for DialectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a message is for, in the application's conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An application message from the client: a send attempt.
    Send,
    /// An application message the upstream sends unasked (a broadcast,
    /// an event, a subscription's data).
    Push,
    /// The answer to an earlier message (an ack, a reply, a result).
    Reply,
    /// An error, as an answer or on its own.
    Error,
    /// Keepalive traffic of the protocol (Engine.IO ping, STOMP heart-beat).
    Heartbeat,
    /// The protocol's own housekeeping: connect, subscribe, handshake.
    Control,
}

impl Role {
    /// The role named `name` (as [`Role::as_str`] gives it).
    pub fn parse(name: &str) -> Option<Role> {
        [
            Role::Send,
            Role::Push,
            Role::Reply,
            Role::Error,
            Role::Heartbeat,
            Role::Control,
        ]
        .into_iter()
        .find(|r| r.as_str() == name)
    }

    /// The role's name as in the capture and `--role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Send => "send",
            Role::Push => "push",
            Role::Reply => "reply",
            Role::Error => "error",
            Role::Heartbeat => "heartbeat",
            Role::Control => "control",
        }
    }
}
