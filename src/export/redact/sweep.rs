//! Redaction's second pass, by value: every secret the first pass found
//! (by place or by shape) is replaced wherever else it appears in an
//! event: in text in its plain, HTML- and JSON-escaped forms, and in the
//! bytes of a binary message or body as it is.

use crate::event::{Event, EventKind, Opcode, Payload};

use super::{replaced, Rules};

impl Rules {
    /// Replaces every known secret in every text and payload of `event`.
    pub(super) fn sweep_event(&self, event: &mut Event, secrets: &[String]) {
        let sweep = |text: &str| self.sweep(text, secrets);
        let sweep_payload = |p: &mut Payload| match p.text() {
            Some(text) => {
                let swept = sweep(text);
                if swept != text {
                    *p = replaced(p, swept);
                }
            }
            None => {
                if let Some(swept) = self.sweep_bytes(&p.bytes, secrets) {
                    *p = replaced(p, swept);
                }
            }
        };
        match &mut event.kind {
            EventKind::HttpRequest(r) => {
                r.uri = sweep(&r.uri);
                sweep_payload(&mut r.body);
                r.headers.iter_mut().for_each(|(_, v)| *v = sweep(v));
            }
            EventKind::HttpResponse(r) => {
                sweep_payload(&mut r.body);
                r.headers.iter_mut().for_each(|(_, v)| *v = sweep(v));
            }
            EventKind::WsMessage(m) if m.opcode == Opcode::Close => {
                // A close payload is the code (two bytes), then the reason.
                if let Some(reason) = m
                    .payload
                    .bytes
                    .get(2..)
                    .and_then(|r| std::str::from_utf8(r).ok())
                {
                    let swept = sweep(reason);
                    if swept != reason {
                        let mut raw = m.payload.bytes[..2].to_vec();
                        raw.extend_from_slice(swept.as_bytes());
                        m.payload = Payload {
                            len: raw.len() as u64,
                            bytes: raw.into(),
                        };
                    }
                }
            }
            EventKind::WsMessage(m) => {
                sweep_payload(&mut m.payload);
                for text in [&mut m.topic, &mut m.correlation, &mut m.note]
                    .into_iter()
                    .flatten()
                {
                    *text = sweep(text);
                }
            }
            EventKind::WsHandshake(h) => {
                h.uri = sweep(&h.uri);
                for p in h
                    .subprotocols_offered
                    .iter_mut()
                    .chain(h.subprotocol.iter_mut())
                {
                    *p = sweep(p);
                }
            }
            EventKind::WsClose(c) => {
                c.reason = sweep(&c.reason);
                c.error = c.error.as_deref().map(sweep);
            }
            EventKind::HttpError(e) => e.message = sweep(&e.message),
            EventKind::Error(e) => e.message = sweep(&e.message),
            _ => {}
        }
    }

    /// `text` with every secret, and its HTML- and JSON-escaped forms,
    /// replaced by its placeholder.
    fn sweep(&self, text: &str, secrets: &[String]) -> String {
        let mut out = text.to_owned();
        for s in secrets {
            let json = serde_json::to_string(s).unwrap_or_default();
            let html = s
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
                .replace('\'', "&#x27;");
            let forms = [
                s.as_str(),
                html.as_str(),
                json.get(1..json.len().saturating_sub(1))
                    .unwrap_or_default(),
            ];
            for form in forms.into_iter().filter(|f| !f.is_empty()) {
                if out.contains(form) {
                    out = out.replace(form, &self.placeholder(s));
                }
            }
        }
        out
    }

    /// `data` (not text) with every secret's bytes replaced by its
    /// placeholder; `None` when none occurs. A binary format's lengths
    /// (MessagePack, CBOR) no longer match afterwards: the frame is kept for
    /// people to read, and a secret matters more than its framing.
    fn sweep_bytes(&self, data: &[u8], secrets: &[String]) -> Option<Vec<u8>> {
        let mut out = data.to_vec();
        let mut changed = false;
        for s in secrets {
            let needle = s.as_bytes();
            if needle.is_empty() || !out.windows(needle.len()).any(|w| w == needle) {
                continue;
            }
            let placeholder = self.placeholder(s);
            let mut swept = Vec::with_capacity(out.len());
            let mut rest = out.as_slice();
            while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
                swept.extend_from_slice(&rest[..at]);
                swept.extend_from_slice(placeholder.as_bytes());
                rest = &rest[at + needle.len()..];
            }
            swept.extend_from_slice(rest);
            out = swept;
            changed = true;
        }
        changed.then_some(out)
    }
}
