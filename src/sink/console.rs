//! The live console: event lines on stdout, without ever slowing forwarding.
//!
//! The hub hands events to [`ConsoleSink`], which queues them for a printer
//! thread without waiting. When stdout is slow (a pager, a slow terminal)
//! and the queue is full, events are skipped, counted, and the printer says
//! how many it skipped; the capture file still has them all. A closed pipe
//! (`wsdiag proxy | head`) stops printing silently.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread;

use super::filter::Filter;
use super::format::{Context, Formatter};
use super::{Sink, SinkError};
use crate::diagnose::live::LiveFinding;
use crate::event::{Event, Trailer};

/// How many events may wait for the printer before the console skips.
const QUEUE: usize = 4096;

/// How many batches (one per hub flush) may wait for the printer.
const BATCHES: usize = 4;

/// Formats and filters a stream of events into lines, with the findings
/// of the diagnosis under the event they belong to.
pub struct Console {
    formatter: Formatter,
    /// Which events get a line; `None` (`--quiet`): none, findings only.
    filter: Option<Filter>,
    context: Context,
}

impl Console {
    /// A console with `formatter` showing what passes `filter` (`None`:
    /// only findings).
    pub fn new(formatter: Formatter, filter: Option<Filter>) -> Console {
        Console {
            formatter,
            filter,
            context: Context::default(),
        }
    }

    /// The line for `event`, if it is shown, followed by `findings` (those
    /// that belong under it), which are shown whatever the filter: a
    /// finding under an event the filter hides names that event.
    pub fn render(&mut self, event: &Event, findings: &[&LiveFinding]) -> Option<String> {
        self.context.observe(event);
        let shown = self
            .filter
            .as_ref()
            .is_some_and(|f| f.matches(event, &self.context));
        let mut line = shown
            .then(|| self.formatter.line(event, &self.context))
            .flatten();
        if !findings.is_empty() {
            let mut out = line
                .take()
                .unwrap_or_else(|| format!("(event #{})", event.seq));
            for found in findings {
                out.push('\n');
                out.push_str(&self.live_finding(found));
            }
            line = Some(out);
        }
        self.context.forget(event);
        line
    }

    /// A finding as the console shows it, saying which earlier finding of
    /// the same event it replaces.
    pub fn live_finding(&self, found: &LiveFinding) -> String {
        let mut out = self.formatter.finding(&found.finding);
        if !found.revises.is_empty() {
            let codes: Vec<&str> = found.revises.iter().map(|c| c.as_str()).collect();
            let _ = write!(
                out,
                "\n      (replaces {} shown earlier for event #{}: later events changed what it means)",
                codes.join(", "),
                found.at
            );
        }
        out
    }
}

/// Events and findings since the last flush, handed to the printer at once.
#[derive(Default)]
struct Batch {
    /// At most [`QUEUE`] events.
    events: Vec<Arc<Event>>,
    /// The live findings.
    findings: Vec<LiveFinding>,
}

/// The console as a sink of the hub. Events are handed to the printer a
/// batch at a time, when the hub flushes, so the printer thread is woken
/// once a batch rather than once an event.
pub struct ConsoleSink {
    queue: Option<SyncSender<Batch>>,
    batch: Batch,
    skipped: Arc<AtomicU64>,
    printer: Option<thread::JoinHandle<()>>,
}

impl ConsoleSink {
    /// Starts the printer thread for `console`.
    pub fn start(console: Console) -> io::Result<ConsoleSink> {
        let (tx, rx) = mpsc::sync_channel(BATCHES);
        let skipped = Arc::new(AtomicU64::new(0));
        let printer = thread::Builder::new()
            .name("wsdiag-console".into())
            .spawn({
                let skipped = skipped.clone();
                move || print_lines(console, rx, &skipped)
            })?;
        Ok(ConsoleSink {
            queue: Some(tx),
            batch: Batch::default(),
            skipped,
            printer: Some(printer),
        })
    }
}

