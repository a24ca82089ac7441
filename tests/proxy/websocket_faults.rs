//! Faults on a relayed WebSocket: a side that breaks the protocol, a
//! half-open connection, a drop mid-message, a reset. The endpoints must
//! see what they would see without wsdiag (the endpoint that gets a bad
//! frame answers it), and the capture must record it all.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::MaybeTlsStream;
use wsdiag::event::{EventKind, Opcode, Side};
use wsdiag::proxy::ProxyConfig;

use crate::support::{
    self, close_of, next, send_text, ws_close, ws_upstream, Harness, Options, PATIENCE,
};

/// A text frame whose payload is not UTF-8.
fn invalid_utf8() -> Frame {
    Frame::message(
        Bytes::from_static(b"caf\xc3"),
        OpCode::Data(Data::Text),
        true,
    )
}

/// A text frame with RSV1 set although no extension was negotiated.
fn reserved_bit() -> Frame {
    let mut frame = Frame::message(Bytes::from_static(b"hi"), OpCode::Data(Data::Text), true);
    frame.header_mut().rsv1 = true;
    frame
}

fn options(configure: impl FnOnce(&mut ProxyConfig) + Send + 'static) -> Options {
    Options {
        configure: Box::new(configure),
        ..Options::default()
    }
}

/// An upstream that reads until the WebSocket ends and reports the close
/// frame it got (`None`: the connection ended without one).
async fn reporting_upstream() -> (String, mpsc::UnboundedReceiver<Option<u16>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let url = ws_upstream(move |mut ws| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(close_of(&mut ws).await.map(|f| u16::from(f.code)));
        }
    })
    .await;
    (url, rx)
}

/// What one end saw: the code of the close frame it got, `None` when its
/// connection ended without one.
type Saw = Option<u16>;

/// The client sends `frame` to an upstream that reports what it got, once
/// directly and once through wsdiag: each end must see the same both ways
/// (the upstream, not wsdiag, answers the violation), and the capture must
/// hold the frame as forwarded and name the violation.
async fn client_breaks_the_protocol(frame: Frame, violation: &str) {
    let (url, mut upstream_saw) = reporting_upstream().await;
    let direct_url = format!("{}/ws/", url.replacen("http", "ws", 1));
    let (mut direct, _) = tokio_tungstenite::connect_async(&direct_url).await.unwrap();
    direct.send(Message::Frame(frame.clone())).await.unwrap();
    let direct: (Saw, Saw) = (
        close_of(&mut direct).await.map(|f| u16::from(f.code)),
        reported(&mut upstream_saw).await,
    );
    let h = Harness::in_front_of(&url, Options::default()).await;
    let mut ws = h.ws("/ws/", &[]).await;
    ws.send(Message::Frame(frame)).await.unwrap();
    let proxied: (Saw, Saw) = (
        close_of(&mut ws).await.map(|f| u16::from(f.code)),
        reported(&mut upstream_saw).await,
    );
    assert_eq!(
        proxied, direct,
        "(client, upstream) through wsdiag as directly"
    );
    let capture = h.finish().await;
    let close = ws_close(&capture);
    assert_eq!(close.violator, Some(Side::Client));
    let named = close.violation.unwrap_or_default();
    assert!(named.contains(violation), "{named}");
    let sent = support::messages(&capture);
    assert!(
        sent.iter().any(|m| m.opcode == Opcode::Text && m.forwarded),
        "the offending frame was forwarded and recorded: {sent:?}"
    );
    let errors = support::events(&capture, |e| match &e.kind {
        EventKind::Error(e) if e.side == Side::Client => Some(e.message.clone()),
        _ => None,
    });
    assert!(errors.iter().any(|e| e.contains(violation)), "{errors:?}");
}

