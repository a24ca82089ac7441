//! The message pump: both directions of one bridged WebSocket.
//!
//! Each direction reads a message from one side, forwards it to the other,
//! and records it; order is kept per direction. Text, binary, ping, pong and
//! close all pass through with their payloads. A close frame is forwarded
//! with its code and reason, and the pump keeps reading until both close
//! frames have passed (or [`CLOSE_GRACE`] runs out). A side that drops its
//! connection without a close frame ends the WebSocket abruptly: the pump
//! drops the other side too, so the client sees what it would have seen
//! without the proxy (a 1006 in a browser). On shutdown the proxy itself
//! sends both sides a close with 1001.
//!
//! tungstenite answers pings and close frames by itself. A ping is still
//! forwarded and the far side's pong comes back too, so the sender of a ping
//! may see two pongs; RFC 6455 section 5.5.3 allows unsolicited pongs.
//!
//! The pump is generic over the socket type so tests can drive it on any
//! stream pair.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use crate::event::{Direction, EventKind, Opcode, Payload, Side, WsClose, WsMessage};
use crate::sink::Recorder;

/// How long the pump waits for the close handshake to finish once a close
/// frame has been seen.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What a pump needs from its connection.
pub(super) struct PumpContext {
    pub recorder: Recorder,
    pub conn: u64,
    /// Cancelled when the proxy shuts down.
    pub shutdown: CancellationToken,
}

/// State the two directions share.
struct Shared {
    /// The first close frame or drop seen: who, code, reason, error.
    first: Mutex<Option<First>>,
    /// Cancelled when a close frame has been seen: the end is near.
    closing: CancellationToken,
    /// Cancelled when a side dropped: stop both directions now.
    abort: CancellationToken,
}

#[derive(Clone)]
struct First {
    side: Side,
    code: Option<u16>,
    reason: String,
    error: Option<String>,
}

impl Shared {
    fn note(&self, first: First) {
        if let Ok(mut slot) = self.first.lock() {
            slot.get_or_insert(first);
        }
    }

    fn note_close(&self, side: Side, frame: Option<&CloseFrame>) {
        self.note(First {
            side,
            code: frame.map(|f| u16::from(f.code)),
            reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
            error: None,
        });
        self.closing.cancel();
    }

    fn note_drop(&self, side: Side, error: String) {
        self.note(First {
            side,
            code: None,
            reason: String::new(),
            error: Some(error),
        });
        self.abort.cancel();
    }
}

/// Pumps messages between `client` and `upstream` until the WebSocket ends.
pub(super) async fn pump<C, U>(
    client: WebSocketStream<C>,
    upstream: WebSocketStream<U>,
    ctx: &PumpContext,
) -> WsClose
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let (client_tx, client_rx) = client.split();
    let (upstream_tx, upstream_rx) = upstream.split();
    let shared = Shared {
        first: Mutex::new(None),
        closing: CancellationToken::new(),
        abort: CancellationToken::new(),
    };
    let (sent, received) = tokio::join!(
        direction(
            client_rx,
            upstream_tx,
            Direction::ClientToUpstream,
            ctx,
            &shared
        ),
        direction(
            upstream_rx,
            client_tx,
            Direction::UpstreamToClient,
            ctx,
            &shared
        ),
    );
    let first = shared.first.lock().ok().and_then(|f| f.clone());
    let first = first.unwrap_or(First {
        side: Side::Proxy,
        code: None,
        reason: String::new(),
        error: Some("the WebSocket ended without a close frame".to_owned()),
    });
    WsClose {
        initiator: first.side,
        code: first.code,
        reason: first.reason,
        clean: first.error.is_none(),
        error: first.error,
        messages_sent: sent,
        messages_received: received,
    }
}

