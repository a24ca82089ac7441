//! End to end against a real FastAPI chat (`tests/fastapi_chat`: FastAPI,
//! Starlette, SQLAlchemy on SQLite, under uvicorn, on 127.0.0.1 port 0),
//! the real `wsdiag proxy` binary in front, its Python client logging in,
//! sending "cc" over the WebSocket and over REST, then `wsdiag diagnose`.
//! One test per bug: the finding's code, the field, the application's
//! source line and the fix in FastAPI's words.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::django::python;
use crate::socketio::wsdiag;
use crate::support::{address_in, root, Running};

/// The FastAPI chat with `bug` and `debug`, its database in `dir`; returns
/// it once it listens, and its URL.
fn start_backend(bug: &str, debug: &str, dir: &std::path::Path) -> (Running, String) {
    let mut command = Command::new(python());
    command
        .arg(root().join("tests/fastapi_chat/run_backend.py"))
        .env("CHAT_BUG", bug)
        .env("CHAT_DEBUG", debug)
        .env("CHAT_DB", dir.join("chat.sqlite3"))
        .stderr(Stdio::null());
    let mut backend = Running::spawn(command);
    let url = format!("http://{}", address_in(&backend.line_with("listening on")));
    (backend, url)
}

/// Runs the backend with `bug` and `debug`, the proxy, the client with
/// `args`; returns the diagnosis (JSON) and its text report.
fn scenario(bug: &str, debug: &str, args: &[&str]) -> (Value, String) {
    let (json, text, _) = scenario_introspected(bug, debug, args, 1);
    (json, text)
}

