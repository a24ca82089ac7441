//! The WebSocket's own lifecycle: a handshake whose subprotocol a browser
//! refuses, and closes the upstream caused: within the delivery window
//! after a client message
//! (with the close code's meaning, the size against a stated limit, the
//! token's expiry), with an error code at another moment, or a drop without
//! a close frame after a silence (an idle timeout in front of the backend).
//!
//! Close codes as RFC 6455 section 7.4.1 and the IANA "WebSocket Close Code
//! Number Registry" define them; 4000-4999 are the application's own.

use chrono::{DateTime, Utc};

use super::Facts;
use crate::diagnose::attempt::{Outcome, SendPath};
use crate::diagnose::finding::{Code, Finding};
use crate::diagnose::jwt;
use crate::event::{
    Direction, Event, EventKind, Opcode, Role, Side, SocketFlow, WsClose, RESERVED_BITS,
};

/// A drop without a close frame after this much silence both ways is an
/// idle drop.
const IDLE_US: u64 = 1_000_000;

/// `ws-subprotocol-not-chosen` and `ws-subprotocol-not-offered`.
pub(super) fn subprotocols(facts: &Facts<'_>) -> Vec<Finding> {
    let flows = facts.flows;
    let mut out = Vec::new();
    for socket in flows.sockets() {
        let event = &flows.events()[socket.handshake];
        let EventKind::WsHandshake(h) = &event.kind else {
            continue;
        };
        let offered = h.subprotocols_offered.join(", ");
        let (code, title, next) = match &h.subprotocol {
            None if !h.subprotocols_offered.is_empty() => (
                Code::WsSubprotocolNotChosen,
                format!("The client offered the subprotocol {offered} and the upstream chose none: browsers fail such a handshake"),
                format!("make the server accept one of the offered subprotocols ({offered}) and send it back in Sec-WebSocket-Protocol, or stop offering one in the client"),
            ),
            Some(chosen) if !h.subprotocols_offered.iter().any(|o| o == chosen) => (
                Code::WsSubprotocolNotOffered,
                format!("The upstream chose the subprotocol {chosen}, which the client did not offer ({}): clients fail such a handshake", if offered.is_empty() { "it offered none" } else { offered.as_str() }),
                format!("make the server choose only among the subprotocols the client offers, or have the client offer {chosen}"),
            ),
            _ => continue,
        };
        let mut evidence = vec![event.seq];
        let close = socket.closes.iter().map(|&i| &flows.events()[i]).next();
        let rule = if code == Code::WsSubprotocolNotChosen {
            "The WHATWG WebSocket standard has a browser fail a connection that offered subprotocols when the 101 names none, and Chrome, Firefox and Node's ws do"
        } else {
            "RFC 6455 section 4.1: a client fails the connection when the server's 101 names a subprotocol it did not offer"
        };
        let mut explanation = vec![format!(
            "{rule}: the server sees an open socket that the client has already dropped."
        )];
        if let Some(close) = close {
            evidence.push(close.seq);
            if let EventKind::WsClose(c) = &close.kind {
                explanation.push(format!(
                    "The {} ended the socket {} ms after the handshake{}.",
                    c.initiator.as_str(),
                    close.t_us.saturating_sub(event.t_us) / 1000,
                    if c.clean {
                        ""
                    } else {
                        ", without a close frame"
                    }
                ));
            }
        }
        out.push(finding(code, title, next, explanation, evidence));
    }
    out
}