/// What the reporting upstream saw next.
async fn reported(upstream_saw: &mut mpsc::UnboundedReceiver<Saw>) -> Saw {
    tokio::time::timeout(PATIENCE, upstream_saw.recv())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn invalid_utf8_from_the_client_reaches_the_upstream_which_answers_it() {
    client_breaks_the_protocol(invalid_utf8(), "invalid UTF-8").await;
}

#[tokio::test]
async fn a_reserved_bit_from_the_client_reaches_the_upstream_which_answers_it() {
    client_breaks_the_protocol(reserved_bit(), wsdiag::event::RESERVED_BITS).await;
}

#[tokio::test]
async fn invalid_utf8_from_the_upstream_reaches_the_client_which_answers_it() {
    let (tx, mut upstream_saw) = mpsc::unbounded_channel();
    let url = ws_upstream(move |mut ws| {
        let tx = tx.clone();
        async move {
            ws.send(Message::Frame(invalid_utf8())).await.unwrap();
            let _ = tx.send(close_of(&mut ws).await.map(|f| u16::from(f.code)));
        }
    })
    .await;
    let direct_url = format!("{}/ws/", url.replacen("http", "ws", 1));
    let (mut direct, _) = tokio_tungstenite::connect_async(&direct_url).await.unwrap();
    // The client's library fails the connection; the client then goes.
    let client_saw = close_of(&mut direct).await.map(|f| u16::from(f.code));
    drop(direct);
    let direct: (Saw, Saw) = (client_saw, reported(&mut upstream_saw).await);
    let h = Harness::in_front_of(&url, Options::default()).await;
    let mut ws = h.ws("/ws/", &[]).await;
    let client_saw = close_of(&mut ws).await.map(|f| u16::from(f.code));
    drop(ws);
    let proxied: (Saw, Saw) = (client_saw, reported(&mut upstream_saw).await);
    assert_eq!(
        proxied, direct,
        "(client, upstream) through wsdiag as directly"
    );
    let close = ws_close(&h.finish().await);
    assert_eq!(close.violator, Some(Side::Upstream));
    assert!(close.violation.unwrap().contains("invalid UTF-8"));
}

#[tokio::test]
async fn an_upstream_that_drops_mid_message_is_mirrored_and_the_partial_message_not_recorded() {
    let url = ws_upstream(|mut ws| async move {
        // The head of a 1000-byte text frame and 10 bytes of it, then gone.
        let raw = ws.get_mut();
        raw.write_all(&[0x81, 0x7e, 0x03, 0xe8]).await.unwrap();
        raw.write_all(&[b'x'; 10]).await.unwrap();
        raw.flush().await.unwrap();
    })
    .await;
    let h = Harness::in_front_of(&url, Options::default()).await;
    let mut ws = h.ws("/ws/", &[]).await;
    assert_eq!(close_of(&mut ws).await, None, "an abrupt end is mirrored");
    let capture = h.finish().await;
    let close = ws_close(&capture);
    assert_eq!(close.initiator, Side::Upstream);
    assert!(!close.clean);
    assert!(
        support::messages(&capture).is_empty(),
        "{:#?}",
        support::messages(&capture)
    );
}

#[tokio::test]
async fn a_client_reset_ends_the_upstreams_websocket_too() {
    let (url, mut upstream_saw) = reporting_upstream().await;
    let mut h = Harness::in_front_of(&url, Options::default()).await;
    let ws = h.ws("/ws/", &[]).await;
    match ws.get_ref() {
        // A zero linger does not block on drop; it makes the kernel reset.
        #[allow(deprecated)]
        MaybeTlsStream::Plain(tcp) => tcp.set_linger(Some(Duration::ZERO)).unwrap(),
        _ => unreachable!("a plain ws:// connection"),
    }
    drop(ws); // SO_LINGER 0: the kernel sends RST, not FIN
    let to_upstream = tokio::time::timeout(PATIENCE, upstream_saw.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(to_upstream, None, "the upstream sees the drop mirrored");
    h.recorded(|e| matches!(e.kind, wsdiag::event::EventKind::WsClose(_)))
        .await;
    let close = ws_close(&h.finish().await);
    assert_eq!(close.initiator, Side::Client);
    assert!(!close.clean);
}

const IDLE: Duration = Duration::from_secs(1);

#[tokio::test]
async fn a_half_open_client_is_pinged_then_reaped_by_the_idle_timeout() {
    let (url, mut upstream_saw) = reporting_upstream().await;
    let h = Harness::in_front_of(&url, options(|c| c.idle_timeout = Some(IDLE))).await;
    // A client that completes the handshake, then never reads or answers:
    // what a vanished laptop looks like from the proxy.
    let mut tcp = tokio::net::TcpStream::connect(h.proxy).await.unwrap();
    let request = "GET /ws/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
    let to_upstream = tokio::time::timeout(PATIENCE, upstream_saw.recv())
        .await
        .expect("the half-open connection was not reaped")
        .unwrap();
    assert_eq!(to_upstream, None, "the drop is mirrored to the upstream");
    // What the proxy sent the silent client: the rest of the 101, then a
    // ping carrying wsdiag's keepalive payload.
    let mut sent = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut sent)).await;
    let keepalive = b"wsdiag keepalive";
    assert!(sent.windows(keepalive.len()).any(|w| w == keepalive));
    let close = ws_close(&h.finish().await);
    assert_eq!(close.initiator, Side::Client);
    assert!(close.error.unwrap().contains("--idle-timeout"));
}

