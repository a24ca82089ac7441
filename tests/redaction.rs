//! Issue 17, "no secret in what users share": JWTs planted through real
//! traffic, through the real proxy, leave no trace in any format of the real
//! `wsdiag export`, while the fields around them stay. The upstream answers
//! a login as DRF SimpleJWT does, fails with an HTML page quoting a token,
//! echoes a query string, and echoes WebSocket messages (a Socket.IO
//! packet, nested JSON, a binary frame) sent on a socket opened with a token
//! in its URL.

use std::path::Path;
use std::process::Command;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wsdiag::http_server::ServerSocket;

use crate::support::{call, next, Harness, Options};

/// A token shaped as DRF SimpleJWT issues it: HS256, with `token_type`,
/// `exp`, `iat`, `jti` and `user_id` claims, and a 32-byte signature.
fn simplejwt(token_type: &str, jti: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"token_type":"{token_type}","exp":1764410000,"iat":1764406400,"jti":"{jti}","user_id":7}}"#
    ));
    let signature = URL_SAFE_NO_PAD.encode(format!("{jti:-<32}").get(..32).unwrap_or_default());
    format!("{header}.{claims}.{signature}")
}

/// The planted tokens, each in one place of the traffic.
struct Tokens {
    /// In the login answer, under `access`.
    access: String,
    /// In the login answer, under `refresh`.
    refresh: String,
    /// Only in the HTML of a 500 page.
    page: String,
    /// In the WebSocket URL and a REST query, as `?t=`.
    query: String,
    /// In a Socket.IO packet sent over the WebSocket.
    socketio: String,
    /// Deep in a JSON message, under an innocent key.
    nested: String,
    /// In a binary WebSocket message.
    binary: String,
}

impl Tokens {
    fn new() -> Tokens {
        Tokens {
            access: simplejwt("access", "a7c1e0d2b3f4"),
            refresh: simplejwt("refresh", "f0e9d8c7b6a5"),
            page: simplejwt("access", "9a8b7c6d5e4f"),
            query: simplejwt("access", "1b2c3d4e5f6a"),
            socketio: simplejwt("access", "0c1d2e3f4a5b"),
            nested: simplejwt("access", "6f5e4d3c2b1a"),
            binary: simplejwt("access", "5a4b3c2d1e0f"),
        }
    }

    fn all(&self) -> [&str; 7] {
        [
            &self.access,
            &self.refresh,
            &self.page,
            &self.query,
            &self.socketio,
            &self.nested,
            &self.binary,
        ]
    }
}

fn respond(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

/// The upstream: `POST /api/token/` answers like SimpleJWT's
/// `TokenObtainPairView`, `/api/debug/` fails with a page showing a local
/// variable holding a token (as Django's technical 500 does),
/// `/api/echo/` answers with its URI, and `/ws/` echoes messages.
async fn upstream(access: String, refresh: String, page: String) -> (String, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let handle = {
        let tasks = tasks.clone();
        move |mut req: Request<Incoming>| {
            let (access, refresh, page, tasks) =
                (access.clone(), refresh.clone(), page.clone(), tasks.clone());
            async move {
                match req.uri().path() {
                    "/api/token/" => respond(
                        StatusCode::OK,
                        "application/json",
                        format!(r#"{{"refresh":"{refresh}","access":"{access}"}}"#),
                    ),
                    "/api/debug/" => respond(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "text/html; charset=utf-8",
                        format!(
                            "<!DOCTYPE html>\n<html><body><h1>ExpiredSignatureError</h1>\n\
                             <table class=\"vars\"><tr><td>raw_token</td>\n\
                             <td class=\"code\"><pre>&#x27;{page}&#x27;</pre></td></tr></table>\n\
                             <p>Signature has expired: {page}</p></body></html>\n"
                        ),
                    ),
                    "/api/echo/" => respond(
                        StatusCode::OK,
                        "application/json",
                        serde_json::json!({"uri": req.uri().to_string()}).to_string(),
                    ),
                    "/ws/" => match wsdiag::http_server::accept_websocket(&mut req, None, echo) {
                        Some((response, task)) => {
                            tasks.spawn(task);
                            response
                        }
                        None => respond(StatusCode::BAD_REQUEST, "text/plain", String::new()),
                    },
                    _ => respond(StatusCode::NOT_FOUND, "text/plain", String::new()),
                }
            }
        }
    };
    tokio::spawn(wsdiag::http_server::serve(
        listener,
        stop.clone(),
        tasks,
        "test upstream",
        handle,
    ));
    (format!("http://{addr}"), stop)
}

/// Echoes text and binary messages until the client closes.
async fn echo(mut ws: ServerSocket) {
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            break;
        }
    }
}