/// `ws-closed-after-message`, `ws-closed-by-upstream` and `ws-idle-drop`:
/// every close of the upstream's that was not a normal one. A close within
/// the delivery window of a client message (`--window`, the same as for
/// the message's send attempt) answered it. `action_of` gives each
/// attempt's action.
pub(super) fn closes(facts: &Facts<'_>, action_of: &[Option<usize>]) -> Vec<Finding> {
    let flows = facts.flows;
    let events = flows.events();
    let mut out = Vec::new();
    // The WebSocket attempt each close failed, by the close's `seq`.
    let closed_attempt: std::collections::HashMap<u64, usize> = facts
        .attempts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.path == SendPath::Ws)
        .filter_map(|(i, a)| match &a.outcome {
            Outcome::Failed { evidence, .. } => evidence.last().map(|&seq| (seq, i)),
            _ => None,
        })
        .collect();
    for socket in flows.sockets() {
        let Some(at) = socket.closes.first().copied() else {
            continue;
        };
        let close_event = &events[at];
        let EventKind::WsClose(close) = &close_event.kind else {
            continue;
        };
        // Captures of wsdiag before the frame relay held the violation
        // as the reason of wsdiag's own close.
        let violation = close.violation.as_deref().unwrap_or(&close.reason);
        if let (Some(side), RESERVED_BITS) = (close.violator, violation) {
            out.push(compressed_unasked(facts, socket, close_event, close, side));
            continue;
        }
        // A side that did not answer wsdiag's own shutdown close in time
        // says nothing about the application.
        if let (Some(silent), false) = (close.unanswered, close.initiator == Side::Proxy) {
            out.push(unanswered(close_event, close, silent));
            continue;
        }
        if close.initiator != Side::Upstream || close.is_normal() {
            continue;
        }
        // Traffic: any frame but a close. A client's message: its text or
        // binary data, heartbeats aside.
        let last = |dir: Option<Direction>| {
            socket.messages.iter().rev().map(|&i| &events[i]).find(|e| {
                let EventKind::WsMessage(m) = &e.kind else {
                    return false;
                };
                let wanted = match dir {
                    None => m.opcode != Opcode::Close,
                    Some(d) => {
                        m.dir == d
                            && matches!(m.opcode, Opcode::Text | Opcode::Binary)
                            && m.msg_role != Some(Role::Heartbeat)
                    }
                };
                e.t_us <= close_event.t_us && wanted
            })
        };
        let handshake = &events[socket.handshake];
        let quiet_since = last(None).map_or(handshake.t_us, |e| e.t_us);
        let silence = close_event.t_us.saturating_sub(quiet_since);
        let sent = last(Some(Direction::ClientToUpstream))
            .filter(|m| close_event.t_us.saturating_sub(m.t_us) <= facts.delivery_us)
            .filter(|m| m.t_us >= quiet_since);
        let mut f = match sent {
            Some(message) => after_message(facts, socket, message, close_event, close),
            None if !close.clean && close.code.is_none() && silence >= IDLE_US => {
                idle_drop(close_event, silence)
            }
            None => by_upstream(close_event, close),
        };
        f.action = closed_attempt
            .get(&close_event.seq)
            .and_then(|&i| action_of[i]);
        out.push(f);
    }
    out
}

/// `code "reason"`, or how the socket ended without a close frame.
fn quoted(close: &WsClose) -> String {
    match close.code {
        Some(code) if close.reason.is_empty() => format!("close {code}"),
        Some(code) => format!("close {code} {:?}", close.reason),
        None => "no close frame (browsers report 1006)".to_owned(),
    }
}

/// What a close code means, and what to do, by RFC 6455 section 7.4.1 and
/// the IANA registry; `None` for the application's own codes.
fn meaning(code: Option<u16>) -> Option<(&'static str, &'static str)> {
    Some(match code? {
        1002 => ("1002 is a protocol error: the upstream saw a frame it considers invalid", "compare the message's frames with RFC 6455 (masking, fragmentation, reserved bits): `wsdiag show` lists them"),
        1003 => ("1003: the upstream does not accept this kind of data (text where it wants binary, or the reverse)", "send the message type the server expects"),
        1007 => ("1007: the message's data is not what its type says (text that is not UTF-8)", "send text messages as valid UTF-8, or as binary"),
        1008 => ("1008 is a policy violation: most often authentication or authorization, as the reason says", "check the credentials the socket opened with and what the server allows this user"),
        1009 => ("1009: the message was too big for the upstream", "send smaller messages (split them), or raise the server's maximum message size"),
        1010 => ("1010: the client expected an extension the server did not negotiate", "check Sec-WebSocket-Extensions on both sides"),
        1011 => ("1011: the server raised while handling the message (Channels closes with 1011 when a consumer raises)", "find the traceback in the server's log for this message"),
        1012 => ("1012: the server is restarting", "reconnect after a pause"),
        1013 => ("1013: the server is overloaded, try again later", "reconnect with backoff"),
        1014 => ("1014: a gateway in front of the server got a bad answer from it", "check the server behind the gateway"),
        _ => return None,
    })
}

