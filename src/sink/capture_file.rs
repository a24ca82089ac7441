//! The capture file as a sink: every event, nothing skipped.

use std::io;
use std::sync::Arc;

use super::{Sink, SinkError};
use crate::capture::CaptureWriter;
use crate::event::Event;

impl Sink for CaptureWriter {
    fn name(&self) -> &str {
        CaptureWriter::name(self)
    }

    fn event(&mut self, event: &Arc<Event>) -> Result<(), SinkError> {
        self.write_event(event).map_err(|e| fail(self, e))
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        CaptureWriter::flush(self).map_err(|e| fail(self, e))
    }

    fn finish(&mut self) {
        // A failure here was already reported by the last flush.
        let _ = CaptureWriter::flush(self);
    }
}

fn fail(writer: &CaptureWriter, source: io::Error) -> SinkError {
    SinkError {
        sink: writer.name().to_owned(),
        source,
    }
}
