//! Dialects on frames produced by the protocols' real libraries (recorded
//! by `tests/dialect_apps/record_fixtures.js` from socket.io, graphql-ws,
//! @stomp/stompjs, mqtt + aedes, @msgpack/msgpack, ws) and on frames
//! written from the protocol documents (ActionCable, Phoenix, SignalR,
//! SockJS: each fixture's first line cites its source).
//!
//! Each fixture becomes a capture file of version 1 shape (no dialect
//! fields), so the reader's migration classifies it exactly as the hub
//! would live; then `wsdiag show` prints it as a user would see it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::support::root;

/// Reads fixture `name` and writes it as a capture in `dir`; returns its
/// path and the `expect` objects found beside its messages (by seq).
fn capture_of(name: &str, dir: &Path) -> (PathBuf, Vec<(u64, Value)>) {
    let text = std::fs::read_to_string(root().join("tests/fixtures/dialects").join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let header = json!({"type":"header","format_version":1,"wsdiag_version":"0.1.0",
        "started_at":"2026-11-29T10:00:00Z","listen":"127.0.0.1:9000",
        "upstream":"http://127.0.0.1:8000","body_limit":262144});
    let mut lines = vec![header.to_string()];
    let mut expects = Vec::new();
    let (mut seq, mut conn, mut exchange) = (0u64, 0u64, 0u64);
    let mut push = |conn: u64, mut event: Value| -> u64 {
        seq += 1;
        event["seq"] = json!(seq);
        event["t_us"] = json!(seq * 1000);
        event["conn"] = json!(conn);
        lines.push(event.to_string());
        seq
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let record: Value = serde_json::from_str(line).unwrap();
        if record.get("source").is_some() {
            conn += 1;
            exchange += 1;
            let uri = record["uri"].as_str().unwrap_or("/");
            let sub = record["subprotocol"].as_str();
            push(conn, json!({"type":"conn_open","peer":"127.0.0.1:5000"}));
            push(
                conn,
                json!({"type":"http_request","exchange":exchange,"method":"GET","uri":uri,
                "version":"HTTP/1.1","headers":[],"body":{"len":0}}),
            );
            let mut hs = json!({"type":"ws_handshake","exchange":exchange,"uri":uri,"status":101,"accepted":true});
            if let Some(sub) = sub {
                hs["subprotocol"] = json!(sub);
                hs["subprotocols_offered"] = json!([sub]);
            }
            push(conn, hs);
        } else if let Some(method) = record["method"].as_str() {
            // An HTTP exchange of the Socket.IO polling transport.
            conn += 1;
            exchange += 1;
            let body = |s: &Value| {
                let s = s.as_str().unwrap_or("");
                json!({"len": s.len(), "text": s})
            };
            push(
                conn,
                json!({"type":"http_request","exchange":exchange,"method":method,
                "uri":record["uri"],"version":"HTTP/1.1","headers":[],"body":body(&record["request_body"])}),
            );
            push(
                conn,
                json!({"type":"http_response","exchange":exchange,"status":record["status"],
                "headers":[],"body":body(&record["response_body"]),"duration_us":100}),
            );
        } else {
            let (len, payload) = match (record["text"].as_str(), record["base64"].as_str()) {
                (Some(t), _) => (t.len(), json!({"text": t})),
                (None, Some(b)) => {
                    use base64::Engine as _;
                    let n = base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .unwrap()
                        .len();
                    (n, json!({"base64": b}))
                }
                _ => panic!("{name}: a message without text or base64: {line}"),
            };
            let mut m = json!({"type":"ws_message","dir":record["dir"],"opcode":record["opcode"],"len":len});
            for (k, v) in payload.as_object().unwrap() {
                m[k] = v.clone();
            }
            let at = push(conn, m);
            if let Some(expect) = record.get("expect") {
                expects.push((at, expect.clone()));
            }
        }
    }
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    (path, expects)
}

/// `wsdiag show FILE ARGS…` with colour off; returns stdout.
fn show(file: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wsdiag"))
        .arg("show")
        .arg(file)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The message lines of `show` output (those with an arrow), without the
/// time and connection.
fn message_lines(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.contains(" → ") || l.contains(" ← "))
        .filter_map(|l| {
            l.split_once(" #")
                .map(|(_, rest)| rest.split_once(' ').unwrap().1.to_owned())
        })
        .collect()
}

#[test]
fn socketio_events_are_named_and_unwrapped_on_the_websocket_transport() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = capture_of("socketio-websocket.jsonl", dir.path());
    let lines = message_lines(&show(&file, &["--type", "chat message"]));
    assert_eq!(lines.len(), 2, "the event and its ack: {lines:?}");
    assert!(lines[0].starts_with("→ chat message {"), "{lines:?}");
    assert!(lines[0].contains(r#""text":"cc""#), "{lines:?}");
    assert!(
        lines[1].starts_with("← chat message {"),
        "the ack: {lines:?}"
    );
    let created = message_lines(&show(&file, &["--type", "message.created"]));
    assert!(
        created.iter().all(|l| l.starts_with("← message.created {")),
        "{created:?}"
    );
    assert!(!created.is_empty());
    // The upload's binary attachment carries its event's name.
    let upload = message_lines(&show(&file, &["--type", "upload", "--role", "send"]));
    assert_eq!(upload.len(), 2, "the event and its attachment: {upload:?}");
    assert!(upload[1].contains("4 B"), "{upload:?}");
    // Acks are replies; Engine.IO pings are hidden unless asked for.
    let replies = message_lines(&show(&file, &["--role", "reply"]));
    assert!(replies.len() >= 2, "{replies:?}");
    let all = show(&file, &[]);
    let beats = show(&file, &["--heartbeats"]);
    assert!(message_lines(&beats).len() >= message_lines(&all).len());
}

#[test]
fn socketio_polling_packets_and_the_upgrade_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = capture_of("socketio-polling.jsonl", dir.path());
    let out = show(&file, &["--type", "probe", "--heartbeats"]);
    assert_eq!(message_lines(&out).len(), 2, "2probe and 3probe: {out}");
    let upgrade = show(&file, &["--type", "upgrade"]);
    assert_eq!(message_lines(&upgrade).len(), 1, "{upgrade}");
}

#[test]
fn graphql_operations_name_their_results() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = capture_of("graphql-ws.jsonl", dir.path());
    let lines = message_lines(&show(&file, &["--type", "OnMessage"]));
    assert!(
        lines.iter().any(|l| l.starts_with("→ OnMessage")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .filter(|l| l.starts_with("← OnMessage"))
            .count()
            >= 2,
        "{lines:?}"
    );
    let errors = message_lines(&show(&file, &["--role", "error"]));
    assert!(
        errors.len() >= 2,
        "the thrown and the invalid query: {errors:?}"
    );
}

#[test]
fn stomp_commands_destinations_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = capture_of("stomp.jsonl", dir.path());
    let sends = message_lines(&show(
        &file,
        &["--type", "SEND", "--topic", "/app/chat.send"],
    ));
    assert_eq!(
        sends,
        [r#"→ SEND /app/chat.send {"text":"cc"}"#],
        "{sends:?}"
    );
    let errors = message_lines(&show(&file, &["--role", "error"]));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("← ERROR"), "{errors:?}");
    let beats = message_lines(&show(&file, &["--role", "heartbeat"]));
    assert_eq!(beats.len(), 2, "one heart-beat each way: {beats:?}");
}

