//! The diagnosis while the proxy runs: a bounded window of recent events,
//! diagnosed again whenever something fails, returning only the findings
//! that the new event completes (a failing REST write is explained the
//! moment its response arrives).
//!
//! The window is bounded by age, count and kept payload bytes, so a
//! long-running proxy holds no message history beyond it; `wsdiag diagnose`
//! on the capture remains the complete answer.

use std::collections::VecDeque;

use super::{Finding, Options};
use crate::event::{Event, EventKind};

/// How far back the live diagnosis looks.
const WINDOW_US: u64 = 5 * 60 * 1_000_000;
/// At most this many events are kept.
const MAX_EVENTS: usize = 5_000;
/// At most this many payload bytes are kept.
const MAX_BYTES: usize = 16 << 20;

/// The live diagnosis state.
#[derive(Debug, Default)]
pub struct Live {
    events: VecDeque<Event>,
    bytes: usize,
    options: Options,
}

fn payload_bytes(event: &Event) -> usize {
    match &event.kind {
        EventKind::HttpRequest(r) => r.body.bytes.len(),
        EventKind::HttpResponse(r) => r.body.bytes.len(),
        EventKind::WsMessage(m) => m.payload.bytes.len(),
        _ => 0,
    }
}

impl Live {
    /// Takes `event`; returns the findings it completes.
    pub fn observe(&mut self, event: &Event) -> Vec<Finding> {
        let relevant = matches!(
            event.kind,
            EventKind::HttpRequest(_)
                | EventKind::HttpResponse(_)
                | EventKind::HttpError(_)
                | EventKind::WsHandshake(_)
                | EventKind::WsMessage(_)
                | EventKind::WsClose(_)
        );
        if !relevant {
            return Vec::new();
        }
        self.bytes += payload_bytes(event);
        self.events.push_back(event.clone());
        self.trim(event.t_us);
        let failed = match &event.kind {
            EventKind::HttpResponse(r) => r.status >= 400,
            EventKind::HttpError(_) => true,
            EventKind::WsClose(c) => !c.clean || c.code == Some(1011),
            EventKind::WsMessage(m) => m.msg_role == Some(crate::event::Role::Error),
            _ => false,
        };
        if !failed {
            return Vec::new();
        }
        let events = self.events.make_contiguous();
        let diagnosis = super::run(events, &self.options);
        diagnosis
            .findings
            .into_iter()
            .filter(|f| f.evidence.contains(&event.seq))
            .collect()
    }

    fn trim(&mut self, now_us: u64) {
        while let Some(oldest) = self.events.front() {
            let too_old = now_us.saturating_sub(oldest.t_us) > WINDOW_US;
            if !(too_old || self.events.len() > MAX_EVENTS || self.bytes > MAX_BYTES) {
                break;
            }
            self.bytes -= payload_bytes(oldest);
            self.events.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_rest_failure_is_explained_when_its_response_arrives() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.jsonl");
        let capture = crate::capture::read_path(std::path::Path::new(path)).unwrap();
        let mut live = Live::default();
        let mut explained = Vec::new();
        for event in &capture.events {
            for finding in live.observe(event) {
                explained.push((event.seq, finding.code));
            }
        }
        let response = capture
            .events
            .iter()
            .find(|e| matches!(&e.kind, EventKind::HttpResponse(r) if r.status == 500))
            .unwrap();
        assert_eq!(
            explained,
            [(response.seq, super::super::Code::RestMissingServerField)]
        );
    }
}
