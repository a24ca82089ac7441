//! WebSocket forwarding: every opcode, large messages, the chat protocol,
//! subprotocols, extensions, refused handshakes.

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use wsdiag::event::{Direction, EventKind, Opcode, WsHandshake};

use crate::support::{self, messages, next, send_text, wait_for, Harness, Options};

fn handshakes(capture: &wsdiag::capture::Capture) -> Vec<WsHandshake> {
    support::events(capture, |e| match &e.kind {
        EventKind::WsHandshake(h) => Some(h.clone()),
        _ => None,
    })
}

#[tokio::test]
async fn text_and_binary_messages_pass_unchanged_and_are_recorded_losslessly() {
    let h = Harness::start().await;
    let mut ws = h.ws("/ws/echo/", &[]).await;
    send_text(&mut ws, "héllo").await;
    assert_eq!(next(&mut ws).await, Some(Message::Text("héllo".into())));
    let binary = Bytes::from_static(&[0, 159, 146, 150, 255]);
    ws.send(Message::Binary(binary.clone())).await.unwrap();
    assert_eq!(next(&mut ws).await, Some(Message::Binary(binary.clone())));
    ws.close(None).await.unwrap();
    while next(&mut ws).await.is_some() {}
    let capture = h.finish().await;

    let data: Vec<_> = messages(&capture)
        .into_iter()
        .filter(|m| matches!(m.opcode, Opcode::Text | Opcode::Binary))
        .collect();
    assert_eq!(data.len(), 4, "two messages each way");
    assert_eq!(data[0].dir, Direction::ClientToUpstream);
    assert_eq!(data[0].payload.text(), Some("héllo"));
    assert_eq!(data[1].dir, Direction::UpstreamToClient);
    assert_eq!(data[2].opcode, Opcode::Binary);
    assert_eq!(
        data[2].payload.bytes, binary,
        "binary survives the base64 round trip"
    );
    assert_eq!(
        data[2].payload.text(),
        None,
        "not UTF-8, so stored as base64"
    );
}

#[tokio::test]
async fn chat_messages_are_broadcast_through_the_proxy_with_msg_type_lifted() {
    let h = Harness::start().await;
    let mut alice = h
        .ws("/ws/chat/3/", &[("cookie", "sessionid=alice-session-7f3a")])
        .await;
    let mut bob = h.ws("/ws/chat/3/?token=bob-token-88d4", &[]).await;
    wait_for(&mut alice, "notifications_non_lues").await;
    wait_for(&mut bob, "notifications_non_lues").await;
    send_text(&mut alice, r#"{"type":"chat_message","message":"cc"}"#).await;
    let got = wait_for(&mut bob, "chat_message").await;
    assert_eq!(got["data"]["message"], "cc");
    assert_eq!(
        got["data"]["expediteur"]["username"], "alice",
        "the cookie reached the upstream"
    );
    wait_for(&mut alice, "chat_message").await;
    drop((alice, bob));
    let capture = h.finish().await;

    let sent: Vec<_> = messages(&capture)
        .into_iter()
        .filter(|m| m.dir == Direction::ClientToUpstream && m.opcode == Opcode::Text)
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].msg_type.as_deref(), Some("chat_message"));
    let received: Vec<_> = messages(&capture)
        .into_iter()
        .filter_map(|m| {
            m.msg_type
                .clone()
                .filter(|_| m.dir == Direction::UpstreamToClient)
        })
        .collect();
    for t in [
        "online_users_update",
        "notifications_non_lues",
        "notification_general",
        "chat_message",
        "notification_personal",
    ] {
        assert!(
            received.iter().any(|r| r == t),
            "{t} missing from {received:?}"
        );
    }
}

