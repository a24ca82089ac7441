//! The event feed: Server-Sent Events that replay the capture file from its
//! first line, then follow it as the proxy appends, until its trailer.
//!
//! The feed reads the file, never the proxy's memory: a browser that reads
//! slowly fills this feed's small queue and its socket, and only this task
//! waits. Every second a `status` message says how many events the feed
//! has read, so the page can tell when it lags behind.

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
use crate::proxy::BoxError;

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

/// Just the `type` of a capture line.
#[derive(Deserialize)]
struct Kind {
    #[serde(rename = "type", default)]
    kind: String,
}

/// What the tail has read so far.
#[derive(Default)]
struct Reader {
    /// Bytes after the last complete line.
    partial: Vec<u8>,
    header_sent: bool,
    batch: Vec<String>,
    events: u64,
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
            let kind = serde_json::from_str::<Kind>(&line).map(|k| k.kind);
            match kind.as_deref() {
                Ok("trailer") => self.trailer = Some(line),
                // Every line of a capture is JSON; one that is not (a
                // damaged file) is skipped rather than break the page.
                Err(_) => {}
                Ok(_) => {
                    self.events += 1;
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
        if n == 0 {
            out.extend(reader.flush());
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
        if reader.trailer.is_some() || !source.live {
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
    use super::Reader;

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
