//! Redaction by shape: a value shaped like a JWT (see `event::jwt`) is a
//! secret wherever it sits and whatever it is called: in a JSON body at any
//! depth, a query parameter with an innocent name, any header, a WebSocket
//! message (a Socket.IO packet, a binary frame), an HTML error page, a
//! close reason or an error message.

use std::collections::BTreeSet;

use crate::event::{jwt, Event, EventKind};

/// Adds every JWT in the texts and bytes of `event` to `secrets`, for the
/// sweep to replace wherever it appears.
pub(super) fn jwts(event: &Event, secrets: &mut BTreeSet<String>) {
    let mut add = |data: &[u8]| {
        for span in jwt::spans(data) {
            // A span holds only base64url characters and dots: ASCII.
            if let Some(token) = data.get(span).and_then(|t| std::str::from_utf8(t).ok()) {
                secrets.insert(token.to_owned());
            }
        }
    };
    match &event.kind {
        EventKind::HttpRequest(r) => {
            add(r.uri.as_bytes());
            r.headers.iter().for_each(|(_, v)| add(v.as_bytes()));
            add(&r.body.bytes);
        }
        EventKind::HttpResponse(r) => {
            r.headers.iter().for_each(|(_, v)| add(v.as_bytes()));
            add(&r.body.bytes);
        }
        EventKind::HttpError(e) => add(e.message.as_bytes()),
        EventKind::WsHandshake(h) => {
            add(h.uri.as_bytes());
            h.subprotocols_offered
                .iter()
                .chain(&h.subprotocol)
                .for_each(|p| add(p.as_bytes()));
        }
        EventKind::WsMessage(m) => {
            add(&m.payload.bytes);
            [&m.topic, &m.correlation, &m.note]
                .into_iter()
                .flatten()
                .for_each(|t| add(t.as_bytes()));
        }
        EventKind::WsClose(c) => {
            add(c.reason.as_bytes());
            c.error.iter().for_each(|e| add(e.as_bytes()));
        }
        EventKind::Error(e) => add(e.message.as_bytes()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    use super::*;
    use crate::event::{Direction, Opcode, Payload, WsMessage};

    #[test]
    fn a_token_in_a_binary_frame_is_found() {
        let token = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"alice"}"#)
        );
        // MessagePack: a map of one entry, "token" => the JWT as a str 8.
        let mut frame = vec![0x81, 0xa5];
        frame.extend_from_slice(b"token");
        frame.extend_from_slice(&[0xd9, token.len() as u8]);
        frame.extend_from_slice(token.as_bytes());
        let event = Event {
            seq: 1,
            t_us: 0,
            conn: Some(1),
            kind: EventKind::WsMessage(WsMessage::new(
                Direction::ClientToUpstream,
                Opcode::Binary,
                Payload::capture(&frame.into(), usize::MAX),
                true,
            )),
        };
        let mut secrets = BTreeSet::new();
        jwts(&event, &mut secrets);
        assert_eq!(secrets, BTreeSet::from([token]));
    }
}
