//! Diagnosis: events in, findings out. Pure functions, no I/O.
//!
//! 1. [`attempt`]: send attempts (REST writes, client WebSocket JSON
//!    messages) and their outcomes.
//! 2. [`action`]: attempts carrying the same content to the same
//!    conversation form one action, seen on one or both paths.
//! 3. [`compare`]: the two paths' fields against the saved object, and
//!    their request context.
//! 4. [`rules`]: one function per kind of [`finding`], each with a stable
//!    code, its evidence (event `seq`s) and a next step.
//!
//! [`error_body`] reads an error response with the stack modules
//! (`crate::stacks`); the console uses it too, to name the exception behind
//! a 500.

pub mod action;
pub mod attempt;
pub mod compare;
pub mod context;
pub mod error_body;
pub mod finding;
mod jwt;
pub mod live;
mod reading;
pub mod report;
mod rules;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use serde::Serialize;

use crate::event::{Event, EventKind};
use crate::stacks::drf;
pub use crate::stacks::Introspection;
pub use action::Action;
pub use attempt::{Attempt, Outcome, SendPath};
pub use error_body::ErrorBody;
pub use finding::{Code, Finding};

/// A pong this long after its ping (microseconds) means the answering side
/// was busy: `ws-late-pong`.
pub const LATE_PONG_US: u64 = 1_000_000;

/// Settings of a diagnosis.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long after a WebSocket message an upstream message carrying the
    /// same content counts as its delivery.
    pub delivery_window: Duration,
    /// How far apart attempts with the same content may be and still be one
    /// action.
    pub action_window: Duration,
    /// The serializer's fields from DRF's `OPTIONS`, when fetched live;
    /// an `OPTIONS` exchange in the capture is used otherwise.
    pub introspection: Option<Introspection>,
    /// When the capture started (its header's `started_at`), to put event
    /// times against wall-clock facts such as a token's expiry.
    pub started_at: Option<DateTime<Utc>>,
}

impl Options {
    /// The default settings for the capture that `header` starts.
    pub fn for_capture(header: &crate::capture::Header) -> Options {
        Options {
            started_at: Some(header.started_at),
            ..Options::default()
        }
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            delivery_window: Duration::from_secs(2),
            action_window: Duration::from_secs(60),
            introspection: None,
            started_at: None,
        }
    }
}

/// The result of a diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    /// Every send attempt, in capture order.
    pub attempts: Vec<Attempt>,
    /// Attempts grouped by what they carried.
    pub actions: Vec<Action>,
    /// What failed and why.
    pub findings: Vec<Finding>,
    /// The serializer description used, if any.
    pub introspection: Option<Introspection>,
    /// The parsed error report of every exchange answered with 4xx or 5xx,
    /// by exchange number: parsed once here, read by the exports.
    #[serde(skip)]
    pub errors: BTreeMap<u64, ErrorBody>,
}

impl Diagnosis {
    /// True when a send path failed: the exit code of `wsdiag diagnose` is 1.
    pub fn found_failures(&self) -> bool {
        !self.findings.is_empty()
    }
}

/// Diagnoses `events` (a capture's, in order).
pub fn run(events: &[Event], options: &Options) -> Diagnosis {
    let windows = attempt::Windows {
        delivery_us: options.delivery_window.as_micros() as u64,
    };
    let flows = crate::event::Flows::of(events);
    let reading = reading::Reading::of(events);
    let errors = error_reports(&flows);
    let attempts = attempt::find(&flows, &reading, &errors, windows);
    let actions = action::group(&attempts, options.action_window.as_micros() as u64);
    let introspection = options
        .introspection
        .clone()
        .or_else(|| introspection_in(events));
    let ws_saved_ids = attempts
        .iter()
        .filter(|a| a.path == SendPath::Ws)
        .filter_map(|a| match &a.outcome {
            Outcome::Succeeded { saved: Some(s), .. } => s.get("id").map(|id| id.to_string()),
            _ => None,
        })
        .collect();
    let facts = rules::Facts {
        started_at: options.started_at,
        delivery_us: windows.delivery_us,
        ws_saved_ids: &ws_saved_ids,
        flows: &flows,
        reading: &reading,
        attempts: &attempts,
        actions: &actions,
        introspection: introspection.as_ref(),
    };
    let findings = rules::findings(&facts);
    Diagnosis {
        attempts,
        actions,
        findings,
        introspection,
        errors,
    }
}

/// The error report of every exchange whose response is a 4xx or 5xx.
fn error_reports(flows: &crate::event::Flows<'_>) -> BTreeMap<u64, ErrorBody> {
    flows
        .exchanges()
        .iter()
        .filter_map(|x| {
            let (_, response) = flows.response(x.id)?;
            Some((x.id, ErrorBody::parse(response.status, &response.body)?))
        })
        .collect()
}

/// The last DRF `OPTIONS` answer in the capture.
fn introspection_in(events: &[Event]) -> Option<Introspection> {
    let mut options_exchanges = std::collections::HashSet::new();
    let mut found = None;
    for event in events {
        match &event.kind {
            EventKind::HttpRequest(r) if r.method == "OPTIONS" => {
                options_exchanges.insert(r.exchange);
            }
            EventKind::HttpResponse(r) if options_exchanges.contains(&r.exchange) => {
                found = r.body.text().and_then(drf::options_schema).or(found);
            }
            _ => {}
        }
    }
    found
}
