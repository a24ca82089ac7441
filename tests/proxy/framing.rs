//! How wsdiag's own HTTP/1.1 forwarder frames messages (RFC 9112), seen
//! from raw sockets on both sides: header fields in their order and case,
//! chunked bodies both ways, pipelined requests, a response delimited by
//! the upstream's close, bodiless responses, `Expect: 100-continue`, a
//! response that streams, an upload the client cuts off, and an upstream
//! that answers before the upload ends.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsdiag::event::{header, ErrorKind, EventKind, HttpError, Side};

use crate::support::{self, Harness, Options, PATIENCE};

/// What a scripted upstream does with one request: the raw request in,
/// what to send back out (and whether to close after).
type Script = Arc<dyn Fn(&[u8]) -> (Vec<u8>, bool) + Send + Sync>;

/// The raw requests a scripted upstream received, in order.
type Received = Arc<Mutex<Vec<Vec<u8>>>>;

/// Reads what the proxy sends on `tcp` until `done` holds for all of it,
/// failing the test, with `waiting_for` in its message, when nothing comes
/// within [`PATIENCE`] or the proxy closes first.
async fn read_until(
    tcp: &mut TcpStream,
    done: impl Fn(&[u8]) -> bool,
    waiting_for: &str,
) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut scrap = [0u8; 4096];
    while !done(&seen) {
        let n = tokio::time::timeout(PATIENCE, tcp.read(&mut scrap))
            .await
            .unwrap_or_else(|_| panic!("waited in vain for {waiting_for}"))
            .unwrap();
        assert!(
            n > 0,
            "closed before {waiting_for}, after {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&scrap[..n]);
    }
    seen
}

/// Reads one request from `stream` after `buf`: its head, then a body by
/// `Content-Length` or up to the chunked coding's last chunk (good enough
/// for the requests these tests send). `None` when the connection ends.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut scrap = [0u8; 16384];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            let total = if head.contains("transfer-encoding: chunked") {
                buf.windows(5)
                    .position(|w| w == b"0\r\n\r\n")
                    .map(|at| at + 5)
            } else {
                Some(end + 4 + length.unwrap_or(0))
            };
            if let Some(total) = total.filter(|t| *t <= buf.len()) {
                return Some(buf.drain(..total).collect());
            }
        }
        match stream.read(&mut scrap).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&scrap[..n]),
        }
    }
}

/// An upstream that answers each request as `script` says and keeps
/// every request it received.
async fn scripted(script: Script) -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received: Received = Arc::default();
    let kept = received.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (script, kept) = (script.clone(), kept.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Some(request) = read_request(&mut stream, &mut buf).await {
                    let (answer, close) = script(&request);
                    kept.lock().unwrap().push(request);
                    if stream.write_all(&answer).await.is_err() || close {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), received)
}

fn http_errors(c: &wsdiag::capture::Capture) -> Vec<HttpError> {
    support::events(c, |e| match &e.kind {
        EventKind::HttpError(r) => Some(r.clone()),
        _ => None,
    })
}

/// The header lines of a raw message, in order.
fn header_lines(raw: &str) -> Vec<&str> {
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    head.split("\r\n").skip(1).collect()
}

