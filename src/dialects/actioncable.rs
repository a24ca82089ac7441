//! Rails ActionCable, subprotocol `actioncable-v1-json`.
//!
//! Follows Rails' actioncable (lib/action_cable/connection/subscriptions.rb
//! for `command`s, lib/action_cable/connection/base.rb and
//! app/javascript/action_cable/connection.js for `welcome`, `ping`,
//! `disconnect`, `confirm_subscription`, `reject_subscription`). The
//! channel `identifier` and a `message` command's `data` are JSON encoded
//! inside JSON strings; both are decoded here.

use serde_json::{Map, Value};

use super::api::{AppMessage, Dialect, DialectId, Frame, Role};
use super::json;

/// The ActionCable dialect.
#[derive(Debug, Default)]
pub struct Actioncable;

/// The channel an `identifier` names, as `ChatChannel room=3`.
fn channel_of(identifier: &str) -> String {
    let Ok(Value::Object(id)) = serde_json::from_str::<Value>(identifier) else {
        return identifier.to_owned();
    };
    let mut out = id
        .get("channel")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    for (k, v) in id.iter().filter(|(k, _)| *k != "channel") {
        let v = json::scalar_text(v).unwrap_or_else(|| v.to_string());
        out.push_str(&format!(" {k}={v}"));
    }
    out
}

/// A `message` command's `data`, decoded from its string.
fn data_of(object: &Map<String, Value>) -> Option<Map<String, Value>> {
    match object.get("data")? {
        Value::String(s) => match serde_json::from_str(s).ok()? {
            Value::Object(data) => Some(data),
            _ => None,
        },
        Value::Object(data) => Some(data.clone()),
        _ => None,
    }
}

impl Dialect for Actioncable {
    fn id(&self) -> DialectId {
        DialectId::Actioncable
    }

    fn classify(&mut self, frame: Frame<'_>) -> AppMessage {
        let Some(object) = frame.json_object() else {
            if frame.truncated {
                return AppMessage::default();
            }
            return AppMessage::broken("not an ActionCable message: not a JSON object");
        };
        let identifier = object.get("identifier").and_then(Value::as_str);
        let topic = identifier.map(channel_of);
        let str_of = |k: &str| object.get(k).and_then(Value::as_str);
        let m = match (str_of("command"), str_of("type")) {
            (Some("message"), _) => {
                let action = data_of(&object)
                    .and_then(|d| d.get("action").and_then(Value::as_str).map(str::to_owned));
                AppMessage::named(action.unwrap_or_else(|| "message".into()), Role::Send)
            }
            (Some(command), _) => AppMessage::named(command, Role::Control).correlation(identifier),
            (None, Some("ping")) => AppMessage::named("ping", Role::Heartbeat),
            (None, Some("reject_subscription")) => {
                AppMessage::named("reject_subscription", Role::Error).correlation(identifier)
            }
            (None, Some("confirm_subscription")) => {
                AppMessage::named("confirm_subscription", Role::Control).correlation(identifier)
            }
            (None, Some("disconnect")) => {
                let role = match str_of("reason") {
                    Some("unauthorized" | "invalid_request" | "server_restart") => Role::Error,
                    _ => Role::Control,
                };
                AppMessage::named("disconnect", role)
            }
            (None, Some(other)) => AppMessage::named(other, Role::Control),
            (None, None) => match object.get("message") {
                Some(Value::Object(message)) => AppMessage {
                    name: json::envelope_name(message).or_else(|| Some("message".into())),
                    role: Some(Role::Push),
                    ..AppMessage::default()
                },
                Some(_) => AppMessage::named("message", Role::Push),
                None => {
                    AppMessage::broken("an ActionCable message with no command, type or message")
                }
            },
        };
        m.topic(topic)
    }

    fn payload(&self, frame: Frame<'_>) -> Option<Value> {
        let object = frame.json_object()?;
        if object.get("command").and_then(Value::as_str) == Some("message") {
            let mut data = data_of(&object)?;
            data.remove("action");
            return Some(Value::Object(data));
        }
        object.get("message").cloned()
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
    fn commands_types_and_broadcasts() {
        let mut d = Actioncable;
        let up = Direction::ClientToUpstream;
        let down = Direction::UpstreamToClient;
        let id = r#"{\"channel\":\"ChatChannel\",\"room\":\"3\"}"#;
        let speak = format!(
            r#"{{"command":"message","identifier":"{id}","data":"{{\"message\":\"cc\",\"action\":\"speak\"}}"}}"#
        );
        let m = d.classify(text(up, &speak));
        assert_eq!(
            (m.name.as_deref(), m.role),
            (Some("speak"), Some(Role::Send))
        );
        assert_eq!(m.topic.as_deref(), Some("ChatChannel room=3"));
        assert_eq!(
            d.payload(text(up, &speak)),
            Some(serde_json::json!({"message":"cc"}))
        );
        assert_eq!(
            d.classify(text(down, r#"{"type":"ping","message":1}"#))
                .role,
            Some(Role::Heartbeat)
        );
        let push =
            format!(r#"{{"identifier":"{id}","message":{{"message":"cc","user":"alice"}}}}"#);
        assert_eq!(d.classify(text(down, &push)).role, Some(Role::Push));
        let reject = format!(r#"{{"identifier":"{id}","type":"reject_subscription"}}"#);
        assert_eq!(d.classify(text(down, &reject)).role, Some(Role::Error));
        assert!(d.classify(text(down, "[1]")).note.is_some());
    }
}
