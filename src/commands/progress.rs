//! Progress on stderr for long work on a large capture: the bytes read,
//! then what is being done with the events (`diagnose`, `export`, `show`
//! on a capture of a million events take seconds).
//!
//! Drawn by `indicatif`, which shows nothing when stderr is not a
//! terminal, so reports piped or redirected stay clean; and only for
//! captures of [`LARGE_BYTES`] or [`LARGE_EVENTS`] and more, so a small
//! one does not flicker. Cleared when the work ends.

use std::io::Read;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A capture file at least this large (bytes) shows its reading.
pub const LARGE_BYTES: u64 = 16 << 20;
/// At least this many events show the work done with them.
pub const LARGE_EVENTS: usize = 100_000;

/// A progress line; cleared when dropped.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// Reading a capture file of `len` bytes: a bar in bytes.
    pub fn reading(len: u64) -> Progress {
        if len < LARGE_BYTES {
            return Progress(None);
        }
        let bar = ProgressBar::new(len);
        let style = ProgressStyle::with_template(
            "reading the capture {bar:30} {binary_bytes}/{binary_total_bytes} ({eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Progress(Some(bar))
    }

    /// Work on `events` events, described by `what` ("diagnosing
    /// 1000000 events"): a spinner.
    pub fn working(what: &str, events: usize) -> Progress {
        if events < LARGE_EVENTS {
            return Progress(None);
        }
        let spinner = ProgressBar::new_spinner();
        spinner.set_message(what.to_owned());
        spinner.enable_steady_tick(Duration::from_millis(120));
        Progress(Some(spinner))
    }

    /// `input`, counted on the bar as it is read.
    pub fn wrap<R: Read + 'static>(&self, input: R) -> Box<dyn Read> {
        match &self.0 {
            Some(bar) => Box::new(bar.wrap_read(input)),
            None => Box::new(input),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
