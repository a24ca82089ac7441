//! The diagnosis while the proxy runs: a bounded window of recent events,
//! diagnosed again while failures are recent, returning the findings the
//! failing events complete (a failing REST write is explained as soon as
//! its response arrives) and, when later events change what a failure
//! means (the list reloaded after a 500 shows the message was saved after
//! all), the finding that replaces the earlier one. Its last word on each
//! failure is what `wsdiag diagnose` says of the capture.
//!
//! The hub feeds it every event ([`Live::observe`], a pointer copy) and asks
//! for findings once per flush ([`Live::findings`]): one diagnosis of the
//! window per flush, and only while a failure is younger than
//! [`SETTLE_US`] and new events came. The window is bounded by age, count
//! and kept payload bytes, so a long-running proxy holds no history beyond
//! it. Its cost is bounded too: a diagnosis that took `d` is not followed
//! by another for [`COST_FACTOR`] times `d`, so under heavy traffic with
//! failures the live diagnosis takes at most about 5 % of a core, and its
//! findings come that much later ([`Live::deferred`]); the last word is the
//! same.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::{Code, Finding, Options};
use crate::event::{Event, EventKind, Role};

/// How far back the live diagnosis looks.
const WINDOW_US: u64 = 5 * 60 * 1_000_000;
/// At most this many events are kept.
const MAX_EVENTS: usize = 5_000;
/// At most this many payload bytes are kept.
const MAX_BYTES: usize = 16 << 20;
/// How long (in capture time) after a failure later events may still
/// change its finding: the proof of a save, a reloaded list.
pub const SETTLE_US: u64 = 30 * 1_000_000;
/// At most this many recent failures are followed; older ones keep what
/// was shown for them.
const MAX_OPEN: usize = 1_000;
/// After a diagnosis that took `d`, the next waits `COST_FACTOR × d`: the
/// live diagnosis spends at most 1 / (1 + `COST_FACTOR`) of a core (5 %).
/// A full window (5,000 chat events) takes tens of milliseconds, so under
/// load its findings come within a second or two.
pub const COST_FACTOR: u32 = 19;

/// A finding of the live diagnosis. In JSON (the web viewer's feed):
/// `{"at": 12, "finding": {...}, "revises": ["rest-..."]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveFinding {
    /// The `seq` of the failing event it belongs under.
    pub at: u64,
    /// The finding.
    pub finding: Finding,
    /// The codes it replaces, shown earlier for the same failure (empty
    /// the first time).
    pub revises: Vec<Code>,
}

#[cfg(test)]
impl LiveFinding {
    /// A finding of `code` under `at` with nothing else said, for the tests
    /// of what carries findings.
    pub(crate) fn bare(at: u64, code: Code, revises: Vec<Code>) -> LiveFinding {
        LiveFinding {
            at,
            finding: Finding {
                code,
                path: super::SendPath::Rest,
                title: String::new(),
                error: None,
                location: None,
                explanation: Vec::new(),
                next_step: String::new(),
                suggestion: None,
                evidence: vec![at],
                action: None,
                comparison: None,
            },
            revises,
        }
    }
}

/// A recent failure and the codes shown for it so far.
#[derive(Debug)]
struct Open {
    seq: u64,
    t_us: u64,
    shown: Vec<Code>,
}

