//! MessagePack and CBOR binary messages, read as the JSON they decode to.
//!
//! MessagePack follows msgpack/msgpack spec.md (decoded with `rmp-serde`),
//! CBOR follows RFC 8949 (decoded with `ciborium`). A message counts as
//! one only when it decodes completely, with nothing left over, to a map
//! or an array; the decoded value is then named like a JSON envelope.

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
                let mut de = rmp_serde::Deserializer::new(&mut cursor);
                let value: Value = serde::Deserialize::deserialize(&mut de).ok()?;
                (cursor.position() == data.len() as u64).then_some(value)?
            }
            Encoding::Cbor => {
                let mut rest = data;
                let value: Value = ciborium::from_reader(&mut rest).ok()?;
                rest.is_empty().then_some(value)?
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
    fn msgpack_and_cbor_objects_are_named_like_json() {
        let value = serde_json::json!({"type":"chat_message","message":"cc"});
        let packed = rmp_serde::to_vec_named(&value).unwrap();
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
        let mut extra = packed.clone();
        extra.push(0);
        assert_eq!(Encoding::Msgpack.decode(&extra), None, "left-over bytes");
        assert_eq!(Encoding::Msgpack.decode(&[0x05]), None, "a lone integer");
        assert_eq!(Encoding::Msgpack.decode(&packed[..packed.len() - 1]), None);
    }
}
