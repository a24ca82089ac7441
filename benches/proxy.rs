//! The proxy benchmark: `cargo bench --bench proxy [-- --quick]`.
//!
//! An echo upstream (tokio-tungstenite WebSocket at /ws, `POST /echo` for
//! REST) runs in this process with a closed-loop load generator (N
//! connections, each sending a chat-like JSON message of S bytes and
//! waiting for its echo). The same load runs, interleaved round by round,
//! against: the upstream directly; `wsdiag proxy` recording to a capture
//! file; `wsdiag proxy --no-capture`; and nginx as a plain WebSocket reverse
//! proxy when `nginx` is installed. The proxies run as processes of their
//! own, so their CPU time and resident memory come from /proc. The idle
//! part also measures WebSockets that negotiated permessage-deflate, with
//! real Python `websockets` clients and server
//! (`benches/support/idle_deflate.py`, in the test venv).
//!
//! Figures are reported as ratios against the direct connection of the same
//! round (absolute numbers move 2-3x between runs on shared machines,
//! ratios much less), plus the proxy's CPU microseconds per round trip and
//! the kernel's part of them (system time: TCP, system calls, wake-ups).
//! `--quick` runs everything briefly: CI uses it as a smoke test that fails
//! on errors, never on speed. `--only TEXT` runs the scenarios whose name
//! contains TEXT (or only `idle`, `sustained` or `writer`), `--rounds N`
//! sets the number of interleaved rounds, and
//! `WSDIAG_BENCH_WRAP` runs the proxies under a profiler. See
//! docs/performance.md.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)] // a benchmark reports on stdout

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

#[path = "support/echo.rs"]
mod echo;

/// A round trip that takes longer is an error, not a hang.
const ROUND_TRIP_LIMIT: Duration = Duration::from_secs(5);

/// How long and how often.
struct Plan {
    rounds: usize,
    seconds: f64,
    /// Only the scenarios whose name contains this (`--only TEXT`), or
    /// only `idle`, `sustained` or `writer`. For profiling.
    only: Option<String>,
    idle: Vec<usize>,
    sustained: (u64, u64),
    writer_events: usize,
}

impl Plan {
    fn from_args() -> Plan {
        let args: Vec<String> = std::env::args().collect();
        let quick = args.iter().any(|a| a == "--quick");
        let only = args
            .iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1).cloned());
        let rounds = args
            .iter()
            .position(|a| a == "--rounds")
            .and_then(|i| args.get(i + 1)?.parse().ok());
        if quick {
            Plan {
                rounds: 1,
                seconds: 0.5,
                only,
                idle: vec![200],
                sustained: (1, 2),
                writer_events: 50_000,
            }
        } else {
            Plan {
                rounds: rounds.unwrap_or(if only.is_some() { 1 } else { 3 }),
                seconds: 4.0,
                only,
                idle: vec![2_000, 6_000],
                sustained: (10, 60),
                writer_events: 1_000_000,
            }
        }
    }

    fn runs(&self, s: &Scenario) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| s.name.contains(o.as_str()))
    }

    /// Whether the part after the scenarios named `name` (`idle`,
    /// `sustained`, `writer`) runs: always, unless `--only` names another.
    fn section(&self, name: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o == name)
    }
}

/// One load: WebSocket or REST, message size, connections.
#[derive(Clone, Copy)]
struct Scenario {
    name: &'static str,
    ws: bool,
    size: usize,
    conns: usize,
    /// The message protocol of the WebSocket scenarios.
    dialect: Dialect,
}

/// What the WebSocket scenarios send: a Django Channels JSON envelope, or a
/// Socket.IO event on a `/socket.io/` URL (read by wsdiag's Socket.IO
/// dialect).
#[derive(Clone, Copy, PartialEq)]
enum Dialect {
    Json,
    SocketIo,
}

