//! What the two directions of a pump share: how the WebSocket is ending
//! (the first close or drop, a protocol violation and the closes it owes),
//! when each side was last heard from, and the pings in flight.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_util::sync::CancellationToken;

use crate::event::Side;

/// How many unanswered forwarded pings are remembered per side.
const PINGS_KEPT: usize = 16;

/// State the two directions share.
pub(super) struct Shared {
    /// The first close frame or drop seen: who, code, reason, error.
    pub(super) first: Mutex<Option<First>>,
    /// Cancelled when a close frame has been seen: the end is near.
    pub(super) closing: CancellationToken,
    /// Cancelled when a side dropped: stop both directions now.
    pub(super) abort: CancellationToken,
    /// When `closing` was first cancelled.
    pub(super) closing_at: OnceLock<tokio::time::Instant>,
    /// Set when a side broke the protocol; `closing` is cancelled too.
    pub(super) violation: OnceLock<Violation>,
    /// The side that sent no close frame back within the close grace after
    /// the other side's (or the proxy's) close: the close handshake did
    /// not complete.
    pub(super) unanswered: OnceLock<Side>,
    /// wsdiag's keepalive pings sent to each side and not answered yet.
    keepalives: [AtomicU32; 2],
    /// True while the direction reading each side waits to send on.
    reader_busy: [AtomicBool; 2],
    /// When each side was last heard from, in microseconds since `started`.
    heard: [AtomicU64; 2],
    /// Payloads of pings forwarded to each side and not answered yet.
    /// tungstenite pongs every ping itself, so the far side's pong to a
    /// forwarded ping is not forwarded: the sender would get two.
    pings: [Mutex<VecDeque<Bytes>>; 2],
    started: Instant,
}

#[derive(Clone)]
pub(super) struct First {
    pub(super) side: Side,
    pub(super) code: Option<u16>,
    pub(super) reason: String,
    pub(super) error: Option<String>,
}

/// A side broke the WebSocket protocol. The proxy acts like the endpoint it
/// stands in for: it closes that side with the code an endpoint would send
/// (1002, 1007 or 1009) and the other side cleanly with 1001.
pub(super) struct Violation {
    pub(super) side: Side,
    pub(super) code: CloseCode,
    pub(super) reason: String,
}

impl Violation {
    /// The close the proxy sends to `to`.
    pub(super) fn close_for(&self, to: Side) -> CloseFrame {
        if to == self.side {
            close_frame(self.code, &self.reason)
        } else {
            let reason = format!("wsdiag: the {} broke the protocol", self.side.as_str());
            close_frame(CloseCode::Away, &reason)
        }
    }
}

/// The close an endpoint answers a read error with, when the error is the
/// peer's protocol violation (as opposed to a dropped connection): 1007 for
/// invalid UTF-8, 1009 for a message over the limit, 1002 for the rest.
pub fn close_for_error(error: &WsError) -> Option<(CloseCode, String)> {
    match error {
        WsError::Utf8(_) => Some((CloseCode::Invalid, "invalid UTF-8 in a text message".into())),
        WsError::Capacity(e) => Some((CloseCode::Size, e.to_string())),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        WsError::Protocol(ProtocolError::NonZeroReservedBits) => {
            Some((CloseCode::Protocol, crate::event::RESERVED_BITS.to_owned()))
        }
        WsError::Protocol(e) => Some((CloseCode::Protocol, e.to_string())),
        _ => None,
    }
}

/// A close frame whose reason fits the 123 bytes a control frame allows.
pub(super) fn close_frame(code: CloseCode, reason: &str) -> CloseFrame {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    CloseFrame {
        code,
        reason: reason[..end].to_owned().into(),
    }
}

fn side_index(side: Side) -> usize {
    usize::from(side != Side::Client)
}

