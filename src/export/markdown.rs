//! The Markdown bug report, ready to paste into a GitHub issue: a title
//! naming the failure, the environment, a summary, the diagnosis, the
//! failing exchanges, one timeline of REST exchanges and WebSocket messages
//! around the failures, and the raw messages in collapsible `<details>`
//! blocks.
//!
//! It fits an issue: GitHub takes 65,536 characters, and the report stays
//! under [`LIMIT`]. Bodies keep their first [`BODY_CHARS`] characters, the
//! timeline its rows around each failure, each connection its first
//! [`MESSAGE_LINES`] messages; what still does not fit is left out whole,
//! last section first. The report ends by saying what it left out and
//! which export has the rest.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::capture::Header;
use crate::diagnose::error_body::ErrorBody;
use crate::diagnose::{report, Diagnosis};
use crate::event::text::shorten;
use crate::event::{Event, EventKind, Flows, Headers, Payload};

/// What the report says about where it came from.
pub struct Context<'a> {
    /// The capture's header.
    pub header: &'a Header,
    /// The command line that produced the report.
    pub command: String,
    /// False with `--no-redact`: the report says so at the top.
    pub redacted: bool,
    /// The capture's file name, for the pointer to the full exports.
    pub capture_name: String,
}

/// The longest report, in characters (GitHub's issue body takes 65,536).
pub const LIMIT: usize = 60_000;
/// Characters of each request or response body kept.
const BODY_CHARS: usize = 3_000;
/// Failing exchanges shown in full.
const FAILING_EXCHANGES: usize = 10;
/// Timeline rows kept before and after each failure, when the whole
/// timeline is longer than [`TIMELINE_ROWS`].
const AROUND_FAILURE: usize = 8;
/// A timeline this long is shown whole; a longer one keeps the rows
/// around its first failures, about as many.
const TIMELINE_ROWS: usize = 150;
/// Messages shown per connection, and characters per message.
const MESSAGE_LINES: usize = 40;
const MESSAGE_CHARS: usize = 300;

/// The report for `events`, with `diagnosis` (of the same events, run
/// once by the command); at most [`LIMIT`] characters.
pub fn render(ctx: &Context<'_>, events: &[Event], diagnosis: &Diagnosis) -> String {
    let flows = Flows::of(events);
    let mut left_out: Vec<String> = Vec::new();
    let mut head = format!("# {}\n\n", title(diagnosis));
    if !ctx.redacted {
        head.push_str("> **Not redacted** (`--no-redact`): this report contains cookies, tokens and passwords as they were sent.\n\n");
    }
    environment(&mut head, ctx);
    summary(&mut head, events);
    head.push_str(&diagnosis_section(diagnosis, &mut left_out));
    let mut sections = [
        (
            "the failing exchanges",
            failing_exchanges(&flows, diagnosis, &mut left_out),
        ),
        (
            "the timeline",
            timeline(ctx.header, &flows, diagnosis, &mut left_out),
        ),
        (
            "the WebSocket messages",
            raw_messages(events, &mut left_out),
        ),
    ];
    // What does not fit goes, last section first.
    let closing_room = 1_000;
    for i in (0..sections.len()).rev() {
        let total = head.len() + sections.iter().map(|(_, s)| s.len()).sum::<usize>();
        if total + closing_room <= LIMIT {
            break;
        }
        let (name, text) = &mut sections[i];
        if !text.is_empty() {
            left_out.push(format!("{name} ({} characters)", text.len()));
            text.clear();
        }
    }
    let mut out = head;
    for (_, text) in &sections {
        out.push_str(text);
    }
    if out.len() + closing_room > LIMIT {
        let mut cut = LIMIT - closing_room;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        left_out.push(format!(
            "the end of the diagnosis ({} characters)",
            out.len() - cut
        ));
        out.truncate(cut);
        out.push_str("\n\n[…]\n");
    }
    if !left_out.is_empty() {
        let _ = write!(
            out,
            "\n## Left out\n\nTo fit an issue, this report leaves out: {}. The whole session is in `wsdiag export {} --format har` (for DevTools) or `--format jsonl`.\n",
            left_out.join("; "),
            ctx.capture_name
        );
    }
    out
}

