//! The binary as a user runs it: `wsdiag demo`, `wsdiag show` and its
//! filters, exit codes and error messages.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{address_in, root, schema, Running};

fn wsdiag(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wsdiag"))
        .args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .output()
        .expect("the wsdiag binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs the demo once into `dir/demo.jsonl` and returns its output.
fn run_demo(dir: &Path) -> Output {
    let out = wsdiag(&["demo", "--capture", "demo.jsonl"], dir);
    assert!(
        out.status.success(),
        "demo failed: {}\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_demo_shows_both_send_paths_live_and_leaves_a_private_capture() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout(&run_demo(dir.path()));
    for expected in [
        "→ chat_message {\"type\":\"chat_message\",\"message\":\"cc\"}",
        "← chat_message {\"type\":\"chat_message\",\"data\":{",
        "← online_users_update",
        "← notifications_non_lues",
        "← notification_general",
        "← notification_personal",
        "POST /api/conversations/3/messages/ → 500 IntegrityError: NOT NULL constraint failed: chat_message.expediteur_id",
        "GET /api/conversations/3/messages/ → 200",
        "WebSocket send: saved and broadcast to alice and bob. REST send: HTTP 500.",
        "Capture: demo.jsonl",
        // The live diagnosis, under the failing line:
        "    ✗ rest-missing-server-field: The REST path never sets `expediteur`",
        // (its seq depends on how the two sockets' events interleave)
        "      The same content (\"cc\") sent over the WebSocket (#1, seq ",
        ") was saved and came back (seq ",
        // The report at the end:
        "Diagnosis (wsdiag diagnose demo.jsonl):",
        "Try:       serializer.save(conversation=conversation, expediteur=self.request.user)",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(
        !out.contains('\u{1b}'),
        "no colour when stdout is not a terminal"
    );
    let path = dir.path().join("demo.jsonl");
    schema::check_capture(&std::fs::read_to_string(&path).unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "captures hold cookies: owner only");
    }
}

#[test]
fn without_capture_flag_the_demo_writes_a_timestamped_file_in_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = wsdiag(&["demo", "--quiet"], dir.path());
    assert!(out.status.success());
    let files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].starts_with("wsdiag-demo-") && files[0].ends_with(".jsonl"));
    assert!(stdout(&out).contains(&format!("Capture: {}", files[0])));
    assert!(
        !stdout(&out).contains("→ chat_message"),
        "--quiet prints no event lines"
    );
}

#[test]
fn show_prints_a_capture_like_the_console_with_filters() {
    let dir = tempfile::tempdir().unwrap();
    run_demo(dir.path());
    let all = stdout(&wsdiag(&["show", "demo.jsonl"], dir.path()));
    assert!(all.contains("POST /api/conversations/3/messages/ → 500 IntegrityError"));
    assert!(
        all.contains("HTTP exchanges (1xx: 2, 2xx: 1, 5xx: 1)"),
        "{all}"
    );

    let only_chat = stdout(&wsdiag(
        &["show", "demo.jsonl", "--type", "chat_message"],
        dir.path(),
    ));
    let lines: Vec<&str> = only_chat
        .lines()
        .filter(|l| l.contains(" → ") || l.contains(" ← "))
        .collect();
    assert_eq!(lines.len(), 3, "one sent, two broadcasts:\n{only_chat}");
    assert!(lines.iter().all(|l| l.contains("chat_message")));
    // The filter hides the failing POST, not its finding.
    assert!(
        only_chat.contains("✗ rest-missing-server-field"),
        "{only_chat}"
    );

    let sent = stdout(&wsdiag(
        &[
            "show",
            "demo.jsonl",
            "--dir",
            "sent",
            "--type",
            "chat_message",
        ],
        dir.path(),
    ));
    assert_eq!(
        sent.lines()
            .filter(|l| l.contains(" → chat_message"))
            .count(),
        1
    );
    assert!(!sent.contains("← "));

    let failed = stdout(&wsdiag(
        &["show", "demo.jsonl", "--status", "5xx"],
        dir.path(),
    ));
    assert_eq!(
        failed.lines().filter(|l| is_event_line(l)).count(),
        1,
        "{failed}"
    );

    let bob = stdout(&wsdiag(
        &[
            "show",
            "demo.jsonl",
            "--conn",
            "2",
            "--grep",
            "Nouveau message",
        ],
        dir.path(),
    ));
    let lines: Vec<&str> = bob.lines().filter(|l| is_event_line(l)).collect();
    assert_eq!(lines.len(), 1, "{bob}");
    assert!(lines[0].contains("#2 ← notification_personal"));
}

/// A console line of an event (`10:15:02.123 #3 → …`), not a finding's
/// heading (`(event #21)`).
fn is_event_line(line: &str) -> bool {
    line.contains(" #") && !line.starts_with("(event #")
}

