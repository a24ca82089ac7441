//! The web viewer (`--ui`): its token, its event feed (replayed, then
//! live, with the live diagnosis's findings), its exports; and, in real
//! headless Chromium, the page itself (tests/tools/ui_check.js): the demo's
//! REST 500 and WebSocket messages in one timeline, the text filter, the
//! diagnosis highlighting its events, the live findings before the whole
//! diagnosis, the HAR download, and 100,000 events without slowing down.

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::support::{self, call, http_client, next, root, Harness, Running, PATIENCE};

/// The viewer's URL from what wsdiag printed.
fn viewer_url(running: &mut Running) -> String {
    let line = running.line_with("Web viewer: ");
    line[line.find("http://").unwrap()..].trim().to_owned()
}

/// `wsdiag show CAPTURE --ui` on a free port; the process and the URL.
fn show_ui(capture: &std::path::Path, cwd: &std::path::Path) -> (Running, String) {
    let capture = capture.to_str().unwrap();
    let mut show = Running::start(
        &["show", capture, "--ui", "--ui-listen", "127.0.0.1:0"],
        cwd,
    );
    let url = viewer_url(&mut show);
    (show, url)
}

/// The viewer in this process, following the harness's capture: its URL,
/// token, and what stops it.
async fn live_viewer(h: &Harness) -> (String, String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token = wsdiag::ui::new_token();
    let url = wsdiag::ui::url(&listener, &token).unwrap();
    let stop = CancellationToken::new();
    let source = wsdiag::ui::Source {
        capture: h.capture_path.clone(),
        live: true,
        findings: None,
    };
    tokio::spawn(wsdiag::ui::serve(
        listener,
        source,
        token.clone(),
        stop.clone(),
    ));
    (url, token, stop)
}

/// `url` with `path` in place of its path, keeping the token.
fn api(url: &str, path: &str) -> String {
    let (base, token) = url.split_once("/?token=").unwrap();
    format!("{base}{path}?token={token}")
}

async fn get(url: &str) -> (StatusCode, String) {
    let (status, _, body) = call(Request::get(url).body(Full::new(Bytes::new())).unwrap()).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Reads a Server-Sent Events stream until `done` says so; returns the
/// messages as (event, data).
async fn read_feed(url: &str, done: impl Fn(&[(String, String)]) -> bool) -> Vec<(String, String)> {
    let response = http_client()
        .request(Request::get(url).body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut text = String::new();
    let mut messages = Vec::new();
    // The feed sends `status` every second: it never goes quiet.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done(&messages) {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .unwrap_or_else(|_| {
                let names: Vec<&str> = messages.iter().map(|(e, _)| e.as_str()).collect();
                panic!("the feed did not send what was awaited; it sent {names:?}")
            })
            .expect("the feed ended early")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .unwrap_or_default()
                    .to_owned()
            };
            messages.push((field("event: "), field("data: ")));
        }
    }
    messages
}

/// The events the feed delivered, in order.
fn fed_events(messages: &[(String, String)]) -> Vec<Value> {
    messages
        .iter()
        .filter(|(event, _)| event == "events")
        .flat_map(|(_, data)| serde_json::from_str::<Vec<Value>>(data).unwrap())
        .collect()
}

