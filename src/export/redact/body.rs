//! Redaction's first pass in bodies and WebSocket payloads: the values of
//! secret JSON keys (at any depth) and form fields.
//!
//! JSON is found where apps put it: a whole body; after a packet prefix of
//! a WebSocket protocol (Socket.IO's `42["login",{…}]` and
//! `42/chat,7[…]`, SockJS's `a[…]`); and inside JSON strings (SockJS's
//! `a["{\"token\":…}"]`, Action Cable's `"data":"{…}"`).

use std::collections::BTreeSet;

use serde_json::Value;

use super::{replaced, Rules};
use crate::event::Payload;

/// The longest packet prefix looked past to find JSON (Socket.IO's type,
/// attachment count, namespace and ack id).
const MAX_PREFIX: usize = 64;

impl Rules {
    /// A body or payload with secret JSON keys (or form fields) redacted.
    pub(super) fn body(&self, payload: &Payload, secrets: &mut BTreeSet<String>) -> Payload {
        let Some(text) = payload.text() else {
            return payload.clone();
        };
        let trimmed = text.trim_start();
        let redacted = self.json_text(text, secrets).or_else(|| {
            let form = text.contains('=')
                && !text.contains(char::is_whitespace)
                && !trimmed.starts_with('<');
            form.then(|| self.form(text, secrets)).flatten()
        });
        match redacted {
            Some(text) => replaced(payload, text),
            None => payload.clone(),
        }
    }