#[tokio::test]
async fn fields_keep_their_order_and_case_and_chunked_bodies_pass_both_ways() {
    let answer = b"HTTP/1.1 201 Created\r\nSet-Cookie: a=1\r\nX-Trace: t\r\nSet-Cookie: b=2\r\n\
                   Trailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n\
                   3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Sum: 7\r\n\r\n";
    let (upstream, received) = scripted(Arc::new(|_| (answer.to_vec(), false))).await;
    let h = Harness::in_front_of(&upstream, Options::default()).await;
    let raw = "POST /api/items/ HTTP/1.1\r\nHost: app.test\r\nX-B: 1\r\nx-a: 2\r\nX-B: 3\r\n\
               Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    let got = h.exchange(raw.as_bytes()).await;

    let sent = String::from_utf8(received.lock().unwrap()[0].clone()).unwrap();
    let lines = header_lines(&sent);
    assert_eq!(
        lines[..4],
        ["Host: app.test", "X-B: 1", "x-a: 2", "X-B: 3"],
        "{sent}"
    );
    assert!(lines.contains(&"transfer-encoding: chunked"), "{sent}");
    assert!(!lines.iter().any(|l| l.starts_with("Connection")), "{sent}");
    assert!(
        sent.ends_with("\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
        "{sent}"
    );

    assert!(got.starts_with("HTTP/1.1 201 Created\r\n"), "{got}");
    let lines = header_lines(&got);
    assert_eq!(
        lines[..3],
        ["Set-Cookie: a=1", "X-Trace: t", "Set-Cookie: b=2"],
        "{got}"
    );
    // The trailer section, and the field that announces it, pass too.
    assert!(lines.contains(&"Trailer: X-Sum"), "{got}");
    assert!(
        got.ends_with("\r\n\r\n3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Sum: 7\r\n\r\n"),
        "{got}"
    );

    let capture = h.finish().await;
    let request = &support::requests(&capture)[0];
    assert_eq!(&request.body.bytes[..], b"hello world");
    let names: Vec<&str> = request.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[..4], ["host", "x-b", "x-a", "x-b"]);
    let response = &support::responses(&capture)[0];
    assert_eq!(
        (response.status, &response.body.bytes[..]),
        (201, &b"abcdefg"[..])
    );
    assert_eq!(header(&response.headers, "x-trace"), Some("t"));
}

#[tokio::test]
async fn pipelined_requests_are_answered_and_recorded_in_order() {
    let (upstream, _) = scripted(Arc::new(|request| {
        let path = String::from_utf8_lossy(request)
            .split(' ')
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{path}",
            path.len()
        );
        (answer.into_bytes(), false)
    }))
    .await;
    let h = Harness::in_front_of(&upstream, Options::default()).await;
    let got = h.exchange(b"GET /one HTTP/1.1\r\nHost: a\r\n\r\nPOST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc\
          GET /three HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    let bodies: Vec<&str> = got
        .split("HTTP/1.1 200 OK\r\n")
        .skip(1)
        .map(|r| r.split("\r\n\r\n").nth(1).unwrap_or_default())
        .collect();
    assert_eq!(bodies, ["/one", "/two", "/three"], "{got}");
    let capture = h.finish().await;
    let order: Vec<String> = capture
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::HttpRequest(r) => Some(format!("> {}", r.uri)),
            EventKind::HttpResponse(r) => {
                Some(format!("< {}", String::from_utf8_lossy(&r.body.bytes)))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        ["> /one", "< /one", "> /two", "< /two", "> /three", "< /three"]
    );
    assert_eq!(&support::requests(&capture)[1].body.bytes[..], b"abc");
}

