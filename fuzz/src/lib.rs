//! The bodies of wsdiag's fuzz targets, one function per target.
//!
//! `fuzz_targets/*.rs` call these; `tests/fuzz_regressions.rs` includes this
//! file with `#[path]` and runs the same functions over every file in
//! `fuzz/corpus/<target>/` and `fuzz/artifacts/<target>/`, so the regression
//! tests call exactly what was fuzzed. Each function must not panic, whatever
//! `data` is.

use std::path::Path;

use bytes::Bytes;
use wsdiag::capture::reader;
use wsdiag::diagnose::{self, error_body::ErrorBody};
use wsdiag::event::{self, Direction, Event, EventKind, Opcode, Payload, Side};
use wsdiag::proxy::h1::{chunked, head};
use wsdiag::proxy::relay::frame::{FrameReader, Piece};
use wsdiag::proxy::relay::inflate::{Extensions, Inflater};
use wsdiag::proxy::relay::message::Assembler;
use wsdiag::stacks::{django, drf};

/// `capture_reader`: a capture file (JSON Lines, or a HAR document).
pub fn capture_reader(data: &[u8]) {
    let _ = reader::read(data, Path::new("fuzz.jsonl"));
}

/// `frames`: bytes arriving on a relayed WebSocket, through the frame
/// reader and the message assembler, and through an inflater on their own.
///
/// The first byte picks the sender (bit 0: the client), whether
/// permessage-deflate was negotiated (bit 1) and with which context
/// takeover (bit 2), and the size of the reads (its upper five bits, 1 to
/// 32 bytes; 0: all at once). The reader must use every byte it is given,
/// and the assembler must keep no more than its limit of any payload.
pub fn frames(data: &[u8]) {
    let Some((&setup, wire)) = data.split_first() else {
        return;
    };
    let from = if setup & 1 == 1 {
        Side::Client
    } else {
        Side::Upstream
    };
    let mut offer = Vec::new();
    if setup & 2 == 2 {
        offer.push(if setup & 4 == 4 {
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover".to_owned()
        } else {
            "permessage-deflate".to_owned()
        });
    }
    let extensions = Extensions::negotiated(&offer);
    const LIMIT: usize = 256;
    let mut assembler = Assembler::new(from, LIMIT, &extensions);
    let mut reader = FrameReader::default();
    let split = match usize::from(setup >> 3) {
        0 => wire.len().max(1),
        n => n,
    };
    let mut used_total = 0;
    for chunk in wire.chunks(split) {
        let mut pos = 0;
        loop {
            let (used, piece) = reader.next(&chunk[pos..]);
            pos += used;
            match piece {
                None => break,
                Some(Piece::Start(header, len)) => {
                    let header = header.clone();
                    assembler.start(&header, len);
                }
                Some(Piece::Payload { bytes, offset }) => assembler.payload(bytes, offset),
                Some(Piece::End) => {
                    if let Some(read) = assembler.end() {
                        assert!(read.payload.bytes.len() <= LIMIT);
                        assert!(read.payload.bytes.len() as u64 <= read.payload.len);
                    }
                }
                Some(Piece::Lost(_)) => {}
            }
            let _ = assembler.violations().count();
        }
        assert_eq!(pos, chunk.len(), "the reader used every byte");
        used_total += pos;
    }
    assert_eq!(used_total, wire.len());
    let mut inflater = Inflater::new(setup & 4 == 4);
    let mut inflated = 0usize;
    if inflater.feed(wire, &mut |b| inflated += b.len()).is_ok() {
        let _ = inflater.finish(&mut |b| inflated += b.len());
    }
}

/// `error_pages`: an HTTP error body, through every error-page parser.
///
/// The first byte picks the status (350..=605), the second how many bytes
/// (0..=7) the body limit cuts off the end.
pub fn error_pages(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = django::parse_technical_500(&text);
    let _ = django::is_generic_500(&text);
    let _ = django::parse_csrf_failure(&text);
    let _ = drf::DrfError::parse(&text).map(|e| e.is_csrf());
    let _ = drf::options_schema(&text);
    let _ = wsdiag::stacks::openapi::write_schema(&text, "fuzz", "POST", "/api/rooms/3/messages");
    let status = 350 + u16::from(data.first().copied().unwrap_or(0));
    let _ = wsdiag::stacks::parse(status, &text).map(|r| r.summary());
    let _ = wsdiag::stacks::db::parse(&text);
    let _ = wsdiag::stacks::python_traceback::parse(&text).map(|t| t.app_frame().cloned());
    let cut = usize::from(data.get(1).copied().unwrap_or(0) % 8);
    let payload = Payload::capture(
        &Bytes::copy_from_slice(data),
        data.len().saturating_sub(cut),
    );
    if let Some(body) = ErrorBody::parse(status, &payload) {
        let _ = (body.summary(), body.is_csrf());
    }
}

/// Every dialect over `data`, as each kind of frame.
fn every_dialect(data: &[u8]) {
    use wsdiag::dialects::{self, DialectId, Frame};
    for opcode in [Opcode::Text, Opcode::Binary] {
        for dir in [Direction::ClientToUpstream, Direction::UpstreamToClient] {
            for truncated in [false, true] {
                let frame = Frame {
                    dir,
                    opcode,
                    data,
                    truncated,
                };
                let _ = dialects::sniff(frame);
                for id in DialectId::ALL {
                    let mut dialect = dialects::new(id);
                    let _ = dialect.classify(frame);
                    let _ = dialect.classify(frame);
                    let _ = dialect.payload(frame);
                }
            }
        }
    }
}

