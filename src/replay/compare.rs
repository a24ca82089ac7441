//! Comparing answers: JSON-aware, with volatile values ignored by rules.
//!
//! By default, values that change from one run to the next are ignored: keys
//! named `id`, `pk`, `uuid`, or ending in `_id`, `_at`; keys naming a date
//! or time (`date*`, `*time*`, `created`, `modified`, `updated`); keys
//! naming a token, CSRF value or session; and, under any key, strings that
//! are ISO-8601 timestamps or UUIDs. Users add key names or JSON pointers
//! (`/data/id`) with `--ignore` or a rules file (one rule per line, `#`
//! comments).

use serde::Serialize;
use serde_json::Value;

/// What stands in for an ignored value.
const IGNORED: &str = "<ignored>";

/// The ignore rules.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Key names whose values are ignored.
    keys: Vec<String>,
    /// JSON pointers whose values are ignored.
    pointers: Vec<String>,
    /// Whether the built-in volatile rules apply.
    defaults: bool,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            keys: Vec::new(),
            pointers: Vec::new(),
            defaults: true,
        }
    }
}

impl Rules {
    /// The defaults plus `extra` rules: a rule starting with `/` is a JSON
    /// pointer, anything else a key name.
    pub fn with(extra: &[String]) -> Rules {
        let mut rules = Rules::default();
        for rule in extra
            .iter()
            .map(|r| r.trim())
            .filter(|r| !r.is_empty() && !r.starts_with('#'))
        {
            if rule.starts_with('/') {
                rules.pointers.push(rule.to_owned());
            } else {
                rules.keys.push(rule.to_owned());
            }
        }
        rules
    }

    /// Only the user's rules, no built-in ones (`--strict`).
    pub fn without_defaults(mut self) -> Rules {
        self.defaults = false;
        self
    }

    fn ignores_key(&self, key: &str) -> bool {
        if self.keys.iter().any(|k| k == key) {
            return true;
        }
        if !self.defaults {
            return false;
        }
        let k = key.to_ascii_lowercase();
        matches!(
            k.as_str(),
            "id" | "pk" | "uuid" | "sid" | "created" | "modified" | "updated" | "timestamp"
        ) || k.ends_with("_id")
            || k.ends_with("_at")
            || k.starts_with("date")
            || k.contains("time")
            || k.contains("token")
            || k.contains("csrf")
            || k.contains("session")
    }

    fn ignores_value(&self, value: &Value) -> bool {
        self.defaults
            && value
                .as_str()
                .is_some_and(|s| is_timestamp(s) || is_uuid(s))
    }

    /// `value` with every ignored value replaced by `<ignored>`, so two
    /// answers that differ only there compare equal.
    pub fn normalize(&self, value: &Value) -> Value {
        self.normalize_at(value, "")
    }

    fn normalize_at(&self, value: &Value, pointer: &str) -> Value {
        if self.pointers.iter().any(|p| p == pointer) || self.ignores_value(value) {
            return Value::String(IGNORED.to_owned());
        }
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let inner =
                            format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                        let v = if self.ignores_key(k) {
                            Value::String(IGNORED.to_owned())
                        } else {
                            self.normalize_at(v, &inner)
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.normalize_at(v, &format!("{pointer}/{i}")))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// A payload for comparison: normalized JSON, or the text itself.
    pub fn comparable(&self, text: &str) -> Comparable {
        match serde_json::from_str::<Value>(text) {
            Ok(v) if v.is_object() || v.is_array() => Comparable::Json(self.normalize(&v)),
            _ => Comparable::Text(text.to_owned()),
        }
    }
}

/// A WebSocket message for comparison, read by `dialect` (or the dialect
/// its shape shows): its name and normalized application payload, so an
/// envelope's volatile parts (a Socket.IO ack id, an Engine.IO `sid`) do
/// not count and a binary message is compared by its decoded form. A
/// binary message no dialect decodes is compared by its bytes.
pub fn comparable_message(
    rules: &Rules,
    dialect: Option<crate::dialects::DialectId>,
    opcode: crate::event::Opcode,
    payload: &crate::event::Payload,
) -> Comparable {
    use crate::dialects::{self, DialectId, Frame};
    let frame = Frame::of(crate::event::Direction::UpstreamToClient, opcode, payload);
    let id = dialect.or_else(|| dialects::sniff(frame));
    // A JSON envelope is its own message, and so is a decoded MessagePack
    // or CBOR object: compared whole, its pointers are the message's own.
    if opcode == crate::event::Opcode::Binary {
        if let Some(decoded) = dialects::binary_json::decode_any(&payload.bytes) {
            return Comparable::Json(rules.normalize(&decoded));
        }
    }
    let enveloped =
        |id: &DialectId| !matches!(id, DialectId::Json | DialectId::Msgpack | DialectId::Cbor);
    if let Some(id) = id.filter(enveloped) {
        let mut reader = dialects::new(id);
        let name = reader.classify(frame).name;
        if let Some(app) = reader.payload(frame) {
            return Comparable::Json(serde_json::json!({
                "msg_type": name,
                "payload": rules.normalize(&app),
            }));
        }
    }
    match (opcode, payload.text()) {
        (crate::event::Opcode::Text, Some(text)) => rules.comparable(text),
        _ => {
            use base64::Engine as _;
            Comparable::Text(format!(
                "binary {}",
                base64::engine::general_purpose::STANDARD.encode(&payload.bytes)
            ))
        }
    }
}

/// A payload as compared.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparable {
    /// Normalized JSON.
    Json(Value),
    /// Anything else, as is.
    Text(String),
}

/// One difference between an expected and an actual answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// Where: a JSON pointer, or a name (`status`, `body`).
    pub at: String,
    /// What the recording had.
    pub expected: String,
    /// What came back.
    pub actual: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.at, self.expected, self.actual
        )
    }
}