#[tokio::test]
async fn a_response_ended_by_the_upstreams_close_reaches_the_client_whole() {
    let answer = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it, however long";
    let (upstream, _) = scripted(Arc::new(|_| (answer.to_vec(), true))).await;
    let h = Harness::in_front_of(&upstream, Options::default()).await;
    // Keep-alive is asked for; the proxy still closes, as the body's end
    // can only be told by the close.
    let got = h.exchange(b"GET /report HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
    assert!(header_lines(&got).contains(&"connection: close"), "{got}");
    assert!(got.ends_with("\r\n\r\nall of it, however long"), "{got}");
    let capture = h.finish().await;
    assert_eq!(
        &support::responses(&capture)[0].body.bytes[..],
        b"all of it, however long"
    );
}

#[tokio::test]
async fn head_204_and_304_answers_have_no_body_and_the_connection_goes_on() {
    let (upstream, _) = scripted(Arc::new(|request| {
        let answer: &[u8] = match &request[..5] {
            b"HEAD " => b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
            b"DELET" => b"HTTP/1.1 204 No Content\r\n\r\n",
            b"GET /" if request.starts_with(b"GET /cached") => {
                b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"
            }
            _ => b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast",
        };
        (answer.to_vec(), false)
    }))
    .await;
    let h = Harness::in_front_of(&upstream, Options::default()).await;
    let got = h.exchange(b"HEAD /file HTTP/1.1\r\nHost: a\r\n\r\nDELETE /item HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /cached HTTP/1.1\r\nHost: a\r\n\r\nGET /end HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    let statuses: Vec<&str> = got.matches("HTTP/1.1 ").map(|_| "").collect();
    assert_eq!(statuses.len(), 4, "{got}");
    assert!(got.ends_with("\r\n\r\nlast"), "{got}");
    let capture = h.finish().await;
    let seen: Vec<(u16, u64)> = support::responses(&capture)
        .iter()
        .map(|r| (r.status, r.body.len))
        .collect();
    assert_eq!(seen, [(200, 0), (204, 0), (304, 0), (200, 4)]);
}

#[tokio::test]
async fn expect_100_continue_gets_the_go_ahead_before_the_body_is_sent() {
    let (upstream, received) = scripted(Arc::new(|_| {
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            false,
        )
    }))
    .await;
    let h = Harness::in_front_of(&upstream, Options::default()).await;
    let mut tcp = TcpStream::connect(h.proxy).await.unwrap();
    tcp.write_all(b"PUT /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut first = vec![0u8; 25];
    tokio::time::timeout(PATIENCE, tcp.read_exact(&mut first))
        .await
        .expect("no 100 Continue came")
        .unwrap();
    assert_eq!(first, b"HTTP/1.1 100 Continue\r\n\r\n");
    tcp.write_all(b"hello").await.unwrap();
    let mut rest = Vec::new();
    tcp.read_to_end(&mut rest).await.unwrap();
    assert!(String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 200 OK"));
    assert!(received.lock().unwrap()[0].ends_with(b"\r\n\r\nhello"));
    let capture = h.finish().await;
    assert_eq!(&support::requests(&capture)[0].body.bytes[..], b"hello");
}

#[tokio::test]
async fn interim_responses_reach_the_client_as_they_come() {
    // `103 Early Hints` (RFC 8297), then `102 Processing` with a field the
    // `Connection` field names, then, once the client has seen both, the
    // final response.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(tokio::sync::Notify::new());
    let go = seen.clone();
    tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let mut buf = Vec::new();
        if read_request(&mut stream, &mut buf).await.is_none() {
            return;
        }
        let hints = b"HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload; as=style\r\n\r\n\
                      HTTP/1.1 102 Processing\r\nConnection: x-step\r\nX-Step: 1\r\n\r\n";
        let _ = stream.write_all(hints).await;
        go.notified().await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .await;
    });
    let h = Harness::in_front_of(&format!("http://{addr}"), Options::default()).await;
    let mut tcp = TcpStream::connect(h.proxy).await.unwrap();
    tcp.write_all(b"GET /page HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let early = read_until(
        &mut tcp,
        |seen| seen.windows(4).filter(|w| w == b"\r\n\r\n").count() >= 2,
        "the interim responses, before the final one",
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&early),
        "HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload; as=style\r\n\r\n\
         HTTP/1.1 102 Processing\r\n\r\n"
    );
    seen.notify_one();
    let mut rest = Vec::new();
    tcp.read_to_end(&mut rest).await.unwrap();
    let rest = String::from_utf8_lossy(&rest).into_owned();
    assert!(rest.starts_with("HTTP/1.1 200 OK\r\n"), "{rest}");
    assert!(rest.ends_with("\r\n\r\nok"), "{rest}");
    let capture = h.finish().await;
    let statuses: Vec<u16> = support::responses(&capture)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [200]);
}

#[tokio::test]
async fn a_streaming_response_reaches_the_client_as_it_comes() {
    // The upstream sends the head and a first event, and the rest only
    // once the client has read that first event through the proxy.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (read_tx, read_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        read_request(&mut stream, &mut buf).await.unwrap();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n\
                         c\r\ndata: first\n\r\n")
            .await
            .unwrap();
        read_rx.await.unwrap();
        stream
            .write_all(b"d\r\ndata: second\n\r\n0\r\n\r\n")
            .await
            .unwrap();
    });
    let h = Harness::in_front_of(&format!("http://{addr}"), Options::default()).await;
    let mut tcp = TcpStream::connect(h.proxy).await.unwrap();
    tcp.write_all(b"GET /events HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut seen = read_until(
        &mut tcp,
        |seen| String::from_utf8_lossy(seen).contains("data: first"),
        "the first event (was the response held back?)",
    )
    .await;
    read_tx.send(()).unwrap();
    tcp.read_to_end(&mut seen).await.unwrap();
    assert!(String::from_utf8_lossy(&seen).ends_with("data: second\n\r\n0\r\n\r\n"));
    let capture = h.finish().await;
    assert_eq!(
        &support::responses(&capture)[0].body.bytes[..],
        b"data: first\ndata: second\n"
    );
}

