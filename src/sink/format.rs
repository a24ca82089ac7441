//! Console lines: one per event, in the spirit of the frontend logs users
//! already read.
//!
//! ```text
//! 10:15:02.123 #3 → chat_message {"type":"chat_message","message":"cc"}
//! 10:15:02.135 #3 ← chat_message {"type":"chat_message","data":{"id":123,...}}
//! 10:15:03.001 #4 POST /api/conversations/3/messages/ → 500 IntegrityError: NOT NULL constraint failed: chat_message.expediteur_id (35 ms)
//! ```
//!
//! REST exchanges get one line when they complete; WebSocket messages one
//! line each. Long payloads are shortened here, on screen only. The same
//! formatter serves the live console and `wsdiag show`.

use std::collections::HashMap;
use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use chrono::{DateTime, Local, Utc};

use crate::diagnose::error_body::ErrorBody;
use crate::diagnose::Finding;
use crate::dialects::{DialectId, Dialects};
pub use crate::event::text::{shorten, visible};
use crate::event::{
    Direction, ErrorKind, Event, EventKind, HttpError, HttpResponse, Opcode, Payload, Role, Side,
    WsClose, WsMessage,
};

/// How many characters of a payload a console line shows.
pub const PAYLOAD_WIDTH: usize = 240;

/// What the formatter remembers across events: the request of every open
/// exchange and the path of every WebSocket, so later lines (and filters)
/// can name them.
#[derive(Debug, Default)]
pub struct Context {
    requests: HashMap<u64, (String, String)>,
    upgrades: HashMap<u64, u16>,
    ws_paths: HashMap<u64, String>,
    dialects: Dialects,
}

impl Context {
    /// Takes note of `event`; call for every event, shown or not.
    pub fn observe(&mut self, event: &Event) {
        self.dialects.observe(event);
        match &event.kind {
            EventKind::HttpRequest(r) => {
                self.requests
                    .insert(r.exchange, (r.method.clone(), r.uri.clone()));
            }
            EventKind::WsHandshake(h) => {
                self.upgrades.insert(h.exchange, h.status);
                if let (true, Some(conn)) = (h.accepted, event.conn) {
                    self.ws_paths.insert(conn, h.uri.clone());
                }
            }
            EventKind::ConnClose(_) => {
                if let Some(conn) = event.conn {
                    self.ws_paths.remove(&conn);
                    self.dialects.forget(conn);
                }
            }
            _ => {}
        }
    }

    /// Forgets an exchange once its last line is out.
    pub fn forget(&mut self, event: &Event) {
        let exchange = match &event.kind {
            EventKind::HttpResponse(r) => r.exchange,
            EventKind::HttpError(e) => e.exchange,
            _ => return,
        };
        self.requests.remove(&exchange);
        self.upgrades.remove(&exchange);
    }

    /// Method and path of an exchange.
    pub fn request(&self, exchange: u64) -> Option<(&str, &str)> {
        self.requests
            .get(&exchange)
            .map(|(m, u)| (m.as_str(), u.as_str()))
    }

    /// The path an event concerns: its request's, or its WebSocket's.
    pub fn path_of<'a>(&'a self, event: &'a Event) -> Option<&'a str> {
        let exchange = match &event.kind {
            EventKind::HttpRequest(r) => return Some(&r.uri),
            EventKind::WsHandshake(h) => return Some(&h.uri),
            EventKind::HttpResponse(r) => Some(r.exchange),
            EventKind::HttpError(e) => Some(e.exchange),
            _ => None,
        };
        match exchange {
            Some(x) => self.request(x).map(|(_, uri)| uri),
            None => event
                .conn
                .and_then(|c| self.ws_paths.get(&c))
                .map(String::as_str),
        }
    }
}

/// Colours for the console, or none.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    enabled: bool,
}

impl Palette {
    /// Colour when `enabled`.
    pub fn new(enabled: bool) -> Palette {
        Palette { enabled }
    }

