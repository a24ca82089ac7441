//! wsdiag's own HTTP/1.1 forwarder for plain requests (RFC 9112).
//!
//! Each client connection is served by one task that reads a request head
//! ([`head`]), forwards it on that connection's own upstream connection
//! (made on the first request, kept while both sides keep alive, made
//! again when the upstream closed it between requests), reads the
//! upstream's answer ([`answer`]: interim responses go to the client as
//! they come), then relays the response as it streams ([`body`]). While a
//! request body streams, the upstream is watched for an answer before its
//! end ([`exchange`]). Nothing hands a request to another
//! task, and a small exchange takes one read and one write each way. Names
//! and values of header fields pass in the order and case they came, with
//! only the proxy's changes ([`crate::proxy::headers::prepare_request`]).
//! Chunked bodies pass as they came; [`chunked`] finds their end and data.
//!
//! It replaced hyper's server and pooled client for plain requests: those
//! took 7.8 µs of user space per 100-byte round trip, nginx 2.8
//! (`docs/performance.md`). What it does not do itself, it hands to hyper
//! with the bytes it read ([`prefixed`]), for the rest of the connection:
//! a WebSocket upgrade (hyper's upgrade machinery bridges it), and an
//! HTTP/1.0 client (which needs a chunked answer decoded).

mod answer;
mod body;
pub mod chunked;
mod exchange;
pub mod head;
mod prefixed;

use std::sync::Arc;

use http::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use self::body::Peer;
use self::head::{HeadError, RequestHead};
use super::conn_state::ConnState;
use super::exchange::Exchange;
use super::headers;
use super::upstream::Io;
use super::Shared;
use crate::event::{ErrorEvent, ErrorKind, EventKind, Side};
pub(super) use prefixed::Prefixed;

/// How a connection's service by the forwarder ended.
pub(super) enum End {
    /// The connection is done.
    Closed,
    /// hyper serves the rest of it, starting with what was read.
    HandOff(Prefixed<TcpStream>),
}

/// What comes after an exchange.
enum Next {
    KeepAlive,
    Close,
}

/// Serves plain requests on `stream` until it closes, shutdown starts, or
/// a request needs hyper.
pub(super) async fn serve(stream: TcpStream, conn: &Arc<ConnState>, shared: &Arc<Shared>) -> End {
    let mut client = Peer::new(stream);
    let mut upstream: Option<Peer<Box<dyn Io>>> = None;
    let mut out = Vec::new();
    loop {
        let head = match read_request_head(&mut client, shared).await {
            Ok(Some(head)) => head,
            Ok(None) => return End::Closed,
            Err(failure) => {
                refuse_head(&mut client, conn, shared, failure).await;
                return End::Closed;
            }
        };
        if head.minor_version == 0 || headers::is_websocket_upgrade(&head.fields) {
            let mut read = head.raw.to_vec();
            read.extend_from_slice(&client.buf);
            return End::HandOff(Prefixed::new(&read, client.io));
        }
        let ex = Exchange::start(conn.clone(), shared.clone()).await;
        let next = exchange::exchange(&ex, head, &mut client, &mut upstream, &mut out).await;
        if matches!(next, Next::Close) {
            return End::Closed;
        }
        if shared.shutdown.is_cancelled() {
            super::linger::linger(&mut client.io, CLOSE_LINGER).await;
            return End::Closed;
        }
    }
}

/// A request head that could not be read: how it is recorded and answered.
struct HeadFailure {
    kind: ErrorKind,
    message: String,
    /// The answer's status; `None` when the client is gone.
    status: Option<u16>,
}

/// Reads the next request head. `Ok(None)` when the connection ends
/// between requests: the client closed it, it stayed idle for the header
/// read timeout, or shutdown started.
async fn read_request_head(
    client: &mut Peer<TcpStream>,
    shared: &Shared,
) -> Result<Option<RequestHead>, HeadFailure> {
    let limit = shared.config.header_read_timeout;
    // Idle, the connection may wait this long for a request; from its
    // first byte, the head must come whole within it.
    let mut deadline = tokio::time::Instant::now() + limit;
    loop {
        if !client.buf.is_empty() {
            match head::parse_request(&mut client.buf) {
                Ok(Some(head)) => return Ok(Some(head)),
                Ok(None) => {}
                Err(HeadError { status, message }) => {
                    let kind = ErrorKind::Protocol;
                    return Err(HeadFailure {
                        kind,
                        message,
                        status: Some(status),
                    });
                }
            }
        }
        let idle = client.buf.is_empty();
        let read = tokio::select! {
            biased;
            read = tokio::time::timeout_at(deadline, client.fill()) => read,
            () = shared.shutdown.cancelled(), if idle => return Ok(None),
        };
        match read {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) if idle => return Ok(None),
            Ok(Ok(0)) => {
                return Err(HeadFailure {
                    kind: ErrorKind::Reset,
                    message: "the client closed the connection in the middle of a request head"
                        .into(),
                    status: None,
                })
            }
            Ok(Ok(_)) if idle => deadline = tokio::time::Instant::now() + limit,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(HeadFailure {
                    kind: super::error::recognize(&e).unwrap_or(ErrorKind::Io),
                    message: format!("reading a request head: {e}"),
                    status: None,
                })
            }
            Err(_) => {
                return Err(HeadFailure {
                    kind: ErrorKind::Timeout,
                    message: format!(
                        "the client did not send a whole request head within {limit:?} (--header-read-timeout)"
                    ),
                    status: Some(408),
                })
            }
        }
    }
}

/// Records a request head that could not be read, then answers it.
async fn refuse_head(
    client: &mut Peer<TcpStream>,
    conn: &ConnState,
    shared: &Shared,
    failure: HeadFailure,
) {
    tracing::debug!(conn = conn.id, peer = %conn.peer, error = %failure.message, "client connection failed");
    let text = format!("wsdiag: {}\n", failure.message);
    conn.previous_recorded().await;
    let error = ErrorEvent {
        side: Side::Client,
        kind: failure.kind,
        message: failure.message,
    };
    shared
        .recorder
        .record(Some(conn.id), EventKind::Error(error))
        .await;
    if let Some(status) = failure.status {
        let _ = answer(&mut client.io, status, &text).await;
    }
}

/// How long a client gets to stop sending once wsdiag closes its
/// connection.
const CLOSE_LINGER: std::time::Duration = std::time::Duration::from_secs(2);

/// Writes an answer of wsdiag's own, a plain text `body` with `status`,
/// and closes the connection after it, lingering
/// ([`super::linger::linger`]): a client still sending the request would
/// otherwise get a reset instead of the answer.
async fn answer(to: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let message = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    to.write_all(message.as_bytes()).await?;
    super::linger::linger(to, CLOSE_LINGER).await;
    Ok(())
}

/// Records a failure of this exchange, answers the client with `status`
/// and ends the connection.
async fn fail(
    ex: &Exchange,
    client: &mut Peer<TcpStream>,
    side: Side,
    kind: ErrorKind,
    message: String,
    status: StatusCode,
) -> Next {
    let text = ex.failure(side, kind, message, status).await;
    let _ = answer(&mut client.io, status.as_u16(), &text).await;
    Next::Close
}
