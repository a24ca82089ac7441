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
use super::json_keys::{self, Scalar};

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

/// Keys that name the room, channel or topic a message is about.
const TOPIC_KEYS: [&str; 5] = [
    "room",
    "channel",
    "topic",
    "conversation",
    "conversation_id",
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
        match classify_text(text, frame.app_role()) {
            Ok(message) => message,
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
    Envelope::of(object).message(app_role)
}

/// Classifies `text` when it is a JSON object, reading only the keys
/// classification needs ([`json_keys`]): the same answers as
/// [`classify_object`] of the parsed object, for a third of the time.
fn classify_text(text: &str, app_role: Role) -> serde_json::Result<AppMessage> {
    let mut envelope = Envelope::default();
    Ok(if json_keys::read(text, &mut envelope)? {
        envelope.message(app_role)
    } else {
        // Valid JSON that is not an object names nothing.
        AppMessage::default()
    })
}

/// The top-level keys of an envelope that classification reads, each
/// `None` when absent.
#[derive(Debug, Default)]
struct Envelope {
    names: [Option<Scalar>; NAME_KEYS.len()],
    correlations: [Option<Scalar>; CORRELATION_KEYS.len()],
    topics: [Option<Scalar>; TOPIC_KEYS.len()],
    error: bool,
    payload: bool,
}

impl Envelope {
    fn of(object: &Map<String, Value>) -> Envelope {
        let mut envelope = Envelope {
            error: object.contains_key("error"),
            payload: PAYLOAD_KEYS.iter().any(|k| object.contains_key(*k)),
            ..Envelope::default()
        };
        for (slot, key) in envelope.slots_mut().zip(slot_keys()) {
            *slot = object.get(*key).map(|v| Scalar {
                text: scalar_text(v),
                string: v.is_string(),
            });
        }
        envelope
    }

    /// Every slot, in the order of [`slot_keys`].
    fn slots_mut(&mut self) -> impl Iterator<Item = &mut Option<Scalar>> {
        self.names
            .iter_mut()
            .chain(&mut self.correlations)
            .chain(&mut self.topics)
    }

    /// What the envelope says, its texts taken out of it.
    fn message(&mut self, app_role: Role) -> AppMessage {
        // The first string among the name keys.
        let name = self
            .names
            .iter_mut()
            .flatten()
            .find(|s| s.string)
            .and_then(|s| s.text.take());
        let role = match name.as_deref() {
            Some(n) if HEARTBEAT_NAMES.iter().any(|h| n.eq_ignore_ascii_case(h)) => Role::Heartbeat,
            Some(n) if n.eq_ignore_ascii_case("error") => Role::Error,
            _ if self.error && !self.payload => Role::Error,
            _ => app_role,
        };
        AppMessage {
            name,
            role: Some(role),
            topic: first_present(&mut self.topics),
            correlation: first_present(&mut self.correlations),
            note: None,
        }
    }
}

impl json_keys::Keys for Envelope {
    fn slot(&mut self, key: &str) -> Option<&mut Option<Scalar>> {
        // Array by array: a position in the chain of all three, then its
        // slot, took four times as long (callgrind).
        let at = |keys: &[&str]| keys.iter().position(|k| *k == key);
        if let Some(i) = at(&NAME_KEYS) {
            return Some(&mut self.names[i]);
        }
        if let Some(i) = at(&CORRELATION_KEYS) {
            return Some(&mut self.correlations[i]);
        }
        at(&TOPIC_KEYS).map(|i| &mut self.topics[i])
    }

    fn skipped(&mut self, key: &str) {
        self.error |= key == "error";
        self.payload |= PAYLOAD_KEYS.contains(&key);
    }
}

/// The keys an [`Envelope`] keeps: [`NAME_KEYS`], [`CORRELATION_KEYS`],
/// [`TOPIC_KEYS`].
fn slot_keys() -> impl Iterator<Item = &'static &'static str> {
    NAME_KEYS.iter().chain(&CORRELATION_KEYS).chain(&TOPIC_KEYS)
}

/// The text of the first key present, whatever it holds: a present key
/// without text (not a string or number) hides the keys after it.
fn first_present(slots: &mut [Option<Scalar>]) -> Option<String> {
    slots
        .iter_mut()
        .flatten()
        .next()
        .and_then(|s| s.text.take())
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

    /// What classification said before it read the text directly: the
    /// parsed `Value`, then `classify_object`.
    fn through_a_value(text: &str) -> Option<AppMessage> {
        match serde_json::from_str::<Value>(text).ok()? {
            Value::Object(object) => Some(classify_object(&object, Role::Send)),
            _ => Some(AppMessage::default()),
        }
    }

    #[test]
    fn reading_the_text_directly_answers_as_the_parsed_object_does() {
        let samples = [
            r#"{"type":"chat_message","message":"cc"}"#,
            r#"{"type":"a","type":"b"}"#,
            r#"{"type":3,"event":"second"}"#,
            r#"{"ty\u0070e":"escaped key","ack":7}"#,
            r#"{"ack":{"n":1},"requestId":"later"}"#,
            r#"{"request_id":-12,"room":4.5}"#,
            r#"{"correlationId":12345678901234567890,"topic":1e3}"#,
            r#"{"channel":null,"room":"x","conversation":true}"#,
            r#"{"op":"PING"}"#,
            r#"{"kind":"Error","data":1}"#,
            r#"{"error":"nope"}"#,
            r#"{"error":"nope","payload":{}}"#,
            r#"{"error":{"code":1},"params":[1,2,{"a":[]}]}"#,
            r#"{"nested":{"type":"inner"},"method":"outer"}"#,
            r#"{"v":1e400,"type":"number out of range"}"#,
            r#"{"type":"trailing"} x"#,
            r#"{"type":"unclosed""#,
            r#"  {"cmd":"spaced"}  "#,
            r#"[{"type":"in an array"}]"#,
            r#""a string""#,
            "42",
            "null",
            "{}",
            "not json",
            "",
        ];
        for text in samples {
            assert_eq!(
                classify_text(text, Role::Send).ok(),
                through_a_value(text),
                "{text}"
            );
        }
        // And every text message of the repository's sample captures.
        let mut seen = 0;
        for (path, line) in crate::event::fixtures::lines() {
            let Ok(event) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if let Some(text) = event["text"].as_str() {
                assert_eq!(
                    classify_text(text, Role::Send).ok(),
                    through_a_value(text),
                    "{}: {text}",
                    path.display()
                );
                seen += 1;
            }
        }
        assert!(seen > 100, "only {seen} messages in the sample captures");
    }

    #[test]
    fn a_cut_object_keeps_the_name_its_prefix_shows() {
        let mut f = frame(r#"{"type":"chat_message","message":"a very long te"#);
        f.truncated = true;
        assert_eq!(Json.classify(f).name.as_deref(), Some("chat_message"));
    }
}
