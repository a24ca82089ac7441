//! `wsdiag export CAPTURE --format har|markdown|jsonl`.

use std::io::Write;

use anyhow::Context as _;

use super::Outcome;
use crate::cli::ExportArgs;
use crate::diagnose;
use crate::export::{self, redact, Bound, Selection};
use crate::sink::console::note;

/// Exports a capture.
pub fn run(args: ExportArgs) -> anyhow::Result<Outcome> {
    let capture = super::read_capture(&args.capture, args.dialect)?;
    let bound = |s: &Option<String>| {
        s.as_deref()
            .map(|s| Bound::parse(s, &capture.header))
            .transpose()
            .map_err(anyhow::Error::msg)
    };
    let selection = Selection {
        conns: args.conn.clone(),
        msg_types: args.msg_type.clone(),
        path: args.path.clone(),
        since: bound(&args.since).context("--since")?,
        until: bound(&args.until).context("--until")?,
    };
    let rules = (!args.no_redact)
        .then(|| redact::Rules::new(args.redact_key.clone(), args.redact_header.clone()));
    let command: Vec<String> = std::env::args().collect();
    let what = format!(
        "exporting {} events as {:?}: selecting, redacting, diagnosing, rendering",
        capture.events.len(),
        args.format
    );
    let progress = super::progress::Progress::working(&what, capture.events.len());
    let selected = export::prepare(&capture, &selection, rules.as_ref());
    let kept = selected
        .events
        .iter()
        .filter(|e| !matches!(e.kind, crate::event::EventKind::Trailer(_)))
        .count();
    if kept == 0 && !capture.events.is_empty() {
        let span = |e: Option<&crate::event::Event>| {
            e.map_or(String::new(), |e| {
                capture
                    .header
                    .wall_clock(e.t_us)
                    .format("%H:%M:%S%.3f")
                    .to_string()
            })
        };
        anyhow::bail!(
            "no event of {} matches the selection (--since, --until, --conn, --path, --type): the capture runs from {} to {} UTC, {:.1} s; widen the selection",
            args.capture.display(),
            span(capture.events.first()),
            span(capture.events.last()),
            capture.events.last().map_or(0.0, |e| e.t_us as f64 / 1e6)
        );
    }
    let diagnosis = diagnose::run(
        &selected.events,
        &diagnose::Options::for_capture(&capture.header),
    );
    let export = export::render(
        &capture.header,
        &selected,
        &diagnosis,
        args.format,
        &command.join(" "),
        &args.capture.display().to_string(),
    )?;
    drop(progress);
    let (bytes, replaced) = (export.bytes, export.replaced);
    match &args.output {
        Some(path) => write_file(path, &bytes, args.no_redact).with_context(|| {
            format!(
                "cannot write {}: choose another place with -o FILE",
                path.display()
            )
        })?,
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(&bytes).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
                _ => {}
            }
        }
    }
    let target = args
        .output
        .as_ref()
        .map_or("standard output".to_owned(), |p| p.display().to_string());
    let redaction = if args.no_redact {
        "NOT redacted (--no-redact)".to_owned()
    } else {
        format!("redacted: {replaced} distinct secrets replaced")
    };
    note(&format!(
        "Exported {} events as {:?} to {target}; {redaction}.",
        export.events, args.format
    ));
    Ok(Outcome::Clean)
}

/// Writes an export; an unredacted one is private to its owner (0600), like
/// a capture.
fn write_file(path: &std::path::Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    let mut file = options.open(path)?;
    // Set on an existing file too: `mode` only applies to a new one.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(if private {
            0o600
        } else {
            0o644
        }))?;
    }
    file.write_all(bytes)
}
