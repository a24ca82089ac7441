//! The echo upstream of the benchmark and of the Autobahn comparison
//! (`examples/echo_upstream.rs`): a WebSocket echo on any path, written with
//! tokio-tungstenite and compliant enough for Autobahn|Testsuite (it closes
//! a peer that breaks the protocol with 1002, 1007 or 1009), and `POST` of
//! any other path answered with its own body, for REST load.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::HeaderValue;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::WebSocketStream;

/// Serves `listener` until the process ends.
pub async fn serve(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|req| async move { Ok::<_, Infallible>(answer(req).await) });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

async fn answer(mut req: hyper::Request<hyper::body::Incoming>) -> hyper::Response<Full<Bytes>> {
    let Some(key) = req.headers().get(http::header::SEC_WEBSOCKET_KEY).cloned() else {
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return hyper::Response::new(Full::new(body));
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(upgraded) = upgrade.await {
            let ws =
                WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
            echo(ws).await;
        }
    });
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut response = hyper::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONNECTION,
        HeaderValue::from_static("Upgrade"),
    );
    headers.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(http::header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// Sends every text and binary message back; tungstenite answers pings and
/// the close handshake itself.
async fn echo<S>(mut ws: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(next) = ws.next().await {
        match next {
            Ok(m) if m.is_text() || m.is_binary() => {
                if ws.send(m).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                if let Some((code, reason)) = wsdiag::proxy::close_for_error(&e) {
                    let frame = CloseFrame {
                        code,
                        reason: reason.into(),
                    };
                    let _ = ws.close(Some(frame)).await;
                }
                return;
            }
        }
    }
}
