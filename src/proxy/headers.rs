//! What the proxy changes in headers, and nothing more.
//!
//! Hop-by-hop fields (RFC 9110 section 7.6.1) belong to one connection and
//! are not forwarded: `Connection` and every field it names, plus the
//! well-known ones below. `X-Forwarded-For`, `-Proto` and `-Host` are added.
//! `Host` is kept as the client sent it unless `--rewrite-host`: Django's
//! CSRF check compares `Origin` with `Host`, and rewriting it would turn a
//! real 500 into a misleading 403.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Header fields as the rules here read and change them: hyper's
/// `HeaderMap`, or the list wsdiag's own forwarder keeps in the order and
/// case the client sent ([`super::h1::head::FieldList`]). Names are
/// compared without regard to case (RFC 9110 section 5.1).
pub trait Fields {
    /// Every value of the field `name`, in order.
    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]>;
    /// Removes every field named `name`.
    fn remove(&mut self, name: &str);
    /// Removes every field named by one of `names`.
    fn remove_each(&mut self, names: &[&str]) {
        for name in names {
            self.remove(name);
        }
    }
    /// Adds a field after the others.
    fn append(&mut self, name: &'static str, value: &[u8]);
    /// Replaces every field named `name` by one with `value`.
    fn set(&mut self, name: &'static str, value: &[u8]);

    /// The first value of `name`.
    fn first(&self, name: &str) -> Option<&[u8]> {
        self.values(name).next()
    }
}

impl Fields for HeaderMap {
    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        self.get_all(name).iter().map(HeaderValue::as_bytes)
    }

    fn remove(&mut self, name: &str) {
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
            HeaderMap::remove(self, name);
        }
    }

    fn append(&mut self, name: &'static str, value: &[u8]) {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            HeaderMap::append(self, HeaderName::from_static(name), value);
        }
    }

    fn set(&mut self, name: &'static str, value: &[u8]) {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            self.insert(HeaderName::from_static(name), value);
        }
    }
}

/// Fields that are hop-by-hop whether or not `Connection` names them
/// (RFC 9110 section 7.6.1, and the older `Proxy-Connection` and
/// `Keep-Alive`). `Trailer` is not one: it announces the trailer fields of
/// a chunked body, which passes as it came (RFC 9110 section 6.6.2).
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "te",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
];

/// The comma-separated elements of every `name` field, trimmed, empty
/// ones left out (RFC 9110 section 5.6.1).
fn elements<'a>(fields: &'a impl Fields, name: &'a str) -> impl Iterator<Item = &'a str> {
    fields
        .values(name)
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// True when a `name` field lists `token` (case-insensitive), as
/// `Connection: keep-alive, Upgrade` lists `upgrade`.
pub fn has_token(fields: &impl Fields, name: &str, token: &str) -> bool {
    elements(fields, name).any(|t| t.eq_ignore_ascii_case(token))
}

/// Removes hop-by-hop fields from `fields`, including those `Connection`
/// lists.
pub fn strip_hop_by_hop(fields: &mut impl Fields) {
    // Owned: the names `Connection` lists borrow from the fields removed.
    let listed: Vec<String> = elements(fields, "connection").map(str::to_owned).collect();
    if listed.is_empty() {
        // The usual case: no list to make.
        fields.remove_each(&HOP_BY_HOP);
        return;
    }
    let mut names: Vec<&str> = listed.iter().map(String::as_str).collect();
    names.extend(HOP_BY_HOP);
    fields.remove_each(&names);
}

/// True when `fields` ask for a WebSocket upgrade (RFC 6455 section 4.1):
/// `Connection` lists `upgrade` and `Upgrade` names `websocket`.
pub fn is_websocket_upgrade(fields: &impl Fields) -> bool {
    has_token(fields, "connection", "upgrade") && has_token(fields, "upgrade", "websocket")
}

/// Values of a comma-separated header across all its lines, trimmed.
pub fn list(fields: &impl Fields, name: &str) -> Vec<String> {
    elements(fields, name).map(str::to_owned).collect()
}

/// What [`prepare_request`] needs to know about the hop.
pub struct Hop<'a> {
    /// The client's IP address, as text.
    pub peer_ip: &'a str,
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

/// True when `fields` carry `via` (this proxy's entry): the request came
/// back through this proxy, a forwarding loop.
pub fn came_through(fields: &impl Fields, via: &str) -> bool {
    elements(fields, "via").any(|entry| entry == via)
}

/// Turns the client's request headers into the upstream's: strips
/// hop-by-hop fields, adds `X-Forwarded-*` and this proxy's `Via`, applies
/// the `Host` policy.
pub fn prepare_request(fields: &mut impl Fields, hop: &Hop<'_>) {
    strip_hop_by_hop(fields);
    let client_host = fields.first("host").map(<[u8]>::to_vec);
    append_forwarded_for(fields, hop.peer_ip);
    fields.append("via", hop.via.as_bytes());
    // A proxy in front of wsdiag (a TLS terminator) knows better: keep its
    // values, or Django's SECURE_PROXY_SSL_HEADER would see http.
    if fields.first("x-forwarded-proto").is_none() {
        fields.append("x-forwarded-proto", b"http");
    }
    if let Some(host) = &client_host {
        if fields.first("x-forwarded-host").is_none() {
            fields.append("x-forwarded-host", host);
        }
    }
    // The client's `Host` stays as it is, in place.
    match (hop.rewrite_host_to, client_host) {
        (Some(authority), _) => fields.set("host", authority.as_bytes()),
        (None, None) => fields.set("host", hop.upstream_authority.as_bytes()),
        (None, Some(_)) => {}
    }
}

fn append_forwarded_for(fields: &mut impl Fields, ip: &str) {
    match fields.first("x-forwarded-for") {
        Some(earlier) => {
            let value = format!("{}, {ip}", String::from_utf8_lossy(earlier));
            fields.set("x-forwarded-for", value.as_bytes());
        }
        None => fields.set("x-forwarded-for", ip.as_bytes()),
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
        let mut kept = map(&[("host", "localhost:9000"), ("x-forwarded-for", "10.0.0.1")]);
        let via = via_entry();
        let hop = Hop {
            peer_ip: "127.0.0.9",
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