/// What kind of code `code` is, when [`meaning`] has no words for it:
/// the ranges of RFC 6455 section 7.4.2.
fn code_class(code: u16) -> String {
    match code {
        4000..=4999 => format!("{code} is the application's own code (4000-4999): the reason is its explanation"),
        3000..=3999 => format!("{code} is registered (3000-3999) for a library or framework: the reason, or its documentation, says what it means"),
        1000 | 1001 => format!("{code} is a normal closure code, but the close handshake did not complete"),
        _ => format!("{code} is a reserved or unassigned code (RFC 6455 section 7.4): no standard gives it a meaning"),
    }
}

/// `ws-closed-after-message`: the close answered a client message.
fn after_message(
    facts: &Facts<'_>,
    socket: &SocketFlow,
    message: &Event,
    close_event: &Event,
    close: &WsClose,
) -> Finding {
    let EventKind::WsMessage(m) = &message.kind else {
        unreachable!("the last client message is a ws_message")
    };
    let after_ms = close_event.t_us.saturating_sub(message.t_us) / 1000;
    let what = m
        .msg_type
        .as_deref()
        .map_or(String::new(), |t| format!(" `{t}`"));
    let title = format!(
        "The upstream ended the WebSocket with {} {after_ms} ms after the client's message{what}",
        quoted(close)
    );
    let mut explanation = Vec::new();
    let mut next = match meaning(close.code) {
        Some((means, next)) => {
            explanation.push(format!("{means}."));
            next.to_owned()
        }
        None if close.code.is_none() => {
            explanation.push("The upstream dropped the connection without a close frame: its process crashed, or something in front of it cut the connection.".to_owned());
            "find what the server did with this message in its log (a crash, a worker killed)"
                .to_owned()
        }
        None => {
            explanation.push(format!("{}.", code_class(close.code.unwrap_or_default())));
            "see what the server's code means by this close code and reason".to_owned()
        }
    };
    if close.code == Some(1009) {
        let limit = first_number(&close.reason)
            .map(|l| format!(", over the {l}-byte limit the reason states"))
            .unwrap_or_default();
        explanation.push(format!("The message was {} bytes{limit}.", m.payload.len));
    }
    let reason = close.reason.to_ascii_lowercase();
    if reason.contains("expire") || reason.contains("token") {
        next = "open the socket again with a fresh token when it expires (refresh it before `exp`, or reconnect on this close code)".to_owned();
    }
    explanation.extend(token_expiry(facts, socket, close_event));
    let mut f = finding(
        Code::WsClosedAfterMessage,
        title,
        next,
        explanation,
        vec![message.seq, close_event.seq],
    );
    f.error = Some(quoted(close));
    f
}