#[test]
fn mqtt_packets_split_over_many_messages_are_read_as_a_stream() {
    for name in ["mqtt-v4.jsonl", "mqtt-v5.jsonl"] {
        let dir = tempfile::tempdir().unwrap();
        let (file, _) = capture_of(name, dir.path());
        let publishes = message_lines(&show(&file, &["--type", "PUBLISH"]));
        // QoS 0 and QoS 1, client to broker and broker to client.
        assert_eq!(publishes.len(), 4, "{name}: {publishes:?}");
        assert!(
            publishes.iter().all(|l| l.contains("PUBLISH sensors/1")),
            "{publishes:?}"
        );
        let connack = message_lines(&show(&file, &["--type", "CONNACK"]));
        assert_eq!(connack.len(), 1, "{name}: {connack:?}");
    }
}

#[test]
fn messagepack_frames_are_shown_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = capture_of("msgpack.jsonl", dir.path());
    let lines = message_lines(&show(&file, &["--type", "chat_message"]));
    assert_eq!(lines[0], r#"→ chat_message {"message":"cc"}"#, "{lines:?}");
    assert!(
        lines[1].starts_with(r#"← chat_message {"id":"#),
        "{lines:?}"
    );
}

#[test]
fn jsonrpc_responses_are_named_after_their_requests() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = capture_of("jsonrpc.jsonl", dir.path());
    let lines = message_lines(&show(&file, &["--type", "chat.send"]));
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with(r#"→ chat.send {"text":"cc"}"#),
        "{lines:?}"
    );
    let errors = message_lines(&show(&file, &["--role", "error"]));
    assert_eq!(errors.len(), 1, "{errors:?}");
}

