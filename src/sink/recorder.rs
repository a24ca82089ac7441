//! The producer's handle on the event stream.
//!
//! The proxy holds a [`Recorder`] and calls [`Recorder::record`] for every
//! event. The channel behind it is bounded: when the hub falls behind (a slow
//! disk), recording waits, which slows forwarding instead of losing an event.
//! Only the capture file is allowed to push back like that; the console and
//! other sinks behind the hub skip instead.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::event::{Event, EventKind};

/// How many events may wait for the hub before producers wait.
///
/// Each waiting event holds its kept payload, so this bounds memory too:
/// 16 KiB messages behind a slow disk hold at most 16 MiB. (8,192 held
/// 130 MiB in the sustained benchmark.)
pub const CHANNEL_CAPACITY: usize = 1024;

/// A cloneable handle that sends events to the hub.
#[derive(Clone, Debug)]
pub struct Recorder {
    tx: mpsc::Sender<Event>,
    /// The instant `t_us` counts from: the capture header's `started_at`.
    start: Instant,
    /// How many bytes of each body or message the capture keeps.
    body_limit: usize,
    /// Source of exchange numbers, shared by every connection of a capture.
    exchanges: Arc<AtomicU64>,
}

impl Recorder {
    /// A recorder feeding `tx`, with times measured from `start`.
    pub(crate) fn new(tx: mpsc::Sender<Event>, start: Instant, body_limit: usize) -> Recorder {
        Recorder {
            tx,
            start,
            body_limit,
            exchanges: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Microseconds since the capture started: the `t_us` of an event
    /// observed now.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// The capture's limit on kept body and message bytes.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// The next exchange number (from 1).
    pub fn next_exchange(&self) -> u64 {
        self.exchanges.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Records an event observed now.
    pub async fn record(&self, conn: Option<u64>, kind: EventKind) {
        self.record_at(self.now_us(), conn, kind).await;
    }

    /// Records an event observed now without waiting; when the hub is
    /// behind (the channel is full), gives the event back, to be sent with
    /// [`Recorder::send`] from a task.
    pub fn try_record(&self, conn: Option<u64>, kind: EventKind) -> Result<(), Box<Event>> {
        let event = Event {
            seq: 0,
            t_us: self.now_us(),
            conn,
            kind,
        };
        self.offer(event).map_or(Ok(()), |full| Err(Box::new(full)))
    }

    /// Sends `event` if the channel has room; gives it back (`Some`) when
    /// it is full. The hub only goes away after every recorder is dropped, so a
    /// closed channel means the process is already tearing down: nothing
    /// to keep.
    fn offer(&self, event: Event) -> Option<Event> {
        match self.tx.try_send(event) {
            Err(mpsc::error::TrySendError::Full(event)) => Some(event),
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => None,
        }
    }

    /// Sends an event made earlier (one [`Recorder::try_record`] gave back).
    pub async fn send(&self, event: Box<Event>) {
        let _ = self.tx.send(*event).await;
    }

    /// Records an event observed at `t_us` (taken earlier with
    /// [`Recorder::now_us`]). The hub gives it its `seq`.
    pub async fn record_at(&self, t_us: u64, conn: Option<u64>, kind: EventKind) {
        let event = Event {
            seq: 0,
            t_us,
            conn,
            kind,
        };
        // Waiting for room is the rare case (the hub behind a slow disk):
        // its future is boxed, so every task that records (a WebSocket's
        // relay holds room for one such future for its whole life) stays
        // 640 bytes smaller.
        let Some(event) = self.offer(event) else {
            return;
        };
        let waiting = Box::pin(self.tx.send(event));
        let _ = waiting.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed() -> EventKind {
        EventKind::ConnClose(crate::event::ConnClose {
            duration_us: 1,
            exchanges: 0,
        })
    }

    /// With the channel full, recording waits for room (nothing is
    /// dropped) and the events arrive in the order they were recorded.
    #[tokio::test]
    async fn a_full_channel_makes_recording_wait_not_drop() {
        let (tx, mut rx) = mpsc::channel(1);
        let recorder = Recorder::new(tx, Instant::now(), 1024);
        recorder.record(Some(1), closed()).await;
        let second = tokio::spawn({
            let recorder = recorder.clone();
            async move { recorder.record(Some(2), closed()).await }
        });
        tokio::task::yield_now().await;
        assert!(!second.is_finished(), "the second event waits for room");
        assert_eq!(rx.recv().await.and_then(|e| e.conn), Some(1));
        second.await.unwrap();
        assert_eq!(rx.recv().await.and_then(|e| e.conn), Some(2));
    }
}
