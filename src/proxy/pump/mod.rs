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
//! forwarded, so the far side sees it; the far side's pong to it is recorded
//! but not forwarded, since the sender already has tungstenite's. Pongs
//! nobody asked for (heartbeats) are forwarded.
//!
//! A side that breaks the protocol is closed the way an endpoint would close
//! it (see [`close_for_error`]); the other side gets 1001 first, and what it
//! sent before answering still reaches the offender, then the offender's
//! close.
//!
//! The pump is generic over the socket type so tests can drive it on any
//! stream pair.

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

mod keepalive;
mod state;

use keepalive::{tick, Check, Keepalive, KEEPALIVE};
pub use state::close_for_error;
use state::{close_frame, First, Shared};

/// How long the pump waits for the close handshake to finish once a close
/// frame has been seen.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What a pump needs from its connection.
pub(super) struct PumpContext {
    pub recorder: Recorder,
    pub conn: u64,
    /// Cancelled when the proxy shuts down.
    pub shutdown: CancellationToken,
    /// A side silent this long gets a ping; one that has not answered it
    /// this long later is taken for gone and the WebSocket is ended (see
    /// [`Keepalive`]). `None`: never.
    pub idle_timeout: Option<Duration>,
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
    let shared = Shared::new();
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
    let error = first.error.or_else(|| {
        shared.unanswered.get().map(|side| {
            format!(
                "the {} did not answer the close within {} s",
                side.as_str(),
                CLOSE_GRACE.as_secs()
            )
        })
    });
    WsClose {
        initiator: first.side,
        code: first.code,
        reason: first.reason,
        clean: error.is_none(),
        error,
        unanswered: shared.unanswered.get().copied(),
        violator: shared.violation.get().map(|v| v.side),
        messages_sent: sent,
        messages_received: received,
    }
}

/// Records wsdiag's own keepalive ping (sent toward `dir`'s receiver) or
/// the pong that answers it (from `dir`'s sender, not forwarded), with
/// `origin: proxy` so that no reader takes it for the endpoints' traffic.
async fn record_keepalive(ctx: &PumpContext, dir: Direction, opcode: Opcode, forwarded: bool) {
    let payload = Payload::capture(&Bytes::from_static(KEEPALIVE), ctx.recorder.body_limit());
    let mut message = WsMessage::new(dir, opcode, payload, forwarded);
    message.origin = Some(Side::Proxy);
    ctx.recorder
        .record(Some(ctx.conn), EventKind::WsMessage(message))
        .await;
}

