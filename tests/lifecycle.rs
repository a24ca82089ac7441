//! The WebSocket's own failures, each against a real server (npm `ws` in
//! `tests/dialect_apps/lifecycle_server.js`) and a real client (npm `ws`,
//! which fails a handshake as browsers do), run once directly and once
//! through the `wsdiag proxy` binary: the client must see the same thing
//! both ways, and `diagnose` must name the failure and its decisive value.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use crate::socketio::{client, wsdiag, NodeServer};
use crate::support::Running;

/// One run of `mode`: the client's summary directly and through wsdiag,
/// the proxy's console, the diagnosis (JSON) and `diagnose`'s exit code.
struct Run {
    dir: tempfile::TempDir,
    direct: Value,
    proxied: Value,
    console: String,
    diagnosis: Value,
    exit: i32,
}

fn run(mode: &str, client_args: &[&str]) -> Run {
    let server = NodeServer::start("lifecycle_server.js", &[], &[("LIFECYCLE_MODE", mode)]);
    let direct = client("lifecycle_client.js", &server.url, client_args);
    let dir = tempfile::tempdir().unwrap();
    let (proxy, addr) = Running::proxy(&server.url, "capture.jsonl", &[], dir.path());
    let proxied = client(
        "lifecycle_client.js",
        &format!("http://{addr}"),
        client_args,
    );
    let (console, _) = proxy.stop("INT");
    let (json, exit) = wsdiag(
        &["diagnose", "capture.jsonl", "--format", "json"],
        dir.path(),
    );
    let diagnosis = serde_json::from_str(&json).unwrap_or(Value::Null);
    Run {
        dir,
        direct,
        proxied,
        console,
        diagnosis,
        exit,
    }
}

