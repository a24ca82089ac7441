//! Redaction: secrets out of a capture before it is shared, on by default.
//!
//! Two passes over the events:
//! 1. **By place and by shape**: values of secret headers (`Cookie`,
//!    `Set-Cookie`, `Authorization`, `Proxy-Authorization`, `X-CSRFToken`,
//!    and any header with a secret name); the value of every cookie; query
//!    parameters, form fields and JSON keys (at any depth, also after a
//!    Socket.IO packet prefix and inside JSON strings) with secret names
//!    (`names.rs`: `password`, `access`, `otp`, `X-Amz-Signature`, OAuth's
//!    `code` in a query, …); and every value shaped like a JWT, whatever its
//!    name and wherever it sits (`shape.rs`).
//! 2. **By value**: every secret found in pass 1 is replaced wherever else
//!    it appears (`sweep.rs`): in a Django technical 500 page, an error
//!    message, a WebSocket URL, the bytes of a binary message.
//!
//! A Django page's META and COOKIES entries whose names look secret are
//! redacted too, even when their values appear nowhere else (`django.rs`).
//!
//! A redacted value becomes `[REDACTED:xxxxxxxx]`, where the hex digits are
//! a keyed hash of the secret, with a key drawn at random for each export:
//! within one export the same secret gets the same placeholder, so a reader
//! can still tell that two requests carried the same session, and nobody
//! can test guesses against a placeholder.
//!
//! A compressed body (`Content-Encoding`) cannot be searched, so it is
//! replaced whole; a subprotocol value shaped like a token (apps put a JWT
//! there, since browsers cannot set headers on a WebSocket) is redacted; the
//! secrets are learned from the whole capture, so a filtered export still
//! knows them. `docs/security.md` lists what is redacted for users.

mod body;
mod django;
mod names;
mod shape;
mod sweep;

use std::collections::BTreeSet;
use std::hash::{BuildHasher, RandomState};

use bytes::Bytes;

use crate::event::{Event, EventKind, Headers, Payload};

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
    /// The placeholders' hash key, random for each set of rules.
    key: RandomState,
}

impl Rules {
    /// Rules with the user's additions.
    pub fn new(keys: Vec<String>, headers: Vec<String>) -> Rules {
        Rules {
            keys,
            headers,
            key: RandomState::new(),
        }
    }

    /// The placeholder for `secret`.
    pub fn placeholder(&self, secret: &str) -> String {
        format!("[REDACTED:{:08x}]", self.key.hash_one(secret) as u32)
    }

    /// True when a JSON key, header or cookie called `name` holds a secret
    /// (`names.rs`) or the user named it (`--redact-key`).
    fn secret_name(&self, name: &str) -> bool {
        names::secret_name(name) || self.keys.iter().any(|k| k.eq_ignore_ascii_case(name))
    }

    /// True when a query parameter or form field called `name` holds a
    /// secret: the JSON key rules plus OAuth's `code`, `state` and the like.
    fn secret_param(&self, name: &str) -> bool {
        names::secret_param(name) || self.secret_name(name)
    }

    fn secret_header(&self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        SECRET_HEADERS.contains(&lower.as_str())
            || self.headers.iter().any(|h| h.eq_ignore_ascii_case(name))
            || (self.secret_name(name)
                && !matches!(lower.as_str(), "sec-websocket-key" | "sec-websocket-accept"))
    }

    /// Redacts `events` in place; returns how many distinct secrets were
    /// replaced.
    pub fn apply(&self, events: &mut [Event]) -> usize {
        self.apply_learning_from(&[], events)
    }

