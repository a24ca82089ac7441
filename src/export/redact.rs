//! Redaction: secrets out of a capture before it is shared, on by default.
//!
//! Two passes over the events:
//! 1. **By place**: values of secret headers (`Cookie`, `Set-Cookie`,
//!    `Authorization`, `Proxy-Authorization`, `X-CSRFToken`, and any header
//!    named like a token, key, secret, session or password); the value of
//!    every cookie; query parameters named like a token or key; JSON keys
//!    (and form fields) named like a password, token, secret or key,
//!    anywhere in REST bodies and WebSocket payloads.
//! 2. **By value**: every secret found in pass 1 is replaced wherever else
//!    it appears: in a Django technical 500 page's COOKIES and META
//!    sections, in an error message, in a WebSocket URL.
//!
//! A Django page's META and COOKIES entries whose names look secret are
//! redacted too, even when their values appear nowhere else.
//!
//! A redacted value becomes `[REDACTED:xxxxxxxx]`, where the hex digits are
//! a hash of the secret: the same secret gets the same placeholder, so a
//! reader can still tell that two requests carried the same session.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use bytes::Bytes;
use serde_json::Value;

use crate::event::{Event, EventKind, Headers, Payload};

/// Words that make a header, cookie, query parameter or JSON key secret.
const SECRET_WORDS: [&str; 9] = [
    "token",
    "secret",
    "password",
    "passwd",
    "session",
    "auth",
    "key",
    "csrf",
    "signature",
];

/// Headers whose whole value is secret.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "x-csrftoken",
    "x-api-key",
];

/// Values shorter than this are not swept by value (too likely to occur by
/// chance: "1", "true").
const MIN_SWEPT: usize = 6;

/// Redaction rules: the defaults plus the user's additions.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// More JSON keys and query parameters to redact (`--redact-key`).
    pub keys: Vec<String>,
    /// More headers to redact (`--redact-header`).
    pub headers: Vec<String>,
}

/// The placeholder for `secret`.
pub fn placeholder(secret: &str) -> String {
    let mut hasher = DefaultHasher::new();
    secret.hash(&mut hasher);
    format!("[REDACTED:{:08x}]", hasher.finish() as u32)
}

impl Rules {
    fn secret_name(&self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        SECRET_WORDS.iter().any(|w| lower.contains(w))
            || self.keys.iter().any(|k| k.eq_ignore_ascii_case(name))
    }

    fn secret_header(&self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        SECRET_HEADERS.contains(&lower.as_str())
            || self.headers.iter().any(|h| h.eq_ignore_ascii_case(name))
            || (self.secret_name(name)
                && !matches!(lower.as_str(), "sec-websocket-key" | "sec-websocket-accept"))
    }

