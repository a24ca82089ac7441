//! MQTT 3.1.1 and 5 over WebSocket (binary messages, subprotocol `mqtt`).
//!
//! Follows OASIS MQTT 3.1.1 (section 2, fixed header; section 3, control
//! packets) and MQTT 5.0 (the same, with properties after the variable
//! header). The protocol level comes from the client's CONNECT; a
//! PUBLISH is named with its topic, and its packet id pairs it with its
//! PUBACK or PUBREC.
//!
//! MQTT over WebSocket does not align packets with messages (MQTT 3.1.1
//! section 6: "a single WebSocket data frame can contain multiple or
//! partial MQTT Control Packets"), and mqtt.js and aedes really do send a
//! CONNECT as nine binary messages, one per field. So each direction's
//! bytes are read as a stream: a message is named after the first packet
//! it completes, and a message that completes none after the packet it
//! is part of (`PUBLISH (part)`).

use serde_json::Value;

use super::api::{AppMessage, Dialect, DialectId, Frame, Role};
use crate::event::Direction;

/// The MQTT dialect: the protocol level the CONNECT declared, and each
/// direction's bytes not yet read as a whole packet.
#[derive(Debug, Default)]
pub struct Mqtt {
    /// 3 (3.1), 4 (3.1.1) or 5; 4 until a CONNECT says otherwise.
    level: Option<u8>,
    /// Partial packets: client → upstream, upstream → client.
    pending: [Vec<u8>; 2],
}

/// The most bytes held for one partial packet; past it the stream is
/// given up on (wsdiag records, it does not need whole huge packets).
const MAX_PENDING: usize = 1 << 20;

/// Control packet type names (MQTT 3.1.1 table 2.1, MQTT 5 table 2-1).
const TYPES: [&str; 16] = [
    "RESERVED",
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
];

/// A cursor over a packet's bytes; every read is checked.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let b = *self.data.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }

    /// Variable Byte Integer (MQTT 3.1.1 section 2.2.3): at most 4 bytes.
    fn varint(&mut self) -> Option<usize> {
        let mut value = 0usize;
        for i in 0..4 {
            let b = self.u8()?;
            value |= usize::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.data.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(out)
    }

    fn string(&mut self) -> Option<&'a str> {
        let n = usize::from(self.u16()?);
        std::str::from_utf8(self.bytes(n)?).ok()
    }

    fn skip_properties(&mut self, level: u8) -> Option<()> {
        if level >= 5 {
            let n = self.varint()?;
            self.bytes(n)?;
        }
        Some(())
    }

    fn rest(&self) -> &'a [u8] {
        self.data.get(self.at..).unwrap_or(&[])
    }
}

/// One packet's fixed header: type, flags and the variable part.
fn fixed_header(data: &[u8]) -> Option<(u8, u8, &[u8], bool)> {
    let mut r = Reader { data, at: 0 };
    let first = r.u8()?;
    let len = r.varint()?;
    let body = r.rest();
    let complete = body.len() >= len;
    Some((
        first >> 4,
        first & 0x0f,
        &body[..len.min(body.len())],
        complete,
    ))
}

/// True when `data` is an MQTT CONNECT packet (protocol name `MQTT` or
/// `MQIsdp`).
pub fn is_connect(data: &[u8]) -> bool {
    let Some((1, _, body, _)) = fixed_header(data) else {
        return false;
    };
    let mut r = Reader { data: body, at: 0 };
    matches!(r.string(), Some("MQTT" | "MQIsdp"))
}

/// True when `data` is the start of a fixed header whose remaining
/// length continues in the next message.
fn header_split(data: &[u8]) -> bool {
    data.len() < 5 && data.iter().skip(1).all(|b| b & 0x80 != 0)
}

/// The length of a packet's fixed header (type byte and remaining length).
fn header_len(data: &[u8]) -> usize {
    1 + data
        .iter()
        .skip(1)
        .take(4)
        .position(|b| b & 0x80 == 0)
        .map_or(4, |i| i + 1)
}

impl Mqtt {
    /// Reads a whole packet; a PUBLISH is a send or a push by its
    /// direction.
    fn read_packet(&mut self, kind: u8, flags: u8, body: &[u8], frame: &Frame<'_>) -> AppMessage {
        match self.read(kind, flags, body) {
            Some(mut m) => {
                if kind == 3 {
                    m.role = Some(frame.app_role());
                }
                m
            }
            None => AppMessage::broken(format!(
                "an MQTT {} packet whose variable header does not decode",
                TYPES[usize::from(kind & 0x0f)]
            )),
        }
    }