/// Checks the viewer's diagnosis answer (src/ui/panel.rs) against
/// `wsdiag diagnose --format json`'s: the same findings (the first 50) and
/// counts; each action listed with its attempts tallied by path and
/// outcome, and up to 3 a path shown, cited ones first, the rest counted;
/// and the last event it saw.
fn same_as_offline(panel: &Value, offline: &Value, last_seq: u64) {
    let findings = offline["findings"].as_array().unwrap();
    let listed: Vec<Value> = findings.iter().take(50).cloned().collect();
    assert_eq!(panel["findings"], Value::Array(listed));
    assert_eq!(panel["findings_total"], findings.len());
    assert_eq!(panel["covers"], last_seq);
    assert_eq!(panel["introspection"], offline["introspection"]);
    let attempts = offline["attempts"].as_array().unwrap();
    let on = |path: &str| attempts.iter().filter(|a| a["path"] == path).count();
    let counts = serde_json::json!({ "total": attempts.len(), "rest": on("rest"), "ws": on("ws") });
    assert_eq!(panel["attempts"], counts);
    let actions = offline["actions"].as_array().unwrap();
    assert_eq!(panel["actions_total"], actions.len());
    let shown_actions = panel["actions"].as_object().unwrap();
    assert_eq!(shown_actions.len().min(50), actions.len().min(50));
    for (key, shown) in shown_actions {
        let whole = &actions[key.parse::<usize>().unwrap()];
        assert_eq!(shown["content"], whole["content"]);
        let mine: Vec<&Value> = whole["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &attempts[i.as_u64().unwrap() as usize])
            .collect();
        let tallied: usize = shown["tally"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let n = mine
                    .iter()
                    .filter(|a| a["path"] == t["path"] && a["outcome"]["result"] == t["result"])
                    .count();
                assert_eq!(t["count"], n, "{t}");
                n
            })
            .sum();
        assert_eq!(tallied, mine.len(), "every attempt tallied: {shown}");
        for path in ["rest", "ws"] {
            let all = mine.iter().filter(|a| a["path"] == path).count();
            let picked: Vec<&Value> = shown["shown"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["path"] == path)
                .collect();
            assert_eq!(picked.len(), all.min(3), "{shown}");
            assert_eq!(shown["more"][path], all - picked.len());
            assert!(picked.iter().all(|p| mine.contains(p)), "{shown}");
        }
    }
}