/// `ws-late-pong`: for each socket and side, the latest answer to a ping
/// (matched by payload, RFC 6455 section 5.5.3) when it came more than
/// [`LATE_PONG_US`](crate::diagnose::LATE_PONG_US) after the ping.
pub(super) fn late_pongs(facts: &Facts<'_>) -> Vec<Finding> {
    let events = facts.flows.events();
    let mut out = Vec::new();
    for socket in facts.flows.sockets() {
        // Pings waiting for their pong, by direction and payload.
        let mut waiting: std::collections::HashMap<(Direction, &[u8]), &Event> =
            std::collections::HashMap::new();
        let mut worst: [Option<(u64, &Event, &Event)>; 2] = [None, None];
        for event in socket.messages.iter().map(|&i| &events[i]) {
            let EventKind::WsMessage(m) = &event.kind else {
                continue;
            };
            // wsdiag's own keepalive is not the endpoints' traffic.
            if m.origin.is_some() {
                continue;
            }
            match m.opcode {
                Opcode::Ping => {
                    waiting.insert((m.dir, m.payload.bytes.as_ref()), event);
                }
                Opcode::Pong => {
                    let asked = match m.dir {
                        Direction::ClientToUpstream => Direction::UpstreamToClient,
                        Direction::UpstreamToClient => Direction::ClientToUpstream,
                    };
                    let Some(ping) = waiting.remove(&(asked, m.payload.bytes.as_ref())) else {
                        continue;
                    };
                    let late = event.t_us.saturating_sub(ping.t_us);
                    let slot = &mut worst[usize::from(m.dir == Direction::UpstreamToClient)];
                    if late > crate::diagnose::LATE_PONG_US && slot.is_none_or(|(w, _, _)| late > w)
                    {
                        *slot = Some((late, ping, event));
                    }
                }
                _ => {}
            }
        }
        for (late, ping, pong) in worst.into_iter().flatten() {
            let EventKind::WsMessage(m) = &pong.kind else {
                continue;
            };
            let (late_side, asker) = match m.dir {
                Direction::ClientToUpstream => ("client", "upstream"),
                Direction::UpstreamToClient => ("upstream", "client"),
            };
            let mut f = finding(
                Code::WsLatePong,
                format!(
                    "The {late_side} answered the {asker}'s ping {} ms late: its event loop was blocked, or it stopped reading",
                    late / 1000
                ),
                format!("keep the {late_side}'s event loop free (move long work off it: a worker, a thread, chunks), or give the {asker}'s keepalive a longer ping timeout"),
                vec![
                    "A pong answers its ping at once (RFC 6455 section 5.5.3) unless the endpoint is busy; a keepalive that waits less than this closes the connection (Python websockets: 1011 \"keepalive ping timeout\"; Socket.IO: \"ping timeout\").".to_owned(),
                ],
                vec![ping.seq, pong.seq],
            );
            f.error = Some(format!("pong after {} ms", late / 1000));
            out.push(f);
        }
    }
    out
}

/// `ws-compression-not-negotiated`: `side` sent a frame with RSV1 set,
/// permessage-deflate's compressed bit (RFC 7692 section 6), though the
/// handshake agreed on no extension.
fn compressed_unasked(
    facts: &Facts<'_>,
    socket: &SocketFlow,
    close_event: &Event,
    close: &WsClose,
    side: Side,
) -> Finding {
    let offered = facts.flows.upgrade(socket.conn).map(|(h, request)| {
        let mut offered: Vec<String> = request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-extensions"))
            .map(|(_, v)| v.clone())
            .collect();
        offered.extend(h.extensions_dropped.iter().cloned());
        offered.join(", ")
    });
    let mut explanation = vec![format!(
        "RFC 7692 section 6: a frame may have RSV1 set only when permessage-deflate was negotiated in the handshake; the {} compressed a message though no extension was agreed, so its peer must fail the connection (1002).",
        side.as_str()
    )];
    match offered.as_deref() {
        Some("") | None => explanation.push(format!(
            "The client offered no compression, and the {} compressed all the same: its compression setting ignores the negotiation.",
            side.as_str()
        )),
        Some(offered) => explanation.push(format!(
            "The client offered `{offered}` and the 101 accepted no extension: the {} compresses regardless of what was agreed.",
            side.as_str()
        )),
    }
    let mut f = finding(
        Code::WsCompressionNotNegotiated,
        format!(
            "The {} sent a compressed frame (RSV1) though no compression was negotiated",
            side.as_str()
        ),
        format!(
            "make the {} compress only when its handshake answer includes permessage-deflate (check its compression setting: it must follow the negotiation)",
            side.as_str()
        ),
        explanation,
        vec![close_event.seq],
    );
    f.error = Some(match close.code {
        Some(code) => format!("close {code}: a reserved bit set without an extension"),
        None => "the connection failed: a reserved bit set without an extension".to_owned(),
    });
    f
}

