//! Messages put back together from the frames one side sent, for the
//! record: payloads unmasked and, under permessage-deflate, inflated; the
//! sender's protocol violations named (RFC 6455 sections 5 and 8.1, RFC
//! 7692 section 6). Nothing here decides what is forwarded.

use bytes::Bytes;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

use super::frame::apply_mask;
use super::inflate::{Extensions, Inflater};
use crate::event::{Opcode, Payload, Side, RESERVED_BITS};

/// The longest payload a control frame may carry (RFC 6455 section 5.5).
const CONTROL_MAX: u64 = 125;

/// The most room reserved ahead for a frame's payload; a longer frame's
/// buffer grows as its bytes come, so a header that claims more than the
/// peer sends costs no memory.
const RESERVE_MAX: usize = 64 * 1024;

/// Makes room in `held` for the kept part of a frame of `len` payload
/// bytes, so a large message is copied once instead of at each doubling.
fn reserve(held: &mut Vec<u8>, len: u64, limit: usize) {
    let room = limit.saturating_sub(held.len()).min(RESERVE_MAX);
    held.reserve(usize::try_from(len).unwrap_or(usize::MAX).min(room));
}

/// A message or control frame read off one side, ready to record.
#[derive(Debug)]
pub struct Read {
    /// Text, binary, close, ping or pong.
    pub opcode: Opcode,
    /// The payload as the application sent it (inflated), cut at the
    /// recording limit with its full length.
    pub payload: Payload,
    /// The message was compressed (permessage-deflate, RSV1).
    pub compressed: bool,
    /// The payload bytes on the wire, all frames together.
    pub wire_len: u64,
    /// How many frames carried it.
    pub frames: u32,
    /// What wsdiag could not read of it (a message that will not inflate).
    pub error: Option<String>,
}

/// A data message being put together.
struct Partial {
    opcode: Opcode,
    compressed: bool,
    held: Vec<u8>,
    len: u64,
    wire_len: u64,
    frames: u32,
    error: Option<String>,
}

/// The frame being read now.
enum Current {
    None,
    /// A data frame; its payload goes to the message in progress (none
    /// for a continuation with nothing to continue).
    Data {
        mask: Option<[u8; 4]>,
        fin: bool,
    },
    /// A control frame, held whole (at most 125 bytes, more if broken).
    Control {
        opcode: Opcode,
        mask: Option<[u8; 4]>,
        held: Vec<u8>,
        len: u64,
    },
}

/// Puts together what one side sends; see the module docs.
pub struct Assembler {
    from: Side,
    limit: usize,
    /// Set when permessage-deflate was negotiated; `None` again after a
    /// message failed to inflate (its window is lost).
    inflater: Option<Inflater>,
    deflate: bool,
    /// Another extension was negotiated: the reserved bits are its.
    other_extensions: bool,
    /// A message of this side did not inflate (reported once).
    inflate_failed: bool,
    /// This side sent its close frame.
    closed: bool,
    current: Current,
    message: Option<Partial>,
    /// Unmasked bytes on their way to the inflater.
    scratch: Vec<u8>,
    violations: Vec<String>,
}

impl Assembler {
    /// An assembler for what `from` sends, keeping at most `limit` bytes of
    /// each payload, under the accepted `extensions`.
    pub fn new(from: Side, limit: usize, extensions: &Extensions) -> Assembler {
        let inflater = extensions.deflate.map(|d| {
            Inflater::new(match from {
                Side::Client => d.client_no_context_takeover,
                _ => d.server_no_context_takeover,
            })
        });
        Assembler {
            from,
            limit,
            deflate: inflater.is_some(),
            inflater,
            other_extensions: !extensions.others.is_empty(),
            inflate_failed: false,
            closed: false,
            current: Current::None,
            message: None,
            scratch: Vec::new(),
            violations: Vec::new(),
        }
    }

