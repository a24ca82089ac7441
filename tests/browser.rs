//! A real browser through the proxy: Debian's Chromium, headless, driven by
//! `playwright-core` (tests/tools/browser_chat.js). It loads the sample
//! backend's chat page through wsdiag; the page opens a WebSocket (Chromium
//! offers permessage-deflate, which the proxy negotiates away), sends a chat
//! message, gets the broadcast, and posts the same message over REST (the
//! sample's 500). The test checks what the page saw, then that the capture
//! holds exactly the frames the browser sent and received.

use std::process::Stdio;

use serde_json::Value;
use wsdiag::event::{Direction, EventKind, Opcode};

use crate::support::{self, chromium, node_tools, root, Harness};

/// Runs the browser script against `base`, returns its JSON report.
async fn browse(base: &str, screenshot: &std::path::Path) -> Value {
    chromium();
    let script = node_tools().join("browser_chat.js");
    let out = tokio::process::Command::new("node")
        .arg(script)
        .arg(base)
        .arg(screenshot)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("node is needed for the browser test");
    crate::support::browser_report(&out)
}

/// The text payloads the browser saw in one direction.
fn browser_frames(report: &Value, dir: &str) -> Vec<String> {
    report["browserFrames"]
        .as_array()
        .expect("browserFrames")
        .iter()
        .filter(|f| f["dir"] == dir)
        .filter_map(|f| f["payload"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn chromium_chats_through_the_proxy_and_the_capture_holds_every_frame() {
    let h = Harness::start().await;
    let out_dir = root().join("target/test-output");
    std::fs::create_dir_all(&out_dir).unwrap();
    let report = browse(&h.url(""), &out_dir.join("browser-chat.png")).await;

    // What the page saw: its message broadcast back, and the REST 500.
    assert_eq!(report["error"], Value::Null, "page error: {report}");
    let echoed =
        report["received"].as_array().unwrap().iter().any(|m| {
            m["type"] == "chat_message" && m["data"]["message"] == "hello from the browser"
        });
    assert!(echoed, "the broadcast did not reach the page: {report}");
    assert_eq!(report["rest"]["status"], 500);
    assert!(report["rest"]["body"]
        .as_str()
        .unwrap()
        .contains("expediteur_id"));
    // Chromium offered compression; the demo backend (tokio-tungstenite)
    // declined it, and that answer reached the page as it came.
    let socket = &report["browserWebSockets"][0];
    let offered = socket["requestHeaders"]["Sec-WebSocket-Extensions"]
        .as_str()
        .unwrap_or_default();
    assert!(offered.contains("permessage-deflate"), "{socket}");
    let answered = socket["responseHeaders"].as_object().unwrap();
    assert!(
        !answered
            .keys()
            .any(|k| k.eq_ignore_ascii_case("sec-websocket-extensions")),
        "{socket}"
    );
    let sent = browser_frames(&report, "sent");
    let received = browser_frames(&report, "received");
    assert!(!sent.is_empty() && !received.is_empty(), "{report}");

    let capture = h.finish().await;
    // The capture holds exactly the frames the browser exchanged, in order.
    let texts = |dir: Direction| -> Vec<String> {
        support::messages(&capture)
            .into_iter()
            .filter(|m| m.dir == dir && m.opcode == Opcode::Text)
            .map(|m| m.payload.text().unwrap().to_owned())
            .collect()
    };
    assert_eq!(texts(Direction::ClientToUpstream), sent);
    assert_eq!(texts(Direction::UpstreamToClient), received);
    let handshake = support::events(&capture, |e| match &e.kind {
        EventKind::WsHandshake(h) => Some(h.clone()),
        _ => None,
    });
    assert_eq!(handshake.len(), 1);
    assert!(handshake[0].accepted);
    assert!(handshake[0].extensions.is_empty() && handshake[0].extensions_dropped.is_empty());
    let statuses = support::events(&capture, |e| match &e.kind {
        EventKind::HttpResponse(r) => Some(r.status),
        _ => None,
    });
    assert!(
        statuses.contains(&200) && statuses.contains(&500),
        "{statuses:?}"
    );
}