/// `ws-close-unanswered`: `silent` never sent its close frame back.
fn unanswered(close_event: &Event, close: &WsClose, silent: Side) -> Finding {
    let asked = if close.code.is_some() {
        quoted(close)
    } else {
        "close".to_owned()
    };
    let mut f = finding(
        Code::WsCloseUnanswered,
        format!(
            "The {} never answered the {}'s {asked}: the close handshake never completed",
            silent.as_str(),
            close.initiator.as_str()
        ),
        format!(
            "make the {} send its close frame back when one arrives (RFC 6455 section 5.5.1): a blocked event loop or a handler that never returns keeps it from answering",
            silent.as_str()
        ),
        vec![format!(
            "RFC 6455 section 7.1.2: an endpoint that receives a close frame sends one back, and only then is the TCP connection closed; without the answer, the {} waits until its own timeout.",
            close.initiator.as_str()
        )],
        vec![close_event.seq],
    );
    f.error = Some(format!("no close frame from the {}", silent.as_str()));
    f
}

/// `ws-idle-drop`: dropped without a close frame after a silence.
fn idle_drop(close_event: &Event, silence_us: u64) -> Finding {
    let seconds = silence_us as f64 / 1e6;
    let mut f = finding(
        Code::WsIdleDrop,
        format!("Something on the upstream's side dropped the WebSocket without a close frame after {seconds:.1} s of silence in both directions"),
        format!("send heartbeats more often than every {seconds:.0} s (a ping, or the protocol's own), or raise the idle timeout of what sits in front of the backend (nginx `proxy_read_timeout`, a load balancer's idle timeout)"),
        vec![
            "No message went either way before the drop, and no close frame came: an idle timeout in a proxy or load balancer between wsdiag and the backend ends such connections; browsers report 1006.".to_owned(),
        ],
        vec![close_event.seq],
    );
    f.error = Some(format!("no close frame after {seconds:.1} s idle"));
    f
}

/// `ws-closed-by-upstream`: an error close not tied to a client message.
fn by_upstream(close_event: &Event, close: &WsClose) -> Finding {
    let (explanation, next) = match meaning(close.code) {
        Some((means, next)) => (format!("{means}."), next.to_owned()),
        None if close.code.is_none() => (
            "The upstream dropped the connection without a close frame.".to_owned(),
            "find what happened to the server's connection in its log".to_owned(),
        ),
        None => (
            format!("{}.", code_class(close.code.unwrap_or_default())),
            "see what the server's code means by this close code and reason".to_owned(),
        ),
    };
    let mut f = finding(
        Code::WsClosedByUpstream,
        format!("The upstream ended the WebSocket with {}", quoted(close)),
        next,
        vec![explanation],
        vec![close_event.seq],
    );
    f.error = Some(quoted(close));
    f
}

/// The expiry of the token the socket opened with, against the close.
fn token_expiry(facts: &Facts<'_>, socket: &SocketFlow, close_event: &Event) -> Option<String> {
    let (_, request) = facts.flows.upgrade(socket.conn)?;
    let token = jwt::in_request(request)?;
    let exp = token.exp?;
    let expires = DateTime::<Utc>::from_timestamp(exp, 0)?;
    let at = expires.format("%H:%M:%S UTC");
    Some(match facts.started_at {
        Some(start) => {
            let closed = crate::capture::wall_clock(start, close_event.t_us);
            let delta = (closed - expires).num_milliseconds() as f64 / 1000.0;
            let when = if delta >= 0.0 {
                format!("{delta:.1} s before the close")
            } else {
                format!("{:.1} s after the close", -delta)
            };
            format!(
                "The socket opened with a JWT in {} whose exp is {at}, {when}.",
                token.place
            )
        }
        None => format!(
            "The socket opened with a JWT in {} whose exp is {at}.",
            token.place
        ),
    })
}

fn first_number(text: &str) -> Option<u64> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .and_then(|s| s.parse().ok())
}

fn finding(
    code: Code,
    title: String,
    next_step: String,
    explanation: Vec<String>,
    evidence: Vec<u64>,
) -> Finding {
    Finding {
        code,
        path: SendPath::Ws,
        title,
        error: None,
        location: None,
        explanation,
        next_step,
        suggestion: None,
        evidence,
        action: None,
        comparison: None,
    }
}
