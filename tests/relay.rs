//! Issue 16: wsdiag must relay a WebSocket without changing what its
//! endpoints see. Each defect the issue found is run against real servers
//! and real clients, once directly and once through the `wsdiag proxy`
//! binary with its default flags: the client must end the same way both
//! times, and the capture must record what passed, and nothing wsdiag made
//! up.
//!
//! 1. Pings: a keepalive that closes a blocked client (Python
//!    `websockets`, 1011).
//! 2. Keepalive: an idle timeout in front of the upstream (a TCP forwarder
//!    of this file's own) ends a quiet socket without a close frame.
//! 3. Compression: permessage-deflate between Chromium and uvicorn, and a
//!    server that compresses without having negotiated it.
//! 4. Shutdown: Ctrl-C under a flood, a 1001 for every client, and a
//!    capture that counts only the messages the clients got.
//!
//! The capture is read as JSON: several of the fields checked here are
//! newer than the library's event types.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::django::python;
use crate::socketio::{client, dialect_apps, wsdiag, NodeServer};
use crate::support::{address_in, chromium, node_tools, root, Running};

/// A Python server of `tests/relay_apps`, run in the tests' venv; returns
/// it (killed when dropped) once it printed its address, and its URL.
fn python_server(script: &str) -> (Running, String) {
    let mut command = Command::new(python());
    command
        .arg(root().join("tests/relay_apps").join(script))
        .stderr(Stdio::null());
    let mut server = Running::spawn(command);
    let url = format!("http://{}", address_in(&server.line_with("listening on")));
    (server, url)
}

/// Runs `scenario` with the base URL of a `wsdiag proxy` (default flags)
/// in front of `upstream`, recording to `capture.jsonl`, then stops the
/// proxy as Ctrl-C does. Returns what the scenario returned, and the
/// directory holding the capture.
fn through_wsdiag<T>(upstream: &str, scenario: impl FnOnce(&str) -> T) -> (T, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (proxy, addr) = Running::proxy(upstream, "capture.jsonl", &[], dir.path());
    let outcome = scenario(&format!("http://{addr}"));
    let (console, status) = proxy.stop("INT");
    assert!(status.success(), "wsdiag proxy failed: {console}");
    (outcome, dir)
}

/// The events of `dir/capture.jsonl`, without its header and trailer,
/// after checking every line against the documented format.
fn capture(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("capture.jsonl")).unwrap();
    crate::support::schema::check_capture(&text);
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|event| event["type"] != "header" && event["type"] != "trailer")
        .collect()
}

/// The events of `kind` (`ws_message`, `ws_close`…).
fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

/// The one `ws_close` of a capture holding one WebSocket.
fn the_close(events: &[Value]) -> &Value {
    let closes = of_type(events, "ws_close");
    assert_eq!(closes.len(), 1, "one ws_close per WebSocket: {closes:?}");
    closes[0]
}

/// A recorded message's payload bytes (its `text` or its `base64`).
fn payload(message: &Value) -> Vec<u8> {
    match (message["text"].as_str(), message["base64"].as_str()) {
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, Some(b64)) => STANDARD.decode(b64).unwrap(),
        (None, None) => Vec::new(),
    }
}

/// The code of a recorded close frame (its payload's first two bytes, big
/// endian: RFC 6455 section 5.5.1).
fn close_code(message: &Value) -> Option<u16> {
    match payload(message)[..] {
        [hi, lo, ..] => Some(u16::from_be_bytes([hi, lo])),
        _ => None,
    }
}

/// The client's view, which must not depend on wsdiag being in the way.
fn same_for_the_client(direct: &Value, proxied: &Value, keys: &[&str]) {
    for key in keys {
        assert_eq!(
            direct[key], proxied[key],
            "{key}: direct {direct} / through wsdiag {proxied}"
        );
    }
}

