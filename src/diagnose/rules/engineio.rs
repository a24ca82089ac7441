//! Engine.IO sessions the upstream forgot: a request of a session (`sid=`)
//! refused with 400 "Session ID unknown" (Engine.IO's error code 1, in
//! `engine.io/lib/server.ts`; python-engineio answers "Invalid session")
//! although the same upstream address issued that session moments earlier.
//! Behind one address, several server processes without sticky sessions
//! each know only their own sessions: Socket.IO's "Using multiple nodes"
//! guide.

use crate::diagnose::attempt::SendPath;
use crate::diagnose::finding::{Code, Finding};
use crate::dialects::socketio;
use crate::event::Flows;

/// `socketio-session-unknown`: every refused request of a session the
/// upstream had issued.
pub(super) fn unknown_sessions(flows: &Flows<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut reported: Vec<String> = Vec::new();
    for exchange in flows.exchanges() {
        let (Some((asked, request)), Some((answered, response))) =
            (flows.request(exchange.id), flows.response(exchange.id))
        else {
            continue;
        };
        let sid = match socketio::polling_request(&request.uri) {
            Some(Some(sid)) => sid,
            _ => match socketio::upgrade_sid(&request.uri) {
                Some(sid) => sid.to_owned(),
                None => continue,
            },
        };
        let body = response.body.text().unwrap_or_default();
        let forgotten = response.status == 400
            && (body.contains("Session ID unknown") || body.contains("Invalid session"));
        if !forgotten || reported.contains(&sid) {
            continue;
        }
        let Some(issued) = issued_at(flows, &sid, asked.seq) else {
            continue;
        };
        let served = flows
            .exchanges()
            .iter()
            .filter_map(|x| Some((flows.request(x.id)?, flows.response(x.id)?)))
            .filter(|((e, r), (_, resp))| {
                e.seq > issued && e.seq < asked.seq && resp.status < 400 && r.uri.contains(&sid)
            })
            .count();
        let ms = asked
            .t_us
            .saturating_sub(flows.at_seq(issued).map_or(0, |e| e.t_us))
            / 1000;
        reported.push(sid.clone());
        out.push(Finding {
            code: Code::SocketioSessionUnknown,
            path: SendPath::Ws,
            title: format!(
                "The upstream refused the Engine.IO session {sid} it had issued {ms} ms earlier: the session's requests reach server processes that do not share it"
            ),
            error: Some(crate::event::text::shorten(body.trim(), 120)),
            location: None,
            explanation: vec![
                format!(
                    "The session was opened at event {issued}; {served} of its requests were served after that, then `{} {}` got 400 {}.",
                    request.method,
                    crate::event::text::shorten(&request.uri, 80),
                    crate::event::text::shorten(body.trim(), 80)
                ),
                "Engine.IO keeps each session in the memory of the process that opened it: behind a load balancer without sticky sessions, a long-polling request (or the upgrade) that lands on another process is refused.".to_owned(),
            ],
            next_step: "enable sticky sessions in what balances the server processes (nginx `ip_hash` or `hash $remote_addr`, a cookie-based affinity; Node's cluster with @socket.io/sticky), or connect with `transports: [\"websocket\"]` only, which needs no second request".to_owned(),
            suggestion: None,
            evidence: vec![issued, asked.seq, answered.seq],
            action: None,
            comparison: None,
        });
    }
    out
}

/// The `seq` of the response (before `before`) whose open packet issued
/// `sid`.
fn issued_at(flows: &Flows<'_>, sid: &str, before: u64) -> Option<u64> {
    flows.exchanges().iter().find_map(|x| {
        let (_, request) = flows.request(x.id)?;
        let (event, response) = flows.response(x.id)?;
        let opening = socketio::polling_request(&request.uri) == Some(None);
        let eio3 = socketio::is_eio3(&request.uri);
        let body = response.body.text()?;
        (event.seq < before
            && opening
            && socketio::open_sid_in_body(body, eio3).as_deref() == Some(sid))
        .then_some(event.seq)
    })
}
