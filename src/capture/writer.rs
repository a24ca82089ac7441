//! Writes a capture file: the lossless record (the hub feeds it through
//! `sink::capture_file`).
//!
//! The file is created with mode 0600 because it holds cookies and tokens.
//! Events are serialized into a buffer and written when the hub flushes
//! (when the stream goes quiet, and at least every 100 ms), so a crash loses
//! at most the last 100 ms and leaves at worst a partial last line, which the
//! reader reports and skips.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::Header;
use crate::event::Event;

/// The capture file sink.
pub struct CaptureWriter {
    out: BufWriter<File>,
    name: String,
    path: PathBuf,
}

impl CaptureWriter {
    /// Creates (or truncates) `path` with mode 0600 and writes `header`.
    pub fn create(path: &Path, header: &Header) -> io::Result<CaptureWriter> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path)?;
        // `mode` applies only to a file created now: an existing one keeps
        // its permissions unless they are set again.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        let mut writer = CaptureWriter {
            out: BufWriter::with_capacity(256 * 1024, file),
            name: format!("capture file {}", path.display()),
            path: path.to_owned(),
        };
        writer.write_line(header)?;
        writer.out.flush()?;
        Ok(writer)
    }

    /// Where the capture is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_line<T: serde::Serialize>(&mut self, record: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")
    }

    /// A name for messages about this file: "capture file PATH".
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends one event as a line (buffered until [`CaptureWriter::flush`]).
    pub fn write_event(&mut self, event: &Event) -> io::Result<()> {
        self.write_line(event)
    }

    /// Writes what is buffered to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Writes a whole capture (header and events) to `out`, as the proxy
/// would have: used by `wsdiag export --format jsonl`.
pub fn write_all(mut out: impl Write, header: &Header, events: &[Event]) -> io::Result<()> {
    serde_json::to_writer(&mut out, header)?;
    out.write_all(b"\n")?;
    for event in events {
        serde_json::to_writer(&mut out, event)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
