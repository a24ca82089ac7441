//! HAR 1.2, written the way Chrome DevTools writes WebSocket traffic, so the
//! file opens in Chrome's Network panel and in HTTP Toolkit.
//!
//! Every exchange is an entry with its request, response (or, for a failed
//! exchange, the status wsdiag answered with and `_error`), headers,
//! cookies, `postData`, content and timings. A WebSocket is the entry of its
//! upgrade request with `"_resourceType": "websocket"` and
//! `"_webSocketMessages"`: `type` (`send`/`receive`), `time` (wall-clock
//! seconds, a float), `opcode` (1 text, 2 binary, 8 close, 9 ping, 10 pong)
//! and `data` (text as is, binary as base64). wsdiag's own facts go only in
//! underscore fields (`_wsdiag`, `_msgType`, …), never into standard ones.

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use crate::capture::Header;
use crate::diagnose::Diagnosis;
use crate::event::{
    header, Direction, Event, EventKind, Flows, Headers, HttpRequest, Opcode, Payload, WsClose,
};

/// The HAR document for `events`, with each failed response's parsed error
/// report from `diagnosis` (a diagnosis of the same events).
pub fn render(header_: &Header, events: &[Event], diagnosis: &Diagnosis) -> Value {
    let flows = Flows::of(events);
    let mut entries: Vec<(u64, Map<String, Value>)> = Vec::new();
    for exchange in flows.exchanges() {
        let Some((req_event, req)) = flows.request(exchange.id) else {
            continue;
        };
        let entry = if let Some((_, resp)) = flows.response(exchange.id) {
            let websocket = resp.status == 101;
            let mut entry = entry(header_, req_event, req, websocket);
            entry.insert("time".into(), json!(resp.duration_us as f64 / 1000.0));
            entry.insert("timings".into(), timings(resp.duration_us));
            entry.insert(
                "response".into(),
                response(resp.status, &resp.headers, &resp.body),
            );
            if let Some(error) = diagnosis.errors.get(&exchange.id) {
                wsdiag_field(&mut entry).insert("error".into(), json!(error.summary()));
            }
            let socket = req_event.conn.and_then(|c| flows.socket(c));
            if let (true, Some(socket)) = (websocket, socket) {
                let messages: Vec<Value> = socket
                    .messages
                    .iter()
                    .filter_map(|&i| match &events[i].kind {
                        EventKind::WsMessage(m) => Some(ws_message(header_, &events[i], m)),
                        _ => None,
                    })
                    .collect();
                entry.insert("_webSocketMessages".into(), json!(messages));
                let last_close = socket
                    .closes
                    .iter()
                    .rev()
                    .find_map(|&i| match &events[i].kind {
                        EventKind::WsClose(c) => Some(close(c)),
                        _ => None,
                    });
                if let Some(c) = last_close {
                    wsdiag_field(&mut entry).insert("close".into(), c);
                }
            } else if websocket {
                entry.insert("_webSocketMessages".into(), json!([]));
            }
            entry
        } else if let Some((_, e)) = flows.error(exchange.id) {
            let mut entry = entry(header_, req_event, req, false);
            entry.insert("time".into(), json!(e.duration_us as f64 / 1000.0));
            entry.insert("timings".into(), timings(e.duration_us));
            let body = Payload {
                bytes: e.message.clone().into(),
                len: e.message.len() as u64,
            };
            let mut response = response(e.status.unwrap_or(0), &Vec::new(), &body);
            response
                .as_object_mut()
                .map(|r| r.insert("_error".into(), json!(e.message)));
            entry.insert("response".into(), response);
            wsdiag_field(&mut entry).insert(
                "failure".into(),
                json!({"side": e.side, "kind": e.kind, "message": e.message}),
            );
            entry
        } else {
            // A request that never got an answer (the proxy was stopped
            // first).
            let mut entry = entry(header_, req_event, req, false);
            entry.insert("time".into(), json!(0));
            entry.insert("timings".into(), timings(0));
            let mut response = response(0, &Vec::new(), &Payload::default());
            response
                .as_object_mut()
                .map(|r| r.insert("_error".into(), json!("no response was recorded")));
            entry.insert("response".into(), response);
            entry
        };
        entries.push((req_event.seq, entry));
    }
    entries.sort_by_key(|(seq, _)| *seq);
    json!({
        "log": {
            "version": "1.2",
            "creator": {"name": "wsdiag", "version": env!("CARGO_PKG_VERSION")},
            "pages": [],
            "entries": entries.into_iter().map(|(_, e)| Value::Object(e)).collect::<Vec<_>>(),
        }
    })
}