#[tokio::test]
async fn the_viewer_of_a_capture_needs_its_token_and_replays_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("captures/demo.jsonl");
    let (_show, url) = show_ui(&sample, dir.path());
    let (status, page) = get(&url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("app.js"), "{page}");
    let without_token = url.split("?token=").next().unwrap();
    assert_eq!(get(without_token).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        get(&api(&url, "/api/events").replace("token=", "token=x"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    let messages = read_feed(&api(&url, "/api/events"), |m| {
        m.iter().any(|(e, _)| e == "end")
    })
    .await;
    assert_eq!(messages[0].0, "header");
    let capture = wsdiag::capture::read_path(&sample).unwrap();
    let expected: Vec<u64> = capture
        .events
        .iter()
        .filter(|e| !matches!(e.kind, wsdiag::event::EventKind::Trailer(_)))
        .map(|e| e.seq)
        .collect();
    let fed: Vec<u64> = fed_events(&messages)
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(fed, expected, "every event once, in order");
    let (_, trailer) = messages.last().unwrap();
    assert!(trailer.contains("\"type\":\"trailer\""), "{trailer}");

    // The exchange view parses the REST 500's Django page.
    let failing = capture
        .events
        .iter()
        .find_map(|e| match &e.kind {
            wsdiag::event::EventKind::HttpResponse(r) if r.status == 500 => Some(r.exchange),
            _ => None,
        })
        .unwrap();
    let (_, parsed) = get(&api(&url, &format!("/api/exchange/{failing}"))).await;
    let parsed: Value = serde_json::from_str(&parsed).unwrap();
    assert_eq!(parsed["error"]["exception_type"], "IntegrityError");
    // The diagnosis panel's answer is what `wsdiag diagnose` says of the
    // capture as recorded (the viewer, behind its token, redacts nothing).
    let (status, diagnosis) = get(&api(&url, "/api/diagnosis")).await;
    assert_eq!(status, StatusCode::OK);
    let (offline, _) = crate::socketio::wsdiag(
        &[
            "diagnose",
            sample.to_str().unwrap(),
            "--format",
            "json",
            "--no-redact",
        ],
        dir.path(),
    );
    let mut offline: Value = serde_json::from_str(&offline).unwrap();
    assert_eq!(offline["redacted"].take(), Value::Bool(false));
    offline.as_object_mut().unwrap().remove("redacted");
    let diagnosis: Value = serde_json::from_str(&diagnosis).unwrap();
    assert!(!diagnosis["findings"].as_array().unwrap().is_empty());
    let last_seq = wsdiag::capture::read_path(&sample)
        .unwrap()
        .events
        .last()
        .unwrap()
        .seq;
    same_as_offline(&diagnosis, &offline, last_seq);
    // Exports are redacted.
    let (status, har) = get(&api(&url, "/api/export/har")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !har.contains("alice-session-7f3a"),
        "the session cookie is redacted"
    );
    assert!(har.contains("[REDACTED:"));
}

#[tokio::test]
async fn the_feed_follows_a_live_proxy() {
    let h = Harness::start().await;
    let (url, _, stop) = live_viewer(&h).await;
    let mut ws = h.ws("/ws/echo/", &[]).await;
    let feed = tokio::spawn({
        let url = api(&url, "/api/events");
        async move {
            read_feed(&url, |m| {
                fed_events(m)
                    .iter()
                    .any(|e| e["type"] == "ws_message" && e["text"] == "live one")
            })
            .await
        }
    });
    support::send_text(&mut ws, "live one").await;
    assert_eq!(next(&mut ws).await, Some(Message::Text("live one".into())));
    let messages = feed.await.unwrap();
    assert!(
        !messages.iter().any(|(e, _)| e == "end"),
        "live: no end yet"
    );
    stop.cancel();
    h.finish().await;
}

/// While the proxy records, the diagnosis panel's answer follows the
/// capture: a REST write that fails after the first answer is diagnosed
/// in a later one, without reloading the viewer.
#[tokio::test]
async fn the_live_diagnosis_panel_follows_the_capture() {
    let h = Harness::start().await;
    let (url, _, stop) = live_viewer(&h).await;
    let diagnosis = api(&url, "/api/diagnosis");
    let findings = |body: &str| -> Vec<Value> {
        let d: Value = serde_json::from_str(body).unwrap();
        d["findings"].as_array().unwrap().clone()
    };
    let (status, first) = get(&diagnosis).await;
    assert_eq!(status, StatusCode::OK);
    assert!(findings(&first).is_empty(), "{first}");

    let request = Request::post(h.url("/api/conversations/3/messages/"))
        .header("cookie", "sessionid=alice-session-7f3a")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{\"message\":\"cc\"}")))
        .unwrap();
    assert_eq!(call(request).await.0, StatusCode::INTERNAL_SERVER_ERROR);
    // The capture reaches the file at the hub's next flush: ask until the
    // answer has the failure (each ask is held for the cost budget).
    let deadline = tokio::time::Instant::now() + support::PATIENCE;
    let found = loop {
        let (status, body) = get(&diagnosis).await;
        assert_eq!(status, StatusCode::OK);
        let found = findings(&body);
        if !found.is_empty() || tokio::time::Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(!found.is_empty(), "the 500 was never diagnosed");
    assert_eq!(found[0]["path"], "rest", "{found:?}");
    assert!(
        found[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("IntegrityError"),
        "{found:?}"
    );
    stop.cancel();
    h.finish().await;
}

/// `wsdiag proxy --ui --quiet` in front of a fresh sample backend.
struct ViewedProxy {
    backend: support::Backend,
    proxy: Running,
    /// Where clients connect (`127.0.0.1:PORT`).
    addr: String,
    /// The viewer's URL, with its token.
    url: String,
    _dir: tempfile::TempDir,
}

impl ViewedProxy {
    async fn start() -> ViewedProxy {
        let backend = support::Backend::start().await;
        let dir = tempfile::tempdir().unwrap();
        let upstream = format!("http://{}", backend.addr);
        let ui = ["--quiet", "--ui", "--ui-listen", "127.0.0.1:0"];
        let (mut proxy, addr) = Running::proxy(&upstream, "ui.jsonl", &ui, dir.path());
        let url = viewer_url(&mut proxy);
        ViewedProxy {
            backend,
            proxy,
            addr,
            url,
            _dir: dir,
        }
    }

    /// The proxy, after the demo's client went through it (its REST POST
    /// failing with 500).
    async fn after_the_demo() -> ViewedProxy {
        let viewed = ViewedProxy::start().await;
        let outcome = wsdiag::demo::client::run(viewed.addr.parse().unwrap())
            .await
            .unwrap();
        assert_eq!(outcome.rest_status, 500);
        viewed
    }

    async fn stop(self) {
        drop(self.proxy);
        self.backend.stop().await;
    }
}

/// With `proxy --ui`, the feed carries the live diagnosis's findings: a
/// failing REST write's finding comes after the events it belongs under,
/// and says what the whole diagnosis says (whose answer tells which events
/// it covered).
#[tokio::test]
async fn the_feed_sends_each_live_finding_after_its_event() {
    let viewed = ViewedProxy::start().await;
    let (url, proxy_addr) = (viewed.url.clone(), viewed.addr.clone());
    let feed = tokio::spawn({
        let url = api(&url, "/api/events");
        async move { read_feed(&url, |m| m.iter().any(|(e, _)| e == "findings")).await }
    });
    // A WebSocket message that goes through, then the REST write that fails.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{proxy_addr}/ws/echo/"))
        .await
        .unwrap();
    support::send_text(&mut ws, "fine").await;
    assert_eq!(next(&mut ws).await, Some(Message::Text("fine".into())));
    let request = Request::post(format!("http://{proxy_addr}/api/conversations/3/messages/"))
        .header("cookie", "sessionid=alice-session-7f3a")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{\"message\":\"cc\"}")))
        .unwrap();
    assert_eq!(call(request).await.0, StatusCode::INTERNAL_SERVER_ERROR);

    let messages = feed.await.unwrap();
    let at = messages.iter().position(|(e, _)| e == "findings").unwrap();
    let found: Vec<Value> = serde_json::from_str(&messages[at].1).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let live = &found[0];
    assert_eq!(live["finding"]["path"], "rest", "{live}");
    assert!(
        live["finding"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("IntegrityError"),
        "{live}"
    );
    assert_eq!(live["revises"], serde_json::json!([]));
    // The event it belongs under (the 500) was sent before it.
    let sent = fed_events(&messages[..at]);
    let under = sent
        .iter()
        .find(|e| e["seq"] == live["at"])
        .unwrap_or_else(|| panic!("finding under seq {} sent before its event", live["at"]));
    assert_eq!(under["type"], "http_response", "{under}");
    assert_eq!(under["status"], 500, "{under}");

    // The whole diagnosis covers that event and says the same.
    let (status, body) = get(&api(&url, "/api/diagnosis")).await;
    assert_eq!(status, StatusCode::OK);
    let whole: Value = serde_json::from_str(&body).unwrap();
    assert!(
        whole["covers"].as_u64().unwrap() >= live["at"].as_u64().unwrap(),
        "{body}"
    );
    assert_eq!(
        whole["findings"][0]["code"], live["finding"]["code"],
        "{body}"
    );
    assert_eq!(
        whole["findings"][0]["evidence"], live["finding"]["evidence"],
        "{body}"
    );
    viewed.stop().await;
}

/// Runs tests/tools/ui_check.js on `url`; returns its JSON summary.
async fn ui_check(url: &str, out: &std::path::Path, extra: &[&str]) -> Value {
    support::chromium();
    std::fs::create_dir_all(out).unwrap();
    let result = tokio::process::Command::new("node")
        .arg(support::node_tools().join("ui_check.js"))
        .arg(url)
        .arg(out)
        .args(extra)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("node is needed for the viewer test");
    assert!(
        result.status.success(),
        "the viewer check failed:\n{}\n{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    let stdout = String::from_utf8_lossy(&result.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_the_demo_in_one_timeline_with_the_diagnosis_beside_it() {
    let viewed = ViewedProxy::after_the_demo().await;
    let url = viewed.url.clone();
    let out = root().join("target/test-output/ui");
    let summary = ui_check(&url, &out, &[]).await;
    // What ui_check.js asserted, as it reports it.
    assert_eq!(summary["ok"], true, "{summary}");
    for shot in ["timeline.png", "failing-exchange.png", "diagnosis.png"] {
        assert!(out.join(shot).exists(), "{shot} was not taken");
    }
    crate::export::validate_har(&out.join("export.har"));
    viewed.stop().await;
}

/// In real Chromium, on a running proxy: with the whole diagnosis held
/// back, the panel lists the demo's failure from the feed's live findings,
/// and clicking it highlights its events; the whole diagnosis then takes
/// its place with the same findings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_lists_live_findings_before_the_whole_diagnosis() {
    let viewed = ViewedProxy::after_the_demo().await;
    let url = viewed.url.clone();
    let out = root().join("target/test-output/ui-live");
    let summary = ui_check(&url, &out, &["--live-findings"]).await;
    assert_eq!(summary["ok"], true, "{summary}");
    assert!(out.join("live-findings.png").exists());
    viewed.stop().await;
}

/// The panel's answer on a capture of thousands of actions is what the
/// page shows of the whole diagnosis: 50 of them, with the counts of all,
/// in a small fraction of the whole diagnosis's bytes.
#[tokio::test]
async fn the_diagnosis_panel_gets_what_it_shows_of_a_large_diagnosis() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.jsonl");
    support::chat_capture(&path, 5_000);
    let (_show, url) = show_ui(&path, dir.path());
    let (status, panel) = get(&api(&url, "/api/diagnosis")).await;
    assert_eq!(status, StatusCode::OK);
    let path_arg = path.to_str().unwrap();
    let args = ["diagnose", path_arg, "--format", "json", "--no-redact"];
    let (offline, _) = crate::socketio::wsdiag(&args, dir.path());
    let offline: Value = serde_json::from_str(&offline).unwrap();
    assert!(offline["actions"].as_array().unwrap().len() > 2_000);
    same_as_offline(&serde_json::from_str(&panel).unwrap(), &offline, 5_000);
    let whole = offline.to_string().len();
    assert!(
        panel.len() * 10 < whole,
        "{} bytes against {whole} for the whole diagnosis",
        panel.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_events_stay_responsive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    support::chat_capture(&path, 100_000);
    assert_eq!(
        wsdiag::capture::read_path(&path).unwrap().events.len(),
        100_000
    );
    let (_show, url) = show_ui(&path, dir.path());
    let summary = ui_check(&url, &root().join("target/test-output/ui-big"), &["--big"]).await;
    assert_eq!(summary["ok"], true, "{summary}");
    assert!(summary["total"].as_u64().unwrap() >= 100_000, "{summary}");
    let nodes = summary["domNodes"].as_object().unwrap();
    assert!(
        nodes.values().all(|n| n.as_u64().unwrap() < 3000),
        "{summary}"
    );
    let filter_ms = summary["filter"]["apply"]["filterMs"].as_f64().unwrap();
    assert!(filter_ms < 2000.0, "{summary}");
    println!(
        "100,000 events: loaded in {} ms, filtered in {filter_ms} ms, DOM nodes {nodes:?}",
        summary["loadMs"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tab_that_stops_reading_its_feed_never_slows_forwarding() {
    let h = Harness::start().await;
    let (url, token, stop) = live_viewer(&h).await;
    // A "tab" that asks for the feed with a tiny receive buffer, then
    // never reads.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let addr = url.trim_start_matches("http://").split('/').next().unwrap();
    let mut tab = socket.connect(addr.parse().unwrap()).await.unwrap();
    let request = format!("GET /api/events?token={token} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    tokio::io::AsyncWriteExt::write_all(&mut tab, request.as_bytes())
        .await
        .unwrap();

    // Meanwhile 2,000 messages of 1 KiB go through the proxy, far more
    // than the feed's queue and socket buffers hold.
    let mut ws = h.ws("/ws/echo/", &[]).await;
    let text = "x".repeat(1024);
    for _ in 0..2000 {
        support::send_text(&mut ws, &text).await;
        assert_eq!(
            next(&mut ws).await,
            Some(Message::Text(text.clone().into()))
        );
    }
    ws.close(None).await.unwrap();
    let capture = h.finish().await;
    assert_eq!(support::messages(&capture).len(), 2 * 2000 + 2);
    stop.cancel();
    drop(tab);
}

/// The viewer reads message protocols: a Socket.IO capture recorded from
/// the Express chat through the proxy is filtered by event name, and its
/// detail pane shows the event's role, its ack (linked) and its arguments
/// without the Engine.IO and Socket.IO envelope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_socketio_events_by_name_with_their_payload_and_ack() {
    let dir = crate::socketio::recorded_session(&["--transport", "websocket"]);
    let (_show, url) = show_ui(&dir.path().join("capture.jsonl"), dir.path());
    let out = root().join("target/test-output/ui-socketio");
    let summary = ui_check(&url, &out, &["--socketio"]).await;
    assert_eq!(summary["ok"], true, "{summary}");
    assert!(out.join("socketio-detail.png").exists());
}