impl Run {
    /// The one finding with `code`, after checking the exit code and that
    /// the live console showed it too.
    fn finding(&self, code: &str) -> &Value {
        assert_eq!(self.exit, 1, "diagnose exits 1: {:#}", self.diagnosis);
        assert!(
            self.console.contains(&format!("✗ {code}:")),
            "the live console shows {code}:\n{}",
            self.console
        );
        let found: Vec<&Value> = self.diagnosis["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == code)
            .collect();
        assert_eq!(found.len(), 1, "{:#}", self.diagnosis);
        found[0]
    }

    /// The client's close code and error, the same directly and through
    /// wsdiag.
    fn same_for_the_client(&self) {
        for key in ["opened", "close", "error"] {
            assert_eq!(
                self.direct[key], self.proxied[key],
                "{key}: direct {} / through wsdiag {}",
                self.direct, self.proxied
            );
        }
    }
}

#[test]
fn a_subprotocol_the_upstream_does_not_echo_is_named() {
    let r = run(
        "no-subprotocol",
        &["--path", "/ws", "--protocol", "chat.v1", "--send", "hi"],
    );
    r.same_for_the_client();
    assert_eq!(
        r.proxied["error"], "Server sent no subprotocol",
        "{}",
        r.proxied
    );
    let f = r.finding("ws-subprotocol-not-chosen");
    let title = f["title"].as_str().unwrap();
    assert!(
        title.contains("chat.v1") && title.contains("chose none"),
        "{f:#}"
    );
    assert!(title.contains("browsers fail"), "{f:#}");
}

#[test]
fn a_subprotocol_the_client_did_not_offer_is_named() {
    let r = run(
        "other-subprotocol",
        &["--path", "/ws", "--protocol", "chat.v1", "--send", "hi"],
    );
    r.same_for_the_client();
    let f = r.finding("ws-subprotocol-not-offered");
    let title = f["title"].as_str().unwrap();
    assert!(
        title.contains("chat.v2") && title.contains("chat.v1"),
        "{f:#}"
    );
}

/// A JWT in the query that expires while the socket is open: the next
/// message gets the application's close 4001 "token expired".
#[test]
fn a_close_right_after_a_message_quotes_the_code_and_the_token_expiry() {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let enc = |s: String| URL_SAFE_NO_PAD.encode(s);
    let token = format!(
        "{}.{}.c2lnbmF0dXJl",
        enc(r#"{"alg":"HS256","typ":"JWT"}"#.to_owned()),
        enc(format!(r#"{{"sub":"alice","exp":{exp}}}"#))
    );
    let path = format!("/ws/chat?token={token}");
    let r = run(
        "token-expiry",
        &[
            "--path",
            &path,
            "--before-send-ms",
            "2200",
            "--send",
            "hello",
        ],
    );
    r.same_for_the_client();
    assert_eq!(r.proxied["close"]["code"], 4001, "{}", r.proxied);
    let f = r.finding("ws-closed-after-message");
    assert_eq!(f["error"], "close 4001 \"token expired\"", "{f:#}");
    // The terminal's report gives the token's expiry; the JSON report,
    // made for sharing, is redacted: the token is a placeholder there.
    let (text, _) = wsdiag(&["diagnose", "capture.jsonl"], r.dir.path());
    assert!(
        text.contains("JWT in ?token= whose exp is") && text.contains("s before the close"),
        "{text}"
    );
    assert!(!r.diagnosis.to_string().contains(&token), "redacted");
    assert!(text.contains("fresh token"), "{text}");
    assert!(
        f["next_step"].as_str().unwrap().contains("fresh token"),
        "the reason alone says so: {f:#}"
    );
    // The send attempt failed: it is not left "unconfirmed".
    let attempt = &r.diagnosis["attempts"].as_array().unwrap();
    assert!(
        attempt
            .iter()
            .all(|a| a["outcome"]["result"] != "unconfirmed"),
        "{:#}",
        r.diagnosis
    );
}

#[test]
fn a_message_over_the_peers_limit_gives_its_size_and_the_limit() {
    let r = run("size-limit", &["--path", "/ws", "--send-bytes", "2000"]);
    r.same_for_the_client();
    let f = r.finding("ws-closed-after-message");
    assert!(
        f["error"].as_str().unwrap().starts_with("close 1009"),
        "{f:#}"
    );
    assert!(
        f["explanation"]
            .to_string()
            .contains("The message was 2000 bytes, over the 1024-byte limit the reason states"),
        "{f:#}"
    );
}

/// An idle timeout in front of the backend (a TCP forwarder that drops
/// both connections after 1.5 s without a byte) ends a quiet socket with
/// no close frame: the same 1006 directly and through wsdiag (its own
/// keepalive is off by default and does not hide it), and the finding
/// gives the seconds of silence.
#[test]
fn a_socket_dropped_after_a_silence_is_an_idle_drop() {
    let r = run(
        "idle-drop",
        &["--path", "/ws", "--send", "hi", "--wait-ms", "5000"],
    );
    r.same_for_the_client();
    assert_eq!(r.proxied["close"]["code"], 1006, "{}", r.proxied);
    let f = r.finding("ws-idle-drop");
    let title = f["title"].as_str().unwrap();
    let seconds: f64 = title
        .split(" s of silence")
        .next()
        .and_then(|t| t.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no seconds in {title}"));
    assert!((1.4..3.0).contains(&seconds), "{title}");
    assert!(
        f["next_step"].as_str().unwrap().contains("heartbeats"),
        "{f:#}"
    );
}

/// A normal session gives nothing: the echo server, a message, a close
/// by the client.
#[test]
fn a_normal_session_gives_no_lifecycle_finding() {
    let r = run(
        "echo",
        &["--path", "/ws", "--send", "hi", "--wait-ms", "300"],
    );
    r.same_for_the_client();
    assert_eq!(r.exit, 0, "{:#}", r.diagnosis);
}

/// `replay` of a capture without a single client action exits 2 and says
/// what the capture holds, so a CI job cannot pass on an empty recording.
#[test]
fn replaying_a_capture_with_nothing_to_replay_exits_2_naming_what_it_holds() {
    let server = NodeServer::start("lifecycle_server.js", &[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let (proxy, _) = Running::proxy(&server.url, "empty.jsonl", &[], dir.path());
    let _ = proxy.stop("INT");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsdiag"))
        .args(["replay", "empty.jsonl", "--target", &server.url])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing to replay: empty.jsonl holds") && err.contains("trailer"),
        "{err}"
    );
}

/// A server that never answers a close (its event loop stuck): the client
/// closes with 1000 "bye", no close frame comes back, directly as through
/// wsdiag, and the finding says the close handshake never completed.
#[test]
fn a_close_the_upstream_never_answers_is_named() {
    let r = run(
        "no-close-reply",
        &[
            "--path",
            "/ws",
            "--send",
            "hi",
            "--close",
            "--wait-ms",
            "4000",
        ],
    );
    r.same_for_the_client();
    let f = r.finding("ws-close-unanswered");
    let title = f["title"].as_str().unwrap();
    assert!(
        title.contains("The upstream never answered the client's close 1000 \"bye\""),
        "{title}"
    );
}

/// A server that pings every 300 ms and a client whose main thread is busy
/// for 2 s (long work on a frontend's event loop): its pongs come late, and
/// the finding gives how late.
#[test]
fn pongs_that_come_late_name_the_busy_side() {
    let r = run(
        "pinger",
        &["--path", "/ws", "--block-ms", "2000", "--wait-ms", "3500"],
    );
    let f = r.finding("ws-late-pong");
    let title = f["title"].as_str().unwrap();
    assert!(
        title.starts_with("The client answered the upstream's ping "),
        "{title}"
    );
    let ms: u64 = title
        .split("ping ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no milliseconds in {title}"));
    assert!((1000..3000).contains(&ms), "{title}");
}

/// A server that compresses (RSV1) though its handshake agreed on no
/// extension: the client fails it ("RSV1 must be clear") directly as
/// through wsdiag, and the finding names the upstream and the rule it
/// broke.
#[test]
fn compression_without_negotiation_is_named() {
    let r = run("rsv1", &["--path", "/ws", "--wait-ms", "1500"]);
    r.same_for_the_client();
    assert_eq!(
        r.direct["error"], "Invalid WebSocket frame: RSV1 must be clear",
        "{}",
        r.direct
    );
    let f = r.finding("ws-compression-not-negotiated");
    assert!(
        f["title"].as_str().unwrap().starts_with(
            "The upstream sent a compressed frame (RSV1) though no compression was negotiated"
        ),
        "{f:#}"
    );
    assert!(f["explanation"].to_string().contains("RFC 7692"), "{f:#}");
}
