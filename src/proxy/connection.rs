//! One accepted client connection: HTTP/1.1 with upgrades.
//!
//! The task records `conn_open`, serves requests until the client goes away
//! or shutdown starts, and records `conn_close`. wsdiag's own forwarder
//! ([`super::h1`]) serves plain requests; what it hands over (a WebSocket
//! upgrade, an HTTP/1.0 client) hyper serves for the rest of the
//! connection, routing each request to [`super::upgrade`] or
//! [`super::forward`]. A connection upgraded to a
//! WebSocket is closed by its frame relay instead. Failures of the connection (a
//! malformed request, a header timeout, a reset) are recorded as `error`
//! events with the client's side and end this connection only.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::body::BodyOutcome;
use super::conn_state::ConnState;
use super::exchange::{Exchange, RequestHead};
use super::{headers, ProxyBody, Shared};
use crate::event::{ConnOpen, ErrorEvent, ErrorKind, EventKind, Side};

/// Serves one client connection until it ends.
pub(super) async fn serve(stream: TcpStream, peer: SocketAddr, id: u64, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let conn = Arc::new(ConnState::new(id, peer));
    let recorder = shared.recorder.clone();
    let open = ConnOpen {
        peer: peer.to_string(),
    };
    recorder.record(Some(id), EventKind::ConnOpen(open)).await;

    let result = match super::h1::serve(stream, &conn, &shared).await {
        super::h1::End::Closed => Ok(()),
        super::h1::End::HandOff(io) => serve_hyper(io, &conn, &shared).await,
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
    if !conn.is_upgraded() {
        conn.record_close(&recorder).await;
    }
}

/// Serves the rest of a connection the forwarder handed over with hyper:
/// WebSocket upgrades and HTTP/1.0 clients.
async fn serve_hyper(
    io: super::h1::Prefixed<TcpStream>,
    conn: &Arc<ConnState>,
    shared: &Arc<Shared>,
) -> Result<(), hyper::Error> {
    let service = service_fn({
        let (conn, shared) = (conn.clone(), shared.clone());
        move |req| route(req, conn.clone(), shared.clone())
    });
    // The connection lives in this function only: it owns the body of a
    // response still streaming, whose recording task the caller waits
    // for; dropping the connection first ends that body (recorded as cut
    // off) instead of waiting for it forever.
    let http = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.config.header_read_timeout)
        // The client's header names reach the upstream in their case.
        .preserve_header_case(true)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(http);
    tokio::select! {
        result = http.as_mut() => result,
        () = shared.shutdown.cancelled() => {
            http.as_mut().graceful_shutdown();
            tokio::time::timeout(shared.config.shutdown_grace, http).await.unwrap_or(Ok(()))
        }
    }
}

/// hyper's service function: one call per request on a connection. A
/// WebSocket upgrade goes to [`super::upgrade`], anything else to
/// [`super::forward`], unless it is refused.
async fn route(
    req: Request<Incoming>,
    conn: Arc<ConnState>,
    shared: Arc<Shared>,
) -> Result<Response<ProxyBody>, Infallible> {
    let exchange = Exchange::start(conn, shared).await;
    let looped = headers::came_through(req.headers(), &exchange.shared.via);
    let target = req.uri().to_string();
    let response = if let Some((status, message)) =
        super::refusal::refusal(req.method().as_str(), &target, looped)
    {
        exchange
            .record_request(RequestHead::of(&req), BodyOutcome::default())
            .await;
        exchange
            .fail(Side::Client, ErrorKind::Refused, message, status)
            .await
    } else if headers::is_websocket_upgrade(req.headers()) {
        super::upgrade::bridge(req, exchange).await
    } else {
        super::forward::forward(req, exchange).await
    };
    Ok(response)
}
