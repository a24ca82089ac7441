//! Phoenix Channels, serializers 1.0.0 and 2.0.0.
//!
//! Follows phoenix's assets/js/phoenix/serializer.js and
//! lib/phoenix/socket/serializers/v2_json_serializer.ex: version 2.0.0
//! (`vsn=2.0.0`) sends `[join_ref, ref, topic, event, payload]`, version
//! 1.0.0 an object with the same keys. `phx_reply` answers the message
//! with the same `ref`, its payload `{"status":"ok"|"error","response":…}`;
//! `heartbeat` goes on topic `phoenix` (assets/js/phoenix/socket.js).

use serde_json::Value;

use super::api::{AppMessage, Dialect, DialectId, Frame, Role};
use super::json::scalar_text;

/// The Phoenix dialect.
#[derive(Debug, Default)]
pub struct Phoenix;

/// One Phoenix message, from either serializer.
#[derive(Debug)]
pub struct PhoenixMessage {
    /// `ref`, when set.
    pub reference: Option<String>,
    /// The topic, `room:lobby`.
    pub topic: String,
    /// The event, `phx_join`, `new_msg`.
    pub event: String,
    /// The payload.
    pub payload: Value,
}

/// Reads a message of either serializer; `None` when it is neither.
pub fn parse(text: &str) -> Option<PhoenixMessage> {
    match serde_json::from_str::<Value>(text).ok()? {
        Value::Array(mut items) if items.len() == 5 => {
            let payload = items.pop()?;
            let event = items.pop()?.as_str()?.to_owned();
            let topic = items.pop()?.as_str()?.to_owned();
            let reference = scalar_text(&items.pop()?);
            Some(PhoenixMessage {
                reference,
                topic,
                event,
                payload,
            })
        }
        Value::Object(mut o) => Some(PhoenixMessage {
            reference: o.get("ref").and_then(scalar_text),
            topic: o.get("topic")?.as_str()?.to_owned(),
            event: o.get("event")?.as_str()?.to_owned(),
            payload: o.remove("payload").unwrap_or(Value::Null),
        }),
        _ => None,
    }
}

impl Dialect for Phoenix {
    fn id(&self) -> DialectId {
        DialectId::Phoenix
    }

    fn classify(&mut self, frame: Frame<'_>) -> AppMessage {
        let Some(message) = frame.text().and_then(parse) else {
            if frame.truncated || frame.text().is_none() {
                return AppMessage::default();
            }
            return AppMessage::broken(
                "not a Phoenix message: neither [join_ref, ref, topic, event, payload] nor an object with topic and event",
            );
        };
        let heartbeat = message.topic == "phoenix";
        let role = match message.event.as_str() {
            _ if heartbeat => Role::Heartbeat,
            "phx_reply" => match message.payload.get("status").and_then(Value::as_str) {
                Some("ok") => Role::Reply,
                _ => Role::Error,
            },
            "phx_error" => Role::Error,
            "phx_join" | "phx_leave" | "phx_close" => Role::Control,
            _ => frame.app_role(),
        };
        AppMessage::named(message.event, role)
            .topic(Some(message.topic))
            .correlation(message.reference)
    }

    fn payload(&self, frame: Frame<'_>) -> Option<Value> {
        let message = parse(frame.text()?)?;
        if message.event == "phx_reply" {
            return message.payload.get("response").cloned();
        }
        Some(message.payload)
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
    fn both_serializers_and_reply_status() {
        let mut d = Phoenix;
        let up = Direction::ClientToUpstream;
        let down = Direction::UpstreamToClient;
        let push = r#"["3","7","room:lobby","new_msg",{"body":"cc"}]"#;
        let m = d.classify(text(up, push));
        assert_eq!(
            (m.name.as_deref(), m.role),
            (Some("new_msg"), Some(Role::Send))
        );
        assert_eq!(
            (m.topic.as_deref(), m.correlation.as_deref()),
            (Some("room:lobby"), Some("7"))
        );
        assert_eq!(
            d.payload(text(up, push)),
            Some(serde_json::json!({"body":"cc"}))
        );
        let err = r#"["3","7","room:lobby","phx_reply",{"status":"error","response":{"reason":"unauthorized"}}]"#;
        assert_eq!(d.classify(text(down, err)).role, Some(Role::Error));
        let v1 = r#"{"topic":"room:lobby","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"1"}"#;
        assert_eq!(d.classify(text(down, v1)).role, Some(Role::Reply));
        let beat = r#"[null,"9","phoenix","heartbeat",{}]"#;
        assert_eq!(d.classify(text(up, beat)).role, Some(Role::Heartbeat));
        assert!(d.classify(text(up, "[1,2]")).note.is_some());
    }
}
