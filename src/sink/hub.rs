//! The hub: numbers events and hands each one to every sink.
//!
//! It runs on a thread of its own so that serializing and writing the capture
//! never competes with forwarding on the async runtime. It gives every event
//! its `seq` in the order it arrives, has each WebSocket message read by
//! its dialect (once, here, off the forwarding path: `msg_type`,
//! `msg_role`, `topic`, `correlation`), keeps the counts for the trailer,
//! runs the live diagnosis (its findings go to every sink before each
//! flush, so a display filter or `--quiet` never loses one), and flushes
//! sinks whenever the stream goes quiet and at least every
//! [`FLUSH_INTERVAL`] while it does not. While events keep coming it takes
//! them in batches, so producers do not wake it for each one.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use super::recorder::{Recorder, CHANNEL_CAPACITY};
use super::{Sink, SinkError};
use crate::diagnose::live::{Live, LiveFinding};
use crate::dialects::{Classifier, DialectId};
use crate::event::{ErrorEvent, ErrorKind, Event, EventKind, Side, Trailer};

/// The longest a recorded event may wait in a buffer before it is flushed.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// While events keep coming, the hub sleeps this long between drains
/// instead of being woken for each event: a wake-up is a futex call and a
/// context switch, which cost more than recording the event.
const BATCH_WAIT: Duration = Duration::from_millis(1);

/// While draining, how many events go between two looks at the clock for
/// [`FLUSH_INTERVAL`]: at 1,000,000 events a second, 64 µs.
const CLOCK_EVERY: usize = 64;

/// What the hub reports when the last recorder is gone.
#[derive(Debug, Clone, Default)]
pub struct HubReport {
    /// The counts written in the trailer.
    pub trailer: Trailer,
    /// Events a failed sink could not take, by sink name.
    pub lost: Vec<(String, u64)>,
    /// Findings of the live diagnosis.
    pub findings: usize,
}

/// The running hub; join it after dropping every [`Recorder`].
pub struct HubHandle {
    thread: thread::JoinHandle<HubReport>,
}

impl HubHandle {
    /// Waits until every recorder is dropped and all sinks are finished.
    pub fn join(self) -> HubReport {
        // The hub thread does not panic on input; if it did, the report is
        // lost but the capture already holds everything up to the panic.
        self.thread.join().unwrap_or_default()
    }
}

/// Starts the hub with `sinks`; returns the recorder that feeds it.
/// `dialect` forces every WebSocket's dialect (`--dialect`); `None`
/// guesses it from each handshake and first messages.
pub fn spawn(
    sinks: Vec<Box<dyn Sink>>,
    body_limit: usize,
    start: Instant,
    dialect: Option<DialectId>,
) -> (Recorder, HubHandle) {
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let hub = Hub {
        rx,
        start,
        sinks: sinks.into_iter().map(SinkSlot::new).collect(),
        next_seq: 1,
        trailer: Trailer::default(),
        classifier: Classifier::new(dialect),
        live: Live::default(),
        findings: 0,
    };
    let thread = thread::Builder::new()
        .name("wsdiag-hub".into())
        .spawn(move || hub.run())
        .unwrap_or_else(|e| panic!("cannot start the event hub thread: {e}"));
    (Recorder::new(tx, start, body_limit), HubHandle { thread })
}

/// A sink and, once it has failed, how many events it missed.
struct SinkSlot {
    sink: Box<dyn Sink>,
    failed: Option<u64>,
}

impl SinkSlot {
    fn new(sink: Box<dyn Sink>) -> SinkSlot {
        SinkSlot { sink, failed: None }
    }
}

struct Hub {
    rx: mpsc::Receiver<Event>,
    start: Instant,
    sinks: Vec<SinkSlot>,
    next_seq: u64,
    trailer: Trailer,
    classifier: Classifier,
    live: Live,
    findings: usize,
}

