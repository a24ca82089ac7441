//! SockJS framing over its WebSocket transport, with the dialect inside.
//!
//! Follows the SockJS protocol (sockjs/sockjs-protocol,
//! sockjs-protocol-0.3.3.py, "Framing accepted by the client"): the server
//! sends `o` (open), `h` (heartbeat), `a[…]` (a JSON array of messages),
//! `m"…"` (one message) and `c[code,"reason"]` (close); the client sends a
//! JSON array of strings. Each string is read as STOMP when it is a STOMP
//! frame (Spring's usual stack), else as a JSON envelope.

use serde_json::Value;

use super::api::{AppMessage, Dialect, DialectId, Frame, Role};
use super::{json, stomp};

/// The SockJS dialect.
#[derive(Debug, Default)]
pub struct Sockjs;

/// The messages of a SockJS frame, when it carries any.
fn messages(frame: &Frame<'_>) -> Option<Vec<String>> {
    let text = frame.text()?;
    let array = match text.as_bytes().first() {
        Some(b'a') => &text[1..],
        Some(b'm') => {
            return serde_json::from_str::<String>(&text[1..])
                .ok()
                .map(|m| vec![m])
        }
        Some(b'[') => text,
        Some(b'"') => return serde_json::from_str::<String>(text).ok().map(|m| vec![m]),
        _ => return None,
    };
    serde_json::from_str::<Vec<String>>(array).ok()
}

/// Reads one message carried inside SockJS.
fn inner(text: &str, frame: Frame<'_>) -> AppMessage {
    if stomp::looks_like(text) || text.trim_matches(['\r', '\n']).is_empty() {
        return stomp::classify_text(text, false);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => json::classify_object(&object, frame.app_role()),
        _ => AppMessage {
            role: Some(frame.app_role()),
            ..AppMessage::default()
        },
    }
}

impl Dialect for Sockjs {
    fn id(&self) -> DialectId {
        DialectId::Sockjs
    }

    fn classify(&mut self, frame: Frame<'_>) -> AppMessage {
        let Some(text) = frame.text() else {
            return AppMessage::broken("a binary message on a SockJS connection");
        };
        match text.as_bytes().first() {
            Some(b'o') if text.len() == 1 => return AppMessage::named("open", Role::Control),
            Some(b'h') if text.len() == 1 => {
                return AppMessage::named("heartbeat", Role::Heartbeat)
            }
            Some(b'c') => return AppMessage::named("close", Role::Control),
            _ => {}
        }
        match messages(&frame) {
            Some(list) => match list.first() {
                Some(first) => inner(first, frame),
                None => AppMessage::named("empty", Role::Control),
            },
            None if frame.truncated => AppMessage::default(),
            None => AppMessage::broken("not a SockJS frame (o, h, a[…], m\"…\", c[…])"),
        }
    }

    fn payload(&self, frame: Frame<'_>) -> Option<Value> {
        let list = messages(&frame)?;
        let first = list.first()?;
        if stomp::looks_like(first) {
            return stomp::payload_of(first);
        }
        match serde_json::from_str::<Value>(first) {
            Ok(Value::Object(object)) => Some(json::envelope_payload(&object)),
            Ok(other) => Some(other),
            Err(_) => Some(Value::String(first.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Direction;

    fn text(dir: Direction, s: &str) -> Frame<'_> {
        Frame::text_message(dir, s)
    }

    #[test]
    fn framing_and_stomp_inside() {
        let mut d = Sockjs;
        let down = Direction::UpstreamToClient;
        let up = Direction::ClientToUpstream;
        assert_eq!(d.classify(text(down, "o")).role, Some(Role::Control));
        assert_eq!(d.classify(text(down, "h")).role, Some(Role::Heartbeat));
        let send = r#"["SEND\ndestination:/app/chat\n\n{\"text\":\"cc\"}\u0000"]"#;
        let m = d.classify(text(up, send));
        assert_eq!(
            (m.name.as_deref(), m.role),
            (Some("SEND"), Some(Role::Send))
        );
        assert_eq!(m.topic.as_deref(), Some("/app/chat"));
        assert_eq!(
            d.payload(text(up, send)),
            Some(serde_json::json!({"text":"cc"}))
        );
        let json = d.classify(text(down, r#"a["{\"type\":\"chat_message\"}"]"#));
        assert_eq!(
            (json.name.as_deref(), json.role),
            (Some("chat_message"), Some(Role::Push))
        );
        assert!(d.classify(text(down, "zz")).note.is_some());
    }
}
