//! JSON-RPC 2.0 over WebSocket.
//!
//! Follows the JSON-RPC 2.0 specification (jsonrpc.org/specification): a
//! request has `method`, `params` and an `id`; a notification has no `id`;
//! a response has the request's `id` and `result` or `error`
//! (`{"code","message","data"}`); a batch is an array of those. A
//! response is named after the method of the request with its id.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::api::{AppMessage, Dialect, DialectId, Frame, Role};
use super::json::scalar_text;

/// The JSON-RPC dialect: methods by the direction the request went and its
/// id (each side numbers its own requests), until answered.
#[derive(Debug, Default)]
pub struct Jsonrpc {
    methods: HashMap<(bool, String), String>,
}

/// True when `o` declares JSON-RPC 2.0.
pub fn is_jsonrpc(o: &Map<String, Value>) -> bool {
    o.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
}

/// The first object of a message (the message, or a batch's first).
fn first_object(frame: &Frame<'_>) -> Option<Map<String, Value>> {
    match frame.json()? {
        Value::Object(o) => Some(o),
        Value::Array(items) => match items.into_iter().next()? {
            Value::Object(o) => Some(o),
            _ => None,
        },
        _ => None,
    }
}

impl Dialect for Jsonrpc {
    fn id(&self) -> DialectId {
        DialectId::Jsonrpc
    }

    fn classify(&mut self, frame: Frame<'_>) -> AppMessage {
        let Some(o) = first_object(&frame) else {
            if frame.truncated {
                return AppMessage::default();
            }
            return AppMessage::broken("not a JSON-RPC message: not a JSON object or batch");
        };
        let id = o.get("id").filter(|v| !v.is_null()).and_then(scalar_text);
        let upstream = frame.dir == crate::event::Direction::UpstreamToClient;
        let mut m = if let Some(method) = o.get("method").and_then(Value::as_str) {
            if let Some(id) = &id {
                super::remember(&mut self.methods, (upstream, id.clone()), method.to_owned());
            }
            // A request (or notification) from the upstream is a push.
            AppMessage::named(method, frame.app_role())
        } else {
            let name = id
                .as_ref()
                .and_then(|id| self.methods.remove(&(!upstream, id.clone())))
                .unwrap_or_else(|| "response".to_owned());
            let role = if o.contains_key("error") {
                Role::Error
            } else {
                Role::Reply
            };
            AppMessage::named(name, role)
        };
        m.correlation = id;
        if !is_jsonrpc(&o) {
            m.note = Some("a JSON-RPC message without \"jsonrpc\":\"2.0\"".into());
        }
        m
    }

    fn payload(&self, frame: Frame<'_>) -> Option<Value> {
        let o = first_object(&frame)?;
        ["params", "result", "error"]
            .iter()
            .find_map(|k| o.get(*k).cloned())
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
    fn requests_responses_errors_and_notifications() {
        let mut d = Jsonrpc::default();
        let up = Direction::ClientToUpstream;
        let down = Direction::UpstreamToClient;
        let call = r#"{"jsonrpc":"2.0","method":"chat.send","params":{"text":"cc"},"id":1}"#;
        let m = d.classify(text(up, call));
        assert_eq!(
            (m.name.as_deref(), m.role, m.correlation.as_deref()),
            (Some("chat.send"), Some(Role::Send), Some("1"))
        );
        assert_eq!(
            d.payload(text(up, call)),
            Some(serde_json::json!({"text":"cc"}))
        );
        let ok = d.classify(text(down, r#"{"jsonrpc":"2.0","result":{"id":9},"id":1}"#));
        assert_eq!(
            (ok.name.as_deref(), ok.role),
            (Some("chat.send"), Some(Role::Reply))
        );
        let err = d.classify(text(
            down,
            r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":2}"#,
        ));
        assert_eq!(err.role, Some(Role::Error));
        let note = d.classify(text(
            down,
            r#"{"jsonrpc":"2.0","method":"chat.message","params":{}}"#,
        ));
        assert_eq!((note.role, note.correlation), (Some(Role::Push), None));
        let batch = d.classify(text(up, r#"[{"jsonrpc":"2.0","method":"a","id":"x"}]"#));
        assert_eq!(batch.name.as_deref(), Some("a"));
    }
}