/// Real traffic through the proxy carrying every planted token; returns
/// the capture, copied into `dir`.
async fn planted_capture(tokens: &Tokens, dir: &Path) -> std::path::PathBuf {
    let (upstream, stop) = upstream(
        tokens.access.clone(),
        tokens.refresh.clone(),
        tokens.page.clone(),
    )
    .await;
    let h = Harness::in_front_of(&upstream, Options::default()).await;
    let login = Request::post(h.url("/api/token/"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            r#"{"username":"alice","password":"correct-horse-battery"}"#,
        )))
        .unwrap();
    let (status, _, body) = call(login).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains(&tokens.access));
    let debug = Request::get(h.url("/api/debug/"))
        .body(Full::default())
        .unwrap();
    assert_eq!(call(debug).await.0, 500);
    let echo = Request::get(h.url(&format!("/api/echo/?t={}&page=2", tokens.query)))
        .body(Full::default())
        .unwrap();
    assert_eq!(call(echo).await.0, 200);

    let mut ws = h.ws(&format!("/ws/?room=3&t={}", tokens.query), &[]).await;
    let mut binary = b"\x00\x01bin:".to_vec();
    binary.extend_from_slice(tokens.binary.as_bytes());
    binary.push(0xff);
    for message in [
        Message::Text(format!(r#"42["auth",{{"token":"{}"}}]"#, tokens.socketio).into()),
        Message::Text(
            format!(
                r#"{{"type":"hello","data":{{"items":[{{"note":"first","blob":"{}"}}]}}}}"#,
                tokens.nested
            )
            .into(),
        ),
        Message::Binary(binary.into()),
    ] {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(next(&mut ws).await, Some(message), "the echo");
    }
    ws.close(None).await.unwrap();
    while next(&mut ws).await.is_some() {}
    let (_, path, _keep) = h.finish_with_file().await;
    stop.cancel();
    let target = dir.join("planted.jsonl");
    std::fs::copy(path, &target).unwrap();
    target
}

/// The file `wsdiag export` writes in `format`, beside the capture.
fn exported(capture: &Path, format: &str) -> std::path::PathBuf {
    capture.with_file_name(format!("export.{format}"))
}

/// `wsdiag export CAPTURE --format FORMAT -o FILE`, by the real binary;
/// returns the file's text.
fn export(capture: &Path, format: &str) -> String {
    let file = exported(capture, format);
    let out = Command::new(env!("CARGO_BIN_EXE_wsdiag"))
        .arg("export")
        .arg(capture)
        .args(["--format", format, "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(file).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_jwt_survives_any_export_format_wherever_the_traffic_put_it() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = Tokens::new();
    let capture = planted_capture(&tokens, dir.path()).await;
    let raw = std::fs::read_to_string(&capture).unwrap();
    let frames = binary_payloads(&capture, "jsonl", &raw);
    for token in tokens.all() {
        let in_frame = frames.iter().any(|f| contains(f, token.as_bytes()));
        assert!(
            raw.contains(token) || in_frame,
            "{token} was really recorded"
        );
    }
    for format in ["har", "markdown", "jsonl"] {
        let out = tokio::task::spawn_blocking({
            let capture = capture.clone();
            move || export(&capture, format)
        })
        .await
        .unwrap();
        let frames = binary_payloads(&exported(&capture, format), format, &out);
        for token in tokens.all() {
            // Not whole, and not in part: neither claims nor signature.
            for part in token.split('.').skip(1) {
                assert!(!out.contains(part), "{format} holds {part} of {token}");
                let in_frame = frames.iter().any(|f| contains(f, part.as_bytes()));
                assert!(!in_frame, "a binary message of {format} holds {part}");
            }
        }
        // What a user checks before posting: `grep -c eyJ export.har` is 0.
        assert!(!out.contains("eyJ"), "{format} holds something JWT-shaped");
        assert!(out.contains("[REDACTED:"), "{format} marks what it removed");
        for kept in ["/api/token/", "page=2", "room=3", "ExpiredSignatureError"] {
            assert!(out.contains(kept), "{format} lost {kept}");
        }
        if format != "markdown" {
            // The report shows no successful exchange's body; the others do.
            for kept in ["alice", "first", "bin:"] {
                let in_frame = frames.iter().any(|f| contains(f, kept.as_bytes()));
                assert!(out.contains(kept) || in_frame, "{format} lost {kept}");
            }
        }
    }
}

/// The binary messages of an export, decoded from base64: a token there
/// escapes a text search.
fn binary_payloads(file: &Path, format: &str, text: &str) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::STANDARD;
    match format {
        "jsonl" => crate::support::messages(&wsdiag::capture::read_path(file).unwrap())
            .iter()
            .filter(|m| m.payload.text().is_none())
            .map(|m| m.payload.bytes.to_vec())
            .collect(),
        "har" => {
            let har: serde_json::Value = serde_json::from_str(text).unwrap();
            har["log"]["entries"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["_webSocketMessages"].as_array())
                .flatten()
                .filter(|m| m["opcode"] == 2)
                .map(|m| STANDARD.decode(m["data"].as_str().unwrap()).unwrap())
                .collect()
        }
        _ => Vec::new(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `diagnose --format markdown|json` is for sharing: its report is made
/// from redacted events, and `--no-redact` is explicit and said. The
/// planted key rides in the body of a failing REST send, which the finding
/// quotes.
#[tokio::test]
async fn the_shared_diagnosis_reports_are_redacted_unless_asked_not_to() {
    use crate::support::{send_text, wait_for};
    let secret = "sk-live-51HxQ2Ld9f0a77";
    let h = Harness::start().await;
    let mut ws = h.ws("/ws/chat/3/?token=alice-token-51c2", &[]).await;
    send_text(&mut ws, r#"{"type":"chat_message","message":"cc"}"#).await;
    wait_for(&mut ws, "chat_message").await;
    let body = format!(r#"{{"message":"cc","api_key":"{secret}"}}"#);
    let request = Request::post(h.url("/api/conversations/3/messages/"))
        .header("cookie", "sessionid=alice-session-7f3a")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let (status, _, _) = call(request).await;
    assert_eq!(status, 500);
    drop(ws);
    let (_, path, dir) = h.finish_with_file().await;
    let diagnose = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wsdiag"))
            .arg("diagnose")
            .arg(&path)
            .args(extra)
            .current_dir(dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = diagnose(&[]);
    assert!(
        text.contains(secret),
        "the terminal's report is the user's own: {text}"
    );
    for format in ["markdown", "json"] {
        let shared = diagnose(&["--format", format]);
        assert!(shared.contains("rest-missing-server-field"), "{shared}");
        assert!(!shared.contains(secret), "{format}: {shared}");
    }
    let json: serde_json::Value = serde_json::from_str(&diagnose(&["--format", "json"])).unwrap();
    assert_eq!(json["redacted"], true);
    let kept = diagnose(&["--format", "json", "--no-redact"]);
    assert!(kept.contains(secret));
    let json: serde_json::Value = serde_json::from_str(&kept).unwrap();
    assert_eq!(json["redacted"], false);
    let markdown = diagnose(&["--format", "markdown", "--no-redact"]);
    assert!(markdown.starts_with("> **Not redacted**"), "{markdown}");
}