    /// Colour for a terminal on stdout unless `NO_COLOR` is set.
    pub fn detect() -> Palette {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Palette::new(!no_color && std::io::stdout().is_terminal())
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.enabled {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }

    fn fg(color: AnsiColor) -> Style {
        Style::new().fg_color(Some(color.into()))
    }
}

/// Formats events as console lines.
pub struct Formatter {
    started_at: DateTime<Utc>,
    palette: Palette,
}

impl Formatter {
    /// A formatter for a capture that started at `started_at`.
    pub fn new(started_at: DateTime<Utc>, palette: Palette) -> Formatter {
        Formatter {
            started_at,
            palette,
        }
    }

    /// The line for `event`, or `None` for events the console does not show
    /// (connections opening, requests still waiting for their response).
    pub fn line(&self, event: &Event, ctx: &Context) -> Option<String> {
        let body = match &event.kind {
            EventKind::HttpResponse(r) => self.response(r, ctx)?,
            EventKind::HttpError(e) => self.http_error(e, ctx),
            EventKind::WsHandshake(h) if h.accepted => {
                let mut s = format!("⇄ WebSocket {} open", h.uri);
                if let Some(p) = &h.subprotocol {
                    let _ = write!(s, ", subprotocol {p}");
                }
                if let Some(extension) = h.extensions.first() {
                    // The name, without its parameters.
                    let name = extension.split(';').next().unwrap_or_default().trim();
                    let _ = write!(s, ", {name}");
                }
                s
            }
            EventKind::WsMessage(m) => self.message(m, ctx.dialects.of_message(event.conn, m)),
            EventKind::WsClose(c) => self.close(c),
            EventKind::Error(e) => self.palette.paint(
                Palette::fg(AnsiColor::Red),
                &format!("! {}{}", error_label(e.side, e.kind), e.message),
            ),
            _ => return None,
        };
        let time = self.started_at + chrono::Duration::microseconds(event.t_us as i64);
        let time = time
            .with_timezone(&Local)
            .format("%H:%M:%S%.3f")
            .to_string();
        let time = self.palette.paint(Style::new().dimmed(), &time);
        Some(match event.conn {
            Some(conn) => format!("{time} #{conn} {body}"),
            None => format!("{time} {body}"),
        })
    }

    /// A finding under the line that completed it: code and title, the
    /// other path, the next step. Everything quoted from the traffic
    /// (titles, files, explanations) is made visible first.
    pub fn finding(&self, f: &Finding) -> String {
        let head = self.palette.paint(
            Palette::fg(AnsiColor::Red).bold(),
            &format!("    ✗ {}: {}", f.code.as_str(), visible(&f.title)),
        );
        let mut out = head;
        if let Some(l) = &f.location {
            let at = format!("{}:{} in {}", l.file, l.line, l.function);
            let _ = write!(out, "\n      at {}", visible(&at));
            if !l.source.is_empty() {
                let _ = write!(out, ": {}", visible(&l.source));
            }
        }
        for line in &f.explanation {
            let _ = write!(out, "\n      {}", visible(line));
        }
        let next = self.palette.paint(Style::new().bold(), "Next step:");
        let _ = write!(out, "\n      {next} {}", visible(&f.next_step));
        out
    }

    fn request_label(&self, exchange: u64, ctx: &Context) -> String {
        match ctx.request(exchange) {
            Some((method, uri)) => format!("{method} {uri}"),
            None => format!("exchange {exchange}"),
        }
    }

    fn response(&self, r: &HttpResponse, ctx: &Context) -> Option<String> {
        let handshake = ctx.upgrades.get(&r.exchange).copied();
        if handshake == Some(101) {
            return None; // the ws_handshake line says it
        }
        let colour = match r.status {
            200..=299 => AnsiColor::Green,
            300..=399 => AnsiColor::Cyan,
            400..=499 => AnsiColor::Yellow,
            _ => AnsiColor::Red,
        };
        let status = self
            .palette
            .paint(Palette::fg(colour).bold(), &r.status.to_string());
        let mut line = format!("{} → {status}", self.request_label(r.exchange, ctx));
        if handshake.is_some() {
            line.push_str(" WebSocket handshake refused");
        }
        if let Some(why) = explain_error_body(r) {
            let _ = write!(line, " {why}");
        }
        let _ = write!(line, " ({})", millis(r.duration_us));
        Some(line)
    }

