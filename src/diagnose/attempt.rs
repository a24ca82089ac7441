//! Send attempts: every way the client tried to deliver something, with
//! what became of it.
//!
//! A REST attempt is a `POST`, `PUT` or `PATCH` with a JSON object or form
//! body; its outcome is the response status (and parsed error). A WebSocket
//! attempt is a client message its dialect reads as a `send` (on a
//! WebSocket or in an Engine.IO long-polling body), with the application
//! payload as its fields; its correlated answer decides its outcome when it
//! has one, else it is delivered when an upstream message carrying the same
//! content follows within the delivery window, failed when an error message
//! or a 1011 or abrupt close follows instead, and otherwise unconfirmed.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::context::RequestContext;
use super::error_body::ErrorBody;
use super::reading::{between, Reading};
use crate::event::text::normalize;
use crate::event::{Direction, Event, EventKind, Flows, HttpRequest, Role};

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

/// Finds every send attempt in `flows`' events (in capture order), with
/// the payloads `reading` holds for them.
pub(super) fn find(
    flows: &Flows<'_>,
    reading: &Reading,
    errors: &BTreeMap<u64, ErrorBody>,
    windows: Windows,
) -> Vec<Attempt> {
    let events = flows.events();
    let mut attempts = Vec::new();
    for (i, event) in events.iter().enumerate() {
        match &event.kind {
            EventKind::HttpResponse(_) | EventKind::HttpError(_) => {
                if let Some(a) = rest_attempt(event, flows, errors) {
                    attempts.push(a);
                }
            }
            EventKind::WsMessage(m)
                if m.dir == Direction::ClientToUpstream && m.msg_role == Some(Role::Send) =>
            {
                // A long-polling message was carried by the request before
                // it; a WebSocket's by its upgrade.
                let opened_by = match (event.conn, &m.polling) {
                    (Some(conn), Some(_)) => {
                        flows.request_before(conn, i).map(|r| (r, r.uri.as_str()))
                    }
                    (Some(conn), None) => flows.upgrade(conn).map(|(h, r)| (r, h.uri.as_str())),
                    (None, _) => None,
                };
                let Some((handshake, uri)) = opened_by else {
                    continue;
                };
                let Some(payload) = &reading.payloads[i] else {
                    continue;
                };
                let fields = match payload {
                    Value::Object(o) => o.clone(),
                    _ => Map::new(),
                };
                let content = content_of(payload);
                let outcome = ws_outcome(events, reading, i, content.as_deref(), windows);
                attempts.push(Attempt {
                    path: SendPath::Ws,
                    seq: event.seq,
                    t_us: event.t_us,
                    conn: event.conn.unwrap_or_default(),
                    method: None,
                    endpoint: without_query(uri).to_owned(),
                    conversation: conversation_of(uri, &fields).or_else(|| m.topic.clone()),
                    fields,
                    msg_type: m.msg_type.clone(),
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
fn rest_attempt(
    end: &Event,
    flows: &Flows<'_>,
    errors: &BTreeMap<u64, ErrorBody>,
) -> Option<Attempt> {
    let (exchange, status, error_text, evidence) = match &end.kind {
        EventKind::HttpResponse(r) => (r.exchange, Some(r.status), None, end.seq),
        EventKind::HttpError(e) => (e.exchange, e.status, Some(e.message.clone()), end.seq),
        _ => return None,
    };
    let (request_event, request) = flows.request(exchange)?;
    if !matches!(request.method.as_str(), "POST" | "PUT" | "PATCH") {
        return None;
    }
    let context = RequestContext::of(request);
    let fields = body_fields(request, context.content_type.as_deref())?;
    if is_credential_exchange(&request.uri, &fields) {
        return None;
    }
    let outcome = match (&end.kind, status) {
        (EventKind::HttpResponse(r), Some(s)) if s < 400 => Outcome::Succeeded {
            evidence,
            saved: r.body.text().and_then(json_object),
        },
        (EventKind::HttpResponse(r), Some(s)) => {
            let error = errors.get(&r.exchange).cloned();
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

/// Body keys that carry credentials: a request with one is a login, a
/// token refresh or a sign-up, never a send attempt, and their values are
/// never content.
const CREDENTIAL_KEYS: [&str; 14] = [
    "password",
    "password1",
    "password2",
    "passwd",
    "pwd",
    "pass",
    "passcode",
    "otp",
    "pin",
    "refresh",
    "refresh_token",
    "client_secret",
    "grant_type",
    "id_token",
];

/// Path segments of credential endpoints.
const CREDENTIAL_PATHS: [&str; 11] = [
    "login", "logout", "signin", "sign-in", "signup", "sign-up", "token", "auth", "session",
    "register", "oauth",
];

/// True for a login, token, sign-up or other credential request: by a body
/// key that carries a credential, or a path segment that names one
/// (`/api/login`, `/api/token/refresh/`, `/auth/jwt/create`).
fn is_credential_exchange(uri: &str, fields: &Map<String, Value>) -> bool {
    // A credential is a non-empty string: `{"text":"cc","pin":true}` pins a
    // message, it does not log in.
    let credential_key = fields.iter().any(|(k, v)| {
        CREDENTIAL_KEYS.contains(&k.to_ascii_lowercase().as_str())
            && v.as_str().is_some_and(|s| !s.is_empty())
    });
    let credential_path = without_query(uri)
        .split('/')
        .any(|s| CREDENTIAL_PATHS.contains(&s.to_ascii_lowercase().as_str()));
    credential_key || credential_path
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
///
/// When the message carries a correlation id (a Socket.IO ack id, a
/// Phoenix `ref`, a JSON-RPC `id`), the first answer with that id decides:
/// an error fails it, anything else delivers it; an error with no id at
/// all, on the same session (connection, or Engine.IO session) before any
/// answer, fails it too. Otherwise an error on the same session fails it,
/// and an upstream message carrying the same content delivers it. Either
/// way the saved object is the first upstream payload carrying the content.
///
/// Read as a scan of the events after the message that stops at the
/// window's end, or once it has the echo (and the answer, when one is
/// awaited); looked up in `reading`'s indexes, so a capture with thousands
/// of messages in each window costs no more than one with a few.
fn ws_outcome(
    events: &[Event],
    reading: &Reading,
    i: usize,
    content: Option<&str>,
    windows: Windows,
) -> Outcome {
    let sent = &events[i];
    let correlation = correlation_of(sent);
    let deadline = sent.t_us.saturating_add(windows.delivery_us);
    let end = reading.window_end(events, i, deadline);
    let session = &reading.sessions[i];
    let first = |list: &[usize]| between(list, i, end).first().copied();
    let answer = correlation.and_then(|id| first(reading.answers.correlated(session, id)));
    let echo = content.and_then(|c| first(reading.answers.carrying(c)));
    // Where the scan would stop (exclusive).
    let stop = match (echo, correlation, answer) {
        (Some(e), None, _) => e + 1,
        (Some(e), Some(_), Some(a)) => e.max(a) + 1,
        _ => end,
    };
    let before = |limit: Option<usize>, j: usize| limit.is_none_or(|l| j < l);
    // An error answers it when it carries its id, or carries no id at all
    // and nothing has answered it yet.
    let error = between(reading.answers.errors(session), i, stop)
        .iter()
        .copied()
        .find(|&j| {
            let theirs = correlation_of(&events[j]);
            (correlation.is_some() && theirs == correlation)
                || (theirs.is_none() && before(answer, j))
        });
    let close = between(reading.answers.closes(session), i, stop)
        .first()
        .copied()
        .filter(|&j| before(answer, j) && before(echo, j));
    let failed = match (error, close) {
        (Some(e), Some(c)) => Some(e.min(c)),
        (e, c) => e.or(c),
    };
    if let Some(j) = failed {
        let event = &events[j];
        return match &event.kind {
            EventKind::WsClose(c) => {
                let how = c.code.map_or("dropped the connection".to_owned(), |code| {
                    format!("closed the socket with {code}")
                });
                Outcome::Failed {
                    evidence: vec![sent.seq, event.seq],
                    status: c.code,
                    error: None,
                    reason: format!("the upstream {how} right after the message"),
                }
            }
            _ => {
                let payload = reading.payloads[j].as_ref();
                let reason = payload.map_or_else(|| "(no details)".to_owned(), error_text);
                Outcome::Failed {
                    evidence: vec![sent.seq, event.seq],
                    status: None,
                    error: None,
                    reason: format!("error reply: {reason}"),
                }
            }
        };
    }
    let saved = echo.and_then(|e| match &reading.payloads[e] {
        Some(Value::Object(o)) => Some(o.clone()),
        _ => None,
    });
    match (answer.or(echo), saved) {
        (Some(j), saved) => Outcome::Succeeded {
            evidence: events[j].seq,
            saved,
        },
        (None, _) => Outcome::Unconfirmed,
    }
}

/// The correlation id of a WebSocket message.
fn correlation_of(event: &Event) -> Option<&str> {
    match &event.kind {
        EventKind::WsMessage(m) => m.correlation.as_deref(),
        _ => None,
    }
}

/// An error payload in a few words: its `error`, `message`, `detail` or
/// `reason`, else the payload itself.
fn error_text(value: &Value) -> String {
    ["error", "message", "detail", "reason"]
        .iter()
        .find_map(|k| value.get(*k))
        .map_or_else(|| value.to_string(), text_of)
}

/// The main text of a payload: a string itself, else the longest string
/// among its fields (or an array's items), normalized.
fn content_of(payload: &Value) -> Option<String> {
    match payload {
        Value::String(s) => Some(normalize(s)).filter(|s| !s.is_empty()),
        Value::Object(fields) => main_text(fields),
        Value::Array(items) => items.iter().filter_map(content_of).max_by_key(String::len),
        _ => None,
    }
}

/// Field names that hold a message's text, in the order they are tried.
const TEXT_KEYS: [&str; 6] = ["message", "text", "body", "content", "msg", "contenu"];

/// The main text of a message, normalized: the first of [`TEXT_KEYS`]
/// that is a string, else its longest string field that does not name a
/// conversation (`{"room":"room-3","text":"cc"}` sends "cc").
fn main_text(fields: &Map<String, Value>) -> Option<String> {
    let text = |v: &Value| v.as_str().map(normalize).filter(|s| !s.is_empty());
    if let Some(t) = TEXT_KEYS.iter().find_map(|k| fields.get(*k).and_then(text)) {
        return Some(t);
    }
    fields
        .iter()
        .filter(|(k, _)| !CONVERSATION_KEYS.contains(&k.as_str()))
        .filter(|(k, _)| !CREDENTIAL_KEYS.contains(&k.to_ascii_lowercase().as_str()))
        .filter_map(|(_, v)| text(v))
        .max_by_key(|s| s.len())
}

fn text_of(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

fn without_query(uri: &str) -> &str {
    uri.split('?').next().unwrap_or(uri)
}

/// Body fields that name the conversation (room, channel) a message goes to.
const CONVERSATION_KEYS: [&str; 8] = [
    "conversation",
    "conversation_id",
    "conversationId",
    "room",
    "room_id",
    "roomId",
    "channel",
    "channel_id",
];

/// The resource a path names: a conversation or room field, else the
/// last path segment with a digit in it (`3`, a UUID, `room-3`), API
/// versions (`v1`) aside.
fn conversation_of(uri: &str, fields: &Map<String, Value>) -> Option<String> {
    if let Some(v) = CONVERSATION_KEYS.iter().find_map(|k| fields.get(*k)) {
        return Some(text_of(v));
    }
    without_query(uri)
        .split('/')
        .rfind(|s| {
            let version = s.len() > 1
                && s.starts_with(['v', 'V'])
                && s[1..].bytes().all(|b| b.is_ascii_digit());
            s.bytes().any(|b| b.is_ascii_digit()) && !version && !s.contains('=')
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests;
