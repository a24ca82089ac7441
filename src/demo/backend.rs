//! The sample chat backend: the Django Channels + DRF app wsdiag was born
//! from, in a few hundred lines, with its REST bug.
//!
//! Routes (the chat's own protocol):
//! - `ws://HOST/ws/chat/<conversation>/`: authenticated by the `sessionid`
//!   cookie or `?token=`; `{"type":"chat_message","message":"..."}` is saved
//!   and broadcast as `{"type":"chat_message","data":{...}}`; joins and
//!   leaves broadcast `online_users_update`; a new connection gets
//!   `notifications_non_lues`, the others `notification_general`; a chat
//!   message sends the other members `notification_personal`; an unknown
//!   `type` gets `{"type":"error",...}`; a `chat_message` without a
//!   `message` string makes the consumer "raise": close 1011, as daphne does.
//! - `GET /api/conversations/<id>/messages/` lists saved messages;
//!   `POST` fails with a 500 like a DRF serializer that never sets the
//!   sender; `OPTIONS` describes the serializer like DRF does.
//!
//! And two routes for trying the proxy by hand and for its tests:
//! - `ws://HOST/ws/echo/`: echoes text and binary; the text `close` closes
//!   with 1000, `close:CODE:REASON` with that code, `drop` drops the TCP
//!   connection without a close frame.
//! - `/api/echo/`: answers any method with what it received (method, path,
//!   headers, body length) as JSON, with two `Set-Cookie` headers.

use std::sync::Arc;

use http::{header, HeaderMap, Method, Request, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::auth::user_of;
use super::chat::{Chat, Quirks};
use super::response::{json, respond, DemoResponse};
use super::{pages, socket};

/// Serves the sample backend on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, shutdown: CancellationToken) {
    serve_with(listener, shutdown, Quirks::default()).await;
}

/// Serves a sample backend that deviates from the usual one by `quirks`.
pub async fn serve_with(listener: TcpListener, shutdown: CancellationToken, quirks: Quirks) {
    let chat = Arc::new(Chat::with_quirks(quirks));
    let tasks = TaskTracker::new();
    let handle = {
        let (shutdown, tasks) = (shutdown.clone(), tasks.clone());
        move |req| route(req, chat.clone(), shutdown.clone(), tasks.clone())
    };
    crate::http_server::serve(listener, shutdown, tasks, "demo backend", handle).await;
}

/// The chat page a browser opens at `/`: it sends one message over the
/// WebSocket and the same over REST, as the demo client does.
const CHAT_PAGE: &str = include_str!("chat.html");

async fn route(
    req: Request<Incoming>,
    chat: Arc<Chat>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) -> DemoResponse {
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [""] => respond(
            StatusCode::OK,
            "text/html; charset=utf-8",
            CHAT_PAGE.to_owned(),
        ),
        ["ws", "chat", id] => match id.parse() {
            Ok(conversation) => socket::accept(
                req,
                socket::Route::Chat(conversation, chat),
                shutdown,
                tasks,
            ),
            Err(_) => not_found(),
        },
        ["ws", "echo"] => socket::accept(req, socket::Route::Echo, shutdown, tasks),
        ["api", "echo"] => echo(req).await,
        ["api", "conversations", id, "messages"] => match id.parse() {
            Ok(conversation) => messages(req, conversation, &chat).await,
            Err(_) => not_found(),
        },
        _ => not_found(),
    }
}

async fn messages(req: Request<Incoming>, conversation: u64, chat: &Chat) -> DemoResponse {
    let Some(_user) = user_of(chat, req.headers(), req.uri().query()) else {
        return json(
            StatusCode::FORBIDDEN,
            &json!({"detail": "Authentication credentials were not provided."}),
        );
    };
    match *req.method() {
        Method::GET => json(StatusCode::OK, &Value::Array(chat.list(conversation))),
        Method::OPTIONS => json(StatusCode::OK, &serializer_metadata()),
        Method::POST => match chat.quirks.rest_status {
            Some(status) => json(
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                &json!({"detail": "changed"}),
            ),
            None => create(req).await,
        },
        _ => json(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"detail": format!("Method \"{}\" not allowed.", req.method())}),
        ),
    }
}

/// The REST create path, with the bug: the serializer validates the body,
/// then the view saves it without the sender, and the database refuses.
async fn create(req: Request<Incoming>) -> DemoResponse {
    let path = req.uri().path().to_owned();
    let host = header_str(req.headers(), header::HOST)
        .unwrap_or("localhost")
        .to_owned();
    let accept = header_str(req.headers(), header::ACCEPT).map(str::to_owned);
    let body = crate::http_server::read_body(req.into_body()).await;
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !payload.get("message").is_some_and(Value::is_string) {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({"message": ["This field is required."]}),
        );
    }
    let (content_type, page) = if pages::wants_html(accept.as_deref()) {
        ("text/html; charset=utf-8", pages::html(&path, &host))
    } else {
        ("text/plain; charset=utf-8", pages::text(&path, &host))
    };
    respond(StatusCode::INTERNAL_SERVER_ERROR, content_type, page)
}

/// What DRF's `OPTIONS` says about the message serializer: `expediteur` is
/// a required writable field, which is why the REST path cannot work.
fn serializer_metadata() -> Value {
    json!({
        "name": "Message List",
        "renders": ["application/json"],
        "parses": ["application/json"],
        "actions": {"POST": {
            "id": {"type": "integer", "required": false, "read_only": true, "label": "ID"},
            "conversation": {"type": "field", "required": false, "read_only": true},
            "message": {"type": "string", "required": true, "read_only": false, "label": "Message"},
            "expediteur": {"type": "field", "required": true, "read_only": false, "label": "Expediteur"},
            "date_envoi": {"type": "datetime", "required": false, "read_only": true},
            "lu": {"type": "boolean", "required": false, "read_only": false}
        }}
    })
}

async fn echo(req: Request<Incoming>) -> DemoResponse {
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let headers: Vec<(String, String)> = crate::event::headers_from(req.headers());
    let body = crate::http_server::read_body(req.into_body()).await;
    let mut response = json(
        StatusCode::OK,
        &json!({"method": method, "uri": uri, "headers": headers, "body_len": body.len()}),
    );
    for cookie in ["csrftoken=demo-csrf; Path=/", "theme=dark; Path=/"] {
        response
            .headers_mut()
            .append(header::SET_COOKIE, header::HeaderValue::from_static(cookie));
    }
    response
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn not_found() -> DemoResponse {
    json(StatusCode::NOT_FOUND, &json!({"detail": "Not found."}))
}