/// `message_classifier`: a WebSocket message, then a whole diagnosis.
///
/// The message: every dialect reads it as text and as binary, both ways,
/// twice in a row (stateful dialects), whole and cut; the shape sniffer
/// too; and `Payload::capture` with a limit from the first byte, then
/// `.text()`. The diagnosis runs over `data` read as a
/// capture when it is one, else over [`synthetic_events`] built from its
/// lines.
pub fn message_classifier(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    every_dialect(data);
    let limit = usize::from(data.first().copied().unwrap_or(0));
    let _ = Payload::capture(&Bytes::copy_from_slice(data), limit).text();
    let events = match reader::read(data, Path::new("fuzz.jsonl")) {
        Ok(capture) => capture.events,
        Err(_) => {
            let mut events = synthetic_events(&text);
            wsdiag::dialects::Classifier::reclassify(&mut events, None);
            events
        }
    };
    let _ = diagnose::run(&events, &diagnose::Options::default());
}

/// A capture around `text`: a WebSocket to `/ws/chat/3/` opens, then each of
/// the first 16 lines becomes, in turn, a client message, an upstream
/// message, the JSON body of a `POST /api/conversations/3/messages/`, and
/// that request's response (status 201, 400, 403 or 500 by the line's
/// length); then the WebSocket closes with a code from `text`'s length.
pub fn synthetic_events(text: &str) -> Vec<Event> {
    let mut events = Vec::new();
    let mut push = |conn: u64, kind: EventKind| {
        let seq = events.len() as u64 + 1;
        events.push(Event {
            seq,
            t_us: seq * 1000,
            conn: Some(conn),
            kind,
        });
    };
    let body = |s: &str| Payload::capture(&Bytes::copy_from_slice(s.as_bytes()), 1 << 18);
    let json = vec![("content-type".to_owned(), "application/json".to_owned())];
    let request = |exchange: u64, method: &str, uri: &str, b: &str| event::HttpRequest {
        exchange,
        method: method.to_owned(),
        uri: uri.to_owned(),
        version: "HTTP/1.1".to_owned(),
        headers: json.clone(),
        forwarded_host: None,
        body: body(b),
    };
    let response = |exchange: u64, status: u16, b: &str| event::HttpResponse {
        exchange,
        status,
        headers: json.clone(),
        body: body(b),
        duration_us: 500,
    };
    push(
        1,
        EventKind::ConnOpen(event::ConnOpen {
            peer: "127.0.0.1:1".to_owned(),
        }),
    );
    push(
        1,
        EventKind::HttpRequest(request(1, "GET", "/ws/chat/3/", "")),
    );
    push(
        1,
        EventKind::WsHandshake(event::WsHandshake {
            exchange: 1,
            uri: "/ws/chat/3/".to_owned(),
            status: 101,
            accepted: true,
            subprotocols_offered: Vec::new(),
            subprotocol: None,
            extensions: Vec::new(),
            extensions_dropped: Vec::new(),
            dialect: None,
        }),
    );
    push(1, EventKind::HttpResponse(response(1, 101, "")));
    let mut exchange = 1;
    for (i, line) in text.split('\n').take(16).enumerate() {
        let message =
            |dir| EventKind::WsMessage(event::WsMessage::new(dir, Opcode::Text, body(line), true));
        match i % 4 {
            0 => push(1, message(Direction::ClientToUpstream)),
            1 => push(1, message(Direction::UpstreamToClient)),
            2 => {
                exchange += 1;
                let uri = "/api/conversations/3/messages/";
                push(
                    2,
                    EventKind::HttpRequest(request(exchange, "POST", uri, line)),
                );
            }
            _ => {
                let status = [201, 400, 403, 500][line.len() % 4];
                push(2, EventKind::HttpResponse(response(exchange, status, line)));
            }
        }
    }
    push(
        1,
        EventKind::WsClose(event::WsClose {
            initiator: Side::Upstream,
            code: Some(1000 + (text.len() % 12) as u16),
            reason: String::new(),
            clean: text.len() % 2 == 0,
            error: None,
            unanswered: None,
            violator: None,
            violation: None,
            messages_sent: 1,
            messages_received: 1,
        }),
    );
    events
}

/// `http_heads`: bytes arriving from a client or an upstream, read by the
/// forwarder as a request head and as a response head (with their
/// framing and their fields as the capture keeps them), and as a chunked
/// body.
///
/// The first byte sets the size of the pieces the chunked decoder is fed
/// (1 to 256 bytes). The decoder must use no more than it is given, and
/// its data ranges must lie within what it used.
pub fn http_heads(data: &[u8]) {
    let Some((&setup, wire)) = data.split_first() else {
        return;
    };
    let mut buf = bytes::BytesMut::from(wire);
    if let Ok(Some(request)) = head::parse_request(&mut buf) {
        let _ = request.framing();
        let _ = request.fields.recorded();
        request.fields.write_to(&mut Vec::new());
    }
    let mut buf = bytes::BytesMut::from(wire);
    if let Ok(Some(response)) = head::parse_response(&mut buf) {
        let _ = response.framing(setup & 1 == 1);
        let _ = response.fields.wants_close(response.minor_version);
    }
    let mut decoder = chunked::Decoder::default();
    for piece in wire.chunks(usize::from(setup) + 1) {
        match decoder.feed(piece) {
            Ok(fed) => {
                assert!(fed.used <= piece.len(), "used more than given");
                assert!(
                    fed.data.iter().all(|r| r.end <= fed.used),
                    "data beyond what was used"
                );
                if decoder.is_done() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
}
