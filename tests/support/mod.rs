//! The harness: the real proxy on 127.0.0.1 port 0 in front of a real
//! upstream (by default the embedded sample backend), recording to a
//! capture file in a temporary directory. `finish` stops the proxy the way
//! Ctrl-C does, waits for the hub, checks every line of the capture against
//! the documented schema, and returns it.

#![allow(dead_code)] // each test module uses a different part

pub mod schema;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use wsdiag::capture::{self, Capture, CaptureWriter, Header};
use wsdiag::event::{Event, EventKind};
use wsdiag::proxy::{self, ProxyConfig, Upstream};
use wsdiag::sink::{self, HubHandle, Sink};

/// A WebSocket client connected through the proxy.
pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for anything before failing.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The sample backend on a port of its own.
pub struct Backend {
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Backend {
    pub async fn start() -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn(wsdiag::demo::serve(listener, stop.clone()));
        Backend { addr, stop, task }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// A running proxy and where it records.
pub struct Harness {
    /// Where clients connect.
    pub proxy: SocketAddr,
    /// The sample backend, when the harness started one.
    pub backend: Option<Backend>,
    pub capture_path: PathBuf,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    hub: HubHandle,
    /// Every event as the hub numbers it, live.
    tap: tokio::sync::mpsc::UnboundedReceiver<Arc<Event>>,
    _dir: tempfile::TempDir,
}

/// A sink that hands every event to the test as it happens.
struct Tap(tokio::sync::mpsc::UnboundedSender<Arc<Event>>);

impl Sink for Tap {
    fn name(&self) -> &str {
        "test tap"
    }

    fn event(&mut self, event: &Arc<Event>) -> Result<(), wsdiag::sink::SinkError> {
        let _ = self.0.send(event.clone());
        Ok(())
    }
}

/// Options for [`Harness::start_with`].
pub struct Options {
    pub body_limit: usize,
    pub configure: Box<dyn FnOnce(&mut ProxyConfig) + Send>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            body_limit: 256 * 1024,
            configure: Box::new(|_| {}),
        }
    }
}

impl Harness {
    /// The proxy in front of a fresh sample backend.
    pub async fn start() -> Harness {
        Harness::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Harness {
        let backend = Backend::start().await;
        let upstream = format!("http://{}", backend.addr);
        let mut harness = Harness::in_front_of(&upstream, options).await;
        harness.backend = Some(backend);
        harness
    }

    /// The proxy in front of `upstream` (a URL).
    pub async fn in_front_of(upstream: &str, options: Options) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let capture_path = dir.path().join("capture.jsonl");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = listener.local_addr().unwrap();
        let header = Header::new(proxy.to_string(), upstream.to_owned(), options.body_limit);
        let writer = CaptureWriter::create(&capture_path, &header).unwrap();
        let (tap_tx, tap) = tokio::sync::mpsc::unbounded_channel();
        let sinks: Vec<Box<dyn Sink>> = vec![Box::new(writer), Box::new(Tap(tap_tx))];
        let (recorder, hub) = sink::spawn(sinks, options.body_limit, Instant::now(), None);
        let mut config = ProxyConfig::new(Upstream::parse(upstream).unwrap());
        (options.configure)(&mut config);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(proxy::run(listener, config, recorder, async move {
            stopped.cancelled().await
        }));
        Harness {
            proxy,
            backend: None,
            capture_path,
            stop,
            task,
            hub,
            tap,
            _dir: dir,
        }
    }

    /// Waits until the proxy has recorded an event matching `wanted`.
    pub async fn recorded(&mut self, wanted: impl Fn(&Event) -> bool) -> Arc<Event> {
        loop {
            let event = tokio::time::timeout(PATIENCE, self.tap.recv())
                .await
                .expect("the awaited event was not recorded within the test's patience")
                .expect("the hub stopped");
            if wanted(&event) {
                return event;
            }
        }
    }

    /// Sends `raw` on a new connection to the proxy and reads until the
    /// proxy closes it.
    pub async fn exchange(&self, raw: &[u8]) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = TcpStream::connect(self.proxy).await.unwrap();
        tcp.write_all(raw).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut answer))
            .await
            .expect("the proxy did not close the connection")
            .unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.proxy)
    }

    /// Opens a WebSocket through the proxy with extra headers.
    pub async fn ws(&self, path: &str, headers: &[(&str, &str)]) -> Client {
        let (client, response) = self.try_ws(path, headers).await.unwrap();
        assert_eq!(response.status(), 101);
        client
    }

    pub async fn try_ws(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<
        (
            Client,
            tokio_tungstenite::tungstenite::handshake::client::Response,
        ),
        tokio_tungstenite::tungstenite::Error,
    > {
        let mut request = format!("ws://{}{path}", self.proxy)
            .into_client_request()
            .unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(request))
            .await
            .expect("the WebSocket handshake timed out")
    }

    /// Stops the proxy like Ctrl-C, then reads and checks the capture.
    pub async fn finish(self) -> Capture {
        self.finish_with_file().await.0
    }

    /// Like [`Harness::finish`], keeping the capture file (and the directory
    /// holding it) for commands that read it.
    pub async fn finish_with_file(self) -> (Capture, PathBuf, tempfile::TempDir) {
        self.stop.cancel();
        self.task.await.unwrap();
        if let Some(backend) = self.backend {
            backend.stop().await;
        }
        let hub = self.hub;
        tokio::task::spawn_blocking(move || hub.join())
            .await
            .unwrap();
        let text = std::fs::read_to_string(&self.capture_path).unwrap();
        schema::check_capture(&text);
        check_lines_as_derived(&text);
        let capture = capture::read_path(&self.capture_path).unwrap();
        (capture, self.capture_path, self._dir)
    }
}