/// One direction: read from `src`, forward to `dst`, record. Returns how
/// many messages it forwarded.
async fn direction<S, D>(
    mut src: S,
    mut dst: D,
    dir: Direction,
    ctx: &PumpContext,
    shared: &Shared,
) -> u64
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
    D: Sink<Message, Error = WsError> + Unpin,
{
    let mut count = 0;
    let mut shutdown_sent = false;
    let mut closed_by_src = false;
    loop {
        // Biased: what a side already sent (a message, its EOF) is handled
        // before shutdown or a deadline, so it is forwarded and recorded
        // with the right cause.
        let next = tokio::select! {
            biased;
            next = src.next() => next,
            () = shared.abort.cancelled() => break,
            () = ctx.shutdown.cancelled(), if !shutdown_sent => {
                shutdown_sent = true;
                let frame = CloseFrame {
                    code: CloseCode::Away,
                    reason: "wsdiag is shutting down".into(),
                };
                shared.note_close(Side::Proxy, Some(&frame));
                // A peer that stopped reading cannot hold shutdown.
                let _ = tokio::time::timeout(CLOSE_GRACE, dst.send(Message::Close(Some(frame)))).await;
                continue;
            }
            () = grace_after(&shared.closing) => break,
        };
        let message = match next {
            Some(Ok(message)) => message,
            // The close handshake on this side is complete.
            Some(Err(WsError::ConnectionClosed)) | None
                if closed_by_src || shared.closing.is_cancelled() =>
            {
                break
            }
            Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) | None => {
                shared.note_drop(
                    dir.sender(),
                    "the connection closed without a close frame".to_owned(),
                );
                break;
            }
            Some(Err(e)) => {
                shared.note_drop(dir.sender(), e.to_string());
                break;
            }
        };
        let t_us = ctx.recorder.now_us();
        let (opcode, payload) = describe(&message, ctx.recorder.body_limit());
        let is_close = matches!(message, Message::Close(_));
        if let Message::Close(frame) = &message {
            closed_by_src = true;
            shared.note_close(dir.sender(), frame.as_ref());
        }
        // A peer that stopped reading must not hold this direction forever:
        // the send gives up when the other direction ends the WebSocket, or
        // once shutdown's grace has passed.
        let sent = tokio::select! {
            sent = dst.send(message) => sent,
            () = shared.abort.cancelled() => Err(WsError::ConnectionClosed),
            () = grace_after(&ctx.shutdown) => Err(WsError::ConnectionClosed),
        };
        let forwarded = match sent {
            Ok(()) => true,
            // tungstenite already answered the other side's close; the
            // close handshake is complete there.
            Err(WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Protocol(_))
                if is_close =>
            {
                true
            }
            Err(_) => false,
        };
        count += 1;
        let record = WsMessage {
            dir,
            opcode,
            payload,
            msg_type: None,
            forwarded,
        };
        ctx.recorder
            .record_at(t_us, Some(ctx.conn), EventKind::WsMessage(record))
            .await;
        if !forwarded {
            let receiver = dir.sender().peer();
            shared.note_drop(
                receiver,
                "the connection was gone when a message was forwarded".to_owned(),
            );
            break;
        }
    }
    count
}

/// Resolves [`CLOSE_GRACE`] after `closing` is cancelled.
async fn grace_after(closing: &CancellationToken) {
    closing.cancelled().await;
    tokio::time::sleep(CLOSE_GRACE).await;
}

/// The opcode and the kept payload of a message. Cheap: payloads are
/// `Bytes`, shared with the message being forwarded.
fn describe(message: &Message, limit: usize) -> (Opcode, Payload) {
    let keep = |b: &Bytes| Payload::capture(b, limit);
    match message {
        Message::Text(text) => {
            let bytes: &Bytes = text.as_ref();
            (Opcode::Text, keep(bytes))
        }
        Message::Binary(b) => (Opcode::Binary, keep(b)),
        Message::Ping(b) => (Opcode::Ping, keep(b)),
        Message::Pong(b) => (Opcode::Pong, keep(b)),
        // The close payload as on the wire: the code, big-endian, then the
        // reason (RFC 6455 section 5.5.1).
        Message::Close(frame) => {
            let mut raw = Vec::new();
            if let Some(f) = frame {
                raw.extend_from_slice(&u16::from(f.code).to_be_bytes());
                raw.extend_from_slice(f.reason.as_bytes());
            }
            (Opcode::Close, keep(&Bytes::from(raw)))
        }
        Message::Frame(frame) => (
            Opcode::Binary,
            keep(&Bytes::copy_from_slice(frame.payload())),
        ),
    }
}
