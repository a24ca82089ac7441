//! Which events the console shows: by connection, direction, `msg_type`,
//! path, status and text. The same filter serves the live console and
//! `wsdiag show`. Filters combine with AND; an option given several times
//! (`--type a --type b`) matches any of its values.

use crate::event::{Direction, Event, EventKind, Opcode, Role};

use super::format::Context;

/// A status filter: an exact code (`500`) or a class (`5xx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Exactly this status.
    Exact(u16),
    /// Any status in this hundred (`5` for `5xx`).
    Class(u16),
}

impl std::str::FromStr for StatusFilter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.to_ascii_lowercase();
        let parsed = match lower.strip_suffix("xx") {
            Some(class) => class
                .parse()
                .ok()
                .filter(|c| (1..=5).contains(c))
                .map(StatusFilter::Class),
            None => lower
                .parse()
                .ok()
                .filter(|c| (100..=599).contains(c))
                .map(StatusFilter::Exact),
        };
        parsed.ok_or_else(|| {
            format!("{s:?} is not a status: use a code like 500 or a class like 5xx")
        })
    }
}

impl StatusFilter {
    fn matches(self, status: u16) -> bool {
        match self {
            StatusFilter::Exact(s) => s == status,
            StatusFilter::Class(c) => status / 100 == c,
        }
    }
}

/// The console's filters; the default shows everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only WebSocket messages with one of these `msg_type`s.
    pub msg_types: Vec<String>,
    /// Only WebSocket messages with one of these roles.
    pub roles: Vec<Role>,
    /// Only WebSocket messages about one of these topics.
    pub topics: Vec<String>,
    /// Show heartbeat messages too (hidden unless set, or asked for by
    /// `roles`).
    pub heartbeats: bool,
    /// Only events of these connections.
    pub conns: Vec<u64>,
    /// Only WebSocket messages in this direction.
    pub dir: Option<Direction>,
    /// Only events whose request or WebSocket path contains this.
    pub path: Option<String>,
    /// Only exchanges that ended with this status.
    pub status: Option<StatusFilter>,
    /// Only events whose payload, body or path contains this text.
    pub grep: Option<String>,
}

impl Filter {
    /// True when `event` passes every filter that is set.
    pub fn matches(&self, event: &Event, ctx: &Context) -> bool {
        if !self.conns.is_empty() && !event.conn.is_some_and(|c| self.conns.contains(&c)) {
            return false;
        }
        let message = match &event.kind {
            EventKind::WsMessage(m) => Some(m),
            _ => None,
        };
        if !self.msg_types.is_empty() {
            let t = message.and_then(|m| m.msg_type.as_ref());
            if !t.is_some_and(|t| self.msg_types.contains(t)) {
                return false;
            }
        }
        if let Some(m) = message {
            if m.msg_role == Some(Role::Heartbeat)
                && !self.heartbeats
                && !self.roles.contains(&Role::Heartbeat)
            {
                return false;
            }
        }
        if !self.roles.is_empty()
            && !message
                .and_then(|m| m.msg_role)
                .is_some_and(|r| self.roles.contains(&r))
        {
            return false;
        }
        if !self.topics.is_empty() {
            let t = message.and_then(|m| m.topic.as_ref());
            if !t.is_some_and(|t| self.topics.contains(t)) {
                return false;
            }
        }
        if let Some(dir) = self.dir {
            if message.is_none_or(|m| m.dir != dir) {
                return false;
            }
        }
        if let Some(path) = &self.path {
            if !ctx
                .path_of(event)
                .is_some_and(|p| p.contains(path.as_str()))
            {
                return false;
            }
        }
        if let Some(status) = self.status {
            let ended = match &event.kind {
                EventKind::HttpResponse(r) => Some(r.status),
                EventKind::HttpError(e) => e.status,
                _ => None,
            };
            if !ended.is_some_and(|s| status.matches(s)) {
                return false;
            }
        }
        match &self.grep {
            Some(needle) => searchable_text(event, ctx).any(|t| t.contains(needle.as_str())),
            None => true,
        }
    }
}

/// The texts `--grep` searches in an event.
fn searchable_text<'a>(event: &'a Event, ctx: &'a Context) -> impl Iterator<Item = &'a str> {
    let own = match &event.kind {
        EventKind::WsMessage(m) if m.opcode != Opcode::Binary => m.payload.text(),
        EventKind::HttpResponse(r) => r.body.text(),
        EventKind::HttpRequest(r) => r.body.text(),
        EventKind::HttpError(e) => Some(e.message.as_str()),
        EventKind::Error(e) => Some(e.message.as_str()),
        _ => None,
    };
    own.into_iter().chain(ctx.path_of(event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filters_parse_codes_and_classes() {
        assert_eq!("500".parse(), Ok(StatusFilter::Exact(500)));
        assert_eq!("5XX".parse(), Ok(StatusFilter::Class(5)));
        assert!("abc".parse::<StatusFilter>().is_err());
        assert!("9xx".parse::<StatusFilter>().is_err());
    }
}
