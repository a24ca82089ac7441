//! Correlation: values the upstream issued in the recording, replaced by
//! the ones it issues during the replay.
//!
//! A replay runs against a fresh backend, where the recorded session no
//! longer exists. Whenever a replayed response sets a cookie or returns a
//! token that the recorded response had with another value, the recorded
//! value is mapped to the live one; every later request, handshake and
//! message has the recorded values replaced (headers, cookies, bodies,
//! query strings such as `?token=`). Load-testing tools call this
//! correlation; without it, replaying a real Django session fails with 403.

use serde_json::Value;

use crate::event::Headers;

/// Shorter values are never learned: too likely to occur by chance.
const MIN_LEN: usize = 8;

/// The recorded → live value map.
#[derive(Debug, Clone, Default)]
pub struct Correlation {
    pairs: Vec<(String, String)>,
}

impl Correlation {
    /// How many values have been learned.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True when nothing has been learned.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Learns that the upstream now issues `live` where it issued
    /// `recorded` (values shorter than 8 characters are never learned).
    pub fn learn_pair(&mut self, recorded: &str, live: &str) {
        if recorded != live
            && recorded.len() >= MIN_LEN
            && !self.pairs.iter().any(|(r, _)| r == recorded)
        {
            self.pairs.push((recorded.to_owned(), live.to_owned()));
            // Longest first, so a value containing another is replaced whole.
            self.pairs.sort_by_key(|(r, _)| std::cmp::Reverse(r.len()));
        }
    }

    /// Learns from a recorded response and its replayed counterpart:
    /// cookies set under the same name, and token-like strings at the same
    /// place in JSON bodies.
    pub fn learn(
        &mut self,
        recorded_headers: &Headers,
        recorded_body: Option<&str>,
        live_headers: &Headers,
        live_body: Option<&str>,
    ) {
        for (name, recorded) in set_cookies(recorded_headers) {
            if let Some((_, live)) = set_cookies(live_headers)
                .into_iter()
                .find(|(n, _)| *n == name)
            {
                self.learn_pair(recorded, live);
            }
        }
        // Engine.IO issues its session id in its open packet, `0{"sid":…}`
        // (the first polling response): a cookie in all but name.
        let sid = |b: Option<&str>| {
            let b = b?;
            let v4 = crate::dialects::socketio::open_sid_in_body(b, false);
            v4.or_else(|| crate::dialects::socketio::open_sid_in_body(b, true))
        };
        if let (Some(recorded), Some(live)) = (sid(recorded_body), sid(live_body)) {
            self.learn_pair(&recorded, &live);
        }
        let parse = |b: Option<&str>| b.and_then(|b| serde_json::from_str::<Value>(b).ok());
        if let (Some(r), Some(l)) = (parse(recorded_body), parse(live_body)) {
            self.learn_json(&r, &l, "");
        }
    }

    fn learn_json(&mut self, recorded: &Value, live: &Value, key: &str) {
        match (recorded, live) {
            (Value::Object(r), Value::Object(l)) => {
                for (k, rv) in r {
                    if let Some(lv) = l.get(k) {
                        self.learn_json(rv, lv, k);
                    }
                }
            }
            (Value::Array(r), Value::Array(l)) => r
                .iter()
                .zip(l)
                .for_each(|(rv, lv)| self.learn_json(rv, lv, key)),
            (Value::String(r), Value::String(l)) if looks_issued(key, r) => self.learn_pair(r, l),
            _ => {}
        }
    }

    /// `text` with every recorded value replaced by its live one.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (recorded, live) in &self.pairs {
            if out.contains(recorded.as_str()) {
                out = out.replace(recorded.as_str(), live);
            }
        }
        out
    }

    /// A header value after correlation, a recorded `Cookie` header included
    /// (the cookie values the upstream set again are replaced).
    pub fn apply_headers(&self, headers: &Headers) -> Headers {
        headers
            .iter()
            .map(|(n, v)| (n.clone(), self.apply(v)))
            .collect()
    }
}

/// `name=value` of every `Set-Cookie`.
fn set_cookies(headers: &Headers) -> Vec<(&str, &str)> {
    headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .filter_map(|(_, v)| v.split(';').next()?.split_once('='))
        .map(|(n, v)| (n.trim(), v.trim()))
        .collect()
}

/// True for a value an upstream issues: under a key naming a token,
/// session, CSRF value or key, or shaped like one (long, no spaces).
fn looks_issued(key: &str, value: &str) -> bool {
    let k = key.to_ascii_lowercase();
    let named = ["token", "session", "csrf", "key", "secret", "auth"]
        .iter()
        .any(|w| k.contains(w));
    let shaped = value.len() >= 16
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.=+/".contains(c));
    named || shaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_tokens_issued_again_replace_the_recorded_ones() {
        let mut c = Correlation::default();
        let recorded = vec![(
            "set-cookie".to_owned(),
            "sessionid=recorded-session-1; Path=/".to_owned(),
        )];
        let live = vec![(
            "set-cookie".to_owned(),
            "sessionid=live-session-22; Path=/".to_owned(),
        )];
        c.learn(
            &recorded,
            Some(r#"{"token":"recorded-token-abc","user":"alice"}"#),
            &live,
            Some(r#"{"token":"live-token-xyz","user":"alice"}"#),
        );
        assert_eq!(c.len(), 2);
        assert_eq!(
            c.apply(
                "GET /ws/chat/3/?token=recorded-token-abc Cookie: sessionid=recorded-session-1"
            ),
            "GET /ws/chat/3/?token=live-token-xyz Cookie: sessionid=live-session-22"
        );
    }
}
