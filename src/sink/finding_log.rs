//! The live diagnosis's findings, kept for the web viewer: a sink that
//! appends every finding the hub hands it to a shared, bounded log, which
//! each of the viewer's feeds reads from its own cursor.
//!
//! The log holds what the console prints under the failing events (the
//! same [`LiveFinding`]s, revisions included), so a viewer opened on a
//! running proxy shows a failure's finding within one flush of its event,
//! without diagnosing the whole capture again. It is bounded
//! ([`MAX_KEPT`]): a viewer opened after more findings than that starts at
//! the oldest kept, and the whole-capture diagnosis covers the rest.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Sink, SinkError};
use crate::diagnose::live::LiveFinding;
use crate::event::Event;

/// At most this many findings are kept; the oldest go first. The panel
/// lists 50, and the whole diagnosis covers the older ones; a finding with
/// its explanation, source excerpt and comparison takes a few KiB.
pub const MAX_KEPT: usize = 1_000;

/// The shared log; clones read and write the same one.
#[derive(Debug, Clone, Default)]
pub struct FindingLog {
    inner: Arc<Mutex<Kept>>,
}

/// The findings kept, and the position of the first of them among all
/// findings ever appended.
#[derive(Debug, Default)]
struct Kept {
    first: u64,
    findings: VecDeque<LiveFinding>,
}

impl FindingLog {
    /// An empty log.
    pub fn new() -> FindingLog {
        FindingLog::default()
    }

    /// The sink that fills this log; give it to the hub.
    pub fn sink(&self) -> FindingLogSink {
        FindingLogSink(self.clone())
    }

    /// The findings appended at position `cursor` (0 for the first ever)
    /// and after, and the cursor to ask with next time. A cursor older than
    /// the oldest kept finding starts at the oldest kept.
    pub fn since(&self, cursor: u64) -> (Vec<LiveFinding>, u64) {
        let kept = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let end = kept.first + kept.findings.len() as u64;
        let skip = cursor.saturating_sub(kept.first);
        let found = kept.findings.iter().skip(skip as usize).cloned().collect();
        (found, end.max(cursor))
    }

    fn append(&self, found: &[LiveFinding]) {
        let mut kept = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        kept.findings.extend(found.iter().cloned());
        let over = kept.findings.len().saturating_sub(MAX_KEPT);
        kept.findings.drain(..over);
        kept.first += over as u64;
    }
}

/// The sink side of a [`FindingLog`]: keeps findings, ignores events.
#[derive(Debug)]
pub struct FindingLogSink(FindingLog);

impl Sink for FindingLogSink {
    fn name(&self) -> &str {
        "the web viewer's findings"
    }

    fn event(&mut self, _event: &Arc<Event>) -> Result<(), SinkError> {
        Ok(())
    }

    fn findings(&mut self, findings: &[LiveFinding]) -> Result<(), SinkError> {
        self.0.append(findings);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Code;

    fn found(at: u64) -> LiveFinding {
        LiveFinding::bare(at, Code::WsCloseUnanswered, Vec::new())
    }

    fn ats(found: &[LiveFinding]) -> Vec<u64> {
        found.iter().map(|f| f.at).collect()
    }

    #[test]
    fn each_reader_gets_every_finding_once_from_its_own_cursor() {
        let log = FindingLog::new();
        let mut sink = log.sink();
        sink.findings(&[found(3), found(7)]).unwrap();
        let (first, cursor) = log.since(0);
        assert_eq!(ats(&first), [3, 7]);
        assert!(log.since(cursor).0.is_empty());
        sink.findings(&[found(9)]).unwrap();
        let (next, cursor) = log.since(cursor);
        assert_eq!(ats(&next), [9]);
        assert_eq!(cursor, 3);
        assert_eq!(ats(&log.since(0).0), [3, 7, 9], "a new reader starts over");
    }

    #[test]
    fn the_log_keeps_the_newest_findings_and_a_late_reader_starts_at_the_oldest_kept() {
        let log = FindingLog::new();
        let mut sink = log.sink();
        let many: Vec<_> = (0..MAX_KEPT as u64 + 5).map(found).collect();
        sink.findings(&many).unwrap();
        let (kept, cursor) = log.since(0);
        assert_eq!(kept.len(), MAX_KEPT);
        assert_eq!(kept[0].at, 5);
        assert_eq!(cursor, MAX_KEPT as u64 + 5);
    }
}
