//! One accepted client connection: HTTP/1.1 with upgrades.
//!
//! The task records `conn_open`, serves requests until the client goes away
//! or shutdown starts, and records `conn_close`; a connection upgraded to a
//! WebSocket is closed by its pump instead. Failures of the connection (a
//! malformed request, a header timeout, a reset) are recorded as `error`
//! events with the client's side and end this connection only.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::{exchange::Exchange, Shared, SHUTDOWN_GRACE};
use crate::event::{ConnClose, ConnOpen, ErrorEvent, ErrorKind, EventKind, Side};
use crate::sink::Recorder;

/// What the exchanges of one connection share.
pub(super) struct ConnState {
    /// The connection number in the capture.
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    opened: Instant,
    exchanges: AtomicU64,
    /// Set once the connection became a WebSocket; its pump then owns the
    /// `conn_close`.
    upgraded: AtomicBool,
    /// The task recording the previous exchange's response. The next
    /// exchange waits for it, so that one connection's events stay in order
    /// in the capture even when the hub is busy.
    pending: Mutex<Option<JoinHandle<()>>>,
}

impl ConnState {
    /// Counts a new exchange on this connection.
    pub fn exchange_started(&self) {
        self.exchanges.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks the connection as handed over to a WebSocket pump.
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

/// Serves one client connection until it ends.
pub(super) async fn serve(stream: TcpStream, peer: SocketAddr, id: u64, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let conn = Arc::new(ConnState {
        id,
        peer,
        opened: Instant::now(),
        exchanges: AtomicU64::new(0),
        upgraded: AtomicBool::new(false),
        pending: Mutex::new(None),
    });
    let recorder = shared.recorder.clone();
    let open = ConnOpen {
        peer: peer.to_string(),
    };
    recorder.record(Some(id), EventKind::ConnOpen(open)).await;

    let service = service_fn({
        let (conn, shared) = (conn.clone(), shared.clone());
        move |req| Exchange::serve(req, conn.clone(), shared.clone())
    });
    // The connection lives in this block only: it owns the body of a
    // response still streaming, whose recording task the code below waits
    // for; dropping the connection first ends that body (recorded as cut
    // off) instead of waiting for it forever.
    let result = {
        let http = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(shared.config.header_read_timeout)
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        tokio::pin!(http);
        tokio::select! {
            result = http.as_mut() => result,
            () = shared.shutdown.cancelled() => {
                http.as_mut().graceful_shutdown();
                tokio::time::timeout(SHUTDOWN_GRACE, http).await.unwrap_or(Ok(()))
            }
        }
    };
    if let Err(e) = result {
        let kind = super::error::recognize(&e).unwrap_or(ErrorKind::Io);
        tracing::debug!(conn = id, %peer, error = %e, "client connection failed");
        let error = ErrorEvent {
            side: Side::Client,
            kind,
            message: super::error::chain(&e),
        };
        recorder.record(Some(id), EventKind::Error(error)).await;
    }
    conn.previous_recorded().await;
    if !conn.upgraded.load(Ordering::Relaxed) {
        conn.record_close(&recorder).await;
    }
}
