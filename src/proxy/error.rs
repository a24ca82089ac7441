//! Turning errors from the upstream client into a side and a kind.
//!
//! Runtime messages are context; the [`ErrorKind`] decided here is what the
//! capture and the diagnosis rely on. The kind is read from the error's
//! source chain: an `io::Error` says refused, reset or timed out; a rustls
//! error says TLS; a hyper error says protocol or an incomplete message.

use std::error::Error as StdError;
use std::io;

use crate::event::ErrorKind;

/// The kind of an upstream failure, from its source chain; one nothing
/// recognizes is a failure to connect.
pub fn classify(e: &(dyn StdError + 'static)) -> ErrorKind {
    recognize(e).unwrap_or(ErrorKind::Connect)
}

/// The kind of a failure, when its source chain says which.
pub fn recognize(e: &(dyn StdError + 'static)) -> Option<ErrorKind> {
    let causes = chain_of(e);
    // TLS first: rustls errors arrive wrapped in io::Errors of other kinds.
    if causes.iter().any(|c| c.is::<rustls::Error>()) {
        return Some(ErrorKind::Tls);
    }
    for cause in &causes {
        if cause.is::<tokio::time::error::Elapsed>() {
            return Some(ErrorKind::Timeout);
        }
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::TimedOut => return Some(ErrorKind::Timeout),
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof => return Some(ErrorKind::Reset),
                io::ErrorKind::ConnectionRefused => return Some(ErrorKind::Connect),
                _ => {}
            }
        }
        if let Some(h) = cause.downcast_ref::<hyper::Error>() {
            if h.is_parse() || h.is_parse_status() {
                return Some(ErrorKind::Protocol);
            }
            if h.is_timeout() {
                return Some(ErrorKind::Timeout);
            }
            if h.is_incomplete_message() || h.is_canceled() || h.is_body_write_aborted() {
                return Some(ErrorKind::Reset);
            }
        }
    }
    None
}

/// Every error in `e`'s chain, including what `io::Error`s wrap: their
/// `source()` skips the wrapped error itself, `get_ref()` does not.
fn chain_of<'a>(e: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut all = Vec::new();
    let mut cause = Some(e);
    while let Some(err) = cause {
        all.push(err);
        cause = match err.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => err.source(),
        };
    }
    all
}

/// What a failure to reach `upstream` (its display form) means for a
/// person, in words that name the cause and what to try, with the
/// library's wording only as the last resort: a refused connection
/// ("nothing answers at 127.0.0.1:8000: is your backend running?"), TLS
/// spoken to a plain-HTTP port, a name that does not resolve, a timeout.
pub fn explain(e: &(dyn StdError + 'static), upstream: &str) -> String {
    let causes = chain_of(e);
    let io_kind = causes
        .iter()
        .find_map(|c| c.downcast_ref::<io::Error>().map(io::Error::kind));
    let tls = causes
        .iter()
        .find_map(|c| c.downcast_ref::<rustls::Error>());
    if let Some(tls) = tls {
        return match tls {
            rustls::Error::InvalidMessage(_) => format!(
                "the upstream {upstream} does not speak TLS: use http:// (or ws://) instead of https://"
            ),
            other => format!("TLS with the upstream {upstream} failed: {other}; for a self-signed certificate, --insecure"),
        };
    }
    let text = chain(e);
    match io_kind {
        Some(io::ErrorKind::ConnectionRefused) => format!(
            "nothing answers at {upstream} (connection refused): is your backend running, on that port?"
        ),
        _ if text.contains("dns error") || text.contains("failed to lookup address") => format!(
            "the upstream's host name in {upstream} does not resolve: check --upstream"
        ),
        Some(io::ErrorKind::TimedOut) => format!(
            "connecting to {upstream} timed out: is the address right, and no firewall in between? (--connect-timeout)"
        ),
        _ => format!("the upstream {upstream} failed: {text}"),
    }
}

/// The error and its causes in one line: "a: b: c", without repeats.
pub fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for err in chain_of(e) {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}
