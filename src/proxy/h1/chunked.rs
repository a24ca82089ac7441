//! The chunked transfer coding (RFC 9112 section 7.1), read as it passes.
//!
//! The forwarder passes a chunked body on as it came, chunk sizes,
//! extensions and trailer fields included; this decoder only finds where
//! the body ends and which of its bytes are data, for the capture.

use std::ops::Range;

/// The most bytes a chunk-size line or a trailer field line may take.
const MAX_LINE: usize = 8 << 10;

/// Where the decoder is in the coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk size's hex digits: the size so far, whether a
    /// digit was seen, the line's length so far.
    Size {
        size: u64,
        digits: bool,
        len: usize,
    },
    /// After the digits: spaces or tabs, then `;` or the line's end.
    SizeWs {
        size: u64,
        len: usize,
    },
    /// In a chunk extension, up to the line's end.
    Extension {
        size: u64,
        len: usize,
    },
    /// After the `\r` of a chunk-size line.
    SizeLf {
        size: u64,
    },
    /// Inside a chunk's data: how much is left.
    Data(u64),
    /// After a chunk's data: its `\r`, then its `\n`.
    DataCr,
    DataLf,
    /// Reading a trailer line (or the final empty line) of this length.
    Trailer(usize),
    /// After the `\r` of a trailer line of this length.
    TrailerLf(usize),
    /// The body ended.
    Done,
}

/// Whether `b` may stand in a chunk extension or a trailer line: a tab,
/// or any byte that is not a control character (RFC 9110 section 5.5).
/// A bare `\n` is refused: a server that takes it for a line's end would
/// read the body differently from wsdiag (a smuggled request).
fn in_line(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// A chunked body's decoder, fed the bytes as they come.
#[derive(Debug, Clone)]
pub struct Decoder {
    state: State,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            state: State::Size {
                size: 0,
                digits: false,
                len: 0,
            },
        }
    }
}

/// What one [`Decoder::feed`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// How many bytes of the input belong to the body (all of them unless
    /// the body ended within the input).
    pub used: usize,
    /// The ranges of the input that are data.
    pub data: Vec<Range<usize>>,
}