    /// The first packet of a message read on its own (a cut message).
    fn first_packet(&mut self, data: &[u8], frame: &Frame<'_>) -> Option<AppMessage> {
        let (kind, flags, body, _) = fixed_header(data)?;
        let mut m = self
            .read(kind, flags, body)
            .unwrap_or_else(|| AppMessage::named(TYPES[usize::from(kind & 0x0f)], Role::Control));
        if kind == 3 {
            m.role = Some(frame.app_role());
        }
        Some(m)
    }

    fn read(&mut self, kind: u8, flags: u8, body: &[u8]) -> Option<AppMessage> {
        let level = self.level.unwrap_or(4);
        let mut r = Reader { data: body, at: 0 };
        let name = TYPES[usize::from(kind & 0x0f)];
        let m = match kind {
            1 => {
                r.string()?;
                self.level = Some(r.u8()?);
                AppMessage::named(name, Role::Control)
            }
            2 => {
                r.u8()?;
                let code = r.u8()?;
                let refused = if level >= 5 { code >= 0x80 } else { code != 0 };
                AppMessage::named(name, if refused { Role::Error } else { Role::Reply })
            }
            3 => {
                let topic = r.string()?.to_owned();
                let qos = (flags >> 1) & 0x03;
                let id = if qos > 0 {
                    Some(r.u16()?.to_string())
                } else {
                    None
                };
                AppMessage::named(name, Role::Send)
                    .topic(Some(topic))
                    .correlation(id)
            }
            4..=7 => {
                let id = r.u16()?;
                let failed = level >= 5 && r.u8().is_some_and(|code| code >= 0x80);
                let role = if failed { Role::Error } else { Role::Reply };
                AppMessage::named(name, role).correlation(Some(id.to_string()))
            }
            8 | 10 => {
                let id = r.u16()?;
                r.skip_properties(level)?;
                let filter = r.string().map(str::to_owned);
                AppMessage::named(name, Role::Control)
                    .topic(filter)
                    .correlation(Some(id.to_string()))
            }
            9 | 11 => {
                let id = r.u16()?;
                r.skip_properties(level)?;
                let failed = kind == 9 && r.rest().iter().any(|code| *code >= 0x80);
                let role = if failed { Role::Error } else { Role::Reply };
                AppMessage::named(name, role).correlation(Some(id.to_string()))
            }
            12 | 13 => AppMessage::named(name, Role::Heartbeat),
            14 => {
                let failed = level >= 5 && r.u8().is_some_and(|code| code >= 0x80);
                AppMessage::named(name, if failed { Role::Error } else { Role::Control })
            }
            15 => AppMessage::named(name, Role::Control),
            _ => return None,
        };
        Some(m)
    }
}

impl Dialect for Mqtt {
    fn id(&self) -> DialectId {
        DialectId::Mqtt
    }

    fn classify(&mut self, frame: Frame<'_>) -> AppMessage {
        if frame.opcode != crate::event::Opcode::Binary {
            return AppMessage::broken(
                "a text message: MQTT over WebSocket is sent in binary messages",
            );
        }
        let side = usize::from(frame.dir == Direction::UpstreamToClient);
        if frame.truncated {
            // The rest of the message was not kept: the stream is lost.
            self.pending[side].clear();
            return self.first_packet(frame.data, &frame).unwrap_or_default();
        }
        let mut buffer = std::mem::take(&mut self.pending[side]);
        buffer.extend_from_slice(frame.data);
        let mut first: Option<AppMessage> = None;
        let mut at = 0;
        while at < buffer.len() {
            match fixed_header(&buffer[at..]) {
                Some((kind, flags, body, true)) => {
                    let len = header_len(&buffer[at..]) + body.len();
                    let read = self.read_packet(kind, flags, body, &frame);
                    if first
                        .as_ref()
                        .is_none_or(|m| m.role == Some(Role::Heartbeat))
                    {
                        first = Some(read);
                    }
                    at += len;
                }
                Some((kind, _, _, false)) => {
                    let part = format!("{} (part)", TYPES[usize::from(kind)]);
                    first.get_or_insert(AppMessage::named(part, Role::Control));
                    if buffer.len() - at > MAX_PENDING {
                        at = buffer.len();
                    }
                    break;
                }
                None if header_split(&buffer[at..]) => {
                    first.get_or_insert(AppMessage::named("(part)", Role::Control));
                    break;
                }
                None => {
                    at = buffer.len();
                    first = Some(AppMessage::broken(
                        "not an MQTT packet: its fixed header does not decode",
                    ));
                }
            }
        }
        buffer.drain(..at);
        self.pending[side] = buffer;
        first.unwrap_or_default()
    }

