//! The rules: one function per kind of finding ([`rest`], [`ws`],
//! [`cors`]). A failing REST attempt is
//! tried against the REST rules in order (the most specific first) and gets
//! the first finding that applies; failing WebSocket attempts and refused
//! handshakes get theirs directly.

mod cors;
mod engineio;
mod handshake_diff;
mod lifecycle;
mod rest;
mod ws;

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::action::Action;
use super::attempt::{Attempt, Outcome, SendPath};
use super::compare::{compare, Comparison};
use super::error_body::ErrorBody;
use super::finding::{Code, Finding};
use super::reading::Reading;
use crate::event::{EventKind, Flows};
use crate::stacks::Introspection;
use crate::stacks::StackId;
use rest::{
    body_not_parsed, content_type, credentials_missing, csrf_failed, error_after_save,
    missing_server_field, rest_failed, server_error, unknown_field, user_missing,
    validation_failed,
};

/// Everything the rules look at.
pub(super) struct Facts<'a> {
    /// The events grouped into exchanges and sockets.
    pub flows: &'a Flows<'a>,
    /// The payloads and saved objects, read once.
    pub reading: &'a Reading,
    /// The ids of the objects WebSocket sends saved (as JSON text).
    pub ws_saved_ids: &'a HashSet<String>,
    /// When the capture started, if known.
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The delivery window: how long after a WebSocket message an answer
    /// (or a close) belongs to it, in microseconds.
    pub delivery_us: u64,
    pub attempts: &'a [Attempt],
    pub actions: &'a [Action],
    pub introspection: Option<&'a Introspection>,
}

/// A failing REST attempt with what the other path and the upstream showed.
pub(super) struct RestCase<'a> {
    attempt: &'a Attempt,
    status: Option<u16>,
    error: Option<&'a ErrorBody>,
    evidence: Vec<u64>,
    ws: Option<&'a Attempt>,
    saved: Option<&'a Map<String, Value>>,
    comparison: Option<Comparison>,
    action: Option<usize>,
    /// The framework that answered: the error page's, else the one the
    /// response's headers name.
    stack: StackId,
}

impl RestCase<'_> {
    fn finding(&self, code: Code, title: String, next_step: String) -> Finding {
        let mut evidence = self.evidence.clone();
        if let Some(ws) = self.ws {
            evidence.push(ws.seq);
            if let Outcome::Succeeded { evidence: e, .. } = &ws.outcome {
                evidence.push(*e);
            }
        }
        evidence.sort_unstable();
        Finding {
            code,
            path: SendPath::Rest,
            title,
            explanation: vec![self.other_path()],
            error: self
                .error
                .map(ErrorBody::summary)
                .or_else(|| self.status.map(|s| format!("HTTP {s}"))),
            location: self.error.and_then(ErrorBody::location).cloned(),
            next_step,
            suggestion: None,
            evidence,
            action: self.action,
            comparison: self.comparison.clone(),
        }
    }

    /// What the WebSocket path did with the same content, in one sentence.
    fn other_path(&self) -> String {
        let content = self.attempt.content.as_deref().unwrap_or("");
        match self.ws {
            None => format!("The same content ({content:?}) was not sent over the WebSocket in this capture."),
            Some(ws) => match &ws.outcome {
                Outcome::Succeeded { evidence, .. } => format!(
                    "The same content ({content:?}) sent over the WebSocket (#{}, seq {}) was saved and came back (seq {evidence}).",
                    ws.conn, ws.seq
                ),
                Outcome::Failed { reason, .. } => format!(
                    "The same content ({content:?}) sent over the WebSocket (#{}, seq {}) failed too: {reason}.",
                    ws.conn, ws.seq
                ),
                Outcome::Unconfirmed => format!(
                    "The same content ({content:?}) sent over the WebSocket (#{}, seq {}) got no answer carrying it.",
                    ws.conn, ws.seq
                ),
            },
        }
    }

    /// True for a 5xx answer.
    fn is_server_error(&self) -> bool {
        self.status.is_some_and(|s| s >= 500)
    }

    /// The saved object's value of `field`.
    fn saved_value(&self, field: &str) -> Option<&Value> {
        self.saved.and_then(|s| s.get(field))
    }
}

