//! Replay and comparison of captured sessions, and the mock upstream.
//!
//! - [`script`]: a capture as the client's actions and the upstream's
//!   answers.
//! - [`run`]: acting a script out against a target, with [`correlate`]
//!   keeping a fresh backend's cookies and tokens flowing.
//! - [`compare`]: JSON-aware comparison with ignore rules, messages matched
//!   in any order.
//! - [`diff`]: two captures compared with the same rules.
//! - [`polling`]: Engine.IO long polls, run beside the script.
//! - [`mock`]: the upstream side of a capture, served.
//! - [`report`]: results as text, JSON and JUnit XML.

pub mod compare;
pub mod correlate;
pub mod diff;
pub mod mock;
pub mod polling;
pub mod report;
pub mod run;
pub mod script;

use std::time::Duration;

use serde::Serialize;

use compare::Difference;

/// Which kind of action a result is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An HTTP exchange.
    #[default]
    Rest,
    /// A WebSocket.
    Ws,
}

/// The verdict on one action: an exchange, or a whole WebSocket.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActionResult {
    /// REST or WebSocket.
    pub kind: Kind,
    /// `REST POST /api/...` or `WebSocket #3 /ws/chat/3/`.
    pub name: String,
    /// The recorded request's `seq` (REST).
    pub seq: u64,
    /// What differs.
    pub differences: Vec<Difference>,
    /// Recorded messages that did not come back.
    pub missing: Vec<String>,
    /// Messages that came back but were not recorded.
    pub extra: Vec<String>,
    /// Where each of `extra` came in the live sequence.
    #[serde(skip)]
    pub extra_at: Vec<usize>,
    /// Unrecorded messages that arrived after the client began closing
    /// sockets: in the recording the socket was gone before they could
    /// arrive (closes race), so they are shown but do not fail.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub late: Vec<String>,
    /// How long it took.
    #[serde(skip)]
    pub duration: Duration,
}

impl ActionResult {
    /// True when the answer matched the recording.
    pub fn passed(&self) -> bool {
        self.differences.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }
}
