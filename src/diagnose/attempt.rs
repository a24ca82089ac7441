//! Send attempts: every way the client tried to deliver something, with
//! what became of it.
//!
//! A REST attempt is a `POST`, `PUT` or `PATCH` with a JSON object or form
//! body; its outcome is the response status (and parsed error). A WebSocket
//! attempt is a client message whose payload is a JSON object; it is
//! delivered when an upstream message carrying the same content follows
//! within the delivery window, failed when an error message or a 1011 or
//! abrupt close follows instead, and otherwise unconfirmed.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::context::RequestContext;
use super::error_body::ErrorBody;
use crate::event::{Direction, Event, EventKind, HttpRequest, Opcode};

/// One way the client can deliver the same user action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SendPath {
    /// An HTTP write.
    Rest,
    /// A WebSocket message.
    Ws,
}

impl SendPath {
    /// The path's name for people.
    pub fn label(self) -> &'static str {
        match self {
            SendPath::Rest => "REST",
            SendPath::Ws => "WebSocket",
        }
    }
}

/// What became of an attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// REST 1xx-3xx, or a WebSocket message answered with its content.
    Succeeded {
        /// The response or the answering message.
        evidence: u64,
        /// The saved object as the upstream showed it, when it did.
        saved: Option<Map<String, Value>>,
    },
    /// REST 4xx/5xx or no response; a WebSocket error reply or close.
    Failed {
        /// The events that show the failure.
        evidence: Vec<u64>,
        /// The HTTP status, or the close code.
        status: Option<u16>,
        /// The parsed error body (REST).
        #[serde(skip)]
        error: Option<ErrorBody>,
        /// The failure in a few words.
        reason: String,
    },
    /// Nothing answered within the window.
    Unconfirmed,
}

impl Outcome {
    /// True for [`Outcome::Failed`].
    pub fn failed(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }
}

/// One send attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    /// REST or WebSocket.
    pub path: SendPath,
    /// The request's or message's `seq`.
    pub seq: u64,
    /// When it was sent.
    pub t_us: u64,
    /// The client connection.
    pub conn: u64,
    /// `POST`, `PUT`, `PATCH` (REST only).
    pub method: Option<String>,
    /// The request path, or the WebSocket's path, without query.
    pub endpoint: String,
    /// The conversation (or other resource id) the path names.
    pub conversation: Option<String>,
    /// The JSON fields sent (for WebSocket, without `type`).
    pub fields: Map<String, Value>,
    /// The `type` of a WebSocket message.
    pub msg_type: Option<String>,
    /// The main text sent (the longest string field), normalized.
    pub content: Option<String>,
    /// What became of it.
    pub outcome: Outcome,
    /// Credentials and headers it carried.
    pub context: RequestContext,
}

/// Timing of the WebSocket outcome rules.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    /// How long after a WebSocket message its echo counts as delivery.
    pub delivery_us: u64,
}

