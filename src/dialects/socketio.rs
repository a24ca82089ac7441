//! Socket.IO v4 over Engine.IO v3/v4.
//!
//! Follows the Engine.IO protocol (socketio/engine.io-protocol, v4: packet
//! types `0` open … `6` noop, `\x1e` between the packets of a polling body)
//! and the Socket.IO protocol (socketio/socket.io-protocol, v5: packet
//! types `0` CONNECT … `6` BINARY_ACK, encoded as
//! `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`).
//! A BINARY_EVENT (`451-["upload",{"_placeholder":true,"num":0}]`) is
//! followed by its attachments as binary messages; they are named after
//! their event.

use serde_json::Value;

use super::api::{query_param, AppMessage, Dialect, DialectId, Frame, Role};

/// The Socket.IO dialect, with the attachments still owed by a binary
/// event and the events still waiting for their acks.
#[derive(Debug, Default)]
pub struct SocketIo {
    /// Attachments still to come, and the message they belong to.
    attachments: Option<(u32, AppMessage)>,
    /// Event names by the direction they travelled and their ack id: each
    /// side numbers its own acks, and the ack comes back the other way.
    awaiting_ack: std::collections::HashMap<(bool, String), String>,
}

impl Dialect for SocketIo {
    fn id(&self) -> DialectId {
        DialectId::Socketio
    }

    fn classify(&mut self, frame: Frame<'_>) -> AppMessage {
        let Some(text) = frame.text() else {
            return self.attachment();
        };
        let mut packet = engine_packet(text, frame);
        let upstream = frame.dir == crate::event::Direction::UpstreamToClient;
        let m = &mut packet.message;
        if let (Some(id), Some(name)) = (&m.correlation, &m.name) {
            super::remember(&mut self.awaiting_ack, (upstream, id.clone()), name.clone());
        } else if let (Some(id), Some(Role::Reply)) = (&m.correlation, m.role) {
            // An ack is named after the event it answers.
            m.name = self.awaiting_ack.remove(&(!upstream, id.clone()));
        }
        if let Some((n, ref owner)) = packet.attachments {
            if n > 0 {
                self.attachments = Some((n, owner.clone()));
            }
        }
        packet.message
    }

    fn payload(&self, frame: Frame<'_>) -> Option<Value> {
        let text = frame.text()?;
        if let Some(open) = text.strip_prefix('0') {
            // The Engine.IO open packet: its handshake data.
            return serde_json::from_str(open).ok();
        }
        let rest = text.strip_prefix('4')?;
        let header = socket_header(rest)?;
        let args = serde_json::from_str::<Value>(header.json).ok()?;
        match (header.kind, args) {
            (b'2' | b'5', Value::Array(mut args)) if !args.is_empty() => {
                args.remove(0);
                Some(one_or_all(args))
            }
            (b'3' | b'6', Value::Array(args)) => Some(one_or_all(args)),
            (_, other) => Some(other),
        }
    }

    fn heartbeat_answer(&self, frame: Frame<'_>) -> Option<Vec<u8>> {
        SocketIo::pong(&frame)
    }
}

impl SocketIo {
    /// Engine.IO v4: the server pings, the client answers `3`
    /// (engine.io-protocol, "Heartbeat").
    fn pong(frame: &Frame<'_>) -> Option<Vec<u8>> {
        (frame.dir == crate::event::Direction::UpstreamToClient && frame.text()? == "2")
            .then(|| b"3".to_vec())
    }

    /// A binary message: the next attachment of a binary event, else an
    /// unnamed binary message.
    fn attachment(&mut self) -> AppMessage {
        match self.attachments.take() {
            Some((left, owner)) => {
                if left > 1 {
                    self.attachments = Some((left - 1, owner.clone()));
                }
                owner
            }
            None => AppMessage::default(),
        }
    }
}

/// One Engine.IO packet read: what it is and, for a binary Socket.IO
/// packet, how many attachments follow.
pub struct Packet {
    /// What the packet is.
    pub message: AppMessage,
    /// For BINARY_EVENT and BINARY_ACK: the attachment count.
    pub attachments: Option<(u32, AppMessage)>,
}

