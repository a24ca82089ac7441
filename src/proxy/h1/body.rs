//! One message body on its way through, from one connection to the other,
//! as it streams (never held whole), its start kept for the capture.

use std::io;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::chunked::Decoder;
use super::head::Framing;
use crate::proxy::body::Kept;

/// How much room a read gets at least.
const READ_ROOM: usize = 8 << 10;

/// One side's connection and what was read from it but not used yet: the
/// start of the next head, or of a body.
pub struct Peer<S> {
    /// The connection.
    pub io: S,
    /// Read and not used yet.
    pub buf: BytesMut,
}

impl<S: AsyncRead + Unpin> Peer<S> {
    /// `io`, nothing read yet.
    pub fn new(io: S) -> Peer<S> {
        Peer {
            io,
            buf: BytesMut::new(),
        }
    }

    /// Reads what `io` has into `buf`; `Ok(0)` when it closed.
    pub async fn fill(&mut self) -> io::Result<usize> {
        fill(&mut self.io, &mut self.buf).await
    }
}

/// Reads what `io` has onto the end of `buf`, making room first when
/// little is left; `Ok(0)` when it closed.
pub async fn fill<R: AsyncRead + Unpin>(io: &mut R, buf: &mut BytesMut) -> io::Result<usize> {
    if buf.capacity() - buf.len() < READ_ROOM / 4 {
        buf.reserve(READ_ROOM);
    }
    io.read_buf(buf).await
}

/// Why a body did not get through whole.
#[derive(Debug)]
pub enum Cut {
    /// The sending side failed or closed before the body's end, or broke
    /// the chunked coding.
    From(String),
    /// The receiving side could not be written to.
    To(io::Error),
    /// wsdiag is shutting down and the body's time ran out.
    ShutDown,
}

/// The last bytes of a body, not sent yet: the caller records the message
/// first, so that what its receiver does on getting them comes after it
/// in the capture (as hyper recorded a body's end before writing it).
#[derive(Debug, Default)]
pub struct Tail {
    /// Nothing was written yet: the head goes with these bytes, and head
    /// and body then go in one write (the message can be sent again from
    /// the head buffer as it is).
    pub whole: bool,
    bytes: Bytes,
}

/// Sends `head` (the message head, already in it) and then the body framed
/// by `framing` from `from` to `to`, as it arrives; the first body bytes go
/// in one write with the head. Stops short of the body's last bytes:
/// [`finish`] sends them. Keeps the body's start in `kept`, up to `limit`
/// bytes of data (a chunked body's data, not its coding).
pub async fn relay<R, W>(
    from: &mut Peer<R>,
    to: &mut W,
    framing: Framing,
    head: &mut Vec<u8>,
    kept: &mut Kept,
    limit: usize,
) -> Result<Tail, Cut>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut decoder = Decoder::default();
    let mut left = match framing {
        Framing::Length(n) => n,
        _ => 0,
    };
    let mut first = true;
    loop {
        let (chunk, done) = match framing {
            Framing::Empty => (Bytes::new(), true),
            Framing::Length(_) => {
                let n = usize::try_from(left).map_or(from.buf.len(), |l| l.min(from.buf.len()));
                left -= n as u64;
                let chunk = from.buf.split_to(n).freeze();
                kept.take(&chunk, limit);
                (chunk, left == 0)
            }
            Framing::Chunked => {
                let fed = decoder.feed(&from.buf).map_err(Cut::From)?;
                let chunk = from.buf.split_to(fed.used).freeze();
                for data in fed.data {
                    kept.take(&chunk.slice(data), limit);
                }
                (chunk, decoder.is_done())
            }
            Framing::UntilClose => {
                let chunk = from.buf.split().freeze();
                kept.take(&chunk, limit);
                (chunk, false)
            }
        };
        if done {
            return Ok(Tail {
                whole: first,
                bytes: chunk,
            });
        }
        send(to, head, &mut first, &chunk).await?;
        if !next(from, framing).await? {
            return Ok(Tail {
                whole: first,
                bytes: Bytes::new(),
            });
        }
    }
}

/// Sends what [`relay`] left: the body's last bytes, after `head` if
/// nothing was sent yet.
pub async fn finish<W: AsyncWrite + Unpin>(
    to: &mut W,
    head: &mut Vec<u8>,
    tail: &Tail,
) -> Result<(), Cut> {
    let mut first = tail.whole;
    send(to, head, &mut first, &tail.bytes).await
}

/// Writes `data`, after `head` if nothing was written yet.
async fn send<W: AsyncWrite + Unpin>(
    to: &mut W,
    head: &mut Vec<u8>,
    first: &mut bool,
    data: &[u8],
) -> Result<(), Cut> {
    let written = if std::mem::take(first) {
        head.extend_from_slice(data);
        to.write_all(head).await
    } else if data.is_empty() {
        Ok(())
    } else {
        to.write_all(data).await
    };
    written.map_err(Cut::To)
}

/// Reads more of the body; `false` when a body delimited by the close of
/// the connection ended.
async fn next<R: AsyncRead + Unpin>(from: &mut Peer<R>, framing: Framing) -> Result<bool, Cut> {
    match from.fill().await {
        Ok(0) if framing == Framing::UntilClose => Ok(false),
        Ok(0) => Err(Cut::From(
            "the connection closed before the body's end".to_owned(),
        )),
        Ok(_) => Ok(true),
        Err(e) => Err(Cut::From(e.to_string())),
    }
}
