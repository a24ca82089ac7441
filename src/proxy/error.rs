//! Turning errors from the upstream client into a side and a kind.
//!
//! Runtime messages are context; the [`ErrorKind`] decided here is what the
//! capture and the diagnosis rely on. The kind is read from the error's
//! source chain: an `io::Error` says refused, reset or timed out; a rustls
//! error says TLS; a hyper error says protocol or an incomplete message.

use std::error::Error as StdError;
use std::io;

use crate::event::ErrorKind;

/// The kind of an upstream failure, from its source chain.
pub fn classify(e: &(dyn StdError + 'static)) -> ErrorKind {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cause {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return match io.kind() {
                io::ErrorKind::TimedOut => ErrorKind::Timeout,
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof => ErrorKind::Reset,
                // rustls reports TLS failures wrapped in io::Error.
                _ if io
                    .get_ref()
                    .is_some_and(|inner| inner.is::<rustls::Error>()) =>
                {
                    ErrorKind::Tls
                }
                _ => ErrorKind::Connect,
            };
        }
        if err.is::<rustls::Error>() {
            return ErrorKind::Tls;
        }
        if err.is::<tokio::time::error::Elapsed>() {
            return ErrorKind::Timeout;
        }
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            if h.is_parse() || h.is_parse_status() {
                return ErrorKind::Protocol;
            }
            if h.is_incomplete_message() || h.is_canceled() {
                return ErrorKind::Reset;
            }
        }
        cause = err.source();
    }
    ErrorKind::Connect
}

/// The error and its causes in one line: "a: b: c", without repeats.
pub fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cause {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = err.source();
    }
    parts.join(": ")
}