const SCENARIOS: [Scenario; 7] = [
    Scenario {
        name: "WS 100 B, 1 conn",
        ws: true,
        size: 100,
        conns: 1,
        dialect: Dialect::Json,
    },
    Scenario {
        name: "WS 100 B, 50 conns",
        ws: true,
        size: 100,
        conns: 50,
        dialect: Dialect::Json,
    },
    Scenario {
        name: "WS Socket.IO 100 B, 50 conns",
        ws: true,
        size: 100,
        conns: 50,
        dialect: Dialect::SocketIo,
    },
    Scenario {
        name: "WS 16 KiB, 1 conn",
        ws: true,
        size: 16 * 1024,
        conns: 1,
        dialect: Dialect::Json,
    },
    Scenario {
        name: "WS 16 KiB, 50 conns",
        ws: true,
        size: 16 * 1024,
        conns: 50,
        dialect: Dialect::Json,
    },
    Scenario {
        name: "REST 100 B, 1 conn",
        ws: false,
        size: 100,
        conns: 1,
        dialect: Dialect::Json,
    },
    Scenario {
        name: "REST 100 B, 50 conns",
        ws: false,
        size: 100,
        conns: 50,
        dialect: Dialect::Json,
    },
];

/// What one run measured.
#[derive(Clone, Default)]
struct Run {
    per_second: f64,
    p50_us: u64,
    p90_us: u64,
    p99_us: u64,
    max_us: u64,
    errors: u64,
    cpu_us_per_rt: Option<f64>,
    /// The part of `cpu_us_per_rt` spent in the kernel (system time).
    kernel_us_per_rt: Option<f64>,
}

// ---------------------------------------------------------------- upstream

async fn echo_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(echo::serve(listener));
    addr
}

// ---------------------------------------------------------------- targets

/// A proxy process (or none, for direct).
struct Target {
    name: &'static str,
    addr: SocketAddr,
    process: Option<Child>,
    /// nginx's workers are its children: CPU and memory are summed.
    tree: bool,
    /// Its working directory (the capture file, nginx's files); removed on drop.
    dir: Option<tempfile::TempDir>,
}

impl Target {
    /// The size of this proxy's capture file, 0 without one.
    fn capture_bytes(&self) -> u64 {
        self.dir
            .as_ref()
            .and_then(|d| std::fs::metadata(d.path().join("bench.jsonl")).ok())
            .map_or(0, |m| m.len())
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(child) = &mut self.process {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

fn wsdiag(upstream: SocketAddr, capture: bool, name: &'static str) -> Target {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "proxy".to_owned(),
        "--upstream".into(),
        format!("http://{upstream}"),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--quiet".into(),
    ];
    if capture {
        args.extend([
            "--capture".into(),
            dir.path()
                .join("bench.jsonl")
                .to_string_lossy()
                .into_owned(),
        ]);
    } else {
        args.push("--no-capture".into());
    }
    // WSDIAG_BENCH_WRAP runs the proxy under another program, such as
    // `valgrind --tool=callgrind` (see docs/performance.md, Profiling).
    let wrap = std::env::var("WSDIAG_BENCH_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(words).arg(env!("CARGO_BIN_EXE_wsdiag"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_wsdiag")),
    };
    let mut child = command.args(&args).stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("proxy on"))
        .unwrap();
    let at = line.find("127.0.0.1:").unwrap();
    let addr = line[at..].split(' ').next().unwrap().parse().unwrap();
    Target {
        name,
        addr,
        process: Some(child),
        tree: false,
        dir: Some(dir),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn nginx(upstream: SocketAddr) -> Option<Target> {
    let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let prefix = dir.path().display();
    let config = format!(
        "worker_processes auto;\nworker_rlimit_nofile 20000;\nerror_log {prefix}/error.log error;\npid {prefix}/nginx.pid;\n\
         events {{ worker_connections 9000; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n  proxy_temp_path {prefix}/proxy;\n\
           map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}\n\
           upstream echo {{ server {upstream}; keepalive 64; }}\n\
           server {{\n    listen 127.0.0.1:{port};\n    keepalive_requests 10000000;\n    location / {{\n      proxy_pass http://echo;\n      proxy_http_version 1.1;\n\
               proxy_set_header Upgrade $http_upgrade;\n      proxy_set_header Connection $connection_upgrade;\n      proxy_read_timeout 1h;\n    }}\n  }}\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), config).unwrap();
    let conf = dir.path().join("nginx.conf");
    let child = Command::new(binary)
        .args([
            "-p",
            &prefix.to_string(),
            "-c",
            &conf.to_string_lossy(),
            "-g",
            "daemon off;",
        ])
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // Readiness: the port accepts (nginx prints nothing when ready).
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return None;
        }
        std::thread::yield_now();
    }
    Some(Target {
        name: "nginx",
        addr,
        process: Some(child),
        tree: true,
        dir: Some(dir),
    })
}

