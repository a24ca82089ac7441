//! Socket.IO end to end: the Express + Socket.IO v4 chat of
//! `tests/dialect_apps` (npm, pinned) on 127.0.0.1 port 0, the real
//! `wsdiag proxy` binary in front, `socket.io-client` through it in both
//! transports, then `wsdiag show` and `wsdiag diagnose` on the capture.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::{address_in, root, Running};

/// `tests/dialect_apps` with its `node_modules`, installed once from the
/// lock file.
pub fn dialect_apps() -> PathBuf {
    static APPS: OnceLock<PathBuf> = OnceLock::new();
    APPS.get_or_init(|| {
        let modules = [
            "socket.io",
            "socket.io-client",
            "express",
            "graphql-ws",
            "aedes",
        ];
        crate::support::npm_ci("tests/dialect_apps", &modules)
    })
    .clone()
}

/// A node server of `tests/dialect_apps`, running until dropped; its URL.
pub struct NodeServer {
    running: Running,
    pub url: String,
}

impl NodeServer {
    /// Starts `node SCRIPT ARGS…` with `env`; returns once it printed its
    /// ready line.
    pub fn start(script: &str, args: &[&str], env: &[(&str, &str)]) -> NodeServer {
        let dir = dialect_apps();
        let mut command = Command::new("node");
        command
            .arg(script)
            .args(args)
            .current_dir(&dir)
            .stderr(Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut running = Running::spawn(command);
        let url = format!("http://{}", address_in(&running.line_with("listening on")));
        NodeServer { running, url }
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.running.child.kill();
    }
}

/// Runs a dialect app client against `url`; returns its JSON summary.
pub fn client(script: &str, url: &str, args: &[&str]) -> Value {
    let out = Command::new("node")
        .arg(script)
        .arg(url)
        .args(args)
        .current_dir(dialect_apps())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `wsdiag ARGS…` with colour off; stdout and the exit code.
pub fn wsdiag(args: &[&str], cwd: &Path) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_wsdiag"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// The chat server with `bug` (or none), the proxy in front of it
/// recording to `capture.jsonl`, and the client run through it with
/// `args`. Returns the capture's directory, the client's summary and the
/// proxy's console.
fn session(bug: Option<&str>, args: &[&str]) -> (tempfile::TempDir, Value, String) {
    let env: Vec<(&str, &str)> = bug.map(|b| ("CHAT_BUG", b)).into_iter().collect();
    let server = NodeServer::start("socketio_chat.js", &[], &env);
    let dir = tempfile::tempdir().unwrap();
    let (proxy, addr) = Running::proxy(&server.url, "capture.jsonl", &[], dir.path());
    let summary = client("socketio_client.js", &format!("http://{addr}"), args);
    let (console, status) = proxy.stop("INT");
    assert!(status.success(), "{console}");
    (dir, summary, console)
}

/// A capture of the working chat driven with `args`: its directory
/// (holding `capture.jsonl`).
pub fn recorded_session(args: &[&str]) -> tempfile::TempDir {
    session(None, args).0
}

/// The message lines (→ or ←) of console output, from the arrow on.
fn arrows(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| !l.starts_with("Summary"))
        .filter_map(|l| l.find(['→', '←']).map(|i| &l[i..]))
        .filter(|l| !l.contains("POST ") && !l.contains("GET "))
        .collect()
}

#[test]
fn socketio_events_are_read_on_the_websocket_transport() {
    let (dir, summary, console) = session(None, &["--transport", "websocket"]);
    assert_eq!(summary["ack"]["ok"], true, "{summary}");
    // The live console names the events and shows their arguments.
    let live = arrows(&console);
    assert!(
        live.iter()
            .any(|l| l.starts_with("→ chat message {\"room\":\"room-3\",\"text\":\"cc\"}")),
        "{console}"
    );
    assert!(
        live.iter().any(|l| l.starts_with("← message.created {")),
        "{console}"
    );
    assert!(
        !live
            .iter()
            .any(|l| l.contains("→ ping") || l.contains("← ping")),
        "heartbeats hidden: {console}"
    );
    let (shown, code) = wsdiag(
        &["show", "capture.jsonl", "--type", "chat message"],
        dir.path(),
    );
    assert_eq!(code, 0);
    let shown = arrows(&shown);
    assert_eq!(shown.len(), 2, "the event and its ack: {shown:?}");
    assert!(shown[1].starts_with("← chat message {"), "{shown:?}");
    assert!(shown[1].contains("\"ok\":true"), "{shown:?}");
    let (acks, _) = wsdiag(&["show", "capture.jsonl", "--role", "reply"], dir.path());
    assert_eq!(
        arrows(&acks).len(),
        3,
        "join, chat message and upload acks: {acks}"
    );
}

#[test]
fn socketio_events_are_read_on_the_polling_transport_too() {
    let (dir, summary, _) = session(None, &["--transport", "polling-only"]);
    assert_eq!(summary["ack"]["ok"], true, "{summary}");
    // Every packet travelled in HTTP bodies; each one is a message.
    let sends = [
        "show",
        "capture.jsonl",
        "--type",
        "chat message",
        "--role",
        "send",
    ];
    let (shown, _) = wsdiag(&sends, dir.path());
    let lines = arrows(&shown);
    assert_eq!(lines.len(), 1, "{shown}");
    assert!(lines[0].contains("\"text\":\"cc\""), "{shown}");
    let (created, _) = wsdiag(
        &["show", "capture.jsonl", "--type", "message.created"],
        dir.path(),
    );
    assert_eq!(arrows(&created).len(), 1, "{created}");
    let upload = [
        "show",
        "capture.jsonl",
        "--type",
        "upload",
        "--role",
        "send",
    ];
    let (upload, _) = wsdiag(&upload, dir.path());
    assert_eq!(
        arrows(&upload).len(),
        2,
        "the event and its base64 attachment: {upload}"
    );
    // The default transport: polling first, then the upgrade.
    let (dir, summary, _) = session(None, &["--transport", "polling"]);
    assert_eq!(summary["upgraded"], true, "{summary}");
    let (probes, _) = wsdiag(&["show", "capture.jsonl", "--type", "probe"], dir.path());
    assert_eq!(arrows(&probes).len(), 2, "2probe and 3probe: {probes}");
    let (sent, _) = wsdiag(&sends, dir.path());
    assert_eq!(arrows(&sent).len(), 1, "{sent}");
}

#[test]
fn a_socketio_send_and_a_failing_rest_send_of_the_same_text_are_one_action() {
    for transport in ["websocket", "polling-only"] {
        let (dir, summary, _) = session(
            Some("no-body-parser"),
            &["--transport", transport, "--rest"],
        );
        assert_eq!(summary["rest_status"], 500, "{summary}");
        let (json, code) = wsdiag(
            &["diagnose", "capture.jsonl", "--format", "json"],
            dir.path(),
        );
        assert_eq!(code, 1, "a failing send path is a problem: {json}");
        let report: Value = serde_json::from_str(&json).unwrap();
        let attempts = report["attempts"].as_array().unwrap();
        let ws: Vec<&Value> = attempts
            .iter()
            .filter(|a| a["path"] == "ws" && a["msg_type"] == "chat message")
            .collect();
        assert_eq!(
            ws.len(),
            1,
            "{transport}: the chat message is a send: {json}"
        );
        assert_eq!(ws[0]["content"], "cc");
        assert_eq!(ws[0]["outcome"]["result"], "succeeded", "acked: {json}");
        let both = report["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["content"] == "cc" && a["attempts"].as_array().unwrap().len() == 2)
            .count();
        assert_eq!(
            both, 1,
            "{transport}: cc sent both ways is one action: {json}"
        );
    }
}

/// The Python side of the same protocol: python-socketio's ASGI server
/// under uvicorn, driven by the same socket.io-client through wsdiag.
#[test]
fn python_socketio_events_are_read_in_both_transports() {
    let python = crate::django::python();
    let script = root().join("tests/dialect_apps/python/socketio_server.py");
    for transport in ["websocket", "polling"] {
        let mut command = Command::new(&python);
        command.arg(&script).stderr(Stdio::null());
        let mut server = Running::spawn(command);
        let url = format!("http://{}", address_in(&server.line_with("listening on")));
        let dir = tempfile::tempdir().unwrap();
        let (proxy, addr) = Running::proxy(&url, "capture.jsonl", &[], dir.path());
        let summary = client(
            "socketio_client.js",
            &format!("http://{addr}"),
            &["--transport", transport],
        );
        assert_eq!(summary["ack"]["ok"], true, "{summary}");
        let (console, _) = proxy.stop("INT");
        let _ = server.child.kill();
        let live = arrows(&console);
        assert!(
            live.iter()
                .any(|l| l.starts_with("→ chat message {\"room\":\"room-3\",\"text\":\"cc\"}")),
            "{transport}: {console}"
        );
        assert!(
            live.iter().any(|l| l.starts_with("← message.created {")),
            "{transport}: {console}"
        );
        let (acks, _) = wsdiag(
            &[
                "show",
                "capture.jsonl",
                "--type",
                "chat message",
                "--role",
                "reply",
            ],
            dir.path(),
        );
        assert_eq!(arrows(&acks).len(), 1, "{transport}: {acks}");
    }
}

/// A Socket.IO session recorded through wsdiag replays against a fresh
/// server (a new `sid`, new ack ids), over WebSocket and over
/// long-polling with its upgrade; against a server whose answers changed,
/// the replay fails and names the difference.
#[test]
fn socketio_sessions_replay_against_a_fresh_server() {
    for transport in ["websocket", "polling", "polling-only"] {
        let (dir, _, _) = session(None, &["--transport", transport]);
        let fresh = NodeServer::start("socketio_chat.js", &[], &[]);
        let (out, code) = wsdiag(
            &["replay", "capture.jsonl", "--target", &fresh.url],
            dir.path(),
        );
        assert_eq!(
            code, 0,
            "{transport}: the same server replays clean:\n{out}"
        );
    }
    let (dir, _, _) = session(None, &["--transport", "websocket"]);
    let changed = NodeServer::start("socketio_chat.js", &[], &[("CHAT_SENDER", "mallory")]);
    let (out, code) = wsdiag(
        &["replay", "capture.jsonl", "--target", &changed.url],
        dir.path(),
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("mallory"), "the difference is named: {out}");
}

/// The Express chat's REST bugs, each diagnosed from Express's own error
/// page through the proxy: the finding, the field, the route's line in
/// `socketio_chat.js`, and the fix in Express's words.
/// The Express chat without a bug: the message goes both ways, and neither
/// the live console nor `diagnose` finds anything.
#[test]
fn express_without_a_bug_gives_no_finding() {
    let (dir, summary, console) = session(None, &["--transport", "websocket", "--rest"]);
    assert!(
        summary["rest_status"].as_u64().is_some_and(|s| s < 300),
        "{summary}"
    );
    assert!(!console.contains('✗'), "{console}");
    let (json, exit) = wsdiag(
        &["diagnose", "capture.jsonl", "--format", "json"],
        dir.path(),
    );
    assert_eq!(exit, 0, "{json}");
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["findings"], Value::Array(Vec::new()), "{json}");
}

#[test]
fn express_rest_bugs_are_diagnosed_in_express_words() {
    let cases = [
        ("no-body-parser", "rest-body-not-parsed", "express.json()"),
        ("no-sender", "rest-user-missing", "middleware"),
        (
            "error-after-save",
            "rest-error-after-save",
            "retry saves it twice",
        ),
        (
            "wrong-field",
            "rest-unknown-field",
            "send `content` instead of `text`",
        ),
    ];
    for (bug, code, fix) in cases {
        let (dir, summary, console) = session(Some(bug), &["--transport", "websocket", "--rest"]);
        assert!(
            summary["rest_status"].as_u64() >= Some(400),
            "{bug}: {summary}"
        );
        let (json, exit) = wsdiag(
            &["diagnose", "capture.jsonl", "--format", "json"],
            dir.path(),
        );
        assert_eq!(exit, 1, "{bug}: {json}");
        let report: Value = serde_json::from_str(&json).unwrap();
        let findings: Vec<&Value> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["path"] == "rest")
            .collect();
        assert_eq!(findings.len(), 1, "{bug}: {json}");
        let f = findings[0];
        assert_eq!(f["code"], code, "{bug}: {json}");
        // The live console explained it the same way, under the response.
        assert!(
            console.contains(&format!("✗ {code}:")),
            "{bug}: live console:\n{console}"
        );
        assert!(
            f["next_step"].as_str().unwrap().contains(fix),
            "{bug}: {}",
            f["next_step"]
        );
        assert!(
            !json.contains("perform_create"),
            "{bug}: no Django words for Express"
        );
        if bug != "wrong-field" {
            let file = f["location"]["file"].as_str().unwrap_or_default();
            assert!(
                file.ends_with("socketio_chat.js"),
                "{bug}: the route's line: {json}"
            );
        }
    }
}

