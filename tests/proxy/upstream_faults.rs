//! Upstreams that fail the proxy in time: one whose accept queue is full
//! (connecting hangs), one that accepts TCP and never answers. Each limit
//! is configurable; the client gets a 504 naming it, and the capture keeps
//! the request and the failure.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use wsdiag::event::{ErrorKind, EventKind, HttpError, Side};

use crate::support::{self, call, Harness, Options};

const LIMIT: Duration = Duration::from_millis(300);

fn quick_limits() -> Options {
    Options {
        configure: Box::new(|c| {
            c.connect_timeout = LIMIT;
            c.handshake_timeout = LIMIT;
            c.response_timeout = LIMIT;
        }),
        ..Options::default()
    }
}

/// An upstream that accepts connections and never says a word.
async fn silent_upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    format!("http://{addr}")
}

fn http_error(capture: &wsdiag::capture::Capture) -> HttpError {
    let errors = support::events(capture, |e| match &e.kind {
        EventKind::HttpError(e) => Some(e.clone()),
        _ => None,
    });
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors[0].clone()
}

async fn get(h: &Harness, path: &str) -> (StatusCode, String) {
    let request = Request::get(h.url(path))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, _, body) = call(request).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn an_upstream_that_never_answers_a_request_gets_a_504_after_the_response_timeout() {
    let h = Harness::in_front_of(&silent_upstream().await, quick_limits()).await;
    let (status, body) = get(&h, "/api/slow/").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert!(body.contains("--response-timeout"), "{body}");
    let capture = h.finish().await;
    let error = http_error(&capture);
    assert_eq!(
        (error.side, error.kind),
        (Side::Upstream, ErrorKind::Timeout)
    );
    assert_eq!(error.status, Some(504));
}

#[tokio::test]
async fn an_upstream_that_never_answers_an_upgrade_gets_a_504_after_the_handshake_timeout() {
    let h = Harness::in_front_of(&silent_upstream().await, quick_limits()).await;
    let refused = h.try_ws("/ws/chat/3/", &[]).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT)
        }
        other => panic!("expected a 504, got {other:?}"),
    }
    let capture = h.finish().await;
    let error = http_error(&capture);
    assert_eq!(
        (error.side, error.kind),
        (Side::Upstream, ErrorKind::Timeout)
    );
    let handshakes = support::events(&capture, |e| match &e.kind {
        EventKind::WsHandshake(h) => Some(h.status),
        _ => None,
    });
    assert_eq!(handshakes, [504]);
}

#[tokio::test]
async fn connecting_to_an_upstream_that_cannot_accept_gives_up_after_the_connect_timeout() {
    // A listener with a backlog of 0 that never accepts: after one
    // connection fills its queue, the kernel drops further SYNs and
    // connecting hangs, like a firewalled host.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let _filler = TcpStream::connect(addr).await.unwrap();
    // Only the connect limit is short: the 504 must be its doing.
    let options = Options {
        configure: Box::new(|c| c.connect_timeout = LIMIT),
        ..Options::default()
    };
    let h = Harness::in_front_of(&format!("http://{addr}"), options).await;
    let (status, body) = get(&h, "/api/messages/").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert!(
        body.contains(&addr.to_string()),
        "the 504 names the upstream: {body}"
    );
    assert!(
        body.contains("connect"),
        "the 504 says connecting timed out: {body}"
    );
    let capture = h.finish().await;
    let error = http_error(&capture);
    assert_eq!(
        (error.side, error.kind),
        (Side::Upstream, ErrorKind::Timeout)
    );
    drop(listener);
}