#[tokio::test]
async fn an_upload_the_client_cuts_off_is_recorded_as_cut() {
    let (upstream, _) = scripted(Arc::new(|_| (b"HTTP/1.1 200 OK\r\n\r\n".to_vec(), false))).await;
    let mut h = Harness::in_front_of(&upstream, Options::default()).await;
    let mut tcp = TcpStream::connect(h.proxy).await.unwrap();
    tcp.write_all(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly ten b")
        .await
        .unwrap();
    tcp.shutdown().await.unwrap();
    h.recorded(|e| matches!(e.kind, EventKind::HttpError(_)))
        .await;
    drop(tcp);
    let capture = h.finish().await;
    let request = &support::requests(&capture)[0];
    assert_eq!(
        (&request.body.bytes[..], request.body.len),
        (&b"only ten b"[..], 10)
    );
    let error = &http_errors(&capture)[0];
    assert_eq!(
        (error.side, error.kind),
        (Side::Client, ErrorKind::Body),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_upstream_that_answers_before_the_upload_ends_is_relayed() {
    // It reads the head only, refuses, and closes.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!")
                .await;
            // As servers do (a lingering close): the refusal is not lost
            // to a reset while the upload still comes.
            let _ = stream.shutdown().await;
            let mut scrap = vec![0u8; 1 << 16];
            let drain = async { while matches!(stream.read(&mut scrap).await, Ok(n) if n > 0) {} };
            let _ = tokio::time::timeout(PATIENCE, drain).await;
        }
    });
    let capture = refused_upload(&format!("http://{addr}")).await;
    assert_eq!(support::responses(&capture)[0].status, 413);
}

/// A 16 MiB upload through a proxy in front of `upstream`, which refuses
/// it with `413 Content Too Large` and the body `too big!`: checks that the
/// client got that answer whole; returns the capture.
async fn refused_upload(upstream: &str) -> wsdiag::capture::Capture {
    let h = Harness::in_front_of(upstream, Options::default()).await;
    let head = b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 16777216\r\n\r\n";
    let got = upload(h.proxy, head, vec![b'x'; 1 << 16]).await;
    assert!(
        got.starts_with("HTTP/1.1 413 Content Too Large\r\n"),
        "{got}"
    );
    assert!(got.ends_with("\r\n\r\ntoo big!"), "{got}");
    h.finish().await
}

/// An upstream that reads no more than a request's head, sends `answer`,
/// and then holds each connection open without reading from it (the
/// answer before the body's end of RFC 9112 section 9.3, from a server
/// that does not drain).
async fn answering_before_the_body(answer: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut scrap = [0u8; 1024];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut scrap).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&scrap[..n]),
                    }
                }
                let _ = stream.write_all(answer).await;
                std::future::pending::<()>().await;
                drop(stream);
            });
        }
    });
    format!("http://{addr}")
}

