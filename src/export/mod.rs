//! Bug-report export: a capture as HAR (opens in DevTools), as a Markdown
//! report (for an issue), or as JSON Lines (a smaller capture, still
//! readable by wsdiag). Secrets are redacted by default ([`redact`]).
//!
//! [`select`] applies the export filters first, so every format sees the
//! same events.

pub mod har;
pub mod markdown;
pub mod redact;

use chrono::{DateTime, NaiveTime, TimeZone, Utc};

use crate::capture::{writer, Capture, Header};
use crate::diagnose::Diagnosis;
use crate::event::{Event, EventKind, Flows, Trailer};

/// The formats of `wsdiag export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// HAR 1.2 with Chrome's WebSocket fields.
    Har,
    /// A Markdown bug report.
    Markdown,
    /// A capture (JSON Lines), filtered and redacted.
    Jsonl,
}

/// Where an export starts or ends: an event number or a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// An event `seq`, inclusive.
    Seq(u64),
    /// A wall-clock time, inclusive.
    Time(DateTime<Utc>),
}

impl Bound {
    /// Parses `120` (a seq), an RFC 3339 time, or `HH:MM:SS[.fff]` (local
    /// time on the day the capture started).
    pub fn parse(s: &str, header: &Header) -> Result<Bound, String> {
        if let Ok(seq) = s.parse() {
            return Ok(Bound::Seq(seq));
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(Bound::Time(t.with_timezone(&Utc)));
        }
        let time = NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
            .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
            .map_err(|_| format!("{s:?} is neither a seq (120), an RFC 3339 time, nor HH:MM:SS"))?;
        let day = header.started_at.with_timezone(&chrono::Local).date_naive();
        chrono::Local
            .from_local_datetime(&day.and_time(time))
            .single()
            .map(|t| Bound::Time(t.with_timezone(&Utc)))
            .ok_or_else(|| format!("{s:?} does not name one local time"))
    }

    fn after_start(self, event: &Event, header: &Header) -> bool {
        match self {
            Bound::Seq(seq) => event.seq >= seq,
            Bound::Time(t) => header.wall_clock(event.t_us) >= t,
        }
    }

    fn before_end(self, event: &Event, header: &Header) -> bool {
        match self {
            Bound::Seq(seq) => event.seq <= seq,
            Bound::Time(t) => header.wall_clock(event.t_us) <= t,
        }
    }
}

/// Which events an export keeps; the default keeps all.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only these connections.
    pub conns: Vec<u64>,
    /// Only WebSocket messages of these `msg_type`s (other events stay).
    pub msg_types: Vec<String>,
    /// Only exchanges and WebSockets whose path contains this.
    pub path: Option<String>,
    /// From here.
    pub since: Option<Bound>,
    /// Up to here.
    pub until: Option<Bound>,
}

impl Selection {
    fn is_everything(&self) -> bool {
        self.conns.is_empty()
            && self.msg_types.is_empty()
            && self.path.is_none()
            && self.since.is_none()
            && self.until.is_none()
    }
}

/// The events of `events` that `selection` keeps. The trailer is kept with
/// its counts recomputed for what was kept.
pub fn select(events: &[Event], header: &Header, selection: &Selection) -> Vec<Event> {
    if selection.is_everything() {
        return events.to_vec();
    }
    let flows = Flows::of(events);
    let mut kept = Vec::new();
    let mut trailer = None;
    for event in events {
        if let EventKind::Trailer(_) = &event.kind {
            trailer = Some(event.clone());
            continue;
        }
        let path = flows.uri_of(event);
        let keep = (selection.conns.is_empty()
            || event.conn.is_some_and(|c| selection.conns.contains(&c)))
            && selection
                .path
                .as_ref()
                .is_none_or(|p| path.is_some_and(|x| x.contains(p.as_str())))
            && selection.since.is_none_or(|b| b.after_start(event, header))
            && selection.until.is_none_or(|b| b.before_end(event, header))
            && match &event.kind {
                EventKind::WsMessage(m) => {
                    selection.msg_types.is_empty()
                        || m.msg_type
                            .as_ref()
                            .is_some_and(|t| selection.msg_types.contains(t))
                }
                _ => true,
            };
        if keep {
            kept.push(event.clone());
        }
    }
    if let Some(mut trailer) = trailer {
        let mut counts = Trailer::default();
        kept.iter().for_each(|e| counts.count(e));
        trailer.kind = EventKind::Trailer(counts);
        kept.push(trailer);
    }
    kept
}

/// The events an export holds: the selection, redacted.
#[derive(Debug)]
pub struct Selected {
    /// The selected events, redacted unless `--no-redact`.
    pub events: Vec<Event>,
    /// How many distinct secrets were replaced.
    pub replaced: usize,
    /// False with `--no-redact`.
    pub redacted: bool,
}

/// The events of `capture` that `selection` keeps, redacted by `rules`
/// (`None`: not redacted). The command diagnoses these once and hands the
/// diagnosis to [`render`].
pub fn prepare(
    capture: &Capture,
    selection: &Selection,
    rules: Option<&redact::Rules>,
) -> Selected {
    let mut events = select(&capture.events, &capture.header, selection);
    let replaced = rules.map_or(0, |r| r.apply_learning_from(&capture.events, &mut events));
    Selected {
        events,
        replaced,
        redacted: rules.is_some(),
    }
}

/// A rendered export.
#[derive(Debug)]
pub struct Export {
    /// The document.
    pub bytes: Vec<u8>,
    /// How many events it holds.
    pub events: usize,
    /// How many distinct secrets were replaced.
    pub replaced: usize,
}

/// `selected` (from [`prepare`]) rendered in `format`, with `diagnosis`
/// (of the same events) for the findings and the parsed error reports.
/// `command` is the command line the Markdown report names, and
/// `capture_name` the capture it points to for what it leaves out.
pub fn render(
    header: &Header,
    selected: &Selected,
    diagnosis: &Diagnosis,
    format: ExportFormat,
    command: &str,
    capture_name: &str,
) -> std::io::Result<Export> {
    let events = &selected.events;
    let mut bytes = Vec::new();
    match format {
        ExportFormat::Har => {
            let mut document = har::render(header, events, diagnosis);
            document["log"]["comment"] = if selected.redacted {
                "secrets redacted by wsdiag: [REDACTED:hash] marks each; the same secret has the same hash".into()
            } else {
                "NOT redacted (--no-redact): contains cookies, tokens and passwords".into()
            };
            serde_json::to_writer_pretty(&mut bytes, &document)?;
            bytes.push(b'\n');
        }
        ExportFormat::Markdown => {
            let context = markdown::Context {
                header,
                command: command.to_owned(),
                redacted: selected.redacted,
                capture_name: capture_name.to_owned(),
            };
            bytes = markdown::render(&context, events, diagnosis).into_bytes();
        }
        ExportFormat::Jsonl => writer::write_all(&mut bytes, header, events)?,
    }
    Ok(Export {
        bytes,
        events: events.len(),
        replaced: selected.replaced,
    })
}