/// Checks that every event line of a capture is what the derived
/// serializer of [`Event`] writes for the event read back: the capture
/// writer writes the frequent kinds member by member, and must not differ.
fn check_lines_as_derived(text: &str) {
    for line in text.lines().skip(1) {
        let event: Event = serde_json::from_str(line).unwrap();
        assert_eq!(sonic_rs::to_string(&event).unwrap(), line);
    }
}

/// Reads the next message, failing the test after [`PATIENCE`].
pub async fn next<S>(client: &mut S) -> Option<Message>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    tokio::time::timeout(PATIENCE, client.next())
        .await
        .expect("no message within the test's patience")
        .map(|r| r.unwrap())
}

/// Reads until a text message whose JSON `type` is `msg_type`.
pub async fn wait_for(client: &mut Client, msg_type: &str) -> serde_json::Value {
    loop {
        match next(client).await {
            Some(Message::Text(t)) => {
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == msg_type {
                    return v;
                }
            }
            Some(_) => {}
            None => panic!("the socket ended before a {msg_type} message"),
        }
    }
}

/// Sends a text message.
pub async fn send_text(client: &mut Client, text: &str) {
    client.send(Message::Text(text.into())).await.unwrap();
}

/// The events of one kind, by a projection.
pub fn events<T>(capture: &Capture, f: impl Fn(&Event) -> Option<T>) -> Vec<T> {
    capture.events.iter().filter_map(f).collect()
}

/// The one JSON line a browser script (`tests/tools/*.js`) printed, after
/// checking that it ran.
pub fn browser_report(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "the browser run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the browser script prints one JSON line")
}

/// The endpoints' `ws_message` events (without wsdiag's own frames,
/// `origin: proxy`: its shutdown close, its keepalive).
pub fn messages(capture: &Capture) -> Vec<&wsdiag::event::WsMessage> {
    all_messages(capture)
        .into_iter()
        .filter(|m| m.origin.is_none())
        .collect()
}

/// The `http_request` events.
pub fn requests(capture: &Capture) -> Vec<wsdiag::event::HttpRequest> {
    events(capture, |e| match &e.kind {
        EventKind::HttpRequest(r) => Some(r.clone()),
        _ => None,
    })
}

/// The `http_response` events.
pub fn responses(capture: &Capture) -> Vec<wsdiag::event::HttpResponse> {
    events(capture, |e| match &e.kind {
        EventKind::HttpResponse(r) => Some(r.clone()),
        _ => None,
    })
}

/// Every `ws_message` event, wsdiag's own frames included.
pub fn all_messages(capture: &Capture) -> Vec<&wsdiag::event::WsMessage> {
    capture
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::WsMessage(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// A plain HTTP/1.1 client.
pub fn http_client() -> hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<bytes::Bytes>,
> {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

/// Sends `request` and returns the status, headers and whole body.
pub async fn call(
    request: http::Request<http_body_util::Full<bytes::Bytes>>,
) -> (http::StatusCode, http::HeaderMap, bytes::Bytes) {
    use http_body_util::BodyExt;
    let response = tokio::time::timeout(PATIENCE, http_client().request(request))
        .await
        .expect("no response within the test's patience")
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, body)
}

/// A port nothing listens on (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// The repository's root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/tools` with its `node_modules` (the HAR validator, Playwright),
/// installed once from the lock file.
pub fn node_tools() -> PathBuf {
    static TOOLS: OnceLock<PathBuf> = OnceLock::new();
    TOOLS
        .get_or_init(|| npm_ci("tests/tools", &["har-validator", "playwright-core"]))
        .clone()
}

/// `dir` (relative to the root) with its `node_modules` installed from its
/// lock file, unless `modules` are there already.
pub fn npm_ci(dir: &str, modules: &[&str]) -> PathBuf {
    let dir = root().join(dir);
    let installed = modules
        .iter()
        .all(|m| dir.join("node_modules").join(m).exists());
    if !installed {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .expect("npm is needed for the test tools");
        assert!(status.success(), "npm ci in {} failed", dir.display());
    }
    dir
}

/// Debian's Chromium at /usr/bin/chromium, installed once if missing.
pub fn chromium() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let script = root().join("tests/tools/install_chromium.sh");
        let status = Command::new("bash")
            .arg(script)
            .status()
            .expect("bash is needed to install Chromium");
        assert!(
            status.success(),
            "installing Debian's chromium failed: run tests/tools/install_chromium.sh as root"
        );
    });
}