/// Every fixture message with an `expect` is read as it says (the
/// protocol documents' fixtures carry them), through the capture reader.
#[test]
fn document_fixtures_are_read_as_their_protocols_say() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for entry in std::fs::read_dir(root().join("tests/fixtures/dialects")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".jsonl") {
            continue;
        }
        let (file, expects) = capture_of(&name, dir.path());
        let capture = wsdiag::capture::read_path(&file).unwrap();
        for (seq, expect) in expects {
            let event = capture.events.iter().find(|e| e.seq == seq).unwrap();
            let wsdiag::event::EventKind::WsMessage(m) = &event.kind else {
                panic!("{name}: seq {seq} is not a message");
            };
            let got = json!({
                "msg_type": m.msg_type,
                "msg_role": m.msg_role,
                "topic": m.topic,
                "correlation": m.correlation,
            });
            for (key, want) in expect.as_object().unwrap() {
                if &got[key] != want {
                    let text = m.payload.text().unwrap_or("(binary)");
                    wrong.push(format!(
                        "{name} seq {seq} {key}: got {} want {want} in {text:?}",
                        got[key]
                    ));
                }
            }
            checked += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} expectations not met:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(
        checked >= 20,
        "only {checked} expectations: are the document fixtures there?"
    );
}

/// The send attempts `wsdiag diagnose` finds in fixture `name`: each as
/// (msg_type, result, reason).
fn attempts(name: &str) -> Vec<(String, String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = capture_of(name, dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_wsdiag"))
        .arg("diagnose")
        .arg(&file)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    report["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["path"] == "ws")
        .map(|a| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (
                text(&a["msg_type"]),
                text(&a["outcome"]["result"]),
                text(&a["outcome"]["reason"]),
            )
        })
        .collect()
}

/// A send's correlated answer decides its outcome: the reply with its id
/// delivers it, an error with its id fails it, in every dialect that has
/// ids (a Phoenix `ref`, a JSON-RPC `id`, a STOMP `receipt`, a SignalR
/// `invocationId`).
#[test]
fn correlated_answers_decide_each_send() {
    let phoenix = attempts("phoenix-v2.jsonl");
    assert!(
        phoenix.contains(&("new_msg".into(), "succeeded".into(), String::new())),
        "{phoenix:?}"
    );
    assert!(
        phoenix
            .iter()
            .any(|(t, r, why)| t == "new_msg" && r == "failed" && why.contains("empty body")),
        "{phoenix:?}"
    );
    let rpc = attempts("jsonrpc.jsonl");
    assert!(
        rpc.iter()
            .any(|(t, r, _)| t == "chat.send" && r == "succeeded"),
        "{rpc:?}"
    );
    assert!(
        rpc.iter().any(|(t, r, why)| t == "chat.nope"
            && r == "failed"
            && why.contains("Method not found")),
        "{rpc:?}"
    );
    let stomp = attempts("stomp.jsonl");
    assert!(
        stomp.iter().any(|(t, r, _)| t == "SEND" && r == "failed"),
        "the SEND the broker refused: {stomp:?}"
    );
    let signalr = attempts("signalr.jsonl");
    assert!(
        signalr.iter().any(|(_, r, _)| r == "failed"),
        "the invocation completed with an error: {signalr:?}"
    );
    assert!(
        signalr.iter().any(|(_, r, _)| r == "succeeded"),
        "{signalr:?}"
    );
}