/// Findings shown in full; the others are counted by code.
const FINDINGS: usize = 10;

/// The diagnosis with its first [`FINDINGS`] findings; the rest counted.
fn diagnosis_section(diagnosis: &Diagnosis, left_out: &mut Vec<String>) -> String {
    let rest = diagnosis.findings.len().saturating_sub(FINDINGS);
    let mut shown = diagnosis.clone();
    let more = shown.findings.split_off(diagnosis.findings.len() - rest);
    let mut out = report::render(&shown, report::Format::Markdown).replacen(
        "## wsdiag diagnosis",
        "## Diagnosis",
        1,
    );
    if rest > 0 {
        let mut by_code: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &more {
            *by_code.entry(f.code.as_str()).or_default() += 1;
        }
        let counts: Vec<String> = by_code.iter().map(|(c, n)| format!("`{c}` ×{n}")).collect();
        let _ = writeln!(out, "\n… and {rest} more findings: {}.", counts.join(", "));
        left_out.push(format!("{rest} findings after the first {FINDINGS}"));
    }
    out
}

fn title(d: &Diagnosis) -> String {
    match d.findings.first() {
        Some(f) => format!("{} (`{}`)", f.title, f.code.as_str()),
        None => "wsdiag capture: no send path failed".to_owned(),
    }
}

fn environment(out: &mut String, ctx: &Context<'_>) {
    let h = ctx.header;
    let _ = write!(
        out,
        "## Environment\n\n```text\nwsdiag:        {} (capture written by {})\nOS:            {} {}\ncommand:       {}\nupstream:      {}\nproxy listen:  {}\ncapture start: {}\n```\n\n",
        env!("CARGO_PKG_VERSION"),
        h.wsdiag_version,
        std::env::consts::OS,
        std::env::consts::ARCH,
        ctx.command,
        h.upstream,
        h.listen,
        h.started_at.to_rfc3339(),
    );
}

fn summary(out: &mut String, events: &[Event]) {
    let mut connections = 0;
    let (mut sent, mut received) = (0, 0);
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for e in events {
        match &e.kind {
            EventKind::ConnOpen(_) => connections += 1,
            EventKind::WsMessage(m) if m.dir == crate::event::Direction::ClientToUpstream => {
                sent += 1
            }
            EventKind::WsMessage(_) => received += 1,
            EventKind::HttpResponse(r) => *by_status.entry(r.status.to_string()).or_default() += 1,
            EventKind::HttpError(_) => *by_status.entry("no response".to_owned()).or_default() += 1,
            _ => {}
        }
    }
    let statuses: Vec<String> = by_status.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    let _ = write!(
        out,
        "## Summary\n\n- {connections} connections\n- WebSocket messages: {sent} sent (→), {received} received (←)\n- HTTP exchanges by status: {}\n\n",
        if statuses.is_empty() { "none".to_owned() } else { statuses.join(", ") }
    );
}

/// `|` and line breaks would break a table cell; `<` would start HTML.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace(['\n', '\r'], " ")
        .replace('`', "'")
}

