//! The diagnosis as people read it: plain text for the terminal, Markdown
//! for an issue, JSON for machines. Pure string building.

use std::fmt::Write as _;

use serde_json::Value;

use super::attempt::{Attempt, Outcome, SendPath};
use super::compare::Comparison;
use super::{Diagnosis, Finding};
use crate::event::text::{shorten, visible};

/// How wide a value is shown in a table.
const CELL: usize = 48;

/// The output formats of `wsdiag diagnose --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For the terminal.
    Text,
    /// For a GitHub issue.
    Markdown,
    /// For machines: the whole diagnosis.
    Json,
}

/// Renders `diagnosis` in `format`.
pub fn render(diagnosis: &Diagnosis, format: Format) -> String {
    match format {
        Format::Text => text(diagnosis),
        Format::Markdown => markdown(diagnosis),
        // Serializing plain data with string keys cannot fail.
        Format::Json => serde_json::to_string_pretty(diagnosis).unwrap_or_default(),
    }
}

fn headline(d: &Diagnosis) -> String {
    let both = d
        .actions
        .iter()
        .filter(|a| a.both_paths(&d.attempts))
        .count();
    let findings = match d.findings.len() {
        0 => "no send path failed".to_owned(),
        1 => "1 finding".to_owned(),
        n => format!("{n} findings"),
    };
    format!(
        "{} send attempts ({} REST, {} WebSocket), sent both ways: {both}; {findings}.",
        d.attempts.len(),
        d.attempts
            .iter()
            .filter(|a| a.path == SendPath::Rest)
            .count(),
        d.attempts.iter().filter(|a| a.path == SendPath::Ws).count(),
    )
}

/// One line for an attempt: path, where, and what became of it.
fn attempt_line(a: &Attempt) -> String {
    let what = match a.path {
        SendPath::Rest => format!("{} {}", a.method.as_deref().unwrap_or("?"), a.endpoint),
        SendPath::Ws => format!(
            "{} {}",
            a.msg_type.as_deref().unwrap_or("message"),
            a.endpoint
        ),
    };
    let outcome = match &a.outcome {
        Outcome::Succeeded { evidence, .. } => format!("ok (seq {evidence})"),
        Outcome::Failed { reason, .. } => format!("FAILED: {}", shorten(reason, 110)),
        Outcome::Unconfirmed => "unconfirmed: nothing carrying it came back".to_owned(),
    };
    let mark = if a.outcome.failed() { "✗" } else { "✓" };
    format!(
        "{mark} {:<9} seq {:<4} #{} {what} → {outcome}",
        a.path.label(),
        a.seq,
        a.conn
    )
}

fn text(d: &Diagnosis) -> String {
    let mut out = headline(d) + "\n";
    for action in &d.actions {
        let shown = action.both_paths(&d.attempts)
            || action
                .attempts
                .iter()
                .any(|&j| d.attempts[j].outcome.failed());
        if !shown {
            continue;
        }
        let to = action
            .conversation
            .as_deref()
            .map(|c| format!(" to conversation {c}"))
            .unwrap_or_default();
        let _ = writeln!(out, "\nSent {:?}{to}:", shorten(&action.content, 60));
        for &j in &action.attempts {
            let _ = writeln!(out, "  {}", attempt_line(&d.attempts[j]));
        }
    }
    for finding in &d.findings {
        out.push('\n');
        out.push_str(&finding_text(finding));
    }
    out
}

fn finding_text(f: &Finding) -> String {
    // What the traffic said reaches the terminal only made visible.
    let mut out = format!(
        "✗ {} ({})\n  {}\n",
        f.code.as_str(),
        f.path.label(),
        visible(&f.title)
    );
    let mut field = |label: &str, lines: &[String]| {
        for (k, line) in lines.iter().enumerate() {
            let label = if k == 0 { label } else { "" };
            let _ = writeln!(out, "  {label:<11}{}", visible(line));
        }
    };
    if let Some(error) = &f.error {
        field("Error:", std::slice::from_ref(error));
    }
    if let Some(l) = &f.location {
        let mut lines = vec![format!("{}:{}, in {}", l.file, l.line, l.function)];
        if !l.source.is_empty() {
            lines.push(format!("    {}", l.source));
        }
        field("Raised at:", &lines);
    }
    field("Why:", &f.explanation);
    field("Next step:", std::slice::from_ref(&f.next_step));
    if let Some(s) = &f.suggestion {
        field("Try:", &s.lines().map(str::to_owned).collect::<Vec<_>>());
    }
    let evidence: Vec<String> = f.evidence.iter().map(u64::to_string).collect();
    field(
        "Evidence:",
        &[format!("capture events (seq) {}", evidence.join(", "))],
    );
    if let Some(c) = &f.comparison {
        out.push_str(&comparison_text(c));
    }
    out
}

fn cell(v: &Option<Value>) -> String {
    v.as_ref()
        .map_or("-".to_owned(), |v| shorten(&v.to_string(), CELL))
}