    /// Redacts `events` in place; returns how many values were replaced.
    pub fn apply(&self, events: &mut [Event]) -> usize {
        let mut secrets = BTreeSet::new();
        for event in events.iter_mut() {
            self.by_place(event, &mut secrets);
        }
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_SWEPT)
            .collect();
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for event in events.iter_mut() {
            sweep_event(event, &secrets);
        }
        secrets.len()
    }

    fn by_place(&self, event: &mut Event, secrets: &mut BTreeSet<String>) {
        match &mut event.kind {
            EventKind::HttpRequest(r) => {
                self.headers_in(&mut r.headers, secrets);
                r.uri = self.query(&r.uri, secrets);
                r.body = self.body(&r.body, secrets);
            }
            EventKind::HttpResponse(r) => {
                self.headers_in(&mut r.headers, secrets);
                r.body = self.body(&r.body, secrets);
                r.body = django_sections(&r.body, self);
            }
            EventKind::WsHandshake(h) => h.uri = self.query(&h.uri, secrets),
            EventKind::WsMessage(m) => m.payload = self.body(&m.payload, secrets),
            _ => {}
        }
    }

    fn headers_in(&self, headers: &mut Headers, secrets: &mut BTreeSet<String>) {
        for (name, value) in headers.iter_mut() {
            let lower = name.to_ascii_lowercase();
            if lower == "cookie" {
                *value = cookies(value, "; ", secrets);
            } else if lower == "set-cookie" {
                // Only the first pair is the cookie; the rest are attributes.
                let (pair, attributes) = value
                    .split_once(';')
                    .map_or((value.as_str(), ""), |(p, a)| (p, a));
                *value = format!(
                    "{}{}{}",
                    cookies(pair, "; ", secrets),
                    if attributes.is_empty() { "" } else { ";" },
                    attributes
                );
            } else if self.secret_header(name) {
                *value = secret(value, secrets);
            }
        }
    }

    /// The URI with secret-named query parameters redacted.
    fn query(&self, uri: &str, secrets: &mut BTreeSet<String>) -> String {
        let Some((path, query)) = uri.split_once('?') else {
            return uri.to_owned();
        };
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) if self.secret_name(k) && !v.is_empty() => {
                    let decoded: String = form_urlencoded::parse(pair.as_bytes())
                        .map(|(_, v)| v.into_owned())
                        .collect();
                    secrets.insert(v.to_owned());
                    format!("{k}={}", secret(&decoded, secrets))
                }
                _ => pair.to_owned(),
            })
            .collect();
        format!("{path}?{}", pairs.join("&"))
    }

    /// A body or payload with secret JSON keys (or form fields) redacted.
    fn body(&self, payload: &Payload, secrets: &mut BTreeSet<String>) -> Payload {
        let Some(text) = payload.text() else {
            return payload.clone();
        };
        let trimmed = text.trim_start();
        let redacted = if trimmed.starts_with('{') || trimmed.starts_with('[') {
            match serde_json::from_str::<Value>(text) {
                Ok(mut value) => {
                    let before = secrets.len();
                    self.json(&mut value, secrets);
                    (secrets.len() != before).then(|| value.to_string())
                }
                Err(_) => None,
            }
        } else if text.contains('=')
            && !text.contains(char::is_whitespace)
            && !trimmed.starts_with('<')
        {
            self.form(text, secrets)
        } else {
            None
        };
        match redacted {
            Some(text) => replaced(payload, text),
            None => payload.clone(),
        }
    }

    fn json(&self, value: &mut Value, secrets: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map.iter_mut() {
                    match inner {
                        Value::String(s) if self.secret_name(key) => *s = secret(s, secrets),
                        Value::Number(n) if self.secret_name(key) => {
                            *inner = Value::String(secret(&n.to_string(), secrets))
                        }
                        _ => self.json(inner, secrets),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.json(v, secrets)),
            _ => {}
        }
    }

    fn form(&self, text: &str, secrets: &mut BTreeSet<String>) -> Option<String> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect();
        if !pairs.iter().any(|(k, _)| self.secret_name(k)) {
            return None;
        }
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            let v = if self.secret_name(&k) {
                secret(&v, secrets)
            } else {
                v
            };
            out.append_pair(&k, &v);
        }
        Some(out.finish())
    }
}

/// Records `value` as a secret and returns its placeholder.
fn secret(value: &str, secrets: &mut BTreeSet<String>) -> String {
    if value.starts_with("[REDACTED:") {
        return value.to_owned();
    }
    secrets.insert(value.to_owned());
    // The parts of "Token abc" or "Bearer abc" are secrets on their own too.
    if let Some((_, credential)) = value.split_once(' ') {
        secrets.insert(credential.to_owned());
    }
    placeholder(value)
}

/// `a=1; b=2` with every value redacted.
fn cookies(header: &str, separator: &str, secrets: &mut BTreeSet<String>) -> String {
    header
        .split(';')
        .map(|pair| match pair.trim().split_once('=') {
            Some((name, value)) if !value.is_empty() => {
                format!("{name}={}", secret(value, secrets))
            }
            _ => pair.trim().to_owned(),
        })
        .collect::<Vec<_>>()
        .join(separator)
}