    /// The violations noticed since the last call, in words.
    pub fn violations(&mut self) -> std::vec::Drain<'_, String> {
        self.violations.drain(..)
    }

    /// A frame starts.
    pub fn start(&mut self, header: &FrameHeader, len: u64) {
        self.check_mask(header);
        if self.closed {
            self.violate("a frame after its own close frame (RFC 6455 section 5.5.1)");
        }
        let first_of_message = matches!(header.opcode, OpCode::Data(Data::Text | Data::Binary));
        if header.rsv1 && !self.other_extensions && !(self.deflate && first_of_message) {
            self.violate(if self.deflate {
                "RSV1 set on a frame that does not start a message (RFC 7692 section 6.1)"
            } else {
                RESERVED_BITS
            });
        }
        if (header.rsv2 || header.rsv3) && !self.other_extensions {
            self.violate("a frame with RSV2 or RSV3 set though no extension was negotiated");
        }
        let mask = header.mask;
        self.current = match header.opcode {
            OpCode::Data(Data::Reserved(code)) | OpCode::Control(Control::Reserved(code)) => {
                self.violate(&format!(
                    "a frame with the reserved opcode {code} (RFC 6455 section 5.2)"
                ));
                Current::None
            }
            OpCode::Control(control) => {
                if !header.is_final {
                    self.violate("a fragmented control frame (RFC 6455 section 5.5)");
                }
                if len > CONTROL_MAX {
                    self.violate("a control frame longer than 125 bytes (RFC 6455 section 5.5)");
                }
                let opcode = match control {
                    Control::Close => Opcode::Close,
                    Control::Ping => Opcode::Ping,
                    _ => Opcode::Pong,
                };
                Current::Control {
                    opcode,
                    mask,
                    held: Vec::new(),
                    len: 0,
                }
            }
            OpCode::Data(Data::Continue) => {
                if self.message.is_none() {
                    self.violate("a continuation frame with no message to continue");
                }
                if let Some(m) = &mut self.message {
                    m.frames += 1;
                    if !m.compressed {
                        reserve(&mut m.held, len, self.limit);
                    }
                }
                Current::Data {
                    mask,
                    fin: header.is_final,
                }
            }
            OpCode::Data(data) => {
                if self.message.is_some() {
                    self.violate("a new message before the fragmented one ended");
                }
                let compressed = header.rsv1 && self.deflate;
                let mut held = Vec::new();
                if !compressed {
                    reserve(&mut held, len, self.limit);
                }
                self.message = Some(Partial {
                    opcode: if data == Data::Text {
                        Opcode::Text
                    } else {
                        Opcode::Binary
                    },
                    compressed,
                    held,
                    len: 0,
                    wire_len: 0,
                    frames: 1,
                    error: None,
                });
                Current::Data {
                    mask,
                    fin: header.is_final,
                }
            }
        };
    }

    /// Payload bytes of the current frame, as on the wire.
    pub fn payload(&mut self, bytes: &[u8], offset: u64) {
        match &mut self.current {
            Current::None => {}
            Current::Control {
                mask, held, len, ..
            } => {
                *len += bytes.len() as u64;
                // Kept whole (a close's code and reason), whatever the
                // limit, up to the most a control frame may carry.
                let limit = self.limit.max(CONTROL_MAX as usize);
                let room = limit.saturating_sub(held.len()).min(bytes.len());
                let start = held.len();
                held.extend_from_slice(&bytes[..room]);
                if let Some(mask) = mask {
                    apply_mask(&mut held[start..], *mask, offset);
                }
            }
            Current::Data { mask, .. } => {
                let Some(m) = &mut self.message else { return };
                m.wire_len += bytes.len() as u64;
                if !m.compressed {
                    m.len += bytes.len() as u64;
                    let room = self.limit.saturating_sub(m.held.len()).min(bytes.len());
                    let start = m.held.len();
                    m.held.extend_from_slice(&bytes[..room]);
                    if let Some(mask) = mask {
                        apply_mask(&mut m.held[start..], *mask, offset);
                    }
                    return;
                }
                let Some(inflater) = &mut self.inflater else {
                    return;
                };
                if m.error.is_some() {
                    return;
                }
                self.scratch.clear();
                self.scratch.extend_from_slice(bytes);
                if let Some(mask) = mask {
                    apply_mask(&mut self.scratch, *mask, offset);
                }
                let limit = self.limit;
                let mut keep = |b: &[u8]| keep(m, b, limit);
                if let Err(e) = inflater.feed(&self.scratch, &mut keep) {
                    m.error = Some(e);
                }
            }
        }
    }

    /// The current frame ends: a control frame, or the last frame of a
    /// message, is ready to record.
    pub fn end(&mut self) -> Option<Read> {
        match std::mem::replace(&mut self.current, Current::None) {
            Current::None => None,
            Current::Control {
                opcode, held, len, ..
            } => {
                if opcode == Opcode::Close {
                    self.closed = true;
                    self.check_close(&held);
                }
                Some(Read {
                    opcode,
                    payload: Payload {
                        bytes: Bytes::from(held),
                        len,
                    },
                    compressed: false,
                    wire_len: len,
                    frames: 1,
                    error: None,
                })
            }
            Current::Data { fin: false, .. } => None,
            Current::Data { fin: true, .. } => {
                let mut m = self.message.take()?;
                if m.compressed {
                    self.finish_inflating(&mut m);
                }
                let payload = Payload {
                    bytes: Bytes::from(m.held),
                    len: m.len,
                };
                // `text` forgives a cut inside a character at the recording
                // limit.
                if m.opcode == Opcode::Text && m.error.is_none() && payload.text().is_none() {
                    self.violate("invalid UTF-8 in a text message (RFC 6455 section 8.1)");
                }
                Some(Read {
                    opcode: m.opcode,
                    payload,
                    compressed: m.compressed,
                    wire_len: m.wire_len,
                    frames: m.frames,
                    error: m.error,
                })
            }
        }
    }

    /// Inflates the end of a compressed message. The first message that
    /// will not inflate is the sender's violation (its deflate stream is
    /// broken); later ones only carry the error, as wsdiag could not read
    /// them: with context takeover the window is lost for good, without it
    /// the next message starts afresh.
    fn finish_inflating(&mut self, m: &mut Partial) {
        // Unmasked frames are not kept between messages: an idle WebSocket
        // holds no buffer of them.
        self.scratch = Vec::new();
        let limit = self.limit;
        match &mut self.inflater {
            Some(inflater) if m.error.is_none() => {
                let mut keep = |b: &[u8]| keep(m, b, limit);
                if let Err(e) = inflater.finish(&mut keep) {
                    m.error = Some(e);
                }
            }
            Some(_) => {}
            None => {
                m.error = Some(
                    "not inflated: an earlier message of this side did not inflate, and its window is lost"
                        .to_owned(),
                );
                return;
            }
        }
        let Some(error) = &m.error else { return };
        if !self.inflate_failed {
            self.inflate_failed = true;
            self.violations.push(error.clone());
        }
        match &mut self.inflater {
            Some(inflater) if inflater.starts_each_message_afresh() => inflater.reset(),
            _ => self.inflater = None,
        }
    }

    fn check_mask(&mut self, header: &FrameHeader) {
        match (self.from, header.mask.is_some()) {
            (Side::Client, false) => {
                self.violate("an unmasked frame from the client (RFC 6455 section 5.1)")
            }
            (Side::Upstream, true) => {
                self.violate("a masked frame from the server (RFC 6455 section 5.1)")
            }
            _ => {}
        }
    }

    /// A close payload is empty, or a code an endpoint may send and a
    /// UTF-8 reason (RFC 6455 sections 5.5.1 and 7.4).
    fn check_close(&mut self, payload: &[u8]) {
        match payload {
            [] => {}
            [_] => self.violate("a close frame with a 1-byte payload"),
            [hi, lo, reason @ ..] => {
                let code = u16::from_be_bytes([*hi, *lo]);
                if !CloseCode::from(code).is_allowed() {
                    self.violate(&format!("close code {code}, which no endpoint may send"));
                }
                if std::str::from_utf8(reason).is_err() {
                    self.violate("a close reason that is not UTF-8");
                }
            }
        }
    }

    fn violate(&mut self, what: &str) {
        self.violations.push(what.to_owned());
    }
}