/// Sends `head`, then up to 16 MiB of `block`s, from its own task; stops
/// when the proxy stops reading. Returns what the client got back, up to
/// the proxy's close.
async fn upload(proxy: std::net::SocketAddr, head: &'static [u8], block: Vec<u8>) -> String {
    let tcp = TcpStream::connect(proxy).await.unwrap();
    let (mut rx, mut tx) = tcp.into_split();
    let sending = tokio::spawn(async move {
        let _ = tx.write_all(head).await;
        for _ in 0..(16 << 20) / block.len() {
            if tx.write_all(&block).await.is_err() {
                break;
            }
        }
        tx
    });
    let mut got = Vec::new();
    tokio::time::timeout(PATIENCE, rx.read_to_end(&mut got))
        .await
        .expect("the upstream's answer never reached the client")
        .ok();
    sending.abort();
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn an_answer_before_the_upload_ends_reaches_the_client_though_the_upstream_reads_no_more() {
    let upstream = answering_before_the_body(
        b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\ntoo big!",
    )
    .await;
    let capture = refused_upload(&upstream).await;
    let kinds: Vec<_> = capture
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::HttpRequest(r) if r.body.len < 16 << 20 => Some("request, cut".to_owned()),
            EventKind::Error(e) => Some(format!("{:?} {:?}", e.side, e.kind)),
            EventKind::HttpResponse(r) => Some(format!("response {}", r.status)),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["request, cut", "Upstream Body", "response 413"]);
    let said = support::events(&capture, |e| match &e.kind {
        EventKind::Error(e) => Some(e.message.clone()),
        _ => None,
    });
    assert!(
        said[0].contains("answered 413") && said[0].contains("of its 16777216 bytes"),
        "{said:?}"
    );
}

#[tokio::test]
async fn an_answer_before_a_chunked_upload_ends_reaches_the_client() {
    let upstream = answering_before_the_body(
        b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nWWW-Authenticate: Basic\r\n\r\n",
    )
    .await;
    let h = Harness::in_front_of(&upstream, Options::default()).await;
    let head = b"PUT /file HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut block = b"8000\r\n".to_vec();
    block.extend(std::iter::repeat_n(b'y', 0x8000));
    block.extend_from_slice(b"\r\n");
    let got = upload(h.proxy, head, block).await;
    assert!(got.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{got}");
    assert!(
        header_lines(&got).contains(&"Connection: close")
            || header_lines(&got).contains(&"connection: close"),
        "{got}"
    );
    let capture = h.finish().await;
    assert_eq!(support::responses(&capture)[0].status, 401);
}

#[tokio::test]
async fn an_interim_100_from_the_upstream_does_not_stop_the_upload() {
    // It says 100 Continue on the head, then takes the whole body.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let mut buf = Vec::new();
        let mut scrap = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut scrap).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&scrap[..n]);
        }
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
        if let Some(request) = read_request(&mut stream, &mut buf).await {
            let head = request.windows(4).position(|w| w == b"\r\n\r\n");
            let body = request.len() - head.map_or(0, |at| at + 4);
            let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Got: {body}\r\n\r\n");
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    let h = Harness::in_front_of(&format!("http://{addr}"), Options::default()).await;
    let mut tcp = TcpStream::connect(h.proxy).await.unwrap();
    let head = "POST /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4194304\r\nConnection: close\r\n\r\n";
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut interim = vec![0u8; 25];
    tcp.read_exact(&mut interim).await.unwrap();
    let block = vec![b'z'; 1 << 16];
    for _ in 0..64 {
        tcp.write_all(&block).await.unwrap();
    }
    let mut rest = Vec::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut rest))
        .await
        .expect("no answer came")
        .unwrap();
    let rest = String::from_utf8_lossy(&rest).into_owned();
    assert!(rest.starts_with("HTTP/1.1 200 OK\r\n"), "{rest}");
    let got = format!("X-Got: {}", 4 << 20);
    assert!(header_lines(&rest).contains(&got.as_str()), "{rest}");
    let capture = h.finish().await;
    assert_eq!(support::requests(&capture)[0].body.len, 4 << 20);
    assert!(
        support::events(&capture, |e| matches!(e.kind, EventKind::Error(_))
            .then_some(()))
        .is_empty()
    );
}

#[tokio::test]
async fn an_http_1_0_client_is_answered_and_recorded() {
    let h = Harness::start().await;
    // No Host, no keep-alive: HTTP/1.0 as ab and old scripts send it.
    let got = h.exchange(b"GET /api/echo/ HTTP/1.0\r\n\r\n").await;
    assert!(
        got.starts_with("HTTP/1.0 200 ") || got.starts_with("HTTP/1.1 200 "),
        "{got}"
    );
    assert!(got.contains("\"method\":\"GET\""), "{got}");
    let capture = h.finish().await;
    let request = &support::requests(&capture)[0];
    assert_eq!(
        (request.uri.as_str(), request.version.as_str()),
        ("/api/echo/", "HTTP/1.0")
    );
    assert_eq!(support::responses(&capture)[0].status, 200);
}

