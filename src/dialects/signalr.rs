//! ASP.NET Core SignalR, JSON hub protocol.
//!
//! Follows dotnet/aspnetcore src/SignalR/docs/specs/HubProtocol.md: every
//! record ends with the record separator `\x1e`; the first from each side
//! is the handshake (`{"protocol":"json","version":1}`, answered `{}` or
//! `{"error":…}`); then `type` 1 Invocation (`target`, `invocationId`,
//! `arguments`), 2 StreamItem, 3 Completion (`result` or `error`), 4
//! StreamInvocation, 5 CancelInvocation, 6 Ping, 7 Close, 8 Ack, 9
//! Sequence. A message may hold several records; the one that says most
//! names it (an error, else a completion, else the first that is not a
//! ping).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::api::{AppMessage, Dialect, DialectId, Frame, Role};
use super::json::scalar_text;

/// The record separator (HubProtocol.md, "JSON Encoding").
pub const RECORD_SEPARATOR: char = '\u{1e}';

/// The SignalR dialect: invocation targets by id, so a completion is named
/// after what it completes.
#[derive(Debug, Default)]
pub struct Signalr {
    targets: HashMap<String, String>,
}

/// The records of a message, each parsed when it is a JSON object.
fn records(text: &str) -> impl Iterator<Item = Option<Map<String, Value>>> + '_ {
    text.split(RECORD_SEPARATOR)
        .filter(|r| !r.trim().is_empty())
        .map(|r| match serde_json::from_str(r) {
            Ok(Value::Object(o)) => Some(o),
            _ => None,
        })
}

impl Signalr {
    fn record(&mut self, r: &Map<String, Value>, frame: &Frame<'_>) -> AppMessage {
        let id = r.get("invocationId").and_then(scalar_text);
        let kind = r.get("type").and_then(Value::as_u64);
        let named = |name: &str, role| AppMessage::named(name, role).correlation(id.clone());
        match kind {
            None if r.contains_key("protocol") => named("handshake", Role::Control),
            None if r.contains_key("error") => named("handshake", Role::Error),
            None => named("handshake", Role::Control),
            Some(1 | 4) => {
                let target = r.get("target").and_then(Value::as_str).unwrap_or("?");
                if let Some(id) = &id {
                    super::remember(&mut self.targets, id.clone(), target.to_owned());
                }
                named(target, frame.app_role())
            }
            Some(2) => named(&self.target_of(&id, "StreamItem"), Role::Push),
            Some(3) => {
                let role = if r.contains_key("error") {
                    Role::Error
                } else {
                    Role::Reply
                };
                let name = self.target_of(&id, "Completion");
                if let Some(id) = &id {
                    self.targets.remove(id);
                }
                named(&name, role)
            }
            Some(5) => named("CancelInvocation", Role::Control),
            Some(6) => named("Ping", Role::Heartbeat),
            Some(7) if r.contains_key("error") => named("Close", Role::Error),
            Some(7) => named("Close", Role::Control),
            Some(8) => named("Ack", Role::Control),
            Some(9) => named("Sequence", Role::Control),
            Some(other) => AppMessage::broken(format!(
                "SignalR message type {other} is not in the hub protocol (1 to 9)"
            )),
        }
    }

    fn target_of(&self, id: &Option<String>, fallback: &str) -> String {
        id.as_ref()
            .and_then(|id| self.targets.get(id))
            .cloned()
            .unwrap_or_else(|| fallback.to_owned())
    }
}

impl Dialect for Signalr {
    fn id(&self) -> DialectId {
        DialectId::Signalr
    }

    fn classify(&mut self, frame: Frame<'_>) -> AppMessage {
        let Some(text) = frame.text() else {
            return AppMessage::broken(
                "a binary message: the JSON hub protocol sends text (MessagePack hub protocol?)",
            );
        };
        let parsed: Vec<_> = records(text).collect();
        let read: Vec<AppMessage> = parsed
            .iter()
            .flatten()
            .map(|r| self.record(r, &frame))
            .collect();
        // The record that says most names the message: an error, then a
        // completion (what the diagnosis pairs with its invocation), then
        // any other record but a ping.
        let rank = |m: &AppMessage| match m.role {
            Some(Role::Error) => 0,
            Some(Role::Reply) => 1,
            Some(Role::Heartbeat) => 3,
            _ => 2,
        };
        let mut m = read
            .iter()
            .min_by_key(|m| rank(m))
            .cloned()
            .unwrap_or_default();
        if !frame.truncated {
            if parsed.iter().any(Option::is_none) || parsed.is_empty() {
                m.note = Some("a SignalR record that is not a JSON object".into());
            } else if !text.ends_with(RECORD_SEPARATOR) {
                m.note =
                    Some("a SignalR message without its closing record separator (0x1E)".into());
            }
        }
        m
    }

    fn payload(&self, frame: Frame<'_>) -> Option<Value> {
        let record = records(frame.text()?)
            .flatten()
            .find(|r| r.get("type").and_then(Value::as_u64) != Some(6))?;
        if let Some(Value::Array(args)) = record.get("arguments") {
            return Some(match args.as_slice() {
                [one] => one.clone(),
                _ => Value::Array(args.clone()),
            });
        }
        ["result", "item", "error"]
            .iter()
            .find_map(|k| record.get(*k).cloned())
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
    fn invocations_completions_and_pings() {
        let mut d = Signalr::default();
        let up = Direction::ClientToUpstream;
        let down = Direction::UpstreamToClient;
        assert_eq!(
            d.classify(text(up, "{\"protocol\":\"json\",\"version\":1}\u{1e}"))
                .role,
            Some(Role::Control)
        );
        let send = "{\"type\":1,\"invocationId\":\"0\",\"target\":\"SendMessage\",\"arguments\":[\"alice\",\"cc\"]}\u{1e}";
        let m = d.classify(text(up, send));
        assert_eq!(
            (m.name.as_deref(), m.role),
            (Some("SendMessage"), Some(Role::Send))
        );
        assert_eq!(
            d.payload(text(up, send)),
            Some(serde_json::json!(["alice", "cc"]))
        );
        let done = d.classify(text(
            down,
            "{\"type\":3,\"invocationId\":\"0\",\"error\":\"boom\"}\u{1e}",
        ));
        assert_eq!(
            (done.name.as_deref(), done.role),
            (Some("SendMessage"), Some(Role::Error))
        );
        let two = "{\"type\":6}\u{1e}{\"type\":1,\"target\":\"ReceiveMessage\",\"arguments\":[\"cc\"]}\u{1e}";
        assert_eq!(
            d.classify(text(down, two)).name.as_deref(),
            Some("ReceiveMessage")
        );
        assert!(d.classify(text(down, "{\"type\":6}")).note.is_some());
        let call = "{\"type\":1,\"invocationId\":\"5\",\"target\":\"Send\",\"arguments\":[]}\u{1e}";
        d.classify(text(up, call));
        let push_and_done = "{\"type\":1,\"target\":\"ReceiveMessage\",\"arguments\":[\"cc\"]}\u{1e}{\"type\":3,\"invocationId\":\"5\",\"result\":1}\u{1e}";
        let m = d.classify(text(down, push_and_done));
        assert_eq!(
            (m.role, m.correlation.as_deref()),
            (Some(Role::Reply), Some("5")),
            "the completion names a frame it shares with a push"
        );
    }
}
