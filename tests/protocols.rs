//! The other message protocols end to end: each real server and client of
//! `tests/dialect_apps` (graphql-ws, a STOMP 1.2 broker with
//! @stomp/stompjs, aedes with mqtt.js, MessagePack over ws, JSON-RPC over
//! ws) talking through the real `wsdiag proxy` binary, then `wsdiag show`
//! on the capture, filtered as a user would.

use crate::socketio::{wsdiag, NodeServer};
use crate::support::Running;

/// Runs `script server`, `wsdiag proxy` in front of it and `script client`
/// through the proxy with `args`; returns the capture's directory.
fn through_proxy(script: &str, args: &[&str], env: &[(&str, &str)]) -> tempfile::TempDir {
    let server = NodeServer::start(script, &["server"], env);
    let dir = tempfile::tempdir().unwrap();
    let (proxy, addr) = Running::proxy(&server.url, "capture.jsonl", &[], dir.path());
    // The client takes the URL after its mode.
    let url = format!("http://{addr}");
    let out = std::process::Command::new("node")
        .arg(script)
        .arg("client")
        .arg(&url)
        .args(args)
        .current_dir(crate::socketio::dialect_apps())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} client through wsdiag: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (console, status) = proxy.stop("INT");
    assert!(status.success(), "{console}");
    dir
}

/// The message lines of `wsdiag show capture.jsonl ARGS…`, from the arrow.
fn shown(dir: &tempfile::TempDir, args: &[&str]) -> Vec<String> {
    let mut all = vec!["show", "capture.jsonl"];
    all.extend_from_slice(args);
    let (out, code) = wsdiag(&all, dir.path());
    assert_eq!(code, 0, "{out}");
    out.lines()
        .filter(|l| !l.starts_with("Summary"))
        .filter_map(|l| l.find(['→', '←']).map(|i| l[i..].to_owned()))
        .collect()
}

#[test]
fn graphql_ws_operations_are_named_through_the_proxy() {
    let dir = through_proxy("graphql_ws.js", &[], &[]);
    let sub = shown(
        &dir,
        &["--type", "OnMessage", "--role", "send", "--role", "push"],
    );
    assert!(sub.iter().any(|l| l.starts_with("→ OnMessage")), "{sub:?}");
    assert_eq!(
        sub.iter().filter(|l| l.starts_with("← OnMessage")).count(),
        2,
        "{sub:?}"
    );
    let send = shown(&dir, &["--type", "Send"]);
    assert!(
        send.iter()
            .any(|l| l.starts_with("← Send {\"sendMessage\"")),
        "{send:?}"
    );
    let errors = shown(&dir, &["--role", "error"]);
    assert!(errors.iter().any(|l| l.starts_with("← Boom")), "{errors:?}");
    assert!(
        errors.iter().any(|l| l.starts_with("← Invalid")),
        "{errors:?}"
    );
}

#[test]
fn stomp_frames_are_named_through_the_proxy() {
    let dir = through_proxy("stomp.js", &[], &[]);
    let send = shown(&dir, &["--type", "SEND", "--topic", "/app/chat.send"]);
    assert_eq!(send, [r#"→ SEND /app/chat.send {"text":"cc"}"#], "{send:?}");
    let message = shown(&dir, &["--type", "MESSAGE"]);
    assert!(
        message[0].starts_with("← MESSAGE /topic/chat {"),
        "{message:?}"
    );
    assert_eq!(shown(&dir, &["--role", "error"]).len(), 1);
    assert!(shown(&dir, &[]).len() < shown(&dir, &["--heartbeats"]).len());
}

#[test]
fn mqtt_packets_are_named_through_the_proxy() {
    for version in [&[][..], &["--v5"][..]] {
        let dir = through_proxy("mqtt.js", version, &[]);
        let publish = shown(&dir, &["--type", "PUBLISH", "--topic", "sensors/1"]);
        assert_eq!(publish.len(), 4, "{version:?}: {publish:?}");
        assert!(
            publish.iter().any(|l| l.starts_with("→ PUBLISH sensors/1")),
            "{publish:?}"
        );
        assert_eq!(shown(&dir, &["--type", "SUBACK"]).len(), 1, "{version:?}");
    }
}

#[test]
fn messagepack_frames_are_decoded_through_the_proxy() {
    let dir = through_proxy("msgpack_chat.js", &[], &[]);
    let chat = shown(&dir, &["--type", "chat_message"]);
    assert_eq!(chat[0], r#"→ chat_message {"message":"cc"}"#, "{chat:?}");
    assert!(chat[1].contains(r#""sender":"alice""#), "{chat:?}");
}

#[test]
fn jsonrpc_calls_and_errors_are_named_through_the_proxy() {
    let dir = through_proxy("jsonrpc.js", &[], &[]);
    let send = shown(&dir, &["--type", "chat.send"]);
    assert_eq!(send.len(), 2, "call and result: {send:?}");
    let errors = shown(&dir, &["--role", "error"]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("← chat.nope {\"code\":-32601"),
        "{errors:?}"
    );
}

/// MessagePack: a replay against a server whose binary answer changed
/// fails on the decoded difference; `wsdiag mock` of the recording answers
/// the client's binary message with the recorded binary answer, and says
/// what it expected when a message matches nothing.
#[test]
fn messagepack_sessions_replay_and_mock_by_their_decoded_form() {
    let dir = through_proxy("msgpack_chat.js", &[], &[]);
    let same = NodeServer::start("msgpack_chat.js", &["server"], &[]);
    let (out, code) = wsdiag(
        &["replay", "capture.jsonl", "--target", &same.url],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}");
    let changed = NodeServer::start(
        "msgpack_chat.js",
        &["server"],
        &[("MSGPACK_ANSWER", "changed")],
    );
    let (out, code) = wsdiag(
        &["replay", "capture.jsonl", "--target", &changed.url],
        dir.path(),
    );
    assert_eq!(code, 1, "a changed binary answer is a mismatch: {out}");
    assert!(
        out.contains("CHANGED"),
        "the decoded difference is named: {out}"
    );
    assert!(out.contains("/data/message"), "{out}");
    assert!(
        out.contains(r#"missing: ← binary {"type":"chat_message","data":{"id":1,"message":"cc""#),
        "{out}"
    );

    let mut mock = Running::start(
        &["mock", "capture.jsonl", "--listen", "127.0.0.1:0"],
        dir.path(),
    );
    let addr = crate::support::address_in(&mock.line_with("127.0.0.1:"));
    let out = std::process::Command::new("node")
        .args(["msgpack_chat.js", "client", &format!("http://{addr}")])
        .current_dir(crate::socketio::dialect_apps())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the mock answers the binary message: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["received"]["data"]["message"], "cc", "{summary}");
    let _ = mock.child.kill();
}
