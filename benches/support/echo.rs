//! The echo upstream of the benchmark and of the Autobahn comparison
//! (`examples/echo_upstream.rs`): a WebSocket echo on any path, written with
//! tokio-tungstenite and compliant enough for Autobahn|Testsuite (it closes
//! a peer that breaks the protocol with 1002, 1007 or 1009), and `POST` of
//! any other path answered with its own body, for REST load.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::WebSocketStream;

/// Serves `listener` until the process ends.
pub async fn serve(listener: TcpListener) {
    let forever = tokio_util::sync::CancellationToken::new();
    let tasks = tokio_util::task::TaskTracker::new();
    wsdiag::http_server::serve(listener, forever, tasks, "echo upstream", answer).await;
}

async fn answer(mut req: hyper::Request<hyper::body::Incoming>) -> hyper::Response<Full<Bytes>> {
    match wsdiag::http_server::accept_websocket(&mut req, None, echo) {
        Some((response, task)) => {
            tokio::spawn(task);
            response
        }
        None => {
            let body = wsdiag::http_server::read_body(req.into_body()).await;
            hyper::Response::new(Full::new(body))
        }
    }
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
                if let Some((code, reason)) = close_for_error(&e) {
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

/// The close an endpoint answers a read error with, when the error is the
/// peer's protocol violation (not a dropped connection): 1007 for invalid
/// UTF-8, 1009 for a message over the limit, 1002 for the rest (RFC 6455
/// section 7.4.1).
fn close_for_error(error: &WsError) -> Option<(CloseCode, String)> {
    match error {
        WsError::Utf8(_) => Some((CloseCode::Invalid, "invalid UTF-8".into())),
        WsError::Capacity(e) => Some((CloseCode::Size, e.to_string())),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        WsError::Protocol(e) => Some((CloseCode::Protocol, e.to_string())),
        _ => None,
    }
}