impl Shared {
    pub(super) fn new() -> Shared {
        Shared {
            first: Mutex::new(None),
            closing: CancellationToken::new(),
            abort: CancellationToken::new(),
            closing_at: OnceLock::new(),
            violation: OnceLock::new(),
            unanswered: OnceLock::new(),
            keepalives: Default::default(),
            reader_busy: Default::default(),
            heard: [AtomicU64::new(0), AtomicU64::new(0)],
            pings: Default::default(),
            started: Instant::now(),
        }
    }
    fn note(&self, first: First) {
        if let Ok(mut slot) = self.first.lock() {
            slot.get_or_insert(first);
        }
    }

    pub(super) fn note_close(&self, side: Side, frame: Option<&CloseFrame>) {
        self.note(First {
            side,
            code: frame.map(|f| u16::from(f.code)),
            reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
            error: None,
        });
        self.start_closing();
    }

    fn start_closing(&self) {
        let _ = self.closing_at.set(tokio::time::Instant::now());
        self.closing.cancel();
    }

    pub(super) fn note_drop(&self, side: Side, error: String) {
        self.note(First {
            side,
            code: None,
            reason: String::new(),
            error: Some(error),
        });
        self.abort.cancel();
    }

    /// Records that `side` broke the protocol; both directions then close
    /// their destination (see [`Violation`]).
    pub(super) fn note_violation(&self, side: Side, code: CloseCode, reason: String) {
        self.note(First {
            side: Side::Proxy,
            code: Some(u16::from(code)),
            reason: reason.clone(),
            error: Some(format!(
                "the {} broke the protocol ({reason}); wsdiag closed it with {}",
                side.as_str(),
                u16::from(code)
            )),
        });
        let _ = self.violation.set(Violation { side, code, reason });
        self.start_closing();
    }

    /// True when `side` broke the protocol and has not been closed yet.
    pub(super) fn owes_close(&self, side: Side) -> bool {
        self.violation.get().is_some_and(|v| v.side == side)
    }

    pub(super) fn keepalive_sent(&self, side: Side) {
        self.keepalives[side_index(side)].fetch_add(1, Ordering::Relaxed);
    }

    /// True when a keepalive pong from `side` answers wsdiag's own ping.
    pub(super) fn keepalive_answered(&self, side: Side) -> bool {
        self.keepalives[side_index(side)]
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    pub(super) fn set_reader_busy(&self, side: Side, busy: bool) {
        self.reader_busy[side_index(side)].store(busy, Ordering::Relaxed);
    }

    pub(super) fn reader_busy(&self, side: Side) -> bool {
        self.reader_busy[side_index(side)].load(Ordering::Relaxed)
    }

    /// Microseconds since the pump started.
    pub(super) fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    pub(super) fn heard_from(&self, side: Side) {
        self.heard[side_index(side)].store(self.now_us(), Ordering::Relaxed);
    }

    /// When `side` was last heard from, as [`Shared::now_us`].
    pub(super) fn heard_us(&self, side: Side) -> u64 {
        self.heard[side_index(side)].load(Ordering::Relaxed)
    }

    /// Notes a ping forwarded to `side`, keeping the last [`PINGS_KEPT`].
    pub(super) fn ping_forwarded(&self, side: Side, payload: &Bytes) {
        if let Ok(mut pings) = self.pings[side_index(side)].lock() {
            if pings.len() == PINGS_KEPT {
                pings.pop_front();
            }
            pings.push_back(payload.clone());
        }
    }

    /// True when a pong from `side` answers a forwarded ping (which
    /// tungstenite has answered already on the other side).
    pub(super) fn answers_forwarded_ping(&self, side: Side, payload: &Bytes) -> bool {
        let Ok(mut pings) = self.pings[side_index(side)].lock() else {
            return false;
        };
        match pings.iter().position(|p| p == payload) {
            Some(i) => {
                pings.drain(..=i);
                true
            }
            None => false,
        }
    }

    /// How long `side` has been silent.
    pub(super) fn silence(&self, side: Side) -> Duration {
        Duration::from_micros(self.now_us().saturating_sub(self.heard_us(side)))
    }
}
