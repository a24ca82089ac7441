//! WebSocket upgrades: connect to the upstream first, then answer the client.
//!
//! The client's upgrade request goes to the upstream on a dedicated
//! connection with the client's own headers, `Sec-WebSocket-Key` included, so
//! the upstream's `Sec-WebSocket-Accept` is valid for the client and its 101
//! can be relayed as it came. `Sec-WebSocket-Extensions` passes both ways
//! untouched: the frame relay ([`super::relay`]) forwards compressed frames
//! as they are and inflates its own copy to record. An upstream that
//! answers anything but 101 (a 403 from Channels' origin validator, a 404, a
//! 401) has that answer relayed to the client untouched and recorded as a
//! refused handshake: one of the failures users most need to see.

use bytes::Bytes;
use http::{header, Request, Response, StatusCode, Version};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::body::{BodyOutcome, BoxError};
use super::exchange::{full, Exchange, RequestHead};
use super::head_tap::Head;
use super::relay::inflate::Extensions;
use super::relay::{self, RelayContext};
use super::{error, headers, ProxyBody, Shared};
use crate::event::{
    headers_from, ErrorEvent, ErrorKind, EventKind, HttpResponse, Side, WsHandshake,
};

/// Bridges one upgrade request; returns what the client should get.
pub(super) async fn bridge(mut req: Request<Incoming>, ex: Exchange) -> Response<ProxyBody> {
    let head = RequestHead::of(&req);
    let uri = req.uri().to_string();
    let subprotocols_offered = headers::list(req.headers(), "sec-websocket-protocol");
    ex.record_request(head, BodyOutcome::default()).await;
    let client_upgrade = hyper::upgrade::on(&mut req);
    let exchange = ex.id;
    let handshake =
        |status: u16, subprotocol: Option<String>, extensions: Vec<String>| WsHandshake {
            exchange,
            uri: uri.clone(),
            status,
            accepted: status == 101,
            subprotocols_offered: subprotocols_offered.clone(),
            subprotocol,
            extensions,
            extensions_dropped: Vec::new(),
            dialect: None,
        };

    let timeout = ex.shared.config.handshake_timeout;
    let answer = tokio::time::timeout(timeout, open_upstream(&ex, &req)).await;
    let (mut response, head) = match answer {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => {
            let kind = error::classify(e.as_ref());
            let message = format!(
                "WebSocket upgrade failed: {}",
                error::explain(e.as_ref(), &ex.shared.config.upstream.display)
            );
            ex.record(EventKind::WsHandshake(handshake(502, None, Vec::new())))
                .await;
            return ex
                .fail(Side::Upstream, kind, message, StatusCode::BAD_GATEWAY)
                .await;
        }
        Err(_) => {
            let message =
                format!("the upstream did not answer the WebSocket upgrade within {timeout:?}");
            ex.record(EventKind::WsHandshake(handshake(504, None, Vec::new())))
                .await;
            return ex
                .fail(
                    Side::Upstream,
                    ErrorKind::Timeout,
                    message,
                    StatusCode::GATEWAY_TIMEOUT,
                )
                .await;
        }
    };
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        let status = response.status().as_u16();
        ex.record(EventKind::WsHandshake(handshake(status, None, Vec::new())))
            .await;
        return ex.relay_refusal(response, timeout, head.headers()).await;
    }

    let subprotocol = response
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let extensions = headers::list(response.headers(), "sec-websocket-extensions");
    let accepted = Extensions::negotiated(&extensions);
    ex.record(EventKind::WsHandshake(handshake(
        101,
        subprotocol,
        extensions,
    )))
    .await;
    let upstream_upgrade = hyper::upgrade::on(&mut response);
    let (parts, _) = response.into_parts();
    let recorded = HttpResponse {
        exchange: ex.id,
        status: 101,
        // As the upstream sent them: in order, duplicates apart.
        headers: head
            .headers()
            .unwrap_or_else(|| headers_from(&parts.headers)),
        body: Default::default(),
        duration_us: ex.elapsed_us(),
    };
    ex.record(EventKind::HttpResponse(recorded)).await;
    ex.conn.mark_upgraded();
    let tasks = ex.shared.tasks.clone();
    tasks.spawn(run_websocket(
        client_upgrade,
        upstream_upgrade,
        ex,
        accepted,
    ));
    Response::from_parts(parts, full(Bytes::new()))
}

/// Sends the upgrade request to the upstream on a connection of its own.
async fn open_upstream(
    ex: &Exchange,
    req: &Request<Incoming>,
) -> Result<(Response<Incoming>, Head), BoxError> {
    let shared: &Shared = &ex.shared;
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let target = shared.config.upstream.uri(path)?;
    let mut headers = req.headers().clone();
    headers::prepare_request(&mut headers, &ex.hop());
    headers::restore_upgrade(&mut headers);
    // A connection of our own: the request line carries the origin form.
    let mut upstream_req = Request::new(Empty::<Bytes>::new());
    *upstream_req.uri_mut() = target
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()?;
    *upstream_req.version_mut() = Version::HTTP_11;
    *upstream_req.headers_mut() = headers;
    // The client's header names in their case (hyper keeps it there).
    *upstream_req.extensions_mut() = req.extensions().clone();
    super::upstream::send_on_own_connection(
        &shared.connector,
        &target,
        upstream_req,
        shared.shutdown.clone(),
    )
    .await
}

/// Waits for both sides to switch protocols, then relays frames until the
/// WebSocket ends; records `ws_close` and `conn_close`.
async fn run_websocket(
    client: OnUpgrade,
    upstream: OnUpgrade,
    ex: Exchange,
    extensions: Extensions,
) {
    let recorder = ex.shared.recorder.clone();
    match tokio::try_join!(client, upstream) {
        Ok((client, upstream)) => {
            let ctx = RelayContext {
                recorder: recorder.clone(),
                conn: ex.conn.id,
                shutdown: ex.shared.shutdown.clone(),
                shutdown_grace: ex.shared.config.shutdown_grace,
                idle_timeout: ex.shared.config.idle_timeout,
                extensions,
            };
            let close = relay::relay(TokioIo::new(client), TokioIo::new(upstream), &ctx).await;
            ex.record(EventKind::WsClose(close)).await;
        }
        Err(e) => {
            let error = ErrorEvent {
                side: Side::Proxy,
                kind: ErrorKind::Protocol,
                message: format!("switching to WebSocket failed: {e}"),
            };
            ex.record(EventKind::Error(error)).await;
        }
    }
    ex.conn.record_close(&recorder).await;
}
