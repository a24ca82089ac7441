//! The demo's scripted client: the chat frontend's two send paths.
//!
//! alice and bob open the chat socket (alice by cookie, bob by `?token=`),
//! alice sends "cc" over the WebSocket (saved, broadcast to both), then the
//! same message over REST like the frontend's axios call (500), then lists
//! the messages; bob leaves, then alice.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{header, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::chat::{CONVERSATION, USERS};

/// How long the client waits for any expected answer.
const PATIENCE: Duration = Duration::from_secs(5);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why the scripted client could not play its scenario.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A WebSocket could not be opened or used.
    #[error("WebSocket {path} failed")]
    WebSocket {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
    /// An expected message did not arrive.
    #[error("no {msg_type} message arrived within {PATIENCE:?}")]
    Timeout {
        /// The `type` waited for.
        msg_type: String,
    },
    /// A REST call failed below HTTP.
    #[error("REST {0}")]
    Http(String),
}

/// What the scenario observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The WebSocket send was broadcast back to both users.
    pub ws_delivered: bool,
    /// The status of the REST send.
    pub rest_status: u16,
    /// How many messages the REST list returned afterwards.
    pub listed: usize,
}

/// Plays the scenario against `target` (the proxy).
pub async fn run(target: SocketAddr) -> Result<Outcome, ClientError> {
    let [alice, bob] = USERS;
    let chat_path = format!("/ws/chat/{CONVERSATION}/");
    let mut alice_ws = open(target, &chat_path, Some(alice.session)).await?;
    let mut bob_ws = open(target, &format!("{chat_path}?token={}", bob.token), None).await?;
    wait_for(&mut alice_ws, "notifications_non_lues").await?;
    wait_for(&mut bob_ws, "notifications_non_lues").await?;

    let send = json!({"type": "chat_message", "message": "cc"});
    alice_ws
        .send(Message::Text(send.to_string().into()))
        .await
        .map_err(|e| ws_error(&chat_path, e))?;
    let to_alice = wait_for(&mut alice_ws, "chat_message").await?;
    let to_bob = wait_for(&mut bob_ws, "chat_message").await?;
    let ws_delivered = to_alice["data"]["message"] == "cc" && to_bob["data"]["message"] == "cc";

    let rest_path = format!("/api/conversations/{CONVERSATION}/messages/");
    let rest = Rest::new(target, alice.session);
    let (rest_status, _) = rest
        .call(Method::POST, &rest_path, Some(json!({"message": "cc"})))
        .await?;
    let (_, listed) = rest.call(Method::GET, &rest_path, None).await?;
    let listed = listed.as_array().map_or(0, Vec::len);

    let _ = bob_ws.close(Some(leaving())).await;
    while bob_ws.next().await.is_some() {}
    wait_for(&mut alice_ws, "online_users_update").await?;
    let _ = alice_ws.close(Some(leaving())).await;
    while alice_ws.next().await.is_some() {}
    Ok(Outcome {
        ws_delivered,
        rest_status,
        listed,
    })
}

/// The close frame a user leaving the chat page sends.
fn leaving() -> CloseFrame {
    CloseFrame {
        code: CloseCode::Normal,
        reason: "leaving the chat".into(),
    }
}

async fn open(
    target: SocketAddr,
    path: &str,
    session: Option<&str>,
) -> Result<Socket, ClientError> {
    let url = format!("ws://{target}{path}");
    let mut request = url.into_client_request().map_err(|e| ws_error(path, e))?;
    let headers = request.headers_mut();
    if let Ok(origin) = header::HeaderValue::from_str(&format!("http://{target}")) {
        headers.insert(header::ORIGIN, origin);
    }
    if let Some(cookie) =
        session.and_then(|s| header::HeaderValue::from_str(&format!("sessionid={s}")).ok())
    {
        headers.insert(header::COOKIE, cookie);
    }
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| ws_error(path, e))?;
    Ok(ws)
}

/// Reads until a JSON message of `msg_type` arrives.
async fn wait_for(ws: &mut Socket, msg_type: &str) -> Result<Value, ClientError> {
    let timeout = || ClientError::Timeout {
        msg_type: msg_type.to_owned(),
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| timeout())?;
        match next {
            Some(Ok(Message::Text(t))) => {
                let value: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                if value["type"] == msg_type {
                    return Ok(value);
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(ws_error("(open socket)", e)),
            None => return Err(timeout()),
        }
    }
}

fn ws_error(path: &str, e: tokio_tungstenite::tungstenite::Error) -> ClientError {
    ClientError::WebSocket {
        path: path.to_owned(),
        source: Box::new(e),
    }
}

/// The frontend's REST calls, made like axios makes them.
struct Rest {
    client: Client<HttpConnector, Full<Bytes>>,
    target: SocketAddr,
    session: &'static str,
}

impl Rest {
    fn new(target: SocketAddr, session: &'static str) -> Rest {
        Rest {
            client: Client::builder(TokioExecutor::new()).build_http(),
            target,
            session,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), ClientError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.target))
            .header(header::ACCEPT, "application/json, text/plain, */*")
            .header(header::COOKIE, format!("sessionid={}", self.session))
            .header(header::ORIGIN, format!("http://{}", self.target));
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let request = builder
            .body(Full::new(body))
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| ClientError::Http(crate::proxy::error_chain(&e)))?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?
            .to_bytes();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }
}
