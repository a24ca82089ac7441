//! WAMP v2 with the JSON serialization (`wamp.2.json`).
//!
//! Follows the WAMP specification (wamp-proto, "Basic Profile", message
//! codes): every message is a JSON array whose first element is its code,
//! `[48, Request, Options, Procedure, Args, ArgsKw]` for a CALL. Replies
//! (RESULT, PUBLISHED, SUBSCRIBED, ERROR) carry the request id; EVENTs
//! carry the subscription id, named here after its topic.

use std::collections::HashMap;

use serde_json::Value;

use super::api::{AppMessage, Dialect, DialectId, Frame, Role};
use super::json::scalar_text;

/// The WAMP dialect: URIs by request and subscription id.
#[derive(Debug, Default)]
pub struct Wamp {
    /// Request id → the procedure or topic it asked for.
    requests: HashMap<String, String>,
    /// Subscription id → topic.
    subscriptions: HashMap<String, String>,
}

/// A message's code and name (WAMP "Message Codes and Direction").
fn code_name(code: u64) -> Option<&'static str> {
    Some(match code {
        1 => "HELLO",
        2 => "WELCOME",
        3 => "ABORT",
        4 => "CHALLENGE",
        5 => "AUTHENTICATE",
        6 => "GOODBYE",
        8 => "ERROR",
        16 => "PUBLISH",
        17 => "PUBLISHED",
        32 => "SUBSCRIBE",
        33 => "SUBSCRIBED",
        34 => "UNSUBSCRIBE",
        35 => "UNSUBSCRIBED",
        36 => "EVENT",
        48 => "CALL",
        49 => "CANCEL",
        50 => "RESULT",
        64 => "REGISTER",
        65 => "REGISTERED",
        66 => "UNREGISTER",
        67 => "UNREGISTERED",
        68 => "INVOCATION",
        69 => "INTERRUPT",
        70 => "YIELD",
        _ => return None,
    })
}

fn array_of(frame: &Frame<'_>) -> Option<Vec<Value>> {
    match frame.json()? {
        Value::Array(items) => Some(items),
        _ => None,
    }
}

impl Dialect for Wamp {
    fn id(&self) -> DialectId {
        DialectId::Wamp
    }

    fn classify(&mut self, frame: Frame<'_>) -> AppMessage {
        let Some(items) = array_of(&frame) else {
            if frame.truncated {
                return AppMessage::default();
            }
            return AppMessage::broken("not a WAMP message: not a JSON array");
        };
        let at = |i: usize| items.get(i).and_then(scalar_text);
        let Some(code) = items.first().and_then(Value::as_u64) else {
            return AppMessage::broken("a WAMP message without its message code");
        };
        let Some(name) = code_name(code) else {
            return AppMessage::broken(format!("{code} is not a WAMP message code"));
        };
        let (role, request, uri) = match code {
            16 => (Role::Send, at(1), at(3)),
            48 => (Role::Send, at(1), at(3)),
            32 | 64 => (Role::Control, at(1), at(3)),
            17 | 50 | 65 | 35 | 67 => (Role::Reply, at(1), None),
            33 => (Role::Reply, at(1), None),
            8 => (Role::Error, at(2), at(4)),
            3 => (Role::Error, None, at(2)),
            36 => (Role::Push, None, None),
            68 => (Role::Push, at(1), None),
            70 => (Role::Reply, at(1), None),
            _ => (Role::Control, None, None),
        };
        if let (Some(request), Some(uri)) = (&request, &uri) {
            if code != 8 {
                super::remember(&mut self.requests, request.clone(), uri.clone());
            }
        }
        let asked = request.as_ref().and_then(|r| self.requests.get(r)).cloned();
        if code == 33 {
            if let (Some(sub), Some(topic)) = (at(2), asked.clone()) {
                super::remember(&mut self.subscriptions, sub, topic);
            }
        }
        let topic = match code {
            36 => at(1).and_then(|s| self.subscriptions.get(&s).cloned()),
            _ => uri.or(asked),
        };
        AppMessage::named(name, role)
            .topic(topic)
            .correlation(request)
    }

    fn payload(&self, frame: Frame<'_>) -> Option<Value> {
        let items = array_of(&frame)?;
        // Arguments sit after the URI (PUBLISH, CALL) or the details.
        let args_at = match items.first()?.as_u64()? {
            16 | 48 => 4,
            36 | 68 => 4,
            50 | 70 => 3,
            8 => 5,
            _ => return None,
        };
        let args = items.get(args_at);
        let kwargs = items.get(args_at + 1);
        match (args, kwargs) {
            (_, Some(Value::Object(kw))) if !kw.is_empty() => Some(Value::Object(kw.clone())),
            (Some(Value::Array(a)), _) if a.len() == 1 => Some(a[0].clone()),
            (Some(a), _) => Some(a.clone()),
            (None, _) => None,
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
    fn calls_results_and_events() {
        let mut d = Wamp::default();
        let up = Direction::ClientToUpstream;
        let down = Direction::UpstreamToClient;
        let call = r#"[48,7814135,{},"com.chat.send",["cc"]]"#;
        let m = d.classify(text(up, call));
        assert_eq!(
            (m.name.as_deref(), m.role, m.topic.as_deref()),
            (Some("CALL"), Some(Role::Send), Some("com.chat.send"))
        );
        assert_eq!(d.payload(text(up, call)), Some(serde_json::json!("cc")));
        let result = d.classify(text(down, r#"[50,7814135,{},[30]]"#));
        assert_eq!(
            (result.role, result.topic.as_deref()),
            (Some(Role::Reply), Some("com.chat.send"))
        );
        d.classify(text(up, r#"[32,713845233,{},"com.chat.room3"]"#));
        d.classify(text(down, r#"[33,713845233,5512315355]"#));
        let event = d.classify(text(down, r#"[36,5512315355,4429313566,{},["hi"]]"#));
        assert_eq!(
            (event.role, event.topic.as_deref()),
            (Some(Role::Push), Some("com.chat.room3"))
        );
        let err = d.classify(text(
            down,
            r#"[8,48,7814135,{},"wamp.error.no_such_procedure"]"#,
        ));
        assert_eq!(
            (err.role, err.topic.as_deref()),
            (Some(Role::Error), Some("wamp.error.no_such_procedure"))
        );
        assert!(d.classify(text(up, "[999]")).note.is_some());
    }
}
