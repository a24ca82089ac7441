//! One direction of a relayed WebSocket: read what one side sends, write
//! the very same bytes to the other side, and record what they were.
//!
//! Bytes are forwarded in the pieces they were read in, whatever frames
//! they hold. wsdiag writes a frame of its own (a keepalive ping, the
//! shutdown close) only between two of the sender's frames, and holds back
//! only the pong that answers its own keepalive ping.

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

use super::frame::{apply_mask, FrameReader, Piece};
use super::keepalive::{tick, Check, Keepalive, KEEPALIVE};
use super::message::{Assembler, Read};
use super::signal::Waiter;
use super::state::Shared;
use super::RelayContext;
use crate::event::{Direction, ErrorEvent, ErrorKind, EventKind, Opcode, Payload, Side, WsMessage};

/// The first read buffer; it doubles while reads fill it, up to
/// [`READ_MAX`]. Every idle WebSocket holds two: 1 KiB each, where most
/// chat messages fit whole.
const READ_START: usize = 1024;
const READ_MAX: usize = 64 * 1024;
/// After this many reads in a row under half of [`READ_START`], a grown
/// buffer goes back to [`READ_START`].
const SMALL_READS_TO_SHRINK: u32 = 64;

/// At most this many violations of one side are recorded as errors; the
/// first is also on the `ws_close`.
const VIOLATIONS_RECORDED: usize = 8;

/// The close wsdiag sends both sides when it shuts down.
const SHUTDOWN_CODE: u16 = 1001;
const SHUTDOWN_REASON: &str = "wsdiag is shutting down";

/// A frame of wsdiag's own, waiting for a frame boundary.
enum Own {
    Ping,
    Close,
}

/// One direction's state.
struct Half<'a, W> {
    dst: W,
    dir: Direction,
    from: Side,
    to: Side,
    ctx: &'a RelayContext,
    shared: &'a Shared,
    frames: FrameReader,
    messages: Assembler,
    /// Frames of wsdiag's own to write at the next boundary.
    pending: Vec<Own>,
    /// The bytes of a pong held back until it is known whether it answers
    /// wsdiag's keepalive ping.
    held: Vec<u8>,
    holding: bool,
    /// wsdiag sent `dst` its own close: nothing more goes there.
    dst_closed: bool,
    /// The shutdown close is pending or sent.
    shutdown_seen: bool,
    /// Writing to `dst` failed: it is gone.
    dst_gone: bool,
    violations: usize,
    /// Data messages forwarded.
    count: u64,
}

/// Relays `src` to `dst` until `src` ends or the relay stops; returns how
/// many data messages it forwarded, and the two halves.
pub(super) async fn run<R, W>(
    mut src: R,
    dst: W,
    dir: Direction,
    ctx: &RelayContext,
    shared: &Shared,
) -> (u64, R, W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let from = dir.sender();
    let mut half = Half {
        dst,
        dir,
        from,
        to: from.peer(),
        ctx,
        shared,
        frames: FrameReader::default(),
        messages: Assembler::new(from, ctx.recorder.body_limit(), &ctx.extensions),
        pending: Vec::new(),
        held: Vec::new(),
        holding: false,
        dst_closed: false,
        shutdown_seen: false,
        dst_gone: false,
        violations: 0,
        count: 0,
    };
    let mut buf = vec![0u8; READ_START];
    let mut small_reads = 0;
    let mut keepalive = ctx.idle_timeout.map(Keepalive::new);
    let stop = shared.stop.raised(Waiter::Reading(from));
    let shutdown = shared.shutdown.raised(Waiter::Reading(from));
    tokio::pin!(stop, shutdown);
    loop {
        // Checked here too: the select below prefers reading, and a side
        // that floods keeps it busy.
        if shared.stop.is_raised() {
            break;
        }
        half.notice_shutdown();
        if !half.pending.is_empty() && half.frames.at_boundary() && !half.holding {
            half.write_own().await;
        }
        if half.dst_gone {
            break;
        }
        // Biased: what a side already sent is relayed before a deadline.
        let read = tokio::select! {
            biased;
            read = src.read(&mut buf) => read,
            () = &mut stop => break,
            () = &mut shutdown, if !half.shutdown_seen => continue,
            () = tick(&mut keepalive) => {
                match keepalive.as_mut().map(|k| k.check(shared, half.to)) {
                    Some(Check::Ping) => half.pending.push(Own::Ping),
                    Some(Check::Gone(silence)) => {
                        shared.note_drop(half.to, format!(
                            "silent for {}s, not even a pong to wsdiag's ping (--idle-timeout)",
                            silence.as_secs()
                        ));
                        shared.stop.raise();
                        break;
                    }
                    _ => {}
                }
                continue;
            }
        };
        match read {
            Ok(0) => {
                half.end_of_stream().await;
                break;
            }
            Ok(n) => {
                shared.heard_from(from);
                half.chunk(&buf[..n]).await;
                // Grow while reads fill the buffer; back to the small one
                // after a run of small reads, so a WebSocket that went
                // quiet after a burst holds little.
                if n == buf.len() && buf.len() < READ_MAX {
                    buf.resize(buf.len() * 2, 0);
                    small_reads = 0;
                } else if n < READ_START / 2 && buf.len() > READ_START {
                    small_reads += 1;
                    if small_reads == SMALL_READS_TO_SHRINK {
                        buf = vec![0u8; READ_START];
                        small_reads = 0;
                    }
                }
            }
            Err(e) => {
                if !shared.handshake_done(from) {
                    shared.note_drop(from, format!("the connection failed: {e}"));
                }
                shared.ended.set(from);
                shared.stop.raise();
                break;
            }
        }
    }
    (half.count, src, half.dst)
}

