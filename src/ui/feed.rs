//! The event feed: Server-Sent Events that replay the capture file from its
//! first line, then follow it as the proxy appends, until its trailer.
//!
//! Messages: `header` (the capture's header line), `events` (a JSON array
//! of up to [`BATCH`] capture lines), `findings` (a JSON array of the live
//! diagnosis's findings, [`LiveFinding`]s, each sent once the events it
//! belongs under were), `status` (`{"events": N}`, every second), `end`
//! (the trailer line, or `null`) and `failure` (`{"message": ...}`).
//!
//! The feed reads the file, never the proxy's memory: a browser that reads
//! slowly fills this feed's small queue and its socket, and only this task
//! waits. Every second a `status` message says how many events the feed
//! has read, so the page can tell when it lags behind. The findings come
//! from the proxy's [`FindingLog`], when it runs in this process.
//!
//! [`LiveFinding`]: crate::diagnose::live::LiveFinding
//! [`FindingLog`]: crate::sink::finding_log::FindingLog

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Source, UiBody};
use crate::diagnose::live::LiveFinding;
use crate::proxy::BoxError;
use crate::sink::finding_log::{FindingLog, MAX_KEPT};

/// Events per `events` message.
const BATCH: usize = 1000;
/// How often a live capture is checked for new lines.
const POLL: Duration = Duration::from_millis(100);
/// How often `status` is sent.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// Messages queued for a slow browser before the feed waits for it.
const QUEUE: usize = 16;

/// The `text/event-stream` response; its messages come from a task that
/// tails the capture.
pub(super) fn response(source: &Source, shutdown: CancellationToken) -> Response<UiBody> {
    let (tx, rx) = mpsc::channel::<Bytes>(QUEUE);
    tokio::spawn(tail(source.clone(), tx, shutdown));
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        let bytes = rx.recv().await?;
        Some((Ok::<_, BoxError>(Frame::data(bytes)), rx))
    });
    let mut response = Response::new(StreamBody::new(frames).boxed());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// One Server-Sent Events message; `data` holds no newline (capture lines
/// and compact JSON never do).
fn message(event: &str, data: &str) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

/// Just the `type` and `seq` of a capture line.
#[derive(Deserialize)]
struct Kind {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    seq: u64,
}

/// What the tail has read so far.
#[derive(Default)]
struct Reader {
    /// Bytes after the last complete line.
    partial: Vec<u8>,
    header_sent: bool,
    batch: Vec<String>,
    events: u64,
    /// The `seq` of the last event read.
    last_seq: u64,
    trailer: Option<String>,
}

impl Reader {
    /// Takes in `bytes`; returns the messages to send now.
    fn take(&mut self, bytes: &[u8]) -> Vec<Bytes> {
        self.partial.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(end) = self.partial[start..].iter().position(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(&self.partial[start..start + end]).into_owned();
            start += end + 1;
            if line.trim().is_empty() {
                continue;
            }
            if !self.header_sent {
                self.header_sent = true;
                out.push(message("header", &line));
                continue;
            }
            match serde_json::from_str::<Kind>(&line) {
                Ok(k) if k.kind == "trailer" => self.trailer = Some(line),
                // Every line of a capture is JSON; one that is not (a
                // damaged file) is skipped rather than break the page.
                Err(_) => {}
                Ok(k) => {
                    self.events += 1;
                    self.last_seq = self.last_seq.max(k.seq);
                    self.batch.push(line);
                    if self.batch.len() == BATCH {
                        out.extend(self.flush());
                    }
                }
            }
        }
        self.partial.drain(..start);
        out
    }

    /// The events not sent yet, as one message.
    fn flush(&mut self) -> Option<Bytes> {
        if self.batch.is_empty() {
            return None;
        }
        let data = format!("[{}]", self.batch.join(","));
        self.batch.clear();
        Some(message("events", &data))
    }
}

/// The live findings a feed has not sent yet.
struct Pending {
    log: FindingLog,
    /// Where in the log this feed reads next.
    cursor: u64,
    /// Findings read from the log whose event the feed has not sent yet.
    held: Vec<LiveFinding>,
}

impl Pending {
    fn new(log: FindingLog) -> Pending {
        Pending {
            log,
            cursor: 0,
            held: Vec::new(),
        }
    }

    /// The findings under events up to `sent` (a `seq`), in the order the
    /// live diagnosis gave them, as one message; a revision comes with or
    /// after what it revises, which is under the same event.
    fn ready(&mut self, sent: u64) -> Option<Bytes> {
        let (new, cursor) = self.log.since(self.cursor);
        self.cursor = cursor;
        self.held.extend(new);
        // Findings under events that never reach the file (its sink
        // failed) are not held for ever.
        let over = self.held.len().saturating_sub(MAX_KEPT);
        self.held.drain(..over);
        let (ready, held): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|f| f.at <= sent);
        self.held = held;
        if ready.is_empty() {
            return None;
        }
        let data = serde_json::to_string(&ready).ok()?;
        Some(message("findings", &data))
    }
}

