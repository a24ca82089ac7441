//! Tests of the send attempts, and of a WebSocket send's outcome from the
//! indexes against the scan it replaced.

use super::*;
use crate::event::Side;

/// True when `value` holds `content` as a string anywhere inside.
fn carries(value: &Value, content: &str) -> bool {
    match value {
        Value::String(s) => normalize(s) == content,
        Value::Array(items) => items.iter().any(|v| carries(v, content)),
        Value::Object(map) => map.values().any(|v| carries(v, content)),
        _ => false,
    }
}

/// The outcome as a scan of every event after the message: how
/// `ws_outcome` was computed before its indexes, kept to check them.
fn ws_outcome_by_scan(
    events: &[Event],
    reading: &Reading,
    i: usize,
    content: Option<&str>,
    windows: Windows,
) -> Outcome {
    let sent = &events[i];
    let correlation = match &sent.kind {
        EventKind::WsMessage(m) => m.correlation.as_deref(),
        _ => None,
    };
    let deadline = sent.t_us.saturating_add(windows.delivery_us);
    let mut answered: Option<u64> = None;
    let mut echo: Option<(u64, Option<Map<String, Value>>)> = None;
    for (j, event) in events.iter().enumerate().skip(i + 1) {
        if event.t_us > deadline {
            break;
        }
        match &event.kind {
            EventKind::WsMessage(m) if m.dir == Direction::UpstreamToClient => {
                let same_conn = reading.sessions[j] == reading.sessions[i];
                let answers =
                    same_conn && correlation.is_some() && m.correlation.as_deref() == correlation;
                let payload = reading.payloads[j].as_ref();
                // An error answers it when it carries its id, or carries no
                // id at all and nothing has answered it yet.
                if same_conn
                    && m.msg_role == Some(Role::Error)
                    && (answers || (m.correlation.is_none() && answered.is_none()))
                {
                    let reason = payload.map_or_else(|| "(no details)".to_owned(), error_text);
                    return Outcome::Failed {
                        evidence: vec![sent.seq, event.seq],
                        status: None,
                        error: None,
                        reason: format!("error reply: {reason}"),
                    };
                }
                if answers && answered.is_none() {
                    answered = Some(event.seq);
                }
                if echo.is_none() {
                    if let (Some(content), Some(value)) = (content, payload) {
                        if carries(value, content) {
                            let saved = match value {
                                Value::Object(o) => Some(o.clone()),
                                _ => None,
                            };
                            echo = Some((event.seq, saved));
                        }
                    }
                }
                if echo.is_some() && (answered.is_some() || correlation.is_none()) {
                    break;
                }
            }
            EventKind::WsClose(c)
                if reading.sessions[j] == reading.sessions[i]
                    && answered.is_none()
                    && echo.is_none()
                    && c.initiator == Side::Upstream
                    && !c.is_normal() =>
            {
                let how = c.code.map_or("dropped the connection".to_owned(), |code| {
                    format!("closed the socket with {code}")
                });
                return Outcome::Failed {
                    evidence: vec![sent.seq, event.seq],
                    status: c.code,
                    error: None,
                    reason: format!("the upstream {how} right after the message"),
                };
            }
            _ => {}
        }
    }
    match (answered, echo) {
        (Some(evidence), saved) => Outcome::Succeeded {
            evidence,
            saved: saved.and_then(|(_, s)| s),
        },
        (None, Some((evidence, saved))) => Outcome::Succeeded { evidence, saved },
        (None, None) => Outcome::Unconfirmed,
    }
}

/// Every WebSocket send of `events`: its outcome from the indexes
/// against the scan's; returns the outcomes.
fn outcomes_agree(events: &[Event], name: &str) -> Vec<Outcome> {
    let reading = Reading::of(events);
    let windows = Windows {
        delivery_us: 2_000_000,
    };
    let mut outcomes = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let EventKind::WsMessage(m) = &event.kind else {
            continue;
        };
        let Some(payload) = &reading.payloads[i] else {
            continue;
        };
        if m.dir != Direction::ClientToUpstream {
            continue;
        }
        let content = content_of(payload);
        let content = content.as_deref();
        let outcome = ws_outcome(events, &reading, i, content, windows);
        assert_eq!(
            outcome,
            ws_outcome_by_scan(events, &reading, i, content, windows),
            "{name}: the send at seq {}",
            event.seq
        );
        outcomes.push(outcome);
    }
    outcomes
}