/// The live diagnosis state.
#[derive(Debug, Default)]
pub struct Live {
    events: VecDeque<Arc<Event>>,
    bytes: usize,
    /// How many of `events` are `OPTIONS` requests (CORS preflights).
    preflights: usize,
    /// Failures younger than [`SETTLE_US`], oldest first.
    open: Vec<Open>,
    /// Whether events came since the last diagnosis.
    dirty: bool,
    /// No diagnosis before this (see [`COST_FACTOR`]).
    not_before: Option<Instant>,
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

/// Whether `event` is an `OPTIONS` request (a CORS preflight).
fn is_preflight(event: &Event) -> bool {
    matches!(&event.kind, EventKind::HttpRequest(q) if q.method == "OPTIONS")
}

/// How many events back the request of a response is looked for.
const REQUEST_LOOKBACK: usize = 256;

/// True for an event that may complete a finding: an error status, a
/// failed exchange (a refused handshake's answer among them), the answer
/// to an `OPTIONS` (a CORS preflight the upstream may refuse with a 200),
/// an accepted handshake whose subprotocol a browser refuses, a close
/// without a close frame or with an error code, a pong that came more than
/// [`super::LATE_PONG_US`] after its ping, an error message of the
/// socket's protocol.
/// `earlier` yields the events before it, newest first.
fn failure<'a>(event: &Event, earlier: impl Iterator<Item = &'a Event>) -> bool {
    match &event.kind {
        EventKind::HttpResponse(r) if r.status >= 400 => true,
        // The scan stops at the exchange's request.
        EventKind::HttpResponse(r) => earlier
            .take(REQUEST_LOOKBACK)
            .find_map(|e| match &e.kind {
                EventKind::HttpRequest(q) if q.exchange == r.exchange => {
                    Some(q.method == "OPTIONS")
                }
                _ => None,
            })
            .unwrap_or(false),
        EventKind::HttpError(_) => true,
        EventKind::WsClose(c) => !c.is_normal(),
        EventKind::WsHandshake(h) => h.subprotocol_refused(),
        // A pong long after its ping: the latest ping of the other side of
        // the same socket with the same payload, as `ws-late-pong` pairs
        // them (an older ping with the same payload was answered before).
        EventKind::WsMessage(m) if m.opcode == crate::event::Opcode::Pong && m.origin.is_none() => {
            earlier
                .take(REQUEST_LOOKBACK)
                .find_map(|e| match &e.kind {
                    EventKind::WsMessage(p)
                        if e.conn == event.conn
                            && p.opcode == crate::event::Opcode::Ping
                            && p.origin.is_none()
                            && p.dir != m.dir
                            && p.payload.bytes == m.payload.bytes =>
                    {
                        Some(event.t_us.saturating_sub(e.t_us) > super::LATE_PONG_US)
                    }
                    _ => None,
                })
                .unwrap_or(false)
        }
        EventKind::WsMessage(m) => m.msg_role == Some(Role::Error),
        _ => false,
    }
}

/// `findings` of a diagnosis of `events`, each placed under the first
/// failing event among its evidence, as the live console places them
/// (`wsdiag show`). A finding with no failing event in its evidence goes
/// under its last evidence.
pub fn placed(events: &[Event], findings: Vec<Finding>) -> Vec<LiveFinding> {
    let failed = |seq: &&u64| {
        events
            .binary_search_by_key(*seq, |e| e.seq)
            .is_ok_and(|i| failure(&events[i], events[..i].iter().rev()))
    };
    findings
        .into_iter()
        .filter_map(|finding| {
            let at = finding
                .evidence
                .iter()
                .find(failed)
                .or(finding.evidence.last())
                .copied()?;
            Some(LiveFinding {
                at,
                finding,
                revises: Vec::new(),
            })
        })
        .collect()
}

