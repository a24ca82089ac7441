//! The CORS rule: a browser's preflight that the upstream refuses.
//!
//! Before a cross-origin write with a JSON body, a browser sends `OPTIONS`
//! with `Origin` and `Access-Control-Request-Method` (the Fetch standard,
//! "CORS-preflight fetch"), and sends the write only when the answer is a
//! 2xx with an `Access-Control-Allow-Origin` that is the origin or `*`.
//! WebSockets are not subject to CORS, so the same user can chat over the
//! socket while every REST send dies before it leaves the browser.

use crate::diagnose::attempt::SendPath;
use crate::diagnose::finding::{Code, Finding};
use crate::event::{header, Event, Flows, HttpRequest};
use crate::stacks::{self, Situation};

/// `rest-cors-refused`: every refused preflight.
pub(super) fn refused_preflights(flows: &Flows<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for exchange in flows.exchanges() {
        let Some((asked_at, request)) = flows.request(exchange.id) else {
            continue;
        };
        if !is_preflight(request) {
            continue;
        }
        let Some((answered_at, answer)) = flows.response(exchange.id) else {
            continue;
        };
        let origin = header(&request.headers, "origin").unwrap_or_default();
        let allowed = header(&answer.headers, "access-control-allow-origin");
        let why = match (answer.status, allowed) {
            (200..=299, Some(a)) if a == "*" || a == origin => continue,
            (200..=299, Some(other)) => format!("it allows the origin {other}, not {origin}"),
            (200..=299, None) => "its answer has no Access-Control-Allow-Origin".to_owned(),
            (status, _) => format!("the upstream answers the OPTIONS with {status}"),
        };
        out.push(finding(
            asked_at,
            request,
            answered_at.seq,
            origin,
            &why,
            &answer.headers,
        ));
    }
    out
}

/// An `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
fn is_preflight(r: &HttpRequest) -> bool {
    r.method == "OPTIONS"
        && header(&r.headers, "origin").is_some()
        && header(&r.headers, "access-control-request-method").is_some()
}

fn finding(
    asked: &Event,
    request: &HttpRequest,
    answered: u64,
    origin: &str,
    why: &str,
    answer_headers: &crate::event::Headers,
) -> Finding {
    let method = header(&request.headers, "access-control-request-method").unwrap_or("POST");
    let path = request.uri.split('?').next().unwrap_or(&request.uri);
    let stack = stacks::detect(answer_headers);
    let advice = stacks::advice(stack, Situation::CorsRefused { origin });
    let (next_step, suggestion) = match advice {
        Some(a) => (a.next_step, a.suggestion),
        None => (
            format!("allow the frontend's origin {origin} for this route (django-cors-headers: CORS_ALLOWED_ORIGINS = [\"{origin}\"])"),
            None,
        ),
    };
    Finding {
        code: Code::RestCorsRefused,
        path: SendPath::Rest,
        title: format!("The browser's CORS preflight for {method} {path} from {origin} is refused: {why}"),
        error: None,
        location: None,
        explanation: vec![
            format!("So the browser never sends the {method}: the REST path fails before it reaches the upstream."),
            "WebSockets are not subject to CORS, which is why the same user's socket works.".to_owned(),
        ],
        next_step,
        suggestion,
        evidence: vec![asked.seq, answered],
        action: None,
        comparison: None,
    }
}