/// The first defect, wsdiag answering pings: websockets pings
/// every second and waits a second for the pong, so a client whose event
/// loop is blocked for 4 s gets 1011 "keepalive ping timeout". Through wsdiag
/// the ping must reach the client and stay unanswered (no pong of
/// wsdiag's own), so the server closes it the same way.
#[test]
fn a_keepalive_timeout_closes_a_blocked_client_through_wsdiag_as_directly() {
    let (_server, url) = python_server("keepalive_server.py");
    let args = [
        "--path",
        "/",
        "--send",
        "hi",
        "--block-ms",
        "4000",
        "--wait-ms",
        "7000",
    ];
    let direct = client("lifecycle_client.js", &url, &args);
    assert_eq!(direct["close"]["code"], 1011, "{direct}");
    assert_eq!(direct["close"]["reason"], "keepalive ping timeout");
    let (proxied, dir) = through_wsdiag(&url, |base| client("lifecycle_client.js", base, &args));
    println!("direct: {direct}\nthrough wsdiag: {proxied}");
    same_for_the_client(
        &direct,
        &proxied,
        &["opened", "received", "close", "error", "pings"],
    );

    let events = capture(dir.path());
    let messages = of_type(&events, "ws_message");
    let pings: Vec<_> = messages.iter().filter(|m| m["opcode"] == "ping").collect();
    assert!(!pings.is_empty(), "the server's pings are recorded");
    for ping in &pings {
        assert_eq!(ping["dir"], "upstream_to_client", "{ping}");
        assert!(ping.get("origin").is_none(), "the upstream's: {ping}");
    }
    // Every pong recorded is one the client sent: wsdiag answered none.
    let pongs: Vec<_> = messages.iter().filter(|m| m["opcode"] == "pong").collect();
    for pong in &pongs {
        assert_eq!(pong["dir"], "client_to_upstream", "{pong}");
        assert!(pong.get("origin").is_none(), "{pong}");
    }
    assert!(
        pongs.len() as u64 <= proxied["pings"].as_u64().unwrap(),
        "more pongs recorded than the client sent: {pongs:?}"
    );
    let close = the_close(&events);
    assert_eq!(close["initiator"], "upstream", "{close}");
    assert_eq!(close["code"], 1011, "{close}");
    assert_eq!(close["reason"], "keepalive ping timeout", "{close}");
}

/// How long [`IdleDropper`] lets a connection stay silent.
const IDLE: Duration = Duration::from_millis(1500);

/// A TCP forwarder that drops both connections after [`IDLE`] without a
/// byte either way, as a load balancer's idle timeout in front of a
/// backend does: no close frame, just the end of the TCP connection.
struct IdleDropper {
    /// Where clients connect.
    addr: SocketAddr,
    /// Runs the accept loop and the connections; dropping it ends them.
    _runtime: tokio::runtime::Runtime,
}

impl IdleDropper {
    /// Forwards every connection to `upstream` (`http://host:port`).
    fn start(upstream: &str) -> IdleDropper {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay_until_idle(client, server).await;
                    }
                });
            }
        });
        IdleDropper {
            addr,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Copies bytes both ways until a side ends or [`IDLE`] passes without a
/// byte; then drops both connections.
async fn relay_until_idle(mut client: TcpStream, mut server: TcpStream) {
    let (mut client_in, mut client_out) = client.split();
    let (mut server_in, mut server_out) = server.split();
    let mut up = vec![0; 16 * 1024];
    let mut down = vec![0; 16 * 1024];
    loop {
        // A read that loses the race is dropped before it took anything
        // (tokio's reads are cancel-safe), and the timer starts again
        // after every chunk.
        tokio::select! {
            read = client_in.read(&mut up) => match read {
                Ok(n) if n > 0 => {
                    if server_out.write_all(&up[..n]).await.is_err() {
                        return;
                    }
                }
                _ => return,
            },
            read = server_in.read(&mut down) => match read {
                Ok(n) if n > 0 => {
                    if client_out.write_all(&down[..n]).await.is_err() {
                        return;
                    }
                }
                _ => return,
            },
            () = tokio::time::sleep(IDLE) => return,
        }
    }
}

/// The second defect, wsdiag's keepalive hiding idle timeouts: an
/// idle timeout in front of the upstream ends a socket that stayed quiet
/// for 1.5 s, and the client sees the connection end without a close frame
/// (1006) directly; it must see that through wsdiag too, which sends no
/// traffic of its own by default, so the silence is the same.
#[test]
fn an_idle_drop_in_front_of_the_upstream_reaches_the_client_as_directly() {
    let server = NodeServer::start("lifecycle_server.js", &[], &[("LIFECYCLE_MODE", "echo")]);
    let forwarder = IdleDropper::start(&server.url);
    let args = ["--path", "/ws", "--send", "hi", "--wait-ms", "5000"];
    let direct = client("lifecycle_client.js", &forwarder.url(), &args);
    assert_eq!(direct["received"], serde_json::json!(["hi"]), "{direct}");
    assert_eq!(direct["close"]["code"], 1006, "{direct}");
    let (proxied, dir) = through_wsdiag(&forwarder.url(), |base| {
        client("lifecycle_client.js", base, &args)
    });
    println!("direct: {direct}\nthrough wsdiag: {proxied}");
    same_for_the_client(&direct, &proxied, &["opened", "received", "close", "error"]);

    let events = capture(dir.path());
    let close = the_close(&events);
    assert_eq!(close["clean"], false, "{close}");
    assert!(close.get("code").is_none(), "no close frame: {close}");
    assert_eq!(close["initiator"], "upstream", "{close}");
    let own: Vec<_> = of_type(&events, "ws_message")
        .into_iter()
        .filter(|m| m["origin"] == "proxy")
        .collect();
    assert!(own.is_empty(), "wsdiag sent traffic of its own: {own:?}");
}

/// Chromium, headless, loads `base` and sends `text` over a WebSocket on
/// `/ws/echo` (tests/tools/browser_deflate.js); its report.
fn browser_deflate(base: &str, text: &str) -> Value {
    let out = Command::new("node")
        .arg(node_tools().join("browser_deflate.js"))
        .args([base, "/ws/echo", text])
        .stdin(Stdio::null())
        .output()
        .expect("node is needed for the browser test");
    crate::support::browser_report(&out)
}

/// True for a string that names permessage-deflate (RFC 7692).
fn names_deflate(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|v| v.contains("permessage-deflate"))
}