impl Live {
    /// Takes `event` (numbered, read by its dialect) into the window.
    pub fn observe(&mut self, event: &Arc<Event>) {
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
            return;
        }
        let failed = match &event.kind {
            // Below 400 only a preflight's answer counts: with no `OPTIONS`
            // request in the window, no scan for the request.
            EventKind::HttpResponse(r) if r.status < 400 && self.preflights == 0 => false,
            _ => failure(event, self.events.iter().rev().map(|e| e.as_ref())),
        };
        self.bytes += payload_bytes(event);
        self.preflights += usize::from(is_preflight(event));
        self.events.push_back(event.clone());
        self.trim(event.t_us);
        self.dirty = true;
        if failed {
            self.open.push(Open {
                seq: event.seq,
                t_us: event.t_us,
                shown: Vec::new(),
            });
            if self.open.len() > MAX_OPEN {
                self.open.remove(0);
            }
        }
    }

    /// True when a diagnosis is due but waits for its cost budget
    /// ([`COST_FACTOR`]): ask again for [`Live::findings`] soon, even if no
    /// event comes.
    pub fn deferred(&self) -> bool {
        self.due() && self.not_before.is_some_and(|t| Instant::now() < t)
    }

    fn due(&self) -> bool {
        self.dirty && !self.open.is_empty()
    }

    /// The findings that are new since the last call: those of new
    /// failures, and those that replace what was shown for a recent one.
    /// In `seq` order of the failures. Empty while the last diagnosis's
    /// cost budget runs ([`Live::deferred`]).
    pub fn findings(&mut self) -> Vec<LiveFinding> {
        if self.deferred() {
            return Vec::new();
        }
        self.findings_now()
    }

    /// [`Live::findings`], whatever the cost budget: for the last word when
    /// the proxy stops.
    pub fn findings_now(&mut self) -> Vec<LiveFinding> {
        if !self.due() {
            return Vec::new();
        }
        self.dirty = false;
        let started = Instant::now();
        let events: Vec<Event> = self.events.iter().map(|e| Event::clone(e)).collect();
        let diagnosis = super::run(&events, &self.options);
        self.not_before = Some(Instant::now() + started.elapsed() * COST_FACTOR);
        // Each finding belongs under the earliest recent failure among its
        // evidence.
        let mut by_failure: Vec<Vec<Finding>> = vec![Vec::new(); self.open.len()];
        for finding in diagnosis.findings {
            let anchor = self
                .open
                .iter()
                .position(|o| finding.evidence.contains(&o.seq));
            if let Some(at) = anchor {
                by_failure[at].push(finding);
            }
        }
        let mut out = Vec::new();
        for (open, findings) in self.open.iter_mut().zip(by_failure) {
            let codes: Vec<Code> = findings.iter().map(|f| f.code).collect();
            let revises: Vec<Code> = open
                .shown
                .iter()
                .copied()
                .filter(|c| !codes.contains(c))
                .collect();
            for finding in findings {
                if !open.shown.contains(&finding.code) {
                    out.push(LiveFinding {
                        at: open.seq,
                        finding,
                        revises: revises.clone(),
                    });
                }
            }
            if !codes.is_empty() {
                open.shown = codes;
            }
        }
        let now = self.events.back().map_or(0, |e| e.t_us);
        self.open
            .retain(|o| now.saturating_sub(o.t_us) <= SETTLE_US);
        out
    }

    fn trim(&mut self, now_us: u64) {
        while let Some(oldest) = self.events.front() {
            let too_old = now_us.saturating_sub(oldest.t_us) > WINDOW_US;
            if !(too_old || self.events.len() > MAX_EVENTS || self.bytes > MAX_BYTES) {
                break;
            }
            self.bytes -= payload_bytes(oldest);
            self.preflights -= usize::from(is_preflight(oldest));
            self.events.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The live diagnosis fed a capture event by event, asked for findings
    /// after each (the hub asks once per flush: this is the most often).
    /// Returns the last code shown for each failure, and how many findings
    /// were revised.
    fn live_last_word(events: &[Event]) -> (Vec<(u64, Code)>, usize) {
        let mut live = Live::default();
        let mut last: Vec<(u64, Code)> = Vec::new();
        let mut revised = 0;
        for event in events {
            live.observe(&Arc::new(event.clone()));
            for found in live.findings_now() {
                revised += usize::from(!found.revises.is_empty());
                last.retain(|(at, c)| *at != found.at || !found.revises.contains(c));
                last.push((found.at, found.finding.code));
            }
        }
        last.sort_by_key(|(at, c)| (*at, c.as_str()));
        (last, revised)
    }

    fn event(json: serde_json::Value) -> Arc<Event> {
        Arc::new(serde_json::from_value(json).unwrap())
    }

    fn frame(seq: u64, t_us: u64, opcode: &str, dir: &str) -> Arc<Event> {
        event(serde_json::json!({
            "seq": seq, "t_us": t_us, "conn": 1, "type": "ws_message",
            "dir": dir, "opcode": opcode, "len": 0,
        }))
    }

    /// Empty keepalive pings every 20 s, each answered within 5 ms: no
    /// pong is late, though each has an older ping with the same payload
    /// more than a second before it. One answered after 3 s is.
    #[test]
    fn a_pong_is_late_only_against_the_ping_it_answers() {
        let (up, down) = ("client_to_upstream", "upstream_to_client");
        let mut live = Live::default();
        for (i, t) in [0u64, 20_000_000, 40_000_000].into_iter().enumerate() {
            let seq = 2 * i as u64 + 1;
            live.observe(&frame(seq, t, "ping", up));
            live.observe(&frame(seq + 1, t + 5_000, "pong", down));
        }
        assert!(live.open.is_empty(), "{:?}", live.open);
        live.observe(&frame(7, 60_000_000, "ping", up));
        live.observe(&frame(8, 63_000_000, "pong", down));
        assert_eq!(live.open.iter().map(|o| o.seq).collect::<Vec<_>>(), [8]);
    }

    /// A response opens a failure when its request was a CORS preflight
    /// (`OPTIONS`), however many events came between, within the lookback.
    #[test]
    fn only_a_preflight_s_answer_opens_a_failure() {
        let mut live = Live::default();
        for (exchange, method) in [(1u64, "OPTIONS"), (2, "GET")] {
            live.observe(&event(serde_json::json!({
                "seq": exchange, "t_us": exchange, "conn": exchange, "type": "http_request",
                "exchange": exchange, "method": method, "uri": "/api/messages/",
                "version": "HTTP/1.1", "headers": [], "body": {"len": 0},
            })));
        }
        for (seq, exchange) in [(3u64, 2u64), (4, 1)] {
            live.observe(&event(serde_json::json!({
                "seq": seq, "t_us": seq, "conn": exchange, "type": "http_response",
                "exchange": exchange, "status": 200, "headers": [], "body": {"len": 0},
                "duration_us": 1,
            })));
        }
        assert_eq!(live.open.iter().map(|o| o.seq).collect::<Vec<_>>(), [4]);
        // The preflight leaves the window with its time (after the answer
        // that came then, still its own): a later answer is not taken for
        // its own.
        assert_eq!(live.preflights, 1);
        for (seq, t_us) in [(5u64, WINDOW_US + 10), (6, WINDOW_US + 20)] {
            live.observe(&event(serde_json::json!({
                "seq": seq, "t_us": t_us, "conn": 1, "type": "http_response",
                "exchange": 1, "status": 200, "headers": [], "body": {"len": 0},
                "duration_us": 1,
            })));
        }
        assert_eq!(live.preflights, 0);
        assert_eq!(live.open.iter().map(|o| o.seq).collect::<Vec<_>>(), [4, 5]);
    }

    #[test]
    fn the_live_last_word_is_the_offline_diagnosis_on_every_sample_capture() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/captures");
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        paths.sort();
        let mut revised_somewhere = false;
        for path in paths {
            let capture = crate::capture::read_path(&path).unwrap();
            let offline = super::super::run(&capture.events, &Options::default());
            let mut expected: Vec<(u64, Code)> = placed(&capture.events, offline.findings)
                .into_iter()
                .map(|f| (f.at, f.finding.code))
                .collect();
            expected.sort_by_key(|(at, c)| (*at, c.as_str()));
            let (live, revised) = live_last_word(&capture.events);
            assert_eq!(live, expected, "{}", path.display());
            revised_somewhere |= revised > 0;
        }
        // fastapi-error-after-save: the 500 first reads as a server error;
        // the reloaded list then proves the save.
        assert!(revised_somewhere, "no sample capture needed a revision");
    }

    /// While the cost budget of the last diagnosis runs, findings wait;
    /// they are the same when it has run out.
    #[test]
    fn a_diagnosis_deferred_by_its_cost_budget_gives_the_same_findings_later() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.jsonl");
        let capture = crate::capture::read_path(std::path::Path::new(path)).unwrap();
        let mut live = Live {
            not_before: Some(Instant::now() + std::time::Duration::from_secs(3600)),
            ..Live::default()
        };
        for event in &capture.events {
            live.observe(&Arc::new(event.clone()));
            assert!(live.findings().is_empty(), "the budget was ignored");
        }
        assert!(live.deferred());
        let codes: Vec<Code> = live.findings_now().iter().map(|f| f.finding.code).collect();
        assert_eq!(codes, [Code::RestMissingServerField]);
        assert!(!live.deferred(), "nothing is left to diagnose");
    }

    #[test]
    fn the_demo_rest_failure_is_explained_when_its_response_arrives() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.jsonl");
        let capture = crate::capture::read_path(std::path::Path::new(path)).unwrap();
        let mut live = Live::default();
        let mut explained = Vec::new();
        for event in &capture.events {
            live.observe(&Arc::new(event.clone()));
            for found in live.findings() {
                explained.push((found.at, found.finding.code));
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