/// Reads the capture from its start and sends it on until the trailer
/// (or, for a finished file, its end), the browser going away, or shutdown.
async fn tail(source: Source, tx: mpsc::Sender<Bytes>, shutdown: CancellationToken) {
    let mut file = match tokio::fs::File::open(&source.capture).await {
        Ok(file) => file,
        Err(e) => {
            let failure =
                json!({ "message": format!("cannot read {}: {e}", source.capture.display()) });
            let _ = tx.send(message("failure", &failure.to_string())).await;
            return;
        }
    };
    let mut reader = Reader::default();
    let mut pending = source.findings.clone().map(Pending::new);
    let mut buf = vec![0u8; 256 * 1024];
    let mut last_status = Instant::now();
    loop {
        let n = match file.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                let failure = json!({ "message": format!("reading the capture failed: {e}") });
                let _ = tx.send(message("failure", &failure.to_string())).await;
                return;
            }
        };
        let mut out = reader.take(&buf[..n]);
        // The end: the trailer read, or the end of a finished file.
        let done = n == 0 && (reader.trailer.is_some() || !source.live);
        if n == 0 {
            out.extend(reader.flush());
            // At the end every finding goes, whatever event it is under.
            let sent = if done { u64::MAX } else { reader.last_seq };
            out.extend(pending.as_mut().and_then(|p| p.ready(sent)));
        }
        if last_status.elapsed() >= STATUS_EVERY {
            last_status = Instant::now();
            out.push(message(
                "status",
                &json!({ "events": reader.events }).to_string(),
            ));
        }
        for bytes in out {
            if tx.send(bytes).await.is_err() {
                return; // the browser went away
            }
        }
        if n > 0 {
            continue;
        }
        if done {
            let trailer = reader.trailer.take().unwrap_or_else(|| "null".to_owned());
            let _ = tx.send(message("end", &trailer)).await;
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Pending, Reader};
    use crate::diagnose::live::LiveFinding;
    use crate::diagnose::Code;
    use crate::sink::finding_log::FindingLog;
    use crate::sink::Sink;

    /// The `at`s and codes of a `findings` message.
    fn sent(message: &[u8]) -> Vec<(u64, String)> {
        let text = std::str::from_utf8(message).unwrap();
        let data = text.strip_prefix("event: findings\ndata: ").unwrap();
        let found: Vec<serde_json::Value> = serde_json::from_str(data.trim_end()).unwrap();
        found
            .iter()
            .map(|f| {
                let code = f["finding"]["code"].as_str().unwrap().to_owned();
                (f["at"].as_u64().unwrap(), code)
            })
            .collect()
    }

    #[test]
    fn a_finding_waits_for_its_event_and_a_revision_follows_what_it_revises() {
        let log = FindingLog::new();
        let mut sink = log.sink();
        let mut pending = Pending::new(log.clone());
        let first = Code::RestServerError;
        let second = Code::RestErrorAfterSave;
        sink.findings(&[
            LiveFinding::bare(4, Code::WsCloseUnanswered, vec![]),
            LiveFinding::bare(9, first, vec![]),
        ])
        .unwrap();
        let ready = pending.ready(5).unwrap();
        assert_eq!(sent(&ready), [(4, "ws-close-unanswered".to_owned())]);
        assert!(pending.ready(8).is_none(), "seq 9 is not sent yet");
        sink.findings(&[LiveFinding::bare(9, second, vec![first])])
            .unwrap();
        let ready = pending.ready(9).unwrap();
        assert_eq!(
            sent(&ready),
            [
                (9, first.as_str().to_owned()),
                (9, second.as_str().to_owned())
            ]
        );
        assert!(pending.ready(u64::MAX).is_none(), "each goes once");
    }

    #[test]
    fn lines_split_across_reads_become_one_batch_after_the_header() {
        let mut r = Reader::default();
        let first = r.take(b"{\"type\":\"header\"}\n{\"seq\":1,\"type\":\"ws_mes");
        assert_eq!(first.len(), 1, "the header goes out at once");
        assert!(r.take(b"sage\"}\n{\"type\":\"trailer\"}\n").is_empty());
        let batch = r.flush().unwrap();
        assert_eq!(
            &batch[..],
            b"event: events\ndata: [{\"seq\":1,\"type\":\"ws_message\"}]\n\n"
        );
        assert_eq!(r.events, 1);
        assert_eq!(r.trailer.as_deref(), Some("{\"type\":\"trailer\"}"));
    }
}
