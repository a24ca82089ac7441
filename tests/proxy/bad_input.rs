//! Bad input from clients, sent as raw bytes: malformed requests, header
//! floods, request smuggling, a client that sends headers byte by byte,
//! upgrades to something other than WebSocket, forward-proxy requests, and
//! text messages that are not JSON. Each gets a clear answer, is recorded,
//! and never takes the proxy down.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use wsdiag::event::{ErrorKind, EventKind, Side};

use crate::support::{self, next, send_text, Harness, Options, PATIENCE};

/// The status code of the first response in `answer`.
fn status(answer: &str) -> u16 {
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {answer:?}"))
}

/// The proxy still serves a normal request after the bad one.
async fn still_serving(h: &Harness) {
    let answer = h
        .exchange(b"GET /api/echo/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(status(&answer), 200, "{answer}");
}

/// The kinds of the `error` events recorded for clients.
fn client_errors(capture: &wsdiag::capture::Capture) -> Vec<ErrorKind> {
    support::events(capture, |e| match &e.kind {
        EventKind::Error(err) if err.side == Side::Client => Some(err.kind),
        _ => None,
    })
}

#[tokio::test]
async fn a_malformed_request_line_gets_400_and_is_recorded() {
    let h = Harness::start().await;
    let answer = h.exchange(b"GARBAGE\r\n\r\n").await;
    assert_eq!(status(&answer), 400);
    still_serving(&h).await;
    let capture = h.finish().await;
    assert_eq!(client_errors(&capture), [ErrorKind::Protocol]);
}

#[tokio::test]
async fn a_header_flood_gets_431() {
    let h = Harness::start().await;
    let mut many = String::from("GET /api/echo/ HTTP/1.1\r\nHost: a\r\n");
    for i in 0..500 {
        many.push_str(&format!("X-Flood-{i}: {}\r\n", "v".repeat(64)));
    }
    many.push_str("\r\n");
    let answer = h.exchange(many.as_bytes()).await;
    assert_eq!(status(&answer), 431, "{answer}");
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "v".repeat(1 << 20)
    );
    let answer = h.exchange(huge.as_bytes()).await;
    assert_eq!(status(&answer), 431, "{answer}");
    still_serving(&h).await;
    let capture = h.finish().await;
    assert_eq!(client_errors(&capture).len(), 2);
}

#[tokio::test]
async fn conflicting_content_length_and_transfer_encoding_cannot_smuggle_a_request() {
    let h = Harness::start().await;
    // A front end that trusted Content-Length would see one request; one
    // that trusted chunked would see a second, smuggled one.
    let smuggle = b"POST /api/echo/ HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\
                    Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
                    GET /api/smuggled/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let answer = h.exchange(smuggle).await;
    let capture = h.finish().await;
    let uris = support::events(&capture, |e| match &e.kind {
        EventKind::HttpRequest(r) => Some(r.uri.clone()),
        _ => None,
    });
    // Transfer-Encoding wins (RFC 9112 section 6.3): one request with an
    // empty chunked body is forwarded, the connection is closed after its
    // response, and the bytes after it are never read as a request.
    assert_eq!(uris, ["/api/echo/"]);
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
    assert!(answer.contains("\"body_len\":0"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
}

#[tokio::test]
async fn a_client_sending_headers_byte_by_byte_is_cut_off_by_the_header_read_timeout() {
    let options = Options {
        configure: Box::new(|c| c.header_read_timeout = Duration::from_millis(300)),
        ..Options::default()
    };
    let mut h = Harness::start_with(options).await;
    let mut tcp = TcpStream::connect(h.proxy).await.unwrap();
    tcp.write_all(b"GET /api/echo/ HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut answer))
        .await
        .expect("the slow client was never cut off")
        .unwrap();
    h.recorded(|e| matches!(&e.kind, EventKind::Error(err) if err.side == Side::Client))
        .await;
    still_serving(&h).await;
    let capture = h.finish().await;
    assert_eq!(client_errors(&capture), [ErrorKind::Timeout]);
}

#[tokio::test]
async fn an_upgrade_to_something_else_than_websocket_is_forwarded_as_a_plain_request() {
    let h = Harness::start().await;
    let answer = h
        .exchange(
            b"GET /api/echo/ HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings, close\r\n\
          Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
        )
        .await;
    assert_eq!(status(&answer), 200, "{answer}");
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    let seen = body.to_ascii_lowercase();
    assert!(
        !seen.contains("h2c") && !seen.contains("http2-settings"),
        "{body}"
    );
    h.finish().await;
}

#[tokio::test]
async fn connect_and_absolute_form_requests_are_refused_never_forwarded() {
    let h = Harness::start().await;
    let answer = h.exchange(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&answer), 405, "{answer}");
    assert!(answer.contains("not a forward proxy"), "{answer}");
    let answer = h.exchange(b"GET http://example.com/secret HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&answer), 400, "{answer}");
    assert!(answer.contains("origin-form"), "{answer}");
    let capture = h.finish().await;
    let refused = support::events(&capture, |e| match &e.kind {
        EventKind::HttpError(err) => Some((err.side, err.kind, err.status)),
        _ => None,
    });
    assert_eq!(
        refused,
        [
            (Side::Client, ErrorKind::Refused, Some(405)),
            (Side::Client, ErrorKind::Refused, Some(400))
        ]
    );
    // Recorded, never answered by an upstream.
    let responses = support::events(&capture, |e| match &e.kind {
        EventKind::HttpResponse(_) => Some(()),
        _ => None,
    });
    assert!(responses.is_empty());
}

#[tokio::test]
async fn text_messages_that_are_not_json_are_recorded_as_text_without_a_type() {
    let h = Harness::start().await;
    let mut ws = h.ws("/ws/echo/", &[]).await;
    for text in [
        "{not json",
        "[1,2",
        "",
        "\"just a string\"",
        "{\"type\": 5}",
    ] {
        send_text(&mut ws, text).await;
        assert_eq!(next(&mut ws).await, Some(Message::Text(text.into())));
    }
    ws.close(None).await.unwrap();
    let capture = h.finish().await;
    let messages = support::messages(&capture);
    assert_eq!(messages.len(), 10 + 2, "5 each way and the two closes");
    assert!(messages.iter().all(|m| m.msg_type.is_none()));
    assert!(support::events(&capture, |e| match &e.kind {
        EventKind::Error(_) | EventKind::HttpError(_) => Some(()),
        _ => None,
    })
    .is_empty());
}
