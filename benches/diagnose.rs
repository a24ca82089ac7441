//! `cargo bench --bench diagnose [-- --quick]`: how the offline work scales.
//!
//! Generates chat captures of 10,000 and 100,000 events (a WebSocket whose
//! client sends a message and gets its broadcast, and every 50 messages a
//! REST `POST` of the same kind answered by a Django 500), reads them as
//! `wsdiag diagnose` does, and times the diagnosis and the Markdown export;
//! then the same for a busy chat (20,000 messages a second, each send
//! answered by someone else's message, never by its own echo: every
//! send's 2 s delivery window holds 40,000 events); then times the
//! error-page parsers on pages of 1 MiB and 20 MiB. Prints each figure
//! and the ratio between sizes: a linear diagnosis shows a ratio near the
//! ratio of the sizes (10).

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wsdiag::capture::reader;
use wsdiag::diagnose::{self, ErrorBody};
use wsdiag::event::Payload;
use wsdiag::export::{self, redact, ExportFormat, Selection};

/// The shape of a generated chat.
#[derive(Clone, Copy)]
struct Shape {
    /// Microseconds between two events.
    spacing_us: u64,
    /// Whether the upstream echoes each message (else it sends another).
    echoed: bool,
}

/// A calm chat: an event every 200 µs, each message echoed.
const CALM: Shape = Shape {
    spacing_us: 200,
    echoed: true,
};
/// A busy chat: an event every 50 µs, no message echoed.
const BUSY: Shape = Shape {
    spacing_us: 50,
    echoed: false,
};

