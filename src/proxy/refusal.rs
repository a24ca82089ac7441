//! Requests wsdiag refuses instead of forwarding.

use http::StatusCode;

/// Why a request is refused rather than forwarded, if it is: one that
/// carries this proxy's own `Via` went round in a loop (508 Loop Detected,
/// RFC 5842), and wsdiag is a reverse proxy for one upstream that must never
/// become an open proxy, so a forward-proxy request (`CONNECT`, or an
/// absolute-form target naming a host) gets a clear refusal instead of being
/// sent anywhere.
pub fn refusal(method: &str, target: &str, looped: bool) -> Option<(StatusCode, String)> {
    if looped {
        let message = format!(
            "forwarding loop: {method} {target} came back through this wsdiag (its Via); --upstream leads back to wsdiag itself: point it at your backend"
        );
        return Some((StatusCode::LOOP_DETECTED, message));
    }
    if method == "CONNECT" {
        let message = format!(
            "CONNECT {target} refused: wsdiag is a reverse proxy for one upstream, not a forward proxy; \
             point the client at wsdiag's address instead of using it as an HTTP proxy"
        );
        return Some((StatusCode::METHOD_NOT_ALLOWED, message));
    }
    // Origin form (`/path`) and `*` (OPTIONS) are forwarded; anything
    // else is the absolute form (`http://host/path`).
    if !target.starts_with('/') && target != "*" {
        let message = format!(
            "the absolute-form request target {target} is refused: wsdiag forwards only to its upstream; \
             send the path (origin-form), as browsers do"
        );
        return Some((StatusCode::BAD_REQUEST, message));
    }
    None
}
