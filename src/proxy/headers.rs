//! What the proxy changes in headers, and nothing more.
//!
//! Hop-by-hop fields (RFC 9110 section 7.6.1) belong to one connection and
//! are not forwarded: `Connection` and every field it names, plus the
//! well-known ones below. `X-Forwarded-For`, `-Proto` and `-Host` are added.
//! `Host` is kept as the client sent it unless `--rewrite-host`: Django's
//! CSRF check compares `Origin` with `Host`, and rewriting it would turn a
//! real 500 into a misleading 403.

use std::net::SocketAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Fields that are hop-by-hop whether or not `Connection` names them.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("keep-alive"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
];

/// Removes hop-by-hop fields from `headers`, including those `Connection`
/// lists.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// True when `headers` ask for a WebSocket upgrade (RFC 6455 section 4.1):
/// `Connection` lists `upgrade` and `Upgrade` names `websocket`.
pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let has_token = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    has_token(header::CONNECTION, "upgrade") && has_token(header::UPGRADE, "websocket")
}

/// Values of a comma-separated header across all its lines, trimmed.
pub fn list(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// What [`prepare_request`] needs to know about the hop.
pub struct Hop<'a> {
    /// The client's address.
    pub peer: SocketAddr,
    /// `Some(authority)` to send the upstream's authority as `Host`.
    pub rewrite_host_to: Option<&'a str>,
    /// The upstream's authority, used when the client sent no `Host`.
    pub upstream_authority: &'a str,
    /// This proxy's `Via` entry, appended to the request's.
    pub via: &'a str,
}

/// A `Via` entry for this run of the proxy (RFC 9110 section 7.6.3:
/// protocol version and a pseudonym), unique enough to know our own:
/// `1.1 wsdiag-` and the process id and start time in hex.
pub fn via_entry() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("1.1 wsdiag-{:x}{nanos:08x}", std::process::id())
}

/// True when `headers` carry `via` (this proxy's entry): the request came
/// back through this proxy, a forwarding loop.
pub fn came_through(headers: &HeaderMap, via: &str) -> bool {
    headers
        .get_all(header::VIA)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|entry| entry.trim() == via)
}

/// Turns the client's request headers into the upstream's: strips
/// hop-by-hop fields, adds `X-Forwarded-*` and this proxy's `Via`, applies
/// the `Host` policy.
pub fn prepare_request(headers: &mut HeaderMap, hop: &Hop<'_>) {
    strip_hop_by_hop(headers);
    let client_host = headers.get(header::HOST).cloned();
    append_forwarded_for(headers, hop.peer);
    if let Ok(via) = HeaderValue::from_str(hop.via) {
        headers.append(header::VIA, via);
    }
    // A proxy in front of wsdiag (a TLS terminator) knows better: keep its
    // values, or Django's SECURE_PROXY_SSL_HEADER would see http.
    headers
        .entry(HeaderName::from_static("x-forwarded-proto"))
        .or_insert(HeaderValue::from_static("http"));
    if let Some(host) = &client_host {
        headers
            .entry(HeaderName::from_static("x-forwarded-host"))
            .or_insert(host.clone());
    }
    let host = match hop.rewrite_host_to {
        Some(authority) => HeaderValue::from_str(authority).ok(),
        None => client_host.or_else(|| HeaderValue::from_str(hop.upstream_authority).ok()),
    };
    if let Some(host) = host {
        headers.insert(header::HOST, host);
    }
}

fn append_forwarded_for(headers: &mut HeaderMap, peer: SocketAddr) {
    let name = HeaderName::from_static("x-forwarded-for");
    let ip = peer.ip().to_string();
    let value = match headers.get(&name).and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, {ip}"),
        None => ip,
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(name, value);
    }
}

/// Adds back the headers a WebSocket upgrade needs after
/// [`prepare_request`] stripped them as hop-by-hop.
/// `Sec-WebSocket-Extensions` stays as the client offered it.
pub fn restore_upgrade(headers: &mut HeaderMap) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn connection_named_fields_are_stripped_and_end_to_end_kept() {
        let mut h = map(&[
            ("connection", "keep-alive, x-secret-hop"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("cookie", "sessionid=abc"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
        ]);
        strip_hop_by_hop(&mut h);
        assert!(h.get("x-secret-hop").is_none());
        assert!(h.get("keep-alive").is_none());
        assert_eq!(h.get("cookie").unwrap(), "sessionid=abc");
        assert_eq!(h.get_all("set-cookie").iter().count(), 2);
    }

    #[test]
    fn host_is_kept_unless_rewritten_and_forwarded_headers_added() {
        let peer: SocketAddr = "127.0.0.9:5000".parse().unwrap();
        let mut kept = map(&[("host", "localhost:9000"), ("x-forwarded-for", "10.0.0.1")]);
        let via = via_entry();
        let hop = Hop {
            peer,
            rewrite_host_to: None,
            upstream_authority: "127.0.0.1:8000",
            via: &via,
        };
        assert!(!came_through(&kept, &via));
        prepare_request(&mut kept, &hop);
        assert!(came_through(&kept, &via), "the request now carries our Via");
        assert!(!came_through(&kept, "1.1 wsdiag-other"));
        assert_eq!(kept.get("host").unwrap(), "localhost:9000");
        assert_eq!(kept.get("x-forwarded-host").unwrap(), "localhost:9000");
        assert_eq!(kept.get("x-forwarded-for").unwrap(), "10.0.0.1, 127.0.0.9");
        assert_eq!(kept.get("x-forwarded-proto").unwrap(), "http");

        let mut rewritten = map(&[("host", "localhost:9000")]);
        let hop = Hop {
            rewrite_host_to: Some("api.example.test"),
            ..hop
        };
        prepare_request(&mut rewritten, &hop);
        assert_eq!(rewritten.get("host").unwrap(), "api.example.test");
    }

    #[test]
    fn upgrade_detection_reads_token_lists() {
        assert!(is_websocket_upgrade(&map(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
        ])));
        assert!(!is_websocket_upgrade(&map(&[
            ("connection", "Upgrade"),
            ("upgrade", "h2c"),
        ])));
    }
}
