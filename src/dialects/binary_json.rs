//! MessagePack and CBOR binary messages, read as the JSON they decode to.
//!
//! MessagePack follows msgpack/msgpack spec.md (decoded with `rmpv`), CBOR
//! follows RFC 8949 (decoded with `ciborium`). A message counts as one only
//! when it decodes completely, with nothing left over, to a map or an
//! array; the decoded value is then named like a JSON envelope. What JSON
//! cannot hold is written so it can: byte strings as base64 text, map keys
//! that are not strings as their JSON text, MessagePack extensions as
//! `{"ext": type, "base64": …}`, CBOR tags as their content.

use serde_json::Value;

use super::api::{AppMessage, Dialect, DialectId, Frame};
use super::json;

/// Which binary encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// MessagePack.
    Msgpack,
    /// CBOR.
    Cbor,
}

impl Encoding {
    /// The JSON value `data` decodes to completely, when it is a map or an
    /// array.
    pub fn decode(self, data: &[u8]) -> Option<Value> {
        let value = match self {
            Encoding::Msgpack => {
                let mut cursor = std::io::Cursor::new(data);
                let value = rmpv::decode::read_value(&mut cursor).ok()?;
                (cursor.position() == data.len() as u64).then(|| from_msgpack(value))?
            }
            Encoding::Cbor => {
                let mut rest = data;
                let value: ciborium::Value = ciborium::from_reader(&mut rest).ok()?;
                rest.is_empty().then(|| from_cbor(value))?
            }
        };
        matches!(value, Value::Object(_) | Value::Array(_)).then_some(value)
    }

    fn label(self) -> &'static str {
        match self {
            Encoding::Msgpack => "MessagePack",
            Encoding::Cbor => "CBOR",
        }
    }
}

/// The dialect for one encoding.
#[derive(Debug)]
pub struct BinaryJson(pub Encoding);

impl Dialect for BinaryJson {
    fn id(&self) -> DialectId {
        match self.0 {
            Encoding::Msgpack => DialectId::Msgpack,
            Encoding::Cbor => DialectId::Cbor,
        }
    }

    fn classify(&mut self, frame: Frame<'_>) -> AppMessage {
        if frame.opcode != crate::event::Opcode::Binary {
            // Text beside binary frames: read it as JSON.
            return json::Json.classify(frame);
        }
        match self.0.decode(frame.data) {
            Some(Value::Object(object)) => json::classify_object(&object, frame.app_role()),
            Some(_) => AppMessage {
                role: Some(frame.app_role()),
                ..AppMessage::default()
            },
            None if frame.truncated => AppMessage::default(),
            None => AppMessage::broken(format!(
                "a binary message that does not decode completely as {}",
                self.0.label()
            )),
        }
    }

    fn payload(&self, frame: Frame<'_>) -> Option<Value> {
        if frame.opcode != crate::event::Opcode::Binary {
            return json::Json.payload(frame);
        }
        match self.0.decode(frame.data)? {
            Value::Object(object) => Some(json::envelope_payload(&object)),
            other => Some(other),
        }
    }
}

fn base64_text(bytes: &[u8]) -> Value {
    use base64::Engine as _;
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The longest text a key that is not a string becomes.
const KEY_TEXT_MAX: usize = 64;

/// A map key as JSON allows it: a string, else the key's JSON text, cut at
/// [`KEY_TEXT_MAX`] bytes. The cut matters: a map used as a key of a map
/// used as a key... would otherwise double its escaped text at every level.
fn key_text(key: Value) -> String {
    match key {
        Value::String(s) => s,
        other => {
            let mut text = other.to_string();
            if text.len() > KEY_TEXT_MAX {
                let mut end = KEY_TEXT_MAX;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
                text.push('…');
            }
            text
        }
    }
}

fn number(n: f64) -> Value {
    serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
}

/// A MessagePack value as JSON.
fn from_msgpack(v: rmpv::Value) -> Value {
    use rmpv::Value as M;
    match v {
        M::Nil => Value::Null,
        M::Boolean(b) => Value::Bool(b),
        M::Integer(i) => i
            .as_i64()
            .map(Value::from)
            .or_else(|| i.as_u64().map(Value::from))
            .unwrap_or(Value::Null),
        M::F32(f) => number(f64::from(f)),
        M::F64(f) => number(f),
        M::String(s) => match s.into_str() {
            Some(s) => Value::String(s),
            None => Value::Null,
        },
        M::Binary(b) => base64_text(&b),
        M::Array(items) => Value::Array(items.into_iter().map(from_msgpack).collect()),
        M::Map(pairs) => Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (key_text(from_msgpack(k)), from_msgpack(v)))
                .collect(),
        ),
        M::Ext(kind, bytes) => serde_json::json!({"ext": kind, "base64": base64_text(&bytes)}),
    }
}

