//! An event's line of JSON, written field by field for the kinds a busy
//! proxy records most: `ws_message`, `http_request`, `http_response`.
//!
//! The derived `Serialize` of [`Event`] goes through serde's `flatten`,
//! which turns every field into a map entry, and `sonic-rs` sends each
//! entry's key through its string escaper like any other string: about 14
//! escapes for one `ws_message`, eleven of them for names and tags known
//! at compile time. Measured with callgrind (`docs/performance.md`), that
//! was 3,200 instructions an event and a quarter of the proxy's
//! instructions on 100-byte messages (1,770 written here). Here keys and
//! tags are written as the literals they are, and only the strings that
//! come from the network (payloads, header fields, URIs, a dialect's
//! names) are escaped, by `sonic-rs`.
//!
//! The bytes are the derived serializer's, to the byte: unit tests
//! compare both on events made to set every optional field and on every
//! message of the repository's sample message streams, and the
//! integration tests' harness on every capture they write. The structs are
//! destructured without `..`, so a field added to one of them does not
//! compile until it is written here too. Every other kind goes through
//! the derived serializer.

use std::io;

use sonic_rs::format::{CompactFormatter, Formatter as _};

use crate::event::{
    Encoded, Event, EventKind, Headers, HttpRequest, HttpResponse, Payload, WsMessage,
};

/// Appends `event` as one line of compact JSON and a `\n` to `buffer`, the
/// same bytes as `sonic_rs::to_writer(buffer, event)` and a newline; on an
/// error nothing is appended.
pub(super) fn push_event(buffer: &mut Vec<u8>, event: &Event) -> io::Result<()> {
    let start = buffer.len();
    let Event {
        seq,
        t_us,
        conn,
        kind,
    } = event;
    let open = |buffer| start_event(buffer, *seq, *t_us, *conn, kind.type_name());
    let written = match kind {
        EventKind::WsMessage(m) => open(buffer).and_then(|line| line.ws_message(m)),
        EventKind::HttpRequest(r) => open(buffer).and_then(|line| line.http_request(r)),
        EventKind::HttpResponse(r) => open(buffer).and_then(|line| line.http_response(r)),
        _ => sonic_rs::to_writer(&mut *buffer, event).map_err(io::Error::other),
    };
    match written {
        Ok(()) => {
            buffer.push(b'\n');
            Ok(())
        }
        Err(e) => {
            buffer.truncate(start);
            Err(e)
        }
    }
}

/// Writes `{"seq":…,"t_us":…[,"conn":…],"type":"…"`: what every event
/// starts with, the object left open.
fn start_event<'a>(
    buffer: &'a mut Vec<u8>,
    seq: u64,
    t_us: u64,
    conn: Option<u64>,
    type_name: &'static str,
) -> io::Result<Object<'a>> {
    buffer.push(b'{');
    let mut line = Object {
        buffer,
        first: true,
    };
    line.u64("seq", seq)?;
    line.u64("t_us", t_us)?;
    line.opt_u64("conn", conn)?;
    line.name("type", type_name);
    Ok(line)
}

/// A JSON object being written into a buffer.
struct Object<'a> {
    buffer: &'a mut Vec<u8>,
    /// True until the first member is written (no comma before it).
    first: bool,
}