    fn payload(&self, frame: Frame<'_>) -> Option<Value> {
        let (3, flags, body, _) = fixed_header(frame.data)? else {
            return None;
        };
        let mut r = Reader { data: body, at: 0 };
        r.string()?;
        if (flags >> 1) & 0x03 > 0 {
            r.u16()?;
        }
        r.skip_properties(self.level.unwrap_or(4))?;
        let bytes = r.rest();
        match serde_json::from_slice(bytes) {
            Ok(v) => Some(v),
            Err(_) => std::str::from_utf8(bytes)
                .ok()
                .map(|s| Value::String(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Direction, Opcode};

    fn bin(dir: Direction, data: &[u8]) -> Frame<'_> {
        Frame {
            dir,
            opcode: Opcode::Binary,
            data,
            truncated: false,
        }
    }

    fn publish(topic: &str, id: Option<u16>, payload: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
        body.extend_from_slice(topic.as_bytes());
        if let Some(id) = id {
            body.extend_from_slice(&id.to_be_bytes());
        }
        body.extend_from_slice(payload);
        let qos = if id.is_some() { 0x02 } else { 0 };
        let mut out = vec![0x30 | qos, body.len() as u8];
        out.extend(body);
        out
    }

    #[test]
    fn connect_publish_puback_and_ping() {
        let mut d = Mqtt::default();
        let up = Direction::ClientToUpstream;
        let connect = [0x10, 0x0c, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 0];
        assert!(is_connect(&connect));
        assert_eq!(d.classify(bin(up, &connect)).role, Some(Role::Control));
        let p = publish("sensors/1", Some(7), br#"{"temp":21.5}"#);
        let m = d.classify(bin(up, &p));
        assert_eq!(
            (
                m.name.as_deref(),
                m.topic.as_deref(),
                m.correlation.as_deref()
            ),
            (Some("PUBLISH"), Some("sensors/1"), Some("7"))
        );
        assert_eq!(
            d.payload(bin(up, &p)),
            Some(serde_json::json!({"temp":21.5}))
        );
        let ack = d.classify(bin(Direction::UpstreamToClient, &[0x40, 2, 0, 7]));
        assert_eq!(
            (ack.role, ack.correlation.as_deref()),
            (Some(Role::Reply), Some("7"))
        );
        assert_eq!(d.classify(bin(up, &[0xc0, 0])).role, Some(Role::Heartbeat));
        let refused = d.classify(bin(Direction::UpstreamToClient, &[0x20, 2, 0, 5]));
        assert_eq!(refused.role, Some(Role::Error));
    }

    #[test]
    fn broken_packets_get_a_note() {
        let up = Direction::ClientToUpstream;
        let read = |data: &[u8]| Mqtt::default().classify(bin(up, data));
        assert_eq!(read(&[]), AppMessage::default());
        assert_eq!(read(&[0x30]).name.as_deref(), Some("(part)"));
        assert!(read(&[0x30, 0xff, 0xff, 0xff, 0xff, 0xff]).note.is_some());
        assert!(read(&[0x30, 3, 0, 9, 1]).note.is_some());
        assert!(Mqtt::default()
            .classify(Frame {
                opcode: Opcode::Text,
                ..bin(up, b"PUBLISH")
            })
            .note
            .is_some());
    }

    #[test]
    fn a_packet_split_over_messages_is_named_where_it_completes() {
        let mut d = Mqtt::default();
        let up = Direction::ClientToUpstream;
        let p = publish("sensors/1", Some(7), br#"{"temp":21.5}"#);
        let (head, rest) = p.split_at(1);
        let (middle, tail) = rest.split_at(5);
        assert_eq!(d.classify(bin(up, head)).name.as_deref(), Some("(part)"));
        assert_eq!(
            d.classify(bin(up, middle)).name.as_deref(),
            Some("PUBLISH (part)")
        );
        let done = d.classify(bin(up, tail));
        assert_eq!(
            (done.name.as_deref(), done.topic.as_deref()),
            (Some("PUBLISH"), Some("sensors/1"))
        );
        // Two packets in one message: the first that is not a ping names it.
        let mut two = vec![0xc0, 0];
        two.extend(publish("a/b", None, b"x"));
        assert_eq!(d.classify(bin(up, &two)).topic.as_deref(), Some("a/b"));
    }
}