/// Every finding in the facts.
pub(super) fn findings(facts: &Facts<'_>) -> Vec<Finding> {
    let mut action_of = vec![None; facts.attempts.len()];
    for (a, action) in facts.actions.iter().enumerate() {
        for &i in &action.attempts {
            action_of[i] = Some(a);
        }
    }
    let mut out = ws::refused_handshakes(facts.flows);
    out.extend(lifecycle::subprotocols(facts));
    out.extend(lifecycle::closes(facts, &action_of));
    out.extend(lifecycle::late_pongs(facts));
    out.extend(engineio::unknown_sessions(facts.flows));
    out.extend(cors::refused_preflights(facts.flows));
    for (attempt, &action) in facts.attempts.iter().zip(&action_of) {
        let finding = match (&attempt.outcome, attempt.path) {
            (Outcome::Failed { .. }, SendPath::Rest) => Some(rest_failure(facts, attempt, action)),
            // A close that failed it is explained by the lifecycle rules.
            (Outcome::Failed { reason, .. }, SendPath::Ws) if reason.starts_with("error reply") => {
                Some(ws::error_reply(attempt, action))
            }
            _ => None,
        };
        out.extend(finding);
    }
    out
}

/// The framework behind a failed exchange: the one its error page shows,
/// else the one its response's headers name (`Server: uvicorn`).
fn stack_of(flows: &Flows<'_>, error: Option<&ErrorBody>, evidence: &[u64]) -> StackId {
    match error.map(ErrorBody::stack) {
        Some(stack) if stack != StackId::Generic => stack,
        _ => evidence
            .iter()
            .filter_map(|&seq| flows.at_seq(seq))
            .find_map(|e| match &e.kind {
                EventKind::HttpResponse(r) => Some(crate::stacks::detect(&r.headers)),
                _ => None,
            })
            .unwrap_or(StackId::Generic),
    }
}

fn rest_failure(facts: &Facts<'_>, attempt: &Attempt, action: Option<usize>) -> Finding {
    let Outcome::Failed {
        evidence,
        status,
        error,
        ..
    } = &attempt.outcome
    else {
        unreachable!("rest_failure is only called for failed attempts")
    };
    let ws = action.and_then(|a| {
        let mut ws = facts.actions[a].on(SendPath::Ws, facts.attempts);
        let all: Vec<&Attempt> = ws.by_ref().collect();
        all.iter()
            .find(|w| matches!(w.outcome, Outcome::Succeeded { .. }))
            .or(all.first())
            .copied()
    });
    let saved = ws.and_then(|w| match &w.outcome {
        Outcome::Succeeded { saved, .. } => saved.as_ref(),
        _ => None,
    });
    let case = RestCase {
        attempt,
        status: *status,
        error: error.as_ref(),
        evidence: evidence.clone(),
        ws,
        saved,
        comparison: ws.map(|w| compare(attempt, Some(w), saved, facts.introspection)),
        action,
        stack: stack_of(facts.flows, error.as_ref(), evidence),
    };
    let mut finding = csrf_failed(&case)
        .or_else(|| credentials_missing(&case))
        .or_else(|| content_type(&case))
        .or_else(|| body_not_parsed(&case))
        .or_else(|| unknown_field(&case, facts.introspection))
        .or_else(|| validation_failed(&case))
        .or_else(|| missing_server_field(&case, facts.introspection))
        // A proven save outranks a user missing: the write went through.
        .or_else(|| error_after_save(&case, facts))
        .or_else(|| user_missing(&case))
        .or_else(|| server_error(&case, facts.introspection))
        .unwrap_or_else(|| rest_failed(&case));
    // A later list or broadcast that shows the content only in what the
    // WebSocket saved proves the failed write saved nothing.
    let proven_save = finding.code == Code::RestErrorAfterSave;
    if let (false, rest::Saved::Nothing(seq)) = (
        proven_save,
        if proven_save {
            rest::Saved::Unknown
        } else {
            rest::saved_by(facts, attempt)
        },
    ) {
        finding.explanation.push(format!(
            "Nothing was saved by the REST request: event {seq} shows {:?} only in the message the WebSocket saved, so a retry would not save it twice.",
            attempt.content.as_deref().unwrap_or_default()
        ));
        finding.evidence.push(seq);
        finding.evidence.sort_unstable();
        finding.evidence.dedup();
    }
    finding
}