#[test]
fn show_reads_a_capture_cut_short_by_a_crash_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    run_demo(dir.path());
    let full = std::fs::read_to_string(dir.path().join("demo.jsonl")).unwrap();
    // Cut in the middle of the tenth line, as kill -9 during a write would.
    let cut: usize = full.lines().take(9).map(|l| l.len() + 1).sum::<usize>() + 20;
    std::fs::write(dir.path().join("cut.jsonl"), &full[..cut]).unwrap();
    let out = wsdiag(&["show", "cut.jsonl"], dir.path());
    assert!(out.status.success());
    let text = stdout(&out);
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.contains("cut.jsonl is partial: it ends with a partial line 10"),
        "{note}"
    );
    assert!(text.contains("no trailer"), "{text}");
}

#[test]
fn bad_input_gets_exit_code_2_and_a_message_saying_what_to_try() {
    let dir = tempfile::tempdir().unwrap();
    let missing = wsdiag(&["show", "nope.jsonl"], dir.path());
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read nope.jsonl"));

    std::fs::write(
        dir.path().join("new.jsonl"),
        "{\"type\":\"header\",\"format_version\":7}\n",
    )
    .unwrap();
    let newer = wsdiag(&["show", "new.jsonl"], dir.path());
    assert_eq!(newer.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&newer.stderr).contains("upgrade wsdiag"));

    let scheme = wsdiag(&["proxy", "--upstream", "ftp://example.test"], dir.path());
    assert_eq!(scheme.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&scheme.stderr)
        .contains("the scheme must be http, https, ws or wss"));

    let status = wsdiag(&["show", "x.jsonl", "--status", "abc"], dir.path());
    assert_eq!(status.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&status.stderr).contains("like 5xx"));
}

#[test]
fn damaged_captures_get_clear_errors_and_a_cut_off_tail_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(root().join("captures/demo.jsonl")).unwrap();
    let lines: Vec<&str> = sample.lines().collect();
    let cut_at = (0..sample.len() / 2)
        .rev()
        .find(|&i| sample.is_char_boundary(i) && sample.as_bytes()[i - 1] != b'\n')
        .unwrap();
    let files = [
        ("empty.jsonl", String::new()),
        ("foreign.jsonl", "hello world\n".to_owned()),
        ("cut.jsonl", sample[..cut_at].to_owned()),
        (
            "bad-line.jsonl",
            format!("{}\n{{\"seq\":99}}\n{}\n", lines[..5].join("\n"), lines[5]),
        ),
    ];
    for (name, text) in &files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let show = |name: &str| {
        let out = wsdiag(&["show", name], dir.path());
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, _, err) = show("empty.jsonl");
    assert_eq!(code, Some(2));
    assert!(
        err.contains("is empty: a capture starts with a header line"),
        "{err}"
    );
    let (code, _, err) = show("foreign.jsonl");
    assert_eq!(code, Some(2));
    assert!(err.contains("not a wsdiag capture: line 1"), "{err}");
    let (code, _, err) = show("bad-line.jsonl");
    assert_eq!(code, Some(2));
    assert!(err.contains("line 6: not a valid capture event"), "{err}");
    // Cut mid-line, as by kill -9: everything before the cut is shown.
    let (code, out, err) = show("cut.jsonl");
    assert_eq!(code, Some(0));
    assert!(
        err.contains("cut.jsonl is partial: it ends with a partial line"),
        "{err}"
    );
    assert!(
        out.contains("no trailer: the proxy did not shut down cleanly"),
        "{out}"
    );
}

#[tokio::test]
async fn the_proxy_binary_stops_on_sigterm_closing_sockets_with_1001_and_summing_up() {
    use futures_util::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let mut backend = Running::start(
        &["demo", "--backend-only", "--listen", "127.0.0.1:0"],
        dir.path(),
    );
    let backend_addr = address_in(&backend.line_with("Sample chat backend on"));
    let upstream = format!("http://{backend_addr}");
    let (mut proxy, proxy_addr) = Running::proxy(&upstream, "p.jsonl", &[], dir.path());
    assert!(proxy.line_with("Recording to").contains("p.jsonl"));

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{proxy_addr}/ws/echo/"))
        .await
        .unwrap();
    proxy.line_with("WebSocket /ws/echo/ open");
    let watcher = tokio::spawn(async move {
        let mut code = None;
        while let Some(Ok(message)) = ws.next().await {
            if let tokio_tungstenite::tungstenite::Message::Close(Some(frame)) = message {
                code = Some(u16::from(frame.code));
            }
        }
        code
    });
    let (rest, status) = tokio::task::spawn_blocking(move || proxy.stop("TERM"))
        .await
        .unwrap();
    assert!(status.success(), "{rest}");
    assert_eq!(
        watcher.await.unwrap(),
        Some(1001),
        "open WebSockets get 1001 on shutdown"
    );
    assert!(
        rest.contains("Summary: 1 connections, 1 HTTP exchanges"),
        "{rest}"
    );
    assert!(rest.contains("Capture: p.jsonl"), "{rest}");
    let capture = std::fs::read_to_string(dir.path().join("p.jsonl")).unwrap();
    schema::check_capture(&capture);
    assert!(capture.contains("\"initiator\":\"proxy\",\"code\":1001"));
    let (_, status) = backend.stop("INT");
    assert!(status.success());
}

