//! `wsdiag diff OLD NEW`: two recordings compared with the replay's rules.
//!
//! REST exchanges are paired by method and path, in order of occurrence;
//! WebSockets by path, in order of opening. The recorded answers of OLD are
//! the expectation, those of NEW the actual.

use std::collections::HashMap;

use super::compare::{Difference, Rules};
use super::run::{compare_response, compare_socket};
use super::script::{Expected, Script, Step};
use super::{ActionResult, Kind};
use crate::capture::Capture;
use crate::event::HttpRequest;

fn key(method: &str, uri: &str) -> String {
    format!("{method} {}", uri.split('?').next().unwrap_or(uri))
}

/// Compares two captures.
pub fn diff(old: &Capture, new: &Capture, rules: &Rules) -> Vec<ActionResult> {
    let (old, new) = (Script::of(old), Script::of(new));
    let rest = |s: &Script| -> Vec<(u64, HttpRequest, Option<Expected>)> {
        s.steps
            .iter()
            .filter_map(|t| match &t.step {
                Step::Rest { request, expected } => {
                    Some((t.seq, request.clone(), expected.clone()))
                }
                _ => None,
            })
            .collect()
    };
    let mut unused: HashMap<String, Vec<(u64, HttpRequest, Option<Expected>)>> = HashMap::new();
    for item in rest(&new).into_iter().rev() {
        unused
            .entry(key(&item.1.method, &item.1.uri))
            .or_default()
            .push(item);
    }
    let mut results = Vec::new();
    for (seq, request, expected) in rest(&old) {
        let name = format!("REST {}", key(&request.method, &request.uri));
        let counterpart = unused
            .get_mut(&key(&request.method, &request.uri))
            .and_then(Vec::pop);
        let differences = match (expected, counterpart.and_then(|(_, _, e)| e)) {
            (
                Some(Expected::Response {
                    status,
                    headers,
                    body,
                }),
                Some(Expected::Response {
                    status: s2,
                    headers: h2,
                    body: b2,
                }),
            ) => compare_response(rules, (status, &headers, &body), (s2, &h2, &b2)),
            (None, None) => Vec::new(),
            (e, a) => vec![Difference {
                at: "response".into(),
                expected: outcome(e.as_ref()),
                actual: outcome(a.as_ref()),
            }],
        };
        results.push(ActionResult {
            kind: Kind::Rest,
            name,
            seq,
            differences,
            duration: Default::default(),
            ..Default::default()
        });
    }
    for (_, leftovers) in unused {
        for (seq, request, _) in leftovers {
            let difference = Difference {
                at: "exchange".into(),
                expected: "absent".into(),
                actual: "present in NEW only".into(),
            };
            let name = format!("REST {}", key(&request.method, &request.uri));
            results.push(ActionResult {
                kind: Kind::Rest,
                name,
                seq,
                differences: vec![difference],
                duration: Default::default(),
                ..Default::default()
            });
        }
    }
    let mut new_sockets: HashMap<String, Vec<_>> = HashMap::new();
    for socket in new.sockets.values().rev() {
        new_sockets
            .entry(key("", &socket.request.uri))
            .or_default()
            .push(socket);
    }
    for (conn, socket) in &old.sockets {
        let counterpart = new_sockets
            .get_mut(&key("", &socket.request.uri))
            .and_then(Vec::pop);
        let result = match counterpart {
            Some(other) if other.status == socket.status => {
                compare_socket(*conn, socket, &other.received, None, rules)
            }
            other => {
                let actual = other.map_or("no such WebSocket".to_owned(), |o| {
                    format!("handshake {}", o.status)
                });
                let mut r = compare_socket(*conn, socket, &[], None, rules);
                r.differences = vec![Difference {
                    at: "handshake status".into(),
                    expected: socket.status.to_string(),
                    actual,
                }];
                r.missing.clear();
                r
            }
        };
        results.push(result);
    }
    results
}

fn outcome(e: Option<&Expected>) -> String {
    match e {
        Some(Expected::Response { status, .. }) => format!("status {status}"),
        Some(Expected::Failed(why)) => format!("failure ({why})"),
        None => "no response recorded".to_owned(),
    }
}