#[tokio::test]
async fn a_live_client_answers_the_keepalive_recorded_as_wsdiags_own() {
    let url = ws_upstream(|mut ws| async move {
        while let Some(Ok(message)) = ws.next().await {
            if message.is_text() {
                let _ = ws.send(message).await;
            }
        }
    })
    .await;
    let h = Harness::in_front_of(&url, options(|c| c.idle_timeout = Some(IDLE))).await;
    let mut ws = h.ws("/ws/", &[]).await;
    // Silent for longer than twice the idle timeout, but answering pings
    // (tungstenite pongs while reading): the WebSocket must stay up.
    for _ in 0..3 {
        match next(&mut ws).await {
            Some(Message::Ping(payload)) => assert_eq!(&payload[..], b"wsdiag keepalive"),
            other => panic!("expected wsdiag's keepalive ping, got {other:?}"),
        }
    }
    send_text(&mut ws, "still here").await;
    assert_eq!(
        next(&mut ws).await,
        Some(Message::Text("still here".into()))
    );
    ws.close(None).await.unwrap();
    let capture = h.finish().await;
    // The keepalive frames are recorded as wsdiag's own, never as the
    // endpoints' traffic: each ping it sent, and each pong answering it.
    let own: Vec<(Opcode, bool)> = support::all_messages(&capture)
        .iter()
        .filter(|m| matches!(m.opcode, Opcode::Ping | Opcode::Pong))
        .map(|m| (m.opcode, m.origin == Some(wsdiag::event::Side::Proxy)))
        .collect();
    assert!(
        own.len() >= 6 && own.iter().all(|(_, proxy)| *proxy),
        "three pings and their pongs, all origin proxy: {own:?}"
    );
    let trailer = capture.trailer().unwrap();
    let client_frames = support::messages(&capture)
        .iter()
        .filter(|m| m.dir == wsdiag::event::Direction::ClientToUpstream && m.origin.is_none())
        .count() as u64;
    assert_eq!(
        trailer.messages_sent, client_frames,
        "keepalive frames are not counted as the client's"
    );
    assert!(ws_close(&capture).clean);
}

/// This process's resident memory (proxy, upstream and client together).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The most a loopback socket buffers, from the kernel's TCP settings.
fn kernel_buffer_max(setting: &str) -> usize {
    let text = std::fs::read_to_string(format!("/proc/sys/net/ipv4/{setting}")).unwrap();
    text.split_whitespace().last().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_gets_backpressure_and_the_proxy_buffers_a_bounded_amount() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const MESSAGE: usize = 64 * 1024;
    const SMALL_BUFFER: u32 = 64 * 1024;
    // What may sit between the upstream and the client: the upstream's send
    // buffer and the client's receive buffer (both set small here), the
    // proxy's two kernel buffers (autotuned up to the kernel's maximum), and
    // what the proxy holds itself, which must be about one message each way.
    let bound = 2 * SMALL_BUFFER as usize
        + kernel_buffer_max("tcp_rmem")
        + kernel_buffer_max("tcp_wmem")
        + 4 * MESSAGE;
    let flood = 3 * bound / MESSAGE;

    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(SMALL_BUFFER).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(8).unwrap();
    let upstream = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let sent = accepted.clone();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        for i in 0..flood {
            let payload = vec![(i % 251) as u8; MESSAGE];
            if ws.send(Message::Binary(payload.into())).await.is_err() {
                return;
            }
            sent.store(i + 1, Ordering::SeqCst);
        }
        let _ = support::close_of(&mut ws).await;
    });
    let options = Options {
        body_limit: 64,
        ..Options::default()
    };
    let h = Harness::in_front_of(&format!("http://{upstream}"), options).await;
    let client_socket = tokio::net::TcpSocket::new_v4().unwrap();
    client_socket.set_recv_buffer_size(SMALL_BUFFER).unwrap();
    let stream = client_socket.connect(h.proxy).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{}/flood", h.proxy), stream)
        .await
        .unwrap();

    let rss_before = rss_kib();
    // The client reads nothing. Wait until the upstream cannot send any
    // more (no progress for a second), then count what left it.
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = accepted.load(Ordering::SeqCst);
        assert!(
            now < flood,
            "the whole flood went out: nothing held it back"
        );
        if now == last {
            break;
        }
        last = now;
    }
    let in_flight = last * MESSAGE;
    assert!(
        in_flight <= bound,
        "{in_flight} bytes left the upstream while the client read nothing; bound {bound}"
    );
    println!(
        "flood: {} MiB offered, {:.1} MiB in flight when the upstream stalled (bound {:.1} MiB); \
         this process's resident memory grew by {:.1} MiB",
        (flood * MESSAGE) >> 20,
        in_flight as f64 / f64::from(1 << 20),
        bound as f64 / f64::from(1 << 20),
        rss_kib().saturating_sub(rss_before) as f64 / 1024.0
    );

    // Then every message arrives, whole and in order.
    for i in 0..flood {
        match next(&mut ws).await {
            Some(Message::Binary(b)) => {
                assert_eq!(b.len(), MESSAGE);
                assert!(
                    b.iter().all(|&x| x == (i % 251) as u8),
                    "message {i} damaged"
                );
            }
            other => panic!("message {i}: {other:?}"),
        }
    }
    ws.close(None).await.unwrap();
    let capture = h.finish().await;
    let binary = support::messages(&capture)
        .iter()
        .filter(|m| m.opcode == Opcode::Binary && m.forwarded)
        .count();
    assert_eq!(binary, flood, "every message forwarded is recorded once");
}