/// PIDs of a process and, for `tree`, its children.
fn pids(target: &Target) -> Vec<u32> {
    let Some(child) = &target.process else {
        return Vec::new();
    };
    let root = child.id();
    let mut out = vec![root];
    if target.tree {
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
            if after
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u32>().ok())
                == Some(root)
            {
                out.push(pid);
            }
        }
    }
    out
}

/// CPU time in microseconds: (user, system), from `utime` and `stime` of
/// `/proc/PID/stat` (proc(5)).
fn cpu_us(target: &Target) -> (u64, u64) {
    pids(target)
        .into_iter()
        .map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map_or("", |(_, r)| r)
                .split_whitespace()
                .collect();
            // 100 ticks a second.
            let us = |i: usize| {
                fields
                    .get(i)
                    .and_then(|f| f.parse::<u64>().ok())
                    .unwrap_or(0)
                    * 10_000
            };
            (us(11), us(12))
        })
        .fold((0, 0), |(u, s), (pu, ps)| (u + pu, s + ps))
}

/// Resident memory in KiB.
fn rss_kib(target: &Target) -> u64 {
    pids(target)
        .into_iter()
        .map(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}

// ---------------------------------------------------------------- load

fn chat_message(size: usize) -> String {
    let head = r#"{"type":"chat_message","message":""#;
    let fill = size.saturating_sub(head.len() + 2);
    format!("{head}{}\"}}", "x".repeat(fill))
}

/// A Socket.IO event with an ack id, `size` bytes: `421["chat message",{"text":"xx…"}]`.
fn socketio_event(size: usize) -> String {
    let head = r#"421["chat message",{"text":""#;
    let fill = size.saturating_sub(head.len() + 3);
    format!("{head}{}\"}}]", "x".repeat(fill))
}

async fn load(target: &Target, s: Scenario, seconds: f64) -> Run {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let errors = Arc::new(AtomicU64::new(0));
    let cpu_before = cpu_us(target);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..s.conns {
        let (addr, errors) = (target.addr, errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            let result = if s.ws {
                ws_loop(addr, s.size, s.dialect, deadline, &mut h).await
            } else {
                rest_loop(addr, s.size, deadline, &mut h).await
            };
            if result.is_err() {
                errors.fetch_add(1, Ordering::Relaxed);
            }
            h
        }));
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for t in tasks {
        if let Ok(h) = t.await {
            all.add(h).unwrap();
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let round_trips = all.len();
    let (user, system) = cpu_us(target);
    let user = user.saturating_sub(cpu_before.0);
    let system = system.saturating_sub(cpu_before.1);
    let per_rt = |us: u64| {
        (target.process.is_some() && round_trips > 0).then(|| us as f64 / round_trips as f64)
    };
    Run {
        per_second: round_trips as f64 / elapsed,
        p50_us: all.value_at_quantile(0.5),
        p90_us: all.value_at_quantile(0.9),
        p99_us: all.value_at_quantile(0.99),
        max_us: all.max(),
        errors: errors.load(Ordering::Relaxed),
        cpu_us_per_rt: per_rt(user + system),
        kernel_us_per_rt: per_rt(system),
    }
}

async fn ws_loop(
    addr: SocketAddr,
    size: usize,
    dialect: Dialect,
    deadline: Instant,
    h: &mut Histogram<u64>,
) -> Result<(), String> {
    let (path, message) = match dialect {
        Dialect::Json => ("/ws", chat_message(size)),
        Dialect::SocketIo => (
            "/socket.io/?EIO=4&transport=websocket",
            socketio_event(size),
        ),
    };
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
        .await
        .map_err(|e| e.to_string())?;
    while Instant::now() < deadline {
        let t = Instant::now();
        ws.send(Message::Text(message.clone().into()))
            .await
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(ROUND_TRIP_LIMIT, ws.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => h
                .record(t.elapsed().as_micros() as u64)
                .map_err(|e| e.to_string())?,
            other => return Err(format!("{other:?}")),
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}

async fn rest_loop(
    addr: SocketAddr,
    size: usize,
    deadline: Instant,
    h: &mut Histogram<u64>,
) -> Result<(), String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let body = Bytes::from(chat_message(size));
    while Instant::now() < deadline {
        let t = Instant::now();
        let request = hyper::Request::post("/echo")
            .header("host", addr.to_string())
            .body(Full::new(body.clone()))
            .unwrap();
        let exchange = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())
        };
        tokio::time::timeout(ROUND_TRIP_LIMIT, exchange)
            .await
            .map_err(|_| "no answer".to_owned())??;
        h.record(t.elapsed().as_micros() as u64)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Opens `n` idle WebSockets through `target`; returns KiB per connection.
async fn idle_memory(target: &Target, n: usize) -> Result<f64, String> {
    let before = rss_kib(target);
    let mut sockets = Vec::with_capacity(n);
    for _ in 0..n {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", target.addr))
            .await
            .map_err(|e| format!("after {} connections: {e}", sockets.len()))?;
        sockets.push(ws);
    }
    // One round trip on the last socket: every handshake is through.
    let last = sockets.last_mut().unwrap();
    last.send(Message::Text("ping".into()))
        .await
        .map_err(|e| e.to_string())?;
    last.next().await;
    let after = rss_kib(target);
    drop(sockets);
    Ok(after.saturating_sub(before) as f64 / n as f64)
}

/// 16 KiB round trips for `long` seconds; RSS after `short` and at the end.
async fn sustained(target: &Target, short: u64, long: u64) -> (u64, u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(long);
    let rts = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (addr, rts) = (target.addr, rts.clone());
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            let _ = ws_loop(addr, 16 * 1024, Dialect::Json, deadline, &mut h).await;
            rts.fetch_add(h.len(), Ordering::Relaxed);
        }));
    }
    tokio::time::sleep(Duration::from_secs(short)).await;
    let early = rss_kib(target);
    for t in tasks {
        let _ = t.await;
    }
    (early, rss_kib(target), rts.load(Ordering::Relaxed))
}