fn timeline(
    h: &Header,
    flows: &Flows<'_>,
    diagnosis: &Diagnosis,
    left_out: &mut Vec<String>,
) -> String {
    let mut rows: Vec<(bool, String)> = Vec::new();
    let request = |exchange: u64| {
        flows
            .request(exchange)
            .map_or(("", ""), |(_, r)| (r.method.as_str(), r.uri.as_str()))
    };
    for e in flows.events() {
        let what = match &e.kind {
            EventKind::HttpResponse(r) => {
                let (m, u) = request(r.exchange);
                let error = diagnosis
                    .errors
                    .get(&r.exchange)
                    .map(|e| format!(" {}", shorten(&e.summary(), 100)))
                    .unwrap_or_default();
                format!("`{m} {}` → **{}**{}", cell(u), r.status, cell(&error))
            }
            EventKind::HttpError(x) => {
                let (m, u) = request(x.exchange);
                format!("`{m} {}` → **failed**: {}", cell(u), cell(&x.message))
            }
            // The protocol's keepalive says nothing about the bug.
            EventKind::WsMessage(m) if m.msg_role == Some(crate::event::Role::Heartbeat) => {
                continue
            }
            EventKind::WsMessage(m) => {
                let label = m
                    .msg_type
                    .clone()
                    .unwrap_or_else(|| format!("{:?}", m.opcode).to_lowercase());
                let text = m
                    .payload
                    .text()
                    .map(|t| shorten(t, 80))
                    .unwrap_or_else(|| format!("{} bytes", m.payload.len));
                format!("{} **{}** `{}`", m.dir.arrow(), cell(&label), cell(&text))
            }
            EventKind::WsClose(c) => format!(
                "WebSocket closed by {:?}, code {:?}, clean: {}",
                c.initiator, c.code, c.clean
            )
            .to_lowercase(),
            EventKind::WsHandshake(hs) if !hs.accepted => format!(
                "WebSocket handshake `{}` refused: **{}**",
                cell(&hs.uri),
                hs.status
            ),
            _ => continue,
        };
        let time = h.wall_clock(e.t_us).format("%H:%M:%S%.3f");
        let conn = e.conn.map(|c| format!("#{c}")).unwrap_or_default();
        rows.push((
            failed(e),
            format!("| {time} | {} | {conn} | {what} |", e.seq),
        ));
    }
    let mut out = String::from(
        "\n## Timeline\n\n| time (UTC) | seq | conn | what |\n| --- | --- | --- | --- |\n",
    );
    let keep: Vec<bool> = if rows.len() <= TIMELINE_ROWS {
        vec![true; rows.len()]
    } else {
        // Around each failure in turn, until the table is as long as a
        // whole timeline may be.
        let mut keep = vec![false; rows.len()];
        for (i, _) in rows.iter().enumerate().filter(|(_, (f, _))| *f) {
            if keep.iter().filter(|k| **k).count() >= TIMELINE_ROWS {
                break;
            }
            let from = i.saturating_sub(AROUND_FAILURE);
            let to = (i + AROUND_FAILURE + 1).min(rows.len());
            keep[from..to].iter_mut().for_each(|k| *k = true);
        }
        keep
    };
    let mut skipped = 0;
    for ((_, row), kept) in rows.iter().zip(&keep) {
        if *kept {
            if skipped > 0 {
                let _ = writeln!(out, "| | | | … {skipped} rows |");
                skipped = 0;
            }
            out.push_str(row);
            out.push('\n');
        } else {
            skipped += 1;
        }
    }
    if skipped > 0 {
        let _ = writeln!(out, "| | | | … {skipped} rows |");
    }
    let omitted = keep.iter().filter(|k| !**k).count();
    if omitted > 0 {
        left_out.push(format!("{omitted} timeline rows away from the failures"));
    }
    out
}

/// True for an event that shows something failing.
fn failed(e: &Event) -> bool {
    match &e.kind {
        EventKind::HttpResponse(r) => r.status >= 400,
        EventKind::HttpError(_) => true,
        EventKind::WsHandshake(h) => !h.accepted,
        EventKind::WsClose(c) => !c.is_normal(),
        EventKind::WsMessage(m) => m.msg_role == Some(crate::event::Role::Error),
        _ => false,
    }
}