/// Reads one Engine.IO packet (a WebSocket text message, or one packet of
/// a polling body).
pub fn engine_packet(text: &str, frame: Frame<'_>) -> Packet {
    let plain = |message| Packet {
        message,
        attachments: None,
    };
    let mut chars = text.chars();
    let Some(kind) = chars.next() else {
        return plain(AppMessage::broken("an empty Engine.IO packet"));
    };
    let rest = chars.as_str();
    match kind {
        '0' => plain(AppMessage::named("open", Role::Control)),
        '1' => plain(AppMessage::named("close", Role::Control)),
        '2' if rest == "probe" => plain(AppMessage::named("probe", Role::Control)),
        '3' if rest == "probe" => plain(AppMessage::named("probe", Role::Control)),
        '2' => plain(AppMessage::named("ping", Role::Heartbeat)),
        '3' => plain(AppMessage::named("pong", Role::Heartbeat)),
        '4' => socket_packet(rest, frame),
        '5' => plain(AppMessage::named("upgrade", Role::Control)),
        // A noop only ends a pending poll (engine.io-protocol): keepalive.
        '6' => plain(AppMessage::named("noop", Role::Heartbeat)),
        other => plain(AppMessage::broken(format!(
            "{other:?} is not an Engine.IO packet type (0 to 6)"
        ))),
    }
}

/// The Engine.IO session of a long-polling request, from its URL:
/// `Some(None)` for a polling request without a `sid` yet (the opening
/// GET), `Some(Some(sid))` with one, `None` when it is not long-polling.
pub fn polling_request(uri: &str) -> Option<Option<String>> {
    let path = uri.split('?').next().unwrap_or(uri);
    let param = |name: &str| query_param(uri, name);
    let engine_io = path.contains("/socket.io/") || param("EIO").is_some();
    if !engine_io || param("transport") != Some("polling") {
        return None;
    }
    Some(param("sid").map(str::to_owned))
}

/// True for Engine.IO protocol version 3 (`EIO=3`), whose polling bodies
/// are length-prefixed.
pub fn is_eio3(uri: &str) -> bool {
    query_param(uri, "EIO") == Some("3")
}

/// The Engine.IO session a WebSocket upgrade continues: the `sid` of an
/// Engine.IO URL (`/socket.io/…` or `EIO=`).
pub fn upgrade_sid(uri: &str) -> Option<&str> {
    let path = uri.split('?').next().unwrap_or(uri);
    let engine_io = path.contains("/socket.io/") || query_param(uri, "EIO").is_some();
    engine_io.then(|| query_param(uri, "sid")).flatten()
}

/// The session id an Engine.IO open packet (`0{"sid":…}`) gives.
pub fn open_sid(packet: &str) -> Option<String> {
    let open: Value = serde_json::from_str(packet.strip_prefix('0')?).ok()?;
    open.get("sid")?.as_str().map(str::to_owned)
}

/// The packets of a long-polling HTTP body, as (binary?, bytes).
///
/// Engine.IO v4 separates packets with `\x1e` and sends binary ones as
/// `b` + base64 (engine.io-protocol, "Payload"); v3 prefixes each with
/// its length in characters and a colon (`12:42["a",1]`). A body that
/// reads as neither is one text packet.
pub fn polling_packets(body: &str, eio3: bool) -> Vec<(bool, bytes::Bytes)> {
    use base64::Engine as _;
    let packet = |p: &str| match p.strip_prefix('b') {
        Some(b64) => match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(bytes) => (true, bytes::Bytes::from(bytes)),
            Err(_) => (false, bytes::Bytes::copy_from_slice(p.as_bytes())),
        },
        None => (false, bytes::Bytes::copy_from_slice(p.as_bytes())),
    };
    if eio3 {
        if let Some(parts) = length_prefixed(body) {
            return parts.into_iter().map(packet).collect();
        }
    }
    body.split('\u{1e}')
        .filter(|p| !p.is_empty())
        .map(packet)
        .collect()
}

