//! The shape of a JSON Web Token, recognised without a key and never
//! verified: the JWS compact serialization of RFC 7515 section 7.1
//! (`header.payload.signature`, three base64url segments without padding)
//! whose header is a JSON object naming its `alg`, and the JWE compact
//! serialization of RFC 7516 section 7.1 (five segments, the header also
//! naming its `enc`).
//!
//! The diagnosis reads a token's claims (`diagnose/jwt.rs`); the redactor
//! finds every token in any text or bytes (`export/redact`). Both start from
//! the shape checks here.

use std::ops::Range;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

/// The JSON a base64url `segment` encodes (padding tolerated), if any.
pub fn segment_json(segment: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(segment.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The header `segment` encodes when it is a JWT's: a JSON object whose
/// `alg` is a string (`"HS256"`, `"RS256"`, `"none"`, …).
pub fn header(segment: &str) -> Option<serde_json::Map<String, Value>> {
    match segment_json(segment)? {
        Value::Object(map) if map.get("alg").is_some_and(Value::is_string) => Some(map),
        _ => None,
    }
}

/// The byte ranges of the JWTs in `data` (text, or bytes with ASCII text
/// inside), in order and not overlapping.
///
/// A token starts at a JWT header segment (see [`header`]) that does not
/// continue a longer base64url run, and takes the dot-separated segments
/// that follow: two for a JWS, four for a JWE. A token cut short (a body
/// kept up to `--body-limit`, a JWS with an empty signature) still counts
/// when at least one segment follows its header: `header.` alone does not.
///
/// Every header is a JSON object, so its base64url starts with `e` (`{`),
/// then `y` (`{"`, `{ `) or `w` (`{\n`): only runs starting that way are
/// decoded.
pub fn spans(data: &[u8]) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let starts_run = at == 0 || !base64url(data[at - 1]);
        let looks_like_header =
            data[at] == b'e' && matches!(data.get(at + 1), Some(b'y' | b'w')) && starts_run;
        let header_end = at + run(&data[at..]);
        if !looks_like_header {
            at = header_end.max(at + 1);
            continue;
        }
        // The run holds only ASCII base64url characters: valid UTF-8.
        let jwe = std::str::from_utf8(&data[at..header_end])
            .ok()
            .and_then(header)
            .map(|h| h.contains_key("enc"));
        let Some(jwe) = jwe else {
            at = header_end;
            continue;
        };
        let wanted = if jwe { 4 } else { 2 };
        let mut end = header_end;
        let mut taken = 0;
        while taken < wanted && data.get(end) == Some(&b'.') {
            end += 1 + run(&data[end + 1..]);
            taken += 1;
        }
        let ends_with_a_segment = end > header_end + 1;
        if ends_with_a_segment {
            found.push(at..end);
        }
        at = end.max(header_end);
    }
    found
}

/// True when the whole of `text` (trimmed) is one JWT.
pub fn is_jwt(text: &str) -> bool {
    let text = text.trim();
    matches!(spans(text.as_bytes()).as_slice(), [only] if *only == (0..text.len()))
}

/// True for the characters of base64url (RFC 4648 section 5).
fn base64url(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

/// How many base64url characters `data` starts with.
fn run(data: &[u8]) -> usize {
    data.iter().take_while(|b| base64url(**b)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn jws() -> String {
        format!(
            "{}.{}.c2lnbmF0dXJl",
            enc(r#"{"alg":"HS256","typ":"JWT"}"#),
            enc(r#"{"sub":"alice","exp":1764410000}"#)
        )
    }

    fn found(text: &str) -> Vec<&str> {
        spans(text.as_bytes())
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn a_token_is_found_wherever_it_sits_in_text() {
        let t = jws();
        for text in [
            format!(r#"{{"access":"{t}"}}"#),
            format!("/ws/?room=3&t={t}&page=2"),
            format!("Bearer {t}"),
            format!(r#"42["auth",{{"token":"{t}"}}]"#),
            format!("<p>Your token {t}.</p>"),
        ] {
            assert_eq!(found(&text), [t.as_str()], "{text}");
        }
        let two = format!("{t} and {t}");
        assert_eq!(found(&two), [t.as_str(), t.as_str()]);
        assert!(is_jwt(&format!(" {t}\n")));
    }

    #[test]
    fn unsigned_encrypted_and_cut_tokens_are_found_too() {
        let header = enc(r#"{"alg":"none"}"#);
        let unsigned = format!("{header}.{}.", enc(r#"{"sub":"a"}"#));
        assert_eq!(found(&format!("x {unsigned} y")), [unsigned.as_str()]);
        let jwe_header = enc(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#);
        let jwe = format!("{jwe_header}.a2V5.aXY.Y2lwaGVy.dGFn");
        assert_eq!(found(&format!("{jwe}|")), [jwe.as_str()]);
        // A body kept up to --body-limit can end inside the payload.
        let cut = format!("{header}.eyJzdW");
        assert_eq!(found(&format!(r#"{{"t":"{cut}"#)), [cut.as_str()]);
        // Bytes around it need not be text.
        let mut bytes = vec![0xff, 0x00];
        bytes.extend_from_slice(jws().as_bytes());
        bytes.push(0x80);
        assert_eq!(spans(&bytes), vec![2..2 + jws().len()]);
    }

    #[test]
    fn look_alikes_are_not_tokens() {
        let no_alg = format!("{}.{}.c2ln", enc(r#"{"typ":"JWT"}"#), enc("{}"));
        let header_only = format!("{}.", enc(r#"{"alg":"HS256"}"#));
        let inside_a_run = format!("abc{}", jws());
        for text in [
            "abc.def.ghi",
            "eyJ.eyJ.eyJ",
            "www.example.com",
            "everything is fine",
            &no_alg,
            &header_only,
            &inside_a_run,
        ] {
            assert!(found(text).is_empty(), "{text}");
        }
        assert!(!is_jwt(&format!("Bearer {}", jws())));
    }
}