fn failing_exchanges(
    flows: &Flows<'_>,
    diagnosis: &Diagnosis,
    left_out: &mut Vec<String>,
) -> String {
    let mut out = String::new();
    let mut shown = 0;
    let mut not_shown = 0;
    for e in flows.events() {
        let (exchange, status, headers, body, error) = match &e.kind {
            EventKind::HttpResponse(r) if r.status >= 400 => (
                r.exchange,
                r.status.to_string(),
                Some(&r.headers),
                Some(&r.body),
                diagnosis.errors.get(&r.exchange).map(ErrorBody::summary),
            ),
            EventKind::HttpError(x) => (
                x.exchange,
                "no response".to_owned(),
                None,
                None,
                Some(x.message.clone()),
            ),
            _ => continue,
        };
        let Some((_, req)) = flows.request(exchange) else {
            continue;
        };
        if shown == FAILING_EXCHANGES {
            not_shown += 1;
            continue;
        }
        if shown == 0 {
            out.push_str("\n## Failing exchanges\n");
        }
        shown += 1;
        let _ = write!(out, "\n### `{} {}` → {status}\n\n", req.method, req.uri);
        if let Some(error) = error {
            let _ = writeln!(out, "**Error:** `{}`\n", error.replace('`', "'"));
        }
        let _ = write!(
            out,
            "Request:\n\n```http\n{} {} {}\n{}\n{}```\n\n",
            req.method,
            req.uri,
            req.version,
            header_lines(&req.headers),
            body_block(&req.body)
        );
        if let (Some(headers), Some(body)) = (headers, body) {
            let _ = write!(out, "<details><summary>Response ({status}, {} bytes)</summary>\n\n```http\n{}\n{}```\n\n</details>\n", body.len, header_lines(headers), body_block(body));
        }
    }
    if not_shown > 0 {
        let _ = writeln!(out, "\n… and {not_shown} more failing exchanges.");
        left_out.push(format!(
            "{not_shown} failing exchanges after the first {FAILING_EXCHANGES}"
        ));
    }
    out
}

fn header_lines(headers: &Headers) -> String {
    headers.iter().map(|(n, v)| format!("{n}: {v}\n")).collect()
}

fn body_block(body: &Payload) -> String {
    match body.text() {
        Some("") | None if body.len == 0 => String::new(),
        Some(t) => {
            let kept: String = t.chars().take(BODY_CHARS).collect();
            let rest = t.chars().count().saturating_sub(BODY_CHARS);
            let cut = match (rest, body.truncated()) {
                (0, false) => String::new(),
                (0, true) => "\n[… truncated in the capture]".to_owned(),
                (n, _) => format!("\n[… {n} more characters: see the HAR export]"),
            };
            format!("\n{}{cut}\n", kept.replace("```", "'''"))
        }
        None => format!("\n[{} bytes of binary]\n", body.len),
    }
}

fn raw_messages(events: &[Event], left_out: &mut Vec<String>) -> String {
    let mut by_conn: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for e in events {
        if let (EventKind::WsMessage(m), Some(conn)) = (&e.kind, e.conn) {
            let text = m
                .payload
                .text()
                .map(|t| shorten(t, MESSAGE_CHARS))
                .unwrap_or_else(|| format!("[{} bytes of binary]", m.payload.len));
            by_conn.entry(conn).or_default().push(format!(
                "{} {} {}",
                e.seq,
                m.dir.arrow(),
                text.replace("```", "'''")
            ));
        }
    }
    let mut out = String::new();
    if by_conn.is_empty() {
        return out;
    }
    out.push_str("\n## WebSocket messages\n");
    let mut omitted = 0;
    for (conn, lines) in by_conn {
        let more = lines.len().saturating_sub(MESSAGE_LINES);
        omitted += more;
        let shown = lines[..lines.len() - more].join("\n");
        let tail = if more > 0 {
            format!("\n… {more} more")
        } else {
            String::new()
        };
        let _ = write!(out, "\n<details><summary>Connection #{conn}: {} messages</summary>\n\n```text\n{shown}{tail}\n```\n\n</details>\n", lines.len());
    }
    if omitted > 0 {
        left_out.push(format!(
            "{omitted} WebSocket messages after the first {MESSAGE_LINES} of each connection"
        ));
    }
    out
}
