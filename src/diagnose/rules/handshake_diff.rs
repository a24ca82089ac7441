//! What differs between a refused WebSocket upgrade and one the same
//! upstream accepted in the same capture: the path (a trailing slash, a
//! prefix), the `Origin`, the cookies, the query's parameters, the
//! `Authorization` scheme, the subprotocols offered. The difference is
//! usually the cause.

use crate::event::{header, Flows, HttpRequest, WsHandshake};

/// The accepted upgrade most like `refused` (the longest common path
/// prefix), and what differs from it, one sentence each; empty when the
/// capture holds no accepted upgrade.
pub(super) fn against_accepted(flows: &Flows<'_>, refused: &HttpRequest) -> Vec<String> {
    let accepted = flows.sockets().iter().filter_map(|s| flows.upgrade(s.conn));
    let Some((handshake, request)) =
        accepted.max_by_key(|(_, r)| common_prefix(path(&r.uri), path(&refused.uri)))
    else {
        return Vec::new();
    };
    differences(refused, handshake, request)
}

fn path(uri: &str) -> &str {
    uri.split(['?', '#']).next().unwrap_or(uri)
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

fn query_keys(uri: &str) -> Vec<String> {
    let query = uri.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, _)| k.into_owned())
        .collect()
}

fn cookie_names(request: &HttpRequest) -> Vec<String> {
    request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|pair| pair.split_once('=').map(|(n, _)| n.trim().to_owned()))
        .collect()
}

fn differences(refused: &HttpRequest, handshake: &WsHandshake, ok: &HttpRequest) -> Vec<String> {
    let mut out = Vec::new();
    let (bad_path, ok_path) = (path(&refused.uri), path(&ok.uri));
    let same_route = |a: &str, b: &str| {
        a.trim_end_matches('/').rsplit_once('/').map(|(p, _)| p)
            == b.trim_end_matches('/').rsplit_once('/').map(|(p, _)| p)
    };
    if bad_path != ok_path {
        if ok_path.ends_with('/') && !bad_path.ends_with('/') && same_route(bad_path, ok_path) {
            out.push(format!(
                "This path lacks the trailing slash the accepted one has: `{bad_path}` was refused, `{ok_path}` was accepted (Django routes are exact: `ws/chat/<id>/` does not match `ws/chat/3`)."
            ));
        } else if bad_path.ends_with('/')
            && !ok_path.ends_with('/')
            && same_route(bad_path, ok_path)
        {
            out.push(format!(
                "This path has a trailing slash the accepted one lacks: `{bad_path}` was refused, `{ok_path}` was accepted."
            ));
        } else {
            out.push(format!(
                "The path differs from an accepted upgrade's: `{bad_path}` was refused, `{ok_path}` was accepted."
            ));
        }
    }
    let (bad_origin, ok_origin) = (
        header(&refused.headers, "origin"),
        header(&ok.headers, "origin"),
    );
    if bad_origin != ok_origin {
        out.push(format!(
            "Its Origin is {}, the accepted upgrade's {}.",
            bad_origin.map_or("absent".to_owned(), |o| format!("`{o}`")),
            ok_origin.map_or("absent".to_owned(), |o| format!("`{o}`"))
        ));
    }
    let bad_cookies = cookie_names(refused);
    let missing: Vec<String> = cookie_names(ok)
        .into_iter()
        .filter(|c| !bad_cookies.contains(c))
        .collect();
    if !missing.is_empty() {
        out.push(format!(
            "It lacks the cookie {} that the accepted upgrade sent.",
            missing.join(", ")
        ));
    }
    let bad_keys = query_keys(&refused.uri);
    let missing: Vec<String> = query_keys(&ok.uri)
        .into_iter()
        .filter(|k| !bad_keys.contains(k))
        .collect();
    if !missing.is_empty() {
        out.push(format!(
            "Its query lacks {} that the accepted upgrade's had.",
            missing
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let scheme = |r: &HttpRequest| {
        header(&r.headers, "authorization")
            .and_then(|v| v.split_whitespace().next())
            .map(str::to_owned)
    };
    if let (None, Some(s)) = (scheme(refused), scheme(ok)) {
        out.push(format!(
            "It sends no Authorization; the accepted upgrade sent `{s} …`."
        ));
    }
    let offered = crate::event::header(&refused.headers, "sec-websocket-protocol");
    if let (None, Some(p)) = (offered, handshake.subprotocol.as_deref()) {
        out.push(format!(
            "It offers no subprotocol; the accepted upgrade offered the `{p}` the upstream chose."
        ));
    }
    out
}
