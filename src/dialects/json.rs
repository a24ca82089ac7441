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

/// Classifies `text` when it is a JSON object. Parsed straight from the
/// text into the few top-level keys classification reads, without a
/// [`Value`] tree: for every text message on the hub's thread, the tree's
/// allocations and a SipHash of each of the 23 keys looked up cost more
/// than the rest of the recording (docs/performance.md). The same answers
/// as [`classify_object`] of the parsed object: the last of duplicate keys
/// wins, and text that is not valid JSON is an error.
fn classify_text(text: &str, app_role: Role) -> serde_json::Result<AppMessage> {
    if text.trim_start().starts_with('{') {
        Ok(serde_json::from_str::<Envelope>(text)?.message(app_role))
    } else {
        // Valid JSON that is not an object names nothing.
        serde_json::from_str::<Skip>(text).map(|_| AppMessage::default())
    }
}

/// The top-level keys of an envelope that classification reads. Each slot
/// is `None` when the key is absent, `Some(None)` when its value has no
/// text (a string for a name; a string or number for the others).
#[derive(Debug, Default, PartialEq)]
struct Envelope {
    names: [Option<Option<String>>; NAME_KEYS.len()],
    correlations: [Option<Option<String>>; CORRELATION_KEYS.len()],
    topics: [Option<Option<String>>; TOPIC_KEYS.len()],
    error: bool,
    payload: bool,
}

impl Envelope {
    fn of(object: &Map<String, Value>) -> Envelope {
        Envelope {
            names: slots(object, &NAME_KEYS, |v| v.as_str().map(str::to_owned)),
            correlations: slots(object, &CORRELATION_KEYS, scalar_text),
            topics: slots(object, &TOPIC_KEYS, scalar_text),
            error: object.contains_key("error"),
            payload: PAYLOAD_KEYS.iter().any(|k| object.contains_key(*k)),
        }
    }

    /// Takes one key and its value from the text; the last of duplicate
    /// keys wins, as in a parsed [`Map`].
    fn take<'de, A: serde::de::MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let slot = |keys: &[&str]| keys.iter().position(|k| *k == key);
        if let Some(i) = slot(&NAME_KEYS) {
            let value = map.next_value::<Scalar>()?;
            self.names[i] = Some(value.text.filter(|_| value.string));
        } else if let Some(i) = slot(&CORRELATION_KEYS) {
            self.correlations[i] = Some(map.next_value::<Scalar>()?.text);
        } else if let Some(i) = slot(&TOPIC_KEYS) {
            self.topics[i] = Some(map.next_value::<Scalar>()?.text);
        } else {
            self.error |= key == "error";
            self.payload |= PAYLOAD_KEYS.contains(&key);
            map.next_value::<Skip>()?;
        }
        Ok(())
    }

    fn message(self, app_role: Role) -> AppMessage {
        let name = self.names.into_iter().flatten().flatten().next();
        let role = match name.as_deref() {
            Some(n) if HEARTBEAT_NAMES.contains(&n.to_ascii_lowercase().as_str()) => {
                Role::Heartbeat
            }
            Some(n) if n.eq_ignore_ascii_case("error") => Role::Error,
            _ if self.error && !self.payload => Role::Error,
            _ => app_role,
        };
        AppMessage {
            name,
            role: Some(role),
            topic: first_present(self.topics),
            correlation: first_present(self.correlations),
            note: None,
        }
    }
}

/// The text of the first key present, whatever it holds: a present key
/// without text hides the keys after it.
fn first_present<const N: usize>(slots: [Option<Option<String>>; N]) -> Option<String> {
    slots.into_iter().flatten().next().flatten()
}

/// `keys`' values in `object`, each read by `text`.
fn slots<const N: usize>(
    object: &Map<String, Value>,
    keys: &[&str; N],
    text: fn(&Value) -> Option<String>,
) -> [Option<Option<String>>; N] {
    std::array::from_fn(|i| object.get(keys[i]).map(text))
}

impl<'de> serde::Deserialize<'de> for Envelope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Envelope, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Envelope;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Envelope, A::Error> {
                let mut envelope = Envelope::default();
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    envelope.take(key.as_str(), &mut map)?;
                }
                Ok(envelope)
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// An object key, borrowed from the text unless it holds escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(s))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(s.to_owned()))
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// A value read for its text: a string or a number (as [`scalar_text`]
/// writes it); `string` tells which.
#[derive(Default)]
struct Scalar {
    text: Option<String>,
    string: bool,
}

impl<'de> serde::Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_str<E>(self, s: &str) -> Result<Scalar, E> {
                Ok(Scalar {
                    text: Some(s.to_owned()),
                    string: true,
                })
            }
            fn visit_i64<E>(self, n: i64) -> Result<Scalar, E> {
                Ok(Scalar::number(serde_json::Number::from(n)))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Scalar, E> {
                Ok(Scalar::number(serde_json::Number::from(n)))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Scalar, E> {
                Ok(serde_json::Number::from_f64(n).map_or_else(Scalar::default, Scalar::number))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Scalar, E> {
                Ok(Scalar::default())
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::default())
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Scalar, A::Error> {
                Skip::seq(seq).map(|_| Scalar::default())
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Scalar, A::Error> {
                Skip::map(map).map(|_| Scalar::default())
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Scalar {
    fn number(n: serde_json::Number) -> Scalar {
        Scalar {
            text: Some(n.to_string()),
            string: false,
        }
    }
}

/// A value that is parsed in full (so that what a [`Value`] refuses, such
/// as a number out of range, is refused here too) and kept nowhere.
struct Skip;

impl Skip {
    fn seq<'de, A: serde::de::SeqAccess<'de>>(mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn map<'de, A: serde::de::MapAccess<'de>>(mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

impl<'de> serde::Deserialize<'de> for Skip {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Skip, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Skip;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_unit<E>(self) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Skip, A::Error> {
                Skip::seq(seq)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Skip, A::Error> {
                Skip::map(map)
            }
        }
        d.deserialize_any(Visitor)
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
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut seen = 0;
        let mut dirs = vec![std::path::PathBuf::from(fixtures)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "jsonl") {
                    continue;
                }
                for line in std::fs::read_to_string(&path).unwrap().lines() {
                    let Ok(event) = serde_json::from_str::<Value>(line) else {
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
            }
        }
        assert!(seen > 100, "only {seen} messages in {fixtures}");
    }

    #[test]
    fn a_cut_object_keeps_the_name_its_prefix_shows() {
        let mut f = frame(r#"{"type":"chat_message","message":"a very long te"#);
        f.truncated = true;
        assert_eq!(Json.classify(f).name.as_deref(), Some("chat_message"));
    }
}