/// Keeps inflated bytes of `m` up to `limit`, counting them all.
fn keep(m: &mut Partial, bytes: &[u8], limit: usize) {
    m.len += bytes.len() as u64;
    let room = limit.saturating_sub(m.held.len()).min(bytes.len());
    m.held.extend_from_slice(&bytes[..room]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::relay::frame::{FrameReader, Piece};

    /// Feeds `wire` in pieces of `split` bytes; returns what was read and
    /// the violations.
    fn read(from: Side, wire: &[u8], split: usize, limit: usize) -> (Vec<Read>, Vec<String>) {
        read_with(from, wire, split, limit, &Extensions::default())
    }

    fn read_with(
        from: Side,
        wire: &[u8],
        split: usize,
        limit: usize,
        extensions: &Extensions,
    ) -> (Vec<Read>, Vec<String>) {
        let mut frames = FrameReader::default();
        let mut assembler = Assembler::new(from, limit, extensions);
        let mut out = Vec::new();
        for chunk in wire.chunks(split) {
            let mut pos = 0;
            loop {
                let (used, piece) = frames.next(&chunk[pos..]);
                pos += used;
                match piece {
                    None => break,
                    Some(Piece::Start(h, len)) => assembler.start(h, len),
                    Some(Piece::Payload { bytes, offset }) => assembler.payload(bytes, offset),
                    Some(Piece::End) => out.extend(assembler.end()),
                    Some(Piece::Lost(why)) => panic!("lost: {why}"),
                }
            }
        }
        let violations = assembler.violations().collect();
        (out, violations)
    }

    #[test]
    fn a_masked_fragmented_message_with_a_ping_between_reads_back_whole() {
        let mask = [1, 2, 3, 4];
        let masked = |b: &[u8], offset| {
            let mut v = b.to_vec();
            apply_mask(&mut v, mask, offset);
            v
        };
        let mut wire = vec![0x01, 0x80 | 5];
        wire.extend_from_slice(&mask);
        wire.extend(masked(b"hello", 0));
        wire.extend([0x89, 0x80 | 2]);
        wire.extend_from_slice(&mask);
        wire.extend(masked(b"hi", 0));
        wire.extend([0x80, 0x80 | 6]);
        wire.extend_from_slice(&mask);
        wire.extend(masked(b" world", 0));
        for split in [1, 2, 7, 100] {
            let (reads, violations) = read(Side::Client, &wire, split, 1024);
            assert_eq!(violations, Vec::<String>::new());
            let texts: Vec<_> = reads
                .iter()
                .map(|r| (r.opcode, r.payload.text().unwrap().to_owned(), r.frames))
                .collect();
            assert_eq!(
                texts,
                [
                    (Opcode::Ping, "hi".to_owned(), 1),
                    (Opcode::Text, "hello world".to_owned(), 2)
                ],
                "split {split}"
            );
        }
    }

    #[test]
    fn a_long_message_is_kept_to_the_limit_with_its_full_length() {
        let mut wire = vec![0x82, 126, 0x01, 0x00];
        wire.extend(std::iter::repeat_n(7u8, 256));
        let (reads, _) = read(Side::Upstream, &wire, 10, 100);
        assert_eq!(
            (reads[0].payload.len, reads[0].payload.bytes.len()),
            (256, 100)
        );
    }

    #[test]
    fn violations_are_named_not_acted_on() {
        // RSV1 without an extension, a masked server frame, bad UTF-8, an
        // unfinished fragment followed by a new message, close code 1005.
        let wire = [
            vec![0xc1, 1, b'a'],
            vec![0x81, 0x80 | 1, 0, 0, 0, 0, b'b'],
            vec![0x81, 1, 0xff],
            vec![0x01, 1, b'c', 0x81, 1, b'd'],
            vec![0x88, 2, 0x03, 0xed],
        ]
        .concat();
        let (reads, violations) = read(Side::Upstream, &wire, 3, 1024);
        assert_eq!(reads.len(), 5, "every message still reads: {reads:?}");
        for expected in [
            RESERVED_BITS,
            "a masked frame from the server",
            "invalid UTF-8",
            "a new message before",
            "close code 1005",
        ] {
            assert!(
                violations.iter().any(|v| v.contains(expected)),
                "{expected} in {violations:?}"
            );
        }
    }

    #[test]
    fn a_compressed_message_that_will_not_inflate_is_read_with_its_error() {
        let deflate = Extensions::negotiated(&["permessage-deflate".to_owned()]);
        // RSV1 text frames: garbage, then a valid one that cannot be read
        // either (the window is lost).
        let wire = [
            vec![0xc1, 4, 0xff, 0xff, 0xff, 0xff],
            vec![0xc1, 3, 0x4b, 0x04, 0x00],
        ]
        .concat();
        let (reads, violations) = read_with(Side::Upstream, &wire, 2, 1024, &deflate);
        assert_eq!(reads.len(), 2);
        assert!(
            reads.iter().all(|r| r.compressed && r.error.is_some()),
            "{reads:?}"
        );
        assert_eq!(reads[0].wire_len, 4);
        assert!(
            violations.iter().any(|v| v.contains("does not inflate")),
            "{violations:?}"
        );
    }

    #[test]
    fn a_compressed_fragmented_message_reads_back_inflated() {
        let deflate =
            Extensions::negotiated(&["permessage-deflate; server_no_context_takeover".to_owned()]);
        let mut z = flate2::Compress::new(flate2::Compression::default(), false);
        let mut compressed = Vec::with_capacity(256);
        z.compress_vec(
            b"hello hello hello hello",
            &mut compressed,
            flate2::FlushCompress::Sync,
        )
        .unwrap();
        compressed.truncate(compressed.len() - 4);
        let (first, rest) = compressed.split_at(3);
        let mut wire = vec![0x41, first.len() as u8];
        wire.extend_from_slice(first);
        wire.extend([0x80, rest.len() as u8]);
        wire.extend_from_slice(rest);
        let (reads, violations) = read_with(Side::Upstream, &wire, 1, 1024, &deflate);
        assert!(violations.is_empty(), "{violations:?}");
        assert_eq!(reads[0].payload.text(), Some("hello hello hello hello"));
        assert_eq!(
            (reads[0].compressed, reads[0].frames, reads[0].wire_len),
            (true, 2, compressed.len() as u64)
        );
    }

    #[test]
    fn a_reserved_opcode_is_named_and_the_frames_after_it_still_read() {
        // Opcode 3 (reserved data) with a 16-bit length, then a close.
        let mut wire = vec![0x83, 126, 0x00, 0x03, b'a', b'b', b'c'];
        wire.extend([0x88, 0x02, 0x03, 0xea]);
        let (reads, violations) = read(Side::Upstream, &wire, 4, 1024);
        assert!(
            violations.iter().any(|v| v.contains("reserved opcode 3")),
            "{violations:?}"
        );
        assert_eq!(reads.len(), 1, "{reads:?}");
        assert_eq!(reads[0].opcode, Opcode::Close);
    }
}