/// The capture writer alone: events per second through the hub.
fn writer_rate(events: usize) -> f64 {
    use wsdiag::capture::{CaptureWriter, Header};
    use wsdiag::event::{Direction, EventKind, Opcode, Payload, WsMessage};
    let dir = tempfile::tempdir().unwrap();
    let header = Header::new("bench".into(), "bench".into(), 256 * 1024);
    let writer = CaptureWriter::create(&dir.path().join("w.jsonl"), &header).unwrap();
    let (recorder, hub) =
        wsdiag::sink::spawn(vec![Box::new(writer)], 256 * 1024, Instant::now(), None);
    let payload = Bytes::from(chat_message(100));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let started = Instant::now();
    runtime.block_on(async {
        for _ in 0..events {
            let m = WsMessage::new(
                Direction::ClientToUpstream,
                Opcode::Text,
                Payload::capture(&payload, 256 * 1024),
                true,
            );
            recorder.record(Some(1), EventKind::WsMessage(m)).await;
        }
    });
    drop(recorder);
    hub.join();
    events as f64 / started.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------- report

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let plan = Plan::from_args();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let upstream = runtime.block_on(echo_upstream());
    let direct = Target {
        name: "direct",
        addr: upstream,
        process: None,
        tree: false,
        dir: None,
    };
    let mut targets = vec![direct];
    targets.extend(proxies(upstream));
    if targets.len() < 4 {
        println!(
            "(nginx not installed: its column is empty; `apt-get install nginx-light` adds it)"
        );
    }
    println!(
        "wsdiag proxy benchmark: {} rounds of {:.1} s per target and scenario, interleaved\n",
        plan.rounds, plan.seconds
    );
    let mut errors = 0;
    // results[scenario][target] = runs over rounds
    let mut results: Vec<Vec<Vec<Run>>> = vec![vec![Vec::new(); targets.len()]; SCENARIOS.len()];
    for round in 0..plan.rounds {
        for (si, s) in SCENARIOS.iter().enumerate() {
            if !plan.runs(s) {
                continue;
            }
            for k in 0..targets.len() {
                let ti = (k + round) % targets.len();
                let run = runtime.block_on(load(&targets[ti], *s, plan.seconds));
                eprintln!(
                    "round {} {:<22} {:<20} {:>8.0}/s errors {}",
                    round + 1,
                    s.name,
                    targets[ti].name,
                    run.per_second,
                    run.errors
                );
                // Only wsdiag's failures fail the benchmark.
                if targets[ti].name.starts_with("wsdiag") || ti == 0 {
                    errors += run.errors;
                }
                results[si][ti].push(run);
            }
        }
    }
    let names: Vec<&str> = targets.iter().map(|t| t.name).collect();
    println!("{:<22} {:>14}", "scenario", "direct /s");
    for (si, s) in SCENARIOS.iter().enumerate() {
        if !plan.runs(s) {
            continue;
        }
        let direct_rate = median(results[si][0].iter().map(|r| r.per_second).collect());
        let direct_p50 = median(results[si][0].iter().map(|r| r.p50_us as f64).collect());
        println!(
            "\n{}  (direct: {:.0} round trips/s, p50 {:.0} µs)",
            s.name, direct_rate, direct_p50
        );
        for ti in 1..targets.len() {
            let runs = &results[si][ti];
            // Ratio against direct from the same round.
            let ratio = median(
                runs.iter()
                    .zip(&results[si][0])
                    .map(|(r, d)| r.per_second / d.per_second)
                    .collect(),
            );
            let added = median(
                runs.iter()
                    .zip(&results[si][0])
                    .map(|(r, d)| r.p50_us as f64 - d.p50_us as f64)
                    .collect(),
            );
            let cpu = median(runs.iter().filter_map(|r| r.cpu_us_per_rt).collect());
            let kernel = median(runs.iter().filter_map(|r| r.kernel_us_per_rt).collect());
            let last = runs.last().cloned().unwrap_or_default();
            println!(
                "  {:<20} {:>5.2}x direct  added p50 {:>+6.0} µs  CPU {:>5.1} µs/rt (kernel {:>5.1})  p50/p90/p99/max {}/{}/{}/{} µs",
                names[ti], ratio, added, cpu, kernel, last.p50_us, last.p90_us, last.p99_us, last.max_us
            );
        }
    }
    if plan.section("idle") {
        idle_report(&runtime, upstream, &plan.idle);
        if !deflate_idle_report(&plan.idle) {
            errors += 1;
        }
    }
    if plan.section("sustained") {
        let (short, long) = plan.sustained;
        let capture_target = &targets[1];
        let captured = || capture_target.capture_bytes();
        let before = captured();
        let (early, late, rts) = runtime.block_on(sustained(capture_target, short, long));
        let written = captured().saturating_sub(before);
        println!(
            "\nSustained 16 KiB stream through wsdiag (capture on), {long} s, {rts} round trips: RSS {early} KiB after {short} s, {late} KiB at the end: {:.2}x; {:.1} GB captured",
            late as f64 / early.max(1) as f64,
            written as f64 / 1e9
        );
        // Each round trip records two 16 KiB messages. The last few
        // megabytes may still be on their way to the file (the hub's
        // channel, the writer's buffer); much less means the capture
        // stopped (its error is on stderr): the figure is not one.
        if written < rts * 2 * 16 * 1024 * 9 / 10 {
            println!(
                "  the capture is incomplete ({:.1} GB for {rts} round trips): was the disk full? The run needs about {:.0} GB free",
                written as f64 / 1e9,
                (rts * 2 * 17 * 1024) as f64 / 1e9
            );
            errors += 1;
        }
    }
    if plan.section("writer") {
        let rate = writer_rate(plan.writer_events);
        println!(
            "Capture writer alone: {rate:.0} events/s ({} events of 100 B messages)",
            plan.writer_events
        );
    }
    if errors > 0 {
        println!("\n{errors} connections failed");
        drop(targets); // stops the proxies: process::exit runs no destructor
        std::process::exit(1);
    }
}

