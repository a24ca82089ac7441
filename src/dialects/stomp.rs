//! STOMP 1.0, 1.1 and 1.2 frames over WebSocket.
//!
//! Follows the STOMP 1.2 specification (stomp.github.io,
//! stomp-specification-1.2.html): a frame is a command line, header lines
//! `name:value` (1.2 escapes `\n`, `\r`, `\c`, `\\`), an empty line, the
//! body and a NUL octet; a lone EOL is a heart-beat.

use serde_json::Value;

use super::api::{AppMessage, Dialect, DialectId, Frame, Role};

/// Commands a client sends (STOMP 1.2, "Client Frames").
const CLIENT_COMMANDS: [&str; 11] = [
    "CONNECT",
    "STOMP",
    "SEND",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "BEGIN",
    "COMMIT",
    "ABORT",
    "ACK",
    "NACK",
    "DISCONNECT",
];

/// Commands a server sends (STOMP 1.2, "Server Frames").
const SERVER_COMMANDS: [&str; 4] = ["CONNECTED", "MESSAGE", "RECEIPT", "ERROR"];

/// The STOMP dialect.
#[derive(Debug, Default)]
pub struct Stomp;

/// One STOMP frame, split.
#[derive(Debug)]
pub struct StompFrame<'a> {
    /// The command (`SEND`, `MESSAGE`, …).
    pub command: &'a str,
    /// Headers in order, values unescaped.
    pub headers: Vec<(&'a str, String)>,
    /// The body, without the closing NUL.
    pub body: &'a str,
    /// False when the closing NUL is missing.
    pub terminated: bool,
}

impl StompFrame<'_> {
    /// The first value of header `name` (STOMP 1.2: the first one wins).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// True when `text` starts like a STOMP frame: a known command, then EOL.
pub fn looks_like(text: &str) -> bool {
    let first = text.split('\n').next().unwrap_or("");
    let command = first.strip_suffix('\r').unwrap_or(first);
    text.contains('\n')
        && (CLIENT_COMMANDS.contains(&command) || SERVER_COMMANDS.contains(&command))
}

/// Splits `text` into a frame; `None` for a heart-beat or an unknown
/// command.
pub fn parse(text: &str) -> Option<StompFrame<'_>> {
    let text = text.trim_start_matches(['\r', '\n']);
    let (head, rest) = text
        .split_once("\n\n")
        .or_else(|| text.split_once("\r\n\r\n"))?;
    let mut lines = head.lines();
    let command = lines.next()?.trim_end_matches('\r');
    if !(CLIENT_COMMANDS.contains(&command) || SERVER_COMMANDS.contains(&command)) {
        return None;
    }
    let headers = lines
        .filter_map(|line| line.trim_end_matches('\r').split_once(':'))
        .map(|(n, v)| (n, unescape(v)))
        .collect();
    let (body, terminated) = match rest.find('\0') {
        Some(end) => (&rest[..end], true),
        None => (rest, false),
    };
    Some(StompFrame {
        command,
        headers,
        body,
        terminated,
    })
}

/// STOMP 1.2 header value escapes (section "Value Encoding").
fn unescape(value: &str) -> String {
    if !value.contains('\\') {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('c') => out.push(':'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

impl Dialect for Stomp {
    fn id(&self) -> DialectId {
        DialectId::Stomp
    }

    fn classify(&mut self, frame: Frame<'_>) -> AppMessage {
        let Some(text) = frame.text() else {
            return AppMessage::broken("a binary message on a STOMP connection");
        };
        classify_text(text, frame.truncated)
    }

    fn payload(&self, frame: Frame<'_>) -> Option<Value> {
        payload_of(frame.text()?)
    }
}

/// Reads one STOMP frame's text (also used inside SockJS).
pub fn classify_text(text: &str, truncated: bool) -> AppMessage {
    if text.trim_matches(['\r', '\n']).is_empty() {
        return AppMessage::named("heart-beat", Role::Heartbeat);
    }
    let Some(f) = parse(text) else {
        return AppMessage::broken("not a STOMP frame: no known command followed by its headers");
    };
    let role = match f.command {
        "SEND" => Role::Send,
        "MESSAGE" => Role::Push,
        "RECEIPT" => Role::Reply,
        "ERROR" => Role::Error,
        _ => Role::Control,
    };
    let correlation = f.header("receipt").or_else(|| f.header("receipt-id"));
    let mut m = AppMessage::named(f.command, role)
        .topic(f.header("destination"))
        .correlation(correlation);
    if !f.terminated && !truncated {
        m.note = Some("a STOMP frame without its closing NUL octet".into());
    }
    m
}

/// The body of a STOMP frame as JSON when it is JSON, else as a string.
pub fn payload_of(text: &str) -> Option<Value> {
    let f = parse(text)?;
    if f.body.is_empty() {
        return None;
    }
    Some(serde_json::from_str(f.body).unwrap_or_else(|_| Value::String(f.body.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_message_receipt_error_and_heartbeat() {
        let send = classify_text(
            "SEND\ndestination:/app/chat.send\nreceipt:r-1\ncontent-type:application/json\n\n{\"text\":\"cc\"}\0",
            false,
        );
        assert_eq!(send.name.as_deref(), Some("SEND"));
        assert_eq!(send.role, Some(Role::Send));
        assert_eq!(send.topic.as_deref(), Some("/app/chat.send"));
        assert_eq!(send.correlation.as_deref(), Some("r-1"));
        assert_eq!(
            payload_of("SEND\ndestination:/a\n\n{\"text\":\"cc\"}\0"),
            Some(serde_json::json!({"text":"cc"}))
        );
        let receipt = classify_text("RECEIPT\nreceipt-id:r-1\n\n\0", false);
        assert_eq!(
            (receipt.role, receipt.correlation.as_deref()),
            (Some(Role::Reply), Some("r-1"))
        );
        assert_eq!(
            classify_text("ERROR\nmessage:bad\n\noops\0", false).role,
            Some(Role::Error)
        );
        assert_eq!(classify_text("\n", false).role, Some(Role::Heartbeat));
        assert_eq!(classify_text("\r\n", false).role, Some(Role::Heartbeat));
    }

    #[test]
    fn header_escapes_and_a_missing_nul() {
        let m = classify_text("MESSAGE\ndestination:/topic/a\\cb\n\nhi", false);
        assert_eq!(m.topic.as_deref(), Some("/topic/a:b"));
        assert!(m.note.is_some());
        assert!(classify_text("MESSAGE\ndestination:/t\n\nhi", true)
            .note
            .is_none());
        assert!(classify_text("HELLO\n\n\0", false).note.is_some());
        assert!(looks_like("CONNECT\naccept-version:1.2\n\n\0"));
        assert!(!looks_like("SENDING"));
    }
}