/// The differences between two normalized JSON values, by JSON pointer.
pub fn diff(expected: &Value, actual: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    diff_at(expected, actual, "", &mut out);
    out
}

fn show(v: Option<&Value>) -> String {
    v.map_or("(absent)".to_owned(), |v| {
        crate::event::text::shorten(&v.to_string(), 120)
    })
}

fn diff_at(expected: &Value, actual: &Value, at: &str, out: &mut Vec<Difference>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let inner = format!("{at}/{k}");
                match a.get(k) {
                    Some(av) => diff_at(ev, av, &inner, out),
                    None => out.push(Difference {
                        at: inner,
                        expected: show(Some(ev)),
                        actual: show(None),
                    }),
                }
            }
            for (k, av) in a.iter().filter(|(k, _)| !e.contains_key(*k)) {
                out.push(Difference {
                    at: format!("{at}/{k}"),
                    expected: show(None),
                    actual: show(Some(av)),
                });
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            // A list that grew or shrank says so once; the items both have
            // are still compared one by one.
            if e.len() != a.len() {
                out.push(Difference {
                    at: if at.is_empty() {
                        "/".to_owned()
                    } else {
                        at.to_owned()
                    },
                    expected: items(e.len()),
                    actual: items(a.len()),
                });
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff_at(ev, av, &format!("{at}/{i}"), out);
            }
        }
        (e, a) if e != a => out.push(Difference {
            at: if at.is_empty() {
                "/".to_owned()
            } else {
                at.to_owned()
            },
            expected: show(Some(e)),
            actual: show(Some(a)),
        }),
        _ => {}
    }
}

fn items(n: usize) -> String {
    if n == 1 {
        "1 item".to_owned()
    } else {
        format!("{n} items")
    }
}

/// The differences between two comparable payloads.
pub fn diff_payloads(expected: &Comparable, actual: &Comparable) -> Vec<Difference> {
    match (expected, actual) {
        (Comparable::Json(e), Comparable::Json(a)) => diff(e, a),
        (e, a) if e == a => Vec::new(),
        (e, a) => vec![Difference {
            at: "body".to_owned(),
            expected: describe(e),
            actual: describe(a),
        }],
    }
}

fn describe(c: &Comparable) -> String {
    match c {
        Comparable::Json(v) => crate::event::text::shorten(&v.to_string(), 120),
        Comparable::Text(t) => format!("{:?}", crate::event::text::shorten(t, 120)),
    }
}

/// The result of matching recorded messages with live ones, in any order.
#[derive(Debug, Clone, Default)]
pub struct Matching {
    /// Indexes of recorded messages nothing matched.
    pub missing: Vec<usize>,
    /// Indexes of live messages that match nothing recorded.
    pub extra: Vec<usize>,
}

/// Matches `expected` with `actual` as multisets: order does not matter
/// (broadcasts interleave), each live message matches at most one recorded.
pub fn match_unordered(expected: &[Comparable], actual: &[Comparable]) -> Matching {
    let mut used = vec![false; actual.len()];
    let mut missing = Vec::new();
    for (i, e) in expected.iter().enumerate() {
        match actual
            .iter()
            .enumerate()
            .position(|(j, a)| !used[j] && a == e)
        {
            Some(j) => used[j] = true,
            None => missing.push(i),
        }
    }
    let extra = used
        .iter()
        .enumerate()
        .filter(|(_, u)| !**u)
        .map(|(j, _)| j)
        .collect();
    Matching { missing, extra }
}

fn is_timestamp(s: &str) -> bool {
    // 2026-11-24T04:14:44.317517Z and friends: date, 'T' or ' ', time.
    let b = s.as_bytes();
    b.len() >= 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
        && b[13] == b':'
        && b[16] == b':'
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn volatile_values_are_ignored_and_the_rest_compared_by_pointer() {
        let rules = Rules::with(&["/data/lu".to_owned()]);
        let a = rules.normalize(&json!({"type":"chat_message","data":{"id":1,"message":"cc","date_envoi":"2026-11-24T04:14:44Z","lu":false,"ref":"0b8e6c1c-3b8f-4c3a-9a55-0e1d2f3a4b5c"}}));
        let b = rules.normalize(&json!({"type":"chat_message","data":{"id":9,"message":"hello","date_envoi":"2027-01-01T00:00:00Z","lu":true,"ref":"11111111-2222-3333-4444-555555555555"}}));
        let d = diff(&a, &b);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].at, "/data/message");
        assert_eq!(
            (d[0].expected.as_str(), d[0].actual.as_str()),
            ("\"cc\"", "\"hello\"")
        );
    }

    #[test]
    fn a_list_that_grew_is_named_once_and_its_common_items_compared() {
        let d = diff(
            &json!({"items":[{"m":"a"}]}),
            &json!({"items":[{"m":"b"},{"m":"c"}]}),
        );
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(
            (
                d[0].at.as_str(),
                d[0].expected.as_str(),
                d[0].actual.as_str()
            ),
            ("/items", "1 item", "2 items")
        );
        assert_eq!(d[1].at, "/items/0/m");
    }

    #[test]
    fn messages_match_in_any_order_and_report_missing_and_extra() {
        let c = |s: &str| Rules::default().comparable(s);
        let expected = [
            c(r#"{"type":"a"}"#),
            c(r#"{"type":"b"}"#),
            c(r#"{"type":"c"}"#),
        ];
        let actual = [
            c(r#"{"type":"b"}"#),
            c(r#"{"type":"a"}"#),
            c(r#"{"type":"d"}"#),
        ];
        let m = match_unordered(&expected, &actual);
        assert_eq!((m.missing, m.extra), (vec![2], vec![2]));
    }
}