/// Finds every send attempt in `events` (in capture order).
pub fn find(events: &[Event], windows: Windows) -> Vec<Attempt> {
    let mut requests: HashMap<u64, (&Event, &HttpRequest)> = HashMap::new();
    let mut handshakes: HashMap<u64, (&HttpRequest, String)> = HashMap::new();
    let mut attempts = Vec::new();
    for (i, event) in events.iter().enumerate() {
        match &event.kind {
            EventKind::HttpRequest(r) => {
                requests.insert(r.exchange, (event, r));
            }
            EventKind::WsHandshake(h) if h.accepted => {
                if let (Some(conn), Some((_, r))) = (event.conn, requests.get(&h.exchange)) {
                    handshakes.insert(conn, (r, h.uri.clone()));
                }
            }
            EventKind::HttpResponse(_) | EventKind::HttpError(_) => {
                if let Some(a) = rest_attempt(event, &requests) {
                    attempts.push(a);
                }
            }
            EventKind::WsMessage(m)
                if m.dir == Direction::ClientToUpstream && m.opcode == Opcode::Text =>
            {
                let Some((handshake, uri)) = event.conn.and_then(|c| handshakes.get(&c)) else {
                    continue;
                };
                let Some(mut fields) = m.payload.text().and_then(json_object) else {
                    continue;
                };
                let msg_type = fields
                    .remove("type")
                    .and_then(|t| t.as_str().map(str::to_owned));
                let content = main_text(&fields);
                let outcome = ws_outcome(events, i, content.as_deref(), windows);
                attempts.push(Attempt {
                    path: SendPath::Ws,
                    seq: event.seq,
                    t_us: event.t_us,
                    conn: event.conn.unwrap_or_default(),
                    method: None,
                    endpoint: without_query(uri).to_owned(),
                    conversation: conversation_of(uri, &fields),
                    fields,
                    msg_type,
                    content,
                    outcome,
                    context: RequestContext::of(handshake),
                });
            }
            _ => {}
        }
    }
    attempts.sort_by_key(|a| a.seq);
    attempts
}

/// The REST attempt an exchange's end completes, if its request was a write.
fn rest_attempt(end: &Event, requests: &HashMap<u64, (&Event, &HttpRequest)>) -> Option<Attempt> {
    let (exchange, status, error_text, evidence) = match &end.kind {
        EventKind::HttpResponse(r) => (r.exchange, Some(r.status), None, end.seq),
        EventKind::HttpError(e) => (e.exchange, e.status, Some(e.message.clone()), end.seq),
        _ => return None,
    };
    let (request_event, request) = requests.get(&exchange)?;
    if !matches!(request.method.as_str(), "POST" | "PUT" | "PATCH") {
        return None;
    }
    let context = RequestContext::of(request);
    let fields = body_fields(request, context.content_type.as_deref())?;
    let outcome = match (&end.kind, status) {
        (EventKind::HttpResponse(r), Some(s)) if s < 400 => Outcome::Succeeded {
            evidence,
            saved: r.body.text().and_then(json_object),
        },
        (EventKind::HttpResponse(r), Some(s)) => {
            let error = ErrorBody::parse(s, &r.body);
            let reason = format!(
                "HTTP {s}{}",
                error
                    .as_ref()
                    .map(|e| format!(" {}", e.summary()))
                    .unwrap_or_default()
            );
            Outcome::Failed {
                evidence: vec![request_event.seq, evidence],
                status,
                error,
                reason,
            }
        }
        _ => Outcome::Failed {
            evidence: vec![request_event.seq, evidence],
            status,
            error: None,
            reason: error_text.unwrap_or_else(|| "no response".to_owned()),
        },
    };
    Some(Attempt {
        path: SendPath::Rest,
        seq: request_event.seq,
        t_us: request_event.t_us,
        conn: request_event.conn.unwrap_or_default(),
        method: Some(request.method.clone()),
        endpoint: without_query(&request.uri).to_owned(),
        conversation: conversation_of(&request.uri, &fields),
        content: main_text(&fields),
        fields,
        msg_type: None,
        outcome,
        context,
    })
}