/// A payload with new text: the kept bytes change, and so does the length
/// unless the original was truncated (then the wire length stays).
fn replaced(payload: &Payload, text: String) -> Payload {
    let len = if payload.truncated() {
        payload.len
    } else {
        text.len() as u64
    };
    Payload {
        bytes: Bytes::from(text),
        len,
    }
}

/// Replaces every known secret in every text of `event`.
fn sweep_event(event: &mut Event, secrets: &[String]) {
    let sweep_payload = |p: &mut Payload| {
        if let Some(text) = p.text() {
            let swept = sweep(text, secrets);
            if swept != text {
                *p = replaced(p, swept);
            }
        }
    };
    match &mut event.kind {
        EventKind::HttpRequest(r) => {
            r.uri = sweep(&r.uri, secrets);
            sweep_payload(&mut r.body);
            r.headers
                .iter_mut()
                .for_each(|(_, v)| *v = sweep(v, secrets));
        }
        EventKind::HttpResponse(r) => {
            sweep_payload(&mut r.body);
            r.headers
                .iter_mut()
                .for_each(|(_, v)| *v = sweep(v, secrets));
        }
        EventKind::WsMessage(m) => sweep_payload(&mut m.payload),
        EventKind::WsHandshake(h) => h.uri = sweep(&h.uri, secrets),
        EventKind::HttpError(e) => e.message = sweep(&e.message, secrets),
        EventKind::Error(e) => e.message = sweep(&e.message, secrets),
        _ => {}
    }
}

fn sweep(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), &placeholder(s));
        }
    }
    out
}

/// In a Django technical 500 page, the values of COOKIES and META entries
/// whose names look secret (`HTTP_COOKIE`, `CSRF_COOKIE`, `sessionid`,
/// `HTTP_AUTHORIZATION`, …), in the HTML and the text form.
fn django_sections(payload: &Payload, rules: &Rules) -> Payload {
    let Some(text) = payload.text() else {
        return payload.clone();
    };
    if !(text.contains("id=\"meta-info\"")
        || text.contains("\nMETA:\n")
        || text.contains("id=\"cookie-info\"")
        || text.contains("\nCOOKIES:\n"))
    {
        return payload.clone();
    }
    let mut out = String::with_capacity(text.len());
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        // Text form: `NAME = 'value'` lines under META: / COOKIES:.
        if let Some((name, value)) = line.trim_end().split_once(" = ") {
            if rules.secret_name(name.trim()) && !name.contains(' ') {
                out.push_str(&format!(
                    "{name} = {}\n",
                    placeholder(value.trim_matches('\''))
                ));
                continue;
            }
        }
        // HTML form: <td>NAME</td> then <td class="code"><pre>value</pre></td>.
        if let Some(name) = line
            .trim()
            .strip_prefix("<td>")
            .and_then(|l| l.strip_suffix("</td>"))
        {
            if rules.secret_name(name) {
                out.push_str(line);
                if let Some(next) = lines.next() {
                    out.push_str(&redact_pre(next));
                }
                continue;
            }
        }
        out.push_str(line);
    }
    replaced(payload, out)
}

/// `<td class="code"><pre>VALUE</pre></td>` with VALUE redacted. Django
/// quotes string values (`&#x27;...&#x27;`): the quotes stay, the hash is
/// of the value itself, so it matches the same secret elsewhere.
fn redact_pre(line: &str) -> String {
    const QUOTE: &str = "&#x27;";
    match (line.find("<pre>"), line.find("</pre>")) {
        (Some(a), Some(b)) if a + 5 <= b => {
            let value = &line[a + 5..b];
            let inner = value
                .strip_prefix(QUOTE)
                .and_then(|v| v.strip_suffix(QUOTE));
            let redacted = match inner {
                Some(inner) => format!("{QUOTE}{}{QUOTE}", placeholder(inner)),
                None => placeholder(value),
            };
            format!("{}{redacted}{}", &line[..a + 5], &line[b..])
        }
        _ => line.to_owned(),
    }
}