impl Object<'_> {
    /// Writes `,"key":` (no comma before the first member). Keys are Rust
    /// field names, which JSON never escapes.
    fn key(&mut self, key: &'static str) {
        debug_assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        if !std::mem::take(&mut self.first) {
            self.buffer.push(b',');
        }
        self.buffer.push(b'"');
        self.buffer.extend_from_slice(key.as_bytes());
        self.buffer.extend_from_slice(b"\":");
    }

    /// A member whose value JSON never escapes: one of wsdiag's own names
    /// (a tag, an enum variant in snake case) or base64 text.
    fn name(&mut self, key: &'static str, value: &str) {
        debug_assert!(value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\'));
        self.key(key);
        self.buffer.push(b'"');
        self.buffer.extend_from_slice(value.as_bytes());
        self.buffer.push(b'"');
    }

    /// A member whose value is a string from outside, escaped.
    fn str(&mut self, key: &'static str, value: &str) -> io::Result<()> {
        self.key(key);
        string(self.buffer, value)
    }

    fn opt_str(&mut self, key: &'static str, value: Option<&str>) -> io::Result<()> {
        match value {
            Some(v) => self.str(key, v),
            None => Ok(()),
        }
    }

    fn opt_name(&mut self, key: &'static str, value: Option<&'static str>) {
        if let Some(v) = value {
            self.name(key, v);
        }
    }

    fn u64(&mut self, key: &'static str, value: u64) -> io::Result<()> {
        self.key(key);
        CompactFormatter.write_u64(self.buffer, value)
    }

    fn opt_u64(&mut self, key: &'static str, value: Option<u64>) -> io::Result<()> {
        match value {
            Some(v) => self.u64(key, v),
            None => Ok(()),
        }
    }

    fn bool(&mut self, key: &'static str, value: bool) {
        self.key(key);
        self.buffer
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    /// A payload's members (`len`, `text` or `base64`, `truncated`), as
    /// flattened into a `ws_message` or inside a `body` object.
    fn payload(&mut self, payload: &Payload) -> io::Result<()> {
        self.u64("len", payload.len)?;
        match payload.encoded() {
            Encoded::Text(t) => self.str("text", t)?,
            Encoded::Base64(b) => self.name("base64", &b),
        }
        if payload.truncated() {
            self.bool("truncated", true);
        }
        Ok(())
    }

    /// `"body":{…}`: a payload as an object of its own.
    fn body(&mut self, payload: &Payload) -> io::Result<()> {
        self.key("body");
        self.buffer.push(b'{');
        let mut body = Object {
            buffer: &mut *self.buffer,
            first: true,
        };
        body.payload(payload)?;
        self.buffer.push(b'}');
        Ok(())
    }

    /// `"headers":[["name","value"],…]`.
    fn headers(&mut self, headers: &Headers) -> io::Result<()> {
        self.key("headers");
        self.buffer.push(b'[');
        for (i, (name, value)) in headers.iter().enumerate() {
            if i > 0 {
                self.buffer.push(b',');
            }
            self.buffer.push(b'[');
            string(self.buffer, name)?;
            self.buffer.push(b',');
            string(self.buffer, value)?;
            self.buffer.push(b']');
        }
        self.buffer.push(b']');
        Ok(())
    }

    /// Closes the object.
    fn end(self) -> io::Result<()> {
        self.buffer.push(b'}');
        Ok(())
    }

    fn ws_message(mut self, m: &WsMessage) -> io::Result<()> {
        let WsMessage {
            dir,
            opcode,
            payload,
            msg_type,
            msg_role,
            topic,
            correlation,
            dialect,
            note,
            polling,
            forwarded,
            origin,
            compressed,
            wire_len,
            frames,
            error,
        } = m;
        self.name("dir", dir.as_str());
        self.name("opcode", opcode.as_str());
        self.payload(payload)?;
        self.opt_str("msg_type", msg_type.as_deref())?;
        self.opt_name("msg_role", msg_role.map(|r| r.as_str()));
        self.opt_str("topic", topic.as_deref())?;
        self.opt_str("correlation", correlation.as_deref())?;
        self.opt_name("dialect", dialect.map(|d| d.as_str()));
        self.opt_str("note", note.as_deref())?;
        self.opt_str("polling", polling.as_deref())?;
        if !forwarded {
            self.bool("forwarded", false);
        }
        self.opt_name("origin", origin.map(|s| s.as_str()));
        if *compressed {
            self.bool("compressed", true);
        }
        self.opt_u64("wire_len", *wire_len)?;
        self.opt_u64("frames", frames.map(u64::from))?;
        self.opt_str("error", error.as_deref())?;
        self.end()
    }

    fn http_request(mut self, r: &HttpRequest) -> io::Result<()> {
        let HttpRequest {
            exchange,
            method,
            uri,
            version,
            headers,
            forwarded_host,
            body,
        } = r;
        self.u64("exchange", *exchange)?;
        self.str("method", method)?;
        self.str("uri", uri)?;
        self.str("version", version)?;
        self.headers(headers)?;
        self.opt_str("forwarded_host", forwarded_host.as_deref())?;
        self.body(body)?;
        self.end()
    }

    fn http_response(mut self, r: &HttpResponse) -> io::Result<()> {
        let HttpResponse {
            exchange,
            status,
            headers,
            body,
            duration_us,
        } = r;
        self.u64("exchange", *exchange)?;
        self.u64("status", u64::from(*status))?;
        self.headers(headers)?;
        self.body(body)?;
        self.u64("duration_us", *duration_us)?;
        self.end()
    }
}

/// `value` as a JSON string, quoted and escaped as `sonic-rs` escapes it
/// (RFC 8259 section 7: `"`, `\` and control characters; `\n`, `\t` and
/// the like in their short forms).
fn string(buffer: &mut Vec<u8>, value: &str) -> io::Result<()> {
    CompactFormatter.write_string_fast(buffer, value, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{DialectId, Direction, Opcode, Role, Side};
    use bytes::Bytes;

    /// What the derived serializer writes for `event`.
    fn derived(event: &Event) -> String {
        let mut line = sonic_rs::to_string(event).unwrap();
        line.push('\n');
        line
    }

    fn fast(event: &Event) -> String {
        let mut buffer = b"earlier line\n".to_vec();
        push_event(&mut buffer, event).unwrap();
        let line = String::from_utf8(buffer).unwrap();
        line.strip_prefix("earlier line\n").unwrap().to_owned()
    }

    const TRICKY: &str = "quote \" backslash \\ nul \u{0} bell \u{7} esc \u{1b} del \u{7f} \
                          sep \u{2028} é 😀 </script> \r\n\t end";

    fn payloads() -> Vec<Payload> {
        vec![
            Payload::default(),
            Payload::capture(&Bytes::from_static(b"{\"type\":\"chat\"}"), 1024),
            Payload::capture(&Bytes::from(TRICKY), 1024),
            Payload::capture(&Bytes::from(TRICKY), 12),
            // Cut inside "é": still text, one byte shorter.
            Payload::capture(&Bytes::from("aé"), 2),
            Payload::capture(&Bytes::from_static(&[0xff, 0, 1, 2]), 1024),
            Payload::capture(&Bytes::from_static(&[0xff, 0, 1, 2]), 3),
        ]
    }

    fn event(conn: Option<u64>, kind: EventKind) -> Event {
        Event {
            seq: 18_446_744_073_709_551_615,
            t_us: 0,
            conn,
            kind,
        }
    }

    /// Every optional member of `ws_message`, `http_request` and
    /// `http_response` absent, present, and with strings that must be
    /// escaped: the same bytes as the derived serializer.
    #[test]
    fn made_events_are_written_as_the_derived_serializer_writes_them() {
        let mut events = Vec::new();
        for payload in payloads() {
            for (dir, opcode) in [
                (Direction::ClientToUpstream, Opcode::Text),
                (Direction::UpstreamToClient, Opcode::Binary),
                (Direction::ClientToUpstream, Opcode::Close),
                (Direction::UpstreamToClient, Opcode::Ping),
                (Direction::ClientToUpstream, Opcode::Pong),
            ] {
                let plain = WsMessage::new(dir, opcode, payload.clone(), true);
                let mut full = WsMessage::new(dir, opcode, payload.clone(), false);
                full.msg_type = Some(TRICKY.into());
                full.msg_role = Some(Role::Heartbeat);
                full.topic = Some("room:42 \"quoted\"".into());
                full.correlation = Some("7".into());
                full.dialect = Some(DialectId::GraphqlWs);
                full.note = Some("a note\n".into());
                full.polling = Some("sid\u{1}".into());
                full.origin = Some(Side::Proxy);
                full.compressed = true;
                full.wire_len = Some(u64::MAX);
                full.frames = Some(u32::MAX);
                full.error = Some("inflate: invalid \\ block".into());
                events.push(event(Some(1), EventKind::WsMessage(plain)));
                events.push(event(None, EventKind::WsMessage(full)));
            }
            for (headers, forwarded_host) in [
                (Vec::new(), None),
                (
                    vec![
                        ("host".to_owned(), "127.0.0.1:8000".to_owned()),
                        ("x-tricky".to_owned(), TRICKY.to_owned()),
                        ("set-cookie".to_owned(), "a=1".to_owned()),
                        ("set-cookie".to_owned(), "b=\"2\"".to_owned()),
                    ],
                    Some("example.test".to_owned()),
                ),
            ] {
                events.push(event(
                    Some(3),
                    EventKind::HttpRequest(HttpRequest {
                        exchange: 9,
                        method: "POST".into(),
                        uri: "/api/messages?q=\"x\"".into(),
                        version: "HTTP/1.1".into(),
                        headers: headers.clone(),
                        forwarded_host,
                        body: payload.clone(),
                    }),
                ));
                events.push(event(
                    Some(3),
                    EventKind::HttpResponse(HttpResponse {
                        exchange: 9,
                        status: 500,
                        headers,
                        body: payload.clone(),
                        duration_us: 1_234,
                    }),
                ));
            }
        }
        assert_eq!(events.len(), 7 * (10 + 4));
        for event in &events {
            assert_eq!(fast(event), derived(event), "{event:?}");
        }
    }

    /// Every message of the repository's sample message streams
    /// (`tests/fixtures/**/*.jsonl`: text and binary messages of 18
    /// protocols, recorded from real clients and servers), as the proxy
    /// records them: the same bytes.
    #[test]
    fn sample_messages_are_written_as_the_derived_serializer_writes_them() {
        use base64::Engine as _;
        let mut seen = 0;
        for (path, line) in crate::event::fixtures::lines() {
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            let (Ok(dir), Ok(opcode)) = (
                serde_json::from_value::<Direction>(value["dir"].clone()),
                serde_json::from_value::<Opcode>(value["opcode"].clone()),
            ) else {
                continue;
            };
            let bytes = match (value["text"].as_str(), value["base64"].as_str()) {
                (Some(text), _) => Bytes::from(text.to_owned()),
                (None, Some(b)) => {
                    Bytes::from(base64::engine::general_purpose::STANDARD.decode(b).unwrap())
                }
                (None, None) => Bytes::new(),
            };
            for limit in [1 << 20, 7] {
                let mut m = WsMessage::new(dir, opcode, Payload::capture(&bytes, limit), true);
                m.msg_type = value["type"].as_str().map(str::to_owned);
                let event = event(Some(seen), EventKind::WsMessage(m));
                assert_eq!(fast(&event), derived(&event), "{}: {line}", path.display());
            }
            seen += 1;
        }
        assert!(seen > 150, "only {seen} messages in the sample streams");
    }
}
