//! `wsdiag export CAPTURE --format har|markdown|jsonl`.

use std::io::Write;

use anyhow::Context as _;

use super::Outcome;
use crate::capture::{self, writer};
use crate::cli::{ExportArgs, ExportFormat};
use crate::export::{self, har, markdown, redact, Bound, Selection};
use crate::sink::console::note;

/// Exports a capture.
pub fn run(args: ExportArgs) -> anyhow::Result<Outcome> {
    let capture = capture::read_path(&args.capture)?;
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
    let mut events = export::select(&capture.events, &capture.header, &selection);
    let replaced = if args.no_redact {
        0
    } else {
        let rules = redact::Rules::new(args.redact_key.clone(), args.redact_header.clone());
        rules.apply_learning_from(&capture.events, &mut events)
    };
    let mut bytes = Vec::new();
    match args.format {
        ExportFormat::Har => {
            let mut document = har::render(&capture.header, &events);
            document["log"]["comment"] = if args.no_redact {
                "NOT redacted (--no-redact): contains cookies, tokens and passwords".into()
            } else {
                "secrets redacted by wsdiag: [REDACTED:hash] marks each; the same secret has the same hash".into()
            };
            serde_json::to_writer_pretty(&mut bytes, &document)?;
            bytes.push(b'\n');
        }
        ExportFormat::Markdown => {
            let command: Vec<String> = std::env::args().collect();
            let context = markdown::Context {
                header: &capture.header,
                command: command.join(" "),
                redacted: !args.no_redact,
            };
            bytes = markdown::render(&context, &events).into_bytes();
        }
        ExportFormat::Jsonl => writer::write_all(&mut bytes, &capture.header, &events)?,
    }
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
        events.len(),
        args.format
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
