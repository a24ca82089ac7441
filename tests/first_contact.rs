//! The mistakes new users make with `wsdiag proxy`, through the real
//! binary: each gets a message that says what happened and what to try,
//! and nothing recorded is lost.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};

use crate::support::{address_in, Running};

fn wsdiag(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wsdiag"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the wsdiag binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that the command exited 2 and said `expected` on stderr.
fn refused(out: &Output, expected: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    assert!(stderr(out).contains(expected), "{}", stderr(out));
}

/// A loopback port nothing listens on: bound on port 0, then released.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` through `addr`; the status line and body.
fn get(addr: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[test]
fn an_existing_capture_is_refused_and_left_intact() {
    let dir = tempfile::tempdir().unwrap();
    let old = "{\"type\":\"header\"}\n{\"seq\":1}\n";
    std::fs::write(dir.path().join("session.jsonl"), old).unwrap();
    let out = wsdiag(
        &[
            "proxy",
            "--upstream",
            "http://127.0.0.1:8000",
            "--listen",
            "127.0.0.1:0",
            "--capture",
            "session.jsonl",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("session.jsonl exists") && e.contains("--overwrite"),
        "{e}"
    );
    let kept = std::fs::read_to_string(dir.path().join("session.jsonl")).unwrap();
    assert_eq!(kept, old, "the old capture is intact");
}

/// `--upstream` naming wsdiag's own address, in each form that means it:
/// refused at start, before it could forward to itself.
#[test]
fn an_upstream_that_is_the_listen_address_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (listen_host, upstream_host) in [
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1", "localhost"),
        ("0.0.0.0", "127.0.0.1"),
        ("127.0.0.1", "0.0.0.0"),
    ] {
        let port = free_port();
        let out = wsdiag(
            &[
                "proxy",
                "--listen",
                &format!("{listen_host}:{port}"),
                "--upstream",
                &format!("http://{upstream_host}:{port}"),
                "--no-capture",
            ],
            dir.path(),
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "{listen_host} / {upstream_host}"
        );
        let e = stderr(&out);
        assert!(e.contains("is wsdiag's own address"), "{e}");
    }
}

#[test]
fn upstream_urls_with_mistakes_say_what_was_meant() {
    let dir = tempfile::tempdir().unwrap();
    for (upstream, expected) in [
        ("127.0.0.1:8000", "did you mean http://127.0.0.1:8000?"),
        ("localhost:8000", "did you mean http://localhost:8000?"),
        ("http://127.0.0.1:99999", "99999 is not a TCP port"),
    ] {
        let out = wsdiag(
            &["proxy", "--upstream", upstream, "--listen", "127.0.0.1:0"],
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(2), "{upstream}");
        assert!(
            stderr(&out).contains(expected),
            "{upstream}: {}",
            stderr(&out)
        );
    }
}

/// `--listen 9000` and `--listen localhost:PORT` are loopback addresses;
/// a URL or a missing port get the form to use.
#[test]
fn listen_takes_a_bare_port_and_host_names() {
    let dir = tempfile::tempdir().unwrap();
    for form in ["{port}", "localhost:{port}"] {
        let port = free_port();
        let listen = form.replace("{port}", &port.to_string());
        let mut proxy = Running::start(
            &[
                "proxy",
                "--upstream",
                "http://127.0.0.1:1",
                "--listen",
                &listen,
                "--no-capture",
            ],
            dir.path(),
        );
        let banner = proxy.line_with("proxy on");
        assert!(
            banner.contains(&format!("http://127.0.0.1:{port}")),
            "{banner}"
        );
        let _ = proxy.stop("INT");
    }
    for bad in ["http://127.0.0.1:9000", "localhost"] {
        let out = wsdiag(
            &["proxy", "--upstream", "http://127.0.0.1:1", "--listen", bad],
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(stderr(&out).contains("give HOST:PORT"), "{}", stderr(&out));
    }
}

/// A backend that is not running: said at start, the proxy keeps
/// running, and a request gets a 502 that says the same, in words.
#[test]
fn a_backend_that_is_down_is_named_at_start_and_in_the_502() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = format!("http://127.0.0.1:{}", free_port());
    let mut proxy = Running::start(
        &[
            "proxy",
            "--upstream",
            &upstream,
            "--listen",
            "127.0.0.1:0",
            "--no-capture",
        ],
        dir.path(),
    );
    let addr = address_in(&proxy.line_with("proxy on"));
    let warning = proxy.line_with("WARNING");
    assert!(
        warning.contains(&format!("nothing answers at {upstream}"))
            && warning.contains("is your backend running")
            && warning.contains("keeps running"),
        "{warning}"
    );
    let answer = get(&addr, "/api/");
    assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    assert!(answer.contains("nothing answers at"), "{answer}");
    assert!(!answer.contains("client error (Connect)"), "{answer}");
    let _ = proxy.stop("INT");
}

/// `https://` to a plain-HTTP backend: the 502 says to use `http://`.
#[test]
fn tls_to_a_plain_http_backend_says_to_use_http() {
    let dir = tempfile::tempdir().unwrap();
    let mut backend = Running::start(
        &["demo", "--backend-only", "--listen", "127.0.0.1:0"],
        dir.path(),
    );
    let backend_addr = address_in(&backend.line_with("Sample chat backend on"));
    let mut proxy = Running::start(
        &[
            "proxy",
            "--upstream",
            &format!("https://{backend_addr}"),
            "--listen",
            "127.0.0.1:0",
            "--no-capture",
        ],
        dir.path(),
    );
    let addr = address_in(&proxy.line_with("proxy on"));
    let answer = get(&addr, "/api/echo/");
    assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    assert!(
        answer.contains("does not speak TLS: use http://"),
        "{answer}"
    );
    assert!(!answer.contains("InvalidContentType"), "{answer}");
    let _ = proxy.stop("INT");
    let _ = backend.child.kill();
}

/// A busy `--ui-listen` port fails before anything is recorded: no
/// banner, no header-only capture.
#[test]
fn a_busy_viewer_port_fails_before_recording() {
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let out = wsdiag(
        &[
            "proxy",
            "--upstream",
            "http://127.0.0.1:1",
            "--listen",
            "127.0.0.1:0",
            "--capture",
            "c.jsonl",
            "--ui",
            "--ui-listen",
            &busy_addr,
        ],
        dir.path(),
    );
    refused(&out, "for the web viewer");
    assert!(!dir.path().join("c.jsonl").exists(), "nothing was recorded");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("proxy on"),
        "no banner before the failure"
    );
}

/// The recorded demo capture, in `dir` as `demo.jsonl`.
fn demo_capture(dir: &Path) {
    let out = wsdiag(&["demo", "--quiet", "--capture", "demo.jsonl"], dir);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn replay_names_its_own_flags_and_checks_the_junit_directory_first() {
    let dir = tempfile::tempdir().unwrap();
    demo_capture(dir.path());
    let out = wsdiag(
        &["replay", "demo.jsonl", "--target", "127.0.0.1:8100"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains(
            "--target \"127.0.0.1:8100\" has no scheme: did you mean http://127.0.0.1:8100?"
        ) && !e.contains("--upstream"),
        "{e}"
    );
    // The target does not even exist: the JUnit check comes before any
    // work, so the message is about the directory.
    let out = wsdiag(
        &[
            "replay",
            "demo.jsonl",
            "--target",
            "http://127.0.0.1:1",
            "--junit",
            "/missing/dir/r.xml",
        ],
        dir.path(),
    );
    refused(&out, "the directory /missing/dir does not exist");
}

#[test]
fn probe_against_a_dead_backend_exits_2_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = format!("http://127.0.0.1:{}", free_port());
    let out = wsdiag(
        &[
            "probe",
            "--upstream",
            &upstream,
            "--ws-path",
            "/ws/chat/3/",
            "--rest-path",
            "/api/conversations/3/messages/",
        ],
        dir.path(),
    );
    refused(&out, "nothing answers at");
}

#[test]
fn a_directory_as_a_capture_is_said_once_with_what_to_give() {
    let dir = tempfile::tempdir().unwrap();
    let out = wsdiag(&["show", "."], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains(". is a directory: give a capture file"), "{e}");
    assert_eq!(e.matches("directory").count(), 1, "the cause once: {e}");
}

#[test]
fn an_export_selection_past_the_end_says_what_the_capture_spans() {
    let dir = tempfile::tempdir().unwrap();
    demo_capture(dir.path());
    let out = wsdiag(
        &[
            "export",
            "demo.jsonl",
            "--format",
            "jsonl",
            "--since",
            "500",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("no event of demo.jsonl matches the selection")
            && e.contains("the capture runs from"),
        "{e}"
    );
}

/// A capture cut by a crash: every reading command says so, and
/// `diagnose` never says "nothing failed" without saying it is partial.
#[test]
fn a_partial_capture_is_named_by_every_command_that_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    demo_capture(dir.path());
    let full = std::fs::read_to_string(dir.path().join("demo.jsonl")).unwrap();
    // Cut inside the eighth line, before the REST failure.
    let cut: usize = full.lines().take(7).map(|l| l.len() + 1).sum::<usize>() + 15;
    std::fs::write(dir.path().join("cut.jsonl"), &full[..cut]).unwrap();
    for args in [
        vec!["diagnose", "cut.jsonl"],
        vec!["export", "cut.jsonl", "--format", "har"],
        vec!["show", "cut.jsonl"],
        vec!["replay", "cut.jsonl", "--target", "http://127.0.0.1:1"],
    ] {
        let out = wsdiag(&args, dir.path());
        assert!(
            stderr(&out).contains("cut.jsonl is partial: it ends with a partial line 8"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = wsdiag(&["diagnose", "cut.jsonl"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("The capture is partial")
            && text
                .contains("no send path failed in what it holds, which is not the whole session"),
        "{text}"
    );
}

/// A loop that the start-time check cannot see (two proxies pointing at
/// each other): the request that comes back carrying the proxy's own
/// `Via` is answered 508 Loop Detected at once, with a sentence that says
/// what to fix, instead of multiplying connections.
#[test]
fn a_forwarding_loop_is_answered_508_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let a_port = free_port();
    let (b, b_addr) = Running::proxy(
        &format!("http://127.0.0.1:{a_port}"),
        "b.jsonl",
        &[],
        dir.path(),
    );
    let mut a = Running::start(
        &[
            "proxy",
            "--upstream",
            &format!("http://{b_addr}"),
            "--listen",
            &a_port.to_string(),
            "--capture",
            "a.jsonl",
        ],
        dir.path(),
    );
    let a_addr = address_in(&a.line_with("proxy on"));
    let answer = get(&a_addr, "/api/");
    assert!(answer.starts_with("HTTP/1.1 508"), "{answer}");
    assert!(answer.contains("forwarding loop"), "{answer}");
    let (a_out, _) = a.stop("INT");
    let _ = b.stop("INT");
    assert!(
        a_out.contains("1 HTTP exchanges") || a_out.contains("2 HTTP exchanges"),
        "{a_out}"
    );
}

/// Written to a file or a pipe, wsdiag's output holds no escape sequence:
/// no colour on its log lines, none in its console lines, even with
/// `RUST_LOG=debug`.
#[test]
fn output_that_is_not_a_terminal_holds_no_escape_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = Command::new(env!("CARGO_BIN_EXE_wsdiag"));
    proxy
        .args([
            "proxy",
            "--upstream",
            "http://127.0.0.1:1",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--no-capture"])
        .env("RUST_LOG", "debug")
        .env_remove("NO_COLOR")
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped());
    let mut running = Running::spawn(proxy);
    // Read the log as it comes, so that a full pipe never blocks the proxy.
    let mut pipe = running.child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    });
    let addr = address_in(&running.line_with("proxy on"));
    let answer = get(&addr, "/api/");
    assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    let (stdout, _) = running.stop("INT");
    let stderr = log.join().unwrap();
    assert!(
        stderr.contains("DEBUG"),
        "a debug log was written: {stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no escape in the log: {stderr:?}"
    );
    assert!(
        !stdout.contains('\u{1b}'),
        "no escape on stdout: {stdout:?}"
    );
}

/// HAR files of other tools write WebSocket message times in
/// milliseconds, or in no unit at all: read in the unit their size shows,
/// a millisecond HAR shows the same as the seconds one, and an unknown
/// unit is warned about instead of putting messages in the year 58,000.
#[test]
fn har_message_times_are_read_in_the_unit_their_size_shows() {
    let dir = tempfile::tempdir().unwrap();
    demo_capture(dir.path());
    let out = wsdiag(
        &[
            "export",
            "demo.jsonl",
            "--format",
            "har",
            "--no-redact",
            "-o",
            "s.har",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let har: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.har")).unwrap()).unwrap();
    let rewrite = |f: &dyn Fn(f64) -> serde_json::Value, name: &str| {
        let mut doc = har.clone();
        for entry in doc["log"]["entries"].as_array_mut().unwrap() {
            for m in entry["_webSocketMessages"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                let seconds = m["time"].as_f64().unwrap();
                m["time"] = f(seconds);
            }
        }
        std::fs::write(dir.path().join(name), doc.to_string()).unwrap();
    };
    rewrite(&|s| serde_json::json!(s * 1000.0), "ms.har");
    rewrite(&|_| serde_json::json!(12), "odd.har");
    let seconds = wsdiag(&["show", "s.har"], dir.path());
    let millis = wsdiag(&["show", "ms.har"], dir.path());
    assert!(seconds.status.success() && millis.status.success());
    assert_eq!(
        String::from_utf8_lossy(&seconds.stdout),
        String::from_utf8_lossy(&millis.stdout),
        "milliseconds read as milliseconds"
    );
    let odd = wsdiag(&["show", "odd.har"], dir.path());
    let e = stderr(&odd);
    assert!(
        e.contains("WebSocket messages have a `time` in no unit wsdiag knows (the first: 12"),
        "{e}"
    );
    let diagnosis = wsdiag(&["diagnose", "ms.har"], dir.path());
    assert!(
        String::from_utf8_lossy(&diagnosis.stdout).contains("rest-missing-server-field"),
        "the diagnosis works on it: {}",
        String::from_utf8_lossy(&diagnosis.stdout)
    );
}

/// Replaying a redacted export sends placeholders where the credentials
/// were: the replay says so up front and names the flags that give real
/// ones.
#[test]
fn replaying_a_redacted_export_says_to_pass_real_credentials() {
    let dir = tempfile::tempdir().unwrap();
    demo_capture(dir.path());
    let out = wsdiag(
        &[
            "export",
            "demo.jsonl",
            "--format",
            "jsonl",
            "-o",
            "shared.jsonl",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut backend = Running::start(
        &["demo", "--backend-only", "--listen", "127.0.0.1:0"],
        dir.path(),
    );
    let backend_addr = address_in(&backend.line_with("Sample chat backend on"));
    let out = wsdiag(
        &[
            "replay",
            "shared.jsonl",
            "--target",
            &format!("http://{backend_addr}"),
            "--timeout",
            "1s",
        ],
        dir.path(),
    );
    let _ = backend.child.kill();
    let e = stderr(&out);
    assert!(
        e.contains("shared.jsonl is a redacted export")
            && e.contains("--cookie NAME=VALUE, --token TOKEN or --header"),
        "{e}"
    );
    assert_eq!(out.status.code(), Some(1), "the placeholders are refused");
}

/// Bytes from the network never drive the terminal: a WebSocket message
/// whose JSON `type` holds a clear-screen and a window-title sequence, and a
/// text frame of raw ESC and BEL bytes, are printed escaped (`\e`,
/// `\u{7}`) by the live console and by `show`.
#[tokio::test]
async fn control_characters_from_the_network_are_printed_escaped() {
    use futures_util::SinkExt;
    let dir = tempfile::tempdir().unwrap();
    let mut backend = Running::start(
        &["demo", "--backend-only", "--listen", "127.0.0.1:0"],
        dir.path(),
    );
    let backend_addr = address_in(&backend.line_with("Sample chat backend on"));
    let (proxy, addr) = Running::proxy(
        &format!("http://{backend_addr}"),
        "esc.jsonl",
        &[],
        dir.path(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/echo/"))
        .await
        .unwrap();
    let hostile = [
        "{\"type\":\"\u{1b}[2J\u{1b}]0;TITLE\u{7}\"}",
        "raw \u{1b}]52;c;aGVsbG8=\u{7} clipboard",
    ];
    for text in hostile {
        ws.send(tokio_tungstenite::tungstenite::Message::text(text))
            .await
            .unwrap();
        let _ = crate::support::next(&mut ws).await;
    }
    drop(ws);
    let (live, _) = proxy.stop("INT");
    let shown = wsdiag(&["show", "esc.jsonl"], dir.path());
    let _ = backend.child.kill();
    for (name, out) in [
        ("live console", live),
        ("show", String::from_utf8_lossy(&shown.stdout).into_owned()),
    ] {
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{7}'),
            "{name}: raw control bytes reached the output: {out:?}"
        );
        assert!(out.contains("\\e[2J\\e]0;TITLE\\u{7}"), "{name}: {out}");
        assert!(out.contains("raw \\e]52;c;"), "{name}: {out}");
    }
}

/// wsdiag sends no traffic of its own by default: its capture header has
/// no `idle_timeout_ms`; with `--idle-timeout` the header says so.
#[test]
fn the_keepalive_is_opt_in_and_said_in_the_capture_header() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, expected) in [
        (vec![], None),
        (vec!["--idle-timeout", "30s"], Some(30_000)),
    ] {
        let mut args = vec![
            "proxy",
            "--upstream",
            "http://127.0.0.1:1",
            "--listen",
            "127.0.0.1:0",
            "--capture",
            "k.jsonl",
            "--overwrite",
        ];
        args.extend(extra);
        let mut proxy = Running::start(&args, dir.path());
        let _ = proxy.line_with("proxy on");
        let _ = proxy.stop("INT");
        let text = std::fs::read_to_string(dir.path().join("k.jsonl")).unwrap();
        let header: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(header["idle_timeout_ms"].as_u64(), expected, "{header}");
    }
}