/// A CBOR value as JSON.
fn from_cbor(v: ciborium::Value) -> Value {
    use ciborium::Value as C;
    match v {
        C::Null => Value::Null,
        C::Bool(b) => Value::Bool(b),
        C::Integer(i) => {
            let i = i128::from(i);
            i64::try_from(i)
                .map(Value::from)
                .or_else(|_| u64::try_from(i).map(Value::from))
                .unwrap_or_else(|_| Value::String(i.to_string()))
        }
        C::Float(f) => number(f),
        C::Text(s) => Value::String(s),
        C::Bytes(b) => base64_text(&b),
        C::Tag(_, inner) => from_cbor(*inner),
        C::Array(items) => Value::Array(items.into_iter().map(from_cbor).collect()),
        C::Map(pairs) => Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (key_text(from_cbor(k)), from_cbor(v)))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// The decoded form of a binary message, for display and comparison:
/// MessagePack first, then CBOR.
pub fn decode_any(data: &[u8]) -> Option<Value> {
    Encoding::Msgpack
        .decode(data)
        .or_else(|| Encoding::Cbor.decode(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialects::api::Role;
    use crate::event::{Direction, Opcode};

    #[test]
    fn maps_used_as_keys_many_levels_deep_keep_short_keys() {
        // A map whose one key is a map whose one key is a map ... 40 deep:
        // each level's key text is cut, so the whole stays small.
        let mut value = rmpv::Value::from(1);
        for _ in 0..40 {
            value = rmpv::Value::Map(vec![(value, rmpv::Value::Nil)]);
        }
        let json = from_msgpack(value);
        let text = json.to_string();
        assert!(text.len() < 400, "{} bytes", text.len());
    }

    #[test]
    fn msgpack_and_cbor_objects_are_named_like_json() {
        let value = serde_json::json!({"type":"chat_message","message":"cc"});
        let mut packed = Vec::new();
        rmpv::encode::write_value(
            &mut packed,
            &rmpv::Value::Map(vec![
                ("type".into(), "chat_message".into()),
                ("message".into(), "cc".into()),
            ]),
        )
        .unwrap();
        let mut cbor = Vec::new();
        ciborium::into_writer(&value, &mut cbor).unwrap();
        for (encoding, data) in [(Encoding::Msgpack, &packed), (Encoding::Cbor, &cbor)] {
            let frame = Frame {
                dir: Direction::ClientToUpstream,
                opcode: Opcode::Binary,
                data,
                truncated: false,
            };
            let m = BinaryJson(encoding).classify(frame);
            assert_eq!(
                (m.name.as_deref(), m.role),
                (Some("chat_message"), Some(Role::Send))
            );
            assert_eq!(
                BinaryJson(encoding).payload(frame),
                Some(serde_json::json!({"message":"cc"}))
            );
        }
        // Byte strings and integer keys, which JSON cannot hold as they are.
        let mut with_bytes = Vec::new();
        rmpv::encode::write_value(
            &mut with_bytes,
            &rmpv::Value::Map(vec![
                ("type".into(), "upload".into()),
                ("data".into(), rmpv::Value::Binary(vec![0xde, 0xad])),
                (rmpv::Value::from(1), "one".into()),
            ]),
        )
        .unwrap();
        assert_eq!(
            Encoding::Msgpack.decode(&with_bytes),
            Some(serde_json::json!({"type":"upload","data":"3q0=","1":"one"}))
        );
        let cbor_bytes = ciborium::Value::Map(vec![(
            ciborium::Value::Text("data".into()),
            ciborium::Value::Bytes(vec![0xde, 0xad]),
        )]);
        let mut encoded = Vec::new();
        ciborium::into_writer(&cbor_bytes, &mut encoded).unwrap();
        assert_eq!(
            Encoding::Cbor.decode(&encoded),
            Some(serde_json::json!({"data":"3q0="}))
        );
        let mut extra = packed.clone();
        extra.push(0);
        assert_eq!(Encoding::Msgpack.decode(&extra), None, "left-over bytes");
        assert_eq!(Encoding::Msgpack.decode(&[0x05]), None, "a lone integer");
        assert_eq!(Encoding::Msgpack.decode(&packed[..packed.len() - 1]), None);
    }
}