    /// `text` with secret JSON keys redacted, when it is JSON (possibly after
    /// a packet prefix) and something was redacted.
    fn json_text(&self, text: &str, secrets: &mut BTreeSet<String>) -> Option<String> {
        let start = text.find(['{', '['])?;
        let (prefix, json) = text.split_at(start);
        let prefix_ok = prefix.len() <= MAX_PREFIX
            && prefix
                .trim_start()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | ',' | '-' | '_' | '.'));
        if !prefix_ok {
            return None;
        }
        let mut value = serde_json::from_str::<Value>(json).ok()?;
        self.json(&mut value, secrets)
            .then(|| format!("{prefix}{value}"))
    }

    /// Redacts the values of secret keys in `value`; true when anything
    /// changed.
    fn json(&self, value: &mut Value, secrets: &mut BTreeSet<String>) -> bool {
        match value {
            Value::Object(map) => {
                let mut changed = false;
                for (key, inner) in map.iter_mut() {
                    changed |= if self.secret_name(key) {
                        self.secret_value(inner, secrets)
                    } else {
                        self.json(inner, secrets)
                    };
                }
                changed
            }
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |changed, v| self.json(v, secrets) | changed),
            Value::String(s) => match self.json_text(s, secrets) {
                Some(redacted) => {
                    *s = redacted;
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    /// The value of a secret key: a string or number is replaced; a list of
    /// them (`"api_keys": […]`) has each replaced; an object is searched
    /// like any other (`"credentials": {"username": …, "password": …}`).
    fn secret_value(&self, value: &mut Value, secrets: &mut BTreeSet<String>) -> bool {
        match value {
            Value::String(s) => *s = self.secret(s, secrets),
            Value::Number(n) => *value = Value::String(self.secret(&n.to_string(), secrets)),
            Value::Array(items) => {
                return items
                    .iter_mut()
                    .fold(false, |changed, v| self.secret_value(v, secrets) | changed)
            }
            Value::Object(_) => return self.json(value, secrets),
            Value::Null | Value::Bool(_) => return false,
        }
        true
    }

    /// A form body (`a=1&password=…`) with secret fields redacted, when it
    /// has any.
    fn form(&self, text: &str, secrets: &mut BTreeSet<String>) -> Option<String> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect();
        if !pairs.iter().any(|(k, _)| self.secret_param(k)) {
            return None;
        }
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            let v = if self.secret_param(&k) && !v.is_empty() {
                self.secret(&v, secrets)
            } else {
                v
            };
            out.append_pair(&k, &v);
        }
        Some(out.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(text: &str) -> (String, BTreeSet<String>) {
        let rules = Rules::new(vec![], vec![]);
        let mut secrets = BTreeSet::new();
        let payload = Payload::capture(&bytes::Bytes::from(text.to_owned()), usize::MAX);
        let out = rules.body(&payload, &mut secrets);
        (out.text().unwrap().to_owned(), secrets)
    }

    #[test]
    fn a_simplejwt_login_answer_loses_both_tokens_and_keeps_the_rest() {
        let (out, secrets) = redacted(r#"{"access":"ax","refresh":"rx","user":{"id":7}}"#);
        assert!(!out.contains("ax") && !out.contains("rx"), "{out}");
        assert!(out.contains(r#""user":{"id":7}"#), "{out}");
        assert_eq!(secrets, BTreeSet::from(["ax".into(), "rx".into()]));
    }

    #[test]
    fn a_short_secret_already_known_is_still_replaced_in_place() {
        // The export learns every secret of the capture first, so the
        // selected events hold no new ones: their bodies must change anyway.
        let rules = Rules::new(vec![], vec![]);
        let mut secrets = BTreeSet::from(["1234".to_owned()]);
        let payload = Payload::capture(&bytes::Bytes::from(r#"{"pin":1234}"#), 1024);
        let out: Value =
            serde_json::from_str(rules.body(&payload, &mut secrets).text().unwrap()).unwrap();
        assert_eq!(out["pin"], rules.placeholder("1234"));
    }

    #[test]
    fn json_after_a_packet_prefix_or_inside_a_string_is_searched() {
        let (out, _) = redacted(r#"42["login",{"password":"pw1","room":"lobby"}]"#);
        assert!(
            out.starts_with(r#"42["login",{"password":"[REDACTED:"#),
            "{out}"
        );
        assert!(out.contains(r#""room":"lobby""#));
        let (out, _) = redacted(r#"42/chat,7["otp",{"otp":"987"}]"#);
        assert!(
            out.starts_with("42/chat,7[") && !out.contains("987"),
            "{out}"
        );
        let (out, _) = redacted(r#"a["{\"token\":\"tk9\",\"msg\":\"hi\"}"]"#);
        assert!(out.starts_with("a[") && !out.contains("tk9"), "{out}");
        assert!(out.contains(r#"\"msg\":\"hi\""#), "{out}");
    }

    #[test]
    fn lists_of_secrets_and_nested_credentials_are_replaced() {
        let (out, _) = redacted(
            r#"{"api_keys":["k1","k2"],"credentials":{"username":"alice","password":"pw"},"pin":null}"#,
        );
        for secret in ["k1", "k2", "pw"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(out.contains(r#""username":"alice""#) && out.contains(r#""pin":null"#));
    }

    #[test]
    fn oauth_and_card_fields_of_a_form_are_replaced() {
        let (out, _) = redacted(
            "grant_type=authorization_code&code=c0de&code_verifier=v3r&client_secret=s3c&state=st4&card_number=4111&cvv=123&page=2",
        );
        for (name, value) in form_urlencoded::parse(out.as_bytes()) {
            let kept = matches!(&*name, "grant_type" | "page");
            assert_eq!(!kept, value.starts_with("[REDACTED:"), "{name}={value}");
        }
        // Not JSON after a prefix that is a form: the form rules apply.
        let (out, _) = redacted(r#"a=1&password=pw9&data={"x":1}"#);
        assert!(!out.contains("pw9"), "{out}");
    }

    #[test]
    fn text_that_is_neither_json_nor_a_form_is_left_as_it_is() {
        for text in ["hello", r#"say {"password":"x"} to me"#, "<p>a=b</p>"] {
            assert_eq!(redacted(text).0, text);
        }
    }
}
