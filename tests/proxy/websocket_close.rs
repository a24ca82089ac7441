//! Every way a WebSocket ends, through the proxy: who closed, with what
//! code, cleanly or not, and what the other side saw.

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use wsdiag::event::{EventKind, Side};

use crate::support::{next, send_text, ws_close, Harness, PATIENCE};

#[tokio::test]
async fn client_graceful_close_reaches_the_upstream_with_code_and_reason() {
    let h = Harness::start().await;
    let mut ws = h.ws("/ws/echo/", &[]).await;
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "bye now".into(),
    };
    ws.close(Some(frame)).await.unwrap();
    match next(&mut ws).await {
        Some(Message::Close(Some(reply))) => assert_eq!(reply.code, CloseCode::Normal),
        other => panic!("expected the close reply, got {other:?}"),
    }
    assert!(next(&mut ws).await.is_none());
    let capture = h.finish().await;
    let close = ws_close(&capture);
    assert_eq!(close.initiator, Side::Client);
    assert_eq!(close.code, Some(1000));
    assert_eq!(close.reason, "bye now");
    assert!(close.clean);
}

#[tokio::test]
async fn upstream_graceful_close_reaches_the_client_with_its_unusual_code() {
    let h = Harness::start().await;
    let mut ws = h.ws("/ws/echo/", &[]).await;
    send_text(&mut ws, "close:4000:custom reason").await;
    match next(&mut ws).await {
        Some(Message::Close(Some(frame))) => {
            assert_eq!(u16::from(frame.code), 4000);
            assert_eq!(frame.reason.as_str(), "custom reason");
        }
        other => panic!("expected the upstream's close, got {other:?}"),
    }
    assert!(next(&mut ws).await.is_none());
    let capture = h.finish().await;
    let close = ws_close(&capture);
    assert_eq!(close.initiator, Side::Upstream);
    assert_eq!(close.code, Some(4000));
    assert_eq!(close.reason, "custom reason");
    assert!(close.clean);
}

#[tokio::test]
async fn an_upstream_that_drops_the_connection_is_mirrored_to_the_client() {
    let h = Harness::start().await;
    let mut ws = h.ws("/ws/echo/", &[]).await;
    send_text(&mut ws, "drop").await;
    // The client sees the connection end without a close frame, as it
    // would without the proxy (a browser reports 1006).
    let end = tokio::time::timeout(PATIENCE, ws.next()).await.unwrap();
    assert!(
        matches!(
            end,
            None | Some(Err(WsError::Protocol(_)
                | WsError::Io(_)
                | WsError::ConnectionClosed))
        ),
        "expected an abrupt end, got {end:?}"
    );
    let capture = h.finish().await;
    let close = ws_close(&capture);
    assert_eq!(close.initiator, Side::Upstream);
    assert!(!close.clean);
    assert_eq!(close.code, None);
    assert!(close.error.is_some());
}

/// tungstenite's `close` sends the close frame and returns; a client that
/// drops the socket then never reads the answer. Both sides sent a close
/// frame: that is a normal end, not a drop.
#[tokio::test]
async fn a_client_that_hangs_up_right_after_its_close_frame_ended_normally() {
    let mut h = Harness::start().await;
    let mut ws = h.ws("/ws/echo/", &[]).await;
    send_text(&mut ws, "hello").await;
    assert!(next(&mut ws).await.is_some());
    ws.close(None).await.unwrap();
    drop(ws);
    h.recorded(|e| matches!(e.kind, EventKind::WsClose(_)))
        .await;
    let capture = h.finish().await;
    let close = ws_close(&capture);
    assert_eq!(close.initiator, Side::Client);
    assert_eq!(close.code, None, "the client's close frame had no code");
    assert!(close.clean, "both sides sent a close frame: {close:?}");
    assert_eq!(close.error, None);
    assert_eq!(close.unanswered, None);
    assert!(close.is_normal());
    let closes: Vec<Side> = capture
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::WsMessage(m) if m.opcode == wsdiag::event::Opcode::Close => {
                Some(m.dir.sender())
            }
            _ => None,
        })
        .collect();
    assert_eq!(closes, [Side::Client, Side::Upstream]);
}

#[tokio::test]
async fn a_client_that_vanishes_is_recorded_as_an_abrupt_end() {
    let mut h = Harness::start().await;
    let mut ws = h.ws("/ws/echo/", &[]).await;
    send_text(&mut ws, "still here").await;
    assert!(matches!(next(&mut ws).await, Some(Message::Text(_))));
    drop(ws); // TCP closed, no close frame
    h.recorded(|e| matches!(e.kind, EventKind::WsClose(_)))
        .await;
    let capture = h.finish().await;
    let close = ws_close(&capture);
    assert_eq!(close.initiator, Side::Client);
    assert!(!close.clean);
    assert_eq!((close.messages_sent, close.messages_received), (1, 1));
}

#[tokio::test]
async fn shutdown_closes_open_websockets_with_1001() {
    let h = Harness::start().await;
    let mut ws = h.ws("/ws/echo/", &[]).await;
    send_text(&mut ws, "hi").await;
    assert!(matches!(next(&mut ws).await, Some(Message::Text(_))));
    let client = tokio::spawn(async move {
        // Answer the proxy's close like a browser does.
        let mut seen = None;
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Close(frame) = message {
                seen = frame.map(|f| u16::from(f.code));
            }
        }
        let _ = ws.close(None).await;
        seen
    });
    let capture = h.finish().await;
    assert_eq!(client.await.unwrap(), Some(1001));
    let close = ws_close(&capture);
    assert_eq!(close.initiator, Side::Proxy);
    assert_eq!(close.code, Some(1001));
    assert!(
        capture.trailer().is_some(),
        "the capture was finished with its trailer"
    );
}

#[tokio::test]
async fn the_auth_failure_close_of_the_chat_reaches_the_client() {
    let h = Harness::start().await;
    let mut ws = h.ws("/ws/chat/3/", &[]).await; // no cookie, no token
    match next(&mut ws).await {
        Some(Message::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 4001),
        other => panic!("expected close 4001, got {other:?}"),
    }
    let _ = ws.send(Message::Close(None)).await;
    let capture = h.finish().await;
    let close = ws_close(&capture);
    assert_eq!((close.initiator, close.code), (Side::Upstream, Some(4001)));
}