/// Engine.IO v3's `<length>:<packet>` framing, lengths in characters.
/// The lengths are JavaScript string lengths: UTF-16 code units, so a
/// character outside the BMP (an emoji) counts two.
fn length_prefixed(body: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (len, after) = rest.split_once(':')?;
        let len: usize = len.parse().ok()?;
        let mut units = 0;
        let end = after
            .char_indices()
            .find(|(_, c)| {
                let past = units >= len;
                units += c.len_utf16();
                past
            })
            .map_or(after.len(), |(i, _)| i);
        out.push(&after[..end]);
        rest = &after[end..];
    }
    Some(out)
}

/// The session id a polling body's open packet gives (its first packet,
/// in either Engine.IO version's framing).
pub fn open_sid_in_body(body: &str, eio3: bool) -> Option<String> {
    let (binary, first) = polling_packets(body, eio3).into_iter().next()?;
    if binary {
        return None;
    }
    open_sid(std::str::from_utf8(&first).ok()?)
}

/// The parts of a Socket.IO packet's header.
struct SocketHeader<'a> {
    kind: u8,
    attachments: Option<u32>,
    namespace: Option<&'a str>,
    ack: Option<&'a str>,
    json: &'a str,
}

/// Splits `<type>[<n>-][<nsp>,][<id>]<json>`; `None` when it is not one.
fn socket_header(text: &str) -> Option<SocketHeader<'_>> {
    let kind = *text.as_bytes().first()?;
    if !(b'0'..=b'6').contains(&kind) {
        return None;
    }
    let mut rest = &text[1..];
    let mut attachments = None;
    if matches!(kind, b'5' | b'6') {
        let (n, after) = rest.split_once('-')?;
        attachments = Some(n.parse().ok()?);
        rest = after;
    }
    let mut namespace = None;
    if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        namespace = Some(&rest[..end]);
        rest = rest.get(end + 1..).unwrap_or("");
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let ack = (digits > 0).then(|| &rest[..digits]);
    Some(SocketHeader {
        kind,
        attachments,
        namespace,
        ack,
        json: &rest[digits..],
    })
}

fn socket_packet(text: &str, frame: Frame<'_>) -> Packet {
    let Some(header) = socket_header(text) else {
        return Packet {
            message: AppMessage::broken("an Engine.IO message that is not a Socket.IO packet"),
            attachments: None,
        };
    };
    let parsed = if header.json.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_str::<Value>(header.json)
    };
    let base = |name: Option<String>, role| AppMessage {
        name,
        role: Some(role),
        topic: header.namespace.filter(|n| *n != "/").map(str::to_owned),
        correlation: header.ack.map(str::to_owned),
        note: None,
    };
    let mut message = match (header.kind, &parsed) {
        (b'0', _) => base(Some("connect".into()), Role::Control),
        (b'1', _) => base(Some("disconnect".into()), Role::Control),
        (b'4', _) => base(Some("connect_error".into()), Role::Error),
        (b'2' | b'5', Ok(Value::Array(args))) => match args.first().and_then(Value::as_str) {
            Some(name) => base(Some(name.to_owned()), frame.app_role()),
            None => AppMessage::broken("a Socket.IO event whose first argument is not its name"),
        },
        (b'3' | b'6', Ok(Value::Array(_))) => base(None, Role::Reply),
        (b'2' | b'5', Err(_)) if frame.truncated => {
            base(event_name_in_prefix(header.json), frame.app_role())
        }
        (b'3' | b'6', Err(_)) if frame.truncated => base(None, Role::Reply),
        (_, Err(e)) => {
            AppMessage::broken(format!("a Socket.IO packet whose JSON does not parse: {e}"))
        }
        _ => AppMessage::broken("a Socket.IO event or ack without its argument array"),
    };
    if message.role == Some(Role::Reply) && header.ack.is_none() {
        message.note = Some("a Socket.IO ack without its id".into());
    }
    let attachments = header.attachments.map(|n| (n, message.clone()));
    Packet {
        message,
        attachments,
    }
}

/// The event name at the start of a cut argument array: `["chat message",…`.
fn event_name_in_prefix(json: &str) -> Option<String> {
    let rest = json.trim_start().strip_prefix('[')?;
    let mut de = serde_json::Deserializer::from_str(rest).into_iter::<String>();
    de.next()?.ok()
}