#[tokio::test]
async fn a_websocket_upgrade_after_plain_requests_on_one_connection_is_bridged() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let h = Harness::start().await;
    let mut tcp = TcpStream::connect(h.proxy).await.unwrap();
    tcp.write_all(b"GET /api/echo/ HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    // Read that answer whole (its Content-Length), then upgrade the same
    // connection, as a browser may.
    let mut got = Vec::new();
    let mut scrap = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(PATIENCE, tcp.read(&mut scrap))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed after the plain request");
        got.extend_from_slice(&scrap[..n]);
        let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length: usize = text[..end]
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("a Content-Length");
        if got.len() >= end + 4 + length {
            break;
        }
    }
    let url = format!("ws://{}/ws/echo/", h.proxy);
    let (mut ws, response) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
    assert_eq!(response.status(), 101);
    ws.send(Message::Text("same connection".into()))
        .await
        .unwrap();
    let echoed = tokio::time::timeout(PATIENCE, ws.next()).await.unwrap();
    assert_eq!(
        echoed.unwrap().unwrap(),
        Message::Text("same connection".into())
    );
    ws.close(None).await.unwrap();
    drop(ws);
    let capture = h.finish().await;
    let uris: Vec<String> = support::requests(&capture)
        .iter()
        .map(|r| r.uri.clone())
        .collect();
    assert_eq!(uris, ["/api/echo/", "/ws/echo/"]);
    assert_eq!(capture.trailer().unwrap().connections, 1);
    let ours = support::messages(&capture)
        .iter()
        .filter(|m| &m.payload.bytes[..] == b"same connection")
        .count();
    assert_eq!(ours, 2, "the message and its echo");
}

#[tokio::test]
async fn a_connection_header_cannot_strip_a_bodys_length_to_smuggle_a_request() {
    let (upstream, received) = scripted(Arc::new(|_| {
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            false,
        )
    }))
    .await;
    let h = Harness::in_front_of(&upstream, Options::default()).await;
    // `Content-Length` named as hop-by-hop: stripped with the others, the
    // body would reach the upstream as a request of its own.
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let raw = format!(
        "POST /api/up HTTP/1.1\r\nHost: a\r\nConnection: content-length, close\r\n\
         Content-Length: {}\r\n\r\n{smuggled}",
        smuggled.len()
    );
    let got = h.exchange(raw.as_bytes()).await;
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
    let sent: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with("POST /api/up "), "{sent:?}");
    assert!(
        sent[0].ends_with(smuggled),
        "the body went as the POST's: {sent:?}"
    );
    let capture = h.finish().await;
    assert_eq!(support::requests(&capture).len(), 1);
}

#[tokio::test]
async fn a_post_the_upstream_dies_on_is_answered_502_and_never_sent_twice() {
    // The upstream answers a GET and keeps the connection; on the POST it
    // closes without a word, as a worker killed mid-request does.
    let (upstream, received) = scripted(Arc::new(|request| {
        if request.starts_with(b"POST ") {
            (Vec::new(), true)
        } else {
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
                false,
            )
        }
    }))
    .await;
    let h = Harness::in_front_of(&upstream, Options::default()).await;
    let got = h
        .exchange(
            b"GET /api/items/ HTTP/1.1\r\nHost: a\r\n\r\n\
              POST /api/items/ HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}",
        )
        .await;
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
    assert!(got.contains("HTTP/1.1 502 Bad Gateway\r\n"), "{got}");
    let posts = received
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.starts_with(b"POST "))
        .count();
    assert_eq!(posts, 1, "the POST was sent again");
    let capture = h.finish().await;
    let errors = http_errors(&capture);
    assert_eq!(
        (errors[0].side, errors[0].status),
        (Side::Upstream, Some(502))
    );
}
