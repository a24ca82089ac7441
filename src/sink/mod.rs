//! Consumers of the live event stream.
//!
//! Every event goes from the proxy through one bounded channel to the
//! [`hub`], which hands it to each [`Sink`]: the capture file (lossless), the
//! console (may skip, and says how much). The hub's live diagnosis hands
//! every sink the findings it completes, whatever the sink shows; the
//! [`finding_log`] keeps them for the web viewer. This module owns all terminal
//! output; the proxy never prints.

mod capture_file;
pub mod console;
pub mod filter;
pub mod finding_log;
pub mod format;
pub mod hub;
pub mod recorder;

use std::sync::Arc;

use crate::diagnose::live::LiveFinding;
use crate::event::Event;

pub use hub::{spawn, HubHandle, HubReport};
pub use recorder::Recorder;

/// A sink that stopped working, and why.
#[derive(Debug, thiserror::Error)]
#[error("{sink}: {source}")]
pub struct SinkError {
    /// The sink's name, for people ("capture file /tmp/x.jsonl").
    pub sink: String,
    /// What failed.
    #[source]
    pub source: std::io::Error,
}

/// A consumer of the event stream, called on the hub thread.
///
/// A sink must not block for long: the hub feeds the capture file too. A sink
/// that returns an error is not called again; the hub reports it once as an
/// `error` event to the others and counts what it missed.
pub trait Sink: Send {
    /// A name for messages about this sink.
    fn name(&self) -> &str;
    /// Takes one event, already numbered.
    fn event(&mut self, event: &Arc<Event>) -> Result<(), SinkError>;
    /// Takes the findings the hub's live diagnosis completed or revised,
    /// each with the `seq` of the event it belongs under (an event this sink
    /// was already given). Called before a flush, whenever there are any.
    /// The default keeps none: the capture file holds the events, from
    /// which `wsdiag diagnose` finds the same findings.
    fn findings(&mut self, _findings: &[LiveFinding]) -> Result<(), SinkError> {
        Ok(())
    }
    /// Pushes buffered output out (called when the stream goes quiet, and at
    /// least every 100 ms).
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    /// Called once after the trailer; the last chance to write.
    fn finish(&mut self) {}
}