fn capture_lines(lines: &[String]) -> Vec<Event> {
    let header = r#"{"type":"header","format_version":1,"wsdiag_version":"0.1.0","started_at":"2026-11-24T03:56:12Z","listen":"127.0.0.1:1","upstream":"http://127.0.0.1:2","body_limit":262144}"#;
    let text = format!("{header}\n{}\n", lines.join("\n"));
    crate::capture::reader::read(text.as_bytes(), std::path::Path::new("synthetic"))
        .unwrap()
        .events
}

#[test]
fn a_sends_outcome_from_the_indexes_is_the_scans_on_every_recorded_capture() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs = vec![root.join("captures"), root.join("tests/fixtures")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                files.push(path);
            }
        }
    }
    let mut sends = 0;
    for path in &files {
        if let Ok(capture) = crate::capture::read_path(path) {
            sends += outcomes_agree(&capture.events, &path.display().to_string()).len();
        }
    }
    assert!(
        files.len() > 20 && sends > 20,
        "{} files, {sends} sends",
        files.len()
    );
}

/// Random chats on three sockets: sends with and without correlation
/// ids, echoes of recent contents on any socket, answers, error replies
/// with and without ids, abnormal closes by the upstream, messages a few
/// milliseconds to seconds apart or right at a send's deadline, messages
/// of no connection, and a clock that goes back.
#[test]
fn a_sends_outcome_from_the_indexes_is_the_scans_on_random_chats() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut kinds = std::collections::BTreeMap::new();
    for round in 0..20 {
        let mut lines = Vec::new();
        let mut t: u64 = 1_000_000;
        let mut last_send = t;
        for conn in 1..=3 {
            lines.push(format!(
                r#"{{"seq":{conn},"t_us":{t},"conn":{conn},"type":"ws_handshake","exchange":{conn},"uri":"/ws/{conn}/","status":101,"accepted":true}}"#
            ));
        }
        for seq in 4..600u64 {
            t = match next(40) {
                0 => t.saturating_sub(3_000_000),
                1..=4 => t + 1_500_000,
                // Right at the last send's deadline.
                5 => last_send + 2_000_000,
                _ => t + next(200_000),
            };
            // Now and then a message of no connection (no session).
            let conn = match next(15) {
                0 => String::new(),
                _ => format!(r#""conn":{},"#, 1 + next(3)),
            };
            let word = next(6);
            let id = next(5);
            let text = |v: String| serde_json::to_string(&v).unwrap();
            let line = match next(10) {
                // The JSON dialect reads `type` and `request_id`.
                0..=3 => {
                    last_send = t;
                    let correlation = match next(2) {
                        0 => format!(r#","request_id":"{id}""#),
                        _ => String::new(),
                    };
                    let body = format!(r#"{{"type":"chat","message":"word {word}"{correlation}}}"#);
                    format!(
                        r#"{{"seq":{seq},"t_us":{t},{conn}"type":"ws_message","dir":"client_to_upstream","opcode":"text","len":1,"text":{}}}"#,
                        text(body)
                    )
                }
                4..=7 => {
                    let body = match next(4) {
                        0 => r#"{"type":"error","detail":"no"}"#.to_owned(),
                        1 => format!(r#"{{"type":"error","detail":"no","request_id":"{id}"}}"#),
                        2 => format!(r#"{{"type":"ack","request_id":"{id}"}}"#),
                        _ => format!(
                            r#"{{"type":"chat","data":{{"id":{seq},"message":"word  {word}"}}}}"#
                        ),
                    };
                    format!(
                        r#"{{"seq":{seq},"t_us":{t},{conn}"type":"ws_message","dir":"upstream_to_client","opcode":"text","len":1,"text":{}}}"#,
                        text(body)
                    )
                }
                8 if next(4) == 0 => format!(
                    r#"{{"seq":{seq},"t_us":{t},{conn}"type":"ws_close","initiator":"upstream","code":1011,"reason":"boom","clean":true,"messages_sent":0,"messages_received":0}}"#
                ),
                _ => format!(
                    r#"{{"seq":{seq},"t_us":{t},{conn}"type":"ws_message","dir":"upstream_to_client","opcode":"text","len":1,"text":{}}}"#,
                    text(format!(r#"{{"type":"presence","user":"u{word}"}}"#))
                ),
            };
            lines.push(line);
        }
        let events = capture_lines(&lines);
        for outcome in outcomes_agree(&events, &format!("round {round}")) {
            let kind = match outcome {
                Outcome::Failed { reason, .. } if reason.starts_with("error reply") => "error",
                Outcome::Failed { .. } => "closed",
                Outcome::Succeeded { saved: Some(_), .. } => "echoed",
                Outcome::Succeeded { saved: None, .. } => "answered",
                Outcome::Unconfirmed => "unconfirmed",
            };
            *kinds.entry(kind).or_insert(0) += 1;
        }
    }
    // Every kind of outcome came up, many times.
    assert!(
        kinds.len() == 5 && kinds.values().all(|&n| n > 20),
        "{kinds:?}"
    );
}

#[test]
fn conversations_come_from_paths_or_fields() {
    let none = Map::new();
    assert_eq!(
        conversation_of("/api/conversations/3/messages/", &none).as_deref(),
        Some("3")
    );
    assert_eq!(
        conversation_of("/ws/chat/3/?token=x", &none).as_deref(),
        Some("3")
    );
    let mut fields = Map::new();
    fields.insert("conversation".into(), Value::from(7));
    assert_eq!(
        conversation_of("/api/messages/", &fields).as_deref(),
        Some("7")
    );
    assert_eq!(conversation_of("/api/messages/", &none), None);
    assert_eq!(
        conversation_of("/api/v1/rooms/room-3/messages", &none).as_deref(),
        Some("room-3")
    );
    assert_eq!(conversation_of("/api/v2/messages", &none), None);
    let mut room = Map::new();
    room.insert("room".into(), Value::from("lobby"));
    assert_eq!(
        conversation_of("/socket.io/", &room).as_deref(),
        Some("lobby")
    );
}

#[test]
fn credential_requests_are_not_sends() {
    let body = |s: &str| json_object(s).unwrap();
    assert!(is_credential_exchange(
        "/api/login",
        &body(r#"{"username":"alice","password":"hunter2-long-secret"}"#)
    ));
    assert!(is_credential_exchange(
        "/api/token/refresh/",
        &body(r#"{"refresh":"eyJ"}"#)
    ));
    assert!(is_credential_exchange(
        "/api/users/",
        &body(r#"{"email":"a@b.c","password1":"x"}"#)
    ));
    assert!(!is_credential_exchange(
        "/api/rooms/3/messages",
        &body(r#"{"text":"cc"}"#)
    ));
    assert!(!is_credential_exchange(
        "/api/tokenizer/3/messages",
        &body(r#"{"text":"cc"}"#)
    ));
    assert!(!is_credential_exchange(
        "/api/rooms/3/messages",
        &body(r#"{"text":"cc","pin":true}"#)
    ));
    let fields = body(r#"{"username":"al","pass":"a very long password"}"#);
    assert_eq!(
        main_text(&fields).as_deref(),
        Some("al"),
        "a password is never content"
    );
}

#[test]
fn the_main_text_is_the_longest_string_normalized() {
    let fields = json_object(r#"{"message":"  hello   world ","lang":"fr","n":3}"#).unwrap();
    assert_eq!(main_text(&fields).as_deref(), Some("hello world"));
    let fields = json_object(r#"{"room":"room-3","text":"cc"}"#).unwrap();
    assert_eq!(main_text(&fields).as_deref(), Some("cc"));
    let fields = json_object(r#"{"room":"room-3","note":"cc"}"#).unwrap();
    assert_eq!(main_text(&fields).as_deref(), Some("cc"));
}
