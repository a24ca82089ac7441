//! Reads a capture file back.
//!
//! A capture cut short by a crash or `kill -9` is normal: a partial last line
//! (no newline, not valid JSON) is reported in [`Capture::cut_off`], not an
//! error, and everything before it is read. A newer `format_version` is
//! refused with the version this build reads. Anything else that is wrong is
//! an error that names the file and the line.

use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::{Header, FORMAT_VERSION};
use crate::event::{Event, EventKind, Trailer};

/// A capture read into memory.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The first line.
    pub header: Header,
    /// Every event after it, the trailer included when there is one.
    pub events: Vec<Event>,
    /// Set when the last line was cut off (the writer was killed): the
    /// 1-based line number and how many bytes it had.
    pub cut_off: Option<(usize, usize)>,
    /// What was read but not understood (a HAR field in an unknown unit),
    /// one sentence each, for the commands to say.
    pub warnings: Vec<String>,
}

impl Capture {
    /// Why this capture may not hold everything that happened, in one
    /// sentence; `None` for a complete one (it ends with its trailer).
    pub fn partial(&self) -> Option<String> {
        let last = self
            .events
            .last()
            .map(|e| {
                format!(
                    " (its last event, seq {}, is at {})",
                    e.seq,
                    self.header.wall_clock(e.t_us).format("%H:%M:%S%.3f UTC")
                )
            })
            .unwrap_or_default();
        match self.cut_off {
            Some((line, bytes)) => Some(format!(
                "it ends with a partial line {line} ({bytes} bytes), cut when the proxy was killed{last}: the events before it are all there, what came after is lost"
            )),
            None if self.trailer().is_none() => Some(format!(
                "it has no trailer: the proxy did not shut down cleanly{last}, so events of its last moments may be missing"
            )),
            None => None,
        }
    }

    /// The trailer, absent when the proxy did not shut down cleanly.
    pub fn trailer(&self) -> Option<&Trailer> {
        self.events.iter().rev().find_map(|e| match &e.kind {
            EventKind::Trailer(t) => Some(t),
            _ => None,
        })
    }
}

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause (the error chain says it after the path).
        #[source]
        cause: io::Error,
    },
    /// A directory was given where a capture file is read.
    #[error("{path} is a directory: give a capture file (.jsonl, or a .har) inside it")]
    Directory {
        /// The directory.
        path: PathBuf,
    },
    /// The file is empty.
    #[error("{path} is empty: a capture starts with a header line; was the proxy stopped before it started?")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The first line is not a wsdiag capture header.
    #[error("{path} is not a wsdiag capture: line 1 is not a capture header ({detail}); captures are written by `wsdiag proxy --capture FILE`")]
    NotACapture {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        detail: String,
    },
    /// The capture was written by a newer wsdiag.
    #[error("{path} has capture format version {found}, but this wsdiag ({ours}) reads versions up to {FORMAT_VERSION}: upgrade wsdiag to read it", ours = env!("CARGO_PKG_VERSION"))]
    NewerVersion {
        /// The file.
        path: PathBuf,
        /// The version in its header.
        found: u32,
    },
    /// A line in the middle of the file is not a valid event.
    #[error("{path}, line {line}: not a valid capture event ({detail})")]
    BadLine {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What the parser said.
        detail: String,
    },
}

/// Reads the capture at `path`.
pub fn read_path(path: &Path) -> Result<Capture, ReadError> {
    read(BufReader::new(open(path)?), path)
}

/// Opens the capture file at `path` for [`read`]; a directory or a file
/// that cannot be opened is an error that names it.
pub fn open(path: &Path) -> Result<std::fs::File, ReadError> {
    if path.is_dir() {
        return Err(ReadError::Directory {
            path: path.to_owned(),
        });
    }
    std::fs::File::open(path).map_err(|cause| ReadError::Io {
        path: path.to_owned(),
        cause,
    })
}

