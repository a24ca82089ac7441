//! GraphQL over WebSocket, both protocols in use.
//!
//! `graphql-transport-ws` follows enisdenjo/graphql-ws PROTOCOL.md
//! (`connection_init`, `connection_ack`, `ping`, `pong`, `subscribe`,
//! `next`, `error`, `complete`); the legacy `graphql-ws` subprotocol
//! follows apollographql/subscriptions-transport-ws PROTOCOL.md (`start`,
//! `data`, `stop`, `ka`, `connection_error`, `connection_terminate`).
//! Every operation message carries the operation `id`; a `next` or `data`
//! is named after the operation it answers.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::api::{AppMessage, Dialect, DialectId, Frame, Role};
use super::json::scalar_text;

/// The GraphQL-over-WebSocket dialect: operation names by id.
#[derive(Debug, Default)]
pub struct GraphqlWs {
    operations: HashMap<String, String>,
}

/// An operation's name: `operationName`, else the name in the document
/// (`subscription OnMessage { … }`), else its kind and first field
/// (`mutation sendMessage`).
pub fn operation_name(payload: &Map<String, Value>) -> String {
    if let Some(name) = payload.get("operationName").and_then(Value::as_str) {
        return name.to_owned();
    }
    let query = payload.get("query").and_then(Value::as_str).unwrap_or("");
    let words: Vec<&str> = query
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        [kind @ ("query" | "mutation" | "subscription"), name, ..]
            if !query.trim_start().starts_with('{') =>
        {
            let between = query.split(kind).nth(1).unwrap_or("");
            if between.trim_start().starts_with('{') {
                format!("{kind} {name}")
            } else {
                (*name).to_owned()
            }
        }
        [field, ..] => format!("query {field}"),
        [] => "operation".to_owned(),
    }
}

impl Dialect for GraphqlWs {
    fn id(&self) -> DialectId {
        DialectId::GraphqlWs
    }

    fn classify(&mut self, frame: Frame<'_>) -> AppMessage {
        let Some(o) = frame.json_object() else {
            if frame.truncated {
                return AppMessage::default();
            }
            return AppMessage::broken("not a GraphQL over WebSocket message: not a JSON object");
        };
        let Some(kind) = o.get("type").and_then(Value::as_str) else {
            return AppMessage::broken("a GraphQL over WebSocket message without its `type`");
        };
        let id = o.get("id").and_then(scalar_text);
        let operation = || {
            id.as_ref()
                .and_then(|id| self.operations.get(id))
                .cloned()
                .unwrap_or_else(|| kind.to_owned())
        };
        let (name, role) = match kind {
            "subscribe" | "start" => {
                let name = match o.get("payload") {
                    Some(Value::Object(p)) => operation_name(p),
                    _ => kind.to_owned(),
                };
                if let Some(id) = &id {
                    super::remember(&mut self.operations, id.clone(), name.clone());
                }
                (name, Role::Send)
            }
            "next" | "data" => (operation(), Role::Push),
            "error" | "connection_error" => (operation(), Role::Error),
            "complete" | "stop" => {
                let name = operation();
                if let Some(id) = &id {
                    self.operations.remove(id);
                }
                (name, Role::Control)
            }
            "ping" | "pong" | "ka" => (kind.to_owned(), Role::Heartbeat),
            "connection_ack" => (kind.to_owned(), Role::Reply),
            _ => (kind.to_owned(), Role::Control),
        };
        let mut m = AppMessage::named(name, role).correlation(id);
        if role == Role::Push && payload_errors(&o) {
            m.role = Some(Role::Error);
        }
        m
    }

    fn payload(&self, frame: Frame<'_>) -> Option<Value> {
        let o = frame.json_object()?;
        let payload = o.get("payload")?;
        match o.get("type").and_then(Value::as_str)? {
            "subscribe" | "start" => match payload.get("variables") {
                Some(Value::Object(v)) if !v.is_empty() => Some(Value::Object(v.clone())),
                _ => payload.get("query").cloned(),
            },
            "next" | "data" => payload
                .get("data")
                .cloned()
                .or_else(|| Some(payload.clone())),
            _ => Some(payload.clone()),
        }
    }

    fn heartbeat_answer(&self, frame: Frame<'_>) -> Option<Vec<u8>> {
        let o = frame.json_object()?;
        let upstream = frame.dir == crate::event::Direction::UpstreamToClient;
        (upstream && o.get("type").and_then(Value::as_str) == Some("ping"))
            .then(|| br#"{"type":"pong"}"#.to_vec())
    }
}

/// True when a `next` carries GraphQL errors (an execution error answered
/// as a result, GraphQL spec section 7.1.2: `errors` beside partial or
/// null `data`).
fn payload_errors(o: &Map<String, Value>) -> bool {
    let Some(Value::Object(p)) = o.get("payload") else {
        return false;
    };
    p.get("errors")
        .and_then(Value::as_array)
        .is_some_and(|e| !e.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Direction;

    fn text(dir: Direction, s: &str) -> Frame<'_> {
        Frame::text_message(dir, s)
    }

    #[test]
    fn operations_are_named_and_their_results_too() {
        let mut d = GraphqlWs::default();
        let up = Direction::ClientToUpstream;
        let down = Direction::UpstreamToClient;
        let sub = r#"{"id":"1","type":"subscribe","payload":{"query":"subscription OnMessage { messageAdded { id text } }"}}"#;
        let m = d.classify(text(up, sub));
        assert_eq!(
            (m.name.as_deref(), m.role),
            (Some("OnMessage"), Some(Role::Send))
        );
        assert_eq!(m.correlation.as_deref(), Some("1"));
        let next = d.classify(text(
            down,
            r#"{"id":"1","type":"next","payload":{"data":{"messageAdded":{"id":"1"}}}}"#,
        ));
        assert_eq!(
            (next.name.as_deref(), next.role),
            (Some("OnMessage"), Some(Role::Push))
        );
        let anon = r#"{"id":"2","type":"subscribe","payload":{"query":"mutation { sendMessage(text: \"cc\") { id } }"}}"#;
        assert_eq!(
            d.classify(text(up, anon)).name.as_deref(),
            Some("mutation sendMessage")
        );
        assert_eq!(
            d.classify(text(down, r#"{"type":"ping"}"#)).role,
            Some(Role::Heartbeat)
        );
        assert_eq!(
            d.classify(text(
                down,
                r#"{"id":"2","type":"error","payload":[{"message":"x"}]}"#
            ))
            .role,
            Some(Role::Error)
        );
        assert_eq!(
            d.classify(text(
                down,
                r#"{"id":"2","type":"next","payload":{"errors":[{"message":"x"}],"data":null}}"#
            ))
            .role,
            Some(Role::Error)
        );
    }
}