/// The third defect, wsdiag removing compression: Chromium always
/// offers permessage-deflate and uvicorn accepts it. Through wsdiag the
/// offer and the answer must pass untouched, and the capture must hold the
/// inflated text, marked compressed, with its smaller size on the wire.
#[test]
fn chromium_and_uvicorn_negotiate_permessage_deflate_through_wsdiag_as_directly() {
    chromium();
    let (_server, url) = python_server("deflate_echo.py");
    let text = "wsdiag relays compressed frames as they are. ".repeat(50)[..2000].to_owned();
    let direct = browser_deflate(&url, &text);
    assert_eq!(direct["opened"], true, "{direct}");
    assert!(names_deflate(&direct["extensions"]), "{direct}");
    assert_eq!(direct["echoed_same"], true, "{direct}");
    let (proxied, dir) = through_wsdiag(&url, |base| browser_deflate(base, &text));
    println!("direct: {direct}\nthrough wsdiag: {proxied}");
    same_for_the_client(
        &direct,
        &proxied,
        &["opened", "extensions", "echoed_len", "echoed_same", "close"],
    );

    let events = capture(dir.path());
    let upgrade: Vec<_> = of_type(&events, "http_response")
        .into_iter()
        .filter(|r| r["status"] == 101)
        .collect();
    assert_eq!(upgrade.len(), 1, "{upgrade:?}");
    let agreed = upgrade[0]["headers"].as_array().unwrap().iter().any(|h| {
        h[0].as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case("sec-websocket-extensions"))
            && names_deflate(&h[1])
    });
    assert!(agreed, "the upstream's 101 as it sent it: {}", upgrade[0]);
    let handshake = of_type(&events, "ws_handshake");
    assert_eq!(handshake.len(), 1, "{handshake:?}");
    let negotiated = handshake[0]["extensions"].as_array();
    assert!(
        negotiated.is_some_and(|e| e.iter().any(names_deflate)),
        "the handshake names the extension: {}",
        handshake[0]
    );
    for dir in ["client_to_upstream", "upstream_to_client"] {
        let texts: Vec<_> = of_type(&events, "ws_message")
            .into_iter()
            .filter(|m| m["dir"] == dir && m["opcode"] == "text")
            .collect();
        assert_eq!(texts.len(), 1, "{dir}: {texts:?}");
        let m = texts[0];
        assert_eq!(m["text"], text.as_str(), "{dir}: the inflated text");
        assert_eq!(m["len"], 2000, "{dir}: {m}");
        assert_eq!(m["compressed"], true, "{dir}: {m}");
        let wire = m["wire_len"].as_u64();
        assert!(
            wire.is_some_and(|w| w > 0 && w < 2000),
            "{dir}: fewer bytes on the wire: {m}"
        );
    }
}

