//! What the exchanges of one client connection share: its number, its
//! peer, its exchange count, whether it became a WebSocket, and the task
//! recording its previous response (so its events stay in order).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use tokio::task::JoinHandle;

use crate::event::{ConnClose, EventKind};
use crate::sink::Recorder;

/// What the exchanges of one connection share.
pub(super) struct ConnState {
    /// The connection number in the capture.
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// The client's IP address as text, made once for every request's
    /// `X-Forwarded-For` (formatting it took 3 % of a request's
    /// instructions).
    pub peer_ip: String,
    opened: Instant,
    exchanges: AtomicU64,
    /// Set once the connection became a WebSocket; its frame relay then owns the
    /// `conn_close`.
    upgraded: AtomicBool,
    /// The task recording the previous exchange's response. The next
    /// exchange waits for it, so that one connection's events stay in order
    /// in the capture even when the hub is busy.
    pending: Mutex<Option<JoinHandle<()>>>,
}

impl ConnState {
    /// The state of connection `id` from `peer`, opened now.
    pub fn new(id: u64, peer: SocketAddr) -> ConnState {
        ConnState {
            id,
            peer,
            peer_ip: peer.ip().to_string(),
            opened: Instant::now(),
            exchanges: AtomicU64::new(0),
            upgraded: AtomicBool::new(false),
            pending: Mutex::new(None),
        }
    }

    /// Whether the connection was handed over to a WebSocket frame relay.
    pub fn is_upgraded(&self) -> bool {
        self.upgraded.load(Ordering::Relaxed)
    }

    /// Counts a new exchange on this connection.
    pub fn exchange_started(&self) {
        self.exchanges.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks the connection as handed over to a WebSocket frame relay.
    pub fn mark_upgraded(&self) {
        self.upgraded.store(true, Ordering::Relaxed);
    }

    /// Registers the task that records the current exchange's response.
    pub fn set_pending(&self, task: JoinHandle<()>) {
        if let Ok(mut slot) = self.pending.lock() {
            *slot = Some(task);
        }
    }

    /// Waits until the previous exchange is fully recorded.
    pub async fn previous_recorded(&self) {
        let task = self.pending.lock().ok().and_then(|mut slot| slot.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Records `conn_close`.
    pub async fn record_close(&self, recorder: &Recorder) {
        let close = ConnClose {
            duration_us: self.opened.elapsed().as_micros() as u64,
            exchanges: self.exchanges.load(Ordering::Relaxed),
        };
        recorder
            .record(Some(self.id), EventKind::ConnClose(close))
            .await;
    }
}