/// Two Socket.IO server processes behind a load balancer without sticky
/// sessions (`round_robin.js`, as a plain nginx `upstream` block): the real
/// socket.io-client over long-polling opens a session on one process and
/// its next request reaches the other, which answers 400 "Session ID
/// unknown". The finding names the session, says the same upstream issued
/// it, and gives sticky sessions as the fix.
#[test]
fn a_session_refused_by_another_server_process_is_named() {
    let balancer = NodeServer::start("round_robin.js", &[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let (proxy, addr) = Running::proxy(&balancer.url, "capture.jsonl", &[], dir.path());
    // The client cannot connect; its watchdog ends it after 3 s.
    let _ = Command::new("node")
        .args(["socketio_client.js", &format!("http://{addr}")])
        .args(["--transport", "polling-only"])
        .env("DIALECT_TIMEOUT_MS", "3000")
        .current_dir(dialect_apps())
        .output()
        .unwrap();
    let (console, _) = proxy.stop("INT");
    let (json, exit) = wsdiag(
        &["diagnose", "capture.jsonl", "--format", "json"],
        dir.path(),
    );
    assert_eq!(exit, 1, "{json}");
    let report: Value = serde_json::from_str(&json).unwrap();
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "socketio-session-unknown")
        .unwrap_or_else(|| panic!("{json}"));
    let title = f["title"].as_str().unwrap();
    let sid = title
        .split("Engine.IO session ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .unwrap();
    assert_eq!(sid.len(), 20, "an Engine.IO sid: {title}");
    assert!(title.contains("it had issued"), "{title}");
    assert!(
        f["next_step"].as_str().unwrap().contains("sticky sessions"),
        "{f:#}"
    );
    assert!(console.contains("✗ socketio-session-unknown:"), "{console}");
}
