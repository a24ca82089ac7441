//! The probe's client: the same message sent both ways through the proxy.
//!
//! It opens the WebSocket, sends the WebSocket template and waits (up to the
//! delivery window) for an answer carrying the message; asks `OPTIONS` on
//! the REST path (DRF describes the serializer there); sends the REST
//! template as a JSON `POST`; lists the REST path with `GET`; and closes the
//! socket with 1000. Everything goes through the recording proxy, so the
//! diagnosis reads it all from the capture.
//!
//! Requests carry the upstream's own `Host` and `Origin`, as a frontend
//! served by the backend would, so Django's host and CSRF origin checks see
//! a consistent request. With a `csrftoken` cookie and no CSRF header given,
//! the probe sends the cookie's value as `X-CSRFToken`, as Django's own
//! frontends do.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{header, HeaderName, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// The default WebSocket template: the chat protocol.
pub const WS_TEMPLATE: &str = r#"{"type":"chat_message","message":"{message}"}"#;
/// The default REST template.
pub const REST_TEMPLATE: &str = r#"{"message":"{message}"}"#;

/// What to send, where, and with which credentials.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The WebSocket path (and query), e.g. `/ws/chat/3/`.
    pub ws_path: String,
    /// The REST path, e.g. `/api/conversations/3/messages/`.
    pub rest_path: String,
    /// The WebSocket payload, `{message}` already filled in.
    pub ws_payload: String,
    /// The REST body, `{message}` already filled in.
    pub rest_body: String,
    /// The message text, to recognise its echo.
    pub message: String,
    /// Headers for both paths (cookies, Authorization, custom), `Host` and
    /// `Origin` included.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// How long to wait for the WebSocket echo.
    pub window: Duration,
}

/// Why a template or header is unusable.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The template is not JSON once the message is filled in.
    #[error("the {which} template is not JSON once {{message}} is filled in ({source}): write it like {example}")]
    Template {
        /// `--ws-template` or `--rest-template`.
        which: &'static str,
        /// An example of a valid one.
        example: &'static str,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// A `--header` that is not `Name: value`.
    #[error("--header {0:?} is not `Name: value`")]
    Header(String),
}

/// Fills `{message}` into `template` (JSON-escaped) and checks the result.
pub fn fill(template: &str, message: &str, which: &'static str) -> Result<String, PlanError> {
    // A JSON string literal without its surrounding quotes (exactly one
    // each side: trimming would also eat the quote of a trailing `\"`).
    let escaped = serde_json::to_string(message).unwrap_or_default();
    let inner = escaped
        .get(1..escaped.len().saturating_sub(1))
        .unwrap_or_default();
    let filled = template.replace("{message}", inner);
    let example = if which == "--ws-template" {
        WS_TEMPLATE
    } else {
        REST_TEMPLATE
    };
    serde_json::from_str::<serde_json::Value>(&filled).map_err(|source| PlanError::Template {
        which,
        example,
        source,
    })?;
    Ok(filled)
}

/// Builds the header list from `--cookie` and `--header` values, adding
/// `Host`, `Origin` and `X-CSRFToken` as described in the module docs.
pub fn headers(
    cookies: &[String],
    extra: &[String],
    authority: &str,
    origin: &str,
) -> Result<Vec<(HeaderName, HeaderValue)>, PlanError> {
    let mut out = Vec::new();
    for h in extra {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| PlanError::Header(h.clone()))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| PlanError::Header(h.clone()))?;
        let value =
            HeaderValue::from_str(value.trim()).map_err(|_| PlanError::Header(h.clone()))?;
        out.push((name, value));
    }
    let has = |out: &[(HeaderName, HeaderValue)], n: &HeaderName| out.iter().any(|(k, _)| k == n);
    let cookie = cookies.join("; ");
    if !cookie.is_empty() {
        let value =
            HeaderValue::from_str(&cookie).map_err(|_| PlanError::Header(cookie.clone()))?;
        out.push((header::COOKIE, value));
    }
    let csrf = HeaderName::from_static("x-csrftoken");
    let token = cookie
        .split(';')
        .find_map(|pair| pair.trim().strip_prefix("csrftoken="))
        .and_then(|t| HeaderValue::from_str(t).ok());
    if let (Some(token), false) = (token, has(&out, &csrf)) {
        out.push((csrf, token));
    }
    for (name, value) in [(header::HOST, authority), (header::ORIGIN, origin)] {
        if !has(&out, &name) {
            if let Ok(v) = HeaderValue::from_str(value) {
                out.push((name, v));
            }
        }
    }
    Ok(out)
}