/// The fields of a JSON object or form body.
fn body_fields(request: &HttpRequest, content_type: Option<&str>) -> Option<Map<String, Value>> {
    let text = request.body.text()?;
    if content_type == Some("application/x-www-form-urlencoded") {
        let fields: Map<String, Value> = form_urlencoded::parse(text.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return (!fields.is_empty()).then_some(fields);
    }
    json_object(text)
}

fn json_object(text: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// What followed a WebSocket message (`events[i]`) within the window.
fn ws_outcome(events: &[Event], i: usize, content: Option<&str>, windows: Windows) -> Outcome {
    let sent = &events[i];
    let deadline = sent.t_us.saturating_add(windows.delivery_us);
    for event in events[i + 1..].iter().take_while(|e| e.t_us <= deadline) {
        match &event.kind {
            EventKind::WsMessage(m) if m.dir == Direction::UpstreamToClient => {
                let Some(value) = m.payload.text().and_then(json_object) else {
                    continue;
                };
                let same_conn = event.conn == sent.conn;
                if same_conn && is_error_reply(&value) {
                    let reason = value
                        .get("error")
                        .or_else(|| value.get("message"))
                        .or_else(|| value.get("detail"))
                        .map_or_else(|| Value::Object(value.clone()).to_string(), text_of);
                    return Outcome::Failed {
                        evidence: vec![sent.seq, event.seq],
                        status: None,
                        error: None,
                        reason: format!("error reply: {reason}"),
                    };
                }
                if let Some(content) = content {
                    if carries(&Value::Object(value.clone()), content) {
                        let saved = match value.get("data") {
                            Some(Value::Object(data)) => Some(data.clone()),
                            _ => Some(value),
                        };
                        return Outcome::Succeeded {
                            evidence: event.seq,
                            saved,
                        };
                    }
                }
            }
            EventKind::WsClose(c)
                if event.conn == sent.conn && (c.code == Some(1011) || !c.clean) =>
            {
                let how = c.code.map_or("dropped the connection".to_owned(), |code| {
                    format!("closed the socket with {code}")
                });
                return Outcome::Failed {
                    evidence: vec![sent.seq, event.seq],
                    status: c.code,
                    error: None,
                    reason: format!("the upstream {how} right after the message"),
                };
            }
            _ => {}
        }
    }
    Outcome::Unconfirmed
}

fn is_error_reply(value: &Map<String, Value>) -> bool {
    value.get("type").and_then(Value::as_str) == Some("error")
        || (value.contains_key("error") && !value.contains_key("data"))
}

/// True when `value` holds `content` as a string anywhere inside.
pub fn carries(value: &Value, content: &str) -> bool {
    match value {
        Value::String(s) => normalize(s) == content,
        Value::Array(items) => items.iter().any(|v| carries(v, content)),
        Value::Object(map) => map.values().any(|v| carries(v, content)),
        _ => false,
    }
}

/// The main text of a message: its longest string field, normalized.
fn main_text(fields: &Map<String, Value>) -> Option<String> {
    fields
        .values()
        .filter_map(Value::as_str)
        .map(normalize)
        .filter(|s| !s.is_empty())
        .max_by_key(|s| s.len())
}

/// Trimmed, with runs of white space made one space.
fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn text_of(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

fn without_query(uri: &str) -> &str {
    uri.split('?').next().unwrap_or(uri)
}

/// The resource a path names: a `conversation` field, else the last
/// numeric (or UUID-like) segment of the path.
fn conversation_of(uri: &str, fields: &Map<String, Value>) -> Option<String> {
    if let Some(v) = fields
        .get("conversation")
        .or_else(|| fields.get("conversation_id"))
    {
        return Some(text_of(v));
    }
    without_query(uri)
        .split('/')
        .rfind(|s| {
            !s.is_empty()
                && (s.chars().all(|c| c.is_ascii_digit())
                    || (s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')))
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversations_come_from_paths_or_fields() {
        let none = Map::new();
        assert_eq!(
            conversation_of("/api/conversations/3/messages/", &none).as_deref(),
            Some("3")
        );
        assert_eq!(
            conversation_of("/ws/chat/3/?token=x", &none).as_deref(),
            Some("3")
        );
        let mut fields = Map::new();
        fields.insert("conversation".into(), Value::from(7));
        assert_eq!(
            conversation_of("/api/messages/", &fields).as_deref(),
            Some("7")
        );
        assert_eq!(conversation_of("/api/messages/", &none), None);
    }

    #[test]
    fn the_main_text_is_the_longest_string_normalized() {
        let fields = json_object(r#"{"message":"  hello   world ","lang":"fr","n":3}"#).unwrap();
        assert_eq!(main_text(&fields).as_deref(), Some("hello world"));
    }
}