impl<W: AsyncWrite + Unpin> Half<'_, W> {
    /// Forwards one chunk as it was read, and records the frames it held.
    ///
    /// When nothing of wsdiag's own can go in (no frame of its own
    /// pending, no keepalive pong to hold back), the chunk is written first
    /// and read after, so the other side never waits for the recording.
    /// Otherwise the chunk is written in segments, with wsdiag's frames
    /// between two of the sender's.
    async fn chunk(&mut self, chunk: &[u8]) {
        let t_us = self.ctx.recorder.now_us();
        let careful = !self.pending.is_empty()
            || self.holding
            || self.shared.shutdown.is_raised()
            || self.shared.keepalive_pending(self.from);
        let written_first = if careful {
            None
        } else {
            Some(self.write(chunk).await)
        };
        let mut reads: Vec<Read> = Vec::new();
        let mut pos = 0;
        // The start of the bytes not yet written (careful path).
        let mut seg = 0;
        // A frame that starts at 0 started in this read only if the last
        // read ended between frames (not inside a header).
        let clean_start = self.frames.at_boundary();
        loop {
            let before = pos;
            let (used, piece) = self.frames.next(&chunk[pos..]);
            pos += used;
            match piece {
                None => break,
                Some(Piece::Start(header, len)) => {
                    let header = header.clone();
                    let boundary = careful && (before > 0 || clean_start);
                    if boundary {
                        self.notice_shutdown();
                    }
                    if boundary && !self.pending.is_empty() {
                        // wsdiag's own frames go in before this one.
                        self.flush(&chunk[seg..before], t_us, &mut reads).await;
                        seg = before;
                        self.write_own().await;
                    }
                    if boundary && self.answers_keepalive(&header, len) {
                        self.flush(&chunk[seg..before], t_us, &mut reads).await;
                        seg = before;
                        self.holding = true;
                    }
                    self.messages.start(&header, len);
                }
                Some(Piece::Payload { bytes, offset }) => self.messages.payload(bytes, offset),
                Some(Piece::End) => {
                    let read = self.messages.end();
                    let ours = careful
                        && read.as_ref().is_some_and(is_keepalive_pong)
                        && self.shared.keepalive_pending(self.from);
                    if ours {
                        // wsdiag's to answer, not the other side's. Held
                        // back, unless its header straddled two reads and
                        // its start is on its way already.
                        self.shared.keepalive_answered(self.from);
                        let held_back = std::mem::take(&mut self.holding);
                        if held_back {
                            self.held.clear();
                            seg = pos;
                        }
                        self.record_own(t_us, Opcode::Pong, KEEPALIVE, !held_back)
                            .await;
                        continue;
                    }
                    self.holding = false;
                    reads.extend(read);
                }
                Some(Piece::Lost(why)) => self.lost(t_us, &why).await,
            }
            self.record_violations(t_us).await;
        }
        match written_first {
            Some(written) => self.record(t_us, &mut reads, written).await,
            None if self.holding => self.held.extend_from_slice(&chunk[seg..]),
            None => self.flush(&chunk[seg..], t_us, &mut reads).await,
        }
    }

    /// The sender's bytes stopped parsing as frames.
    async fn lost(&mut self, t_us: u64, why: &str) {
        let what = format!(
            "bytes that are not a WebSocket frame ({why}); wsdiag forwards the rest without reading it"
        );
        self.violate(t_us, &what).await;
    }

    /// Writes `bytes` on and records the reads they completed.
    async fn flush(&mut self, bytes: &[u8], t_us: u64, reads: &mut Vec<Read>) {
        let written = self.write(bytes).await;
        self.record(t_us, reads, written).await;
    }

    /// Once the proxy shuts down, queues wsdiag's close for the next frame
    /// boundary. Checked between frames, not only when the loop waits: a
    /// side that floods must not keep its peer from getting the close.
    fn notice_shutdown(&mut self) {
        if !self.shutdown_seen && self.shared.shutdown.is_raised() {
            self.shutdown_seen = true;
            self.pending.push(Own::Close);
        }
    }

    /// True for the start of a pong that may answer wsdiag's keepalive.
    fn answers_keepalive(&self, header: &FrameHeader, len: u64) -> bool {
        header.opcode == OpCode::Control(Control::Pong)
            && len == KEEPALIVE.len() as u64
            && self.shared.keepalive_pending(self.from)
    }

    /// Writes `bytes` on (after any held pong); false when they did not
    /// reach `dst`: wsdiag closed it, or it is gone.
    async fn write(&mut self, bytes: &[u8]) -> bool {
        if self.dst_closed || self.dst_gone {
            return false;
        }
        let held = std::mem::take(&mut self.held);
        for piece in [&held[..], bytes] {
            if piece.is_empty() {
                continue;
            }
            if let Err(why) = self.send(piece).await {
                self.dst_gone = true;
                self.shared.note_drop(self.to, why);
                self.shared.stop.raise();
                return false;
            }
        }
        true
    }

    /// One write, given up when the relay stops, or after twice the idle
    /// timeout when one is set (a peer that stopped reading).
    async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.shared.set_reader_busy(self.from, true);
        let stall = self.ctx.idle_timeout.map(|idle| idle * 2);
        let result = tokio::select! {
            biased;
            sent = self.dst.write_all(bytes) => sent.map_err(|e| format!("the connection was gone when a message was forwarded: {e}")),
            () = self.shared.stop.raised(Waiter::Reading(self.from)) => Err("the relay stopped while it waited to write".to_owned()),
            () = sleep_or_never(stall) => Err(format!(
                "it read nothing for {}s (--idle-timeout)",
                stall.unwrap_or_default().as_secs()
            )),
        };
        self.shared.set_reader_busy(self.from, false);
        result
    }

    /// Records what a chunk held, in order, as delivered or not.
    async fn record(&mut self, t_us: u64, reads: &mut Vec<Read>, written: bool) {
        for read in reads.drain(..) {
            let is_data = matches!(read.opcode, Opcode::Text | Opcode::Binary);
            if read.opcode == Opcode::Close {
                self.closed_by_src(&read, written);
            }
            self.count += u64::from(written && is_data);
            let mut message = WsMessage::new(self.dir, read.opcode, read.payload, written);
            message.compressed = read.compressed;
            message.wire_len = read.compressed.then_some(read.wire_len);
            message.frames = (read.frames > 1).then_some(read.frames);
            message.error = read.error;
            self.ctx
                .recorder
                .record_at(t_us, Some(self.ctx.conn), EventKind::WsMessage(message))
                .await;
        }
    }

    /// The sender's close frame passed: note it, and end the relay once
    /// both of wsdiag's shutdown closes are answered.
    fn closed_by_src(&self, read: &Read, forwarded: bool) {
        let (code, reason) = match &read.payload.bytes[..] {
            [hi, lo, reason @ ..] => (
                Some(u16::from_be_bytes([*hi, *lo])),
                String::from_utf8_lossy(reason).into_owned(),
            ),
            _ => (None, String::new()),
        };
        self.shared.note_close(self.from, code, reason);
        self.shared.sent_close.set(self.from);
        // A close that reaches a side whose connection is over asks it
        // nothing.
        if forwarded && !self.shared.ended.get(self.to) {
            self.shared.got_close.set(self.to);
        }
        let shutting_down = self.shared.wsdiag_closed.get(Side::Client)
            || self.shared.wsdiag_closed.get(Side::Upstream);
        if shutting_down
            && self.shared.handshake_done(Side::Client)
            && self.shared.handshake_done(Side::Upstream)
        {
            self.shared.stop.raise();
        }
    }

    /// Writes wsdiag's pending frames to `dst`, between two frames.
    async fn write_own(&mut self) {
        let t_us = self.ctx.recorder.now_us();
        for own in std::mem::take(&mut self.pending) {
            match own {
                Own::Ping => {
                    let sent = self.write_frame(Control::Ping, KEEPALIVE).await;
                    self.record_own(t_us, Opcode::Ping, KEEPALIVE, sent).await;
                }
                // `dst` already has a close frame (the sender's), or sent
                // one and waits for its answer, which will be relayed:
                // that close handshake stands.
                Own::Close
                    if self.shared.got_close.get(self.to)
                        || self.shared.sent_close.get(self.to) => {}
                Own::Close => {
                    let mut payload = SHUTDOWN_CODE.to_be_bytes().to_vec();
                    payload.extend_from_slice(SHUTDOWN_REASON.as_bytes());
                    let sent = self.write_frame(Control::Close, &payload).await;
                    self.dst_closed = true;
                    self.shared.wsdiag_closed.set(self.to);
                    self.shared.note_close(
                        Side::Proxy,
                        Some(SHUTDOWN_CODE),
                        SHUTDOWN_REASON.to_owned(),
                    );
                    if sent && !self.shared.ended.get(self.to) {
                        self.shared.got_close.set(self.to);
                    }
                    self.record_own(t_us, Opcode::Close, &payload, sent).await;
                }
            }
        }
    }

    /// Writes a control frame of wsdiag's own, masked toward the upstream
    /// as a client's must be (RFC 6455 section 5.3).
    async fn write_frame(&mut self, control: Control, payload: &[u8]) -> bool {
        let mut mask = None;
        if self.to == Side::Upstream {
            let mut key = [0u8; 4];
            let _ = getrandom::fill(&mut key);
            mask = Some(key);
        }
        let header = FrameHeader {
            opcode: OpCode::Control(control),
            mask,
            ..FrameHeader::default()
        };
        let mut frame = Vec::with_capacity(payload.len() + 6);
        if header.format(payload.len() as u64, &mut frame).is_err() {
            return false;
        }
        let start = frame.len();
        frame.extend_from_slice(payload);
        if let Some(mask) = mask {
            apply_mask(&mut frame[start..], mask, 0);
        }
        self.write(&frame).await
    }

    /// Records a frame of wsdiag's own (`origin: proxy`).
    async fn record_own(&mut self, t_us: u64, opcode: Opcode, payload: &[u8], sent: bool) {
        let payload = Payload::capture(&Bytes::copy_from_slice(payload), usize::MAX);
        let mut message = WsMessage::new(self.dir, opcode, payload, sent);
        message.origin = Some(Side::Proxy);
        self.ctx
            .recorder
            .record_at(t_us, Some(self.ctx.conn), EventKind::WsMessage(message))
            .await;
    }

    async fn record_violations(&mut self, t_us: u64) {
        let found: Vec<String> = self.messages.violations().collect();
        for what in found {
            self.violate(t_us, &what).await;
        }
    }

    /// Notes and records (the first few of) the sender's violations; the
    /// endpoint that gets the frame decides what to do about it.
    async fn violate(&mut self, t_us: u64, what: &str) {
        self.shared.note_violation(self.from, what);
        self.violations += 1;
        if self.violations > VIOLATIONS_RECORDED {
            return;
        }
        let error = ErrorEvent {
            side: self.from,
            kind: ErrorKind::Protocol,
            message: format!("the {} sent {what}", self.from.as_str()),
        };
        self.ctx
            .recorder
            .record_at(t_us, Some(self.ctx.conn), EventKind::Error(error))
            .await;
    }

    /// The sender's connection ended: pass the end on (FIN), as the other
    /// side would have seen it without wsdiag.
    async fn end_of_stream(&mut self) {
        if !self.shared.sent_close.get(self.from) {
            let why = if self.frames.at_boundary() {
                "the connection closed without a close frame"
            } else {
                "the connection closed in the middle of a frame, without a close frame"
            };
            self.shared.note_drop(self.from, why.to_owned());
        }
        self.shared.ended.set(self.from);
        self.shared.first_end.raise();
        if !self.dst_gone {
            let held = std::mem::take(&mut self.held);
            if !held.is_empty() && !self.dst_closed {
                let _ = self.send(&held).await;
            }
            tokio::select! {
                _ = tokio::time::timeout(super::CLOSE_GRACE, self.dst.shutdown()) => {}
                () = self.shared.stop.raised(Waiter::Reading(self.from)) => {}
            }
        }
    }
}

fn is_keepalive_pong(read: &Read) -> bool {
    read.opcode == Opcode::Pong && read.payload.bytes.as_ref() == KEEPALIVE
}

/// Sleeps `duration`; forever when `None`.
async fn sleep_or_never(duration: Option<std::time::Duration>) {
    match duration {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