/// The proxies under test: wsdiag with and without the capture, and nginx
/// when it is installed.
fn proxies(upstream: SocketAddr) -> Vec<Target> {
    let mut targets = vec![
        wsdiag(upstream, true, "wsdiag (capture)"),
        wsdiag(upstream, false, "wsdiag (no capture)"),
    ];
    targets.extend(nginx(upstream));
    targets
}

/// Idle WebSockets with permessage-deflate negotiated, between real
/// Python `websockets` clients and server (`benches/support/idle_deflate.py`,
/// run with the test venv's Python). False when the script failed.
fn deflate_idle_report(counts: &[usize]) -> bool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target/django-venv");
    let made = Command::new("bash")
        .arg(root.join("tests/django_chat/setup_venv.sh"))
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        println!(
            "  (permessage-deflate: not measured; the test venv needs python3 -m venv and PyPI)"
        );
        return true;
    }
    println!("Idle WebSockets with permessage-deflate (Python websockets clients and server, capture on):");
    for &n in counts {
        let run = Command::new(venv.join("bin/python"))
            .arg(root.join("benches/support/idle_deflate.py"))
            .arg(env!("CARGO_BIN_EXE_wsdiag"))
            .arg(n.to_string())
            .output();
        match run {
            Ok(out) if out.status.success() => {
                for line in String::from_utf8_lossy(&out.stdout).lines() {
                    println!("  wsdiag {n:>6} connections, {line}");
                }
            }
            Ok(out) => {
                let why = String::from_utf8_lossy(&out.stderr);
                println!(
                    "  {n} connections: idle_deflate.py failed: {}",
                    why.lines().last().unwrap_or("")
                );
                return false;
            }
            Err(e) => {
                println!("  {n} connections: cannot run the venv's python: {e}");
                return false;
            }
        }
    }
    true
}

/// Each count is held by freshly started proxies: memory an earlier load
/// left with the allocator would otherwise be reused by some connections
/// and not others, and the figure would move by a third between runs.
fn idle_report(runtime: &tokio::runtime::Runtime, upstream: SocketAddr, counts: &[usize]) {
    println!("\nIdle WebSocket connections (resident memory per connection, fresh processes):");
    let fresh: Vec<Vec<Target>> = counts.iter().map(|_| proxies(upstream)).collect();
    for ti in 0..fresh.first().map_or(0, Vec::len) {
        for (&n, targets) in counts.iter().zip(&fresh) {
            let target = &targets[ti];
            match runtime.block_on(idle_memory(target, n)) {
                Ok(kib) => println!(
                    "  {:<20} {:>6} connections: {:.1} KiB each",
                    target.name, n, kib
                ),
                Err(e) => println!(
                    "  {:<20} {:>6} connections: could not hold them ({e})",
                    target.name, n
                ),
            }
        }
    }
}
