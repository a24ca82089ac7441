//! Nothing recorded is lost, and nothing is recorded that was not
//! forwarded: counts from both ends under load, `kill -9` in the middle of
//! a busy session, and a capture file system that fills up.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use wsdiag::event::{Direction, EventKind, Opcode};

use crate::support::{self, address_in, next, Backend, Harness, Running};

/// Round trips on `/ws/echo/`: sends `prefix-N`, waits for its echo.
async fn round_trips(
    ws: &mut support::Client,
    prefix: &str,
    count: usize,
    size: usize,
) -> Vec<String> {
    let mut sent = Vec::with_capacity(count);
    let padding = "x".repeat(size);
    for i in 0..count {
        let text = format!("{prefix}-{i} {padding}");
        ws.send(Message::Text(text.clone().into())).await.unwrap();
        assert_eq!(next(ws).await, Some(Message::Text(text.clone().into())));
        sent.push(text);
    }
    sent
}

/// The text messages of a capture, by connection and direction.
fn texts_by_conn(capture: &wsdiag::capture::Capture) -> HashMap<(u64, Direction), Vec<String>> {
    let mut by_conn: HashMap<(u64, Direction), Vec<String>> = HashMap::new();
    for event in &capture.events {
        if let EventKind::WsMessage(m) = &event.kind {
            if m.opcode == Opcode::Text {
                let text = m.payload.text().unwrap().to_owned();
                by_conn
                    .entry((event.conn.unwrap(), m.dir))
                    .or_default()
                    .push(text);
            }
        }
    }
    by_conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_the_capture_holds_exactly_the_messages_forwarded() {
    const CONNECTIONS: usize = 20;
    const MESSAGES: usize = 150;
    let h = Harness::start().await;
    let mut clients = Vec::new();
    for c in 0..CONNECTIONS {
        let ws = h.ws("/ws/echo/", &[]).await;
        clients.push(tokio::spawn(async move {
            let mut ws = ws;
            let sent = round_trips(&mut ws, &format!("c{c}"), MESSAGES, 64).await;
            ws.close(None).await.unwrap();
            while ws.next().await.is_some() {}
            sent
        }));
    }
    let mut by_client = Vec::new();
    for client in clients {
        by_client.push(client.await.unwrap());
    }
    let capture = h.finish().await;
    let recorded = texts_by_conn(&capture);
    // Each client's messages are one connection's, both ways, in order.
    let mut matched = 0;
    for sent in &by_client {
        let conn = recorded
            .iter()
            .find(|((_, dir), texts)| {
                *dir == Direction::ClientToUpstream && texts.first() == sent.first()
            })
            .map(|((conn, _), _)| *conn)
            .expect("a connection with this client's messages");
        assert_eq!(&recorded[&(conn, Direction::ClientToUpstream)], sent);
        assert_eq!(&recorded[&(conn, Direction::UpstreamToClient)], sent);
        matched += 1;
    }
    assert_eq!(matched, CONNECTIONS);
    let total: usize = recorded.values().map(Vec::len).sum();
    assert_eq!(
        total,
        2 * CONNECTIONS * MESSAGES,
        "no message recorded twice or invented"
    );
    let trailer = capture.trailer().expect("a clean stop writes the trailer");
    assert_eq!(trailer.messages_sent as usize, CONNECTIONS * (MESSAGES + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_a_busy_session_loses_at_most_the_last_flush() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let upstream = format!("http://{}", backend.addr);
    let (mut proxy, addr) = Running::proxy(&upstream, "k.jsonl", &["--quiet"], dir.path());
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/echo/"))
        .await
        .unwrap();
    let confirmed = round_trips(&mut ws, "before", 300, 200).await;
    // Keep the session busy for three flush intervals (100 ms each), then
    // kill the proxy without warning.
    let busy_since = Instant::now();
    let mut i = 0;
    while busy_since.elapsed() < Duration::from_millis(300) {
        round_trips(&mut ws, &format!("after{i}"), 1, 200).await;
        i += 1;
    }
    proxy.child.kill().unwrap(); // SIGKILL
    proxy.child.wait().unwrap();

    let capture = wsdiag::capture::read_path(&dir.path().join("k.jsonl"))
        .expect("a killed proxy's capture still reads");
    assert!(capture.trailer().is_none());
    let recorded = texts_by_conn(&capture);
    for dir in [Direction::ClientToUpstream, Direction::UpstreamToClient] {
        let texts = recorded.get(&(1, dir)).cloned().unwrap_or_default();
        assert!(
            texts.len() >= confirmed.len() && texts[..confirmed.len()] == confirmed[..],
            "every message confirmed 300 ms before the kill is in the capture ({dir:?}: {} of {})",
            texts.len(),
            confirmed.len()
        );
    }
    let show = Command::new(env!("CARGO_BIN_EXE_wsdiag"))
        .args(["show", "k.jsonl"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(show.status.code(), Some(0));
    let out = String::from_utf8_lossy(&show.stdout);
    assert!(
        out.contains("no trailer: the proxy did not shut down cleanly"),
        "{out}"
    );
    backend.stop().await;
}

/// Runs `wsdiag proxy` in a mount namespace of its own, recording into a
/// 256 KiB tmpfs mounted over `dir`.
fn proxy_on_a_small_tmpfs(upstream: &str, dir: &std::path::Path) -> Running {
    let mut command = Command::new("unshare");
    command
        // A user namespace too, so that this works without root.
        .args(["--user", "--map-root-user", "--mount", "sh", "-c"])
        .arg(r#"mount -t tmpfs -o size=256k tmpfs "$1" && cd "$1" && shift && exec "$@""#)
        .arg("sh")
        .arg(dir)
        .arg(env!("CARGO_BIN_EXE_wsdiag"))
        .args(["proxy", "--upstream", upstream, "--listen", "127.0.0.1:0"])
        .args(["--capture", "full.jsonl"]);
    Running::spawn(command)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_recording_loudly_and_forwarding_goes_on() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = proxy_on_a_small_tmpfs(&format!("http://{}", backend.addr), dir.path());
    let addr = address_in(&proxy.line_with("proxy on"));
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/echo/"))
        .await
        .unwrap();
    // 2 x 400 messages of 4 KiB: about 3 MiB to record into 256 KiB.
    round_trips(&mut ws, "m", 400, 4096).await;
    let stopped = proxy.line_with("stopped:");
    assert!(stopped.contains("No space left on device"), "{stopped}");
    assert!(stopped.contains("forwarding goes on"), "{stopped}");
    // Forwarding still works after the failure.
    round_trips(&mut ws, "later", 10, 16).await;
    let (rest, status) = proxy.stop("INT");
    assert!(status.success(), "{rest}");
    let warning = rest
        .lines()
        .find(|l| l.contains("stopped recording"))
        .unwrap_or_else(|| panic!("no summary warning in:\n{rest}"));
    let missed: u64 = warning
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap();
    assert!(missed > 400, "{warning}");
    // The summary still counts everything the client sent.
    let summary = rest.lines().find(|l| l.starts_with("Summary:")).unwrap();
    assert!(
        summary.contains("410 WebSocket messages sent (→)"),
        "{summary}"
    );
    backend.stop().await;
}
