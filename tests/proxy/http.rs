//! REST forwarding: methods, bodies larger than the capture keeps, headers
//! (Host, cookies, Origin, X-Forwarded-*, several Set-Cookie), the upstream
//! being down.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use wsdiag::event::{header, ErrorKind, EventKind, HttpError, Side};

use crate::support::{self, call, Harness, Options};

/// What `/api/echo/` saw of a request.
fn seen_header<'a>(echo: &'a Value, name: &str) -> Vec<&'a str> {
    echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pair| pair[0] == name)
        .map(|pair| pair[1].as_str().unwrap())
        .collect()
}

fn echo_request(h: &Harness, host: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(Method::PATCH)
        .uri(h.url("/api/echo/?page=2&token=abc"))
        .header("host", host)
        .header("cookie", "sessionid=s1; csrftoken=c1")
        .header("origin", format!("http://{host}"))
        .header("x-custom", "kept")
        .body(Full::new(Bytes::from_static(b"{\"a\":1}")))
        .unwrap()
}

#[tokio::test]
async fn method_path_query_headers_and_body_reach_the_upstream_with_host_kept() {
    let h = Harness::start().await;
    let (status, headers, body) = call(echo_request(&h, "frontend.test:9000")).await;
    assert_eq!(status, StatusCode::OK);
    let echo: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(echo["method"], "PATCH");
    assert_eq!(echo["uri"], "/api/echo/?page=2&token=abc");
    assert_eq!(echo["body_len"], 7);
    assert_eq!(
        seen_header(&echo, "host"),
        ["frontend.test:9000"],
        "Host kept by default"
    );
    assert_eq!(seen_header(&echo, "cookie"), ["sessionid=s1; csrftoken=c1"]);
    assert_eq!(seen_header(&echo, "origin"), ["http://frontend.test:9000"]);
    assert_eq!(seen_header(&echo, "x-custom"), ["kept"]);
    assert_eq!(seen_header(&echo, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(seen_header(&echo, "x-forwarded-proto"), ["http"]);
    assert_eq!(
        seen_header(&echo, "x-forwarded-host"),
        ["frontend.test:9000"]
    );
    assert_eq!(
        headers.get_all("set-cookie").iter().count(),
        2,
        "Set-Cookie headers stay separate"
    );

    let capture = h.finish().await;
    let request = &support::requests(&capture)[0];
    assert_eq!(
        (request.method.as_str(), request.uri.as_str()),
        ("PATCH", "/api/echo/?page=2&token=abc")
    );
    assert_eq!(request.body.text(), Some("{\"a\":1}"));
    assert_eq!(
        header(&request.headers, "host"),
        Some("frontend.test:9000"),
        "recorded as the client sent it"
    );
    let response = &support::responses(&capture)[0];
    assert_eq!(response.status, 200);
    let cookies: Vec<_> = response
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .collect();
    assert_eq!(cookies.len(), 2);
    assert!(response
        .body
        .text()
        .unwrap()
        .contains("\"method\":\"PATCH\""));
}

#[tokio::test]
async fn rewrite_host_sends_the_upstreams_authority() {
    let h = Harness::start_with(Options {
        configure: Box::new(|c| c.rewrite_host = true),
        ..Options::default()
    })
    .await;
    let backend = h.backend.as_ref().unwrap().addr;
    let (_, _, body) = call(echo_request(&h, "frontend.test:9000")).await;
    let echo: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(seen_header(&echo, "host"), [backend.to_string()]);
    assert_eq!(
        seen_header(&echo, "x-forwarded-host"),
        ["frontend.test:9000"]
    );
    h.finish().await;
}

#[tokio::test]
async fn a_body_larger_than_the_capture_limit_is_forwarded_whole() {
    let h = Harness::start_with(Options {
        body_limit: 64 * 1024,
        ..Options::default()
    })
    .await;
    let big = Bytes::from(vec![b'x'; 1 << 20]);
    let request = Request::post(h.url("/api/echo/"))
        .body(Full::new(big))
        .unwrap();
    let (status, _, body) = call(request).await;
    assert_eq!(status, StatusCode::OK);
    let echo: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(echo["body_len"], 1 << 20, "the upstream got every byte");
    let capture = h.finish().await;
    let request = &support::requests(&capture)[0];
    assert_eq!(request.body.len, 1 << 20);
    assert!(request.body.truncated());
    assert_eq!(request.body.bytes.len(), 64 * 1024);
}

#[tokio::test]
async fn the_chat_rest_bug_is_relayed_and_recorded_with_the_django_page() {
    let h = Harness::start().await;
    let request = Request::post(h.url("/api/conversations/3/messages/"))
        .header("cookie", "sessionid=alice-session-7f3a")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/plain, */*")
        .body(Full::new(Bytes::from_static(b"{\"message\":\"cc\"}")))
        .unwrap();
    let (status, _, body) = call(request).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(String::from_utf8_lossy(&body).contains("NOT NULL constraint failed"));
    let capture = h.finish().await;
    let response = &support::responses(&capture)[0];
    assert_eq!(response.status, 500);
    let page = wsdiag::stacks::django::parse_technical_500(response.body.text().unwrap()).unwrap();
    assert_eq!(page.exception_type, "IntegrityError");
    assert_eq!(capture.trailer().unwrap().exchanges_by_status["5xx"], 1);
}

#[tokio::test]
async fn an_unreachable_upstream_gets_a_502_naming_it_and_the_request_is_kept() {
    let down = support::closed_port().await;
    let h = Harness::in_front_of(&format!("http://{down}"), Options::default()).await;
    let request = Request::post(h.url("/api/conversations/3/messages/"))
        .body(Full::new(Bytes::from_static(b"{\"message\":\"cc\"}")))
        .unwrap();
    let (status, _, body) = call(request).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        body.contains(&down.to_string()),
        "the 502 names the upstream: {body}"
    );
    assert!(
        body.to_lowercase().contains("refused"),
        "and the cause: {body}"
    );
    let capture = h.finish().await;
    assert_eq!(support::requests(&capture)[0].method, "POST");
    let errors: Vec<HttpError> = support::events(&capture, |e| match &e.kind {
        EventKind::HttpError(x) => Some(x.clone()),
        _ => None,
    });
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].side, errors[0].kind, errors[0].status),
        (Side::Upstream, ErrorKind::Connect, Some(502))
    );
}

#[tokio::test]
async fn keep_alive_exchanges_are_recorded_in_order_on_one_connection() {
    let h = Harness::start().await;
    let client = support::http_client();
    for _ in 0..3 {
        let request = Request::get(h.url("/api/echo/"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = client.request(request).await.unwrap();
        use http_body_util::BodyExt;
        response.into_body().collect().await.unwrap();
    }
    drop(client);
    let capture = h.finish().await;
    let order: Vec<(&str, u64)> = capture
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::HttpRequest(r) => Some(("request", r.exchange)),
            EventKind::HttpResponse(r) => Some(("response", r.exchange)),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        [
            ("request", 1),
            ("response", 1),
            ("request", 2),
            ("response", 2),
            ("request", 3),
            ("response", 3)
        ]
    );
    assert_eq!(capture.trailer().unwrap().connections, 1);
}

#[tokio::test]
async fn an_upstream_that_hangs_up_without_answering_gets_a_502() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream); // accept, then close without a word
        }
    });
    let h = Harness::in_front_of(&format!("http://{upstream}"), Options::default()).await;
    let request = Request::get(h.url("/api/echo/"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, _, body) = call(request).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(String::from_utf8_lossy(&body).contains(&upstream.to_string()));
    let capture = h.finish().await;
    let errors: Vec<HttpError> = support::events(&capture, |e| match &e.kind {
        EventKind::HttpError(x) => Some(x.clone()),
        _ => None,
    });
    assert_eq!(
        (errors[0].side, errors[0].status),
        (Side::Upstream, Some(502))
    );
}

/// An upstream that answers a request with `200 ok` and closes the
/// connection right after, without saying so (no `Connection: close`), as
/// a server whose keep-alive timeout ran out does; it counts the
/// connections it accepted.
async fn closing_upstream() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                    // A request without a body ends at its blank line.
                    if head.windows(4).any(|w| w == b"\r\n\r\n") {
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        let _ = stream.write_all(answer).await;
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

/// `n` GETs, one after the other, on one kept-alive client connection.
async fn gets(h: &Harness, n: usize) -> Vec<StatusCode> {
    use http_body_util::BodyExt;
    let client = support::http_client();
    let mut statuses = Vec::new();
    for i in 0..n {
        let request = Request::get(h.url(&format!("/api/items/{i}")))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = client.request(request).await.unwrap();
        statuses.push(response.status());
        response.into_body().collect().await.unwrap();
    }
    statuses
}

#[tokio::test]
async fn an_upstream_connection_closed_between_requests_is_replaced_unseen() {
    let (upstream, accepted) = closing_upstream().await;
    let h = Harness::in_front_of(&format!("http://{upstream}"), Options::default()).await;
    assert_eq!(gets(&h, 4).await, [StatusCode::OK; 4]);
    let capture = h.finish().await;
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 4);
    let errors = support::events(&capture, |e| match &e.kind {
        EventKind::HttpError(x) => Some(x.clone()),
        _ => None,
    });
    assert!(errors.is_empty(), "the client saw a failure: {errors:?}");
    assert_eq!(capture.trailer().unwrap().connections, 1);
}