/// One argument as itself, several as their array.
fn one_or_all(mut args: Vec<Value>) -> Value {
    if args.len() == 1 {
        args.remove(0)
    } else {
        Value::Array(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Direction, Opcode};

    fn text(dir: Direction, s: &str) -> Frame<'_> {
        Frame::text_message(dir, s)
    }
    const UP: Direction = Direction::ClientToUpstream;
    const DOWN: Direction = Direction::UpstreamToClient;

    #[test]
    fn events_acks_and_heartbeats() {
        let mut d = SocketIo::default();
        let sent = d.classify(text(UP, r#"421["chat message",{"text":"cc"}]"#));
        assert_eq!(sent.name.as_deref(), Some("chat message"));
        assert_eq!(sent.role, Some(Role::Send));
        assert_eq!(sent.correlation.as_deref(), Some("1"));
        assert_eq!(
            d.payload(text(UP, r#"421["chat message",{"text":"cc"}]"#)),
            Some(serde_json::json!({"text":"cc"}))
        );
        let ack = d.classify(text(DOWN, r#"431[{"ok":true,"id":7}]"#));
        assert_eq!(
            (ack.role, ack.correlation.as_deref()),
            (Some(Role::Reply), Some("1"))
        );
        assert_eq!(
            ack.name.as_deref(),
            Some("chat message"),
            "named after its event"
        );
        let unknown = d.classify(text(DOWN, r#"439[{}]"#));
        assert_eq!((unknown.name, unknown.role), (None, Some(Role::Reply)));
        assert_eq!(d.classify(text(DOWN, "2")).role, Some(Role::Heartbeat));
        assert_eq!(
            d.classify(text(DOWN, "2probe")).name.as_deref(),
            Some("probe")
        );
        let push = d.classify(text(DOWN, r#"42/admin,["message.created",{"id":1}]"#));
        assert_eq!(push.role, Some(Role::Push));
        assert_eq!(push.topic.as_deref(), Some("/admin"));
        let refused = d.classify(text(DOWN, r#"44{"message":"Not authorized"}"#));
        assert_eq!(refused.role, Some(Role::Error));
    }

    #[test]
    fn binary_attachments_are_named_after_their_event() {
        let mut d = SocketIo::default();
        let head = d.classify(text(UP, r#"451-0["upload",{"_placeholder":true,"num":0}]"#));
        assert_eq!(head.name.as_deref(), Some("upload"));
        let bin = d.classify(Frame {
            dir: UP,
            opcode: Opcode::Binary,
            data: &[1, 2, 3, 4],
            truncated: false,
        });
        assert_eq!(bin.name.as_deref(), Some("upload"));
        let next = d.classify(Frame {
            dir: UP,
            opcode: Opcode::Binary,
            data: &[1],
            truncated: false,
        });
        assert_eq!(next.name, None, "one attachment was announced");
    }

    #[test]
    fn broken_packets_get_a_note_not_a_panic() {
        let mut d = SocketIo::default();
        for bad in ["42[", "4", "9", "", "45", "45x-[]", "42{}", "42[1]", "43"] {
            let m = d.classify(text(UP, bad));
            assert!(m.note.is_some() || m.name.is_none(), "{bad}: {m:?}");
        }
        assert!(d.classify(text(UP, "42[")).note.is_some());
    }

    #[test]
    fn engine_io_3_bodies_count_javascript_lengths() {
        let open = r#"0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000}"#;
        let body = format!("{}:{open}2:40", open.len());
        let body = body.as_str();
        let packets = polling_packets(body, true);
        assert_eq!(packets.len(), 2, "{packets:?}");
        assert_eq!(open_sid_in_body(body, true).as_deref(), Some("abc"));
        // "😀" is two UTF-16 units.
        let emoji = "5:4\"😀\"2:40";
        let packets = polling_packets(emoji, true);
        assert_eq!(packets[0].1.as_ref(), "4\"😀\"".as_bytes());
        assert_eq!(packets[1].1.as_ref(), b"40");
    }

    #[test]
    fn a_cut_event_keeps_its_name() {
        let mut d = SocketIo::default();
        let mut f = text(UP, r#"42["chat message",{"text":"a long te"#);
        f.truncated = true;
        let m = d.classify(f);
        assert_eq!(m.name.as_deref(), Some("chat message"));
        assert_eq!(m.note, None);
    }
}