/// Sends a close of the proxy's own; a peer that stopped reading cannot
/// hold it longer than [`CLOSE_GRACE`].
async fn send_close<D>(dst: &mut D, frame: CloseFrame)
where
    D: Sink<Message, Error = WsError> + Unpin,
{
    let _ = tokio::time::timeout(CLOSE_GRACE, dst.send(Message::Close(Some(frame)))).await;
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
    let (from, to) = (dir.sender(), dir.sender().peer());
    let mut count = 0;
    let mut shutdown_sent = false;
    // Set once the proxy sent `dst` a close of its own: a close arriving
    // from `src` afterwards is the answer to the proxy's, not forwarded.
    let mut dst_closed = false;
    let mut closed_by_src = false;
    let mut keepalive = ctx.idle_timeout.map(Keepalive::new);
    // Made once, not once a message: each registers a waiter when polled.
    let abort = shared.abort.cancelled();
    let shutdown = ctx.shutdown.cancelled();
    let closing = closing_grace(shared);
    tokio::pin!(abort, shutdown, closing);
    loop {
        // Biased: what a side already sent (a message, its EOF) is handled
        // before shutdown or a deadline, so it is forwarded and recorded
        // with the right cause.
        let next = tokio::select! {
            biased;
            next = src.next() => next,
            () = &mut abort => break,
            () = &mut shutdown, if !shutdown_sent => {
                shutdown_sent = true;
                dst_closed = true;
                let frame = close_frame(CloseCode::Away, "wsdiag is shutting down");
                shared.note_close(Side::Proxy, Some(&frame));
                send_close(&mut dst, frame).await;
                continue;
            }
            () = tick(&mut keepalive) => {
                match keepalive.as_mut().map(|k| k.check(shared, to)) {
                    Some(Check::Ping) => {
                        let ping = Message::Ping(Bytes::from_static(KEEPALIVE));
                        let sent = tokio::time::timeout(CLOSE_GRACE, dst.send(ping)).await;
                        record_keepalive(ctx, dir, Opcode::Ping, matches!(sent, Ok(Ok(())))).await;
                    }
                    Some(Check::Gone(silence)) => {
                        shared.note_drop(to, format!(
                            "silent for {}s, not even a pong to wsdiag's ping (--idle-timeout)",
                            silence.as_secs()
                        ));
                        break;
                    }
                    _ => {}
                }
                continue;
            }
            () = &mut closing => {
                // The close grace ran out and this side never sent its
                // close frame: the handshake did not complete.
                if !closed_by_src && shared.violation.get().is_none() {
                    let _ = shared.unanswered.set(from);
                }
                break;
            }
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
                    from,
                    "the connection closed without a close frame".to_owned(),
                );
                break;
            }
            Some(Err(e)) => {
                match close_for_error(&e) {
                    Some((code, reason)) if !shared.closing.is_cancelled() => {
                        shared.note_violation(from, code, reason);
                        // This side is past reading: close the healthy side
                        // from here; the other direction closes this one
                        // once the healthy side has answered.
                        if let Some(v) = shared.violation.get() {
                            send_close(&mut dst, v.close_for(to)).await;
                        }
                    }
                    _ => shared.note_drop(from, e.to_string()),
                }
                break;
            }
        };
        shared.heard_from(from);
        if matches!(&message, Message::Pong(p) if p.as_ref() == KEEPALIVE)
            && shared.keepalive_answered(from)
        {
            record_keepalive(ctx, dir, Opcode::Pong, false).await;
            continue;
        }
        let t_us = ctx.recorder.now_us();
        let (opcode, payload) = describe(&message, ctx.recorder.body_limit());
        let is_close = matches!(message, Message::Close(_));
        if let Message::Close(frame) = &message {
            closed_by_src = true;
            shared.note_close(from, frame.as_ref());
        }
        let mut lost = None;
        let forwarded = match &message {
            Message::Close(_) if dst_closed => false,
            Message::Close(_) if shared.owes_close(to) => {
                // `src` answered the proxy's 1001: now close the offender.
                dst_closed = true;
                if let Some(v) = shared.violation.get() {
                    send_close(&mut dst, v.close_for(to)).await;
                }
                false
            }
            Message::Pong(p) if shared.answers_forwarded_ping(from, p) => false,
            _ => {
                if let Message::Ping(p) = &message {
                    shared.ping_forwarded(to, p);
                }
                shared.set_reader_busy(from, true);
                let sent = forward(&mut dst, message, is_close, ctx, shared).await;
                shared.set_reader_busy(from, false);
                lost = sent.err();
                lost.is_none()
            }
        };
        count += u64::from(forwarded);
        let record = WsMessage::new(dir, opcode, payload, forwarded);
        ctx.recorder
            .record_at(t_us, Some(ctx.conn), EventKind::WsMessage(record))
            .await;
        if let Some(why) = lost {
            shared.note_drop(to, why);
            break;
        }
    }
    if !dst_closed && shared.owes_close(to) {
        if let Some(v) = shared.violation.get() {
            send_close(&mut dst, v.close_for(to)).await;
        }
    }
    count
}

/// Sends one message on; the error says why `dst` is taken for gone.
async fn forward<D>(
    dst: &mut D,
    message: Message,
    is_close: bool,
    ctx: &PumpContext,
    shared: &Shared,
) -> Result<(), String>
where
    D: Sink<Message, Error = WsError> + Unpin,
{
    // A peer that stopped reading must not hold this direction forever:
    // the send gives up when the other direction ends the WebSocket, when
    // the close grace or shutdown's has passed, or after twice the idle
    // timeout.
    let stall = ctx.idle_timeout.map(|idle| idle * 2);
    // Biased: a send that completes at once (the usual case) never polls,
    // and so never arms, the others.
    let sent = tokio::select! {
        biased;
        sent = dst.send(message) => sent,
        () = shared.abort.cancelled() => Err(WsError::ConnectionClosed),
        () = grace_after(&ctx.shutdown) => Err(WsError::ConnectionClosed),
        () = closing_grace(shared) => {
            return Err("it stopped reading while the WebSocket was closing".to_owned());
        }
        () = sleep_or_never(stall) => {
            let secs = stall.unwrap_or_default().as_secs();
            return Err(format!("it read nothing for {secs}s (--idle-timeout)"));
        }
    };
    match sent {
        Ok(()) => Ok(()),
        // tungstenite already answered the other side's close; the close
        // handshake is complete there.
        Err(WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Protocol(_))
            if is_close =>
        {
            Ok(())
        }
        Err(_) => Err("the connection was gone when a message was forwarded".to_owned()),
    }
}

/// Sleeps `duration`; forever when `None`.
async fn sleep_or_never(duration: Option<Duration>) {
    match duration {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// Resolves [`CLOSE_GRACE`] after the first close frame or violation: one
/// deadline for the whole WebSocket, not restarted by later messages.
async fn closing_grace(shared: &Shared) {
    shared.closing.cancelled().await;
    let since = shared
        .closing_at
        .get()
        .copied()
        .unwrap_or_else(tokio::time::Instant::now);
    tokio::time::sleep_until(since + CLOSE_GRACE).await;
}

/// Resolves [`CLOSE_GRACE`] after `token` is cancelled.
async fn grace_after(token: &CancellationToken) {
    token.cancelled().await;
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
