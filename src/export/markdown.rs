//! The Markdown bug report, ready to paste into a GitHub issue: a title
//! naming the failure, the environment, a summary, the diagnosis, one
//! timeline of REST exchanges and WebSocket messages, the failing exchanges
//! in full, and the raw messages in collapsible `<details>` blocks.

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
}

/// The report for `events`, with `diagnosis` (of the same events, run
/// once by the command).
pub fn render(ctx: &Context<'_>, events: &[Event], diagnosis: &Diagnosis) -> String {
    let flows = Flows::of(events);
    let mut out = format!("# {}\n\n", title(diagnosis));
    if !ctx.redacted {
        out.push_str("> **Not redacted** (`--no-redact`): this report contains cookies, tokens and passwords as they were sent.\n\n");
    }
    environment(&mut out, ctx);
    summary(&mut out, events);
    out.push_str(
        &report::render(diagnosis, report::Format::Markdown).replacen(
            "## wsdiag diagnosis",
            "## Diagnosis",
            1,
        ),
    );
    timeline(&mut out, ctx.header, &flows, diagnosis);
    failing_exchanges(&mut out, &flows, diagnosis);
    raw_messages(&mut out, events);
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

fn timeline(out: &mut String, h: &Header, flows: &Flows<'_>, diagnosis: &Diagnosis) {
    out.push_str(
        "\n## Timeline\n\n| time (UTC) | seq | conn | what |\n| --- | --- | --- | --- |\n",
    );
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
        let _ = writeln!(out, "| {time} | {} | {conn} | {what} |", e.seq);
    }
}

fn failing_exchanges(out: &mut String, flows: &Flows<'_>, diagnosis: &Diagnosis) {
    let mut first = true;
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
        if first {
            out.push_str("\n## Failing exchanges\n");
            first = false;
        }
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
}

fn header_lines(headers: &Headers) -> String {
    headers.iter().map(|(n, v)| format!("{n}: {v}\n")).collect()
}

fn body_block(body: &Payload) -> String {
    match body.text() {
        Some("") | None if body.len == 0 => String::new(),
        Some(t) => format!(
            "\n{}{}\n",
            t.replace("```", "'''"),
            if body.truncated() {
                "\n[… truncated]"
            } else {
                ""
            }
        ),
        None => format!("\n[{} bytes of binary]\n", body.len),
    }
}

fn raw_messages(out: &mut String, events: &[Event]) {
    let mut by_conn: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for e in events {
        if let (EventKind::WsMessage(m), Some(conn)) = (&e.kind, e.conn) {
            let text = m
                .payload
                .text()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("[{} bytes of binary]", m.payload.len));
            by_conn.entry(conn).or_default().push(format!(
                "{} {} {}",
                e.seq,
                m.dir.arrow(),
                text.replace("```", "'''")
            ));
        }
    }
    if by_conn.is_empty() {
        return;
    }
    out.push_str("\n## WebSocket messages\n");
    for (conn, lines) in by_conn {
        let _ = write!(out, "\n<details><summary>Connection #{conn}: {} messages</summary>\n\n```text\n{}\n```\n\n</details>\n", lines.len(), lines.join("\n"));
    }
}
