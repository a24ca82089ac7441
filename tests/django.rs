//! End to end against the real thing: the Django Channels + DRF chat of
//! `tests/django_chat` under daphne on 127.0.0.1 port 0, the real proxy in
//! front, the Python client (websockets + requests) sending "cc" both ways,
//! then the `wsdiag diagnose` binary on the capture. One test per bug, with
//! `DEBUG=True` (HTML and plain-text reports) and `DEBUG=False`.
//!
//! The Python venv is created from PyPI on first use
//! (`tests/django_chat/setup_venv.sh`, into `target/django-venv`).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::{root, Harness, Options};

/// The venv's python, created once per test run.
pub fn python() -> PathBuf {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    VENV.get_or_init(|| {
        let venv = root().join("target/django-venv");
        let status = Command::new("bash")
            .arg(root().join("tests/django_chat/setup_venv.sh"))
            .arg(&venv)
            .status()
            .map_err(|e| format!("cannot run setup_venv.sh: {e}"))?;
        if !status.success() {
            return Err(
                "setup_venv.sh failed: python3 -m venv and pip install from PyPI are needed".into(),
            );
        }
        Ok(venv.join("bin/python"))
    })
    .clone()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The Django backend, running until dropped.
struct Backend {
    child: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Backend {
    /// Starts daphne with `bug` and `debug`; returns once it listens (it
    /// prints its address then: no polling).
    fn start(bug: &str, debug: &str) -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(python())
            .arg(root().join("tests/django_chat/run_backend.py"))
            .arg("--port-file")
            .arg(dir.path().join("port"))
            .env("CHAT_BUG", bug)
            .env("CHAT_DEBUG", debug)
            .env("CHAT_DB", dir.path().join("chat.sqlite3"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let addr = std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.starts_with("127.0.0.1:"))
            .expect("the Django backend did not start (run tests/django_chat/run_backend.py by hand to see why)");
        Backend {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// One scenario: backend with `bug`, proxy, client with `client_args`, then
/// `wsdiag diagnose --format json` (plus `extra` flags) on the capture.
async fn scenario(bug: &str, debug: &str, client_args: &[&str], extra: &[&str]) -> (Value, Value) {
    let backend = tokio::task::spawn_blocking({
        let (bug, debug) = (bug.to_owned(), debug.to_owned());
        move || Backend::start(&bug, &debug)
    })
    .await
    .unwrap();
    let harness =
        Harness::in_front_of(&format!("http://{}", backend.addr), Options::default()).await;
    let client = tokio::process::Command::new(python())
        .arg(root().join("tests/django_chat/client.py"))
        .arg("--base")
        .arg(harness.url(""))
        .args(client_args)
        .output()
        .await
        .unwrap();
    assert!(
        client.status.success(),
        "client: {}",
        String::from_utf8_lossy(&client.stderr)
    );
    let summary: Value = serde_json::from_slice(&client.stdout).unwrap();
    assert_eq!(
        summary["ws"]["delivered"], true,
        "the WebSocket path works: {summary}"
    );
    let (_, path, _dir) = harness.finish_with_file().await;
    let mut args: Vec<String> = vec![
        "diagnose".into(),
        path.to_string_lossy().into_owned(),
        "--format".into(),
        "json".into(),
    ];
    if !extra.is_empty() {
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(["--upstream".to_owned(), format!("http://{}", backend.addr)]);
    }
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_wsdiag"))
        .args(&args)
        .output()
        .await
        .unwrap();
    drop(backend);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failing path exits 1: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let diagnosis: Value = serde_json::from_slice(&output.stdout).unwrap();
    (summary, diagnosis)
}

fn the_finding(diagnosis: &Value) -> &Value {
    let findings = diagnosis["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{diagnosis:#}");
    &findings[0]
}

fn assert_names_the_sender_and_the_fix(f: &Value) {
    assert_eq!(f["code"], "rest-missing-server-field", "{f:#}");
    assert!(f["title"].as_str().unwrap().contains("`expediteur`"));
    assert_eq!(f["location"]["function"], "perform_create");
    assert!(f["location"]["file"]
        .as_str()
        .unwrap()
        .ends_with("chat/views.py"));
    assert!(f["next_step"]
        .as_str()
        .unwrap()
        .contains("serializer.save(expediteur=self.request.user)"));
}

#[tokio::test]
async fn sender_never_set_html_report() {
    let (summary, d) = scenario("sender_not_set", "1", &["--accept", "json"], &[]).await;
    assert_eq!(summary["rest"]["status"], 500);
    assert_eq!(summary["rest"]["content_type"], "text/html; charset=utf-8");
    assert_names_the_sender_and_the_fix(the_finding(&d));
}

#[tokio::test]
async fn sender_never_set_plain_text_report() {
    let (summary, d) = scenario("sender_not_set", "1", &["--accept", "strict-json"], &[]).await;
    assert!(summary["rest"]["content_type"]
        .as_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_names_the_sender_and_the_fix(the_finding(&d));
}

#[tokio::test]
async fn sender_never_set_without_debug_uses_options_introspection() {
    let (_, d) = scenario("sender_not_set", "0", &[], &["--introspect"]).await;
    let f = the_finding(&d);
    assert_eq!(f["code"], "rest-server-error", "{f:#}");
    assert!(f["title"]
        .as_str()
        .unwrap()
        .contains("likely cause: it never sets `expediteur`"));
    assert!(f["next_step"]
        .as_str()
        .unwrap()
        .contains("only in the server's log"));
    assert!(
        d["introspection"]["fields"]["expediteur"].is_object(),
        "OPTIONS was read: {d:#}"
    );
}

#[tokio::test]
async fn crash_while_rendering_after_saving() {
    let (summary, d) = scenario("render_crash", "1", &[], &[]).await;
    assert_eq!(summary["list_after"]["contains_rest_message"], true);
    let f = the_finding(&d);
    assert_eq!(f["code"], "rest-error-after-save", "{f:#}");
    assert_eq!(f["location"]["function"], "get_apercu");
    assert!(f["next_step"].as_str().unwrap().contains("do not retry"));
}

#[tokio::test]
async fn wrong_field_name_in_the_rest_body() {
    let (summary, d) = scenario("none", "1", &["--rest-field", "contenu"], &[]).await;
    assert_eq!(summary["rest"]["status"], 400);
    let f = the_finding(&d);
    assert_eq!(f["code"], "rest-unknown-field", "{f:#}");
    assert_eq!(
        f["next_step"],
        "rename `contenu` to `message` in the frontend's REST call"
    );
}

/// JSON sent as `text/plain;charset=UTF-8`, as `fetch()` sends a string
/// body without headers: DRF answers 415 while the same text works over
/// the WebSocket. The finding names the content type and the fix, and
/// blames no field.
#[tokio::test]
async fn json_sent_as_text_plain_is_named_with_the_header_to_send() {
    let (summary, d) = scenario(
        "none",
        "1",
        &["--content-type", "text/plain;charset=UTF-8"],
        &[],
    )
    .await;
    assert_eq!(summary["rest"]["status"], 415, "{summary:#}");
    let f = the_finding(&d);
    assert_eq!(f["code"], "rest-content-type", "{f:#}");
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains("`text/plain;charset=UTF-8`"),
        "{f:#}"
    );
    assert!(
        f["next_step"]
            .as_str()
            .unwrap()
            .contains("Content-Type: application/json"),
        "{f:#}"
    );
    let said = format!("{} {}", f["title"], f["explanation"]);
    assert!(
        !said.contains("does not carry") && !said.contains("never sets"),
        "no field is blamed: {f:#}"
    );
}

const ALICE_TOKEN: &str = "a11ce00000000000000000000000000000000001";

/// `wsdiag probe` against the Django backend with `bug`, token auth.
async fn probe(bug: &str, debug: &str) -> (Option<i32>, Value) {
    let backend = tokio::task::spawn_blocking({
        let (bug, debug) = (bug.to_owned(), debug.to_owned());
        move || Backend::start(&bug, &debug)
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_wsdiag"))
        .current_dir(dir.path())
        .args(["probe", "--upstream", &format!("http://{}", backend.addr)])
        .args(["--ws-path", &format!("/ws/chat/3/?token={ALICE_TOKEN}")])
        .args(["--rest-path", "/api/conversations/3/messages/"])
        .args(["--header", &format!("Authorization: Token {ALICE_TOKEN}")])
        .args(["--format", "json", "--quiet", "--capture", "p.jsonl"])
        .output()
        .await
        .unwrap();
    drop(backend);
    let text = String::from_utf8_lossy(&output.stdout);
    let json = &text[text.find("{\n").expect("a JSON report")..];
    (output.status.code(), serde_json::from_str(json).unwrap())
}

#[tokio::test]
async fn probe_finds_the_sender_bug_without_debug_through_options() {
    let (code, d) = probe("sender_not_set", "0").await;
    assert_eq!(code, Some(1));
    let f = the_finding(&d);
    assert_eq!(f["code"], "rest-server-error", "{f:#}");
    assert!(
        f["title"].as_str().unwrap().contains("`expediteur`"),
        "{f:#}"
    );
    assert!(
        d["introspection"]["fields"]["message"]["required"] == true,
        "{d:#}"
    );
}

#[tokio::test]
async fn probe_of_a_working_app_exits_0_with_both_paths_ok() {
    let (code, d) = probe("none", "1").await;
    assert_eq!(code, Some(0), "{d:#}");
    assert!(d["findings"].as_array().unwrap().is_empty());
    let results: Vec<&str> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"]["result"].as_str().unwrap())
        .collect();
    assert!(results.iter().all(|r| *r == "succeeded"), "{results:?}");
}

#[tokio::test]
async fn a_rewritten_host_fails_the_csrf_origin_check() {
    let backend = tokio::task::spawn_blocking(|| Backend::start("none", "1"))
        .await
        .unwrap();
    let options = Options {
        configure: Box::new(|c| c.rewrite_host = true),
        ..Options::default()
    };
    let harness = Harness::in_front_of(&format!("http://{}", backend.addr), options).await;
    let client = tokio::process::Command::new(python())
        .arg(root().join("tests/django_chat/client.py"))
        .args(["--base", &harness.url("")])
        .output()
        .await
        .unwrap();
    let summary: Value = serde_json::from_slice(&client.stdout).unwrap_or_default();
    let capture = harness.finish().await;
    drop(backend);
    let d = wsdiag::diagnose::run(&capture.events, &wsdiag::diagnose::Options::default());
    let csrf: Vec<_> = d
        .findings
        .iter()
        .filter(|f| f.code == wsdiag::diagnose::Code::CsrfFailed)
        .collect();
    assert!(
        !csrf.is_empty(),
        "client: {summary}\n{}",
        wsdiag::diagnose::report::render(&d, wsdiag::diagnose::report::Format::Text)
    );
    assert!(
        csrf[0].title.contains("does not match its Host"),
        "{}",
        csrf[0].title
    );
    assert!(
        csrf[0].next_step.contains("--rewrite-host"),
        "{}",
        csrf[0].next_step
    );
}

#[tokio::test]
async fn a_recorded_django_session_replays_against_a_fresh_backend_with_correlation() {
    let backend = tokio::task::spawn_blocking(|| Backend::start("none", "1"))
        .await
        .unwrap();
    let capture = root().join("captures/django-working.jsonl");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_wsdiag"))
        .args([
            "replay",
            capture.to_str().unwrap(),
            "--target",
            &format!("http://{}", backend.addr),
        ])
        .output()
        .await
        .unwrap();
    drop(backend);
    let text = String::from_utf8_lossy(&output.stdout);
    // The recorded session, CSRF token and login no longer exist on a fresh
    // backend: without correlation every write would get 403.
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("✓ REST POST /api/login/")
            && text.contains("✓ REST POST /api/conversations/3/messages/"),
        "{text}"
    );
}

/// Chromium opens the chat's socket with its trailing slash, then without:
/// daphne answers the unrouted path with a bodiless
/// `500 Internal server error` and closes, and Chromium drops its side as
/// soon as it reads the status line. The capture holds the 500 as the
/// upstream's response (a 5xx, no error), and the finding says Channels
/// answers an unrouted path with 500 and that this one lacks the trailing
/// slash the accepted one has.
#[tokio::test]
async fn a_channels_path_without_its_trailing_slash_is_a_500_and_named() {
    let backend = tokio::task::spawn_blocking(|| Backend::start("none", "1"))
        .await
        .unwrap();
    let harness =
        Harness::in_front_of(&format!("http://{}", backend.addr), Options::default()).await;
    crate::support::chromium();
    let mut closes = Vec::new();
    for path in ["/ws/chat/3/", "/ws/chat/3"] {
        let out = tokio::process::Command::new("node")
            .arg(crate::support::node_tools().join("browser_ws.js"))
            .args([&harness.url(""), "/api/csrf/", path])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        closes.push(crate::support::browser_report(&out));
    }
    assert_eq!(closes[0]["opened"], true, "{closes:?}");
    assert_eq!(closes[1]["opened"], false, "{closes:?}");
    let capture = harness.finish().await;
    drop(backend);
    let (refused, refused_conn) = capture
        .events
        .iter()
        .find_map(|e| match &e.kind {
            wsdiag::event::EventKind::WsHandshake(h) if !h.accepted => Some((h.exchange, e.conn)),
            _ => None,
        })
        .unwrap();
    let answered = capture.events.iter().any(|e| {
        matches!(&e.kind, wsdiag::event::EventKind::HttpResponse(r) if r.exchange == refused && r.status == 500)
    });
    assert!(answered, "the 500 is recorded as the upstream's response");
    let trailer = capture.trailer().unwrap();
    assert_eq!(
        trailer.exchanges_by_status.get("5xx"),
        Some(&1),
        "{trailer:?}"
    );
    // No error on the refused handshake's connection. Elsewhere Chromium
    // may cut off its own favicon request when the test closes it, and
    // that is recorded, truthfully, as the client's error.
    let errors: Vec<_> = capture
        .events
        .iter()
        .filter(|e| matches!(e.kind, wsdiag::event::EventKind::Error(_)) && e.conn == refused_conn)
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let d = wsdiag::diagnose::run(
        &capture.events,
        &wsdiag::diagnose::Options::for_capture(&capture.header),
    );
    let f = d
        .findings
        .iter()
        .find(|f| f.code == wsdiag::diagnose::Code::WsHandshakeRefused)
        .unwrap();
    assert!(
        f.title.contains("refused with 500") && f.title.contains("no route matches"),
        "{}",
        f.title
    );
    assert!(
        f.explanation
            .iter()
            .any(|e| e.contains("lacks the trailing slash")
                && e.contains("`/ws/chat/3/` was accepted")),
        "{:?}",
        f.explanation
    );
    assert!(f.next_step.contains("trailing slash"), "{}", f.next_step);
}