    fn http_error(&self, e: &HttpError, ctx: &Context) -> String {
        let status = e.status.map(|s| format!("{s} ")).unwrap_or_default();
        let what = format!("{status}{}{}", error_label(e.side, e.kind), e.message);
        format!(
            "{} → {} ({})",
            self.request_label(e.exchange, ctx),
            self.palette
                .paint(Palette::fg(AnsiColor::Red).bold(), &what),
            millis(e.duration_us)
        )
    }

    /// A message's line: arrow, name (and topic), then its application
    /// payload when its dialect wraps one in an envelope (`→ chat message
    /// {"text":"cc"}` for Socket.IO's `42["chat message",{"text":"cc"}]`),
    /// else the payload itself. Heartbeats are dimmed.
    fn message(&self, m: &WsMessage, dialect: Option<DialectId>) -> String {
        let colour = match m.dir {
            Direction::ClientToUpstream => AnsiColor::Cyan,
            Direction::UpstreamToClient => AnsiColor::Green,
        };
        let arrow = self
            .palette
            .paint(Palette::fg(colour).bold(), m.dir.arrow());
        let heartbeat = m.msg_role == Some(Role::Heartbeat);
        let name_style = if heartbeat {
            Style::new().dimmed()
        } else {
            Style::new().bold()
        };
        let mut label = match (&m.msg_type, m.opcode) {
            (Some(t), _) => self.palette.paint(name_style, &visible(t)),
            (None, op) => format!("{op:?}").to_lowercase(),
        };
        if let Some(topic) = &m.topic {
            let _ = write!(label, " {}", visible(topic));
        }
        let unwrapped = match dialect {
            Some(DialectId::Json) | None => None,
            Some(id) => crate::dialects::new(id).payload(crate::dialects::frame_of(m)),
        };
        let content = match (m.opcode, unwrapped) {
            (Opcode::Text | Opcode::Binary, Some(app)) => {
                shorten(&visible(&app.to_string()), PAYLOAD_WIDTH)
            }
            (Opcode::Text, None) => shorten(&visible(&compact(&m.payload)), PAYLOAD_WIDTH),
            (Opcode::Close, _) => describe_close(&m.payload),
            _ if m.payload.len == 0 => String::new(),
            // Binary messages often carry text (an MQTT payload, a JSON
            // document): shown as text when they are, else as hex.
            _ => match std::str::from_utf8(&m.payload.bytes) {
                Ok(text) if !text.chars().any(|c| c.is_control() && c != '\n') => {
                    let text = shorten(&visible(text), PAYLOAD_WIDTH);
                    format!("{} B {text}", m.payload.len)
                }
                _ => format!("{} B {}", m.payload.len, hex_preview(&m.payload)),
            },
        };
        let content = if heartbeat {
            self.palette.paint(Style::new().dimmed(), &content)
        } else {
            content
        };
        let note = m
            .note
            .as_ref()
            .map(|n| format!(" [{}]", visible(n)))
            .unwrap_or_default();
        let wire = match (m.compressed, m.wire_len, &m.error) {
            (_, _, Some(error)) => format!(" [{}]", visible(error)),
            (true, Some(wire), None) => format!(" (compressed: {wire} B on the wire)"),
            _ => String::new(),
        };
        let lost = match (m.forwarded, m.opcode) {
            _ if m.origin.is_some() && m.opcode == Opcode::Close => {
                " (wsdiag's own, shutting down)"
            }
            _ if m.origin.is_some() => " (wsdiag's own keepalive, --idle-timeout)",
            (true, _) => "",
            (false, Opcode::Close) => " (not forwarded: wsdiag had closed the other side)",
            (false, _) if m.dir == Direction::ClientToUpstream => {
                " (not delivered to the upstream)"
            }
            (false, _) => " (not delivered to the client)",
        };
        format!("{arrow} {label} {content}{wire}{note}{lost}")
            .trim_end()
            .to_owned()
    }