/// The third defect's other half: a server that sends a compressed frame
/// (RSV1) though its handshake agreed on no extension. The client itself
/// must fail the connection, through wsdiag as directly, and wsdiag only
/// record who broke what.
/// `ws` fails it with a close 1002 of its own that this server never
/// answers, so after its close timeout (500 ms here) the client reports
/// the connection's end as 1006, as a browser would.
#[test]
fn a_frame_compressed_without_negotiation_fails_the_client_through_wsdiag_as_directly() {
    let server = NodeServer::start("lifecycle_server.js", &[], &[("LIFECYCLE_MODE", "rsv1")]);
    let args = [
        "--path",
        "/ws",
        "--close-timeout-ms",
        "500",
        "--wait-ms",
        "3000",
    ];
    let direct = client("lifecycle_client.js", &server.url, &args);
    assert_eq!(
        direct["error"], "Invalid WebSocket frame: RSV1 must be clear",
        "{direct}"
    );
    assert_eq!(direct["close"]["code"], 1006, "{direct}");
    let (proxied, dir) = through_wsdiag(&server.url, |base| {
        client("lifecycle_client.js", base, &args)
    });
    println!("direct: {direct}\nthrough wsdiag: {proxied}");
    same_for_the_client(&direct, &proxied, &["opened", "received", "close", "error"]);

    let events = capture(dir.path());
    let close = the_close(&events);
    assert_eq!(close["violator"], "upstream", "{close}");
    assert_eq!(close["violation"], wsdiag::event::RESERVED_BITS, "{close}");
    let (json, _) = wsdiag(
        &["diagnose", "capture.jsonl", "--format", "json"],
        dir.path(),
    );
    let diagnosis: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
    let named = diagnosis["findings"].as_array().is_some_and(|f| {
        f.iter()
            .any(|f| f["code"] == "ws-compression-not-negotiated")
    });
    assert!(named, "{diagnosis:#}");
}

/// How many clients flood the echo server.
const FLOODERS: usize = 4;

/// `node flood.js server`: an echo server that closes every client with
/// 1001 on SIGINT; returns it once it listens, and its URL.
fn flood_server() -> (Running, String) {
    let mut command = Command::new("node");
    command
        .args(["flood.js", "server"])
        .current_dir(dialect_apps());
    let mut server = Running::spawn(command);
    let url = format!("http://{}", address_in(&server.line_with("listening on")));
    (server, url)
}

/// `node flood.js client BASE` (tests/dialect_apps/flood.js): returns once
/// every client has had 1,000 echoes (the flood is on), with the process
/// whose last line will be the summary.
fn start_flood(base: &str) -> Running {
    let mut command = Command::new("node");
    command
        .args(["flood.js", "client", base, "--ready", "1000", "--clients"])
        .arg(FLOODERS.to_string())
        .current_dir(dialect_apps());
    let mut flood = Running::spawn(command);
    flood.line_with("flooding");
    flood
}

/// The flood clients' summaries, once every socket closed.
fn flood_summary(mut flood: Running) -> Vec<Value> {
    let line = flood.line_with("\"clients\"");
    let summary: Value = serde_json::from_str(&line).unwrap();
    let clients = summary["clients"].as_array().unwrap().clone();
    assert_eq!(clients.len(), FLOODERS, "{summary}");
    clients
}

/// The close code each flood client got.
fn close_codes(clients: &[Value]) -> Vec<Value> {
    clients.iter().map(|c| c["close"]["code"].clone()).collect()
}

/// `wsdiag proxy` (default flags) in front of `upstream`, recording to
/// `dir/capture.jsonl`, its console read on a thread of its own so that a
/// flood's lines never fill the pipe and stall it.
struct DrainedProxy {
    child: Child,
    addr: String,
    /// The thread reading the console; it ends with wsdiag's stdout.
    console: Option<std::thread::JoinHandle<String>>,
}

