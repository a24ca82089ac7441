//! Payloads: the bytes of a body or message, kept without loss.
//!
//! Valid UTF-8 is stored as `text`, anything else as `base64`; only the
//! first `body_limit` bytes are kept, with the full length and
//! `truncated: true` (see `docs/capture-format.md`, Payloads).

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Bytes kept from a body or message, losslessly encoded.
///
/// In JSON: `len` is the full length on the wire; exactly one of `text`
/// (valid UTF-8) or `base64` (anything else) holds the kept bytes; and
/// `truncated: true` appears when fewer than `len` bytes were kept. Text is
/// cut on a character boundary, so a truncated text stays text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Payload {
    /// The kept bytes (all of them unless `truncated`).
    pub bytes: Bytes,
    /// The full length of the body or message as forwarded.
    pub len: u64,
}

impl Payload {
    /// Keeps at most `limit` bytes of `data`; `len` is `data.len()`.
    ///
    /// Cheap: `Bytes::slice` shares the buffer, nothing is copied.
    pub fn capture(data: &Bytes, limit: usize) -> Payload {
        Payload {
            bytes: data.slice(..data.len().min(limit)),
            len: data.len() as u64,
        }
    }

    /// True when fewer bytes were kept than were forwarded.
    pub fn truncated(&self) -> bool {
        (self.bytes.len() as u64) < self.len
    }

    /// The kept bytes as text, when they are (or, if truncated, start with)
    /// valid UTF-8: [`kept_text`].
    pub fn text(&self) -> Option<&str> {
        kept_text(&self.bytes, self.truncated())
    }

    /// The kept bytes as the capture writes them: text when they are
    /// UTF-8 ([`Payload::text`]), base64 otherwise.
    pub fn encoded(&self) -> Encoded<'_> {
        match self.text() {
            Some(t) => Encoded::Text(t),
            None => Encoded::Base64(base64::engine::general_purpose::STANDARD.encode(&self.bytes)),
        }
    }
}

/// How a payload's kept bytes are written: the JSON field `text` or
/// `base64` ([`Payload::encoded`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoded<'a> {
    /// Valid UTF-8 (a truncated text may end before a cut character).
    Text(&'a str),
    /// Anything else, in standard base64 with padding (RFC 4648 section 4).
    Base64(String),
}

/// `bytes` as text when they are valid UTF-8; when `truncated` (a cut at a
/// recording limit), a partial character at the very end is dropped, and
/// only there is invalid UTF-8 forgiven.
///
/// Validated with `simdutf8`: the relay, the dialects, the filter and the
/// capture each ask, and a 16 KiB message costs the standard library's
/// check several microseconds. std's check runs only on invalid bytes, to
/// find where they start.
pub fn kept_text(bytes: &[u8], truncated: bool) -> Option<&str> {
    if let Ok(s) = simdutf8::basic::from_utf8(bytes) {
        return Some(s);
    }
    match std::str::from_utf8(bytes) {
        Err(e) if truncated && e.error_len().is_none() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()
        }
        _ => None,
    }
}

#[derive(Serialize, Deserialize)]
struct PayloadRepr<'a> {
    len: u64,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    text: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
}

impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (text, base64) = match self.encoded() {
            Encoded::Text(t) => (Some(t.into()), None),
            Encoded::Base64(b) => (None, Some(b)),
        };
        PayloadRepr {
            len: self.len,
            text,
            base64,
            truncated: self.truncated(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let repr = PayloadRepr::deserialize(d)?;
        let bytes = match (repr.text, repr.base64) {
            (Some(t), None) => Bytes::from(t.into_owned()),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .map(Bytes::from)
                .map_err(|e| D::Error::custom(format!("invalid base64 payload: {e}")))?,
            (None, None) => Bytes::new(),
            (Some(_), Some(_)) => {
                return Err(D::Error::custom("a payload has both `text` and `base64`"))
            }
        };
        Ok(Payload {
            bytes,
            len: repr.len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_keeps_text_as_text_and_binary_as_base64() {
        let text = Payload::capture(&Bytes::from_static(b"cc"), 1024);
        assert_eq!(
            serde_json::to_string(&text).unwrap(),
            r#"{"len":2,"text":"cc"}"#
        );
        let bin = Payload::capture(&Bytes::from_static(&[0xff, 0x00]), 1024);
        assert_eq!(
            serde_json::to_string(&bin).unwrap(),
            r#"{"len":2,"base64":"/wA="}"#
        );
        for p in [text, bin] {
            let back: Payload = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
            assert_eq!(back, p);
        }
    }

    #[test]
    fn truncated_text_is_cut_on_a_character_boundary() {
        // "é" is two bytes; a limit of 2 cuts it in half.
        let p = Payload::capture(&Bytes::from("aé"), 2);
        assert!(p.truncated());
        assert_eq!(p.text(), Some("a"));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"len":3,"text":"a","truncated":true}"#);
    }
}
