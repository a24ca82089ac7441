//! The WebSocket rules: error replies and refused handshakes (closes are
//! the lifecycle rules').

use super::handshake_diff;
use crate::diagnose::attempt::{Attempt, Outcome, SendPath};
use crate::diagnose::finding::{Code, Finding};
use crate::event::{EventKind, Flows};
use crate::stacks::{self, Situation, StackId};

/// The framework the upstream's responses name in their headers
/// (`Server: daphne`), the first that names one.
fn upstream_stack(flows: &Flows<'_>) -> StackId {
    flows
        .exchanges()
        .iter()
        .filter_map(|x| flows.response(x.id))
        .map(|(_, r)| stacks::detect(&r.headers))
        .find(|s| *s != StackId::Generic)
        .unwrap_or(StackId::Generic)
}

/// `ws-error-reply`: the upstream answered the message with an error.
pub(super) fn error_reply(attempt: &Attempt, action: Option<usize>) -> Finding {
    let Outcome::Failed {
        evidence,
        status,
        reason,
        ..
    } = &attempt.outcome
    else {
        unreachable!("error_reply is only called for failed attempts")
    };
    let (code, title, next) = (
        Code::WsErrorReply,
        format!(
            "The upstream answered the WebSocket message with an error: {}",
            reason.trim_start_matches("error reply: ")
        ),
        "check the message's shape against what the server's handler expects".to_owned(),
    );
    Finding {
        code,
        path: SendPath::Ws,
        title,
        error: status.map(|s| format!("close {s}")),
        location: None,
        explanation: Vec::new(),
        next_step: next,
        suggestion: None,
        evidence: evidence.clone(),
        action,
        comparison: None,
    }
}

/// Why Django Channels refused an upgrade with `status`, and what to do:
/// its origin validator, its URL router (a bodiless 500 from daphne for a
/// path no route matches), its consumers.
fn django_refusal(status: u16, bodiless: bool, slash: bool) -> (&'static str, String) {
    match status {
        403 => ("the origin validator (AllowedHostsOriginValidator) or the consumer refused it", "add the page's host to ALLOWED_HOSTS, or check the consumer's connect() permissions".to_owned()),
        404 => ("no WebSocket route matches the path", "check websocket_urlpatterns (a missing trailing slash or prefix?) and that the ASGI application routes \"websocket\"".to_owned()),
        500 if bodiless => ("Channels answers a WebSocket path that no route matches with a bodiless 500 (URLRouter raises \"No route found for path\"; daphne sends `500 Internal server error`)", if slash {
            "open the path with its trailing slash, as the route is written, or make the slash optional in websocket_urlpatterns (a `re_path` whose pattern ends in `/?$`)".to_owned()
        } else {
            "check websocket_urlpatterns against this path (daphne's log says \"No route found for path\")".to_owned()
        }),
        401 => ("it was not authenticated", "send the session cookie or the token the consumer expects".to_owned()),
        502 | 504 => ("wsdiag could not reach the upstream", "check that the backend runs under an ASGI server (daphne, uvicorn) at the --upstream address".to_owned()),
        _ => ("the upstream did not switch protocols", "check the upstream's log for this request".to_owned()),
    }
}

/// `ws-handshake-refused`: every upgrade the upstream did not accept,
/// explained in the words of the upstream's framework.
pub(super) fn refused_handshakes(flows: &Flows<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let stack = upstream_stack(flows);
    for exchange in flows.exchanges() {
        let Some(event) = exchange.handshake.map(|i| &flows.events()[i]) else {
            continue;
        };
        let EventKind::WsHandshake(h) = &event.kind else {
            continue;
        };
        if h.accepted {
            continue;
        }
        let response = flows.response(exchange.id).map(|(e, r)| (e.seq, r));
        let body = response
            .and_then(|(_, r)| r.body.text())
            .map(|t| crate::event::text::shorten(t.trim(), 120))
            .filter(|t| !t.is_empty());
        let explanation = flows
            .request(exchange.id)
            .map(|(_, r)| handshake_diff::against_accepted(flows, r))
            .unwrap_or_default();
        let slash = explanation.iter().any(|e| e.contains("trailing slash"));
        let (why, next) = if stack == StackId::Django {
            django_refusal(h.status, body.is_none(), slash)
        } else {
            let why = match h.status {
                401 => "it was not authenticated",
                403 => "the upstream refused it (an origin or authentication check, or no WebSocket route)",
                404 => "no WebSocket route matches the path",
                502 | 504 => "wsdiag could not reach the upstream",
                _ => "the upstream did not switch protocols",
            };
            let situation = Situation::UpgradeRefused {
                status: h.status,
                slash,
            };
            let next = stacks::advice(stack, situation).map(|a| a.next_step);
            (why, next.unwrap_or_default())
        };
        let mut evidence = vec![event.seq];
        evidence.extend(response.map(|(seq, _)| seq));
        out.push(Finding {
            code: Code::WsHandshakeRefused,
            path: SendPath::Ws,
            title: format!(
                "The WebSocket handshake to {} is refused with {}: {why}",
                h.uri, h.status
            ),
            error: body,
            location: None,
            explanation,
            next_step: next,
            suggestion: None,
            evidence,
            action: None,
            comparison: None,
        });
    }
    out
}
