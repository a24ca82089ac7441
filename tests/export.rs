//! `wsdiag export`: HAR checked by an independent validator (npm
//! `har-validator`), Markdown rendered by an independent renderer
//! (`markdown-it-py`), JSON Lines read back, and redaction tested as an
//! adversary would: secrets planted everywhere, none may survive.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bytes::Bytes;
use futures_util::SinkExt;
use http::Request;
use http_body_util::Full;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{call, next, node_tools, root, Harness};

fn wsdiag(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wsdiag"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

pub(crate) fn validate_har(path: &Path) {
    let out = Command::new("node")
        .arg(node_tools().join("validate_har.js"))
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "har-validator: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn render_markdown(path: &Path) -> String {
    let python = crate::django::python();
    let out = Command::new(python)
        .arg(root().join("tests/tools/render_markdown.py"))
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Exports `capture` in `format` into `dir`; returns the file's text.
fn export(capture: &Path, format: &str, dir: &Path, extra: &[&str]) -> String {
    let file = dir.join(format!("out.{format}"));
    let mut args = vec![
        "export",
        capture.to_str().unwrap(),
        "--format",
        format,
        "-o",
        file.to_str().unwrap(),
    ];
    args.extend(extra);
    let out = wsdiag(&args, dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(file).unwrap()
}

#[test]
fn the_har_of_a_demo_run_is_valid_and_carries_the_websocket_messages_like_chrome() {
    let dir = tempfile::tempdir().unwrap();
    let demo = root().join("captures/demo.jsonl");
    let text = export(&demo, "har", dir.path(), &[]);
    validate_har(&dir.path().join("out.har"));
    let har: Value = serde_json::from_str(&text).unwrap();
    let entries = har["log"]["entries"].as_array().unwrap();
    let sockets: Vec<&Value> = entries
        .iter()
        .filter(|e| e["_resourceType"] == "websocket")
        .collect();
    assert_eq!(sockets.len(), 2);
    assert!(sockets[0]["request"]["url"]
        .as_str()
        .unwrap()
        .starts_with("ws://"));
    assert_eq!(sockets[0]["response"]["status"], 101);
    let messages = sockets[0]["_webSocketMessages"].as_array().unwrap();
    let sent = messages
        .iter()
        .find(|m| m["type"] == "send" && m["opcode"] == 1)
        .unwrap();
    assert_eq!(sent["data"], r#"{"type":"chat_message","message":"cc"}"#);
    let time = sent["time"].as_f64().unwrap();
    assert!(
        (1.7e9..1e10).contains(&time),
        "wall-clock seconds, not milliseconds: {time}"
    );
    assert_eq!(
        sent["_msgType"], "chat_message",
        "our facts in underscore fields"
    );
    assert!(
        messages
            .iter()
            .any(|m| m["type"] == "receive" && m["opcode"] == 8),
        "close frames as opcode 8"
    );
    let failed = entries
        .iter()
        .find(|e| e["response"]["status"] == 500)
        .unwrap();
    assert_eq!(failed["request"]["method"], "POST");
    assert_eq!(failed["request"]["postData"]["text"], r#"{"message":"cc"}"#);
    assert!(failed["response"]["content"]["text"]
        .as_str()
        .unwrap()
        .contains("IntegrityError"));
    assert_eq!(
        failed["_wsdiag"]["error"],
        "IntegrityError: NOT NULL constraint failed: chat_message.expediteur_id"
    );
    assert!(failed["request"]["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "sessionid"));
}

#[test]
fn a_har_reads_back_as_a_capture_with_the_same_traffic_and_diagnosis() {
    let dir = tempfile::tempdir().unwrap();
    let source = root().join("captures/django-sender-not-set-text.jsonl");
    export(&source, "har", dir.path(), &["--no-redact"]);
    let original = wsdiag::capture::read_path(&source).unwrap();
    let back = wsdiag::capture::read_path(&dir.path().join("out.har")).unwrap();
    let exchanges = |c: &wsdiag::capture::Capture| -> Vec<(String, String)> {
        c.events
            .iter()
            .filter_map(|e| match &e.kind {
                wsdiag::event::EventKind::HttpRequest(r) => Some((r.method.clone(), r.uri.clone())),
                _ => None,
            })
            .collect()
    };
    assert_eq!(exchanges(&back), exchanges(&original));
    let texts = |c: &wsdiag::capture::Capture| -> Vec<(wsdiag::event::Direction, String)> {
        crate::support::messages(c)
            .iter()
            .filter_map(|m| Some((m.dir, m.payload.text()?.to_owned())))
            .collect()
    };
    assert_eq!(texts(&back), texts(&original));
    let d = wsdiag::diagnose::run(&back.events, &wsdiag::diagnose::Options::default());
    assert_eq!(
        d.findings[0].code,
        wsdiag::diagnose::Code::RestMissingServerField,
        "`wsdiag diagnose` works on a HAR"
    );
}

#[test]
fn the_markdown_report_renders_on_a_real_renderer_and_explains_the_bug() {
    let dir = tempfile::tempdir().unwrap();
    let md = export(
        &root().join("captures/django-sender-not-set-html.jsonl"),
        "markdown",
        dir.path(),
        &[],
    );
    assert!(
        md.starts_with("# The REST path never sets `expediteur`"),
        "{}",
        &md[..200]
    );
    let html = render_markdown(&dir.path().join("out.markdown"));
    assert!(
        html.contains("<h1>The REST path never sets <code>expediteur</code>"),
        "the title names the failure"
    );
    for section in [
        "Environment",
        "Summary",
        "Diagnosis",
        "Timeline",
        "Failing exchanges",
        "WebSocket messages",
    ] {
        assert!(
            html.contains(&format!("<h2>{section}</h2>")),
            "missing section {section}"
        );
    }
    // Every Markdown table row became a table row: nothing broke a table.
    let md_rows = md
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| ---"))
        .count();
    let html_rows = html.matches("<tr>").count();
    assert_eq!(md_rows, html_rows, "a cell broke its table");
    assert!(
        html.contains("<details><summary>Connection #3"),
        "raw messages fold away"
    );
    assert!(
        html.contains("serializer.save(conversation=conversation, expediteur=self.request.user)")
    );
}

#[test]
fn jsonl_export_is_a_smaller_capture_wsdiag_still_reads_and_diagnoses() {
    let dir = tempfile::tempdir().unwrap();
    let source = root().join("captures/django-sender-not-set-html.jsonl");
    export(&source, "jsonl", dir.path(), &["--type", "chat_message"]);
    let out = dir.path().join("out.jsonl");
    let capture = wsdiag::capture::read_path(&out).unwrap();
    let types: Vec<_> = crate::support::messages(&capture)
        .iter()
        .filter_map(|m| m.msg_type.clone())
        .collect();
    assert!(
        !types.is_empty() && types.iter().all(|t| t == "chat_message"),
        "{types:?}"
    );
    assert!(
        capture.trailer().unwrap().messages_received < 13,
        "the trailer counts what was kept"
    );
    let diagnose = wsdiag(&["diagnose", out.to_str().unwrap()], dir.path());
    assert_eq!(diagnose.status.code(), Some(1));
    let since = export(
        &source,
        "jsonl",
        dir.path(),
        &["--since", "30", "--until", "40"],
    );
    let seqs: Vec<u64> = since
        .lines()
        .skip(1)
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(
        seqs.iter()
            .all(|s| (30..=40).contains(s) || *s == *seqs.last().unwrap()),
        "{seqs:?}"
    );
}

/// Secrets planted in every place redaction must cover.
const PLANTED: [&str; 17] = [
    "cookie-session-5f1e2d",
    "cookie-csrf-8a7b6c",
    "bearer-token-91ac33",
    "proxy-auth-77ee01",
    "csrf-header-4d4d4d",
    "api-token-header-3c3c",
    "query-token-0b0b0b",
    "query-access-1a1a1a",
    "query-key-2b2b2b",
    "json-password-9f9f9f",
    "json-api-key-8e8e8e",
    "json-nested-secret-7d7d",
    "form-password-6c6c6c",
    "ws-token-5b5b5b",
    "ws-url-token-4a4a4a",
    "custom-header-3939",
    "eyJhbGciOiJIUzI1NiJ9.planted-subprotocol-jwt",
];

/// Real traffic carrying every planted secret, through the proxy.
async fn planted_capture(dir: &Path) -> PathBuf {
    let h = Harness::start().await;
    let p = PLANTED;
    let json = format!(
        r#"{{"user":{{"password":"{}","api_key":"{}"}},"data":[{{"secret":"{}"}}],"message":"hello"}}"#,
        p[9], p[10], p[11]
    );
    let request = Request::post(h.url(&format!(
        "/api/echo/?token={}&access_token={}&key={}&page=2",
        p[6], p[7], p[8]
    )))
    .header(
        "cookie",
        format!("sessionid={}; csrftoken={}; theme=dark", p[0], p[1]),
    )
    .header("authorization", format!("Bearer {}", p[2]))
    .header("proxy-authorization", format!("Basic {}", p[3]))
    .header("x-csrftoken", p[4])
    .header("x-api-token", p[5])
    .header("x-weird", p[15])
    .header("content-type", "application/json")
    .body(Full::new(Bytes::from(json)))
    .unwrap();
    call(request).await;
    let form = Request::post(h.url("/api/echo/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(format!(
            "username=alice&password={}",
            p[12]
        ))))
        .unwrap();
    call(form).await;
    let mut ws = h
        .ws(
            &format!("/ws/echo/?token={}", p[14]),
            &[("sec-websocket-protocol", p[16])],
        )
        .await;
    ws.send(Message::Text(
        format!(r#"{{"type":"auth","token":"{}"}}"#, p[13]).into(),
    ))
    .await
    .unwrap();
    next(&mut ws).await;
    drop(ws);
    let (_, path, _keep) = h.finish_with_file().await;
    let target = dir.join("planted.jsonl");
    std::fs::copy(path, &target).unwrap();
    target
}

#[tokio::test]
async fn no_planted_secret_survives_any_export_format() {
    let dir = tempfile::tempdir().unwrap();
    let capture = planted_capture(dir.path()).await;
    let raw = std::fs::read_to_string(&capture).unwrap();
    assert!(
        PLANTED.iter().all(|s| raw.contains(s)),
        "every secret was really recorded"
    );
    for format in ["har", "markdown", "jsonl"] {
        let out = tokio::task::spawn_blocking({
            let (capture, dir) = (capture.clone(), dir.path().to_owned());
            move || export(&capture, format, &dir, &["--redact-header", "x-weird"])
        })
        .await
        .unwrap();
        for secret in PLANTED {
            assert!(!out.contains(secret), "{secret} survives in {format}");
        }
        assert!(out.contains("[REDACTED:"), "{format} marks what it removed");
        assert!(out.contains("page=2"), "harmless values stay in {format}");
    }
    // A filtered export still knows the secrets of what it leaves out: the
    // echo's response (kept) repeats the request's headers (left out).
    let responses_only = export(
        &capture,
        "jsonl",
        dir.path(),
        &["--since", "3", "--redact-header", "x-weird"],
    );
    assert!(
        !responses_only.contains(r#""type":"http_request","exchange":1"#),
        "the first request is left out"
    );
    assert!(
        responses_only.contains(r#""type":"http_response","exchange":1"#),
        "its echoed response is kept"
    );
    for secret in PLANTED {
        assert!(
            !responses_only.contains(secret),
            "{secret} survives a filtered export"
        );
    }
    // The same secret keeps the same placeholder, wherever it appears.
    let har = export(&capture, "har", dir.path(), &[]);
    let at = har
        .find("sessionid=[REDACTED:")
        .expect("the session cookie, redacted")
        + "sessionid=".len();
    let placeholder = &har[at..at + "[REDACTED:12345678]".len()];
    assert!(
        har.matches(placeholder).count() >= 2,
        "the session placeholder appears in the cookie and in the echoed header"
    );
}

#[tokio::test]
async fn no_redact_keeps_secrets_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let capture = planted_capture(dir.path()).await;
    let har: Value =
        serde_json::from_str(&export(&capture, "har", dir.path(), &["--no-redact"])).unwrap();
    assert!(har["log"]["comment"]
        .as_str()
        .unwrap()
        .contains("NOT redacted"));
    let md = export(&capture, "markdown", dir.path(), &["--no-redact"]);
    assert!(
        md.contains("**Not redacted**") && md.contains(PLANTED[13]),
        "the WebSocket token is shown as sent"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("out.markdown"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "an unredacted export is private");
    }
}

#[test]
fn secrets_only_in_a_django_pages_cookies_and_meta_are_redacted() {
    use wsdiag::event::{Event, EventKind, HttpRequest, HttpResponse, Payload};
    let html = include_str!("fixtures/django/attribute_error_debug.html")
        .replace("SzS8CgmfVodJZ4hp0An9sqxUoPW2R0Hm", "meta-only-csrf-ab12cd")
        .replacen(
            "&#x27;********************&#x27;",
            "&#x27;meta-only-cookie-ef34&#x27;",
            1,
        );
    let text = include_str!("fixtures/django/integrity_error_debug.txt")
        .replace("Ho2t7Dq07I3WwZ9Z1QImD1e20Raclf4l", "text-only-csrf-99aa88")
        .replacen(
            "csrftoken = '********************'",
            "csrftoken = 'text-only-cookie-77bb'",
            1,
        )
        // Django masks HTTP_COOKIE itself; a page that did not must not leak.
        .replacen(
            "HTTP_COOKIE = '********************'",
            "HTTP_COOKIE = 'text-only-http-cookie-55cc'",
            1,
        );
    let mut events = Vec::new();
    for (i, body) in [html, text].into_iter().enumerate() {
        let exchange = i as u64 + 1;
        let request = HttpRequest {
            exchange,
            method: "POST".into(),
            uri: "/api/x/".into(),
            version: "HTTP/1.1".into(),
            headers: vec![],
            forwarded_host: None,
            body: Payload::default(),
        };
        let payload = Payload::capture(&Bytes::from(body), usize::MAX);
        let response = HttpResponse {
            exchange,
            status: 500,
            headers: vec![("content-type".into(), "text/html".into())],
            body: payload,
            duration_us: 1,
        };
        events.push(Event {
            seq: exchange * 2 - 1,
            t_us: 0,
            conn: Some(1),
            kind: EventKind::HttpRequest(request),
        });
        events.push(Event {
            seq: exchange * 2,
            t_us: 1,
            conn: Some(1),
            kind: EventKind::HttpResponse(response),
        });
    }
    wsdiag::export::redact::Rules::default().apply(&mut events);
    let all = serde_json::to_string(&events).unwrap();
    for secret in [
        "meta-only-csrf-ab12cd",
        "meta-only-cookie-ef34",
        "text-only-csrf-99aa88",
        "text-only-cookie-77bb",
        "text-only-http-cookie-55cc",
    ] {
        assert!(!all.contains(secret), "{secret} survives in a Django page");
    }
    assert!(
        all.contains("IntegrityError") && all.contains("AttributeError"),
        "the page itself stays readable"
    );
}

/// A busy session through the real proxy and the sample backend: 200
/// chat messages over the WebSocket and 200 REST sends, each refused with
/// the backend's 500 page. Its Markdown report still fits a GitHub issue
/// (under 60,000 characters), keeps the diagnosis and the first failing
/// exchanges, and says what it left out and where the rest is.
#[tokio::test]
async fn the_markdown_of_a_busy_session_fits_an_issue_and_says_what_it_left_out() {
    let h = Harness::start().await;
    let mut ws = h.ws("/ws/chat/3/?token=alice-token-51c2", &[]).await;
    for i in 0..200 {
        let text = format!("message number {i} with some words to make it longer");
        let sent = serde_json::json!({"type": "chat_message", "message": text}).to_string();
        ws.send(Message::text(sent)).await.unwrap();
        let body = serde_json::json!({"message": text}).to_string();
        let request = Request::post(h.url("/api/conversations/3/messages/"))
            .header("cookie", "sessionid=alice-session-7f3a")
            .header("content-type", "application/json")
            .header("accept", "text/html")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let (status, _, _) = call(request).await;
        assert_eq!(status, 500);
    }
    while let Ok(Some(_)) =
        tokio::time::timeout(std::time::Duration::from_millis(200), next(&mut ws)).await
    {}
    drop(ws);
    let (_, path, dir) = h.finish_with_file().await;
    let report = export(&path, "markdown", dir.path(), &[]);
    assert!(report.len() < 60_000, "{} characters", report.len());
    assert!(
        report.contains("rest-missing-server-field"),
        "the diagnosis is kept"
    );
    assert!(
        report.contains("## Failing exchanges"),
        "the first failures are kept"
    );
    let left_out = &report[report.find("## Left out").expect("a Left out section")..];
    assert!(
        left_out.contains("failing exchanges after the first 10")
            && left_out.contains("--format har"),
        "{left_out}"
    );
}