fn comparison_text(c: &Comparison) -> String {
    /// A row whose first column is `first` wide (its longest label and
    /// two spaces, at least 16), the next two 22.
    fn row(out: &mut String, first: usize, cells: [&str; 4]) {
        let line = format!(
            "  {:<first$}{:<22}{:<22}{}",
            cells[0], cells[1], cells[2], cells[3]
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let width = |labels: &mut dyn Iterator<Item = &str>| {
        labels
            .map(|l| l.chars().count() + 2)
            .max()
            .unwrap_or(0)
            .max(16)
    };
    let mut out = String::new();
    if !c.fields.is_empty() {
        out.push('\n');
        let first = width(&mut c.fields.iter().map(|f| f.name.as_str()));
        row(
            &mut out,
            first,
            ["Fields", "REST body", "WebSocket", "saved object"],
        );
        for f in &c.fields {
            row(
                &mut out,
                first,
                [&f.name, &cell(&f.rest), &cell(&f.ws), &cell(&f.saved)],
            );
        }
    }
    if !c.context.is_empty() {
        out.push('\n');
        let first = width(&mut c.context.iter().map(|r| r.item));
        row(
            &mut out,
            first,
            ["Request context", "REST request", "", "WebSocket handshake"],
        );
        for r in &c.context {
            row(&mut out, first, [r.item, &shorten(&r.rest, 40), "", &r.ws]);
        }
    }
    out
}

/// Rows of the Markdown attempts table; the rest are counted (an issue
/// body holds 65,536 characters).
const MARKDOWN_ATTEMPTS: usize = 30;

fn markdown(d: &Diagnosis) -> String {
    let mut out = format!("## wsdiag diagnosis\n\n{}\n", headline(d));
    let shown: Vec<&Attempt> = d
        .actions
        .iter()
        .filter(|a| {
            a.both_paths(&d.attempts) || a.attempts.iter().any(|&j| d.attempts[j].outcome.failed())
        })
        .flat_map(|a| a.attempts.iter().map(|&j| &d.attempts[j]))
        .collect();
    if !shown.is_empty() {
        out.push_str("\n| path | seq | conn | sent | outcome |\n| --- | --- | --- | --- | --- |\n");
        let more = shown.len().saturating_sub(MARKDOWN_ATTEMPTS);
        for a in shown.into_iter().take(MARKDOWN_ATTEMPTS) {
            let sent = match a.path {
                SendPath::Rest => {
                    format!("`{} {}`", a.method.as_deref().unwrap_or("?"), a.endpoint)
                }
                SendPath::Ws => format!(
                    "`{}` on `{}`",
                    a.msg_type.as_deref().unwrap_or("message"),
                    a.endpoint
                ),
            };
            let outcome = match &a.outcome {
                Outcome::Succeeded { .. } => "✓ ok".to_owned(),
                Outcome::Failed { reason, .. } => format!("✗ {}", md_escape(&shorten(reason, 120))),
                Outcome::Unconfirmed => "unconfirmed".to_owned(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | #{} | {sent} | {outcome} |",
                a.path.label(),
                a.seq,
                a.conn
            );
        }
        if more > 0 {
            let _ = writeln!(out, "| | | | … {more} more attempts | |");
        }
    }
    for f in &d.findings {
        let _ = write!(
            out,
            "\n### ✗ `{}`: {}\n\n",
            f.code.as_str(),
            md_escape(&f.title)
        );
        if let Some(e) = &f.error {
            let _ = writeln!(out, "- **Error:** `{}`", e.replace('`', "'"));
        }
        // Code fences name the language of the application's file.
        let language = f.location.as_ref().map_or("", |l| l.language());
        if let Some(l) = &f.location {
            let _ = write!(
                out,
                "- **Raised at:** `{}:{}` in `{}`",
                l.file, l.line, l.function
            );
            if l.source.is_empty() {
                let _ = writeln!(out);
            } else {
                let _ = writeln!(out, ":\n\n  ```{language}\n  {}\n  ```\n", l.source);
            }
        }
        for line in &f.explanation {
            let _ = writeln!(out, "- {}", md_escape(line));
        }
        let _ = writeln!(out, "- **Next step:** {}", md_escape(&f.next_step));
        if let Some(s) = &f.suggestion {
            let _ = writeln!(
                out,
                "\n  ```{language}\n  {}\n  ```",
                s.replace('\n', "\n  ")
            );
        }
        let evidence: Vec<String> = f.evidence.iter().map(u64::to_string).collect();
        let _ = writeln!(
            out,
            "- **Evidence:** capture events {}",
            evidence.join(", ")
        );
        if let Some(c) = &f.comparison {
            out.push_str(&comparison_markdown(c));
        }
    }
    out
}

fn comparison_markdown(c: &Comparison) -> String {
    let mut out = String::new();
    if !c.fields.is_empty() {
        out.push_str(
            "\n| field | REST body | WebSocket | saved object |\n| --- | --- | --- | --- |\n",
        );
        for row in &c.fields {
            let code = |v: &Option<Value>| {
                v.as_ref().map_or("-".to_owned(), |v| {
                    format!("`{}`", shorten(&v.to_string(), CELL).replace('`', "'"))
                })
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                row.name,
                code(&row.rest),
                code(&row.ws),
                code(&row.saved)
            );
        }
    }
    if !c.context.is_empty() {
        out.push_str(
            "\n| request context | REST request | WebSocket handshake |\n| --- | --- | --- |\n",
        );
        for row in &c.context {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                row.item,
                md_escape(&row.rest),
                md_escape(&row.ws)
            );
        }
    }
    out
}

/// Escapes what would break a Markdown table cell or start markup.
fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('\n', " ")
}
