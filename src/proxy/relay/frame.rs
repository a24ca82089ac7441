//! WebSocket frames read as they stream past (RFC 6455 section 5.2),
//! without holding a frame: the header is parsed by tungstenite's
//! [`FrameHeader::parse`], the payload is handed on in the pieces it
//! arrived in. The bytes themselves are never changed: the relay forwards
//! what it read and reads only to record.

use std::io::Cursor;

use tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode;
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

/// The longest frame header: 2 bytes, an 8-byte length, a 4-byte mask.
const MAX_HEADER: usize = 14;

/// One step of [`FrameReader::next`].
#[derive(Debug)]
pub enum Piece<'a> {
    /// A frame's header and its payload length in bytes.
    Start(&'a FrameHeader, u64),
    /// Payload bytes as on the wire (still masked when the header has a
    /// mask); `offset` is where they start in the frame's payload, which
    /// [`apply_mask`] needs.
    Payload {
        /// The bytes, a slice of the input.
        bytes: &'a [u8],
        /// Their position in the frame's payload.
        offset: u64,
    },
    /// The frame's last payload byte has been read.
    End,
    /// The bytes no longer parse as frames (tungstenite refused the
    /// header). The reader passes everything after it over unread; the
    /// words say why. Not expected: a reserved opcode is read as a frame.
    Lost(String),
}

#[derive(Debug, Default)]
enum State {
    /// Between frames, or inside a header split across reads.
    #[default]
    Header,
    /// Inside a frame's payload.
    Payload {
        header: FrameHeader,
        remaining: u64,
        offset: u64,
        started: bool,
    },
    /// After [`Piece::Lost`]: nothing more is read.
    Lost,
}

/// A streaming frame reader: feed it each chunk read from a socket, in
/// order, and it tells what the chunk holds.
#[derive(Debug, Default)]
pub struct FrameReader {
    state: State,
    /// The start of a header split across reads (fewer than 14 bytes).
    partial: Vec<u8>,
}

impl FrameReader {
    /// Reads the next piece from the start of `input`: how many bytes of
    /// `input` it used, and the piece, or `None` when it needs more input
    /// (having kept what it used).
    ///
    /// A frame is always `Start`, then `Payload` pieces (none for an empty
    /// payload), then `End`; `End` can come with 0 bytes used.
    pub fn next<'a>(&'a mut self, input: &'a [u8]) -> (usize, Option<Piece<'a>>) {
        let (remaining, offset) = match &mut self.state {
            State::Lost => return (input.len(), None),
            State::Header => return self.header(input),
            State::Payload {
                remaining,
                offset,
                started,
                ..
            } => {
                if !*started {
                    *started = true;
                    return match &self.state {
                        State::Payload {
                            header, remaining, ..
                        } => (0, Some(Piece::Start(header, *remaining))),
                        _ => (0, None),
                    };
                }
                (remaining, offset)
            }
        };
        if *remaining == 0 {
            self.state = State::Header;
            return (0, Some(Piece::End));
        }
        if input.is_empty() {
            return (0, None);
        }
        let take = usize::try_from(*remaining).map_or(input.len(), |r| r.min(input.len()));
        let at = *offset;
        *remaining -= take as u64;
        *offset += take as u64;
        (
            take,
            Some(Piece::Payload {
                bytes: &input[..take],
                offset: at,
            }),
        )
    }

    /// True between frames: a frame of wsdiag's own can be written here
    /// without splitting one of the endpoint's.
    pub fn at_boundary(&self) -> bool {
        matches!(self.state, State::Header) && self.partial.is_empty()
    }

    fn header<'a>(&'a mut self, input: &'a [u8]) -> (usize, Option<Piece<'a>>) {
        if input.is_empty() {
            return (0, None);
        }
        // At most one header's worth: the carried start of a header split
        // across reads, then as much of this input as a header can need.
        let carried = self.partial.len();
        let mut joined = [0u8; MAX_HEADER];
        let extra = input.len().min(MAX_HEADER - carried);
        joined[..carried].copy_from_slice(&self.partial);
        joined[carried..carried + extra].copy_from_slice(&input[..extra]);
        // tungstenite refuses reserved opcodes (RFC 6455 section 5.2), but
        // the header's length does not depend on the opcode: parse it as
        // binary, then give the frame its own opcode back, so the reader
        // keeps its place and the assembler names the violation.
        let opcode = joined[0] & 0x0f;
        let reserved = matches!(opcode, 3..=7 | 11..=15);
        if reserved {
            joined[0] = (joined[0] & 0xf0) | 0x02;
        }
        // The header's size is where the parse stopped: tungstenite's
        // `FrameHeader::len` assumes the shortest length encoding, which
        // a sender may not have used.
        let mut cursor = Cursor::new(&joined[..carried + extra]);
        let parsed = FrameHeader::parse(&mut cursor).map(|h| {
            h.map(|(mut h, len)| {
                if reserved {
                    h.opcode = OpCode::from(opcode);
                }
                (h, len, cursor.position().saturating_sub(carried as u64))
            })
        });
        match parsed {
            Ok(Some((header, len, used))) => {
                let used = usize::try_from(used)
                    .unwrap_or(input.len())
                    .min(input.len());
                self.partial.clear();
                self.state = State::Payload {
                    header,
                    remaining: len,
                    offset: 0,
                    started: false,
                };
                // Hand out the header at once.
                let (_, piece) = self.next(&[]);
                (used, piece)
            }
            Ok(None) => {
                // Fewer bytes than the header needs: keep them all.
                self.partial.extend_from_slice(input);
                (input.len(), None)
            }
            Err(e) => {
                self.partial.clear();
                self.state = State::Lost;
                (input.len(), Some(Piece::Lost(e.to_string())))
            }
        }
    }
}

/// Masks or unmasks `bytes` in place: the payload bytes that start at `offset` of a
/// frame masked with `mask` (RFC 6455 section 5.3). Masking is its own
/// inverse.
pub fn apply_mask(bytes: &mut [u8], mask: [u8; 4], offset: u64) {
    let shift = (offset % 4) as usize;
    let key = [
        mask[shift],
        mask[(shift + 1) % 4],
        mask[(shift + 2) % 4],
        mask[(shift + 3) % 4],
    ];
    // Eight bytes at a time; a whole number of words keeps the key aligned
    // for the tail.
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut words = bytes.chunks_exact_mut(8);
    for chunk in &mut words {
        let mut w = [0; 8];
        w.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(w) ^ word).to_ne_bytes());
    }
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::apply_mask;

    /// RFC 6455 section 5.3: octet i is XORed with octet i MOD 4 of the key,
    /// counted from the start of the frame's payload.
    #[test]
    fn masking_matches_the_rfc_at_every_offset_and_length() {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let payload: Vec<u8> = (0..=255u8).cycle().take(300).collect();
        for offset in 0..9u64 {
            for len in [0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 64, 291] {
                let mut bytes = payload[..len].to_vec();
                apply_mask(&mut bytes, mask, offset);
                let expected: Vec<u8> = payload[..len]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ mask[(offset as usize + i) % 4])
                    .collect();
                assert_eq!(bytes, expected, "offset {offset}, length {len}");
                apply_mask(&mut bytes, mask, offset);
                assert_eq!(bytes, &payload[..len], "unmasking, offset {offset}");
            }
        }
    }
}
