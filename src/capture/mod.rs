//! The capture file format: JSON Lines, a header, events, a trailer.
//!
//! `capture/` alone serializes records. The format is documented in
//! `docs/capture-format.md`; [`FORMAT_VERSION`] changes whenever a reader of
//! the previous version would misread a new file, and [`reader`] migrates
//! older versions.

pub mod har;
mod line;
pub mod reader;
pub mod writer;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use reader::{read_path, Capture, ReadError};
pub use writer::CaptureWriter;

/// The version written by this build, and the newest one it reads.
pub const FORMAT_VERSION: u32 = 2;

/// The first line of every capture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always `"header"`: tells a header from an event.
    #[serde(rename = "type")]
    pub record: HeaderTag,
    /// The capture format's version; see [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The version of wsdiag that wrote the file.
    pub wsdiag_version: String,
    /// When recording started (UTC); every event's `t_us` counts from here.
    pub started_at: DateTime<Utc>,
    /// The address the proxy listened on.
    pub listen: String,
    /// The upstream the proxy forwarded to.
    pub upstream: String,
    /// How many bytes of each body or message were kept at most.
    pub body_limit: usize,
    /// `--idle-timeout`, when the user set one: wsdiag then pings a silent
    /// side (its pings and their pongs are recorded with `origin:
    /// "proxy"`). Absent: wsdiag sent no traffic of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<u64>,
}

/// The `type` tag of a [`Header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderTag {
    /// The only value.
    Header,
}

impl Header {
    /// A header for a capture starting now.
    pub fn new(listen: String, upstream: String, body_limit: usize) -> Header {
        Header {
            record: HeaderTag::Header,
            format_version: FORMAT_VERSION,
            wsdiag_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: Utc::now(),
            listen,
            upstream,
            body_limit,
            idle_timeout_ms: None,
        }
    }

    /// The wall-clock time of an event's `t_us`.
    pub fn wall_clock(&self, t_us: u64) -> DateTime<Utc> {
        wall_clock(self.started_at, t_us)
    }
}

/// `started_at` plus `t_us` microseconds; a `t_us` out of any sensible
/// range (a crafted file) gives the latest representable time, never a
/// panic.
pub fn wall_clock(started_at: DateTime<Utc>, t_us: u64) -> DateTime<Utc> {
    let delta = chrono::TimeDelta::microseconds(i64::try_from(t_us).unwrap_or(i64::MAX));
    started_at
        .checked_add_signed(delta)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