#[tokio::test]
async fn a_ping_is_answered_by_the_upstream_not_by_wsdiag() {
    let h = Harness::start().await;
    let mut ws = h.ws("/ws/echo/", &[]).await;
    ws.send(Message::Ping(Bytes::from_static(b"are you there")))
        .await
        .unwrap();
    assert_eq!(
        next(&mut ws).await,
        Some(Message::Pong(Bytes::from_static(b"are you there")))
    );
    // The echo proves the ping's round trip is over before the capture
    // ends; no second pong may arrive before it.
    send_text(&mut ws, "after").await;
    assert_eq!(next(&mut ws).await, Some(Message::Text("after".into())));
    drop(ws);
    let capture = h.finish().await;
    let all = messages(&capture);
    let ping = all
        .iter()
        .find(|m| m.opcode == Opcode::Ping)
        .expect("the ping is recorded");
    assert_eq!(ping.dir, Direction::ClientToUpstream);
    assert_eq!(ping.payload.text(), Some("are you there"));
    let pong = all
        .iter()
        .find(|m| m.opcode == Opcode::Pong)
        .expect("the upstream's pong is recorded");
    assert_eq!(pong.dir, Direction::UpstreamToClient);
    assert!(pong.forwarded, "the client's one pong is the upstream's");
    assert_eq!(all.iter().filter(|m| m.opcode == Opcode::Pong).count(), 1);
}

#[tokio::test]
async fn a_one_mebibyte_message_is_forwarded_whole_and_captured_truncated() {
    let h = Harness::start_with(Options {
        body_limit: 64 * 1024,
        ..Options::default()
    })
    .await;
    let mut ws = h.ws("/ws/echo/", &[]).await;
    let big: String = "abcdefghij".repeat(104_858); // 1,048,580 bytes
    send_text(&mut ws, &big).await;
    match next(&mut ws).await {
        Some(Message::Text(t)) => assert_eq!(t.as_str(), big, "forwarded whole, both ways"),
        other => panic!("expected the echo, got {other:?}"),
    }
    let big_binary = Bytes::from(vec![7u8; 1 << 20]);
    ws.send(Message::Binary(big_binary.clone())).await.unwrap();
    assert_eq!(next(&mut ws).await, Some(Message::Binary(big_binary)));
    drop(ws);
    let capture = h.finish().await;
    let large: Vec<_> = messages(&capture)
        .into_iter()
        .filter(|m| m.payload.len >= 1 << 20)
        .collect();
    assert_eq!(large.len(), 4);
    for m in large {
        assert!(m.payload.truncated());
        assert_eq!(
            m.payload.bytes.len(),
            64 * 1024,
            "the capture keeps the first body_limit bytes"
        );
    }
}

#[tokio::test]
async fn the_upstreams_subprotocol_choice_reaches_the_client() {
    let h = Harness::start().await;
    let (ws, response) = h
        .try_ws(
            "/ws/echo/",
            &[("sec-websocket-protocol", "chat.v2, chat.v1")],
        )
        .await
        .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v2");
    drop(ws);
    let capture = h.finish().await;
    let hs = &handshakes(&capture)[0];
    assert_eq!(hs.subprotocols_offered, ["chat.v2", "chat.v1"]);
    assert_eq!(hs.subprotocol.as_deref(), Some("chat.v2"));
}

#[tokio::test]
async fn offered_compression_reaches_the_upstream_and_its_answer_the_client() {
    // The demo backend (tokio-tungstenite) declines compression: the
    // client must see its answer (no extension), not one of wsdiag's.
    let h = Harness::start().await;
    let (ws, response) = h
        .try_ws(
            "/ws/echo/",
            &[(
                "sec-websocket-extensions",
                "permessage-deflate; client_max_window_bits",
            )],
        )
        .await
        .unwrap();
    assert!(response.headers().get("sec-websocket-extensions").is_none());
    drop(ws);
    let capture = h.finish().await;
    let hs = &handshakes(&capture)[0];
    assert!(hs.extensions.is_empty() && hs.extensions_dropped.is_empty());
    let request = support::events(&capture, |e| match &e.kind {
        EventKind::HttpRequest(r) => Some(r.clone()),
        _ => None,
    });
    assert!(
        request[0]
            .headers
            .iter()
            .any(|(n, v)| n == "sec-websocket-extensions" && v.starts_with("permessage-deflate")),
        "the request keeps the offer"
    );
}