/// Reads a capture from `input`; `path` names it in errors.
pub fn read(mut input: impl BufRead, path: &Path) -> Result<Capture, ReadError> {
    let mut line = String::new();
    let mut bytes = Vec::new();
    // Lines are read as bytes: a line cut by a crash may end inside a
    // UTF-8 character, which is a cut line, not an unreadable file.
    let mut next_line = |buf: &mut String| -> Result<Option<bool>, ReadError> {
        bytes.clear();
        let n = input
            .read_until(b'\n', &mut bytes)
            .map_err(|cause| ReadError::Io {
                path: path.to_owned(),
                cause,
            })?;
        *buf = String::from_utf8_lossy(&bytes).into_owned();
        Ok((n > 0).then(|| bytes.ends_with(b"\n")))
    };
    if next_line(&mut line)?.is_none() {
        return Err(ReadError::Empty {
            path: path.to_owned(),
        });
    }
    let header = match parse_header(&line, path) {
        Ok(header) => header,
        // A pretty-printed JSON document: a HAR file, perhaps.
        Err(not_jsonl) if line.trim_start().starts_with('{') => {
            let mut rest = String::new();
            input
                .read_to_string(&mut rest)
                .map_err(|cause| ReadError::Io {
                    path: path.to_owned(),
                    cause,
                })?;
            return match serde_json::from_str::<serde_json::Value>(&format!("{line}{rest}")) {
                Ok(doc) if super::har::is_har(&doc) => super::har::read(&doc, path),
                _ => Err(not_jsonl),
            };
        }
        Err(e) => return Err(e),
    };
    let mut events = Vec::new();
    let mut cut_off = None;
    let mut number = 1;
    while let Some(complete) = next_line(&mut line)? {
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Event>(&line) {
            Ok(event) => events.push(event),
            // Only the last line may be partial, and only if the writer
            // never finished it: it has no newline.
            Err(_) if !complete => cut_off = Some((number, line.len())),
            Err(e) => {
                return Err(ReadError::BadLine {
                    path: path.to_owned(),
                    line: number,
                    detail: e.to_string(),
                })
            }
        }
    }
    if header.format_version < 2 {
        migrate_v1(&mut events);
    }
    Ok(Capture {
        header,
        events,
        cut_off,
        warnings: Vec::new(),
    })
}

/// Version 1 named only JSON messages, by their `type`, and recorded no
/// dialect or role: read every message again with today's dialects.
/// (`format_version` stays as the file says, so a reader can tell.)
fn migrate_v1(events: &mut [Event]) {
    crate::dialects::Classifier::reclassify(events, None);
}

fn parse_header(line: &str, path: &Path) -> Result<Header, ReadError> {
    // Look at the version before the rest, so a newer file with a changed
    // header is refused for its version, not for a missing field.
    #[derive(serde::Deserialize)]
    struct Version {
        format_version: Option<u32>,
    }
    let not_a_capture = |detail: String| ReadError::NotACapture {
        path: path.to_owned(),
        detail,
    };
    let version = serde_json::from_str::<Version>(line)
        .map_err(|e| not_a_capture(e.to_string()))?
        .format_version
        .ok_or_else(|| not_a_capture("no format_version".to_owned()))?;
    if version > FORMAT_VERSION {
        return Err(ReadError::NewerVersion {
            path: path.to_owned(),
            found: version,
        });
    }
    serde_json::from_str(line).map_err(|e| not_a_capture(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"type":"header","format_version":1,"wsdiag_version":"0.1.0","started_at":"2026-11-24T10:15:02Z","listen":"127.0.0.1:9000","upstream":"http://127.0.0.1:8000","body_limit":262144}"#;
    const EVENT: &str = r#"{"seq":1,"t_us":5,"conn":1,"type":"conn_open","peer":"127.0.0.1:5000"}"#;

    fn read_str(s: &str) -> Result<Capture, ReadError> {
        read(s.as_bytes(), Path::new("test.jsonl"))
    }

    #[test]
    fn a_partial_last_line_is_reported_not_fatal() {
        let capture = read_str(&format!("{HEADER}\n{EVENT}\n{{\"seq\":2,\"t_u")).unwrap();
        assert_eq!(capture.events.len(), 1);
        assert_eq!(capture.cut_off, Some((3, 13)));
    }

    #[test]
    fn a_cut_inside_a_multibyte_character_is_a_cut_line() {
        let mut bytes = format!("{HEADER}\n{EVENT}\n").into_bytes();
        bytes.extend_from_slice(&"{\"text\":\"é".as_bytes()[..10]);
        let capture = read(bytes.as_slice(), Path::new("t.jsonl")).unwrap();
        assert_eq!(capture.events.len(), 1);
        assert!(capture.cut_off.is_some());
    }

    #[test]
    fn a_bad_line_in_the_middle_names_its_line() {
        let err = read_str(&format!("{HEADER}\n{EVENT}\nnot json\n{EVENT}\n")).unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn a_newer_version_is_refused_with_advice() {
        let newer = HEADER.replace("\"format_version\":1", "\"format_version\":99");
        let err = read_str(&format!("{newer}\n")).unwrap_err();
        assert!(matches!(err, ReadError::NewerVersion { found: 99, .. }));
        assert!(err.to_string().contains("upgrade wsdiag"), "{err}");
    }

    #[test]
    fn empty_and_foreign_files_are_refused_clearly() {
        assert!(matches!(read_str(""), Err(ReadError::Empty { .. })));
        let err = read_str("hello world\n").unwrap_err();
        assert!(err.to_string().contains("not a wsdiag capture"), "{err}");
        let err = read_str("{\"log\":{}}\n").unwrap_err();
        assert!(err.to_string().contains("no format_version"), "{err}");
    }
}