/// The one `ws_close` of a capture holding one WebSocket.
pub fn ws_close(capture: &Capture) -> wsdiag::event::WsClose {
    let closes = events(capture, |e| match &e.kind {
        EventKind::WsClose(c) => Some(c.clone()),
        _ => None,
    });
    assert_eq!(closes.len(), 1, "one ws_close per WebSocket");
    closes[0].clone()
}

/// A WebSocket server of the test's own on 127.0.0.1 port 0: every
/// connection, once upgraded, goes to `handler`. Returns its URL.
pub async fn ws_upstream<F, Fut>(handler: F) -> String
where
    F: Fn(WebSocketStream<TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                if let Ok(ws) = tokio_tungstenite::accept_async(stream).await {
                    handler(ws).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

/// Reads until the peer's close frame, then on until the connection ends
/// (which sends tungstenite's answer to it); `None` when the connection
/// ended without a close frame.
pub async fn close_of<S>(ws: &mut S) -> Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let next = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("no close within the test's patience");
        match next {
            Some(Ok(Message::Close(frame))) => {
                let _ = tokio::time::timeout(PATIENCE, async {
                    while let Some(Ok(_)) = ws.next().await {}
                })
                .await;
                return frame;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

/// A running `wsdiag` process whose stdout is read line by line.
pub struct Running {
    pub child: std::process::Child,

    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl Running {
    pub fn start(args: &[&str], cwd: &Path) -> Running {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wsdiag"));
        command.args(args).current_dir(cwd);
        Running::spawn(command)
    }

    /// Starts `wsdiag proxy` in front of `upstream` on a free port,
    /// recording to `capture` in `cwd`, with `extra` arguments; returns it
    /// and the address it listens on.
    pub fn proxy(upstream: &str, capture: &str, extra: &[&str], cwd: &Path) -> (Running, String) {
        let mut args = vec![
            "proxy",
            "--upstream",
            upstream,
            "--listen",
            "127.0.0.1:0",
            "--capture",
            capture,
        ];
        args.extend_from_slice(extra);
        let mut proxy = Running::start(&args, cwd);
        let addr = address_in(&proxy.line_with("proxy on"));
        (proxy, addr)
    }

    /// Starts `command` with its stdout piped.
    pub fn spawn(mut command: Command) -> Running {
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        use std::io::BufRead;
        Running {
            child,
            lines: std::io::BufReader::new(stdout).lines(),
        }
    }

    /// Reads lines until one contains `needle`; returns it.
    pub fn line_with(&mut self, needle: &str) -> String {
        for line in self.lines.by_ref() {
            let line = line.unwrap();
            if line.contains(needle) {
                return line;
            }
        }
        panic!("wsdiag ended without printing {needle:?}");
    }

    /// Sends `signal` (INT or TERM) and returns the rest of stdout and the
    /// exit status.
    pub fn stop(mut self, signal: &str) -> (String, std::process::ExitStatus) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap()
            .success());
        let rest: Vec<String> = self.lines.by_ref().map(|l| l.unwrap()).collect();
        (rest.join("\n"), self.child.wait().unwrap())
    }
}

pub fn address_in(line: &str) -> String {
    let start = line.find("127.0.0.1:").unwrap();
    line[start..]
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
        .next()
        .unwrap()
        .to_owned()
}

impl Drop for Running {
    /// A test that fails half-way leaves no process behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A capture of `n` events: the sample's header and exchanges, then chat
/// messages both ways, numbered on.
pub fn chat_capture(path: &std::path::Path, n: usize) {
    use std::io::Write;
    let sample = std::fs::read_to_string(root().join("captures/demo.jsonl")).unwrap();
    let mut lines = sample.lines();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "{}", lines.next().unwrap()).unwrap();
    let mut seq = 0;
    for line in lines.filter(|l| !l.contains("\"type\":\"trailer\"")) {
        seq += 1;
        writeln!(out, "{line}").unwrap();
    }
    while seq < n {
        seq += 1;
        let (dir, who) = if seq % 2 == 0 {
            ("client_to_upstream", "alice")
        } else {
            ("upstream_to_client", "bob")
        };
        let text = format!("{{\\\"type\\\":\\\"chat_message\\\",\\\"message\\\":\\\"message {seq} from {who}\\\"}}");
        writeln!(
            out,
            "{{\"seq\":{seq},\"t_us\":{},\"conn\":{},\"type\":\"ws_message\",\"dir\":\"{dir}\",\"opcode\":\"text\",\"len\":{},\"text\":\"{text}\",\"msg_type\":\"chat_message\"}}",
            10_000 + seq * 50,
            1 + seq % 2,
            text.len() - 8
        )
        .unwrap();
    }
    out.flush().unwrap();
}
