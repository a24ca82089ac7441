//! The capture format as `docs/capture-format.md` documents it, written
//! independently of the library's own types and with
//! `deny_unknown_fields`: an undocumented field, a renamed one or a new
//! event type breaks this, so the docs and the code cannot drift apart.

#![allow(dead_code)] // fields exist to be checked, not read

use serde::Deserialize;

type Headers = Vec<(String, String)>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    #[serde(rename = "type")]
    record: String,
    format_version: u32,
    wsdiag_version: String,
    started_at: String,
    listen: String,
    upstream: String,
    body_limit: u64,
    idle_timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    len: u64,
    text: Option<String>,
    base64: Option<String>,
    truncated: Option<bool>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line {
    ConnOpen(ConnOpen),
    HttpRequest(HttpRequest),
    HttpResponse(HttpResponse),
    HttpError(HttpError),
    WsHandshake(WsHandshake),
    WsMessage(WsMessage),
    WsClose(WsClose),
    ConnClose(ConnClose),
    Error(ErrorEvent),
    Trailer(Trailer),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnOpen {
    seq: u64,
    t_us: u64,
    conn: u64,
    peer: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpRequest {
    seq: u64,
    t_us: u64,
    conn: u64,
    exchange: u64,
    method: String,
    uri: String,
    version: String,
    headers: Headers,
    forwarded_host: Option<String>,
    body: Body,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpResponse {
    seq: u64,
    t_us: u64,
    conn: u64,
    exchange: u64,
    status: u16,
    headers: Headers,
    body: Body,
    duration_us: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Side {
    Client,
    Upstream,
    Proxy,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Connect,
    Timeout,
    Tls,
    Protocol,
    Body,
    Reset,
    Refused,
    Io,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpError {
    seq: u64,
    t_us: u64,
    conn: u64,
    exchange: u64,
    side: Side,
    kind: Kind,
    message: String,
    status: Option<u16>,
    duration_us: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WsHandshake {
    seq: u64,
    t_us: u64,
    conn: u64,
    exchange: u64,
    uri: String,
    status: u16,
    accepted: bool,
    subprotocols_offered: Option<Vec<String>>,
    subprotocol: Option<String>,
    extensions: Option<Vec<String>>,
    extensions_dropped: Option<Vec<String>>,
    dialect: Option<Dialect>,
}

/// The dialect names `docs/capture-format.md` lists.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Dialect {
    Json,
    Socketio,
    Sockjs,
    Stomp,
    Actioncable,
    Phoenix,
    Signalr,
    GraphqlWs,
    Jsonrpc,
    Wamp,
    Mqtt,
    Msgpack,
    Cbor,
}

/// The message roles `docs/capture-format.md` lists.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum MsgRole {
    Send,
    Push,
    Reply,
    Error,
    Heartbeat,
    Control,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Dir {
    ClientToUpstream,
    UpstreamToClient,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Opcode {
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WsMessage {
    seq: u64,
    t_us: u64,
    conn: u64,
    dir: Dir,
    opcode: Opcode,
    len: u64,
    text: Option<String>,
    base64: Option<String>,
    truncated: Option<bool>,
    msg_type: Option<String>,
    msg_role: Option<MsgRole>,
    topic: Option<String>,
    correlation: Option<String>,
    dialect: Option<Dialect>,
    note: Option<String>,
    polling: Option<String>,
    forwarded: Option<bool>,
    origin: Option<Side>,
    compressed: Option<bool>,
    wire_len: Option<u64>,
    frames: Option<u32>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WsClose {
    seq: u64,
    t_us: u64,
    conn: u64,
    initiator: Side,
    code: Option<u16>,
    reason: Option<String>,
    clean: bool,
    error: Option<String>,
    unanswered: Option<Side>,
    violator: Option<Side>,
    violation: Option<String>,
    messages_sent: u64,
    messages_received: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnClose {
    seq: u64,
    t_us: u64,
    conn: u64,
    duration_us: u64,
    exchanges: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorEvent {
    seq: u64,
    t_us: u64,
    conn: Option<u64>,
    side: Side,
    kind: Kind,
    message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Trailer {
    seq: u64,
    t_us: u64,
    connections: u64,
    exchanges: u64,
    exchanges_by_status: std::collections::BTreeMap<String, u64>,
    messages_sent: u64,
    messages_received: u64,
    failed_handshakes: u64,
    errors: u64,
}

/// Checks every line of a capture against the documented schema, and the
/// rules the docs state: a header first, `seq` from 1 without gaps, a
/// trailer last when the capture is complete, exactly one of `text` or
/// `base64` in every payload that has bytes.
pub fn check_capture(text: &str) {
    let mut lines = text.lines();
    let header: Header = serde_json::from_str(lines.next().expect("an empty capture"))
        .unwrap_or_else(|e| panic!("the header breaks the documented schema: {e}"));
    assert_eq!(header.record, "header");
    // Version 2 is written today; the sample captures of version 1 stay as
    // they are, to prove that old files are still read.
    assert!(
        matches!(header.format_version, 1 | 2),
        "format_version {}",
        header.format_version
    );
    let mut last = None;
    for (expected_seq, (i, line)) in (1u64..).zip(lines.enumerate()) {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            value["seq"],
            expected_seq,
            "line {}: seq out of order",
            i + 2
        );
        for payload in [&value, &value["body"]] {
            if payload.get("len").is_some_and(|l| l.as_u64() > Some(0)) {
                let has_text = payload.get("text").is_some();
                let has_base64 = payload.get("base64").is_some();
                assert!(
                    has_text ^ has_base64,
                    "line {}: a payload needs exactly one of text or base64: {line}",
                    i + 2
                );
            }
        }
        let parsed: Line = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {} breaks the documented schema: {e}\n{line}", i + 2));
        last = Some(parsed);
    }
    assert!(
        matches!(last, Some(Line::Trailer(_))),
        "a complete capture ends with its trailer"
    );
}
