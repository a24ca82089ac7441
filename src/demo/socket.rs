//! The sample backend's WebSocket endpoints: the chat consumer and the echo.
//!
//! The handshake is checked like Channels' `AllowedHostsOriginValidator`
//! does (an `Origin` from another host gets 403), then upgraded through
//! hyper and driven by tokio-tungstenite.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http::{header, Request, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::auth::user_of;
use super::chat::{Chat, User};
use super::response::{json as json_response, respond, DemoResponse};

type Socket = crate::http_server::ServerSocket;

/// Which endpoint an upgrade is for.
pub enum Route {
    /// `/ws/chat/<conversation>/`.
    Chat(u64, Arc<Chat>),
    /// `/ws/echo/`.
    Echo,
}

/// Answers an upgrade request and starts the endpoint's session.
pub fn accept(
    mut req: Request<Incoming>,
    route: Route,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) -> DemoResponse {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    if origin.is_some_and(|o| !local_origin(o)) {
        return respond(
            StatusCode::FORBIDDEN,
            "text/plain",
            "Access denied: origin not allowed\n".into(),
        );
    }
    let protocol = crate::proxy::headers::list(req.headers(), "sec-websocket-protocol")
        .into_iter()
        .next();
    let user = match &route {
        Route::Chat(_, chat) => user_of(chat, req.headers(), req.uri().query()),
        Route::Echo => None,
    };
    let session = move |ws| async move {
        match route {
            Route::Chat(conversation, chat) => {
                chat_session(ws, conversation, &chat, user, shutdown).await
            }
            Route::Echo => echo_session(ws, shutdown).await,
        }
    };
    match crate::http_server::accept_websocket(&mut req, protocol.as_deref(), session) {
        Some((response, task)) => {
            tasks.spawn(task);
            response
        }
        None => json_response(
            StatusCode::BAD_REQUEST,
            &json!({"detail": "not a WebSocket handshake"}),
        ),
    }
}

/// True when `origin` is a loopback page (the demo's allowed hosts).
fn local_origin(origin: &str) -> bool {
    let host = origin.split("://").nth(1).unwrap_or(origin);
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// The chat consumer.
async fn chat_session(
    mut ws: Socket,
    conversation: u64,
    chat: &Chat,
    user: Option<User>,
    shutdown: CancellationToken,
) {
    let Some(user) = user else {
        let _ = ws
            .close(Some(close(
                CloseCode::Library(4001),
                "authentication required",
            )))
            .await;
        drain(&mut ws).await;
        return;
    };
    let (member, mut outbox) = chat.join(conversation, user);
    announce_presence(chat, conversation);
    let unread = json!({"type": "notifications_non_lues", "count": 2});
    let _ = ws.send(text(&unread)).await;
    let general = json!({"type": "notification_general", "data": {"message": format!("{} est en ligne", user.username)}});
    chat.send_to(conversation, &general, |u| u != user);
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(t))) => match on_client_message(chat, conversation, user, t.as_str()) {
                    Reply::None => {}
                    Reply::ToSender(reply) => {
                        let _ = ws.send(text(&reply)).await;
                    }
                    Reply::Crash => {
                        // What daphne does when a consumer raises.
                        let _ = ws.close(Some(close(CloseCode::Error, ""))).await;
                        drain(&mut ws).await;
                        break;
                    }
                },
                // A close is answered by tungstenite on the next read.
                Some(Ok(_)) => {}
                None | Some(Err(_)) => break,
            },
            Some(out) = outbox.recv() => {
                if ws.send(text(&out)).await.is_err() {
                    break;
                }
            }
            () = shutdown.cancelled() => {
                let _ = ws.close(Some(close(CloseCode::Away, "server shutting down"))).await;
                break;
            }
        }
    }
    chat.leave(member);
    announce_presence(chat, conversation);
}

/// What the consumer does after a client message.
enum Reply {
    /// Nothing more (the broadcast went out).
    None,
    /// A message for the sender only.
    ToSender(Value),
    /// The consumer raised (like a `KeyError` in `receive_json`): the
    /// server closes the socket with 1011.
    Crash,
}

/// Handles one client message.
fn on_client_message(chat: &Chat, conversation: u64, user: User, text: &str) -> Reply {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Reply::ToSender(json!({"type": "error", "error": "invalid JSON"}));
    };
    match (value["type"].as_str(), value["message"].as_str()) {
        (Some("chat_message"), Some(message)) => {
            let saved = chat.save(conversation, user, message);
            chat.send_to(
                conversation,
                &json!({"type": "chat_message", "data": saved}),
                |_| true,
            );
            let note = json!({"type": "notification_personal", "data": {
                "conversation": conversation,
                "message": format!("Nouveau message de {}", user.username),
            }});
            if !chat.quirks.skip_personal_notification {
                chat.send_to(conversation, &note, |u| u != user);
            }
            Reply::None
        }
        (Some("chat_message"), None) => Reply::Crash,
        _ => Reply::ToSender(json!({"type": "error", "error": "unknown message type"})),
    }
}

fn announce_presence(chat: &Chat, conversation: u64) {
    let online = json!({"type": "online_users_update", "users": chat.online(conversation)});
    chat.send_to(conversation, &online, |_| true);
}

/// The echo endpoint, scripted by message content (see the module docs of
/// `backend`).
async fn echo_session(mut ws: Socket, shutdown: CancellationToken) {
    loop {
        let message = tokio::select! {
            m = ws.next() => m,
            () = shutdown.cancelled() => {
                let _ = ws.close(Some(close(CloseCode::Away, "server shutting down"))).await;
                drain(&mut ws).await;
                return;
            }
        };
        match message {
            Some(Ok(Message::Text(t))) => match t.as_str() {
                // Drop the TCP connection without a close frame.
                "drop" => return,
                "close" => {
                    let _ = ws.close(Some(close(CloseCode::Normal, "bye"))).await;
                }
                command if command.starts_with("close:") => {
                    let mut parts = command.splitn(3, ':').skip(1);
                    let code = parts
                        .next()
                        .and_then(|c| c.parse::<u16>().ok())
                        .unwrap_or(1000);
                    let reason = parts.next().unwrap_or("").to_owned();
                    let _ = ws.close(Some(close(CloseCode::from(code), &reason))).await;
                }
                _ => {
                    let _ = ws.send(Message::Text(t)).await;
                }
            },
            Some(Ok(message @ Message::Binary(_))) => {
                let _ = ws.send(message).await;
            }
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return,
        }
    }
}

/// Reads until the close handshake completes.
async fn drain(ws: &mut Socket) {
    while let Some(Ok(_)) = ws.next().await {}
}

fn close(code: CloseCode, reason: &str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }
}

fn text(value: &Value) -> Message {
    Message::Text(value.to_string().into())
}

#[cfg(test)]
mod tests {
    use super::local_origin;

    #[test]
    fn only_loopback_origins_are_allowed() {
        assert!(local_origin("http://127.0.0.1:9000"));
        assert!(local_origin("http://localhost"));
        assert!(!local_origin("https://evil.example"));
        assert!(!local_origin("http://evil.example:9000"));
    }
}
