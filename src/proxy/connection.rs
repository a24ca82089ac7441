//! One accepted client connection: HTTP/1.1 with upgrades.
//!
//! The task records `conn_open`, serves requests until the client goes away
//! or shutdown starts, and records `conn_close`; a connection upgraded to a
//! WebSocket is closed by its frame relay instead. Failures of the connection (a
//! malformed request, a header timeout, a reset) are recorded as `error`
//! events with the client's side and end this connection only.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response, StatusCode};
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

    let service = service_fn({
        let (conn, shared) = (conn.clone(), shared.clone());
        move |req| route(req, conn.clone(), shared.clone())
    });
    // The connection lives in this block only: it owns the body of a
    // response still streaming, whose recording task the code below waits
    // for; dropping the connection first ends that body (recorded as cut
    // off) instead of waiting for it forever.
    let result = {
        let http = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(shared.config.header_read_timeout)
            // The client's header names reach the upstream in their case.
            .preserve_header_case(true)
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        tokio::pin!(http);
        tokio::select! {
            result = http.as_mut() => result,
            () = shared.shutdown.cancelled() => {
                http.as_mut().graceful_shutdown();
                tokio::time::timeout(shared.config.shutdown_grace, http).await.unwrap_or(Ok(()))
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
    if !conn.is_upgraded() {
        conn.record_close(&recorder).await;
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
    let response = if let Some((status, message)) = refusal(&req, &exchange.shared.via) {
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

/// Why a request is refused rather than forwarded, if it is: one that
/// carries this proxy's own `Via` went round in a loop (508 Loop Detected,
/// RFC 5842), and wsdiag is a reverse proxy for one upstream that must never
/// become an open proxy, so a forward-proxy request (`CONNECT`, or an
/// absolute-form target naming a host) gets a clear refusal instead of being
/// sent anywhere.
fn refusal<B>(req: &Request<B>, via: &str) -> Option<(StatusCode, String)> {
    if headers::came_through(req.headers(), via) {
        let message = format!(
            "forwarding loop: {} {} came back through this wsdiag (its Via); --upstream leads back to wsdiag itself: point it at your backend",
            req.method(),
            req.uri()
        );
        return Some((StatusCode::LOOP_DETECTED, message));
    }
    if req.method() == http::Method::CONNECT {
        let message = format!(
            "CONNECT {} refused: wsdiag is a reverse proxy for one upstream, not a forward proxy; \
             point the client at wsdiag's address instead of using it as an HTTP proxy",
            req.uri()
        );
        return Some((StatusCode::METHOD_NOT_ALLOWED, message));
    }
    if req.uri().authority().is_some() {
        let message = format!(
            "the absolute-form request target {} is refused: wsdiag forwards only to its upstream; \
             send the path (origin-form), as browsers do",
            req.uri()
        );
        return Some((StatusCode::BAD_REQUEST, message));
    }
    None
}
