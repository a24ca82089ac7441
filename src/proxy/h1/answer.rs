//! The upstream's answer to a forwarded request: its final response head,
//! read within the response timeout, interim (1xx) responses passed to the
//! client on the way, and why there is no answer when there is none.

use bytes::BytesMut;
use http::StatusCode;
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::TcpStream;

use super::body::{self, Peer};
use super::head::{self, ResponseHead};
use crate::event::ErrorKind;
use crate::proxy::headers;
use crate::proxy::upstream::Io;
use crate::proxy::Shared;

/// Why the upstream gave no usable response head.
pub(super) enum UpstreamFailure {
    /// It closed the connection before a byte of it.
    Closed,
    /// It failed otherwise.
    Io(std::io::Error),
    /// Not within the response timeout.
    Timeout,
    /// What it sent is not an HTTP/1 response head.
    Malformed(String),
}

impl UpstreamFailure {
    /// The failure as recorded and answered.
    pub(super) fn described(self, shared: &Shared) -> (ErrorKind, String, StatusCode) {
        let upstream = &shared.config.upstream.display;
        match self {
            UpstreamFailure::Closed => (
                ErrorKind::Reset,
                format!("the upstream {upstream} closed the connection without answering"),
                StatusCode::BAD_GATEWAY,
            ),
            UpstreamFailure::Io(e) => (
                crate::proxy::error::classify(&e),
                crate::proxy::error::explain(&e, upstream),
                StatusCode::BAD_GATEWAY,
            ),
            UpstreamFailure::Timeout => (
                ErrorKind::Timeout,
                format!(
                    "the upstream did not answer within {:?} (--response-timeout)",
                    shared.config.response_timeout
                ),
                StatusCode::GATEWAY_TIMEOUT,
            ),
            UpstreamFailure::Malformed(message) => (
                ErrorKind::Protocol,
                format!("the upstream {upstream} did not answer in HTTP/1: {message}"),
                StatusCode::BAD_GATEWAY,
            ),
        }
    }
}

/// Interim (1xx) responses on their way to the client: a proxy passes
/// them on, save those it asked for itself (RFC 9110 section 15.2), so a
/// `103 Early Hints` reaches the browser as the upstream sent it. They are
/// not recorded: the capture holds the final response.
#[derive(Default)]
pub(super) struct Interim {
    /// wsdiag said `100 Continue` to the client itself: the upstream's
    /// is not passed on.
    said_continue: bool,
    /// Heads read and not written to the client yet.
    pending: Vec<u8>,
    /// A byte of the answer was read (a close before one may be a
    /// kept-alive connection's timeout, see [`UpstreamFailure::Closed`]).
    heard: bool,
}

impl Interim {
    /// None yet; `said_continue`: wsdiag said `100 Continue` to the
    /// client itself.
    pub(super) fn new(said_continue: bool) -> Interim {
        Interim {
            said_continue,
            ..Interim::default()
        }
    }

    /// Writes the pending heads to the client. A client gone by then is
    /// found by the response's relay.
    pub(super) async fn pass_on(&mut self, client: &mut TcpStream) {
        if !self.pending.is_empty() {
            let _ = client.write_all(&self.pending).await;
            self.pending.clear();
        }
    }
}

/// Reads the final response head from `up` within the response timeout,
/// passing interim (1xx) heads to the client as they come.
pub(super) async fn read_response_head(
    up: &mut Peer<Box<dyn Io>>,
    shared: &Shared,
    client: &mut TcpStream,
    interim: &mut Interim,
) -> Result<ResponseHead, UpstreamFailure> {
    let deadline = tokio::time::Instant::now() + shared.config.response_timeout;
    loop {
        interim.pass_on(client).await;
        let head = response_head(&mut up.io, &mut up.buf, interim);
        match tokio::time::timeout_at(deadline, head).await {
            Ok(Ok(Some(head))) => return Ok(head),
            Ok(Ok(None)) => {}
            Ok(Err(failure)) => return Err(failure),
            Err(_) => return Err(UpstreamFailure::Timeout),
        }
    }
}

/// Reads the next response head from `io` after what `buf` holds: `Some`
/// of a final one, `None` when an interim (1xx) one was put in
/// `interim.pending`. Cancel-safe: what was read stays in `buf`.
async fn response_head<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut BytesMut,
    interim: &mut Interim,
) -> Result<Option<ResponseHead>, UpstreamFailure> {
    loop {
        if !buf.is_empty() {
            interim.heard = true;
            match head::parse_response(buf) {
                Ok(Some(head)) if head.status < 100 => {
                    return Err(UpstreamFailure::Malformed(format!(
                        "status {} is not an HTTP status (100 to 999)",
                        head.status
                    )))
                }
                Ok(Some(head)) if head.status == 101 => {
                    return Err(UpstreamFailure::Malformed(
                        "101 Switching Protocols to a request that asked for no upgrade".into(),
                    ))
                }
                // Said already, by wsdiag.
                Ok(Some(head)) if head.status == 100 && interim.said_continue => continue,
                Ok(Some(head)) if head.status < 200 => {
                    let mut fields = head.fields;
                    headers::strip_hop_by_hop(&mut fields);
                    head::write_response_head(
                        &mut interim.pending,
                        head.status,
                        &head.reason,
                        &fields,
                    );
                    return Ok(None);
                }
                Ok(Some(head)) => return Ok(Some(head)),
                Ok(None) => {}
                Err(e) => return Err(UpstreamFailure::Malformed(e.message)),
            }
        }
        match body::fill(io, buf).await {
            Ok(0) if !interim.heard => return Err(UpstreamFailure::Closed),
            Ok(0) => {
                return Err(UpstreamFailure::Malformed(
                    "the connection closed before the final response head's end".into(),
                ))
            }
            Ok(_) => {}
            Err(e) if !interim.heard && e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Err(UpstreamFailure::Closed)
            }
            Err(e) => return Err(UpstreamFailure::Io(e)),
        }
    }
}

/// Reads response heads from `io` until a final one, keeping interim ones
/// in `interim.pending`.
pub(super) async fn final_head<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut BytesMut,
    interim: &mut Interim,
) -> Result<ResponseHead, UpstreamFailure> {
    loop {
        if let Some(head) = response_head(io, buf, interim).await? {
            return Ok(head);
        }
    }
}
