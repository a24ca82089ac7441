//! Writes a capture file: the lossless record (the hub feeds it through
//! `sink::capture_file`).
//!
//! The file is created with mode 0600 because it holds cookies and tokens.
//! Events are serialized into a buffer and written when the hub flushes
//! (when the stream goes quiet, and at least every 100 ms) or when 256 KiB
//! are waiting, so a crash loses at most the last 100 ms and leaves at worst
//! a partial last line, which the reader reports and skips.
//!
//! Lines are serialized with `sonic-rs`, whose SIMD string escaping is
//! several times faster than `serde_json`'s byte loop on large payloads
//! (the escaping was a quarter of the proxy's CPU with 16 KiB messages; see
//! `docs/performance.md`). The events recorded most are written member by
//! member ([`super::line`]), the same bytes with fewer escapes. The output
//! is plain JSON that `serde_json` reads.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{line, Header};
use crate::event::Event;

/// Bytes of serialized lines kept before they are written to the file.
const BUFFER: usize = 256 * 1024;

/// The capture file sink.
pub struct CaptureWriter {
    file: File,
    /// Serialized lines not yet written to `file`.
    buffer: Vec<u8>,
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
            file,
            buffer: Vec::with_capacity(BUFFER),
            name: format!("capture file {}", path.display()),
            path: path.to_owned(),
        };
        push_line(&mut writer.buffer, header)?;
        writer.flush()?;
        Ok(writer)
    }

    /// Where the capture is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn flush_when_full(&mut self) -> io::Result<()> {
        if self.buffer.len() >= BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    /// A name for messages about this file: "capture file PATH".
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends one event as a line (buffered until [`CaptureWriter::flush`]).
    pub fn write_event(&mut self, event: &Event) -> io::Result<()> {
        line::push_event(&mut self.buffer, event)?;
        self.flush_when_full()
    }

    /// Writes what is buffered to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        let written = self.file.write_all(&self.buffer);
        self.buffer.clear();
        written
    }
}

/// Writes a whole capture (header and events) to `out`, as the proxy
/// would have: used by `wsdiag export --format jsonl`.
pub fn write_all(mut out: impl Write, header: &Header, events: &[Event]) -> io::Result<()> {
    let mut line = Vec::new();
    push_line(&mut line, header)?;
    out.write_all(&line)?;
    for event in events {
        line.clear();
        line::push_event(&mut line, event)?;
        out.write_all(&line)?;
    }
    out.flush()
}

/// Appends `record` as one line of compact JSON and a `\n` to `buffer`;
/// on an error nothing is appended.
fn push_line<T: serde::Serialize>(buffer: &mut Vec<u8>, record: &T) -> io::Result<()> {
    let start = buffer.len();
    if let Err(e) = sonic_rs::to_writer(&mut *buffer, record) {
        buffer.truncate(start);
        return Err(io::Error::other(e));
    }
    buffer.push(b'\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::reader::read;

    const HEADER: &str = r#"{"type":"header","format_version":VERSION,"wsdiag_version":"0.1.0","started_at":"2026-11-24T10:15:02Z","listen":"127.0.0.1:9000","upstream":"http://127.0.0.1:8000","body_limit":262144}"#;

    fn message(seq: u64, payload: serde_json::Value) -> Event {
        let mut event = serde_json::json!({
            "seq": seq, "t_us": seq * 10, "conn": 1, "type": "ws_message",
            "dir": "client_to_upstream", "opcode": "text",
        });
        if let (Some(e), Some(p)) = (event.as_object_mut(), payload.as_object()) {
            e.extend(p.clone());
        }
        serde_json::from_value(event).unwrap()
    }

    /// Every string JSON must escape, and long payloads with escapes at
    /// every distance from a 16- or 32-byte block: what sonic-rs writes,
    /// serde_json (every reader) reads back as the same events.
    #[test]
    fn lines_written_read_back_as_the_same_events() {
        let tricky = "quote \" backslash \\ nul \u{0} bell \u{7} esc \u{1b} del \u{7f} \
                      sep \u{2028} é 😀 </script> \r\n\t end";
        let mut long = String::new();
        for i in 0..700 {
            long.push_str(&"x".repeat(i % 37));
            long.push(['"', '\\', '\n', '\u{1}', 'é'][i % 5]);
        }
        let header = HEADER.replace("VERSION", &crate::capture::FORMAT_VERSION.to_string());
        let header: Header = serde_json::from_str(&header).unwrap();
        let events = vec![
            message(1, serde_json::json!({"len": tricky.len(), "text": tricky})),
            message(2, serde_json::json!({"len": long.len(), "text": long})),
            message(
                3,
                serde_json::json!({"len": 3, "base64": "/wCA", "msg_type": "a\"b"}),
            ),
        ];
        let mut out = Vec::new();
        write_all(&mut out, &header, &events).unwrap();
        let capture = read(out.as_slice(), Path::new("t.jsonl")).unwrap();
        assert_eq!(capture.events, events);
        assert_eq!(capture.cut_off, None);
        // One event a line: no raw newline or control character escaped
        // the strings.
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 4);
        assert!(!out.iter().any(|b| *b < 0x20 && *b != b'\n'));
    }
}
