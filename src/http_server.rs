//! The small HTTP/1.1 servers wsdiag runs besides the proxy (the sample
//! backend, the mock, the web viewer, and the benchmark's echo upstream):
//! one accept loop, with upgrades, until shutdown, then it waits for the
//! tasks it spawned; and one way to accept a WebSocket on them.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A request body read whole; one that fails midway reads as empty (these
/// servers are test and demo fixtures, not the proxy).
pub async fn read_body(body: Incoming) -> bytes::Bytes {
    use http_body_util::BodyExt as _;
    body.collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}

/// Serves `listener` with `handle` until `shutdown` is cancelled, then waits
/// for every task in `tasks` (connections, and whatever `handle` spawned
/// there). `name` goes into log lines.
pub async fn serve<F, Fut, B>(
    listener: TcpListener,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    name: &'static str,
    handle: F,
) where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and similar: back off, don't spin.
                    tracing::warn!(error = %e, "{name}: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let handle = handle.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let service = service_fn(move |req| {
                let handle = handle.clone();
                async move { Ok::<_, Infallible>(handle(req).await) }
            });
            let conn = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                () = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "{name}: connection ended");
            }
        });
    }
    tasks.close();
    tasks.wait().await;
}

/// A server-side WebSocket on a connection hyper has upgraded.
pub type ServerSocket = tokio_tungstenite::WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Accepts a WebSocket upgrade request: the 101 response to send (with
/// `subprotocol` chosen, if any) and the task to spawn, which runs
/// `session` once hyper has switched protocols. `None` when the request
/// carries no `Sec-WebSocket-Key`.
pub fn accept_websocket<F, Fut>(
    req: &mut Request<Incoming>,
    subprotocol: Option<&str>,
    session: F,
) -> Option<(
    Response<http_body_util::Full<bytes::Bytes>>,
    impl Future<Output = ()> + Send + 'static,
)>
where
    F: FnOnce(ServerSocket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    use http::{header, HeaderValue, StatusCode};
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    use tokio_tungstenite::tungstenite::protocol::Role;

    let key = req.headers().get(header::SEC_WEBSOCKET_KEY)?;
    let accept = HeaderValue::from_str(&derive_accept_key(key.as_bytes())).ok()?;
    let upgrade = hyper::upgrade::on(&mut *req);
    let task = async move {
        if let Ok(upgraded) = upgrade.await {
            let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                None,
            )
            .await;
            session(ws).await;
        }
    };
    let mut response = Response::new(http_body_util::Full::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    if let Some(p) = subprotocol.and_then(|p| HeaderValue::from_str(p).ok()) {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    Some((response, task))
}
