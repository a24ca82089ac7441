//! `wsdiag show CAPTURE`: a capture printed as the live console would.

use anyhow::Context as _;

use super::Outcome;
use crate::cli::ShowArgs;
use crate::diagnose::{self, live};
use crate::sink::console::{self, Console};
use crate::sink::format::{Formatter, Palette};

/// Prints the capture's events through the console's formatter and filters.
pub fn run(args: ShowArgs) -> anyhow::Result<Outcome> {
    let capture = super::read_capture(&args.capture, args.dialect)?;
    if args.ui.ui {
        return serve_ui(&args);
    }
    let formatter = Formatter::new(capture.header.started_at, Palette::detect());
    let mut console = Console::new(formatter, Some(args.filter.filter()));
    // The findings of `wsdiag diagnose`, each under the failure it
    // explains, as the live console places them.
    let diagnosis = diagnose::run(
        &capture.events,
        &diagnose::Options::for_capture(&capture.header),
    );
    let found = live::placed(&capture.events, diagnosis.findings);
    let mut under: std::collections::HashMap<u64, Vec<&live::LiveFinding>> = Default::default();
    for f in &found {
        under.entry(f.at).or_default().push(f);
    }
    let mut lines = Vec::new();
    for event in &capture.events {
        let here = under.remove(&event.seq).unwrap_or_default();
        if let Some(line) = console.render(event, &here) {
            lines.push(line);
        }
    }
    console::say_all(&lines).context("while printing")?;
    match capture.trailer() {
        Some(trailer) => console::say(&format!("Summary: {}", console::summary(trailer))),
        None => console::say("(no trailer: the proxy did not shut down cleanly)"),
    }
    Ok(Outcome::Clean)
}

/// Serves the web viewer for the capture until Ctrl-C.
fn serve_ui(args: &ShowArgs) -> anyhow::Result<Outcome> {
    let runtime = super::runtime()?;
    let stop = {
        let _context = runtime.enter();
        super::StopSignal::install()?
    };
    let source = crate::ui::Source {
        capture: args.capture.clone(),
        live: false,
        findings: None,
    };
    let ui = match super::bind_ui(&runtime, &args.ui)? {
        Some(listener) => Some(super::start_ui(&runtime, listener, source)?),
        None => None,
    };
    console::say("Ctrl-C stops the viewer.");
    runtime.block_on(stop.wait());
    if let Some(ui) = ui {
        ui.cancel();
    }
    Ok(Outcome::Clean)
}
