//! The request context of an attempt: the credentials and headers that
//! decide whether a write is accepted (cookies, CSRF header, Authorization,
//! a token in the query, Content-Type, Origin, and the Host the upstream
//! saw). For a WebSocket attempt, its handshake's.

use serde::Serialize;

use crate::event::{header, Headers, HttpRequest};

/// Credentials and headers an attempt carried (the WebSocket handshake's for
/// a WebSocket attempt).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestContext {
    /// Names of the cookies sent.
    pub cookies: Vec<String>,
    /// An `X-CSRFToken` (or `X-CSRF-Token`, `X-XSRF-Token`) header was sent.
    pub csrf_header: bool,
    /// The `Authorization` scheme (`Token`, `Bearer`, …).
    pub authorization: Option<String>,
    /// A `token`-like query parameter was sent.
    pub query_token: bool,
    /// `Content-Type`, without parameters.
    pub content_type: Option<String>,
    /// `Content-Type` as sent, parameters included
    /// (`text/plain;charset=UTF-8`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type_sent: Option<String>,
    /// `Origin`.
    pub origin: Option<String>,
    /// `Host`.
    pub host: Option<String>,
}

impl RequestContext {
    /// The context of `request`, with the `Host` the upstream saw.
    pub fn of(request: &HttpRequest) -> RequestContext {
        let mut context = RequestContext::from_headers(&request.headers, &request.uri);
        if let Some(host) = &request.forwarded_host {
            context.host = Some(host.clone());
        }
        context
    }

    fn from_headers(headers: &Headers, uri: &str) -> RequestContext {
        let cookies = header_values(headers, "cookie")
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.split_once('=').map(|(name, _)| name.trim().to_owned()))
            .filter(|name| !name.is_empty())
            .collect();
        let query = uri.split_once('?').map_or("", |(_, q)| q);
        RequestContext {
            cookies,
            csrf_header: ["x-csrftoken", "x-csrf-token", "x-xsrf-token"]
                .iter()
                .any(|h| header(headers, h).is_some()),
            authorization: header(headers, "authorization")
                .and_then(|v| v.split_whitespace().next())
                .map(str::to_owned),
            query_token: form_urlencoded::parse(query.as_bytes())
                .any(|(k, _)| k.to_ascii_lowercase().contains("token")),
            content_type: header(headers, "content-type")
                .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned()),
            content_type_sent: header(headers, "content-type").map(str::to_owned),
            origin: header(headers, "origin").map(str::to_owned),
            host: header(headers, "host").map(str::to_owned),
        }
    }

    /// True when some credential travelled: a session-like cookie, an
    /// `Authorization` header or a token in the query.
    pub fn has_credentials(&self) -> bool {
        self.authorization.is_some()
            || self.query_token
            || self.cookies.iter().any(|c| {
                let c = c.to_ascii_lowercase();
                c.contains("session") || c.contains("token") || c.contains("auth")
            })
    }
}

fn header_values<'a>(headers: &'a Headers, name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