    fn close(&self, c: &WsClose) -> String {
        let who = c.initiator.as_str();
        let how = match (&c.code, c.clean) {
            (Some(code), true) if c.reason.is_empty() => format!("closed by {who}: {code}"),
            (Some(code), true) => format!("closed by {who}: {code} {:?}", c.reason),
            (None, true) => format!("closed by {who} (no status code)"),
            (Some(code), false) => format!(
                "closed by {who}: {code}: {}",
                c.error.as_deref().unwrap_or(&c.reason)
            ),
            // A close the other side never answered was a close frame,
            // one without a status code.
            (None, false) if c.unanswered.is_some() => format!(
                "closed by {who} (no status code): {}",
                c.error.as_deref().unwrap_or("the close was never answered")
            ),
            (None, false) => format!(
                "dropped by {who} without a close frame: {}",
                c.error.as_deref().unwrap_or("connection lost")
            ),
        };
        let colour = if c.clean {
            AnsiColor::Blue
        } else {
            AnsiColor::Red
        };
        format!(
            "{} ({} → / {} ←)",
            self.palette
                .paint(Palette::fg(colour), &format!("✕ WebSocket {how}")),
            c.messages_sent,
            c.messages_received
        )
    }
}

/// For an error response, the reason in a few words: the exception of a
/// Django report, a DRF error, the CSRF failure.
fn explain_error_body(r: &HttpResponse) -> Option<String> {
    match ErrorBody::parse(r.status, &r.body)? {
        ErrorBody::Other(_) => None,
        known => Some(shorten(&visible(&known.summary()), PAYLOAD_WIDTH)),
    }
}

fn millis(us: u64) -> String {
    if us < 10_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{} ms", us / 1000)
    }
}

/// The payload on one line: JSON re-serialized compactly, other text with
/// its line breaks escaped.
fn compact(payload: &Payload) -> String {
    let Some(text) = payload.text() else {
        return String::new();
    };
    let compacted = if payload.truncated() {
        None
    } else {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .map(|v| v.to_string())
    };
    let mut s = compacted.unwrap_or_else(|| text.replace('\n', "\\n").replace('\r', "\\r"));
    if payload.truncated() {
        let _ = write!(s, " … ({} B in all)", payload.len);
    }
    s
}

fn hex_preview(payload: &Payload) -> String {
    let mut s: String = payload
        .bytes
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    if payload.len > 16 {
        s.push('…');
    }
    s
}

fn describe_close(payload: &Payload) -> String {
    match payload.bytes.as_ref() {
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            let reason = String::from_utf8_lossy(reason);
            if reason.is_empty() {
                code.to_string()
            } else {
                format!("{code} {reason:?}")
            }
        }
        _ => "(no status code)".to_owned(),
    }
}

/// `upstream connect error: `: whose failure, and of what kind, before the
/// message (kept in its own case: it names paths, fields and RFCs).
fn error_label(side: Side, kind: ErrorKind) -> String {
    format!("{side:?} {kind:?} error: ").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Side, WsClose};

    fn close_line(close: WsClose) -> String {
        let formatter = Formatter::new(Utc::now(), Palette::new(false));
        formatter.close(&close)
    }

    fn ended(clean: bool, unanswered: Option<Side>, error: Option<&str>) -> WsClose {
        WsClose {
            initiator: Side::Client,
            code: None,
            reason: String::new(),
            clean,
            error: error.map(str::to_owned),
            unanswered,
            violator: None,
            violation: None,
            messages_sent: 1,
            messages_received: 1,
        }
    }

    /// A close frame without a status code and a drop both have no code;
    /// only the drop is "without a close frame".
    #[test]
    fn a_close_without_a_status_code_is_not_called_a_drop() {
        let unanswered = close_line(ended(
            false,
            Some(Side::Upstream),
            Some("the upstream never answered the close"),
        ));
        assert!(
            unanswered.contains(
                "closed by client (no status code): the upstream never answered the close"
            ),
            "{unanswered}"
        );
        let answered = close_line(ended(true, None, None));
        assert!(
            answered.contains("closed by client (no status code)"),
            "{answered}"
        );
        let dropped = close_line(ended(
            false,
            None,
            Some("the connection closed without a close frame"),
        ));
        assert!(
            dropped.contains("dropped by client without a close frame"),
            "{dropped}"
        );
    }
}