/// [`scenario`] where `diagnose` must exit with `exit`, and the diagnosis
/// with `--introspect` (JSON), asked while the backend still runs.
fn scenario_introspected(
    bug: &str,
    debug: &str,
    args: &[&str],
    exit: i32,
) -> (Value, String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let (mut backend, url) = start_backend(bug, debug, dir.path());
    let (proxy, addr) = Running::proxy(&url, "capture.jsonl", &["--quiet"], dir.path());
    let client = Command::new(python())
        .arg(root().join("tests/fastapi_chat/client.py"))
        .arg(format!("http://{addr}"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        client.status.success(),
        "client: {}",
        String::from_utf8_lossy(&client.stderr)
    );
    let (live, _) = proxy.stop("INT");
    let (introspected, _) = wsdiag(
        &[
            "diagnose",
            "capture.jsonl",
            "--introspect",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let _ = backend.child.kill();
    let (json, code) = wsdiag(
        &["diagnose", "capture.jsonl", "--format", "json"],
        dir.path(),
    );
    assert_eq!(code, exit, "diagnose's exit code: {json}");
    // The live console, even with --quiet, showed the same findings.
    let offline: Value = serde_json::from_str(&json).unwrap();
    for finding in offline["findings"].as_array().unwrap() {
        let code = finding["code"].as_str().unwrap();
        assert!(
            live.contains(&format!("✗ {code}:")),
            "diagnose found {code}; the live console (--quiet) showed:\n{live}"
        );
    }
    let (text, _) = wsdiag(&["diagnose", "capture.jsonl"], dir.path());
    let summary: Value = serde_json::from_slice(&client.stdout).unwrap_or(Value::Null);
    // The "nothing was saved" proof rests on the list the client reloaded
    // after the REST send: when that list showed the WebSocket's message
    // (and not a new one), the report must say so.
    if summary["list_contains_ws_message"] == true && summary["rest_saved"] != true {
        assert!(
            text.contains("Nothing was saved by the REST request")
                || text.contains("rest-error-after-save"),
            "the reloaded list proves nothing was saved: {summary}\n{text}"
        );
    }
    let introspected = introspected[introspected.find('{').unwrap_or(0)..].to_owned();
    (
        serde_json::from_str(&json).unwrap(),
        text,
        serde_json::from_str(&introspected).unwrap_or(Value::Null),
    )
}

/// The one finding, and the attempts: no login among them.
fn finding(diagnosis: &Value) -> &Value {
    let attempts = diagnosis["attempts"].as_array().unwrap();
    assert!(
        attempts.iter().all(|a| a["endpoint"] != "/api/login"),
        "a login is not a send: {diagnosis}"
    );
    assert!(
        !diagnosis.to_string().contains("alice-pass"),
        "no password in the diagnosis"
    );
    let findings = diagnosis["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{diagnosis:#}");
    &findings[0]
}

#[test]
fn fastapi_sender_never_set_names_the_column_the_line_and_the_dependency() {
    for accept in ["json", "html"] {
        let (d, text) = scenario("no-sender", "1", &["--accept", accept]);
        let f = finding(&d);
        assert_eq!(f["code"], "rest-missing-server-field", "{accept}: {text}");
        assert!(f["title"].as_str().unwrap().contains("`sender`"), "{text}");
        assert_eq!(
            f["location"]["function"], "create_message",
            "{accept}: {text}"
        );
        assert!(f["location"]["file"]
            .as_str()
            .unwrap()
            .ends_with("fastapi_chat/app.py"));
        assert!(
            f["next_step"]
                .as_str()
                .unwrap()
                .contains("Depends(get_current_user)"),
            "{text}"
        );
        assert!(
            !text.contains("perform_create"),
            "no Django words for FastAPI: {text}"
        );
    }
}

/// The same chat without a bug: the message goes both ways, and neither
/// the live console nor `diagnose` finds anything.
#[test]
fn fastapi_without_a_bug_gives_no_finding() {
    let (d, text, _) = scenario_introspected("none", "1", &[], 0);
    assert_eq!(d["findings"], Value::Array(Vec::new()), "{text}");
    let attempts = d["attempts"].as_array().unwrap();
    assert!(
        attempts.iter().any(|a| a["path"] == "rest") && attempts.iter().any(|a| a["path"] == "ws"),
        "both paths were tried: {d:#}"
    );
}

/// `--introspect` reads FastAPI's `/openapi.json`: the request model has
/// `text`, only the response model has `sender`, so the server must set it;
/// without debug, where the page says nothing, that is the evidence.
#[test]
fn fastapi_introspection_reads_the_openapi_document() {
    let (_, _, d) = scenario_introspected("no-sender", "0", &[], 1);
    assert_eq!(d["introspection"]["source"], "/openapi.json", "{d:#}");
    let fields = &d["introspection"]["fields"];
    assert_eq!(fields["text"]["required"], true, "{d:#}");
    assert_eq!(fields["sender"]["read_only"], true, "{d:#}");
    let f = finding(&d);
    assert_eq!(f["code"], "rest-server-error", "{d:#}");
    assert!(
        f["explanation"].to_string().contains(
            "The API description (/openapi.json) has `sender` only as a value the server sets"
        ),
        "{f:#}"
    );
}

#[test]
fn fastapi_response_model_error_after_the_save() {
    let (d, text) = scenario("error-after-save", "1", &[]);
    let f = finding(&d);
    assert_eq!(f["code"], "rest-error-after-save", "{text}");
    assert!(
        f["next_step"].as_str().unwrap().contains("response_model"),
        "{text}"
    );
    assert!(text.contains("requires `author`"), "{text}");
    assert!(text.contains("a retry would save it twice"), "{text}");
}

#[test]
fn fastapi_body_field_mismatch_names_both_fields() {
    let (d, text) = scenario("wrong-field", "1", &[]);
    let f = finding(&d);
    assert_eq!(f["code"], "rest-unknown-field", "{text}");
    assert!(
        f["title"].as_str().unwrap().contains("sends `text`"),
        "{text}"
    );
    assert!(
        f["title"].as_str().unwrap().contains("expects `content`"),
        "{text}"
    );
    assert!(
        f["suggestion"].as_str().unwrap().contains("AliasChoices"),
        "{text}"
    );
}

#[test]
fn fastapi_route_without_the_user_dependency() {
    let (d, text) = scenario("no-user", "1", &[]);
    let f = finding(&d);
    assert_eq!(f["code"], "rest-user-missing", "{text}");
    assert!(f["title"].as_str().unwrap().contains("`sender`"), "{text}");
    assert!(
        f["location"]["source"]
            .as_str()
            .unwrap()
            .contains("sender=user.name"),
        "{text}"
    );
}

#[test]
fn fastapi_json_sent_as_text_plain() {
    let (d, text) = scenario("none", "1", &["--content-type", "text"]);
    let f = finding(&d);
    assert_eq!(f["code"], "rest-content-type", "{text}");
    assert!(
        f["title"].as_str().unwrap().contains("text/plain"),
        "{text}"
    );
    assert!(f["next_step"]
        .as_str()
        .unwrap()
        .contains("Content-Type: application/json"));
    assert!(!text.contains("fails validation"), "no field blame: {text}");
}

#[test]
fn fastapi_without_debug_points_at_the_log_and_the_likely_field() {
    let (d, text) = scenario("no-sender", "0", &[]);
    let f = finding(&d);
    assert_eq!(f["code"], "rest-server-error", "{text}");
    assert!(f["title"].as_str().unwrap().contains("`sender`"), "{text}");
    assert!(
        f["next_step"].as_str().unwrap().contains("server's log"),
        "{text}"
    );
}

/// A browser's CORS preflight (as Chromium sends it before a JSON POST from
/// another origin) against the FastAPI chat, which has no CORS middleware:
/// refused with 405, so the browser would never send the message.
#[test]
fn a_refused_cors_preflight_is_explained_in_fastapi_words() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let (mut backend, url) = start_backend("none", "1", dir.path());
    let (proxy, addr) = Running::proxy(&url, "capture.jsonl", &["--quiet"], dir.path());
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "OPTIONS /api/rooms/general/messages HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://localhost:5173\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization,content-type\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    let _ = proxy.stop("INT");
    let _ = backend.child.kill();
    let (json, code) = wsdiag(
        &["diagnose", "capture.jsonl", "--format", "json"],
        dir.path(),
    );
    assert_eq!(code, 1, "{json}");
    let d: Value = serde_json::from_str(&json).unwrap();
    let f = &d["findings"][0];
    assert_eq!(f["code"], "rest-cors-refused", "{json}");
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains("http://localhost:5173"),
        "{json}"
    );
    assert!(
        f["next_step"].as_str().unwrap().contains("CORSMiddleware"),
        "{json}"
    );
    assert!(
        f["explanation"].to_string().contains("not subject to CORS"),
        "{json}"
    );
}

/// A WebSocket opened on a path no `@app.websocket` route matches: uvicorn
/// answers 403, and the finding explains it in Starlette's terms, not in
/// Django's.
#[test]
fn a_refused_websocket_path_is_explained_in_starlette_words() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let (mut backend, url) = start_backend("none", "1", dir.path());
    let (proxy, addr) = Running::proxy(&url, "capture.jsonl", &["--quiet"], dir.path());
    // A plain request first, read whole: its `Server: uvicorn` names the
    // stack.
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET /openapi.json HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(stream, "GET /ws/nowhere HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").unwrap();
    // The status line is enough; the connection may stay open.
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).unwrap();
    assert!(head[..n].starts_with(b"HTTP/1.1 403"), "{:?}", &head[..n]);
    let (live, _) = proxy.stop("INT");
    let _ = backend.child.kill();
    let (json, code) = wsdiag(
        &["diagnose", "capture.jsonl", "--format", "json"],
        dir.path(),
    );
    assert_eq!(code, 1, "{json}");
    let d: Value = serde_json::from_str(&json).unwrap();
    let f = &d["findings"][0];
    assert_eq!(f["code"], "ws-handshake-refused", "{json}");
    assert!(
        f["title"].as_str().unwrap().contains("refused with 403"),
        "{json}"
    );
    let next = f["next_step"].as_str().unwrap();
    assert!(next.contains("@app.websocket"), "{next}");
    assert!(!json.contains("ALLOWED_HOSTS"), "no Django words: {json}");
    assert!(live.contains("✗ ws-handshake-refused:"), "{live}");
}