impl DrainedProxy {
    fn start(upstream: &str, dir: &Path) -> DrainedProxy {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wsdiag"))
            .args(["proxy", "--upstream", upstream, "--listen", "127.0.0.1:0"])
            .args(["--capture", "capture.jsonl"])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let banner = lines
            .by_ref()
            .map(|l| l.unwrap())
            .find(|l| l.contains("proxy on"))
            .expect("wsdiag ended without printing its address");
        let console =
            std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"));
        DrainedProxy {
            child,
            addr: address_in(&banner),
            console: Some(console),
        }
    }

    /// Sends SIGINT (Ctrl-C) and waits for the exit; the console's output.
    fn interrupt(mut self) -> String {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success());
        let status = self.child.wait().unwrap();
        let console = self.console.take().map(|c| c.join().unwrap());
        let console = console.unwrap_or_default();
        assert!(status.success(), "wsdiag proxy failed: {console}");
        console
    }
}

impl Drop for DrainedProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fourth defect, a shutdown that is not what it records:
/// Ctrl-C while 4 clients flood an echo server. A server shutting down
/// gives each of them a 1001 "going away", and so must wsdiag: each client
/// gets a close frame 1001 (not the end of its TCP connection), and the
/// capture counts as delivered exactly the messages each client got.
#[test]
fn ctrl_c_under_a_flood_gives_every_client_a_1001_and_the_capture_counts_what_they_got() {
    // Directly: the server itself goes away.
    let (server, url) = flood_server();
    let flood = start_flood(&url);
    let _ = server.stop("INT");
    let direct = flood_summary(flood);

    // Through wsdiag: wsdiag goes away, the server stays.
    let (_server, url) = flood_server();
    let dir = tempfile::tempdir().unwrap();
    let proxy = DrainedProxy::start(&url, dir.path());
    let flood = start_flood(&format!("http://{}", proxy.addr));
    proxy.interrupt();
    let proxied = flood_summary(flood);
    let codes = |clients: &[Value]| -> String {
        clients
            .iter()
            .map(|c| format!("{} (received {})", c["close"]["code"], c["received"]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "direct: {}\nthrough wsdiag: {}",
        codes(&direct),
        codes(&proxied)
    );
    assert_eq!(close_codes(&direct), vec![Value::from(1001); FLOODERS]);
    assert_eq!(
        close_codes(&proxied),
        close_codes(&direct),
        "every client gets a close frame 1001: {proxied:?}"
    );

    let events = capture(dir.path());
    for summary in &proxied {
        let prefix = summary["prefix"].as_str().unwrap();
        let conn = of_type(&events, "ws_message")
            .into_iter()
            .find(|m| {
                m["dir"] == "client_to_upstream"
                    && m["text"].as_str().is_some_and(|t| t.starts_with(prefix))
            })
            .map(|m| m["conn"].clone())
            .unwrap_or_else(|| panic!("no message of client {prefix} recorded"));
        let of_conn: Vec<&Value> = events.iter().filter(|e| e["conn"] == conn).collect();
        let messages: Vec<&Value> = of_conn
            .iter()
            .copied()
            .filter(|e| e["type"] == "ws_message")
            .collect();
        let delivered = messages
            .iter()
            .filter(|m| m["dir"] == "upstream_to_client" && m["opcode"] == "text")
            .filter(|m| m["forwarded"] != false)
            .count();
        assert_eq!(
            Value::from(delivered),
            summary["received"],
            "client {prefix}: messages recorded as delivered vs received"
        );
        for dir in ["upstream_to_client", "client_to_upstream"] {
            let own: Vec<_> = messages
                .iter()
                .filter(|m| m["dir"] == dir && m["opcode"] == "close" && m["origin"] == "proxy")
                .collect();
            assert_eq!(
                own.len(),
                1,
                "client {prefix}: wsdiag's close {dir}: {own:?}"
            );
            assert_eq!(close_code(own[0]), Some(1001), "{}", own[0]);
        }
        let closes: Vec<_> = of_conn.iter().filter(|e| e["type"] == "ws_close").collect();
        assert_eq!(closes.len(), 1, "client {prefix}: {closes:?}");
        assert_eq!(closes[0]["initiator"], "proxy", "{}", closes[0]);
        assert_eq!(closes[0]["code"], 1001, "{}", closes[0]);
    }
}