    /// Redacts `selected` in place, with secrets learned from `all` too (a
    /// filtered export still knows the cookie of a request it left out).
    pub fn apply_learning_from(&self, all: &[Event], selected: &mut [Event]) -> usize {
        let mut secrets = BTreeSet::new();
        for event in all {
            self.by_place(&mut event.clone(), &mut secrets);
        }
        for event in selected.iter_mut() {
            self.by_place(event, &mut secrets);
        }
        let events = selected;
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_SWEPT)
            .collect();
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for event in events.iter_mut() {
            self.sweep_event(event, &secrets);
        }
        secrets.len()
    }

    /// The first pass: secrets found by shape (JWTs) and by place are
    /// recorded in `secrets`, and those found by place replaced.
    fn by_place(&self, event: &mut Event, secrets: &mut BTreeSet<String>) {
        shape::jwts(event, secrets);
        match &mut event.kind {
            EventKind::HttpRequest(r) => {
                self.headers_in(&mut r.headers, secrets);
                r.uri = self.query(&r.uri, secrets);
                r.body = self
                    .compressed(&r.headers, &r.body)
                    .unwrap_or_else(|| self.body(&r.body, secrets));
            }
            EventKind::HttpResponse(r) => {
                self.headers_in(&mut r.headers, secrets);
                r.body = self
                    .compressed(&r.headers, &r.body)
                    .unwrap_or_else(|| self.body(&r.body, secrets));
                r.body = self.django_sections(&r.body);
            }
            EventKind::WsHandshake(h) => {
                h.uri = self.query(&h.uri, secrets);
                for p in h
                    .subprotocols_offered
                    .iter_mut()
                    .chain(h.subprotocol.iter_mut())
                {
                    *p = self.subprotocol(p, secrets);
                }
            }
            EventKind::WsMessage(m) => m.payload = self.body(&m.payload, secrets),
            _ => {}
        }
    }

    fn headers_in(&self, headers: &mut Headers, secrets: &mut BTreeSet<String>) {
        for (name, value) in headers.iter_mut() {
            let lower = name.to_ascii_lowercase();
            if lower == "sec-websocket-protocol" {
                *value = value
                    .split(',')
                    .map(|p| self.subprotocol(p.trim(), secrets))
                    .collect::<Vec<_>>()
                    .join(", ");
            } else if lower == "cookie" {
                *value = self.cookies(value, secrets);
            } else if lower == "set-cookie" {
                // Only the first pair is the cookie; the rest are attributes.
                let (pair, attributes) = value
                    .split_once(';')
                    .map_or((value.as_str(), ""), |(p, a)| (p, a));
                *value = format!(
                    "{}{}{}",
                    self.cookies(pair, secrets),
                    if attributes.is_empty() { "" } else { ";" },
                    attributes
                );
            } else if self.secret_header(name) {
                *value = self.secret(value, secrets);
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
            .map(|pair| {
                let decoded = form_urlencoded::parse(pair.as_bytes()).next();
                match (pair.split_once('='), decoded) {
                    (Some((k, v)), Some((name, value)))
                        if self.secret_param(&name) && !v.is_empty() =>
                    {
                        secrets.insert(v.to_owned());
                        format!("{k}={}", self.secret(&value, secrets))
                    }
                    _ => pair.to_owned(),
                }
            })
            .collect();
        format!("{path}?{}", pairs.join("&"))
    }
}

/// The helpers that produce placeholders.
impl Rules {
    /// Records `value` as a secret and returns its placeholder.
    fn secret(&self, value: &str, secrets: &mut BTreeSet<String>) -> String {
        if value.starts_with("[REDACTED:") {
            return value.to_owned();
        }
        secrets.insert(value.to_owned());
        // The parts of "Token abc" or "Bearer abc" are secrets on their own.
        if let Some((_, credential)) = value.split_once(' ') {
            secrets.insert(credential.to_owned());
        }
        self.placeholder(value)
    }

    /// `a=1; b=2` with every value redacted.
    fn cookies(&self, header: &str, secrets: &mut BTreeSet<String>) -> String {
        header
            .split(';')
            .map(|pair| match pair.trim().split_once('=') {
                Some((name, value)) if !value.is_empty() => {
                    format!("{name}={}", self.secret(value, secrets))
                }
                _ => pair.trim().to_owned(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// A subprotocol value, redacted when it is shaped like a credential: a
    /// JWT, or a long opaque string (a segment of 16 or more characters
    /// mixing letters and digits). Protocol names made of words
    /// (`graphql-transport-ws`, `actioncable-v1-json`, `v12.stomp`) stay.
    fn subprotocol(&self, value: &str, secrets: &mut BTreeSet<String>) -> String {
        let opaque = value.split(['-', '.', '_']).any(|segment| {
            segment.len() >= 16
                && segment.bytes().any(|b| b.is_ascii_digit())
                && segment.bytes().any(|b| b.is_ascii_alphabetic())
        });
        if value.starts_with("eyJ") || opaque {
            self.secret(value, secrets)
        } else {
            value.to_owned()
        }
    }

    /// A compressed body cannot be searched for secrets: it is replaced
    /// whole.
    fn compressed(&self, headers: &Headers, body: &Payload) -> Option<Payload> {
        let encoding = crate::event::header(headers, "content-encoding")?.trim();
        if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") || body.len == 0 {
            return None;
        }
        let note = format!(
            "[REDACTED: {} bytes of {encoding}-compressed body, which redaction cannot search]",
            body.len
        );
        Some(replaced(body, note))
    }
}

/// A payload with new content (text, or bytes that are not text): the
/// kept bytes change, and so does the length unless the original was
/// truncated (then the wire length stays).
fn replaced(payload: &Payload, content: impl Into<Bytes>) -> Payload {
    let bytes = content.into();
    let len = if payload.truncated() {
        payload.len
    } else {
        bytes.len() as u64
    };
    Payload { bytes, len }
}

#[cfg(test)]
mod subprotocol_tests {
    use super::*;

    #[test]
    fn protocol_names_are_not_secrets_tokens_are() {
        let rules = Rules::new(Vec::new(), Vec::new());
        let mut secrets = BTreeSet::new();
        for name in [
            "graphql-transport-ws",
            "actioncable-v1-json",
            "v12.stomp",
            "wamp.2.json",
        ] {
            assert_eq!(rules.subprotocol(name, &mut secrets), name);
        }
        let token = "access_token.3f9c2a7d41b8e6f09a1c";
        assert!(rules
            .subprotocol(token, &mut secrets)
            .starts_with("[REDACTED:"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_urls_and_oauth_callbacks_lose_their_credentials() {
        let rules = Rules::new(vec![], vec![]);
        let mut secrets = BTreeSet::new();
        let uri = "/up?X-Amz-Credential=AKIAq%2F2026&X-Amz-Date=20260101T000000Z\
                   &X-Amz-Security-Token=st0k&X-Amz-Signature=s1gn&sv=2024&sig=az%3D\
                   &code=c0d&state=st8&Access_Token=at9&page=2";
        let out = rules.query(uri, &mut secrets);
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(out.split_once('?').unwrap().1.as_bytes())
                .into_owned()
                .collect();
        for (name, value) in &pairs {
            let kept = matches!(name.as_str(), "X-Amz-Date" | "sv" | "page");
            assert_eq!(!kept, value.starts_with("[REDACTED:"), "{name}={value}");
        }
        // The decoded value is what the placeholder names, and both forms
        // are known for the sweep.
        assert!(out.contains(&format!(
            "X-Amz-Credential={}",
            rules.placeholder("AKIAq/2026")
        )));
        assert!(secrets.contains("AKIAq%2F2026") && secrets.contains("AKIAq/2026"));
    }

    #[test]
    fn a_short_secret_survives_no_export_that_learned_it_first() {
        // `export::prepare` learns from the whole capture, selection
        // included: a PIN under 6 characters is never swept by value, so
        // it must go by place although it is already known.
        let body = Payload::capture(&Bytes::from(r#"{"otp":"4821","pin":1234}"#), 1024);
        let request = EventKind::HttpRequest(crate::event::HttpRequest {
            exchange: 1,
            method: "POST".into(),
            uri: "/api/verify/".into(),
            version: "HTTP/1.1".into(),
            headers: vec![],
            forwarded_host: None,
            body,
        });
        let all = vec![Event {
            seq: 1,
            t_us: 0,
            conn: Some(1),
            kind: request,
        }];
        let mut selected = all.clone();
        let rules = Rules::default();
        rules.apply_learning_from(&all, &mut selected);
        let EventKind::HttpRequest(r) = &selected[0].kind else {
            unreachable!("the request stays a request")
        };
        let body: serde_json::Value =
            serde_json::from_str(r.body.text().unwrap_or_default()).unwrap_or_default();
        assert_eq!(body["otp"], rules.placeholder("4821"), "{body}");
        assert_eq!(body["pin"], rules.placeholder("1234"), "{body}");
    }
}
