//! JSON envelopes: text messages that are JSON objects naming themselves
//! in a key, `{"type":"chat_message","message":"cc"}` (Django Channels),
//! `{"event":"message.send","payload":{…}}`, `{"action":"join",…}`.
//!
//! The name is the first string among [`NAME_KEYS`]; the payload is the
//! first of [`PAYLOAD_KEYS`], else the object without its name key. The
//! same rules name decoded MessagePack and CBOR objects and ActionCable
//! broadcasts.

use serde_json::{Map, Value};

use super::api::{AppMessage, Dialect, DialectId, Frame, Role};

/// Keys that name a message, first present wins.
pub const NAME_KEYS: [&str; 7] = ["type", "event", "action", "op", "cmd", "method", "kind"];

/// Keys that hold the application payload, first present wins.
pub const PAYLOAD_KEYS: [&str; 4] = ["data", "payload", "body", "params"];

/// Keys that pair a request with its reply.
const CORRELATION_KEYS: [&str; 6] = [
    "request_id",
    "requestId",
    "correlation_id",
    "correlationId",
    "reqId",
    "ack",
];

/// Names that mean keepalive traffic.
const HEARTBEAT_NAMES: [&str; 5] = ["ping", "pong", "heartbeat", "keepalive", "keep_alive"];

/// The JSON envelope dialect.
#[derive(Debug, Default)]
pub struct Json;

impl Dialect for Json {
    fn id(&self) -> DialectId {
        DialectId::Json
    }

    fn classify(&mut self, frame: Frame<'_>) -> AppMessage {
        let Some(text) = frame.text() else {
            return AppMessage::default();
        };
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(object)) => classify_object(&object, frame.app_role()),
            Ok(_) => AppMessage::default(),
            // A cut prefix is not a broken message; its name may still show.
            Err(_) if frame.truncated => AppMessage {
                name: name_in_prefix(text),
                role: Some(frame.app_role()),
                ..AppMessage::default()
            },
            Err(_) => AppMessage::default(),
        }
    }

    fn payload(&self, frame: Frame<'_>) -> Option<Value> {
        let object = match serde_json::from_str::<Value>(frame.text()?).ok()? {
            Value::Object(object) => object,
            other => return Some(other),
        };
        Some(envelope_payload(&object))
    }
}

/// Reads a JSON object as an envelope; `app_role` is the role of an
/// application message in its direction.
pub fn classify_object(object: &Map<String, Value>, app_role: Role) -> AppMessage {
    let name = envelope_name(object);
    let role = match name.as_deref() {
        Some(n) if HEARTBEAT_NAMES.contains(&n.to_ascii_lowercase().as_str()) => Role::Heartbeat,
        Some(n) if n.eq_ignore_ascii_case("error") => Role::Error,
        _ if object.contains_key("error") && !has_payload(object) => Role::Error,
        _ => app_role,
    };
    let correlation = CORRELATION_KEYS
        .iter()
        .find_map(|k| object.get(*k))
        .and_then(scalar_text);
    let topic = [
        "room",
        "channel",
        "topic",
        "conversation",
        "conversation_id",
    ]
    .iter()
    .find_map(|k| object.get(*k))
    .and_then(scalar_text);
    AppMessage {
        name,
        role: Some(role),
        topic,
        correlation,
        note: None,
    }
}

/// The name of an envelope: the first string among [`NAME_KEYS`].
pub fn envelope_name(object: &Map<String, Value>) -> Option<String> {
    NAME_KEYS
        .iter()
        .find_map(|k| object.get(*k).and_then(Value::as_str))
        .map(str::to_owned)
}

/// The payload of an envelope: the first of [`PAYLOAD_KEYS`], else the
/// object without the key that named it.
pub fn envelope_payload(object: &Map<String, Value>) -> Value {
    if let Some(inner) = PAYLOAD_KEYS.iter().find_map(|k| object.get(*k)) {
        return inner.clone();
    }
    let name_key = NAME_KEYS
        .iter()
        .find(|k| object.get(**k).is_some_and(Value::is_string));
    let mut rest = object.clone();
    if let Some(k) = name_key {
        rest.remove(*k);
    }
    Value::Object(rest)
}

fn has_payload(object: &Map<String, Value>) -> bool {
    PAYLOAD_KEYS.iter().any(|k| object.contains_key(*k))
}

/// A string or number as text; other values have none.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The name of a cut JSON object, when its prefix shows one of the name
/// keys with a complete string value: `{"type":"chat_message","message":"…`.
pub fn name_in_prefix(text: &str) -> Option<String> {
    NAME_KEYS.iter().find_map(|key| {
        let at = text.find(&format!("\"{key}\""))?;
        let rest = text[at + key.len() + 2..].trim_start().strip_prefix(':')?;
        let rest = rest.trim_start();
        let mut de = serde_json::Deserializer::from_str(rest).into_iter::<String>();
        de.next()?.ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Direction, Opcode};

    fn frame(text: &str) -> Frame<'_> {
        Frame {
            dir: Direction::ClientToUpstream,
            opcode: Opcode::Text,
            data: text.as_bytes(),
            truncated: false,
        }
    }

    #[test]
    fn the_first_name_key_names_the_message() {
        let m = Json.classify(frame(r#"{"type":"chat_message","message":"cc"}"#));
        assert_eq!(m.name.as_deref(), Some("chat_message"));
        assert_eq!(m.role, Some(Role::Send));
        let m = Json.classify(frame(r#"{"event":"message.send","payload":{"text":"cc"}}"#));
        assert_eq!(m.name.as_deref(), Some("message.send"));
        assert_eq!(
            Json.payload(frame(r#"{"event":"message.send","payload":{"text":"cc"}}"#)),
            Some(serde_json::json!({"text":"cc"}))
        );
        assert_eq!(
            Json.payload(frame(r#"{"type":"chat_message","message":"cc"}"#)),
            Some(serde_json::json!({"message":"cc"}))
        );
    }

    #[test]
    fn heartbeats_and_errors_have_their_roles() {
        assert_eq!(
            Json.classify(frame(r#"{"op":"ping"}"#)).role,
            Some(Role::Heartbeat)
        );
        assert_eq!(
            Json.classify(frame(r#"{"error":"not allowed"}"#)).role,
            Some(Role::Error)
        );
        assert_eq!(Json.classify(frame("hello")), AppMessage::default());
        assert_eq!(Json.classify(frame(r#"{"type":3}"#)).name, None);
    }

    #[test]
    fn a_cut_object_keeps_the_name_its_prefix_shows() {
        let mut f = frame(r#"{"type":"chat_message","message":"a very long te"#);
        f.truncated = true;
        assert_eq!(Json.classify(f).name.as_deref(), Some("chat_message"));
    }
}