impl Hub {
    fn run(mut self) -> HubReport {
        // Quiet: block until an event comes. Busy: drain what is queued,
        // then sleep [`BATCH_WAIT`] while more gathers, flushing on time;
        // back to blocking (after a flush) once a wait brought nothing.
        'quiet: while let Some(event) = self.rx.blocking_recv() {
            self.dispatch(event);
            let mut last_flush = Instant::now();
            loop {
                let mut drained = 0;
                loop {
                    match self.rx.try_recv() {
                        Ok(event) => self.dispatch(event),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => break 'quiet,
                    }
                    drained += 1;
                    // The clock is asked every so many events, not for
                    // each (it was 1 % of the proxy's CPU under load).
                    if drained % CLOCK_EVERY == 0 && last_flush.elapsed() >= FLUSH_INTERVAL {
                        self.flush();
                        last_flush = Instant::now();
                    }
                }
                // A queue filling fast is drained again at once.
                if drained < CHANNEL_CAPACITY / 4 {
                    thread::sleep(BATCH_WAIT);
                }
                if self.rx.is_empty() {
                    // Quiet now: flush, unless a live diagnosis waits for
                    // its cost budget; then keep polling (and flushing on
                    // time) until it has run, so its findings do not wait
                    // for the next event.
                    if !self.live.deferred() || last_flush.elapsed() >= FLUSH_INTERVAL {
                        self.flush();
                        last_flush = Instant::now();
                    }
                    if !self.live.deferred() {
                        break;
                    }
                }
            }
        }
        self.finish()
    }

    fn dispatch(&mut self, mut event: Event) {
        event.seq = self.next_seq;
        self.next_seq += 1;
        let derived = self.classifier.observe(&mut event);
        self.trailer.count(&event);
        let event = Arc::new(event);
        self.live.observe(&event);
        let mut failures = Vec::new();
        for slot in &mut self.sinks {
            match slot.failed.as_mut() {
                Some(missed) => *missed += 1,
                None => {
                    if let Err(e) = slot.sink.event(&event) {
                        slot.failed = Some(1);
                        failures.push(e);
                    }
                }
            }
        }
        for failure in failures {
            self.report_failure(failure);
        }
        for event in derived {
            self.dispatch(event);
        }
    }

    /// Tells the sinks still working that one stopped, as an `error` event.
    fn report_failure(&mut self, failure: SinkError) {
        tracing::error!(sink = failure.sink, error = %failure.source, "a sink stopped");
        let event = Event {
            seq: 0,
            t_us: self.start.elapsed().as_micros() as u64,
            conn: None,
            kind: EventKind::Error(ErrorEvent {
                side: Side::Proxy,
                kind: ErrorKind::Io,
                message: format!(
                    "{} stopped: {}; forwarding goes on, events are no longer recorded there",
                    failure.sink, failure.source
                ),
            }),
        };
        self.dispatch(event);
    }

    fn flush(&mut self) {
        let found = self.live.findings();
        self.deliver(found);
    }

    /// Hands `found` to every working sink, then flushes them.
    fn deliver(&mut self, found: Vec<LiveFinding>) {
        // A revision replaces a finding already counted.
        self.findings += found.iter().filter(|f| f.revises.is_empty()).count();
        let mut failures = Vec::new();
        for slot in self.sinks.iter_mut().filter(|s| s.failed.is_none()) {
            let result = if found.is_empty() {
                Ok(())
            } else {
                slot.sink.findings(&found)
            };
            if let Err(e) = result.and_then(|()| slot.sink.flush()) {
                slot.failed = Some(0);
                failures.push(e);
            }
        }
        for failure in failures {
            self.report_failure(failure);
        }
    }

    fn finish(mut self) -> HubReport {
        let trailer = Event {
            seq: 0,
            t_us: self.start.elapsed().as_micros() as u64,
            conn: None,
            kind: EventKind::Trailer(self.trailer.clone()),
        };
        self.dispatch(trailer);
        let found = self.live.findings_now();
        self.deliver(found);
        let mut lost = Vec::new();
        for mut slot in self.sinks {
            slot.sink.finish();
            if let Some(missed) = slot.failed {
                lost.push((slot.sink.name().to_owned(), missed));
            }
        }
        HubReport {
            trailer: self.trailer,
            lost,
            findings: self.findings,
        }
    }
}