/// What the probe saw from the client's side (the capture has the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The WebSocket handshake's status (101 when accepted).
    pub ws_status: Option<u16>,
    /// An answer carrying the message came back on the socket.
    pub ws_echoed: bool,
    /// The REST write's status.
    pub rest_status: Option<u16>,
}

/// Sends the plan through the proxy at `proxy`. Failures of either path are
/// results, not errors: they are what the probe is for.
pub async fn send_both_ways(proxy: SocketAddr, plan: &Plan) -> Seen {
    let (ws_status, ws_echoed) = websocket(proxy, plan).await;
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let call = |method: Method, body: Option<&str>| {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{proxy}{}", plan.rest_path));
        for (name, value) in &plan.headers {
            request = request.header(name, value);
        }
        request = request.header(header::ACCEPT, "application/json, text/plain, */*");
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let body = Full::new(Bytes::from(body.unwrap_or_default().to_owned()));
        let client = client.clone();
        async move {
            let response = client.request(request.body(body).ok()?).await.ok()?;
            let status = response.status().as_u16();
            let _ = response.into_body().collect().await;
            Some(status)
        }
    };
    call(Method::OPTIONS, None).await;
    let rest_status = call(Method::POST, Some(&plan.rest_body)).await;
    call(Method::GET, None).await;
    Seen {
        ws_status,
        ws_echoed,
        rest_status,
    }
}

/// Opens the socket, sends, waits for the echo, closes. Returns the
/// handshake status and whether the message came back.
async fn websocket(proxy: SocketAddr, plan: &Plan) -> (Option<u16>, bool) {
    let Ok(mut request) = format!("ws://{proxy}{}", plan.ws_path).into_client_request() else {
        return (None, false);
    };
    for (name, value) in &plan.headers {
        request.headers_mut().insert(name, value.clone());
    }
    let mut ws = match tokio_tungstenite::connect_async(request).await {
        Ok((ws, response)) => {
            let _ = response;
            ws
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            return (Some(response.status().as_u16()), false)
        }
        Err(_) => return (None, false),
    };
    let mut echoed = false;
    if ws
        .send(Message::Text(plan.ws_payload.clone().into()))
        .await
        .is_ok()
    {
        let deadline = tokio::time::Instant::now() + plan.window;
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, ws.next()).await {
            if let Message::Text(t) = message {
                if t.as_str().contains(&plan.message) {
                    echoed = true;
                    break;
                }
            }
        }
    }
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "wsdiag probe done".into(),
    };
    let _ = ws.close(Some(frame)).await;
    let drain = async { while let Some(Ok(_)) = ws.next().await {} };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    (Some(101), echoed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_filled_with_json_escaping_and_checked() {
        assert_eq!(
            fill(WS_TEMPLATE, "say \"hi\"", "--ws-template").unwrap(),
            r#"{"type":"chat_message","message":"say \"hi\""}"#
        );
        let err = fill("{message}", "cc", "--rest-template").unwrap_err();
        assert!(err.to_string().contains(REST_TEMPLATE), "{err}");
    }

    #[test]
    fn a_csrftoken_cookie_becomes_the_csrf_header_and_host_origin_are_the_upstreams() {
        let h = headers(
            &["sessionid=s; csrftoken=abc".into()],
            &[],
            "127.0.0.1:8000",
            "http://127.0.0.1:8000",
        )
        .unwrap();
        let get = |n: &str| {
            h.iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_str().unwrap())
        };
        assert_eq!(get("x-csrftoken"), Some("abc"));
        assert_eq!(get("host"), Some("127.0.0.1:8000"));
        assert_eq!(get("origin"), Some("http://127.0.0.1:8000"));
        assert!(headers(&[], &["no colon".into()], "a", "b").is_err());
    }
}