impl Decoder {
    /// True once the last chunk and the trailer section were read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Reads `input`, the body's next bytes. Errors name what is wrong
    /// with the coding.
    pub fn feed(&mut self, input: &[u8]) -> Result<Fed, String> {
        let mut fed = Fed::default();
        let mut at = 0;
        while at < input.len() && self.state != State::Done {
            if let State::Data(left) = self.state {
                let take = (input.len() - at).min(usize::try_from(left).unwrap_or(usize::MAX));
                fed.data.push(at..at + take);
                at += take;
                let left = left - take as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data(left)
                };
                continue;
            }
            self.state = self.step(input[at])?;
            at += 1;
        }
        fed.used = at;
        Ok(fed)
    }

    /// The state after the byte `b`, outside chunk data.
    fn step(&self, b: u8) -> Result<State, String> {
        let too_long = || format!("a chunk-size or trailer line is longer than {MAX_LINE} bytes");
        let line_len = match self.state {
            State::Size { len, .. } | State::SizeWs { len, .. } | State::Extension { len, .. } => {
                len
            }
            State::Trailer(len) => len,
            _ => 0,
        };
        if line_len >= MAX_LINE {
            return Err(too_long());
        }
        let len = line_len + 1;
        Ok(match self.state {
            State::Size { size, digits, .. } => match b {
                b'\r' if digits => State::SizeLf { size },
                b' ' | b'\t' if digits => State::SizeWs { size, len },
                b';' if digits => State::Extension { size, len },
                _ => {
                    let digit = (b as char)
                        .to_digit(16)
                        .ok_or_else(|| format!("{:?} in a chunk size", b as char))?;
                    let size = size
                        .checked_mul(16)
                        .and_then(|s| s.checked_add(u64::from(digit)))
                        .ok_or("a chunk size beyond 64 bits")?;
                    State::Size {
                        size,
                        digits: true,
                        len,
                    }
                }
            },
            State::SizeWs { size, .. } => match b {
                b' ' | b'\t' => State::SizeWs { size, len },
                b';' => State::Extension { size, len },
                b'\r' => State::SizeLf { size },
                _ => return Err(format!("{:?} after a chunk size", b as char)),
            },
            State::Extension { size, .. } => match b {
                b'\r' => State::SizeLf { size },
                _ if in_line(b) => State::Extension { size, len },
                _ => return Err(format!("{:?} in a chunk extension", b as char)),
            },
            State::SizeLf { size } => match (b, size) {
                (b'\n', 0) => State::Trailer(0),
                (b'\n', size) => State::Data(size),
                _ => return Err("a chunk-size line not ended by CRLF".into()),
            },
            State::DataCr if b == b'\r' => State::DataLf,
            State::DataLf if b == b'\n' => Self::first_size(),
            State::DataCr | State::DataLf => return Err("chunk data not followed by CRLF".into()),
            State::Trailer(len) if b == b'\r' => State::TrailerLf(len),
            State::Trailer(_) if in_line(b) => State::Trailer(len),
            State::Trailer(_) => return Err(format!("{:?} in a trailer line", b as char)),
            State::TrailerLf(0) if b == b'\n' => State::Done,
            State::TrailerLf(_) if b == b'\n' => State::Trailer(0),
            State::TrailerLf(_) => return Err("a trailer line not ended by CRLF".into()),
            State::Data(_) | State::Done => self.state,
        })
    }

    fn first_size() -> State {
        Decoder::default().state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `wire` in pieces of `step` bytes; returns the data and the
    /// bytes used.
    fn decode(wire: &[u8], step: usize) -> Result<(Vec<u8>, usize, bool), String> {
        let mut decoder = Decoder::default();
        let (mut data, mut used) = (Vec::new(), 0);
        for piece in wire.chunks(step) {
            let fed = decoder.feed(piece)?;
            fed.data
                .iter()
                .for_each(|r| data.extend_from_slice(&piece[r.clone()]));
            used += fed.used;
            if decoder.is_done() {
                break;
            }
        }
        Ok((data, used, decoder.is_done()))
    }

    #[test]
    fn data_extensions_and_trailers_in_any_pieces() {
        let wire =
            b"5;name=\"x\"\r\nhello\r\nA\r\n, world!!!\r\n0\r\nExpires: never\r\n\r\nGET /next";
        for step in [1, 2, 3, 7, 100] {
            let (data, used, done) = decode(wire, step).unwrap();
            assert_eq!(data, b"hello, world!!!", "step {step}");
            assert!(done);
            assert_eq!(&wire[used..], b"GET /next", "step {step}");
        }
    }

    #[test]
    fn an_empty_body_and_an_unfinished_one() {
        assert_eq!(decode(b"0\r\n\r\n", 1).unwrap(), (vec![], 5, true));
        let (data, _, done) = decode(b"4\r\nwiki\r\n", 3).unwrap();
        assert_eq!((data.as_slice(), done), (&b"wiki"[..], false));
    }

    #[test]
    fn broken_codings_are_named() {
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b"5\r\nhelloX\r\n",
            b"5\rX",
            b"fffffffffffffffff\r\n",
            b"0\r\nTrailer\rX",
            // What a lenient server would read as other lines.
            b"1;x\nZ\r\nA\r\n0\r\n\r\n",
            b"0\r\n\nGET /x HTTP/1.1\r\n\r\n",
            b"5 junk\r\nhello\r\n",
            b"5;ext\x00\r\nhello\r\n",
        ] {
            assert!(
                decode(bad, 1).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = format!("1;{}\r\n", "e".repeat(MAX_LINE));
        assert!(decode(long.as_bytes(), 64).is_err());
    }
}