fn wsdiag_field(entry: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let field = entry.entry("_wsdiag").or_insert_with(|| json!({}));
    if !field.is_object() {
        *field = json!({});
    }
    // Just made an object if it was not one.
    field.as_object_mut().unwrap_or_else(|| unreachable!())
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An entry with its request filled in.
fn entry(h: &Header, event: &Event, req: &HttpRequest, websocket: bool) -> Map<String, Value> {
    let host = header(&req.headers, "host").unwrap_or(&h.listen);
    let scheme = if websocket { "ws" } else { "http" };
    let url = format!("{scheme}://{host}{}", req.uri);
    let query = req.uri.split_once('?').map_or("", |(_, q)| q);
    let mut request = json!({
        "method": req.method,
        "url": url,
        "httpVersion": req.version,
        "cookies": request_cookies(&req.headers),
        "headers": har_headers(&req.headers),
        "queryString": form_urlencoded::parse(query.as_bytes()).map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
        "headersSize": -1,
        "bodySize": req.body.len,
    });
    if req.body.len > 0 {
        let mime = header(&req.headers, "content-type").unwrap_or("application/octet-stream");
        let (text, encoding) = text_or_base64(&req.body);
        let mut post = json!({"mimeType": mime, "text": text});
        if let Some(e) = encoding {
            post["_encoding"] = json!(e);
        }
        if req.body.truncated() {
            post["_truncated"] = json!(true);
        }
        request["postData"] = post;
    }
    let mut entry = Map::new();
    entry.insert(
        "startedDateTime".into(),
        json!(iso(h.wall_clock(event.t_us))),
    );
    entry.insert("request".into(), request);
    entry.insert("cache".into(), json!({}));
    entry.insert(
        "_resourceType".into(),
        json!(if websocket { "websocket" } else { "fetch" }),
    );
    entry.insert(
        "_wsdiag".into(),
        json!({"conn": event.conn, "exchange": req.exchange, "seq": event.seq}),
    );
    if let Some(conn) = event.conn {
        entry.insert("connection".into(), json!(conn.to_string()));
    }
    entry
}

fn response(status: u16, headers: &Headers, body: &Payload) -> Value {
    let mime = header(headers, "content-type").unwrap_or("x-unknown");
    let (text, encoding) = text_or_base64(body);
    let mut content = json!({"size": body.len, "mimeType": mime, "text": text});
    if let Some(e) = encoding {
        content["encoding"] = json!(e);
    }
    if body.truncated() {
        content["_truncated"] = json!(true);
    }
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    json!({
        "status": status,
        "statusText": reason,
        "httpVersion": "HTTP/1.1",
        "cookies": response_cookies(headers),
        "headers": har_headers(headers),
        "content": content,
        "redirectURL": header(headers, "location").unwrap_or(""),
        "headersSize": -1,
        "bodySize": body.len,
    })
}

fn timings(duration_us: u64) -> Value {
    json!({"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0, "wait": duration_us as f64 / 1000.0, "receive": 0})
}

fn text_or_base64(p: &Payload) -> (String, Option<&'static str>) {
    match p.text() {
        Some(t) => (t.to_owned(), None),
        None => (
            base64::engine::general_purpose::STANDARD.encode(&p.bytes),
            Some("base64"),
        ),
    }
}

fn har_headers(headers: &Headers) -> Vec<Value> {
    headers
        .iter()
        .map(|(n, v)| json!({"name": n, "value": v}))
        .collect()
}

fn request_cookies(headers: &Headers) -> Vec<Value> {
    headers
        .iter()
        .filter(|(n, _)| n == "cookie")
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(n, v)| json!({"name": n, "value": v}))
        .collect()
}

fn response_cookies(headers: &Headers) -> Vec<Value> {
    headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .filter_map(|(_, v)| v.split(';').next()?.trim().split_once('='))
        .map(|(n, v)| json!({"name": n, "value": v}))
        .collect()
}

fn ws_message(h: &Header, event: &Event, m: &crate::event::WsMessage) -> Value {
    let time = h.wall_clock(event.t_us);
    let seconds = time.timestamp() as f64 + f64::from(time.timestamp_subsec_micros()) / 1e6;
    let opcode = match m.opcode {
        Opcode::Text => 1,
        Opcode::Binary => 2,
        Opcode::Close => 8,
        Opcode::Ping => 9,
        Opcode::Pong => 10,
    };
    let (data, binary) = match (m.opcode, m.payload.text()) {
        (Opcode::Binary, _) | (_, None) => (
            base64::engine::general_purpose::STANDARD.encode(&m.payload.bytes),
            true,
        ),
        (_, Some(t)) => (t.to_owned(), false),
    };
    let mut message = json!({
        "type": if m.dir == Direction::ClientToUpstream { "send" } else { "receive" },
        "time": seconds,
        "opcode": opcode,
        "data": data,
    });
    let extra = message.as_object_mut().unwrap_or_else(|| unreachable!());
    extra.insert("_seq".into(), json!(event.seq));
    if let Some(t) = &m.msg_type {
        extra.insert("_msgType".into(), json!(t));
    }
    if binary && m.opcode != Opcode::Binary {
        extra.insert("_base64".into(), json!(true));
    }
    if m.payload.truncated() {
        extra.insert("_truncated".into(), json!(true));
        extra.insert("_len".into(), json!(m.payload.len));
    }
    message
}

fn close(c: &WsClose) -> Value {
    json!({"initiator": c.initiator, "code": c.code, "reason": c.reason, "clean": c.clean, "error": c.error, "unanswered": c.unanswered, "violator": c.violator})
}