fn print_lines(mut console: Console, rx: Receiver<Batch>, skipped: &AtomicU64) {
    let stdout = io::stdout();
    while let Ok(batch) = rx.recv() {
        let mut out = stdout.lock();
        let under = |seq: u64| -> Vec<&LiveFinding> {
            batch.findings.iter().filter(|f| f.at == seq).collect()
        };
        let mut result = batch.events.iter().try_for_each(|event| {
            match console.render(event, &under(event.seq)) {
                Some(line) => writeln!(out, "{line}"),
                None => Ok(()),
            }
        });
        // Findings under an event of an earlier batch (a revision), or one
        // the console skipped (it fell behind).
        let printed: std::collections::HashSet<u64> = batch.events.iter().map(|e| e.seq).collect();
        for found in batch.findings.iter().filter(|f| !printed.contains(&f.at)) {
            if result.is_ok() {
                let text = console.live_finding(found);
                result = writeln!(out, "(event #{})\n{text}", found.at);
            }
        }
        let missed = skipped.swap(0, Ordering::Relaxed);
        if missed > 0 && result.is_ok() {
            result = writeln!(
                out,
                "… {missed} events not shown: the console fell behind (the capture has them all)"
            );
        }
        if result.and_then(|()| out.flush()).is_err() {
            // stdout is gone (closed pipe): stop printing, keep recording.
            return;
        }
    }
}

impl Sink for ConsoleSink {
    fn name(&self) -> &str {
        "console"
    }

    fn event(&mut self, event: &Arc<Event>) -> Result<(), SinkError> {
        if self.batch.events.len() < QUEUE {
            self.batch.events.push(event.clone());
        } else {
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn findings(&mut self, findings: &[LiveFinding]) -> Result<(), SinkError> {
        // Never skipped: findings are few, and what the console is for.
        self.batch.findings.extend_from_slice(findings);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        let Some(queue) = &self.queue else {
            return Ok(());
        };
        if self.batch.events.is_empty() && self.batch.findings.is_empty() {
            return Ok(());
        }
        match queue.try_send(std::mem::take(&mut self.batch)) {
            Ok(()) => {}
            // The printer stopped (stdout closed): nothing more to show.
            Err(TrySendError::Disconnected(_)) => self.queue = None,
            // The printer is behind: keep the batch, and skip what does
            // not fit in it (see `event`).
            Err(TrySendError::Full(batch)) => self.batch = batch,
        }
        Ok(())
    }

    fn finish(&mut self) {
        // The last batch waits for the printer: joining it waits anyway.
        if let Some(queue) = self.queue.take() {
            if !self.batch.events.is_empty() || !self.batch.findings.is_empty() {
                let _ = queue.send(std::mem::take(&mut self.batch));
            }
        }
        if let Some(printer) = self.printer.take() {
            let _ = printer.join();
        }
    }
}

/// The one-paragraph summary printed when a proxy stops.
pub fn summary(trailer: &Trailer) -> String {
    let by_status: Vec<String> = trailer
        .exchanges_by_status
        .iter()
        .map(|(class, n)| format!("{class}: {n}"))
        .collect();
    let by_status = if by_status.is_empty() {
        String::new()
    } else {
        format!(" ({})", by_status.join(", "))
    };
    format!(
        "{} connections, {} HTTP exchanges{by_status}, {} WebSocket messages sent (→) and {} received (←), {} failed WebSocket handshakes, {} errors.",
        trailer.connections,
        trailer.exchanges,
        trailer.messages_sent,
        trailer.messages_received,
        trailer.failed_handshakes,
        trailer.errors
    )
}

/// Prints one line for people on stdout. A closed stdout is not an error
/// worth reporting: the line is dropped.
pub fn say(line: &str) {
    let _ = writeln!(io::stdout().lock(), "{line}");
}

/// Prints a note for people on stderr, where it does not mix with output
/// written to stdout (an export piped to a file).
pub fn note(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Prints lines on stdout; a closed pipe (`| head`) ends printing quietly.
pub fn say_all(lines: &[String]) -> io::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    let result = lines
        .iter()
        .try_for_each(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush());
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