#[tokio::test]
async fn a_handshake_the_upstream_refuses_is_relayed_as_it_came() {
    let h = Harness::start().await;
    let refused = h
        .try_ws("/ws/chat/3/", &[("origin", "https://evil.example")])
        .await
        .unwrap_err();
    match refused {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status(), 403);
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            assert!(
                body.contains("origin not allowed"),
                "the upstream's own body: {body:?}"
            );
        }
        other => panic!("expected the upstream's 403, got {other}"),
    }
    let capture = h.finish().await;
    let hs = &handshakes(&capture)[0];
    assert_eq!((hs.status, hs.accepted), (403, false));
    let response = support::events(&capture, |e| match &e.kind {
        EventKind::HttpResponse(r) => Some(r.clone()),
        _ => None,
    });
    assert_eq!(response[0].status, 403);
    assert!(response[0]
        .body
        .text()
        .unwrap()
        .contains("origin not allowed"));
    assert_eq!(capture.trailer().unwrap().failed_handshakes, 1);
}

#[tokio::test]
async fn an_upgrade_to_an_unreachable_upstream_gets_502_naming_it() {
    let down = support::closed_port().await;
    let h = Harness::in_front_of(&format!("http://{down}"), Options::default()).await;
    let err = h.try_ws("/ws/chat/3/", &[]).await.unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status(), 502);
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            assert!(
                body.contains(&down.to_string()),
                "the 502 names the upstream: {body}"
            );
        }
        other => panic!("expected a 502, got {other}"),
    }
    let capture = h.finish().await;
    let hs = &handshakes(&capture)[0];
    assert_eq!((hs.status, hs.accepted), (502, false));
}

/// Reads from `stream` until an empty line ends an HTTP head.
async fn read_head(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "the head ended early"
        );
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[tokio::test]
async fn the_upstreams_101_is_recorded_and_relayed_as_it_sent_it() {
    use tokio::io::AsyncWriteExt;
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    // An upstream that answers with headers in an order of its own, a
    // duplicate apart from its twin, mixed case, and an extension.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let request = read_head(&mut stream).await;
        let key = request
            .lines()
            .find_map(|l| {
                l.strip_prefix("sec-websocket-key: ")
                    .or_else(|| l.strip_prefix("Sec-WebSocket-Key: "))
            })
            .unwrap()
            .trim()
            .to_owned();
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nX-Trace-ID: t1\r\nSet-Cookie: a=1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nset-cookie: b=2\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n",
            derive_accept_key(key.as_bytes())
        );
        stream.write_all(answer.as_bytes()).await.unwrap();
        // Hold the socket until the client has gone.
        let _ = read_head(&mut stream).await;
    });
    let h = Harness::in_front_of(&upstream, Options::default()).await;
    let mut client = tokio::net::TcpStream::connect(h.proxy).await.unwrap();
    client
        .write_all(b"GET /ws/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
        .await
        .unwrap();
    let got = read_head(&mut client).await;
    for line in [
        "X-Trace-ID: t1",
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover",
    ] {
        assert!(
            got.contains(line),
            "the client gets {line:?} as sent:\n{got}"
        );
    }
    drop(client);
    let capture = h.finish().await;
    let recorded = support::events(&capture, |e| match &e.kind {
        EventKind::HttpResponse(r) if r.status == 101 => Some(r.headers.clone()),
        _ => None,
    });
    let names: Vec<&str> = recorded[0].iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "x-trace-id",
            "set-cookie",
            "upgrade",
            "connection",
            "set-cookie",
            "sec-websocket-accept",
            "sec-websocket-extensions"
        ],
        "in the order sent, the duplicate apart"
    );
    assert_eq!(
        handshakes(&capture)[0].extensions,
        ["permessage-deflate; server_no_context_takeover"]
    );
}
