//! What the two directions of a relayed WebSocket share: how it is ending
//! (close frames each side sent and got, the first close or drop, a
//! violation), when each side was last heard from, and wsdiag's own
//! keepalive pings in flight.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::signal::Signal;
use crate::event::Side;

/// The first thing that ended the WebSocket: a close frame or a drop.
#[derive(Clone)]
pub(super) struct First {
    pub(super) side: Side,
    pub(super) code: Option<u16>,
    pub(super) reason: String,
    pub(super) error: Option<String>,
}

/// The first protocol violation seen: who, and what.
pub(super) struct Violation {
    pub(super) side: Side,
    pub(super) what: String,
}

/// A flag per side.
#[derive(Default)]
pub(super) struct PerSide([AtomicBool; 2]);

impl PerSide {
    pub(super) fn set(&self, side: Side) {
        self.0[index(side)].store(true, Ordering::Relaxed);
    }
    pub(super) fn get(&self, side: Side) -> bool {
        self.0[index(side)].load(Ordering::Relaxed)
    }
    pub(super) fn clear(&self, side: Side) {
        self.0[index(side)].store(false, Ordering::Relaxed);
    }
}

fn index(side: Side) -> usize {
    usize::from(side != Side::Client)
}

/// State the two directions share.
pub(super) struct Shared {
    pub(super) first: Mutex<Option<First>>,
    /// Raised to end both directions now: a side dropped, the shutdown
    /// grace ran out, or both of wsdiag's closes were answered.
    pub(super) stop: Signal,
    /// Raised when the first side's connection ends.
    pub(super) first_end: Signal,
    /// Raised when wsdiag starts to shut down (from the proxy's token, by
    /// a task of the relay's, [`super::relay`]).
    pub(super) shutdown: Arc<Signal>,
    /// The first violation.
    pub(super) violation: OnceLock<Violation>,
    /// Each side sent a close frame.
    pub(super) sent_close: PerSide,
    /// Each side was sent a close frame: the other side's, forwarded, or
    /// wsdiag's own.
    pub(super) got_close: PerSide,
    /// wsdiag sent its own close to each side (on shutdown).
    pub(super) wsdiag_closed: PerSide,
    /// Each side's connection ended (end of stream or error).
    pub(super) ended: PerSide,
    /// wsdiag's keepalive pings sent to each side and not answered yet.
    keepalives: [AtomicU32; 2],
    /// True while the direction reading each side waits to write on.
    reader_busy: PerSide,
    /// When each side was last heard from, in microseconds since `started`.
    heard: [AtomicU64; 2],
    started: Instant,
}

impl Shared {
    pub(super) fn new() -> Shared {
        Shared {
            first: Mutex::new(None),
            stop: Signal::default(),
            first_end: Signal::default(),
            shutdown: Arc::default(),
            violation: OnceLock::new(),
            sent_close: PerSide::default(),
            got_close: PerSide::default(),
            wsdiag_closed: PerSide::default(),
            ended: PerSide::default(),
            keepalives: Default::default(),
            reader_busy: PerSide::default(),
            heard: [AtomicU64::new(0), AtomicU64::new(0)],
            started: Instant::now(),
        }
    }

    fn note(&self, first: First) {
        if let Ok(mut slot) = self.first.lock() {
            slot.get_or_insert(first);
        }
    }

    /// `side` (or wsdiag, as [`Side::Proxy`]) sent a close frame.
    pub(super) fn note_close(&self, side: Side, code: Option<u16>, reason: String) {
        self.note(First {
            side,
            code,
            reason,
            error: None,
        });
    }

    /// `side` went away without finishing the close handshake.
    pub(super) fn note_drop(&self, side: Side, error: String) {
        self.note(First {
            side,
            code: None,
            reason: String::new(),
            error: Some(error),
        });
    }

    /// Keeps the first violation.
    pub(super) fn note_violation(&self, side: Side, what: &str) {
        let _ = self.violation.set(Violation {
            side,
            what: what.to_owned(),
        });
    }

    /// True when `side` sent a close frame and got one, or the other side
    /// sent one too: its close handshake is complete (RFC 6455 section
    /// 7.1.4 counts close frames sent and received). A side that hangs up
    /// right after its close frame, before the answer reaches it (what
    /// tungstenite's `close` and then a drop does), still had its close
    /// answered; so do two sides that close at the same time.
    pub(super) fn handshake_done(&self, side: Side) -> bool {
        self.sent_close.get(side) && (self.got_close.get(side) || self.sent_close.get(side.peer()))
    }

    /// A side that was sent a close frame and never sent one back.
    pub(super) fn unanswered(&self) -> Option<Side> {
        [Side::Client, Side::Upstream]
            .into_iter()
            .find(|&s| self.got_close.get(s) && !self.sent_close.get(s))
    }

    pub(super) fn keepalive_sent(&self, side: Side) {
        self.keepalives[index(side)].fetch_add(1, Ordering::Relaxed);
    }

    /// True while wsdiag waits for `side` to answer its keepalive ping.
    pub(super) fn keepalive_pending(&self, side: Side) -> bool {
        self.keepalives[index(side)].load(Ordering::Relaxed) > 0
    }

    /// Counts a pong from `side` as the answer to wsdiag's ping.
    pub(super) fn keepalive_answered(&self, side: Side) {
        let _ =
            self.keepalives[index(side)]
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    pub(super) fn set_reader_busy(&self, side: Side, busy: bool) {
        if busy {
            self.reader_busy.set(side);
        } else {
            self.reader_busy.clear(side);
        }
    }

    pub(super) fn reader_busy(&self, side: Side) -> bool {
        self.reader_busy.get(side)
    }

    /// Microseconds since the relay started.
    pub(super) fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    pub(super) fn heard_from(&self, side: Side) {
        self.heard[index(side)].store(self.now_us(), Ordering::Relaxed);
    }

    /// When `side` was last heard from, as [`Shared::now_us`].
    pub(super) fn heard_us(&self, side: Side) -> u64 {
        self.heard[index(side)].load(Ordering::Relaxed)
    }

    /// How long `side` has been silent.
    pub(super) fn silence(&self, side: Side) -> Duration {
        Duration::from_micros(self.now_us().saturating_sub(self.heard_us(side)))
    }
}
