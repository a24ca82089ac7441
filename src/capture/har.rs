//! Reading a HAR file as a capture: wsdiag's own exports (a round trip) and
//! HAR files saved from Chrome DevTools, so `wsdiag show` and
//! `wsdiag diagnose` work on them too.
//!
//! Each entry becomes an exchange on its connection (`connection`, or
//! `_wsdiag.conn`, else one per entry): the request, then the response or
//! the failure (`_error`). A WebSocket entry (`_resourceType: websocket` or
//! status 101) becomes an accepted handshake followed by its
//! `_webSocketMessages`. Times come from `startedDateTime` and the
//! messages' `time` (wall-clock seconds).

use std::path::Path;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Capture, Header, HeaderTag, ReadError, FORMAT_VERSION};
use crate::event::{
    Direction, ErrorKind, Event, EventKind, HttpError, HttpRequest, HttpResponse, Opcode, Payload,
    Side, Trailer, WsClose, WsHandshake, WsMessage,
};

/// True when `text` looks like a HAR document.
pub fn is_har(value: &Value) -> bool {
    value
        .get("log")
        .and_then(|l| l.get("entries"))
        .is_some_and(Value::is_array)
}

/// Converts a HAR document into a capture.
pub fn read(value: &Value, path: &Path) -> Result<Capture, ReadError> {
    let bad = |detail: String| ReadError::BadLine {
        path: path.to_owned(),
        line: 1,
        detail,
    };
    let entries = value["log"]["entries"]
        .as_array()
        .ok_or_else(|| bad("log.entries is not a list".into()))?;
    let times: Vec<DateTime<Utc>> = entries
        .iter()
        .map(|e| {
            started(e).ok_or_else(|| {
                bad(format!(
                    "an entry has no valid startedDateTime: {}",
                    e["startedDateTime"]
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let started_at = times.iter().min().copied().unwrap_or_else(Utc::now);
    let creator = &value["log"]["creator"];
    let header = Header {
        idle_timeout_ms: None,
        record: HeaderTag::Header,
        format_version: FORMAT_VERSION,
        wsdiag_version: format!(
            "{} {} (HAR)",
            text(&creator["name"]),
            text(&creator["version"])
        ),
        started_at,
        listen: "(imported from HAR)".to_owned(),
        upstream: entries
            .first()
            .map(|e| origin(text(&e["request"]["url"])))
            .unwrap_or_default(),
        body_limit: usize::MAX,
    };
    let micros = |t: DateTime<Utc>| (t - started_at).num_microseconds().unwrap_or(0).max(0) as u64;
    let mut events = Vec::new();
    let mut odd_times = OddTimes::default();
    for (i, (entry, start)) in entries.iter().zip(&times).enumerate() {
        let conn = entry["_wsdiag"]["conn"]
            .as_u64()
            .or_else(|| entry["connection"].as_str().and_then(|c| c.parse().ok()))
            .unwrap_or(i as u64 + 1);
        entry_events(
            entry,
            i as u64 + 1,
            conn,
            micros(*start),
            started_at,
            &mut events,
            &mut odd_times,
        );
    }
    events.sort_by_key(|e| e.t_us);
    crate::dialects::Classifier::reclassify(&mut events, None);
    let mut trailer = Trailer::default();
    for (i, event) in events.iter_mut().enumerate() {
        event.seq = i as u64 + 1;
        trailer.count(event);
    }
    let last = events.last().map_or(0, |e| e.t_us);
    events.push(Event {
        seq: events.len() as u64 + 1,
        t_us: last,
        conn: None,
        kind: EventKind::Trailer(trailer),
    });
    Ok(Capture {
        header,
        events,
        cut_off: None,
        warnings: odd_times.warning().into_iter().collect(),
    })
}

/// WebSocket message times in no unit [`epoch_seconds`] recognises.
#[derive(Default)]
struct OddTimes {
    count: usize,
    first: Option<String>,
}

impl OddTimes {
    fn note(&mut self, value: &Value) {
        self.count += 1;
        self.first.get_or_insert_with(|| value.to_string());
    }

    fn warning(&self) -> Option<String> {
        let first = self.first.as_ref()?;
        Some(format!(
            "{} WebSocket messages have a `time` in no unit wsdiag knows (the first: {first}; expected seconds since 1970, as Chrome writes, or milliseconds or microseconds): they are placed at their exchange's start",
            self.count
        ))
    }
}

/// A HAR WebSocket message's `time` as seconds since the Unix epoch, read
/// in the unit its size shows: Chrome and Firefox write seconds (about
/// 1.7e9 in 2026), some tools milliseconds (1.7e12) or microseconds
/// (1.7e15). `None` when no unit makes it a time between 2000 and 2100.
fn epoch_seconds(value: f64) -> Option<f64> {
    const Y2000: f64 = 946_684_800.0;
    const Y2100: f64 = 4_102_444_800.0;
    [1.0, 1e3, 1e6]
        .into_iter()
        .map(|divisor| value / divisor)
        .find(|s| (Y2000..Y2100).contains(s))
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn started(entry: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(entry["startedDateTime"].as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `scheme://host` of a URL.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    format!("{scheme}://{}", rest.split('/').next().unwrap_or(""))
}

/// The path and query of a URL.
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/')
        .map_or("/".to_owned(), |i| rest[i..].to_owned())
}

fn headers(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .map(|l| {
            l.iter()
                .map(|h| {
                    (
                        text(&h["name"]).to_ascii_lowercase(),
                        text(&h["value"]).to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A payload from HAR text, base64 when `encoded`, with the stated size.
fn payload(body: &str, encoded: bool, size: Option<u64>) -> Payload {
    let bytes = if encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_else(|_| body.as_bytes().to_vec())
    } else {
        body.as_bytes().to_vec()
    };
    let len = size
        .filter(|s| *s >= bytes.len() as u64)
        .unwrap_or(bytes.len() as u64);
    Payload {
        bytes: bytes.into(),
        len,
    }
}

fn entry_events(
    entry: &Value,
    exchange: u64,
    conn: u64,
    t_us: u64,
    started_at: DateTime<Utc>,
    out: &mut Vec<Event>,
    odd_times: &mut OddTimes,
) {
    let request = &entry["request"];
    let response = &entry["response"];
    let uri = path_of(text(&request["url"]));
    let post = &request["postData"];
    let body = payload(
        text(&post["text"]),
        post["_encoding"] == "base64",
        request["bodySize"].as_u64(),
    );
    let event = |t_us, kind| Event {
        seq: 0,
        t_us,
        conn: Some(conn),
        kind,
    };
    out.push(event(
        t_us,
        EventKind::HttpRequest(HttpRequest {
            exchange,
            method: text(&request["method"]).to_owned(),
            uri: uri.clone(),
            version: text(&request["httpVersion"]).to_owned(),
            headers: headers(&request["headers"]),
            forwarded_host: None,
            body,
        }),
    ));
    let duration_us = (entry["time"].as_f64().unwrap_or(0.0) * 1000.0).max(0.0) as u64;
    let status = response["status"].as_u64().unwrap_or(0) as u16;
    let end = t_us.saturating_add(duration_us);
    // A failed request: Chrome writes status 0; wsdiag the status it
    // answered with (502). Both put the cause in `_error`.
    if status == 0 || response["_error"].is_string() {
        out.push(event(
            end,
            EventKind::HttpError(HttpError {
                exchange,
                side: Side::Upstream,
                kind: ErrorKind::Connect,
                message: response["_error"]
                    .as_str()
                    .unwrap_or("no response")
                    .to_owned(),
                status: (status != 0).then_some(status),
                duration_us,
            }),
        ));
        return;
    }
    let websocket = entry["_resourceType"] == "websocket" || status == 101;
    if websocket {
        let subprotocol = headers(&response["headers"])
            .into_iter()
            .find(|(n, _)| n == "sec-websocket-protocol")
            .map(|(_, v)| v);
        out.push(event(
            t_us,
            EventKind::WsHandshake(WsHandshake {
                exchange,
                uri,
                status,
                accepted: status == 101,
                subprotocols_offered: Vec::new(),
                subprotocol,
                extensions: Vec::new(),
                extensions_dropped: Vec::new(),
                dialect: None,
            }),
        ));
    }
    let content = &response["content"];
    out.push(event(
        end.max(t_us),
        EventKind::HttpResponse(HttpResponse {
            exchange,
            status,
            headers: headers(&response["headers"]),
            body: payload(
                text(&content["text"]),
                content["encoding"] == "base64",
                content["size"].as_u64(),
            ),
            duration_us,
        }),
    ));
    if !websocket {
        return;
    }
    let mut last = end;
    for m in entry["_webSocketMessages"].as_array().into_iter().flatten() {
        let seconds = m["time"].as_f64().and_then(epoch_seconds);
        if seconds.is_none() {
            odd_times.note(&m["time"]);
        }
        let at = seconds
            .and_then(|s| DateTime::from_timestamp_micros((s * 1e6) as i64))
            .unwrap_or(started_at + chrono::TimeDelta::microseconds(t_us as i64));
        let t = (at - started_at).num_microseconds().unwrap_or(0).max(0) as u64;
        last = last.max(t);
        let opcode = match m["opcode"].as_u64() {
            Some(2) => Opcode::Binary,
            Some(8) => Opcode::Close,
            Some(9) => Opcode::Ping,
            Some(10) => Opcode::Pong,
            _ => Opcode::Text,
        };
        let encoded = opcode == Opcode::Binary || m["_base64"] == true;
        let payload = payload(text(&m["data"]), encoded, m["_len"].as_u64());
        let dir = if m["type"] == "send" {
            Direction::ClientToUpstream
        } else {
            Direction::UpstreamToClient
        };
        out.push(event(
            t,
            EventKind::WsMessage(WsMessage::new(dir, opcode, payload, true)),
        ));
    }
    let close = &entry["_wsdiag"]["close"];
    if close.is_object() {
        let initiator = serde_json::from_value(close["initiator"].clone()).unwrap_or(Side::Client);
        out.push(event(
            last,
            EventKind::WsClose(WsClose {
                initiator,
                code: close["code"].as_u64().map(|c| c as u16),
                reason: text(&close["reason"]).to_owned(),
                clean: close["clean"].as_bool().unwrap_or(true),
                error: close["error"].as_str().map(str::to_owned),
                unanswered: serde_json::from_value(close["unanswered"].clone()).ok(),
                violator: serde_json::from_value(close["violator"].clone()).ok(),
                violation: close["violation"].as_str().map(str::to_owned),
                messages_sent: 0,
                messages_received: 0,
            }),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::epoch_seconds;

    #[test]
    fn message_times_in_seconds_milliseconds_and_microseconds() {
        let now = 1_764_410_000.5;
        assert_eq!(epoch_seconds(now), Some(now));
        assert_eq!(epoch_seconds(now * 1e3), Some(now));
        assert_eq!(epoch_seconds(now * 1e6), Some(now));
        assert_eq!(epoch_seconds(12.0), None);
        assert_eq!(epoch_seconds(-1.0), None);
    }
}