/// A capture (JSON Lines, format 1 so that the reader classifies it) of
/// about `events` events, of the given shape.
fn chat_capture(events: usize, shape: Shape) -> Vec<u8> {
    let mut out = String::new();
    out.push_str(r#"{"type":"header","format_version":1,"wsdiag_version":"0.1.0","started_at":"2026-11-24T03:56:12Z","listen":"127.0.0.1:1","upstream":"http://127.0.0.1:2","body_limit":262144}"#);
    out.push('\n');
    let mut seq = 0;
    let mut line = |conn: u64, rest: String| {
        seq += 1;
        let t = seq * shape.spacing_us;
        out.push_str(&format!(
            r#"{{"seq":{seq},"t_us":{t},"conn":{conn},{rest}}}"#
        ));
        out.push('\n');
        seq
    };
    line(1, r#""type":"http_request","exchange":1,"method":"GET","uri":"/ws/chat/3/","version":"HTTP/1.1","headers":[["upgrade","websocket"],["cookie","sessionid=abc"]],"body":{"len":0,"text":""}"#.into());
    line(
        1,
        r#""type":"ws_handshake","exchange":1,"uri":"/ws/chat/3/","status":101,"accepted":true"#
            .into(),
    );
    let mut n = 2;
    let mut exchange = 1;
    let mut i = 0;
    while n < events {
        i += 1;
        let sent = format!(r#"{{\"type\":\"chat_message\",\"message\":\"hello {i}\"}}"#);
        line(
            1,
            format!(
                r#""type":"ws_message","dir":"client_to_upstream","opcode":"text","len":30,"text":"{sent}""#
            ),
        );
        let from = if shape.echoed { "" } else { " from bob" };
        let echo = format!(
            r#"{{\"type\":\"chat_message\",\"data\":{{\"id\":{i},\"message\":\"hello {i}{from}\",\"expediteur\":{{\"id\":1}}}}}}"#
        );
        line(
            1,
            format!(
                r#""type":"ws_message","dir":"upstream_to_client","opcode":"text","len":60,"text":"{echo}""#
            ),
        );
        n += 2;
        if i % 50 == 0 {
            exchange += 1;
            let conn = 100 + exchange;
            let body = format!(r#"{{\"message\":\"rest {i}\"}}"#);
            line(
                conn,
                format!(
                    r#""type":"http_request","exchange":{exchange},"method":"POST","uri":"/api/conversations/3/messages/","version":"HTTP/1.1","headers":[["content-type","application/json"]],"body":{{"len":20,"text":"{body}"}}"#
                ),
            );
            let page = r"IntegrityError at /api/conversations/3/messages/\nNOT NULL constraint failed: chat_message.expediteur_id";
            line(
                conn,
                format!(
                    r#""type":"http_response","exchange":{exchange},"status":500,"headers":[["content-type","text/plain"]],"body":{{"len":90,"text":"{page}"}},"duration_us":500"#
                ),
            );
            n += 2;
        }
    }
    out.into_bytes()
}

/// The best of `rounds` timings of `f`.
fn best<T>(rounds: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// Times reading, diagnosing and exporting chats of `shape` of 10,000 and
/// 100,000 events; prints a table and the ratio between the sizes.
fn chats(name: &str, shape: Shape, rounds: usize) {
    println!("\n{name}:\n");
    println!("| events | read (ms) | diagnose (ms) | export markdown (ms) | findings |");
    println!("| --- | --- | --- | --- | --- |");
    let mut times = Vec::new();
    for size in [10_000, 100_000] {
        let bytes = chat_capture(size, shape);
        let read = best(rounds, || {
            reader::read(&bytes[..], Path::new("bench.jsonl"))
        });
        let capture = match reader::read(&bytes[..], Path::new("bench.jsonl")) {
            Ok(capture) => capture,
            Err(e) => panic!("the generated capture does not read: {e}"),
        };
        let options = diagnose::Options::default();
        let diagnosis = diagnose::run(&capture.events, &options);
        let run = best(rounds, || diagnose::run(&capture.events, &options));
        let rules = redact::Rules::new(Vec::new(), Vec::new());
        let markdown = best(rounds, || {
            let selected = export::prepare(&capture, &Selection::default(), Some(&rules));
            let diagnosis = diagnose::run(&selected.events, &options);
            export::render(
                &capture.header,
                &selected,
                &diagnosis,
                ExportFormat::Markdown,
                "bench",
                "bench.jsonl",
            )
        });
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {} |",
            capture.events.len(),
            read.as_secs_f64() * 1e3,
            run.as_secs_f64() * 1e3,
            markdown.as_secs_f64() * 1e3,
            diagnosis.findings.len()
        );
        times.push(run.as_secs_f64());
    }
    if let [small, large] = times[..] {
        println!(
            "\ndiagnose 100k / 10k: {:.1}x the time for 10x the events (linear: about 10)",
            large / small
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 1 } else { 3 };
    println!("# diagnose benchmark ({rounds} rounds each, best shown)");
    for (name, shape) in [("calm chat", CALM), ("busy chat", BUSY)] {
        chats(name, shape, rounds);
    }

    println!("\n| error page | size | parse (ms) | read as |");
    println!("| --- | --- | --- | --- |");
    let express = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>TypeError: Cannot read properties of undefined (reading &#39;name&#39;)<br> &nbsp; &nbsp;at /app/routes/messages.js:18:7<br> &nbsp; &nbsp;at Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)</pre>\n";
    let pages = [
        ("Express, padded", express.to_owned()),
        (
            "unknown HTML",
            "<html><head><title>Oops</title></head><body><h1>Something broke</h1>".to_owned(),
        ),
    ];
    for (name, head) in pages {
        for mib in [1usize, 20] {
            let mut page = head.clone();
            let filler = "<p>lorem ipsum dolor sit amet</p>\n";
            while page.len() < mib << 20 {
                page.push_str(filler);
            }
            page.push_str("</body></html>\n");
            let body = Payload::capture(&Bytes::from(page.clone()), page.len());
            let parsed = ErrorBody::parse(500, &body);
            let time = best(rounds, || ErrorBody::parse(500, &body));
            let read_as = parsed.map_or("-".to_owned(), |p| p.summary());
            println!(
                "| {name} | {mib} MiB | {:.1} | {} |",
                time.as_secs_f64() * 1e3,
                wsdiag::event::text::shorten(&read_as, 60)
            );
        }
    }
}