/// The proxy turns transparent huge pages off for itself: with them,
/// mimalloc's arena faulted in 2 MiB at a time, and 2,000 idle WebSockets
/// held 14.1 KiB each instead of 11.5 (docs/performance.md).
#[cfg(target_os = "linux")]
#[test]
fn the_proxy_runs_without_transparent_huge_pages() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = format!(
        "http://{}",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    );
    let (proxy, _) = Running::proxy(&upstream, "p.jsonl", &[], dir.path());
    let status = std::fs::read_to_string(format!("/proc/{}/status", proxy.child.id())).unwrap();
    let (rest, exit) = proxy.stop("INT");
    assert!(exit.success(), "{rest}");
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().eq(["THP_enabled:", "0"])),
        "{status}"
    );
}

#[test]
fn demo_keep_running_leaves_both_up_until_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Running::start(
        &["demo", "--keep-running", "--capture", "k.jsonl"],
        dir.path(),
    );
    let line = demo.line_with("Still running");
    assert!(
        line.contains("backend http://127.0.0.1:") && line.contains("proxy http://127.0.0.1:"),
        "{line}"
    );
    let (rest, status) = demo.stop("INT");
    assert!(status.success());
    assert!(rest.contains("REST send: HTTP 500"), "{rest}");
}

#[test]
fn probe_sends_both_ways_records_and_diagnoses() {
    let dir = tempfile::tempdir().unwrap();
    let mut backend = Running::start(
        &["demo", "--backend-only", "--listen", "127.0.0.1:0"],
        dir.path(),
    );
    let upstream = format!(
        "http://{}",
        address_in(&backend.line_with("Sample chat backend on"))
    );
    let out = wsdiag(
        &[
            "probe",
            "--upstream",
            &upstream,
            "--ws-path",
            "/ws/chat/3/",
            "--rest-path",
            "/api/conversations/3/messages/",
            "--cookie",
            "sessionid=alice-session-7f3a",
            "--capture",
            "probe.jsonl",
            "--format",
            "json",
            "--quiet",
        ],
        dir.path(),
    );
    backend.stop("INT");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let json = &text[text.find("{\n").unwrap()..];
    let d: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(d["findings"][0]["code"], "rest-missing-server-field");
    assert_eq!(
        d["introspection"]["fields"]["expediteur"]["required"], true,
        "OPTIONS is always asked"
    );
    schema::check_capture(&std::fs::read_to_string(dir.path().join("probe.jsonl")).unwrap());
}

#[test]
fn probe_with_a_broken_template_says_how_to_write_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = wsdiag(
        &[
            "probe",
            "--upstream",
            "http://127.0.0.1:9",
            "--ws-path",
            "/ws/",
            "--rest-path",
            "/api/",
            "--rest-template",
            "{message}",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--rest-template") && err.contains(r#"{"message":"{message}"}"#),
        "{err}"
    );
}

/// On a terminal (a pseudo-terminal from util-linux's `script`), a large
/// capture's reading and diagnosis show their progress on stderr; with
/// stderr piped, nothing is drawn and the report is the same.
#[test]
fn a_large_capture_shows_its_progress_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("large.jsonl");
    crate::support::chat_capture(&capture, 100_000);
    assert!(std::fs::metadata(&capture).unwrap().len() >= 16 << 20);
    let log = dir.path().join("terminal.log");
    let command = format!(
        "'{}' diagnose '{}' > '{}'",
        env!("CARGO_BIN_EXE_wsdiag"),
        capture.display(),
        dir.path().join("report.txt").display()
    );
    let script = Command::new("script")
        .args(["-qfec", &command])
        .arg(&log)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("`script` (util-linux) gives the command a terminal");
    let drawn = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    assert_eq!(
        script.status.code(),
        Some(1),
        "findings: exit code 1\n{drawn}"
    );
    assert!(drawn.contains("reading the capture"), "{drawn}");
    assert!(drawn.contains("MiB"), "{drawn}");
    assert!(drawn.contains("diagnosing 100000 events"), "{drawn}");

    let piped = wsdiag(&["diagnose", capture.to_str().unwrap()], dir.path());
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(!stderr.contains("reading the capture"), "{stderr}");
    assert!(!stderr.contains("diagnosing"), "{stderr}");
    let report = std::fs::read_to_string(dir.path().join("report.txt")).unwrap();
    assert_eq!(
        stdout(&piped),
        report,
        "the same report, with or without a terminal"
    );
}
